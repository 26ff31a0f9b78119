//! iCalendar objects as scheduling sees them (RFC 5546): who organizes, who attends and
//! how they answered, read with the `icalendar` parser; and the few edits scheduling
//! makes to an object's text (a method, an attendee's answer, a cancellation), made on
//! its unfolded content lines so that everything else stays as the organizer wrote it.

use dirdav_plugin::contentline::{organizer_view, safe_param_value, split_line};
use icalendar::parser::{Component, read_calendar_simple, unfold};

/// An attendee of a scheduling object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attendee {
    /// The calendar user address (`mailto:bob@example.com`).
    pub(crate) address: String,
    /// `PARTSTAT`, upper case; `NEEDS-ACTION` when absent.
    pub(crate) partstat: String,
    /// `SCHEDULE-AGENT=CLIENT` or `NONE`: the server must not schedule for them.
    pub(crate) by_client: bool,
}

/// What scheduling needs of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Object {
    pub(crate) uid: String,
    pub(crate) organizer: String,
    pub(crate) attendees: Vec<Attendee>,
    /// `STATUS:CANCELLED` on its master (or only) component.
    pub(crate) cancelled: bool,
    /// Every component that names an ORGANIZER names the same one (RFC 6638 §3.1).
    pub(crate) one_organizer: bool,
    pub(crate) summary: Option<String>,
    /// The unfolded content lines, to edit.
    pub(crate) lines: Vec<String>,
}

fn param<'a>(p: &'a icalendar::parser::Property<'a>, name: &str) -> Option<String> {
    p.params
        .iter()
        .find(|x| x.key.as_str().eq_ignore_ascii_case(name))
        .and_then(|x| x.val.as_ref())
        .map(|v| v.as_str().trim_matches('"').to_ascii_uppercase())
}

fn value_of(c: &Component<'_>, name: &str) -> Option<String> {
    c.properties
        .iter()
        .find(|p| p.name.as_str().eq_ignore_ascii_case(name))
        .map(|p| p.val.as_str().trim().to_owned())
}

