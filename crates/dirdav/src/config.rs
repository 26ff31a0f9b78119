//! `dirdav serve` settings: defaults, then `dirdav.toml` (`--config`), then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The settings a `dirdav.toml` may hold; every key is optional and a flag overrides it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct FileConfig {
    pub(crate) root: Option<PathBuf>,
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) htpasswd: Option<PathBuf>,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) base_path: Option<String>,
    pub(crate) max_body: Option<String>,
    pub(crate) max_property_size: Option<String>,
    pub(crate) max_settings_size: Option<String>,
    pub(crate) propfind_infinity_limit: Option<usize>,
    pub(crate) watch: Option<crate::WatchArg>,
    pub(crate) sync_log_limit: Option<usize>,
    pub(crate) git_commit: Option<bool>,
    pub(crate) create_homes: Option<bool>,
    pub(crate) trusted_proxies: Option<Vec<std::net::IpAddr>>,
    pub(crate) trust_proxy_user: Option<String>,
    pub(crate) allow_plain_auth: Option<bool>,
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
    pub(crate) tls_listen: Option<SocketAddr>,
    pub(crate) idle_timeout: Option<u64>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_connections_per_address: Option<usize>,
    /// `[users.<name>]`: display name and e-mail address of each user.
    #[serde(default)]
    pub(crate) users: std::collections::BTreeMap<String, UserConfig>,
    /// `[groups]`: members of each group, named `@group` in `[acl]` tables.
    #[serde(default)]
    pub(crate) groups: std::collections::BTreeMap<String, Vec<String>>,
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

impl FileConfig {
    /// Reads a `dirdav.toml`. Relative paths in it are taken relative to its folder.
    pub(crate) fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config: FileConfig =
            toml::from_str(&text).map_err(|source| ConfigError::Parse {
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
        let c = FileConfig::load(&file).unwrap();
        assert_eq!(c.trusted_proxies.unwrap().len(), 2);
        assert_eq!(c.root.unwrap(), dir.path().join("tree"));
        assert_eq!(c.listen.unwrap().port(), 9000);
        std::fs::write(
            &file,
            "[users.alice]\ndisplayname = \"Alice Example\"\nemail = \"alice@example.com\"\n\
             [groups]\nteam = [\"alice\", \"bob\"]\n",
        )
        .unwrap();
        let c = FileConfig::load(&file).unwrap();
        assert_eq!(c.groups["team"], ["alice", "bob"]);
        assert_eq!(c.users["alice"].email.as_deref(), Some("alice@example.com"));
        std::fs::write(&file, "rooot = 1\n").unwrap();
        assert!(matches!(
            FileConfig::load(&file),
            Err(ConfigError::Parse { .. })
        ));
    }
}
