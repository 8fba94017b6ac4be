//! `--fake-super`: the ownership, permission bits and device numbers a
//! super-user would apply are stored in the `user.rsync.%stat` extended
//! attribute of a plain file (devices and specials become empty regular
//! files) and read back from it when sending or comparing (upstream
//! xattrs.c set_stat_xattr/get_stat_xattr, syscall.c do_mknod).
use crate::error::{Error, Result};
use confine::{FileType, RelPath, Root, Stat};
use protocol::exit;
use protocol::flist::{FileEntry, S_IFBLK, S_IFCHR, S_IFDIR, S_IFMT};

/// The attribute's name (upstream XSTAT_ATTR).
pub const XSTAT_ATTR: &str = "user.rsync.%stat";

/// The longest value read back (upstream reads into 256 bytes).
const MAX_VALUE: usize = 255;

/// What the attribute records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// Type and permission bits.
    pub mode: u32,
    /// Device numbers (0, 0 unless a device).
    pub rdev: (u32, u32),
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl Recorded {
    /// `MODE MAJOR,MINOR UID:GID` with the mode in octal.
    pub fn format(&self) -> Vec<u8> {
        format!(
            "{:o} {},{} {}:{}",
            self.mode, self.rdev.0, self.rdev.1, self.uid, self.gid
        )
        .into_bytes()
    }

    /// Parses [`Recorded::format`]'s text; None when it is not that.
    pub fn parse(v: &[u8]) -> Option<Recorded> {
        let s = std::str::from_utf8(v).ok()?;
        let mut it = s.split_ascii_whitespace();
        let mode = u32::from_str_radix(it.next()?, 8).ok()?;
        let (major, minor) = it.next()?.split_once(',')?;
        let (uid, gid) = it.next()?.split_once(':')?;
        if it.next().is_some() {
            return None;
        }
        Some(Recorded {
            mode,
            rdev: (major.parse().ok()?, minor.parse().ok()?),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
        })
    }
}

fn is_device(mode: u32) -> bool {
    matches!(mode & S_IFMT, S_IFCHR | S_IFBLK)
}

fn file_type(mode: u32) -> FileType {
    match mode & S_IFMT {
        protocol::flist::S_IFREG => FileType::File,
        S_IFDIR => FileType::Dir,
        protocol::flist::S_IFLNK => FileType::Symlink,
        S_IFCHR | S_IFBLK => FileType::Device,
        _ => FileType::Special,
    }
}

/// The attribute of `p` (a regular file or directory), if it has one.
fn read(root: &Root, p: &RelPath) -> Result<Option<Recorded>> {
    let Some(v) = root.get_xattr(p, XSTAT_ATTR, MAX_VALUE).map_err(|e| {
        Error::file_io(format!(
            "rsync: failed to read xattr {XSTAT_ATTR} for \"{}\": {}",
            p.display_lossy(),
            crate::error::sys_err(&e)
        ))
    })?
    else {
        return Ok(None);
    };
    Recorded::parse(&v).map(Some).ok_or_else(|| {
        Error::new(
            exit::RERR_FILEIO,
            format!(
                "Corrupt {XSTAT_ATTR} xattr attached to \"{}\": \"{}\"",
                p.display_lossy(),
                String::from_utf8_lossy(&v)
            ),
        )
    })
}

/// `lstat` of `p` beneath `root` as a fake super-user sees it: the
/// recorded type, mode, device and ids in place of the real ones.
// upstream: xattrs.c x_lstat()
pub fn stat(root: &Root, p: &RelPath) -> Result<Option<Stat>> {
    let Some(mut st) = root.stat(p).map_err(|e| {
        Error::file_io(format!(
            "rsync: [generator] stat \"{}\" failed: {}",
            p.display_lossy(),
            crate::error::sys_err(&e)
        ))
    })?
    else {
        return Ok(None);
    };
    if let Some(r) = read(root, p)? {
        apply(&mut st, &r);
    }
    Ok(Some(st))
}

