//! Keeping the index in line with the tree: reconciling folders, re-reading them in
//! on-request mode, and settling after a warm start.

use crate::context::Inner;
use crate::path;
use crate::reconcile::{read_all, scan};
use crate::storage::blocking;

impl Inner {
    /// Brings the index in line with the tree for these folders (their direct members;
    /// new sub-folders in full), logging every difference for sync clients.
    pub(crate) async fn reconcile(&self, keys: Vec<String>) {
        self.reconcile_sweeping(keys, false).await;
    }

    /// [`Inner::reconcile`]; with `sweep`, temporary files an earlier run left in the
    /// folders are removed too.
    async fn reconcile_sweeping(&self, keys: Vec<String>, sweep: bool) {
        let _guard = self.locks.tree().await;
        let mut pending: Vec<(String, bool)> = keys.into_iter().map(|k| (k, false)).collect();
        while let Some((key, recursive)) = pending.pop() {
            let root = self.root.clone();
            let scanning = move || {
                let scanned = scan(&root, &key, recursive);
                if sweep {
                    // The server answers meanwhile: its own temporaries are writes.
                    crate::storage::remove_stale_temporaries(&scanned.temporaries, false);
                }
                Ok(scanned)
            };
            let scanned = match blocking("scanning failed", scanning).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "reconciliation failed");
                    continue;
                }
            };
            crate::reconcile::check_tables(&scanned, &self.root, &self.registry);
            let (to_read, new_dirs) = {
                let index = self.index();
                (
                    scanned.to_read(&index, &self.registry),
                    scanned.new_dirs(&index),
                )
            };
            let hashes = blocking("hashing failed", move || Ok(read_all(to_read)))
                .await
                .unwrap_or_default();
            self.update(|index| scanned.apply(index, &hashes)).await;
            pending.extend(new_dirs.into_iter().map(|d| (d, true)));
        }
    }

    /// In on-request mode, re-reads the folder a request is about before answering.
    pub(crate) async fn refresh_for(&self, key: &str) {
        if !self.on_request.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let folder = {
            let index = self.index();
            if index.is_dir(key) {
                key.to_owned()
            } else {
                path::split(key).map_or(String::new(), |(p, _)| p.to_owned())
            }
        };
        self.reconcile(vec![folder]).await;
    }

    /// After a warm start, checks every folder the index knows against the tree, one
    /// at a time (each holds the tree lock only while it is checked), then ends the
    /// settling.
    pub(crate) async fn settle_all(inner: std::sync::Weak<Inner>, started: std::time::Instant) {
        let Some(folders) = inner
            .upgrade()
            .map(|i| i.index().dirs().map(|(k, _)| k.clone()).collect::<Vec<_>>())
        else {
            return;
        };
        for folder in folders {
            let Some(inner) = inner.upgrade() else {
                return;
            };
            inner.settle_folder(folder).await;
        }
        if let Some(inner) = inner.upgrade() {
            inner.settling.finish();
            tracing::info!(
                entries = inner.index().len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "checked the tree for changes made while stopped"
            );
        }
    }

    /// While settling, checks the folder a request is about (or, for a key the index
    /// does not know, its nearest known ancestor) before it is answered, once, and
    /// first every folder above it: their settings (access rules among them) count
    /// for it too.
    pub(crate) async fn settle_for(&self, key: &str) {
        if self.settling.is_over() {
            return;
        }
        let folders = crate::settle::folders_for(&self.index(), key);
        for folder in folders {
            self.settle_folder(folder).await;
        }
    }

    /// Checks one folder's members against the tree, unless settling is over or the
    /// folder was checked already; temporaries an earlier run left are removed.
    async fn settle_folder(&self, folder: String) {
        if !self.settling.needs(&folder) {
            return;
        }
        if folder.is_empty() || self.index().is_dir(&folder) {
            self.reconcile_sweeping(vec![folder.clone()], true).await;
        }
        self.settling.done(folder);
    }
}
