//! Locks on disk: one small file per lock in `locks/` in the state directory, so that
//! a LOCK, refresh or UNLOCK writes (or removes) its own file and never the others.
//! Each file is written whole (temporary, fsync, rename). A file that does not parse
//! is set aside as `<name>.unreadable` and logged; the `locks.json` of earlier versions
//! is read once and replaced by per-lock files.

use std::path::{Path, PathBuf};

use crate::table::Lock;

/// The folder in the state directory that holds the locks.
pub(crate) const DIR: &str = "locks";

/// The single file earlier versions kept every lock in.
const LEGACY: &str = "locks.json";

/// Where the locks are kept.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    dir: PathBuf,
}

#[derive(serde::Deserialize)]
struct Legacy {
    locks: Vec<Lock>,
}

impl Saved {
    /// The locks kept below `state_dir`, read now (lapsed ones too: the table drops
    /// them); the folder is made when missing.
    pub(crate) fn open(state_dir: &Path) -> std::io::Result<(Saved, Vec<Lock>)> {
        let saved = Saved {
            dir: state_dir.join(DIR),
        };
        std::fs::create_dir_all(&saved.dir)?;
        let mut locks = Vec::new();
        for entry in std::fs::read_dir(&saved.dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match std::fs::read(&path).map(|b| serde_json::from_slice::<Lock>(&b)) {
                Ok(Ok(lock)) => locks.push(lock),
                Ok(Err(e)) => {
                    tracing::error!(file = %path.display(), error = %e, "a saved lock does not parse; set aside");
                    std::fs::rename(&path, path.with_extension("json.unreadable"))?;
                }
                Err(e) => return Err(e),
            }
        }
        let legacy = state_dir.join(LEGACY);
        match std::fs::read(&legacy) {
            Ok(bytes) => match serde_json::from_slice::<Legacy>(&bytes) {
                Ok(old) => {
                    for lock in &old.locks {
                        saved.write(lock)?;
                    }
                    locks.extend(old.locks);
                    std::fs::remove_file(&legacy)?;
                }
                Err(e) => {
                    tracing::error!(file = %legacy.display(), error = %e, "the saved locks do not parse; starting without them");
                    std::fs::rename(&legacy, state_dir.join(format!("{LEGACY}.unreadable")))?;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok((saved, locks))
    }

    fn file_of(&self, token: &str) -> PathBuf {
        let name = blake3::hash(token.as_bytes()).to_hex();
        self.dir.join(format!("{}.json", &name[..32]))
    }

    /// Writes one lock's file, durably.
    pub(crate) fn write(&self, lock: &Lock) -> std::io::Result<()> {
        let file = self.file_of(&lock.token);
        let bytes = serde_json::to_vec(lock).map_err(std::io::Error::other)?;
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, file)
    }

    /// Removes the files of these locks (those already gone are no error).
    pub(crate) fn remove(&self, tokens: &[String]) -> std::io::Result<()> {
        for token in tokens {
            match std::fs::remove_file(self.file_of(token)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// How many lock files there are (for tests).
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
                })
                .count()
            })
            .unwrap_or(0)
    }
}
