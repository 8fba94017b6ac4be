//! The sender opens each file beneath the directory it opened the
//! previous file in, when both share it (rsync's files are asked for in
//! list order): the cached directory handle must not become a way out of
//! the tree, and a file that vanished or changed between the listing and
//! the sending reads as rsync 3.5.0 has it (sender.c send_files(): "file
//! has vanished" and exit 24; the size the opened file has is sent).
//!
//! The moments are made deterministic with FIFOs the sender opens: a
//! per-directory merge file (`-F`) in `zzz/`, read when the scan reaches
//! it (after `sub/` was listed, before anything is sent:
//! `--no-inc-recursive`), and, for the swap, `sub/a` itself turned into a
//! FIFO that the sender reads (`--copy-devices` reads a non-regular file
//! to its listed size) after it opened `sub/` for it and before it opens
//! `sub/b`.
use super::util::{run, run_timeout, snapshot, Scratch, Way};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "OUTSIDE-SECRET-do-not-copy\n";
const INSIDE: &str = "in-tree\n";

/// src/{sub/{a, b, c}, zzz/.rsync-filter (a FIFO)}, outside/{b, c}.
struct Setup {
    s: Scratch,
    src: PathBuf,
    outside: PathBuf,
    dest: PathBuf,
}

fn setup() -> Setup {
    let s = Scratch::new();
    let (src, outside, dest) = (s.path("src"), s.path("outside"), s.path("dest"));
    for d in [
        src.join("sub"),
        src.join("zzz"),
        outside.clone(),
        dest.clone(),
    ] {
        fs::create_dir_all(d).expect("mkdir");
    }
    for n in ["a", "b", "c"] {
        fs::write(src.join("sub").join(n), INSIDE).expect("w");
    }
    fs::write(outside.join("b"), SECRET).expect("w");
    fs::write(outside.join("c"), SECRET).expect("w");
    mkfifo(&src.join("zzz/.rsync-filter"));
    Setup {
        s,
        src,
        outside,
        dest,
    }
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(st.success(), "mkfifo {}", p.display());
}

