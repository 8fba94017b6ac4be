//! -R (and --files-from) under incremental recursion, the sending side:
//! the top list holds only the first directory of each name, as an
//! implied directory (no contents); the rest of the name waits with that
//! directory, and the directory's list holds the next implied directory
//! down, until the list of the item's own directory holds the item. Names
//! following one another under the same implied directory share it.
// upstream: flist.c send_file_list() (inc_recurse && relative_paths),
// send_implied_dirs() (inc_recurse: lastpath_struct, F_DIR_RELNAMES_P),
// send1extra() (the relname_list loop)
use super::tree::{emit_item, implied_dir_stat, resolve, under, NameType};
use super::*;

/// What is left of a -R name below an implied directory (upstream
/// relnamecache).
#[derive(Debug, Clone)]
pub(super) struct RelName {
    /// The rest of the name, below the directory.
    pub rest: Vec<u8>,
    /// How the argument named the item.
    pub kind: NameType,
    /// --delete-missing-args: the item is missing (a mode-0 entry).
    pub missing: bool,
}

/// The first slash of a -R name that ends its first directory (a leading
/// slash of an absolute name belongs to it).
pub(super) fn first_slash(name: &[u8]) -> Option<usize> {
    name.iter().skip(1).position(|&b| b == b'/').map(|p| p + 1)
}

/// Sends the implied directory `dir` (below `root`) into the list being
/// built, `rel` to follow in that directory's list; when `dir` is the
/// implied directory sent last, `rel` joins it instead. An implied
/// directory is not filtered (but for a daemon's rules) and is followed
/// through a symlink; one that is missing or no directory takes its
/// names with it.
pub(super) fn defer(w: &mut Walker<'_>, root: &Path, dir: &[u8], rel: RelName) -> Result<()> {
    if let Some((r, n, k)) = &w.last_implied {
        if r == root && n == dir {
            if let Some(d) = w.divert.as_mut().and_then(|v| v.get_mut(*k)) {
                d.relnames.push(rel);
                return Ok(());
            }
        }
    }
    w.last_implied = None;
    if w.daemon_excluded(dir, true) {
        return Ok(());
    }
    let path = under(root, dir);
    let Some(meta) = implied_dir_stat(w, &path) else {
        return Ok(());
    };
    let operator = w.src.unbound();
    let mut e = entry_for(&operator, &path, &meta, dir.to_vec(), w.opts, w.session)?;
    e.set_xflags(XMIT_TOP_DIR | XMIT_NO_CONTENT_DIR);
    w.push(e, path.clone(), Origin::OPERATOR);
    w.top_dev = Some(meta.dev);
    let saved = std::mem::replace(&mut w.src, operator);
    w.divert_dir(path, dir.to_vec(), false, false);
    w.src = saved;
    if let Some(v) = w.divert.as_mut() {
        if let Some(d) = v.last_mut() {
            d.relnames.push(rel);
            w.last_implied = Some((root.to_path_buf(), dir.to_vec(), v.len() - 1));
        }
    }
    Ok(())
}

/// The names waiting below the directory `dir` (named `prefix`, below
/// `root`), put in its list: the next implied directory down, or the item
/// itself, checked against the filter rules of its directory.
// upstream: flist.c send1extra()
pub(super) fn send(
    w: &mut Walker<'_>,
    root: &Path,
    prefix: &[u8],
    names: Vec<RelName>,
) -> Result<()> {
    let abs_root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let (src, opts) = (w.src.clone(), w.opts);
    w.stack.enter(w.rules, prefix, &mut |p| {
        read_beneath(&src, &abs_root, p, opts)
    })?;
    let base = w.src.clone();
    for rel in names {
        let mut name = prefix.to_vec();
        name.push(b'/');
        if let Some(p) = rel.rest.iter().position(|&b| b == b'/') {
            name.extend_from_slice(&rel.rest[..p]);
            let below = RelName {
                rest: rel.rest[p + 1..].to_vec(),
                ..rel
            };
            defer(w, root, &name, below)?;
            continue;
        }
        name.extend_from_slice(&rel.rest);
        w.src = base.clone();
        if rel.missing {
            emit_item(w, under(root, &name), name, None, false, rel.kind)?;
            continue;
        }
        let (path, meta, was_link) = resolve(w, root, &name, rel.kind);
        let meta = match meta {
            Ok(m) => m,
            Err(e) => {
                report_gone(w, &path, &e, rel.kind);
                continue;
            }
        };
        if w.excluded(&name, meta.is_dir()) || w.daemon_excluded(&name, meta.is_dir()) {
            continue;
        }
        emit_item(w, path, name, Some(meta), was_link, rel.kind)?;
    }
    w.src = base;
    Ok(())
}

/// An item that went away between the top list and its own.
// upstream: flist.c make_file() (a plain name), interpret_stat_error()
fn report_gone(w: &Walker<'_>, path: &Path, e: &io::Error, kind: NameType) {
    let shown = full_fname(path);
    if e.kind() == io::ErrorKind::NotFound {
        let what = if kind == NameType::Normal {
            "file"
        } else {
            "directory"
        };
        w.out.warning(&format!("{what} has vanished: {shown}"));
        w.out.add_io_error(2);
    } else {
        let what = if kind == NameType::Normal {
            format!("readlink_stat({shown})")
        } else {
            format!("link_stat {shown}")
        };
        w.out
            .error_xfer(&format!("rsync: [sender] {what} failed: {}", os_err(e)));
        w.out.add_io_error(1);
    }
}
