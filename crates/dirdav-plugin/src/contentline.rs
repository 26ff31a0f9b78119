//! Writing content lines, the text form iCalendar (RFC 5545 §3.1) and vCard (RFC 6350
//! §3.2) share: for plugins that compose such text (expanded or narrowed calendar
//! objects, converted vCards). Parsing is the format crates' business, after
//! [`nesting_depth`] has bounded what they are handed.

use std::borrow::Cow;

/// The text without a leading UTF-8 byte order mark, which some clients and exporters
/// put before `BEGIN:` (RFC 5545 and 6350 do not allow it, and no parser expects it):
/// such a body is accepted as if it had none, and stored as sent.
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Appends one content line and its CRLF, folded at 75 octets without splitting a
/// character; continuation lines start with a space.
pub fn fold_into(out: &mut String, text: &str) {
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

/// An unfolded content line taken apart for editing: its name and each `KEY=value`
/// parameter as written (split at the `;` outside double quotes), and its value (after
/// the first `:` outside them). `ATTENDEE;CN="A; B":mailto:a@x` gives
/// `(["ATTENDEE", "CN=\"A; B\""], "mailto:a@x")`.
pub fn split_line(line: &str) -> (Vec<&str>, &str) {
    let mut pieces = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                pieces.push(&line[start..i]);
                start = i + 1;
            }
            ':' if !quoted => {
                pieces.push(&line[start..i]);
                return (pieces, &line[i + 1..]);
            }
            _ => {}
        }
    }
    pieces.push(&line[start..]);
    (pieces, "")
}

/// A parameter value as it must be written: in double quotes when it holds `:` or `;`
/// (which would otherwise end it), and when it holds a space, as most clients write
/// display names. Parsers hand values over without their quotes; a comma alone is
/// taken as separating the values of a list (`TYPE=WORK,PREF`) and left unquoted.
pub fn param_value(value: &str) -> Cow<'_, str> {
    if value.contains([':', ';', ' ']) && !value.starts_with('"') {
        format!("\"{value}\"").into()
    } else {
        value.into()
    }
}

/// Appends a property line: `NAME;KEY=value...:value`, the name as given.
pub fn property_into<'a>(
    out: &mut String,
    name: &str,
    params: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    value: &str,
) {
    let mut text = name.to_owned();
    for (key, val) in params {
        text.push(';');
        text.push_str(key);
        if let Some(v) = val {
            text.push('=');
            text.push_str(&param_value(v));
        }
    }
    text.push(':');
    text.push_str(value);
    fold_into(out, &text);
}

/// A parameter value from untrusted text made safe to write back: without double
/// quotes and control characters (which no parameter value may hold, RFC 5545 §3.1),
/// then quoted as [`param_value`] does. A reply's `PARTSTAT="A;ROLE=CHAIR:mailto:x"`
/// cannot add parameters or change the address of the line it is written into.
pub fn safe_param_value(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| *c != '"' && (!c.is_control() || *c == '\t'))
        .collect();
    match clean.contains([':', ';', ',', ' ']) {
        true => format!("\"{clean}\""),
        false => clean,
    }
}

/// What is wrong with one content line of a file: the line (from 1) where it starts,
/// and why. Shown as `line 12: …` in a 403's text and by `dirdav check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The line of the text, from 1, where the content line starts.
    pub line: usize,
    /// What is wrong, for a person.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The content lines of a text, unfolded (RFC 5545 §3.1: a line break followed by a
/// space or tab continues the line), each with the line (from 1) where it starts.
pub fn numbered_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match (line.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some((_, last))) => last.push_str(rest),
            _ if line.is_empty() => {}
            _ => lines.push((i + 1, line.to_owned())),
        }
    }
    lines
}

/// The first control character of an unfolded content line other than HTAB, which
/// no iCalendar or vCard text may hold (RFC 5545 §3.1 and §3.3.11, RFC 6350 §3.3).
pub fn control_character(line: &str) -> Option<char> {
    line.chars().find(|c| c.is_ascii_control() && *c != '\t')
}

/// The first escape of a TEXT value that RFC 5545 §3.3.11 does not define: only
/// `\\`, `\;`, `\,`, `\n` and `\N` are (a `\"` or `\t` is not).
pub fn undefined_escape(value: &str) -> Option<String> {
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\' | ';' | ',' | 'n' | 'N') => {}
                Some(other) => return Some(format!("\\{other}")),
                None => return Some("\\".into()),
            }
        }
    }
    None
}

