//! The access rules: who holds which privilege where, from the `[acl]` tables of the
//! tree's `.dav.toml` files. Pure functions of the principal, the path and the settings,
//! so that every decision can be tested without a server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use dirdav_plugin::Configs;

/// A set of privileges (RFC 3744 §3), as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Privileges(u16);

impl Privileges {
    /// `DAV:read`: GET, PROPFIND, REPORT; seeing the resource at all.
    pub const READ: Privileges = Privileges(1);
    /// `DAV:read-current-user-privilege-set`.
    pub const READ_CUPS: Privileges = Privileges(1 << 1);
    /// `DAV:read-acl`: the `acl` property.
    pub const READ_ACL: Privileges = Privileges(1 << 2);
    /// `DAV:write-properties`: PROPPATCH.
    pub const WRITE_PROPERTIES: Privileges = Privileges(1 << 3);
    /// `DAV:write-content`: PUT over an existing resource.
    pub const WRITE_CONTENT: Privileges = Privileges(1 << 4);
    /// `DAV:bind`: adding members to a collection.
    pub const BIND: Privileges = Privileges(1 << 5);
    /// `DAV:unbind`: removing members from a collection.
    pub const UNBIND: Privileges = Privileges(1 << 6);
    /// No privilege.
    pub const NONE: Privileges = Privileges(0);
    /// `DAV:write`, the aggregate of the four write privileges.
    pub const WRITE: Privileges = Privileges(0b111_1000);
    /// `DAV:all`. `write-acl` is never granted: the rules live in `.dav.toml`.
    pub const ALL: Privileges = Privileges(0b111_1111);

    /// These privileges less those of `other`.
    pub fn without(self, other: Privileges) -> Privileges {
        Privileges(self.0 & !other.0)
    }

    /// True when every privilege of `other` is in `self`.
    pub fn contains(self, other: Privileges) -> bool {
        self.0 & other.0 == other.0
    }

    /// The privileges of `other` missing from `self`.
    pub fn missing(self, other: Privileges) -> Privileges {
        Privileges(other.0 & !self.0)
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The privilege names of the set, aggregates first (`all`, `read`, `write`) and
    /// then each single privilege, as `current-user-privilege-set` lists them.
    pub fn names(self) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter(|(_, p)| self.contains(*p))
            .map(|(n, _)| *n)
            .collect()
    }
}

impl std::ops::BitOr for Privileges {
    type Output = Privileges;
    fn bitor(self, rhs: Privileges) -> Privileges {
        Privileges(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Privileges {
    fn bitor_assign(&mut self, rhs: Privileges) {
        self.0 |= rhs.0;
    }
}

/// Every privilege name `[acl]` accepts, and what it grants. `read` includes reading
/// one's own privileges (RFC 3744 §3.7).
pub(crate) const NAMES: [(&str, Privileges); 9] = [
    ("all", Privileges::ALL),
    (
        "read",
        Privileges(Privileges::READ.0 | Privileges::READ_CUPS.0),
    ),
    ("write", Privileges::WRITE),
    ("write-properties", Privileges::WRITE_PROPERTIES),
    ("write-content", Privileges::WRITE_CONTENT),
    ("bind", Privileges::BIND),
    ("unbind", Privileges::UNBIND),
    ("read-current-user-privilege-set", Privileges::READ_CUPS),
    ("read-acl", Privileges::READ_ACL),
];

/// One rule in effect at a collection: a privilege name, who holds it, and the folder
/// whose `[acl]` table says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The privilege name as written (`read`, `write` …).
    pub privilege: String,
    /// Who: user names, `@group`, `authenticated` or `all`.
    pub grantees: Vec<String>,
    /// The decoded path of the folder whose `.dav.toml` holds the rule.
    pub from: String,
}

/// Who may do what: the users and groups the server knows, and whether it checks at all.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// No authentication is configured: every request may do everything.
    pub open: bool,
    /// The users whose homes are the top-level folders of their names (shared with the
    /// server, which replaces them when its users file changes).
    pub users: dirdav_plugin::KnownUsers,
    /// Groups by name (without the `@`), with their members.
    pub groups: BTreeMap<String, BTreeSet<String>>,
    /// Users' display names, for the names of what they share.
    pub display_names: BTreeMap<String, String>,
    /// The closed folders already logged.
    pub reported: Arc<Mutex<BTreeSet<Closed>>>,
}

pub(crate) use dirdav_plugin::path::parent;

/// The user whose home holds `path`: its first segment.
pub(crate) fn home_of(path: &str) -> &str {
    path.split('/').next().unwrap_or("")
}

impl Policy {
    /// True when `grantee` (as written in `[acl]`) names this principal.
    pub fn matches(&self, grantee: &str, principal: Option<&str>) -> bool {
        match grantee {
            "all" => true,
            "authenticated" => principal.is_some(),
            g => match (g.strip_prefix('@'), principal) {
                (Some(group), Some(p)) => self.groups.get(group).is_some_and(|m| m.contains(p)),
                (None, Some(p)) => g == p,
                (_, None) => false,
            },
        }
    }

