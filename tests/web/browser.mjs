// Drives Debian's headless Chromium through dirdav's web page as alice, with
// JavaScript off (the pages must work without it), and asserts on the DOM and on what
// the browser downloads. Screenshots of every page go to OUT.
//
//   node tests/web/browser.mjs BASE_URL OUT
//
// Run by tests/web/browser.sh, which starts the server on a copy of example-data/ and
// checks the disk afterwards.
import { chromium } from "playwright-core";
import { readFile, writeFile } from "node:fs/promises";
import assert from "node:assert/strict";

const [base, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const context = await browser.newContext({
  httpCredentials: { username: "alice", password: "wonderland" },
  javaScriptEnabled: false,
  acceptDownloads: true,
  viewport: { width: 1100, height: 800 },
});
const page = await context.newPage();
const problems = [];
// Errors in the console: a style or form the page's policy blocks shows here. A
// refusal the test provokes is the one expected error.
let refusal = false;
page.on("console", (m) => {
  if (m.type() !== "error") return;
  if (refusal && m.text().includes("status of 403")) return;
  problems.push(`${m.location().url}: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(String(e)));

const shot = (name) => page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
const names = () => page.$$eval("#listing tbody tr", (rows) => rows.map((r) => r.dataset.name));
async function download(click) {
  const [file] = await Promise.all([page.waitForEvent("download"), click()]);
  return { name: file.suggestedFilename(), bytes: await readFile(await file.path()) };
}
const step = (what) => console.log(`web: ${what}`);

// The root and a shared folder: what alice may see.
let response = await page.goto(`${base}/`);
assert.equal(response.status(), 200);
assert.deepEqual(await names(), ["alice", "bob", "shared"]);
await shot("1-root");
await page.click('tr[data-name="shared"] td.name a');
assert.equal(new URL(page.url()).pathname, "/shared/");
assert.equal(await page.textContent("h1"), "shared");
for (const name of ["Meeting notes", "Recipes", "Budget 2027.csv", "README.md"]) {
  assert.ok((await names()).includes(name), `${name} is listed`);
}
assert.equal(await page.textContent('tr[data-name="README.md"] td.size'), "163 B");
await shot("2-shared");
step("folders listed");

// Upload a file through the form; it is listed, and downloads as sent.
const text = "Uploaded by Chromium, with ümlauts.\n";
await page.setInputFiles("#upload input[type=file]", {
  name: "from chromium.txt", mimeType: "text/plain", buffer: Buffer.from(text),
});
await Promise.all([page.waitForNavigation(), page.click("#upload button")]);
assert.equal(new URL(page.url()).pathname, "/shared/");
assert.ok((await names()).includes("from chromium.txt"), "the upload is listed");
const size = Buffer.byteLength(text);
assert.equal(await page.textContent('tr[data-name="from chromium.txt"] td.size'), `${size} B`);
await shot("3-uploaded");
let got = await download(() => page.click('tr[data-name="from chromium.txt"] a.download'));
assert.equal(got.name, "from chromium.txt");
assert.equal(got.bytes.toString(), text);
step("upload listed and downloaded back");

// A new folder, and deleting the uploaded file (after the confirmation page).
await page.fill('#mkdir input[name="name"]', "Made in Chromium");
await Promise.all([page.waitForNavigation(), page.click("#mkdir button")]);
assert.equal(await page.getAttribute('tr[data-name="Made in Chromium"]', "data-kind"), "folder");
await Promise.all([page.waitForNavigation(), page.click('tr[data-name="from chromium.txt"] form.delete button')]);
assert.match(await page.textContent("h1"), /Delete from chromium\.txt\?/);
await shot("4-confirm-delete");
await Promise.all([page.waitForNavigation(), page.click("#confirm button")]);
assert.ok(!(await names()).includes("from chromium.txt"), "deleted");
step("new folder made, file deleted");

// A refusal reads as words: a text file into a calendar.
await page.goto(`${base}/alice/calendar/`);
await page.setInputFiles("#upload input[type=file]", {
  name: "not-an-event.txt", mimeType: "text/plain", buffer: Buffer.from("hello"),
});
refusal = true;
await Promise.all([page.waitForNavigation(), page.click("#upload button")]);
refusal = false;
assert.match(await page.textContent("#error"), /A calendar holds only iCalendar/);
await shot("5-refused");
step("refusal explained");

// A calendar: its URL to copy, a webcal link, the export downloaded.
response = await page.goto(`${base}/alice/calendar/`);
assert.equal(await page.textContent("h1"), "Personal");
assert.equal(await page.inputValue("#collection input.copy"), `${base}/alice/calendar/`);
assert.equal(
  await page.getAttribute("#collection a.webcal", "href"),
  `webcal://${new URL(base).host}/alice/calendar/`,
);
await shot("6-calendar");
got = await download(() => page.click("#collection a.download"));
assert.equal(got.name, "calendar.ics");
assert.match(got.bytes.toString(), /^BEGIN:VCALENDAR/);
step("calendar URL, webcal link and export");

// The setup page: server URL, QR code drawn, the profile downloads.
await page.click('header a[href$="/setup"]');
assert.equal(await page.inputValue("#server-url"), `${base}/`);
assert.equal(await page.textContent("#user-name"), "alice");
const qr = await page.locator("#qr svg").boundingBox();
assert.ok(qr && qr.width >= 200 && qr.height >= 200, `QR code drawn: ${JSON.stringify(qr)}`);
await shot("7-setup");
got = await download(() => page.click("#profile"));
assert.equal(got.name, "alice-dirdav.mobileconfig");
const profile = got.bytes.toString();
assert.ok(profile.includes("<string>com.apple.caldav.account</string>"));
assert.ok(profile.includes("<string>com.apple.carddav.account</string>"));
await writeFile(`${out}/alice.mobileconfig`, got.bytes);
step("setup page and profile");

// Another site's page posting to the forms: refused, nothing made (browser.sh checks
// the disk).
await page.setContent(
  `<form method="post" action="${base}/.web/mkdir"><input name="to" value="/shared/">` +
  `<input name="name" value="from another site"><button>go</button></form>`,
);
refusal = true;
response = (await Promise.all([page.waitForNavigation(), page.click("button")]))[0];
refusal = false;
assert.equal(response.status(), 403);
step("a post from another page refused");

assert.deepEqual(problems, [], "no errors in the console (a blocked style or form shows here)");
await browser.close();
console.log("web: browser test passed");
