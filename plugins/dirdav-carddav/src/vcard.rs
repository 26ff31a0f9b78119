//! Reading vCards (RFC 6350 4.0, RFC 2426 3.0) with the `icalendar` crate's content-line
//! parser, which reads any `BEGIN:`/`END:` structure: validation for PUT and the summary
//! the index keeps.

use dirdav_plugin::Summary;
use dirdav_plugin::contentline::check_nesting;
use icalendar::parser::{Component, read_calendar_simple, unfold};

/// Properties kept in the summary, so that queries on them read no file.
pub(crate) const SUMMARY_FIELDS: [&str; 7] = ["FN", "N", "EMAIL", "TEL", "NICKNAME", "UID", "ORG"];

/// A property's name without its group, upper case: `item1.EMAIL` is an EMAIL (RFC 6350
/// §3.3; Apple groups a labelled address with its `X-ABLabel`).
pub(crate) fn property_name(full: &str) -> String {
    full.rsplit_once('.')
        .map_or(full, |(_, name)| name)
        .trim()
        .to_ascii_uppercase()
}

/// Why a body is not an address object resource we store.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not a vCard we can read (`CARDDAV:valid-address-data`).
    Data(String),
    /// A vCard version we do not store (`CARDDAV:supported-address-data`).
    Version(String),
}

/// A parsed vCard: its UID and version.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Card {
    pub(crate) uid: String,
    pub(crate) version: String,
}

fn value<'c>(c: &'c Component<'c>, name: &str) -> Option<&'c str> {
    c.properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case(name))
        .map(|p| p.val.as_str().trim())
}

/// Parses one vCard.
pub(crate) fn with_card<T>(text: &str, f: impl FnOnce(&Component<'_>) -> T) -> Result<T, Invalid> {
    let unfolded = unfold(dirdav_plugin::contentline::without_bom(text));
    // The parser recurses per component: a deep body would overflow the stack.
    check_nesting(&unfolded).map_err(Invalid::Data)?;
    let roots =
        read_calendar_simple(&unfolded).map_err(|e| Invalid::Data(format!("not a vCard: {e}")))?;
    if roots.len() != 1 {
        return Err(Invalid::Data(format!(
            "{} vCards in one resource; one is required",
            roots.len()
        )));
    }
    let card = &roots[0];
    if !card.name.as_str().trim().eq_ignore_ascii_case("VCARD") {
        return Err(Invalid::Data(format!("{} is not VCARD", card.name)));
    }
    Ok(f(card))
}

/// Checks that `bytes` are one vCard 3.0 or 4.0 with FN and UID (RFC 6352 §5.1).
/// Folded lines, PHOTO data and Apple's group cards are fine; bytes are stored as sent.
pub(crate) fn validate(bytes: &[u8]) -> Result<Card, Invalid> {
    let text = std::str::from_utf8(bytes).map_err(|_| Invalid::Data("not UTF-8".into()))?;
    let text = dirdav_plugin::contentline::without_bom(text);
    if !text
        .trim_start()
        .to_ascii_uppercase()
        .starts_with("BEGIN:VCARD")
    {
        return Err(Invalid::Data("does not start with BEGIN:VCARD".into()));
    }
    with_card(text, |card| {
        let version = value(card, "VERSION").unwrap_or("").to_owned();
        match version.as_str() {
            "3.0" | "4.0" => {}
            "2.1" => {
                return Err(Invalid::Version(
                    "vCard 2.1 is not supported: send 3.0 or 4.0".into(),
                ));
            }
            other => {
                return Err(Invalid::Version(format!(
                    "vCard version {other:?} is not supported"
                )));
            }
        }
        if value(card, "FN").is_none_or(str::is_empty) {
            return Err(Invalid::Data("a vCard needs FN".into()));
        }
        let uid = value(card, "UID")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Invalid::Data("a vCard needs UID (RFC 6352 §5.1)".into()))?;
        Ok(Card {
            uid: uid.to_owned(),
            version,
        })
    })?
}

