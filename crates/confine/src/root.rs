//! The directory handle every receiver-side filesystem call goes through.
//!
//! # Resolution strategy
//!
//! A [`Root`] holds an `O_PATH | O_DIRECTORY` descriptor for the operator's
//! anchor. Every operation takes a [`RelPath`] (already free of `..`,
//! leading `/` and NUL) and works in two steps:
//!
//! 1. The *parent* directory of the path is opened beneath the root as an
//!    `O_PATH` descriptor.
//! 2. The last component is acted on with the matching `*at` call relative
//!    to that descriptor (`mkdirat`, `renameat`, `fstatat` with
//!    `AT_SYMLINK_NOFOLLOW`, ...), so the kernel never follows a symlink in
//!    the last component unless the call says so.
//!
//! Files and directories that are opened (`open_read`, `open_write`,
//! `open_dir`, `read_dir`) resolve the whole path in one call instead, with
//! `O_NOFOLLOW` on the last component for files.
//!
//! Step 1 uses `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`:
//! the kernel follows symlinks that stay beneath the root (in-tree links and
//! `-K`-style symlinked directories keep working) and fails with EXDEV for
//! anything that would leave it (absolute targets, `..` past the root,
//! `/proc` magic links), atomically, with no window for a racing rename.
//!
//! Where openat2 is missing (ENOSYS: kernels before 5.6, some seccomp
//! profiles) or [`force_fallback`] asks for it, the path is walked one
//! component at a time with `openat(.., O_NOFOLLOW | O_DIRECTORY)`. A
//! symlink anywhere on the path then fails with ELOOP or ENOTDIR, which is
//! the safe outcome but stricter: an in-tree symlink to an in-tree directory
//! cannot be used as an intermediate component with the fallback. Because
//! the path has no `..`, each step goes strictly down from a descriptor that
//! is already beneath the root. (A directory moved out of the tree while the
//! walk holds it is the one race the walk cannot see; openat2 has no such
//! gap.)
//!
//! Operator paths and peer paths never meet in one string: the anchor is
//! opened once with ambient authority ([`Root::open_ambient`]); everything
//! the peer names is a relative tail resolved beneath that descriptor.
use crate::open::{self, DirFd, Failure};
use crate::path::RelPath;
use crate::{Error, Links};
use rustix::fs::{AtFlags, Mode, OFlags, Timespec, Timestamps, UTIME_OMIT};
use rustix::io::Errno;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

/// Proof that the caller means to use ambient (unconfined) authority: only
/// the operator's own paths (a destination named on the command line, a
/// module path) may be opened with it.
#[derive(Debug, Clone, Copy)]
pub struct AmbientAuthority(());

impl AmbientAuthority {
    /// # Ambient authority
    /// Only call this with operator-supplied paths, never a peer's.
    pub fn operator() -> AmbientAuthority {
        AmbientAuthority(())
    }
}

/// When true, [`Root`] resolves with the component-by-component
/// `O_NOFOLLOW` walk instead of openat2 (for tests of the fallback). Global
/// to the process.
pub fn force_fallback(on: bool) {
    open::set_force_walk(on);
}

/// File type from a stat without following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symlink.
    Symlink,
    /// Char or block device.
    Device,
    /// FIFO or socket.
    Special,
}

impl FileType {
    /// The type of a full `st_mode`.
    pub fn from_mode(mode: u32) -> FileType {
        file_type(mode)
    }
}

/// The parts of `struct stat` the transfer needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// File type.
    pub file_type: FileType,
    /// Full st_mode.
    pub mode: u32,
    /// Size.
    pub size: u64,
    /// mtime seconds.
    pub mtime: i64,
    /// mtime nanoseconds.
    pub mtime_nsec: u32,
    /// atime seconds.
    pub atime: i64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device id of the containing filesystem.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Link count.
    pub nlink: u64,
    /// Device number (for devices).
    pub rdev: u64,
}

/// A directory handle; every method resolves its `RelPath` beneath it and
/// never follows a symlink out of it. Symlinks inside the tree that stay
/// inside it are followed for intermediate components when openat2 is in
/// use; the last component is never followed (except by [`Root::open_dir`]
/// and [`Root::read_dir`], which resolve it beneath the root too).
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    /// This root (and roots opened from it) always uses the walk.
    walk: bool,
    /// The fallback walk follows symlinks that stay beneath the root, as
    /// openat2 does (see [`Root::following`]).
    follow: bool,
    /// Resolves as a chroot at this root would (see [`Root::as_chroot`]).
    in_root: bool,
    /// This root's absolute path, by components, when links that name it
    /// are followed (see [`Root::anchored`]).
    anchor: Option<Arc<[Vec<u8>]>>,
    /// Every symlink is followed, wherever it leads (see [`Root::any_link`]).
    any_link: bool,
}

