//! Access control for dirdav (RFC 3744): who may read and change what.
//!
//! A user holds every privilege in their home (`/<user>/`). Everywhere else, the
//! `[acl]` table of a folder's `.dav.toml` grants privileges (`read`, `write`,
//! `write-content`, `write-properties`, `bind`, `unbind`, `read-acl`, `all`) to users,
//! groups (`@team`), `authenticated` (every signed-in user) and `all` (anyone, signed in
//! or not); each privilege's list is inherited down the tree until a folder sets its own.
//! The root and each user's home (their principal) may be read by every signed-in user;
//! their members are listed only to those who may read them.
//!
//! A refusal is 401 for an anonymous request (so the client asks for credentials),
//! 404 when the user may not even read what they aimed at (its existence stays
//! private), and 403 with `DAV:need-privileges` otherwise. The rules are edited in
//! `.dav.toml`, not with the ACL method: every entry is protected, so ACL answers 403
//! `DAV:no-protected-ace-conflict`.
//!
//! ```
//! use dirdav_plugin::Registry;
//! let mut registry = Registry::default();
//! registry.register(&dirdav_acl::Acl::default().users(["alice".to_owned()]));
//! registry.check().unwrap();
//! ```

mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;

use dirdav_plugin::http::StatusCode;
use dirdav_plugin::xml::{Element, Name, ns};
use dirdav_plugin::{
    Configs, DavError, DavRequest, LiveProperty, MethodCheck, Plugin, PropContext, Registrar,
    Share, Store,
};

use rules::parent;
pub use rules::{Grant, Policy, Privileges};

const CURRENT_USER_PRIVILEGE_SET: Name = Name::new(ns::DAV, "current-user-privilege-set");
const SUPPORTED_PRIVILEGE_SET: Name = Name::new(ns::DAV, "supported-privilege-set");
const SUPPORTED_PRIVILEGE: Name = Name::new(ns::DAV, "supported-privilege");
const PRIVILEGE: Name = Name::new(ns::DAV, "privilege");
const DESCRIPTION: Name = Name::new(ns::DAV, "description");
const OWNER: Name = Name::new(ns::DAV, "owner");
const HREF: Name = Name::new(ns::DAV, "href");
const ACL: Name = Name::new(ns::DAV, "acl");
const ACE: Name = Name::new(ns::DAV, "ace");
const PRINCIPAL: Name = Name::new(ns::DAV, "principal");
const GRANT: Name = Name::new(ns::DAV, "grant");
const PROTECTED: Name = Name::new(ns::DAV, "protected");
const INHERITED: Name = Name::new(ns::DAV, "inherited");
const ACL_RESTRICTIONS: Name = Name::new(ns::DAV, "acl-restrictions");
const INHERITED_ACL_SET: Name = Name::new(ns::DAV, "inherited-acl-set");
const NEED_PRIVILEGES: Name = Name::new(ns::DAV, "need-privileges");
const RESOURCE: Name = Name::new(ns::DAV, "resource");
const ACL_PRINCIPAL_PROP_SET: Name = Name::new(ns::DAV, "acl-principal-prop-set");

/// The access control plugin.
#[derive(Debug, Default, Clone)]
pub struct Acl {
    policy: Policy,
}

impl Acl {
    /// For a server without authentication, where every request is anonymous: everyone
    /// may do everything, and the privilege properties say so.
    pub fn open() -> Acl {
        Acl {
            policy: Policy {
                open: true,
                ..Policy::default()
            },
        }
    }

    /// The users whose homes are the top-level folders of their names.
    #[must_use]
    pub fn users(self, users: impl IntoIterator<Item = String>) -> Self {
        self.policy.users.extend(users);
        self
    }

    /// The server's list of users, shared: users it adds later (the users file
    /// reloaded) have their homes at once. Replaces what [`Acl::users`] gave.
    #[must_use]
    pub fn known_users(mut self, users: dirdav_plugin::KnownUsers) -> Self {
        self.policy.users = users;
        self
    }

    /// Users' display names (`[users.<name>] displayname`), shown in the names of the
    /// collections they share: "Personal (Alice Example)".
    #[must_use]
    pub fn display_names(mut self, names: BTreeMap<String, String>) -> Self {
        self.policy.display_names.extend(names);
        self
    }

