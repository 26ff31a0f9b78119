//! The pages, as HTML strings: a folder (with a calendar's or address book's URLs when
//! it is one), an error, a confirmation.

use dirdav_plugin::http::StatusCode;
use dirdav_plugin::{DavRequest, HandlerResult};

use crate::listing::{self, Entry, Kind, Listing};
use crate::{Web, html_response, route_href, user_of};

/// GET of a collection in a browser: the folder's page.
pub(crate) async fn folder_page(web: &Web, request: DavRequest) -> HandlerResult {
    let href = request.parts.uri.path().to_owned();
    let user = user_of(&request);
    let route = route_href(&request);
    let root = request.store.href_of("", true);
    let at_root = listing::path_of(&href).trim_end_matches('/') == root.trim_end_matches('/')
        || request
            .store
            .path_of_href(&href)
            .is_some_and(|p| p.is_empty());
    let mut listing = match listing::list(&*request.store, &href, at_root).await {
        Ok(listing) => listing,
        Err(e) => return error_page(&request, e.status(), e.message()),
    };
    // The folder as the server names it: with a proxy's prefix, which the path as sent
    // lacks.
    let shown = listing::path_of(&listing.this.href).to_owned();
    let mut hidden_homes = false;
    if at_root {
        // Other users' homes that show this user nothing are left out, rather than
        // shown as empty folders.
        let own = request.store.href_of(&user, true);
        let mut kept = Vec::with_capacity(listing.members.len());
        for member in std::mem::take(&mut listing.members) {
            let other_home = member
                .principal_url
                .as_deref()
                .is_some_and(|p| listing::path_of(p) != own);
            if other_home && !listing::shows_anything(&*request.store, &member.href).await {
                hidden_homes = true;
                continue;
            }
            kept.push(member);
        }
        listing.members = kept;
    }
    let origin = dirdav_plugin::origin(&request.parts).unwrap_or_default();
    let token = web.token(&user).to_hex().to_string();
    let page = Page {
        user: &user,
        route: &route,
        root: &root,
        origin: &origin,
        token: &token,
    };
    let title =
        listing
            .this
            .displayname
            .clone()
            .unwrap_or_else(|| match listing.this.name.as_str() {
                "" => "Files".to_owned(),
                name => name.to_owned(),
            });
    let mut body = String::new();
    body.push_str(&breadcrumbs(&shown, &root));
    body.push_str(&format!("<h1>{}</h1>\n", escape(&title)));
    if let Some(about) = page.collection_box(&listing.this) {
        body.push_str(&about);
    }
    let pages = listing.members.len().div_ceil(PAGE_ROWS).max(1);
    let number = request
        .parts
        .uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("page=")))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let rows = (number - 1) * PAGE_ROWS..(number * PAGE_ROWS).min(listing.members.len());
    body.push_str(&page.table(&listing, rows));
    if pages > 1 {
        body.push_str(&pager(&shown, number, pages, listing.members.len()));
    }
    if hidden_homes {
        body.push_str(
            "<p class=\"note\">Homes of other users that share nothing with you are not shown.</p>\n",
        );
    }
    body.push_str(&page.forms(&listing.this));
    html_response(StatusCode::OK, page.layout(&title, &body))
}

/// What every page needs to draw links and forms.
pub(crate) struct Page<'a> {
    pub(crate) user: &'a str,
    pub(crate) route: &'a str,
    pub(crate) root: &'a str,
    pub(crate) origin: &'a str,
    pub(crate) token: &'a str,
}

