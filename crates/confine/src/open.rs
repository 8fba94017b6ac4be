//! Path resolution beneath a root descriptor: openat2 with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, or a component-by-component
//! `O_NOFOLLOW` walk where openat2 is missing or the walk is forced.
//!
//! See the module doc of [`crate::root`] for why both exist.
use rustix::fs::{openat, openat2, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once openat2 has returned ENOSYS: the kernel (or a seccomp filter)
/// lacks it, so every later resolution goes straight to the walk.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);
/// Set by [`crate::force_fallback`].
static FORCE_WALK: AtomicBool = AtomicBool::new(false);

/// How often an `EAGAIN` from openat2 is retried. The kernel returns it when
/// a concurrent rename or mount anywhere on the system may have raced the
/// `..` checks of `RESOLVE_BENEATH`; retrying is the documented answer.
const OPENAT2_RETRIES: usize = 8;

pub(crate) fn set_force_walk(on: bool) {
    FORCE_WALK.store(on, Ordering::SeqCst);
}

/// Whether a root that did not itself ask for the walk must use it anyway.
pub(crate) fn global_walk() -> bool {
    FORCE_WALK.load(Ordering::SeqCst) || NO_OPENAT2.load(Ordering::Relaxed)
}

/// A resolution failure: which call failed and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure {
    pub(crate) op: &'static str,
    pub(crate) errno: Errno,
}

/// A directory descriptor that is either the root's own or freshly opened.
pub(crate) enum DirFd<'a> {
    Borrowed(BorrowedFd<'a>),
    Owned(OwnedFd),
}

impl AsFd for DirFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DirFd::Borrowed(fd) => *fd,
            DirFd::Owned(fd) => fd.as_fd(),
        }
    }
}

/// Flags for every directory opened only to serve as a `dirfd`.
fn path_dir_flags() -> OFlags {
    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// Opens the directory `path` ("" for the root itself) beneath `root` as an
/// `O_PATH` descriptor for use as the `dirfd` of an `*at` call. Intermediate
/// symlinks that stay beneath the root are followed under openat2, and
/// refused by the walk.
pub(crate) fn open_parent<'a>(
    root: BorrowedFd<'a>,
    path: &[u8],
    walk: bool,
) -> Result<DirFd<'a>, Failure> {
    if path.is_empty() {
        return Ok(DirFd::Borrowed(root));
    }
    resolve(root, path, path_dir_flags(), Mode::empty(), true, walk).map(DirFd::Owned)
}

/// Opens `path` ("" for the root itself) beneath `root` with `oflags`.
/// With `follow_last` false the last component gets `O_NOFOLLOW`; the walk
/// always uses `O_NOFOLLOW`.
pub(crate) fn resolve(
    root: BorrowedFd<'_>,
    path: &[u8],
    oflags: OFlags,
    mode: Mode,
    follow_last: bool,
    walk: bool,
) -> Result<OwnedFd, Failure> {
    let oflags = oflags | OFlags::CLOEXEC;
    if !walk && !global_walk() {
        match resolve_openat2(root, path, oflags, mode, follow_last) {
            Err(Errno::NOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
            Err(errno) => {
                return Err(Failure {
                    op: "openat2",
                    errno,
                })
            }
            Ok(fd) => return Ok(fd),
        }
    }
    resolve_walk(root, path, oflags, mode)
}

/// Opens the directory `path` beneath `root` as an `O_PATH` descriptor
/// only if no component of it is a symlink (openat2 with
/// `RESOLVE_NO_SYMLINKS`; the walk never follows one anyway). A symlink on
/// the way fails with ELOOP (openat2) or ENOTDIR (walk).
pub(crate) fn open_dir_no_symlinks(
    root: BorrowedFd<'_>,
    path: &[u8],
    walk: bool,
) -> Result<OwnedFd, Failure> {
    let oflags = path_dir_flags() | OFlags::NOFOLLOW;
    if !walk && !global_walk() {
        let path: &[u8] = if path.is_empty() { b"." } else { path };
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_SYMLINKS;
        let mut tries = 0;
        loop {
            match openat2(root, path, oflags, Mode::empty(), how) {
                Err(Errno::AGAIN | Errno::INTR) if tries < OPENAT2_RETRIES => tries += 1,
                Err(Errno::NOSYS) => {
                    NO_OPENAT2.store(true, Ordering::Relaxed);
                    break;
                }
                Err(errno) => {
                    return Err(Failure {
                        op: "openat2",
                        errno,
                    })
                }
                Ok(fd) => return Ok(fd),
            }
        }
    }
    resolve_walk(root, path, oflags, Mode::empty())
}

fn resolve_openat2(
    root: BorrowedFd<'_>,
    path: &[u8],
    mut oflags: OFlags,
    mode: Mode,
    follow_last: bool,
) -> Result<OwnedFd, Errno> {
    if !follow_last {
        oflags |= OFlags::NOFOLLOW;
    }
    let path: &[u8] = if path.is_empty() { b"." } else { path };
    let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let mut tries = 0;
    loop {
        match openat2(root, path, oflags, mode, how) {
            Err(Errno::AGAIN | Errno::INTR) if tries < OPENAT2_RETRIES => tries += 1,
            other => return other,
        }
    }
}

/// The fallback: one `openat` per component, each with `O_NOFOLLOW`, so a
/// symlink anywhere on the path ends the walk with ELOOP or ENOTDIR. The
/// path has no `..` (RelPath guarantees it), so each step goes strictly
/// down from a descriptor already beneath the root.
fn resolve_walk(
    root: BorrowedFd<'_>,
    path: &[u8],
    oflags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, Failure> {
    let fail = |errno| Failure {
        op: "openat",
        errno,
    };
    let mut comps = path.split(|&b| b == b'/').filter(|c| !c.is_empty());
    let Some(mut comp) = comps.next() else {
        return openat(root, ".", oflags | OFlags::NOFOLLOW, mode).map_err(fail);
    };
    let mut cur: Option<OwnedFd> = None;
    for next in comps {
        let dir = cur.as_ref().map_or(root, |fd| fd.as_fd());
        let fd = openat(
            dir,
            comp,
            path_dir_flags() | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(fail)?;
        cur = Some(fd);
        comp = next;
    }
    let dir = cur.as_ref().map_or(root, |fd| fd.as_fd());
    openat(dir, comp, oflags | OFlags::NOFOLLOW, mode).map_err(fail)
}
