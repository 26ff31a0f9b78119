//! Service discovery for dirdav: how a phone finds everything from a user name and a
//! host (RFC 6764, RFC 8615, RFC 5397).
//!
//! - `/.well-known/caldav` and `/.well-known/carddav` answer 301 to the context path
//!   (the server root, or the base path), with any method.
//! - A user's principal is their home, `/<user>/` (as Radicale does): it is where the
//!   calendar and address book homes are too, and every href ends in `/`.
//! - `DAV:current-user-principal` is answered on every resource (RFC 5397); the home
//!   answers `DAV:principal-URL` and `CALDAV:calendar-user-address-set`; every resource
//!   answers `DAV:principal-collection-set`. Home-set properties come from the CalDAV and
//!   CardDAV plugins; this plugin never names them.
//! - Group principals for the configuration's `[groups]` at `/.groups/<name>/`, with
//!   `DAV:group-member-set`; homes answer `DAV:group-membership` and, like groups, a
//!   stable `DAV:resource-id`.
//! - The `DAV:expand-property` (RFC 3253 §3.8) and `DAV:principal-match` (RFC 3744 §9.3)
//!   REPORTs, which walk from a principal to what it points at.
//! - At a user's first authenticated request, their home is created with a default
//!   calendar ("Personal", events and tasks) and address book ("Contacts"), unless
//!   [`Discovery::create_homes`] turns it off. An existing home is left as it is.
//!
//! ```
//! use dirdav_plugin::Registry;
//! let mut registry = Registry::default();
//! registry.register(&dirdav_discovery::Discovery::default());
//! registry.check().unwrap();
//! ```

use dirdav_plugin::http::{HeaderValue, Response, StatusCode, header};
use dirdav_plugin::xml::{Element, Name, ns};
use std::sync::Arc;

use dirdav_plugin::{
    Body, DavError, DavRequest, HandlerResult, LiveProperty, NewCollection, Plugin, Principal,
    PropContext, Registrar, Store,
};

const CURRENT_USER_PRINCIPAL: Name = Name::new(ns::DAV, "current-user-principal");
const PRINCIPAL_URL: Name = Name::new(ns::DAV, "principal-URL");
const PRINCIPAL_COLLECTION_SET: Name = Name::new(ns::DAV, "principal-collection-set");
const UNAUTHENTICATED: Name = Name::new(ns::DAV, "unauthenticated");
const ADDRESS_SET: Name = Name::new(ns::CALDAV, "calendar-user-address-set");
const HREF: Name = Name::new(ns::DAV, "href");
const EMAIL_ADDRESS_SET: Name = Name::new(ns::CALENDARSERVER, "email-address-set");
const EMAIL_ADDRESS: Name = Name::new(ns::CALENDARSERVER, "email-address");

mod groups;
mod reports;
mod search;

/// What the configuration says about a user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// The name clients show (principal search, invitations).
    pub displayname: Option<String>,
    /// The user's e-mail address: `calendar-user-address-set` and `CS:email-address-set`.
    pub email: Option<String>,
}

/// The discovery plugin.
#[derive(Debug, Clone)]
pub struct Discovery {
    create_homes: bool,
    users: dirdav_plugin::KnownUsers,
    info: Arc<std::collections::BTreeMap<String, UserInfo>>,
    groups: groups::Groups,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery {
            create_homes: true,
            users: dirdav_plugin::KnownUsers::default(),
            info: Arc::default(),
            groups: Arc::default(),
        }
    }
}

impl Discovery {
    /// The users the server knows (those of the htpasswd file and of `[users]`): the
    /// ones principal searches find and, when there are any, the only ones whose homes
    /// are created, since only their homes are theirs.
    #[must_use]
    pub fn users(mut self, users: Vec<String>) -> Self {
        self.users = dirdav_plugin::KnownUsers::new(users);
        self
    }

    /// The server's list of users, shared: a user it adds later (the users file
    /// reloaded) gets a home at their first request and is found by searches.
    #[must_use]
    pub fn known_users(mut self, users: dirdav_plugin::KnownUsers) -> Self {
        self.users = users;
        self
    }