/// The first `,` or `;` of a TEXT value that is not escaped, which RFC 5545 §3.3.11
/// requires of a single TEXT value (a list such as CATEGORIES separates with commas).
pub fn unescaped_separator(value: &str) -> Option<char> {
    let mut escaped = false;
    for c in value.chars() {
        if !escaped && (c == ',' || c == ';') {
            return Some(c);
        }
        escaped = !escaped && c == '\\';
    }
    None
}

/// Properties an attendee's client may change on its own copy of a meeting without
/// the organizer changing it: stamps it sets on every save, its own counter of saves,
/// whether the meeting shows the attendee as busy (RFC 6638 §3.2.2.1).
pub const ATTENDEES_OWN: [&str; 5] = ["DTSTAMP", "SEQUENCE", "LAST-MODIFIED", "CREATED", "TRANSP"];

/// What the organizer of a scheduling object decides, line by line, from its unfolded
/// text: every line but alarms, `X-` properties and [`ATTENDEES_OWN`], with ATTENDEE and
/// ORGANIZER lines less the parameters that carry an answer (PARTSTAT, RSVP,
/// SCHEDULE-STATUS, `X-`) and their other parameters in a fixed order. Two copies of a
/// meeting that differ only in answers, alarms or what clients restamp give the same
/// lines. `None` for an object without ORGANIZER (no meeting).
pub fn organizer_view(unfolded: &str) -> Option<Vec<String>> {
    // Most objects are no meeting: nothing to read.
    if !unfolded
        .as_bytes()
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"ORGANIZER"))
    {
        return None;
    }
    let (lines, organizer) = decided_lines(unfolded);
    organizer.then_some(lines)
}

/// The lines of [`organizer_view`] for any text (a single component, say), and whether
/// an ORGANIZER was among them.
pub fn decided_lines(unfolded: &str) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut organizer = false;
    let mut alarm = 0usize;
    for line in unfolded.lines().map(|l| l.trim_end_matches('\r')) {
        let upper = line.to_ascii_uppercase();
        if upper == "BEGIN:VALARM" {
            alarm += 1;
        }
        let name = upper.split([';', ':']).next().unwrap_or_default();
        let skip = alarm > 0 || name.starts_with("X-") || ATTENDEES_OWN.contains(&name);
        if upper == "END:VALARM" {
            alarm = alarm.saturating_sub(1);
        }
        if skip || line.is_empty() {
            continue;
        }
        organizer |= name == "ORGANIZER";
        if name == "ATTENDEE" || name == "ORGANIZER" {
            lines.push(without_answer(line));
        } else {
            lines.push(line.to_owned());
        }
    }
    (lines, organizer)
}

/// An ATTENDEE or ORGANIZER line without the parameters that carry the attendee's
/// answer, the others in a fixed order.
fn without_answer(line: &str) -> String {
    let (mut pieces, value) = split_line(line);
    let name = pieces.remove(0);
    let mut kept: Vec<&str> = pieces
        .into_iter()
        .filter(|p| {
            let name = p.split('=').next().unwrap_or_default().to_ascii_uppercase();
            !matches!(name.as_str(), "PARTSTAT" | "RSVP" | "SCHEDULE-STATUS")
                && !name.starts_with("X-")
        })
        .collect();
    kept.sort_unstable_by_key(|p| p.to_ascii_uppercase());
    kept.insert(0, name);
    format!("{}:{value}", kept.join(";"))
}

/// The deepest `BEGIN:` nesting a body may have before it is handed to a parser.
/// iCalendar nests four deep at most (VCALENDAR, VEVENT, VALARM, and a vendor's
/// component inside that); vCard two. Recursive parsers spend a stack frame per level,
/// so a body of thousands of nested `BEGIN:` lines must be refused before parsing.
pub const MAX_NESTING: usize = 16;

/// Refuses unfolded `text` nested deeper than [`MAX_NESTING`], with the reason, before
/// it is handed to a parser that recurses per component.
pub fn check_nesting(text: &str) -> Result<(), String> {
    let depth = nesting_depth(text);
    match depth > MAX_NESTING {
        true => Err(format!(
            "components nested {depth} deep; at most {MAX_NESTING} are read"
        )),
        false => Ok(()),
    }
}