impl Page<'_> {
    /// The page around `body`: title, navigation, style.
    pub(crate) fn layout(&self, title: &str, body: &str) -> String {
        let home = match self.user {
            "" => self.root.to_owned(),
            user => format!(
                "{}{}/",
                self.root,
                percent_encoding::utf8_percent_encode(user, SEGMENT)
            ),
        };
        let who = match self.user {
            "" => String::new(),
            user => format!(
                "<span class=\"user\">Signed in as <b>{}</b></span>",
                escape(user)
            ),
        };
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · dirdav</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head>\n<body>\
             <header><nav><a href=\"{home}\">My files</a> <a href=\"{root}\">All files</a> \
             <a href=\"{route}/setup\">Set up a device</a></nav>{who}</header>\n<main>\n{body}</main></body></html>\n",
            title = escape(title),
            home = escape(&home),
            root = escape(self.root),
            route = escape(self.route),
        )
    }

    /// For a calendar or address book: its URL to copy, a `webcal://` link, download.
    fn collection_box(&self, this: &Entry) -> Option<String> {
        let what = match this.kind {
            Kind::Calendar => "calendar",
            Kind::AddressBook => "address book",
            _ => return None,
        };
        let mut html = String::from("<section class=\"collection\" id=\"collection\">\n");
        if let Some(description) = &this.description {
            html.push_str(&format!("<p>{}</p>\n", escape(description)));
        }
        html.push_str(&self.urls(this));
        html.push_str(&format!(
            "<p>Enter this URL in a CalDAV or CardDAV client to sync this {what}.</p>\n</section>\n"
        ));
        Some(html)
    }

    /// The URL field, `webcal://` link and download link of a calendar or book.
    fn urls(&self, entry: &Entry) -> String {
        let path = listing::path_of(&entry.href);
        let url = format!("{}{}", self.origin, path);
        let mut html = format!(
            "<label class=\"url\">URL <input readonly class=\"copy\" value=\"{}\"></label> ",
            escape(&url)
        );
        if entry.kind == Kind::Calendar
            && let Some((_, rest)) = url.split_once("://")
        {
            html.push_str(&format!(
                "<a class=\"webcal\" href=\"webcal://{}\">Subscribe (webcal)</a> ",
                escape(rest)
            ));
        }
        let file = match entry.kind {
            Kind::Calendar => format!("{}.ics", entry.name),
            _ => format!("{}.vcf", entry.name),
        };
        html.push_str(&format!(
            "<a class=\"download\" href=\"{}?download\" download=\"{}\">Download</a>\n",
            escape(path),
            escape(&file)
        ));
        html
    }

    fn table(&self, listing: &Listing, rows: std::ops::Range<usize>) -> String {
        if listing.members.is_empty() {
            return "<p class=\"empty\" id=\"empty\">Nothing here yet.</p>\n".to_owned();
        }
        let may_delete = listing.this.can("unbind");
        let mut html = String::from(
            "<table id=\"listing\"><thead><tr><th>Name</th><th>Kind</th><th>Size</th>\
             <th>Modified</th><th></th></tr></thead><tbody>\n",
        );
        for member in &listing.members[rows] {
            let path = listing::path_of(&member.href);
            let mut label = escape(member.displayname.as_deref().unwrap_or(&member.name));
            if member.is_collection() {
                label.push('/');
            }
            let kind = match member.kind {
                Kind::Folder => "Folder".to_owned(),
                Kind::Calendar => "Calendar".to_owned(),
                Kind::AddressBook => "Address book".to_owned(),
                Kind::Inbox => "Scheduling inbox".to_owned(),
                Kind::Outbox => "Scheduling outbox".to_owned(),
                Kind::File => member
                    .content_type
                    .as_deref()
                    .map(|t| t.split(';').next().unwrap_or(t).trim().to_owned())
                    .unwrap_or_else(|| "File".to_owned()),
            };
            let size = match member.kind {
                Kind::File => member.size.map(human_size).unwrap_or_default(),
                _ => String::new(),
            };
            let mut actions = String::new();
            match member.kind {
                Kind::File => actions.push_str(&format!(
                    "<a class=\"download\" href=\"{}\" download=\"{}\">Download</a> ",
                    escape(path),
                    escape(&member.name)
                )),
                Kind::Calendar | Kind::AddressBook => actions.push_str(&self.urls(member)),
                Kind::Folder | Kind::Inbox | Kind::Outbox => {}
            }
            // A user's inbox and outbox are the server's: scheduling needs them.
            if may_delete && !matches!(member.kind, Kind::Inbox | Kind::Outbox) {
                actions.push_str(&self.delete_button(member, &listing.this.href));
            }
            html.push_str(&format!(
                "<tr data-name=\"{name}\" data-kind=\"{kind_id}\"><td class=\"name\"><a href=\"{href}\">{label}</a></td>\
                 <td>{kind}</td><td class=\"size\">{size}</td><td class=\"modified\">{modified}</td>\
                 <td class=\"actions\">{actions}</td></tr>\n",
                name = escape(&member.name),
                kind_id = match member.kind {
                    Kind::Folder => "folder",
                    Kind::Calendar => "calendar",
                    Kind::AddressBook => "addressbook",
                    Kind::Inbox => "inbox",
                    Kind::Outbox => "outbox",
                    Kind::File => "file",
                },
                href = escape(path),
                kind = escape(&kind),
                modified = escape(member.modified.as_deref().unwrap_or_default()),
            ));
        }
        html.push_str("</tbody></table>\n");
        html
    }

    fn delete_button(&self, member: &Entry, back: &str) -> String {
        format!(
            "<form class=\"delete\" method=\"post\" action=\"{route}/delete\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <input type=\"hidden\" name=\"target\" value=\"{target}\">\
             <input type=\"hidden\" name=\"back\" value=\"{back}\">\
             <button type=\"submit\">Delete</button></form>",
            route = escape(self.route),
            token = escape(self.token),
            target = escape(listing::path_of(&member.href)),
            back = escape(listing::path_of(back)),
        )
    }

    fn forms(&self, this: &Entry) -> String {
        // Nothing is uploaded into a scheduling inbox or outbox: the server fills them.
        if !this.can("bind") || matches!(this.kind, Kind::Inbox | Kind::Outbox) {
            return String::new();
        }
        let to = escape(listing::path_of(&this.href));
        let (route, token) = (escape(self.route), escape(self.token));
        let mut html = format!(
            "<section class=\"forms\">\n<form id=\"upload\" method=\"post\" action=\"{route}/upload\" \
             enctype=\"multipart/form-data\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <input type=\"hidden\" name=\"to\" value=\"{to}\">\
             <label>Upload files <input type=\"file\" name=\"file\" multiple required></label> \
             <button type=\"submit\">Upload</button></form>\n"
        );
        if this.kind == Kind::Folder {
            html.push_str(&format!(
                "<form id=\"mkdir\" method=\"post\" action=\"{route}/mkdir\">\
                 <input type=\"hidden\" name=\"token\" value=\"{token}\">\
                 <input type=\"hidden\" name=\"to\" value=\"{to}\">\
                 <label>New folder <input name=\"name\" required maxlength=\"255\"></label> \
                 <button type=\"submit\">Create</button></form>\n"
            ));
        }
        html.push_str("</section>\n");
        html
    }
}

