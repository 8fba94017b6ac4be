//! Incremental recursion with oxsync SENDING -R names (implied
//! directories on and off, `a/b/c/`, `./x/y`, a file deep down), a
//! --files-from list (with and without -R) and --remove-source-files, to
//! stock receivers (3.2.7 and 3.5.0): an oxsync client pushing to stock
//! `rsync --server`, stock clients pulling from `oxsync --server`, an
//! oxsync client pushing to a stock daemon and a stock client pulling from
//! an oxsync daemon; each with -H, --delete and filter rules, compared
//! with stock rsync sending the same (trees, itemize lines, exit codes).
//! That the lists went one per directory, as rsync 3.5.0's sender sends
//! them (which directories in the first list, implied ones flagged, their
//! order and indexes), is read from the stock receiver's `--debug=FLIST3`
//! lines: each list's "flist start=N, used=M" and its entries.
// upstream: flist.c send_file_list() (inc_recurse && relative_paths),
// send_implied_dirs(), send1extra()
use crate::increc::{make_tree, plant_extraneous};
use crate::pair::clamped_tree;
use crate::util::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The -R names: a directory with a trailing slash, one under an implied
/// "." (`./`), a file and a hard link deep down, a directory whose
/// implied parent is also named by another argument, a top-level file.
const NAMES: [&str; 6] = [
    "d0/s0/t0/",
    "./d3/s2",
    "d2/s1/far2",
    "d1/s1/",
    "d0/s2/t1/f3.dat",
    "top.txt",
];

/// The options of every run: archive, hard links, deletion during the
/// transfer, filter rules (a stock receiver refuses an implied directory
/// its rules exclude, so none of them does), itemized.
const OPTS: [&str; 6] = [
    "-aHi",
    "--delete",
    "--exclude=f5.dat",
    "--exclude=uplink",
    "--exclude=t2/",
    "--debug=FLIST3",
];

/// The ways of naming the files, each added to [`OPTS`] (with the names
/// as arguments, or `%FF` replaced by a --files-from list of them).
const MODES: [&[&str]; 4] = [
    &["-R"],
    &["-R", "--no-implied-dirs"],
    &["-r", "--files-from=%FF"],
    &["-r", "--no-R", "--files-from=%FF"],
];

/// The receiving side's lists: each list's start and size, and each
/// entry's line (index, depth, name, mode, flags), in list order.
fn receiver_lists(out: &str) -> Vec<String> {
    let mut lists: Vec<Vec<String>> = Vec::new();
    for l in out.lines() {
        let low = l.to_ascii_lowercase();
        if low.starts_with("[receiver] flist start=") {
            lists.push(vec![low]);
        } else if low.starts_with("[receiver] i=") {
            if let Some(cur) = lists.last_mut() {
                cur.push(low);
            }
        }
    }
    // The top list (start=1 or 0) first, then by start: the order the
    // lists were received in may depend on timing.
    lists.sort();
    lists.concat()
}

/// How many lists the receiving side got.
fn list_count(out: &str) -> usize {
    out.lines()
        .filter(|l| {
            l.to_ascii_lowercase()
                .starts_with("[receiver] flist start=")
        })
        .count()
}

/// Source tree (directories at fixed mtimes), a --files-from list of
/// [`NAMES`], and destinations holding extraneous entries.
fn setup(s: &Scratch) -> (PathBuf, PathBuf, PathBuf) {
    let (src, ours, theirs) = (s.path("src"), s.path("ours"), s.path("theirs"));
    assert!(make_tree(&src) > 200);
    fix_dirs(&src, T0 - 100);
    for d in [&ours, &theirs] {
        plant_extraneous(d);
        fix_dirs(d, T0 + 100);
    }
    fs::write(s.path("list"), NAMES.join("\n") + "\n").expect("list");
    (src, ours, theirs)
}

/// The arguments of one mode: its options, then the names (or none, with
/// a --files-from list read from `list`), each name prefixed by `host`.
fn mode_args(mode: &[&str], list: &Path, host: &str) -> Vec<String> {
    let mut v: Vec<String> = OPTS.iter().map(|o| o.to_string()).collect();
    let mut names = true;
    for o in mode {
        if o.contains("%FF") {
            names = false;
        }
        v.push(o.replace("%FF", &list.to_string_lossy()));
    }
    if names {
        v.extend(NAMES.iter().map(|n| format!("{host}{n}")));
    } else {
        v.push(format!("{host}."));
    }
    v
}

