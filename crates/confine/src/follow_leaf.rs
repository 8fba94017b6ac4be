//! A sender's reads beneath a transfer root, for the symlinks the operator
//! asked to follow (`-L`, `-k`, `--copy-unsafe-links`).
//!
//! The directory holding the item is resolved beneath the [`Root`] as
//! every other call does (a component raced into a symlink that leaves the
//! root fails with EXDEV); only the last component, a symlink the scan saw
//! and chose to follow, is followed by the kernel wherever it leads, as
//! rsync follows it. A source tree's owner therefore cannot turn a
//! directory the scan walked into a way out of the tree; a link that was
//! a link when the list was built is followed as the options say.
use crate::root::{io_err, Stat};
use crate::{Error, ParentCache, RelPath, Root};
use rustix::fs::{AtFlags, Mode, OFlags};
use std::fs::File;
use std::os::fd::AsFd;

/// How the last component of a file a sender opens is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceLeaf {
    /// Never followed: a symlink there fails with ELOOP
    /// ([`Root::open_source`] without `follow_leaf`).
    NoFollow,
    /// Followed wherever it leads: a link the scan followed (`-L`, `-k`;
    /// [`Root::open_source`] with `follow_leaf`).
    Anywhere,
    /// Followed while it stays beneath the root (a daemon module,
    /// [`Root::open_read_follow`]).
    Beneath,
}

impl Root {
    /// stat of `p`, its last component followed wherever it leads and the
    /// rest resolved beneath the root; `Ok(None)` if it does not exist
    /// (ENOENT, ENOTDIR).
    pub fn stat_leaf_follow(&self, p: &RelPath) -> Result<Option<Stat>, Error> {
        let (dir, name) = match self.parent(p) {
            Ok(parent) => parent,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        match rustix::fs::statat(&dir, name, AtFlags::empty()) {
            Ok(st) => Ok(Some(Stat::from_raw(&st))),
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => Ok(None),
            Err(e) => Err(io_err("fstatat", p, e)),
        }
    }

    /// Opens the file `p` read-only for sending (O_NONBLOCK while opening,
    /// so a FIFO cannot hang it; O_NOATIME when `noatime`). Its directory
    /// is resolved beneath the root; the last component is followed
    /// wherever it leads when `follow_leaf`, and never followed otherwise
    /// (a symlink there fails with ELOOP).
    pub fn open_source(
        &self,
        p: &RelPath,
        noatime: bool,
        follow_leaf: bool,
    ) -> Result<File, Error> {
        let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        if noatime {
            flags |= OFlags::NOATIME;
        }
        let fd = if follow_leaf {
            let (dir, name) = self.parent(p)?;
            rustix::fs::openat(&dir, name, flags, Mode::empty())
                .map_err(|e| io_err("openat", p, e))?
        } else {
            self.resolve(p, flags, Mode::empty(), false)?
        };
        crate::root::clear_nonblock(&fd, flags).map_err(|e| io_err("fcntl", p, e))?;
        Ok(File::from(fd))
    }

    /// Opens the file `p` to send, as [`Root::open_source`] (`leaf`
    /// [`SourceLeaf::NoFollow`] or [`SourceLeaf::Anywhere`]) or
    /// [`Root::open_read_follow`] ([`SourceLeaf::Beneath`]) open it, and
    /// returns it with its fstat. `p`'s parent directory, resolved beneath
    /// the root exactly as those resolve it, is kept open in `cache`, and
    /// the next file of the same directory is opened beneath that handle:
    /// its one name by openat2 with the same `RESOLVE_*` flags (openat for
    /// a leaf followed anywhere), never `..` (a [`RelPath`] has none). A
    /// leaf that fails there (a symlink leading out of the directory, a
    /// file gone) is opened again from the root as those functions do, so
    /// errors and links read as without the cache. O_NONBLOCK (a FIFO
    /// cannot hang the open) is left on a regular file, where it means
    /// nothing, and cleared on anything else.
    pub fn open_source_cached(
        &self,
        cache: &mut ParentCache,
        p: &RelPath,
        noatime: bool,
        leaf: SourceLeaf,
    ) -> Result<(File, Stat), Error> {
        let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        if noatime {
            flags |= OFlags::NOATIME;
        }
        let cached = match self.cache_parent(cache, p) {
            Ok(true) => cache.fd.as_ref().and_then(|dir| {
                let name = p.as_bytes().rsplit(|&b| b == b'/').next()?;
                self.open_in(dir.as_fd(), name, flags, leaf).ok()
            }),
            _ => None,
        };
        let fd = match cached {
            Some(fd) => fd,
            None => match leaf {
                SourceLeaf::Beneath => self.resolve(p, flags, Mode::empty(), true)?,
                SourceLeaf::NoFollow => self.resolve(p, flags, Mode::empty(), false)?,
                SourceLeaf::Anywhere => {
                    let (dir, name) = self.parent(p)?;
                    rustix::fs::openat(&dir, name, flags, Mode::empty())
                        .map_err(|e| io_err("openat", p, e))?
                }
            },
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| io_err("fstat", p, e))?;
        let st = Stat::from_raw(&st);
        if st.file_type != crate::FileType::File {
            crate::root::clear_nonblock(&fd, flags).map_err(|e| io_err("fcntl", p, e))?;
        }
        Ok((File::from(fd), st))
    }

    /// The one name `name` in the directory `dir` (beneath this root),
    /// opened with `flags` as `leaf` says: beneath `dir` (a link leading
    /// out of it fails, and the caller resolves again from the root).
    fn open_in(
        &self,
        dir: std::os::fd::BorrowedFd<'_>,
        name: &[u8],
        flags: OFlags,
        leaf: SourceLeaf,
    ) -> Result<std::os::fd::OwnedFd, crate::open::Failure> {
        let walk = self.uses_fallback();
        match leaf {
            SourceLeaf::NoFollow => {
                crate::open::resolve(dir, name, flags, Mode::empty(), false, walk)
            }
            SourceLeaf::Beneath => {
                crate::open::resolve_follow(dir, name, flags, Mode::empty(), (true, false), walk)
            }
            SourceLeaf::Anywhere => {
                rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(|errno| {
                    crate::open::Failure {
                        op: "openat",
                        errno,
                    }
                })
            }
        }
    }

    /// A new root for the directory the symlink `p` leads to: its
    /// directory resolved beneath this root, the link itself followed
    /// wherever it leads (`-L`, `-k`). The new root resolves as this one
    /// does, beneath itself.
    pub fn open_dir_leaf_follow(&self, p: &RelPath) -> Result<Root, Error> {
        let (dir, name) = self.parent(p)?;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&dir, name, flags, Mode::empty())
            .map_err(|e| io_err("openat", p, e))?;
        Ok(self.sub(fd))
    }
}

fn missing(e: &Error) -> bool {
    matches!(e.raw_os_error(), Some(n) if n == rustix::io::Errno::NOENT.raw_os_error() || n == rustix::io::Errno::NOTDIR.raw_os_error())
}