    /// Groups (`[groups]` of `dirdav.toml`), named in `[acl]` as `@name`.
    #[must_use]
    pub fn groups(mut self, groups: BTreeMap<String, Vec<String>>) -> Self {
        for (name, members) in groups {
            self.policy.groups.entry(name).or_default().extend(members);
        }
        self
    }
}

fn privilege(name: &str) -> Element {
    Element::new(PRIVILEGE).child_element(Element::new(Name::owned(ns::DAV, name)))
}

/// `DAV:supported-privilege-set` (RFC 3744 §5.3): the privilege tree.
fn supported(_: &PropContext<'_>) -> Option<Element> {
    let node = |name: &'static str, text: &str, children: Vec<Element>| {
        children.into_iter().fold(
            Element::new(SUPPORTED_PRIVILEGE)
                .child_element(privilege(name))
                .child_element(Element::with_text(DESCRIPTION, text)),
            Element::child_element,
        )
    };
    let write = node(
        "write",
        "Change anything",
        vec![
            node("write-properties", "Change properties", vec![]),
            node("write-content", "Change content", vec![]),
            node("bind", "Add members", vec![]),
            node("unbind", "Remove members", vec![]),
        ],
    );
    let read = node(
        "read",
        "Read anything",
        vec![node(
            "read-current-user-privilege-set",
            "Read one's own privileges",
            vec![],
        )],
    );
    let all = node(
        "all",
        "Everything",
        vec![
            read,
            write,
            node("read-acl", "Read the access control list", vec![]),
        ],
    );
    Some(Element::new(SUPPORTED_PRIVILEGE_SET).child_element(all))
}

/// The user whose home holds a resource, if the server knows them.
fn owner_of<'a>(policy: &Policy, path: &'a str) -> Option<&'a str> {
    let home = rules::home_of(path);
    (!home.is_empty() && (policy.open || policy.users.contains(home))).then_some(home)
}

/// The privileges of the asking user on the resource of a property request.
fn held(policy: &Policy, ctx: &PropContext<'_>) -> Privileges {
    let configs: &dyn Configs = ctx.store;
    policy.privileges(
        ctx.principal.map(|p| &*p.name),
        &ctx.resource.path,
        ctx.resource.is_collection,
        configs,
    )
}

/// `DAV:acl` (RFC 3744 §5.5): the entries in effect, all protected since they live in
/// `.dav.toml`; those set by an ancestor name it in `DAV:inherited`. Groups are shown
/// as their members, who are principals; `authenticated` and `all` as themselves.
fn acl(policy: &Policy, ctx: &PropContext<'_>) -> Option<Element> {
    if !held(policy, ctx).contains(Privileges::READ_ACL) {
        return None;
    }
    let store = ctx.store;
    let href = |path: &str| Element::with_text(HREF, store.href_of(path, true));
    let ace = |who: Element, privileges: Vec<Element>, from: Option<&str>| {
        let grant = privileges
            .into_iter()
            .fold(Element::new(GRANT), Element::child_element);
        let ace = Element::new(ACE)
            .child_element(Element::new(PRINCIPAL).child_element(who))
            .child_element(grant)
            .child_element(Element::new(PROTECTED));
        match from {
            Some(from) => ace.child_element(Element::new(INHERITED).child_element(href(from))),
            None => ace,
        }
    };
    let mut list = Element::new(ACL);
    if policy.open {
        return Some(list.child_element(ace(
            Element::new(Name::new(ns::DAV, "all")),
            vec![privilege("all")],
            None,
        )));
    }
    let path = ctx.resource.path.as_str();
    if owner_of(policy, path).is_some() {
        let owner = Element::new(Name::new(ns::DAV, "property")).child_element(Element::new(OWNER));
        list = list.child_element(ace(owner, vec![privilege("all")], None));
    }
    let collection = if ctx.resource.is_collection {
        path
    } else {
        parent(path)
    };
    for grant in policy.grants(collection, store) {
        let from = (grant.from != collection || !ctx.resource.is_collection)
            .then_some(grant.from.as_str());
        for grantee in &grant.grantees {
            let who = match grantee.as_str() {
                "all" | "authenticated" => {
                    vec![Element::new(Name::owned(ns::DAV, grantee.as_str()))]
                }
                g => match g.strip_prefix('@') {
                    Some(group) => policy
                        .groups
                        .get(group)
                        .into_iter()
                        .flatten()
                        .map(|member| href(member))
                        .collect(),
                    None => vec![href(g)],
                },
            };
            for who in who {
                list = list.child_element(ace(who, vec![privilege(&grant.privilege)], from));
            }
        }
    }
    Some(list)
}

