//! Fuzz targets: each turns arbitrary bytes into what a client could send and sends it.
//! The first byte of the input usually picks the method, target or header; the rest is
//! the body, so a corpus of real request bodies prefixed with one byte is a good seed.

use crate::with_harness;

const CALENDAR: &str = "/alice/calendar/";
const EVENT: &str = "/alice/calendar/1546fc21-51e7-a5c4-c795-5bfb110695b3.ics";
const CONTACTS: &str = "/alice/contacts/";
const CARD: &str = "/alice/contacts/065fe6fa-dad2-4e2d-c4ff-089d9dc0b7d4.vcf";
const SCRATCH: &str = "/alice/scratch/";

fn split(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, &[]),
    }
}

/// The XML parser on its own: any bytes.
pub fn xml(data: &[u8]) {
    let _ = dirdav_xml::parse(data, &dirdav_xml::Limits::default());
}

/// REPORT bodies (calendar-query with its filters, calendar-multiget, free-busy-query,
/// addressbook-query, addressbook-multiget, sync-collection, principal searches)
/// against a calendar, an address book, one item, a home or the root.
pub fn report(data: &[u8]) {
    let (pick, body) = split(data);
    let target = [CALENDAR, CONTACTS, EVENT, CARD, "/alice/", "/"][usize::from(pick % 6)];
    let depth = ["1", "0", "infinity"][usize::from(pick / 6 % 3)];
    with_harness(|h| {
        h.send(
            b"REPORT",
            target.as_bytes(),
            &[
                ("depth", depth.as_bytes()),
                ("content-type", b"application/xml"),
            ],
            body.to_vec(),
        );
    });
}

/// PROPFIND, PROPPATCH, MKCOL (extended) and MKCALENDAR bodies. Writes go to a scratch
/// calendar, which is removed again after each success.
pub fn dav_body(data: &[u8]) {
    let (pick, body) = split(data);
    let (method, target): (&[u8], &str) = match pick % 8 {
        0 => (b"PROPFIND", CALENDAR),
        1 => (b"PROPFIND", "/alice/"),
        2 => (b"PROPFIND", CARD),
        3 => (b"PROPFIND", "/"),
        4 => (b"PROPPATCH", SCRATCH),
        5 => (b"MKCOL", SCRATCH),
        6 => (b"MKCALENDAR", SCRATCH),
        _ => (b"ACL", CALENDAR),
    };
    let depth = ["1", "0"][usize::from(pick / 8 % 2)];
    with_harness(|h| {
        if method == b"PROPPATCH" {
            h.send(b"MKCALENDAR", SCRATCH.as_bytes(), &[], Vec::new());
        }
        let answer = h.send(
            method,
            target.as_bytes(),
            &[("depth", depth.as_bytes()), ("content-type", b"text/xml")],
            body.to_vec(),
        );
        if answer.is_some_and(|a| a.ok()) || method == b"PROPPATCH" {
            h.send(b"DELETE", SCRATCH.as_bytes(), &[], Vec::new());
        }
    });
}

/// A calendar object or vCard body, PUT into alice's calendar or address book; when
/// stored, it is queried (time range, text match, expansion, address-data), exported
/// with the rest of its collection, and deleted.
pub fn put_item(data: &[u8]) {
    let (pick, body) = split(data);
    let calendar = pick % 2 == 0;
    let (item, kind): (&str, &[u8]) = if calendar {
        ("/alice/calendar/fuzz.ics", b"text/calendar")
    } else {
        ("/alice/contacts/fuzz.vcf", b"text/vcard")
    };
    with_harness(|h| {
        let stored = h
            .send(
                b"PUT",
                item.as_bytes(),
                &[("content-type", kind)],
                body.to_vec(),
            )
            .is_some_and(|a| a.ok());
        if !stored {
            return;
        }
        let (collection, query) = if calendar {
            (CALENDAR, CALENDAR_QUERY)
        } else {
            (CONTACTS, ADDRESSBOOK_QUERY)
        };
        h.send(
            b"REPORT",
            collection.as_bytes(),
            &[("depth", b"1")],
            query.as_bytes().to_vec(),
        );
        if calendar {
            h.send(
                b"REPORT",
                collection.as_bytes(),
                &[("depth", b"1")],
                FREE_BUSY.as_bytes().to_vec(),
            );
        }
        h.send(b"GET", collection.as_bytes(), &[], Vec::new());
        h.send(b"DELETE", item.as_bytes(), &[], Vec::new());
    });
}

