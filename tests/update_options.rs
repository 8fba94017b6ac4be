//! The update options end to end: `--partial`, `--partial-dir`,
//! `-T/--temp-dir`, `--delay-updates`, `--inplace`, `--append`,
//! `--append-verify`, `-b/--backup`, `--backup-dir`, `--suffix`,
//! `--compare-dest`, `--copy-dest`, `--link-dest` (up to 20),
//! `--remove-source-files` and `-P`.
//!
//! Every option runs in three transports (local copy; oxsync client pushing
//! to `rsync --server`; stock rsync pushing to `oxsync --server`) and, into
//! a second identically prepared destination, with stock rsync alone. The
//! destination trees (backup files, partial dirs, link-dest copies
//! included), the source trees (for `--remove-source-files`), the sorted
//! itemize lines and the exit codes must be equal.
//!
//! Then: an interrupted transfer resumes with `--partial`/`--partial-dir`
//! and leaves no half-written file under the final name without them;
//! `--link-dest` hard-links unchanged files only; and a remote-shell
//! server takes directory options that point outside its destination as
//! a stock server does.
use crate::pair::{assert_same, clamped_tree, Pair, Seen};
use crate::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Who is the client, who is the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `oxsync ARGS SRC/ DST/`
    Local,
    /// `oxsync -e RSH --rsync-path=rsync ARGS SRC/ host:DST/`
    OxPush,
    /// `rsync -e RSH --rsync-path=oxsync ARGS SRC/ host:DST/`
    RsyncPush,
}

/// Base mtime of the destination's stale copies.
const T_DST: i64 = T0 + 100_000;
/// mtimes after this are "now" (a directory the transfer changed without
/// setting its mtime, e.g. after a backup); compared only as "recent".
const T_RECENT: i64 = T_DST + 1_000_000;
/// Size of the file that `--append` extends.
const GROW_SIZE: usize = 256 * 1024;
/// Bytes of it that the destination already holds.
const GROW_PREFIX: usize = 100 * 1024;
/// Size of the file that `--inplace` updates by delta.
const MEDIUM_SIZE: usize = 1 << 20;

/// Copies `src/rel` to `dst/rel` keeping mode and mtime (an up-to-date copy).
fn copy_same(src: &Path, dst: &Path, rel: &str) {
    let to = dst.join(rel);
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).expect("mkdir parents");
    }
    fs::copy(src.join(rel), &to).expect("copy");
    set_mtime(&to, fs::metadata(src.join(rel)).expect("stat").mtime());
}

/// The source tree: unchanged, changed, new and growing files, a file the
/// destination holds a longer copy of, a 1 MiB file changed in the middle,
/// a subdirectory and a directory missing from the destination.
fn make_src(src: &Path) {
    let mut rng = Prng::new(0x0971_0115);
    fs::create_dir(src).expect("mkdir src");
    put(src, "same.txt", b"same content\n", T0 + 1);
    put(src, "changed.txt", b"new version of changed\n", T0 + 2);
    put(src, "new.txt", b"a brand new file\n", T0 + 3);
    put(src, "grow.bin", &rng.bytes(GROW_SIZE), T0 + 4);
    put(src, "shrink.txt", b"short\n", T0 + 5);
    put(src, "medium.bin", &rng.bytes(MEDIUM_SIZE), T0 + 6);
    put(src, "sub/inner.txt", b"inner, new version\n", T0 + 7);
    put(src, "sub/new2.txt", b"second new file\n", T0 + 8);
    put(src, "sub/same2.txt", b"unchanged in sub\n", T0 + 9);
    put(src, "newdir/x.txt", b"in a new directory\n", T0 + 10);
    fix_dirs(src, T0 + 50);
}

/// The destination: stale or missing copies of most source files.
fn make_dst(src: &Path, dst: &Path) {
    fs::create_dir(dst).expect("mkdir dst");
    copy_same(src, dst, "same.txt");
    copy_same(src, dst, "sub/same2.txt");
    put(dst, "changed.txt", b"old changed\n", T_DST + 1);
    let grow = fs::read(src.join("grow.bin")).expect("read");
    put(dst, "grow.bin", &grow[..GROW_PREFIX], T_DST + 2);
    put(dst, "shrink.txt", b"a much longer old version\n", T_DST + 3);
    let mut medium = fs::read(src.join("medium.bin")).expect("read");
    for b in &mut medium[MEDIUM_SIZE / 2..MEDIUM_SIZE / 2 + 100] {
        *b = !*b;
    }
    put(dst, "medium.bin", &medium, T_DST + 4);
    put(dst, "sub/inner.txt", b"inner, old\n", T_DST + 5);
    fix_dirs(dst, T_DST + 50);
}

/// One test's world: `scratch/src`, `scratch/w/dst` and the stock-rsync
/// twins `scratch/src_ref`, `scratch/w/dst_ref`; basis directories go in
/// `scratch/w` so that `../NAME` names them from either destination.
pub struct Case {
    pair: Pair,
}

impl std::ops::Deref for Case {
    type Target = Pair;
    fn deref(&self) -> &Pair {
        &self.pair
    }
}

impl Via {
    /// The direction the comparison harness knows this as.
    fn dir(self) -> Dir {
        match self {
            Via::Local => Dir::Local,
            Via::OxPush => Dir::OxPush,
            Via::RsyncPush => Dir::RsyncPush,
        }
    }
}