/// How deep the `BEGIN:`/`END:` lines of unfolded `text` nest: the most components open
/// at once. A parser that recurses per component recurses no deeper than this.
pub fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for line in text.split('\n') {
        let starts = |p: &str| {
            line.get(..p.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(p))
        };
        if starts("BEGIN:") {
            depth += 1;
            deepest = deepest.max(depth);
        } else if starts("END:") {
            depth = depth.saturating_sub(1);
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_where_they_start() {
        let text = "BEGIN:VCALENDAR\r\nSUMMARY:a long\r\n  line\r\n\t goes on\r\nEND:VCALENDAR\r\n";
        assert_eq!(
            numbered_lines(text),
            vec![
                (1, "BEGIN:VCALENDAR".into()),
                (2, "SUMMARY:a long line goes on".into()),
                (5, "END:VCALENDAR".into()),
            ]
        );
    }

    #[test]
    fn text_values_hold_no_control_characters_or_undefined_escapes() {
        assert_eq!(control_character("SUMMARY:a\tb"), None);
        assert_eq!(control_character("SUMMARY:a\u{7}b"), Some('\u{7}'));
        assert_eq!(control_character("SUMMARY:a\rb"), Some('\r'));
        assert_eq!(undefined_escape("a\\, b\\; c\\\\ d\\n e\\N"), None);
        assert_eq!(undefined_escape(r#"say \"hi\""#), Some(r#"\""#.into()));
        assert_eq!(undefined_escape("ends in \\"), Some("\\".into()));
        assert_eq!(unescaped_separator("Dr. Weber\\, Hauptstr. 5\\\\"), None);
        assert_eq!(unescaped_separator("Dr. Weber, Hauptstr. 5"), Some(','));
        assert_eq!(unescaped_separator("a\\\\;b"), Some(';'));
    }

    #[test]
    fn lines_split_outside_quotes() {
        assert_eq!(
            split_line("ATTENDEE;CN=\"A; B:C\";PARTSTAT=ACCEPTED:mailto:a@x"),
            (
                vec!["ATTENDEE", "CN=\"A; B:C\"", "PARTSTAT=ACCEPTED"],
                "mailto:a@x"
            )
        );
        assert_eq!(split_line("SUMMARY:a:b"), (vec!["SUMMARY"], "a:b"));
        assert_eq!(split_line("BROKEN"), (vec!["BROKEN"], ""));
    }

    #[test]
    fn nesting_is_the_most_components_open_at_once() {
        let event = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nBEGIN:VALARM\r\nEND:VALARM\r\n\
                     END:VEVENT\r\nBEGIN:VTODO\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        assert_eq!(nesting_depth(event), 3);
        assert_eq!(nesting_depth("begin:a\nbegin:b\nend:b\n"), 2);
        assert_eq!(nesting_depth(&"BEGIN:X\n".repeat(10_000)), 10_000);
        assert_eq!(nesting_depth("SUMMARY:BEGIN:X\n"), 0);
    }

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let mut out = String::new();
        fold_into(&mut out, &"x".repeat(100));
        assert_eq!(
            out,
            format!("{}\r\n {}\r\n", "x".repeat(75), "x".repeat(25))
        );
        let mut out = String::new();
        fold_into(&mut out, &format!("{}é", "x".repeat(74)));
        assert_eq!(out, format!("{}\r\n é\r\n", "x".repeat(74)));
    }

    #[test]
    fn parameter_values_are_quoted_when_they_must_be() {
        let mut out = String::new();
        property_into(
            &mut out,
            "ATTENDEE",
            [
                ("CN", Some("Lisa Dusseault")),
                ("DELEGATED-FROM", Some("mailto:a@example.com")),
                ("RSVP", Some("TRUE")),
                ("TYPE", Some("WORK,PREF")),
                ("X-FLAG", None),
            ],
            "mailto:lisa@example.com",
        );
        assert!(out.lines().all(|l| l.len() <= 75));
        assert_eq!(
            out.replace("\r\n ", ""),
            "ATTENDEE;CN=\"Lisa Dusseault\";DELEGATED-FROM=\"mailto:a@example.com\";RSVP=TRUE;TYPE=WORK,PREF;X-FLAG:mailto:lisa@example.com\r\n"
        );
    }
}
