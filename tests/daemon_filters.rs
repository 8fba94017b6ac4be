//! Filter rules through the daemon transport: each rule mix is pushed and
//! pulled between stock rsync and `oxsync --daemon`, and between oxsync and
//! `rsync --daemon`. The same transfer done by stock rsync against stock
//! `rsync --daemon` into a second, identically prepared destination is the
//! reference: exit codes, sorted itemize lines (with `*deleting`) and the
//! destination trees must be equal.
//!
//! The tree builder and the comparison are copied from `filters.rs`.
use crate::daemon::{start, url, Daemon};
use crate::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Base mtime of the destination's extra entries.
const T_DST: i64 = T0 + 100_000;

/// Writes a small file whose content is derived from its path and `salt`.
fn put(root: &Path, rel: &str, salt: &str, mtime: i64) {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).expect("mkdir parents");
    }
    let data = format!("{salt}:{rel}\n");
    write_file(&p, data.as_bytes(), 0o644, mtime);
}

/// Writes a file with exactly `text` as content.
fn put_text(root: &Path, rel: &str, text: &str, mtime: i64) {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).expect("mkdir parents");
    }
    write_file(&p, text.as_bytes(), 0o644, mtime);
}

/// Sets the permissions (0755) and an explicit mtime on every directory
/// under `root` (and `root`), so that both destinations start identical.
fn fix_dirs(root: &Path, mtime: i64) {
    let mut dirs = vec![root.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        let d = dirs[i].clone();
        for e in fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("dir entry");
            if e.file_type().expect("file type").is_dir() {
                dirs.push(e.path());
            }
        }
        i += 1;
    }
    for d in dirs.iter().rev() {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).expect("chmod dir");
        set_mtime(d, mtime);
    }
}

/// The source tree for the filter tests (all small files).
fn make_filter_tree(src: &Path) {
    fs::create_dir(src).expect("mkdir src");
    let mut t = T0;
    let mut f = |rel: &str| {
        t += 1;
        put(src, rel, "src", t);
    };
    // Top level: extensions, CVS default-ignore names, anchoring targets.
    for rel in [
        "top-anchored",
        "a.c",
        "b.c",
        "c.c",
        "abc.c",
        "zeta.c",
        "x.o",
        "core",
        ".#foo",
        "foo~",
        "notes.txt",
        "keep.txt",
        "app.log",
        "other.log",
        "data.tmp",
        "readme.md",
        "two.md",
        "lib.h",
    ] {
        f(rel);
    }
    // d1: plain rules in its .rsync-filter, inherited by everything below.
    for rel in [
        "d1/top-anchored",
        "d1/keep.txt",
        "d1/a.txt",
        "d1/one.c",
        "d1/one.o",
        "d1/bravo.c",
        "d1/trace.log",
        "d1/core",
        "d1/sub/s.c",
        "d1/sub/s.txt",
        "d1/sub/deeper/t.c",
    ] {
        f(rel);
    }
    // d1/d2: a dir-merge whose rules are inherited by d1/d2/d3, which
    // adds its own; a .cvsignore; a *file* named `sub`.
    for rel in [
        "d1/d2/b.txt",
        "d1/d2/keep.txt",
        "d1/d2/two.c",
        "d1/d2/two.md",
        "d1/d2/sub",
        "d1/d2/ignored_by_cvs",
        "d1/d2/foo~",
        "d1/d2/lib.o",
        "d1/d2/d3/c.txt",
        "d1/d2/d3/three.c",
        "d1/d2/d3/three.h",
        "d1/d2/d3/zip.h",
        "d1/d2/d3/three.md",
        "d1/d2/d3/x.o",
        "d1/d2/d3/cfile.c",
        "d1/d2/d3/deep.log",
        "d1/d2/d3/ignored_by_cvs",
        "d1/d2/d3/keep.txt",
    ] {
        f(rel);
    }
    // d4: a dir-merge with the `n` (no-inherit) modifier.
    for rel in [
        "d4/x.dat",
        "d4/x.c",
        "d4/sub4/y.dat",
        "d4/sub4/y.c",
        "d4/sub4/zz.c",
        "d4/sub4/sub5/z.dat",
        "d4/sub4/sub5/zz.c",
        "d4/sub4/sub5/w.c",
    ] {
        f(rel);
    }
    let t = T0 + 500;
    put_text(src, ".rsync-filter", "- *.tmp\n", t);
    put_text(src, "d1/.rsync-filter", "+ keep.txt\n- *.txt\n- sub/\n", t);
    put_text(src, "d1/d2/.rsync-filter", ": .inner-rules\n", t);
    put_text(src, "d1/d2/.inner-rules", "- *.md\n", t);
    put_text(src, "d1/d2/d3/.inner-rules", "- *.h\n", t);
    put_text(src, "d1/d2/.cvsignore", "*.md ignored_by_cvs\n", t);
    put_text(src, "d4/.rsync-filter", ":n .local-only\n", t);
    put_text(src, "d4/.local-only", "- *.dat\n", t);
    put_text(src, "d4/sub4/sub5/.local-only", "- zz*\n", t);
    fix_dirs(src, T0 + 900);
}