/// `DAV:acl-principal-prop-set` (RFC 3744 §9.2): the named properties of every
/// principal the resource's ACL names (the owner, through `DAV:property`, included),
/// for those who may read the ACL; `Depth: 0` only.
async fn principal_prop_set(request: dirdav_plugin::DavRequest) -> dirdav_plugin::HandlerResult {
    if matches!(
        request.depth,
        Some(dirdav_plugin::Depth::One | dirdav_plugin::Depth::Infinity)
    ) {
        return Err(DavError::bad_request(
            "acl-principal-prop-set is answered for Depth: 0 only (RFC 3744 §9.2)",
        ));
    }
    let resource = request.resource.clone().ok_or_else(DavError::not_found)?;
    let root = dirdav_plugin::xml::parse(&request.body, &Default::default())?;
    let names: Vec<Name> = root
        .child(&Name::new(ns::DAV, "prop"))
        .map(|p| p.elements().map(|e| e.name.clone()).collect())
        .unwrap_or_default();
    let principal = request.principal.as_ref();
    let store = &*request.store;
    let stats = store.propstats(&resource, &[ACL, OWNER], principal);
    let found = |name: &Name| {
        stats
            .iter()
            .filter(|s| s.status == StatusCode::OK)
            .flat_map(|s| s.props.iter())
            .find(|e| e.name == *name)
            .cloned()
    };
    let acl = found(&ACL).ok_or_else(|| {
        DavError::forbidden("reading the ACL needs read-acl").condition_element(
            Element::new(NEED_PRIVILEGES).child_element(
                Element::new(RESOURCE)
                    .child_element(Element::with_text(HREF, resource.href.clone()))
                    .child_element(privilege("read-acl")),
            ),
        )
    })?;
    let owner = found(&OWNER).and_then(|o| o.child(&HREF).map(Element::text));
    let mut hrefs: Vec<String> = Vec::new();
    for ace in acl.elements().filter(|e| e.name == ACE) {
        let Some(who) = ace.child(&PRINCIPAL) else {
            continue;
        };
        let href = match who.child(&HREF) {
            Some(h) => Some(h.text()),
            None => who
                .child(&Name::new(ns::DAV, "property"))
                .and_then(|p| p.child(&OWNER))
                .and(owner.clone()),
        };
        if let Some(h) = href.filter(|h| !hrefs.contains(h)) {
            hrefs.push(h);
        }
    }
    let mut ms = dirdav_plugin::Multistatus::new(&store.prefixes());
    for href in hrefs {
        match store.path_of_href(&href).and_then(|p| store.resource(&p)) {
            Some(r)
                if store.visible(&r, principal)
                    || Some(r.path.as_str()) == principal.map(|p| &*p.name) =>
            {
                ms.propstats(&href, &store.propstats(&r, &names, principal));
            }
            _ => ms.status(&href, StatusCode::NOT_FOUND, None),
        }
    }
    Ok(ms.into_response())
}

/// `DAV:inherited-acl-set` (RFC 3744 §5.7): the folders whose `[acl]` rules apply here.
fn inherited_acl_set(policy: &Policy, ctx: &PropContext<'_>) -> Option<Element> {
    let path = ctx.resource.path.as_str();
    let collection = if ctx.resource.is_collection {
        path
    } else {
        parent(path)
    };
    let mut froms: Vec<String> = policy
        .grants(collection, ctx.store)
        .into_iter()
        .map(|g| g.from)
        .filter(|f| f != path)
        .collect();
    froms.sort();
    froms.dedup();
    Some(
        froms
            .iter()
            .fold(Element::new(INHERITED_ACL_SET), |set, f| {
                set.child_element(Element::with_text(HREF, ctx.store.href_of(f, true)))
            }),
    )
}

