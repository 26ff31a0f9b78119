"""Random hostile requests against a running dirdav, as alice or bob: odd methods, paths
with traversal, dotfiles, encoded separators and multi-byte names, malformed headers,
broken and hostile XML, iCalendar and vCard bodies (meetings with injected parameters,
control characters in addresses, two organizers, 150 attendees, free-busy over all
time), LOCK bodies with huge owners, web forms that point elsewhere. The server must answer every one, with no 5xx.

Usage: random_requests.py PORT [SEED] [COUNT]
Prints "smoke: N passed, M failed".
"""
import http.client, random, sys, urllib.parse
random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
port = int(sys.argv[1])
methods = ["GET","HEAD","PUT","DELETE","MKCOL","COPY","MOVE","PROPFIND","PROPPATCH","REPORT","OPTIONS","MKCALENDAR","LOCK","UNLOCK","POST"]
seg_pool = ["alice","calendar","contacts","shared","bob","x.ics","a b","..",".","%2e%2e",".git","€","x€€","%00","%ff","%2F","é.vcf","4913","a.tmp","~","", "very"*80,
  ".web","upload","mkdir","delete","setup","dirdav.mobileconfig","inbox","outbox"]
bodies = ["", "<", "<?xml version='1.0'?><propfind xmlns='DAV:'><prop><getetag/></prop></propfind>",
  "<propfind xmlns='DAV:'><allprop/></propfind>", "<x:a xmlns:x=''/>", "<!DOCTYPE a [<!ENTITY b 'c'>]><a>&b;</a>",
  "<C:calendar-query xmlns:C='urn:ietf:params:xml:ns:caldav' xmlns:D='DAV:'><D:prop><C:calendar-data><C:expand start='20260101T000000Z' end='20270101T000000Z'/></C:calendar-data></D:prop><C:filter><C:comp-filter name='VCALENDAR'><C:comp-filter name='VEVENT'><C:time-range start='00000101T000000Z' end='99991231T235959Z'/><C:comp-filter name='VALARM'><C:time-range start='20260101T000000Z'/></C:comp-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>",
  "<C:free-busy-query xmlns:C='urn:ietf:params:xml:ns:caldav'><C:time-range start='19700101T000000Z' end='21000101T000000Z'/></C:free-busy-query>",
  "<D:sync-collection xmlns:D='DAV:'><D:sync-token>urn:dirdav:sync:x:99999999999999999999</D:sync-token><D:sync-level>infinite</D:sync-level><D:limit><D:nresults>0</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>",
  "<C:addressbook-query xmlns:C='urn:ietf:params:xml:ns:carddav' xmlns:D='DAV:'><D:prop><C:address-data/></D:prop><C:filter test='allof'><C:prop-filter name='FN' test='allof'><C:text-match match-type='ends-with'>€</C:text-match><C:param-filter name='X'/></C:prop-filter></C:filter><C:limit><C:nresults>0</C:nresults></C:limit></C:addressbook-query>",
  "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=Nowhere/Land:99991231T235959\r\nRRULE:FREQ=SECONDLY;COUNT=65000\r\nDURATION:-P1W\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
  "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u2\r\nDTSTART:20260101\r\nRRULE:FREQ=YEARLY;UNTIL=20250101\r\nRDATE;VALUE=PERIOD:20260101T000000Z/PT1H\r\nEXDATE:garbage\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
  "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c\r\nFN:€\r\nEND:VCARD\r\n", "\x00\xff" * 10,
  "<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop><D:displayname>x</D:displayname><x xmlns='urn:x' xml:lang='€'>€</x></D:prop></D:set><D:remove><D:prop><D:getetag/></D:prop></D:remove></D:propertyupdate>",
  "<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>€</D:href></D:owner></D:lockinfo>",
  "<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>",
  "<D:lockinfo xmlns:D='DAV:'><D:lockscope><x/></D:lockscope><D:locktype/></D:lockinfo>",
  "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nDTSTART:20260101T000000\r\nDTEND:99991231T235959Z\r\nORGANIZER:/alice/\r\nATTENDEE:mailto:bob@\r\nATTENDEE:/bob/\r\nATTENDEE:x\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n",
  "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:s€\r\nDTSTART:20260101T000000Z\r\nORGANIZER:/alice/\r\nATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=\"x:y\":/bob/\r\nATTENDEE:mailto:\r\nATTENDEE:/alice/\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
  "token=x&to=%2Fshared%2F&name=..%2F..&target=%2F%2e%2e%2F&back=%2F&confirm=yes",
  "--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n/shared/\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../€\"\r\n\r\nabc\r\n--b--\r\n",
  "--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n" + "f" * 5000,
  "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:smoke-meet\r\nDTSTART:20270101T100000Z\r\nSUMMARY:x\r\nORGANIZER:/alice/\r\nATTENDEE;PARTSTAT=\"ACCEPTED;ROLE=CHAIR:mailto:evil@x\":/bob/\r\nATTENDEE:mailto:a\rINFO forged@x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:smoke-meet\r\nRECURRENCE-ID:20270102T100000Z\r\nDTSTART:20270102T100000Z\r\nORGANIZER:/bob/\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
  "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:smoke-many\r\nDTSTART:20270101T100000Z\r\nRRULE:FREQ=DAILY\r\nORGANIZER:/alice/\r\n" + "".join("ATTENDEE:mailto:p%d@example.net\r\n" % n for n in range(150)) + "ATTENDEE:/bob/\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
  "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:smoke-take\r\nDTSTART:20270101T100000Z\r\nORGANIZER:/bob/\r\nATTENDEE;PARTSTAT=DECLINED:/alice/\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
  "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nDTSTART:00010101T000000Z\r\nDTEND:99991231T235959Z\r\nORGANIZER:/alice/\r\n" + "ATTENDEE:/bob/\r\n" * 2000 + "END:VFREEBUSY\r\nEND:VCALENDAR\r\n",
  "<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>" + "o" * 5000 + "</D:owner></D:lockinfo>",
  "token=x&to=%2F%2Fevil.example%2F&name=x&target=%2Fshared%2FREADME.md&back=%2F%5Cevil.example%2F&confirm=yes",
  "token=x&to=%2Fshared%2F%0D%0Ax%2F&name=%0D%0Ay&back=%2F%2F%2F",
  "<D:mkcol xmlns:D='DAV:'><D:set><D:prop><D:resourcetype><D:collection/><C:calendar xmlns:C='urn:ietf:params:xml:ns:caldav'/></D:resourcetype></D:prop></D:set></D:mkcol>"]
