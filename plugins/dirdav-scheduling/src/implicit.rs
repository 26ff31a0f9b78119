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
use crate::limits::{Budget, Limits, Spent};
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

/// What became of a message handed to the mail queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Queued; it leaves after the request is answered.
    Yes,
    /// The queue is full: not sent.
    Full,
    /// Not an address a message can go to.
    Refused,
}

/// Sends iTIP messages to external addresses (iMIP).
pub(crate) trait Mail: Send + Sync + 'static {
    /// Queues `message` (`method`) from `from` to `to` (both `mailto:` addresses).
    fn send(&self, from: &str, to: &str, method: Method, object: &Object) -> Queued;
}

/// What scheduling keeps between requests: its limits and what each user spent.
#[derive(Default)]
pub(crate) struct Spending {
    /// Mail sent per organizer.
    pub(crate) mail: Budget,
    /// Deliveries per sender and recipient.
    pub(crate) deliveries: Budget,
}

/// The hook: a calendar item changed.
///
/// Scheduling acts for the user who wrote, in their own calendars only: a write into
/// someone else's calendar (a sharee with write access) is stored as data and schedules
/// nothing, whoever it names as ORGANIZER; so is an object whose ORGANIZER is not the
/// writer, unless the writer is one of its attendees answering.
pub(crate) async fn on_change(
    users: &Users,
    mail: Option<&dyn Mail>,
    limits: &Limits,
    spending: &Spending,
    change: ItemChange,
) {
    if change.by_agent {
        return;
    }
    let owner = change.path.split('/').next().unwrap_or_default().to_owned();
    if !users.is_known(&owner) {
        return;
    }
    let before = change.before.as_deref().and_then(Object::read);
    let after = change.after.as_deref().and_then(Object::read);
    let Some(object) = after.as_ref().or(before.as_ref()) else {
        return;
    };
    let writer = change.principal.as_ref().map(|p| p.name.to_string());
    if writer.as_deref() != Some(owner.as_str()) {
        tracing::info!(
            path = %change.path,
            writer = writer.as_deref().unwrap_or("-"),
            "a meeting written into another user's calendar is stored, not scheduled"
        );
        return;
    }
    let store = &*change.store;
    let organizer = users.resolve(&object.organizer, store);
    let scheduler = Scheduler {
        users,
        mail,
        store,
        limits,
        spending,
        sender: &owner,
    };
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
        // `Schedule-Reply: F` on an attendee's DELETE: the client tells the organizer
        // itself, or not at all (RFC 6638 §8.1).
        let quiet = after.is_none()
            && change
                .headers
                .get("schedule-reply")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("F"));
        if quiet {
            return;
        }
        let me = me.address.clone();
        let status = scheduler
            .as_attendee(&me, before.as_ref(), after.as_ref())
            .await;
        if let (Some(status), Some(after)) = (status, &after) {
            scheduler
                .record_reply(&owner, &change.path, after, status)
                .await;
        }
    }
}

struct Scheduler<'a> {
    users: &'a Users,
    mail: Option<&'a dyn Mail>,
    store: &'a dyn Store,
    limits: &'a Limits,
    spending: &'a Spending,
    /// The user whose write is being scheduled.
    sender: &'a str,
}

/// The attendees the server schedules for: all but those whose client schedules
/// (`SCHEDULE-AGENT=CLIENT` or `NONE`) and the organizer.
fn scheduled(o: &Object) -> Vec<String> {
    o.attendees
        .iter()
        .filter(|a| !a.by_client && !same_address(&a.address, &o.organizer))
        .map(|a| a.address.clone())
        .collect()
}

/// Why a delivery was not made.
enum Refusal {
    /// The recipient's copy with that UID is not the sender's to change (3.8).
    NotTheirs,
    /// The sender has delivered as much to this recipient as an hour allows (5.3).
    OverBudget,
    /// Anything else (5.1).
    Failed(String),
}

