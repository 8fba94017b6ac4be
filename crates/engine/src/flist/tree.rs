//! The sender's file list for -R (with implied directories and the `/./`
//! marker) and for --files-from (upstream flist.c send_file_list() with
//! relative_paths, send_implied_dirs()).
use super::*;
use crate::options::tree::FilesFrom;

/// How an argument names its item (upstream's name_type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameType {
    Normal,
    /// "." (or a path that cleans to it): its contents are sent with -d.
    DotDir,
    /// Written with a trailing slash: followed when a symlink, contents
    /// sent with -d.
    SlashEnding,
}

/// State carried from one argument to the next.
#[derive(Default)]
struct RelState {
    /// The directory path whose implied parents were sent last (upstream
    /// lastpath), with the root it was under.
    last: Option<(PathBuf, Vec<u8>)>,
    /// "." was sent as an implied directory.
    dot_sent: bool,
}

/// The files-from names for this sender, or None without --files-from.
/// `peer` reads a list the other side forwards.
pub fn files_from_names(
    opts: &Options,
    am_client: bool,
    peer: &mut dyn FnMut() -> Result<Vec<Vec<u8>>>,
    local_open: &mut dyn FnMut(&str) -> Result<Vec<u8>>,
) -> Result<Option<Vec<Vec<u8>>>> {
    let Some(ff) = opts.tree.files_from() else {
        return Ok(None);
    };
    let names = match ff {
        // A client's remote list, or a server's "-": the peer sends it.
        FilesFrom::Remote { .. } => peer()?,
        FilesFrom::Local(p) if p == "-" && !am_client => peer()?,
        FilesFrom::Local(p) => {
            let data = local_open(&p)?;
            crate::treeshape::read_names(&mut data.as_slice(), true, opts.tree.from0)
                .map_err(|e| Error::new(exit::RERR_FILEIO, format!("rsync: {e}")))?
        }
    };
    Ok(Some(names))
}

/// Builds the list from files-from names (relative to the single source
/// directory) or from -R arguments.
pub(super) fn build_tree(
    w: &mut Walker<'_>,
    sources: &[String],
    names: Option<&[Vec<u8>]>,
) -> Result<()> {
    let mut st = RelState::default();
    match names {
        Some(names) => {
            let base = PathBuf::from(match sources.first().map(String::as_str) {
                None | Some("") => ".",
                Some(s) => s,
            });
            let base_st = w.src.unbound().stat(&base);
            if !base_st.as_ref().is_ok_and(Stat::is_dir) {
                let err = base_st.err().unwrap_or_else(|| {
                    io::Error::from_raw_os_error(rustix::io::Errno::NOTDIR.raw_os_error())
                });
                return Err(Error::new(
                    exit::RERR_FILESELECT,
                    format!(
                        "rsync: [sender] change_dir {} failed: {}",
                        full_fname(&base),
                        os_err(&err)
                    ),
                ));
            }
            for name in names {
                let clean = sanitize(name);
                if w.opts.tree.relative() {
                    add_relative(w, &base, &clean, &mut st)?;
                } else {
                    let joined = base.join(std::ffi::OsStr::from_bytes(&clean));
                    let mut s = joined.to_string_lossy().into_owned();
                    if clean.ends_with(b"/") && !s.ends_with('/') {
                        s.push('/');
                    }
                    add_plain(w, &s)?;
                }
            }
        }
        None => {
            for src in sources {
                add_relative(w, Path::new(""), src.as_bytes(), &mut st)?;
            }
        }
    }
    Ok(())
}

/// One plain (non -R) argument, through the ordinary builder.
fn add_plain(w: &mut Walker<'_>, src: &str) -> Result<()> {
    if w.divert.is_some() {
        // Incremental recursion: listed into the top list as an argument
        // is, its directories waiting for lists of their own.
        let saved = w.src.clone();
        let res = walk_args(w, &[src.to_string()]);
        w.src = saved;
        return res;
    }
    let list = std::mem::take(&mut w.list);
    let mut sub = build_with(
        &[src.to_string()],
        w.opts,
        w.session,
        w.out,
        w.rules,
        w.daemon,
        &w.src.clone(),
    )?;
    w.list = list;
    w.list.entries.append(&mut sub.entries);
    w.list.sources.append(&mut sub.sources);
    w.list.origins.append(&mut sub.origins);
    Ok(())
}