/// Waits (up to the harness deadline) until someone has the FIFO `fifo`
/// open for reading, and returns its write end.
fn writer_when_read(fifo: &Path) -> Option<fs::File> {
    let deadline = Instant::now() + run_timeout();
    loop {
        // ENXIO until a reader has the FIFO open.
        match fs::OpenOptions::new()
            .write(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(fifo)
        {
            Ok(f) => return Some(f),
            Err(_) if Instant::now() > deadline => return None,
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Waits (up to the harness deadline) until another process has `p`
/// open (a descriptor of it in /proc/PID/fd).
fn opened_elsewhere(p: &Path) -> bool {
    let me = std::process::id().to_string();
    let deadline = Instant::now() + run_timeout();
    while Instant::now() < deadline {
        let procs = fs::read_dir("/proc").expect("/proc");
        for pid in procs.flatten() {
            let name = pid.file_name();
            if name.to_string_lossy() == me || name.to_string_lossy().parse::<u32>().is_err() {
                continue;
            }
            let Ok(fds) = fs::read_dir(pid.path().join("fd")) else {
                continue;
            };
            if fds
                .flatten()
                .any(|fd| fs::read_link(fd.path()).is_ok_and(|l| l == p))
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Runs `way`'s transfer of `src/` into `dest/` (`-aF --no-inc-recursive`
/// and `extra`), calling `when_scanned` once the scan reads the merge
/// file in `zzz/` (everything in `sub/` listed, nothing sent yet).
fn transfer(
    t: &Setup,
    way: Way,
    extra: &[&str],
    when_scanned: impl FnOnce() + Send + 'static,
) -> super::util::Run {
    let mut opts = vec!["-aF", "--no-inc-recursive"];
    opts.extend_from_slice(extra);
    let src = format!("{}/", t.src.display());
    let dest = format!("{}/", t.dest.display());
    let mut cmd = way.command(&t.s, &opts, &[src], &dest);
    let fifo = t.src.join("zzz/.rsync-filter");
    let hook = std::thread::spawn(move || {
        let w = writer_when_read(&fifo);
        if w.is_some() {
            when_scanned();
        }
        w.is_some()
    });
    let r = run(&mut cmd, &t.s.logs());
    assert!(
        hook.join().expect("hook thread"),
        "{way:?}: the scan never read the merge file\n{}",
        r.stderr
    );
    r
}

/// `sub/` becomes a link out of the tree after the sender opened it for
/// `sub/a` and before it opens `sub/b` and `sub/c`: the outside files do
/// not arrive and the outside tree is left as it was. The sender reads
/// `b` and `c` beneath the directory it had open (`sub/`, now moved to
/// `.moved-away/`), so they arrive with their in-tree content; it never
/// resolves them through the link (the binary before the cache refused
/// them from the root, EXDEV, exit 23).
#[test]
fn dir_swapped_for_a_link_mid_directory_is_not_followed() {
    for way in Way::ALL {
        let t = setup();
        let outside_before = snapshot(&t.outside);
        let (sub, a) = (t.src.join("sub"), t.src.join("sub/a"));
        let outside = t.outside.clone();
        let slot = Arc::new(Mutex::new(None));
        let hold = slot.clone();
        let r = transfer(&t, way, &["--copy-devices"], move || {
            // sub/a, listed as a file, is now a FIFO the sender will read.
            fs::remove_file(&a).expect("rm a");
            mkfifo(&a);
            // Held open for writing here, the FIFO blocks the sender's
            // read (instead of reading as empty) until fed.
            let mut w = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&a)
                .expect("open a");
            let sender = std::thread::spawn(move || {
                if !opened_elsewhere(&a) {
                    return false;
                }
                fs::rename(&sub, sub.with_file_name(".moved-away")).expect("move sub away");
                symlink(&outside, &sub).expect("plant the link");
                w.write_all(INSIDE.as_bytes()).expect("feed a");
                true
            });
            // The merge file reads as empty once this returns; the thread
            // waits for the send phase.
            *hold.lock().expect("slot") = Some(sender);
        });
        let label = format!("{way:?}");
        let sender = slot.lock().expect("slot").take().expect("hook ran");
        assert!(
            sender.join().expect("swap thread"),
            "{label}: the sender never read sub/a\n{}",
            r.stderr
        );
        assert!(
            fs::symlink_metadata(t.src.join("sub"))
                .expect("sub")
                .file_type()
                .is_symlink(),
            "{label}: the swap was made\n{}",
            r.stderr
        );
        for n in ["a", "b", "c"] {
            let got = fs::read_to_string(t.dest.join("sub").join(n)).unwrap_or_default();
            assert_eq!(got, INSIDE, "{label}: sub/{n}\n{}", r.stderr);
        }
        assert!(
            !r.stderr.contains("OUTSIDE-SECRET"),
            "{label}: {}",
            r.stderr
        );
        assert_eq!(snapshot(&t.outside), outside_before, "{label}: outside");
        r.assert_code(0);
    }
}

/// A file removed after the listing: rsync's warning naming it, the rest
/// sent, exit 24 ("some files vanished before they could be
/// transferred").
#[test]
fn file_vanished_after_listing_warns_and_exits_24() {
    for way in Way::ALL {
        let t = setup();
        let b = t.src.join("sub/b");
        let r = transfer(&t, way, &[], move || fs::remove_file(&b).expect("rm b"));
        let label = format!("{way:?}");
        assert!(
            r.stderr
                .lines()
                .any(|l| l.starts_with("file has vanished: \"") && l.ends_with("sub/b\"")),
            "{label}: {}",
            r.stderr
        );
        assert!(!t.dest.join("sub/b").exists(), "{label}: b arrived");
        for n in ["a", "c"] {
            let got = fs::read_to_string(t.dest.join("sub").join(n)).unwrap_or_default();
            assert_eq!(got, INSIDE, "{label}: sub/{n}");
        }
        r.assert_code(24);
    }
}

/// A file that grew or shrank after the listing is sent as it is when
/// opened (rsync's sender sends the size its fstat gives), exit 0.
#[test]
fn file_changed_size_after_listing_sends_what_is_there() {
    const GROWN: &str = "in-tree, then grown well past its listed size\n";
    for way in Way::ALL {
        let t = setup();
        let (b, c) = (t.src.join("sub/b"), t.src.join("sub/c"));
        let r = transfer(&t, way, &[], move || {
            fs::write(&b, GROWN).expect("grow b");
            fs::write(&c, "in").expect("shrink c");
        });
        let label = format!("{way:?}");
        let got = |n: &str| fs::read_to_string(t.dest.join("sub").join(n)).unwrap_or_default();
        assert_eq!(got("a"), INSIDE, "{label}: a\n{}", r.stderr);
        assert_eq!(got("b"), GROWN, "{label}: b\n{}", r.stderr);
        assert_eq!(got("c"), "in", "{label}: c\n{}", r.stderr);
        r.assert_code(0);
    }
}
