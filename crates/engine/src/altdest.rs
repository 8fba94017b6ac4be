//! `--compare-dest`, `--copy-dest`, `--link-dest`: the generator's search
//! of the basis directories for a file missing from the destination
//! (upstream generator.c try_dests_reg(), try_dests_non()). Where the
//! directories are is `crate::basis`.
use confine::{RelPath, Root};

/// What the basis directories offer for a missing destination file.
#[derive(Debug)]
pub enum Dests {
    /// The file was linked, copied or found identical: nothing to fetch.
    Done,
    /// Use basis directory `j`'s file (with its stat) as the delta basis.
    Basis(u8, confine::Stat),
    /// No basis directory has the file.
    Nothing,
}

/// Finds the best basis-dir file for `p`: (index, level, stat) where level
/// 1 = a regular file, 2 = passes the quick check, 3 = also same attributes.
// upstream: generator.c:try_dests_reg() (search part)
pub fn find_dest(
    ctx: &crate::ctx::RecvCtx,
    p: &RelPath,
    quick_ok: &dyn Fn(&Root, &RelPath, &confine::Stat) -> bool,
    e: &protocol::flist::FileEntry,
) -> Option<Found> {
    best_dest(ctx, p, |root, path| {
        let st = root.stat(path).ok().flatten()?;
        if st.file_type != confine::FileType::File {
            return None;
        }
        let mut level = 1;
        if quick_ok(root, path, &st) {
            level = 2;
            let perms_ok = !ctx.opts.perms || st.mode & 0o7777 == e.mode & 0o7777;
            let times_ok = !ctx.opts.times || st.mtime == e.mtime();
            if perms_ok && times_ok && xattrs_same(ctx, root, path, e) {
                level = 3;
            }
        }
        Some((level, st))
    })
}

/// A basis directory's candidate: (index, level, stat).
type Found = (usize, u8, confine::Stat);

/// The best candidate over the basis directories in their order, as
/// `level_of` grades each (None: not a candidate); the first of level 3
/// ends the search.
// upstream: generator.c try_dests_reg()/try_dests_non(), their loop
fn best_dest(
    ctx: &crate::ctx::RecvCtx,
    p: &RelPath,
    mut level_of: impl FnMut(&Root, &RelPath) -> Option<(u8, confine::Stat)>,
) -> Option<Found> {
    let mut best: Option<Found> = None;
    for (j, place) in ctx.dirs.basis.iter().enumerate() {
        let Ok(path) = place.dir_path(p) else {
            continue;
        };
        let Some((level, st)) = level_of(place.root(&ctx.root), &path) else {
            continue;
        };
        if best.as_ref().is_none_or(|b| level > b.1) {
            best = Some((j, level, st));
        }
        if level == 3 {
            break;
        }
    }
    best
}

/// -X: the basis file's xattrs are the entry's (upstream unchanged_attrs()).
fn xattrs_same(
    ctx: &crate::ctx::RecvCtx,
    root: &Root,
    path: &RelPath,
    e: &protocol::flist::FileEntry,
) -> bool {
    if ctx.opts.xattrs == 0 {
        return true;
    }
    let pol = crate::xattrs::Policy::new(&ctx.opts, &ctx.filters, filter::Side::Receiver);
    ctx.xattrs.same(e, &ctx.xattrs.local(root, path, &pol))
}

/// Finds the best basis-dir match for `p`, an entry that is not a regular
/// file (a directory, symlink, device or special): (index, level, stat)
/// with the levels of [`find_dest`]: 1 = the same file type, 2 = also the
/// same target or device, 3 = also the same attributes.
// upstream: generator.c:try_dests_non() (search part), quick_check_ok(),
// unchanged_attrs()
pub fn find_dest_non(
    ctx: &crate::ctx::RecvCtx,
    p: &RelPath,
    e: &protocol::flist::FileEntry,
) -> Option<Found> {
    use protocol::flist::S_IFMT;
    let opts = &ctx.opts;
    best_dest(ctx, p, |root, path| {
        // --fake-super: what the basis file's user.rsync.%stat records.
        let st = if opts.fake_super {
            crate::fakesuper::stat(root, path).ok().flatten()
        } else {
            root.stat(path).ok().flatten()
        }?;
        if st.mode & S_IFMT != e.mode & S_IFMT {
            return None;
        }
        let mut level = 1;
        let same = if e.is_symlink() && opts.fake_super {
            crate::fakesuper::read_link_file(root, path).as_deref() == e.link_target()
        } else if e.is_symlink() {
            root.readlink(path).ok().as_deref() == e.link_target()
        } else if e.is_dir() {
            true
        } else {
            let dev = crate::fakesuper::makedev(e.rdev().0, e.rdev().1);
            let ft = e.mode & S_IFMT;
            let is_device = ft == protocol::flist::S_IFCHR || ft == protocol::flist::S_IFBLK;
            !is_device || st.rdev == dev
        };
        if same {
            level = 2;
            let times_ok = !opts.times
                || (e.is_symlink() && opts.omit_link_times)
                || opts.same_time(st.mtime, st.mtime_nsec, e.mtime(), e.mtime_nsec);
            // Linux cannot chmod a symlink, so its mode is not compared.
            let perms_ok = e.is_symlink() || !opts.perms || st.mode & 0o7777 == e.mode & 0o7777;
            let owner_ok = !ctx.am_root
                || ((!opts.owner || st.uid == ctx.uid(e)) && (!opts.group || st.gid == ctx.gid(e)));
            if times_ok && perms_ok && owner_ok {
                level = 3;
            }
        }
        Some((level, st))
    })
}