impl Case {
    /// Source trees and destinations; `prep` runs on both destinations
    /// (with the source as first argument) after the standard setup.
    fn new(via: Via, prep: impl Fn(&Path, &Path)) -> Case {
        let mut pair = Pair::empty(via.dir());
        pair.src_ref = pair.scratch.path("src_ref");
        make_src(&pair.src);
        make_src(&pair.src_ref);
        fs::create_dir(pair.scratch.path("w")).expect("mkdir w");
        pair.dst = pair.scratch.path("w/dst");
        pair.dst_ref = pair.scratch.path("w/dst_ref");
        for d in [&pair.dst, &pair.dst_ref] {
            make_dst(&pair.src, d);
            prep(&pair.src, d);
            set_mtime(d, T_DST + 50);
        }
        Case { pair }
    }

    /// A path in the directory holding both destinations.
    fn work(&self, name: &str) -> PathBuf {
        self.scratch.path("w").join(name)
    }

    /// Runs `args` under test and with stock rsync alone; asserts equal exit
    /// codes, itemize lines, destination and source trees. Returns both runs.
    fn check(&self, args: &[&str]) -> (Run, Run) {
        let label = format!("{:?} {args:?}", self.dir);
        let (ours, theirs) = self.run_pair(
            &label,
            &mut self.command(false, args),
            &mut self.command(true, args),
        );
        let runs = (&ours, &theirs);
        self.assert_trees(&label, runs, tree);
        let (a, b) = (tree(&self.src), tree(&self.src_ref));
        assert_same(&label, runs, "source trees differ", &a, &b);
        (ours, theirs)
    }

    /// Asserts that `rel` exists (or not) in both destinations (the guard
    /// against a vacuous comparison: stock rsync did what the option says).
    fn expect(&self, rel: &str, exists: bool) {
        for d in [&self.dst_ref, &self.dst] {
            assert_eq!(
                fs::symlink_metadata(d.join(rel)).is_ok(),
                exists,
                "{rel} should {}exist in {}",
                if exists { "" } else { "not " },
                d.display()
            );
        }
    }

    /// Asserts that `rel` in both destinations has the source's bytes.
    fn expect_content_of_src(&self, rel: &str) {
        for d in [&self.dst_ref, &self.dst] {
            assert!(
                same_content(&self.src.join(rel), &d.join(rel)),
                "{rel} in {} differs from the source",
                d.display()
            );
        }
    }
}

/// Entry state without nanoseconds and link counts; recent mtimes fold to
/// [`T_RECENT`].
fn tree(root: &Path) -> BTreeMap<PathBuf, Seen> {
    clamped_tree(root, T_RECENT)
}

/// How two trees differ (empty when equal).
fn tree_diff(ours: &Path, theirs: &Path) -> Vec<String> {
    map_diff(&tree(ours), &tree(theirs))
}

/// No extra preparation.
fn plain(_: &Path, _: &Path) {}

/// A basis directory `DIR` holding up-to-date copies of `new.txt` and
/// `sub/same2.txt`'s sibling `sub/new2.txt` in an older, different version.
/// (No `newdir/`: see [`basis_new_dir`].)
fn make_basis(src: &Path, b: &Path) {
    fs::create_dir_all(b).expect("mkdir basis");
    copy_same(src, b, "new.txt");
    put(b, "sub/new2.txt", b"other content\n", T_DST + 9);
    fix_dirs(b, T0 + 50);
}

/// Basis directories live inside each destination (`.NAME`): a server
/// refuses `../NAME` (see [`refused`]), and rsync resolves a relative
/// basis dir against the destination.
fn basis_in_dst(names: &'static [&'static str]) -> impl Fn(&Path, &Path) {
    move |src, d| {
        for n in names {
            make_basis(src, &d.join(n));
        }
    }
}

// ---------------------------------------------------------------------------
// One scenario per option

/// `--partial`: a successful transfer is an ordinary one.
pub fn partial(via: Via) {
    let c = Case::new(via, plain);
    c.check(&["-a", "-i", "--partial"]);
    c.expect_content_of_src("grow.bin");
}

/// `--partial-dir`: a partial file left by an earlier run is the basis and
/// is removed with its directory once the file is complete.
pub fn partial_dir(via: Via) {
    let c = Case::new(via, |src, d| {
        let grow = fs::read(src.join("medium.bin")).expect("read");
        put(
            d,
            ".rsync-partial/new_big",
            &grow[..MEDIUM_SIZE / 3],
            T_DST + 7,
        );
        fix_dirs(&d.join(".rsync-partial"), T_DST + 50);
    });
    for s in [&c.src, &c.src_ref] {
        let data = fs::read(s.join("medium.bin")).expect("read");
        put(s, "new_big", &data, T0 + 11);
        set_mtime(s, T0 + 50);
    }
    let (_, theirs) = c.check(&["-a", "-i", "--stats", "--partial-dir=.rsync-partial"]);
    c.expect(".rsync-partial", false);
    c.expect_content_of_src("new_big");
    // The partial file was the basis: most of new_big was matched.
    let matched = stat_bytes(&theirs.stdout, "Matched data").unwrap_or(0);
    assert!(matched > 0 || via == Via::Local, "{}", theirs.stdout);
}

/// `-T DIR` (relative to the destination, so a server accepts it).
pub fn temp_dir(via: Via) {
    let c = Case::new(via, |_, d| {
        fs::create_dir(d.join(".tmp")).expect("mkdir");
        set_mtime(&d.join(".tmp"), T_DST + 50);
    });
    c.check(&["-a", "-i", "-T", ".tmp"]);
    c.expect_content_of_src("changed.txt");
}

