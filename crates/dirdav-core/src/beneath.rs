//! Opening files below the root without following symbolic links, at request time.
//!
//! The index skips symbolic links, but a local user could swap a folder or a file for
//! a link after it was indexed; opening by path would then follow it out of the tree.
//! Here the root is opened once and every file is opened relative to it, refusing any
//! link on the way (Linux: `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`;
//! where the kernel lacks it, one `openat` with `O_NOFOLLOW` per component). A link
//! met on the way reads as "not found".

use std::fs::File;
use std::io;
use std::path::Path;
#[cfg(not(target_os = "linux"))]
use std::path::PathBuf;

/// The served folder, opened once.
#[derive(Clone, Debug)]
pub(crate) struct RootDir {
    #[cfg(not(target_os = "linux"))]
    path: PathBuf,
    #[cfg(target_os = "linux")]
    fd: std::sync::Arc<std::os::fd::OwnedFd>,
}

impl RootDir {
    /// Opens the root folder.
    pub(crate) fn open(path: &Path) -> io::Result<RootDir> {
        Ok(RootDir {
            #[cfg(not(target_os = "linux"))]
            path: path.to_owned(),
            #[cfg(target_os = "linux")]
            fd: std::sync::Arc::new(rustix::fs::open(
                path,
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )?),
        })
    }

    /// The bytes an unprivileged user may still write on the file system holding the
    /// root (`statvfs`'s available blocks); `None` where it cannot tell.
    pub(crate) fn free_space(&self) -> Option<u64> {
        #[cfg(target_os = "linux")]
        {
            let s = rustix::fs::fstatvfs(&*self.fd).ok()?;
            s.f_bavail.checked_mul(s.f_frsize)
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }

    /// Opens the file at `key` (a path below the root, `/`-separated) for reading.
    pub(crate) fn file(&self, key: &str) -> io::Result<File> {
        self.open_at(key, false)
    }

    /// Opens the folder at `key`, for creating, renaming and syncing in it.
    pub(crate) fn dir(&self, key: &str) -> io::Result<File> {
        self.open_at(key, true)
    }

    #[cfg(target_os = "linux")]
    fn open_at(&self, key: &str, dir: bool) -> io::Result<File> {
        use rustix::fs::{Mode, OFlags, ResolveFlags, openat2};
        use rustix::io::Errno;
        let key = key.trim_matches('/');
        let rel = if key.is_empty() { "." } else { key };
        let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        if dir {
            flags |= OFlags::DIRECTORY;
        }
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        // EAGAIN: a rename elsewhere raced the lookup; the kernel asks for a retry.
        for _ in 0..4 {
            match openat2(&*self.fd, rel, flags, Mode::empty(), how) {
                Ok(fd) => return Ok(File::from(fd)),
                Err(Errno::AGAIN) => continue,
                Err(Errno::NOSYS) => return self.walk(rel, flags),
                Err(Errno::LOOP | Errno::XDEV | Errno::NOTDIR) => return Err(link()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "the path kept changing while opened",
        ))
    }

    /// One `openat` per component, none following a link: for kernels before 5.6.
    #[cfg(target_os = "linux")]
    fn walk(&self, rel: &str, flags: rustix::fs::OFlags) -> io::Result<File> {
        use rustix::fs::{Mode, OFlags, openat};
        let mut parts = rel
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .peekable();
        let mut at: std::os::fd::OwnedFd = rustix::io::dup(&*self.fd)?;
        while let Some(part) = parts.next() {
            if part == ".." {
                return Err(link());
            }
            let last = parts.peek().is_none();
            let step = if last {
                flags | OFlags::NOFOLLOW
            } else {
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
            };
            at = openat(&at, part, step, Mode::empty()).map_err(|e| match e {
                rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => link(),
                e => e.into(),
            })?;
            if last {
                return Ok(File::from(at));
            }
        }
        // The root itself.
        Ok(File::from(openat(&at, ".", flags, Mode::empty())?))
    }

    /// Elsewhere: the path checked for links component by component, then opened (a
    /// link swapped in between the two is not caught).
    #[cfg(not(target_os = "linux"))]
    fn open_at(&self, key: &str, _dir: bool) -> io::Result<File> {
        let mut path = self.path.clone();
        for part in key.split('/').filter(|p| !p.is_empty()) {
            path.push(part);
            if std::fs::symlink_metadata(&path)?.file_type().is_symlink() {
                return Err(link());
            }
        }
        File::open(path)
    }
}

fn link() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "a symbolic link is on the way")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_not_followed_anywhere_on_the_way() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "secret").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("dir")).unwrap();
        std::fs::write(root.path().join("dir/file"), "ok").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("linked")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("dir/s"))
            .unwrap();
        let r = RootDir::open(root.path()).unwrap();
        let read = |f: io::Result<File>| f.and_then(io::read_to_string);
        assert_eq!(read(r.file("dir/file")).unwrap(), "ok");
        assert_eq!(read(r.file("/dir/file")).unwrap(), "ok");
        for bad in ["linked/secret", "dir/s", "../x", "dir/../../x"] {
            let e = r.file(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "{bad}: {e}");
        }
        assert!(r.dir("linked").is_err());
        assert!(r.dir("dir").is_ok());
        assert!(r.dir("").is_ok());
        #[cfg(target_os = "linux")]
        {
            let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC;
            assert_eq!(read(r.walk("dir/file", flags)).unwrap(), "ok");
            assert!(r.walk("linked/secret", flags).is_err());
            assert!(r.walk("dir/s", flags).is_err());
            assert!(r.walk("dir/../..", flags).is_err());
        }
    }
}
