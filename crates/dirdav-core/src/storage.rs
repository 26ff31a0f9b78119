//! The file system under the root: atomic writes, copies and hashing.
//!
//! This is the storage boundary: everything that touches the disk goes through here,
//! so that another backend (a shared file system with a shared sync log, an object
//! store) replaces this module rather than the engine.

use std::fs::{self, File};
use std::io::{self, Read, Write};
#[cfg(target_os = "linux")]
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use dirdav_plugin::DavError;
use http::StatusCode;

/// Temporary files start with this, so they are dotfiles: never listed, never served,
/// and ignored by the index until renamed into place.
pub(crate) const TEMP_PREFIX: &str = ".dirdav-tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Maps an I/O error to the status a client should see. A full disk is 507
/// (RFC 4918 §11.5); everything unexpected is a 500 that the log explains.
pub(crate) fn io_error(context: &str, e: io::Error) -> DavError {
    let status = match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            StatusCode::INSUFFICIENT_STORAGE
        }
        io::ErrorKind::NotFound => StatusCode::NOT_FOUND,
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            StatusCode::FORBIDDEN
        }
        io::ErrorKind::FileTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        io::ErrorKind::InvalidFilename => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    DavError::new(status, context.to_owned()).source(e)
}

/// Runs file-system work off the async threads and maps its failure for the client.
pub(crate) async fn blocking<T: Send + 'static>(
    context: &'static str,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, DavError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DavError::internal("a file-system task failed").source(e))?
        .map_err(|e| io_error(context, e))
}

/// Reads an open file to its end.
pub(crate) fn read_all(mut file: File) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(
        file.metadata()
            .map_or(0, |m| usize::try_from(m.len()).unwrap_or(0)),
    );
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Formats a blake3 hash as a strong, quoted entity tag.
pub(crate) fn etag_of(hash: &blake3::Hash) -> String {
    format!("\"{}\"", &hash.to_hex()[..32])
}

/// Hashes a file's bytes.
pub(crate) fn hash_file(path: &Path) -> io::Result<String> {
    hash_open(&File::open(path)?)
}

/// Hashes an open file's bytes from its start, and leaves it at its start again.
pub(crate) fn hash_open(file: &File) -> io::Result<String> {
    use std::io::Seek;
    let mut reader = file;
    reader.rewind()?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(&mut reader)?;
    reader.rewind()?;
    Ok(etag_of(&hasher.finalize()))
}

/// A fresh temporary's file name: a dotfile carrying this process's id (see
/// [`remove_stale_temporaries`]).
fn temp_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{TEMP_PREFIX}{}-{n}", std::process::id())
}

/// Metadata times: modification, and creation where the file system keeps it.
pub(crate) fn times(meta: &fs::Metadata) -> (SystemTime, SystemTime) {
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    (modified, meta.created().unwrap_or(modified))
}

/// A file being written beside its final name; dropped without [`TempFile::commit`],
/// it is removed.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    /// The folder, opened without following links (Linux, [`TempFile::new_beneath`]):
    /// creating, reading back, renaming and removing then happen relative to it, so a
    /// folder swapped for a link meanwhile is not written through.
    dir: Option<File>,
    file: Option<File>,
    hasher: blake3::Hasher,
    len: u64,
    /// Set once renamed into place; until then, dropping removes the file.
    committed: bool,
}

impl TempFile {
    /// Creates a temporary file in `dir`.
    pub(crate) fn new(dir: &Path) -> io::Result<TempFile> {
        let path = dir.join(temp_name());
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(TempFile {
            path,
            dir: None,
            file: Some(file),
            hasher: blake3::Hasher::new(),
            len: 0,
            committed: false,
        })
    }

    /// Creates a temporary file in the folder `key` below `root` (at `fs_dir`), reached
    /// without following a link.
    pub(crate) fn new_beneath(
        root: &crate::beneath::RootDir,
        key: &str,
        fs_dir: &Path,
    ) -> io::Result<TempFile> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{Mode, OFlags, openat};
            let dir = root.dir(key)?;
            let name = temp_name();
            let file = openat(
                &dir,
                name.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::from_bits_truncate(0o666),
            )?;
            Ok(TempFile {
                path: fs_dir.join(name),
                dir: Some(dir),
                file: Some(File::from(file)),
                hasher: blake3::Hasher::new(),
                len: 0,
                committed: false,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            root.dir(key)?;
            TempFile::new(fs_dir)
        }
    }