impl Scheduler<'_> {
    /// The organizer wrote (or deleted) their copy: REQUEST to every attendee the
    /// server schedules for when what they see changed (RFC 5546 §2.1.4: times, place,
    /// summary, description, status, recurrence, or anything else the organizer
    /// decides), else only to attendees added or whose own line changed; CANCEL to
    /// those removed, or to all when it is cancelled or deleted. A save that changes
    /// only stamps, alarms or answers sends nothing.
    /// Returns how each REQUEST went, by attendee address (`SCHEDULE-STATUS` codes).
    async fn as_organizer(
        &self,
        before: Option<&Object>,
        after: Option<&Object>,
    ) -> Vec<(String, &'static str)> {
        let mut statuses = Vec::new();
        // Attendees told of the meeting before (not once it was cancelled).
        let was = before.filter(|b| !b.cancelled);
        match after {
            Some(now) if !now.cancelled => {
                let current = scheduled(now);
                let told = match was {
                    Some(was) if !now.changed_for_everyone(was) => now.attendees_changed(was),
                    _ => current.clone(),
                };
                let mut message = now.clone();
                message.drop_attendee_param("SCHEDULE-STATUS");
                for address in current
                    .iter()
                    .filter(|a| told.iter().any(|t| same_address(t, a)))
                {
                    // Each attendee gets the instances they are invited to.
                    let theirs = message.only_for(address);
                    let status = self
                        .send(&now.organizer, address, Method::Request, &theirs)
                        .await;
                    statuses.push((address.clone(), status));
                }
                if let Some(was) = was {
                    // Taken off some instances but not the meeting: a CANCEL of those.
                    for address in &current {
                        if let Some(cancel) = now.instances_cancelled_for(was, address) {
                            self.send(&now.organizer, address, Method::Cancel, &cancel)
                                .await;
                        }
                    }
                    let mut cancelled = was.clone();
                    cancelled.cancel();
                    for address in scheduled(was) {
                        if !current.iter().any(|a| same_address(a, &address)) {
                            let theirs = cancelled.only_for(&address);
                            self.send(&was.organizer, &address, Method::Cancel, &theirs)
                                .await;
                        }
                    }
                }
            }
            _ => {
                // Cancelled or deleted: those told of it hear it once.
                let Some(was) = was else {
                    return statuses;
                };
                let mut cancelled = after.unwrap_or(was).clone();
                cancelled.cancel();
                for address in scheduled(was) {
                    let theirs = cancelled.only_for(&address);
                    let status = self
                        .send(&was.organizer, &address, Method::Cancel, &theirs)
                        .await;
                    // A copy kept as cancelled says how each CANCEL went (§3.2.9).
                    if after.is_some() {
                        statuses.push((address.clone(), status));
                    }
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
        self.write_back(owner, path, stored, &updated).await;
    }

    /// Writes how the reply went on the ORGANIZER line of the attendee's copy
    /// (`SCHEDULE-STATUS`, RFC 6638 §3.2.9), unless it says so already or changed
    /// meanwhile (`If-Match`).
    async fn record_reply(&self, owner: &str, path: &str, stored: &Object, status: &str) {
        let mut updated = stored.clone();
        updated.set_organizer_param("SCHEDULE-STATUS", status);
        self.write_back(owner, path, stored, &updated).await;
    }

    /// Writes `updated` over the owner's copy at `path`, acting for them, when it differs
    /// from `stored` and the copy is still the one `stored` was read from (`If-Match`: a
    /// newer write wins, and schedules again itself).
    async fn write_back(&self, owner: &str, path: &str, stored: &Object, updated: &Object) {
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
            tracing::info!(%path, error = %e, "the copy changed before its schedule status was written");
        }
    }

    /// An attendee changed their answer (or deleted their copy, which declines):
    /// REPLY to the organizer. Returns how it went (`SCHEDULE-STATUS`), when sent.
    async fn as_attendee(
        &self,
        me: &str,
        before: Option<&Object>,
        after: Option<&Object>,
    ) -> Option<&'static str> {
        let (answer, object) = match (before, after) {
            (Some(was), Some(now)) => {
                let (Some(old), Some(new)) = (was.partstat_of(me), now.partstat_of(me)) else {
                    return None;
                };
                if old == new {
                    return None;
                }
                (new.to_owned(), now.clone())
            }
            (Some(was), None) if !was.cancelled => ("DECLINED".to_owned(), was.clone()),
            _ => return None,
        };
        let mut reply = object.reply_from(me);
        reply.set_partstat(me, &answer);
        reply.drop_organizer_param("SCHEDULE-STATUS");
        Some(
            self.send(me, &object.organizer, Method::Reply, &reply)
                .await,
        )
    }

    /// Delivers a message: into a local user's inbox and calendar, or by mail. Returns
    /// the `SCHEDULE-STATUS` code of what happened: 1.2 delivered, 1.1 sent by mail
    /// (queued), 3.7 no address scheduling can reach, 3.8 the recipient's copy is not
    /// the sender's to change, 5.3 the sender's hourly budget is spent, 5.1 delivery
    /// failed (or no mail server, or a full mail queue).
    async fn send(&self, from: &str, to: &str, method: Method, object: &Object) -> &'static str {
        match self.users.resolve(to, self.store) {
            Some(user) => match self.deliver(&user, from, method, object).await {
                Ok(()) => "1.2",
                Err(Refusal::NotTheirs) => {
                    tracing::info!(sender = self.sender, %user, method = method.name(), uid = %object.uid,
                        "not delivered: the recipient's copy with that UID is not the sender's meeting");
                    "3.8"
                }
                Err(Refusal::OverBudget) => "5.3",
                Err(Refusal::Failed(e)) => {
                    tracing::warn!(%user, method = method.name(), uid = %object.uid, error = %e, "scheduling delivery failed");
                    "5.1"
                }
            },
            None if to.to_ascii_lowercase().starts_with("mailto:") => match self.mail {
                Some(mail) => {
                    match self
                        .spending
                        .mail
                        .spend(self.sender, self.limits.mail_per_hour)
                    {
                        Spent::Yes => {}
                        Spent::FirstRefusal => {
                            tracing::warn!(
                                sender = self.sender,
                                limit = self.limits.mail_per_hour,
                                "a user's meetings have sent as much mail as an hour allows; more is not sent"
                            );
                            return "5.3";
                        }
                        Spent::No => return "5.3",
                    }
                    match mail.send(from, to, method, object) {
                        Queued::Yes => "1.1",
                        Queued::Full | Queued::Refused => "5.1",
                    }
                }
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

    /// Delivers a message from `from` into `user`'s inbox and calendar, acting for
    /// them. A REQUEST or CANCEL changes only a copy of the sender's own meeting (its
    /// ORGANIZER is `from`, and it is not one `user` organizes); a REPLY only a meeting
    /// `user` organizes that `from` attends, and only `from`'s answer in it.
    async fn deliver(
        &self,
        user: &str,
        from: &str,
        method: Method,
        object: &Object,
    ) -> Result<(), Refusal> {
        let failed = |e: String| Refusal::Failed(e);
        // A user who has never signed in gets their home, calendar and inbox now, as
        // at their first request, so that the invitation lands in both.
        self.store
            .welcome(Principal { name: user.into() })
            .await
            .map_err(|e| failed(e.to_string()))?;
        let theirs = self
            .store
            .acting_for(Principal { name: user.into() })
            .ok_or_else(|| failed("the server is stopping".into()))?;
        let theirs = &*theirs;
        let existing = copy_of(theirs, user, &object.uid).await;
        let organized_by = |copy: &Object| self.users.resolve(&copy.organizer, self.store);
        let acceptable = match (&method, &existing) {
            (_, Some((_, None))) => false,
            (Method::Request | Method::Cancel, Some((_, Some(copy)))) => {
                same_address(&copy.organizer, from) && organized_by(copy).as_deref() != Some(user)
            }
            (Method::Reply, Some((_, Some(copy)))) => {
                organized_by(copy).as_deref() == Some(user) && copy.partstat_of(from).is_some()
            }
            (Method::Reply, None) => false,
            _ => true,
        };
        if !acceptable {
            return Err(Refusal::NotTheirs);
        }
        let pair = format!("{}\u{0}{user}", self.sender);
        match self
            .spending
            .deliveries
            .spend(&pair, self.limits.deliveries_per_hour)
        {
            Spent::Yes => {}
            Spent::FirstRefusal => {
                tracing::warn!(sender = self.sender, recipient = %user, limit = self.limits.deliveries_per_hour,
                    "a user has delivered as much to another as an hour allows; more is not delivered");
                return Err(Refusal::OverBudget);
            }
            Spent::No => return Err(Refusal::OverBudget),
        }
        // The message, as a file in their inbox; the oldest go past the inbox's size.
        let inbox = format!("{user}/inbox");
        if theirs
            .resource(&inbox)
            .is_some_and(|r| r.is_collection_of(INBOX))
        {
            let name = format!("{}-{}.ics", safe_name(&object.uid), now_nanos());
            let href = format!("{}{}", theirs.href_of(&inbox, true), name);
            put(theirs, &href, object.text(Some(method.name())), None)
                .await
                .map_err(failed)?;
            trim_inbox(theirs, &inbox, self.limits.inbox_size).await;
        }
        // Their copy of the meeting.
        match (method, existing) {
            (Method::Request, Some((href, Some(current)))) => {
                let mut updated = object.clone();
                if let Some(mine) = self.address_of(&current, user)
                    && let Some(answer) = current.partstat_of(&mine)
                {
                    updated.set_partstat(&mine, answer);
                }
                put(theirs, &href, updated.text(None), None).await
            }
            (Method::Request, _) => {
                let calendar =
                    default_calendar(theirs, user).ok_or("no calendar to put it in".to_owned());
                let calendar = calendar.map_err(failed)?;
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
            (Method::Cancel, Some((href, Some(mut current)))) => {
                // A CANCEL of single instances takes those out; of the series, all.
                match (object.instances_only(), current.instances_only()) {
                    (Some(ids), None) => current.remove_instances(&ids),
                    _ => current.cancel(),
                }
                put(theirs, &href, current.text(None), None).await
            }
            (Method::Reply, Some((href, Some(mut current)))) => {
                if let Some(answer) = object.partstat_of(from) {
                    current.set_partstat(from, answer);
                }
                put(theirs, &href, current.text(None), None).await
            }
            (Method::Cancel | Method::Reply, _) => Ok(()),
        }
        .map_err(failed)
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

/// Removes the oldest messages of an inbox holding more than `keep`.
async fn trim_inbox(store: &dyn Store, inbox: &str, keep: usize) {
    let mut messages: Vec<_> = store
        .members(inbox)
        .into_iter()
        .filter(|m| !m.is_collection)
        .collect();
    if messages.len() <= keep {
        return;
    }
    messages.sort_by(|a, b| {
        a.modified
            .cmp(&b.modified)
            .then_with(|| a.path.cmp(&b.path))
    });
    let excess = messages.len() - keep;
    for old in messages.into_iter().take(excess) {
        let request = Request::builder()
            .method("DELETE")
            .uri(store.href_of(&old.path, false))
            .body(Body::empty());
        let Ok(mut request) = request else { continue };
        request.extensions_mut().insert(Agent);
        let status = store.request(request).await.status();
        if !status.is_success() {
            tracing::warn!(path = %old.path, %status, "an old inbox message could not be removed");
        }
    }
}

/// A user's copy of the object with `uid`, in any of their calendars: its href, and
/// its content when it is a scheduling object (`None`: an item of theirs with that UID
/// that is no meeting, which no message may change).
async fn copy_of(store: &dyn Store, user: &str, uid: &str) -> Option<(String, Option<Object>)> {
    let prefix = format!("{user}/");
    let item = store
        .collections_within(user)
        .into_iter()
        .filter(|c| c.path.starts_with(&prefix) && c.is_collection_of(dirdav_caldav::KIND))
        .flat_map(|c| store.members_with_uid(&c.path, uid))
        .next()?;
    let object = store
        .read(&item.path)
        .await
        .ok()
        .and_then(|bytes| Object::read(&bytes));
    Some((store.href_of(&item.path, false), object))
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
