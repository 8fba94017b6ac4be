//! `-H` (--hard-links) end to end, in five directions (local copy, oxsync
//! client pushing/pulling against stock `rsync --server`, stock rsync
//! pushing/pulling against `oxsync --server`) and against stock rsync alone
//! on an identically prepared destination: destination trees (including
//! which paths share an inode, and each inode's link count), sorted
//! itemize lines (`hf+++++++++ NAME => LEADER`) and exit codes must agree.
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

/// Hard-links `root/to` to `root/from` (parents created).
fn hard(root: &Path, from: &str, to: &str) {
    let p = root.join(to);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).expect("mkdir parents");
    }
    fs::hard_link(root.join(from), &p).expect("hard link");
}

/// The source: a group of two across directories (`a.txt`), a group of
/// three (`b.txt`), a group of three with one member excluded by
/// `--exclude=*.tmp` (`c.txt`), a file whose other link is outside the
/// transfer (`lonely.txt`), two plain files, and a hard-linked symlink.
fn make_src(scratch: &Scratch, src: &Path) {
    let t = T0 + 10;
    put(src, "a.txt", b"group a\n", t);
    hard(src, "a.txt", "d1/a_link.txt");
    put(src, "b.txt", b"group b, three members\n", t + 1);
    hard(src, "b.txt", "d1/b2.txt");
    hard(src, "b.txt", "d2/deeper/b3.txt");
    put(src, "c.txt", b"group c, one member excluded\n", t + 2);
    hard(src, "c.txt", "d1/c2.txt");
    hard(src, "c.txt", "d2/c.tmp");
    put(src, "lonely.txt", b"other link is outside\n", t + 3);
    let outside = scratch.path("outside");
    fs::create_dir_all(&outside).expect("mkdir outside");
    fs::hard_link(src.join("lonely.txt"), outside.join("lonely")).expect("outside link");
    put(src, "plain.txt", b"plain\n", t);
    put(src, "d2/plain2.txt", b"plain two\n", t);
    symlink("a.txt", src.join("sym")).expect("symlink");
    // link(2) on a symlink links the symlink itself.
    fs::hard_link(src.join("sym"), src.join("d1/sym_link")).expect("symlink link");
    fix_dirs(src, T0 + 900);
}

/// Changes to the trees for one test: `(src, dst)`, called once per
/// destination (source changes are idempotent).
type Prep = fn(&Path, &Path);

/// The standard source and two destinations changed by `prep` (then
/// directory mtimes fixed); commands start `BASE --exclude=*.tmp`.
fn case(dir: Dir, prep: Prep, base: &str) -> Pair {
    let pair = Pair::empty(dir).prefix(&[base, "--exclude=*.tmp"]);
    make_src(&pair.scratch, &pair.src);
    pair.make_dsts(|src, d| {
        prep(src, d);
        fix_dirs(d, T_DST + 900);
    });
    pair
}

/// Kind, perms, mtime, size, digest, symlink target, link count, and the
/// first path (in sorted order) of the tree that shares the inode.
type Seen = (
    char,
    u32,
    i64,
    u64,
    u64,
    Option<PathBuf>,
    u64,
    Option<PathBuf>,
);

fn tree(root: &Path) -> BTreeMap<PathBuf, Seen> {
    let mut first_of: BTreeMap<(u64, u64), PathBuf> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (p, s) in snapshot(root) {
        let md = fs::symlink_metadata(root.join(&p)).expect("lstat");
        let (nlink, shared) = if s.kind == 'd' {
            (0, None)
        } else {
            let first = first_of
                .entry((md.dev(), md.ino()))
                .or_insert_with(|| p.clone());
            (md.nlink(), (md.nlink() > 1).then(|| first.clone()))
        };
        let mtime = s.mtime.min(T_RECENT);
        out.insert(
            p,
            (
                s.kind, s.perm, mtime, s.size, s.digest, s.link, nlink, shared,
            ),
        );
    }
    out
}

/// The paths of `root` grouped by inode (groups of two or more).
fn groups(root: &Path) -> Vec<Vec<String>> {
    let mut by: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (p, seen) in tree(root) {
        if let Some(first) = seen.7 {
            by.entry(first).or_default().push(p.display().to_string());
        }
    }
    by.into_values().collect()
}

/// Runs `args` in direction `dir` and against the stock-rsync reference;
/// compares exit codes, itemize lines and trees. Returns stock rsync's
/// itemize lines and the groups of its destination.
fn check(dir: Dir, args: &[&str], prep: Prep) -> (Vec<String>, Vec<Vec<String>>) {
    check_lines(dir, args, prep, |_| true)
}