    /// Whether the folder the temporary was made in is still the one at `key` below
    /// `root`: not removed, or replaced by another of the same name, while the body was
    /// received. Committing into a replaced folder would lose the file.
    pub(crate) fn still_in(&self, root: &crate::beneath::RootDir, key: &str) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(dir) = &self.dir {
            use std::os::unix::fs::MetadataExt;
            let now = root.dir(key).and_then(|d| d.metadata());
            return match (dir.metadata(), now) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
        }
        let _ = (root, key);
        self.path.parent().is_some_and(Path::is_dir)
    }

    /// The temporary's file name.
    fn name(&self) -> &std::ffi::OsStr {
        self.path.file_name().unwrap_or_default()
    }

    /// Appends bytes, hashing them on the way.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        match &mut self.file {
            Some(f) => f.write_all(bytes),
            None => Err(io::Error::other("temporary file already closed")),
        }
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Reads back what was written (for write checks on small items).
    pub(crate) fn read_back(&mut self) -> io::Result<Vec<u8>> {
        if let Some(f) = &mut self.file {
            f.flush()?;
        }
        let mut buf = Vec::with_capacity(self.len as usize);
        let mut file = match &self.dir {
            #[cfg(target_os = "linux")]
            Some(dir) => File::from(rustix::fs::openat(
                dir,
                self.name(),
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::CLOEXEC
                    | rustix::fs::OFlags::NOFOLLOW,
                rustix::fs::Mode::empty(),
            )?),
            _ => File::open(&self.path)?,
        };
        file.read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// Makes the written bytes durable and closes the file; [`TempFile::commit`] then
    /// only renames. Lets the slow part of a write happen before any lock is taken.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        Ok(())
    }

    /// Makes the file durable (unless [`TempFile::sync`] did), renames it over `target`,
    /// then syncs the folder: after a crash, `target` holds the old bytes or the new
    /// ones, never a mix.
    /// Returns the new entity tag.
    pub(crate) fn commit(self, target: &Path) -> io::Result<String> {
        self.finish(target, true)
    }

    /// Like [`TempFile::commit`], but only where nothing exists at `target` yet:
    /// fails with `AlreadyExists` rather than replace a file the index has not seen.
    pub(crate) fn commit_new(self, target: &Path) -> io::Result<String> {
        self.finish(target, false)
    }

    fn finish(mut self, target: &Path, replace: bool) -> io::Result<String> {
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        match &self.dir {
            // Within the folder opened: the target is a name in it, never a path
            // through a link.
            #[cfg(target_os = "linux")]
            Some(dir) => {
                use rustix::fs::{RenameFlags, renameat_with};
                let name = target.file_name().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "a target without a name")
                })?;
                let flags = match replace {
                    true => RenameFlags::empty(),
                    false => RenameFlags::NOREPLACE,
                };
                renameat_with(dir, self.name(), dir, name, flags)?;
                self.committed = true;
                if let Err(e) = dir.sync_all() {
                    tracing::warn!(path = %target.display(), error = %e, "syncing the folder failed");
                }
            }
            _ if replace => {
                fs::rename(&self.path, target)?;
                self.committed = true;
                sync_parent(target);
            }
            // A link fails where the name is taken; the temporary goes when dropped.
            _ => {
                fs::hard_link(&self.path, target)?;
                sync_parent(target);
            }
        }
        Ok(etag_of(&self.hasher.finalize()))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            self.file = None;
            match &self.dir {
                #[cfg(target_os = "linux")]
                Some(dir) => {
                    let _ = rustix::fs::unlinkat(dir, self.name(), rustix::fs::AtFlags::empty());
                }
                _ => {
                    let _ = fs::remove_file(&self.path);
                }
            }
        }
    }
}

