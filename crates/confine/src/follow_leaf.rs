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
use crate::{Error, RelPath, Root};
use rustix::fs::{AtFlags, Mode, OFlags};
use std::fs::File;

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
