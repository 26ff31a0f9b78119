//! A read-only calendar `birthdays/` in every user's home: a yearly all-day event for
//! the `BDAY` and `ANNIVERSARY` of each card in the user's address books and in those
//! shared with them (not every book a server without access rules leaves open).
//! It is a [`View`]: the core lists it, answers it through CalDAV (reports, multiget,
//! export, sync) and makes its events again when a card changes.

use dirdav_plugin::contentline::{fold_into, numbered_lines, split_line, without_bom};
use dirdav_plugin::{Plugin, Registrar, Resource, Store, View};

/// The birthdays calendar.
#[derive(Debug, Default, Clone, Copy)]
pub struct Birthdays;

impl Plugin for Birthdays {
    fn register(&self, r: &mut Registrar<'_>) {
        let [table, key] = dirdav_caldav::COMPONENTS;
        let components = toml::Table::from_iter([(key.into(), vec!["VEVENT"].into())]);
        r.view(
            View::new("birthdays", dirdav_caldav::KIND)
                .setting("displayname", "Birthdays")
                .setting(table, components)
                .sources(address_books)
                .members_from(events),
        );
    }
}

/// The user's address books and those others share with them.
fn address_books(user: &str, store: &dyn Store) -> Vec<String> {
    let own = store.collections_within(user).into_iter().map(|c| c.path);
    let book = |p: &String| {
        store
            .resource(p)
            .is_some_and(|c| c.kind() == Some(dirdav_carddav::KIND))
    };
    own.chain(store.shared_with(user)).filter(book).collect()
}

/// The events of one card: `<hash of its path>-birthday.ics` and `-anniversary.ics`.
fn events(card: &Resource, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let lines = numbered_lines(without_bom(&String::from_utf8_lossy(bytes)));
    let value = |name: &str| {
        lines
            .iter()
            .map(|(_, l)| split_line(l))
            .find_map(|(head, value)| {
                let property = head[0].rsplit('.').next().unwrap_or("");
                property
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
    };
    let who = value("FN")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Someone".into());
    let id = &blake3::hash(card.path.as_bytes()).to_hex()[..16];
    let mut out = Vec::new();
    for (property, what, title) in [
        ("BDAY", "birthday", "Birthday"),
        ("ANNIVERSARY", "anniversary", "Anniversary"),
    ] {
        let Some(date) = value(property).and_then(|v| date_of(&v)) else {
            continue;
        };
        let mut text = String::new();
        for line in [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//dirdav//birthdays//EN",
            "BEGIN:VEVENT",
            &format!("UID:{id}-{what}@dirdav"),
            "DTSTAMP:19700101T000000Z",
            &format!("DTSTART;VALUE=DATE:{date}"),
            "DURATION:P1D",
            "RRULE:FREQ=YEARLY",
            &format!("SUMMARY:{title}: {}", who.replace(['\r', '\n'], " ")),
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
            "END:VCALENDAR",
        ] {
            fold_into(&mut text, line);
        }
        out.push((format!("{id}-{what}.ics"), text.into_bytes()));
    }
    out
}

/// `YYYYMMDD` of a vCard date: `19850412`, `1985-04-12`, a date-time's date, or a date
/// without a year (`--0412`, `--04-12`), which is given the year 1604 as Apple does.
fn date_of(value: &str) -> Option<String> {
    let date = value.split('T').next()?;
    let digits: String = date.chars().filter(char::is_ascii_digit).collect();
    let date = match (date.starts_with("--"), digits.len()) {
        (true, 4) => format!("1604{digits}"),
        (false, 8) => digits,
        _ => return None,
    };
    let (month, day) = (
        date[4..6].parse::<u32>().ok()?,
        date[6..8].parse::<u32>().ok()?,
    );
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(date)
}

#[cfg(test)]
mod tests;
