//! `dirdav serve` settings: defaults, then `dirdav.toml` (`--config`), then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Every setting of `dirdav serve`, defined once: each is a flag (`--max-body 1G`) and a
/// key of `dirdav.toml` (`max-body = "1G"`) of the same name, except where noted. Every
/// one is optional here; [`Settings::over`] lays the flags over the file, and `serve`
/// fills in the defaults the help texts name.
#[derive(Debug, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct Settings {
    /// The folder to serve [default: example-data].
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8008].
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
    /// Apache htpasswd file with bcrypt hashes [default: ROOT/.htpasswd if it exists;
    /// without one, no authentication].
    #[arg(long, value_name = "FILE")]
    pub(crate) htpasswd: Option<PathBuf>,
    /// Where the index and sync log are kept, outside the tree [default: a folder per
    /// root under the platform state directory, e.g. ~/.local/state/dirdav/].
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    /// How edits made outside the server are noticed: `auto` (watch the tree, falling
    /// back to `on-request` where that fails), `on-request` (re-read a folder before
    /// answering about it) or `off` (at startup only) [default: auto].
    #[arg(long, value_name = "MODE")]
    pub(crate) watch: Option<crate::WatchArg>,
    /// How many changes each collection's sync log keeps; older sync tokens make clients
    /// resynchronise in full [default: 10000].
    #[arg(long, value_name = "N")]
    pub(crate) sync_log_limit: Option<usize>,
    /// How many items' summaries (what reports read instead of the files) and sync-log
    /// entries stay in memory; the rest wait in the state directory until asked for
    /// [default: 50000].
    #[arg(long, value_name = "N")]
    pub(crate) index_cache: Option<usize>,
    /// Commit every change made through the server to the git repository holding the
    /// tree, one commit per request, authored as the user.
    #[arg(long, num_args = 0, default_missing_value = "true")]
    pub(crate) git_commit: Option<bool>,
    /// Do not create a user's home (with a calendar "Personal" and an address book
    /// "Contacts") at their first request (in the file: `create-homes = false`).
    #[arg(
        long = "no-create-homes",
        num_args = 0,
        default_missing_value = "false"
    )]
    pub(crate) create_homes: Option<bool>,
    /// The shipped plugins to run, by name: caldav, carddav, birthdays, discovery,
    /// scheduling, quota, locks, web, git (access control always runs) [default: all
    /// but git].
    /// The flags below still turn one off (in the file: `plugins = ["caldav", ...]`).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub(crate) plugins: Option<Vec<String>>,
    /// Do not offer WebDAV locking (LOCK, UNLOCK, class 2): mounts that need it then
    /// read only (in the file: `locking = false`).
    #[arg(long = "no-locking", num_args = 0, default_missing_value = "false")]
    pub(crate) locking: Option<bool>,
    /// Do not offer CalDAV scheduling (inbox, outbox, free-busy lookups through the
    /// outbox) (in the file: `scheduling = false`).
    #[arg(long = "no-scheduling", num_args = 0, default_missing_value = "false")]
    pub(crate) scheduling: Option<bool>,
    /// Do not answer `GET /metrics` (Prometheus text, to loopback and trusted proxies
    /// only) (in the file: `metrics = false`).
    #[arg(long = "no-metrics", num_args = 0, default_missing_value = "false")]
    pub(crate) metrics: Option<bool>,
    /// SMTP server for invitations to people outside the server (iMIP), as a URL:
    /// smtp://host:25, smtp://user:password@host:587?tls=required (STARTTLS),
    /// smtps://user:password@host:465. Without it, external attendees are not told.
    #[arg(long, value_name = "URL", env = "DIRDAV_SMTP_URL")]
    pub(crate) smtp_url: Option<String>,
    /// The address invitations by mail come from (replies go to the organizer).
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) mail_from: Option<String>,
    /// The most attendees a meeting the server schedules may name; an organizer's
    /// PUT naming more is refused (403 max-attendees-per-instance) [default: 100].
    #[arg(long, value_name = "N")]
    pub(crate) max_attendees: Option<usize>,
    /// The most invitations by mail one user's meetings may send in an hour; past it,
    /// the attendee's SCHEDULE-STATUS says 5.3 [default: 200].
    #[arg(long, value_name = "N")]
    pub(crate) mail_per_hour: Option<usize>,
    /// The most messages one user may deliver into another user's inbox in an hour;
    /// past it, the attendee's SCHEDULE-STATUS says 5.3 [default: 60].
    #[arg(long, value_name = "N")]
    pub(crate) deliveries_per_hour: Option<usize>,
    /// The most messages a scheduling inbox keeps; the oldest go first [default: 500].
    #[arg(long, value_name = "N")]
    pub(crate) inbox_size: Option<usize>,
    /// Do not offer the web page: a browser opening a folder then gets a bare list,
    /// and there is no setup page (in the file: `web = false`).
    #[arg(long = "no-web", num_args = 0, default_missing_value = "false")]
    pub(crate) web: Option<bool>,
    /// URL prefix when served behind a reverse proxy, e.g. /dav.
    #[arg(long, value_name = "PREFIX")]
    pub(crate) base_path: Option<String>,
    /// Largest request body accepted (bytes, or with K, M, G) [default: 256M].
    #[arg(long, value_name = "SIZE")]
    pub(crate) max_body: Option<String>,
    /// Largest value one property may be set to by PROPPATCH (507 beyond)
    /// [default: 64K].
    #[arg(long, value_name = "SIZE")]
    pub(crate) max_property_size: Option<String>,
    /// Largest a folder's .dav.toml may grow through the server's edits (507 beyond)
    /// [default: 1M].
    #[arg(long, value_name = "SIZE")]
    pub(crate) max_settings_size: Option<String>,
    /// Most resources a `Depth: infinity` PROPFIND answers before refusing with
    /// `DAV:propfind-finite-depth` [default: 10000].
    #[arg(long, value_name = "N")]
    pub(crate) propfind_infinity_limit: Option<usize>,
    /// A reverse proxy whose `X-Forwarded-Proto`, `X-Forwarded-Host` and
    /// `X-Forwarded-Prefix` are believed (they shape the well-known redirect and every
    /// href); repeat for several [default: 127.0.0.1 and ::1]. From any other address
    /// these headers are dropped. Only a proxy named here also has its
    /// `X-Forwarded-For` believed, so that failed logins are counted per client and not
    /// per proxy (in the file: `trusted-proxies = [...]`).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub(crate) trusted_proxies: Option<Vec<std::net::IpAddr>>,
    /// Take the user from this request header (e.g. Remote-User) when a trusted proxy
    /// sends it, for single sign-on in front of dirdav; from any other address the
    /// header is ignored.
    #[arg(long, value_name = "HEADER")]
    pub(crate) trust_proxy_user: Option<String>,
    /// Accept passwords over plain HTTP from any address (by default only from
    /// loopback and trusted proxies; use TLS instead where you can).
    #[arg(long, num_args = 0, default_missing_value = "true")]
    pub(crate) allow_plain_auth: Option<bool>,
    /// Serve HTTPS with this certificate chain (PEM), besides HTTP on --listen; the
    /// files are read again on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Address and port for HTTPS [default: 127.0.0.1:8443].
    #[arg(long, value_name = "ADDR")]
    pub(crate) tls_listen: Option<SocketAddr>,
    /// Seconds a client may stay silent while it owes the server a request's headers
    /// or the rest of its body; idle keep-alive connections close after as long
    /// [default: 30].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) idle_timeout: Option<u64>,
    /// The most connections open at once; more wait until one closes [default: 512].
    #[arg(long, value_name = "N")]
    pub(crate) max_connections: Option<usize>,
    /// The most connections (and TLS handshakes) open at once from one address; more
    /// are closed at once. Trusted proxies are not limited [default: 64].
    #[arg(long, value_name = "N")]
    pub(crate) max_connections_per_address: Option<usize>,
    /// `[users.<name>]` (file only): display name and e-mail address of each user.
    #[arg(skip)]
    #[serde(default)]
    pub(crate) users: std::collections::BTreeMap<String, UserConfig>,
    /// `[groups]` (file only): members of each group, named `@group` in `[acl]` tables.
    #[arg(skip)]
    #[serde(default)]
    pub(crate) groups: std::collections::BTreeMap<String, Vec<String>>,
}

