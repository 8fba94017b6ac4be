//! The sender lists directories ahead of its walk on a second thread
//! (engine flist/ahead.rs): with incremental recursion the next siblings
//! of a directory without subdirectories, without it two of every three.
//! The list is the same as stock rsync's either way (checked on the
//! itemized dry run), and the listing is shared: more than one thread
//! reads directories (checked with strace -ff).
use super::util::{itemize_lines, oxsync_bin, put, rsync_bin, run, Run, Scratch};
use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

/// With and without incremental recursion.
const MODES: [&[&str]; 2] = [&[], &["--no-inc-recursive"]];

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

/// `oxsync -ai --dry-run ARGS src/ dst/` under `strace -ff -e
/// trace=CALLS`: its run, and each thread's trace lines (by trace file).
fn traced(
    s: &Scratch,
    name: &str,
    calls: &str,
    args: &[&str],
) -> (Run, BTreeMap<String, Vec<String>>) {
    let dir = s.path(name);
    fs::create_dir_all(&dir).expect("mkdir");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-ff", "-qq", "-e", &format!("trace={calls}"), "-o"])
        .arg(dir.join("t"))
        .arg(oxsync_bin())
        .args(["-ai", "--dry-run"])
        .args(args)
        .arg(format!("{}/", s.path("src").display()))
        .arg(format!("{}/", s.path("dst").display()));
    let r = run(&mut cmd, &s.logs());
    r.assert_code(0);
    let mut by = BTreeMap::new();
    for e in fs::read_dir(&dir).expect("read trace dir") {
        let e = e.expect("entry");
        let text = fs::read_to_string(e.path()).expect("read trace");
        let lines = text.lines().map(str::to_string).collect();
        by.insert(e.file_name().to_string_lossy().into_owned(), lines);
    }
    (r, by)
}

#[test]
fn directories_listed_ahead_give_rsyncs_list() {
    let s = Scratch::new();
    tree(&s);
    let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    for (m, extra) in MODES.iter().enumerate() {
        let mut theirs = Command::new(rsync_bin());
        theirs
            .args(["-ai", "--dry-run"])
            .args(*extra)
            .arg(format!("{}/", s.path("src").display()))
            .arg(format!("{}/", s.path("dst").display()));
        let theirs = run(&mut theirs, &s.logs());
        theirs.assert_code(0);
        let (ours, lines) = traced(&s, &format!("trace{m}"), "getdents64", extra);
        assert_eq!(
            itemize_lines(&ours.stdout),
            itemize_lines(&theirs.stdout),
            "{extra:?}"
        );
        // Per thread: its getdents64 calls.
        let by: BTreeMap<&String, usize> = lines
            .iter()
            .map(|(t, l)| (t, l.iter().filter(|l| l.starts_with("getdents64(")).count()))
            .collect();
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
    for (m, extra) in MODES.iter().enumerate() {
        let mut args = vec!["--exclude=d05/", "--exclude=/a/d07/"];
        args.extend_from_slice(extra);
        let (ours, lines) = traced(&s, &format!("ex{m}"), "openat,openat2", &args);
        let listed = itemize_lines(&ours.stdout);
        assert!(listed.iter().any(|l| l.contains("a/d06/")), "{listed:?}");
        assert!(listed.iter().any(|l| l.contains("b/d07/")), "{listed:?}");
        let opened: Vec<&String> = lines
            .values()
            .flatten()
            .filter(|l| l.contains("/d05") || l.contains("a/d07"))
            .collect();
        assert!(opened.is_empty(), "{extra:?}: {opened:?}");
    }
}