/// The single privileges missing from `held` for `needed`, by name, for
/// `DAV:need-privileges` (`read` stands for reading one's privileges too).
fn missing_names(held: Privileges, needed: Privileges) -> Vec<&'static str> {
    let missing = held.missing(needed);
    [
        ("read", Privileges::READ),
        ("read-acl", Privileges::READ_ACL),
        ("write-properties", Privileges::WRITE_PROPERTIES),
        ("write-content", Privileges::WRITE_CONTENT),
        ("bind", Privileges::BIND),
        ("unbind", Privileges::UNBIND),
    ]
    .into_iter()
    .filter(|(_, p)| missing.contains(*p))
    .map(|(n, _)| n)
    .collect()
}

/// The privileges a method needs (RFC 3744 §7 and appendix B), as (path, is a
/// collection, privileges). COPY and MOVE need read at the source and bind at the
/// destination's collection (and unbind there when they overwrite); MOVE also unbind at
/// the source's collection.
fn needs<'a>(m: &MethodCheck<'a>) -> Vec<(&'a str, bool, Privileges)> {
    let path = m.path;
    let is_collection = m.resource.is_some_and(|r| r.is_collection);
    let exists = m.resource.is_some();
    let target = |p| vec![(path, is_collection, p)];
    let into_destination = |mut list: Vec<(&'a str, bool, Privileges)>| {
        if let Some(dest) = m.destination {
            let mut p = Privileges::BIND;
            if m.destination_resource.is_some() {
                p |= Privileges::UNBIND;
            }
            list.push((parent(dest), true, p));
        }
        list
    };
    match m.method.as_str() {
        // A LOCK on an unmapped URL creates an empty file (RFC 4918 §7.3); UNLOCK
        // needs read only: the locking plugin lets a lock's owner alone remove it.
        "PUT" | "LOCK" if exists => target(Privileges::WRITE_CONTENT),
        "PUT" | "LOCK" | "MKCOL" | "MKCALENDAR" => vec![(parent(path), true, Privileges::BIND)],
        "DELETE" => vec![(parent(path), true, Privileges::UNBIND)],
        "PROPPATCH" => target(Privileges::WRITE_PROPERTIES),
        "ACL" => target(Privileges::READ_ACL),
        "COPY" => into_destination(target(Privileges::READ)),
        "MOVE" => into_destination(vec![
            (path, is_collection, Privileges::READ),
            (parent(path), true, Privileges::UNBIND),
        ]),
        _ => target(Privileges::READ),
    }
}

/// The folders a method takes whole, with what it needs on each of them and on every
/// folder below: DELETE and a MOVE's source are removed (read and unbind), a COPY's
/// source is read entire, an overwritten destination is removed, a depth-infinity LOCK
/// keeps everyone else from writing in all of it (write-content, RFC 3744 §7.1.1,
/// RFC 4918 §7.4). A folder the user may not read must not be copied out, moved away or
/// destroyed with its parent, nor a folder they may not write be locked with it.
fn whole_folders<'a>(m: &MethodCheck<'a>) -> Vec<(&'a str, Privileges)> {
    let remove = Privileges::READ | Privileges::UNBIND;
    let mut list = Vec::new();
    if let Some(r) = m.resource.filter(|r| r.is_collection) {
        match m.method.as_str() {
            "DELETE" | "MOVE" => list.push((r.path.as_str(), remove)),
            "COPY" => list.push((r.path.as_str(), Privileges::READ)),
            "LOCK" if deep(m.headers) => {
                list.push((
                    r.path.as_str(),
                    Privileges::READ | Privileges::WRITE_CONTENT,
                ));
            }
            _ => {}
        }
    }
    if matches!(m.method.as_str(), "COPY" | "MOVE")
        && let Some(d) = m.destination_resource.filter(|d| d.is_collection)
    {
        list.push((d.path.as_str(), remove));
    }
    list
}

/// Whether a request's `Depth` is infinity, as it is when absent (RFC 4918 §9.10.3).
fn deep(headers: &dirdav_plugin::http::HeaderMap) -> bool {
    headers
        .get("depth")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim().eq_ignore_ascii_case("infinity"))
}

