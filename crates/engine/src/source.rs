//! Where a sender reads its files: every stat, readlink, directory
//! listing, open and `--remove-source-files` unlink of the sending side
//! goes through [`Sources`].
//!
//! An operator's own sources (a local copy, a push, `oxsync --server
//! --sender` over a remote shell) are read beneath their transfer roots
//! ([`Sources::Anchored`], see [`crate::anchors`]): the directory each
//! argument names its items in is opened once, as the operator spelled
//! it, and everything the walk finds below it is listed, stat'ed, opened
//! and removed beneath that handle, so a directory of the tree swapped
//! for a symlink during the transfer cannot take the sender out of it. A
//! daemon module's sender reads beneath the module's [`Root`]
//! ([`Sources::Beneath`]): the paths the file list carries are the module
//! directory's path plus a tail, and the tail is resolved by the kernel
//! beneath the module's directory handle, so a symlink that `-L`,
//! `--copy-unsafe-links`, `-k`, a trailing slash or an intermediate
//! component would follow out of the module fails with EXDEV ("Invalid
//! cross-device link") instead of being read. `--insecure-links` (and a
//! module's `insecure links = yes`) is the opt-out back to plain paths
//! ([`Sources::Ambient`]), as rsync 3.5.0 has it.
pub use crate::anchors::Origin;
use crate::anchors::{Anchors, Bound};
use crate::error::{io_of, outside};
use confine::{FileType, RelPath, Root, Stat};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The daemon module this process serves: its directory and its name.
static MODULE_SHOWN: OnceLock<(PathBuf, String)> = OnceLock::new();

/// Names the daemon module this process (one daemon connection) serves,
/// for messages: its directory is never shown, paths below it are shown
/// relative to it with the module's name ([`crate::flist::full_fname`]).
/// The first call holds.
pub fn show_module(dir: PathBuf, name: String) {
    let _ = MODULE_SHOWN.set((dir, name));
}

/// The module set by [`show_module`].
pub(crate) fn module_shown() -> Option<&'static (PathBuf, String)> {
    MODULE_SHOWN.get()
}

/// How a sender reaches its source files.
#[derive(Debug, Clone)]
pub enum Sources {
    /// The operator's own paths, resolved normally (symlinks followed
    /// anywhere): `--insecure-links`.
    Ambient,
    /// Beneath a daemon module's root.
    Beneath(Arc<Beneath>),
    /// The operator's sources, each beneath its transfer root (bound to
    /// one root, or to none for the operator-named paths themselves).
    Anchored(Bound),
}

/// A module root and the path the sender's names start with.
#[derive(Debug)]
pub struct Beneath {
    root: Root,
    base: PathBuf,
}

impl Default for Sources {
    /// An operator's sources, each read beneath its transfer root.
    fn default() -> Sources {
        Sources::operator(false)
    }
}

impl Sources {
    /// Whether `other` reaches the same files the same way.
    pub fn same(&self, other: &Sources) -> bool {
        match (self, other) {
            (Sources::Ambient, Sources::Ambient) => true,
            (Sources::Beneath(a), Sources::Beneath(b)) => Arc::ptr_eq(a, b),
            (Sources::Anchored(a), Sources::Anchored(b)) => a.same(b),
            _ => false,
        }
    }

    /// An operator's sources, read beneath their transfer roots; plain
    /// paths with `insecure` (`--insecure-links`).
    pub fn operator(insecure: bool) -> Sources {
        if insecure {
            Sources::Ambient
        } else {
            Sources::Anchored(Bound::new(Arc::new(Anchors::default())))
        }
    }

    /// These sources with the operator's transfer root `base` (a
    /// directory path as the operator spelled it, followed as given)
    /// opened, and every later call resolved beneath it. The other kinds
    /// of sources are returned as they are.
    pub fn anchor_at(&self, base: &Path) -> io::Result<Sources> {
        match self {
            Sources::Anchored(b) => Ok(Sources::Anchored(b.anchor_at(base)?)),
            other => Ok(other.clone()),
        }
    }

    /// These sources bound to the directory the symlink `p` (found
    /// beneath the current root, and followed by `-L` or `-k`) leads to:
    /// a new root for the walk below it.
    pub fn follow_dir(&self, p: &Path) -> io::Result<Sources> {
        match self {
            Sources::Anchored(b) => Ok(Sources::Anchored(b.follow_dir(p)?)),
            other => Ok(other.clone()),
        }
    }

    /// These sources for operator-named paths (a `-R` argument's implied
    /// directories, a `--files-from` base), resolved as given.
    pub fn unbound(&self) -> Sources {
        self.at(Origin::OPERATOR)
    }

