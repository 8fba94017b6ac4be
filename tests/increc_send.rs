//! Incremental recursion with oxsync SENDING (upstream's inc_recurse,
//! flist.c send_extra_file_list()): an oxsync client pushing to stock
//! `rsync --server` (3.2.7 and 3.5.0), stock clients pulling from
//! `oxsync --server` and from an oxsync daemon, and an oxsync local copy;
//! each with -H, --delete (during), a filter rule, compared with stock
//! rsync doing the same (trees, itemize lines, exit codes). That the lists
//! were really sent one per directory is read from the stock receiver's
//! `--debug=FLIST3` lines ("[receiver] flist start=N, used=M"), which must
//! be the ones rsync's own sender produces.
use crate::increc::{assert_links, make_tree, plant_extraneous};
use crate::util::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The options of every run: archive, hard links, deletion during the
/// transfer, one exclude, itemized.
const OPTS: [&str; 5] = [
    "-aHi",
    "--delete",
    "--exclude=f5.dat",
    "--exclude=uplink",
    "--debug=FLIST3",
];

/// The receiving side's list lines: one per list it received.
fn receiver_lists(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| {
            l.to_ascii_lowercase()
                .starts_with("[receiver] flist start=")
        })
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Source tree plus a destination with extraneous entries.
fn setup(s: &Scratch) -> (PathBuf, PathBuf, PathBuf) {
    let (src, ours, theirs) = (s.path("src"), s.path("ours"), s.path("theirs"));
    assert!(make_tree(&src) > 200);
    plant(&src, &ours);
    plant(&src, &theirs);
    (src, ours, theirs)
}

/// Extraneous entries in `dst`; every directory of both trees gets a fixed
/// mtime (the source's all differ from the destination's), so that the
/// runs do not depend on the second they were made in.
fn plant(src: &Path, dst: &Path) {
    plant_extraneous(dst);
    fix_dirs(src, T0 - 100);
    fix_dirs(dst, T0 + 100);
}

/// Both runs agree (exit code, itemize lines), the trees are the same
/// (contents, modes, mtimes, links), and the receiving side got the lists
/// rsync's own sender sends: more than one.
fn compare(label: &str, ours: &Run, theirs: &Run, dst: &Path, ref_dst: &Path) {
    assert_runs_agree(label, ours, theirs);
    assert_eq!(
        ours.code,
        Some(0),
        "{}",
        show_runs(label, "exit code", ours, theirs)
    );
    assert_same_tree(ref_dst, dst);
    assert_links(dst);
    assert!(!dst.join("d2/s0/gone").exists(), "{label}: not deleted");
    assert!(
        !dst.join("d0/s0/t0/f5.dat").exists(),
        "{label}: not excluded"
    );
    let (a, b) = (receiver_lists(&ours.stdout), receiver_lists(&theirs.stdout));
    assert!(b.len() > 10, "{label}: {}", theirs.stdout);
    assert_eq!(a, b, "{}", show_runs(label, "lists differ", ours, theirs));
}

/// oxsync pushes to stock `rsync --server` (3.2.7 and 3.5.0).
#[test]
fn push_to_stock_server() {
    for stock in stock_bins() {
        let s = Scratch::new();
        let (src, ours, theirs) = setup(&s);
        let server = debug_wrapper(&s, &stock, "server.sh");
        let mut runs = Vec::new();
        for (bin, dst) in [(oxsync_bin(), &ours), (stock.clone(), &theirs)] {
            runs.push(run(
                Command::new(bin)
                    .args(OPTS)
                    .arg("-e")
                    .arg(s.rsh())
                    .arg(format!("--rsync-path={}", server.display()))
                    .arg(format!("{}/", src.display()))
                    .arg(format!("host:{}/", dst.display())),
                &s.logs(),
            ));
        }
        let label = format!("push to {}", stock.display());
        compare(&label, &runs[0], &runs[1], &ours, &theirs);
    }
}

/// Stock clients pull from `oxsync --server`, which sends incrementally.
#[test]
fn stock_pull_from_server() {
    for stock in stock_bins() {
        let s = Scratch::new();
        let (src, ours, theirs) = setup(&s);
        let mut runs = Vec::new();
        for (server, dst) in [(oxsync_bin(), &ours), (stock.clone(), &theirs)] {
            runs.push(run(
                Command::new(&stock)
                    .args(OPTS)
                    .arg("-e")
                    .arg(s.rsh())
                    .arg(format!("--rsync-path={}", server.display()))
                    .arg(format!("host:{}/", src.display()))
                    .arg(format!("{}/", dst.display())),
                &s.logs(),
            ));
        }
        let label = format!("{} pulling", stock.display());
        compare(&label, &runs[0], &runs[1], &ours, &theirs);
    }
}