/// Fills a destination with extra entries (some matching excluded or
/// protected patterns), stale copies of source files, and copies of some
/// source files that are already up to date.
fn prepare_dst(src: &Path, dst: &Path) {
    fs::create_dir(dst).expect("mkdir dst");
    let mut t = T_DST;
    let mut f = |rel: &str| {
        t += 1;
        put(dst, rel, "dst", t);
    };
    for rel in [
        "extra.txt",
        "extra.o",
        "extra.c",
        "extra.md",
        "gone.log",
        "app.log",
        "core",
        "foo~",
        "stale.tmp",
        "aaa.c",
        "d1/old.o",
        "d1/stale.c",
        "d1/old.log",
        "d1/old.txt",
        "d1/sub/gone.c",
        "d1/sub/kept.txt",
        "d1/d2/old.md",
        "d1/d2/old.keep",
        "d1/d2/old.o",
        "d1/d2/d3/junk.h",
        "d1/d2/d3/junk.md",
        "d1/d2/d3/bcd.c",
        "d4/x.dat",
        "d4/sub4/old.dat",
        "d4/sub4/sub5/zz-old.c",
        "gone_dir/f.c",
        "gone_dir/inner/g.o",
        "gone_dir/inner/h.txt",
    ] {
        f(rel);
    }
    // A destination-only per-directory filter file (read by the receiver
    // under -F before the source's copy replaces it).
    put_text(dst, "d1/d2/.rsync-filter", "P *.keep\n", T_DST + 500);
    // Up-to-date copies (same bytes, mode and mtime as the source).
    for rel in [".rsync-filter", "d1/.rsync-filter", "keep.txt", "d1/one.c"] {
        fs::copy(src.join(rel), dst.join(rel)).expect("copy");
        let mtime = {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(src.join(rel)).expect("stat").mtime()
        };
        set_mtime(&dst.join(rel), mtime);
    }
    fix_dirs(dst, T_DST + 900);
}

/// mtimes after this are "now": set by the system when a transfer removed
/// entries from a directory that it did not otherwise update (timing
/// dependent, so only compared as "recent").
const T_RECENT: i64 = T_DST + 1_000_000;

/// What [`tree`] records of an entry: type, permission bits, mtime, size,
/// content digest, symlink target.
type Seen = (char, u32, i64, u64, u64, Option<PathBuf>);

/// Names, types, contents, symlink targets, permission bits and mtimes
/// (whole seconds; any recent mtime counts as equal) of every entry under
/// `root`.
fn tree(root: &Path) -> BTreeMap<PathBuf, Seen> {
    snapshot(root)
        .into_iter()
        .map(|(p, s)| {
            let mtime = if s.mtime > T_RECENT {
                T_RECENT
            } else {
                s.mtime
            };
            (p, (s.kind, s.perm, mtime, s.size, s.digest, s.link))
        })
        .collect()
}

/// Describes how two trees differ (empty when they are equal).
fn tree_diff(ours: &Path, theirs: &Path) -> Vec<String> {
    let a = tree(ours);
    let b = tree(theirs);
    let mut out = Vec::new();
    for (p, sa) in &a {
        match b.get(p) {
            None => out.push(format!("only in oxsync's destination: {}", p.display())),
            Some(sb) if sa != sb => out.push(format!("{}: {sa:?} vs {sb:?}", p.display())),
            Some(_) => {}
        }
    }
    for p in b.keys() {
        if !a.contains_key(p) {
            out.push(format!(
                "only in stock rsync's destination: {}",
                p.display()
            ));
        }
    }
    out
}

