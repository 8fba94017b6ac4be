//! Filter rules end to end: every rule mix below runs in five directions
//! (local copy, oxsync client pushing/pulling against `rsync --server`,
//! stock rsync pushing/pulling against `oxsync --server`). Each transfer is
//! also run with stock rsync alone into a second, identically prepared
//! destination; the two destination trees, the sorted itemize lines
//! (including `*deleting`) and the exit codes must be equal.
//!
//! The source tree has three levels of directories, `.rsync-filter` files
//! (plain rules, a `dir-merge` whose rules are inherited, and one with the
//! `n` no-inherit modifier), a `.cvsignore` and names on CVS's default
//! ignore list. The destination starts with extra files, some matching
//! excluded or protected patterns, and a destination-only `.rsync-filter`.
//!
//! [`pathological_patterns`] checks that patterns built to make a naive
//! matcher backtrack exponentially still finish.
use crate::pair::{clamped_tree, Pair, Seen};
use crate::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Placeholder in a rule mix for the path of the `--exclude-from` file.
const EXCLUDE_FROM: &str = "@EXCLUDE_FROM@";
/// Placeholder in a rule mix for the path of the `merge` file.
const MERGE: &str = "@MERGE@";

/// Contents of the `--exclude-from` file: comments, a blank line, plain
/// patterns, an anchored one, a directory one, and `+ `/`- ` prefixes.
const EXCLUDE_FROM_TEXT: &str = "\
# a comment line
; another comment line
*.o

/core
d1/d2/d3/
+ keep.txt
- *.txt
*.tmp
";