/// `--temp-dir=ABSOLUTE` in a local copy.
pub fn temp_dir_absolute_local() {
    let c = Case::new(Via::Local, plain);
    let t = c.work("tmpdir");
    fs::create_dir(&t).expect("mkdir");
    let arg = format!("--temp-dir={}", t.display());
    c.check(&["-a", "-i", &arg]);
    assert_eq!(fs::read_dir(&t).expect("read_dir").count(), 0);
}

/// `--temp-dir` on another filesystem (`/dev/shm`, or a tmpfs mounted
/// for the test): a rename cannot cross it, so each file is copied into
/// place as stock rsync does (robust_rename), and nothing stays behind.
pub fn temp_dir_other_filesystem_local() {
    let c = Case::new(Via::Local, plain);
    let dev = |p: &Path| fs::metadata(p).expect("stat").dev();
    let shm = tempfile::Builder::new()
        .prefix("oxsync-tmpdir")
        .tempdir_in("/dev/shm")
        .ok()
        .filter(|t| dev(t.path()) != dev(&c.dst));
    let mounted = c.work("tmpfs");
    let t = match &shm {
        Some(t) => t.path().to_path_buf(),
        None => {
            fs::create_dir(&mounted).expect("mkdir");
            let ok = Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
                .arg(&mounted)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "no other filesystem for the test: /dev/shm is not one, mount failed"
            );
            mounted.clone()
        }
    };
    assert_ne!(
        dev(&t),
        dev(&c.dst),
        "{} is on the destination's filesystem",
        t.display()
    );
    let arg = format!("--temp-dir={}", t.display());
    c.check(&["-a", "-i", &arg]);
    c.expect_content_of_src("changed.txt");
    let left = fs::read_dir(&t).expect("read_dir").count();
    if shm.is_none() {
        let _ = Command::new("umount").arg(&mounted).status();
    }
    assert_eq!(left, 0, "temp files left in {}", t.display());
}

/// `--delay-updates`: all files renamed at the end, `.~tmp~` removed.
pub fn delay_updates(via: Via) {
    let c = Case::new(via, plain);
    c.check(&["-a", "-i", "--delay-updates"]);
    c.expect(".~tmp~", false);
    c.expect("sub/.~tmp~", false);
    c.expect_content_of_src("sub/inner.txt");
}

/// `--inplace`: files are rewritten in place (same inode).
pub fn inplace(via: Via) {
    let c = Case::new(via, plain);
    let ino = |d: &Path| fs::metadata(d.join("medium.bin")).expect("stat").ino();
    let before = (ino(&c.dst), ino(&c.dst_ref));
    c.check(&["-a", "-i", "--inplace", "--no-whole-file"]);
    assert_eq!(before, (ino(&c.dst), ino(&c.dst_ref)), "inode changed");
    c.expect_content_of_src("medium.bin");
}

/// `--append`: a shorter destination file is extended, a longer one is
/// left alone.
pub fn append(via: Via) {
    let c = Case::new(via, plain);
    c.check(&["-a", "-i", "--append"]);
    c.expect_content_of_src("grow.bin");
    for d in [&c.dst, &c.dst_ref] {
        assert_eq!(
            fs::read(d.join("shrink.txt")).expect("read"),
            b"a much longer old version\n"
        );
    }
}

/// `--append-verify` with a corrupted prefix: the whole-file checksum fails
/// and the file is sent again in full.
pub fn append_verify(via: Via) {
    let c = Case::new(via, |_, d| {
        let p = d.join("grow.bin");
        let mut data = fs::read(&p).expect("read");
        data[10] = !data[10];
        write_file(&p, &data, 0o644, T_DST + 2);
    });
    c.check(&["-a", "-i", "--append-verify"]);
    c.expect_content_of_src("grow.bin");
}

/// `-b`: replaced files are kept as `NAME~`.
pub fn backup(via: Via) {
    let c = Case::new(via, plain);
    c.check(&["-a", "-i", "-b"]);
    c.expect("changed.txt~", true);
    c.expect("sub/inner.txt~", true);
    c.expect("same.txt~", false);
}

/// `-b --delete`: deleted files are backed up too.
pub fn backup_delete(via: Via) {
    let c = Case::new(via, |_, d| {
        put(d, "extra.txt", b"only in the destination\n", T_DST + 20);
    });
    c.check(&["-a", "-i", "-b", "--delete"]);
    c.expect("extra.txt~", true);
}

/// `--backup-dir` (relative to the destination) with `--suffix`.
pub fn backup_dir(via: Via) {
    let c = Case::new(via, plain);
    c.check(&["-a", "-i", "--backup-dir=bak", "--suffix=.old"]);
    c.expect("bak/changed.txt.old", true);
    c.expect("bak/sub/inner.txt.old", true);
    c.expect("changed.txt.old", false);
}

/// `--backup-dir` outside the destination (`../NAME`) in a local copy.
pub fn backup_dir_outside_local() {
    let c = Case::new(Via::Local, plain);
    let (ours, theirs) = (c.work("bak_ox"), c.work("bak_ref"));
    // Each run needs its own backup dir: compare them afterwards.
    let a1 = format!("--backup-dir={}", ours.display());
    let a2 = format!("--backup-dir={}", theirs.display());
    let r1 = run(
        &mut c.command(false, &["-a".into(), "-i".into(), a1]),
        &c.scratch.logs(),
    );
    let r2 = run(
        &mut c.command(true, &["-a".into(), "-i".into(), a2]),
        &c.scratch.logs(),
    );
    assert_eq!(r1.code, r2.code);
    assert_eq!(r1.itemized(), r2.itemized());
    assert!(theirs.join("changed.txt").is_file());
    let diff = tree_diff(&ours, &theirs);
    assert!(
        diff.is_empty(),
        "backup dirs differ:\n  {}",
        diff.join("\n  ")
    );
    let diff = tree_diff(&c.dst, &c.dst_ref);
    assert!(
        diff.is_empty(),
        "destinations differ:\n  {}",
        diff.join("\n  ")
    );
}

