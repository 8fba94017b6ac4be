//! Where the receiver writes and how a finished (or interrupted) file is put
//! in place: temp files (beside the file or in `--temp-dir`), `--inplace`
//! and `--append` writes into the file itself, `--partial`/`--partial-dir`
//! on failure, `--delay-updates` (upstream receiver.c). Backups are
//! `crate::backup`, the moving of files `crate::relocate`.
use crate::backup::make_backup;
use crate::basis::{join, Place, FNAMECMP_FNAME};
use crate::chmod::exec_mode;
use crate::ctx::{Output, RecvCtx};
use crate::error::{Error, Result};
use crate::relocate::{make_parent, relocate};
use confine::{FileType, RelPath, Root};
use delta::FileHasher;
use protocol::sum_head::SumHead;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::sync::Mutex;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn out_root<'a>(ctx: &'a RecvCtx, o: &Output) -> &'a Root {
    match (&ctx.dirs.temp, o.in_temp_dir) {
        (Some(t), true) => t.root(&ctx.root),
        _ => &ctx.root,
    }
}

/// The bytes of the basis an append skips: the length the header covers.
pub fn append_len(head: &SumHead) -> u64 {
    let (count, blength, rem) = (
        head.count.max(0) as u64,
        head.blength.max(0) as u64,
        head.remainder.max(0) as u64,
    );
    let mut len = count * blength;
    if rem != 0 {
        len = len.saturating_sub(blength - rem);
    }
    len
}

/// Opens the basis file the generator chose (`basis_type` from the
/// request: none for the file itself, `i` for basis dir `i`, 0x81 for the
/// partial dir, 0x83 and up for a `--fuzzy` basis named `xname`).
// upstream: receiver.c:recv_files() (fnamecmp selection)
pub fn open_basis(ctx: &RecvCtx, i: usize, basis_type: Option<u8>, xname: &[u8]) -> Result<File> {
    let p = &ctx.path(i);
    let err = |e: confine::Error| Error::file_io(e.to_string());
    match basis_type {
        Some(t) if t >= crate::basis::FNAMECMP_FUZZY => {
            let (root, path) = crate::fuzzy::basis_place(ctx, i, t, xname)?;
            root.open_read(&path).map_err(err)
        }
        None | Some(FNAMECMP_FNAME) => ctx.root.open_read(p).map_err(err),
        Some(crate::basis::FNAMECMP_PARTIAL_DIR) => {
            let (place, path) = ctx
                .dirs
                .partial_of(p)
                .ok_or_else(|| Error::file_io("no partial dir"))?;
            place_root(ctx, place).open_read(&path).map_err(err)
        }
        Some(j) => {
            let place = ctx
                .dirs
                .basis
                .get(j as usize)
                .ok_or_else(|| Error::protocol(format!("invalid basis type {j}")))?;
            place
                .root(&ctx.root)
                .open_read(&place.dir_path(p)?)
                .map_err(err)
        }
    }
}

fn place_root<'a>(ctx: &'a RecvCtx, place: Option<&'a Place>) -> &'a Root {
    place.map(|p| p.root(&ctx.root)).unwrap_or(&ctx.root)
}

