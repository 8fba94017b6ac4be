//! The daemon's side of the tree-shape options: a `--files-from` file
//! named by the client is read beneath the module (never a path outside
//! it), and -R sources keep the client's `/./` marker below the module
//! root (upstream options.c files_from checks, flist.c send_file_list()).
use crate::tail::module_tail;
use confine::{AmbientAuthority, RelPath, Root};
use engine::filters::DaemonFilter;
use engine::options::tree::FilesFrom;
use engine::Options;
use std::io::Read;
use std::path::Path;

/// Why a daemon will not read the client's `--files-from` file.
#[derive(Debug, thiserror::Error)]
pub enum FilesFromError {
    /// Outside the module, excluded by its filter, or a link leaving it.
    #[error("--files-from={path} is outside module {module}")]
    Outside {
        /// The name the client gave.
        path: String,
        /// The module.
        module: String,
    },
    /// The module's directory cannot be opened.
    #[error("cannot open module {module}: {source}")]
    Module {
        /// The module.
        module: String,
        /// Why.
        source: confine::Error,
    },
    /// The file cannot be opened or read, or is too long.
    #[error("failed to open files-from file {path}: {why}")]
    Open {
        /// The name the client gave.
        path: String,
        /// Why.
        why: FilesFromFailure,
    },
}

/// Why an existing files-from file could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum FilesFromFailure {
    /// Opening it beneath the module failed.
    #[error("{0}")]
    Open(confine::Error),
    /// Reading it failed.
    #[error("{0}")]
    Read(std::io::Error),
    /// It holds more than the daemon reads.
    #[error("longer than {MAX_LIST_BYTES} bytes")]
    TooLong,
}

/// Largest files-from list a daemon reads.
const MAX_LIST_BYTES: u64 = 256 << 20;

/// Reads the client's `--files-from` file beneath the module root, when
/// this side must open it (a list the client names on the daemon's host).
/// `Err` is the one-line refusal.
pub fn read_files_from(
    opts: &Options,
    module: &str,
    module_root: Option<&Root>,
    root_path: &Path,
    filter: Option<&DaemonFilter>,
) -> Result<Option<Vec<u8>>, FilesFromError> {
    let path = match opts.tree.files_from() {
        Some(FilesFrom::Local(p)) if p != "-" => p,
        _ => return Ok(None),
    };
    let refused = || FilesFromError::Outside {
        path: path.clone(),
        module: module.to_owned(),
    };
    // upstream: an absolute name is taken relative to the module.
    let tail = module_tail(
        module,
        &format!("{module}/{}", path.trim_start_matches('/')),
    )
    .map_err(|_| refused())?;
    if tail.rel.is_empty() {
        return Err(refused());
    }
    if filter.is_some_and(|f| f.excludes(tail.rel.as_bytes(), false)) {
        return Err(refused());
    }
    let opened;
    let root = match module_root {
        Some(r) => r,
        None => {
            opened =
                Root::open_ambient(root_path, AmbientAuthority::operator()).map_err(|source| {
                    FilesFromError::Module {
                        module: module.to_owned(),
                        source,
                    }
                })?;
            &opened
        }
    };
    let fail = |why| FilesFromError::Open {
        path: path.clone(),
        why,
    };
    let rel = follow_in_module(root, tail.rel.as_bytes()).ok_or_else(refused)?;
    let f = root
        .open_read(&rel)
        .map_err(|e| fail(FilesFromFailure::Open(e)))?;
    let mut data = Vec::new();
    f.take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| fail(FilesFromFailure::Read(e)))?;
    if data.len() as u64 > MAX_LIST_BYTES {
        return Err(fail(FilesFromFailure::TooLong));
    }
    Ok(Some(data))
}

/// `rel` with its symlinks (if it is one) followed while they stay in the
/// module: relative targets only, resolved from the link's directory,
/// never above the module root; at most 40 links. None when a link
/// leaves the module.
fn follow_in_module(root: &Root, rel: &[u8]) -> Option<RelPath> {
    let mut cur = RelPath::new(rel).ok()?;
    for _ in 0..40 {
        let is_link = root
            .stat(&cur)
            .ok()
            .flatten()
            .is_some_and(|st| st.file_type == confine::FileType::Symlink);
        if !is_link {
            return Some(cur);
        }
        let target = root.readlink(&cur).ok()?;
        if target.first() == Some(&b'/') {
            return None;
        }
        let (parent, _) = cur.split_last();
        let mut parts: Vec<&[u8]> = parent
            .as_bytes()
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        for c in target.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    parts.pop()?;
                }
                c => parts.push(c),
            }
        }
        cur = RelPath::new(&parts.join(&b'/')).ok()?;
    }
    None
}

/// The sender's -R source for a client path: the module root, then the
/// part before the client's first `/./` (or nothing), the marker, and the
/// rest, so that names start where the client said.
pub fn relative_source(
    module: &str,
    root: &Path,
    raw: &str,
    trailing_slash: bool,
) -> Result<String, crate::tail::TailError> {
    let rest = if raw == module {
        ""
    } else if let Some(r) = raw.strip_prefix(module).and_then(|r| r.strip_prefix('/')) {
        r
    } else {
        raw
    };
    let (dir, active) = match rest.find("/./") {
        Some(p) => (&rest[..p], &rest[p + 3..]),
        None => ("", rest),
    };
    // A client's "./x" (no marker after it) names x below an implied "."
    // that is sent too, as a path starting "./" does for upstream's sender.
    let dot = dir.is_empty() && rest.starts_with("./");
    let dir = module_tail(module, &format!("{module}/{dir}"))?.rel;
    let active = module_tail(module, &format!("{module}/{active}"))?.rel;
    let mut s = root.display().to_string();
    if !dir.is_empty() {
        s.push('/');
        s.push_str(&dir);
    }
    s.push_str("/./");
    if dot && !active.is_empty() {
        s.push_str("./");
    }
    s.push_str(&active);
    if trailing_slash && !active.is_empty() {
        s.push('/');
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sources() {
        let r = Path::new("/srv/m");
        let t = |raw: &str, ts: bool| relative_source("m", r, raw, ts).map_err(|e| e.to_string());
        assert_eq!(t("m/a/b", false).as_deref(), Ok("/srv/m/./a/b"));
        assert_eq!(t("m/a/./b/c/", true).as_deref(), Ok("/srv/m/a/./b/c/"));
        assert_eq!(t("m", true).as_deref(), Ok("/srv/m/./"));
        assert_eq!(t("m/./a/b", false).as_deref(), Ok("/srv/m/././a/b"));
        assert_eq!(t("m/./a/./b", false).as_deref(), Ok("/srv/m/a/./b"));
        assert!(t("m/../x", false).is_err());
        assert!(t("m/a/./../x", false).is_err());
    }
}