impl AsFd for Root {
    /// The directory descriptor (for Landlock rules naming the root).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Root {
    /// Opens an operator-supplied directory as a root.
    ///
    /// # Ambient authority
    /// `path` is resolved normally (symlinks followed): it is the operator's
    /// anchor, not a peer's name.
    pub fn open_ambient(path: &Path, auth: AmbientAuthority) -> Result<Root, Error> {
        let _ = auth;
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ambient_err("open", path, e))?;
        Ok(Root {
            fd,
            walk: false,
            follow: false,
            in_root: false,
            anchor: None,
            any_link: false,
        })
    }
    /// Creates the operator-supplied directory `path` (one level, mode 0777
    /// less the umask or as the parent's default ACL says, as upstream's
    /// get_local_name() makes it) and opens it as a root. A directory that already exists
    /// (for instance one created by a racing process) is opened as it is.
    ///
    /// # Ambient authority
    /// As [`Root::open_ambient`].
    pub fn create_ambient(path: &Path, auth: AmbientAuthority) -> Result<Root, Error> {
        match rustix::fs::mkdir(path, Mode::from_raw_mode(0o777)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(ambient_err("mkdir", path, e)),
        }
        Root::open_ambient(path, auth)
    }
    /// Opens the operator-named directory `path` as a root, walking it
    /// with [`crate::operator::open`]: a symlink on it owned by neither
    /// root nor the effective user is refused (ELOOP) unless `links` is
    /// [`Links::Insecure`].
    ///
    /// # Ambient authority
    /// As [`Root::open_ambient`].
    pub fn open_operator(path: &Path, links: Links, auth: AmbientAuthority) -> Result<Root, Error> {
        let _ = auth;
        let o = crate::operator::open(path, OFlags::PATH | OFlags::DIRECTORY, 0, links)
            .map_err(|e| ambient_err("open", path, e))?;
        Ok(Root {
            fd: o.fd,
            walk: false,
            follow: false,
            in_root: false,
            anchor: None,
            any_link: false,
        })
    }
    /// As [`Root::create_ambient`], with the parent walked as by
    /// [`Root::open_operator`] and the directory made with `mkdirat` in
    /// the parent the walk opened.
    pub fn create_operator(
        path: &Path,
        links: Links,
        auth: AmbientAuthority,
    ) -> Result<Root, Error> {
        let (parent, name) =
            crate::operator::open_parent(path, links).map_err(|e| ambient_err("mkdir", path, e))?;
        match rustix::fs::mkdirat(&parent.fd, name.as_slice(), Mode::from_raw_mode(0o777)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(ambient_err("mkdir", path, e)),
        }
        Root::open_operator(path, links, auth)
    }
    /// Makes this root (and every root opened from it with
    /// [`Root::open_dir`]) use the component-by-component `O_NOFOLLOW` walk
    /// instead of openat2. Unlike [`force_fallback`] this is not global, so
    /// tests of both strategies can run side by side.
    pub fn with_fallback(mut self, on: bool) -> Root {
        self.walk = on;
        self
    }
    /// Makes the fallback walk of this root (and of roots opened from it)
    /// follow symlinks while they stay beneath it, as openat2 does: a
    /// target that is absolute or climbs above the root fails with EXDEV.
    /// Without it the walk refuses every symlink on the way. A sender's
    /// source root uses it, so that in-tree links are followed with
    /// either strategy.
    pub fn following(mut self) -> Root {
        self.follow = true;
        self
    }
    /// As [`Root::following`], resolving as a process chrooted at this
    /// root would (`RESOLVE_IN_ROOT`): an absolute symlink target starts
    /// at the root, and `..` at the root stays there. For a daemon module
    /// chrooted at its own directory, whose absolute links name places
    /// inside it. Roots opened from this one with [`Root::open_dir`] do not
    /// inherit it.
    pub fn as_chroot(mut self) -> Root {
        self.follow = true;
        self.in_root = true;
        self
    }
    /// Makes this root also follow a symlink that names a place beneath
    /// it by way of `path`, this root's own absolute path with no symlink
    /// on it: an absolute target under `path`, or one that climbs above
    /// the root with `..` and comes back down into it by `path`'s names.
    /// openat2 refuses both (EXDEV); the `O_NOFOLLOW` walk then follows
    /// them, opening nothing outside the root, and a target that ends
    /// outside it or passes through any other name there still fails with
    /// EXDEV. For a root whose links may have been written with its
    /// absolute path (a daemon module with `insecure links = yes` goes
    /// further and follows any link, see [`Root::any_link`]). Of the roots
    /// opened from this one only the root itself (`open_dir` of "") keeps it.
    pub fn anchored(mut self, path: &Path) -> Root {
        use std::os::unix::ffi::OsStrExt;
        let comps = path
            .as_os_str()
            .as_bytes()
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>();
        self.anchor = path.is_absolute().then(|| comps.into());
        self
    }
    /// Makes this root (and every root opened from it) follow any symlink
    /// already on disk, wherever it points, as rsync did before it confined
    /// symlinks: a path that openat2 refuses (EXDEV), or that the walk
    /// refuses because a symlink is on it, is opened again with the
    /// kernel following every link (magic links still refused where
    /// openat2 exists). The names themselves stay free of `..` and of a
    /// leading `/` ([`RelPath`]), so only a link on disk leads out; the
    /// last component is followed exactly as without it. Only for a daemon
    /// module whose administrator set `insecure links = yes`.
    pub fn any_link(mut self) -> Root {
        self.any_link = true;
        self
    }
    /// True when this root follows any symlink ([`Root::any_link`]).
    pub fn follows_any_link(&self) -> bool {
        self.any_link
    }
    /// stat of `p` with every symlink followed, the last component
    /// included, as long as the resolution stays beneath the root (EXDEV
    /// otherwise); `Ok(None)` if it does not exist (ENOENT, ENOTDIR).
    pub fn stat_follow(&self, p: &RelPath) -> Result<Option<Stat>, Error> {
        let fd = match self.resolve(p, OFlags::PATH, Mode::empty(), true) {
            Ok(fd) => fd,
            Err(e) if matches!(e.raw_os_error(), Some(n) if n == Errno::NOENT.raw_os_error() || n == Errno::NOTDIR.raw_os_error()) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| io_err("fstat", p, e))?;
        Ok(Some(Stat::from_raw(&st)))
    }
    /// Opens `p` read-only with every symlink followed beneath the root
    /// (the last component included; EXDEV for one that leaves it), with
    /// O_NOATIME when `noatime`. A FIFO cannot hang the open (O_NONBLOCK,
    /// cleared again before the file is handed out).
    pub fn open_read_follow(&self, p: &RelPath, noatime: bool) -> Result<File, Error> {
        let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
        if noatime {
            flags |= OFlags::NOATIME;
        }
        let fd = self.resolve(p, flags, Mode::empty(), true)?;
        clear_nonblock(&fd, flags).map_err(|e| io_err("fcntl", p, e))?;
        Ok(File::from(fd))
    }
    /// True when this root resolves with the fallback walk (asked for, forced
    /// globally, or because the kernel lacks openat2).
    pub fn uses_fallback(&self) -> bool {
        self.walk || open::global_walk()
    }
    /// A new root for the directory `p` beneath this one. The last component
    /// may be a symlink that stays beneath this root (openat2 only).
    pub fn open_dir(&self, p: &RelPath) -> Result<Root, Error> {
        let fd = self.resolve(p, OFlags::PATH | OFlags::DIRECTORY, Mode::empty(), true)?;
        Ok(Root {
            fd,
            walk: self.walk,
            follow: self.follow,
            in_root: false,
            // Only this root itself is where the anchor says.
            anchor: self.anchor.clone().filter(|_| p.is_root()),
            any_link: self.any_link,
        })
    }
    /// A root for the directory descriptor `fd`, found beneath this one:
    /// it resolves as this root does (walk, following), without the
    /// chroot or anchor settings, which belong to this root alone.
    pub(crate) fn sub(&self, fd: OwnedFd) -> Root {
        Root {
            fd,
            walk: self.walk,
            follow: self.follow,
            in_root: false,
            anchor: None,
            any_link: self.any_link,
        }
    }
    /// Opens the directory `p` beneath this root, as [`Root::open_dir`],
    /// and tells where it physically is: its path beneath this root with
    /// every symlink on the way resolved (`p` itself when none is one).
    /// `None` for the path when the directory cannot be found from this
    /// root by walking up (it was moved away meanwhile). What is later
    /// created through the returned root lands in that very directory,
    /// however the names on the way change in the meantime.
    pub fn open_dir_located(&self, p: &RelPath) -> Result<(Root, Option<RelPath>), Error> {
        match open::open_dir_no_symlinks(self.fd.as_fd(), p.as_bytes(), self.walk) {
            Ok(fd) => {
                let sub = Root {
                    fd,
                    walk: self.walk,
                    follow: self.follow,
                    in_root: false,
                    anchor: None,
                    any_link: self.any_link,
                };
                return Ok((sub, Some(p.clone())));
            }
            Err(f) if matches!(f.errno, Errno::LOOP | Errno::NOTDIR) => {}
            Err(f) => return Err(failure(f, p)),
        }
        let sub = self.open_dir(p)?;
        let at = self.locate(&sub)?;
        Ok((sub, at))
    }
    /// Opens a file read-only (O_NOFOLLOW on the last component).
    pub fn open_read(&self, p: &RelPath) -> Result<File, Error> {
        injected("open", "openat", p)?;
        // O_NONBLOCK so a FIFO swapped in under the name cannot hang the
        // open; it is cleared again before the file is handed out.
        let fd = self.resolve(
            p,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
            false,
        )?;
        clear_nonblock(&fd, OFlags::RDONLY).map_err(|e| io_err("fcntl", p, e))?;
        Ok(File::from(fd))
    }
    /// Opens an existing regular file for writing without truncating
    /// (O_NOFOLLOW).
    ///
    /// # Errors
    /// `InvalidInput` if `p` names something other than a regular file.
    pub fn open_write(&self, p: &RelPath) -> Result<File, Error> {
        injected("open", "openat", p)?;
        self.open_write_as(p, FileType::File, "open_write", "not a regular file")
    }
    /// Opens an existing device node for writing (O_NOFOLLOW), for
    /// `--write-devices`.
    ///
    /// # Errors
    /// `InvalidInput` if `p` names something other than a character or
    /// block device.
    pub fn open_write_device(&self, p: &RelPath) -> Result<File, Error> {
        self.open_write_as(p, FileType::Device, "open_write_device", "not a device")
    }
    /// Opens an existing `kind` for writing (O_NOFOLLOW, without blocking
    /// on a FIFO or taking a terminal), else `InvalidInput` with `what`.
    fn open_write_as(
        &self,
        p: &RelPath,
        kind: FileType,
        op: &'static str,
        what: &str,
    ) -> Result<File, Error> {
        let fd = self.resolve(
            p,
            OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
            false,
        )?;
        let st = rustix::fs::fstat(&fd).map_err(|e| io_err("fstat", p, e))?;
        if file_type(st.st_mode as u32) != kind {
            return Err(Error::Io {
                op,
                path: p.display_lossy(),
                source: io::Error::new(io::ErrorKind::InvalidInput, what.to_string()),
            });
        }
        clear_nonblock(&fd, OFlags::WRONLY).map_err(|e| io_err("fcntl", p, e))?;
        Ok(File::from(fd))
    }
    /// Creates a new file exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, read-write)
    /// with `mode`.
    pub fn create_excl(&self, p: &RelPath, mode: u32) -> Result<File, Error> {
        injected("open", "openat", p)?;
        let (dir, name) = self.parent(p)?;
        let flags = OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::RDWR
            | OFlags::CLOEXEC
            | OFlags::NOCTTY;
        let fd = rustix::fs::openat(&dir, name, flags, Mode::from_raw_mode(mode))
            .map_err(|e| io_err("openat", p, e))?;
        Ok(File::from(fd))
    }
    /// mkdirat.
    pub fn mkdir(&self, p: &RelPath, mode: u32) -> Result<(), Error> {
        injected("mkdir", "mkdirat", p)?;
        let (dir, name) = self.parent(p)?;
        rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode))
            .map_err(|e| io_err("mkdirat", p, e))
    }
    /// symlinkat: creates `p` pointing at `target` (the target text is
    /// stored as given, it is never resolved here).
    pub fn symlink(&self, target: &[u8], p: &RelPath) -> Result<(), Error> {
        let (dir, name) = self.parent(p)?;
        rustix::fs::symlinkat(target, &dir, name).map_err(|e| io_err("symlinkat", p, e))
    }
    /// linkat (no follow): hard link `to` naming the file at `from`.
    pub fn link(&self, from: &RelPath, to: &RelPath) -> Result<(), Error> {
        let (from_dir, from_name) = self.parent(from)?;
        let (to_dir, to_name) = self.parent(to)?;
        rustix::fs::linkat(&from_dir, from_name, &to_dir, to_name, AtFlags::empty())
            .map_err(|e| io_err("linkat", to, e))
    }
    /// readlinkat.
    pub fn readlink(&self, p: &RelPath) -> Result<Vec<u8>, Error> {
        let (dir, name) = self.parent(p)?;
        rustix::fs::readlinkat(&dir, name, Vec::new())
            .map(|target| target.into_bytes())
            .map_err(|e| io_err("readlinkat", p, e))
    }
    /// renameat (replaces `to`).
    pub fn rename(&self, from: &RelPath, to: &RelPath) -> Result<(), Error> {
        injected("rename", "renameat", to)?;
        let (from_dir, from_name) = self.parent(from)?;
        let (to_dir, to_name) = self.parent(to)?;
        rustix::fs::renameat(&from_dir, from_name, &to_dir, to_name)
            .map_err(|e| io_err("renameat", to, e))
    }
    /// unlinkat of a non-directory.
    pub fn unlink(&self, p: &RelPath) -> Result<(), Error> {
        injected("unlink", "unlinkat", p)?;
        let (dir, name) = self.parent(p)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::empty()).map_err(|e| io_err("unlinkat", p, e))
    }
    /// unlinkat(AT_REMOVEDIR).
    pub fn rmdir(&self, p: &RelPath) -> Result<(), Error> {
        let (dir, name) = self.parent(p)?;
        rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR).map_err(|e| io_err("unlinkat", p, e))
    }
    /// Whether this process may read `p` (faccessat R_OK with the real ids,
    /// the last component not followed): a daemon's `ignore nonreadable`.
    pub fn readable(&self, p: &RelPath) -> bool {
        self.parent(p)
            .is_ok_and(|(dir, name)| readable_at(dir.as_fd(), name))
    }
    /// fstatat(AT_SYMLINK_NOFOLLOW); `Ok(None)` if it does not exist
    /// (ENOENT, or ENOTDIR because a parent component is not a directory).
    pub fn stat(&self, p: &RelPath) -> Result<Option<Stat>, Error> {
        let (dir, name) = match self.parent(p) {
            Ok(parent) => parent,
            Err(e) if matches!(e.raw_os_error(), Some(n) if n == Errno::NOENT.raw_os_error() || n == Errno::NOTDIR.raw_os_error()) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Stat::from_raw(&st))),
            Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
            Err(e) => Err(io_err("fstatat", p, e)),
        }
    }
    /// As [`Root::stat`], keeping `p`'s parent directory open in `cache`:
    /// the next path in the same directory is one fstatat beneath that
    /// handle instead of a resolution of the parent from this root. The
    /// parent is resolved exactly as [`Root::stat`] resolves it; the caller
    /// clears the cache when that directory may have been replaced.
    pub fn stat_cached(&self, cache: &mut ParentCache, p: &RelPath) -> Result<Option<Stat>, Error> {
        let bytes = p.as_bytes();
        let Some(slash) = bytes.iter().rposition(|&b| b == b'/') else {
            return self.stat(p);
        };
        let (parent, name) = (&bytes[..slash], &bytes[slash + 1..]);
        if cache.fd.is_none() || cache.dir != parent {
            cache.clear();
            let dir = match self.parent(p) {
                Ok((DirFd::Owned(fd), _)) => fd,
                Ok((DirFd::Borrowed(_), _)) => return self.stat(p),
                Err(e) if matches!(e.raw_os_error(), Some(n) if n == Errno::NOENT.raw_os_error() || n == Errno::NOTDIR.raw_os_error()) => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            };
            cache.dir.extend_from_slice(parent);
            cache.fd = Some(dir);
        }
        let Some(cached) = cache.fd.as_ref() else {
            return self.stat(p);
        };
        match rustix::fs::statat(cached, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Stat::from_raw(&st))),
            Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
            Err(e) => Err(io_err("fstatat", p, e)),
        }
    }
    /// Opens `p`'s parent into `cache` unless it holds it already; false
    /// when the parent is the root itself (nothing to keep open).
    pub(crate) fn cache_parent(&self, cache: &mut ParentCache, p: &RelPath) -> Result<bool, Error> {
        let bytes = p.as_bytes();
        let Some(slash) = bytes.iter().rposition(|&b| b == b'/') else {
            return Ok(false);
        };
        let parent = &bytes[..slash];
        if cache.fd.is_some() && cache.dir == parent {
            return Ok(true);
        }
        cache.clear();
        match self.parent(p)? {
            (DirFd::Owned(fd), _) => {
                cache.dir.extend_from_slice(parent);
                cache.gid = rustix::fs::fstat(&fd).ok().map(|st| st.st_gid);
                cache.fd = Some(fd);
                Ok(true)
            }
            (DirFd::Borrowed(_), _) => Ok(false),
        }
    }
    /// As [`Root::create_excl`], in `p`'s parent kept open in `cache`
    /// (resolved as [`Root::create_excl`] resolves it; the caller clears
    /// the cache when that directory may have been replaced).
    pub fn create_excl_cached(
        &self,
        cache: &mut ParentCache,
        p: &RelPath,
        mode: u32,
    ) -> Result<File, Error> {
        if !self.cache_parent(cache, p)? {
            return self.create_excl(p, mode);
        }
        injected("open", "openat", p)?;
        let (Some(dir), Some(name)) = (
            cache.fd.as_ref(),
            p.as_bytes().rsplit(|&b| b == b'/').next(),
        ) else {
            return self.create_excl(p, mode);
        };
        let flags = OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::RDWR
            | OFlags::CLOEXEC
            | OFlags::NOCTTY;
        let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode))
            .map_err(|e| io_err("openat", p, e))?;
        Ok(File::from(fd))
    }
    /// As [`Root::rename`] when `from` and `to` are in one directory, the
    /// one kept open in `cache` (see [`Root::create_excl_cached`]).
    pub fn rename_cached(
        &self,
        cache: &mut ParentCache,
        from: &RelPath,
        to: &RelPath,
    ) -> Result<(), Error> {
        let (fb, tb) = (from.as_bytes(), to.as_bytes());
        let split = |b: &[u8]| b.iter().rposition(|&c| c == b'/');
        let same_dir = match (split(fb), split(tb)) {
            (Some(i), Some(j)) => fb[..i] == tb[..j],
            _ => false,
        };
        if !same_dir || !self.cache_parent(cache, to)? {
            return self.rename(from, to);
        }
        injected("rename", "renameat", to)?;
        let (Some(dir), Some(f), Some(t)) = (
            cache.fd.as_ref(),
            fb.rsplit(|&b| b == b'/').next(),
            tb.rsplit(|&b| b == b'/').next(),
        ) else {
            return self.rename(from, to);
        };
        rustix::fs::renameat(dir, f, dir, t).map_err(|e| io_err("renameat", to, e))
    }
    /// Names in directory `p` (without "." and ".."), unsorted. The last
    /// component is resolved as by [`Root::open_dir`].
    pub fn read_dir(&self, p: &RelPath) -> Result<Vec<Vec<u8>>, Error> {
        let fd = self.resolve(p, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty(), true)?;
        let dir = rustix::fs::Dir::new(fd).map_err(|e| io_err("getdents", p, e))?;
        let mut names = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| io_err("getdents", p, e))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        Ok(names)
    }
    /// fchmodat on a non-symlink.
    ///
    /// # Errors
    /// ELOOP if `p` is a symlink (Linux cannot chmod a symlink, and
    /// fchmodat would follow it).
    pub fn chmod(&self, p: &RelPath, mode: u32) -> Result<(), Error> {
        injected("setmeta", "fchmodat", p)?;
        let (dir, name) = self.parent(p)?;
        // Linux's fchmodat ignores AT_SYMLINK_NOFOLLOW, so refuse a symlink
        // here. Someone with write access to the parent could still swap one
        // in between the two calls; upstream rsync's lstat+chmod has the same
        // window, and the swapped link could only be followed from a parent
        // that is itself beneath the root.
        let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err("fstatat", p, e))?;
        if file_type(st.st_mode as u32) == FileType::Symlink {
            return Err(io_err("fchmodat", p, Errno::LOOP));
        }
        rustix::fs::chmodat(&dir, name, Mode::from_raw_mode(mode), AtFlags::empty())
            .map_err(|e| io_err("fchmodat", p, e))
    }
    /// fchownat(AT_SYMLINK_NOFOLLOW); `None` leaves that id unchanged.
    pub fn lchown(&self, p: &RelPath, uid: Option<u32>, gid: Option<u32>) -> Result<(), Error> {
        let (dir, name) = self.parent(p)?;
        let (uid, gid) = ids(uid, gid);
        rustix::fs::chownat(&dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err("fchownat", p, e))
    }
    /// utimensat(AT_SYMLINK_NOFOLLOW): sets mtime (atime left as is).
    pub fn set_mtime(&self, p: &RelPath, secs: i64, nsec: u32) -> Result<(), Error> {
        injected("setmeta", "utimensat", p)?;
        let (dir, name) = self.parent(p)?;
        rustix::fs::utimensat(
            &dir,
            name,
            &mtime_only(secs, nsec),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err("utimensat", p, e))
    }
    /// utimensat(AT_SYMLINK_NOFOLLOW) of the mtime and/or the atime
    /// (whole seconds); `None` leaves that time as it is.
    pub fn set_times(
        &self,
        p: &RelPath,
        mtime: Option<(i64, u32)>,
        atime: Option<i64>,
    ) -> Result<(), Error> {
        let (dir, name) = self.parent(p)?;
        rustix::fs::utimensat(&dir, name, &times(mtime, atime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err("utimensat", p, e))
    }
    /// futimens of the atime only (whole seconds), through an open
    /// descriptor.
    pub fn set_fd_atime(file: &File, atime: i64) -> Result<(), Error> {
        rustix::fs::futimens(file, &times(None, Some(atime))).map_err(|e| Error::Io {
            op: "futimens",
            path: String::from("<fd>"),
            source: e.into(),
        })
    }
    /// The extended attribute `name` of the regular file or directory `p`
    /// (read through a descriptor opened beneath the root, the last
    /// component not followed), at most `max` bytes. `Ok(None)` when it is
    /// absent, the filesystem has no xattrs, or `p` is another kind of
    /// file (nothing else is opened: a device node could react to it).
    pub fn get_xattr(&self, p: &RelPath, name: &str, max: usize) -> Result<Option<Vec<u8>>, Error> {
        let Some(fd) = self.open_for_xattr(p)? else {
            return Ok(None);
        };
        let mut buf = vec![0u8; max];
        match rustix::fs::fgetxattr(&fd, name, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                Ok(Some(buf))
            }
            Err(Errno::NODATA | Errno::NOTSUP) => Ok(None),
            Err(e) => Err(io_err("fgetxattr", p, e)),
        }
    }
    /// Sets (`Some`) or removes (`None`) the extended attribute `name` of
    /// the regular file or directory `p`, as [`Root::get_xattr`] reaches
    /// it. Other kinds of file are left alone (`Ok`); removing an absent
    /// attribute is no error.
    pub fn set_xattr(&self, p: &RelPath, name: &str, value: Option<&[u8]>) -> Result<(), Error> {
        let Some(fd) = self.open_for_xattr(p)? else {
            return Ok(());
        };
        let res = match value {
            Some(v) => rustix::fs::fsetxattr(&fd, name, v, rustix::fs::XattrFlags::empty()),
            None => match rustix::fs::fremovexattr(&fd, name) {
                Err(Errno::NODATA) => Ok(()),
                other => other,
            },
        };
        res.map_err(|e| io_err("fsetxattr", p, e))
    }
    /// Sets (`Some`) or removes (`None`) the extended attribute `name`
    /// through an open descriptor (removing an absent one is no error).
    pub fn set_fd_xattr(file: &File, name: &str, value: Option<&[u8]>) -> Result<(), Error> {
        let res = match value {
            Some(v) => rustix::fs::fsetxattr(file, name, v, rustix::fs::XattrFlags::empty()),
            None => match rustix::fs::fremovexattr(file, name) {
                Err(Errno::NODATA) => Ok(()),
                other => other,
            },
        };
        res.map_err(|e| Error::Io {
            op: "fsetxattr",
            path: String::from("<fd>"),
            source: e.into(),
        })
    }
    /// A read-only descriptor of `p` when it is a regular file or a
    /// directory (O_NOFOLLOW, O_NONBLOCK so a FIFO swapped in cannot
    /// hang the open).
    pub(crate) fn open_for_xattr(&self, p: &RelPath) -> Result<Option<OwnedFd>, Error> {
        match self.stat(p)? {
            Some(st) if matches!(st.file_type, FileType::File | FileType::Dir) => {}
            _ => return Ok(None),
        }
        let fd = self.resolve(
            p,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
            false,
        )?;
        let st = rustix::fs::fstat(&fd).map_err(|e| io_err("fstat", p, e))?;
        Ok(matches!(file_type(st.st_mode as u32), FileType::File | FileType::Dir).then_some(fd))
    }
    /// mknodat (devices, fifos, sockets). `mode` carries the file type bits.
    pub fn mknod(&self, p: &RelPath, mode: u32, rdev: u64) -> Result<(), Error> {
        let (dir, name) = self.parent(p)?;
        let kind = rustix::fs::FileType::from_raw_mode(mode as rustix::fs::RawMode);
        rustix::fs::mknodat(&dir, name, kind, Mode::from_raw_mode(mode), rdev)
            .map_err(|e| io_err("mknodat", p, e))
    }
    /// Sets mode, owner and mtime through an open descriptor (fchmod,
    /// fchown, futimens): the way the receiver finishes a temp file. Owner
    /// goes first, since a chown may clear setuid bits the mode asks for.
    pub fn set_fd_meta(
        file: &File,
        mode: Option<u32>,
        owner: Option<(Option<u32>, Option<u32>)>,
        mtime: Option<(i64, u32)>,
    ) -> Result<(), Error> {
        let fd_err = |op, e: Errno| Error::Io {
            op,
            path: String::from("<fd>"),
            source: e.into(),
        };
        if crate::failpoint::check("setmeta").is_err() {
            return Err(fd_err("fchmod", Errno::IO));
        }
        if let Some((uid, gid)) = owner {
            let (uid, gid) = ids(uid, gid);
            rustix::fs::fchown(file, uid, gid).map_err(|e| fd_err("fchown", e))?;
        }
        if let Some(mode) = mode {
            rustix::fs::fchmod(file, Mode::from_raw_mode(mode)).map_err(|e| fd_err("fchmod", e))?;
        }
        if let Some((secs, nsec)) = mtime {
            rustix::fs::futimens(file, &mtime_only(secs, nsec))
                .map_err(|e| fd_err("futimens", e))?;
        }
        Ok(())
    }

    /// Where the directory `inner` really is beneath this root: its path
    /// with symlinks resolved, found by walking up from `inner` through
    /// `..` until this root's directory is reached (as getcwd does).
    /// `Ok(None)` when the walk reaches the filesystem root without
    /// passing this root (`inner` is elsewhere). Nothing is opened below
    /// `inner` or written; the walk only reads the directories it passes.
    pub fn locate(&self, inner: &Root) -> Result<Option<RelPath>, Error> {
        let here = |e: Errno| Error::Io {
            op: "locate",
            path: String::from(".."),
            source: e.into(),
        };
        let id = |fd: BorrowedFd<'_>| -> Result<(u64, u64), Error> {
            let st = rustix::fs::fstat(fd).map_err(here)?;
            Ok(dev_ino(&st))
        };
        let top = id(self.fd.as_fd())?;
        let mut cur = rustix::fs::openat(
            inner.fd.as_fd(),
            ".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(here)?;
        let mut names: Vec<Vec<u8>> = Vec::new();
        // PATH_MAX bounds how deep a directory can usefully be.
        for _ in 0..4096 {
            let me = id(cur.as_fd())?;
            if me == top {
                names.reverse();
                let joined = names.join(&b'/');
                return RelPath::new(&joined).map(Some).map_err(|e| Error::Io {
                    op: "locate",
                    path: String::from_utf8_lossy(&joined).into_owned(),
                    source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
                });
            }
            let parent = rustix::fs::openat(
                &cur,
                "..",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(here)?;
            if id(parent.as_fd())? == me {
                return Ok(None);
            }
            let listing = rustix::fs::openat(
                &parent,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(here)?;
            let dir = rustix::fs::Dir::new(listing).map_err(here)?;
            let mut found = None;
            for entry in dir {
                let entry = entry.map_err(here)?;
                let name = entry.file_name().to_bytes();
                if name == b"." || name == b".." {
                    continue;
                }
                // d_ino of a mount point is the covered inode: compare a
                // stat of the name instead.
                let st = rustix::fs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW);
                if st.is_ok_and(|st| dev_ino(&st) == me) {
                    found = Some(name.to_vec());
                    break;
                }
            }
            let Some(name) = found else {
                return Ok(None);
            };
            names.push(name);
            cur = parent;
        }
        Ok(None)
    }

    /// Opens `p` itself beneath the root.
    pub(crate) fn resolve(
        &self,
        p: &RelPath,
        oflags: OFlags,
        mode: Mode,
        follow_last: bool,
    ) -> Result<OwnedFd, Error> {
        let fd = self.fd.as_fd();
        let res = if self.follow {
            let how = (follow_last, self.in_root);
            open::resolve_follow(fd, p.as_bytes(), oflags, mode, how, self.walk)
        } else {
            open::resolve(fd, p.as_bytes(), oflags, mode, follow_last, self.walk)
        };
        let res = match (res, &self.anchor) {
            (Err(f), _) if self.any_link && self.retry_anchored(f.errno) => {
                open::resolve_any(fd, p.as_bytes(), oflags, mode, follow_last)
            }
            (Err(f), Some(a)) if self.retry_anchored(f.errno) => {
                open::resolve_anchored(fd, p.as_bytes(), oflags, mode, follow_last, a)
            }
            (res, _) => res,
        };
        res.map_err(|f| failure(f, p))
    }

    /// Whether a resolution that failed with `errno` is tried again by the
    /// anchored walk: openat2 refused a link (EXDEV), or the plain walk,
    /// which refuses every link (ELOOP, ENOTDIR), was used.
    fn retry_anchored(&self, errno: Errno) -> bool {
        errno == Errno::XDEV
            || (self.uses_fallback() && (errno == Errno::LOOP || errno == Errno::NOTDIR))
    }

    /// Opens the parent of `p` beneath the root and returns it with the last
    /// component ("." for the root itself).
    pub(crate) fn parent<'a>(&'a self, p: &'a RelPath) -> Result<(DirFd<'a>, &'a [u8]), Error> {
        let bytes = p.as_bytes();
        let (parent, name): (&[u8], &[u8]) = match bytes.iter().rposition(|&b| b == b'/') {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None if bytes.is_empty() => (b"", b"."),
            None => (b"", bytes),
        };
        let root: BorrowedFd<'a> = self.fd.as_fd();
        let dir = if self.follow && !parent.is_empty() {
            let flags = OFlags::PATH | OFlags::DIRECTORY;
            let how = (true, self.in_root);
            open::resolve_follow(root, parent, flags, Mode::empty(), how, self.walk)
                .map(DirFd::Owned)
        } else {
            open::open_parent(root, parent, self.walk)
        };
        let dir = match (dir, &self.anchor) {
            (Err(f), _) if self.any_link && self.retry_anchored(f.errno) => {
                let flags = OFlags::PATH | OFlags::DIRECTORY;
                open::resolve_any(root, parent, flags, Mode::empty(), true).map(DirFd::Owned)
            }
            (Err(f), Some(a)) if self.retry_anchored(f.errno) => {
                let flags = OFlags::PATH | OFlags::DIRECTORY;
                open::resolve_anchored(root, parent, flags, Mode::empty(), true, a)
                    .map(DirFd::Owned)
            }
            (dir, _) => dir,
        };
        let dir = dir.map_err(|f| failure(f, p))?;
        Ok((dir, name))
    }
}