/// As [`check`], comparing only the itemize lines `keep` accepts.
fn check_lines(
    dir: Dir,
    args: &[&str],
    prep: Prep,
    keep: fn(&str) -> bool,
) -> (Vec<String>, Vec<Vec<String>>) {
    let c = case(dir, prep, "-ai");
    let ours = run(&mut c.command(false, args), &c.scratch.logs());
    let theirs = run(&mut c.command(true, args), &c.scratch.logs());
    let label = format!("{dir:?} {args:?}");
    let show = |what: &str| show_runs(&label, what, &ours, &theirs);
    assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
    let kept = |r: &Run| -> Vec<String> { r.itemized().into_iter().filter(|l| keep(l)).collect() };
    assert_eq!(
        kept(&ours),
        kept(&theirs),
        "{}",
        show("itemize lines differ")
    );
    c.assert_trees(&label, (&ours, &theirs), tree);
    (kept(&theirs), groups(&c.dst_ref))
}

fn check_all(args: &[&str], prep: Prep) -> (Vec<String>, Vec<Vec<String>>) {
    pair::check_all(|dir| check(dir, args, prep))
}

fn no_prep(_: &Path, _: &Path) {}

fn has(lines: &[String], line: &str) -> bool {
    lines.iter().any(|l| l == line)
}

#[test]
fn new_destination() {
    let (lines, groups) = check_all(&["-H"], no_prep);
    assert_eq!(
        groups,
        [
            vec!["a.txt", "d1/a_link.txt"],
            vec!["b.txt", "d1/b2.txt", "d2/deeper/b3.txt"],
            vec!["c.txt", "d1/c2.txt"],
            vec!["d1/sym_link", "sym"],
        ]
    );
    // The last member of a group is transferred; the others link to it.
    assert!(
        has(&lines, "hf+++++++++ a.txt => d1/a_link.txt"),
        "{lines:?}"
    );
    assert!(has(&lines, "hf+++++++++ b.txt => d2/deeper/b3.txt"));
    assert!(has(&lines, "hf+++++++++ d1/b2.txt => d2/deeper/b3.txt"));
    assert!(has(&lines, ">f+++++++++ lonely.txt"));
    // Without -H nothing is linked.
    let (lines, groups) = check_all(&[], no_prep);
    assert!(groups.is_empty(), "{groups:?}");
    assert!(!lines.iter().any(|l| l.contains(" => ")));
    let (_, groups) = check_all(&["-H", "--no-H"], no_prep);
    assert!(groups.is_empty(), "{groups:?}");
}

#[test]
fn verbose_and_dry_run() {
    let (lines, groups) = check_all(&["-H", "-n"], no_prep);
    assert!(groups.is_empty());
    assert!(
        has(&lines, "hf+++++++++ a.txt => d1/a_link.txt"),
        "{lines:?}"
    );
    // -v without -i: `NAME => LEADER` lines.
    for dir in ALL {
        let c = case(dir, partly_there, "-av");
        let args = ["--hard-links"];
        let linked = |r: &Run| -> Vec<String> {
            let mut v: Vec<String> = r
                .stdout
                .lines()
                .filter(|l| l.contains(" => "))
                .map(str::to_owned)
                .collect();
            v.sort();
            v
        };
        let a = run(&mut c.command(false, &args), &c.scratch.logs());
        let b = run(&mut c.command(true, &args), &c.scratch.logs());
        let show = |what: &str| show_runs(&format!("{dir:?} -H -v"), what, &a, &b);
        assert_eq!(a.code, b.code, "{}", show("exit codes differ"));
        assert_eq!(linked(&a), linked(&b), "{}", show("link lines differ"));
        assert!(
            linked(&b).contains(&"c.txt => d1/c2.txt".to_string()),
            "{}",
            show("no link line")
        );
        assert!(a.itemized().is_empty(), "{}", show("itemized without -i"));
    }
}

/// A destination that has some of the files: group a's first member up to
/// date, group b as three separate copies and changed in the source, group
/// c's last member only.
fn partly_there(src: &Path, dst: &Path) {
    let t = T0 + 10;
    put(dst, "a.txt", b"group a\n", t);
    for name in ["b.txt", "d1/b2.txt", "d2/deeper/b3.txt"] {
        put(dst, name, b"group b, three members\n", t + 1);
    }
    put(dst, "d1/c2.txt", b"group c, one member excluded\n", t + 2);
    put(dst, "plain.txt", b"plain\n", t);
    // The source's group b changes (same inode, new bytes and mtime).
    write_file(&src.join("b.txt"), b"group b, changed\n", 0o644, t + 50);
}

