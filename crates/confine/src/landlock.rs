//! Landlock: the filesystem (and, where the kernel can, network and IPC)
//! sandbox a daemon connection engages after chroot and the privilege drop
//! (ARCHITECTURE.md, "The order of a daemon session", step 5).
//!
//! Landlock confines the calling thread and every thread and process it
//! creates afterwards, never threads that already exist. [`confine_to`]
//! must therefore run before the session starts worker threads, the name
//! converter or pre-/post-xfer exec, so that all of them inherit it.
//!
//! The ruleset handles every filesystem right of the newest ABI the
//! `landlock` crate knows and is enforced best effort: on an older kernel
//! the rights it lacks are dropped, and [`LandlockOutcome`] names them.
//! Stacking is monotonic: a second [`confine_to`] can only narrow what the
//! first one allowed.

use landlock::{
    Access, AccessFs, AccessNet, LandlockStatus, PathBeneath, PathFd, PathFdError, RestrictSelf,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError, RulesetStatus, Scope, ABI,
};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::AmbientAuthority;

/// The newest Landlock ABI this module asks rights for. Rights the running
/// kernel lacks are dropped (best effort) and reported as missing.
const NEWEST: ABI = ABI::V10;

/// System directories a session may read and execute from, so that NSS
/// lookups, hooks (pre-/post-xfer exec) and the name converter still run.
const SYSTEM_READ_EXEC: &[&str] = &["/usr", "/lib", "/lib64", "/bin", "/sbin"];

/// System paths a session may read but not execute from.
const SYSTEM_READ_ONLY: &[&str] = &["/etc", "/dev/urandom", "/dev/random", "/dev/zero"];

/// System paths a session may write to (discarded output of hooks).
const SYSTEM_READ_WRITE: &[&str] = &["/dev/null"];

/// A directory opened before the rules are enforced (typically while the
/// daemon still runs as root, so that a module beneath a parent the
/// module's uid cannot search is still allowed): its rule is built from
/// the descriptor, never by opening the path again.
#[derive(Debug, Clone)]
pub struct HeldDir {
    /// The open directory.
    pub fd: Arc<OwnedFd>,
    /// Its path, for the log only.
    pub path: PathBuf,
    /// Every right (true) or read-only (false).
    pub rw: bool,
}

impl PartialEq for HeldDir {
    fn eq(&self, o: &HeldDir) -> bool {
        self.fd.as_raw_fd() == o.fd.as_raw_fd() && self.path == o.path && self.rw == o.rw
    }
}

impl Eq for HeldDir {}

/// What a Landlock domain allows. Everything not listed is denied for the
/// handled rights.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Hierarchies with every filesystem right (the module root of a
    /// writable module, `landlock allow = PATH:rw`).
    pub read_write: Vec<PathBuf>,
    /// Hierarchies that may be read (files and directory listings) but
    /// neither written nor executed from.
    pub read_only: Vec<PathBuf>,
    /// Hierarchies that may be read and executed from (system directories).
    pub read_exec: Vec<PathBuf>,
    /// Hierarchies already open (the module root), see [`HeldDir`].
    pub held: Vec<HeldDir>,
    /// Deny binding and connecting TCP sockets (kernel ABI 4 and later).
    pub deny_tcp: bool,
    /// Scope abstract unix sockets and signals to the sandbox (kernel ABI 6
    /// and later).
    pub scope_ipc: bool,
}

impl Rules {
    /// Rules for one module session: `root` read-write when `writable`
    /// (a push to a module that is not `read only`), read-only otherwise;
    /// the system directories read and execute only; `/etc` and a few
    /// device nodes as needed by NSS and hooks; TCP denied and IPC scoped.
    /// Temporary files live inside the root, so nothing else is writable.
    ///
    /// Add the module's `landlock allow = PATH[:rw]` entries with
    /// [`Rules::allow`]. Paths are resolved when [`confine_to`] runs, so
    /// after a chroot they name paths inside it; paths that do not exist
    /// then are skipped (which only ever narrows the sandbox).
    ///
    /// # Ambient authority
    /// `root` and every path added later must come from the operator's
    /// configuration, never from the peer.
    pub fn for_module(root: &Path, writable: bool, auth: AmbientAuthority) -> Rules {
        let _ = auth;
        let mut rules = Rules {
            deny_tcp: true,
            scope_ipc: true,
            ..Rules::default()
        };
        rules.read_exec = SYSTEM_READ_EXEC.iter().map(PathBuf::from).collect();
        rules.read_only = SYSTEM_READ_ONLY.iter().map(PathBuf::from).collect();
        rules.read_write = SYSTEM_READ_WRITE.iter().map(PathBuf::from).collect();
        if writable {
            rules.read_write.push(root.to_path_buf());
        } else {
            rules.read_only.push(root.to_path_buf());
        }
        rules
    }

