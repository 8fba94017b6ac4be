//! The directories the update options name (`--partial-dir`, `--temp-dir`,
//! `--backup-dir`, `--compare-dest`/`--copy-dest`/`--link-dest`), resolved
//! against the destination as upstream does, and the server-side check that
//! keeps them beneath it.
//!
//! Every directory becomes a [`Place`]: an anchor `Root` plus the
//! destination's and the directory's paths beneath that anchor, so a rename
//! or hard link between the destination and the directory is one call on one
//! root. A directory inside the destination is anchored on the destination
//! itself; an operator's absolute or `..` path (client side only) is
//! anchored on the deepest directory the two paths share.
use crate::error::{Error, Result};
use crate::options::Options;
use confine::{AmbientAuthority, Links, RelPath, Root};
use protocol::exit;
use std::path::{Component, Path, PathBuf};

/// Upstream FNAMECMP_PARTIAL_DIR: the basis is the file in the partial dir.
pub const FNAMECMP_PARTIAL_DIR: u8 = 0x81;
/// Upstream FNAMECMP_FNAME: the basis is the destination file itself.
pub const FNAMECMP_FNAME: u8 = 0x80;

/// Which option directories a daemon lets climb above its destination
/// (with `..`): none, or all of them (anywhere inside the module, which
/// the daemon has checked). A remote-shell server takes them as operator
/// paths instead, as rsync's does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Climb {
    /// Everything stays beneath the destination.
    No,
    /// Every option directory may reach the module root.
    All,
}

/// The directory a server's climbing option directories must stay in,
/// with the destination's real path beneath it.
#[derive(Debug)]
pub struct Bound {
    /// The allowed directory (the module root).
    pub root: Root,
    /// The destination directory beneath `root`, symlinks resolved.
    pub dest: RelPath,
}

/// Refuses, on a server, any update-option directory that is absolute or
/// climbs out of the destination with `..` further than `climb` allows
/// (with [`Climb::All`] the daemon has checked the paths against the module and
/// [`Dirs::resolve`] checks them again once the destination is known). The
/// message names the option and value, the code is 4 (RERR_UNSUPPORTED).
/// Runs before the transfer starts.
pub fn validate_server_paths(opts: &Options, climb: Climb) -> Result<()> {
    for (name, value) in option_dirs(opts) {
        let climbs_ok = match climb {
            Climb::No => normalize(value).is_some(),
            Climb::All => true,
        };
        if value.starts_with('/') || !climbs_ok {
            return Err(refusal(name, value, "the destination"));
        }
    }
    Ok(())
}

fn refusal(name: &str, value: &str, what: &str) -> Error {
    Error::new(
        exit::RERR_UNSUPPORTED,
        format!("rsync: [Receiver] refusing {name}='{value}': outside {what}"),
    )
}

/// (option name, value, is a basis dir) for every directory option that
/// is set.
fn option_dirs(opts: &Options) -> Vec<(&'static str, &str)> {
    let mut v = Vec::new();
    if let Some(d) = &opts.partial_dir {
        v.push(("--partial-dir", d.as_str()));
    }
    if let Some(d) = &opts.temp_dir {
        v.push(("--temp-dir", d.as_str()));
    }
    if let Some(d) = &opts.backup_dir {
        v.push(("--backup-dir", d.as_str()));
    }
    if let Some(kind) = opts.alt_dest {
        for d in &opts.basis_dirs {
            v.push((kind.option(), d.as_str()));
        }
    }
    v
}

/// Whether any option directory climbs out of the destination with `..`.
pub fn any_climbs(opts: &Options) -> bool {
    option_dirs(opts)
        .iter()
        .any(|(_, v)| !v.starts_with('/') && normalize(v).is_none())
}

