//! `dirdav user add|passwd|app|remove|list`: the htpasswd file kept by dirdav itself,
//! so that adding a user needs neither apache2-utils nor a restart (the server reloads
//! the file when it changes).
//!
//! The file keeps Apache's format (`name:bcrypt-hash`, one line per password; several
//! lines for one user are app passwords, one per device). Every change rewrites the
//! whole file beside itself and renames it into place, so a server reading it never
//! sees half a file; comments and other users' lines are kept as they were.

use std::io::Write;
use std::path::{Path, PathBuf};

/// What `dirdav user` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Print the users, one per line, with how many passwords each has.
    List,
    /// Add a user with a password (refused when the user exists).
    Add(String),
    /// Replace every password of a user with one.
    Passwd(String),
    /// Add another password to a user (an app password for one device) and print it.
    App(String),
    /// Remove a user and all their passwords.
    Remove(String),
}

/// Why a user command failed, for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UserError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("cannot write {0}: {1}")]
    Write(String, std::io::Error),
    #[error(
        "{0:?} is not a user name: use letters, digits, '.', '-', '_' or '@' (up to 64), not starting with '.'"
    )]
    Name(String),
    #[error("{0} is already a user (change their password with `dirdav user passwd {0}`)")]
    Exists(String),
    #[error("{0} is not a user of {1}")]
    Unknown(String, String),
    #[error("{0}")]
    Password(String),
    #[error("cannot hash the password: {0}")]
    Hash(#[from] bcrypt::BcryptError),
}

/// Whether a name can be a user: it is a folder name (their home) and a line's key.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
}

/// Whose password a line of an htpasswd file holds; `None` for a comment or blank.
fn owner(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    line.split_once(':').map(|(user, _)| user)
}

/// Reads the file's lines; a file that does not exist yet has none.
fn read_lines(path: &Path) -> Result<Vec<String>, UserError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(UserError::Read(path.display().to_string(), e)),
    }
}

/// Writes the lines beside the file and renames them into place (readable by the
/// owner only when the file is new; an existing file's permissions are kept).
fn write_lines(path: &Path, lines: &[String]) -> Result<(), UserError> {
    let failed = |e| UserError::Write(path.display().to_string(), e);
    let name = path
        .file_name()
        .map_or_else(|| "htpasswd".into(), |n| n.to_string_lossy().into_owned());
    let staged: PathBuf = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&staged)?;
        if let Ok(meta) = std::fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
            // Its owner and group too (root editing the service's file keeps it
            // readable by the service's group); a user who may not is left as is.
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                let _ = std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()));
            }
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&staged, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    written.map_err(failed)
}

/// A password read for a user: from standard input (one line) when it is not a
/// terminal, else asked for twice with echo off. Empty passwords are refused.
pub(crate) fn read_password(user: &str) -> Result<String, UserError> {
    let stdin = std::io::stdin();
    if !std::io::IsTerminal::is_terminal(&stdin) {
        let mut line = String::new();
        stdin
            .read_line(&mut line)
            .map_err(|e| UserError::Password(format!("cannot read the password: {e}")))?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        return match password.is_empty() {
            true => Err(UserError::Password("no password on standard input".into())),
            false => Ok(password),
        };
    }
    let first = prompt(&format!("New password for {user}: ")).map_err(UserError::Password)?;
    let second = prompt("Again: ").map_err(UserError::Password)?;
    if first != second {
        return Err(UserError::Password(
            "the two passwords differ; nothing changed".into(),
        ));
    }
    if first.is_empty() {
        return Err(UserError::Password(
            "an empty password; nothing changed".into(),
        ));
    }
    Ok(first)
}

/// A new random app password: 24 letters and digits (120 bits of the system's
/// randomness; no `l`, `o`, `0` or `1` to misread), in groups of five for typing on a
/// phone.
fn app_password() -> Result<String, UserError> {
    let mut bytes = [0u8; 15];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(|e| UserError::Password(format!("no randomness for an app password: {e}")))?;
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            if !out.is_empty() && out.len() % 6 == 5 {
                out.push('-');
            }
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    Ok(out)
}