    /// The rules in effect at a collection: for each privilege name, the nearest
    /// `[acl]` table, from the collection up to the root, that names it. A folder
    /// overrides what it inherits one privilege at a time: `read = []` takes read away
    /// below it, while `write` still comes from above.
    /// A folder whose rules cannot be trusted grants nothing: no rules are in effect.
    pub fn grants(&self, collection: &str, configs: &dyn Configs) -> Vec<Grant> {
        let mut grants = Vec::new();
        let closed = nearest_rules(collection, configs, |dir, i, value| {
            grants.push(Grant {
                privilege: NAMES[i].0.to_owned(),
                grantees: grantees(value).map(str::to_owned).collect(),
                from: dir.to_owned(),
            });
        });
        match closed {
            Some(closed) => {
                self.report(&closed);
                Vec::new()
            }
            None => grants,
        }
    }

    /// Logs a closed folder, loudly and once per folder and reason (each request would
    /// log it again otherwise).
    fn report(&self, closed: &Closed) {
        let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
        if reported.len() < 10_000 && reported.insert(closed.clone()) {
            let file = if closed.folder.is_empty() {
                ".dav.toml".to_owned()
            } else {
                format!("{}/.dav.toml", closed.folder)
            };
            tracing::error!(
                file,
                problem = closed.why,
                "access rules unusable: the folder and everything below it are closed to \
                 all but their home's owner until the file is fixed"
            );
        }
    }

    /// The privileges a principal (`None`: anonymous) holds on a resource. A file has
    /// those of its collection. A user holds every privilege in their home; the root
    /// and every user's home (their principal) may be read by every signed-in user, so
    /// that discovery works and one user can see what another shares (members are
    /// listed only where they may be read).
    ///
    /// Nobody may write into a read-only collection (a view made from others,
    /// [`CollectionConfig::read_only`](dirdav_plugin::CollectionConfig::read_only)),
    /// its owner neither.
    pub fn privileges(
        &self,
        principal: Option<&str>,
        path: &str,
        is_collection: bool,
        configs: &dyn Configs,
    ) -> Privileges {
        let held = self.granted(principal, path, is_collection, configs);
        let collection = if is_collection { path } else { parent(path) };
        match configs.config(collection).is_some_and(|c| c.read_only) {
            true => held.without(Privileges::WRITE),
            false => held,
        }
    }

    /// [`Policy::privileges`] as the rules grant them.
    fn granted(
        &self,
        principal: Option<&str>,
        path: &str,
        is_collection: bool,
        configs: &dyn Configs,
    ) -> Privileges {
        if self.open {
            return Privileges::ALL;
        }
        // The home itself, or something in it (a file named like a user at the root is
        // not their home: a file is judged by its folder alone).
        let in_home = if is_collection {
            !path.is_empty()
        } else {
            path.contains('/')
        };
        if principal.is_some_and(|p| in_home && home_of(path) == p && self.users.contains(p)) {
            return Privileges::ALL;
        }
        let collection = if is_collection { path } else { parent(path) };
        // Without collecting `grants`: this runs once per listed member.
        let mut held = Privileges::NONE;
        let closed = nearest_rules(collection, configs, |_, i, value| {
            if grantees(value).any(|g| self.matches(g, principal)) {
                held |= NAMES[i].1;
            }
        });
        if let Some(closed) = closed {
            self.report(&closed);
            held = Privileges::NONE;
        }
        let principal_resource =
            path.is_empty() || (!path.contains('/') && self.users.contains(path));
        if is_collection && principal_resource && principal.is_some() {
            held |= Privileges::READ | Privileges::READ_CUPS;
        }
        held
    }
}

/// Why a folder's rules cannot be trusted, which closes it and everything below it:
/// its settings file did not parse, or its `[acl]` table holds something that is no
/// rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Closed {
    /// The decoded path of the folder.
    pub folder: String,
    /// What is wrong, for the log.
    pub why: String,
}