/// `-b --suffix=.bak`.
pub fn suffix(via: Via) {
    let c = Case::new(via, plain);
    c.check(&["-a", "-i", "-b", "--suffix=.bak"]);
    c.expect("changed.txt.bak", true);
    c.expect("changed.txt~", false);
}

/// `--compare-dest`: files up to date in the basis dir are not copied.
pub fn compare_dest(via: Via) {
    let c = Case::new(via, basis_in_dst(&[".cmp"]));
    c.check(&["-a", "-i", "--compare-dest=.cmp"]);
    c.expect("new.txt", false);
    c.expect_content_of_src("sub/new2.txt");
}

/// `--copy-dest`: files up to date in the basis dir are copied locally.
pub fn copy_dest(via: Via) {
    let c = Case::new(via, basis_in_dst(&[".cmp"]));
    c.check(&["-a", "-i", "--copy-dest=.cmp"]);
    c.expect_content_of_src("new.txt");
    c.expect_content_of_src("sub/new2.txt");
}

/// `--copy-dest` where the destination holds a stale copy of a file that
/// is up to date in the basis dir.
pub fn copy_dest_existing(via: Via) {
    let c = Case::new(via, |src, d| {
        put(d, "new.txt", b"stale copy\n", T_DST + 30);
        make_basis(src, &d.join(".cmp"));
    });
    c.check(&["-a", "-i", "--copy-dest=.cmp"]);
    c.expect_content_of_src("new.txt");
}

/// `--link-dest`: files up to date in the basis dir are hard-linked.
pub fn link_dest(via: Via) {
    let c = Case::new(via, basis_in_dst(&[".cmp"]));
    c.check(&["-a", "-i", "--link-dest=.cmp"]);
    c.expect_content_of_src("new.txt");
    c.expect_content_of_src("sub/new2.txt");
}

/// `--link-dest` three times: the first dir with a match wins.
pub fn link_dest_multi(via: Via) {
    let c = Case::new(via, |src, d| {
        fs::create_dir(d.join(".l1")).expect("mkdir");
        make_basis(src, &d.join(".l2"));
        copy_same(src, &d.join(".l3"), "sub/new2.txt");
        fix_dirs(&d.join(".l3"), T0 + 50);
    });
    c.check(&[
        "-a",
        "-i",
        "--link-dest=.l1",
        "--link-dest=.l2",
        "--link-dest=.l3",
    ]);
    c.expect_content_of_src("new.txt");
    c.expect_content_of_src("sub/new2.txt");
}