#[test]
fn update_existing_destination() {
    let (lines, groups) = check_all(&["-H"], partly_there);
    assert!(
        has(&lines, "hf+++++++++ d1/a_link.txt => a.txt"),
        "{lines:?}"
    );
    assert!(has(&lines, "hf+++++++++ c.txt => d1/c2.txt"));
    assert_eq!(groups.len(), 4, "{groups:?}");
    check_all(&["-H", "--delete"], partly_there);
    check_all(&["-H", "--ignore-existing"], partly_there);
}

/// A previous copy for --link-dest inside each destination (`.prev`, so
/// each direction's destination has its own): group a as
/// one inode, group b as separate files, everything with the source's
/// bytes and times.
fn with_previous(_: &Path, dst: &Path) {
    let prev = dst.join(".prev");
    let t = T0 + 10;
    put(&prev, "a.txt", b"group a\n", t);
    hard(&prev, "a.txt", "d1/a_link.txt");
    for n in ["b.txt", "d1/b2.txt", "d2/deeper/b3.txt"] {
        put(&prev, n, b"group b, three members\n", t + 1);
    }
    put(&prev, "plain.txt", b"plain\n", t);
    fix_dirs(&prev, T_DST);
}

#[test]
fn link_dest() {
    // Each destination has its own previous copy, so the link counts
    // (which include the links into it) are comparable.
    // Directory lines are left out: for a new directory that exists in the
    // --link-dest dir, stock rsync itemizes against that one
    // (`cd..t...... d1/`) and oxsync shows it as new (`cd+++++++++ d1/`),
    // with or without -H.
    let files_only = |l: &str| !l.starts_with("cd");
    let mut lines = Vec::new();
    let mut groups = Vec::new();
    for dir in ALL {
        (lines, groups) = check_lines(dir, &["-H", "--link-dest=.prev"], with_previous, files_only);
    }
    // Group a is already one inode there: nothing to report.
    assert!(!lines.iter().any(|l| l.contains("a_link")), "{lines:?}");
    assert!(has(&lines, "hf+++++++++ d1/b2.txt => b.txt"), "{lines:?}");
    assert!(
        groups.contains(&vec![
            ".prev/a.txt".to_string(),
            ".prev/d1/a_link.txt".into(),
            "a.txt".into(),
            "d1/a_link.txt".into()
        ]),
        "{groups:?}"
    );
    assert!(
        groups.contains(&vec![
            ".prev/b.txt".to_string(),
            "b.txt".into(),
            "d1/b2.txt".into(),
            "d2/deeper/b3.txt".into()
        ]),
        "{groups:?}"
    );
    for args in [
        &["-H", "-ii", "--link-dest=.prev"][..],
        &["-H", "--compare-dest=.prev"],
        &["-H", "--copy-dest=.prev"],
    ] {
        for dir in ALL {
            check_lines(dir, args, with_previous, files_only);
        }
    }
}

#[test]
fn with_other_options() {
    for args in [
        &["-H", "--delay-updates"][..],
        &["-H", "--inplace"],
        &["-H", "-u"],
        &["-H", "--max-size=25"],
        &["-H", "--existing"],
        &["-H", "-c"],
        &["-H", "-I"],
        &["-H", "--backup", "--suffix=.bak"],
        &["-H", "-n", "--delete"],
        &["-H", "-L"],
        &["-H", "--protocol=30"],
        &["-H", "--protocol=31", "-c"],
    ] {
        check_all(args, partly_there);
    }
}

/// The daemon both ways: stock rsync as the client of `oxsync --daemon`,
/// and oxsync as the client of `rsync --daemon`, pushing and pulling,
/// against stock rsync on both ends.
#[test]
fn daemon_both_ways() {
    let (ox, rs) = (oxsync_bin(), rsync_bin());
    for (client, daemon) in [(&rs, &ox), (&ox, &rs)] {
        for push in [true, false] {
            let s = Scratch::new();
            let src = s.path("src");
            make_src(&s, &src);
            let mut runs = Vec::new();
            for (cl, dm, name) in [(client, daemon, "dst"), (&rs, &rs, "dst_ref")] {
                let dst = s.path(name);
                fs::create_dir_all(&dst).expect("mkdir dst");
                partly_there(&src, &dst);
                fix_dirs(&dst, T_DST + 900);
                // Stock rsync munges symlinks in a module without chroot
                // unless told not to; oxsync's daemon does not munge.
                let modules = format!(
                    "munge symlinks = no\n[src]\npath = {}\n[dst]\npath = {}\nread only = no\n",
                    src.display(),
                    dst.display()
                );
                let d = crate::daemon::start(dm, &modules);
                let mut c = Command::new(cl);
                c.args(["-ai", "-H", "--exclude=*.tmp"]);
                if push {
                    c.arg(format!("{}/", src.display()))
                        .arg(crate::daemon::url(&d, "dst/"));
                } else {
                    c.arg(crate::daemon::url(&d, "src/"))
                        .arg(format!("{}/", dst.display()));
                }
                runs.push((run(&mut c, &s.logs()), dst));
            }
            let ((ours, dst), (theirs, dst_ref)) = (&runs[0], &runs[1]);
            let label = format!("daemon {} client={client:?} push={push}", daemon.display());
            let show = |what: &str| show_runs(&label, what, ours, theirs);
            assert_runs_agree(&label, ours, theirs);
            let (a, b) = (tree(dst), tree(dst_ref));
            pair::assert_same(&label, (ours, theirs), "trees differ", &a, &b);
            assert!(
                ours.itemized()
                    .iter()
                    .any(|l| l.contains("c.txt => d1/c2.txt")),
                "{}",
                show("no link")
            );
        }
    }
}