impl Stat {
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type == FileType::Dir
    }
    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.file_type == FileType::File
    }
    /// A symlink.
    pub fn is_symlink(&self) -> bool {
        self.file_type == FileType::Symlink
    }
    pub(crate) fn from_raw(st: &rustix::fs::Stat) -> Stat {
        // The field types of `struct stat` differ between architectures.
        #[allow(clippy::unnecessary_cast)]
        Stat {
            file_type: file_type(st.st_mode as u32),
            mode: st.st_mode as u32,
            size: st.st_size as u64,
            mtime: st.st_mtime as i64,
            mtime_nsec: st.st_mtime_nsec as u32,
            atime: st.st_atime as i64,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            nlink: st.st_nlink as u64,
            rdev: st.st_rdev as u64,
        }
    }
}

/// The parent directory of the last path [`Root::stat_cached`] looked at,
/// open for the next path in the same directory.
#[derive(Debug, Default)]
pub struct ParentCache {
    /// Its path beneath the root.
    dir: Vec<u8>,
    pub(crate) fd: Option<OwnedFd>,
    /// Its group, when [`Root::create_excl_cached`] opened it.
    gid: Option<u32>,
    /// A directory here had no O_TMPFILE (kept across [`ParentCache::clear`]:
    /// see `crate::tmpfile`).
    pub(crate) no_tmpfile: bool,
}