/// Both runs agree (exit code, sorted itemize lines), the trees are the
/// same (contents, modes, mtimes, hard links), deletion and exclusion
/// happened, and the receiving side got the lists rsync's own sender
/// sends: more than one, with the same entries in each.
fn compare(label: &str, ours: &Run, theirs: &Run, dst: &Path, ref_dst: &Path, lists: bool) {
    assert_runs_agree(label, ours, theirs);
    assert_eq!(
        ours.code,
        Some(0),
        "{}",
        show_runs(label, "exit code", ours, theirs)
    );
    // Implied directories keep the time their new subdirectories gave
    // them, on both: "recent" times compare equal.
    let recent = T0 + 10_000_000;
    let diff = map_diff(&clamped_tree(dst, recent), &clamped_tree(ref_dst, recent));
    assert!(
        diff.is_empty(),
        "{label}: trees differ:\n{}",
        diff.join("\n")
    );
    assert!(
        !dst.join("d0/s0/t0/f5.dat").exists(),
        "{label}: not excluded"
    );
    if !label.contains("--no-R") {
        assert!(
            !dst.join("d0/s0/t0/extraneous").exists(),
            "{label}: not deleted"
        );
        // d1 is implied (no contents): nothing deleted in it.
        assert!(dst.join("d1/extraneous").exists(), "{label}: deleted");
        assert!(
            dst.join("d0/s2/t1/f3.dat").exists(),
            "{label}: {}",
            ours.stdout
        );
        let ino = |p: &str| fs::metadata(dst.join(p)).expect(p).ino();
        assert_eq!(ino("d0/s0/t0/f1.dat"), ino("d0/s0/t0/same_dir"), "{label}");
        assert_eq!(ino("d0/s0/t0/f2.dat"), ino("d2/s1/far2"), "{label}");
        assert_eq!(ino("top.txt"), ino("d1/s1/t1/top_again"), "{label}");
    }
    if !lists {
        return;
    }
    assert!(list_count(&theirs.stdout) > 5, "{label}: {}", theirs.stdout);
    let (a, b) = (receiver_lists(&ours.stdout), receiver_lists(&theirs.stdout));
    assert_eq!(a, b, "{}", show_runs(label, "lists differ", ours, theirs));
}

/// Fresh destinations for the next run of the same scratch.
fn reset(ours: &Path, theirs: &Path) {
    for d in [ours, theirs] {
        fs::remove_dir_all(d).expect("rm dst");
        plant_extraneous(d);
        fix_dirs(d, T0 + 100);
    }
}

/// oxsync pushes to stock `rsync --server` (3.2.7 and 3.5.0) over a
/// remote shell.
#[test]
fn push_to_stock_server() {
    for stock in stock_bins() {
        let s = Scratch::new();
        let (src, ours, theirs) = setup(&s);
        let server = debug_wrapper(&s, &stock, "server.sh");
        for mode in MODES {
            reset(&ours, &theirs);
            let mut runs = Vec::new();
            for (bin, dst) in [(oxsync_bin(), &ours), (stock.clone(), &theirs)] {
                runs.push(run(
                    Command::new(bin)
                        .current_dir(&src)
                        .args(mode_args(mode, &s.path("list"), ""))
                        .arg("-e")
                        .arg(s.rsh())
                        .arg(format!("--rsync-path={}", server.display()))
                        .arg(format!("host:{}/", dst.display())),
                    &s.logs(),
                ));
            }
            let label = format!("push {mode:?} to {}", stock.display());
            compare(&label, &runs[0], &runs[1], &ours, &theirs, true);
        }
    }
}

/// Stock clients (3.2.7 and 3.5.0) pull from `oxsync --server`, which
/// sends the -R names incrementally.
#[test]
fn stock_pull_from_server() {
    for stock in stock_bins() {
        let s = Scratch::new();
        let (src, ours, theirs) = setup(&s);
        for mode in MODES {
            reset(&ours, &theirs);
            let mut runs = Vec::new();
            for (server, dst) in [(oxsync_bin(), &ours), (stock.clone(), &theirs)] {
                runs.push(run(
                    Command::new(&stock)
                        .current_dir(&src)
                        .args(mode_args(mode, &s.path("list"), "host:"))
                        .arg("-e")
                        .arg(s.rsh())
                        .arg(format!("--rsync-path={}", server.display()))
                        .arg(format!("{}/", dst.display())),
                    &s.logs(),
                ));
            }
            let label = format!("{} pulling {mode:?}", stock.display());
            compare(&label, &runs[0], &runs[1], &ours, &theirs, true);
        }
    }
}