/// A destination already synced by stock `rsync -aH`.
fn synced(src: &Path, dst: &Path) {
    let ok = Command::new(rsync_bin())
        .args(["-aH", "--exclude=*.tmp"])
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()))
        .status()
        .expect("rsync -aH");
    assert!(ok.success());
}

#[test]
fn second_run() {
    let (lines, groups) = check_all(&["-H"], synced);
    assert!(lines.iter().all(|l| l.starts_with(".d")), "{lines:?}");
    assert_eq!(groups.len(), 4, "{groups:?}");
    // With -ii the members already linked are listed without a leader.
    let (lines, _) = check_all(&["-H", "-ii"], synced);
    assert!(has(&lines, "hf          d1/a_link.txt"), "{lines:?}");
    // Without -H the links are left alone but reported as up to date.
    let (_, groups) = check_all(&["-ii"], synced);
    assert_eq!(groups.len(), 4, "{groups:?}");
}

/// `--remove-source-files`: the linked members count as sent, so their
/// source files go too. Each run gets its own source tree.
#[test]
fn remove_source_files() {
    for dir in ALL {
        let ours = case(dir, partly_there, "-ai");
        let theirs = case(dir, partly_there, "-ai");
        let args = ["-H", "--remove-source-files"];
        let a = run(&mut ours.command(false, &args), &ours.scratch.logs());
        let b = run(&mut theirs.command(true, &args), &theirs.scratch.logs());
        let label = format!("{dir:?} {args:?}");
        assert_runs_agree(&label, &a, &b);
        let show = |what: &str| show_runs(&label, what, &a, &b);
        // Sent symlinks are removed from the source too, as stock does.
        let files = tree;
        for (x, y) in [(&ours.src, &theirs.src), (&ours.dst, &theirs.dst_ref)] {
            let diff = map_diff(&files(x), &files(y));
            assert!(
                diff.is_empty(),
                "{}",
                show(&format!("{}:\n{}", x.display(), diff.join("\n")))
            );
        }
        assert!(!ours.src.join("d1/a_link.txt").exists());
    }
}

/// The destination of [`partly_there`] beneath `src/`, where `-R` with
/// `SCRATCH/./src/` puts the names.
fn partly_there_relative(src: &Path, dst: &Path) {
    partly_there(src, &dst.join("src"));
}

/// `-H` with `-R` (upstream's relative test): the names under a directory
/// that `-R` implies are linked as without `-R`, into a new destination and
/// into one that has some members already.
#[test]
fn relative_names() {
    for prep in [no_prep as Prep, partly_there_relative] {
        for dir in ALL {
            let c = case(dir, prep, "-ai");
            let src_arg = format!("{}/./src/", c.scratch.root().display());
            let cmd = |reference: bool| {
                let mut cmd = c.client(reference);
                let dst_arg = format!("{}/", c.dst_of(reference).display());
                cmd.args(["-H", "-R", "--no-i-r"])
                    .args(c.dir.operands(src_arg.clone(), dst_arg));
                cmd
            };
            let ours = run(&mut cmd(false), &c.scratch.logs());
            let theirs = run(&mut cmd(true), &c.scratch.logs());
            let label = format!("{dir:?} -HR");
            let show = |what: &str| show_runs(&label, what, &ours, &theirs);
            assert_runs_agree(&label, &ours, &theirs);
            theirs.assert_code(0);
            c.assert_trees(&label, (&ours, &theirs), tree);
            assert_eq!(
                groups(&c.dst_ref).len(),
                4,
                "{}",
                show("stock rsync linked")
            );
        }
    }
}
