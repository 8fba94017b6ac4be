//! The confinement steps of a daemon session that depend on the module's
//! configuration (ARCHITECTURE.md, "The order of a daemon session", steps 2
//! and 5): the client's path options are checked against the module root
//! before anything is written, and Landlock is engaged once the request is
//! known and before any hook, thread or name converter starts.
//!
//! Client paths that leave the module are refused, never rewritten into
//! the module as upstream's `sanitize_paths()` does: a refusal tells the
//! client what happened, a silent rewrite writes where nobody asked.
use crate::config::Module;
use confine::{abi_version, confine_to, AmbientAuthority, LandlockOutcome, Rules};
use engine::Options;
use std::path::{Component, Path, PathBuf};

/// A client path option that resolves outside the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The option's spelling, e.g. `--temp-dir`.
    pub option: &'static str,
    /// The path as the client gave it.
    pub path: String,
}

impl Rejection {
    /// The daemon log line: `rejected --temp-dir='/tmp' from HOST: outside
    /// module root '/srv/m'`.
    pub fn log_line(&self, host: &str, root: &Path) -> String {
        format!(
            "rejected {}='{}' from {host}: outside module root '{}'",
            self.option,
            self.path,
            root.display()
        )
    }
    /// The message the client sees.
    pub fn client_message(&self, module: &str) -> String {
        format!(
            "ERROR: {}='{}' is outside module {module}: refused",
            self.option, self.path
        )
    }
}

/// Lexically normalizes an absolute path (`.` dropped, `..` pops); `None`
/// when `..` would climb above `/`.
fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(n) => out.push(n),
        }
    }
    Some(out)
}

/// Whether `p` (absolute, normalized, beneath `root`) stays beneath
/// `root` once the symlinks of its existing part are followed.
fn existing_part_inside(root: &Path, p: &Path) -> bool {
    let mut probe = p.to_path_buf();
    loop {
        if let Ok(c) = std::fs::canonicalize(&probe) {
            return c.starts_with(root);
        }
        // A dangling symlink is checked through its target.
        if let Ok(target) = std::fs::read_link(&probe) {
            let parent = probe.parent().unwrap_or(Path::new("/")).to_path_buf();
            return match normalize(&parent.join(target)) {
                Some(t) if t.starts_with(root) => existing_part_inside(root, &t),
                _ => false,
            };
        }
        if !probe.pop() || probe.as_os_str().is_empty() {
            return false;
        }
        if probe == root {
            return true;
        }
    }
}

/// Resolves one client path against the module: relative paths are taken
/// from the destination directory `base` (relative to `root`), absolute
/// ones must name a place inside `root`. Returns the path to hand to the
/// engine (relative to `base`), or `None` when it leaves the module.
fn resolve(root: &Path, base: &Path, value: &str) -> Option<String> {
    // `..` is taken from where the destination really is.
    let start = match std::fs::canonicalize(root.join(base)) {
        Ok(c) if c.starts_with(root) => c,
        Ok(_) => return None,
        Err(_) => normalize(&root.join(base))?,
    };
    let target = if value.starts_with('/') {
        normalize(Path::new(value))?
    } else {
        normalize(&start.join(value))?
    };
    if !target.starts_with(root) || !existing_part_inside(root, &target) {
        return None;
    }
    if !value.starts_with('/') {
        return Some(value.to_string());
    }
    // An absolute path inside the module, re-expressed from `base`.
    let inner = target.strip_prefix(root).ok()?;
    let depth = start.strip_prefix(root).ok()?.components().count();
    let mut rel = PathBuf::new();
    for _ in 0..depth {
        rel.push("..");
    }
    rel.push(inner);
    let s = rel.to_string_lossy().into_owned();
    Some(if s.is_empty() { ".".into() } else { s })
}