/// `self.field.or(other.field)` for each named field, and the file-only tables from
/// `other`.
macro_rules! over {
    ($top:expr, $under:expr; $($field:ident),* $(,)?) => {
        Settings {
            $($field: $top.$field.or($under.$field),)*
            users: $under.users,
            groups: $under.groups,
        }
    };
}

impl Settings {
    /// These settings (the flags) laid over `file`'s: each one given here wins.
    pub(crate) fn over(self, file: Settings) -> Settings {
        over!(self, file;
            root, listen, htpasswd, state_dir, watch, sync_log_limit, index_cache, git_commit,
            plugins, create_homes, locking, web, scheduling, metrics, smtp_url, mail_from, max_attendees,
            mail_per_hour, deliveries_per_hour, inbox_size, base_path, max_body, max_property_size, max_settings_size,
            propfind_infinity_limit, trusted_proxies, trust_proxy_user, allow_plain_auth,
            tls_cert, tls_key, tls_listen, idle_timeout, max_connections,
            max_connections_per_address,
        )
    }
}

/// What `dirdav.toml` may say about one user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserConfig {
    pub(crate) displayname: Option<String>,
    pub(crate) email: Option<String>,
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("invalid size {0:?} (use bytes, or a number with K, M or G)")]
    Size(String),
}