/// What is wrong with a folder's `[acl]` table, if anything: a key that is no privilege
/// (`Read`, `reed`), or a value that is not a name or a list of names.
fn unusable(config: &dirdav_plugin::CollectionConfig) -> Option<String> {
    if let Some(error) = &config.error {
        return Some(format!("its settings do not parse: {error}"));
    }
    let acl = match config.document.get("acl") {
        None => return None,
        Some(toml::Value::Table(acl)) => acl,
        Some(_) => return Some("`acl` is not a table".to_owned()),
    };
    for (key, value) in acl {
        if !NAMES.iter().any(|(n, _)| n == key) {
            let known: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            return Some(format!(
                "[acl] key `{key}` is no privilege (privileges: {})",
                known.join(", ")
            ));
        }
        let names = match value {
            toml::Value::String(_) => true,
            toml::Value::Array(items) => items.iter().all(toml::Value::is_str),
            _ => false,
        };
        if !names {
            return Some(format!("[acl] `{key}` is not a name or a list of names"));
        }
    }
    None
}

/// Walks from `collection` up to the root and calls `f(folder, i, value)` once for each
/// privilege `NAMES[i]`, with the nearest `[acl]` entry that names it. Returns why the
/// rules cannot be trusted when a folder on the way has settings that do not parse or
/// an `[acl]` table that is not all rules: the caller then grants nothing.
fn nearest_rules(
    collection: &str,
    configs: &dyn Configs,
    mut f: impl FnMut(&str, usize, &toml::Value),
) -> Option<Closed> {
    let mut decided = 0u16;
    let mut dir = Some(collection);
    while let Some(d) = dir {
        if let Some(config) = configs.config(d) {
            if let Some(why) = unusable(&config) {
                return Some(Closed {
                    folder: d.to_owned(),
                    why,
                });
            }
            if let Some(table) = config.table("acl") {
                for (key, value) in table {
                    let Some(i) = NAMES.iter().position(|(n, _)| n == key) else {
                        continue;
                    };
                    if decided & (1 << i) == 0 {
                        decided |= 1 << i;
                        f(d, i, value);
                    }
                }
            }
        }
        dir = (!d.is_empty()).then(|| parent(d));
    }
    None
}