fn apply(st: &mut Stat, r: &Recorded) {
    st.mode = r.mode;
    st.file_type = file_type(r.mode);
    st.rdev = crate::fakesuper::makedev(r.rdev.0, r.rdev.1);
    st.uid = r.uid;
    st.gid = r.gid;
}

/// What to record for `e` with the permission bits `mode`, owner `uid`
/// and group `gid` the receiver settled on.
pub fn wanted(e: &FileEntry, mode: u32, uid: u32, gid: u32) -> Recorded {
    let fmode = (e.mode & S_IFMT) | (mode & 0o7777);
    Recorded {
        mode: fmode,
        rdev: if is_device(fmode) { e.rdev() } else { (0, 0) },
        uid,
        gid,
    }
}

/// The real permission bits of a fake super-user's copy: the recorded
/// ones without the special bits, and always owner read-write (and
/// search, for a directory).
pub fn real_mode(want: &Recorded, real_type: u32) -> u32 {
    (want.mode & 0o777)
        | if real_type & S_IFMT == S_IFDIR {
            0o700
        } else {
            0o600
        }
}

/// The attribute's new value: None (remove it) when the real file (its
/// full mode, device number and ids) says it all already.
fn value_for(want: &Recorded, real: (u32, u64, u32, u32)) -> Option<Vec<u8>> {
    let (mode, rdev, uid, gid) = real;
    let real_rdev = if is_device(mode) { rdev } else { 0 };
    let want_rdev = crate::fakesuper::makedev(want.rdev.0, want.rdev.1);
    let plain = mode == want.mode && real_rdev == want_rdev && uid == want.uid && gid == want.gid;
    (!plain).then(|| want.format())
}

/// Records `want` on `p` (not a symlink: Linux keeps no user xattrs on
/// them): the real mode becomes [`real_mode`], the attribute is set,
/// rewritten or removed.
// upstream: xattrs.c set_stat_xattr()
pub fn record(root: &Root, p: &RelPath, want: &Recorded) -> Result<()> {
    let fail = |e: confine::Error| {
        Error::file_io(format!(
            "rsync: failed to write xattr {XSTAT_ATTR} for \"{}\": {}",
            p.display_lossy(),
            crate::error::sys_err(&e)
        ))
    };
    let Some(real) = root.stat(p).map_err(fail)? else {
        return Ok(());
    };
    if !matches!(real.file_type, FileType::File | FileType::Dir) {
        return Ok(());
    }
    let mode = real_mode(want, real.mode);
    if real.mode & 0o7777 != mode {
        root.chmod(p, mode).map_err(fail)?;
    }
    let had = read(root, p)?;
    let value = value_for(
        want,
        ((real.mode & S_IFMT) | mode, real.rdev, real.uid, real.gid),
    );
    if value.is_none() && had.is_none() {
        return Ok(());
    }
    if value.is_some() && had.as_ref() == Some(want) {
        return Ok(());
    }
    root.set_xattr(p, XSTAT_ATTR, value.as_deref())
        .map_err(fail)
}

/// Runs `make`, which makes `to` a copy of `from` (both beneath `root`),
/// and gives the copy `from`'s attribute: a backup made by copying keeps
/// what the file stands for (a FIFO or device kept as an inert regular
/// file stays one), as upstream's copy fallback re-applies the stat.
// upstream: backup.c make_backup_inner() (set_file_attrs on the copy)
pub fn carry_record(
    root: &Root,
    from: &RelPath,
    to: &RelPath,
    make: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let value = root.get_xattr(from, XSTAT_ATTR, MAX_VALUE).ok().flatten();
    make()?;
    let Some(value) = value else { return Ok(()) };
    root.set_xattr(to, XSTAT_ATTR, Some(&value)).map_err(|e| {
        Error::file_io(format!(
            "rsync: failed to write xattr {XSTAT_ATTR} for \"{}\": {}",
            to.display_lossy(),
            crate::error::sys_err(&e)
        ))
    })
}