/// A stock client pulls -R names from an oxsync daemon's module (read
/// beneath the module), against a stock daemon serving the same tree.
#[test]
fn stock_pull_from_daemon() {
    let conf = "[mod]\npath = %ROOT%/src\nread only = yes\nmunge symlinks = no\n";
    let (d_ox, d_stock) = (
        crate::daemon::start(&oxsync_bin(), conf),
        crate::daemon::start(&rsync_bin(), conf),
    );
    let s = Scratch::new();
    let (src, ours, theirs) = setup(&s);
    for d in [&d_ox, &d_stock] {
        let root = crate::daemon::root(d);
        fs::remove_dir_all(root.join("src")).expect("rm src");
        let st = Command::new("cp")
            .arg("-a")
            .arg(&src)
            .arg(root.join("src"))
            .status()
            .expect("cp");
        assert!(st.success());
    }
    for mode in MODES {
        reset(&ours, &theirs);
        let mut runs = Vec::new();
        for (d, dst) in [(&d_ox, &ours), (&d_stock, &theirs)] {
            let mut args = mode_args(mode, &s.path("list"), "");
            // Not "./d3/s2": an oxsync daemon drops the implied "." of
            // `mod/./x` (with or without incremental recursion).
            let host = crate::daemon::url(d, "mod/");
            for a in args.iter_mut() {
                if NAMES.contains(&a.as_str()) || a == "." {
                    *a = format!("{host}{}", a.trim_start_matches("./"));
                }
            }
            runs.push(run(
                Command::new(rsync_bin())
                    .args(args)
                    .arg(format!("{}/", dst.display())),
                &s.logs(),
            ));
        }
        let label = format!("daemon pull {mode:?}");
        compare(&label, &runs[0], &runs[1], &ours, &theirs, true);
    }
}

/// An oxsync client pushes to a stock daemon's module, against stock
/// rsync pushing the same: the daemon's lines stay in its log, so that the
/// lists went incrementally is read from the client ("sending incremental
/// file list", which rsync prints only then).
#[test]
fn push_to_stock_daemon() {
    for stock in stock_bins() {
        let d = crate::daemon::start(
            &stock,
            "[ours]\npath = %ROOT%/ours\nread only = no\n[theirs]\npath = %ROOT%/theirs\nread only = no\n",
        );
        let root = crate::daemon::root(&d);
        let s = Scratch::new();
        let (src, _, _) = setup(&s);
        let (ours, theirs) = (root.join("ours"), root.join("theirs"));
        for d in [&ours, &theirs] {
            fs::create_dir_all(d).expect("mkdir");
        }
        for mode in MODES {
            reset(&ours, &theirs);
            let mut runs = Vec::new();
            for (bin, module) in [(oxsync_bin(), "ours/"), (stock.clone(), "theirs/")] {
                runs.push(run(
                    Command::new(bin)
                        .current_dir(&src)
                        .args(mode_args(mode, &s.path("list"), ""))
                        .arg("-v")
                        .arg(crate::daemon::url(&d, module)),
                    &s.logs(),
                ));
            }
            let label = format!("push {mode:?} to {} daemon", stock.display());
            compare(&label, &runs[0], &runs[1], &ours, &theirs, false);
            for r in &runs {
                assert!(
                    r.stdout.starts_with("sending incremental file list\n"),
                    "{label}: {}",
                    r.stdout
                );
            }
        }
    }
}

