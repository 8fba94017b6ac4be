//! `--confine`: the receiving side of a client pull confines itself with
//! Landlock to its destination before the generator thread starts, so that
//! a hostile sender that got past the `Root` discipline still cannot write
//! elsewhere.
//!
//! Default: on for a client pulling from a remote peer (remote shell or
//! daemon), where the sender is someone else's program; off for a local
//! copy (both ends are the user's) and for a server receiving a push (a
//! daemon confines its sessions itself). `--confine` forces it on (and a
//! kernel without Landlock is then an error); `--confine=no` turns it off.
//! The user's own `--temp-dir`, `--partial-dir`, `--backup-dir` and basis
//! directories are operator paths and are allowed too, so confinement never
//! breaks a command line that worked without it.
use crate::error::{Error, Result};
use crate::options::{AltDest, Options};
use crate::out::Out;
use crate::session::Side;
use confine::{confine_to, AmbientAuthority, LandlockOutcome, Root, Rules};
use protocol::exit;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

/// Whether the receiving side confines itself (see the module docs).
pub fn wanted(opts: &Options, side: Side, local: bool) -> bool {
    opts.confine.unwrap_or(side == Side::Client && !local)
}

/// The rules for a receiver writing beneath `dest` (a path naming the
/// destination directory, e.g. `/proc/self/fd/N`).
pub fn receiver_rules(opts: &Options, dest: &Path) -> Rules {
    let auth = AmbientAuthority::operator();
    let mut rules = Rules::for_module(dest, true, auth);
    // A pulling client talks to its peer over descriptors it already has;
    // a remote shell was started before this point.
    rules.deny_tcp = true;
    for (p, _) in rw_dirs(opts) {
        rules.allow(&from_dest(dest, p), true, auth);
    }
    let link = opts.alt_dest == Some(AltDest::Link);
    for p in &opts.basis_dirs {
        rules.allow(&from_dest(dest, p), link, auth);
    }
    rules
}

/// The directories outside the destination a receiver writes into: the
/// temp dir, an absolute partial dir, the backup dir; each with the mode
/// upstream makes it with when missing (none for the temp dir, which must
/// exist).
fn rw_dirs(opts: &Options) -> impl Iterator<Item = (&str, Option<u32>)> {
    [
        (opts.temp_dir.as_deref(), None),
        (
            opts.partial_dir.as_deref().filter(|p| p.starts_with('/')),
            Some(0o700),
        ),
        (opts.backup_dir.as_deref(), Some(0o777)),
    ]
    .into_iter()
    .filter_map(|(p, mode)| p.map(|p| (p, mode)))
}

/// Whether `path` (which may not exist) lies beneath the directory
/// `dest`: judged by its nearest existing ancestor, resolved.
fn inside(dest: &Path, path: &Path) -> bool {
    let Ok(dest) = std::fs::canonicalize(dest) else {
        return false;
    };
    let mut cur = path.to_path_buf();
    loop {
        if let Ok(real) = std::fs::canonicalize(&cur) {
            return real.starts_with(&dest);
        }
        if !cur.pop() {
            return false;
        }
    }
}

/// An option's directory: absolute, or relative to the destination.
fn from_dest(dest: &Path, p: &str) -> PathBuf {
    if p.starts_with('/') {
        PathBuf::from(p)
    } else {
        dest.join(p)
    }
}

/// A Landlock rule needs a directory that exists: the client's own
/// backup dir or absolute partial dir outside the destination, when
/// missing, is made before the rules are (unconfined, upstream makes it
/// with the first file that needs it; made later, it would be outside the
/// rules and every backup would fail). One inside the destination is left
/// to be made when needed, as upstream (made early, a `--delete` pass
/// would find it there).
fn make_missing_dirs(opts: &Options, dest: &Path) {
    use std::os::unix::fs::DirBuilderExt;
    for (p, mode) in rw_dirs(opts) {
        let (path, Some(mode)) = (from_dest(dest, p), mode) else {
            continue;
        };
        if !path.exists() && !inside(dest, &path) {
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(&path);
        }
    }
}

/// Engages Landlock on the calling thread for a receiver whose destination
/// is `root`, when [`wanted`]. A kernel without Landlock (or a failure) is
/// an error only when `--confine` was given explicitly.
pub fn confine_receiver(
    opts: &Options,
    side: Side,
    local: bool,
    root: &Root,
    out: &Out,
) -> Result<()> {
    if !wanted(opts, side, local) {
        return Ok(());
    }
    let dest = PathBuf::from(format!("/proc/self/fd/{}", root.as_fd().as_raw_fd()));
    // Only the operator's own options: a server's come from its peer.
    if side == Side::Client {
        make_missing_dirs(opts, &dest);
    }
    let outcome = confine_to(&receiver_rules(opts, &dest));
    out.set_landlock(crate::stats::LandlockNote {
        state: match &outcome {
            LandlockOutcome::Enforced { .. } => "enforced",
            LandlockOutcome::Unavailable { .. } => "unavailable",
            _ => "error",
        },
        detail: outcome.log_line(),
    });
    let explicit = opts.confine == Some(true);
    match outcome {
        LandlockOutcome::Enforced { .. } => {
            if opts.verbose > 1 {
                out.info(&outcome.log_line());
            }
            Ok(())
        }
        other if explicit => Err(Error::new(
            exit::RERR_UNSUPPORTED,
            format!("--confine: {}", other.log_line()),
        )),
        other => {
            if opts.verbose > 1 {
                out.info(&other.log_line());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(a: &str) -> Options {
        let a: Vec<std::ffi::OsString> = a.split_whitespace().map(Into::into).collect();
        Options::parse(&a).expect("parse")
    }

    #[test]
    fn defaults() {
        assert!(wanted(&opts("-a h:s d"), Side::Client, false));
        assert!(!wanted(&opts("-a s d"), Side::Client, true));
        assert!(!wanted(&opts("--server -r . d"), Side::Server, false));
        assert!(wanted(&opts("--confine -a s d"), Side::Client, true));
        assert!(wanted(&opts("--confine=yes -a s d"), Side::Client, true));
        assert!(!wanted(&opts("--confine=no -a h:s d"), Side::Client, false));
        let a: Vec<std::ffi::OsString> = vec!["--confine=maybe".into(), "s".into(), "d".into()];
        assert!(Options::parse(&a).is_err());
    }

    #[test]
    fn user_paths_are_allowed() {
        let o = opts("-a -T /var/tmp/t --backup-dir=bak --link-dest=../prev h:s d");
        let r = receiver_rules(&o, Path::new("/dst"));
        assert!(r.read_write.contains(&PathBuf::from("/dst")));
        assert!(r.read_write.contains(&PathBuf::from("/var/tmp/t")));
        assert!(r.read_write.contains(&PathBuf::from("/dst/bak")));
        assert!(r.read_write.contains(&PathBuf::from("/dst/../prev")));
        let o = opts("-a --compare-dest=/c h:s d");
        let r = receiver_rules(&o, Path::new("/dst"));
        assert!(r.read_only.contains(&PathBuf::from("/c")));
    }
}
