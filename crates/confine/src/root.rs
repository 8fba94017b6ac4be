//! The directory handle every receiver-side filesystem call goes through.
use crate::path::RelPath;
use crate::Error;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::Path;

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
    let _ = on;
    todo!()
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
/// use; the last component is never followed (except by [`Root::open_read`]
/// and [`Root::open_dir`], which resolve it beneath the root too).
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Opens an operator-supplied directory as a root.
    ///
    /// # Ambient authority
    /// `path` is resolved normally (symlinks followed): it is the operator's
    /// anchor, not a peer's name.
    pub fn open_ambient(path: &Path, auth: AmbientAuthority) -> Result<Root, Error> {
        let _ = (path, auth);
        todo!()
    }
    /// Creates the operator-supplied directory `path` (one level, mode 0755
    /// before umask) and opens it as a root.
    ///
    /// # Ambient authority
    /// As [`Root::open_ambient`].
    pub fn create_ambient(path: &Path, auth: AmbientAuthority) -> Result<Root, Error> {
        let _ = (path, auth);
        todo!()
    }
    /// A new root for the directory `p` beneath this one.
    pub fn open_dir(&self, p: &RelPath) -> Result<Root, Error> {
        let _ = p;
        todo!()
    }
    /// Opens a file read-only (O_NOFOLLOW on the last component).
    pub fn open_read(&self, p: &RelPath) -> Result<File, Error> {
        let _ = p;
        todo!()
    }
    /// Opens an existing regular file for writing without truncating
    /// (O_NOFOLLOW).
    pub fn open_write(&self, p: &RelPath) -> Result<File, Error> {
        let _ = p;
        todo!()
    }
    /// Creates a new file exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, read-write)
    /// with `mode`.
    pub fn create_excl(&self, p: &RelPath, mode: u32) -> Result<File, Error> {
        let _ = (p, mode);
        todo!()
    }
    /// mkdirat.
    pub fn mkdir(&self, p: &RelPath, mode: u32) -> Result<(), Error> {
        let _ = (p, mode);
        todo!()
    }
    /// symlinkat: creates `p` pointing at `target` (the target text is
    /// stored as given, it is never resolved here).
    pub fn symlink(&self, target: &[u8], p: &RelPath) -> Result<(), Error> {
        let _ = (target, p);
        todo!()
    }
    /// linkat (no follow): hard link `to` naming the file at `from`.
    pub fn link(&self, from: &RelPath, to: &RelPath) -> Result<(), Error> {
        let _ = (from, to);
        todo!()
    }
    /// readlinkat.
    pub fn readlink(&self, p: &RelPath) -> Result<Vec<u8>, Error> {
        let _ = p;
        todo!()
    }
    /// renameat (replaces `to`).
    pub fn rename(&self, from: &RelPath, to: &RelPath) -> Result<(), Error> {
        let _ = (from, to);
        todo!()
    }
    /// unlinkat of a non-directory.
    pub fn unlink(&self, p: &RelPath) -> Result<(), Error> {
        let _ = p;
        todo!()
    }
    /// unlinkat(AT_REMOVEDIR).
    pub fn rmdir(&self, p: &RelPath) -> Result<(), Error> {
        let _ = p;
        todo!()
    }
    /// fstatat(AT_SYMLINK_NOFOLLOW); `Ok(None)` if it does not exist.
    pub fn stat(&self, p: &RelPath) -> Result<Option<Stat>, Error> {
        let _ = p;
        todo!()
    }
    /// Names in directory `p` (without "." and ".."), unsorted.
    pub fn read_dir(&self, p: &RelPath) -> Result<Vec<Vec<u8>>, Error> {
        let _ = p;
        todo!()
    }
    /// fchmodat on a non-symlink.
    pub fn chmod(&self, p: &RelPath, mode: u32) -> Result<(), Error> {
        let _ = (p, mode);
        todo!()
    }
    /// fchownat(AT_SYMLINK_NOFOLLOW); `None` leaves that id unchanged.
    pub fn lchown(&self, p: &RelPath, uid: Option<u32>, gid: Option<u32>) -> Result<(), Error> {
        let _ = (p, uid, gid);
        todo!()
    }
    /// utimensat(AT_SYMLINK_NOFOLLOW): sets mtime (atime left as is).
    pub fn set_mtime(&self, p: &RelPath, secs: i64, nsec: u32) -> Result<(), Error> {
        let _ = (p, secs, nsec);
        todo!()
    }
    /// mknodat (devices, fifos, sockets).
    pub fn mknod(&self, p: &RelPath, mode: u32, rdev: u64) -> Result<(), Error> {
        let _ = (p, mode, rdev);
        todo!()
    }
    /// Sets mode, owner and mtime through an open descriptor (fchmod,
    /// fchown, futimens): the way the receiver finishes a temp file.
    pub fn set_fd_meta(file: &File, mode: Option<u32>, owner: Option<(Option<u32>, Option<u32>)>, mtime: Option<(i64, u32)>) -> Result<(), Error> {
        let _ = (file, mode, owner, mtime);
        todo!()
    }
}
