//! Backups (`-b`, `--backup-dir`, `--suffix`): the destination's file
//! renamed (or copied for `--inplace`) out of the way before it is
//! replaced or deleted (upstream backup.c).
use crate::ctx::RecvCtx;
use crate::error::{Error, Result};
use crate::relocate::{copy_file, recreate};
use confine::{FileType, RelPath, Root};

/// The start of the line a failed backup is reported with.
const KEEP_BACKUP_FAILED: &str = "rsync: [receiver] keep_backup failed: ";

/// Backs up the destination's `p` (renamed, or copied for `--inplace`)
/// to `p` + suffix or into `--backup-dir`. False when it failed (said as
/// a file's error).
// upstream: backup.c:make_backup()
pub fn make_backup(ctx: &RecvCtx, p: &RelPath, copy: bool) -> bool {
    match try_backup(ctx, p, copy) {
        Ok(()) => true,
        Err(e) => {
            ctx.out.error_xfer(&e.message);
            false
        }
    }
}

/// Whether `e` is a failed backup (from [`try_backup`]).
pub fn is_backup_failure(e: &Error) -> bool {
    e.message.starts_with(KEEP_BACKUP_FAILED)
}

/// As [`make_backup`]; a failure is returned (code 11, the line to say).
pub fn try_backup(ctx: &RecvCtx, p: &RelPath, copy: bool) -> Result<()> {
    let st = match ctx.root.stat(p) {
        Ok(Some(st)) if st.file_type != FileType::Dir => st,
        _ => return Ok(()),
    };
    if st.file_type == FileType::Symlink && unsafe_backup_link(ctx, p) {
        // The link is dropped, not kept: the caller expects `p` gone.
        if !copy {
            let _ = ctx.root.unlink(p);
        }
        return Ok(());
    }
    let suffix = ctx.opts.backup_suffix().as_bytes();
    let with_suffix = |r: RelPath| -> Option<RelPath> {
        let mut v = r.as_bytes().to_vec();
        v.extend_from_slice(suffix);
        RelPath::new(&v).ok()
    };
    // `base`: how many leading components of `to` name the backup dir.
    let (root, from, to, base) = match &ctx.dirs.backup {
        Some(place) => {
            let (Ok(from), Ok(to)) = (place.dest_path(p), place.dir_path(p)) else {
                return Err(failed(ctx, p, "", "File name too long (36)"));
            };
            let Some(to) = with_suffix(to) else {
                return Err(failed(ctx, p, "", "File name too long (36)"));
            };
            let base = place.dir.components().count();
            (place.root(&ctx.root), from, to, base)
        }
        None => {
            let Some(to) = with_suffix(p.clone()) else {
                return Err(failed(ctx, p, "", "File name too long (36)"));
            };
            (&ctx.root, p.clone(), to, 0)
        }
    };
    make_backup_parents(root, &to, base);
    // A copy under --fake-super keeps the attribute that says what the
    // file stands for (a rename keeps it anyway).
    let copied = |make: &dyn Fn() -> Result<()>| {
        if ctx.opts.fake_super {
            crate::fakesuper::carry_record(root, &from, &to, make)
        } else {
            make()
        }
    };
    let res = clear_backup_target(root, &to).and_then(|()| {
        if copy {
            return copied(&|| copy_file(root, &from, root, &to));
        }
        match root.rename(&from, &to) {
            Ok(()) => Ok(()),
            // A backup directory on another filesystem: the old entry is
            // recreated there and the transfer then replaces the original
            // (upstream backup.c make_backup(), its copy fallback).
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
                copied(&|| recreate(root, &from, &to))
            }
            Err(e) => Err(Error::file_io(crate::error::sys_err(&e))),
        }
    });
    match res {
        Ok(()) => {
            if ctx.opts.ctl.info.backup > 0 {
                ctx.out.info(&format!(
                    "backed up {} to {}",
                    p.display_lossy(),
                    to.display_lossy()
                ));
            }
            Ok(())
        }
        Err(e) => {
            // upstream backup.c keep_backup(): the backup's name as the
            // operator spelled the directory (an rrsync fd pin stays
            // `/proc/self/fd/N/...`, not the anchor's inner path).
            let target = match &ctx.opts.backup_dir {
                Some(dir) => format!(
                    "{}/{}{}",
                    dir.trim_end_matches('/'),
                    p.display_lossy(),
                    ctx.opts.backup_suffix()
                ),
                None => to.display_lossy().to_string(),
            };
            Err(failed(ctx, p, &target, &errno_tail(&e.message)))
        }
    }
}

