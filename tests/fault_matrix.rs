//! The fault-injection matrix: each filesystem operation of each role fails
//! once (the debug binary's `OXSYNC_FAILPOINT=OP@ROLE`, see docs/faults.md),
//! and the peer vanishes at each phase of a pull (a remote shell that passes
//! on only the first N bytes of the server's output). Every case must end
//! within its deadline with rsync's exit code for that fault, and the tree
//! check holds: each destination file holds its old or its new content (a
//! new file may be missing), no temp file is left.
//!
//! Stock rsync cannot inject a failing system call, so the expected code is
//! upstream's for that call (receiver.c, generator.c, sender.c): a failed
//! write is fatal (11), any other failing call is reported and the run goes
//! on (23). The vanishing peer is run against stock rsync too.
use crate::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest one case may take.
const DEADLINE: Duration = Duration::from_secs(30);

/// Source and destination with old content, new content, a new directory
/// and a file to delete.
fn trees(s: &Scratch, big: bool) -> (PathBuf, PathBuf) {
    let (src, dst) = (s.path("src"), s.path("dst"));
    for d in [src.join("d"), src.join("newdir"), dst.join("d")] {
        fs::create_dir_all(d).unwrap();
    }
    for (name, n) in [("a", 1), ("d/b", 2), ("newdir/c", 3)] {
        fs::write(src.join(name), format!("new content {n}\n").repeat(200)).unwrap();
    }
    for (name, n) in [("a", 1), ("d/b", 2), ("gone", 4)] {
        fs::write(dst.join(name), format!("old content {n}\n")).unwrap();
    }
    if big {
        for k in 0..100 {
            fs::write(
                src.join(format!("d/a-small-file-with-a-long-name-{k:03}")),
                format!("{k}\n"),
            )
            .unwrap();
        }
        write_big_file(&src.join("zz-big"), 1 << 20, 3);
    }
    (src, dst)
}

/// Every file beneath `root` (relative name, content).
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// The tree check: `after` holds, for each name, the old or the new
/// content; nothing else (no temp file).
fn tree_holds(
    label: &str,
    old: &BTreeMap<String, Vec<u8>>,
    new: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
) {
    for (name, data) in after {
        assert!(
            old.get(name) == Some(data) || new.get(name) == Some(data),
            "{label}: {name} holds neither its old nor its new content \
             ({} bytes) (all: {:?})",
            data.len(),
            after.keys().collect::<Vec<_>>()
        );
    }
}