/// A stock client pulls from an oxsync daemon's module.
#[test]
fn stock_pull_from_daemon() {
    let d = crate::daemon::start(
        &oxsync_bin(),
        "[mod]\npath = %ROOT%/src\nread only = yes\nmunge symlinks = no\n",
    );
    let root = crate::daemon::root(&d);
    let src = root.join("src");
    fs::remove_dir_all(&src).expect("rm src");
    make_tree(&src);
    let (ours, theirs) = (root.join("ours"), root.join("theirs"));
    plant(&src, &ours);
    plant(&src, &theirs);
    let logs = root.join("logs");
    fs::create_dir_all(&logs).expect("logs");
    let s = Scratch::new();
    let opts = [
        "-rlptHi",
        "--delete",
        "--exclude=f5.dat",
        "--exclude=uplink",
        "--debug=FLIST3",
    ];
    let r_ours = run(
        Command::new(rsync_bin())
            .args(opts)
            .arg(crate::daemon::url(&d, "mod/"))
            .arg(format!("{}/", ours.display())),
        &logs,
    );
    // The reference: stock rsync reading the same tree over a remote shell.
    let r_theirs = run(
        Command::new(rsync_bin())
            .args(opts)
            .arg("-e")
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", rsync_bin().display()))
            .arg(format!("host:{}/", src.display()))
            .arg(format!("{}/", theirs.display())),
        &logs,
    );
    compare("daemon pull", &r_ours, &r_theirs, &ours, &theirs);
}

/// A local copy: oxsync on both ends, against rsync's own local copy. Both
/// say they send incrementally, and count `ir-chk` while lists are still
/// coming.
#[test]
fn local_copy() {
    let s = Scratch::new();
    let (src, ours, theirs) = setup(&s);
    let mut runs = Vec::new();
    for (bin, dst) in [(oxsync_bin(), &ours), (rsync_bin(), &theirs)] {
        runs.push(run(
            Command::new(bin)
                .args(["-aHiv", "--delete", "--exclude=f5.dat", "--exclude=uplink"])
                .arg(format!("{}/", src.display()))
                .arg(format!("{}/", dst.display())),
            &s.logs(),
        ));
    }
    assert_runs_agree("local", &runs[0], &runs[1]);
    assert_same_tree(&theirs, &ours);
    assert_links(&ours);
    assert!(!ours.join("d2/s0/gone").exists());
    let first = |r: &Run| r.stdout.lines().next().unwrap_or_default().to_string();
    assert_eq!(first(&runs[0]), "sending incremental file list");
    assert_eq!(first(&runs[0]), first(&runs[1]));
}

/// `--info=progress2` counts `ir-chk` while the lists are incomplete and
/// `to-chk` once the last has been sent, as rsync does.
#[test]
fn progress2_ir_chk_then_to_chk() {
    let s = Scratch::new();
    let src = s.path("src");
    make_tree(&src);
    // Big enough that the first file's line comes before all the lists:
    // more than 1000 entries below the first directory.
    for k in 0..1200 {
        write_file(&src.join(format!("d3/s2/t2/many{k:04}")), b"x", 0o644, T0);
    }
    let r = run(
        Command::new(oxsync_bin())
            .args(["-a", "--info=progress2", "--no-inc-recursive"])
            .arg(format!("{}/", src.display()))
            .arg(s.path("plain")),
        &s.logs(),
    );
    r.assert_code(0);
    assert!(!r.stdout.contains("ir-chk="), "{}", r.stdout);
    let r = run(
        Command::new(oxsync_bin())
            .args(["-a", "--info=progress2"])
            .arg(format!("{}/", src.display()))
            .arg(s.path("inc")),
        &s.logs(),
    );
    r.assert_code(0);
    let text = r.stdout.replace('\r', "\n");
    let ir = text.find("ir-chk=").expect("no ir-chk while lists come");
    let to = text.rfind("to-chk=").expect("no to-chk at the end");
    assert!(ir < to, "{}", text);
    assert!(!text[to..].contains("ir-chk="), "{}", text);
}

/// `--no-inc-recursive` sends one
/// list, as before.
#[test]
fn no_inc_recursive_sends_one_list() {
    let s = Scratch::new();
    let (src, ours) = (s.path("src"), s.path("fresh"));
    make_tree(&src);
    let server = debug_wrapper(&s, &rsync_bin(), "server.sh");
    let r = run(
        Command::new(oxsync_bin())
            .args(["-aH", "--no-inc-recursive", "--debug=FLIST3", "-e"])
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", server.display()))
            .arg(format!("{}/", src.display()))
            .arg(format!("host:{}/", ours.display())),
        &s.logs(),
    );
    r.assert_code(0);
    assert_eq!(receiver_lists(&r.stdout).len(), 1, "{}", r.stdout);
    assert_same_tree(&src, &ours);
}
