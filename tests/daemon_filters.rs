//! Filter rules through the daemon transport: each rule mix is pushed and
//! pulled between stock rsync and `oxsync --daemon`, and between oxsync and
//! `rsync --daemon`. The same transfer done by stock rsync against stock
//! `rsync --daemon` into a second, identically prepared destination is the
//! reference: exit codes, sorted itemize lines (with `*deleting`) and the
//! destination trees must be equal.
//!
//! The tree builder and the tree comparison are `filters.rs`'s;
//! `daemon_options.rs` runs its options through [`compare`].
use crate::daemon::{start, url, Daemon};
use crate::filters::{make_filter_tree, prepare_dst, tree_diff};
use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    compare(way, args, "", |_, _| {});
}

/// What [`compare`] ran: the scratch directory (module `f`, kept until
/// the caller is done), both destinations and both runs.
pub(crate) struct Compared {
    _scratch: Scratch,
    pub dst: PathBuf,
    pub dst_ref: PathBuf,
    pub ours: Run,
    pub theirs: Run,
}

impl Compared {
    /// `what` with both runs, for an assertion message.
    pub fn show(&self, label: &str, what: &str) -> String {
        show_runs(label, what, &self.ours, &self.theirs)
    }
}

/// The filter suite's source and destinations (each then changed by
/// `prep(scratch root, dst)`) in module `f` (`module_extra`: more module
/// lines); runs `-ai ARGS` one way and against stock rsync and a stock
/// daemon; compares exit codes, itemize lines (stock rsync's not empty)
/// and destination trees.
pub(crate) fn compare(
    way: Way,
    args: &[&str],
    module_extra: &str,
    prep: impl Fn(&Path, &Path),
) -> Compared {
    let scratch = Scratch::new();
    let src = scratch.path("src");
    make_filter_tree(&src);
    let (dst, dst_ref) = (scratch.path("dst"), scratch.path("dst_ref"));
    prepare_dst(&src, &dst);
    prepare_dst(&src, &dst_ref);
    prep(scratch.root(), &dst);
    prep(scratch.root(), &dst_ref);
    let modules = format!(
        "[f]\npath = {}\nread only = no\n{module_extra}",
        scratch.root().display()
    );
    let stock = start(&rsync_bin(), &modules);
    let (client, daemon) = match way {
        Way::RsyncPush | Way::RsyncPull => (rsync_bin(), start(&oxsync_bin(), &modules)),
        Way::OxPush | Way::OxPull => (oxsync_bin(), start(&rsync_bin(), &modules)),
    };
    let mut ours = command(&client, &daemon, way.push(), args, "dst");
    let mut theirs = command(&rsync_bin(), &stock, way.push(), args, "dst_ref");
    let ours = run(ours.current_dir(scratch.root()), &scratch.logs());
    let theirs = run(theirs.current_dir(scratch.root()), &scratch.logs());
    let label = format!("{way:?} {args:?}");
    let show = |what: &str| show_runs(&label, what, &ours, &theirs);
    assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
    assert!(
        !theirs.itemized().is_empty(),
        "{}",
        show("stock rsync itemized nothing")
    );
    if let Some(diff) = itemize_diff(&ours, &theirs) {
        panic!("{}", show(&diff));
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
    Compared {
        _scratch: scratch,
        dst,
        dst_ref,
        ours,
        theirs,
    }
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