/// A server's place for `value` when it climbs out of the destination:
/// beneath the bound's root, or a refusal.
fn bounded_place(name: &str, value: &str, bound: &Bound) -> Result<Place> {
    let mut joined = bound.dest.as_bytes().to_vec();
    if !joined.is_empty() {
        joined.push(b'/');
    }
    joined.extend_from_slice(value.as_bytes());
    let rel = std::str::from_utf8(&joined)
        .ok()
        .and_then(normalize)
        .filter(|_| !value.starts_with('/'))
        .ok_or_else(|| refusal(name, value, "the module"))?;
    let dest = bound.dest.as_bytes();
    let inside = dest.is_empty()
        || rel == dest
        || (rel.starts_with(dest) && rel.get(dest.len()) == Some(&b'/'));
    if inside {
        let tail = rel[dest.len()..]
            .strip_prefix(b"/")
            .unwrap_or(&rel[dest.len()..]);
        return Ok(Place {
            anchor: None,
            dest: RelPath::root(),
            dir: RelPath::new(tail).map_err(|e| Error::protocol(e.to_string()))?,
        });
    }
    let anchor = bound.root.open_dir(&RelPath::root()).map_err(|e| {
        Error::new(
            exit::RERR_FILESELECT,
            format!(
                "rsync: [Receiver] cannot use {name}='{value}': {}",
                crate::error::sys_err(&e)
            ),
        )
    })?;
    Ok(Place {
        anchor: Some(anchor),
        dest: bound.dest.clone(),
        dir: RelPath::new(&rel).map_err(|e| Error::protocol(e.to_string()))?,
    })
}

/// Lexically normalises a relative path; None when `..` climbs above the
/// start.
pub fn normalize(value: &str) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in value.as_bytes().split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join(&b'/'))
}

/// `a/b` for two relative paths.
pub fn join(a: &RelPath, b: &RelPath) -> Result<RelPath> {
    if a.is_root() {
        return Ok(b.clone());
    }
    let mut v = a.as_bytes().to_vec();
    if !b.is_root() {
        v.push(b'/');
        v.extend_from_slice(b.as_bytes());
    }
    RelPath::new(&v).map_err(|e| Error::protocol(e.to_string()))
}

/// A directory named by an option, with the root both it and the
/// destination are reached through.
#[derive(Debug)]
pub struct Place {
    /// The anchor; None means the destination root itself.
    pub anchor: Option<Root>,
    /// The destination directory beneath the anchor.
    pub dest: RelPath,
    /// The option's directory beneath the anchor.
    pub dir: RelPath,
}

impl Place {
    /// The root to resolve `dest`/`dir` paths against.
    pub fn root<'a>(&'a self, dest_root: &'a Root) -> &'a Root {
        self.anchor.as_ref().unwrap_or(dest_root)
    }
    /// The destination's `p`, beneath the anchor.
    pub fn dest_path(&self, p: &RelPath) -> Result<RelPath> {
        join(&self.dest, p)
    }
    /// The directory's `p`, beneath the anchor.
    pub fn dir_path(&self, p: &RelPath) -> Result<RelPath> {
        join(&self.dir, p)
    }
}

/// The resolved directories of one receiving side.
#[derive(Debug, Default)]
pub struct Dirs {
    /// --temp-dir
    pub temp: Option<Place>,
    /// An absolute (or outside) --partial-dir; a relative one is applied per
    /// directory (see [`Dirs::partial_rel`]).
    pub partial_flat: Option<Place>,
    /// A relative partial dir (normalised), applied beside each file.
    pub partial_rel: Option<Vec<u8>>,
    /// --backup-dir
    pub backup: Option<Place>,
    /// The basis directories in order.
    pub basis: Vec<Place>,
    /// The option value each of `basis` came from, for the warnings.
    pub basis_args: Vec<String>,
}

impl Dirs {
    /// Resolves the options' directories for a destination `dest_root`.
    /// `dest_dir` is the destination directory's operator path when this
    /// side may use ambient paths (a client or a local copy); a server
    /// passes None and gets only directories beneath the destination.
    pub fn resolve(opts: &Options, dest_dir: Option<&Path>) -> Result<Dirs> {
        Dirs::resolve_bounded(opts, dest_dir, None)
    }