/// Contents of the file read by `--filter='merge FILE'`.
const MERGE_TEXT: &str = "\
# rules merged from a file
- *.o
+ keep.txt
- d1/*.txt
exclude *.tmp
P extra.txt
P /gone_dir/
H *.log
";

/// Base mtime of the destination's extra entries.
const T_DST: i64 = T0 + 100_000;

/// Writes a small file whose content is derived from its path and `salt`.
fn put_salted(root: &Path, rel: &str, salt: &str, mtime: i64) {
    put(root, rel, format!("{salt}:{rel}\n").as_bytes(), mtime);
}

/// The source tree for the filter tests (all small files).
pub(crate) fn make_filter_tree(src: &Path) {
    fs::create_dir(src).expect("mkdir src");
    let mut t = T0;
    let mut f = |rel: &str| {
        t += 1;
        put_salted(src, rel, "src", t);
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
    put(src, ".rsync-filter", "- *.tmp\n".as_bytes(), t);
    put(
        src,
        "d1/.rsync-filter",
        "+ keep.txt\n- *.txt\n- sub/\n".as_bytes(),
        t,
    );
    put(src, "d1/d2/.rsync-filter", ": .inner-rules\n".as_bytes(), t);
    put(src, "d1/d2/.inner-rules", "- *.md\n".as_bytes(), t);
    put(src, "d1/d2/d3/.inner-rules", "- *.h\n".as_bytes(), t);
    put(
        src,
        "d1/d2/.cvsignore",
        "*.md ignored_by_cvs\n".as_bytes(),
        t,
    );
    put(src, "d4/.rsync-filter", ":n .local-only\n".as_bytes(), t);
    put(src, "d4/.local-only", "- *.dat\n".as_bytes(), t);
    put(src, "d4/sub4/sub5/.local-only", "- zz*\n".as_bytes(), t);
    fix_dirs(src, T0 + 900);
}

/// Fills a destination with extra entries (some matching excluded or
/// protected patterns), stale copies of source files, and copies of some
/// source files that are already up to date.
pub(crate) fn prepare_dst(src: &Path, dst: &Path) {
    fs::create_dir(dst).expect("mkdir dst");
    let mut t = T_DST;
    let mut f = |rel: &str| {
        t += 1;
        put_salted(dst, rel, "dst", t);
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
    put(
        dst,
        "d1/d2/.rsync-filter",
        "P *.keep\n".as_bytes(),
        T_DST + 500,
    );
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

/// The filter tree, two prepared destinations, the exclude-from and
/// merge files; commands start `-ai`.
fn case(dir: Dir) -> Pair {
    let pair = Pair::empty(dir).prefix(&["-ai"]);
    make_filter_tree(&pair.src);
    prepare_dst(&pair.src, &pair.dst);
    prepare_dst(&pair.src, &pair.dst_ref);
    fs::write(pair.scratch.path("exclude-from.txt"), EXCLUDE_FROM_TEXT).expect("write");
    fs::write(pair.scratch.path("merge.rules"), MERGE_TEXT).expect("write");
    pair
}

/// `args` with the file placeholders replaced by real paths.
fn expand(pair: &Pair, args: &[&str]) -> Vec<String> {
    let ef = pair.scratch.path("exclude-from.txt");
    let merge = pair.scratch.path("merge.rules");
    args.iter()
        .map(|a| {
            a.replace(EXCLUDE_FROM, &ef.to_string_lossy())
                .replace(MERGE, &merge.to_string_lossy())
        })
        .collect()
}

/// mtimes after this are "now": set by the system when a transfer removed
/// entries from a directory that it did not otherwise update (timing
/// dependent, so only compared as "recent").
const T_RECENT: i64 = T_DST + 1_000_000;

/// Names, types, contents, symlink targets, permission bits and mtimes
/// (whole seconds; any recent mtime counts as equal) of every entry under
/// `root`.
fn tree(root: &Path) -> BTreeMap<PathBuf, Seen> {
    clamped_tree(root, T_RECENT)
}

/// Describes how two trees differ (empty when they are equal).
pub(crate) fn tree_diff(ours: &Path, theirs: &Path) -> Vec<String> {
    map_diff(&tree(ours), &tree(theirs))
}

/// Runs rule mix `args` in direction `dir` and against the stock-rsync
/// reference, and compares exit codes, itemize lines and trees.
fn check(dir: Dir, args: &[&str]) {
    let c = case(dir);
    let args = expand(&c, args);
    let label = format!("{dir:?} {args:?}");
    let (ours, theirs) = c.run_pair(
        &label,
        &mut c.command(false, &args),
        &mut c.command(true, &args),
    );
    // Guard against a vacuous comparison: the reference did something.
    assert!(
        !theirs.itemized().is_empty(),
        "{}",
        show_runs(&label, "stock rsync itemized nothing", &ours, &theirs)
    );
    c.assert_trees(&label, (&ours, &theirs), tree);
}

/// One `#[test]` per rule mix, for direction `$dir`; `$side` says whether
/// oxsync is the receiving side (`receiver`: it applies the receiver-side
/// rules, i.e. deletion and protection) or only sends (`sender`).
macro_rules! mix_tests {
    ($side:ident $dir:expr) => {
        mix_tests!(@each $side $dir;
            exclude_o => ["--exclude=*.o"],
            exclude_o_delete => ["--exclude=*.o", "--delete"],
            delete_excluded => ["--delete", "--delete-excluded", "--exclude=*.o"],
            f_delete => ["-F", "--delete"],
            ff_delete => ["-FF", "--delete"],
            cvs_delete => ["-C", "--delete"],
            only_c_files => [
                "--include=*/", "--include=*.c", "--exclude=*", "--delete",
            ],
            protect_txt => ["--delete", "-f", "P *.txt"],
            anchored_subtree => ["-f", "- /top-anchored", "-f", "+ d1/***", "-f", "- *"],
            exclude_from => ["--exclude-from=@EXCLUDE_FROM@", "--delete"],
            merge_file => ["--filter=merge @MERGE@", "--delete"],
            hide_show_risk_protect => [
                "-f", "S /app.log",
                "-f", "H *.log",
                "-f", "R d1/*.log",
                "-f", "P *.log",
                "--delete",
            ],
            hide_risk => ["-f", "H *.log", "-f", "R *.log", "--delete"],
            double_star => ["--exclude=/d1/**/three*", "--exclude=**/two.*", "--delete"],
            char_class => ["--exclude=[abc]*.c", "--exclude=*[!a-e].h", "--delete"],
        );
    };
    (@each $side:ident $dir:expr;
        $($name:ident => [$($arg:expr),* $(,)?]),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                super::check($dir, &[$($arg),*]);
            }
        )*
    };
}

/// (a) local copy.
mod local {
    mix_tests!(receiver super::Dir::Local);
}

/// (b) oxsync client pushing to `rsync --server`.
mod ox_push {
    mix_tests!(sender super::Dir::OxPush);
}