/// Whether a parameter value is a token (RFC 5545 §3.1: an iana-token or x-name:
/// letters, digits and `-`), as every PARTSTAT is; anything else in a PARTSTAT is read
/// as no answer, so that it is never written into another user's copy.
fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Same calendar user address: `mailto:` compared without case, others as written.
pub(crate) fn same_address(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl Object {
    /// Reads a scheduling object: one with an ORGANIZER. `None` for anything else
    /// (no ORGANIZER, not iCalendar).
    pub(crate) fn read(bytes: &[u8]) -> Option<Object> {
        // Most items are no meeting: they are not parsed at all.
        if !bytes
            .windows(9)
            .any(|w| w.eq_ignore_ascii_case(b"ORGANIZER"))
        {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        let text = dirdav_plugin::contentline::without_bom(text);
        dirdav_plugin::contentline::check_nesting(text).ok()?;
        let unfolded = unfold(text);
        let roots = read_calendar_simple(&unfolded).ok()?;
        let root = roots.first()?;
        let parts: Vec<&Component<'_>> = root
            .components
            .iter()
            .filter(|c| {
                ["VEVENT", "VTODO", "VJOURNAL"]
                    .iter()
                    .any(|k| c.name.as_str().eq_ignore_ascii_case(k))
            })
            .collect();
        let master = parts
            .iter()
            .find(|c| value_of(c, "RECURRENCE-ID").is_none())
            .or(parts.first())?;
        let organizer = parts.iter().find_map(|c| value_of(c, "ORGANIZER"))?;
        let one_organizer = parts
            .iter()
            .filter_map(|c| value_of(c, "ORGANIZER"))
            .all(|o| same_address(&o, &organizer));
        let mut attendees: Vec<Attendee> = Vec::new();
        for c in &parts {
            for p in c
                .properties
                .iter()
                .filter(|p| p.name.as_str().eq_ignore_ascii_case("ATTENDEE"))
            {
                let address = p.val.as_str().trim().to_owned();
                if attendees.iter().any(|a| same_address(&a.address, &address)) {
                    continue;
                }
                let agent = param(p, "SCHEDULE-AGENT");
                attendees.push(Attendee {
                    address,
                    partstat: param(p, "PARTSTAT")
                        .filter(|v| is_token(v))
                        .unwrap_or_else(|| "NEEDS-ACTION".to_owned()),
                    by_client: matches!(agent.as_deref(), Some("CLIENT" | "NONE")),
                });
            }
        }
        Some(Object {
            uid: value_of(master, "UID")?,
            organizer,
            attendees,
            cancelled: value_of(master, "STATUS")
                .is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED")),
            one_organizer,
            summary: value_of(master, "SUMMARY"),
            lines: unfolded
                .lines()
                .map(|l| l.trim_end_matches('\r').to_owned())
                .filter(|l| !l.is_empty())
                .collect(),
        })
    }

    /// The answer an attendee gave, if they are one.
    pub(crate) fn partstat_of(&self, address: &str) -> Option<&str> {
        self.attendees
            .iter()
            .find(|a| same_address(&a.address, address))
            .map(|a| a.partstat.as_str())
    }

    /// The object's text, folded, with `METHOD:<method>` (or without any METHOD when
    /// `None`: what a calendar stores).
    pub(crate) fn text(&self, method: Option<&str>) -> String {
        let mut out = String::new();
        for line in &self.lines {
            if name_of(line).eq_ignore_ascii_case("METHOD") {
                continue;
            }
            dirdav_plugin::contentline::fold_into(&mut out, line);
            if let Some(m) = method
                && line.eq_ignore_ascii_case("BEGIN:VCALENDAR")
            {
                dirdav_plugin::contentline::fold_into(&mut out, &format!("METHOD:{m}"));
            }
        }
        out
    }

    /// What the organizer decides ([`organizer_view`]), as sorted lines, less the
    /// ATTENDEE lines when `attendees` is false.
    fn view(&self, attendees: bool) -> Vec<String> {
        let mut lines: Vec<String> = organizer_view(&self.lines.join("\n"))
            .unwrap_or_default()
            .into_iter()
            .filter(|l| attendees || !name_of(l).eq_ignore_ascii_case("ATTENDEE"))
            .collect();
        lines.sort_unstable();
        lines
    }

    /// The scheduling components (VEVENT, VTODO, VJOURNAL), by their RECURRENCE-ID
    /// (`""` for the master), each as what the organizer decides in it: sorted lines,
    /// ATTENDEE and ORGANIZER lines reduced to their addresses (a client may rewrite
    /// their parameters).
    pub(crate) fn parts(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        self.components()
            .into_iter()
            .map(|(range, _)| {
                let (decided, _) =
                    dirdav_plugin::contentline::decided_lines(&self.lines[range].join("\n"));
                let mut key = String::new();
                let mut view: Vec<String> = decided
                    .into_iter()
                    .map(|l| {
                        let name = name_of(&l).to_ascii_uppercase();
                        if name == "RECURRENCE-ID" {
                            key = value_of_line(&l).trim().to_owned();
                        }
                        match name.as_str() {
                            "ATTENDEE" | "ORGANIZER" => {
                                format!("{name}:{}", value_of_line(&l).trim().to_ascii_lowercase())
                            }
                            _ => l,
                        }
                    })
                    .collect();
                view.sort_unstable();
                (key, view)
            })
            .collect()
    }

    /// Whether the meeting changed for every attendee since `was` (RFC 5546 §2.1.4):
    /// anything the organizer decides other than the attendee list (times, place,
    /// summary, description, status, recurrence …). Stamps, sequence numbers, alarms
    /// and answers do not count.
    pub(crate) fn changed_for_everyone(&self, was: &Object) -> bool {
        self.view(false) != was.view(false)
    }

    /// The attendees added since `was`, or whose own line changed (a role, a name).
    pub(crate) fn attendees_changed(&self, was: &Object) -> Vec<String> {
        let (now, then) = (self.view(true), was.view(true));
        let lines_of = |view: &[String], address: &str| -> Vec<String> {
            view.iter()
                .filter(|l| {
                    name_of(l).eq_ignore_ascii_case("ATTENDEE")
                        && same_address(value_of_line(l), address)
                })
                .cloned()
                .collect()
        };
        self.attendees
            .iter()
            .filter(|a| lines_of(&now, &a.address) != lines_of(&then, &a.address))
            .map(|a| a.address.clone())
            .collect()
    }

    /// Sets the PARTSTAT of the attendee `address` on every component.
    pub(crate) fn set_partstat(&mut self, address: &str, partstat: &str) {
        self.set_attendee_param(address, "PARTSTAT", partstat);
        for a in &mut self.attendees {
            if same_address(&a.address, address) {
                a.partstat = partstat.to_owned();
            }
        }
    }

    /// Sets a parameter of the attendee `address` on every component.
    pub(crate) fn set_attendee_param(&mut self, address: &str, key: &str, value: &str) {
        for line in &mut self.lines {
            if name_of(line).eq_ignore_ascii_case("ATTENDEE")
                && same_address(value_of_line(line), address)
            {
                *line = with_param(line, key, value);
            }
        }
    }

    /// Removes a parameter from every ATTENDEE line (`SCHEDULE-STATUS`, which stays in
    /// the organizer's copy and is not sent).
    pub(crate) fn drop_attendee_param(&mut self, key: &str) {
        self.drop_param("ATTENDEE", key);
    }

    /// Removes parameter `key` from every line of `property`.
    fn drop_param(&mut self, property: &str, key: &str) {
        let prefix = format!("{}=", key.to_ascii_uppercase());
        for line in &mut self.lines {
            if name_of(line).eq_ignore_ascii_case(property) {
                let (pieces, value) = split_line(line);
                let kept: Vec<&str> = pieces
                    .into_iter()
                    .filter(|p| !p.to_ascii_uppercase().starts_with(&prefix))
                    .collect();
                *line = format!("{}:{}", kept.join(";"), value);
            }
        }
    }

    /// Sets `STATUS:CANCELLED` on every scheduling component.
    pub(crate) fn cancel(&mut self) {
        let mut out = Vec::with_capacity(self.lines.len() + 2);
        let mut inside = false;
        for line in self.lines.drain(..) {
            let upper = line.to_ascii_uppercase();
            if inside && name_of(&line).eq_ignore_ascii_case("STATUS") {
                continue;
            }
            if ["END:VEVENT", "END:VTODO", "END:VJOURNAL"].contains(&upper.as_str()) {
                inside = false;
            }
            let begins =
                ["BEGIN:VEVENT", "BEGIN:VTODO", "BEGIN:VJOURNAL"].contains(&upper.as_str());
            out.push(line);
            // Right after BEGIN: a component's properties come before its alarms.
            if begins {
                out.push("STATUS:CANCELLED".to_owned());
                inside = true;
            }
        }
        self.lines = out;
        self.cancelled = true;
    }

    /// The scheduling components (VEVENT, VTODO, VJOURNAL) of the object: the lines
    /// each spans (BEGIN to END), and its RECURRENCE-ID line (`None` for the master).
    fn components(&self) -> Vec<(std::ops::Range<usize>, Option<String>)> {
        let mut found = Vec::new();
        let mut depth = 0usize;
        let mut start: Option<(usize, Option<String>)> = None;
        for (i, line) in self.lines.iter().enumerate() {
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("BEGIN:") {
                depth += 1;
                let scheduling = ["VEVENT", "VTODO", "VJOURNAL"]
                    .iter()
                    .any(|k| upper.strip_prefix("BEGIN:") == Some(k));
                if depth == 2 && scheduling {
                    start = Some((i, None));
                }
            } else if upper.starts_with("END:") {
                if depth == 2
                    && let Some((from, id)) = start.take()
                {
                    found.push((from..i + 1, id));
                }
                depth = depth.saturating_sub(1);
            } else if depth == 2
                && let Some((_, id)) = start.as_mut()
                && name_of(line).eq_ignore_ascii_case("RECURRENCE-ID")
            {
                *id = Some(line.clone());
            }
        }
        found
    }

    /// Whether the lines name `address` as an attendee.
    fn invites(lines: &[String], address: &str) -> bool {
        lines.iter().any(|l| {
            name_of(l).eq_ignore_ascii_case("ATTENDEE") && same_address(value_of_line(l), address)
        })
    }

    /// The object as one attendee is sent it (RFC 6638 §3.2.6): only the components
    /// that invite them, and, when they are invited to the series, an EXDATE on it for
    /// each overridden instance they are not invited to.
    pub(crate) fn only_for(&self, address: &str) -> Object {
        let components = self.components();
        let excluded: Vec<&(std::ops::Range<usize>, Option<String>)> = components
            .iter()
            .filter(|(range, _)| !Self::invites(&self.lines[range.clone()], address))
            .collect();
        if excluded.is_empty() || excluded.len() == components.len() {
            return self.clone();
        }
        let master_kept = components
            .iter()
            .any(|(range, id)| id.is_none() && !excluded.iter().any(|(r, _)| r == range));
        let exdates: Vec<String> = match master_kept {
            true => excluded
                .iter()
                .filter_map(|(_, id)| id.as_deref().map(exdate_of))
                .collect(),
            false => Vec::new(),
        };
        let mut object = self.clone();
        object.lines = Vec::with_capacity(self.lines.len());
        for (i, line) in self.lines.iter().enumerate() {
            if excluded.iter().any(|(range, _)| range.contains(&i)) {
                continue;
            }
            object.lines.push(line.clone());
            let master_begins = components
                .iter()
                .any(|(range, id)| id.is_none() && range.start == i);
            if master_begins {
                object.lines.extend(exdates.iter().cloned());
            }
        }
        object
    }

    /// The instances `address` was invited to in `was` and is not in `self`, while the
    /// component stays (the organizer took them off one occurrence): those components
    /// of `was`, cancelled, as a CANCEL for those instances alone (RFC 5546 §3.2.5).
    /// `None` when there are none, or when it is the series they were taken off.
    pub(crate) fn instances_cancelled_for(&self, was: &Object, address: &str) -> Option<Object> {
        let now = self.components();
        let then = was.components();
        let gone: Vec<std::ops::Range<usize>> = then
            .iter()
            .filter(|(range, id)| {
                id.is_some()
                    && Self::invites(&was.lines[range.clone()], address)
                    && now.iter().any(|(r, other)| {
                        same_instance(other.as_deref(), id.as_deref())
                            && !Self::invites(&self.lines[r.clone()], address)
                    })
            })
            .map(|(range, _)| range.clone())
            .collect();
        if gone.is_empty() {
            return None;
        }
        let mut cancel = was.clone();
        cancel.lines = was
            .lines
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                !then
                    .iter()
                    .any(|(range, _)| range.contains(i) && !gone.contains(range))
            })
            .map(|(_, l)| l.clone())
            .collect();
        cancel.cancel();
        Some(cancel)
    }

    /// The RECURRENCE-ID lines of the instances this object is about, when it is about
    /// single instances only (a per-instance CANCEL): `None` when it holds the series.
    pub(crate) fn instances_only(&self) -> Option<Vec<String>> {
        let ids: Option<Vec<String>> = self.components().into_iter().map(|(_, id)| id).collect();
        ids.filter(|ids| !ids.is_empty())
    }

    /// Takes the instances `ids` (RECURRENCE-ID lines) out of this copy: their
    /// overriding components go, and the series gets an EXDATE for each.
    pub(crate) fn remove_instances(&mut self, ids: &[String]) {
        let components = self.components();
        let exdates: Vec<String> = ids
            .iter()
            .map(|id| exdate_of(id))
            .filter(|exdate| !self.lines.contains(exdate))
            .collect();
        let mut lines = Vec::with_capacity(self.lines.len() + exdates.len());
        for (i, line) in self.lines.iter().enumerate() {
            let dropped = components.iter().any(|(range, id)| {
                range.contains(&i)
                    && ids
                        .iter()
                        .any(|x| same_instance(id.as_deref(), Some(x.as_str())))
            });
            if dropped {
                continue;
            }
            lines.push(line.clone());
            if components
                .iter()
                .any(|(range, id)| id.is_none() && range.start == i)
            {
                lines.extend(exdates.iter().cloned());
            }
        }
        self.lines = lines;
    }

    /// Removes a parameter from every ORGANIZER line (the attendee copy's
    /// `SCHEDULE-STATUS`, which is not sent in a reply).
    pub(crate) fn drop_organizer_param(&mut self, key: &str) {
        self.drop_param("ORGANIZER", key);
    }

    /// Sets a parameter of the ORGANIZER line on every component.
    pub(crate) fn set_organizer_param(&mut self, key: &str, value: &str) {
        for line in &mut self.lines {
            if name_of(line).eq_ignore_ascii_case("ORGANIZER") {
                *line = with_param(line, key, value);
            }
        }
    }

    /// A reply from one attendee (RFC 5546 §3.2.3): the object with that attendee's
    /// ATTENDEE line alone.
    pub(crate) fn reply_from(&self, address: &str) -> Object {
        let mut reply = self.clone();
        reply.lines.retain(|line| {
            !name_of(line).eq_ignore_ascii_case("ATTENDEE")
                || same_address(value_of_line(line), address)
        });
        reply
            .attendees
            .retain(|a| same_address(&a.address, address));
        reply
    }
}