    /// As [`Dirs::resolve`]; a server with a `bound` lets the directories
    /// its [`Climb`] names reach above the destination, inside the bound.
    pub fn resolve_bounded(
        opts: &Options,
        dest_dir: Option<&Path>,
        bound: Option<&Bound>,
    ) -> Result<Dirs> {
        if dest_dir.is_none() {
            let climb = if bound.is_some() {
                Climb::All
            } else {
                Climb::No
            };
            validate_server_paths(opts, climb)?;
        }
        let links = Links::from_insecure(opts.insecure_links);
        let place = |name: &str, value: &str| -> Result<Place> {
            if let (None, Some(b)) = (dest_dir, bound) {
                if normalize(value).is_none() {
                    return bounded_place(name, value, b);
                }
            }
            resolve_place(value, dest_dir, links).map_err(|e| {
                Error::new(
                    exit::RERR_FILESELECT,
                    format!(
                        "rsync: [Receiver] cannot use {name}='{value}': {}",
                        crate::error::errno_text(&e.to_string())
                    ),
                )
            })
        };
        let mut dirs = Dirs::default();
        if let Some(t) = &opts.temp_dir {
            dirs.temp = Some(place("--temp-dir", t)?);
        }
        if let Some(b) = &opts.backup_dir {
            dirs.backup = Some(place("--backup-dir", b)?);
        }
        if !opts.inplace {
            if let Some(pd) = opts.partial_dir_eff() {
                match (pd.starts_with('/'), normalize(pd)) {
                    (false, Some(rel)) if !rel.is_empty() => dirs.partial_rel = Some(rel),
                    _ => dirs.partial_flat = Some(place("--partial-dir", pd)?),
                }
            }
        }
        if let Some(kind) = opts.alt_dest {
            for d in &opts.basis_dirs {
                // A basis dir that does not exist is skipped, as upstream
                // (its files simply never match); one outside the bound
                // is refused.
                match place(kind.option(), d) {
                    Ok(p) => {
                        dirs.basis.push(p);
                        dirs.basis_args.push(d.clone());
                    }
                    Err(e) if e.code == exit::RERR_UNSUPPORTED => return Err(e),
                    Err(_) => {}
                }
            }
        }
        Ok(dirs)
    }

    /// Checks each basis directory through its root, as upstream's
    /// check_alt_basis_dirs() does, and returns the warnings: one that does
    /// not exist or is not a directory is kept (its files never match); one
    /// that cannot be reached beneath its root (a symlink out of `what`,
    /// e.g. "the module") is dropped, so nothing outside is ever read.
    // upstream: main.c:check_alt_basis_dirs()
    pub fn check_basis(&mut self, kind: &str, dest_root: &Root, what: &str) -> Vec<String> {
        use std::io::ErrorKind;
        let mut warnings = Vec::new();
        let places = std::mem::take(&mut self.basis);
        let args = std::mem::take(&mut self.basis_args);
        for (place, arg) in places.into_iter().zip(args) {
            let root = place.root(dest_root);
            match root.open_dir(&place.dir) {
                Ok(_) => {}
                Err(e)
                    if e.kind() == ErrorKind::NotFound
                        || e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) =>
                {
                    let exists = matches!(root.stat(&place.dir), Ok(Some(_)));
                    warnings.push(if exists {
                        format!("{kind} arg is not a dir: {arg}")
                    } else {
                        format!("{kind} arg does not exist: {arg}")
                    });
                }
                Err(_) => {
                    warnings.push(format!("{kind} arg is outside {what}, skipped: {arg}"));
                    continue;
                }
            }
            self.basis.push(place);
            self.basis_args.push(arg);
        }
        warnings
    }

    /// Where the partial file of `p` lives: (place, path beneath its root).
    /// None when no partial dir is set or the name cannot be built.
    pub fn partial_of<'a>(&'a self, p: &RelPath) -> Option<(Option<&'a Place>, RelPath)> {
        // (Without a partial dir, asked once per up-to-date file: nothing
        // to split or allocate.)
        if self.partial_rel.is_none() && self.partial_flat.is_none() {
            return None;
        }
        let (parent, base) = p.split_last();
        if let Some(rel) = &self.partial_rel {
            let mut v = parent.as_bytes().to_vec();
            if !v.is_empty() {
                v.push(b'/');
            }
            v.extend_from_slice(rel);
            v.push(b'/');
            v.extend_from_slice(base);
            return RelPath::new(&v).ok().map(|r| (None, r));
        }
        let place = self.partial_flat.as_ref()?;
        let base = RelPath::new(base).ok()?;
        place.dir_path(&base).ok().map(|r| (Some(place), r))
    }
}

