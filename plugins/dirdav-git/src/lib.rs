//! Commits every change made through dirdav to the git repository holding the tree:
//! one commit per request, authored as the user who made it, with a message saying
//! what changed (`PUT alice/calendar/x.ics`).
//!
//! It stages and commits only the paths the request touched (the `.dav.toml` files it
//! edited included), so unrelated uncommitted work in the repository is left as it is,
//! and the server's state directory, which lives outside the tree, is never touched.
//!
//! The commit is made with the `git` command before the response is sent, while the
//! request still holds its write lock: it records exactly the state that request left,
//! even when the next request changes the same files a moment later. Commits are made
//! one at a time; a write costs the time of a `git commit` more.
//! A `git pull` into the tree needs nothing from this plugin: the server sees it as an
//! edit made outside and tells syncing clients.
//!
//! ```no_run
//! # fn main() -> Result<(), dirdav_git::GitError> {
//! let plugin = dirdav_git::GitCommit::discover(std::path::Path::new("example-data"))?;
//! // Server::builder(config).plugin(plugin) …
//! # let _ = plugin; Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use dirdav_plugin::{Plugin, Registrar, WriteEvent};

/// Why the plugin cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// `git` could not be run.
    #[error("cannot run git: {0}")]
    Spawn(#[from] std::io::Error),
    /// The tree is not inside a git work tree.
    #[error("{0} is not inside a git repository (run `git init` there first)")]
    NotARepository(String),
}

/// One commit to make.
#[derive(Debug)]
struct Job {
    message: String,
    author: String,
    /// Paths relative to the repository's top level.
    paths: Vec<String>,
}

/// The plugin: register it with `Server::builder(..).plugin(GitCommit::discover(root)?)`.
#[derive(Debug, Clone)]
pub struct GitCommit(Arc<Repo>);

#[derive(Debug)]
struct Repo {
    /// The repository's top level.
    top: PathBuf,
    /// The tree's path relative to the top level (`""` when they are the same).
    prefix: String,
    /// Whether git knows who commits; if not, commits are made as `dirdav`.
    has_identity: bool,
    /// One commit at a time: two would fight over git's index lock.
    lock: Mutex<()>,
}

impl GitCommit {
    /// Finds the repository holding `root` and starts the worker that commits.
    pub fn discover(root: &Path) -> Result<GitCommit, GitError> {
        let root = std::fs::canonicalize(root)?;
        let out = Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(["rev-parse", "--show-toplevel"])
            .output()?;
        if !out.status.success() {
            return Err(GitError::NotARepository(root.display().to_string()));
        }
        let top = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let top = std::fs::canonicalize(&top)?;
        let prefix = root
            .strip_prefix(&top)
            .map(|p| p.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/"))
            .unwrap_or_default();
        let has_identity = Command::new("git")
            .arg("-C")
            .arg(&top)
            .args(["config", "user.email"])
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
        Ok(GitCommit(Arc::new(Repo {
            top,
            prefix,
            has_identity,
            lock: Mutex::new(()),
        })))
    }

    fn job(&self, event: &WriteEvent) -> Job {
        let target = match &event.destination {
            Some(d) => format!("{} -> {d}", event.target),
            None => event.target.clone(),
        };
        let user = event.principal.as_ref().map_or("anonymous", |p| &p.name);
        let prefix = &self.0.prefix;
        let in_repo = |p: &String| {
            if prefix.is_empty() {
                p.clone()
            } else if p.is_empty() {
                prefix.clone()
            } else {
                format!("{prefix}/{p}")
            }
        };
        Job {
            message: format!("{} {target}", event.method),
            author: format!("{user} <{user}@dirdav>"),
            paths: event.paths.iter().map(in_repo).collect(),
        }
    }
}

impl Plugin for GitCommit {
    fn name(&self) -> &'static str {
        "dirdav-git"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        let plugin = self.clone();
        r.after_write(move |event| {
            let job = plugin.job(event);
            let repo = &plugin.0;
            let _one_at_a_time = repo.lock.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = commit(&repo.top, &job, repo.has_identity) {
                tracing::error!(message = %job.message, error = %e, "git commit failed");
            }
        });
    }
}

fn git(top: &Path, args: &[&str], paths: &[String], has_identity: bool) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(top);
    if !has_identity {
        cmd.args([
            "-c",
            "user.name=dirdav",
            "-c",
            "user.email=dirdav@localhost",
        ]);
    }
    cmd.args(args).arg("--").args(paths);
    let out = cmd.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        Err(format!(
            "git {}: {} {}",
            args.join(" "),
            stderr.trim(),
            stdout.trim()
        ))
    }
}

/// Commits the job's paths that have changes, and nothing else.
fn commit(top: &Path, job: &Job, has_identity: bool) -> Result<(), String> {
    let status = git(
        top,
        &["status", "--porcelain=v1", "-z", "--untracked-files=all"],
        &job.paths,
        has_identity,
    )?;
    let changed = changed_paths(&status);
    if changed.is_empty() {
        return Ok(());
    }
    git(top, &["add", "-A"], &changed, has_identity)?;
    // What differs from HEAD once staged: a file created and deleted again is nothing.
    let staged = git(
        top,
        &["diff", "--cached", "--no-renames", "--name-only", "-z"],
        &changed,
        has_identity,
    )?;
    let staged: Vec<String> = staged
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    if staged.is_empty() {
        return Ok(());
    }
    let author = format!("--author={}", job.author);
    git(
        top,
        &["commit", "-q", "--no-verify", "-m", &job.message, &author],
        &staged,
        has_identity,
    )?;
    Ok(())
}

/// The paths in `git status --porcelain=v1 -z` output.
fn changed_paths(status: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut fields = status.split(|b| *b == 0).filter(|f| f.len() > 3);
    while let Some(entry) = fields.next() {
        let (code, path) = entry.split_at(3);
        out.push(String::from_utf8_lossy(path).into_owned());
        if matches!(code[0], b'R' | b'C') {
            // A staged rename or copy is followed by its source path.
            if let Some(from) = fields.next() {
                out.push(String::from_utf8_lossy(from).into_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_porcelain_status() {
        let status =
            b" M cal/a.ics\0?? cal/new file.ics\0 D cal/old.ics\0R  cal/to.ics\0cal/from.ics\0";
        assert_eq!(
            changed_paths(status),
            [
                "cal/a.ics",
                "cal/new file.ics",
                "cal/old.ics",
                "cal/to.ics",
                "cal/from.ics"
            ]
        );
        assert!(changed_paths(b"").is_empty());
    }

    #[test]
    fn outside_a_repository_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = GitCommit::discover(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("not inside a git repository"),
            "{err}"
        );
    }
}
