//! Extended attributes of any kind of file beneath a [`Root`] (regular
//! files, directories, FIFOs, sockets and device nodes; never a symlink),
//! for the ACLs that `-A` reads and writes (`system.posix_acl_access`,
//! `system.posix_acl_default`) and their `--fake-super` stand-ins.
//!
//! The item is pinned by an `O_PATH | O_NOFOLLOW` descriptor opened beneath
//! the root, so nothing is opened for reading (a device cannot react, a
//! FIFO cannot block, a mode-0300 directory is reachable) and a name
//! swapped for a symlink is seen as the symlink and left alone. The
//! attribute is then read or written through the descriptor's
//! `/proc/self/fd/N` entry, which names that very inode. Where `/proc` is
//! missing (a chroot), regular files, directories and FIFOs are reopened
//! read-only beneath the root and handled with `fgetxattr`/`fsetxattr`
//! after checking that the reopened item is the pinned one.
use crate::root::{file_type, io_err};
use crate::{Error, FileType, RelPath, Root};
use rustix::fd::{AsRawFd, OwnedFd};
use rustix::fs::{Mode, OFlags, XattrFlags};
use rustix::io::Errno;

/// What one attribute operation does.
enum Op<'a> {
    Get(&'a mut [u8]),
    Set(&'a [u8]),
    Remove,
}

impl Root {
    /// The attribute `name` of `p` (its last component not followed), at
    /// most `max` bytes; `Ok(None)` when it is absent, the filesystem has
    /// none, or `p` is a symlink. Too big a value is an error (ERANGE).
    pub fn get_node_xattr(
        &self,
        p: &RelPath,
        name: &str,
        max: usize,
    ) -> Result<Option<Vec<u8>>, Error> {
        let mut buf = vec![0u8; max];
        match self.node_xattr(p, name, Op::Get(&mut buf)) {
            Ok(Some(n)) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Ok(None) => Ok(None),
            Err(Errno::NODATA | Errno::NOTSUP) => Ok(None),
            Err(e) => Err(io_err("getxattr", p, e)),
        }
    }

    /// Sets (`Some`) or removes (`None`) the attribute `name` of `p` (its
    /// last component not followed; a symlink is left alone). Removing an
    /// absent attribute is no error.
    pub fn set_node_xattr(
        &self,
        p: &RelPath,
        name: &str,
        value: Option<&[u8]>,
    ) -> Result<(), Error> {
        let op = match value {
            Some(v) => Op::Set(v),
            None => Op::Remove,
        };
        match self.node_xattr(p, name, op) {
            Ok(_) | Err(Errno::NODATA) => Ok(()),
            Err(e) => Err(io_err("setxattr", p, e)),
        }
    }

    /// `Ok(None)` for a symlink (or an item that vanished into one).
    fn node_xattr(&self, p: &RelPath, name: &str, op: Op<'_>) -> Result<Option<usize>, Errno> {
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let pin = self
            .resolve(p, flags, Mode::empty(), false)
            .map_err(errno_of)?;
        let st = rustix::fs::fstat(&pin)?;
        let ft = file_type(st.st_mode as u32);
        if ft == FileType::Symlink {
            return Ok(None);
        }
        let proc_path = format!("/proc/self/fd/{}", pin.as_raw_fd());
        let mut op = op;
        match run(Target::Path(&proc_path), name, &mut op) {
            Err(Errno::NOENT) if rustix::fs::fstat(&pin).is_ok() => {
                // No /proc: reopen what can be opened without side effects
                // (not a device node, not a socket).
                let fmt = st.st_mode as u32 & 0o170000;
                if !matches!(ft, FileType::File | FileType::Dir) && fmt != 0o010000 {
                    return Err(Errno::NOTSUP);
                }
                let fd = self
                    .resolve(
                        p,
                        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::NOFOLLOW,
                        Mode::empty(),
                        false,
                    )
                    .map_err(errno_of)?;
                let again = rustix::fs::fstat(&fd)?;
                if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) {
                    return Err(Errno::STALE);
                }
                run(Target::Fd(&fd), name, &mut op)
            }
            other => other,
        }
    }
}

enum Target<'a> {
    Path(&'a str),
    Fd(&'a OwnedFd),
}

fn run(t: Target<'_>, name: &str, op: &mut Op<'_>) -> Result<Option<usize>, Errno> {
    let none = XattrFlags::empty();
    match (t, op) {
        (Target::Path(p), Op::Get(buf)) => rustix::fs::getxattr(p, name, &mut buf[..]).map(Some),
        (Target::Path(p), Op::Set(v)) => rustix::fs::setxattr(p, name, v, none).map(|_| Some(0)),
        (Target::Path(p), Op::Remove) => rustix::fs::removexattr(p, name).map(|_| Some(0)),
        (Target::Fd(fd), Op::Get(buf)) => rustix::fs::fgetxattr(fd, name, &mut buf[..]).map(Some),
        (Target::Fd(fd), Op::Set(v)) => rustix::fs::fsetxattr(fd, name, v, none).map(|_| Some(0)),
        (Target::Fd(fd), Op::Remove) => rustix::fs::fremovexattr(fd, name).map(|_| Some(0)),
    }
}

fn errno_of(e: Error) -> Errno {
    match e {
        Error::Io { source, .. } => source
            .raw_os_error()
            .map(Errno::from_raw_os_error)
            .unwrap_or(Errno::IO),
        Error::UnsafePath { .. } => Errno::ACCESS,
    }
}