/// Why an option directory cannot be used; the text follows
/// "cannot use --NAME='VALUE': ".
#[derive(Debug, thiserror::Error)]
enum PlaceError {
    /// A server's relative directory that climbs out of the destination.
    #[error("outside the destination")]
    Outside,
    /// The directory's name, relative to its anchor, is not a safe name.
    #[error("{0}")]
    Name(confine::Error),
    /// The deepest directory shared with the destination cannot be opened.
    #[error("{}", crate::error::confine_err(.0))]
    Anchor(confine::Error),
    /// Walking an operator path failed.
    #[error("{}", crate::error::os_err(.0))]
    Walk(std::io::Error),
}

/// Resolves one option directory: beneath the destination when relative
/// and not climbing out (a server), else (operator only) through the
/// deepest directory the destination and the option's directory share.
///
/// On the operator's side both paths are walked as operator paths
/// ([`confine::operator`]): a symlink on them owned by neither root nor
/// this user is refused with ELOOP (unless `--insecure-links`), and the
/// anchor opened for a directory outside the destination resolves the
/// physical paths beneath it with the `O_NOFOLLOW` walk, so a symlink
/// swapped in later is not followed either.
fn resolve_place(
    value: &str,
    dest_dir: Option<&Path>,
    links: Links,
) -> std::result::Result<Place, PlaceError> {
    let Some(dest_dir) = dest_dir else {
        if !value.starts_with('/') {
            if let Some(rel) = normalize(value) {
                let dir = RelPath::new(&rel).map_err(PlaceError::Name)?;
                return Ok(Place {
                    anchor: None,
                    dest: RelPath::root(),
                    dir,
                });
            }
        }
        return Err(PlaceError::Outside);
    };
    let dest_abs = physical(dest_dir, links)?;
    let target = if value.starts_with('/') {
        PathBuf::from(value)
    } else {
        dest_dir.join(value)
    };
    let target = physical(&target, links)?;
    let a: Vec<Component> = dest_abs.components().collect();
    let b: Vec<Component> = target.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let rel = |parts: &[Component]| -> std::result::Result<RelPath, PlaceError> {
        let p: PathBuf = parts.iter().collect();
        use std::os::unix::ffi::OsStrExt;
        RelPath::new(p.as_os_str().as_bytes()).map_err(PlaceError::Name)
    };
    if common == a.len() {
        return Ok(Place {
            anchor: None,
            dest: RelPath::root(),
            dir: rel(&b[common..])?,
        });
    }
    let anchor_path: PathBuf = a[..common].iter().collect();
    let anchor = Root::open_operator(&anchor_path, links, AmbientAuthority::operator())
        .map_err(PlaceError::Anchor)?
        .with_fallback(links == Links::Trusted);
    Ok(Place {
        anchor: Some(anchor),
        dest: rel(&a[common..])?,
        dir: rel(&b[common..])?,
    })
}

/// The physical absolute path of the operator path `p`: its longest
/// existing prefix walked as an operator path, the missing rest appended.
fn physical(p: &Path, links: Links) -> std::result::Result<PathBuf, PlaceError> {
    use rustix::io::Errno;
    let mut head: Vec<Component> = p.components().collect();
    let mut tail: Vec<Component> = Vec::new();
    loop {
        let dir: PathBuf = if head.is_empty() {
            PathBuf::from(".")
        } else {
            head.iter().collect()
        };
        match confine::operator::open(&dir, rustix::fs::OFlags::PATH, 0, links) {
            Ok(o) => {
                let mut out = o.path;
                out.extend(tail.iter().rev());
                return Ok(lexical(&out));
            }
            Err(Errno::NOENT) if !head.is_empty() => tail.push(head.pop().expect("non-empty")),
            Err(e) => return Err(PlaceError::Walk(e.into())),
        }
    }
}

