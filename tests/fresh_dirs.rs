//! Files in a directory the receiving side made in this run are not
//! looked for in the destination: nothing was there when it was made,
//! and only the transfer's own requests put anything there
//! (`generator/fresh.rs`). Files in a directory that was already there
//! still are, so an existing file is updated and a new one added; hard
//! links inside new directories are made as links. Checked on the system
//! calls (strace -ff: the lookups of the new names that failed) and on
//! the tree that arrived, locally and pushed to a remote-shell server,
//! with and without incremental recursion, into an existing destination
//! and into one the run creates.
use super::util::{assert_same_tree, fix_dirs, put_mode, run, trace_lines, Scratch, Way};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// `old/` (also in the destination, with an older `a.txt`) and `new/`
/// (only in the source): `fresh-*` files, one in a subdirectory, and two
/// hard links `link-a.txt` and `link-b.txt` (the follower, made once its
/// leader is in place, may be looked for: not checked).
fn trees(src: &Path, dst: Option<&Path>) {
    put_mode(src, "old/a.txt", b"new contents", 0o644, 1_600_000_200);
    put_mode(src, "old/added.txt", b"added", 0o640, 1_600_000_300);
    put_mode(src, "new/fresh-1.txt", b"one", 0o600, 1_600_000_400);
    put_mode(src, "new/sub/fresh-2.txt", b"two", 0o644, 1_600_000_500);
    put_mode(src, "new/link-a.txt", b"linked", 0o644, 1_600_000_600);
    fs::hard_link(src.join("new/link-a.txt"), src.join("new/link-b.txt")).expect("link");
    fix_dirs(src, 1_600_000_000);
    if let Some(dst) = dst {
        put_mode(dst, "old/a.txt", b"old", 0o644, 1_500_000_000);
        put_mode(dst, "old/extra.txt", b"kept", 0o644, 1_500_000_000);
    }
}

/// The failed lookups (ENOENT) of each name the traced run made, from
/// every thread's and process's trace file `prefix.PID`.
fn failed_lookups(prefix: &Path) -> Vec<String> {
    trace_lines(prefix)
        .iter()
        .filter(|l| l.contains("ENOENT"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_string))
        .collect()
}

fn check(way: Way, inc: bool, existing: bool) {
    let s = Scratch::new();
    let src = s.path("src");
    let dst = s.path("dst");
    trees(&src, existing.then_some(dst.as_path()));
    fs::create_dir_all(s.path("trace")).expect("mkdir");
    let prefix = s.path("trace/t");
    let mut opts = vec!["-aH"];
    if !inc {
        opts.push("--no-inc-recursive");
    }
    let cmd = way.command(
        &s,
        &opts,
        &[format!("{}/", src.display())],
        &format!("{}/", dst.display()),
    );
    let mut traced = Command::new("strace");
    traced
        .args(["-ff", "-qq", "-e", "trace=newfstatat,statx,fstatat64", "-o"])
        .arg(&prefix)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    let what = format!("{way:?} inc={inc} existing={existing}");
    run(&mut traced, &s.logs()).assert_code(0);

    assert_same_tree(&src.join("new"), &dst.join("new"));
    let ino = |p: &str| fs::metadata(dst.join(p)).expect(p).ino();
    assert_eq!(ino("new/link-a.txt"), ino("new/link-b.txt"), "{what}");
    assert_eq!(fs::read(dst.join("old/a.txt")).expect("a"), b"new contents");
    assert_eq!(
        fs::read(dst.join("old/added.txt")).expect("added"),
        b"added"
    );
    assert_eq!(
        fs::read(dst.join("old/extra.txt")).is_ok(),
        existing,
        "{what}"
    );

    let failed = failed_lookups(&prefix);
    let fresh: Vec<_> = failed.iter().filter(|n| n.contains("fresh-")).collect();
    assert!(fresh.is_empty(), "{what}: looked for {fresh:?}");
    // In a directory that was there, a new file is still looked for.
    assert_eq!(
        failed.iter().any(|n| n.ends_with("added.txt")),
        existing,
        "{what}: {failed:?}"
    );
}

#[test]
fn files_in_new_directories_are_not_looked_for() {
    for way in [Way::Local, Way::Push] {
        for inc in [true, false] {
            for existing in [true, false] {
                check(way, inc, existing);
            }
        }
    }
}
