//! The shipped plugins, and which of them run: the `plugins` setting names them (all
//! but `git` by default), and the per-plugin flags (`--no-scheduling`, `--no-locking`,
//! `--no-web`, `--git-commit`) still turn one off or on.
//!
//! Access control (`acl`) is not in the list: it always runs, since leaving it out
//! would open every user's data to every other user.

use std::path::Path;

use dirdav_core::ServerBuilder;
use dirdav_plugin::KnownUsers;

use crate::config::Settings;

/// The shipped plugins that may be named in `plugins`, in the order they register.
pub(crate) const NAMES: [&str; 9] = [
    "caldav",
    "carddav",
    "birthdays",
    "discovery",
    "scheduling",
    "quota",
    "locks",
    "web",
    "git",
];

/// The one shipped plugin that runs only when asked for: `git` commits to a repository.
const ASKED_FOR: &str = "git";

/// What the shipped plugins are made from.
pub(crate) struct Shipped<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) known: &'a KnownUsers,
    /// Whether anyone signs in (an htpasswd file or a trusted proxy's header): without
    /// that, access control lets everyone in.
    pub(crate) authenticated: bool,
    pub(crate) state_dir: Option<&'a Path>,
    pub(crate) root: &'a Path,
}

/// The shipped plugins that run: those `plugins` names (or the default list), less
/// those a flag turns off, plus `git` when `git-commit` is on. An unknown name, or a
/// plugin without one it needs, is refused.
pub(crate) fn chosen(s: &Settings) -> Result<Vec<&'static str>, String> {
    let listed: Vec<&str> = match &s.plugins {
        Some(names) => names.iter().map(|n| n.trim()).collect(),
        None => NAMES.into_iter().filter(|n| *n != ASKED_FOR).collect(),
    };
    if let Some(unknown) = listed.iter().find(|n| !NAMES.contains(n)) {
        return Err(format!(
            "plugins: no shipped plugin is called {unknown:?} (there are {}; acl always runs)",
            NAMES.join(", ")
        ));
    }
    let off = |name: &str| match name {
        "scheduling" => s.scheduling == Some(false),
        "locks" => s.locking == Some(false),
        "web" => s.web == Some(false),
        ASKED_FOR => s.git_commit == Some(false),
        _ => false,
    };
    let on: Vec<&'static str> = NAMES
        .into_iter()
        .filter(|n| {
            (listed.contains(n) || (*n == ASKED_FOR && s.git_commit == Some(true))) && !off(n)
        })
        .collect();
    let needs = [
        ("scheduling", "caldav"),
        ("birthdays", "caldav"),
        ("birthdays", "carddav"),
    ];
    if let Some((what, need)) = needs
        .iter()
        .find(|(what, need)| on.contains(what) && !on.contains(need))
    {
        return Err(format!("plugins: {what} needs {need}"));
    }
    Ok(on)
}

