//! The tree-shape options end to end: -R (with `/./` and implied
//! directories), --no-implied-dirs, --files-from (local, remote `:FILE`,
//! --from0), -x / -xx at a real tmpfs mount point, -m, the missing-args
//! options and -d --delete. Each command runs in five directions (local
//! copy, oxsync pushing/pulling against stock `rsync --server`, stock rsync
//! pushing/pulling against `oxsync --server`) and with stock rsync alone in
//! the same direction on an identically prepared destination; destination
//! trees (directory mtimes included), sorted itemize lines and exit codes
//! must agree. The daemon carries --files-from and -R both ways.
use crate::pair::{clamped_tree, Pair, Seen};
use crate::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Base mtime of the destination's own entries.
const T_DST: i64 = T0 + 100_000;
/// Mtimes after this were set by the system during the run.
const T_RECENT: i64 = T_DST + 1_000_000;

/// Gives every directory below `root` (and `root`) its mode from `modes`
/// (default 0755) and mtime `mtime`.
fn fix_dirs_by_depth(root: &Path, mtime: i64, modes: &[(&str, u32)]) {
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
        let rel = d.strip_prefix(root).expect("below root");
        let mode = modes
            .iter()
            .find(|(p, _)| Path::new(p) == rel)
            .map_or(0o755, |m| m.1);
        fs::set_permissions(d, fs::Permissions::from_mode(mode)).expect("chmod dir");
        set_mtime(d, mtime + rel.components().count() as i64);
    }
}

fn make_src(src: &Path) {
    let t = T0 + 10;
    put_mode(src, "top.txt", b"top\n", 0o644, t);
    put_mode(src, "a/x.txt", b"x\n", 0o644, t + 1);
    put_mode(src, "a/b/c/f1.txt", b"f1\n", 0o600, t + 2);
    put_mode(src, "a/b/c/f2.txt", b"f2\n", 0o644, t + 3);
    put_mode(src, "d/y.txt", b"y\n", 0o644, t + 4);
    put_mode(src, "d/sub/z.txt", b"z\n", 0o640, t + 5);
    put_mode(src, "h/only/deep/w.txt", b"w\n", 0o644, t + 6);
    fs::create_dir_all(src.join("e/f/g")).expect("mkdir");
    fs::create_dir_all(src.join("empty")).expect("mkdir");
    symlink("top.txt", src.join("link")).expect("symlink");
    fix_dirs_by_depth(src, T0 + 900, &[("a/b", 0o700), ("d/sub", 0o750)]);
}

fn make_dst(dst: &Path) {
    let t = T0 + 10;
    put_mode(dst, "extra.txt", b"extra\n", 0o644, t);
    put_mode(dst, "a/old.txt", b"old\n", 0o644, t);
    put_mode(dst, "a/b/c/old.txt", b"old\n", 0o644, t);
    put_mode(dst, "a/b/c/f2.txt", b"stale f2\n", 0o644, t - 50);
    put_mode(dst, "d/old.txt", b"old\n", 0o644, t);
    put_mode(dst, "gone/inside.txt", b"in\n", 0o644, t);
    put_mode(dst, "0gone.txt", b"missing in the source\n", 0o644, t);
    put_mode(dst, "0gonefull/in.txt", b"in\n", 0o644, t);
    fs::create_dir_all(dst.join("0gonedir")).expect("mkdir");
    fix_dirs_by_depth(dst, T_DST + 900, &[("a/b", 0o755)]);
}

/// A tmpfs mounted for a test; unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn new(at: &Path) -> Mount {
        fs::create_dir_all(at).expect("mount point");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "oxsync-test", &at.to_string_lossy()])
            .status()
            .expect("run mount");
        assert!(ok.success(), "mount -t tmpfs at {} failed", at.display());
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn am_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The common trees (and mounts, by [`Prep`]) with the list files.
struct Case {
    // Dropped first: unmounted before the scratch directory goes.
    _mounts: Vec<Mount>,
    pair: Pair,
}

impl std::ops::Deref for Case {
    type Target = Pair;
    fn deref(&self) -> &Pair {
        &self.pair
    }
}