/// Opens what the receiver writes file `i` into. With `append` the first
/// [`append_len`] bytes are kept (and hashed for `--append-verify`); a
/// `new` file (nothing was at its name) may be written without a name
/// ([`unnamed_output`]).
// upstream: receiver.c:recv_files() (open_tmpfile / inplace open)
pub fn open_output(
    ctx: &RecvCtx,
    i: usize,
    head: &SumHead,
    (append, new): (bool, bool),
    hasher: &mut FileHasher,
) -> Result<(Output, File)> {
    let p = &ctx.path(i);
    let io_fail = |what: &str, e: &dyn crate::error::SysErr| {
        Error::file_io(format!(
            "rsync: [receiver] {what} \"{}\" failed: {}",
            ctx.full_name(i),
            crate::error::sys_err(e)
        ))
    };
    let (out, file) = if ctx.opts.inplace {
        let found = ctx.root.stat(p).ok().flatten().map(|st| st.file_type);
        let exists = found == Some(FileType::File);
        // upstream: receiver.c recv_files() (write_to_device)
        let device = ctx.opts.write_devices && found == Some(FileType::Device);
        // upstream generator.c recv_generator(): an in-place file whose
        // backup cannot be made is not updated (its data is read past).
        if exists && ctx.opts.backup {
            crate::backup::try_backup(ctx, p, true)?;
        }
        let mut file = if device {
            ctx.root.open_write_device(p)
        } else if exists {
            ctx.root.open_write(p)
        } else {
            ctx.root.create_excl(p, 0o600)
        }
        .map_err(|e| io_fail("open", &e))?;
        if append && exists {
            let keep = append_len(head);
            if ctx.opts.append > 1 {
                let mut f = ctx.root.open_read(p).map_err(|e| io_fail("open", &e))?;
                let mut left = keep;
                let mut buf = vec![0u8; 64 * 1024];
                while left > 0 {
                    let n = f
                        .read(&mut buf[..left.min(64 * 1024) as usize])
                        .map_err(|e| io_fail("read", &e))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    left -= n as u64;
                }
            }
            file.seek(io::SeekFrom::Start(keep))
                .map_err(|e| io_fail("seek", &e))?;
        }
        let out = Output {
            in_temp_dir: false,
            tmp: p.clone(),
            inplace: true,
            unnamed: false,
            dir_gid: None,
        };
        (out, file)
    } else if let Some(made) = unnamed_output(ctx, i, new)? {
        made
    } else {
        let (parent, base) = p.split_last();
        let mut made = None;
        for attempt in 0..100u32 {
            let tname = crate::relocate::temp_name(base, attempt);
            let tname = RelPath::new(&tname).map_err(|e| Error::protocol(e.to_string()))?;
            let (in_temp_dir, tmp, root) = match &ctx.dirs.temp {
                Some(t) => (true, t.dir_path(&tname)?, t.root(&ctx.root)),
                None => (false, join(&parent, &tname)?, &ctx.root),
            };
            let made_here = if in_temp_dir {
                root.create_excl(&tmp, 0o600).map(|f| (f, None))
            } else {
                let mut dir = recv_dir(ctx);
                let res = ctx.root.create_excl_cached(&mut dir.1, &tmp, 0o600);
                res.map(|f| (f, dir.1.gid_of(&tmp)))
            };
            match made_here {
                Ok((f, dir_gid)) => {
                    made = Some((
                        Output {
                            in_temp_dir,
                            tmp,
                            inplace: false,
                            unnamed: false,
                            dir_gid,
                        },
                        f,
                    ));
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                // upstream receiver.c open_tmpfile(): the temporary's name.
                Err(e) if !in_temp_dir => {
                    return Err(Error::file_io(format!(
                        "rsync: [receiver] mkstemp \"{}\" failed: {}",
                        ctx.full_path(tmp.as_bytes()),
                        crate::error::sys_err(e)
                    )))
                }
                Err(e) => return Err(io_fail("mkstemp", &e)),
            }
        }
        made.ok_or_else(|| io_fail("mkstemp", &"no free temporary name"))?
    };
    *lock(&ctx.upd.in_flight) = Some((i, out.clone()));
    Ok((out, file))
}

/// The output of new file `i` as a file without a name, given its name
/// once complete (`confine::tmpfile`), where nothing needs the temporary
/// by name: not in `--temp-dir`, not kept as a partial file, not parked
/// for `--delay-updates`. None where that cannot be done here.
fn unnamed_output(ctx: &RecvCtx, i: usize, new: bool) -> Result<Option<(Output, File)>> {
    let opts = &ctx.opts;
    if !new || ctx.dirs.temp.is_some() || opts.keep_partial() || opts.delay_updates {
        return Ok(None);
    }
    let p = ctx.path(i);
    let mut dir = recv_dir(ctx);
    match ctx.root.create_unnamed_cached(&mut dir.1, &p, 0o600) {
        Ok(Some(file)) => {
            let out = Output {
                in_temp_dir: false,
                dir_gid: dir.1.gid_of(&p),
                tmp: p,
                inplace: false,
                unnamed: true,
            };
            Ok(Some((out, file)))
        }
        // Where it fails (a directory we may not write), the named
        // temporary fails as upstream's, and says so as upstream does.
        Ok(None) | Err(_) => Ok(None),
    }
}

/// The receiver's directory handle (see [`crate::ctx::Updates::dir`]),
/// forgotten when the generator may have replaced a directory since.
fn recv_dir(ctx: &RecvCtx) -> std::sync::MutexGuard<'_, (u64, confine::ParentCache)> {
    let mut g = lock(&ctx.upd.dir);
    let epoch = ctx.upd.dir_epoch.load(std::sync::atomic::Ordering::SeqCst);
    if g.0 != epoch {
        g.1.clear();
        g.0 = epoch;
    }
    g
}

/// Drops an output that will not be used (bad checksum, write error).
pub fn discard(ctx: &RecvCtx, out: &Output) {
    *lock(&ctx.upd.in_flight) = None;
    // An unnamed file goes with its descriptor.
    if !out.inplace && !out.unnamed {
        let _ = out_root(ctx, out).unlink(&out.tmp);
    }
}