/// The grantees of one `[acl]` entry: a list of names, or one name alone.
fn grantees(value: &toml::Value) -> impl Iterator<Item = &str> {
    let (one, many) = match value {
        toml::Value::String(s) => (Some(s.as_str()), None),
        toml::Value::Array(items) => (None, Some(items.iter().filter_map(toml::Value::as_str))),
        _ => (None, None),
    };
    one.into_iter().chain(many.into_iter().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dirdav_plugin::CollectionConfig;
    use std::collections::HashMap;
    use std::sync::Arc;

    struct Tree(HashMap<&'static str, Arc<CollectionConfig>>);

    impl Configs for Tree {
        fn config(&self, path: &str) -> Option<Arc<CollectionConfig>> {
            self.0.get(path).cloned()
        }
    }

    fn tree(entries: &[(&'static str, &str)]) -> Tree {
        Tree(
            entries
                .iter()
                .map(|(path, toml)| {
                    let config = CollectionConfig {
                        document: toml.parse().unwrap(),
                        ..CollectionConfig::default()
                    };
                    (*path, Arc::new(config))
                })
                .collect(),
        )
    }

    fn policy() -> Policy {
        Policy {
            open: false,
            users: dirdav_plugin::KnownUsers::new(["alice", "bob", "carol"].map(String::from)),
            groups: [("team".to_owned(), ["bob", "carol"].map(String::from).into())].into(),
            ..Policy::default()
        }
    }

    #[test]
    fn owners_hold_everything_in_their_home_and_strangers_nothing() {
        let t = tree(&[
            ("", ""),
            ("alice", ""),
            ("alice/calendar", "kind = \"calendar\""),
        ]);
        let p = policy();
        assert_eq!(
            p.privileges(Some("alice"), "alice/calendar/x.ics", false, &t),
            Privileges::ALL
        );
        assert_eq!(
            p.privileges(Some("bob"), "alice/calendar/x.ics", false, &t),
            Privileges::NONE
        );
        assert_eq!(
            p.privileges(Some("bob"), "alice/calendar", true, &t),
            Privileges::NONE
        );
        // The home itself is alice's principal: readable, its members are not.
        assert!(
            p.privileges(Some("bob"), "alice", true, &t)
                .contains(Privileges::READ)
        );
        assert!(
            p.privileges(Some("bob"), "", true, &t)
                .contains(Privileges::READ)
        );
        assert!(
            !p.privileges(Some("bob"), "", true, &t)
                .contains(Privileges::BIND)
        );
        assert_eq!(p.privileges(None, "", true, &t), Privileges::NONE);
        assert_eq!(p.privileges(None, "alice", true, &t), Privileges::NONE);
        // A top-level folder that is nobody's home is nobody's to read by default.
        assert_eq!(
            p.privileges(Some("bob"), "shared", true, &t),
            Privileges::NONE
        );
    }

    #[test]
    fn grants_are_inherited_one_privilege_at_a_time() {
        let t = tree(&[
            ("team", "[acl]\nread = [\"@team\"]\nwrite = \"carol\"\n"),
            (
                "team/holidays",
                "kind = \"calendar\"\n[acl]\nread = [\"all\"]\n",
            ),
            ("team/secret", "[acl]\nread = []\n"),
        ]);
        let p = policy();
        let bob = |path, col| p.privileges(Some("bob"), path, col, &t);
        assert!(bob("team/notes.txt", false).contains(Privileges::READ));
        assert!(!bob("team/notes.txt", false).contains(Privileges::WRITE_CONTENT));
        let carol = p.privileges(Some("carol"), "team/secret", true, &t);
        assert!(
            !carol.contains(Privileges::READ),
            "read = [] takes read away"
        );
        assert!(
            carol.contains(Privileges::WRITE),
            "write is still inherited"
        );
        assert!(
            p.privileges(None, "team/holidays/x.ics", false, &t)
                .contains(Privileges::READ)
        );
        assert!(
            !p.privileges(None, "team/holidays", true, &t)
                .contains(Privileges::BIND)
        );
        assert_eq!(
            p.privileges(Some("alice"), "team", true, &t),
            Privileges::NONE
        );
        let grants = p.grants("team/holidays", &t);
        assert_eq!(grants.len(), 2);
        assert_eq!(
            (grants[0].privilege.as_str(), grants[0].from.as_str()),
            ("read", "team/holidays")
        );
        assert_eq!(
            (grants[1].privilege.as_str(), grants[1].from.as_str()),
            ("write", "team")
        );
    }

    #[test]
    fn sharing_inside_a_home_and_open_servers() {
        let t = tree(&[(
            "alice/calendar",
            "[acl]\nread = [\"bob\"]\nwrite-content = [\"carol\"]\n",
        )]);
        let p = policy();
        let bob = p.privileges(Some("bob"), "alice/calendar/x.ics", false, &t);
        assert!(bob.contains(Privileges::READ) && !bob.contains(Privileges::WRITE_CONTENT));
        let carol = p.privileges(Some("carol"), "alice/calendar/x.ics", false, &t);
        assert_eq!(carol, Privileges::WRITE_CONTENT);
        assert_eq!(carol.names(), ["write-content"]);
        assert_eq!(
            (Privileges::READ | Privileges::READ_CUPS).names(),
            ["read", "read-current-user-privilege-set"]
        );
        assert_eq!(Privileges::ALL.names().len(), NAMES.len());
        let open = Policy {
            open: true,
            ..Policy::default()
        };
        assert_eq!(
            open.privileges(None, "alice/calendar", true, &t),
            Privileges::ALL
        );
    }

    #[test]
    fn a_home_is_a_known_users_only() {
        let t = tree(&[("shared", "")]);
        let p = policy();
        assert_eq!(
            p.privileges(Some("shared"), "shared/notes.txt", false, &t),
            Privileges::NONE,
            "a principal named like a folder is not its owner"
        );
        assert_eq!(
            p.privileges(Some("alice"), "alice/notes.txt", false, &t),
            Privileges::ALL
        );
    }

    #[test]
    fn rules_that_cannot_be_trusted_close_the_folder_and_all_below() {
        let mut t = tree(&[
            ("team", "[acl]\nread = [\"all\"]\n"),
            ("team/typo", "[acl]\nRead = [\"bob\"]\n"),
            ("team/number", "[acl]\nread = 5\n"),
            ("team/numbers", "[acl]\nread = [\"bob\", 5]\n"),
            ("team/scalar", "acl = \"bob\"\n"),
        ]);
        let broken = CollectionConfig {
            error: Some("expected `]`, line 1".to_owned()),
            ..CollectionConfig::default()
        };
        t.0.insert("team/broken", Arc::new(broken));
        let p = policy();
        assert!(
            p.privileges(None, "team/x.txt", false, &t)
                .contains(Privileges::READ)
        );
        for folder in ["typo", "number", "numbers", "scalar", "broken"] {
            for path in [
                format!("team/{folder}/x.txt"),
                format!("team/{folder}/sub/y"),
            ] {
                for who in [None, Some("bob"), Some("carol")] {
                    assert_eq!(
                        p.privileges(who, &path, false, &t),
                        Privileges::NONE,
                        "{who:?} on {path}"
                    );
                }
            }
            assert!(p.grants(&format!("team/{folder}"), &t).is_empty());
        }
        let logged = p.reported.lock().unwrap();
        assert_eq!(logged.len(), 5, "each folder logged once: {logged:?}");
        assert!(
            logged
                .iter()
                .any(|c| c.folder == "team/typo" && c.why.contains("`Read`"))
        );
    }
}
