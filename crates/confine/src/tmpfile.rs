//! Files written without a name (O_TMPFILE) and named once complete
//! (linkat with AT_EMPTY_PATH): the receiver's temporary for a new file.
//!
//! Nothing is visible in the destination while the data arrives, nothing
//! is left behind when the run ends early, and the file gets its name in
//! one step, where a named temporary costs a second name and a rename.
//! Where the filesystem has no O_TMPFILE, or the kernel does not let this
//! process name a file by its descriptor (before Linux 6.10 that took
//! CAP_DAC_READ_SEARCH), [`Root::create_unnamed_cached`] says so and the
//! caller makes a named temporary as before.
use crate::open::DirFd;
use crate::root::{injected, io_err, ParentCache, Root};
use crate::{Error, RelPath};
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU8, Ordering};

/// Whether linkat(AT_EMPTY_PATH) names our own descriptors: 0 not known
/// yet, 1 yes, 2 no. The same for every directory of the process.
static NAMES_BY_FD: AtomicU8 = AtomicU8::new(0);

impl Root {
    /// A new regular file with `mode` and no name yet, in the directory
    /// that will hold `p` (kept open in `cache`, as
    /// [`Root::create_excl_cached`] keeps it). `None` when no such file can
    /// be made and named here: the caller makes a named temporary. (The
    /// tests' "open" fault is left to that named temporary.)
    pub fn create_unnamed_cached(
        &self,
        cache: &mut ParentCache,
        p: &RelPath,
        mode: u32,
    ) -> Result<Option<File>, Error> {
        if cache.no_tmpfile || NAMES_BY_FD.load(Ordering::Relaxed) == 2 {
            return Ok(None);
        }
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY;
        let made = with_dir(self, cache, p, |dir, _| {
            rustix::fs::openat(dir, ".", flags, Mode::from_raw_mode(mode))
        })?;
        let fd = match made {
            Ok(fd) => fd,
            // No O_TMPFILE on this filesystem (EISDIR: a kernel before 3.11).
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {
                cache.no_tmpfile = true;
                return Ok(None);
            }
            Err(e) => return Err(io_err("openat", p, e)),
        };
        if NAMES_BY_FD.load(Ordering::Relaxed) == 0 {
            // Naming it "." cannot succeed: EEXIST says the kernel looked
            // the descriptor up (it may name it), ENOENT that it refused.
            let probe = with_dir(self, cache, p, |dir, _| {
                rustix::fs::linkat(&fd, "", dir, ".", AtFlags::EMPTY_PATH)
            })?;
            let names = matches!(probe, Err(Errno::EXIST));
            NAMES_BY_FD.store(if names { 1 } else { 2 }, Ordering::Relaxed);
            if !names {
                return Ok(None);
            }
        }
        Ok(Some(File::from(fd)))
    }

    /// Gives `file`, made by [`Root::create_unnamed_cached`] in the
    /// directory of `p`, the name `p`. Fails with EEXIST when `p` exists
    /// (nothing is replaced).
    pub fn name_unnamed_cached(
        &self,
        cache: &mut ParentCache,
        file: &File,
        p: &RelPath,
    ) -> Result<(), Error> {
        injected("rename", "linkat", p)?;
        with_dir(self, cache, p, |dir, name| {
            rustix::fs::linkat(file, "", dir, name, AtFlags::EMPTY_PATH)
        })?
        .map_err(|e| io_err("linkat", p, e))
    }
}

/// Runs `f` on the directory of `p` (from `cache`, or the root itself)
/// and `p`'s last component.
fn with_dir<T>(
    root: &Root,
    cache: &mut ParentCache,
    p: &RelPath,
    f: impl FnOnce(BorrowedFd<'_>, &[u8]) -> T,
) -> Result<T, Error> {
    let name = p.as_bytes().rsplit(|&b| b == b'/').next().unwrap_or(b"");
    if root.cache_parent(cache, p)? {
        if let Some(dir) = cache.fd.as_ref() {
            return Ok(f(dir.as_fd(), name));
        }
    }
    let (dir, name): (DirFd<'_>, _) = root.parent(p)?;
    Ok(f(dir.as_fd(), name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn unnamed_file_gets_its_name_once_complete() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let root = Root::open_ambient(dir.path(), crate::AmbientAuthority::operator()).unwrap();
        let mut cache = ParentCache::default();
        let p = RelPath::new(b"d/new").unwrap();
        let Some(mut f) = root.create_unnamed_cached(&mut cache, &p, 0o600).unwrap() else {
            // This kernel or filesystem cannot: the caller names a temp.
            return;
        };
        f.write_all(b"data").unwrap();
        // Nothing is visible before it is named.
        assert_eq!(std::fs::read_dir(dir.path().join("d")).unwrap().count(), 0);
        root.name_unnamed_cached(&mut cache, &f, &p).unwrap();
        let mut got = String::new();
        File::open(dir.path().join("d/new"))
            .unwrap()
            .read_to_string(&mut got)
            .unwrap();
        assert_eq!(got, "data");
        // A name in use is not replaced.
        let g = root.create_unnamed_cached(&mut cache, &p, 0o600).unwrap();
        let err = root
            .name_unnamed_cached(&mut cache, g.as_ref().unwrap(), &p)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(Errno::EXIST.raw_os_error()));
        // At the top of the root too.
        let top = RelPath::new(b"top").unwrap();
        let h = root.create_unnamed_cached(&mut cache, &top, 0o600).unwrap();
        root.name_unnamed_cached(&mut cache, h.as_ref().unwrap(), &top)
            .unwrap();
        assert!(dir.path().join("top").is_file());
    }
}