impl ParentCache {
    /// Forgets the directory (it may have been replaced, or moved).
    pub fn clear(&mut self) {
        self.dir.clear();
        self.fd = None;
        self.gid = None;
    }
    /// The group of the directory held, when it is `p`'s parent and
    /// [`Root::create_excl_cached`] or [`Root::rename_cached`] opened it.
    pub fn gid_of(&self, p: &RelPath) -> Option<u32> {
        let b = p.as_bytes();
        let slash = b.iter().rposition(|&c| c == b'/')?;
        (self.fd.is_some() && self.dir == b[..slash])
            .then_some(self.gid)
            .flatten()
    }
}

/// (st_dev, st_ino): the identity of a file.
// The field types of `struct stat` differ between architectures.
#[allow(clippy::unnecessary_cast)]
fn dev_ino(st: &rustix::fs::Stat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

pub(crate) fn file_type(mode: u32) -> FileType {
    use rustix::fs::FileType as F;
    match F::from_raw_mode(mode as rustix::fs::RawMode) {
        F::RegularFile => FileType::File,
        F::Directory => FileType::Dir,
        F::Symlink => FileType::Symlink,
        F::CharacterDevice | F::BlockDevice => FileType::Device,
        _ => FileType::Special,
    }
}

fn ids(uid: Option<u32>, gid: Option<u32>) -> (Option<rustix::fs::Uid>, Option<rustix::fs::Gid>) {
    // -1 means "unchanged" to the kernel; never pass it as an id.
    (
        uid.filter(|&u| u != u32::MAX)
            .map(rustix::fs::Uid::from_raw),
        gid.filter(|&g| g != u32::MAX)
            .map(rustix::fs::Gid::from_raw),
    )
}

fn mtime_only(secs: i64, nsec: u32) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: secs,
            tv_nsec: nsec.min(999_999_999).into(),
        },
    }
}

