//! The confinement steps of a daemon session that depend on the module's
//! configuration (ARCHITECTURE.md, "The order of a daemon session", steps 2
//! and 5): the client's path options are checked against the module root
//! before anything is written, and Landlock is engaged once the request is
//! known and before any hook, thread or name converter starts.
//!
//! `--temp-dir`, `--partial-dir` and `--backup-dir` that leave the module
//! are refused, never rewritten into the module as upstream's
//! `sanitize_paths()` does: a refusal tells the client what happened, a
//! silent rewrite writes where nobody asked. A module may choose upstream's
//! reading instead (`client paths = module-relative`). Basis directories
//! (`--compare-dest`, `--copy-dest`, `--link-dest`) are only read from, so
//! they follow rsync 3.5.0: `..` is clamped at the module root, a leading
//! `/` names the module root, and one that still leaves the module (through
//! a symlink) is skipped with a warning while the transfer goes on.
use crate::config::Module;
use confine::{abi_version, confine_to, AmbientAuthority, LandlockOutcome, RelPath, Root, Rules};
use engine::filters::DaemonFilter;
use engine::Options;
use std::path::Path;

/// A client path option that resolves outside the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The option's spelling, e.g. `--temp-dir`.
    pub option: &'static str,
    /// The path as the client gave it.
    pub path: String,
    /// It stays inside the module but names a place the module's own
    /// filter (`exclude`, `filter`, ...) protects.
    pub excluded: bool,
}

impl Rejection {
    /// The daemon log line: `rejected --temp-dir='/tmp' from HOST: outside
    /// module root '/srv/m'`.
    pub fn log_line(&self, host: &str, root: &Path) -> String {
        if self.excluded {
            return format!(
                "rejected {}='{}' from {host}: excluded by the filter of module root '{}'",
                self.option,
                self.path,
                root.display()
            );
        }
        format!(
            "rejected {}='{}' from {host}: outside module root '{}'",
            self.option,
            self.path,
            root.display()
        )
    }
    /// The message the client sees.
    pub fn client_message(&self, module: &str) -> String {
        if self.excluded {
            // upstream: options.c "options_rejected"
            return "rsync: Your options have been rejected by the server.".into();
        }
        format!(
            "ERROR: {}='{}' is outside module {module}: refused",
            self.option, self.path
        )
    }
    /// The exit code: rsync's RERR_UNSUPPORTED for a path the module's
    /// filter protects (as upstream's rejected options), RERR_SYNTAX for
    /// one outside the module.
    pub fn exit_code(&self) -> i32 {
        if self.excluded {
            protocol::exit::RERR_UNSUPPORTED
        } else {
            protocol::exit::RERR_SYNTAX
        }
    }
}

/// The module's `client paths` parameter: how an absolute or climbing
/// `--temp-dir`, `--partial-dir` or `--backup-dir` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientPaths {
    /// One that resolves outside the module is refused (the default).
    Refuse,
    /// As rsync 3.5.0: an absolute path names a place beneath the module
    /// root and `..` is clamped (at the destination for `--temp-dir` and
    /// `--backup-dir`, at the module root for `--partial-dir`). One that
    /// still leaves the module through a symlink is refused.
    ModuleRelative,
}

/// A module's `client paths` or `landlock` setting that is none of its
/// words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// `client paths`.
    #[error("bad client paths setting '{0}' (refuse or module-relative)")]
    ClientPaths(String),
    /// `landlock`.
    #[error("bad landlock setting '{0}' (required, optional or off)")]
    Landlock(String),
}

impl ClientPaths {
    /// Parses `client paths = refuse | module-relative` (unset: refuse).
    pub fn of(module: &Module) -> Result<ClientPaths, SettingError> {
        match module
            .params
            .get("client paths")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            None => Ok(ClientPaths::Refuse),
            Some(v) => match v.as_str() {
                "refuse" => Ok(ClientPaths::Refuse),
                "module-relative" => Ok(ClientPaths::ModuleRelative),
                _ => Err(SettingError::ClientPaths(v)),
            },
        }
    }
}

