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
    oflags: OFlags,
    mode: Mode,
    follow_last: bool,
) -> Result<OwnedFd, Errno> {
    openat2_how(root, path, oflags, mode, follow_last, ResolveFlags::BENEATH)
}

/// As [`resolve_openat2`], resolving as a chroot at `root` would
/// (`RESOLVE_IN_ROOT`: absolute links start at the root, `..` stays there).
fn resolve_openat2_in_root(
    root: BorrowedFd<'_>,
    path: &[u8],
    oflags: OFlags,
    mode: Mode,
    follow_last: bool,
) -> Result<OwnedFd, Errno> {
    openat2_how(root, path, oflags, mode, follow_last, ResolveFlags::IN_ROOT)
}

/// One openat2 with `scope` (BENEATH or IN_ROOT), magic links refused,
/// retried a few times when the kernel asks (EAGAIN after a rename race).
fn openat2_how(
    root: BorrowedFd<'_>,
    path: &[u8],
    mut oflags: OFlags,
    mode: Mode,
    follow_last: bool,
    scope: ResolveFlags,
) -> Result<OwnedFd, Errno> {
    if !follow_last {
        oflags |= OFlags::NOFOLLOW;
    }
    let path: &[u8] = if path.is_empty() { b"." } else { path };
    let how = scope | ResolveFlags::NO_MAGICLINKS;
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

/// Most symlinks one following resolution passes (the kernel's MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// Opens `path` beneath `root` following symlinks wherever they lead, as
/// long as they stay beneath it (intermediate components always; the last
/// one when `follow_last`). With `in_root` the root acts as a chroot would
/// (`RESOLVE_IN_ROOT`): an absolute target starts at the root and `..`
/// stops there. openat2 does it in one call; the fallback walks one
/// component at a time and follows links itself (below).
pub(crate) fn resolve_follow(
    root: BorrowedFd<'_>,
    path: &[u8],
    oflags: OFlags,
    mode: Mode,
    (follow_last, in_root): (bool, bool),
    walk: bool,
) -> Result<OwnedFd, Failure> {
    let oflags = oflags | OFlags::CLOEXEC;
    if !walk && !global_walk() {
        let res = if in_root {
            resolve_openat2_in_root(root, path, oflags, mode, follow_last)
        } else {
            resolve_openat2(root, path, oflags, mode, follow_last)
        };
        match res {
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
    resolve_walk_follow(root, path, oflags, mode, (follow_last, in_root), None)
}

/// Opens `path` beneath `root` as the walk of [`resolve_follow`] does, and
/// also follows a symlink whose target leaves the root only to come back
/// into it along `anchor`, the root's own absolute path (its components):
/// an absolute target under `anchor`, or `..` above the root followed by
/// the names that lead back down to it. Anything that ends outside the
/// root, or passes through any other name outside it, fails with EXDEV.
/// For a root whose links were written with its absolute path in mind
/// ([`crate::Root::anchored`]), after openat2 refused.
pub(crate) fn resolve_anchored(
    root: BorrowedFd<'_>,
    path: &[u8],
    oflags: OFlags,
    mode: Mode,
    follow_last: bool,
    anchor: &[Vec<u8>],
) -> Result<OwnedFd, Failure> {
    let oflags = oflags | OFlags::CLOEXEC;
    resolve_walk_follow(root, path, oflags, mode, (follow_last, false), Some(anchor))
}

/// Opens `path` from `root` following every symlink on the way, wherever
/// it leads (the last component only when `follow_last`): rsync's legacy
/// resolution, for a root whose administrator asked for it (a daemon
/// module with `insecure links = yes`, see [`crate::Root::any_link`]).
/// `path` itself has no `..` and no leading `/` (a `RelPath`), so only a
/// symlink already on disk can lead out. Magic links (`/proc/PID/fd/N`)
/// are still refused where openat2 exists.
pub(crate) fn resolve_any(
    root: BorrowedFd<'_>,
    path: &[u8],
    oflags: OFlags,
    mode: Mode,
    follow_last: bool,
) -> Result<OwnedFd, Failure> {
    let oflags = oflags | OFlags::CLOEXEC;
    match openat2_how(root, path, oflags, mode, follow_last, ResolveFlags::empty()) {
        Err(Errno::NOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
        Err(errno) => {
            return Err(Failure {
                op: "openat2",
                errno,
            })
        }
        Ok(fd) => return Ok(fd),
    }
    let oflags = if follow_last {
        oflags
    } else {
        oflags | OFlags::NOFOLLOW
    };
    let path: &[u8] = if path.is_empty() { b"." } else { path };
    openat(root, path, oflags, mode).map_err(|errno| Failure {
        op: "openat",
        errno,
    })
}

/// The fallback of [`resolve_follow`]: every component is checked with
/// `fstatat(AT_SYMLINK_NOFOLLOW)` and opened with `O_NOFOLLOW` (a link
/// swapped in between fails with ELOOP). A symlink's target is read and
/// its components are walked in its place: an absolute target fails with
/// EXDEV, and `..` returns to the directory descriptor held one level up,
/// failing with EXDEV above the root. With `in_root` an absolute target
/// starts again at the root and `..` at the root stays there, as in a
/// chroot. No `..` is ever resolved by the kernel, so a directory moved
/// meanwhile cannot lead out. With an `anchor` (see [`resolve_anchored`])
/// the walk may stand `above` the root, where it opens nothing and accepts
/// only `..` and the anchor's own names back down.
fn resolve_walk_follow(
    root: BorrowedFd<'_>,
    path: &[u8],
    oflags: OFlags,
    mode: Mode,
    (follow_last, in_root): (bool, bool),
    anchor: Option<&[Vec<u8>]>,
) -> Result<OwnedFd, Failure> {
    use rustix::fs::{readlinkat, statat, AtFlags, FileType};
    use std::collections::VecDeque;
    let fail = |op, errno| Failure { op, errno };
    let comps = |p: &[u8]| -> Vec<Vec<u8>> {
        p.split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .map(<[u8]>::to_vec)
            .collect()
    };
    let mut queue: VecDeque<Vec<u8>> = comps(path).into();
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    // Levels above the root along `anchor` (only ever non-zero with one).
    let mut above = 0usize;
    let anchor_len = anchor.map_or(0, <[Vec<u8>]>::len);
    while let Some(comp) = queue.pop_front() {
        let last = queue.is_empty();
        if comp == b".." {
            if above > 0 {
                above = (above + 1).min(anchor_len);
            } else if stack.pop().is_none() {
                match anchor {
                    Some(_) => above = 1.min(anchor_len),
                    None if in_root => {}
                    None => return Err(fail("openat", Errno::XDEV)),
                }
            }
            continue;
        }
        if let (true, Some(a)) = (above > 0, anchor) {
            // Outside the root only the way back into it is walked.
            if comp != a[anchor_len - above] {
                return Err(fail("openat", Errno::XDEV));
            }
            above -= 1;
            continue;
        }
        let dir = stack.last().map_or(root, |fd| fd.as_fd());
        if last && !follow_last {
            return openat(dir, &comp[..], oflags | OFlags::NOFOLLOW, mode)
                .map_err(|e| fail("openat", e));
        }
        let st =
            statat(dir, &comp[..], AtFlags::SYMLINK_NOFOLLOW).map_err(|e| fail("fstatat", e))?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            links += 1;
            if links > MAX_LINKS {
                return Err(fail("openat", Errno::LOOP));
            }
            let target = readlinkat(dir, &comp[..], Vec::new())
                .map_err(|e| fail("readlinkat", e))?
                .into_bytes();
            if target.is_empty() {
                return Err(fail("openat", Errno::NOENT));
            }
            if target.first() == Some(&b'/') {
                match anchor {
                    _ if in_root => {}
                    Some(_) => above = anchor_len,
                    None => return Err(fail("openat", Errno::XDEV)),
                }
                stack.clear();
            }
            for c in comps(&target).into_iter().rev() {
                queue.push_front(c);
            }
            continue;
        }
        if last {
            return openat(dir, &comp[..], oflags | OFlags::NOFOLLOW, mode)
                .map_err(|e| fail("openat", e));
        }
        let fd = openat(
            dir,
            &comp[..],
            path_dir_flags() | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| fail("openat", e))?;
        stack.push(fd);
    }
    if above > 0 {
        return Err(fail("openat", Errno::XDEV));
    }
    // The path (or a link's target) ended in a directory reached by `..`,
    // or named the root itself.
    let dir = stack.last().map_or(root, |fd| fd.as_fd());
    openat(dir, ".", oflags, mode).map_err(|e| fail("openat", e))
}