impl Shipped<'_> {
    /// Registers the shipped plugins that run ([`chosen`]) on `builder`.
    pub(crate) fn register(
        &self,
        mut builder: ServerBuilder,
    ) -> Result<ServerBuilder, Box<dyn std::error::Error>> {
        let s = self.settings;
        let on = chosen(s)?;
        let runs = |name: &str| on.contains(&name);
        if runs("caldav") {
            builder = builder.plugin(dirdav_caldav::CalDav::default());
        }
        if runs("carddav") {
            builder = builder.plugin(dirdav_carddav::CardDav::default());
        }
        if runs("birthdays") {
            builder = builder.plugin(dirdav_birthdays::Birthdays);
        }
        builder = builder.plugin(match self.authenticated {
            false => dirdav_acl::Acl::open(),
            true => dirdav_acl::Acl::default()
                .known_users(self.known.clone())
                .groups(s.groups.clone())
                .display_names(
                    s.users
                        .iter()
                        .filter_map(|(n, u)| Some((n.clone(), u.displayname.clone()?)))
                        .collect(),
                ),
        });
        if runs("discovery") {
            let info = s.users.iter().map(|(name, u)| {
                let info = dirdav_discovery::UserInfo {
                    displayname: u.displayname.clone(),
                    email: u.email.clone(),
                };
                (name.clone(), info)
            });
            builder = builder.plugin(
                dirdav_discovery::Discovery::default()
                    .known_users(self.known.clone())
                    .user_info(info.collect())
                    .groups(s.groups.clone())
                    .create_homes(s.create_homes.unwrap_or(true)),
            );
        }
        if runs("scheduling") {
            builder = builder.plugin(self.scheduling()?);
        }
        if runs("quota") {
            builder = builder.plugin(dirdav_quota::Quota);
        }
        if runs("locks") {
            builder = builder.plugin(match self.state_dir {
                Some(dir) => dirdav_locks::Locks::open(dir)
                    .map_err(|e| format!("reading the locks in {}: {e}", dir.display()))?,
                None => dirdav_locks::Locks::default(),
            });
        }
        if runs("web") {
            builder = builder.plugin(match self.state_dir {
                Some(dir) => dirdav_web::Web::open(dir)
                    .map_err(|e| format!("reading the web page's key in {}: {e}", dir.display()))?,
                None => dirdav_web::Web::default(),
            });
        }
        if runs("git") {
            builder = builder.plugin(dirdav_git::GitCommit::discover(self.root)?);
            tracing::info!("committing every change to git");
        }
        Ok(builder)
    }

    /// Scheduling with the users' addresses, the limits and the mail relay settled.
    fn scheduling(&self) -> Result<dirdav_scheduling::Scheduling, Box<dyn std::error::Error>> {
        let s = self.settings;
        let addresses = s
            .users
            .iter()
            .filter_map(|(name, u)| Some((name.clone(), u.email.clone()?)));
        let defaults = dirdav_scheduling::Limits::default();
        let mut scheduling = dirdav_scheduling::Scheduling::users(Vec::new(), addresses)
            .known_users(self.known.clone())
            .limits(dirdav_scheduling::Limits {
                max_attendees: s.max_attendees.unwrap_or(defaults.max_attendees),
                mail_per_hour: s.mail_per_hour.unwrap_or(defaults.mail_per_hour),
                deliveries_per_hour: s
                    .deliveries_per_hour
                    .unwrap_or(defaults.deliveries_per_hour),
                inbox_size: s.inbox_size.unwrap_or(defaults.inbox_size),
                ..defaults
            });
        match (&s.smtp_url, &s.mail_from) {
            (Some(url), Some(from)) => {
                scheduling = scheduling
                    .smtp(url, from)
                    .map_err(|e| format!("--smtp-url: {e}"))?;
                tracing::info!(%from, "invitations to external addresses go by mail");
            }
            (Some(_), None) => return Err("--smtp-url needs --mail-from".into()),
            (None, _) => {}
        }
        Ok(scheduling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> Settings {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn all_but_git_run_unless_the_settings_say_otherwise() {
        assert_eq!(
            chosen(&settings("")).unwrap(),
            [
                "caldav",
                "carddav",
                "birthdays",
                "discovery",
                "scheduling",
                "quota",
                "locks",
                "web",
            ]
        );
        let with_git = chosen(&settings("git-commit = true")).unwrap();
        assert_eq!(with_git.last(), Some(&"git"));
        assert_eq!(with_git.len(), NAMES.len());
    }

    #[test]
    fn the_list_names_what_runs_and_the_flags_still_turn_one_off() {
        let s = settings("plugins = [\"carddav\", \"caldav\", \"web\"]");
        assert_eq!(chosen(&s).unwrap(), ["caldav", "carddav", "web"]);
        let s = settings("plugins = [\"caldav\", \"scheduling\", \"web\"]\nweb = false");
        assert_eq!(chosen(&s).unwrap(), ["caldav", "scheduling"]);
        let s = settings("plugins = [\"caldav\", \"git\"]\ngit-commit = false");
        assert_eq!(chosen(&s).unwrap(), ["caldav"]);
        assert_eq!(
            chosen(&settings("plugins = []")).unwrap(),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn unknown_names_and_missing_needs_are_refused() {
        let e = chosen(&settings("plugins = [\"caldav\", \"acl\"]")).unwrap_err();
        assert!(
            e.contains("\"acl\"") && e.contains("acl always runs"),
            "{e}"
        );
        let e = chosen(&settings("plugins = [\"calDAV\"]")).unwrap_err();
        assert!(e.contains("caldav, carddav"), "{e}");
        let e = chosen(&settings("plugins = [\"scheduling\"]")).unwrap_err();
        assert_eq!(e, "plugins: scheduling needs caldav");
        let e = chosen(&settings("plugins = [\"caldav\", \"birthdays\"]")).unwrap_err();
        assert_eq!(e, "plugins: birthdays needs carddav");
    }
}
