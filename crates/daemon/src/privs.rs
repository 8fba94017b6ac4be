//! Step 4 of a daemon session: the `use chroot`, `uid` and `gid` module
//! parameters, resolved while the user and group tables are still
//! visible, then applied (chroot, setgroups, setgid, setuid,
//! no_new_privs) before the connection process starts any thread. And,
//! before the greeting, the global `daemon chroot`, `daemon gid` and
//! `daemon uid` ([`apply_daemon`]).
use crate::config::Module;
use confine::AmbientAuthority;
use std::path::{Path, PathBuf};

/// Where the session chroots, and the module root seen from inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChrootPlan {
    /// The directory to chroot to.
    pub dir: PathBuf,
    /// The module root after the chroot (`/` or the part after `/./`).
    pub inside: PathBuf,
    /// A failed chroot ends the session (`use chroot = yes`, or a `/./`
    /// divider); otherwise it is logged and the session goes on.
    pub required: bool,
}

/// Decides the chroot for a module whose configured path is `raw` and whose
/// canonical root is `root`. None when `use chroot = no`.
// upstream: clientserver.c:rsync_module() (chroot divider)
pub fn chroot_plan(module: &Module, raw: &Path, root: &Path) -> Option<ChrootPlan> {
    let setting = module.params.opt_bool("use chroot");
    if setting == Some(false) {
        return None;
    }
    let raw_s = raw.to_string_lossy();
    let divider = raw_s.find("/./");
    let required = setting == Some(true) || divider.is_some();
    let dir = match divider {
        Some(i) => {
            let head = if i == 0 { "/" } else { &raw_s[..i] };
            std::fs::canonicalize(head).unwrap_or_else(|_| PathBuf::from(head))
        }
        None => root.to_path_buf(),
    };
    let inside = match root.strip_prefix(&dir) {
        Ok(rest) => Path::new("/").join(rest),
        Err(_) => return None,
    };
    Some(ChrootPlan {
        dir,
        inside,
        required,
    })
}

/// The ids a root daemon switches to for a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// `uid` (default `nobody`).
    pub uid: u32,
    /// The primary gid: the first of `gid` (default `nogroup` or else
    /// `nobody`).
    pub gid: u32,
    /// Every gid of `gid`, the supplementary group list.
    pub groups: Vec<u32>,
}

/// Why a session's process could not take the module's ids or chroot
/// (logged as "refused on module M: ...", and sent to the client).
#[derive(Debug, thiserror::Error)]
pub enum PrivsError {
    /// The module's directory cannot be opened.
    #[error("cannot open module {module}: {source}")]
    Module {
        /// The module.
        module: String,
        /// Why.
        source: confine::Error,
    },
    /// `uid` names no user.
    #[error("Invalid uid {0}")]
    Uid(String),
    /// `gid = *` for a uid without a passwd entry.
    #[error("getpwuid failed for uid {0}")]
    NoPasswd(u32),
    /// A `gid` item (or the default `nogroup`) names no group.
    #[error("Invalid gid {0}")]
    Gid(String),
    /// The group list came out empty.
    #[error("Invalid gid")]
    NoGid,
    /// A required chroot failed.
    #[error("chroot {} failed: {source}", dir.display())]
    Chroot {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: confine::PrivDropError,
    },
    /// Switching ids, or setting no_new_privs, failed.
    #[error("{0}")]
    Drop(#[from] confine::PrivDropError),
}

/// The ids a root daemon switches to for `module`; numbers or names. A
/// `gid` list starting with `*` stands for every group of the uid's
/// user (its passwd group first), followed by any others listed.
// upstream: clientserver.c:rsync_module() (set_uid / set_gid, want_all_groups)
pub fn module_ids(module: &Module) -> Result<Ids, PrivsError> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let uid_spec = module.params.nonempty("uid").unwrap_or("nobody");
    let uid = lookup(uid_spec, &passwd).ok_or_else(|| PrivsError::Uid(uid_spec.to_owned()))?;
    let mut groups = Vec::new();
    match module.params.nonempty("gid") {
        Some(g) => {
            let items = crate::config::conf_tokens(g);
            let mut rest = &items[..];
            if items.first() == Some(&"*") {
                groups = all_groups_of(uid, &passwd, &group).ok_or(PrivsError::NoPasswd(uid))?;
                rest = &items[1..];
            }
            for item in rest {
                let gid = lookup(item, &group).ok_or_else(|| PrivsError::Gid(item.to_string()))?;
                if !groups.contains(&gid) {
                    groups.push(gid);
                }
            }
        }
        None => groups.push(
            lookup("nogroup", &group)
                .or_else(|| lookup("nobody", &group))
                .ok_or_else(|| PrivsError::Gid("nogroup".into()))?,
        ),
    };
    let gid = *groups.first().ok_or(PrivsError::NoGid)?;
    Ok(Ids { uid, gid, groups })
}

/// The groups of the user whose uid is `uid`: its passwd group, then those
/// of `group` that list the user as a member. `None` without a passwd entry.
// upstream: uidlist.c:getallgroups()
fn all_groups_of(uid: u32, passwd: &str, group: &str) -> Option<Vec<u32>> {
    let (name, primary) = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[2].parse() == Ok(uid)).then(|| (f[0], f[3].parse::<u32>().ok()))
    })?;
    let mut out: Vec<u32> = primary.into_iter().collect();
    for l in group.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() > 3 && f[3].split(',').any(|m| m == name) {
            if let Ok(g) = f[2].parse() {
                if !out.contains(&g) {
                    out.push(g);
                }
            }
        }
    }
    Some(out)
}