/// Removes temporary files that no running server will rename: those a killed or
/// crashed process left. A temporary's name carries its writer's process id; where
/// `/proc` tells which processes live, a file is stale when its writer is gone, or is
/// this process and `before_serving` (it has written nothing yet; once it answers
/// requests, its own temporaries are writes under way); elsewhere, when it is over an
/// hour old. Logs and returns how many were removed.
pub(crate) fn remove_stale_temporaries(paths: &[PathBuf], before_serving: bool) -> usize {
    let me = std::process::id();
    let procfs = Path::new("/proc/self").exists();
    let stale = |path: &Path| -> bool {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let pid = name
            .strip_prefix(TEMP_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        match pid {
            Some(pid) if procfs && pid == me => before_serving,
            Some(pid) if procfs => !Path::new("/proc").join(pid.to_string()).exists(),
            _ => fs::symlink_metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600),
        }
    };
    let swept = paths
        .iter()
        .filter(|p| stale(p))
        .filter(|p| match remove_any(p) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(path = %p.display(), error = %e, "a stale temporary file could not be removed");
                false
            }
        })
        .count();
    if swept > 0 {
        tracing::info!(count = swept, "removed temporary files an earlier run left");
    }
    swept
}

/// Removes the file or folder `name` in the folder `parent` below `root`, reached and
/// emptied without following links: a folder swapped for a link after indexing is not
/// deleted through. Folders are renamed away first, as [`remove`] does.
pub(crate) fn remove_beneath(
    root: &crate::beneath::RootDir,
    parent: &str,
    name: &str,
    fs_path: &Path,
    is_dir: bool,
) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{AtFlags, renameat, unlinkat};
        let dir = root.dir(parent)?;
        if !is_dir {
            unlinkat(&dir, name, AtFlags::empty())?;
        } else {
            let doomed = staging_path(fs_path);
            let doomed = doomed.file_name().unwrap_or_default();
            renameat(&dir, name, &dir, doomed)?;
            empty_renamed(fs_path, || empty_and_remove(&dir, doomed));
        }
        if let Err(e) = dir.sync_all() {
            tracing::warn!(path = %fs_path.display(), error = %e, "syncing the folder failed");
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (parent, name);
        root.dir(parent)?;
        remove(fs_path, is_dir)
    }
}

/// Removes the folder `name` in `dir` and everything in it, never following a link.
#[cfg(target_os = "linux")]
fn empty_and_remove(dir: &File, name: &std::ffi::OsStr) -> io::Result<()> {
    use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, openat, unlinkat};
    let fd = match openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        // A link (or a file) swapped in: the entry itself goes, never what it names.
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
            return Ok(unlinkat(dir, name, AtFlags::empty())?);
        }
        Err(e) => return Err(e.into()),
    };
    let inner = File::from(fd);
    let mut names = Vec::new();
    for entry in Dir::read_from(&inner)? {
        let entry = entry?;
        let entry_name = entry.file_name().to_bytes();
        if entry_name == b"." || entry_name == b".." {
            continue;
        }
        let is_dir = entry.file_type() == FileType::Directory;
        names.push((std::ffi::OsStr::from_bytes(entry_name).to_owned(), is_dir));
    }
    for (entry, is_dir) in names {
        match is_dir {
            true => empty_and_remove(&inner, &entry)?,
            false => match unlinkat(&inner, entry.as_os_str(), AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(e.into()),
            },
        }
    }
    match unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A temporary's name beside `path`, for building something before it takes `path`.
pub(crate) fn staging_path(path: &Path) -> PathBuf {
    path.with_file_name(temp_name())
}

/// Empties a folder already renamed away, retrying while uploads that began into it
/// still add files; what cannot be removed stays hidden until the next start sweeps it.
fn empty_renamed(fs_path: &Path, mut empty: impl FnMut() -> io::Result<()>) {
    for attempt in 1..=5 {
        match empty() {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) if attempt == 5 => {
                tracing::warn!(path = %fs_path.display(), error = %e, "a deleted folder could not be emptied; it is hidden and swept at the next start");
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10 << attempt)),
        }
    }
}

/// Removes a file, or a folder and all it holds.
fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path)?.is_dir() {
        true => fs::remove_dir_all(path),
        false => fs::remove_file(path),
    }
}

