//! Writing iCalendar back out (RFC 5545 §3.1) for the answers the server composes:
//! expanded instances, partial retrieval, free-busy. Stored objects are otherwise
//! returned byte for byte as they were written.

use icalendar::parser::{Component, Property};

/// Writes a content line, folded at 75 octets without splitting a character.
pub(crate) fn line(out: &mut String, text: &str) {
    let mut width = 0;
    for ch in text.chars() {
        if width + ch.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += ch.len_utf8();
    }
    out.push_str("\r\n");
}

/// A parameter value as RFC 5545 §3.2 wants it: quoted when it holds `:`, `;` or `,`
/// (the parser hands values over without their quotes), and when it holds a space, as
/// most clients write names.
fn param_value(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains([':', ';', ',', ' ']) && !value.starts_with('"') {
        format!("\"{value}\"").into()
    } else {
        value.into()
    }
}

/// Writes a property with the value given (its own, or a narrowed one).
pub(crate) fn property_with(out: &mut String, p: &Property<'_>, value: &str) {
    let mut text = p.name.as_str().to_ascii_uppercase();
    for param in &p.params {
        text.push(';');
        text.push_str(param.key.as_str());
        if let Some(v) = &param.val {
            text.push('=');
            text.push_str(&param_value(v.as_str()));
        }
    }
    text.push(':');
    text.push_str(value);
    line(out, &text);
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
    fn long_lines_are_folded() {
        let mut out = String::new();
        line(&mut out, &"x".repeat(100));
        assert_eq!(
            out,
            format!("{}\r\n {}\r\n", "x".repeat(75), "x".repeat(25))
        );
    }

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
