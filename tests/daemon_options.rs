//! The options whose daemon side matters (backups, partial and temp
//! directories, basis directories beside the destination, the deletion
//! variants) through the daemon transport, both ways: stock rsync pushing to
//! and pulling from `oxsync --daemon`, oxsync pushing to and pulling from
//! `rsync --daemon`. The same command run by stock rsync against stock
//! `rsync --daemon` into an identically prepared destination is the
//! reference: exit codes, sorted itemize lines and destination trees must be
//! equal, and for `--link-dest` the same files must share the basis inode.
//!
//! The basis and temp directories sit inside the destination (`.prev`,
//! `.tmp`): a stock daemon reduces a client's `../prev` to `prev` beneath
//! the destination (upstream sanitizes the option before it enters the
//! destination, so nothing may climb), while oxsync's daemon resolves
//! `../prev` beside the destination when that is still inside the module
//! (tests/sandbox.rs daemon_accepts_a_basis_dir_beside_the_destination).
//! Paths inside the destination mean the same to both.
use crate::daemon_filters::{compare, Way};
use crate::util::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// What a case prepares beyond the filter suite's source and destination:
/// called with the scratch root and each destination.
type Prep = fn(&Path, &Path);

fn no_prep(_: &Path, _: &Path) {}

/// A basis tree in the destination: a copy of the source made by stock
/// rsync (same sizes and mtimes, so unchanged files qualify), with one file
/// whose content differs.
fn prev_dir(root: &Path, dst: &Path) {
    let prev = dst.join(".prev");
    let out = Command::new(rsync_bin())
        .arg("-a")
        .arg(root.join("src/"))
        .arg(&prev)
        .output()
        .expect("run rsync");
    assert!(out.status.success(), "making prev: {out:?}");
    let changed = prev.join("d1/keep.txt");
    let mtime = fs::metadata(&changed).expect("stat").mtime();
    fs::write(&changed, b"not the source's content at all").expect("write");
    set_mtime(&changed, mtime);
}

/// A half-transferred file left in the partial directory of a previous run.
fn partial_file(_root: &Path, dst: &Path) {
    let part = dst.join(".part");
    fs::create_dir_all(&part).expect("mkdir");
    let full = fs::read(dst.parent().expect("parent").join("src/a.c")).expect("read");
    fs::write(part.join("a.c"), &full[..full.len() / 2]).expect("write");
}

/// An empty directory in the destination for `--temp-dir`.
fn make_temp_dir(_root: &Path, dst: &Path) {
    fs::create_dir_all(dst.join(".tmp")).expect("mkdir");
}

/// Runs `args` one way and against the stock-rsync reference; compares exit
/// codes, itemize lines and trees.
fn check(way: Way, args: &[&str], prep: Prep) {
    let c = compare(way, args, "use chroot = no\nmunge symlinks = no\n", prep);
    let (dst, dst_ref) = (&c.dst, &c.dst_ref);
    let show = |what: &str| c.show(&format!("{way:?} {args:?}"), what);
    if dst.join(".prev").exists() {
        let a = shares_inode(dst, &dst.join(".prev"));
        let b = shares_inode(dst_ref, &dst_ref.join(".prev"));
        assert_eq!(a, b, "{}", show("files hard-linked to .prev differ"));
        if args.iter().any(|a| a.starts_with("--link-dest")) {
            assert!(
                a.len() > 10,
                "{}",
                show(&format!("--link-dest linked only {a:?}"))
            );
        }
    }
}

/// The regular files below `dst` that are the same inode as the file of
/// the same name below `prev`.
fn shares_inode(dst: &Path, prev: &Path) -> Vec<String> {
    snapshot(dst)
        .into_iter()
        .filter(|(_, s)| s.kind == 'f')
        .filter_map(|(rel, _)| {
            let a = fs::metadata(dst.join(&rel)).ok()?;
            let b = fs::symlink_metadata(prev.join(&rel)).ok()?;
            (a.dev() == b.dev() && a.ino() == b.ino()).then(|| rel.display().to_string())
        })
        .collect()
}

/// One `#[test]` per option set for one way.
macro_rules! option_tests {
    ($way:expr) => {
        use super::{check, make_temp_dir, no_prep, partial_file, prev_dir};
        #[test]
        fn backup_dir_with_delete() {
            check($way, &["-b", "--backup-dir=bk", "--delete"], no_prep);
        }
        #[test]
        fn backup_suffix() {
            check($way, &["--backup", "--suffix=.old"], no_prep);
        }
        #[test]
        fn partial_dir_resumes() {
            check($way, &["--partial-dir=.part"], partial_file);
        }
        #[test]
        fn delay_updates() {
            check($way, &["--delay-updates", "--delete"], no_prep);
        }
        #[test]
        fn temp_dir() {
            check($way, &["--temp-dir=.tmp"], make_temp_dir);
        }
        #[test]
        fn link_dest() {
            check($way, &["--link-dest=.prev"], prev_dir);
        }
        #[test]
        fn compare_dest() {
            check($way, &["--compare-dest=.prev"], prev_dir);
        }
        #[test]
        fn copy_dest() {
            check($way, &["--copy-dest=.prev"], prev_dir);
        }
        #[test]
        fn delete_before() {
            check($way, &["--delete-before"], no_prep);
        }
        #[test]
        fn delete_during() {
            check($way, &["--delete-during"], no_prep);
        }
        #[test]
        fn delete_delay() {
            check($way, &["--delete-delay"], no_prep);
        }
        #[test]
        fn delete_after() {
            check($way, &["--delete-after", "--exclude=*.o"], no_prep);
        }
        #[test]
        fn max_delete() {
            check($way, &["--delete", "--max-delete=2"], no_prep);
        }
        #[test]
        fn delete_excluded_force_ignore_errors() {
            check(
                $way,
                &[
                    "--delete-excluded",
                    "--force",
                    "--ignore-errors",
                    "--exclude=*.log",
                ],
                no_prep,
            );
        }
    };
}

/// Stock rsync pushing to `oxsync --daemon`.
mod rsync_push {
    option_tests!(super::Way::RsyncPush);
}

/// Stock rsync pulling from `oxsync --daemon`.
mod rsync_pull {
    option_tests!(super::Way::RsyncPull);
}

/// oxsync pushing to `rsync --daemon`.
mod ox_push {
    option_tests!(super::Way::OxPush);
}

/// oxsync pulling from `rsync --daemon`.
mod ox_pull {
    option_tests!(super::Way::OxPull);
}