/// The first folder at or below `top` where `held` lacks `needed`, if any.
fn lacking(
    top: &str,
    needed: Privileges,
    store: &dyn Store,
    held: &dyn Fn(&str) -> Privileges,
) -> Option<String> {
    let mut stack = vec![top.to_owned()];
    while let Some(folder) = stack.pop() {
        if !held(&folder).contains(needed) {
            return Some(folder);
        }
        // Only the subfolders: files are never built into resources here.
        stack.extend(
            store
                .members_where(&folder, &|is_collection, _| is_collection)
                .into_iter()
                .map(|r| r.path),
        );
    }
    None
}

/// The before-method hook: refuses a request the user lacks privileges for.
fn authorize(policy: &Policy, m: &MethodCheck<'_>) -> Result<(), DavError> {
    if policy.open {
        return Ok(());
    }
    let who = m.principal.map(|p| &*p.name);
    let challenge = || DavError::new(StatusCode::UNAUTHORIZED, "authentication required");
    if m.route {
        // A plugin's own resources outside the tree: for signed-in users.
        return match who {
            Some(_) => Ok(()),
            None => Err(challenge()),
        };
    }
    let configs: &dyn Configs = m.store;
    let held =
        |path: &str, is_collection: bool| policy.privileges(who, path, is_collection, configs);
    let hidden = || {
        if who.is_none() {
            challenge()
        } else {
            DavError::not_found()
        }
    };
    // What the user aims at must be theirs to see, or it does not exist for them; so
    // must what a COPY or MOVE would overwrite, or the folder it would land in.
    let (seen, seen_is_collection) = match m.resource {
        Some(r) => (m.path, r.is_collection),
        None => (parent(m.path), true),
    };
    if !held(seen, seen_is_collection).contains(Privileges::READ) {
        return Err(hidden());
    }
    if let Some(dest) = m.destination {
        let (seen, seen_is_collection) = match m.destination_resource {
            Some(r) => (r.path.as_str(), r.is_collection),
            None => (parent(dest), true),
        };
        if !held(seen, seen_is_collection).contains(Privileges::READ) {
            return Err(hidden());
        }
    }
    // Each refusal: the path, and what is missing there (for a folder the user may
    // see; one they may not see is refused without being named).
    let mut refused: Vec<(String, bool, Privileges, Privileges)> = Vec::new();
    for (path, is_collection, needed) in needs(m) {
        let privileges = held(path, is_collection);
        if !privileges.contains(needed) {
            refused.push((path.to_owned(), is_collection, privileges, needed));
        }
    }
    if refused.is_empty() {
        for (top, needed) in whole_folders(m) {
            if who.is_some_and(|w| rules::home_of(top) == w && policy.users.contains(w)) {
                // All of it is in the user's home, where they hold everything.
                continue;
            }
            if let Some(folder) = lacking(top, needed, m.store, &|f| held(f, true)) {
                let privileges = held(&folder, true);
                refused.push((folder, true, privileges, needed));
                break;
            }
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    if who.is_none() {
        return Err(challenge());
    }
    let resources = refused
        .iter()
        .filter(|(_, _, privileges, _)| privileges.contains(Privileges::READ))
        .flat_map(|(path, is_collection, privileges, needed)| {
            missing_names(*privileges, *needed).into_iter().map(|name| {
                Element::new(RESOURCE)
                    .child_element(Element::with_text(
                        HREF,
                        m.store.href_of(path, *is_collection),
                    ))
                    .child_element(privilege(name))
            })
        });
    let refused: Vec<&str> = refused.iter().map(|(p, ..)| p.as_str()).collect();
    let who = who.unwrap_or("-");
    let refusal = resources.fold(Element::new(NEED_PRIVILEGES), Element::child_element);
    Err(
        DavError::forbidden(format!("{who} may not {} {}", m.method, refused.join(", ")))
            .condition_element(refusal),
    )
}

/// The calendars and address books granted to a user by name or through a group (not
/// to `authenticated` or `all`), outside their home: shown in the home as
/// `<owner>-<name>` (the path with `/` as `-`), since Apple's clients, DAVx5 and Home
/// Assistant look for collections in one home only, and named after their sharer:
/// "Personal (Alice Example)".
fn shares(policy: &Policy, user: &str, store: &dyn Store) -> Vec<Share> {
    if policy.open {
        return Vec::new();
    }
    let named = |grantee: &str| {
        grantee == user
            || grantee
                .strip_prefix('@')
                .and_then(|g| policy.groups.get(g))
                .is_some_and(|members| members.contains(user))
    };
    store
        .collections()
        .into_iter()
        .filter(|c| rules::home_of(&c.path) != user)
        .filter(|c| {
            policy.grants(&c.path, store).iter().any(|g| {
                matches!(g.privilege.as_str(), "read" | "all")
                    && g.grantees.iter().any(|x| named(x))
            })
        })
        .filter(|c| {
            policy
                .privileges(Some(user), &c.path, true, store)
                .contains(Privileges::READ)
        })
        .map(|c| {
            let sharer = rules::home_of(&c.path);
            let sharer = policy
                .display_names
                .get(sharer)
                .map_or(sharer, String::as_str);
            let own = c.collection.string_at(&["displayname"]).unwrap_or(c.name());
            Share {
                name: c.path.replace('/', "-"),
                displayname: Some(format!("{own} ({sharer})")),
                target: c.path,
            }
        })
        .collect()
}

impl Plugin for Acl {
    fn name(&self) -> &'static str {
        "dirdav-acl"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        let policy = Arc::new(self.policy.clone());
        let p = policy.clone();
        let cups = move |ctx: &PropContext<'_>| {
            let names = held(&p, ctx).names();
            Some(
                names
                    .into_iter()
                    .fold(Element::new(CURRENT_USER_PRIVILEGE_SET), |set, name| {
                        set.child_element(privilege(name))
                    }),
            )
        };
        let p = policy.clone();
        let owner = move |ctx: &PropContext<'_>| {
            let home = owner_of(&p, &ctx.resource.path)?;
            Some(
                Element::new(OWNER)
                    .child_element(Element::with_text(HREF, ctx.store.href_of(home, true))),
            )
        };
        let p = policy.clone();
        let acl = move |ctx: &PropContext<'_>| acl(&p, ctx);
        let p = policy.clone();
        let inherited = move |ctx: &PropContext<'_>| inherited_acl_set(&p, ctx);
        let restrictions = |_: &PropContext<'_>| {
            Some(
                Element::new(ACL_RESTRICTIONS)
                    .child_element(Element::new(Name::new(ns::DAV, "grant-only")))
                    .child_element(Element::new(Name::new(ns::DAV, "no-invert"))),
            )
        };
        let p = policy.clone();
        let visible = move |res: &dirdav_plugin::Resource,
                            who: Option<&dirdav_plugin::Principal>,
                            configs: &dyn Configs| {
            p.privileges(who.map(|w| &*w.name), &res.path, res.is_collection, configs)
                .contains(Privileges::READ)
        };
        let p = policy.clone();
        let shared = move |user: &str, store: &dyn Store| shares(&p, user, store);
        let p = policy;
        r.compliance("access-control")
            .property(LiveProperty::computed(CURRENT_USER_PRIVILEGE_SET, cups).not_in_allprop())
            .property(LiveProperty::computed(SUPPORTED_PRIVILEGE_SET, supported).not_in_allprop())
            .property(LiveProperty::computed(OWNER, owner).not_in_allprop())
            .property(LiveProperty::computed(ACL, acl).not_in_allprop())
            .property(LiveProperty::computed(ACL_RESTRICTIONS, restrictions).not_in_allprop())
            .property(LiveProperty::computed(INHERITED_ACL_SET, inherited).not_in_allprop())
            .report(ACL_PRINCIPAL_PROP_SET, |_| true, principal_prop_set)
            .member_filter_by_folder(visible)
            .shares(shared)
            .before_method(move |m| authorize(&p, m))
            .method_unlisted("ACL", |_: DavRequest| async {
                Err(DavError::forbidden(
                    "access rules are set in the [acl] table of .dav.toml, not with ACL",
                )
                .condition(Name::new(ns::DAV, "no-protected-ace-conflict")))
            });
    }
}
