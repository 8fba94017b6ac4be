//! A directory opened once for a sender's walk: its names are read from
//! the descriptor, and each entry is stat'ed (and a symlink read) with one
//! `*at` call beneath that same descriptor, instead of resolving the
//! entry's whole path from the root again for every entry.
//!
//! The directory itself is resolved as [`Root::read_dir`] resolves it
//! (beneath the root); what the walk then does inside it takes a single
//! component, never followed, so it cannot leave the directory.
use crate::root::{io_err_bytes, Stat};
use crate::{AmbientAuthority, Error, RelPath, Root};
use rustix::fs::{AtFlags, Mode, OFlags, RawDir};
use rustix::io::Errno;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

/// An open directory of a walk (see the module doc).
#[derive(Debug)]
pub struct Listing {
    /// Shared with the walk's stat helper while it stats in here
    /// (`statahead`).
    fd: Arc<OwnedFd>,
}

impl Root {
    /// Opens the directory `p` beneath this root for a walk, resolved as
    /// [`Root::read_dir`] resolves it.
    pub fn open_listing(&self, p: &RelPath) -> Result<Listing, Error> {
        let fd = self.resolve(p, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty(), true)?;
        Ok(Listing { fd: Arc::new(fd) })
    }
}

impl Listing {
    /// Opens the operator's directory `path` as it is spelled (symlinks
    /// followed), for an operator's own walk without confinement
    /// (`--insecure-links`).
    ///
    /// # Ambient authority
    /// `path` is the operator's, never a peer's.
    pub fn open_ambient(path: &Path, auth: AmbientAuthority) -> Result<Listing, Error> {
        let _ = auth;
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::Io {
            op: "open",
            path: path.to_string_lossy().into_owned(),
            source: e.into(),
        })?;
        Ok(Listing { fd: Arc::new(fd) })
    }

    /// The descriptor, for the stat helper.
    pub(crate) fn shared_fd(&self) -> Arc<OwnedFd> {
        Arc::clone(&self.fd)
    }

    /// Calls `f` with each name in the directory (without "." and ".."),
    /// unsorted, read from its start. The names are borrowed from one
    /// buffer of getdents records: nothing is allocated per name.
    pub fn for_each_name(&self, mut f: impl FnMut(&[u8])) -> Result<(), Error> {
        let err = |e| io_err_bytes("getdents", b".", e);
        rustix::fs::seek(&self.fd, rustix::fs::SeekFrom::Start(0)).map_err(err)?;
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 32 * 1024];
        let mut dir = RawDir::new(&self.fd, &mut buf);
        while let Some(entry) = dir.next() {
            let entry = entry.map_err(err)?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                f(name);
            }
        }
        Ok(())
    }

    /// fstatat(AT_SYMLINK_NOFOLLOW) of the entry `name` (one component);
    /// `Ok(None)` when it is gone.
    pub fn lstat(&self, name: &[u8]) -> Result<Option<Stat>, Error> {
        let name = component(name)?;
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Stat::from_raw(&st))),
            Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
            Err(e) => Err(io_err_bytes("fstatat", name, e)),
        }
    }

    /// Whether this process may read the entry `name` (one component):
    /// faccessat(R_OK) with the real ids, the last component not followed.
    pub fn readable(&self, name: &[u8]) -> bool {
        component(name).is_ok_and(|n| crate::root::readable_at(self.fd.as_fd(), n))
    }

    /// readlinkat of the entry `name` (one component).
    pub fn readlink(&self, name: &[u8]) -> Result<Vec<u8>, Error> {
        let name = component(name)?;
        rustix::fs::readlinkat(&self.fd, name, Vec::new())
            .map(|t| t.into_bytes())
            .map_err(|e| io_err_bytes("readlinkat", name, e))
    }
}

impl AsFd for Listing {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `name` when it is one component: not empty, no slash, not "." or
/// "..", no NUL.
fn component(name: &[u8]) -> Result<&[u8], Error> {
    if !is_component(name) {
        return Err(Error::UnsafePath {
            path: String::from_utf8_lossy(name).into_owned(),
            reason: "not a single component",
        });
    }
    Ok(name)
}

/// Whether `name` is one component: not empty, no slash, not "." or
/// "..", no NUL.
pub(crate) fn is_component(name: &[u8]) -> bool {
    let bad = name.is_empty() || name == b"." || name == b".." || name.contains(&b'/');
    !(bad || name.contains(&0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn lists_and_stats_beneath_the_directory() {
        let dir = tempfile::tempdir().expect("tmp");
        let base = dir.path();
        std::fs::create_dir_all(base.join("d/sub")).expect("mkdir");
        std::fs::write(base.join("d/f"), b"abc").expect("write");
        symlink("../../outside", base.join("d/ln")).expect("ln");
        for walk in [false, true] {
            let root = Root::open_ambient(base, AmbientAuthority::operator())
                .expect("root")
                .with_fallback(walk)
                .following();
            let l = root
                .open_listing(&RelPath::new(b"d").expect("rel"))
                .expect("listing");
            let mut names = Vec::new();
            l.for_each_name(|n| names.push(n.to_vec())).expect("names");
            names.sort();
            assert_eq!(names, vec![b"f".to_vec(), b"ln".to_vec(), b"sub".to_vec()]);
            let f = l.lstat(b"f").expect("stat").expect("exists");
            assert!(f.is_file() && f.size == 3);
            assert!(l.lstat(b"sub").expect("stat").expect("exists").is_dir());
            // The link itself, never its target.
            assert!(l.lstat(b"ln").expect("stat").expect("exists").is_symlink());
            assert_eq!(l.readlink(b"ln").expect("readlink"), b"../../outside");
            assert_eq!(l.lstat(b"gone").expect("stat"), None);
            for bad in [&b"sub/x"[..], b"..", b".", b""] {
                assert!(l.lstat(bad).is_err(), "{bad:?}");
                assert!(l.readlink(bad).is_err(), "{bad:?}");
            }
            // Read twice: the descriptor is kept.
            let mut again = 0;
            l.for_each_name(|_| again += 1).expect("names");
            assert_eq!(again, 3);
        }
    }
}