/// Syncs the folder holding `path`, so that a rename or creation in it is durable.
/// Failure is logged rather than returned: the data itself is already synced.
pub(crate) fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent()
        && let Err(e) = File::open(parent).and_then(|d| d.sync_all())
    {
        tracing::debug!(path = %parent.display(), error = %e, "folder fsync failed");
    }
}

/// Writes `bytes` to `target` atomically.
pub(crate) fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<String> {
    let dir = target
        .parent()
        .ok_or_else(|| io::Error::other("no parent folder"))?;
    let mut tmp = TempFile::new(dir)?;
    tmp.write(bytes)?;
    tmp.commit(target)
}

/// Copies one file atomically.
pub(crate) fn copy_file(src: &Path, target: &Path) -> io::Result<String> {
    let dir = target
        .parent()
        .ok_or_else(|| io::Error::other("no parent folder"))?;
    let mut tmp = TempFile::new(dir)?;
    let mut input = File::open(src)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        tmp.write(&buf[..n])?;
    }
    tmp.commit(target)
}

/// Copies a folder tree: member files, sub-folders and their `.dav.toml`, nothing else
/// hidden. With `shallow`, only the folder and its `.dav.toml` (COPY with Depth 0).
pub(crate) fn copy_tree(src: &Path, target: &Path, shallow: bool) -> io::Result<()> {
    fs::create_dir(target)?;
    let dotfile = src.join(crate::dotfile::DOTFILE);
    if dotfile.is_file() {
        copy_file(&dotfile, &target.join(crate::dotfile::DOTFILE))?;
    }
    if !shallow {
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                copy_tree(&entry.path(), &target.join(&name), false)?;
            } else if kind.is_file() {
                copy_file(&entry.path(), &target.join(&name))?;
            }
        }
    }
    sync_parent(target);
    Ok(())
}

/// Removes a file or a whole folder.
pub(crate) fn remove(path: &Path, is_dir: bool) -> io::Result<()> {
    if !is_dir {
        fs::remove_file(path)?;
        sync_parent(path);
        return Ok(());
    }
    // A folder is first renamed to a temporary's name beside it, in one step: from
    // then on it is gone for clients and the index, however long emptying it takes.
    // Uploads that had started into it (their temporaries are made before the lock is
    // taken) may still add files meanwhile; emptying is retried, and what cannot be
    // removed stays hidden until the next start sweeps it.
    let doomed = staging_path(path);
    fs::rename(path, &doomed)?;
    sync_parent(path);
    empty_renamed(&doomed, || fs::remove_dir_all(&doomed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_temp_files_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut t = TempFile::new(dir.path()).unwrap();
            t.write(b"half").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn temporaries_of_dead_writers_are_swept_and_a_live_writers_kept() {
        let dir = tempfile::tempdir().unwrap();
        let name = |pid: u32| dir.path().join(format!("{TEMP_PREFIX}{pid}-7"));
        // pid 1 always runs; no pid is above 2^22 on Linux.
        let (dead, live, mine) = (name(4_000_000_000), name(1), name(std::process::id()));
        for p in [&dead, &live, &mine] {
            fs::write(p, "half").unwrap();
        }
        let found = [dead.clone(), live.clone(), mine.clone()];
        // While serving, this process's own temporaries are writes under way.
        assert_eq!(remove_stale_temporaries(&found, false), 1);
        assert!(!dead.exists() && live.exists() && mine.exists());
        assert_eq!(remove_stale_temporaries(&found, true), 1);
        assert!(!mine.exists() && live.exists());
    }

    #[test]
    fn a_failed_rename_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = TempFile::new(dir.path()).unwrap();
        t.write(b"data").unwrap();
        let too_long = dir.path().join("n".repeat(300));
        assert!(t.commit(&too_long).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn commit_replaces_the_target_and_hashes_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.txt");
        fs::write(&target, "old").unwrap();
        let etag = write_atomic(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(etag, hash_file(&target).unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn full_disk_is_507() {
        let e = io_error("x", io::Error::from(io::ErrorKind::StorageFull));
        assert_eq!(e.status(), StatusCode::INSUFFICIENT_STORAGE);
    }
}