/// A files-from line made safe: leading slashes dropped and `..` that
/// would climb above the start removed, "." components kept (they carry
/// the `/./` marker).
// upstream: util1.c:sanitize_path() with SP_KEEP_DOT_DIRS
fn sanitize(name: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let trailing = name.ends_with(b"/");
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" => {}
            b".." => {
                if parts.last().is_some_and(|p| *p != b".") {
                    parts.pop();
                }
            }
            c => parts.push(c),
        }
    }
    let mut out = parts.join(&b'/');
    if out.is_empty() {
        out.push(b'.');
    }
    if trailing {
        out.push(b'/');
    }
    out
}

/// Cleans the active part of a -R path: repeated slashes and "."
/// components go; a trailing slash (or "/.", which leaves one) is noted.
/// Returns (name without leading slashes, absolute, name type).
// upstream: util1.c:clean_fname(CFN_KEEP_TRAILING_SLASH | CFN_DROP_TRAILING_DOT_DIR)
fn clean_active(path: &[u8]) -> (Vec<u8>, bool, NameType) {
    let abs = path.first() == Some(&b'/');
    let slash_end = (path.ends_with(b"/") || path.ends_with(b"/.")) && path.len() > 1;
    let parts: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if parts.is_empty() {
        return (b".".to_vec(), abs, NameType::DotDir);
    }
    let name = parts.join(&b'/');
    let kind = if slash_end {
        NameType::SlashEnding
    } else {
        NameType::Normal
    };
    (name, abs, kind)
}

/// One -R argument (`base` is the files-from source directory, or empty).
fn add_relative(w: &mut Walker<'_>, base: &Path, arg: &[u8], st: &mut RelState) -> Result<()> {
    let (dir, active): (Option<&[u8]>, &[u8]) = match arg.windows(3).position(|x| x == b"/./") {
        Some(p) => {
            let dir: &[u8] = if p == 0 { b"/" } else { &arg[..p] };
            let mut rest = &arg[p + 3..];
            while let Some(r) = rest.strip_prefix(b"/") {
                rest = r;
            }
            (Some(dir), rest)
        }
        None => (None, arg),
    };
    let implied_dot = active.starts_with(b"./") && active.len() > 2 && !st.dot_sent;
    let (mut name, abs, kind) = clean_active(active);
    if has_dotdot(&name) {
        return Err(Error::new(
            exit::RERR_SYNTAX,
            format!(
                "found \"..\" dir in relative path: {}",
                String::from_utf8_lossy(&name)
            ),
        ));
    }
    let mut root = base.to_path_buf();
    if let Some(d) = dir {
        root = root.join(std::ffi::OsStr::from_bytes(d));
    }
    if abs {
        // upstream: an absolute -R path keeps its slash in the list (the
        // receiver strips it after sorting).
        root = PathBuf::from("/");
        if name != b"." {
            name.insert(0, b'/');
        }
    }
    if root.as_os_str().is_empty() {
        root = PathBuf::from(".");
    }
    if let Err(e) = w.src.unbound().stat(&root).and_then(|m| {
        if m.is_dir() {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(
                rustix::io::Errno::NOTDIR.raw_os_error(),
            ))
        }
    }) {
        w.out.error_xfer(&format!(
            "rsync: [sender] change_dir {} failed: {}",
            full_fname(&root),
            os_err(&e)
        ));
        w.out.add_io_error(1);
        return Ok(());
    }
    w.root = root.clone();
    let abs_root = std::path::absolute(&w.root).unwrap_or_else(|_| w.root.clone());
    w.rules.set_root(abs_root.as_os_str().as_bytes());
    let src = w.src.clone();
    w.stack.enter(w.rules, b"", &mut |p| {
        read_beneath(&src, &abs_root, p, w.opts)
    })?;
    crate::filters::print_notes(w.rules, w.out);
    let res = add_relative_item(w, &root, name, kind, implied_dot, st);
    w.stack.clear(w.rules);
    res
}