/// `--link-dest` twenty times (the maximum), the match in the last one.
pub fn link_dest_twenty(via: Via) {
    let c = Case::new(via, |src, d| {
        for i in 1..20 {
            fs::create_dir(d.join(format!(".l{i:02}"))).expect("mkdir");
        }
        make_basis(src, &d.join(".l20"));
    });
    let mut args = vec!["-a".to_string(), "-i".to_string()];
    for i in 1..=20 {
        args.push(format!("--link-dest=.l{i:02}"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    c.check(&a);
    c.expect_content_of_src("new.txt");
}

/// `--link-dest` twenty-one times: refused (exit 1) by both.
pub fn link_dest_too_many(via: Via) {
    let c = Case::new(via, plain);
    let mut args = vec!["-a".to_string(), "-i".to_string()];
    for i in 1..=21 {
        args.push(format!("--link-dest=.l{i:02}"));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ours, _) = c.check(&a);
    assert_ne!(ours.code, Some(0));
}

/// A basis dir holding a directory the destination lacks (`newdir/`)
/// with an up-to-date file in it, for each of the three basis options.
pub fn basis_new_dir(via: Via) {
    for opt in [
        "--compare-dest=.cmp",
        "--copy-dest=.cmp",
        "--link-dest=.cmp",
    ] {
        let c = Case::new(via, |src, d| {
            make_basis(src, &d.join(".cmp"));
            copy_same(src, &d.join(".cmp"), "newdir/x.txt");
            fix_dirs(&d.join(".cmp"), T0 + 50);
        });
        c.check(&["-a", "-i", opt]);
    }
}

/// `--compare-dest`/`--link-dest=../NAME`: a basis dir beside the
/// destination, shared by both runs (read only, or linked from). Not run
/// against `oxsync --server`, which refuses it (see [`refused`]).
pub fn basis_outside(via: Via) {
    let c = Case::new(via, plain);
    make_basis(&c.src, &c.work("cmp"));
    c.check(&["-a", "-i", "--compare-dest=../cmp"]);
    c.expect("new.txt", false);
    let c = Case::new(via, plain);
    make_basis(&c.src, &c.work("cmp"));
    c.check(&["-a", "-i", "--link-dest=../cmp"]);
    c.expect_content_of_src("new.txt");
}

/// `--remove-source-files`: transferred (and up-to-date) source files go.
pub fn remove_source_files(via: Via) {
    let c = Case::new(via, plain);
    c.check(&["-a", "-i", "--remove-source-files"]);
    for s in [&c.src, &c.src_ref] {
        assert!(!s.join("changed.txt").exists(), "{}", s.display());
        assert!(s.join("sub").is_dir());
    }
}

/// `-P` (`--partial --progress`).
pub fn big_p(via: Via) {
    let c = Case::new(via, plain);
    c.check(&["-a", "-i", "-P"]);
    c.expect_content_of_src("medium.bin");
}

/// One `#[test]` per option for transport `$via`. `$side` says whether
/// oxsync receives (`receiver`) or only sends (`sender`, the receiving side
/// being stock rsync).
macro_rules! option_tests {
    ($side:ident $via:expr) => {
        option_tests!(@each $side $via;
            partial,
            partial_dir,
            temp_dir,
            delay_updates,
            inplace,
            append,
            append_verify,
            backup,
            backup_delete,
            backup_dir,
            suffix,
            compare_dest,
            copy_dest,
            copy_dest_existing,
            link_dest,
            link_dest_multi,
            link_dest_twenty,
            link_dest_too_many,
            basis_new_dir,
            remove_source_files,
            big_p,
        );
    };
    (@each $side:ident $via:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                super::$name($via);
            }
        )*
    };
}

/// Local copy: oxsync on both ends.
mod local {
    option_tests!(receiver super::Via::Local);

    #[test]
    fn temp_dir_absolute() {
        super::temp_dir_absolute_local();
    }

    #[test]
    fn temp_dir_other_filesystem() {
        super::temp_dir_other_filesystem_local();
    }

    #[test]
    fn backup_dir_outside() {
        super::backup_dir_outside_local();
    }

    #[test]
    fn basis_outside() {
        super::basis_outside(super::Via::Local);
    }
}

/// oxsync client pushing to `rsync --server`.
mod ox_push {
    option_tests!(sender super::Via::OxPush);

    #[test]
    fn basis_outside() {
        super::basis_outside(super::Via::OxPush);
    }
}

/// Stock rsync pushing to `oxsync --server`.
mod rsync_push {
    option_tests!(receiver super::Via::RsyncPush);
}

// ---------------------------------------------------------------------------
// Interruption

/// Size of the file whose transfer is interrupted.
const INTERRUPT_SIZE: usize = 24 << 20;
/// Bytes per second the throttled remote shell lets through.
const THROTTLE_RATE: usize = 3 << 20;
/// Kill the client once a destination file holds this many bytes.
const KILL_AT: u64 = 3 << 20;

/// A remote-shell stand-in that feeds the server's stdin through a
/// rate-limited copy loop, so a push takes seconds.
fn slow_rsh(s: &Scratch) -> PathBuf {
    let p = s.path("slow_rsh.sh");
    let script = r#"#!/bin/sh
# stand-in for ssh: drop the host, throttle what the server reads
shift
/usr/bin/python3 -c '
import os, time
rate = RATE
start = time.time()
n = 0
while True:
    b = os.read(0, 16384)
    if not b:
        break
    while b:
        k = os.write(1, b)
        b = b[k:]
        n += k
    ahead = n / rate - (time.time() - start)
    if ahead > 0:
        time.sleep(ahead)
' | "$@"
"#
    .replace("RATE", &THROTTLE_RATE.to_string());
    fs::write(&p, script).expect("write slow rsh");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

/// Largest regular file anywhere under `root`.
fn largest_file(root: &Path) -> u64 {
    let mut best = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(md) = fs::symlink_metadata(e.path()) else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                best = best.max(md.len());
            }
        }
    }
    best.max(super::util::largest_open_file(root))
}