/// After a failed read of the file data: keep what arrived as a partial
/// file (`--partial`, `--partial-dir`) or remove it.
// upstream: cleanup.c:_exit_cleanup() (partial handling)
pub fn interrupted(ctx: &RecvCtx) {
    let Some((i, out)) = lock(&ctx.upd.in_flight).take() else {
        return;
    };
    // An unnamed file (never one kept as partial) goes with its descriptor.
    if out.inplace || out.unnamed {
        return;
    }
    let root = out_root(ctx, &out);
    let has_data = matches!(root.stat(&out.tmp), Ok(Some(st)) if st.size > 0);
    if ctx.opts.keep_partial() && has_data {
        let p = &ctx.path(i);
        let target = match ctx.dirs.partial_of(p) {
            Some((place, path)) => {
                make_parent(place_root(ctx, place), &path);
                (place_root(ctx, place), path)
            }
            None => (&ctx.root, p.clone()),
        };
        // The partial file gets the permissions the finished file would
        // (upstream: finish_transfer() of the partial, without its mtime),
        // so that neither it nor the file resumed from it stays 0600.
        let mode = crate::partial::final_mode(ctx, &ctx.entries.at(i), p);
        let (from_root, from) = temp_repr(ctx, &out);
        if relocate(from_root, &from, target.0, &target.1).is_ok() {
            let _ = target.0.chmod(&target.1, mode);
            return;
        }
    }
    let _ = root.unlink(&out.tmp);
}

/// The temp file as (root, path), for moving it.
fn temp_repr<'a>(ctx: &'a RecvCtx, out: &Output) -> (&'a Root, RelPath) {
    (out_root(ctx, out), out.tmp.clone())
}

/// Gives the unnamed output `file` its name `p`. When something took that
/// name since the generator looked, the file is named as a temporary
/// beside it and renamed over it (after its backup), as any temporary is.
fn name_unnamed(ctx: &RecvCtx, p: &RelPath, file: &File) -> Result<()> {
    let failed = |e: &dyn crate::error::SysErr| {
        Error::file_io(format!(
            "rsync: [receiver] rename failed: {}",
            crate::error::sys_err(e)
        ))
    };
    let exists = |e: &confine::Error| e.kind() == io::ErrorKind::AlreadyExists;
    match ctx.root.name_unnamed_cached(&mut recv_dir(ctx).1, file, p) {
        Ok(()) => return Ok(()),
        Err(e) if exists(&e) => {}
        Err(e) => return Err(failed(&e)),
    }
    if ctx.opts.backup {
        crate::backup::try_backup(ctx, p, false)?;
    }
    let named = |tmp: &RelPath| {
        ctx.root
            .name_unnamed_cached(&mut recv_dir(ctx).1, file, tmp)
    };
    match crate::relocate::replace_via_temp(&ctx.root, p, named) {
        Ok(true) => Ok(()),
        Ok(false) => Err(failed(&"no free temporary name")),
        Err(e) => Err(failed(&e)),
    }
}

/// Puts a verified file in place (its metadata already set through `file`):
/// truncates an in-place file, parks a delayed one in the partial dir, else
/// backs up the old file and renames over it.
// upstream: receiver.c:recv_files() -> finish_transfer(), rsync.c
pub fn place(ctx: &RecvCtx, i: usize, out: &Output, file: &File) -> Result<()> {
    *lock(&ctx.upd.in_flight) = None;
    let p = &ctx.path(i);
    if out.inplace {
        // A device written under --write-devices is not truncated
        // (upstream receive_data() truncates regular files only).
        if !file.metadata()?.file_type().is_file() {
            return Ok(());
        }
        let mut f = file;
        let end = f.stream_position()?;
        file.set_len(end)?;
        return Ok(());
    }
    if out.unnamed {
        name_unnamed(ctx, p, file)?;
        clear_partial(ctx, p);
        return Ok(());
    }
    let (from_root, from) = temp_repr(ctx, out);
    if ctx.opts.delay_updates {
        if let Some((place, path)) = ctx.dirs.partial_of(p) {
            let root = place_root(ctx, place);
            make_parent(root, &path);
            relocate(from_root, &from, root, &path)?;
            lock(&ctx.upd.delayed).push(i);
            return Ok(());
        }
    }
    if ctx.opts.backup {
        crate::backup::try_backup(ctx, p, false)?;
    }
    let dest = match (&ctx.dirs.temp, out.in_temp_dir) {
        (Some(t), true) => t.dest_path(p)?,
        _ => p.clone(),
    };
    if out.in_temp_dir {
        relocate(from_root, &from, from_root, &dest)?;
    } else {
        // Beside the file: one renameat in the directory kept open (a
        // rename to another filesystem cannot happen there, but is
        // copied as relocate() copies it).
        let res = ctx.root.rename_cached(&mut recv_dir(ctx).1, &from, &dest);
        match res {
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
                relocate(from_root, &from, from_root, &dest)?;
            }
            res => res.map_err(|e| {
                Error::file_io(format!(
                    "rsync: [receiver] rename failed: {}",
                    crate::error::sys_err(&e)
                ))
            })?,
        }
    }
    clear_partial(ctx, p);
    Ok(())
}