    /// Where the current root is, and whether the leaf of what is read
    /// next is a link the scan followed: kept per file-list entry.
    pub fn origin(&self, followed_leaf: bool) -> Origin {
        match self {
            Sources::Anchored(b) => b.origin().with_followed_leaf(followed_leaf),
            _ => Origin::OPERATOR,
        }
    }

    /// True for an operator's sources read beneath transfer roots.
    pub fn is_anchored(&self) -> bool {
        matches!(self, Sources::Anchored(_))
    }

    /// These sources, with the last component of what is read next
    /// followed (a link the scan followed) or not.
    pub fn leaf_followed(&self, yes: bool) -> Sources {
        self.at(self.origin(yes))
    }

    /// These sources bound to `o` (from [`Sources::origin`]).
    pub fn at(&self, o: Origin) -> Sources {
        match self {
            Sources::Anchored(b) => Sources::Anchored(b.at(o)),
            other => other.clone(),
        }
    }
}

impl Sources {
    /// Reads beneath `root`, whose directory the sender's paths spell
    /// `base` (the module path, `/` after a chroot). Symlinks are followed
    /// while they stay beneath the root, by openat2 or by the fallback
    /// walk alike; with `chroot` (a module chrooted at its own directory)
    /// an absolute target is taken from the root, as the chroot does.
    pub fn beneath(root: Root, base: PathBuf, chroot: bool) -> Sources {
        let root = if chroot {
            root.as_chroot()
        } else {
            root.following()
        };
        Sources::Beneath(Arc::new(Beneath { root, base }))
    }