/// The most members one page shows; a larger folder is shown a page at a time
/// (`?page=2`), which keeps each page quick to make and to draw.
const PAGE_ROWS: usize = 500;

/// Links to the other pages of a large folder.
fn pager(href: &str, number: usize, pages: usize, members: usize) -> String {
    let link = |n: usize, label: &str, rel: &str| {
        format!(
            "<a rel=\"{rel}\" href=\"{}?page={n}\">{label}</a>",
            escape(href)
        )
    };
    let mut html =
        format!("<nav class=\"pager\" id=\"pager\">Page {number} of {pages} ({members} items) ");
    if number > 1 {
        html.push_str(&link(number - 1, "Previous", "prev"));
        html.push(' ');
    }
    if number < pages {
        html.push_str(&link(number + 1, "Next", "next"));
    }
    html.push_str("</nav>\n");
    html
}

/// An error as a page: what failed, in words ([`explain`]), and a way back.
pub(crate) fn error_page(request: &DavRequest, status: StatusCode, detail: &str) -> HandlerResult {
    explained_page(request, status, &explain(status, detail))
}

/// An error as a page, with the words given.
pub(crate) fn explained_page(
    request: &DavRequest,
    status: StatusCode,
    message: &str,
) -> HandlerResult {
    let user = user_of(request);
    let route = route_href(request);
    let root = request.store.href_of("", true);
    let page = Page {
        user: &user,
        route: &route,
        root: &root,
        origin: "",
        token: "",
    };
    let title = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<h1>{}</h1>\n<p class=\"error\" id=\"error\">{}</p>\n",
        escape(title),
        escape(message)
    );
    html_response(status, page.layout(title, &body))
}

