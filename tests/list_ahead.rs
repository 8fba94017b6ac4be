//! The sender lists directories ahead of its walk on a second thread
//! (engine flist/ahead.rs): with incremental recursion the next siblings
//! of a directory without subdirectories, without it two of every three.
//! The list is the same as stock rsync's either way (checked on the
//! itemized dry run), and the listing is shared: more than one thread
//! reads directories (checked with strace -ff).
use super::util::{itemize_lines, oxsync_bin, put, rsync_bin, run, Scratch};
use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

/// 40 directories of 12 files below two levels; two of them hold 600
/// (more than are stat'ed ahead: the walk stats the rest).
fn tree(s: &Scratch) {
    for top in ["a", "b"] {
        for d in 0..20 {
            let files = if top == "b" && d >= 17 && d != 18 {
                600
            } else {
                12
            };
            for f in 0..files {
                let rel = format!("src/{top}/d{d:02}/f{f:03}");
                put(s.root(), &rel, rel.as_bytes(), 1_600_000_000);
            }
        }
    }
}

/// Per thread of a `strace -ff` trace: its getdents64 calls.
fn getdents_by_thread(prefix: &std::path::Path) -> BTreeMap<String, usize> {
    let dir = prefix.parent().expect("dir");
    let mut by = BTreeMap::new();
    for e in fs::read_dir(dir).expect("read trace dir") {
        let e = e.expect("entry");
        let text = fs::read_to_string(e.path()).expect("read trace");
        let n = text
            .lines()
            .filter(|l| l.starts_with("getdents64("))
            .count();
        by.insert(e.file_name().to_string_lossy().into_owned(), n);
    }
    by
}

#[test]
fn directories_listed_ahead_give_rsyncs_list() {
    let s = Scratch::new();
    tree(&s);
    let src = format!("{}/", s.path("src").display());
    let dst = format!("{}/", s.path("dst").display());
    let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    for extra in [&[][..], &["--no-inc-recursive"][..]] {
        let mut theirs = Command::new(rsync_bin());
        theirs
            .args(["-ai", "--dry-run"])
            .args(extra)
            .args([&src, &dst]);
        let theirs = run(&mut theirs, &s.logs());
        theirs.assert_code(0);
        let trace = s.path(&format!("trace{}/t", extra.len()));
        fs::create_dir_all(trace.parent().expect("dir")).expect("mkdir");
        let mut ours = Command::new("strace");
        ours.args(["-f", "-ff", "-qq", "-e", "trace=getdents64", "-o"])
            .arg(&trace)
            .arg(oxsync_bin())
            .args(["-ai", "--dry-run"])
            .args(extra)
            .args([&src, &dst]);
        let ours = run(&mut ours, &s.logs());
        ours.assert_code(0);
        assert_eq!(
            itemize_lines(&ours.stdout),
            itemize_lines(&theirs.stdout),
            "{extra:?}"
        );
        let by = getdents_by_thread(&trace);
        let readers = by.values().filter(|&&n| n > 0).count();
        if two_cores {
            // 43 directories, each read to its end (two calls at least).
            assert!(readers >= 2, "{extra:?}: {by:?}");
            let most = by.values().max().copied().unwrap_or(0);
            let all: usize = by.values().sum();
            assert!(most < all, "{extra:?}: {by:?}");
        }
    }
}

/// A directory the rules leave out is not read ahead either (a user
/// excludes a directory so that nothing touches it: a stale mount, a
/// slow disk): no thread opens it, with or without incremental
/// recursion.
#[test]
fn excluded_directories_are_not_listed_ahead() {
    let s = Scratch::new();
    tree(&s);
    let src = format!("{}/", s.path("src").display());
    let dst = format!("{}/", s.path("dst").display());
    for extra in [&[][..], &["--no-inc-recursive"][..]] {
        let trace = s.path(&format!("ex{}/t", extra.len()));
        fs::create_dir_all(trace.parent().expect("dir")).expect("mkdir");
        let mut ours = Command::new("strace");
        ours.args(["-f", "-ff", "-qq", "-e", "trace=openat,openat2", "-o"])
            .arg(&trace)
            .arg(oxsync_bin())
            .args(["-ai", "--dry-run", "--exclude=d05/", "--exclude=/a/d07/"])
            .args(extra)
            .args([&src, &dst]);
        let ours = run(&mut ours, &s.logs());
        ours.assert_code(0);
        let listed = itemize_lines(&ours.stdout);
        assert!(listed.iter().any(|l| l.contains("a/d06/")), "{listed:?}");
        assert!(listed.iter().any(|l| l.contains("b/d07/")), "{listed:?}");
        let mut opened = Vec::new();
        for e in fs::read_dir(trace.parent().expect("dir")).expect("read") {
            let text = fs::read_to_string(e.expect("entry").path()).expect("trace");
            opened.extend(
                text.lines()
                    .filter(|l| l.contains("/d05") || l.contains("a/d07"))
                    .map(str::to_string),
            );
        }
        assert!(opened.is_empty(), "{extra:?}: {opened:?}");
    }
}