/// Runs one action on the file at `path`, with `password` asked for when the action
/// needs one; returns what to print. `cost` is bcrypt's.
pub(crate) fn run(
    path: &Path,
    action: &Action,
    password: impl FnOnce(&str) -> Result<String, UserError>,
    cost: u32,
) -> Result<String, UserError> {
    let mut lines = read_lines(path)?;
    let file = path.display().to_string();
    let has = |lines: &[String], name: &str| lines.iter().any(|l| owner(l) == Some(name));
    match action {
        Action::List => {
            let mut users: Vec<(String, usize)> = Vec::new();
            for user in lines.iter().filter_map(|l| owner(l)) {
                match users.iter_mut().find(|(u, _)| u == user) {
                    Some((_, n)) => *n += 1,
                    None => users.push((user.to_owned(), 1)),
                }
            }
            users.sort();
            Ok(users
                .into_iter()
                .map(|(user, n)| match n {
                    1 => format!("{user}\n"),
                    n => format!("{user} ({n} passwords)\n"),
                })
                .collect())
        }
        Action::Add(name) | Action::Passwd(name) | Action::App(name) | Action::Remove(name)
            if !valid_name(name) =>
        {
            Err(UserError::Name(name.clone()))
        }
        Action::Add(name) => {
            if has(&lines, name) {
                return Err(UserError::Exists(name.clone()));
            }
            let hash = bcrypt::hash(password(name)?, cost)?;
            lines.push(format!("{name}:{hash}"));
            write_lines(path, &lines)?;
            Ok(format!("added {name} to {file}\n"))
        }
        Action::Passwd(name) => {
            if !has(&lines, name) {
                return Err(UserError::Unknown(name.clone(), file));
            }
            let hash = bcrypt::hash(password(name)?, cost)?;
            // The first line keeps its place with the new password; the others (app
            // passwords) go: a new password signs every device out.
            let mut replaced = false;
            lines.retain_mut(|l| {
                if owner(l) != Some(name.as_str()) {
                    return true;
                }
                if replaced {
                    return false;
                }
                replaced = true;
                *l = format!("{name}:{hash}");
                true
            });
            write_lines(path, &lines)?;
            Ok(format!(
                "changed the password of {name}; their other passwords are gone\n"
            ))
        }
        Action::App(name) => {
            if !has(&lines, name) {
                return Err(UserError::Unknown(name.clone(), file));
            }
            let secret = app_password()?;
            let hash = bcrypt::hash(&secret, cost)?;
            lines.push(format!("{name}:{hash}"));
            write_lines(path, &lines)?;
            Ok(format!(
                "{secret}\n(an app password for {name}: give it to one device; remove it by \
                 deleting its line from {file})\n"
            ))
        }
        Action::Remove(name) => {
            let before = lines.len();
            lines.retain(|l| owner(l) != Some(name.as_str()));
            if lines.len() == before {
                return Err(UserError::Unknown(name.clone(), file));
            }
            write_lines(path, &lines)?;
            Ok(format!(
                "removed {name} from {file} (their files stay in the tree)\n"
            ))
        }
    }
}

/// Asks for a line on the terminal with echo off (where `stty` can do that): a
/// password. Empty when nothing was typed (or standard input is closed).
pub(crate) fn prompt(question: &str) -> Result<String, String> {
    eprint!("{question}");
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    let silenced = std::io::IsTerminal::is_terminal(&std::io::stdin()) && stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line);
    if silenced {
        stty("echo");
        eprintln!();
    }
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(p: &str) -> impl FnOnce(&str) -> Result<String, UserError> + '_ {
        move |_| Ok(p.to_owned())
    }

    #[test]
    fn users_are_added_changed_given_app_passwords_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("htpasswd");
        std::fs::write(&file, "# the demo's users\nbob:$2y$04$x\n").unwrap();
        run(&file, &Action::Add("alice".into()), fixed("wonderland"), 4).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("# the demo's users\nbob:$2y$04$x\nalice:$2"),
            "{text}"
        );
        let users = crate::auth::Htpasswd::parse(&text, "test");
        assert_eq!(users.len(), 2);
        assert!(matches!(
            run(&file, &Action::Add("alice".into()), fixed("x"), 4),
            Err(UserError::Exists(_))
        ));
        assert!(matches!(
            run(&file, &Action::Add("../etc".into()), fixed("x"), 4),
            Err(UserError::Name(_))
        ));
        let out = run(&file, &Action::App("alice".into()), fixed("unused"), 4).unwrap();
        let secret = out.lines().next().unwrap().to_owned();
        assert_eq!(secret.len(), 28, "{secret}");
        assert_eq!(secret.split('-').count(), 5, "{secret}");
        let listed = run(&file, &Action::List, fixed(""), 4).unwrap();
        assert_eq!(listed, "alice (2 passwords)\nbob\n");
        let text = std::fs::read_to_string(&file).unwrap();
        let hashes: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("alice:"))
            .collect();
        assert!(bcrypt::verify("wonderland", hashes[0]).unwrap());
        assert!(bcrypt::verify(&secret, hashes[1]).unwrap());
        // A new password replaces every one of the user's, in the first one's place.
        run(
            &file,
            &Action::Passwd("alice".into()),
            fixed("looking-glass"),
            4,
        )
        .unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        let hashes: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("alice:"))
            .collect();
        assert_eq!(hashes.len(), 1);
        assert!(bcrypt::verify("looking-glass", hashes[0]).unwrap());
        run(&file, &Action::Remove("alice".into()), fixed(""), 4).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "# the demo's users\nbob:$2y$04$x\n"
        );
        assert!(matches!(
            run(&file, &Action::Remove("alice".into()), fixed(""), 4),
            Err(UserError::Unknown(..))
        ));
        // No staged file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_new_file_is_made_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users");
        run(&file, &Action::Add("carol".into()), fixed("pw"), 4).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
