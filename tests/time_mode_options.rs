//! Time, mode and directory options end to end (-O, -J, --chmod, -E, -d,
//! --list-only), in five directions (local copy, oxsync client
//! pushing/pulling against stock `rsync --server`, stock rsync
//! pushing/pulling against `oxsync --server`) and against stock rsync alone
//! on an identically prepared destination: destination trees (with
//! directory and symlink mtimes), sorted itemize lines and exit codes must
//! agree.
use crate::pair::{self, Pair};
use crate::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Base mtime of the destination's own entries.
const T_DST: i64 = T0 + 100_000;
/// Mtimes after this were set by the system during the run.
const T_RECENT: i64 = T_DST + 1_000_000;

fn link(root: &Path, rel: &str, target: &str, mtime: i64) {
    let p = root.join(rel);
    symlink(target, &p).expect("symlink");
    let ok = Command::new("touch")
        .arg("-h")
        .arg("-d")
        .arg(format!("@{mtime}"))
        .arg(&p)
        .status()
        .expect("touch -h");
    assert!(ok.success());
}

fn make_src(src: &Path) {
    let t = T0 + 10;
    put_mode(src, "plain.txt", b"plain\n", 0o644, t);
    put_mode(src, "exec.sh", b"#!/bin/sh\n", 0o755, t);
    put_mode(src, "private.txt", b"private\n", 0o600, t);
    put_mode(src, "lost_x.sh", b"lost x\n", 0o644, t);
    put_mode(src, "gain_x.sh", b"gain x\n", 0o750, t);
    put_mode(src, "same.txt", b"same\n", 0o644, t);
    put_mode(src, "sub/a.txt", b"sub a\n", 0o640, t);
    put_mode(src, "sub/run", b"run\n", 0o711, t);
    put_mode(src, "sub/deep/d.txt", b"deep\n", 0o644, t);
    put_mode(src, "empty_dir/.keep", b"", 0o644, t);
    fs::remove_file(src.join("empty_dir/.keep")).expect("rm");
    link(src, "link", "plain.txt", t + 5);
    link(src, "sub/link2", "a.txt", t + 6);
    link(src, "same_link", "same.txt", t + 7);
    fix_dirs(src, T0 + 900);
}

fn make_dst(dst: &Path) {
    let t = T0 + 10;
    put_mode(dst, "lost_x.sh", b"lost x\n", 0o755, t);
    put_mode(dst, "gain_x.sh", b"gain x\n", 0o640, t);
    put_mode(dst, "same.txt", b"same\n", 0o600, t);
    put_mode(dst, "sub/a.txt", b"old a\n", 0o600, t - 50);
    link(dst, "same_link", "same.txt", t + 70);
    fix_dirs(dst, T_DST + 900);
}

type Seen = (char, u32, i64, u64, u64, Option<PathBuf>);

/// The tree with directory and symlink mtimes (clamped: times the system
/// set during the run compare equal).
fn tree(root: &Path) -> BTreeMap<PathBuf, Seen> {
    snapshot(root)
        .into_iter()
        .map(|(p, s)| {
            let mtime = if s.kind == 'l' {
                fs::symlink_metadata(root.join(&p)).expect("lstat").mtime()
            } else {
                s.mtime
            };
            let mtime = mtime.min(T_RECENT);
            (p, (s.kind, s.perm, mtime, s.size, s.digest, s.link))
        })
        .collect()
}

/// Runs `args` on `src_arg` in direction `dir` and against the stock-rsync
/// reference; compares exit codes, itemize lines (or the whole output for
/// a listing) and trees. Returns stock rsync's itemize lines.
fn check(dir: Dir, args: &[&str], src_arg: &str, listing: bool) -> Vec<String> {
    let c = Pair::new(dir, make_src, |_, d| make_dst(d));
    let ours = run(
        &mut c.command_src(false, args, src_arg, listing),
        &c.scratch.logs(),
    );
    let theirs = run(
        &mut c.command_src(true, args, src_arg, listing),
        &c.scratch.logs(),
    );
    let show = |what: &str| show_runs(&format!("{dir:?} {args:?}"), what, &ours, &theirs);
    assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
    if listing {
        let sorted = |s: &str| {
            let mut v: Vec<String> = s.lines().map(str::to_string).collect();
            v.sort();
            v
        };
        assert_eq!(
            sorted(&ours.stdout),
            sorted(&theirs.stdout),
            "{}",
            show("listings differ")
        );
        return sorted(&theirs.stdout);
    }
    let label = format!("{dir:?} {args:?}");
    assert_runs_agree(&label, &ours, &theirs);
    c.assert_trees(&label, (&ours, &theirs), tree);
    theirs.itemized()
}

fn check_all(args: &[&str]) -> Vec<String> {
    pair::check_all(|dir| check(dir, args, "", false))
}

#[test]
fn omit_dir_times() {
    check_all(&["-ai"]);
    check_all(&["-aiO"]);
    check_all(&["-ai", "--omit-dir-times"]);
    check_all(&["-aiO", "--no-O"]);
    check_all(&["-aiO", "--no-omit-dir-times", "-n"]);
}

#[test]
fn omit_link_times() {
    check_all(&["-aiJ"]);
    check_all(&["-ai", "--omit-link-times", "-O"]);
    check_all(&["-aiJ", "--no-J"]);
    check_all(&["-ai", "-J", "--no-omit-link-times"]);
}

#[test]
fn chmod() {
    check_all(&["-ai", "--chmod=go-rwx"]);
    check_all(&["-ai", "--chmod=Du+w,Fa-x", "--chmod=o+r"]);
    check_all(&["-ai", "--chmod=D750,F640"]);
    check_all(&["-rlti", "--chmod=a+X"]);
    check_all(&["-ai", "--chmod=u=rwX,g=rX,o="]);
    // No who: the umask applies.
    check_all(&["-ai", "--chmod=D+w,F+x,o-x"]);
}

#[test]
fn chmod_invalid() {
    for dir in ALL {
        check(dir, &["-ai", "--chmod=q+z"], "", false);
    }
}

#[test]
fn executability() {
    check_all(&["-rltiE"]);
    check_all(&["-rlti", "--executability"]);
    check_all(&["-aiE"]);
    check_all(&["-rltiE", "-n"]);
    check_all(&["-rltiE", "--chmod=a-x"]);
}

fn check_src(args: &[&str], src_arg: &str) {
    for dir in ALL {
        check(dir, args, src_arg, false);
    }
}

#[test]
fn dirs() {
    check_all(&["-dti"]);
    check_all(&["-dlptgoDi"]);
    check_all(&["-ai", "--no-r", "--dirs"]);
    check_all(&["-ai", "-d"]);
    check_all(&["-dti", "--no-d"]);
    check_src(&["-dti"], "sub");
    check_src(&["-dti"], "sub/.");
    check_src(&["-ltpi", "--no-dirs"], "sub");
    check_src(&["-dtin"], "sub/");
}