/// As [`record`] for the file the receiver holds open (its mode already
/// set to [`real_mode`]).
pub fn record_fd(file: &std::fs::File, want: &Recorded) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let fail = |e: &dyn crate::error::SysErr| {
        Error::file_io(format!(
            "rsync: failed to write xattr {XSTAT_ATTR}: {}",
            crate::error::sys_err(e)
        ))
    };
    let m = file.metadata().map_err(|e| fail(&e))?;
    let mode = (m.mode() & S_IFMT) | real_mode(want, m.mode());
    let value = value_for(want, (mode, m.rdev(), m.uid(), m.gid()));
    Root::set_fd_xattr(file, XSTAT_ATTR, value.as_deref()).map_err(|e| fail(&e))
}

/// The longest symlink target a stand-in file holds.
const MAX_LINK: usize = 4096;

/// Creates the plain file that stands for a symlink under
/// `--fake-super` (Linux keeps no user xattrs on symlinks): mode 0600,
/// the target as its content.
// upstream: syscall.c do_symlink() (NO_SYMLINK_XATTRS)
pub fn create_link_file(
    root: &Root,
    p: &RelPath,
    target: &[u8],
) -> std::result::Result<(), confine::Error> {
    use std::io::Write;
    let mut f = root.create_excl(p, 0o600)?;
    f.write_all(target).map_err(|source| confine::Error::Io {
        op: "write",
        path: p.display_lossy(),
        source,
    })
}

/// The target a stand-in file holds, or empty for a real symlink (which
/// then never matches and is replaced).
// upstream: syscall.c do_readlink()
pub fn read_link_file(root: &Root, p: &RelPath) -> Option<Vec<u8>> {
    use std::io::Read;
    match root.stat(p).ok()?? {
        st if st.file_type == FileType::Symlink => Some(Vec::new()),
        st if st.file_type == FileType::File => {
            let f = root.open_read(p).ok()?;
            let mut v = Vec::new();
            f.take(MAX_LINK as u64).read_to_end(&mut v).ok()?;
            Some(v)
        }
        _ => None,
    }
}

/// A sender's view of a source under `--fake-super`: the recorded type,
/// mode, device and ids (regular files and directories only).
// upstream: xattrs.c x_lstat() via flist.c readlink_stat()
pub fn source_override(src: &crate::source::Sources, path: &std::path::Path, e: &mut FileEntry) {
    if !(e.is_file() || e.is_dir()) {
        return;
    }
    let Some(buf) = src.xattr(path, XSTAT_ATTR, MAX_VALUE) else {
        return;
    };
    let Some(r) = Recorded::parse(&buf) else {
        return;
    };
    let was_file = e.is_file();
    if was_file && r.mode & S_IFMT == protocol::flist::S_IFLNK {
        // A stand-in for a symlink: its content is the target.
        use std::io::Read;
        let mut v = Vec::new();
        let read = src
            .open(path, false)
            .and_then(|f| f.take(MAX_LINK as u64).read_to_end(&mut v));
        if read.is_err() {
            return;
        }
        e.set_size(v.len() as i64);
        e.set_link_target(Some(v));
    }
    e.mode = r.mode;
    e.uid = r.uid;
    e.gid = r.gid;
    e.set_rdev(if is_device(r.mode) { r.rdev } else { (0, 0) });
    if was_file && !e.is_file() && !e.is_dir() && !e.is_symlink() {
        e.set_size(0);
    }
}

/// Linux makedev.
pub fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_upstream() {
        let r = Recorded {
            mode: 0o20644,
            rdev: (1, 3),
            uid: 1234,
            gid: 5678,
        };
        assert_eq!(r.format(), b"20644 1,3 1234:5678");
        assert_eq!(Recorded::parse(b"20644 1,3 1234:5678"), Some(r));
        assert_eq!(
            Recorded::parse(b"100644 0,0 0:0").map(|r| r.mode),
            Some(0o100644)
        );
        for bad in [
            &b""[..],
            b"x 0,0 0:0",
            b"644 0 0:0",
            b"644 0,0 0",
            b"644 0,0 0:0 x",
        ] {
            assert_eq!(Recorded::parse(bad), None);
        }
    }
}
