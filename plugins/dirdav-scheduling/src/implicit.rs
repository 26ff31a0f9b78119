//! Implicit scheduling (RFC 6638 §3): when an organizer writes or deletes a meeting,
//! its attendees get it; when an attendee answers, the organizer's copy learns it.
//!
//! Runs after the write has landed ([`ItemChange`]), acting for each recipient:
//! - a local recipient gets the iTIP message as a file in their inbox, and their copy
//!   in their calendar is made, updated (keeping their own answer) or cancelled;
//! - an external one (a `mailto:` address no user has) gets it by mail (iMIP), when
//!   mail is configured.
//!
//! Deliveries carry [`Agent`], so the changes they make schedule nothing further.

use dirdav_plugin::http::{Request, header};
use dirdav_plugin::{Agent, Body, ItemChange, Principal, Store};
use http_body_util::BodyExt;

use crate::itip::{Object, same_address};
use crate::{INBOX, Users, default_calendar};

/// What a recipient is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Request,
    Cancel,
    Reply,
}

impl Method {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
            Method::Reply => "REPLY",
        }
    }
}

/// Sends iTIP messages to external addresses (iMIP).
pub(crate) trait Mail: Send + Sync + 'static {
    /// Sends `message` (`method`) from `from` to `to` (both `mailto:` addresses);
    /// returns whether it was handed to the mail server.
    fn send<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
        method: Method,
        object: &'a Object,
    ) -> dirdav_plugin::BoxFuture<'a, bool>;
}

/// The hook: a calendar item changed.
pub(crate) async fn on_change(users: &Users, mail: Option<&dyn Mail>, change: ItemChange) {
    if change.by_agent {
        return;
    }
    let owner = change.path.split('/').next().unwrap_or_default().to_owned();
    if !users.is_known(&owner) || change.principal.is_none() {
        return;
    }
    let before = change.before.as_deref().and_then(Object::read);
    let after = change.after.as_deref().and_then(Object::read);
    let Some(object) = after.as_ref().or(before.as_ref()) else {
        return;
    };
    let store = &*change.store;
    let organizer = users.resolve(&object.organizer, store);
    let scheduler = Scheduler { users, mail, store };
    if organizer.as_deref() == Some(owner.as_str()) {
        let statuses = scheduler
            .as_organizer(before.as_ref(), after.as_ref())
            .await;
        if let Some(after) = &after {
            scheduler
                .record(&owner, &change.path, after, &statuses)
                .await;
        }
    } else if let Some(me) = object
        .attendees
        .iter()
        .find(|a| users.resolve(&a.address, store).as_deref() == Some(owner.as_str()))
    {
        let me = me.address.clone();
        scheduler
            .as_attendee(&me, before.as_ref(), after.as_ref())
            .await;
    }
}

struct Scheduler<'a> {
    users: &'a Users,
    mail: Option<&'a dyn Mail>,
    store: &'a dyn Store,
}

