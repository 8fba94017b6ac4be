//! Operator-named paths: the destination, `--log-file`, `--temp-dir`,
//! `--files-from`, a daemon's `secrets file` and the like.
//!
//! Such a path is the operator's, so it may leave any tree and follow
//! symlinks; but a symlink on it that *another user* planted (in a shared
//! `/tmp`, a user's home that root backs up) must not redirect root's
//! writes or reads. As rsync 3.5.0 does, the path is walked one component at
//! a time with `fstatat(AT_SYMLINK_NOFOLLOW)` and `openat(O_NOFOLLOW)`; a
//! symlink owned by root or by this process's effective user is followed
//! (its target spliced into the rest of the path), any other one ends the
//! walk with ELOOP. The caller gets the descriptor the walk opened, never a
//! path to open again, so nothing can be swapped between check and use.
//!
//! [`Links::Insecure`] (`--insecure-links`, a daemon's `insecure links`)
//! restores the plain `open(2)` that follows every symlink.
//!
//! `--confine-root=DIR` ([`confine_within`]) bounds every walk of the
//! process: each directory it passes through must be DIR, inside it or
//! above it on the way down, and what it opens must be inside DIR; a walk
//! that steps anywhere else ends with ELOOP, as upstream's
//! abspath_outside_confinement() refusal does.
use rustix::fs::{openat, readlinkat, statat, AtFlags, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;
use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The `--confine-root` of this process, once set.
static CONFINEMENT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Bounds every later operator-path walk of this process to `root` (an
/// absolute path; its symlinks are resolved here, once, since the walk
/// compares physical paths). A second call keeps the first root.
pub fn confine_within(root: &Path) {
    let physical = std::fs::canonicalize(root).unwrap_or_else(|_| normalize(root));
    let _ = CONFINEMENT.set(physical);
}

/// The `--confine-root` in force, if any.
pub fn confinement() -> Option<&'static Path> {
    CONFINEMENT.get().map(PathBuf::as_path)
}

/// `path` with `.` components and repeated slashes dropped and each `..`
/// taking away the component before it (lexically, as upstream's
/// normalize_path()); `..` above `/` stays at `/`.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from(if path.is_absolute() { "/" } else { "" });
    for comp in path.as_os_str().as_bytes().split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if !out.pop() && !path.is_absolute() {
                    out.push("..");
                }
            }
            c => out.push(std::ffi::OsStr::from_bytes(c)),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Whether a walk standing at `at` (physical, absolute) is still allowed
/// by the confinement: inside the root, or (`passing`) an ancestor of it
/// on the way down.
fn allowed(at: &Path, passing: bool) -> bool {
    match confinement() {
        None => true,
        Some(root) => at.starts_with(root) || (passing && root.starts_with(at)),
    }
}

/// How many symlinks one walk follows before giving up (Linux's limit).
const MAX_FOLLOW: usize = 40;
/// Longest path (after splicing link targets) a walk accepts.
const MAX_PATH: usize = 4096;

/// Which symlinks an operator path may pass through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Only symlinks owned by root or the effective user (the default).
    Trusted,
    /// Any symlink (`--insecure-links`).
    Insecure,
    /// As `Trusted`, for the destination the operator named, which
    /// `--confine-root` does not bound (upstream confines the paths a
    /// server opens on its own: merge and list files, the update and basis
    /// directories; the destination is the transfer itself).
    Destination,
}

impl Links {
    /// `Insecure` when `insecure` is true.
    pub fn from_insecure(insecure: bool) -> Links {
        if insecure {
            Links::Insecure
        } else {
            Links::Trusted
        }
    }

    /// These links for opening the destination ([`Links::Destination`]
    /// unless insecure).
    pub fn for_destination(self) -> Links {
        match self {
            Links::Insecure => Links::Insecure,
            _ => Links::Destination,
        }
    }
}

/// What an operator-path walk opened: the descriptor and the physical
/// absolute path it reached (symlinks resolved), for messages and for
/// relating two operator paths.
#[derive(Debug)]
pub struct Opened {
    /// The opened file or directory.
    pub fd: OwnedFd,
    /// Its absolute path with every followed symlink resolved.
    pub path: PathBuf,
}

/// Opens the operator path `path` with `flags` (and `mode` for O_CREAT),
/// following only the symlinks `links` allows. A refused symlink is
/// `Errno::LOOP`. A path that ends in a directory ("/", ".", "a/..") opens
/// that directory with `flags`.
pub fn open(path: &Path, flags: OFlags, mode: u32, links: Links) -> Result<Opened, Errno> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(Errno::NOENT);
    }
    if links == Links::Insecure {
        let fd = rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::from_raw_mode(mode))?;
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| absolute(path));
        return Ok(Opened { fd, path: abs });
    }
    let mut walk = Walk::start(bytes)?;
    walk.bounded = links != Links::Destination;
    walk.run(flags | OFlags::CLOEXEC, Mode::from_raw_mode(mode))
}

