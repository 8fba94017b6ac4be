//! Putting a file somewhere else beneath the same or another `Root`: the
//! missing parents made, a rename, or a copy when the rename crosses
//! devices (upstream util1.c robust_rename(), copy_file()). Used by the
//! placement of received files (`crate::partial`), backups
//! (`crate::backup`) and `--copy-dest`.
use crate::error::{Error, Result};
use confine::{FileType, RelPath, Root};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// Creates the missing parent directories of `p` beneath `root` (mode 0700,
/// as upstream makes partial and temp dirs).
pub(crate) fn make_parent(root: &Root, p: &RelPath) {
    make_parent_mode(root, p, 0o700);
}

/// As [`make_parent`] with a mode (backup dirs: 0777 less the umask, as
/// upstream's make_path).
pub(crate) fn make_parent_mode(root: &Root, p: &RelPath, mode: u32) {
    let parent = p.split_last().0;
    let mut cur = RelPath::root();
    for comp in parent.components() {
        let Ok(next) = cur.join(comp) else { return };
        cur = next;
        if matches!(root.stat(&cur), Ok(None)) {
            let _ = root.mkdir(&cur, mode);
        }
    }
}

/// Renames within one root, or copies (then unlinks) across two. A rename
/// that meets another filesystem (a `--temp-dir` elsewhere) copies too,
/// owner included, as upstream's robust_rename() does.
pub(crate) fn relocate(a: &Root, from: &RelPath, b: &Root, to: &RelPath) -> Result<()> {
    if std::ptr::eq(a, b) {
        match a.rename(from, to) {
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
                copy_file_as(a, from, a, to, true)?;
            }
            res => {
                return res.map_err(|e| {
                    Error::file_io(format!(
                        "rsync: [receiver] rename failed: {}",
                        crate::error::sys_err(&e)
                    ))
                })
            }
        }
    } else {
        copy_file(a, from, b, to)?;
    }
    let _ = a.unlink(from);
    Ok(())
}

/// Copies a regular file's data, mode and mtime to a new name beneath `b`
/// (through a temp name beside it, then a rename).
pub(crate) fn copy_file(a: &Root, from: &RelPath, b: &Root, to: &RelPath) -> Result<()> {
    copy_file_as(a, from, b, to, false)
}

/// As [`copy_file`]; `owned`: the copy gets the original's owner too.
fn copy_file_as(a: &Root, from: &RelPath, b: &Root, to: &RelPath, owned: bool) -> Result<()> {
    let fail = |e: &dyn crate::error::SysErr| {
        Error::file_io(format!(
            "rsync: [receiver] copy \"{}\" failed: {}",
            from.display_lossy(),
            crate::error::sys_err(e)
        ))
    };
    let st = a
        .stat(from)
        .map_err(|e| fail(&e))?
        .ok_or_else(|| fail(&"gone"))?;
    let mut src = a.open_read(from).map_err(|e| fail(&e))?;
    let (parent, base) = to.split_last();
    let tmp = parent
        .join(&crate::relocate::temp_name(base, 0))
        .map_err(|e| fail(&e))?;
    let mut dst = b.create_excl(&tmp, 0o600).map_err(|e| fail(&e))?;
    let res = io::copy(&mut src, &mut dst)
        .map_err(|e| fail(&e))
        .and_then(|_| {
            Root::set_fd_meta(
                &dst,
                Some(st.mode & 0o7777),
                owned.then_some((Some(st.uid), Some(st.gid))),
                Some((st.mtime, st.mtime_nsec)),
            )
            .map_err(|e| fail(&e))
        })
        .and_then(|_| b.rename(&tmp, to).map_err(|e| fail(&e)));
    if res.is_err() {
        let _ = b.unlink(&tmp);
    }
    res
}

/// Recreates the non-directory `from` at `to` (both beneath `root`): a
/// regular file is copied, a symlink made again with its target, a device,
/// FIFO or socket made with `mknodat`.
pub(crate) fn recreate(root: &Root, from: &RelPath, to: &RelPath) -> Result<()> {
    let fail = |e: &dyn crate::error::SysErr| {
        Error::file_io(format!(
            "rsync: [receiver] backup of \"{}\" failed: {}",
            from.display_lossy(),
            crate::error::sys_err(e)
        ))
    };
    let st = root
        .stat(from)
        .map_err(|e| fail(&e))?
        .ok_or_else(|| fail(&"gone"))?;
    if st.file_type == FileType::Dir {
        return Err(fail(&"is a directory"));
    }
    // An older backup of another type gives way, as a rename would replace it.
    if matches!(root.stat(to), Ok(Some(old)) if old.file_type != FileType::Dir) {
        root.unlink(to).map_err(|e| fail(&e))?;
    }
    match st.file_type {
        FileType::File => copy_file(root, from, root, to)?,
        FileType::Symlink => {
            let target = root.readlink(from).map_err(|e| fail(&e))?;
            root.symlink(&target, to).map_err(|e| fail(&e))?
        }
        _ => root.mknod(to, st.mode, st.rdev).map_err(|e| fail(&e))?,
    }
    // The original goes, as after the rename this stands in for.
    root.unlink(from).map_err(|e| fail(&e))
}

/// Copies a regular file for `--copy-dest` (and a failed `--link-dest`).
pub fn copy_in(a: &Root, from: &RelPath, b: &Root, to: &RelPath) -> Result<()> {
    copy_file(a, from, b, to)
}

/// Makes an item at a fresh temporary name beside `p` with `make` (which
/// fails with EEXIST where the name is taken: the next is tried), then
/// renames it over `p`; the temporary is removed when the rename fails.
/// False when every name tried was taken.
// upstream: generator.c:atomic_create()
pub fn replace_via_temp(
    root: &Root,
    p: &RelPath,
    mut make: impl FnMut(&RelPath) -> std::result::Result<(), confine::Error>,
) -> std::result::Result<bool, confine::Error> {
    let (parent, base) = p.split_last();
    for attempt in 0..100u32 {
        let tmp = parent.join(&temp_name(base, attempt))?;
        match make(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
        return root.rename(&tmp, p).map(|()| true).inspect_err(|_| {
            let _ = root.unlink(&tmp);
        });
    }
    Ok(false)
}

/// Upstream's temp-file name: `.NAME.XXXXXX` in the same directory.
pub fn temp_name(base: &[u8], attempt: u32) -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // The process id, asked for once (a getpid per file otherwise); a
    // clash only costs another attempt, the file is made with O_EXCL.
    static PID: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut pid = PID.load(Ordering::Relaxed);
    if pid == 0 {
        pid = u64::from(std::process::id()) | 1 << 32;
        PID.store(pid, Ordering::Relaxed);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mix = pid.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ n.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ ((t as u64) << 7)
        ^ attempt as u64;
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut name = Vec::with_capacity(base.len() + 8);
    name.push(b'.');
    // Keep the whole name under NAME_MAX.
    name.extend_from_slice(&base[..base.len().min(240)]);
    name.push(b'.');
    let mut m = mix;
    for _ in 0..6 {
        name.push(ALPHA[(m % ALPHA.len() as u64) as usize]);
        m /= ALPHA.len() as u64;
    }
    name
}