/// Checks every client-supplied path option (`--temp-dir`,
/// `--partial-dir`, `--backup-dir`, `--compare-dest`, `--copy-dest`,
/// `--link-dest`) against the canonical module `root`. `base` is the
/// destination directory below the root that relative paths start from.
/// Paths inside are kept (absolute ones rewritten relative to `base`);
/// the first one outside is returned as a [`Rejection`].
// upstream: options.c:server_options() / util1.c:sanitize_path() (which
// rewrites instead of refusing)
pub fn check_client_paths(opts: &mut Options, root: &Path, base: &Path) -> Result<(), Rejection> {
    let kind = opts
        .alt_dest
        .map(|k| k.option())
        .unwrap_or("--compare-dest");
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
    for v in opts.basis_dirs.iter_mut() {
        slots.push((kind, v));
    }
    for (option, value) in slots {
        match resolve(root, base, value) {
            Some(v) => *value = v,
            None => {
                return Err(Rejection {
                    option,
                    path: value.clone(),
                })
            }
        }
    }
    Ok(())
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
    pub fn of(module: &Module) -> Result<Mode, String> {
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
                _ => Err(format!(
                    "bad landlock setting '{v}' (required, optional or off)"
                )),
            },
        }
    }
}

/// The Landlock rules of one session: the module root (read-write when
/// `writable`), the system directories, and `landlock allow = PATH[:rw]
/// ...` from the module's configuration.
pub fn module_rules(module: &Module, root: &Path, writable: bool) -> Rules {
    let auth = AmbientAuthority::operator();
    let mut rules = Rules::for_module(root, writable, auth);
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
pub fn engage(module: &Module, root: &Path, writable: bool) -> Engaged {
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
    let outcome = confine_to(&module_rules(module, root, writable));
    let proceed = match (&outcome, mode) {
        (LandlockOutcome::Enforced { .. }, _) | (_, Mode::Optional) => true,
        // The default mode tolerates a kernel without Landlock only.
        (LandlockOutcome::Unavailable { .. }, Mode::Required) => !explicit,
        _ => false,
    };
    Engaged {
        log: format!(
            "{} (module {}, {})",
            outcome.log_line(),
            module.name,
            if writable { "read-write" } else { "read-only" }
        ),
        proceed,
    }
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
/// `Root` of the session resolves with the component-by-component walk
/// instead of openat2 (as on a kernel without openat2), so the tests can
/// show that the walk keeps a module's sender inside the module too.
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
        let check = |a: &str, base: &str| {
            let mut o = opts(&format!("--server {a} . m/"));
            check_client_paths(&mut o, &root, Path::new(base)).map(|_| o)
        };
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
        assert_eq!(
            check("--link-dest=/etc", "").expect_err("ld").option,
            "--link-dest"
        );
        assert!(check("--copy-dest=out", "").is_err());
        assert!(check("--compare-dest=out/x/y", "").is_err());
        assert!(check("--temp-dir=dangle", "").is_err());
        assert!(check("--temp-dir=in/sub", "").is_ok());
        assert!(check("--temp-dir=newdir/x", "").is_ok());
        let o = check("--temp-dir=.tmp --link-dest=../prev", "d").expect("inside");
        assert_eq!(o.basis_dirs, vec!["../prev".to_string()]);
        let abs = format!("--temp-dir={}/d/sub", root.display());
        assert_eq!(
            check(&abs, "d").expect("abs").temp_dir.as_deref(),
            Some("../d/sub")
        );
        let abs = format!("--backup-dir={}", root.display());
        assert_eq!(
            check(&abs, "").expect("abs").backup_dir.as_deref(),
            Some(".")
        );
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
        let r = module_rules(&m("a"), Path::new("/srv/m"), false);
        assert!(r.read_write.contains(&PathBuf::from("/var/x")));
        assert!(r.read_only.contains(&PathBuf::from("/opt/y")));
        assert!(r.read_only.contains(&PathBuf::from("/srv/m")));
        assert!(engage(&m("b"), Path::new("/srv/m"), true).proceed);
    }
}