/// A number, or a name looked up in a passwd/group style table.
fn lookup(spec: &str, table: &str) -> Option<u32> {
    let spec = spec.trim();
    if let Ok(n) = spec.parse::<u32>() {
        return (n != u32::MAX).then_some(n);
    }
    table.lines().find_map(|l| {
        let mut f = l.split(':');
        let (name, _, id) = (f.next()?, f.next()?, f.next()?);
        (name == spec).then(|| id.parse().ok()).flatten()
    })
}

/// The global `daemon chroot`, `daemon gid` and `daemon uid`, applied to
/// the whole connection, in that order, before it greets the client (and
/// before the module's own chroot and ids, which a daemon no longer root
/// does without). Names are looked up after the chroot, in its tables.
/// Err: the line for the log; the connection ends without a greeting.
// upstream: clientserver.c:start_daemon()
pub fn apply_daemon(globals: &crate::config::Params) -> Result<(), String> {
    let why = |e: confine::PrivDropError| match e {
        confine::PrivDropError::Call { source, .. } => engine::error::os_err(&source),
        other => other.to_string(),
    };
    if let Some(dir) = globals.nonempty("daemon chroot") {
        confine::chroot(Path::new(dir), AmbientAuthority::operator())
            .map_err(|e| format!("daemon chroot(\"{dir}\") failed: {}", why(e)))?;
    }
    if let Some(spec) = globals.nonempty("daemon gid") {
        let table = std::fs::read_to_string("/etc/group").unwrap_or_default();
        let gid = lookup(spec, &table).ok_or_else(|| format!("Invalid daemon gid: {spec}"))?;
        confine::set_daemon_gid(gid)
            .map_err(|e| format!("Unable to set group to daemon gid {gid}: {}", why(e)))?;
    }
    if let Some(spec) = globals.nonempty("daemon uid") {
        let table = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let uid = lookup(spec, &table).ok_or_else(|| format!("Invalid daemon uid: {spec}"))?;
        confine::set_daemon_uid(uid)
            .map_err(|e| format!("Unable to set user to daemon uid {uid}: {}", why(e)))?;
    }
    Ok(())
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The module root to use from now on.
    pub root: PathBuf,
    /// The session is chrooted.
    pub chrooted: bool,
    /// A warning for the log (a chroot that was tried and failed).
    pub warning: Option<String>,
}

/// Chroots (per `plan`), then switches to `ids` (when given: the daemon
/// runs as root), then sets no_new_privs. Must run before any thread.
pub fn apply(
    plan: Option<&ChrootPlan>,
    root: &Path,
    ids: Option<Ids>,
) -> Result<Applied, PrivsError> {
    let mut out = Applied {
        root: root.to_path_buf(),
        ..Applied::default()
    };
    if let Some(p) = plan {
        match confine::chroot(&p.dir, AmbientAuthority::operator()) {
            Ok(()) => {
                out.root = p.inside.clone();
                out.chrooted = true;
            }
            Err(e) if !p.required => {
                out.warning = Some(format!(
                    "chroot {} failed: {e} (continuing without chroot)",
                    p.dir.display()
                ));
            }
            Err(source) => {
                let dir = p.dir.clone();
                return Err(PrivsError::Chroot { dir, source });
            }
        }
    }
    if let Some(ids) = ids {
        confine::drop_privileges(ids.uid, ids.gid, &ids.groups)?;
    }
    confine::set_no_new_privs()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn module(text: &str) -> Module {
        Config::parse_str(text, Path::new("t"))
            .expect("parse")
            .module("m")
            .expect("m")
            .clone()
    }

    #[test]
    fn plans() {
        let m = module("[m]\npath = /srv/./pub\n");
        let p = chroot_plan(&m, Path::new("/srv/./pub"), Path::new("/srv/pub")).expect("plan");
        assert_eq!(p.dir, PathBuf::from("/srv"));
        assert_eq!(p.inside, PathBuf::from("/pub"));
        assert!(p.required);
        let m = module("[m]\npath = /srv/pub\n");
        let p = chroot_plan(&m, Path::new("/srv/pub"), Path::new("/srv/pub")).expect("plan");
        assert_eq!(
            (p.dir.as_path(), p.inside.as_path()),
            (Path::new("/srv/pub"), Path::new("/"))
        );
        assert!(!p.required);
        let m = module("[m]\npath = /srv/pub\nuse chroot = yes\n");
        assert!(
            chroot_plan(&m, Path::new("/srv/pub"), Path::new("/srv/pub"))
                .expect("p")
                .required
        );
        let m = module("[m]\npath = /srv/pub\nuse chroot = no\n");
        assert!(chroot_plan(&m, Path::new("/srv/pub"), Path::new("/srv/pub")).is_none());
    }

    #[test]
    fn ids() {
        let table = "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n";
        assert_eq!(lookup("nobody", table), Some(65534));
        assert_eq!(lookup("123", table), Some(123));
        assert_eq!(lookup("nosuch", table), None);
        assert_eq!(lookup("4294967295", table), None);
        let m = module("[m]\nuid = 1234\ngid = 99, 100\n");
        let ids = module_ids(&m).expect("ids");
        assert_eq!((ids.uid, ids.gid, ids.groups), (1234, 99, vec![99, 100]));
        let passwd = "alice:x:1001:50::/:/bin/sh\n";
        let group = "users:x:50:\nstaff:x:60:bob,alice\nother:x:70:bob\n";
        assert_eq!(all_groups_of(1001, passwd, group), Some(vec![50, 60]));
        assert_eq!(all_groups_of(1002, passwd, group), None);
        let m = module("[m]\nuid = 0\ngid = *, 4242\n");
        let ids = module_ids(&m).expect("gid *");
        assert_eq!((ids.gid, ids.groups.last()), (0, Some(&4242)));
        let m = module("[m]\nuid = no-such-user-here\n");
        assert!(module_ids(&m).is_err());
    }
}