/// Which program is the client, which the daemon, and which way the data
/// flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// `rsync SRC/ rsync://oxsync-daemon/f/dst/`
    RsyncPush,
    /// `rsync rsync://oxsync-daemon/f/src/ DST/`
    RsyncPull,
    /// `oxsync SRC/ rsync://rsync-daemon/f/dst/`
    OxPush,
    /// `oxsync rsync://rsync-daemon/f/src/ DST/`
    OxPull,
}

impl Way {
    fn push(self) -> bool {
        matches!(self, Way::RsyncPush | Way::OxPush)
    }
}

/// The client command: `client -ai ARGS` from `src` to `dst` (the daemon
/// side of either is reached through module `f`, the scratch directory).
fn command(client: &Path, d: &Daemon, push: bool, args: &[&str], dst: &str) -> Command {
    let mut c = Command::new(client);
    c.arg("-ai").args(args);
    if push {
        c.arg("src/").arg(url(d, &format!("f/{dst}/")));
    } else {
        c.arg(url(d, "f/src/")).arg(format!("{dst}/"));
    }
    c
}

/// Runs rule mix `args` one way and against the stock-rsync reference, and
/// compares exit codes, itemize lines and trees.
fn check(way: Way, args: &[&str]) {
    let s = Scratch::new();
    let src = s.path("src");
    make_filter_tree(&src);
    let (dst, dst_ref) = (s.path("dst"), s.path("dst_ref"));
    prepare_dst(&src, &dst);
    prepare_dst(&src, &dst_ref);
    let modules = format!("[f]\npath = {}\nread only = no\n", s.root().display());
    let stock = start(&rsync_bin(), &modules);
    let (client, daemon) = match way {
        Way::RsyncPush | Way::RsyncPull => (rsync_bin(), start(&oxsync_bin(), &modules)),
        Way::OxPush | Way::OxPull => (oxsync_bin(), start(&rsync_bin(), &modules)),
    };
    let mut ours = command(&client, &daemon, way.push(), args, "dst");
    let mut theirs = command(&rsync_bin(), &stock, way.push(), args, "dst_ref");
    let ours = run(ours.current_dir(s.root()), &s.logs());
    let theirs = run(theirs.current_dir(s.root()), &s.logs());
    let show = |what: &str| {
        format!(
            "{what}\n--- ours: `{}` (exit {:?})\n{}\n{}\n--- stock rsync: `{}` (exit {:?})\n{}\n{}",
            ours.cmdline,
            ours.code,
            ours.stdout,
            ours.stderr,
            theirs.cmdline,
            theirs.code,
            theirs.stdout,
            theirs.stderr
        )
    };
    assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
    assert!(
        !theirs.itemized().is_empty(),
        "{}",
        show("stock rsync itemized nothing")
    );
    let (mine, refs) = (ours.itemized(), theirs.itemized());
    if mine != refs {
        let only = |a: &[String], b: &[String]| {
            a.iter()
                .filter(|l| !b.contains(l))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        };
        panic!(
            "{}",
            show(&format!(
                "itemize lines differ\nonly from oxsync:\n  {}\nonly from stock rsync:\n  {}",
                only(&mine, &refs),
                only(&refs, &mine)
            ))
        );
    }
    let diff = tree_diff(&dst, &dst_ref);
    assert!(
        diff.is_empty(),
        "{}",
        show(&format!(
            "destination trees differ:\n  {}",
            diff.join("\n  ")
        ))
    );
}

/// One `#[test]` per rule mix for one way.
macro_rules! mix_tests {
    ($way:expr) => {
        #[test]
        fn exclude_o_delete() {
            super::check($way, &["--exclude=*.o", "--delete"]);
        }
        #[test]
        fn f_delete() {
            super::check($way, &["-F", "--delete"]);
        }
        #[test]
        fn cvs_delete() {
            super::check($way, &["-C", "--delete"]);
        }
        #[test]
        fn delete_excluded() {
            super::check($way, &["--delete", "--delete-excluded", "--exclude=*.o"]);
        }
        #[test]
        fn protect_txt() {
            super::check($way, &["--delete", "-f", "P *.txt"]);
        }
    };
}

/// Stock rsync pushing to `oxsync --daemon`.
mod rsync_push {
    mix_tests!(super::Way::RsyncPush);
}

/// Stock rsync pulling from `oxsync --daemon`.
mod rsync_pull {
    mix_tests!(super::Way::RsyncPull);
}

/// oxsync pushing to `rsync --daemon`.
mod ox_push {
    mix_tests!(super::Way::OxPush);
}

/// oxsync pulling from `rsync --daemon`.
mod ox_pull {
    mix_tests!(super::Way::OxPull);
}
