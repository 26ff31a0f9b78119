//! Access control for dirdav (RFC 3744). So far: the properties clients read to decide
//! what they may do. Thunderbird and TbSync make a calendar read-only when
//! `DAV:current-user-privilege-set` is missing, so it is always answered; until
//! authorization lands (the `[acl]` tables of `.dav.toml`), every user the server admits
//! may do everything, and the property says exactly that. The `access-control`
//! compliance token is not claimed until the ACL method and the checks exist.
//!
//! ```
//! use dirdav_plugin::Registry;
//! let mut registry = Registry::default();
//! registry.register(&dirdav_acl::Acl::default());
//! registry.check().unwrap();
//! ```

use dirdav_plugin::xml::{Element, Name, ns};
use dirdav_plugin::{LiveProperty, Plugin, PropContext, Registrar};

const CURRENT_USER_PRIVILEGE_SET: Name = Name::new(ns::DAV, "current-user-privilege-set");
const SUPPORTED_PRIVILEGE_SET: Name = Name::new(ns::DAV, "supported-privilege-set");
const SUPPORTED_PRIVILEGE: Name = Name::new(ns::DAV, "supported-privilege");
const PRIVILEGE: Name = Name::new(ns::DAV, "privilege");
const DESCRIPTION: Name = Name::new(ns::DAV, "description");
const OWNER: Name = Name::new(ns::DAV, "owner");
const HREF: Name = Name::new(ns::DAV, "href");

/// The privileges granted today: all of them (RFC 3744 §3.12 aggregates the rest under
/// `all`; clients look for `write` and `read` by name, so they are listed too).
const GRANTED: [&str; 9] = [
    "all",
    "read",
    "write",
    "write-properties",
    "write-content",
    "bind",
    "unbind",
    "read-current-user-privilege-set",
    "read-acl",
];

/// The access control plugin.
#[derive(Debug, Default, Clone)]
pub struct Acl {
    _private: (),
}

fn privilege(name: &'static str) -> Element {
    Element::new(PRIVILEGE).child_element(Element::new(Name::new(ns::DAV, name)))
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

/// `DAV:owner` (RFC 3744 §5.1): a user owns their home and everything in it.
fn owner(ctx: &PropContext<'_>) -> Option<Element> {
    let home = ctx
        .resource
        .path
        .split('/')
        .next()
        .filter(|h| !h.is_empty())?;
    Some(Element::new(OWNER).child_element(Element::with_text(HREF, ctx.store.href_of(home, true))))
}

impl Plugin for Acl {
    fn name(&self) -> &'static str {
        "dirdav-acl"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        r.property(
            LiveProperty::computed(CURRENT_USER_PRIVILEGE_SET, |_| {
                Some(
                    GRANTED
                        .into_iter()
                        .fold(Element::new(CURRENT_USER_PRIVILEGE_SET), |set, p| {
                            set.child_element(privilege(p))
                        }),
                )
            })
            .not_in_allprop(),
        )
        .property(LiveProperty::computed(SUPPORTED_PRIVILEGE_SET, supported).not_in_allprop())
        .property(LiveProperty::computed(OWNER, owner).not_in_allprop());
    }
}