/// [`open`] for a file, as a `std::fs::File` with an `io::Error`.
pub fn open_file(path: &Path, flags: OFlags, mode: u32, links: Links) -> std::io::Result<File> {
    Ok(File::from(
        open(path, flags | OFlags::NOCTTY, mode, links)?.fd,
    ))
}

/// Reads the whole operator-named file `path` (a `--files-from` list, an
/// `--exclude-from` file, a password or secrets file).
pub fn read(path: &Path, links: Links) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    open_file(path, OFlags::RDONLY, 0, links)?.read_to_end(&mut data)?;
    Ok(data)
}

/// Opens the directory `path`'s parent with the walk (as [`open`], for an
/// `O_PATH` directory) and returns it with the last component, for a caller
/// that creates or removes that component with an `*at` call.
pub fn open_parent(path: &Path, links: Links) -> Result<(Opened, Vec<u8>), Errno> {
    let bytes = path.as_os_str().as_bytes();
    let trimmed = trim_slashes(bytes);
    let (dir, name) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(0) => (&b"/"[..], &trimmed[1..]),
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (&b"."[..], trimmed),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return Err(Errno::INVAL);
    }
    let dir = Path::new(std::ffi::OsStr::from_bytes(dir));
    let parent = open(dir, OFlags::PATH | OFlags::DIRECTORY, 0, links)?;
    Ok((parent, name.to_vec()))
}

fn trim_slashes(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 1 && b[end - 1] == b'/' {
        end -= 1;
    }
    &b[..end]
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir().unwrap_or_default().join(path)
}

fn dir_flags() -> OFlags {
    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW
}

/// The state of one walk: the directory reached, its physical path, and
/// the components still to resolve.
struct Walk {
    dir: OwnedFd,
    at: PathBuf,
    rest: VecDeque<Vec<u8>>,
    followed: usize,
    euid: u32,
    /// Walking an fd pin (`/proc/self/fd/N`, `/dev/fd/N`): spelled outside
    /// any confinement by construction, so the check waits until the
    /// magic link is followed and the walk restarts at its target.
    pin: bool,
    /// Whether `--confine-root` bounds this walk.
    bounded: bool,
}

impl Walk {
    fn start(path: &[u8]) -> Result<Walk, Errno> {
        let (dir, at) = if path.starts_with(b"/") {
            (
                rustix::fs::open("/", dir_flags(), Mode::empty())?,
                PathBuf::from("/"),
            )
        } else {
            let at = std::env::current_dir().map_err(|e| {
                Errno::from_raw_os_error(e.raw_os_error().unwrap_or(Errno::NOENT.raw_os_error()))
            })?;
            (openat(CWD, ".", dir_flags(), Mode::empty())?, at)
        };
        let mut walk = Walk {
            dir,
            at,
            rest: VecDeque::new(),
            followed: 0,
            euid: rustix::process::geteuid().as_raw(),
            pin: path.starts_with(b"/proc/self/fd/") || path.starts_with(b"/dev/fd/"),
            bounded: true,
        };
        walk.splice(path)?;
        Ok(walk)
    }

    /// Puts the components of `path` in front of the ones still to walk.
    fn splice(&mut self, path: &[u8]) -> Result<(), Errno> {
        let len: usize = self.rest.iter().map(|c| c.len() + 1).sum::<usize>() + path.len();
        if len > MAX_PATH {
            return Err(Errno::NAMETOOLONG);
        }
        for comp in path.rsplit(|&b| b == b'/') {
            if !comp.is_empty() && comp != b"." {
                self.rest.push_front(comp.to_vec());
            }
        }
        Ok(())
    }

