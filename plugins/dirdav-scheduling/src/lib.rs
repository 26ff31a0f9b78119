//! CalDAV scheduling (RFC 6638): every user gets a scheduling inbox and outbox
//! (`/<user>/inbox/`, `/<user>/outbox/`: folders with a `.dav.toml` like any
//! collection); an organizer's writes invite, update and cancel attendees (a local one
//! in their inbox and calendar, others by mail), an attendee's answer reaches the
//! organizer's copy (the `implicit` module); schedule tags guard attendees' writes; a `POST` of a
//! VFREEBUSY request to one's outbox answers the busy times of the users it names
//! (the `freebusy` module), which is how iOS/macOS Calendar and Thunderbird show availability.
//! See `decisions/scheduling.md` beside this crate.

mod checks;
mod freebusy;
mod implicit;
mod itip;
mod limits;
mod mail;

pub use limits::Limits;

use std::collections::BTreeMap;
use std::sync::Arc;

use dirdav_plugin::xml::{Element, Name, ns};
use dirdav_plugin::{
    DavError, LiveProperty, NewCollection, Plugin, Principal, PropContext, Registrar, Store,
};

/// The collection kind of inboxes.
pub const INBOX: &str = "schedule-inbox";
/// The collection kind of outboxes.
pub const OUTBOX: &str = "schedule-outbox";

const fn cal(local: &'static str) -> Name {
    Name::new(ns::CALDAV, local)
}

const HREF: Name = Name::new(ns::DAV, "href");

/// The scheduling plugin.
#[derive(Clone, Default)]
pub struct Scheduling {
    users: Arc<Users>,
    mail: Option<Arc<dyn implicit::Mail>>,
    limits: Limits,
    spending: Arc<implicit::Spending>,
}

impl std::fmt::Debug for Scheduling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduling")
            .field("users", &self.users)
            .field("mail", &self.mail.is_some())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Who can be scheduled with: user names and their e-mail addresses.
#[derive(Debug, Default)]
pub(crate) struct Users {
    /// The server's users, shared (a user added while it runs is known at once).
    names: dirdav_plugin::KnownUsers,
    emails: BTreeMap<String, String>,
}

impl Users {
    /// The user a calendar user address names: `mailto:` one of the users' e-mail
    /// addresses (or a user name that is an address), or the URL of a user's principal.
    pub(crate) fn resolve(&self, address: &str, store: &dyn Store) -> Option<String> {
        let address = address.trim();
        if let Some(mail) = address
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("mailto:"))
            .map(|_| &address[7..])
        {
            let by_email = self
                .emails
                .iter()
                .find(|(_, e)| e.eq_ignore_ascii_case(mail))
                .map(|(u, _)| u.clone());
            return by_email.or_else(|| {
                self.names
                    .names()
                    .iter()
                    .find(|n| n.contains('@') && n.eq_ignore_ascii_case(mail))
                    .cloned()
            });
        }
        let path = store.path_of_href(address)?;
        let user = path.trim_end_matches('/');
        (!user.is_empty() && !user.contains('/') && self.names.contains(user))
            .then(|| user.to_owned())
    }

    /// Whether `name` is a user scheduling knows.
    pub(crate) fn is_known(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// The addresses of a user, as their `calendar-user-address-set` gives them.
    pub(crate) fn addresses(&self, user: &str, store: &dyn Store) -> Vec<String> {
        let mut list = Vec::new();
        if let Some(email) = self.emails.get(user) {
            list.push(format!("mailto:{email}"));
        } else if user.contains('@') {
            list.push(format!("mailto:{user}"));
        }
        list.push(store.href_of(user, true));
        list
    }
}

impl Scheduling {
    /// The server's list of users, shared: a user it adds later (the users file
    /// reloaded) can be scheduled with at once. Replaces the names [`Scheduling::users`]
    /// gave; their e-mail addresses stay.
    #[must_use]
    pub fn known_users(mut self, names: dirdav_plugin::KnownUsers) -> Self {
        let emails = self.users.emails.clone();
        self.users = Arc::new(Users { names, emails });
        self
    }

    /// The users that can be scheduled with, and the e-mail address of those who have
    /// one (`[users.<name>] email` in `dirdav.toml`).
    #[must_use]
    pub fn users(
        names: impl IntoIterator<Item = String>,
        emails: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Scheduling {
            users: Arc::new(Users {
                names: dirdav_plugin::KnownUsers::new(names),
                emails: emails.into_iter().collect(),
            }),
            mail: None,
            limits: Limits::default(),
            spending: Arc::default(),
        }
    }