    /// As [`Rules::for_module`], with the module root given as the
    /// directory `fd` opened earlier (before the uid was dropped); `root`
    /// is its path, for the log only. The root is not opened again.
    pub fn for_module_held(
        root: &Path,
        fd: OwnedFd,
        writable: bool,
        auth: AmbientAuthority,
    ) -> Rules {
        let mut rules = Rules::for_module(root, writable, auth);
        rules.read_write.retain(|p| p != root);
        rules.read_only.retain(|p| p != root);
        rules.held.push(HeldDir {
            fd: Arc::new(fd),
            path: root.to_path_buf(),
            rw: writable,
        });
        rules
    }

    /// Adds an operator-configured path, read-write when `rw`, read-only
    /// otherwise (the `landlock allow = PATH[:rw]` module setting).
    ///
    /// # Ambient authority
    /// Only the operator's paths, never a peer's.
    pub fn allow(&mut self, path: &Path, rw: bool, auth: AmbientAuthority) -> &mut Rules {
        let _ = auth;
        if rw {
            self.read_write.push(path.to_path_buf());
        } else {
            self.read_only.push(path.to_path_buf());
        }
        self
    }
}

/// How much of the requested ruleset the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Every requested right is enforced.
    Full,
    /// Some rights are enforced; the kernel lacks the others.
    Partial,
}

/// The result of [`confine_to`], logged once per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LandlockOutcome {
    /// The calling thread is now confined.
    Enforced {
        /// The kernel's Landlock ABI.
        abi: i32,
        /// Full or partial enforcement.
        level: Level,
        /// The requested rights the kernel lacked (e.g. `ioctl_dev`,
        /// `tcp_connect`, `scope_signal`), empty when fully enforced.
        missing: Vec<String>,
        /// Configured paths that did not exist and so were not allowed.
        skipped: Vec<PathBuf>,
    },
    /// The kernel has no Landlock (not built in, or not enabled at boot).
    Unavailable {
        /// Why, in a few words.
        reason: String,
    },
    /// Building or enforcing the ruleset failed; the thread may or may not
    /// be partly confined by an earlier call, but not by this one.
    Error(String),
}

impl LandlockOutcome {
    /// True when a domain was enforced (fully or partially).
    pub fn is_enforced(&self) -> bool {
        matches!(self, LandlockOutcome::Enforced { .. })
    }
    /// One line for the daemon log.
    pub fn log_line(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for LandlockOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LandlockOutcome::Enforced {
                abi,
                level,
                missing,
                skipped,
            } => {
                let level = match level {
                    Level::Full => "fully",
                    Level::Partial => "partially",
                };
                write!(f, "landlock: abi {abi}, {level} enforced")?;
                if !missing.is_empty() {
                    write!(f, "; the kernel lacks {}", missing.join(", "))?;
                }
                if !skipped.is_empty() {
                    let names: Vec<String> =
                        skipped.iter().map(|p| p.display().to_string()).collect();
                    write!(
                        f,
                        "; not present here, so not granted: {}",
                        names.join(", ")
                    )?;
                }
                Ok(())
            }
            LandlockOutcome::Unavailable { reason } => {
                write!(f, "landlock: not available: {reason}")
            }
            LandlockOutcome::Error(e) => write!(f, "landlock: error: {e}"),
        }
    }
}

/// The running kernel's Landlock ABI version (the version query of
/// `landlock_create_ruleset`), or `None` when the kernel has no Landlock.
///
/// Uses the `landlock` crate's own probe: a [`RestrictSelf`] with no flags
/// queries the kernel and makes no restricting system call.
pub fn abi_version() -> Option<i32> {
    match probe() {
        Ok(LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        }) => Some(kernel_abi.unwrap_or(effective_abi as i32)),
        _ => None,
    }
}

fn probe() -> Result<LandlockStatus, RulesetError> {
    // No flags and no no_new_privs: apply() only reports the kernel's status.
    RestrictSelf::default()
        .no_new_privs(false)
        .apply()
        .map(|s| s.landlock)
}

