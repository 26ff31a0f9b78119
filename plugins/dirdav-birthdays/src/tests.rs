//! The events made of cards.

use super::*;

fn card(path: &str) -> Resource {
    Resource {
        path: path.to_owned(),
        href: String::new(),
        is_collection: false,
        etag: None,
        size: 0,
        modified: std::time::SystemTime::UNIX_EPOCH,
        created: std::time::SystemTime::UNIX_EPOCH,
        collection: Default::default(),
        sync_token: None,
        summary: None,
    }
}

#[test]
fn dates_are_read_in_every_form_cards_use() {
    assert_eq!(date_of("19850412").as_deref(), Some("19850412"));
    assert_eq!(date_of("1985-04-12").as_deref(), Some("19850412"));
    assert_eq!(date_of("1985-04-12T00:00:00Z").as_deref(), Some("19850412"));
    assert_eq!(date_of("--0412").as_deref(), Some("16040412"));
    assert_eq!(date_of("--04-12").as_deref(), Some("16040412"));
    for bad in ["", "1985", "19851312", "text", "--13-01"] {
        assert_eq!(date_of(bad), None, "{bad}");
    }
}

#[test]
fn a_card_gives_an_event_for_each_date_it_has() {
    let vcard = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c\r\nFN:Carol\r\n Díaz\r\nBDAY:1985-04-12\r\n\
                 item1.ANNIVERSARY;VALUE=date:20100612\r\nEND:VCARD\r\n";
    let events = events(&card("alice/contacts/carol.vcf"), vcard.as_bytes());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let id = &blake3::hash(b"alice/contacts/carol.vcf").to_hex()[..16];
    assert_eq!(
        names,
        [
            format!("{id}-birthday.ics"),
            format!("{id}-anniversary.ics")
        ]
    );
    let birthday = String::from_utf8_lossy(&events[0].1).into_owned();
    assert!(
        birthday.contains("\r\nDTSTART;VALUE=DATE:19850412\r\n"),
        "{birthday}"
    );
    assert!(birthday.contains("\r\nRRULE:FREQ=YEARLY\r\n"), "{birthday}");
    assert!(
        birthday.contains("\r\nSUMMARY:Birthday: CarolDíaz\r\n"),
        "{birthday}"
    );
    assert!(
        dirdav_caldav::check(birthday.as_bytes()).is_empty(),
        "{birthday}"
    );
}

#[test]
fn a_card_without_dates_gives_nothing() {
    let vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Dana\r\nBDAY:unknown\r\nEND:VCARD\r\n";
    assert!(events(&card("a/b/d.vcf"), vcard.as_bytes()).is_empty());
}