/// True while some process of group `pgid` is alive.
fn group_alive(pgid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Pushes `src/` to `dst/` through the throttled shell with `client`
/// (server `server`) and `args`, SIGKILLs the client process alone once a
/// destination file reaches [`KILL_AT`] bytes, and waits for the server to
/// notice and exit.
fn push_and_kill(s: &Scratch, client: &Path, server: &Path, args: &[&str], src: &Path, dst: &Path) {
    let log = s.logs();
    let mut child = Command::new(client)
        .args(args)
        .arg("-e")
        .arg(slow_rsh(s))
        .arg(format!("--rsync-path={}", server.display()))
        .arg(format!("{}/", src.display()))
        .arg(format!("localhost:{}/", dst.display()))
        .stdin(Stdio::null())
        .stdout(fs::File::create(log.join("killed.out")).expect("log"))
        .stderr(fs::File::create(log.join("killed.err")).expect("log"))
        .env("LC_ALL", "C")
        .env_remove("RSYNC_RSH")
        .process_group(0)
        .spawn()
        .expect("spawn client");
    let pgid = child.id();
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            kill_group(pgid);
            panic!(
                "the transfer finished ({st}) before it could be interrupted: {}",
                fs::read_to_string(log.join("killed.err")).unwrap_or_default()
            );
        }
        if largest_file(dst) >= KILL_AT {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            kill_group(pgid);
            panic!("no destination file reached {KILL_AT} bytes in 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = Command::new("kill")
        .args(["-KILL", &pgid.to_string()])
        .status();
    let _ = child.wait();
    // The server sees end-of-file and exits (keeping the partial file, if
    // asked to); give it time, then make sure nothing is left running.
    let start = Instant::now();
    while group_alive(pgid) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let leftover = group_alive(pgid);
    kill_group(pgid);
    assert!(
        !leftover,
        "the server did not exit after its client was killed"
    );
}

/// Interrupts a push of one big file with `opt` (`--partial`,
/// `--partial-dir=…` or nothing), checks what was left, then re-runs the
/// transfer normally with the same options and checks the result.
fn interrupted(client: PathBuf, server: PathBuf, opt: Option<&str>) {
    let s = Scratch::new();
    let src = s.path("src");
    let dst = s.path("dst");
    fs::create_dir(&src).expect("mkdir");
    fs::create_dir(&dst).expect("mkdir");
    let big = src.join(BIG_NAME);
    write_big_file(&big, INTERRUPT_SIZE, 0x1a7e);
    set_mtime(&big, T0);
    let mut args = vec!["-a"];
    args.extend(opt);
    push_and_kill(&s, &client, &server, &args, &src, &dst);

    let final_name = dst.join(BIG_NAME);
    let source = fs::read(&big).expect("read");
    let kept = match opt {
        Some("--partial") => Some(final_name.clone()),
        Some(o) => o
            .strip_prefix("--partial-dir=")
            .map(|d| dst.join(d).join(BIG_NAME)),
        None => None,
    };
    match &kept {
        Some(p) => {
            let data = fs::read(p)
                .unwrap_or_else(|e| panic!("no partial file {} after the kill: {e}", p.display()));
            assert!(
                !data.is_empty() && data.len() < source.len(),
                "partial file {} has {} of {} bytes",
                p.display(),
                data.len(),
                source.len()
            );
            assert!(source.starts_with(&data), "partial file is not a prefix");
            if *p != final_name {
                assert!(
                    !final_name.exists(),
                    "half-written file under the final name"
                );
            }
        }
        None => {
            // Without --partial nothing may appear under the final name; a
            // SIGKILLed receiver may leave its dot-temp file behind, which
            // is what stock rsync does too.
            assert!(
                !final_name.exists(),
                "half-written file under the final name without --partial"
            );
        }
    }

    // Resume: the same command, not throttled, not interrupted.
    let mut c = Command::new(&client);
    c.args(&args)
        .arg("--stats")
        .arg("-e")
        .arg(s.rsh())
        .arg(format!("--rsync-path={}", server.display()))
        .arg(format!("{}/", src.display()))
        .arg(format!("localhost:{}/", dst.display()));
    let r = run(&mut c, &s.logs());
    r.assert_code(0);
    assert!(
        fs::read(&final_name).expect("read") == source,
        "resumed file differs from the source"
    );
    if kept.is_some() {
        let matched = stat_bytes(&r.stdout, "Matched data").unwrap_or(0);
        assert!(
            matched > 0,
            "the partial file was not used as the basis:\n{}",
            r.stdout
        );
    }
    if let Some(o) = opt.and_then(|o| o.strip_prefix("--partial-dir=")) {
        assert!(!dst.join(o).exists(), "partial dir left after success");
    }
}

/// oxsync client and oxsync server, client killed, `--partial`.
#[test]
fn interrupted_partial_oxsync_both() {
    interrupted(oxsync_bin(), oxsync_bin(), Some("--partial"));
}

/// oxsync client and oxsync server, client killed, `--partial-dir`.
#[test]
fn interrupted_partial_dir_oxsync_both() {
    interrupted(
        oxsync_bin(),
        oxsync_bin(),
        Some("--partial-dir=.rsync-partial"),
    );
}

/// oxsync client and oxsync server, client killed, no `--partial`.
#[test]
fn interrupted_no_partial_oxsync_both() {
    interrupted(oxsync_bin(), oxsync_bin(), None);
}

/// Stock rsync client killed while pushing to `oxsync --server --partial`.
#[test]
fn interrupted_partial_rsync_client() {
    interrupted(rsync_bin(), oxsync_bin(), Some("--partial"));
}

/// oxsync client killed while pushing to `rsync --server --partial`.
#[test]
fn interrupted_partial_ox_client() {
    interrupted(oxsync_bin(), rsync_bin(), Some("--partial"));
}

// ---------------------------------------------------------------------------
// Hard links made by --link-dest

/// `--link-dest`: an unchanged file is a hard link to the basis file (same
/// inode, link count 2); a changed one is a fresh file (link count 1).
fn link_dest_links(remote: bool) {
    let s = Scratch::new();
    let src = s.path("src");
    make_src(&src);
    fs::create_dir(s.path("w")).expect("mkdir");
    let dst = s.path("w/dst");
    // Remotely the basis dir is `dst/.prev` (beside it: `../prev`,
    // update_options::server_takes_compare_dest_dotdot).
    let (prev, arg) = if remote {
        (dst.join(".prev"), "--link-dest=.prev")
    } else {
        (s.path("w/prev"), "--link-dest=../prev")
    };
    fs::create_dir_all(&prev).expect("mkdir");
    copy_same(&src, &prev, "same.txt");
    copy_same(&src, &prev, "sub/same2.txt");
    copy_same(&src, &prev, "medium.bin");
    put(&prev, "changed.txt", b"old changed\n", T_DST + 1);
    put(&prev, "sub/inner.txt", b"inner, old\n", T_DST + 5);
    let mut c = if remote {
        // Stock rsync client, oxsync server: the server makes the links.
        let mut c = Command::new(rsync_bin());
        c.args(["-a", arg, "-e"])
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", oxsync_bin().display()))
            .arg(format!("{}/", src.display()))
            .arg(format!("localhost:{}/", dst.display()));
        c
    } else {
        let mut c = Command::new(oxsync_bin());
        c.args(["-a", arg])
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display()));
        c
    };
    run(&mut c, &s.logs()).assert_code(0);
    let diff: Vec<String> = tree_diff(&src, &dst)
        .into_iter()
        .filter(|l| !l.contains(".prev"))
        .collect();
    assert!(
        diff.is_empty(),
        "destination differs from source:\n  {}",
        diff.join("\n  ")
    );
    for rel in ["same.txt", "sub/same2.txt", "medium.bin"] {
        let a = fs::metadata(prev.join(rel)).expect("stat");
        let b = fs::metadata(dst.join(rel)).expect("stat");
        assert_eq!(
            (a.dev(), a.ino()),
            (b.dev(), b.ino()),
            "{rel} is not a hard link"
        );
        assert_eq!(b.nlink(), 2, "{rel} link count");
    }
    for rel in ["changed.txt", "sub/inner.txt", "new.txt"] {
        let b = fs::metadata(dst.join(rel)).expect("stat");
        assert_eq!(b.nlink(), 1, "{rel} was linked though it changed");
        if let Ok(a) = fs::metadata(prev.join(rel)) {
            assert_ne!(a.ino(), b.ino(), "{rel} shares the basis inode");
            assert_eq!(a.nlink(), 1, "{rel} basis link count");
        }
    }
}

