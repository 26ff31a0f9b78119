//! What may be written into a calendar where the server schedules (RFC 6638 §3.2.4):
//! one organizer per object, no more attendees than the server will invite, and in an
//! attendee's copy of someone else's meeting only what an attendee may change
//! (RFC 6638 §3.2.2.1: their answer, alarms, their own stamps, TRANSP, `X-`
//! properties, and instances they add to answer for one occurrence).

use dirdav_plugin::{DavError, WriteCheck};

use crate::itip::{Object, same_address};
use crate::limits::Limits;
use crate::{Users, cal};

fn refused(condition: &'static str, message: String) -> DavError {
    DavError::forbidden(message).condition(cal(condition))
}

/// The write check of calendars.
pub(crate) fn check(
    users: &Users,
    limits: &Limits,
    write: &WriteCheck<'_>,
) -> Result<(), DavError> {
    if write.by_agent {
        return Ok(());
    }
    let owner = write.path.split('/').next().unwrap_or_default();
    if !users.is_known(owner) {
        return Ok(());
    }
    let after = Object::read(write.body);
    if let Some(after) = &after {
        if !after.one_organizer {
            return Err(refused(
                "same-organizer-in-all-components",
                "every component of a meeting must name the same ORGANIZER".into(),
            ));
        }
        let writer = write.principal.map(|p| &*p.name);
        let organizer = users.resolve(&after.organizer, write.store);
        if writer == Some(owner)
            && organizer.as_deref() == Some(owner)
            && after.attendees.len() > limits.max_attendees
        {
            return Err(refused(
                "max-attendees-per-instance",
                format!(
                    "a meeting may invite at most {} attendees; this one names {}",
                    limits.max_attendees,
                    after.attendees.len()
                ),
            ));
        }
    }
    let Some(before) = write.before.and_then(Object::read) else {
        return Ok(());
    };
    let organized_by_owner =
        users.resolve(&before.organizer, write.store).as_deref() == Some(owner);
    let attended_by_owner = before
        .attendees
        .iter()
        .any(|a| users.resolve(&a.address, write.store).as_deref() == Some(owner));
    if organized_by_owner || !attended_by_owner {
        return Ok(());
    }
    attendee_change(&before, after.as_ref())
}

/// An attendee's copy of a meeting, rewritten: the organizer's parts must stay as the
/// organizer made them; new parts (an instance the attendee answers for alone) must
/// keep the meeting's organizer.
fn attendee_change(before: &Object, after: Option<&Object>) -> Result<(), DavError> {
    let refuse = |what: String| {
        Err(refused(
            "allowed-attendee-scheduling-object-change",
            format!("an attendee may change their answer, alarms and stamps only: {what}"),
        ))
    };
    let Some(after) = after else {
        return refuse("the meeting's ORGANIZER is gone".into());
    };
    if !same_address(&after.organizer, &before.organizer) {
        return refuse(format!(
            "the ORGANIZER is {}, not {}",
            after.organizer, before.organizer
        ));
    }
    if after.uid != before.uid {
        return refuse("the UID changed".into());
    }
    let (was, now) = (before.parts(), after.parts());
    for (instance, lines) in &was {
        match now.get(instance) {
            Some(kept) if kept == lines => {}
            Some(_) if instance.is_empty() => return refuse("the meeting changed".into()),
            Some(_) => return refuse(format!("the instance {instance} changed")),
            None if instance.is_empty() => return refuse("the meeting is gone".into()),
            None => return refuse(format!("the instance {instance} is gone")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEETING: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//a//EN\r\nBEGIN:VEVENT\r\n\
        UID:m1\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261210T100000Z\r\nRRULE:FREQ=WEEKLY\r\n\
        SUMMARY:Weekly\r\nORGANIZER;CN=Alice:mailto:alice@example.com\r\n\
        ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\n\
        END:VEVENT\r\nEND:VCALENDAR\r\n";

    fn object(text: &str) -> Object {
        Object::read(text.as_bytes()).unwrap()
    }

    #[test]
    fn an_attendee_may_answer_set_alarms_and_answer_for_one_instance() {
        let before = object(MEETING);
        let answered = MEETING
            .replace("PARTSTAT=NEEDS-ACTION;RSVP=TRUE", "PARTSTAT=ACCEPTED")
            .replace("DTSTAMP:20261201T000000Z", "DTSTAMP:20261202T000000Z")
            .replace("PRODID:-//a//EN", "PRODID:-//bob's client//EN")
            .replace(
                "END:VEVENT",
                "TRANSP:TRANSPARENT\r\nX-CLIENT:1\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n\
                 TRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT",
            );
        assert!(attendee_change(&before, Some(&object(&answered))).is_ok());
        let one_declined = MEETING.replace(
            "END:VCALENDAR",
            "BEGIN:VEVENT\r\nUID:m1\r\nRECURRENCE-ID:20261217T100000Z\r\n\
             DTSTART:20261217T100000Z\r\nSUMMARY:Weekly\r\n\
             ORGANIZER:mailto:alice@example.com\r\n\
             ATTENDEE;PARTSTAT=DECLINED:mailto:bob@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR",
        );
        assert!(attendee_change(&before, Some(&object(&one_declined))).is_ok());
    }

    #[test]
    fn an_attendee_may_not_change_the_meeting_or_take_it_over() {
        let before = object(MEETING);
        for changed in [
            MEETING.replace("SUMMARY:Weekly", "SUMMARY:Cancelled, stay home"),
            MEETING.replace("DTSTART:20261210T100000Z", "DTSTART:20261211T100000Z"),
            MEETING.replace("mailto:alice@example.com", "mailto:bob@example.com"),
            MEETING.replace("RRULE:FREQ=WEEKLY\r\n", ""),
            MEETING.replace(
                "END:VEVENT",
                "ATTENDEE:mailto:mallory@example.net\r\nEND:VEVENT",
            ),
        ] {
            let e = attendee_change(&before, Some(&object(&changed))).unwrap_err();
            assert_eq!(e.status().as_u16(), 403, "{changed}");
        }
        assert!(attendee_change(&before, None).is_err(), "ORGANIZER removed");
    }
}
