//! The skip, deletion and listing options end to end, each in five
//! directions (local copy, oxsync client pushing/pulling against stock
//! `rsync --server`, stock rsync pushing/pulling against `oxsync --server`)
//! and against stock rsync alone on an identically prepared destination:
//! destination trees, sorted itemize lines and exit codes must agree.
use crate::pair::{self, clamped_tree, Pair, Seen};
use crate::util::*;
use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// Base mtime of the destination's own entries.
const T_DST: i64 = T0 + 100_000;
/// Directory mtimes after this were set by the system during the run.
const T_RECENT: i64 = T_DST + 1_000_000;

/// Source: new files and directories, files of several sizes, files whose
/// destination copies are older, newer, equal or within a second, a file
/// a symlink.
fn make_src(src: &Path) {
    let t = T0 + 10;
    put(src, "new.txt", b"brand new\n", t);
    put(src, "newdir/inner.txt", b"inner\n", t);
    put(src, "newdir/deeper/x.txt", b"x\n", t);
    put(src, "same.txt", b"same content\n", t);
    put(src, "older_in_dst.txt", b"source version, longer\n", t);
    put(src, "newer_in_dst.txt", b"source version\n", t);
    put(src, "same_time_diff.txt", b"source, same time\n", t);
    put(src, "tiny.bin", &[7u8; 10], t);
    put(src, "mid.bin", &[8u8; 1000], t);
    put(src, "big.bin", &[9u8; 5000], t);
    put(src, "kb.bin", &[6u8; 1024], t);
    put(src, "window_ahead.txt", b"same bytes\n", t);
    put(src, "window_behind.txt", b"same bytes too\n", t);
    put(src, "window_far.txt", b"same bytes three\n", t);
    put(src, "sub/a.txt", b"sub a, new version\n", t);
    put(src, "sub/b.txt", b"sub b\n", t);
    put(src, "sub/new_in_sub.bin", &[1u8; 3000], t);
    symlink("same.txt", src.join("link")).expect("symlink");
    symlink("new.txt", src.join("sub/link2")).expect("symlink");
    fix_dirs(src, T0 + 900);
}

/// Destination: copies of some source files (older, newer, identical,
/// off by a second or two),
/// extra files (for the deletion options).
fn make_dst(dst: &Path) {
    let t = T0 + 10;
    put(dst, "same.txt", b"same content\n", t);
    put(dst, "older_in_dst.txt", b"old\n", t - 100);
    put(dst, "newer_in_dst.txt", b"destination version\n", t + 100);
    put(dst, "same_time_diff.txt", b"dst\n", t);
    put(dst, "mid.bin", &[0u8; 999], t - 5);
    put(dst, "big.bin", &[0u8; 10], t - 5);
    put(dst, "window_ahead.txt", b"same bytes\n", t + 1);
    put(dst, "window_behind.txt", b"same bytes too\n", t - 2);
    put(dst, "window_far.txt", b"same bytes three\n", t + 3);
    put(dst, "sub/a.txt", b"sub a\n", t - 50);
    put(dst, "sub/extra.txt", b"extra\n", t);
    put(dst, "extra_top.txt", b"extra top\n", t);
    put(dst, "extra_dir/e1.txt", b"e1\n", t);
    put(dst, "extra_dir/deep/e2.txt", b"e2\n", t);
    fix_dirs(dst, T_DST + 900);
}

/// Changes to the standard trees for one test: `(src, dst)`, called once
/// per destination.
type Prep = fn(&Path, &Path);

fn tree(root: &Path) -> BTreeMap<PathBuf, Seen> {
    clamped_tree(root, T_RECENT)
}

/// Runs `-ai ARGS` in direction `dir` and against the stock-rsync
/// reference; compares exit codes, itemize lines and trees. Returns stock
/// rsync's itemize lines.
fn check(dir: Dir, args: &[&str]) -> Vec<String> {
    check_prep(dir, args, |_, _| {})
}

fn check_prep(dir: Dir, args: &[&str], prep: Prep) -> Vec<String> {
    let pair = Pair::new(dir, make_src, |src, d| {
        make_dst(d);
        prep(src, d);
    })
    .prefix(&["-ai"]);
    pair.check(args, tree).1.itemized()
}

fn check_all(args: &[&str]) -> Vec<String> {
    pair::check_all(|dir| check(dir, args))
}

fn has(lines: &[String], name: &str) -> bool {
    lines.iter().any(|l| l.ends_with(&format!(" {name}")))
}

#[test]
fn update() {
    let lines = check_all(&["-u"]);
    assert!(!has(&lines, "newer_in_dst.txt") && has(&lines, "older_in_dst.txt"));
    check_all(&["--update", "--modify-window=2"]);
}

#[test]
fn existing() {
    let lines = check_all(&["--existing"]);
    assert!(!has(&lines, "new.txt") && has(&lines, "older_in_dst.txt"));
    check_all(&["--ignore-non-existing", "-u"]);
}

#[test]
fn ignore_existing() {
    let lines = check_all(&["--ignore-existing"]);
    assert!(has(&lines, "new.txt") && !has(&lines, "older_in_dst.txt"));
    check_all(&["--existing", "--ignore-existing"]);
}

#[test]
fn max_min_size() {
    let lines = check_all(&["--max-size=1k"]);
    assert!(has(&lines, "kb.bin") && !has(&lines, "big.bin"));
    let lines = check_all(&["--min-size=1000"]);
    assert!(has(&lines, "mid.bin") && !has(&lines, "tiny.bin"));
    check_all(&["--max-size=4.9K", "--min-size=1kb+1"]);
    check_all(&["--max-size=1K-1"]);
}

#[test]
fn modify_window() {
    let lines = check_all(&["--modify-window=2"]);
    assert!(!has(&lines, "window_behind.txt") && has(&lines, "window_far.txt"));
    check_all(&["-@1"]);
}

#[test]
fn delete_timing() {
    for when in [
        "--delete-before",
        "--delete-after",
        "--delete-delay",
        "--delete-during",
    ] {
        let lines = check_all(&[when]);
        assert!(has(&lines, "extra_top.txt") && has(&lines, "extra_dir/deep/"));
        check_all(&[when, "-u", "--max-size=2k"]);
        check_all(&[when, "-n"]);
    }
}

#[test]
fn max_delete() {
    for args in [
        &["--delete", "--max-delete=1"][..],
        &["--delete-after", "--max-delete=0"],
        &["--delete-delay", "--max-delete=3"],
        &["--delete", "--max-delete=100"],
    ] {
        check_all(args);
    }
}

/// A directory with contents where the source has a file.
fn dir_in_the_way(src: &Path, dst: &Path) {
    put(src, "typechange", b"a file here\n", T0 + 10);
    put(dst, "typechange/inside/deep.txt", b"in the way\n", T0 + 10);
    put(dst, "typechange/inside.txt", b"in the way\n", T0 + 10);
    fix_dirs(src, T0 + 900);
    fix_dirs(dst, T_DST + 900);
}

#[test]
fn force() {
    for args in [&[][..], &["--force"], &["--delete"], &["--no-force"]] {
        for dir in ALL {
            check_prep(dir, args, dir_in_the_way);
        }
    }
}

#[test]
fn ignore_errors() {
    for args in [
        &["--delete", "--ignore-errors"][..],
        &["--delete-after", "--ignore-errors", "--no-ignore-errors"],
    ] {
        check_all(args);
    }
}