#[test]
fn link_dest_hard_links_local() {
    link_dest_links(false);
}

#[test]
fn link_dest_hard_links_rsync_push() {
    link_dest_links(true);
}

// ---------------------------------------------------------------------------
// A remote-shell server takes directories outside its destination

/// Stock rsync pushes with `opt`, which names a directory outside the
/// destination, to `oxsync --server`, and in a twin tree to a stock
/// server: oxsync takes the directory as rsync's remote-shell server does
/// (its client is the operator, whom ssh gave a shell; `--confine-root`
/// is how rrsync bounds it, tests/confine_root.rs), so both exit 0 and
/// leave the same destination and the same `watch`. oxsync-s8d refused
/// (`refusing --link-dest='/etc': outside the destination`, exit 12).
fn accepted_as_stock(
    opt: impl Fn(&Scratch) -> String,
    setup: impl Fn(&Scratch, &Path),
    watch: impl Fn(&Scratch) -> PathBuf,
) {
    let twin = |server: &Path| {
        let s = Scratch::new();
        let src = s.path("src");
        make_src(&src);
        fs::create_dir_all(s.path("a/b")).expect("mkdir");
        let dst = s.path("a/b/dst");
        make_dst(&src, &dst);
        setup(&s, &dst);
        let r = run(
            Command::new(rsync_bin())
                .args(["-a", &opt(&s), "-e"])
                .arg(s.rsh())
                .arg(format!("--rsync-path={}", server.display()))
                .arg(format!("{}/", src.display()))
                .arg(format!("localhost:{}/", dst.display())),
            &s.logs(),
        );
        assert_eq!(r.code, Some(0), "`{}`:\n{}", r.cmdline, r.stderr);
        let root = s.path("");
        let seen: Vec<(PathBuf, u64)> = listing(&watch(&s))
            .into_iter()
            .map(|(p, n)| {
                (
                    p.strip_prefix(&root).map_or(p.clone(), Path::to_path_buf),
                    n,
                )
            })
            .collect();
        (seen, snapshot(&dst), opt(&s))
    };
    let ours = twin(&oxsync_bin());
    let opt = &ours.2;
    let theirs = twin(&rsync_bin());
    assert_eq!(
        ours.0, theirs.0,
        "{opt}: the watched directory differs from stock's"
    );
    assert!(
        ours.1 == theirs.1,
        "{opt}: the destination differs from stock's"
    );
}