    /// Details of users from the configuration (display names, e-mail addresses).
    #[must_use]
    pub fn user_info(mut self, info: std::collections::BTreeMap<String, UserInfo>) -> Self {
        self.info = Arc::new(info);
        self
    }

    /// The groups of the configuration (`[groups]`: name → members): each gets a
    /// principal at `/.groups/<name>/`, and its members' principals name it in
    /// `DAV:group-membership`.
    #[must_use]
    pub fn groups(mut self, groups: std::collections::BTreeMap<String, Vec<String>>) -> Self {
        self.groups = Arc::new(groups);
        self
    }

    /// Whether a user's home is created, with a default calendar ("Personal", events
    /// and tasks) and address book ("Contacts"), at their first authenticated request.
    /// On by default.
    #[must_use]
    pub fn create_homes(mut self, on: bool) -> Self {
        self.create_homes = on;
        self
    }
}

/// Creates a user's home and its default collections when the home does not exist.
async fn create_home(user: Principal, store: Arc<dyn Store>) -> Result<(), DavError> {
    let home = user.name.to_string();
    if home.is_empty()
        || home.contains('/')
        || home.starts_with('.')
        || store.resource(&home).is_some()
    {
        return Ok(());
    }
    let named = |name: &str| vec![Element::with_text(Name::new(ns::DAV, "displayname"), name)];
    let calendar = format!("{home}/calendar");
    let contacts = format!("{home}/contacts");
    let collections = [
        (home.as_str(), None, Vec::new(), Vec::new()),
        (
            calendar.as_str(),
            Some(dirdav_caldav::KIND),
            named("Personal"),
            vec![(
                dirdav_caldav::COMPONENTS.map(str::to_owned).to_vec(),
                vec!["VEVENT".to_owned(), "VTODO".to_owned()],
            )],
        ),
        (
            contacts.as_str(),
            Some(dirdav_carddav::KIND),
            named("Contacts"),
            Vec::new(),
        ),
    ];
    for (path, kind, props, lists) in collections {
        store
            .make_collection(NewCollection {
                path,
                kind,
                lists,
                props,
                method: "MKCOL",
                principal: Some(&user),
            })
            .await?;
    }
    Ok(())
}

fn href(ctx: &PropContext<'_>, path: &str) -> Element {
    Element::with_text(HREF, ctx.store.href_of(path, true))
}

/// The user whose principal (home) a resource is: any top-level folder.
fn home_of<'a>(ctx: &PropContext<'a>) -> Option<&'a str> {
    let path = ctx.resource.path.as_str();
    (ctx.resource.is_collection && !path.is_empty() && !path.contains('/')).then_some(path)
}

/// The principal's own resource: its home.
fn is_own_principal<'a>(ctx: &PropContext<'a>) -> Option<&'a str> {
    let user = ctx.principal?;
    (ctx.resource.is_collection && ctx.resource.path == *user.name).then_some(&user.name)
}