/// --remove-source-files with -R, incrementally: the files sent go from
/// the source, as with stock rsync sending (to a stock receiver, and
/// oxsync to itself locally, with many lists in flight).
#[test]
fn remove_source_files() {
    for stock in stock_bins() {
        let s = Scratch::new();
        let (src, ours, theirs) = setup(&s);
        let src2 = s.path("src2");
        make_tree(&src2);
        fix_dirs(&src2, T0 - 100);
        let server = debug_wrapper(&s, &stock, "server.sh");
        let mut runs = Vec::new();
        for (bin, from, dst) in [(oxsync_bin(), &src, &ours), (stock.clone(), &src2, &theirs)] {
            runs.push(run(
                Command::new(bin)
                    .current_dir(from)
                    .args(mode_args(
                        &["-R", "--remove-source-files"],
                        &s.path("list"),
                        "",
                    ))
                    .arg("-e")
                    .arg(s.rsh())
                    .arg(format!("--rsync-path={}", server.display()))
                    .arg(format!("host:{}/", dst.display())),
                &s.logs(),
            ));
        }
        let label = format!("--remove-source-files to {}", stock.display());
        compare(&label, &runs[0], &runs[1], &ours, &theirs, true);
        let rel = |root: &Path| -> Vec<PathBuf> {
            let mut v: Vec<PathBuf> = walk_files(root)
                .iter()
                .map(|p| p.strip_prefix(root).expect("below").to_path_buf())
                .collect();
            v.sort();
            v
        };
        assert_eq!(rel(&src), rel(&src2), "{label}: sources left differ");
        assert!(
            !src.join("d3/s2/t0/f0.dat").exists(),
            "{label}: not removed"
        );
        assert!(src.join("d3/s1/t0/f0.dat").exists(), "{label}: removed");
    }
    // oxsync on both ends: the receiving side's MSG_SUCCESS never waits
    // for a sender busy writing to it.
    let s = Scratch::new();
    let src = s.path("src");
    for k in 0..300 {
        put(&src, &format!("p/d{k}/f"), b"f\n", T0);
        put(&src, &format!("p/d{k}/e/g"), b"g\n", T0);
    }
    let r = run(
        Command::new(oxsync_bin())
            .current_dir(&src)
            .args(["-aR", "--remove-source-files", "-v", "p/"])
            .arg(s.path("dst")),
        &s.logs(),
    );
    r.assert_code(0);
    assert!(r.stdout.starts_with("sending incremental file list\n"));
    let left = walk_files(&src);
    assert!(left.is_empty(), "left in the source: {left:?}");
    assert_eq!(walk_files(&s.path("dst")).len(), 600);
}

/// The regular files below `root`.
fn walk_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir").flatten() {
            let ft = e.file_type().expect("file type");
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

/// `getfacl -R` of a tree, its own path left out.
fn acls_of(dir: &Path) -> String {
    let out = Command::new("getfacl")
        .args(["-R", "-p", "."])
        .current_dir(dir)
        .output()
        .expect("run getfacl");
    assert!(out.status.success(), "getfacl: {:?}", out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// -A: each entry's ACLs follow it in its list, the ACLs already sent
/// named by index in later lists (one cache for the whole transfer), to
/// stock receivers pushed to and pulling, -R names incrementally.
#[test]
fn acls_incremental() {
    for stock in stock_bins() {
        let s = Scratch::new();
        let (src, ours, theirs) = setup(&s);
        let acl = |args: &[&str], p: &str| {
            let st = Command::new("setfacl")
                .args(args)
                .arg(src.join(p))
                .status()
                .expect("setfacl");
            assert!(st.success(), "setfacl {args:?} {p}");
        };
        // The same ACL in three lists, another in a fourth, a default ACL.
        for p in ["d0/s0/t0/f0.dat", "d1/s1/t0/f1.dat", "d3/s2/t1/f2.dat"] {
            acl(&["-m", "u:daemon:rw-,g:bin:r--"], p);
        }
        acl(&["-m", "u:bin:r-x"], "d1/s1/t1/f4.dat");
        acl(&["-d", "-m", "u:bin:r-x"], "d3/s2/t0");
        let server = debug_wrapper(&s, &stock, "server.sh");
        for pull in [false, true] {
            reset(&ours, &theirs);
            let mut runs = Vec::new();
            for (bin, dst) in [(oxsync_bin(), &ours), (stock.clone(), &theirs)] {
                let mut c = Command::new(if pull { stock.clone() } else { bin.clone() });
                let host = if pull { "host:" } else { "" };
                c.current_dir(&src)
                    .args(mode_args(&["-R", "-A"], &s.path("list"), host))
                    .arg("-e")
                    .arg(s.rsh());
                if pull {
                    c.arg(format!("--rsync-path={}", bin.display()))
                        .arg(format!("{}/", dst.display()));
                } else {
                    c.arg(format!("--rsync-path={}", server.display()))
                        .arg(format!("host:{}/", dst.display()));
                }
                runs.push(run(&mut c, &s.logs()));
            }
            let label = format!(
                "-A {} {}",
                if pull { "pull by" } else { "push to" },
                stock.display()
            );
            compare(&label, &runs[0], &runs[1], &ours, &theirs, true);
            let got = acls_of(&ours);
            assert_eq!(got, acls_of(&theirs), "{label}");
            assert!(got.contains("user:daemon:rw-"), "{label}: {got}");
            assert!(got.contains("default:user:bin:r-x"), "{label}: {got}");
        }
    }
}