/// Names (recursively) and sizes under `root`, or of `root` itself.
fn listing(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(md) = fs::symlink_metadata(&p) else {
            continue;
        };
        out.push((p.clone(), if md.is_file() { md.len() } else { 0 }));
        if md.is_dir() {
            if let Ok(rd) = fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
    out.sort();
    out
}

/// `--temp-dir=/tmp` on a remote-shell server: the file arrives through a
/// temporary file in /tmp, as with rsync's server, and none is left there.
#[test]
fn server_takes_temp_dir_tmp() {
    // /tmp is shared with everything else on the machine: look only for
    // names the transfer would create there (temp files of our sources).
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir(&src).expect("mkdir");
    let tag = format!("oxsync-tmp-{}", std::process::id());
    put(&src, &tag, b"x\n", T0);
    let dst = s.path("dst");
    fs::create_dir(&dst).expect("mkdir");
    let r = run(
        Command::new(rsync_bin())
            .args(["-a", "--temp-dir=/tmp", "-e"])
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", oxsync_bin().display()))
            .arg(format!("{}/", src.display()))
            .arg(format!("localhost:{}/", dst.display())),
        &s.logs(),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(fs::read(dst.join(&tag)).expect("arrived"), b"x\n");
    let leaked: Vec<_> = fs::read_dir("/tmp")
        .expect("read /tmp")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(&tag))
        .map(|e| e.path())
        .collect();
    assert!(leaked.is_empty(), "/tmp kept {leaked:?}");
}

#[test]
fn server_takes_temp_dir_outside() {
    // Absolute: rsync 3.5.0 refuses a relative one that climbs out of the
    // destination (mkstemp: Invalid argument), 3.2.7 takes it.
    accepted_as_stock(
        |s| format!("--temp-dir={}", s.path("outside").display()),
        |s, _| fs::create_dir(s.path("outside")).expect("mkdir"),
        |s| s.path("outside"),
    );
}

#[test]
fn server_takes_partial_dir_etc() {
    accepted_as_stock(
        |_| "--partial-dir=/etc/x".to_string(),
        |_, _| {},
        |_| PathBuf::from("/etc/x"),
    );
}

#[test]
fn server_takes_backup_dir_outside() {
    accepted_as_stock(
        |_| "--backup-dir=../../outside".to_string(),
        |s, _| fs::create_dir(s.path("outside")).expect("mkdir"),
        |s| s.path("outside"),
    );
}

#[test]
fn server_takes_link_dest_etc() {
    accepted_as_stock(
        |_| "--link-dest=/etc".to_string(),
        |_, _| {},
        |_| PathBuf::from("/etc"),
    );
}

#[test]
fn server_takes_compare_dest_dotdot() {
    accepted_as_stock(
        |_| "--compare-dest=../../outside".to_string(),
        |s, _| fs::create_dir(s.path("outside")).expect("mkdir"),
        |s| s.path("outside"),
    );
}

/// A `--temp-dir` that is missing or not a directory ends the run before
/// any file, with upstream's message and exit 1, locally and on a
/// remote-shell server, as stock rsync's receiver does (main.c
/// do_recv()). oxsync-s9d failed each file's temporary file instead
/// (mkstemp ... No such file or directory, exit 23).
#[test]
fn missing_temp_dir_ends_the_run_as_stock() {
    for (value, says) in [
        (
            "../../missing",
            "The temp-dir does not exist: ../../missing",
        ),
        (
            "../../plain",
            "The temp-dir is not a directory: ../../plain",
        ),
    ] {
        for bin in [oxsync_bin(), rsync_bin()] {
            for remote in [false, true] {
                let s = Scratch::new();
                let src = s.path("src");
                make_src(&src);
                fs::create_dir_all(s.path("a/b")).expect("mkdir");
                fs::write(s.path("a/plain"), b"x").expect("write");
                let dst = s.path("a/b/dst");
                fs::create_dir(&dst).expect("mkdir");
                let mut cmd = Command::new(&bin);
                cmd.arg("-a").arg(format!("--temp-dir={value}"));
                let to = if remote {
                    cmd.arg("-e")
                        .arg(s.rsh())
                        .arg(format!("--rsync-path={}", bin.display()));
                    format!("localhost:{}/", dst.display())
                } else {
                    format!("{}/", dst.display())
                };
                let r = run(cmd.arg(format!("{}/", src.display())).arg(to), &s.logs());
                let who = format!("{} remote {remote}", bin.display());
                assert_eq!(r.code, Some(1), "{who}: {}", r.stderr);
                assert!(r.stderr.contains(says), "{who}: {}", r.stderr);
                assert_eq!(fs::read_dir(&dst).expect("read").count(), 0, "{who}");
            }
        }
    }
}

/// `--append-verify` onto a destination whose head differs from the
/// source's: the appended file fails verification, and (written in
/// place) the message says its update was retained, as rsync's does;
/// the retry then makes it whole. (Before, oxsync said "discarded".)
#[test]
fn append_verify_says_a_failed_update_was_retained() {
    for bin in [oxsync_bin(), rsync_bin()] {
        let s = Scratch::new();
        fs::create_dir_all(s.path("src")).expect("mkdir");
        fs::create_dir_all(s.path("dst")).expect("mkdir");
        let data: Vec<u8> = (0..9000u32).map(|i| (i % 251) as u8).collect();
        write_file(&s.path("src/f"), &data, 0o644, T0 + 50);
        write_file(&s.path("dst/f"), &[0u8; 4000], 0o644, T0);
        let r = run(
            Command::new(&bin)
                .args(["-av", "--append-verify"])
                .arg(format!("{}/", s.path("src").display()))
                .arg(format!("{}/", s.path("dst").display())),
            &s.logs(),
        );
        r.assert_code(0);
        let warned =
            r.stdout.lines().chain(r.stderr.lines()).any(|l| {
                l == "WARNING: f failed verification -- update retained (will try again)."
            });
        assert!(warned, "{}: {r:?}", bin.display());
        assert_eq!(fs::read(s.path("dst/f")).expect("read"), data);
    }
}

/// `--max-size` and `--min-size` decide before anything in the way is
/// replaced: a source file they skip leaves the destination's directory
/// of the same name, and what is in it, as rsync leaves it. (Before,
/// oxsync removed the directory and its contents to make room, then
/// skipped the file.)
#[test]
fn a_size_skip_leaves_what_is_in_the_way() {
    for bin in [oxsync_bin(), rsync_bin()] {
        for (limit, size) in [("--max-size=1k", 5000usize), ("--min-size=10k", 100)] {
            let s = Scratch::new();
            fs::create_dir_all(s.path("src")).expect("mkdir");
            fs::create_dir_all(s.path("dst/f/inner")).expect("mkdir");
            write_file(&s.path("src/f"), &vec![b'x'; size], 0o644, T0);
            write_file(&s.path("dst/f/inner/k"), b"keep\n", 0o644, T0);
            let r = run(
                Command::new(&bin)
                    .args(["-r", "--delete", limit])
                    .arg(format!("{}/", s.path("src").display()))
                    .arg(format!("{}/", s.path("dst").display())),
                &s.logs(),
            );
            let label = format!("{} {limit}", bin.display());
            r.assert_code(0);
            assert_eq!(
                fs::read(s.path("dst/f/inner/k")).ok().as_deref(),
                Some(&b"keep\n"[..]),
                "{label}: {r:?}"
            );
        }
    }
}