fn add_relative_item(
    w: &mut Walker<'_>,
    root: &Path,
    name: Vec<u8>,
    kind: NameType,
    implied_dot: bool,
    st: &mut RelState,
) -> Result<()> {
    let opts = w.opts;
    if implied_dot {
        st.dot_sent = true;
        let operator = w.src.unbound();
        if let Ok(m) = operator.stat(root) {
            if m.is_dir() {
                let mut e = entry_for(&operator, root, &m, b".".to_vec(), opts, w.session)?;
                e.set_xflags(XMIT_TOP_DIR | XMIT_NO_CONTENT_DIR);
                w.push(e, root.to_path_buf(), Origin::OPERATOR);
            }
        }
    }
    let (path, meta, was_link) = resolve(w, root, &name, kind);
    let daemon_out = w.daemon_excluded(&name, true);
    let meta = match meta {
        Ok(m) if !daemon_out => Some(m),
        res => {
            let err = res
                .err()
                .unwrap_or_else(|| io::Error::from(io::ErrorKind::NotFound));
            let missing = err.kind() == io::ErrorKind::NotFound;
            match opts.tree.missing_args {
                1 if missing => return Ok(()),
                2 if missing => None,
                _ => {
                    w.out.error_xfer(&format!(
                        "rsync: [sender] link_stat {} failed: {}",
                        full_fname(&path),
                        os_err(&err)
                    ));
                    if !missing {
                        w.out.add_io_error(1);
                    }
                    return Ok(());
                }
            }
        }
    };
    if let Some(m) = &meta {
        if kind != NameType::DotDir && w.excluded(&name, m.is_dir()) {
            return Ok(());
        }
        if m.is_dir() && !opts.recursive && !opts.dirs {
            w.out.info(&format!(
                "skipping directory {}",
                String::from_utf8_lossy(&name)
            ));
            return Ok(());
        }
    }
    if w.divert.is_some() {
        // Incremental recursion: only the first directory of the path
        // goes in the top list; the rest follows in its list.
        if let Some(p) = relnames::first_slash(&name) {
            let rest = relnames::RelName {
                rest: name[p + 1..].to_vec(),
                kind,
                missing: meta.is_none(),
            };
            return relnames::defer(w, root, &name[..p], rest);
        }
    } else if let Some(slash) = name.iter().rposition(|&b| b == b'/') {
        send_implied_dirs(w, root, &name[..slash], st)?;
    }
    emit_item(w, path, name, meta, was_link, kind)
}

/// Where a -R item is and what it is: its path, its metadata (a symlink
/// followed when the name ends in a slash or the options say so), and
/// whether it was a symlink. It is read beneath the directory the name
/// puts it in (the item itself when it ends in a slash or is "."), opened
/// as the operator spelled it.
pub(super) fn resolve(
    w: &mut Walker<'_>,
    root: &Path,
    name: &[u8],
    kind: NameType,
) -> (PathBuf, io::Result<Stat>, bool) {
    let path = if name == b"." {
        root.to_path_buf()
    } else {
        under(root, name)
    };
    let anchor = if kind == NameType::Normal {
        parent_or_dot(&path)
    } else {
        path.clone()
    };
    let lstat = match w.src.anchor_at(&anchor) {
        Ok(a) => {
            w.src = a;
            w.src.lstat(&path)
        }
        Err(e) => {
            w.src = w.src.unbound();
            Err(e)
        }
    };
    let was_link = lstat.as_ref().is_ok_and(|m| m.is_symlink()) && kind == NameType::Normal;
    let meta = match lstat {
        Ok(m) if m.is_symlink() && kind != NameType::Normal => w.src.stat(&path),
        Ok(m) => follow_link(&w.src, &path, name, m, (w.opts, w.out)),
        Err(e) => Err(e),
    };
    (path, meta, was_link)
}

/// Puts a -R item in the list (`meta` None: a --delete-missing-args
/// entry); a directory's contents are walked now, or, under incremental
/// recursion, wait for a list of their own (those of "." excepted).
pub(super) fn emit_item(
    w: &mut Walker<'_>,
    path: PathBuf,
    name: Vec<u8>,
    meta: Option<Stat>,
    was_link: bool,
    kind: NameType,
) -> Result<()> {
    let opts = w.opts;
    let Some(meta) = meta else {
        // --delete-missing-args: a mode-0 entry asks the receiver to delete.
        let e = FileEntry {
            name: name.into(),
            ..Default::default()
        };
        w.push(e, path, Origin::OPERATOR);
        return Ok(());
    };
    w.top_dev = Some(meta.dev);
    if w.hides(&meta, || w.src.readable(&path)) {
        return Ok(());
    }
    let followed = was_link && !meta.is_symlink();
    let origin = w.src.origin(followed);
    if !meta.is_dir() {
        let esrc = w.src.at(origin);
        if let Some(e) = leaf_entry(&esrc, &path, &meta, name, opts, w.session, w.out)? {
            w.push(e, path, origin);
        }
        return Ok(());
    }
    let content = opts.recursive || (opts.dirs && kind != NameType::Normal);
    let mut e = entry_for(&w.src, &path, &meta, name.clone(), opts, w.session)?;
    e.set_xflags(if content {
        XMIT_TOP_DIR
    } else {
        XMIT_NO_CONTENT_DIR
    });
    w.push(e, path.clone(), origin);
    if content && w.divert.is_some() && name != b"." {
        w.divert_dir(path, name, followed, true);
    } else if content {
        w.walk(
            &path,
            if name == b"." { Vec::new() } else { name },
            followed,
        )?;
    }
    Ok(())
}