/// [`validate`], and what the parser forgives but the RFCs do not ([`lint`]): for a
/// PUT, refused with the first problem's line.
pub(crate) fn validate_put(bytes: &[u8]) -> Result<Card, Invalid> {
    let card = validate(bytes)?;
    let text = String::from_utf8_lossy(bytes);
    match lint(&text).into_iter().next() {
        Some(problem) => Err(Invalid::Data(problem.to_string())),
        None => Ok(card),
    }
}

/// Every problem of a stored vCard, for `dirdav check`: what a PUT would be refused
/// for. A body that is not one vCard at all gives one problem, at line 1; else each
/// line [`lint`] finds.
pub fn check(bytes: &[u8]) -> Vec<dirdav_plugin::contentline::Problem> {
    match validate(bytes) {
        Err(Invalid::Data(m) | Invalid::Version(m)) => vec![dirdav_plugin::contentline::Problem {
            line: 1,
            message: m,
        }],
        Ok(_) => lint(&String::from_utf8_lossy(bytes)),
    }
}

/// What a vCard holds that RFC 6350 and RFC 2426 forbid, line by line (for a PUT,
/// 403 `valid-address-data`, and `dirdav check`): control characters other than HTAB
/// (RFC 6350 §3.3), a second UID (cardinality `*1`, §6.7.6), a second FN in a vCard
/// 3.0 (which has one formatted name; vCard 4.0 allows one per language, §6.2.1).
pub fn lint(text: &str) -> Vec<dirdav_plugin::contentline::Problem> {
    use dirdav_plugin::contentline::{Problem, control_character, numbered_lines, split_line};
    let lines = numbered_lines(dirdav_plugin::contentline::without_bom(text));
    let mut depth = 0usize;
    let mut version3 = false;
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut problems = Vec::new();
    for (line, content) in &lines {
        let (head, value) = split_line(content);
        let name = property_name(head[0]);
        match name.as_str() {
            "BEGIN" => depth += 1,
            "END" => depth = depth.saturating_sub(1),
            "VERSION" if depth == 1 => version3 = value.trim() == "3.0",
            _ => {}
        }
        if depth == 1 && matches!(name.as_str(), "UID" | "FN") {
            seen.push((name, *line));
        }
        if let Some(c) = control_character(content) {
            problems.push(Problem {
                line: *line,
                message: format!(
                    "control character U+{:04X} (only HTAB is allowed)",
                    c as u32
                ),
            });
        }
    }
    for (name, why) in [
        ("UID", Some("a vCard has at most one UID (RFC 6350 §6.7.6)")),
        (
            "FN",
            version3.then_some("a vCard 3.0 has one FN (RFC 2426 §3.1.1)"),
        ),
    ] {
        let Some(why) = why else { continue };
        if let Some((_, line)) = seen.iter().filter(|(n, _)| n == name).nth(1) {
            problems.push(Problem {
                line: *line,
                message: why.into(),
            });
        }
    }
    problems.sort_by_key(|p| p.line);
    problems
}