/// Makes the directories a backup goes into. Beneath the backup dir's own
/// `base` components, anything else in a directory's way (a file, a
/// symlink from an older backup) is removed first, as upstream's
/// copy_valid_path() (validate_backup_dir()) does.
fn make_backup_parents(root: &Root, to: &RelPath, base: usize) {
    let parent = to.split_last().0;
    let mut cur = RelPath::root();
    for (n, comp) in parent.components().enumerate() {
        let Ok(next) = cur.join(comp) else { return };
        cur = next;
        match root.stat(&cur) {
            Ok(None) => {}
            Ok(Some(st)) if n >= base && st.file_type != FileType::Dir => {
                if root.unlink(&cur).is_err() {
                    return;
                }
            }
            _ => continue,
        }
        let _ = root.mkdir(&cur, 0o777);
    }
}

/// upstream's `keep_backup failed: "NAME" -> "BACKUP": ERRNO`, the name
/// as its full_fname() gives it.
fn failed(ctx: &RecvCtx, p: &RelPath, target: &str, why: &str) -> Error {
    Error::file_io(format!(
        "{KEEP_BACKUP_FAILED}\"{}\" -> \"{target}\": {why}",
        ctx.full_path(p.as_bytes())
    ))
}

/// The system error at the end of a failure's message (`... failed:
/// Not a directory (20)` gives `Not a directory (20)`): keep_backup's
/// line names the file and its backup itself, as upstream's rsyserr().
fn errno_tail(message: &str) -> String {
    let tail = message.rsplit_once("failed: ").map_or(message, |(_, t)| t);
    crate::error::errno_text(tail)
}

/// A directory where the backup goes is removed first, with what it
/// holds (an older backup of a directory that is now a file).
// upstream: backup.c:make_backup_inner() (EEXIST/EISDIR: delete_item with
// DEL_FOR_BACKUP | DEL_RECURSE)
fn clear_backup_target(root: &Root, to: &RelPath) -> Result<()> {
    fn remove_tree(root: &Root, p: &RelPath, depth: usize) -> Result<()> {
        let fail = |what: &str, e: confine::Error| {
            Error::file_io(format!(
                "rsync: [receiver] delete_file: {what}({}) failed: {}",
                p.display_lossy(),
                crate::error::sys_err(&e)
            ))
        };
        if depth > 4096 {
            return Err(Error::file_io(
                "backup target nested too deeply".to_string(),
            ));
        }
        for name in root.read_dir(p).map_err(|e| fail("opendir", e))? {
            let Ok(child) = p.join(&name) else { continue };
            match root.stat(&child) {
                Ok(Some(st)) if st.file_type == FileType::Dir => {
                    remove_tree(root, &child, depth + 1)?
                }
                Ok(Some(_)) => root.unlink(&child).map_err(|e| fail("unlink", e))?,
                _ => {}
            }
        }
        root.rmdir(p).map_err(|e| fail("rmdir", e))
    }
    match root.stat(to) {
        Ok(Some(st)) if st.file_type == FileType::Dir => remove_tree(root, to, 0),
        _ => Ok(()),
    }
}

/// Whether the destination symlink `p` must not be kept as a backup:
/// with `--links --safe-links`, one whose target leaves the tree, or
/// cannot be read (fail closed), is dropped instead.
// upstream: backup.c:make_backup_inner() (the safe_symlinks check)
fn unsafe_backup_link(ctx: &RecvCtx, p: &RelPath) -> bool {
    if !ctx.opts.links || !ctx.opts.safe_links {
        return false;
    }
    let shown = p.display_lossy();
    match ctx.root.readlink(p) {
        Ok(target) if !target.is_empty() => {
            let unsafe_link = crate::flist::unsafe_symlink(&target, p.as_bytes());
            if unsafe_link && ctx.opts.ctl.info.symsafe > 0 {
                ctx.out.info(&format!(
                    "not backing up unsafe symlink \"{shown}\" -> \"{}\"",
                    String::from_utf8_lossy(&target)
                ));
            }
            unsafe_link
        }
        _ => {
            if ctx.opts.ctl.info.symsafe > 0 {
                ctx.out.info(&format!(
                    "not backing up symlink with unreadable target \"{shown}\""
                ));
            }
            true
        }
    }
}
