//! `--fuzzy` on both threads of the receiving side: the directories the
//! search looks in, and where a fuzzy basis the sender echoed back lies.
//! The generator's search itself is `generator/fuzzy.rs`.
use crate::basis::FNAMECMP_FUZZY;
use crate::ctx::RecvCtx;
use confine::RelPath;

/// How many directories the search looks in (upstream fuzzy_basis).
pub(crate) fn dir_count(ctx: &RecvCtx) -> usize {
    match ctx.opts.fuzzy {
        0 => 0,
        1 => 1,
        _ => ctx.dirs.basis.len() + 1,
    }
}

/// Where a fuzzy basis the sender echoed back lies: its root and path, or
/// an error for a basis type or name this side never chose.
// upstream: receiver.c:recv_files() (FNAMECMP_FUZZY cases)
pub fn basis_place<'a>(
    ctx: &'a RecvCtx,
    i: usize,
    basis_type: u8,
    xname: &[u8],
) -> crate::error::Result<(&'a confine::Root, RelPath)> {
    use crate::error::Error;
    let name = String::from_utf8_lossy(xname);
    if ctx.opts.fuzzy == 0 {
        return Err(Error::protocol(format!(
            "rsync: refusing malicious fuzzy operation for {name}"
        )));
    }
    let k = usize::from(basis_type - FNAMECMP_FUZZY);
    if k >= dir_count(ctx) {
        return Err(Error::protocol(format!(
            "invalid basis_dir index: {}.",
            basis_type
        )));
    }
    if xname.is_empty() || xname.contains(&b'/') || xname == b"." || xname == b".." {
        return Err(Error::protocol(format!(
            "rsync: refusing malicious fuzzy operation for {name}"
        )));
    }
    let (dir, _) = ctx.path(i).split_last();
    let p = dir
        .join(xname)
        .map_err(|e| Error::protocol(e.to_string()))?;
    if k == 0 {
        return Ok((&ctx.root, p));
    }
    let place = &ctx.dirs.basis[k - 1];
    Ok((place.root(&ctx.root), place.dir_path(&p)?))
}