impl Settings {
    /// Reads a `dirdav.toml`. Relative paths in it are taken relative to its folder.
    pub(crate) fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config: Settings = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut config.root,
            &mut config.htpasswd,
            &mut config.state_dir,
            &mut config.tls_cert,
            &mut config.tls_key,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(config)
    }
}

/// Parses `1048576`, `512K`, `256M`, `2G`.
pub(crate) fn parse_size(s: &str) -> Result<u64, ConfigError> {
    let s = s.trim();
    let (digits, factor) = match s.char_indices().last() {
        Some((i, c)) if c.eq_ignore_ascii_case(&'k') => (&s[..i], 1 << 10),
        Some((i, c)) if c.eq_ignore_ascii_case(&'m') => (&s[..i], 1 << 20),
        Some((i, c)) if c.eq_ignore_ascii_case(&'g') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| ConfigError::Size(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_size("4K").unwrap(), 4096);
        assert_eq!(parse_size("256m").unwrap(), 256 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn file_paths_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dirdav.toml");
        std::fs::write(
            &file,
            "root = \"tree\"\nlisten = \"127.0.0.1:9000\"\nbase-path = \"/dav\"\n\
             trusted-proxies = [\"10.0.0.2\", \"::1\"]\n",
        )
        .unwrap();
        let c = Settings::load(&file).unwrap();
        assert_eq!(c.trusted_proxies.unwrap().len(), 2);
        assert_eq!(c.root.unwrap(), dir.path().join("tree"));
        assert_eq!(c.listen.unwrap().port(), 9000);
        std::fs::write(
            &file,
            "[users.alice]\ndisplayname = \"Alice Example\"\nemail = \"alice@example.com\"\n\
             [groups]\nteam = [\"alice\", \"bob\"]\n",
        )
        .unwrap();
        let c = Settings::load(&file).unwrap();
        assert_eq!(c.groups["team"], ["alice", "bob"]);
        assert_eq!(c.users["alice"].email.as_deref(), Some("alice@example.com"));
        std::fs::write(&file, "rooot = 1\n").unwrap();
        assert!(matches!(
            Settings::load(&file),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        settings: Settings,
    }

    fn flags(args: &[&str]) -> Settings {
        use clap::Parser;
        Flags::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .unwrap()
            .settings
    }

    #[test]
    fn flags_lie_over_the_file_setting_by_setting() {
        let file: Settings = toml::from_str(
            "listen = \"127.0.0.1:9000\"\nmax-body = \"1G\"\ncreate-homes = true\n\
             git-commit = true\ntrusted-proxies = [\"10.0.0.2\"]\n[groups]\nteam = [\"a\"]\n",
        )
        .unwrap();
        let given = flags(&[
            "--listen",
            "127.0.0.1:1",
            "--no-create-homes",
            "--allow-plain-auth",
        ]);
        assert_eq!(given.create_homes, Some(false));
        assert_eq!(given.allow_plain_auth, Some(true));
        assert_eq!(given.git_commit, None, "a flag not given says nothing");
        let s = given.over(file);
        assert_eq!(s.listen.unwrap().port(), 1);
        assert_eq!(s.max_body.as_deref(), Some("1G"));
        assert_eq!(s.create_homes, Some(false));
        assert_eq!(s.git_commit, Some(true));
        assert_eq!(s.trusted_proxies.unwrap().len(), 1);
        assert_eq!(s.groups["team"], ["a"]);
        let proxies = flags(&["--trusted-proxy", "10.0.0.1", "--trusted-proxy", "::1"]);
        assert_eq!(proxies.trusted_proxies.unwrap().len(), 2);
    }

    #[test]
    fn every_flag_is_a_key_of_the_file_by_the_same_name() {
        use clap::CommandFactory;
        let renamed = [
            ("no-create-homes", "create-homes"),
            ("no-locking", "locking"),
            ("no-web", "web"),
            ("no-scheduling", "scheduling"),
            ("no-metrics", "metrics"),
            ("trusted-proxy", "trusted-proxies"),
        ];
        for arg in Flags::command().get_arguments() {
            let Some(flag) = arg.get_long() else { continue };
            if flag == "help" {
                continue;
            }
            let key = renamed
                .iter()
                .find(|(f, _)| *f == flag)
                .map_or(flag, |(_, k)| k);
            let error = toml::from_str::<Settings>(&format!("{key} = true"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!error.contains("unknown field"), "--{flag}: {error}");
        }
    }
}
