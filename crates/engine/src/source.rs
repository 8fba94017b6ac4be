//! Where a sender reads its files: every stat, readlink, directory
//! listing, open and `--remove-source-files` unlink of the sending side
//! goes through [`Sources`].
//!
//! A local copy or a remote-shell server reads the operator's own paths
//! with ambient authority ([`Sources::Ambient`]) and follows symlinks
//! wherever they lead, as rsync does. A daemon module's sender reads
//! beneath the module's [`Root`] ([`Sources::Beneath`]): the paths the
//! file list carries are the module directory's path plus a tail, and the
//! tail is resolved by the kernel beneath the module's directory handle,
//! so a symlink that `-L`, `--copy-unsafe-links`, `-k`, a trailing slash
//! or an intermediate component would follow out of the module fails with
//! EXDEV ("Invalid cross-device link") instead of being read.
use confine::{FileType, RelPath, Root, Stat};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How a sender reaches its source files.
#[derive(Debug, Clone, Default)]
pub enum Sources {
    /// The operator's own paths, resolved normally (symlinks followed
    /// anywhere).
    #[default]
    Ambient,
    /// Beneath a daemon module's root.
    Beneath(Arc<Beneath>),
}

/// A module root and the path the sender's names start with.
#[derive(Debug)]
pub struct Beneath {
    root: Root,
    base: PathBuf,
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

    /// lstat: the last component is not followed, unless the path ends
    /// in a slash (as the kernel does).
    pub fn lstat(&self, p: &Path) -> io::Result<Stat> {
        match self {
            Sources::Ambient => fs::symlink_metadata(p).map(|m| stat_of(&m)),
            Sources::Beneath(b) => {
                let rel = b.rel(p)?;
                let bytes = p.as_os_str().as_bytes();
                let st = if bytes.ends_with(b"/") || bytes.ends_with(b"/.") {
                    b.root.stat_follow(&rel)
                } else {
                    b.root.stat(&rel)
                };
                found(st.map_err(io_of)?)
            }
        }
    }

    /// stat: symlinks followed (beneath the module only).
    pub fn stat(&self, p: &Path) -> io::Result<Stat> {
        match self {
            Sources::Ambient => fs::metadata(p).map(|m| stat_of(&m)),
            Sources::Beneath(b) => found(b.root.stat_follow(&b.rel(p)?).map_err(io_of)?),
        }
    }

    /// The target of the symlink `p`.
    pub fn read_link(&self, p: &Path) -> io::Result<Vec<u8>> {
        match self {
            Sources::Ambient => fs::read_link(p).map(|t| t.as_os_str().as_bytes().to_vec()),
            Sources::Beneath(b) => b.root.readlink(&b.rel(p)?).map_err(io_of),
        }
    }

    /// The names in directory `p` (its last component followed, beneath
    /// the module only), without "." and "..", unsorted.
    pub fn read_dir(&self, p: &Path) -> io::Result<Vec<Vec<u8>>> {
        match self {
            Sources::Ambient => fs::read_dir(p)?
                .map(|e| e.map(|e| e.file_name().as_bytes().to_vec()))
                .collect(),
            Sources::Beneath(b) => b.root.read_dir(&b.rel(p)?).map_err(io_of),
        }
    }

    /// Opens a file to send (symlinks followed, beneath the module only),
    /// with O_NOATIME under `--open-noatime` (upstream syscall.c do_open).
    pub fn open(&self, p: &Path, noatime: bool) -> io::Result<fs::File> {
        confine::failpoint::check("open")?;
        match self {
            Sources::Ambient => {
                use std::os::unix::fs::OpenOptionsExt;
                let mut o = fs::OpenOptions::new();
                o.read(true);
                if noatime {
                    o.custom_flags(rustix::fs::OFlags::NOATIME.bits() as i32);
                }
                o.open(p)
            }
            Sources::Beneath(b) => b.root.open_read_follow(&b.rel(p)?, noatime).map_err(io_of),
        }
    }

    /// Reads a whole (small) file: a per-directory merge file.
    /// An operator's own tree (`Ambient`) still refuses a symlink another
    /// user owns on the way, unless `links` is insecure.
    pub fn read(&self, p: &Path, links: confine::Links) -> io::Result<Vec<u8>> {
        use std::io::Read;
        if let Sources::Ambient = self {
            return confine::operator::read(p, links);
        }
        let mut v = Vec::new();
        self.open(p, false)?.read_to_end(&mut v)?;
        Ok(v)
    }

    /// Removes the non-directory `p` (`--remove-source-files`): unlinkat
    /// beneath the module, its last component never followed.
    pub fn remove_file(&self, p: &Path) -> io::Result<()> {
        match self {
            Sources::Ambient => fs::remove_file(p),
            Sources::Beneath(b) => b.root.unlink(&b.rel(p)?).map_err(io_of),
        }
    }

    /// The extended attribute `name` of the file or directory `p` (its
    /// last component not followed), at most `max` bytes.
    pub fn xattr(&self, p: &Path, name: &str, max: usize) -> Option<Vec<u8>> {
        match self {
            Sources::Ambient => {
                let mut buf = vec![0u8; max];
                let n = rustix::fs::lgetxattr(p, name, &mut buf[..]).ok()?;
                buf.truncate(n);
                Some(buf)
            }
            Sources::Beneath(b) => b.root.get_xattr(&b.rel(p).ok()?, name, max).ok()?,
        }
    }
}

impl Sources {
    /// The attribute `name` of `p` whatever kind of file it is (symlinks
    /// followed for the operator's own paths, as rsync's ACL calls do;
    /// beneath a module the last component is not followed), at most
    /// `max` bytes. `Ok(None)` when absent or unsupported.
    pub fn node_xattr(&self, p: &Path, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
        match self {
            Sources::Ambient => {
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
            Sources::Beneath(b) => b.root.get_node_xattr(&b.rel(p)?, name, max).map_err(io_of),
        }
    }

    /// `-X`: a descriptor for the xattrs of `p` beneath the module
    /// (`Some(None)` when it is not a file or directory); `None` for the
    /// operator's own paths, which are opened by path.
    pub fn xattr_fd(&self, p: &Path) -> io::Result<Option<Option<std::os::fd::OwnedFd>>> {
        match self {
            Sources::Ambient => Ok(None),
            Sources::Beneath(b) => b.root.xattr_fd(&b.rel(p)?).map(Some).map_err(io_of),
        }
    }
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

fn outside() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::XDEV.raw_os_error())
}

fn found(st: Option<Stat>) -> io::Result<Stat> {
    st.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

/// The io::Error inside a confined failure (errno kept, so messages carry
/// rsync's "(18)" suffix).
fn io_of(e: confine::Error) -> io::Error {
    match e {
        confine::Error::Io { source, .. } => source,
        other => io::Error::new(io::ErrorKind::PermissionDenied, other.to_string()),
    }
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