/// Confines the calling thread (and every thread and process it creates
/// from now on) to `rules`, best effort over the rights the kernel has.
/// Also sets no_new_privs, which Landlock requires of unprivileged callers.
///
/// Call it after chroot and the privilege drop, before any thread or child
/// process starts. Calling it again stacks a second domain, which can only
/// narrow the first.
pub fn confine_to(rules: &Rules) -> LandlockOutcome {
    let kernel_abi = match probe() {
        Ok(LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        }) => kernel_abi.unwrap_or(effective_abi as i32),
        Ok(LandlockStatus::NotEnabled) => {
            return LandlockOutcome::Unavailable {
                reason: "supported by the kernel but not enabled at boot".into(),
            }
        }
        Ok(LandlockStatus::NotImplemented) => {
            return LandlockOutcome::Unavailable {
                reason: "not built into the running kernel".into(),
            }
        }
        Err(e) => return LandlockOutcome::Error(format!("probe: {e}")),
    };
    match enforce(rules) {
        Ok((status, skipped)) => match status {
            RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => {
                let missing = missing_rights(rules, ABI::from(kernel_abi));
                let level = if status == RulesetStatus::FullyEnforced && missing.is_empty() {
                    Level::Full
                } else {
                    Level::Partial
                };
                LandlockOutcome::Enforced {
                    abi: kernel_abi,
                    level,
                    missing,
                    skipped,
                }
            }
            RulesetStatus::NotEnforced => LandlockOutcome::Unavailable {
                reason: format!("kernel abi {kernel_abi} enforces none of the requested rights"),
            },
        },
        Err(e) => LandlockOutcome::Error(e.to_string()),
    }
}

/// Why [`enforce`] failed: the step, and the landlock crate's or the
/// kernel's reason (the text of [`LandlockOutcome::Error`]).
#[derive(Debug, thiserror::Error)]
enum EnforceError {
    /// A step of building or enforcing the ruleset.
    #[error("{step}: {source}")]
    Ruleset {
        /// "handle filesystem rights", "create ruleset", "restrict self", ...
        step: &'static str,
        /// The landlock crate's error.
        source: RulesetError,
    },
    /// Allowing a held directory or a configured path.
    #[error("allow {}: {source}", path.display())]
    Allow {
        /// The directory or file.
        path: PathBuf,
        /// The landlock crate's error.
        source: RulesetError,
    },
    /// Opening a configured path.
    #[error("open {}: {source}", path.display())]
    Open {
        /// The path.
        path: PathBuf,
        /// The landlock crate's error.
        source: PathFdError,
    },
    /// Finding whether a configured path is a directory.
    #[error("stat {}: {source}", path.display())]
    Stat {
        /// The path.
        path: PathBuf,
        /// The errno.
        source: rustix::io::Errno,
    },
}