impl Scheduler<'_> {
    /// The organizer wrote (or deleted) their copy: REQUEST to every attendee the
    /// server schedules for, CANCEL to those removed, or to all when it is cancelled
    /// or deleted.
    /// Returns how each REQUEST went, by attendee address (`SCHEDULE-STATUS` codes).
    async fn as_organizer(
        &self,
        before: Option<&Object>,
        after: Option<&Object>,
    ) -> Vec<(String, &'static str)> {
        let mut statuses = Vec::new();
        let scheduled = |o: &Object| -> Vec<String> {
            o.attendees
                .iter()
                .filter(|a| !a.by_client && !same_address(&a.address, &o.organizer))
                .map(|a| a.address.clone())
                .collect()
        };
        match after {
            Some(now) if !now.cancelled => {
                let current = scheduled(now);
                let mut message = now.clone();
                message.drop_attendee_param("SCHEDULE-STATUS");
                for address in &current {
                    let status = self
                        .send(&now.organizer, address, Method::Request, &message)
                        .await;
                    statuses.push((address.clone(), status));
                }
                if let Some(was) = before {
                    let mut cancelled = was.clone();
                    cancelled.cancel();
                    for address in scheduled(was) {
                        if !current.iter().any(|a| same_address(a, &address)) {
                            self.send(&was.organizer, &address, Method::Cancel, &cancelled)
                                .await;
                        }
                    }
                }
            }
            _ => {
                let Some(last) = after.or(before) else {
                    return statuses;
                };
                let mut cancelled = last.clone();
                cancelled.cancel();
                for address in scheduled(last) {
                    self.send(&last.organizer, &address, Method::Cancel, &cancelled)
                        .await;
                }
            }
        }
        statuses
    }

    /// Writes how each invitation went into the organizer's copy (`SCHEDULE-STATUS` on
    /// the ATTENDEE lines, RFC 6638 §3.2.9), unless it says so already or changed
    /// meanwhile (`If-Match`: a newer write wins and schedules again itself).
    async fn record(&self, owner: &str, path: &str, stored: &Object, statuses: &[(String, &str)]) {
        let mut updated = stored.clone();
        for (address, status) in statuses {
            updated.set_attendee_param(address, "SCHEDULE-STATUS", status);
        }
        if updated.lines == stored.lines {
            return;
        }
        let Some(mine) = self.store.acting_for(Principal { name: owner.into() }) else {
            return;
        };
        let Some(etag) = mine.resource(path).and_then(|r| r.etag) else {
            return;
        };
        let href = mine.href_of(path, false);
        if let Err(e) = put(&*mine, &href, updated.text(None), Some(("if-match", &etag))).await {
            tracing::info!(%path, error = %e, "the organizer's copy changed before its schedule status was written");
        }
    }

    /// An attendee changed their answer (or deleted their copy, which declines):
    /// REPLY to the organizer.
    async fn as_attendee(&self, me: &str, before: Option<&Object>, after: Option<&Object>) {
        let (answer, object) = match (before, after) {
            (Some(was), Some(now)) => {
                let (Some(old), Some(new)) = (was.partstat_of(me), now.partstat_of(me)) else {
                    return;
                };
                if old == new {
                    return;
                }
                (new.to_owned(), now.clone())
            }
            (Some(was), None) if !was.cancelled => ("DECLINED".to_owned(), was.clone()),
            _ => return,
        };
        let mut reply = object.reply_from(me);
        reply.set_partstat(me, &answer);
        self.send(me, &object.organizer, Method::Reply, &reply)
            .await;
    }

    /// Delivers a message: into a local user's inbox and calendar, or by mail. Returns
    /// the `SCHEDULE-STATUS` code of what happened: 1.2 delivered, 1.1 sent by mail,
    /// 3.7 no address scheduling can reach, 5.1 delivery failed (or no mail server).
    async fn send(&self, from: &str, to: &str, method: Method, object: &Object) -> &'static str {
        match self.users.resolve(to, self.store) {
            Some(user) => match self.deliver(&user, method, object).await {
                Ok(()) => "1.2",
                Err(e) => {
                    tracing::warn!(%user, method = method.name(), uid = %object.uid, error = %e, "scheduling delivery failed");
                    "5.1"
                }
            },
            None if to.to_ascii_lowercase().starts_with("mailto:") => match self.mail {
                Some(mail) => match mail.send(from, to, method, object).await {
                    true => "1.1",
                    false => {
                        tracing::warn!(%to, method = method.name(), uid = %object.uid, "sending the iMIP message failed");
                        "5.1"
                    }
                },
                None => {
                    tracing::info!(%to, method = method.name(), "no mail server configured: an external attendee is not told");
                    "5.1"
                }
            },
            None => {
                tracing::info!(%to, "not a calendar user address scheduling can reach");
                "3.7"
            }
        }
    }

    async fn deliver(&self, user: &str, method: Method, object: &Object) -> Result<(), String> {
        let theirs = self
            .store
            .acting_for(Principal { name: user.into() })
            .ok_or("the server is stopping")?;
        let theirs = &*theirs;
        // The message, as a file in their inbox.
        let inbox = format!("{user}/inbox");
        if theirs
            .resource(&inbox)
            .is_some_and(|r| r.is_collection_of(INBOX))
        {
            let name = format!("{}-{}.ics", safe_name(&object.uid), now_nanos());
            let href = format!("{}{}", theirs.href_of(&inbox, true), name);
            put(theirs, &href, object.text(Some(method.name())), None).await?;
        }
        // Their copy of the meeting.
        let existing = copy_of(theirs, user, &object.uid).await;
        match (method, existing) {
            (Method::Request, Some((href, current))) => {
                let mut updated = object.clone();
                if let Some(mine) = self.address_of(&current, user)
                    && let Some(answer) = current.partstat_of(&mine)
                {
                    updated.set_partstat(&mine, answer);
                }
                put(theirs, &href, updated.text(None), None).await
            }
            (Method::Request, None) => {
                let calendar = default_calendar(theirs, user).ok_or("no calendar to put it in")?;
                let href = format!(
                    "{}{}.ics",
                    theirs.href_of(&calendar, true),
                    safe_name(&object.uid)
                );
                put(
                    theirs,
                    &href,
                    object.text(None),
                    Some(("if-none-match", "*")),
                )
                .await
            }
            (Method::Cancel, Some((href, mut current))) => {
                current.cancel();
                put(theirs, &href, current.text(None), None).await
            }
            (Method::Reply, Some((href, mut current))) => {
                for attendee in &object.attendees {
                    current.set_partstat(&attendee.address, &attendee.partstat);
                }
                put(theirs, &href, current.text(None), None).await
            }
            (Method::Cancel | Method::Reply, None) => Ok(()),
        }
    }

    /// The address by which `user` attends an object.
    fn address_of(&self, object: &Object, user: &str) -> Option<String> {
        object
            .attendees
            .iter()
            .find(|a| self.users.resolve(&a.address, self.store).as_deref() == Some(user))
            .map(|a| a.address.clone())
    }
}