/// The EXDATE excluding the instance a RECURRENCE-ID line names (its TZID and VALUE
/// kept, a RANGE dropped).
fn exdate_of(recurrence_id: &str) -> String {
    let (pieces, value) = split_line(recurrence_id);
    let params: Vec<&str> = pieces
        .iter()
        .skip(1)
        .filter(|p| !p.to_ascii_uppercase().starts_with("RANGE="))
        .copied()
        .collect();
    match params.is_empty() {
        true => format!("EXDATE:{}", value.trim()),
        false => format!("EXDATE;{}:{}", params.join(";"), value.trim()),
    }
}

/// Whether two RECURRENCE-ID lines (or none: the series) name the same instance: by
/// value, as clients write the parameters in any order.
fn same_instance(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => value_of_line(a).trim() == value_of_line(b).trim(),
        _ => false,
    }
}

fn name_of(line: &str) -> &str {
    split_line(line).0.first().copied().unwrap_or_default()
}

fn value_of_line(line: &str) -> &str {
    split_line(line).1
}

/// The line with parameter `key` set to `value` (added, or replacing what it was).
fn with_param(line: &str, key: &str, value: &str) -> String {
    let (pieces, val) = split_line(line);
    let mut parts: Vec<String> = pieces.into_iter().map(str::to_owned).collect();
    let prefix = format!("{}=", key.to_ascii_uppercase());
    let set = format!("{}={}", key.to_ascii_uppercase(), safe_param_value(value));
    match parts
        .iter()
        .position(|p| p.to_ascii_uppercase().starts_with(&prefix))
    {
        // In place: the line changes by its value alone.
        Some(at) => parts[at] = set,
        None => parts.push(set),
    }
    format!("{}:{}", parts.join(";"), val)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\n\
        UID:meet-1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261210T100000Z\r\nSUMMARY:Planning\r\n\
        ORGANIZER;CN=Alice:mailto:alice@example.com\r\n\
        ATTENDEE;CN=\"Bob; the builder\";PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\n\
        ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:carol@example.net\r\n\
        STATUS:CONFIRMED\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n\
        END:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn an_invitation_is_read() {
        let o = Object::read(INVITE.as_bytes()).unwrap();
        assert_eq!(o.uid, "meet-1");
        assert_eq!(o.organizer, "mailto:alice@example.com");
        assert_eq!(o.attendees.len(), 2);
        assert_eq!(
            o.partstat_of("MAILTO:bob@example.com"),
            Some("NEEDS-ACTION")
        );
        assert!(o.attendees[1].by_client);
        assert!(!o.cancelled);
        assert!(
            Object::read(
                b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
            .is_none()
        );
    }

    #[test]
    fn answers_methods_and_cancellations_edit_only_their_lines() {
        let mut o = Object::read(INVITE.as_bytes()).unwrap();
        o.set_partstat("mailto:bob@example.com", "ACCEPTED");
        let text = o.text(Some("REPLY"));
        assert!(text.lines().all(|l| l.len() <= 76), "folded: {text}");
        let text = unfold(&text);
        assert!(text.contains("METHOD:REPLY\r\n"), "{text}");
        assert!(text.contains("ATTENDEE;CN=\"Bob; the builder\";PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.com"), "{text}");
        let again = Object::read(text.as_bytes()).unwrap();
        assert_eq!(
            again.partstat_of("mailto:bob@example.com"),
            Some("ACCEPTED")
        );
        assert!(!o.text(None).contains("METHOD"));
        o.set_attendee_param("mailto:bob@example.com", "SCHEDULE-STATUS", "1.2");
        assert!(unfold(&o.text(None)).contains("RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:bob"));
        o.drop_attendee_param("schedule-status");
        assert!(!o.text(None).contains("SCHEDULE-STATUS"));
        let reply = o.reply_from("mailto:bob@example.com");
        assert_eq!(reply.attendees.len(), 1);
        assert!(!reply.text(None).contains("carol"));
        o.cancel();
        let text = o.text(Some("CANCEL"));
        assert_eq!(text.matches("STATUS:").count(), 1, "{text}");
        assert!(
            text.contains("BEGIN:VEVENT\r\nSTATUS:CANCELLED\r\n"),
            "{text}"
        );
        assert!(Object::read(text.as_bytes()).unwrap().cancelled);
    }

    /// A weekly meeting with bob, and carol invited to the second week only.
    const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\n\
        UID:s\r\nDTSTART:20261207T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly\r\n\
        ORGANIZER:mailto:alice@example.com\r\nATTENDEE:mailto:bob@example.com\r\n\
        BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:s\r\nRECURRENCE-ID:20261214T100000Z\r\nDTSTART:20261214T110000Z\r\n\
        SUMMARY:Weekly\r\nORGANIZER:mailto:alice@example.com\r\nATTENDEE:mailto:bob@example.com\r\n\
        ATTENDEE:mailto:carol@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn an_attendee_is_sent_the_instances_they_are_invited_to() {
        let o = Object::read(SERIES.as_bytes()).unwrap();
        // bob is in every component: all of it.
        assert_eq!(o.only_for("mailto:bob@example.com"), o);
        // carol only the second week's, without the series.
        let carol = o.only_for("mailto:carol@example.com").text(None);
        assert!(
            !carol.contains("RRULE") && carol.contains("RECURRENCE-ID:20261214T100000Z"),
            "{carol}"
        );
        assert_eq!(carol.matches("BEGIN:VEVENT").count(), 1, "{carol}");
        // bob taken off the second week: his copy gets the series with that week
        // excluded, and a CANCEL of that week alone.
        let without = SERIES.replacen(
            "ATTENDEE:mailto:bob@example.com\r\nATTENDEE:mailto:carol",
            "ATTENDEE:mailto:carol",
            1,
        );
        let now = Object::read(without.as_bytes()).unwrap();
        let bob = now.only_for("mailto:bob@example.com").text(None);
        assert!(
            bob.contains("BEGIN:VEVENT\r\nEXDATE:20261214T100000Z\r\n"),
            "{bob}"
        );
        assert_eq!(bob.matches("BEGIN:VEVENT").count(), 1, "{bob}");
        let cancel = now
            .instances_cancelled_for(&o, "mailto:bob@example.com")
            .unwrap();
        assert_eq!(
            cancel.instances_only(),
            Some(vec!["RECURRENCE-ID:20261214T100000Z".to_owned()])
        );
        assert!(cancel.text(None).contains("STATUS:CANCELLED"));
        assert!(
            now.instances_cancelled_for(&o, "mailto:carol@example.com")
                .is_none()
        );
        assert!(o.instances_only().is_none());
        // Applied to bob's old copy, only that week goes.
        let mut copy = o;
        copy.remove_instances(&cancel.instances_only().unwrap());
        let text = copy.text(None);
        assert!(
            text.contains("EXDATE:20261214T100000Z") && !text.contains("RECURRENCE-ID"),
            "{text}"
        );
        assert!(
            text.contains("RRULE") && !text.contains("CANCELLED"),
            "{text}"
        );
        copy.set_organizer_param("SCHEDULE-STATUS", "1.2");
        assert!(
            copy.text(None)
                .contains("ORGANIZER;SCHEDULE-STATUS=1.2:mailto:alice")
        );
    }
}
