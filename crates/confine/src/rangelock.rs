//! Byte-range record locks, which rustix does not offer (its `fcntl_lock`
//! always locks the whole file). A daemon's `max connections` takes one
//! 4-byte range of one lock file per connection, as upstream does, so an
//! oxsync daemon and an rsync daemon sharing a lock file count together.
//!
//! The locks are open-file-description locks (`F_OFD_SETLK`): they belong
//! to the descriptor, not to the process, so two claims in one process
//! conflict as two processes do, closing another descriptor of the file
//! does not drop them, and the kernel drops them when the last descriptor
//! of the description closes (a crashed session never leaks its slot).
//! They conflict with the classic `F_SETLK` locks upstream rsync takes.
#![allow(unsafe_code)]

use rustix::io::Errno;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Takes an exclusive lock on bytes `start..start + len` of `fd` without
/// waiting: `Ok(true)` when taken, `Ok(false)` when another description
/// holds a lock on part of the range.
// upstream: util1.c:lock_range()
pub fn try_lock_range(fd: BorrowedFd<'_>, start: u64, len: u64) -> io::Result<bool> {
    let bad = || io::Error::from(Errno::INVAL);
    let lock = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: libc::off_t::try_from(start).map_err(|_| bad())?,
        l_len: libc::off_t::try_from(len).map_err(|_| bad())?,
        // Must be 0 for an open-file-description lock.
        l_pid: 0,
    };
    // SAFETY: `fd` is a live descriptor borrowed for the call, and `lock`
    // is a fully initialised `struct flock` that outlives it; F_OFD_SETLK
    // only reads it.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &lock) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(n) if n == libc::EAGAIN || n == libc::EACCES => Ok(false),
        _ => Err(e),
    }
}