/// A refusal in words a person can act on.
pub(crate) fn explain(status: StatusCode, detail: &str) -> String {
    let condition =
        |name: &str| detail.contains(&format!(":{name}")) || detail.contains(&format!("<{name}"));
    let plain = if condition("quota-not-exceeded") {
        "There is not enough room for this: the folder's quota or the disk is full."
    } else if condition("valid-calendar-data")
        || condition("supported-calendar-data")
        || condition("valid-calendar-object-resource")
    {
        "A calendar holds only iCalendar (.ics) files, one event, task or journal each."
    } else if condition("valid-address-data") || condition("supported-address-data") {
        "An address book holds only vCard (.vcf) files, one contact each."
    } else if condition("no-uid-conflict") {
        "An item with the same UID is already there."
    } else if condition("lock-token-submitted") || status == StatusCode::LOCKED {
        "It is locked by someone editing it. Try again when they are done."
    } else if condition("need-privileges") || status == StatusCode::FORBIDDEN {
        "You may not do this here."
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        "Something with this name is already there."
    } else if status == StatusCode::NOT_FOUND {
        "There is nothing here, or you may not see it."
    } else if status == StatusCode::CONFLICT {
        "The folder it belongs in does not exist."
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        "The file is larger than this server accepts."
    } else {
        ""
    };
    let detail = detail.trim();
    let technical = match detail.starts_with('<') {
        true => String::new(),
        false => detail.to_owned(),
    };
    match (plain, technical.as_str()) {
        ("", "") => format!("{status}"),
        ("", t) => format!("{status}: {t}"),
        (p, "") => format!("{p} ({status})"),
        (p, t) => format!("{p} ({status}: {t})"),
    }
}

/// A link for each folder from the root to `href`.
fn breadcrumbs(href: &str, root: &str) -> String {
    let path = listing::path_of(href);
    let below = path
        .strip_prefix(root.trim_end_matches('/'))
        .unwrap_or(path);
    let mut html = format!(
        "<nav class=\"crumbs\"><a href=\"{}\">Files</a>",
        escape(root)
    );
    let mut at = root.trim_end_matches('/').to_owned();
    for segment in below.split('/').filter(|s| !s.is_empty()) {
        at.push('/');
        at.push_str(segment);
        let name = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        html.push_str(&format!(
            " / <a href=\"{}/\">{}</a>",
            escape(&at),
            escape(&name)
        ));
    }
    html.push_str("</nav>\n");
    html
}

/// Sizes as people read them.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match value < 10.0 {
        true => format!("{value:.1} {}", UNITS[unit]),
        false => format!("{value:.0} {}", UNITS[unit]),
    }
}

/// Text made safe for HTML text and quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What is percent-encoded in a path segment.
pub(crate) const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}\
header{display:flex;justify-content:space-between;flex-wrap:wrap;gap:.5em;padding:.6em 1em;background:#24415e;color:#fff}\
header a{color:#fff;margin-right:1em}main{padding:1em;max-width:70em}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e3e3e3;vertical-align:top}\
td.size{white-space:nowrap;text-align:right}td.modified{white-space:nowrap;color:#555;font-size:.9em}\
form{display:inline}form.delete button{color:#a00}section{margin:1em 0}\
section.forms form{display:block;margin:.6em 0}input.copy{width:28em;max-width:100%;font-family:monospace}\
.crumbs{font-size:.9em;margin-bottom:.3em}.error{color:#a00}.note,.empty{color:#555}\
code,pre{background:#eee;padding:.1em .3em}dl dt{font-weight:bold;margin-top:.8em}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_escapes() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(2048), "2.0 KB");
        assert_eq!(human_size(50 * 1024 * 1024), "50 MB");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn breadcrumbs_link_each_folder() {
        let html = breadcrumbs("/shared/Meeting%20notes/", "/");
        assert!(html.contains("<a href=\"/shared/\">shared</a>"), "{html}");
        assert!(
            html.contains("<a href=\"/shared/Meeting%20notes/\">Meeting notes</a>"),
            "{html}"
        );
        let html = breadcrumbs("/dav/alice/", "/dav/");
        assert!(html.contains("<a href=\"/dav/alice/\">alice</a>"), "{html}");
    }

    #[test]
    fn refusals_are_explained() {
        let quota = "<d:error xmlns:d=\"DAV:\"><d:quota-not-exceeded/></d:error>";
        let text = explain(StatusCode::INSUFFICIENT_STORAGE, quota);
        assert!(text.starts_with("There is not enough room"), "{text}");
        assert!(!text.contains('<'), "{text}");
        let text = explain(StatusCode::FORBIDDEN, "hidden names are not served");
        assert!(
            text.contains("You may not") && text.contains("hidden names"),
            "{text}"
        );
    }
}