/// 301 to the context path, as an absolute URL built from the request's Host, or from
/// `X-Forwarded-Host` and `X-Forwarded-Proto` when a reverse proxy says how the client
/// reached it (the binary drops those headers from peers that are not trusted proxies):
/// behind a TLS proxy, or on dirdav's own TLS listener, the redirect must say `https`.
async fn well_known(request: DavRequest) -> HandlerResult {
    let context = request.store.href_of("", true);
    let location = match dirdav_plugin::origin(&request.parts) {
        Some(origin) => format!("{origin}{context}"),
        None => context,
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

impl Plugin for Discovery {
    fn name(&self) -> &'static str {
        "dirdav-discovery"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        if self.create_homes {
            let known = self.users.clone();
            r.first_request(move |user: Principal, store: Arc<dyn Store>| {
                let known = known.is_empty() || known.contains(&user.name);
                async move {
                    match known {
                        true => create_home(user, store).await,
                        false => Ok(()),
                    }
                }
            });
        }
        let users = self.users.clone();
        let shown: Arc<std::collections::BTreeMap<String, String>> = Arc::new(
            self.info
                .iter()
                .filter_map(|(u, i)| Some((u.clone(), i.displayname.clone()?)))
                .collect(),
        );
        // Clients search for principals from wherever they are: a home, a calendar.
        let principals = |r: &dirdav_plugin::Resource| r.is_collection;
        r.report(
            search::PROPERTY_SEARCH,
            principals,
            move |request: DavRequest| {
                let (users, shown) = (users.clone(), shown.clone());
                let users: Vec<String> = users.names().iter().cloned().collect();
                async move { search::property_search(request, &users, &shown).await }
            },
        )
        .report(
            search::SEARCH_PROPERTY_SET,
            principals,
            search::search_property_set,
        )
        .report(reports::EXPAND_PROPERTY, |_| true, reports::expand_property)
        .report(
            reports::PRINCIPAL_MATCH,
            |r| r.is_collection,
            reports::principal_match,
        );
        let groups = self.groups.clone();
        if !groups.is_empty() {
            r.route(groups::ROUTE, move |request: DavRequest| {
                groups::serve(request, groups.clone())
            });
        }
        let groups = self.groups.clone();
        r.property(
            LiveProperty::computed(groups::GROUP_MEMBERSHIP, move |ctx| {
                let user = home_of(ctx)?;
                Some(groups::membership(ctx.store, &groups, user))
            })
            .not_in_allprop(),
        )
        .property(
            LiveProperty::computed(groups::RESOURCE_ID, |ctx| {
                Some(groups::resource_id("user", home_of(ctx)?))
            })
            .not_in_allprop(),
        );
        r.public_route("/.well-known/caldav", well_known)
            .public_route("/.well-known/carddav", well_known)
            .property(
                LiveProperty::computed(CURRENT_USER_PRINCIPAL, |ctx| {
                    let inner = match ctx.principal {
                        Some(user) => href(ctx, &user.name),
                        None => Element::new(UNAUTHENTICATED),
                    };
                    Some(Element::new(CURRENT_USER_PRINCIPAL).child_element(inner))
                })
                .not_in_allprop(),
            )
            .property(
                LiveProperty::computed(PRINCIPAL_URL, |ctx| {
                    let user = is_own_principal(ctx)?;
                    Some(Element::new(PRINCIPAL_URL).child_element(href(ctx, user)))
                })
                .not_in_allprop(),
            )
            .property(
                LiveProperty::computed(PRINCIPAL_COLLECTION_SET, |ctx| {
                    Some(Element::new(PRINCIPAL_COLLECTION_SET).child_element(href(ctx, "")))
                })
                .not_in_allprop(),
            )
            .fallback(Name::new(ns::DAV, "displayname"), {
                // A known user's home without a displayname of its own is named as the
                // principal search finds it: the configured name, else the user name.
                let info = self.info.clone();
                let users = self.users.clone();
                move |ctx| {
                    let user = home_of(ctx)?;
                    let name = match info.get(user).and_then(|i| i.displayname.clone()) {
                        Some(name) => name,
                        None if users.contains(user) => user.to_owned(),
                        None => return None,
                    };
                    Some(Element::with_text(Name::new(ns::DAV, "displayname"), name))
                }
            })
            .property({
                let info = self.info.clone();
                LiveProperty::computed(ADDRESS_SET, move |ctx| {
                    let user = is_own_principal(ctx)?;
                    let email = info
                        .get(user)
                        .and_then(|i| i.email.clone())
                        .or_else(|| user.contains('@').then(|| user.to_owned()));
                    let mut set = Element::new(ADDRESS_SET);
                    if let Some(email) = email {
                        set =
                            set.child_element(Element::with_text(HREF, format!("mailto:{email}")));
                    }
                    Some(set.child_element(href(ctx, user)))
                })
                .not_in_allprop()
            })
            .property({
                let info = self.info.clone();
                LiveProperty::computed(EMAIL_ADDRESS_SET, move |ctx| {
                    let user = is_own_principal(ctx)?;
                    let email = info.get(user)?.email.clone()?;
                    Some(
                        Element::new(EMAIL_ADDRESS_SET)
                            .child_element(Element::with_text(EMAIL_ADDRESS, email)),
                    )
                })
                .not_in_allprop()
            });
    }
}