/// Removes a used-up partial file of `p` (and its directory if empty).
pub fn clear_partial(ctx: &RecvCtx, p: &RelPath) {
    if let Some((place, path)) = ctx.dirs.partial_of(p) {
        let root = place_root(ctx, place);
        if root.unlink(&path).is_ok() && place.is_none() {
            let _ = root.rmdir(&path.split_last().0);
        }
    }
}

/// Whether file `i` waits in its partial dir for --delay-updates.
pub fn is_delayed(ctx: &RecvCtx, i: usize) -> bool {
    lock(&ctx.upd.delayed).contains(&i)
}

/// Moves every delayed file from its partial dir into place; returns the
/// files moved.
// upstream: receiver.c:handle_delayed_updates()
pub fn delayed_updates(ctx: &RecvCtx) -> Vec<usize> {
    let list = std::mem::take(&mut *lock(&ctx.upd.delayed));
    let mut moved = Vec::with_capacity(list.len());
    for i in list {
        let p = &ctx.path(i);
        let Some((place, path)) = ctx.dirs.partial_of(p) else {
            continue;
        };
        // upstream receiver.c handle_delayed_updates(): a file whose
        // backup failed stays where it is.
        if ctx.opts.backup && !make_backup(ctx, p, false) {
            continue;
        }
        let root = place_root(ctx, place);
        let dest = match place {
            Some(pl) => match pl.dest_path(p) {
                Ok(d) => d,
                Err(_) => continue,
            },
            None => p.clone(),
        };
        if let Err(e) = relocate(root, &path, root, &dest) {
            ctx.out.error_xfer(&format!(
                "rsync: [receiver] rename \"{}\" -> \"{}\": {}",
                path.display_lossy(),
                ctx.name(i),
                crate::error::sys_err(&e)
            ));
            continue;
        }
        if place.is_none() {
            let _ = root.rmdir(&path.split_last().0);
        }
        moved.push(i);
    }
    moved
}

/// Tells the sender that file `ndx` is safely in place (MSG_SUCCESS), for
/// `--remove-source-files`: the message goes out with the generator's
/// next write, before that file's list is done ([`send_held_success`]).
/// The receiver never writes to the sender itself: a sender blocked
/// writing to us reads nothing, and a receiver blocked writing to it would
/// read nothing either (upstream's receiver hands its MSG_SUCCESS to the
/// generator, which reads the receiver's messages while it writes).
pub fn send_success(ctx: &RecvCtx, ndx: usize) {
    if !ctx.opts.remove_source_files || ctx.opts.dry_run {
        return;
    }
    let wire = ctx.wire_ndx(ndx as i32);
    let mut held = ctx
        .upd
        .held_success
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    held.push(wire);
}

/// Writes the MSG_SUCCESS messages held back, before the generator's own
/// data (it holds `g`).
pub fn send_held_success(ctx: &RecvCtx, g: &mut Wire) {
    // Taken out first: the receiver adds to it while this writes.
    let held = std::mem::take(
        &mut *ctx
            .upd
            .held_success
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    );
    for n in held {
        let _ = g.send_msg(protocol::mplex::MsgCode::Success, &n.to_le_bytes());
    }
}

/// The connection's writer.
pub type Wire = protocol::MplexWriter<Box<dyn std::io::Write + Send>>;

/// The permissions a received file gets at `dest`: the sender's with -p;
/// else those of the file it replaces (execute bits adjusted with -E), or
/// for a new file the sender's less the umask or default ACL.
// upstream: rsync.c:dest_mode()
pub(crate) fn final_mode(ctx: &RecvCtx, e: &protocol::flist::FileEntry, dest: &RelPath) -> u32 {
    let opts = &ctx.opts;
    if opts.perms {
        return e.mode & 0o7777;
    }
    match ctx.root.stat(dest).ok().flatten() {
        Some(st) if st.file_type == confine::FileType::File && opts.executability => {
            exec_mode(e.mode, st.mode)
        }
        Some(st) if st.file_type == confine::FileType::File => st.mode & 0o7777,
        _ => e.mode & crate::acls::default_perms(&ctx.root, &dest.split_last().0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_len_from_head() {
        let h = SumHead {
            count: 3,
            blength: 700,
            s2length: 2,
            remainder: 100,
        };
        assert_eq!(append_len(&h), 1500);
        assert_eq!(append_len(&SumHead::default()), 0);
    }
}
