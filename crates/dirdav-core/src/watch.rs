//! Noticing edits made outside the server: a `notify` watcher on the whole tree, its
//! events debounced (a `git pull` of 500 files is one reconciliation), then filtered so
//! that the server's own writes, temporaries and unchanged files cost nothing.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use notify::event::EventKindMask;
use notify::{RecursiveMode, Watcher};

use crate::context::Inner;
use crate::dotfile::DOTFILE;
use crate::index::{Entry, Index};
use crate::path::is_ignored;

/// Quiet time that ends a burst of events.
const QUIET: Duration = Duration::from_millis(150);
/// The longest a burst is collected before it is handled anyway.
const MAX_DELAY: Duration = Duration::from_millis(1000);

/// Starts watching the tree; reconciliation runs on the current tokio runtime until
/// the server is dropped.
pub(crate) fn spawn(inner: &Arc<Inner>) -> notify::Result<notify::RecommendedWatcher> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
    // Only what changes the tree: creation, removal, renames, writes, metadata (a
    // `touch`), and closing a file written to (the end of an outside write). Opens and
    // read-only closes are not asked for: every GET opens a file, and inotify would
    // queue an event and wake this thread for each (issue 34 measured 22% of a GET).
    let kinds = EventKindMask::CORE | EventKindMask::ACCESS_CLOSE;
    let mut watcher = notify::RecommendedWatcher::new(
        move |event: notify::Result<notify::Event>| match event {
            Ok(event) => {
                let _ = tx.send(event.paths);
            }
            Err(e) => tracing::warn!(error = %e, "file watcher error"),
        },
        notify::Config::default().with_event_kinds(kinds),
    )?;
    watcher.watch(&inner.root, RecursiveMode::Recursive)?;
    let weak: Weak<Inner> = Arc::downgrade(inner);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut paths = first;
            let deadline = Instant::now() + MAX_DELAY;
            loop {
                let wait = QUIET.min(deadline.saturating_duration_since(Instant::now()));
                match tokio::time::timeout(wait, rx.recv()).await {
                    Ok(Some(more)) => paths.extend(more),
                    Ok(None) => return,
                    Err(_) => break,
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let folders = folders_to_reconcile(&inner, &paths);
            if !folders.is_empty() {
                tracing::debug!(?folders, events = paths.len(), "outside edits");
                inner.reconcile(folders.into_iter().collect()).await;
            }
        }
    });
    Ok(watcher)
}

/// The folders whose members differ from the index, judging by the paths events named.
fn folders_to_reconcile(inner: &Inner, paths: &[PathBuf]) -> BTreeSet<String> {
    let index = inner.index();
    let mut folders = BTreeSet::new();
    for path in paths {
        let Ok(rel) = path.strip_prefix(&inner.root) else {
            continue;
        };
        let Some(key) = rel
            .to_str()
            .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"))
        else {
            continue;
        };
        let segments: Vec<&str> = key.split('/').filter(|s| !s.is_empty()).collect();
        let Some((name, parents)) = segments.split_last() else {
            continue;
        };
        if parents.iter().any(|p| is_ignored(p)) {
            continue;
        }
        let parent = parents.join("/");
        if *name == DOTFILE || *name == crate::compat::RADICALE_PROPS {
            if dotfile_changed(&index, &parent, path) {
                folders.insert(index.nearest_folder(&parent));
            }
            continue;
        }
        if is_ignored(name) {
            continue;
        }
        if differs(&index, &key, path) {
            folders.insert(index.nearest_folder(&parent));
        }
    }
    folders
}

/// True when what is on disk at `path` is not what the index says about `key`.
fn differs(index: &Index, key: &str, path: &std::path::Path) -> bool {
    let meta = std::fs::symlink_metadata(path).ok();
    match (index.get(key), meta) {
        (None, None) => false,
        (Some(Entry::File(f)), Some(m)) if m.is_file() => {
            f.size != m.len() || m.modified().ok() != Some(f.modified)
        }
        (Some(Entry::Dir(_)), Some(m)) => !m.is_dir(),
        (None, Some(m)) => !m.is_symlink(),
        _ => true,
    }
}

fn dotfile_changed(index: &Index, folder: &str, path: &std::path::Path) -> bool {
    let Some(dir) = index.dir(folder) else {
        return false;
    };
    let Some(folder_path) = path.parent() else {
        return false;
    };
    let (_, tag, _) = crate::reconcile::read_config(folder_path);
    tag != dir.config_tag
}
