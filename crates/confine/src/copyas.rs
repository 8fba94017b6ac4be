//! `--copy-as`: the uid/gid switch of the whole process, through the C
//! library's wrappers (which apply it to every thread, unlike the raw
//! per-thread system calls of [`crate::privdrop`]): a thin wrapper, the
//! only unsafe code being the three calls.
#![allow(unsafe_code)]

use crate::privdrop::{to_gid, to_uid, PrivDropError};
use std::io;

/// `--copy-as`: the whole process (every thread, through the C library's
/// wrappers, which signal each thread) takes `uid`, `gid` and the
/// supplementary `groups`, in upstream's order: setgid, setgroups, then
/// setuid (real, effective and saved uids).
// upstream: main.c:become_copy_as_user()
pub fn become_copy_as(uid: u32, gid: u32, groups: &[u32]) -> Result<(), PrivDropError> {
    let uid = to_uid(uid)?.as_raw();
    let gid = to_gid(gid)?.as_raw();
    let last = || PrivDropError::Call {
        op: "",
        source: io::Error::last_os_error(),
    };
    let named = |op: &'static str, e: PrivDropError| match e {
        PrivDropError::Call { source, .. } => PrivDropError::Call { op, source },
        other => other,
    };
    // SAFETY: setresgid takes plain integers and changes no memory.
    if unsafe { libc::setresgid(gid, gid, gid) } != 0 {
        return Err(named("setgid", last()));
    }
    // SAFETY: the pointer and length describe `groups`, a live slice of
    // gid_t (u32) that setgroups only reads.
    if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0 {
        return Err(named("setgroups", last()));
    }
    // SAFETY: setresuid takes plain integers and changes no memory.
    if unsafe { libc::setresuid(uid, uid, uid) } != 0 {
        return Err(named("setuid", last()));
    }
    if rustix::process::geteuid().as_raw() != uid || rustix::process::getegid().as_raw() != gid {
        return Err(PrivDropError::NotDropped {
            detail: "the ids did not change".into(),
        });
    }
    Ok(())
}
