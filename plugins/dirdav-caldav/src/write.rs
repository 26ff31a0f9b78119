//! Writing iCalendar back out (RFC 5545 §3.1) for the answers the server composes:
//! expanded instances, partial retrieval, free-busy. Stored objects are otherwise
//! returned byte for byte as they were written.

use dirdav_plugin::contentline::{fold_into, property_into};
use icalendar::parser::{Component, Property};

/// Writes a content line, folded at 75 octets.
pub(crate) fn line(out: &mut String, text: &str) {
    fold_into(out, text);
}

/// Writes a property with the value given (its own, or a narrowed one).
pub(crate) fn property_with(out: &mut String, p: &Property<'_>, value: &str) {
    let params = p
        .params
        .iter()
        .map(|x| (x.key.as_str(), x.val.as_ref().map(|v| v.as_str())));
    property_into(out, &p.name.as_str().to_ascii_uppercase(), params, value);
}

/// Writes a property as it was read.
pub(crate) fn property(out: &mut String, p: &Property<'_>) {
    property_with(out, p, p.val.as_str());
}

/// Writes a component and everything in it.
pub(crate) fn component(out: &mut String, c: &Component<'_>) {
    let name = c.name.as_str().to_ascii_uppercase();
    line(out, &format!("BEGIN:{name}"));
    for p in &c.properties {
        property(out, p);
    }
    for sub in &c.components {
        component(out, sub);
    }
    line(out, &format!("END:{name}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use icalendar::parser::{read_calendar_simple, unfold};

    #[test]
    fn parameters_keep_the_quotes_they_need() {
        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nORGANIZER;CN=\"Bernard Desruisseaux\":mailto:b@example.com\r\n\
ATTENDEE;DELEGATED-FROM=\"mailto:a@example.com\":mailto:c@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let unfolded = unfold(ics);
        let root = read_calendar_simple(&unfolded).unwrap();
        let mut out = String::new();
        component(&mut out, &root[0]);
        assert!(out.contains("ORGANIZER;CN=\"Bernard Desruisseaux\":mailto:b@example.com\r\n"));
        assert!(
            out.contains(
                "ATTENDEE;DELEGATED-FROM=\"mailto:a@example.com\":mailto:c@example.com\r\n"
            )
        );
    }
}
