//! The comparison harness the option suites share: one scratch directory
//! with a source and two identically prepared destinations, the same
//! command run by oxsync in one of the five directions (into `dst`) and by
//! stock rsync alone (into `dst_ref`), then exit codes, itemize lines and
//! the two destination trees compared. Each suite passes its own tree
//! function: what it records of an entry is what it compares.
use crate::util::*;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One test's world for one direction.
pub struct Pair {
    /// Direction under test.
    pub dir: Dir,
    /// Owns everything below.
    pub scratch: Scratch,
    /// `scratch/src`.
    pub src: PathBuf,
    /// The reference run's source: `src` unless [`Pair::with_src_copy`].
    pub src_ref: PathBuf,
    /// Destination of the run under test (`scratch/dst`).
    pub dst: PathBuf,
    /// Destination of the stock-rsync run (`scratch/dst_ref`).
    pub dst_ref: PathBuf,
    /// The remote shell: [`Scratch::rsh`] unless replaced.
    pub rsh: PathBuf,
    /// Arguments before each command's own (such as `-ai`).
    pub prefix: Vec<String>,
}

impl Pair {
    /// A scratch directory and the paths, nothing made yet.
    pub fn empty(dir: Dir) -> Pair {
        let scratch = Scratch::new();
        let src = scratch.path("src");
        Pair {
            dir,
            src_ref: src.clone(),
            src,
            dst: scratch.path("dst"),
            dst_ref: scratch.path("dst_ref"),
            rsh: scratch.rsh(),
            prefix: Vec::new(),
            scratch,
        }
    }

    /// `make_src(src)`, then each destination created and prepared by
    /// `make_dst(src, dst)`.
    pub fn new(dir: Dir, make_src: impl Fn(&Path), make_dst: impl Fn(&Path, &Path)) -> Pair {
        let p = Pair::empty(dir);
        make_src(&p.src);
        p.make_dsts(make_dst);
        p
    }

    /// As [`Pair::new`] with stock rsync reading its own copy of the
    /// source (`scratch/src_ref`, made by `make_src` too): for transfers
    /// that change their source. Both sources are created first.
    pub fn with_src_copy(
        dir: Dir,
        make_src: impl Fn(&Path),
        make_dst: impl Fn(&Path, &Path),
    ) -> Pair {
        let mut p = Pair::empty(dir);
        p.src_ref = p.scratch.path("src_ref");
        for s in [&p.src, &p.src_ref] {
            fs::create_dir_all(s).expect("mkdir src");
            make_src(s);
        }
        p.make_dsts(make_dst);
        p
    }

    /// Creates each destination and runs `f(src, dst)` on it, with the
    /// source its run reads.
    pub fn make_dsts(&self, f: impl Fn(&Path, &Path)) {
        for reference in [false, true] {
            let d = self.dst_of(reference);
            fs::create_dir_all(d).expect("mkdir dst");
            f(self.src_of(reference), d);
        }
    }