/// Request paths and the headers that name other resources or conditions:
/// `Destination`, `If`, `Depth`, `Overwrite`, `If-Match`. The input is lines: a
/// method selector byte first, then the path, then each header's value. Any change
/// that succeeds puts the tree back as it was.
pub fn headers(data: &[u8]) {
    let (pick, rest) = split(data);
    let mut lines = rest.split(|b| *b == b'\n');
    let path = lines.next().unwrap_or_default();
    let names = ["destination", "if", "depth", "overwrite", "if-match"];
    let values: Vec<(&str, &[u8])> = names.iter().copied().zip(lines).collect();
    let method: &[u8] = [
        &b"PROPFIND"[..],
        b"GET",
        b"COPY",
        b"MOVE",
        b"DELETE",
        b"PROPPATCH",
        b"OPTIONS",
        b"HEAD",
    ][usize::from(pick % 8)];
    let body: &[u8] = if method == b"PROPPATCH" {
        br#"<propertyupdate xmlns="DAV:"><set><prop><displayname>x</displayname></prop></set></propertyupdate>"#
    } else {
        b""
    };
    with_harness(|h| {
        let changed = h
            .send(method, path, &values, body.to_vec())
            .is_some_and(|a| a.ok());
        let writes = [&b"COPY"[..], b"MOVE", b"DELETE", b"PROPPATCH"];
        if changed && writes.contains(&method) {
            h.reset();
        }
    });
}

const CALENDAR_QUERY: &str = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data><C:expand start="20000101T000000Z" end="20400101T000000Z"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="20000101T000000Z" end="20400101T000000Z"/>
<C:prop-filter name="SUMMARY"><C:text-match collation="i;unicode-casemap">e</C:text-match></C:prop-filter>
</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#;

const FREE_BUSY: &str = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20000101T000000Z" end="20400101T000000Z"/></C:free-busy-query>"#;

const ADDRESSBOOK_QUERY: &str = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
<D:prop><D:getetag/><C:address-data><C:prop name="FN"/><C:prop name="EMAIL"/></C:address-data></D:prop>
<C:filter test="anyof"><C:prop-filter name="FN"><C:text-match match-type="contains">a</C:text-match></C:prop-filter>
<C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:is-not-defined/></C:param-filter></C:prop-filter></C:filter>
</C:addressbook-query>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_target_takes_empty_and_real_input() {
        for target in [xml, report, dav_body, put_item, headers] {
            target(b"");
            target(b"\x00");
        }
        report(&[b"\x00", CALENDAR_QUERY.as_bytes()].concat());
        put_item(
            &[
                &b"\x00"[..],
                b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:f\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\nSUMMARY:e\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            ]
            .concat(),
        );

        // The MOVE the headers target sends succeeds, and the reset undoes it.
        let moved = crate::with_harness(|h| {
            let a = h.send(
                b"MOVE",
                EVENT.as_bytes(),
                &[("destination", b"/alice/calendar/m.ics")],
                vec![],
            );
            let moved = a.is_some_and(|a| a.ok()) && h.root().join("alice/calendar/m.ics").exists();
            h.reset();
            moved
        });
        assert!(moved);
        headers(format!("\x03{EVENT}\n/alice/calendar/m.ics").as_bytes());
        let (original, copy) = crate::with_harness(|h| {
            (
                h.root().join(&EVENT[1..]).exists(),
                h.root().join("alice/calendar/m.ics").exists(),
            )
        });
        assert!(
            original && !copy,
            "a successful MOVE is undone by the reset"
        );
    }
}