    /// How much one user can make scheduling do ([`Limits`]); set before
    /// [`Scheduling::smtp`], which sizes its queue by them.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sends invitations, replies and cancellations to external addresses by mail
    /// (iMIP) through the SMTP server at `url` (`smtp://host:25`,
    /// `smtp://user:password@host:587?tls=required`, `smtps://user:password@host:465`),
    /// from the address `from`; replies to a message go to its organizer.
    /// Messages wait in a queue of [`Limits::mail_queue`] and leave after the request
    /// that made them is answered.
    pub fn smtp(mut self, url: &str, from: &str) -> Result<Self, String> {
        self.mail = Some(Arc::new(mail::Smtp::new(
            url,
            from,
            self.limits.mail_queue,
        )?));
        Ok(self)
    }
}

/// The schedule tag of a calendar item, quoted as HTTP entity tags are, when it is a
/// scheduling object: the CalDAV plugin's summary keeps it (field `SCHEDULE-TAG`, a
/// digest of what the organizer decides; RFC 6638 §3.2.10).
fn schedule_tag(item: &dirdav_plugin::Resource) -> Option<String> {
    if item.is_collection || item.kind() != Some(dirdav_caldav::KIND) {
        return None;
    }
    let summary = item.summary.as_ref()?;
    let (_, tag) = summary.fields.iter().find(|(n, _)| *n == "SCHEDULE-TAG")?;
    Some(format!("\"{tag}\""))
}

/// `If-Schedule-Tag-Match` (RFC 6638 §8.3) on a PUT or DELETE of a calendar item: the
/// item must exist and have that schedule tag, else 412.
fn check_schedule_tag(check: &dirdav_plugin::MethodCheck<'_>) -> Result<(), DavError> {
    if !matches!(check.method.as_str(), "PUT" | "DELETE") {
        return Ok(());
    }
    let Some(wanted) = check
        .headers
        .get("if-schedule-tag-match")
        .map(|v| v.to_str().unwrap_or_default().trim())
    else {
        return Ok(());
    };
    match check.resource.and_then(schedule_tag) {
        Some(current) if current == wanted => Ok(()),
        _ => Err(DavError::precondition_failed(
            "the schedule tag has changed: the organizer has updated the meeting",
        )),
    }
}

/// The user whose home a resource is (a top-level collection), if it is one.
fn home_of<'a>(ctx: &PropContext<'a>) -> Option<&'a str> {
    let path = ctx.resource.path.as_str();
    (ctx.resource.is_collection && !path.is_empty() && !path.contains('/')).then_some(path)
}

fn href(ctx: &PropContext<'_>, path: &str) -> Element {
    Element::with_text(HREF, ctx.store.href_of(path, true))
}

/// A principal's property naming one of its mailboxes (`schedule-inbox-URL`), when the
/// mailbox exists.
fn mailbox_url(property: &'static str, folder: &'static str, kind: &'static str) -> LiveProperty {
    LiveProperty::computed(cal(property), move |ctx| {
        let mailbox = format!("{}/{folder}", home_of(ctx)?);
        ctx.store
            .resource(&mailbox)
            .is_some_and(|r| r.is_collection_of(kind))
            .then(|| Element::new(cal(property)).child_element(href(ctx, &mailbox)))
    })
    .not_in_allprop()
}

/// The calendar invitations land in: the home's `calendar` when it is one, else its
/// first calendar by name.
pub(crate) fn default_calendar(store: &dyn Store, user: &str) -> Option<String> {
    let preferred = format!("{user}/calendar");
    if store
        .resource(&preferred)
        .is_some_and(|r| r.is_collection_of(dirdav_caldav::KIND))
    {
        return Some(preferred);
    }
    store
        .members(user)
        .into_iter()
        .find(|r| r.is_collection_of(dirdav_caldav::KIND))
        .map(|r| r.path)
}

/// The values of `schedule-calendar-transp` (RFC 6638 §9.1), the default first.
static TRANSP_CHOICES: [Name; 2] = [cal("opaque"), cal("transparent")];

/// Whether a calendar's events count for free-busy: `schedule-calendar-transp` is
/// `opaque` unless its `.dav.toml` says `[caldav] schedule-calendar-transp =
/// "transparent"`.
pub(crate) fn transparent(calendar: &dirdav_plugin::Resource) -> bool {
    calendar
        .collection
        .string_at(&["caldav", "schedule-calendar-transp"])
        .is_some_and(|v| v.eq_ignore_ascii_case("transparent"))
}