    /// Where an operation on `p` goes.
    fn via(&self, p: &Path) -> io::Result<Via<'_>> {
        self.via_following(p, false)
    }

    /// As [`Sources::via`], for a call that follows the last component.
    fn via_following(&self, p: &Path, follow: bool) -> io::Result<Via<'_>> {
        Ok(match self {
            Sources::Ambient => Via::Plain,
            Sources::Beneath(b) => Via::Module(&b.root, b.rel(p)?),
            Sources::Anchored(b) => match b.resolve(p, follow)? {
                Some((root, rel, follow)) => Via::Under(root, rel, follow),
                None => Via::Plain,
            },
        })
    }

    /// lstat: the last component is not followed, unless the path ends
    /// in a slash (as the kernel does).
    pub fn lstat(&self, p: &Path) -> io::Result<Stat> {
        let bytes = p.as_os_str().as_bytes();
        let slash = bytes.ends_with(b"/") || bytes.ends_with(b"/.");
        let st = match self.via(p)? {
            Via::Plain => return fs::symlink_metadata(p).map(|m| stat_of(&m)),
            Via::Module(root, rel) if slash => root.stat_follow(&rel),
            Via::Module(root, rel) => root.stat(&rel),
            Via::Under(root, rel, _) if slash && !rel.is_root() => root.stat_follow(&rel),
            Via::Under(root, rel, _) => root.stat(&rel),
        };
        found(st.map_err(io_of)?)
    }

    /// Whether this process may read `p` (faccessat R_OK, the last
    /// component not followed): a daemon's `ignore nonreadable`.
    pub fn readable(&self, p: &Path) -> bool {
        match self.via(p) {
            Ok(Via::Plain) => confine::readable_at(rustix::fs::CWD, p.as_os_str().as_bytes()),
            Ok(Via::Module(root, rel)) => root.readable(&rel),
            Ok(Via::Under(root, rel, _)) => root.readable(&rel),
            Err(_) => false,
        }
    }

    /// stat: symlinks followed (beneath the module only; beneath a
    /// transfer root, the last component is followed wherever it leads,
    /// as `-L` and `-k` ask).
    pub fn stat(&self, p: &Path) -> io::Result<Stat> {
        let st = match self.via_following(p, true)? {
            Via::Plain => return fs::metadata(p).map(|m| stat_of(&m)),
            Via::Module(root, rel) => root.stat_follow(&rel),
            Via::Under(root, rel, _) => root.stat_leaf_follow(&rel),
        };
        found(st.map_err(io_of)?)
    }

    /// The target of the symlink `p`.
    pub fn read_link(&self, p: &Path) -> io::Result<Vec<u8>> {
        match self.via(p)? {
            Via::Plain => fs::read_link(p).map(|t| t.as_os_str().as_bytes().to_vec()),
            Via::Module(root, rel) => root.readlink(&rel).map_err(io_of),
            Via::Under(root, rel, _) => root.readlink(&rel).map_err(io_of),
        }
    }

    /// The names in directory `p` (its last component followed, beneath
    /// the root only), without "." and "..", unsorted.
    pub fn read_dir(&self, p: &Path) -> io::Result<Vec<Vec<u8>>> {
        match self.via(p)? {
            Via::Plain => fs::read_dir(p)?
                .map(|e| e.map(|e| e.file_name().as_bytes().to_vec()))
                .collect(),
            Via::Module(root, rel) => root.read_dir(&rel).map_err(io_of),
            Via::Under(root, rel, _) => root.read_dir(&rel).map_err(io_of),
        }
    }

    /// The directory `p`, opened once for a walk, resolved as
    /// [`Sources::read_dir`] resolves it: its names are read and each of
    /// its entries stat'ed beneath that one descriptor.
    pub fn open_listing(&self, p: &Path) -> io::Result<confine::Listing> {
        match self.via(p)? {
            Via::Plain => {
                let auth = confine::AmbientAuthority::operator();
                confine::Listing::open_ambient(p, auth).map_err(io_of)
            }
            Via::Module(root, rel) => root.open_listing(&rel).map_err(io_of),
            Via::Under(root, rel, _) => root.open_listing(&rel).map_err(io_of),
        }
    }

    /// Opens a file to send, with O_NOATIME under `--open-noatime`
    /// (upstream syscall.c do_open). Beneath a module symlinks are
    /// followed inside it; beneath a transfer root the last component is
    /// followed only when the scan followed it (a link with `-L`), and a
    /// symlink found there otherwise fails with ELOOP.
    pub fn open(&self, p: &Path, noatime: bool) -> io::Result<fs::File> {
        confine::failpoint::check("open")?;
        match self.via(p)? {
            Via::Plain => {
                use std::os::unix::fs::OpenOptionsExt;
                let mut o = fs::OpenOptions::new();
                o.read(true);
                if noatime {
                    o.custom_flags(rustix::fs::OFlags::NOATIME.bits() as i32);
                }
                o.open(p)
            }
            Via::Module(root, rel) => root.open_read_follow(&rel, noatime).map_err(io_of),
            Via::Under(root, rel, follow) => root.open_source(&rel, noatime, follow).map_err(io_of),
        }
    }

    /// As [`Sources::open`], for the sender's loop: returns the file with
    /// its fstat (the size it is sent to, as rsync's sender.c fstats what
    /// it opened), and keeps the parent directory of what it opened in
    /// `cache` for the next file of the same directory (files are asked
    /// for in list order), as [`confine::Root::open_source_cached`]
    /// describes: the name is still resolved beneath a directory handle
    /// found beneath the root.
    pub fn open_sized(
        &self,
        p: &Path,
        noatime: bool,
        cache: &mut OpenCache,
    ) -> io::Result<(fs::File, Stat)> {
        use confine::SourceLeaf;
        confine::failpoint::check("open")?;
        let (root, rel, leaf, key) = match self.via(p)? {
            Via::Plain => {
                let f = self.open(p, noatime)?;
                let st = stat_of(&f.metadata()?);
                return Ok((f, st));
            }
            Via::Module(root, rel) => {
                let Sources::Beneath(b) = self else {
                    return Err(outside());
                };
                (root, rel, SourceLeaf::Beneath, CacheKey::Module(b.clone()))
            }
            Via::Under(root, rel, follow) => {
                let leaf = if follow {
                    SourceLeaf::Anywhere
                } else {
                    SourceLeaf::NoFollow
                };
                let key = CacheKey::Under(root.clone());
                return cache.open(&root, &rel, noatime, leaf, key);
            }
        };
        cache.open(root, &rel, noatime, leaf, key)
    }

    /// Reads a whole (small) file: a per-directory merge file.
    /// An operator's own tree still refuses a symlink another user owns
    /// on the way, unless `links` is insecure.
    pub fn read(&self, p: &Path, links: confine::Links) -> io::Result<Vec<u8>> {
        use std::io::Read;
        if let Sources::Ambient | Sources::Anchored(_) = self {
            return confine::operator::read(p, links);
        }
        let mut v = Vec::new();
        self.open(p, false)?.read_to_end(&mut v)?;
        Ok(v)
    }

    /// Removes the non-directory `p` (`--remove-source-files`): unlinkat
    /// beneath the root, its last component never followed.
    pub fn remove_file(&self, p: &Path) -> io::Result<()> {
        match self.via(p)? {
            Via::Plain => fs::remove_file(p),
            Via::Module(root, rel) => root.unlink(&rel).map_err(io_of),
            Via::Under(root, rel, _) => root.unlink(&rel).map_err(io_of),
        }
    }

    /// The extended attribute `name` of the file or directory `p` (its
    /// last component not followed), at most `max` bytes.
    pub fn xattr(&self, p: &Path, name: &str, max: usize) -> Option<Vec<u8>> {
        match self.via(p).ok()? {
            Via::Plain => {
                let mut buf = vec![0u8; max];
                let n = rustix::fs::lgetxattr(p, name, &mut buf[..]).ok()?;
                buf.truncate(n);
                Some(buf)
            }
            Via::Module(root, rel) => root.get_xattr(&rel, name, max).ok()?,
            Via::Under(root, rel, _) => root.get_xattr(&rel, name, max).ok()?,
        }
    }
}