/// The summary: UID and the searchable values.
pub(crate) fn summarize(bytes: &[u8]) -> Summary {
    let Ok(card) = validate(bytes) else {
        return Summary::default();
    };
    let text = String::from_utf8_lossy(bytes);
    let fields = with_card(&text, |c| {
        c.properties
            .iter()
            .map(|p| (property_name(p.name.as_str()), p.val.as_str().trim()))
            .filter(|(name, _)| SUMMARY_FIELDS.contains(&name.as_str()))
            .collect()
    })
    .unwrap_or_default();
    Summary {
        uid: Some(card.uid),
        component: Some("VCARD".into()),
        fields,
        ..Summary::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Carol Díaz\r\nN:Díaz;Carol;;;\r\nEMAIL;TYPE=WORK:carol@example.com\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ\r\n AAAQABAAD\r\nEND:VCARD\r\n";

    #[test]
    fn accepts_real_cards() {
        assert_eq!(
            validate(CARD.as_bytes()),
            Ok(Card {
                uid: "c1".into(),
                version: "3.0".into()
            })
        );
        let group = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:g\r\nFN:Friends\r\nN:Friends;;;;\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:c1\r\nEND:VCARD\r\n";
        assert!(validate(group.as_bytes()).is_ok());
        assert!(validate(CARD.replace("3.0", "4.0").as_bytes()).is_ok());
        // A byte order mark before BEGIN: (some exporters write one) is passed over.
        let bom = format!("\u{feff}{CARD}");
        assert_eq!(validate(bom.as_bytes()).unwrap().uid, "c1");
        assert_eq!(summarize(bom.as_bytes()).uid.as_deref(), Some("c1"));
    }

    #[test]
    fn refuses_what_is_not_one_card() {
        assert!(matches!(validate(b"hello"), Err(Invalid::Data(_))));
        assert!(matches!(
            validate(CARD.replace("FN:Carol Díaz\r\n", "").as_bytes()),
            Err(Invalid::Data(_))
        ));
        assert!(matches!(
            validate(CARD.replace("UID:c1\r\n", "").as_bytes()),
            Err(Invalid::Data(_))
        ));
        assert!(matches!(
            validate(CARD.replace("3.0", "2.1").as_bytes()),
            Err(Invalid::Version(_))
        ));
        let two = format!("{CARD}{CARD}");
        assert!(matches!(validate(two.as_bytes()), Err(Invalid::Data(_))));
        // Nested deeper than any card is refused before the (recursive) parser runs.
        let deep = CARD.replace(
            "END:VCARD",
            &format!(
                "{}{}END:VCARD",
                "BEGIN:X\r\n".repeat(100_000),
                "END:X\r\n".repeat(100_000)
            ),
        );
        assert!(matches!(validate(deep.as_bytes()), Err(Invalid::Data(m)) if m.contains("nested")));
        assert_eq!(summarize(deep.as_bytes()), Summary::default());
    }

    #[test]
    fn lint_finds_a_second_uid_or_fn_and_control_characters() {
        assert_eq!(lint(CARD), vec![]);
        let at = |text: &str| lint(text).into_iter().map(|p| p.line).collect::<Vec<_>>();
        assert_eq!(
            at(&CARD.replace("UID:c1\r\n", "UID:c1\r\nUID:c2\r\n")),
            vec![4]
        );
        assert_eq!(
            at(&CARD.replace("FN:Carol Díaz\r\n", "FN:A\r\nFN:B\r\n")),
            vec![5]
        );
        // vCard 4.0 may name a contact once per language.
        let four = CARD.replace("3.0", "4.0");
        assert_eq!(
            at(&four.replace("FN:Carol Díaz\r\n", "FN:A\r\nFN;LANGUAGE=de:B\r\n")),
            vec![]
        );
        assert_eq!(
            at(&CARD.replace("FN:Carol Díaz", "FN:Carol\u{1b}[31m")),
            vec![4]
        );
        assert!(matches!(
            validate_put(CARD.replace("UID:c1\r\n", "UID:c1\r\nUID:c2\r\n").as_bytes()),
            Err(Invalid::Data(m)) if m.starts_with("line 4: a vCard has at most one UID")
        ));
    }

    #[test]
    fn summaries_hold_the_searchable_fields() {
        let s = summarize(CARD.as_bytes());
        assert_eq!(s.uid.as_deref(), Some("c1"));
        let fields: Vec<_> = s.fields.iter().collect();
        assert!(fields.contains(&("FN", "Carol Díaz")));
        assert!(fields.contains(&("EMAIL", "carol@example.com")));
        assert!(!s.fields.iter().any(|(n, _)| n == "PHOTO"));
    }
}