    fn run(mut self, flags: OFlags, mode: Mode) -> Result<Opened, Errno> {
        while let Some(comp) = self.rest.pop_front() {
            let last = self.rest.is_empty();
            if comp == b".." {
                self.dir = openat(&self.dir, "..", dir_flags(), Mode::empty())?;
                self.at.pop();
                self.check(true)?;
                continue;
            }
            let st = match statat(&self.dir, comp.as_slice(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::NOENT) if last && flags.contains(OFlags::CREATE) => {
                    return self.finish(&comp, flags, mode);
                }
                Err(e) => return Err(e),
            };
            if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                self.follow(&comp, st.st_uid)?;
                continue;
            }
            if last {
                return self.finish(&comp, flags, mode);
            }
            // O_DIRECTORY|O_NOFOLLOW: a symlink swapped in since the
            // fstatat fails here instead of being followed.
            self.at.push(std::ffi::OsStr::from_bytes(&comp));
            self.check(true)?;
            self.dir = openat(&self.dir, comp.as_slice(), dir_flags(), Mode::empty())?;
        }
        // The path ended in a directory ("/", ".", "a/.."): reopen it.
        self.check(false)?;
        let fd = openat(&self.dir, ".", flags, mode)?;
        Ok(Opened { fd, path: self.at })
    }

    /// A symlink named `comp`, owned by `uid`: refused unless root's or
    /// ours, else its target replaces it in the path.
    fn follow(&mut self, comp: &[u8], uid: u32) -> Result<(), Errno> {
        if uid != 0 && uid != self.euid {
            return Err(Errno::LOOP);
        }
        self.followed += 1;
        if self.followed > MAX_FOLLOW {
            return Err(Errno::LOOP);
        }
        let target = readlinkat(&self.dir, comp, Vec::new())?.into_bytes();
        if target.is_empty() {
            return Err(Errno::NOENT);
        }
        if target.starts_with(b"/") {
            self.dir = rustix::fs::open("/", dir_flags(), Mode::empty())?;
            self.at = PathBuf::from("/");
            self.pin = false;
        }
        self.splice(&target)
    }

    fn finish(self, comp: &[u8], flags: OFlags, mode: Mode) -> Result<Opened, Errno> {
        let mut path = self.at;
        path.push(std::ffi::OsStr::from_bytes(comp));
        if self.bounded && !self.pin && !allowed(&path, false) {
            return Err(Errno::LOOP);
        }
        let fd = openat(&self.dir, comp, flags | OFlags::NOFOLLOW, mode)?;
        Ok(Opened { fd, path })
    }

    /// The confinement check of the directory the walk stands at.
    fn check(&self, passing: bool) -> Result<(), Errno> {
        if !self.bounded || self.pin || allowed(&self.at, passing) {
            Ok(())
        } else {
            Err(Errno::LOOP)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_own_links_and_dotdot() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(base.join("real/sub")).unwrap();
        std::fs::write(base.join("real/sub/f"), b"x").unwrap();
        std::os::unix::fs::symlink("real", base.join("l")).unwrap();
        std::os::unix::fs::symlink(base.join("real/sub"), base.join("abs")).unwrap();
        for (p, want) in [
            ("l/sub/f", "real/sub/f"),
            ("abs/f", "real/sub/f"),
            ("abs/../sub/f", "real/sub/f"),
            ("l/./sub/", "real/sub"),
        ] {
            let o = open(&base.join(p), OFlags::RDONLY, 0, Links::Trusted).unwrap();
            assert_eq!(o.path, base.join(want), "{p}");
        }
        assert_eq!(
            open(&base.join("missing/f"), OFlags::RDONLY, 0, Links::Trusted).unwrap_err(),
            Errno::NOENT
        );
        let (parent, name) = open_parent(&base.join("l/sub/new/"), Links::Trusted).unwrap();
        assert_eq!(
            (parent.path, name),
            (base.join("real/sub"), b"new".to_vec())
        );
    }

    #[test]
    fn foreign_links_are_refused_unless_insecure() {
        if !rustix::process::geteuid().is_root() {
            // Owning a symlink by another uid needs root; the end-to-end
            // suite (tests/operator_paths.rs) requires it.
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        std::fs::create_dir(base.join("out")).unwrap();
        std::fs::write(base.join("out/f"), b"x").unwrap();
        for (name, target) in [("leaf", "out/f"), ("dir", "out")] {
            let link = base.join(name);
            std::os::unix::fs::symlink(target, &link).unwrap();
            std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
        }
        for p in ["leaf", "dir/f", "dir/../out/f"] {
            let path = base.join(p);
            let e = open(&path, OFlags::RDONLY, 0, Links::Trusted).unwrap_err();
            assert_eq!(e, Errno::LOOP, "{p}");
            let o = open(&path, OFlags::RDONLY, 0, Links::Insecure).unwrap();
            assert_eq!(o.path, base.join("out/f"), "{p}");
        }
        // O_CREAT beneath a foreign directory link creates nothing.
        let e = open(
            &base.join("dir/new"),
            OFlags::WRONLY | OFlags::CREATE,
            0o600,
            Links::Trusted,
        )
        .unwrap_err();
        assert_eq!(e, Errno::LOOP);
        assert!(!base.join("out/new").exists());
    }

    #[test]
    fn link_loop_ends() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("b", tmp.path().join("a")).unwrap();
        std::os::unix::fs::symlink("a", tmp.path().join("b")).unwrap();
        let e = open(&tmp.path().join("a/x"), OFlags::RDONLY, 0, Links::Trusted).unwrap_err();
        assert_eq!(e, Errno::LOOP);
    }
}
