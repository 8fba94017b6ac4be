//! chroot, the uid/gid drop and no_new_privs for a daemon connection
//! (ARCHITECTURE.md, "The order of a daemon session", step 4).
//!
//! # Threads
//! The kernel keeps credentials per thread. These functions make the raw
//! system calls (through rustix), which change only the calling thread,
//! unlike the C library's wrappers that signal every thread of the process.
//! Call them in the connection process before it spawns any thread: a
//! thread created earlier would keep root's credentials.

use rustix::process::{Gid, Uid};
use std::io;
use std::path::Path;

use crate::AmbientAuthority;

/// A privilege-dropping step failed. The session must not continue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivDropError {
    /// A system call failed.
    #[error("{op} failed: {source}")]
    Call {
        /// The call, e.g. "setgroups", "setresuid", "chroot".
        op: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An id cannot be used (`-1` means "unchanged" to the kernel).
    #[error("invalid {what} {id}")]
    InvalidId {
        /// "uid" or "gid".
        what: &'static str,
        /// The id.
        id: u32,
    },
    /// The credentials after the drop are not the ones asked for, or root
    /// could be regained.
    #[error("privileges not dropped: {detail}")]
    NotDropped {
        /// What was found.
        detail: String,
    },
}

fn call(op: &'static str) -> impl FnOnce(rustix::io::Errno) -> PrivDropError {
    move |e| PrivDropError::Call {
        op,
        source: e.into(),
    }
}

/// Sets no_new_privs on the calling thread (inherited by its children):
/// from now on exec cannot gain privileges through set-user-id bits or
/// file capabilities.
pub fn set_no_new_privs() -> Result<(), PrivDropError> {
    rustix::thread::set_no_new_privs(true).map_err(call("prctl(PR_SET_NO_NEW_PRIVS)"))
}

/// Changes the root directory to `path` and the working directory to the
/// new `/`.
///
/// # Ambient authority
/// `path` is the operator's (the module path), never the peer's.
pub fn chroot(path: &Path, auth: AmbientAuthority) -> Result<(), PrivDropError> {
    let _ = auth;
    rustix::process::chroot(path).map_err(call("chroot"))?;
    rustix::process::chdir("/").map_err(call("chdir"))
}

/// Drops to `uid`, `gid` and the supplementary `groups`, in that order of
/// safety: setgroups, then setresgid, then setresuid (real, effective and
/// saved ids alike), and checks the result. When `uid` is not 0, it also
/// checks that root cannot be regained.
///
/// Must be called before the process creates any thread (see the module
/// doc). When `uid` and `gid` are the current ones and `groups` is empty,
/// it still clears the supplementary groups.
pub fn drop_privileges(uid: u32, gid: u32, groups: &[u32]) -> Result<(), PrivDropError> {
    let uid = to_uid(uid)?;
    let gid = to_gid(gid)?;
    let groups = groups
        .iter()
        .map(|&g| to_gid(g))
        .collect::<Result<Vec<Gid>, _>>()?;

    rustix::thread::set_thread_groups(&groups).map_err(call("setgroups"))?;
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(call("setresgid"))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(call("setresuid"))?;
    let (rgid, egid) = (rustix::process::getgid(), rustix::process::getegid());
    if rgid != gid || egid != gid {
        return Err(PrivDropError::NotDropped {
            detail: format!("gid {}/{}", rgid.as_raw(), egid.as_raw()),
        });
    }
    check_uid(uid)
}

/// After setresuid(`uid`): the real and effective uid are `uid`, and root
/// cannot be regained when `uid` is not root.
fn check_uid(uid: Uid) -> Result<(), PrivDropError> {
    let (ruid, euid) = (rustix::process::getuid(), rustix::process::geteuid());
    if ruid != uid || euid != uid {
        return Err(PrivDropError::NotDropped {
            detail: format!("uid {}/{}", ruid.as_raw(), euid.as_raw()),
        });
    }
    if !uid.is_root() && rustix::thread::set_thread_uid(Uid::ROOT).is_ok() {
        return Err(PrivDropError::NotDropped {
            detail: "setuid(0) succeeded after the drop".into(),
        });
    }
    Ok(())
}

/// The daemon's own group (`daemon gid`): the real, effective and saved
/// gid become `gid`; as root, the supplementary groups become `gid` alone
/// (upstream's setgid() keeps root's). Before any thread, as
/// [`drop_privileges`].
pub fn set_daemon_gid(gid: u32) -> Result<(), PrivDropError> {
    let gid = to_gid(gid)?;
    if rustix::process::geteuid().is_root() {
        rustix::thread::set_thread_groups(&[gid]).map_err(call("setgroups"))?;
    }
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(call("setresgid"))
}

/// The daemon's own user (`daemon uid`): the real, effective and saved uid
/// become `uid`, checked as [`drop_privileges`] checks them. Before any
/// thread.
pub fn set_daemon_uid(uid: u32) -> Result<(), PrivDropError> {
    let uid = to_uid(uid)?;
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(call("setresuid"))?;
    check_uid(uid)
}

pub(crate) fn to_uid(id: u32) -> Result<Uid, PrivDropError> {
    if id == u32::MAX {
        return Err(PrivDropError::InvalidId { what: "uid", id });
    }
    Ok(Uid::from_raw(id))
}

pub(crate) fn to_gid(id: u32) -> Result<Gid, PrivDropError> {
    if id == u32::MAX {
        return Err(PrivDropError::InvalidId { what: "gid", id });
    }
    Ok(Gid::from_raw(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minus_one_is_refused() {
        // Refused before any system call, so this does not touch the
        // (shared) test process's credentials.
        assert!(matches!(
            drop_privileges(u32::MAX, 0, &[]),
            Err(PrivDropError::InvalidId { what: "uid", .. })
        ));
        assert!(matches!(
            drop_privileges(1000, 1000, &[u32::MAX]),
            Err(PrivDropError::InvalidId { what: "gid", .. })
        ));
    }
}