/// A user's copy of the object with `uid`, in any of their calendars: its href and
/// content.
async fn copy_of(store: &dyn Store, user: &str, uid: &str) -> Option<(String, Object)> {
    let prefix = format!("{user}/");
    let item = store
        .collections()
        .into_iter()
        .filter(|c| c.path.starts_with(&prefix) && c.is_collection_of("calendar"))
        .flat_map(|c| store.members_with_uid(&c.path, uid))
        .next()?;
    let bytes = store.read(&item.path).await.ok()?;
    Some((store.href_of(&item.path, false), Object::read(&bytes)?))
}

async fn put(
    store: &dyn Store,
    href: &str,
    text: String,
    condition: Option<(&str, &str)>,
) -> Result<(), String> {
    let mut request = Request::builder()
        .method("PUT")
        .uri(href)
        .header(header::CONTENT_TYPE, "text/calendar; charset=utf-8");
    if let Some((name, value)) = condition {
        request = request.header(name, value);
    }
    let mut request = request.body(Body::from(text)).map_err(|e| e.to_string())?;
    request.extensions_mut().insert(Agent);
    let response = store.request(request).await;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Err(format!(
        "{status} for {href}: {}",
        String::from_utf8_lossy(&body).trim()
    ))
}

/// A UID as a file name: characters that need no escaping, the rest hashed away.
pub(crate) fn safe_name(uid: &str) -> String {
    let clean: String = uid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        .take(100)
        .collect();
    let clean = clean.trim_start_matches('.');
    match clean.len() == uid.len() && !clean.is_empty() {
        true => clean.to_owned(),
        false => format!("{}{}", clean, &blake3::hash(uid.as_bytes()).to_hex()[..12]),
    }
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
