//! `--mkpath`: the missing directories of the destination path are created
//! before the transfer (upstream main.c get_local_name with
//! mkpath_dest_arg, util1.c make_path). The deepest existing directory is
//! opened as a `Root` (an operator path keeps the operator-path rule; a
//! daemon's destination stays beneath its module) and every missing
//! component is made with `mkdirat` beneath it, one at a time. A dry run
//! only counts them.
use crate::error::{Error, Result};
use crate::options::Options;
use crate::out::Out;
use confine::{AmbientAuthority, FileType, Links, RelPath, Root};
use protocol::exit;
use std::path::{Path, PathBuf};

/// What make_path is asked to create for destination `dest` with `total`
/// list entries: the whole path for several entries without a trailing
/// slash, else the path without its last name (upstream MKP_DROP_NAME).
fn wanted(dest: &str, total: usize) -> Option<&str> {
    let trailing = dest.ends_with('/');
    if total > 1 && !trailing {
        return Some(dest);
    }
    match dest.rfind('/') {
        Some(0) | None => None,
        Some(at) => Some(&dest[..at]),
    }
}

/// The "created N directories for X" line, where X is the destination
/// without its last name when that name is the file (or was a trailing
/// slash).
fn report(opts: &Options, out: &Out, dest: &str, total: usize, made: usize) {
    let names = opts.ctl.info.name > 0
        || opts.itemize > 0
        || opts.log_format.as_deref().is_some_and(|f| f.contains("%i"));
    if made == 0 || !names {
        return;
    }
    let shown = match dest.rfind('/') {
        Some(at) if total == 1 || dest.ends_with('/') => &dest[..at],
        _ => dest,
    };
    let plural = if made == 1 { "y" } else { "ies" };
    out.info(&format!("created {made} director{plural} for {shown}"));
}

/// Why [`make_beneath`] stopped; the text follows upstream's
/// `mkdir "DEST" failed: `.
#[derive(Debug, thiserror::Error)]
pub enum MakePathError {
    /// A component does not make a safe name.
    #[error("{0}")]
    Name(confine::Error),
    /// Looking at or making a directory failed (errno text as rsync's).
    #[error("{}", crate::error::confine_err(.0))]
    Fs(confine::Error),
    /// An existing component is not a directory.
    #[error("{0} is not a directory")]
    NotDir(String),
}

/// Makes the missing directories of `rel` beneath `root`; returns how many
/// were (or, in a dry run, would be) made.
// upstream: util1.c:make_path()
pub fn make_beneath(
    root: &Root,
    rel: &RelPath,
    dry: bool,
) -> std::result::Result<usize, MakePathError> {
    let mut made = 0;
    let mut cur = RelPath::root();
    for comp in rel.components() {
        cur = cur.join(comp).map_err(MakePathError::Name)?;
        if made == 0 {
            match root.stat(&cur).map_err(MakePathError::Fs)? {
                Some(st) if st.file_type == FileType::Dir => continue,
                Some(_) => return Err(MakePathError::NotDir(cur.display_lossy())),
                None => {}
            }
        }
        if !dry {
            root.mkdir(&cur, 0o777).map_err(MakePathError::Fs)?;
        }
        made += 1;
    }
    Ok(made)
}

#[track_caller]
fn mkdir_failed(dest: &str, why: &str) -> Error {
    Error::new(
        exit::RERR_FILEIO,
        format!("rsync: [Receiver] mkdir \"{dest}\" failed: {why}"),
    )
}

/// `--mkpath` for an operator-named destination (a client's or a local
/// copy's, a remote-shell server's): the deepest existing ancestor is
/// opened under the operator-path rule, the rest made beneath it.
pub fn make_operator(opts: &Options, out: &Out, dest: &str, total: usize) -> Result<()> {
    if !opts.mkpath || std::fs::metadata(dest).is_ok() {
        return Ok(());
    }
    let Some(target) = wanted(dest, total) else {
        return Ok(());
    };
    let target = Path::new(target);
    let mut base: PathBuf = target.to_path_buf();
    let mut rest: Vec<Vec<u8>> = Vec::new();
    loop {
        if base.as_os_str().is_empty() {
            base = PathBuf::from(".");
            break;
        }
        if std::fs::metadata(&base).is_ok() {
            break;
        }
        let Some(name) = base.file_name() else { break };
        rest.push(std::os::unix::ffi::OsStrExt::as_bytes(name).to_vec());
        if !base.pop() {
            base = PathBuf::from(".");
            break;
        }
    }
    if rest.is_empty() {
        return Ok(());
    }
    rest.reverse();
    let rel = RelPath::new(&rest.join(&b'/')).map_err(|e| mkdir_failed(dest, &e.to_string()))?;
    let links = Links::from_insecure(opts.insecure_links);
    let root = Root::open_operator(&base, links, AmbientAuthority::operator())
        .map_err(|e| mkdir_failed(dest, &crate::error::confine_err(&e)))?;
    let made =
        make_beneath(&root, &rel, opts.dry_run).map_err(|e| mkdir_failed(dest, &e.to_string()))?;
    report(opts, out, dest, total, made);
    Ok(())
}

/// `--mkpath` for a destination beneath a root the peer cannot leave (a
/// daemon module): `path` is the destination, `trailing` its trailing
/// slash.
pub fn make_in(
    opts: &Options,
    out: &Out,
    base: &Root,
    (path, trailing): (&RelPath, bool),
    total: usize,
) -> Result<()> {
    if !opts.mkpath || path.is_root() || matches!(base.stat(path), Ok(Some(_))) {
        return Ok(());
    }
    let shown = format!(
        "{}{}",
        path.display_lossy(),
        if trailing { "/" } else { "" }
    );
    // A trailing slash was already taken off `path`: the name it drops
    // is the empty one after it.
    let target = if total > 1 || trailing {
        path.clone()
    } else {
        path.split_last().0
    };
    let made = make_beneath(base, &target, opts.dry_run)
        .map_err(|e| mkdir_failed(&shown, &e.to_string()))?;
    report(opts, out, &shown, total, made);
    Ok(())
}

/// A dry run's single-file destination whose parent `--mkpath` would have
/// made: the deepest existing ancestor stands in, and everything is new.
pub fn dry_parent_missing(opts: &Options, parent: &Path) -> Option<PathBuf> {
    if !(opts.mkpath && opts.dry_run) || parent.as_os_str().is_empty() || parent.is_dir() {
        return None;
    }
    let mut cur = parent.to_path_buf();
    while !cur.as_os_str().is_empty() && !cur.is_dir() {
        if !cur.pop() {
            break;
        }
    }
    Some(if cur.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cur
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_make_path_is_asked_for() {
        assert_eq!(wanted("a/b/c", 1), Some("a/b"));
        assert_eq!(wanted("a/b/c", 3), Some("a/b/c"));
        assert_eq!(wanted("a/b/c/", 3), Some("a/b/c"));
        assert_eq!(wanted("a/b/c/", 1), Some("a/b/c"));
        assert_eq!(wanted("name", 1), None);
        assert_eq!(wanted("/name", 1), None);
    }
}