/// The components of a module-relative path.
type Parts = Vec<String>;

fn parts(p: &str) -> Parts {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

/// `value` taken from `start` (the destination beneath the module root; an
/// absolute value starts at the module root). `..` never goes below
/// `floor` components: with `clamp` it is dropped there (upstream
/// `sanitize_path()`), without it the path is `None` (it leaves the module).
fn target(value: &str, start: &[String], floor: usize, clamp: bool) -> Option<Parts> {
    let (mut out, floor) = if value.starts_with('/') {
        (Parts::new(), 0)
    } else {
        (start.to_vec(), floor.min(start.len()))
    };
    for c in parts(value) {
        if c == ".." {
            if out.len() > floor {
                out.pop();
            } else if !clamp {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `target` (module-relative) as a path from `base` (module-relative).
fn from_base(target: &[String], base: &[String]) -> String {
    let common = target.iter().zip(base).take_while(|(a, b)| a == b).count();
    let mut v: Vec<&str> = vec![".."; base.len() - common];
    v.extend(target[common..].iter().map(String::as_str));
    if v.is_empty() {
        ".".into()
    } else {
        v.join("/")
    }
}

fn relpath(p: &[String]) -> Option<RelPath> {
    if p.is_empty() {
        return Some(RelPath::root());
    }
    RelPath::new(p.join("/").as_bytes()).ok()
}

/// Whether the module-relative `p` stays beneath the module once the
/// symlinks of its existing part are followed: resolved through the
/// module's `Root` (openat2 RESOLVE_BENEATH), a missing tail is fine, any
/// other failure (a symlink out, a loop) is not.
fn reaches_inside(module: &Root, p: &[String]) -> bool {
    use std::io::ErrorKind;
    let mut probe = p.to_vec();
    loop {
        let Some(rel) = relpath(&probe) else {
            return false;
        };
        match module.open_dir(&rel) {
            Ok(_) => return true,
            Err(e)
                if e.kind() == ErrorKind::NotFound
                    || e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) =>
            {
                // ENOENT, or ENOTDIR: the existing part ends earlier.
                if probe.pop().is_none() {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
}

/// Whether the module's filter protects the module-relative directory `p`.
fn excluded(filter: Option<&DaemonFilter>, p: &[String]) -> bool {
    filter.is_some_and(|f| !p.is_empty() && f.excludes(p.join("/").as_bytes(), true))
}

/// Checks every client-supplied path option against the module `root`.
/// `base` is the destination directory below the root that relative
/// paths start from. `--temp-dir`, `--partial-dir` and `--backup-dir` are
/// kept (rewritten as paths from `base`) when inside, else the first one
/// outside is returned as the error (under [`ClientPaths::ModuleRelative`]
/// they are first read as upstream does). Basis dirs are clamped into the
/// module as upstream does and never refused: the ones that still leave it
/// are returned for the log (the engine skips them with a warning).
// upstream: options.c:server_options(), main.c:do_server_recv() and
// util1.c:sanitize_path() (which rewrites instead of refusing)
pub fn check_client_paths(
    opts: &mut Options,
    root: &Path,
    base: &Path,
    mode: ClientPaths,
    filter: Option<&DaemonFilter>,
    insecure_links: bool,
) -> Result<Vec<Rejection>, Rejection> {
    // `insecure links = yes`: the module's links are followed wherever
    // they lead, as the session's own root follows them (Root::any_link).
    let module = Root::open_ambient(root, AmbientAuthority::operator())
        .ok()
        .map(|m| if insecure_links { m.any_link() } else { m });
    let lexical = parts(&base.to_string_lossy());
    // `..` is taken from where the destination really is.
    let start = module
        .as_ref()
        .and_then(|m| {
            let dest = m.open_dir(&relpath(&lexical)?).ok()?;
            m.locate(&dest).ok().flatten()
        })
        .map(|r| parts(&String::from_utf8_lossy(r.as_bytes())))
        .unwrap_or_else(|| lexical.clone());
    let inside = |p: &[String]| module.as_ref().is_some_and(|m| reaches_inside(m, p));
    let mut slots: Vec<(&'static str, &mut String)> = Vec::new();
    if let Some(v) = opts.temp_dir.as_mut() {
        slots.push(("--temp-dir", v));
    }
    if let Some(v) = opts.partial_dir.as_mut() {
        slots.push(("--partial-dir", v));
    }
    if let Some(v) = opts.backup_dir.as_mut() {
        slots.push(("--backup-dir", v));
    }
    for (option, value) in slots {
        let clamp = mode == ClientPaths::ModuleRelative;
        let floor = if clamp && option != "--partial-dir" {
            start.len()
        } else {
            0
        };
        let refuse = || Rejection {
            option,
            path: value.clone(),
            excluded: false,
        };
        if !clamp && value.starts_with('/') && !Path::new(value.as_str()).starts_with(root) {
            return Err(refuse());
        }
        // An absolute path in refuse mode names a place on the server.
        let spelled = match (clamp, value.strip_prefix(&*root.to_string_lossy())) {
            (false, Some(rest)) if value.starts_with('/') => format!("/{rest}"),
            _ => value.clone(),
        };
        let t = target(&spelled, &start, floor, clamp).ok_or_else(refuse)?;
        if !inside(&t) {
            return Err(refuse());
        }
        // upstream: options.c and main.c check the cleaned --temp-dir,
        // --backup-dir and an absolute --partial-dir against the daemon
        // filter ("Your options have been rejected by the server"); a
        // climbing one is checked too, as it names one place as well.
        let flat = option != "--partial-dir"
            || value.starts_with('/')
            || parts(value).iter().any(|c| c == "..");
        if flat && excluded(filter, &t) {
            return Err(Rejection {
                excluded: true,
                ..refuse()
            });
        }
        *value = from_base(&t, &start);
    }
    let kind = opts
        .alt_dest
        .map(|k| k.option())
        .unwrap_or("--compare-dest");
    let mut skipped = Vec::new();
    for value in opts.basis_dirs.iter_mut() {
        let t = target(value, &start, 0, true).unwrap_or_default();
        if excluded(filter, &t) {
            return Err(Rejection {
                option: kind,
                path: value.clone(),
                excluded: true,
            });
        }
        if !inside(&t) {
            skipped.push(Rejection {
                option: kind,
                path: value.clone(),
                excluded: false,
            });
        }
        *value = from_base(&t, &start);
    }
    Ok(skipped)
}

/// The module's `landlock` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A session that cannot be confined ends (the default where the kernel
    /// has Landlock).
    Required,
    /// The outcome is logged and the session continues.
    Optional,
    /// Landlock is not engaged.
    Off,
}

impl Mode {
    /// Parses `landlock = required | optional | off` (unset: required when
    /// the kernel has Landlock, optional otherwise).
    pub fn of(module: &Module) -> Result<Mode, SettingError> {
        match module
            .params
            .get("landlock")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            None => Ok(if abi_version().is_some() {
                Mode::Required
            } else {
                Mode::Optional
            }),
            Some(v) => match v.as_str() {
                "required" | "yes" | "true" | "on" | "1" => Ok(Mode::Required),
                "optional" => Ok(Mode::Optional),
                "off" | "no" | "false" | "0" => Ok(Mode::Off),
                _ => Err(SettingError::Landlock(v)),
            },
        }
    }
}

/// The Landlock rules of one session: the module root (read-write when
/// `writable`), the system directories, and `landlock allow = PATH[:rw]
/// ...` from the module's configuration.
///
/// `held` is the module root opened before the uid was dropped: its rule
/// is built from that descriptor, so a module beneath a parent the
/// module's uid cannot search is still allowed (the path is not opened
/// again).
pub fn module_rules(module: &Module, root: &Path, writable: bool, held: Option<&Root>) -> Rules {
    let auth = AmbientAuthority::operator();
    let fd = held.and_then(|r| {
        use std::os::fd::AsFd;
        r.as_fd().try_clone_to_owned().ok()
    });
    let mut rules = match fd {
        Some(fd) => Rules::for_module_held(root, fd, writable, auth),
        None => Rules::for_module(root, writable, auth),
    };
    // `insecure links = yes`: a symlink in the module may lead anywhere, so
    // the filesystem root gets the module's own rights for this session.
    if insecure_links(module) {
        rules.allow(Path::new("/"), writable, auth);
    }
    if let Some(list) = module.params.nonempty("landlock allow") {
        for item in list.split_whitespace() {
            let (path, rw) = match item.strip_suffix(":rw") {
                Some(p) => (p, true),
                None => (item.strip_suffix(":ro").unwrap_or(item), false),
            };
            if !path.is_empty() {
                rules.allow(Path::new(path), rw, auth);
            }
        }
    }
    rules
}

/// What [`engage`] did: the line to log, and whether the session may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engaged {
    /// One log line (`landlock: ...` with the module name).
    pub log: String,
    /// False when the module requires Landlock and it is not enforced.
    pub proceed: bool,
}

/// Engages Landlock for a session on the calling thread (the connection
/// process's only thread at this point), per the module's `landlock`
/// mode. Call after chroot, the uid/gid drop and no_new_privs, before
/// pre-xfer exec, the name converter and the engine's threads.
pub fn engage(module: &Module, root: &Path, writable: bool, held: Option<&Root>) -> Engaged {
    let mode = match Mode::of(module) {
        Ok(m) => m,
        Err(e) => {
            return Engaged {
                log: format!("landlock on module {}: {e}", module.name),
                proceed: false,
            }
        }
    };
    if mode == Mode::Off {
        return Engaged {
            log: format!("landlock: off for module {}", module.name),
            proceed: true,
        };
    }
    let explicit = module.params.get("landlock").is_some();
    let outcome = confine_to(&module_rules(module, root, writable, held));
    let proceed = match (&outcome, mode) {
        (LandlockOutcome::Enforced { .. }, _) | (_, Mode::Optional) => true,
        // The default mode tolerates a kernel without Landlock only.
        (LandlockOutcome::Unavailable { .. }, Mode::Required) => !explicit,
        _ => false,
    };
    let mut log = format!(
        "{} (module {}, {})",
        outcome.log_line(),
        module.name,
        if writable { "read-write" } else { "read-only" }
    );
    if insecure_links(module) {
        log.push_str(&widened(module, writable));
    }
    Engaged { log, proceed }
}

/// The module's `insecure links` (default no).
fn insecure_links(module: &Module) -> bool {
    module.params.bool("insecure links", false)
}

/// The part of the Landlock log line that says the administrator widened
/// the module's reach with `insecure links = yes`.
fn widened(module: &Module, writable: bool) -> String {
    format!(
        "; module {} has `insecure links = yes`: {} beyond the module are allowed",
        module.name,
        if writable {
            "reads and writes"
        } else {
            "reads"
        }
    )
}

/// Test-only: with `OXSYNC_TEST_UNCONFINED_WRITE=PATH` in a debug build, a
/// plain `std::fs::write(PATH)` after the sandbox is engaged, to show that
/// Landlock (not only the `Root` discipline) stops it. Returns the log
/// line, or `None` when the switch is off.
pub fn test_unconfined_write() -> Option<String> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let path = std::env::var_os("OXSYNC_TEST_UNCONFINED_WRITE")?;
    let res = std::fs::write(&path, b"unconfined write\n");
    Some(match res {
        Ok(()) => format!(
            "test: unconfined write to {} succeeded",
            Path::new(&path).display()
        ),
        Err(e) => format!(
            "test: unconfined write to {} denied: {e} (errno {})",
            Path::new(&path).display(),
            e.raw_os_error().unwrap_or(0)
        ),
    })
}

/// Test-only: with `OXSYNC_TEST_FORCE_WALK=1` in a debug build, every
/// `Root` of the session (or of a client or server process) resolves with
/// the component-by-component walk instead of openat2 (as on a kernel
/// without openat2), so the tests can show that the walk keeps a module's
/// sender inside the module, and any sender inside its source tree, too.
pub fn test_force_walk() {
    if cfg!(debug_assertions)
        && std::env::var_os("OXSYNC_TEST_FORCE_WALK").is_some_and(|v| v == "1")
    {
        confine::force_fallback(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn opts(args: &str) -> Options {
        let a: Vec<std::ffi::OsString> = args.split_whitespace().map(Into::into).collect();
        Options::parse(&a).expect("parse")
    }

    #[test]
    fn refuses_outside_accepts_inside() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = std::fs::canonicalize(dir.path()).expect("canon").join("m");
        std::fs::create_dir_all(root.join("d/sub")).expect("mk");
        std::os::unix::fs::symlink("/etc", root.join("out")).expect("ln");
        std::os::unix::fs::symlink("d", root.join("in")).expect("ln");
        std::os::unix::fs::symlink("/nonexistent-x", root.join("dangle")).expect("ln");
        let run = |a: &str, base: &str, mode| {
            let mut o = opts(&format!("--server {a} . m/"));
            check_client_paths(&mut o, &root, Path::new(base), mode, None, false).map(|s| (o, s))
        };
        let check = |a: &str, base: &str| run(a, base, ClientPaths::Refuse).map(|(o, _)| o);
        let r = check("--temp-dir=/tmp", "").expect_err("tmp");
        assert_eq!((r.option, r.path.as_str()), ("--temp-dir", "/tmp"));
        assert_eq!(
            r.log_line("h", Path::new("/srv/m")),
            "rejected --temp-dir='/tmp' from h: outside module root '/srv/m'"
        );
        assert!(check("--partial-dir=/etc/x", "").is_err());
        assert!(check("--backup-dir=../../outside", "").is_err());
        assert!(check("--backup-dir=../../outside", "d/sub").is_ok());
        assert!(check("--backup-dir=../../../outside", "d/sub").is_err());
        assert!(check("--temp-dir=dangle", "").is_err());
        assert!(check("--temp-dir=out/x", "").is_err());
        assert!(check("--temp-dir=in/sub", "").is_ok());
        assert!(check("--temp-dir=newdir/x", "").is_ok());
        let abs = format!("--temp-dir={}/d/sub", root.display());
        assert_eq!(
            check(&abs, "d").expect("abs").temp_dir.as_deref(),
            Some("sub")
        );
        let abs = format!("--backup-dir={}", root.display());
        assert_eq!(
            check(&abs, "").expect("abs").backup_dir.as_deref(),
            Some(".")
        );
        let abs = format!("--backup-dir={}/../m/d", root.display());
        assert!(check(&abs, "").is_err());
        // module-relative: absolute paths start at the module root, `..`
        // is clamped; a symlink out is still refused.
        let rel = |a: &str, base: &str| run(a, base, ClientPaths::ModuleRelative).map(|(o, _)| o);
        assert_eq!(
            rel("--temp-dir=/tmp", "d")
                .expect("tmp")
                .temp_dir
                .as_deref(),
            Some("../tmp")
        );
        assert_eq!(
            rel("--backup-dir=../../b", "d")
                .expect("b")
                .backup_dir
                .as_deref(),
            Some("b")
        );
        assert_eq!(
            rel("--partial-dir=../../../p", "d/sub")
                .expect("p")
                .partial_dir
                .as_deref(),
            Some("../../p")
        );
        assert!(rel("--temp-dir=/out/x", "").is_err());
        assert!(rel("--temp-dir=/dangle", "").is_err());
        // Basis dirs are clamped, never refused; one out is reported.
        let (o, skipped) = run("--link-dest=../../prev", "d", ClientPaths::Refuse).expect("ld");
        assert_eq!(
            (o.basis_dirs, skipped),
            (vec!["../prev".to_string()], vec![])
        );
        let (o, skipped) = run("--link-dest=/d/sub", "d", ClientPaths::Refuse).expect("ld");
        assert_eq!((o.basis_dirs, skipped.len()), (vec!["sub".to_string()], 0));
        let (o, skipped) = run("--copy-dest=out", "", ClientPaths::Refuse).expect("cd");
        assert_eq!(o.basis_dirs, vec!["out".to_string()]);
        assert_eq!(
            skipped,
            vec![Rejection {
                excluded: false,
                option: "--copy-dest",
                path: "out".into()
            }]
        );
        let (_, skipped) = run("--compare-dest=/etc", "", ClientPaths::Refuse).expect("cmp");
        assert!(skipped.is_empty(), "absent inside the module");
    }

    #[test]
    fn modes_and_rules() {
        let cfg = crate::config::Config::parse_str(
            "[a]\npath=/x\nlandlock = optional\nlandlock allow = /var/x:rw /opt/y\n\
             [b]\npath=/x\nlandlock = off\n[c]\npath=/x\nlandlock = maybe\n[d]\npath=/x\n",
            Path::new("t"),
        )
        .expect("cfg");
        let m = |n: &str| cfg.module(n).expect("module").clone();
        assert_eq!(Mode::of(&m("a")), Ok(Mode::Optional));
        assert_eq!(Mode::of(&m("b")), Ok(Mode::Off));
        assert!(Mode::of(&m("c")).is_err());
        let want = if abi_version().is_some() {
            Mode::Required
        } else {
            Mode::Optional
        };
        assert_eq!(Mode::of(&m("d")), Ok(want));
        let r = module_rules(&m("a"), Path::new("/srv/m"), false, None);
        assert!(r.read_write.contains(&PathBuf::from("/var/x")));
        assert!(r.read_only.contains(&PathBuf::from("/opt/y")));
        assert!(r.read_only.contains(&PathBuf::from("/srv/m")));
        assert!(engage(&m("b"), Path::new("/srv/m"), true, None).proceed);
        // Only a module with `insecure links = yes` reaches the filesystem
        // root, with the session's own rights.
        let root = PathBuf::from("/");
        assert!(!r.read_only.contains(&root) && !r.read_write.contains(&root));
        let cfg = crate::config::Config::parse_str(
            "[i]\npath=/x\ninsecure links = yes\n[n]\npath=/x\ninsecure links = no\n",
            Path::new("t"),
        )
        .expect("cfg");
        let i = cfg.module("i").expect("i").clone();
        let n = cfg.module("n").expect("n").clone();
        let ro = module_rules(&i, Path::new("/srv/m"), false, None);
        assert!(ro.read_only.contains(&root) && !ro.read_write.contains(&root));
        let rw = module_rules(&i, Path::new("/srv/m"), true, None);
        assert!(rw.read_write.contains(&root) && !rw.read_only.contains(&root));
        for w in [false, true] {
            let r = module_rules(&n, Path::new("/srv/m"), w, None);
            assert!(!r.read_only.contains(&root) && !r.read_write.contains(&root));
        }
        assert_eq!(
            widened(&i, true),
            "; module i has `insecure links = yes`: reads and writes beyond the module are allowed"
        );
        assert_eq!(
            widened(&i, false),
            "; module i has `insecure links = yes`: reads beyond the module are allowed"
        );
    }
}