/// `name` below `root`, without a "./" when the root is the working
/// directory (so messages name it as upstream does).
pub(super) fn under(root: &Path, name: &[u8]) -> PathBuf {
    let name = Path::new(std::ffi::OsStr::from_bytes(name));
    if root == Path::new(".") {
        name.to_path_buf()
    } else {
        root.join(name)
    }
}

/// Sends the directories leading to `prefix` that the previous argument
/// did not send already: followed through symlinks, unfiltered, flagged
/// as implied (no contents).
// upstream: flist.c:send_implied_dirs()
fn send_implied_dirs(
    w: &mut Walker<'_>,
    root: &Path,
    prefix: &[u8],
    st: &mut RelState,
) -> Result<()> {
    let comps: Vec<&[u8]> = prefix.split(|&b| b == b'/').collect();
    let mut common = 0;
    if let Some((last_root, last)) = &st.last {
        if last_root == root {
            let mut p = prefix.to_vec();
            p.push(b'/');
            if last == prefix || last.starts_with(&p) {
                return Ok(());
            }
            let lcomps: Vec<&[u8]> = last.split(|&b| b == b'/').collect();
            common = comps
                .iter()
                .zip(lcomps.iter())
                .take_while(|(a, b)| a == b)
                .count();
        }
    }
    st.last = Some((root.to_path_buf(), prefix.to_vec()));
    for n in common..comps.len() {
        let name = comps[..=n].join(&b'/');
        if name.is_empty() {
            continue;
        }
        if w.daemon_excluded(&name, true) {
            continue;
        }
        let path = under(root, &name);
        let Some(meta) = implied_dir_stat(w, &path) else {
            continue;
        };
        let mut e = entry_for(&w.src.unbound(), &path, &meta, name, w.opts, w.session)?;
        e.set_xflags(XMIT_TOP_DIR | XMIT_NO_CONTENT_DIR);
        w.push(e, path, Origin::OPERATOR);
    }
    Ok(())
}

/// An implied directory's stat, through the operator's own path to the
/// item; None when it is not a directory, or after reporting why there
/// is none (upstream make_file(): a missing one as vanished, io_error 2;
/// another failure, io_error 1).
pub(super) fn implied_dir_stat(w: &mut Walker<'_>, path: &Path) -> Option<confine::Stat> {
    match w.src.unbound().stat(path) {
        Ok(m) if m.is_dir() => Some(m),
        Ok(_) => None,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            w.out
                .warning(&format!("file has vanished: {}", full_fname(path)));
            w.out.add_io_error(2);
            None
        }
        Err(e) => {
            w.out.error_xfer(&format!(
                "rsync: [sender] readlink_stat({}) failed: {}",
                full_fname(path),
                os_err(&e)
            ));
            w.out.add_io_error(1);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(sanitize(b"/a/../../b/./c/"), b"b/./c/".to_vec());
        assert_eq!(sanitize(b"../x"), b"x".to_vec());
        assert_eq!(
            clean_active(b"a//./b/"),
            (b"a/b".to_vec(), false, NameType::SlashEnding)
        );
        assert_eq!(
            clean_active(b"a/."),
            (b"a".to_vec(), false, NameType::SlashEnding)
        );
        assert_eq!(
            clean_active(b"./"),
            (b".".to_vec(), false, NameType::DotDir)
        );
        assert_eq!(
            clean_active(b"/t/x"),
            (b"t/x".to_vec(), true, NameType::Normal)
        );
    }
}