/// How a case is prepared beyond the common trees.
#[derive(Clone, Copy, Default)]
struct Prep {
    /// A tmpfs at src/mnt (with files) and at dst/m2, dst/mnt and dst/h
    /// (with a file each).
    mounts: bool,
}

impl Case {
    fn new(dir: Dir, prep: Prep) -> Case {
        let pair = Pair::new(dir, make_src, |_, d| make_dst(d));
        let (scratch, src, dst, dst_ref) = (&pair.scratch, &pair.src, &pair.dst, &pair.dst_ref);
        let mut mounts = Vec::new();
        if prep.mounts {
            mounts.push(Mount::new(&src.join("mnt")));
            put_mode(src, "mnt/m.txt", b"m\n", 0o644, T0 + 20);
            put_mode(src, "mnt/sub/n.txt", b"n\n", 0o644, T0 + 21);
            set_mtime(&src.join("mnt/sub"), T0 + 30);
            set_mtime(&src.join("mnt"), T0 + 31);
            set_mtime(src, T0 + 900);
            for d in [dst, dst_ref] {
                mounts.push(Mount::new(&d.join("m2")));
                put_mode(d, "m2/keep.txt", b"keep\n", 0o644, T0 + 22);
                mounts.push(Mount::new(&d.join("mnt")));
                put_mode(d, "mnt/stale.txt", b"stale\n", 0o644, T0 + 23);
                // A directory the source has, on another filesystem here.
                mounts.push(Mount::new(&d.join("h")));
                put_mode(d, "h/stray.txt", b"stray\n", 0o644, T0 + 24);
                set_mtime(&d.join("h"), T_DST + 7);
                set_mtime(&d.join("m2"), T_DST + 5);
                set_mtime(&d.join("mnt"), T_DST + 6);
                set_mtime(d, T_DST + 900);
            }
        }
        // A files-from list with a comment, a blank line, a directory
        // with a trailing slash and a "/./" marker.
        fs::write(
            scratch.path("list"),
            "a/b/c/f1.txt\n# a comment\n\nd\ntop.txt\ne/f/\nh/./only/deep\n",
        )
        .expect("list");
        fs::write(scratch.path("list0"), "a/b/c/f1.txt\0d/\0link\0\0h/only\0").expect("list0");
        fs::write(src.join("remote.list"), "top.txt\na/x.txt\nd/sub\n").expect("remote list");
        fs::write(scratch.path("ex0"), "d\0top.txt\0").expect("ex0");
        Case {
            _mounts: mounts,
            pair,
        }
    }

    /// The command, run in the source directory; `srcs` are relative to it
    /// (`%S` in an argument stands for the scratch directory).
    fn command(&self, reference: bool, args: &[&str], srcs: &[&str]) -> Command {
        let mut c = self.client(reference);
        c.current_dir(&self.src);
        let scratch = self.scratch.root().to_string_lossy().into_owned();
        c.args(args.iter().map(|a| a.replace("%S", &scratch)));
        let dst_arg = format!("{}/", self.dst_of(reference).display());
        let srcs: Vec<String> = srcs.iter().map(|a| a.replace("%S", &scratch)).collect();
        match self.dir {
            Dir::Local => c.args(srcs).arg(dst_arg),
            Dir::OxPush | Dir::RsyncPush => c.args(srcs).arg(format!("localhost:{dst_arg}")),
            Dir::OxPull | Dir::RsyncPull => c
                .args(srcs.iter().map(|s| format!("localhost:{s}")))
                .arg(dst_arg),
        };
        c
    }
}

/// The tree with directory mtimes (clamped: times the system set during
/// the run compare equal).
fn tree(root: &Path) -> BTreeMap<PathBuf, Seen> {
    clamped_tree(root, T_RECENT)
}

/// Runs `args` on `srcs` in direction `dir` and with stock rsync alone in
/// the same direction; compares exit codes, itemize lines and trees.
/// Returns stock rsync's run.
fn check_with(dir: Dir, prep: Prep, args: &[&str], srcs: &[&str]) -> Run {
    let c = Case::new(dir, prep);
    let label = format!("{dir:?} {args:?} {srcs:?}");
    let (ours, theirs) = c.run_pair(
        &label,
        &mut c.command(false, args, srcs),
        &mut c.command(true, args, srcs),
    );
    c.assert_trees(&label, (&ours, &theirs), tree);
    theirs
}