fn times(mtime: Option<(i64, u32)>, atime: Option<i64>) -> Timestamps {
    let omit = Timespec {
        tv_sec: 0,
        tv_nsec: UTIME_OMIT,
    };
    Timestamps {
        last_access: atime.map_or(omit, |secs| Timespec {
            tv_sec: secs,
            tv_nsec: 0,
        }),
        last_modification: mtime.map_or(omit, |(secs, nsec)| Timespec {
            tv_sec: secs,
            tv_nsec: nsec.min(999_999_999).into(),
        }),
    }
}

/// Clears O_NONBLOCK on `fd`, opened with `opened`: F_SETFL changes only
/// the status flags (O_APPEND, O_NONBLOCK, O_NOATIME, ...) and ignores the
/// rest, so the flags the file was opened with are enough (no F_GETFL).
pub(crate) fn clear_nonblock(fd: &OwnedFd, opened: OFlags) -> rustix::io::Result<()> {
    rustix::fs::fcntl_setfl(fd, opened - OFlags::NONBLOCK)
}

/// A fault the tests injected (debug builds, [`crate::failpoint`]).
pub(crate) fn injected(op: &str, what: &'static str, p: &RelPath) -> Result<(), Error> {
    crate::failpoint::check(op).map_err(|_| io_err(what, p, Errno::IO))
}