/// Removes `.` and `..` from an absolute path without touching the disk.
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The destination directory an operator destination resolves to (the
/// path itself when it is a directory, else its parent), as the receiver's
/// root was opened.
pub fn operator_dest_dir(dest: &str) -> PathBuf {
    let path = Path::new(if dest.is_empty() { "." } else { dest });
    if path.is_dir() {
        return path.to_path_buf();
    }
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() && p.is_dir() => p.to_path_buf(),
        Some(p) if !p.as_os_str().is_empty() => path.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The basis type of a fuzzy match in the destination directory; `+ 1 + k`
/// names one in basis directory `k` (upstream FNAMECMP_FUZZY).
pub const FNAMECMP_FUZZY: u8 = 0x83;

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn opts(line: &str) -> Options {
        let args: Vec<OsString> = line.split(' ').map(OsString::from).collect();
        Options::parse(&args).unwrap_or_default()
    }

    #[test]
    fn server_refuses_outside_dirs() {
        for line in [
            "--server -r --temp-dir=/tmp . d",
            "--server -r --partial-dir=../x . d",
            "--server -r --link-dest=a/../../b . d",
            "--server -r --backup-dir=/b . d",
        ] {
            let e = validate_server_paths(&opts(line), Climb::No).map_err(|e| e.code);
            assert_eq!(e, Err(4), "{line}");
        }
        let e = validate_server_paths(&opts("--server -r --temp-dir=/tmp . d"), Climb::No);
        assert_eq!(
            e.map_err(|e| e.message),
            Err("rsync: [Receiver] refusing --temp-dir='/tmp': outside the destination".into())
        );
        for line in [
            "--server -r --temp-dir=t . d",
            "--server -r --link-dest=a/../b --partial-dir=.p . d",
        ] {
            assert!(
                validate_server_paths(&opts(line), Climb::No).is_ok(),
                "{line}"
            );
        }
        let o = opts("--server -r --backup-dir=../../b --link-dest=../../../p . d");
        assert!(validate_server_paths(&o, Climb::All).is_ok());
    }

    #[test]
    fn check_basis_warns_and_drops_what_leaves() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dest = t.path().join("dst");
        std::fs::create_dir_all(dest.join("prev")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dest.join("file"), b"x").unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(t.path(), dest.join("out")).unwrap_or_else(|e| panic!("{e}"));
        let o = opts(
            "--server -r --link-dest=prev --link-dest=nope --link-dest=file --link-dest=out . d",
        );
        let mut dirs = Dirs::resolve(&o, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dirs.basis.len(), 4);
        let root = Root::open_ambient(&dest, AmbientAuthority::operator())
            .unwrap_or_else(|e| panic!("{e}"));
        let w = dirs.check_basis("--link-dest", &root, "the module");
        assert_eq!(
            w,
            [
                "--link-dest arg does not exist: nope",
                "--link-dest arg is not a dir: file",
                "--link-dest arg is outside the module, skipped: out",
            ]
        );
        assert_eq!(dirs.basis_args, ["prev", "nope", "file"]);
        assert_eq!(dirs.basis.len(), 3);
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize("a/./b/../c/"), Some(b"a/c".to_vec()));
        assert_eq!(normalize("../a"), None);
        assert_eq!(normalize("."), Some(Vec::new()));
    }

    #[test]
    fn places_and_partials() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dest = t.path().join("dst");
        std::fs::create_dir_all(&dest).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(t.path().join("prev")).unwrap_or_else(|e| panic!("{e}"));
        let p =
            resolve_place("../prev", Some(&dest), Links::Trusted).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.dest.as_bytes(), p.dir.as_bytes()),
            (&b"dst"[..], &b"prev"[..])
        );
        assert!(resolve_place("../prev", None, Links::Trusted).is_err());
        let p = resolve_place("sub/x", None, Links::Trusted).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.anchor.is_none() && p.dir.as_bytes() == b"sub/x");
        let d = Dirs::resolve(&opts("--partial-dir=.pd s d"), Some(&dest))
            .unwrap_or_else(|e| panic!("{e}"));
        let f = RelPath::new(b"a/b/f").unwrap_or_else(|e| panic!("{e}"));
        let (place, path) = d.partial_of(&f).unwrap_or_else(|| panic!("partial"));
        assert!(place.is_none());
        assert_eq!(path.as_bytes(), b"a/b/.pd/f");
    }
}