/// [`check_with`] in all five directions; returns the local reference run.
fn check(args: &[&str], srcs: &[&str]) -> Run {
    check_prep(Prep::default(), args, srcs)
}

fn check_prep(prep: Prep, args: &[&str], srcs: &[&str]) -> Run {
    let mut first = None;
    for dir in ALL {
        let r = check_with(dir, prep, args, srcs);
        first.get_or_insert(r);
    }
    first.expect("five runs")
}

/// The local reference run did what the test means to exercise.
fn assert_lines(r: &Run, want: &[&str], not: &[&str]) {
    let lines = r.itemized();
    for w in want {
        assert!(
            lines.iter().any(|l| l == w),
            "expected `{w}` in {lines:#?}\n{}",
            r.stderr
        );
    }
    for n in not {
        assert!(
            !lines.iter().any(|l| l.ends_with(n)),
            "unexpected `{n}` in {lines:#?}"
        );
    }
}

#[test]
fn relative() {
    let r = check(&["-aiR"], &["a/b/c/f1.txt", "d"]);
    assert_lines(
        &r,
        &[
            ".d..tp..... a/b/",
            ">f+++++++++ a/b/c/f1.txt",
            ">f+++++++++ d/sub/z.txt",
        ],
        &["top.txt", "a/x.txt"],
    );
    // A directory and a path below it: the duplicates merge.
    check(&["-aiR"], &["a", "a/b/c"]);
    // The "/./" marker: names start after it.
    let r = check(&["-aiR"], &["a/./b/c", "d/"]);
    assert_lines(&r, &["cd+++++++++ b/", ">f+++++++++ b/c/f1.txt"], &[]);
    check(&["-aiR"], &["./a/b", "top.txt", "link"]);
    check(&["-aiR", "--no-relative"], &["a/b/c", "d"]);
    // Without -r or -d a directory is skipped, implied parents and all.
    check(&["-ltpiR"], &["a/b", "a/b/c/f2.txt", "top.txt"]);
    // With -d a trailing slash or "/." sends the directory's contents.
    check(&["-iR", "-d", "-lpt"], &["a/.", "d/", "h"]);
    check(&["-aiR", "-n"], &["a/b/c/f2.txt", "h/only"]);
    // A marker deeper down, and a missing path.
    check(&["-aiR"], &["a/b/./c", "nothere/x"]);
    // Absolute paths: the names keep their slash on the sending side (the
    // sender prints them so) and lose it on the receiving side.
    check(
        &["-aiR"],
        &["%S/src/a/b/c/f1.txt", "%S/src/./d", "%S/src/h/only"],
    );
    // ".." in the active part is refused (exit 1) by the sender. Compared
    // where the client sends: when a server sender gives up before the
    // file list, stock rsync's client mostly sees the stream end (12; the
    // sender does not flush its MSG_ERROR_EXIT) while oxsync's exit code
    // is the server's (1).
    for dir in [Dir::Local, Dir::OxPush, Dir::RsyncPush] {
        let r = check_with(dir, Prep::default(), &["-aiR"], &["a/../top.txt"]);
        assert!(
            r.stderr.contains("found \"..\" dir in relative path"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn relative_delete() {
    // Only the directories whose contents were sent are cleaned: a/ and
    // a/b/ are implied, a/b/c/ and d/ are sent.
    let r = check(&["-aiR", "--delete"], &["a/b/c", "d"]);
    assert_lines(
        &r,
        &["*deleting   a/b/c/old.txt", "*deleting   d/old.txt"],
        &["a/old.txt", "extra.txt"],
    );
    check(&["-aiR", "--delete-after"], &["a/b/c/f1.txt", "d/sub"]);
    check(&["-aiR", "--delete", "-d"], &["a/b/"]);
}

#[test]
fn implied_dirs() {
    let r = check(
        &["-aiR", "--no-implied-dirs"],
        &["a/b/c/f1.txt", "h/only/deep"],
    );
    assert_lines(&r, &[">f+++++++++ a/b/c/f1.txt"], &["a/b/"]);
    check(
        &["-aiR", "--no-implied-dirs", "--implied-dirs"],
        &["a/b/c/f1.txt"],
    );
    check(&["-aiR", "--no-i-d", "--delete"], &["a/b/c", "d/sub"]);
    check(&["-ai", "--no-implied-dirs"], &["a/b/c"]);
}

#[test]
fn files_from() {
    let r = check(&["-ai", "--files-from=%S/list"], &["."]);
    assert_lines(
        &r,
        &[
            ">f+++++++++ a/b/c/f1.txt",
            ">f+++++++++ top.txt",
            "cd+++++++++ e/f/",
            "cd+++++++++ only/deep/",
        ],
        &["d/y.txt", "a/x.txt"],
    );
    // -r given explicitly keeps recursion (-a alone does not).
    check(&["-ai", "-r", "--files-from=%S/list"], &["."]);
    check(&["-ai", "--delete", "--files-from=%S/list"], &["."]);
    check(&["-ai", "--no-relative", "--files-from=%S/list"], &["."]);
    check(&["-ai", "--from0", "--files-from=%S/list0"], &["."]);
    check(&["-ai0", "-r", "--files-from", "%S/list0"], &["."]);
    check(
        &["-aiR", "--no-implied-dirs", "--files-from=%S/list"],
        &["."],
    );
    // --from0 applies to the rule files too.
    let r = check(&["-ai", "-0", "--exclude-from=%S/ex0"], &["."]);
    assert_lines(
        &r,
        &[">f+++++++++ a/x.txt"],
        &[">f+++++++++ top.txt", "d/y.txt"],
    );
    // Protocol 30 forwards the names outside the multiplexed stream.
    check(&["-ai", "--protocol=30", "--files-from=%S/list"], &["."]);
}

#[test]
fn files_from_remote() {
    // The list is read on the remote side (":FILE", relative to its working
    // directory); a local copy refuses a remote list (exit 1) as rsync does.
    check(&["-ai", "--files-from=:remote.list"], &["."]);
    check(&["-ai", "-r", "--files-from=localhost:remote.list"], &["."]);
    check(&["-ai", "--from0", "--files-from=:%S/list0"], &["."]);
    check(
        &["-ai", "--protocol=30", "--files-from=:remote.list"],
        &["."],
    );
    // A list that cannot be opened: exit 1 before the transfer.
    let c = Case::new(Dir::Local, Prep::default());
    let r = run(
        &mut c.command(false, &["-ai", "--files-from=%S/nope"], &["."]),
        &c.scratch.logs(),
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("failed to open files-from file"),
        "{}",
        r.stderr
    );
    // More than one source with --files-from is a usage error.
    for dir in ALL {
        check_with(
            dir,
            Prep::default(),
            &["-ai", "--files-from=%S/list"],
            &["a", "d"],
        );
    }
}

#[test]
fn one_file_system() {
    if !am_root() {
        eprintln!("one_file_system: needs root to mount a tmpfs; not run");
        return;
    }
    let prep = Prep { mounts: true };
    let r = check_prep(prep, &["-ai", "-x"], &["."]);
    assert_lines(&r, &[".d..t...... mnt/"], &["mnt/m.txt"]);
    let r = check_prep(prep, &["-ai", "-xx"], &["."]);
    assert_lines(&r, &[], &["mnt/"]);
    check_prep(prep, &["-ai", "-x"], &["mnt/"]);
    check_prep(prep, &["-ai"], &["."]);
    // The destination's mount points are not cleaned with -x.
    let r = check_prep(prep, &["-ai", "-x", "--delete"], &["."]);
    assert_lines(
        &r,
        &["*deleting   extra.txt"],
        &["m2/keep.txt", "mnt/stale.txt", "h/stray.txt"],
    );
    let r = check_prep(prep, &["-ai", "--delete"], &["."]);
    assert_lines(&r, &["*deleting   h/stray.txt"], &[]);
    check_prep(prep, &["-ai", "-x", "--delete-after"], &["h", "d"]);
    check_prep(prep, &["-ai", "-xx", "--delete"], &["."]);
    check_prep(prep, &["-ai", "-x", "--no-x", "--delete"], &["."]);
    check_prep(prep, &["-aiR", "-x"], &["mnt/sub", "a"]);
}

#[test]
fn prune_empty_dirs() {
    let r = check(&["-ai", "-m"], &["."]);
    assert_lines(&r, &[], &["empty/", "e/f/g/"]);
    check(
        &[
            "-ai",
            "-m",
            "--include=*/",
            "--include=f*.txt",
            "--exclude=*",
        ],
        &["."],
    );
    // A directory the receiver's rules exclude keeps its parents.
    check(&["-ai", "-m", "--filter=-r_e/f/g/"], &["."]);
    check(&["-ai", "-m", "--delete"], &["."]);
    check(&["-ai", "-m", "--no-m"], &["."]);
    check(&["-aiR", "-m"], &["e", "a/b"]);
}

#[test]
fn missing_args() {
    let r = check(&["-ai", "--ignore-missing-args"], &["nothere", "top.txt"]);
    assert_eq!(r.code, Some(0));
    check(
        &["-aiR", "--ignore-missing-args"],
        &["x/nothere", "a/b/c/f1.txt"],
    );
    check(&["-ai"], &["nothere", "top.txt"]);
    // Debian's rsync 3.2.7 (with its security patches) rejects a mode-0
    // entry whose mode is sent explicitly ("invalid file mode 00"); the
    // missing arguments come first so that stock rsync sends theirs with
    // XMIT_SAME_MODE and takes the deletions (oxsync sorts its list, where
    // they come first too).
    let r = check(
        &["-ai", "--delete-missing-args"],
        &["0gone.txt", "0gonedir", "0gonefull", "top.txt"],
    );
    assert_lines(
        &r,
        &[
            "*deleting   0gone.txt",
            "*deleting   0gonedir/",
            ">f+++++++++ top.txt",
        ],
        &["0gonefull/"],
    );
    check(
        &["-ai", "-r", "--delete", "--delete-missing-args"],
        &["0gonefull", "0gone.txt", "d"],
    );
    check(
        &["-ai", "--delete-missing-args", "--ignore-missing-args"],
        &["0gone.txt", "top.txt"],
    );
}

#[test]
fn dirs_delete() {
    // -d --delete cleans the directories whose contents are sent: the
    // top one (a trailing slash), not the subdirectories it lists.
    let r = check(&["-i", "-lptgoD", "-d", "--delete"], &["."]);
    assert_lines(
        &r,
        &["*deleting   extra.txt", "*deleting   gone/"],
        &["a/old.txt"],
    );
    check(&["-i", "-lptgoD", "-d", "--delete"], &["a", "d"]);
    check(&["-i", "-lptgoD", "-d", "--delete"], &["a/"]);
    check(&["-i", "-lptgoD", "-d", "--delete-after"], &["./"]);
    check(&["-i", "-lptgoD", "-d", "--delete-before", "-n"], &["."]);
}

// ---------------------------------------------------------------------------
// The daemon: --files-from and -R, oxsync daemon against a stock client and
// stock daemon against an oxsync client, compared with stock on both ends.

const DAEMON_MODULES: &str = "[src]\npath = %ROOT%/mod\n[dst]\npath = %ROOT%/dst\nread only = no\n";

struct DaemonRun {
    code: Option<i32>,
    lines: Vec<String>,
    tree: BTreeMap<PathBuf, Seen>,
    stderr: String,
}

/// Prepares a daemon's module (the source tree, a list inside it and one
/// in its destination module), runs the client, and collects the outcome.
fn daemon_run(daemon_bin: &Path, client_bin: &Path, args: &[&str], push: bool) -> DaemonRun {
    let d = crate::daemon::start(daemon_bin, DAEMON_MODULES);
    let root = d_root(&d);
    let module = root.join("mod");
    fs::remove_dir_all(&module).expect("rm module");
    make_src(&module);
    fs::write(module.join("remote.list"), "top.txt\na/x.txt\nd/sub\n").expect("list");
    // A symlink to the list inside the module, and one leading out of it.
    symlink("d/../remote.list", module.join("inlink.list")).expect("symlink");
    symlink("../secrets", module.join("evil.list")).expect("symlink");
    fs::write(root.join("dst/remote.list"), "top.txt\na/b/c/f1.txt\n").expect("list");
    symlink("../secrets", root.join("dst/evil.list")).expect("symlink");
    let local = tempfile::tempdir().expect("tmp");
    let src = local.path().join("src");
    make_src(&src);
    let out = local.path().join("out");
    let list = local.path().join("list");
    fs::write(&list, "a/b/c/f1.txt\nd\n# comment\ntop.txt\n").expect("list");
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("%L", &list.to_string_lossy()))
        .collect();
    let mut c = Command::new(client_bin);
    c.args(&args);
    let target = if push {
        fs::create_dir_all(root.join("dst/out")).expect("mkdir");
        c.current_dir(&src)
            .arg(".")
            .arg(crate::daemon::url(&d, "dst/out/"));
        root.join("dst/out")
    } else {
        c.current_dir(local.path())
            .arg(crate::daemon::url(&d, "src/"))
            .arg(format!("{}/", out.display()));
        out.clone()
    };
    let r = run(&mut c, local.path());
    let tree = if target.exists() {
        tree(&target)
    } else {
        BTreeMap::new()
    };
    DaemonRun {
        code: r.code,
        lines: r.itemized(),
        tree,
        stderr: r.stderr,
    }
}

fn d_root(d: &crate::daemon::Daemon) -> PathBuf {
    crate::daemon::root(d)
}

fn daemon_check(args: &[&str], push: bool) {
    let (ox, rs) = (oxsync_bin(), rsync_bin());
    let want = daemon_run(&rs, &rs, args, push);
    for (daemon, client, who) in [(&ox, &rs, "oxsync daemon"), (&rs, &ox, "oxsync client")] {
        let got = daemon_run(daemon, client, args, push);
        let what = format!("{who} {args:?} push={push}");
        assert_eq!(
            got.code, want.code,
            "{what}: exit\n{}\n---\n{}",
            got.stderr, want.stderr
        );
        assert_eq!(got.lines, want.lines, "{what}: itemize\n{}", got.stderr);
        let diff = map_diff(&got.tree, &want.tree);
        assert!(
            diff.is_empty(),
            "{what}: trees differ:\n{}",
            diff.join("\n")
        );
    }
}

#[test]
fn daemon_files_from() {
    daemon_check(&["-ai", "--files-from=%L"], false);
    daemon_check(&["-ai", "--files-from=%L"], true);
    daemon_check(&["-ai", "--files-from=:remote.list"], false);
    daemon_check(&["-ai", "--files-from=:/remote.list"], false);
    daemon_check(&["-ai", "--files-from=:inlink.list"], false);
    daemon_check(&["-ai", "--files-from=:remote.list"], true);
    daemon_check(&["-ai", "-r", "--delete", "--files-from=%L"], false);
}

#[test]
fn daemon_files_from_outside_module() {
    // Stock rsync's daemon makes "../x" relative to the module (and, without
    // chroot, follows a symlink out of it); oxsync's refuses a list outside
    // the module outright (exit 1, one line).
    let ox = oxsync_bin();
    let rs = rsync_bin();
    for push in [false, true] {
        for list in ["../secrets", "evil.list"] {
            let arg = format!("--files-from=:{list}");
            let got = daemon_run(&ox, &rs, &["-ai", &arg], push);
            assert_eq!(got.code, Some(1), "{}", got.stderr);
            let want = format!("--files-from={list} is outside module");
            assert!(got.stderr.contains(&want), "{}", got.stderr);
            assert!(got.lines.is_empty(), "{:?}", got.lines);
        }
    }
}

#[test]
fn daemon_relative() {
    let (ox, rs) = (oxsync_bin(), rsync_bin());
    let pull = |daemon: &Path, client: &Path, srcs: &[&str]| {
        let d = crate::daemon::start(daemon, DAEMON_MODULES);
        let module = d_root(&d).join("mod");
        fs::remove_dir_all(&module).expect("rm module");
        make_src(&module);
        let local = tempfile::tempdir().expect("tmp");
        let out = local.path().join("out");
        let mut c = Command::new(client);
        c.arg("-aiR")
            .args(
                srcs.iter()
                    .map(|s| crate::daemon::url(&d, &format!("src/{s}"))),
            )
            .arg(format!("{}/", out.display()));
        let r = run(&mut c, local.path());
        (r.code, r.itemized(), tree(&out), r.stderr)
    };
    for srcs in [
        &["a/b/c/f1.txt", "d"][..],
        &["a/./b/c", "top.txt"][..],
        // A leading "./": the module root itself is sent (implied "./").
        &["./a/b", "top.txt"][..],
    ] {
        let want = pull(&rs, &rs, srcs);
        for (daemon, client) in [(&ox, &rs), (&rs, &ox)] {
            let got = pull(daemon, client, srcs);
            assert_eq!(got.0, want.0, "{srcs:?}: exit\n{}", got.3);
            assert_eq!(got.1, want.1, "{srcs:?}: itemize\n{}", got.3);
            let diff = map_diff(&got.2, &want.2);
            assert!(
                diff.is_empty(),
                "{srcs:?}: trees differ:\n{}",
                diff.join("\n")
            );
        }
    }
}

#[test]
fn daemon_delete_missing_args_keeps_excluded() {
    // A name the module's rules exclude is neither received nor deleted,
    // even when the client asks for its deletion.
    let modules = "[fdst]\npath = %ROOT%/dst\nread only = no\nexclude = secret*\n";
    let push = |daemon: &Path| {
        let d = crate::daemon::start(daemon, modules);
        let dst = d_root(&d).join("dst");
        fs::write(dst.join("secret1"), "s\n").expect("w");
        fs::write(dst.join("other"), "o\n").expect("w");
        let local = tempfile::tempdir().expect("tmp");
        let mut c = Command::new(rsync_bin());
        c.current_dir(local.path())
            .args(["-ai", "--delete-missing-args", "secret1", "other"])
            .arg(crate::daemon::url(&d, "fdst/"));
        let r = run(&mut c, local.path());
        (r.code, r.itemized(), tree(&dst), r.stderr)
    };
    let want = push(&rsync_bin());
    let got = push(&oxsync_bin());
    assert_eq!(got.0, want.0, "exit\n{}\n---\n{}", got.3, want.3);
    assert_eq!(got.0, Some(23));
    assert_eq!(got.1, want.1, "itemize\n{}", got.3);
    assert_eq!(got.1, ["*deleting   other"]);
    assert!(
        got.3.contains("daemon refused to receive file \"secret1\""),
        "{}",
        got.3
    );
    let diff = map_diff(&got.2, &want.2);
    assert!(diff.is_empty(), "trees differ:\n{}", diff.join("\n"));
    assert!(got.2.contains_key(Path::new("secret1")));
}

#[test]
fn relative_duplicates_count_in_stats() {
    // "a" and "a/b/c" list a/b/c twice; upstream's sender keeps both copies
    // (the receiver drops one), so --stats counts them: without incremental
    // recursion all of a/b/c's files twice, with it only the directory (its
    // duplicate, implied, is not listed again).
    for (inc, want) in [
        (false, "Number of files: 15 (reg: 7, dir: 8)"),
        (true, "Number of files: 13 (reg: 5, dir: 8)"),
    ] {
        relative_duplicates_case(inc, want);
    }
}

fn relative_duplicates_case(inc: bool, want: &str) {
    let c = Case::new(Dir::Local, Prep::default());
    let args = [
        "-aR",
        "--stats",
        if inc {
            "--inc-recursive"
        } else {
            "--no-inc-recursive"
        },
    ];
    let ours = run(
        &mut c.command(false, &args, &["a", "a/b/c", "d"]),
        &c.scratch.logs(),
    );
    let theirs = run(
        &mut c.command(true, &args, &["a", "a/b/c", "d"]),
        &c.scratch.logs(),
    );
    let line = |r: &Run, label: &str| {
        r.stdout
            .lines()
            .find(|l| l.starts_with(label))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no `{label}` in\n{}", r.stdout))
    };
    for label in [
        "Number of files:",
        "Number of created files:",
        "Total file size:",
    ] {
        assert_eq!(line(&ours, label), line(&theirs, label));
    }
    assert_eq!(line(&ours, "Number of files:"), want);
    let diff = map_diff(&tree(&c.dst), &tree(&c.dst_ref));
    assert!(diff.is_empty(), "trees differ:\n{}", diff.join("\n"));
}