/// Runs `cmd` in its own process group; its exit code, or a failure when
/// it outlives [`DEADLINE`].
fn within(label: &str, cmd: &mut Command, err: &Path) -> (Option<i32>, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(err).unwrap())
        .env("LC_ALL", "C")
        .env_remove("RSYNC_RSH")
        .process_group(0)
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > DEADLINE {
            kill_group(child.id());
            let _ = child.wait();
            panic!(
                "{label}: did not end within {DEADLINE:?}: {}",
                fs::read_to_string(err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // A server left behind must end too.
    while Command::new("kill")
        .args(["-0", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            start.elapsed() < DEADLINE,
            "{label}: a process of the run outlived it"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (status.code(), fs::read_to_string(err).unwrap_or_default())
}

#[derive(Clone, Copy, Debug)]
enum Way {
    Local,
    Pull,
    Push,
}

fn transfer(bin: &Path, s: &Scratch, way: Way, rsh: &Path, src: &Path, dst: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args(["-rt", "--delete"]);
    let (src, dst) = (format!("{}/", src.display()), format!("{}/", dst.display()));
    match way {
        Way::Local => c.args([src, dst]),
        Way::Pull => c
            .arg("-e")
            .arg(rsh)
            .arg("--rsync-path")
            .arg(bin)
            .args([format!("localhost:{src}"), dst]),
        Way::Push => c
            .arg("-e")
            .arg(rsh)
            .arg("--rsync-path")
            .arg(bin)
            .args([src, format!("localhost:{dst}")]),
    };
    let _ = s;
    c
}

#[test]
fn each_filesystem_operation_fails_once() {
    let bin = oxsync_bin();
    let cases: &[(&str, i32, &[Way])] = &[
        ("open@sender", 23, &[Way::Local, Way::Pull]),
        ("read@sender", 23, &[Way::Local, Way::Push]),
        ("open@receiver", 23, &[Way::Local]),
        ("write@receiver", 11, &[Way::Local, Way::Pull, Way::Push]),
        ("fsync@receiver", 11, &[Way::Local, Way::Pull, Way::Push]),
        ("rename@receiver", 23, &[Way::Local, Way::Push]),
        ("mkdir@generator", 23, &[Way::Local]),
        ("unlink@generator", 23, &[Way::Local]),
        ("setmeta@receiver", 23, &[Way::Local]),
        ("setmeta@generator", 23, &[Way::Local]),
    ];
    for (point, code, ways) in cases {
        for way in *ways {
            let s = Scratch::new();
            let (src, dst) = trees(&s, false);
            let (old, new) = (files(&dst), files(&src));
            let label = format!("{point} {way:?}");
            let (got, err) = within(
                &label,
                transfer(&bin, &s, *way, &s.rsh(), &src, &dst)
                    // upstream: receiver.c receive_data(), do_fsync
                    .args(point.starts_with("fsync").then_some("--fsync"))
                    // With -t a missing directory is first made, quietly,
                    // where its parent's list names it, and made again at
                    // its own list if that failed (upstream
                    // recv_generator(), is_dir < 0): with -O the one mkdir
                    // is the one that reports.
                    .args(point.starts_with("mkdir").then_some("-O"))
                    .env("OXSYNC_FAILPOINT", point),
                &s.path("err"),
            );
            assert_eq!(got, Some(*code), "{label}: {err}");
            assert!(
                err.contains("Input/output error"),
                "{label}: the fault was not hit: {err}"
            );
            tree_holds(&label, &old, &new, &files(&dst));
        }
    }
}

/// With incremental recursion and -t, a directory whose first mkdir (where
/// its parent's list names it) fails once is made at its own list: the run
/// ends whole, as stock rsync's (upstream recv_generator(), is_dir < 0).
#[test]
fn a_directory_whose_early_mkdir_fails_is_made_at_its_list() {
    let s = Scratch::new();
    let (src, dst) = trees(&s, false);
    let label = "early mkdir@generator Local";
    let (got, err) = within(
        label,
        transfer(&oxsync_bin(), &s, Way::Local, &s.rsh(), &src, &dst)
            .env("OXSYNC_FAILPOINT", "mkdir@generator"),
        &s.path("err"),
    );
    assert_eq!(got, Some(0), "{label}: {err}");
    assert_eq!(files(&dst), files(&src), "{label}");
}

/// A remote shell that hands on only the first `n` bytes of the server's
/// output, then closes the connection (the peer vanishes there).
fn cutting_rsh(s: &Scratch, n: u64) -> PathBuf {
    let p = s.path(&format!("cut{n}.sh"));
    // exec: no shell stays behind holding the client's end open.
    write_script(
        &p,
        &format!("#!/bin/bash\nshift\nexec \"$@\" > >(exec dd iflag=count_bytes count={n} bs=64k status=none)\n"),
    );
    p
}

#[test]
fn peer_vanishes_at_each_phase_of_a_pull() {
    // The size of the server's whole output (the client's "Total bytes
    // received"), to place the cuts.
    let total = |bin: &Path| {
        let s = Scratch::new();
        let (src, dst) = trees(&s, true);
        let r = run(
            transfer(bin, &s, Way::Pull, &s.rsh(), &src, &dst).arg("--stats"),
            &s.logs(),
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        stat_bytes(&r.stdout, "Total bytes received").expect("Total bytes received")
    };
    for bin in [oxsync_bin(), rsync_bin()] {
        let n = total(&bin);
        for (phase, cut) in [
            ("greeting", 0),
            ("greeting", 2),
            // The list of 100 long names is several KB.
            ("file list", 600),
            ("transfer", n - (300 << 10)),
            // The stats and the goodbye are the last ~20 bytes; timings
            // vary their length by a few bytes between runs.
            ("final stats", n - 10),
        ] {
            let s = Scratch::new();
            let (src, dst) = trees(&s, true);
            let (old, new) = (files(&dst), files(&src));
            let label = format!("{} vanishing at {phase} (byte {cut} of {n})", bin.display());
            let rsh = cutting_rsh(&s, cut);
            let (code, err) = within(
                &label,
                &mut transfer(&bin, &s, Way::Pull, &rsh, &src, &dst),
                &s.path("err"),
            );
            assert_eq!(code, Some(12), "{label}: {err}");
            assert!(
                err.contains("connection unexpectedly closed"),
                "{label}: {err}"
            );
            tree_holds(&label, &old, &new, &files(&dst));
        }
    }
}