impl Sources {
    /// The attribute `name` of `p` whatever kind of file it is (symlinks
    /// followed for plain paths, as rsync's ACL calls do; beneath a root
    /// the last component is not followed), at most `max` bytes.
    /// `Ok(None)` when absent or unsupported.
    pub fn node_xattr(&self, p: &Path, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
        match self.via(p)? {
            Via::Plain => {
                let mut buf = vec![0u8; max];
                match rustix::fs::getxattr(p, name, &mut buf[..]) {
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(Some(buf))
                    }
                    Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
            Via::Module(root, rel) => root.get_node_xattr(&rel, name, max).map_err(io_of),
            Via::Under(root, rel, _) => root.get_node_xattr(&rel, name, max).map_err(io_of),
        }
    }

    /// `-X`: a descriptor for the xattrs of `p` beneath its root
    /// (`Some(None)` when it is not a file or directory); `None` for
    /// plain paths, which are opened by path.
    pub fn xattr_fd(&self, p: &Path) -> io::Result<Option<Option<std::os::fd::OwnedFd>>> {
        match self.via(p)? {
            Via::Plain => Ok(None),
            Via::Module(root, rel) => root.xattr_fd(&rel).map(Some).map_err(io_of),
            Via::Under(root, rel, _) => root.xattr_fd(&rel).map(Some).map_err(io_of),
        }
    }
}

/// The directory the sender opened its last file in, kept open for the
/// next one ([`Sources::open_sized`]), with the root it was found beneath.
#[derive(Debug, Default)]
pub struct OpenCache {
    key: Option<CacheKey>,
    dir: confine::ParentCache,
}

/// The root an [`OpenCache`] holds a directory of (kept alive with it, so
/// that another root cannot take its place at the same address).
#[derive(Debug)]
enum CacheKey {
    Module(Arc<Beneath>),
    Under(Arc<Root>),
}

impl CacheKey {
    fn same(&self, other: &CacheKey) -> bool {
        match (self, other) {
            (CacheKey::Module(a), CacheKey::Module(b)) => Arc::ptr_eq(a, b),
            (CacheKey::Under(a), CacheKey::Under(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl OpenCache {
    /// Opens `rel` beneath `root` (the root `key` names), through the
    /// directory held when it is `rel`'s parent beneath the same root.
    fn open(
        &mut self,
        root: &Root,
        rel: &RelPath,
        noatime: bool,
        leaf: confine::SourceLeaf,
        key: CacheKey,
    ) -> io::Result<(fs::File, Stat)> {
        if !self.key.as_ref().is_some_and(|k| k.same(&key)) {
            self.dir.clear();
            self.key = Some(key);
        }
        root.open_source_cached(&mut self.dir, rel, noatime, leaf)
            .map_err(io_of)
    }
}

/// Where one operation goes: a plain path, beneath a module's root, or
/// beneath a transfer root (with the leaf followed when the scan did).
enum Via<'a> {
    Plain,
    Module(&'a Root, RelPath),
    Under(Arc<Root>, RelPath, bool),
}

impl Beneath {
    /// The module-relative tail of a sender path. A path that does not
    /// start with the module's path, or climbs with `..`, fails as an
    /// escape would (EXDEV).
    fn rel(&self, p: &Path) -> io::Result<RelPath> {
        let tail = p.strip_prefix(&self.base).map_err(|_| outside())?;
        RelPath::new(tail.as_os_str().as_bytes()).map_err(|_| outside())
    }
}

fn found(st: Option<Stat>) -> io::Result<Stat> {
    st.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

/// The [`Stat`] of std's metadata.
pub fn stat_of(m: &fs::Metadata) -> Stat {
    Stat {
        file_type: FileType::from_mode(m.mode()),
        mode: m.mode(),
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec() as u32,
        atime: m.atime(),
        uid: m.uid(),
        gid: m.gid(),
        dev: m.dev(),
        ino: m.ino(),
        nlink: m.nlink(),
        rdev: m.rdev(),
    }
}

/// What reading each entry's source needs of the sender's file list
/// (`crate::flist::FileList`), so that the readers of xattrs sit below
/// the list's encoder, which calls them.
pub trait SentList {
    /// The entries, in wire order.
    fn entries(&self) -> &[protocol::flist::FileEntry];
    /// Where entry `i` is read from.
    fn source_path(&self, i: usize) -> Option<PathBuf>;
    /// How entry `i`'s source path is reached.
    fn source_of(&self, i: usize) -> Sources;
}