/// (c) oxsync client pulling from `rsync --server --sender`.
mod ox_pull {
    mix_tests!(receiver super::Dir::OxPull);
}

/// (d) stock rsync pushing to `oxsync --server`.
mod rsync_push {
    mix_tests!(receiver super::Dir::RsyncPush);
}

/// (e) stock rsync pulling from `oxsync --server --sender`.
mod rsync_pull {
    mix_tests!(sender super::Dir::RsyncPull);
}

/// Done-when 4: a deep `**` pattern and a 4000-character `*a*a…` pattern,
/// both built to make a naive backtracking matcher explode, over a tree of
/// long names that almost match, finish (within the harness timeout) with
/// exit 0 and the same result as stock rsync.
#[test]
fn pathological_patterns() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir(&src).expect("mkdir src");
    // Long names: runs of `a` without the final letter the long pattern
    // needs, and x…y… without z, nested twelve directories deep.
    let long_a = "a".repeat(240);
    let xy = format!("x{}y{}", "y".repeat(100), "q".repeat(100));
    let mut dir = src.clone();
    for depth in 0..12 {
        dir = dir.join(format!("{}{depth}", "d".repeat(60)));
        fs::create_dir(&dir).expect("mkdir deep");
        put_salted(&dir, &format!("{long_a}b"), "p", T0 + depth);
        put_salted(&dir, &xy, "p", T0 + depth);
        put_salted(
            &dir,
            &format!("x{}y{}z", "x".repeat(80), "y".repeat(80)),
            "p",
            T0,
        );
        put_salted(&dir, "plain.txt", "p", T0);
    }
    put_salted(&src, &long_a, "p", T0);
    fix_dirs(&src, T0 + 50);

    let deep = format!("--exclude={}x*y*z*", "**/".repeat(11));
    let long = format!("--exclude={}", "*a".repeat(2000));
    assert_eq!(long.len() - "--exclude=".len(), 4000);
    let args = ["-a", deep.as_str(), long.as_str()];
    let src_arg = format!("{}/", src.display());
    let dst = s.path("dst");
    let dst_ref = s.path("dst_ref");

    let ours = run(
        Command::new(oxsync_bin())
            .args(args)
            .arg(&src_arg)
            .arg(format!("{}/", dst.display())),
        &s.logs(),
    );
    ours.assert_code(0);
    let theirs = run(
        Command::new(rsync_bin())
            .args(args)
            .arg(&src_arg)
            .arg(format!("{}/", dst_ref.display())),
        &s.logs(),
    );
    theirs.assert_code(0);
    let diff = tree_diff(&dst, &dst_ref);
    assert!(
        diff.is_empty(),
        "destination trees differ:\n  {}",
        diff.join("\n  ")
    );
}

/// `--delete -F` of a directory the source lacks: the `.rsync-filter` in
/// that directory protects what it excludes, which stays with its
/// directory ("cannot delete non-empty directory"), as upstream's
/// delete_dir_contents() lists it through the directory's own merge
/// files. Locally and over a remote shell, each side oxsync or stock
/// rsync. (Before, oxsync deleted the whole directory.)
#[test]
fn a_merge_file_in_a_deleted_directory_protects_its_files() {
    for (client, server) in each_side() {
        let s = Scratch::new();
        put(&s.path("src"), "f", b"f\n", T0);
        put(&s.path("dst"), "zz/.rsync-filter", b"- keep*\n", T0);
        put(&s.path("dst"), "zz/keep", b"mine\n", T0);
        put(&s.path("dst"), "zz/sub/keep2", b"mine too\n", T0);
        put(&s.path("dst"), "zz/gone", b"x\n", T0);
        let r = into_dst(
            &s,
            &client,
            server.as_deref(),
            &["-a", "--delete", "-F"],
            &["src/"],
        );
        let label = format!("{} {server:?}: {r:?}", client.display());
        r.assert_code(0);
        assert!(s.path("dst/zz/keep").exists(), "{label}");
        assert!(s.path("dst/zz/sub/keep2").exists(), "{label}");
        assert!(!s.path("dst/zz/gone").exists(), "{label}");
        assert!(
            r.stdout.contains("cannot delete non-empty directory: zz"),
            "{label}"
        );
    }
}