impl Plugin for Scheduling {
    fn name(&self) -> &'static str {
        "dirdav-scheduling"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        r.compliance("calendar-auto-schedule")
            .collection_kind(INBOX, vec![cal("schedule-inbox")])
            .collection_kind(OUTBOX, vec![cal("schedule-outbox")])
            .property(mailbox_url("schedule-inbox-URL", "inbox", INBOX))
            .property(mailbox_url("schedule-outbox-URL", "outbox", OUTBOX))
            .property({
                let users = self.users.clone();
                LiveProperty::computed(cal("calendar-user-type"), move |ctx| {
                    let user = home_of(ctx)?;
                    users
                        .is_known(user)
                        .then(|| Element::with_text(cal("calendar-user-type"), "INDIVIDUAL"))
                })
                .not_in_allprop()
            })
            .property(
                LiveProperty::on_collections_of(
                    INBOX,
                    cal("schedule-default-calendar-URL"),
                    |ctx| {
                        let user = ctx.resource.path.split('/').next().unwrap_or_default();
                        let mut set = Element::new(cal("schedule-default-calendar-URL"));
                        if let Some(calendar) = default_calendar(ctx.store, user) {
                            set = set.child_element(href(ctx, &calendar));
                        }
                        set
                    },
                )
                .not_in_allprop(),
            )
            // Writable by PROPPATCH and MKCALENDAR (RFC 6638 §9.1), kept in `.dav.toml`.
            .property(LiveProperty::stored_choice(
                dirdav_caldav::KIND,
                cal("schedule-calendar-transp"),
                &["caldav", "schedule-calendar-transp"],
                &TRANSP_CHOICES,
            ))
            .first_request({
                let users = self.users.clone();
                move |user: Principal, store: Arc<dyn Store>| {
                    // Only a known user's top-level folder is their home: a proxy may
                    // name anyone, and `/shared/` must not grow an inbox.
                    let known = users.is_known(&user.name);
                    async move {
                        match known {
                            true => create_mailboxes(&user, &*store).await,
                            false => Ok(()),
                        }
                    }
                }
            });
        r.property(
            LiveProperty::computed(cal("schedule-tag"), |ctx| {
                schedule_tag(ctx.resource).map(|tag| Element::with_text(cal("schedule-tag"), tag))
            })
            .not_in_allprop(),
        )
        .item_headers(dirdav_caldav::KIND, |item| {
            schedule_tag(item)
                .and_then(|tag| dirdav_plugin::http::HeaderValue::from_str(&tag).ok())
                .map(|tag| {
                    (
                        dirdav_plugin::http::HeaderName::from_static("schedule-tag"),
                        tag,
                    )
                })
                .into_iter()
                .collect()
        })
        .before_method(check_schedule_tag);
        let (users, limits) = (self.users.clone(), self.limits);
        r.write_check(dirdav_caldav::KIND, move |write| {
            checks::check(&users, &limits, write)
        });
        let this = self.clone();
        r.after_item_change(dirdav_caldav::KIND, move |change| {
            let this = this.clone();
            async move {
                implicit::on_change(
                    &this.users,
                    this.mail.as_deref(),
                    &this.limits,
                    &this.spending,
                    change,
                )
                .await;
            }
        });
        let (users, limits) = (self.users.clone(), self.limits);
        r.method("POST", move |request| {
            let users = users.clone();
            async move { freebusy::outbox_post(&users, &limits, request).await }
        });
    }
}

/// Creates a user's inbox and outbox in their home, when the home exists and they do
/// not.
async fn create_mailboxes(user: &Principal, store: &dyn Store) -> Result<(), DavError> {
    let home = user.name.to_string();
    if home.is_empty()
        || home.contains('/')
        || home.starts_with('.')
        || store.resource(&home).is_none()
    {
        return Ok(());
    }
    for (name, kind, label) in [("inbox", INBOX, "Inbox"), ("outbox", OUTBOX, "Outbox")] {
        let path = format!("{home}/{name}");
        if store.resource(&path).is_some() {
            continue;
        }
        store
            .make_collection(NewCollection {
                path: &path,
                kind: Some(kind),
                lists: Vec::new(),
                props: vec![Element::with_text(Name::new(ns::DAV, "displayname"), label)],
                method: "MKCOL",
                principal: Some(user),
            })
            .await?;
    }
    Ok(())
}