    /// `args` go before each command's own.
    pub fn prefix(mut self, args: &[&str]) -> Pair {
        self.prefix = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// The source of the run under test or of the `reference` run.
    pub fn src_of(&self, reference: bool) -> &Path {
        if reference {
            &self.src_ref
        } else {
            &self.src
        }
    }

    /// The destination of the run under test or of the `reference` run.
    pub fn dst_of(&self, reference: bool) -> &Path {
        if reference {
            &self.dst_ref
        } else {
            &self.dst
        }
    }

    /// The client for this direction (`reference`: stock rsync on both
    /// ends) with the prefix arguments; the caller adds the rest.
    pub fn client(&self, reference: bool) -> Command {
        let mut c = self.dir.client(reference, &self.rsh);
        c.args(&self.prefix);
        c
    }

    /// `client PREFIX ARGS SRC/ DST/`.
    pub fn command<S: AsRef<OsStr>>(&self, reference: bool, args: &[S]) -> Command {
        let mut c = self.client(reference);
        c.args(args).args(self.dir.operands(
            format!("{}/", self.src_of(reference).display()),
            format!("{}/", self.dst_of(reference).display()),
        ));
        c
    }

    /// `client PREFIX ARGS SRC/REL` (`SRC/` for an empty `rel`), then
    /// `DST/` unless `listing`.
    pub fn command_src<S: AsRef<OsStr>>(
        &self,
        reference: bool,
        args: &[S],
        rel: &str,
        listing: bool,
    ) -> Command {
        let mut c = self.client(reference);
        let [src, dst] = self.dir.operands(
            format!("{}/{rel}", self.src_of(reference).display()),
            format!("{}/", self.dst_of(reference).display()),
        );
        c.args(args).arg(src);
        if !listing {
            c.arg(dst);
        }
        c
    }

    /// Runs `ours`, then `theirs`; asserts equal exit codes and itemize
    /// lines.
    pub fn run_pair(&self, label: &str, ours: &mut Command, theirs: &mut Command) -> (Run, Run) {
        let ours = run(ours, &self.scratch.logs());
        let theirs = run(theirs, &self.scratch.logs());
        assert_runs_agree(label, &ours, &theirs);
        (ours, theirs)
    }

    /// Panics, showing both runs, when `tree` of the two destinations
    /// differ; returns stock rsync's.
    pub fn assert_trees<T: PartialEq + Debug>(
        &self,
        label: &str,
        runs: (&Run, &Run),
        tree: impl Fn(&Path) -> BTreeMap<PathBuf, T>,
    ) -> BTreeMap<PathBuf, T> {
        let (a, b) = (tree(&self.dst), tree(&self.dst_ref));
        assert_same(label, runs, "trees differ", &a, &b);
        b
    }

    /// The whole comparison of `args` (labelled `DIR ARGS`): both runs,
    /// exit codes, itemize lines, then the trees by `tree`. Returns both
    /// runs and stock rsync's tree.
    pub fn check<T: PartialEq + Debug>(
        &self,
        args: &[&str],
        tree: impl Fn(&Path) -> BTreeMap<PathBuf, T>,
    ) -> (Run, Run, BTreeMap<PathBuf, T>) {
        let label = format!("{:?} {args:?}", self.dir);
        let (ours, theirs) = self.run_pair(
            &label,
            &mut self.command(false, args),
            &mut self.command(true, args),
        );
        let t = self.assert_trees(&label, (&ours, &theirs), tree);
        (ours, theirs, t)
    }
}

/// What most suites record of an entry: type, permission bits, mtime,
/// size, content digest, symlink target.
pub type Seen = (char, u32, i64, u64, u64, Option<PathBuf>);

/// [`Seen`] for every entry under `root`, mtimes after `recent` (set by
/// the system during the run) folded to `recent`.
pub fn clamped_tree(root: &Path, recent: i64) -> BTreeMap<PathBuf, Seen> {
    snapshot(root)
        .into_iter()
        .map(|(p, s)| {
            let mtime = s.mtime.min(recent);
            (p, (s.kind, s.perm, mtime, s.size, s.digest, s.link))
        })
        .collect()
}

/// `check(dir)` for every direction; returns the last result.
pub fn check_all<R>(mut check: impl FnMut(Dir) -> R) -> R {
    let [first, rest @ ..] = ALL;
    let mut last = check(first);
    for dir in rest {
        last = check(dir);
    }
    last
}

/// Panics with `what`, the differences and both runs when `ours` and
/// `theirs` differ.
pub fn assert_same<T: PartialEq + Debug>(
    label: &str,
    runs: (&Run, &Run),
    what: &str,
    ours: &BTreeMap<PathBuf, T>,
    theirs: &BTreeMap<PathBuf, T>,
) {
    let diff = map_diff(ours, theirs);
    if !diff.is_empty() {
        let what = format!("{what}:\n{}", diff.join("\n"));
        panic!("{}", show_runs(label, &what, runs.0, runs.1));
    }
}