impl EnforceError {
    fn step(step: &'static str) -> impl FnOnce(RulesetError) -> EnforceError {
        move |source| EnforceError::Ruleset { step, source }
    }
    fn allow(path: &Path) -> impl FnOnce(RulesetError) -> EnforceError + '_ {
        move |source| EnforceError::Allow {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Builds the ruleset and restricts the calling thread.
fn enforce(rules: &Rules) -> Result<(RulesetStatus, Vec<PathBuf>), EnforceError> {
    let rw = AccessFs::from_all(NEWEST);
    let ro = AccessFs::ReadFile | AccessFs::ReadDir;
    let rx = ro | AccessFs::Execute;

    let mut ruleset = Ruleset::default()
        .handle_access(rw)
        .map_err(EnforceError::step("handle filesystem rights"))?;
    if rules.deny_tcp {
        ruleset = ruleset
            .handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)
            .map_err(EnforceError::step("handle tcp rights"))?;
    }
    if rules.scope_ipc {
        ruleset = ruleset
            .scope(Scope::from_all(NEWEST))
            .map_err(EnforceError::step("scope ipc"))?;
    }
    let mut created = ruleset
        .create()
        .map_err(EnforceError::step("create ruleset"))?;

    for held in &rules.held {
        let access = if held.rw { rw } else { ro };
        created = created
            .add_rule(PathBeneath::new(held.fd.as_fd(), access))
            .map_err(EnforceError::allow(&held.path))?;
    }
    let mut skipped = Vec::new();
    let lists = [
        (&rules.read_write, rw),
        (&rules.read_only, ro),
        (&rules.read_exec, rx),
    ];
    for (paths, access) in lists {
        for path in paths {
            let fd = match PathFd::new(path) {
                Ok(fd) => fd,
                Err(PathFdError::OpenCall { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    skipped.push(path.clone());
                    continue;
                }
                Err(source) => {
                    let path = path.clone();
                    return Err(EnforceError::Open { path, source });
                }
            };
            // A file takes only the rights that make sense for a file;
            // asking for directory rights there would report a partial
            // enforcement that has nothing to do with the kernel.
            let access = match rustix::fs::fstat(&fd) {
                Ok(st) if rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir() => access,
                Ok(_) => access & AccessFs::from_file(NEWEST),
                Err(source) => {
                    let path = path.clone();
                    return Err(EnforceError::Stat { path, source });
                }
            };
            created = created
                .add_rule(PathBeneath::new(fd, access))
                .map_err(EnforceError::allow(path))?;
        }
    }
    let status = created
        .restrict_self()
        .map_err(EnforceError::step("restrict self"))?;
    Ok((status.ruleset, skipped))
}

/// The requested rights an ABI `abi` kernel lacks, by name.
fn missing_rights(rules: &Rules, abi: ABI) -> Vec<String> {
    let mut missing: Vec<String> = names(
        (AccessFs::from_all(NEWEST) & !AccessFs::from_all(abi)).iter(),
        "",
    );
    if rules.deny_tcp {
        let tcp = AccessNet::BindTcp | AccessNet::ConnectTcp;
        missing.extend(names((tcp & !AccessNet::from_all(abi)).iter(), ""));
    }
    if rules.scope_ipc {
        missing.extend(names(
            (Scope::from_all(NEWEST) & !Scope::from_all(abi)).iter(),
            "scope_",
        ));
    }
    missing
}

/// `IoctlDev` -> `ioctl_dev`, `ConnectTcp` -> `tcp_connect`.
fn names<T: fmt::Debug>(flags: impl IntoIterator<Item = T>, prefix: &str) -> Vec<String> {
    flags
        .into_iter()
        .map(|flag| {
            let debug = format!("{flag:?}");
            let name = match debug.as_str() {
                "BindTcp" => "tcp_bind".to_string(),
                "ConnectTcp" => "tcp_connect".to_string(),
                other => snake(other),
            };
            format!("{prefix}{name}")
        })
        .collect()
}

fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_root_is_not_opened_by_path() {
        let dir = std::env::temp_dir();
        let fd = std::fs::File::open(&dir).expect("open");
        let root = Path::new("/nonexistent/module");
        let rules = Rules::for_module_held(root, fd.into(), true, AmbientAuthority::operator());
        assert!(!rules.read_write.iter().any(|p| p == root), "{rules:?}");
        assert!(!rules.read_only.iter().any(|p| p == root), "{rules:?}");
        assert_eq!(rules.held.len(), 1);
        assert!(rules.held[0].rw);
        assert_eq!(rules.held[0].path, root);
        assert_eq!(rules.clone(), rules);
    }

    #[test]
    fn missing_on_old_kernels() {
        let rules = Rules {
            deny_tcp: true,
            scope_ipc: true,
            ..Rules::default()
        };
        let v3 = missing_rights(&rules, ABI::V3);
        assert!(v3.contains(&"ioctl_dev".to_string()), "{v3:?}");
        assert!(v3.contains(&"tcp_connect".to_string()), "{v3:?}");
        assert!(v3.contains(&"scope_signal".to_string()), "{v3:?}");
        assert!(v3.contains(&"scope_abstract_unix_socket".to_string()));
        assert!(!v3.contains(&"truncate".to_string()));
        let v7 = missing_rights(&rules, ABI::V7);
        assert_eq!(v7, vec!["resolve_unix".to_string()]);
        assert!(missing_rights(&rules, NEWEST).is_empty());
    }

    #[test]
    fn module_rules() {
        let auth = AmbientAuthority::operator();
        let mut rules = Rules::for_module(Path::new("/srv/m"), false, auth);
        assert!(rules.read_only.contains(&PathBuf::from("/srv/m")));
        assert!(!rules.read_write.contains(&PathBuf::from("/srv/m")));
        assert!(rules.read_exec.contains(&PathBuf::from("/usr")));
        rules.allow(Path::new("/var/log/x"), true, auth);
        assert!(rules.read_write.contains(&PathBuf::from("/var/log/x")));
        let rules = Rules::for_module(Path::new("/srv/m"), true, auth);
        assert!(rules.read_write.contains(&PathBuf::from("/srv/m")));
    }

    #[test]
    fn log_lines() {
        let o = LandlockOutcome::Enforced {
            abi: 7,
            level: Level::Partial,
            missing: vec!["resolve_unix".into()],
            skipped: vec![PathBuf::from("/lib32")],
        };
        assert_eq!(
            o.log_line(),
            "landlock: abi 7, partially enforced; the kernel lacks resolve_unix; not present here, so not granted: /lib32"
        );
        let o = LandlockOutcome::Unavailable {
            reason: "not built into the running kernel".into(),
        };
        assert_eq!(
            o.log_line(),
            "landlock: not available: not built into the running kernel"
        );
    }

    #[test]
    fn probe_is_harmless() {
        // The probe must not restrict this (shared) test thread.
        let _ = abi_version();
        let dir = std::env::temp_dir().join(format!("confine-probe-{}", std::process::id()));
        std::fs::write(&dir, b"x").unwrap();
        std::fs::remove_file(&dir).unwrap();
    }
}
