//! Extended attributes through descriptors (`flistxattr`, `fgetxattr`,
//! `fsetxattr`, `fremovexattr`): never a path-based call on a peer's
//! path. A file or directory beneath a [`Root`] is opened beneath it
//! (O_NOFOLLOW, O_NONBLOCK) and handled through that descriptor; other
//! kinds of file (symlinks, devices, FIFOs, sockets) are left alone, as
//! opening a device could make it act, and Linux keeps no user xattrs on
//! symlinks.
use crate::path::RelPath;
use crate::root::Root;
use crate::Error;
use rustix::io::Errno;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// Longest value read from a local file (Linux allows 64 KiB; upstream
/// bounds values at 128 MiB).
pub const MAX_VALUE: usize = 128 << 20;
/// Longest name list read from a local file.
const MAX_NAMES: usize = 16 << 20;

fn name_arg(name: &[u8]) -> &OsStr {
    OsStr::from_bytes(name)
}

/// The names of the descriptor's extended attributes (unsorted).
/// Empty when the filesystem has none.
pub fn fd_list<F: AsFd>(fd: F) -> Result<Vec<Vec<u8>>, Errno> {
    let mut buf = vec![0u8; 1024];
    loop {
        match rustix::fs::flistxattr(&fd, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                break;
            }
            Err(Errno::NOTSUP) => return Ok(Vec::new()),
            Err(Errno::RANGE) if buf.len() < MAX_NAMES => {
                let want: usize = rustix::fs::flistxattr(&fd, &mut [0u8; 0][..])?;
                buf.resize(want.clamp(buf.len() * 2, MAX_NAMES), 0);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(buf
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// The value of `name` on the descriptor; None when it is absent.
pub fn fd_get<F: AsFd>(fd: F, name: &[u8]) -> Result<Option<Vec<u8>>, Errno> {
    let mut buf = vec![0u8; 256];
    loop {
        match rustix::fs::fgetxattr(&fd, name_arg(name), &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(Errno::NODATA | Errno::NOTSUP) => return Ok(None),
            Err(Errno::RANGE) if buf.len() < MAX_VALUE => {
                let want: usize = rustix::fs::fgetxattr(&fd, name_arg(name), &mut [0u8; 0][..])?;
                buf.resize(want.clamp(buf.len() * 2, MAX_VALUE), 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sets `name` to `value` on the descriptor.
pub fn fd_set<F: AsFd>(fd: F, name: &[u8], value: &[u8]) -> Result<(), Errno> {
    rustix::fs::fsetxattr(&fd, name_arg(name), value, rustix::fs::XattrFlags::empty())
}

/// Removes `name` from the descriptor (absent is no error).
pub fn fd_remove<F: AsFd>(fd: F, name: &[u8]) -> Result<(), Errno> {
    match rustix::fs::fremovexattr(&fd, name_arg(name)) {
        Err(Errno::NODATA) => Ok(()),
        other => other,
    }
}

impl Root {
    /// A descriptor for the xattrs of `p` when it is a regular file or a
    /// directory (opened beneath the root, its last component not
    /// followed, O_NONBLOCK); None for any other kind of file or when it
    /// is absent.
    pub fn xattr_fd(&self, p: &RelPath) -> Result<Option<OwnedFd>, Error> {
        match self.open_for_xattr(p) {
            Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc_enoent()) => {
                Ok(None)
            }
            other => other,
        }
    }
}

fn libc_enoent() -> i32 {
    Errno::NOENT.raw_os_error()
}