headers_pool = [("Depth","0"),("Depth","1"),("Depth","infinity"),("Depth","x"),("Overwrite","F"),("Overwrite","?"),
  ("If","(<urn:x> [\"a\"]) (Not <DAV:no-lock>)"),("If","(("),("If-Match","*"),("If-None-Match","\"x\", W/\"y\""),
  ("Range","bytes=5-2"),("Range","bytes=-0"),("Range","bytes=999999999999999999999-"),("If-Modified-Since","garbage"),("Brief","t"),("Prefer","return=minimal"),
  ("Timeout","Infinite, Second-99999999999999999999999"),("Timeout","Second-"),("Timeout","Second-1"),
  ("Lock-Token","<urn:uuid:00000000-0000-0000-0000-000000000000>"),("Lock-Token","<"),("Lock-Token","\xe2\x82\xac"),
  ("Accept","text/html"),("Accept","text/html;q=0, text/calendar"),("Origin","http://evil.example"),("Origin","null"),
  ("Content-Type","multipart/form-data; boundary=b"),("If-Schedule-Tag-Match","\"x\""),("Content-Type","text/calendar"),("Content-Type","multipart/form-data"),("Content-Type","application/x-www-form-urlencoded"),
  ("If","</alice/> (<urn:uuid:1>) <http://x/%2e%2e/> (Not <urn:uuid:2>)"),("If","(<>)")]
bad = 0
for i in range(int(sys.argv[3]) if len(sys.argv) > 3 else 3000):
    path = "/" + "/".join(urllib.parse.quote(random.choice(seg_pool), safe="%~") for _ in range(random.randint(0, 4)))
    method = random.choice(methods)
    body = random.choice(bodies).encode("utf-8", "surrogateescape") if random.random() < 0.7 else b""
    h = dict(random.sample(headers_pool, random.randint(0, 3)))
    # alice, or bob (her meetings' attendee, her shared calendar's reader)
    h["Authorization"] = random.choice(["Basic YWxpY2U6d29uZGVybGFuZA==", "Basic Ym9iOmJ1aWxkZXI="])
    if method in ("COPY","MOVE") and random.random() < 0.9:
        h["Destination"] = urllib.parse.quote(random.choice(["/shared/copy-%d" % i, "http://x/alice/", "/..", "/%2e%2e/x", "ftp://a", "/shared/€€", "/alice/calendar/moved-%d.ics" % i]), safe="/:%~")
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse(); r.read()
        if r.status >= 500:
            bad += 1; print("5xx", r.status, method, path, h, body[:80])
    except Exception as e:
        bad += 1; print("DROPPED", repr(e)[:80], method, path, h, body[:80])
print("smoke: %d passed, %d failed" % (i + 1 - bad, bad))
sys.exit(1 if bad else 0)