/// As [`io_err`], for a name that is not a `RelPath`.
pub(crate) fn io_err_bytes(op: &'static str, p: &[u8], e: Errno) -> Error {
    Error::Io {
        op,
        path: String::from_utf8_lossy(p).into_owned(),
        source: e.into(),
    }
}

pub(crate) fn io_err(op: &'static str, p: &RelPath, e: Errno) -> Error {
    Error::Io {
        op,
        path: p.display_lossy(),
        source: e.into(),
    }
}

fn failure(f: Failure, p: &RelPath) -> Error {
    io_err(f.op, p, f.errno)
}

fn ambient_err(op: &'static str, path: &Path, e: Errno) -> Error {
    Error::Io {
        op,
        path: path.to_string_lossy().into_owned(),
        source: e.into(),
    }
}

/// Whether this process may read `name` in `dir` (faccessat R_OK with the
/// real ids, the last component not followed; faccessat2, and a kernel
/// without it is asked without the flag).
pub fn readable_at(dir: BorrowedFd<'_>, name: &[u8]) -> bool {
    use rustix::fs::Access;
    match rustix::fs::accessat(dir, name, Access::READ_OK, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(()) => true,
        Err(Errno::NOSYS | Errno::INVAL) => {
            rustix::fs::accessat(dir, name, Access::READ_OK, AtFlags::empty()).is_ok()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod anchored_tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn rel(s: &str) -> RelPath {
        RelPath::new(s.as_bytes()).expect("relpath")
    }

    /// Links that leave the root only to come back into it are followed by
    /// an anchored root (with openat2 and with the walk alike); links that
    /// end outside, or pass through another name there, are not.
    #[test]
    fn anchored_follows_links_back_into_the_root() {
        let dir = tempfile::tempdir().expect("tmp");
        let base = std::fs::canonicalize(dir.path()).expect("canon");
        let m = base.join("m");
        std::fs::create_dir_all(m.join("real")).expect("mkdir");
        std::fs::create_dir_all(base.join("outside")).expect("mkdir");
        std::fs::create_dir_all(base.join("other")).expect("mkdir");
        std::fs::write(m.join("real/f"), b"in\n").expect("write");
        std::fs::write(base.join("outside/f"), b"out\n").expect("write");
        symlink(m.join("real"), m.join("abs")).expect("ln");
        symlink("../m/real", m.join("transit")).expect("ln");
        symlink("../../m/../m/real", m.join("real/deep")).expect("ln");
        symlink("../outside", m.join("out")).expect("ln");
        symlink(base.join("outside"), m.join("absout")).expect("ln");
        symlink("../other/../m/real", m.join("via_other")).expect("ln");
        symlink("../m", m.join("self")).expect("ln");
        for walk in [false, true] {
            let plain = Root::open_ambient(&m, AmbientAuthority::operator())
                .expect("open")
                .with_fallback(walk);
            let anchored = Root::open_ambient(&m, AmbientAuthority::operator())
                .expect("open")
                .with_fallback(walk)
                .anchored(&m);
            for link in ["abs", "transit", "real/deep", "self/real"] {
                let p = rel(&format!("{link}/f"));
                assert!(plain.open_read(&p).is_err(), "{link} plain (walk {walk})");
                let mut s = String::new();
                use std::io::Read;
                anchored
                    .open_read(&p)
                    .unwrap_or_else(|e| panic!("{link} (walk {walk}): {e}"))
                    .read_to_string(&mut s)
                    .expect("read");
                assert_eq!(s, "in\n", "{link}");
                assert!(anchored.open_dir(&rel(link)).is_ok(), "{link} dir");
            }
            // Created through the link: lands in the module.
            let name = format!("new{}", u8::from(walk));
            anchored
                .create_excl(&rel(&format!("transit/{name}")), 0o644)
                .expect("create");
            assert!(m.join("real").join(&name).is_file());
            for link in ["out", "absout", "via_other"] {
                let e = anchored
                    .open_read(&rel(&format!("{link}/f")))
                    .expect_err(link);
                assert_eq!(e.raw_os_error(), Some(Errno::XDEV.raw_os_error()), "{link}");
                assert!(anchored.open_dir(&rel(link)).is_err(), "{link} dir");
                assert!(anchored
                    .create_excl(&rel(&format!("{link}/{name}")), 0o644)
                    .is_err());
            }
        }
        assert!(!base.join("outside/new0").exists() && !base.join("outside/new1").exists());
    }

    /// A root that follows any link (`insecure links = yes`) reads and
    /// writes through a link out of it, with openat2 and with the walk,
    /// in roots opened from it too; a final symlink is still not followed
    /// by the calls that never follow one, and a plain root refuses all.
    #[test]
    fn any_link_follows_links_out_of_the_root() {
        use std::io::Read;
        let dir = tempfile::tempdir().expect("tmp");
        let base = std::fs::canonicalize(dir.path()).expect("canon");
        let m = base.join("m");
        std::fs::create_dir_all(m.join("d")).expect("mkdir");
        std::fs::create_dir_all(base.join("outside")).expect("mkdir");
        std::fs::write(base.join("outside/f"), b"out\n").expect("write");
        symlink("../outside", m.join("out")).expect("ln");
        symlink(base.join("outside"), m.join("d/absout")).expect("ln");
        symlink(base.join("outside/f"), m.join("flink")).expect("ln");
        for walk in [false, true] {
            let plain = Root::open_ambient(&m, AmbientAuthority::operator())
                .expect("open")
                .with_fallback(walk);
            let any = Root::open_ambient(&m, AmbientAuthority::operator())
                .expect("open")
                .with_fallback(walk)
                .any_link();
            assert!(any.follows_any_link() && !plain.follows_any_link());
            for p in ["out/f", "d/absout/f"] {
                assert!(plain.open_read(&rel(p)).is_err(), "{p} plain (walk {walk})");
                let mut s = String::new();
                any.open_read(&rel(p))
                    .unwrap_or_else(|e| panic!("{p} (walk {walk}): {e}"))
                    .read_to_string(&mut s)
                    .expect("read");
                assert_eq!(s, "out\n", "{p}");
            }
            let sub = any.open_dir(&rel("d")).expect("d");
            assert!(sub.open_read(&rel("absout/f")).is_ok(), "inherited");
            let name = format!("new{}", u8::from(walk));
            assert!(plain
                .create_excl(&rel(&format!("out/{name}")), 0o644)
                .is_err());
            any.create_excl(&rel(&format!("out/{name}")), 0o644)
                .expect("create through the link");
            assert!(base.join("outside").join(&name).is_file());
            // The last component is still never followed by open_read.
            assert!(any.open_read(&rel("flink")).is_err(), "final link");
            assert!(any.open_read_follow(&rel("flink"), false).is_ok());
        }
    }
}
