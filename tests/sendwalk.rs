//! The sender's walk and content opens stay beneath each source's
//! transfer root (rsync 3.5.0 flist.c send_directory() secure_opendir(),
//! sender.c sender_open_confined(); upstream tests
//! sender-scan-dir-escape, symlink-race-source, rrsync-sender-leaf-flip).
//!
//! Someone who owns part of the source tree swaps a directory the scan
//! saw (or a file the list holds) for a symlink out of the tree while the
//! transfer runs. The swap is made deterministic with a hook rsync itself
//! offers: a per-directory merge file (`-F`, `.rsync-filter`) that is a
//! FIFO. The sender opens it while scanning, and blocks until the test
//! opens the other end: the test then knows exactly where the scan is,
//! swaps the name, and closes its end, so the merge file reads as empty
//! and the transfer goes on.
//!
//! - `content`: `sub/` was listed, then (scan blocked in `zzz/`) becomes a
//!   link to the outside directory; the sender must not open `sub/loot`
//!   through it.
//! - `listing`: the scan blocks in `sub/`'s own merge file, after `sub`
//!   was stat'ed as a directory and before it is listed; `sub` then
//!   becomes a link out and must not be listed through it (the outside
//!   names and the outside symlink's target would arrive).
//! - `leaf`: a file named on the command line becomes a link to an
//!   outside file after the scan.
//!
//! Each runs as a local copy, a push and a pull over a loopback remote
//! shell (the server is `oxsync --server`, the pull's sender `oxsync
//! --server --sender`), and a pull by stock rsync from `oxsync --server
//! --sender`. The outside content, names and symlink target never arrive,
//! the outside tree is left as it was, the rest of the tree still arrives,
//! the run ends with rsync's "some files were not transferred" (23) and
//! the sender's error line names the refused file.
use super::util::{oxsync_bin, run, run_timeout, snapshot, Scratch, Way};
use std::fs;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "OUTSIDE-SECRET-do-not-copy";
const MARKER: &str = "XFIL-OUTSIDE-SYMLINK-TARGET-do-not-copy";
const INSIDE: &str = "in-tree\n";

/// Which name is swapped, and where the scan waits meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Content,
    Listing,
    Leaf,
}

struct Setup {
    s: Scratch,
    src: PathBuf,
    outside: PathBuf,
    dest: PathBuf,
}

/// src/{aaa, sub/loot, sub/keep0..3, zzz/, target}, and beside it
/// outside/{loot, target-secret, xfil_link -> MARKER, xfil_dir/inner,
/// xfil_file}. The FIFO merge file goes where the case needs it.
fn setup(case: Case) -> Setup {
    let s = Scratch::new();
    let (src, outside, dest) = (s.path("src"), s.path("outside"), s.path("dest"));
    fs::create_dir_all(src.join("sub")).expect("mkdir");
    fs::create_dir_all(src.join("zzz")).expect("mkdir");
    fs::create_dir_all(outside.join("xfil_dir")).expect("mkdir");
    fs::create_dir_all(&dest).expect("mkdir");
    fs::write(src.join("aaa"), INSIDE).expect("w");
    fs::write(src.join("sub/loot"), INSIDE).expect("w");
    for i in 0..4 {
        fs::write(src.join(format!("sub/keep{i}")), INSIDE).expect("w");
    }
    fs::write(src.join("target"), INSIDE).expect("w");
    fs::write(outside.join("loot"), format!("{SECRET}\n")).expect("w");
    fs::write(outside.join("secret"), format!("{SECRET}\n")).expect("w");
    fs::write(outside.join("xfil_dir/inner"), format!("{SECRET}\n")).expect("w");
    fs::write(outside.join("xfil_file"), format!("{SECRET}\n")).expect("w");
    symlink(MARKER, outside.join("xfil_link")).expect("ln");
    let fifo = match case {
        Case::Listing => src.join("sub/.rsync-filter"),
        Case::Content | Case::Leaf => src.join("zzz/.rsync-filter"),
    };
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success(), "mkfifo {}", fifo.display());
    Setup {
        s,
        src,
        outside,
        dest,
    }
}

/// Waits (until `stop` or the harness deadline) for the sender to open
/// the FIFO `fifo` for reading, then replaces `name` with a symlink to
/// `target` and closes the FIFO. True when the swap was made.
fn swap_when_read(
    fifo: PathBuf,
    name: PathBuf,
    target: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + run_timeout();
        let writer = loop {
            // ENXIO until a reader has the FIFO open.
            match fs::OpenOptions::new()
                .write(true)
                .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
                .open(&fifo)
            {
                Ok(f) => break f,
                Err(_) if stop.load(Ordering::SeqCst) || Instant::now() > deadline => {
                    return false;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        };
        let hidden = name.with_file_name(".moved-away");
        fs::rename(&name, &hidden).expect("move the real item away");
        symlink(&target, &name).expect("plant the link");
        drop(writer);
        true
    })
}

/// Runs the transfer of `case` the way `way` says, with `extra` options,
/// swapping the case's name while the sender waits on the FIFO.
fn transfer(t: &Setup, case: Case, way: Way, extra: &[&str]) -> super::util::Run {
    transfer_env(t, case, way, extra, &[])
}

/// As [`transfer`], with extra environment variables.
fn transfer_env(
    t: &Setup,
    case: Case,
    way: Way,
    extra: &[&str],
    env: &[(&str, &str)],
) -> super::util::Run {
    let (fifo, name, target) = match case {
        Case::Content => (
            t.src.join("zzz/.rsync-filter"),
            t.src.join("sub"),
            PathBuf::from("../outside"),
        ),
        Case::Listing => (
            t.src.join("sub/.rsync-filter"),
            t.src.join("sub"),
            PathBuf::from("../outside"),
        ),
        Case::Leaf => (
            t.src.join("zzz/.rsync-filter"),
            t.src.join("target"),
            t.outside.join("secret"),
        ),
    };
    // The leaf case names its file on the command line.
    let srcs: Vec<String> = match case {
        Case::Leaf => vec![
            format!("{}", t.src.join("target").display()),
            format!("{}", t.src.join("zzz").display()),
        ],
        _ => vec![format!("{}/", t.src.display())],
    };
    let dest = format!("{}/", t.dest.display());
    let mut opts = vec!["-aF"];
    opts.extend_from_slice(extra);
    let mut cmd = way.command(&t.s, &opts, &srcs, &dest);
    cmd.envs(env.iter().copied());
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = swap_when_read(fifo, name, target, stop.clone());
    let r = run(&mut cmd, &t.s.logs());
    stop.store(true, Ordering::SeqCst);
    let swapped = swapper.join().expect("swapper thread");
    assert!(
        swapped,
        "{case:?}/{way:?}: the sender never opened the FIFO merge file\n{}",
        r.stderr
    );
    r
}

/// What of the outside tree arrived in `dest`, if anything.
fn leaked(dest: &Path) -> Option<String> {
    let mut stack = vec![dest.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read dest") {
            let p = e.expect("entry").path();
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with("xfil_") {
                return Some(format!("outside name {}", p.display()));
            }
            let m = fs::symlink_metadata(&p).expect("lstat");
            if m.file_type().is_symlink() {
                let t = fs::read_link(&p).expect("readlink");
                if t.to_string_lossy().contains(MARKER) {
                    return Some(format!("outside link target at {}", p.display()));
                }
            } else if m.is_dir() {
                stack.push(p);
            } else if m.is_file() && fs::read_to_string(&p).is_ok_and(|c| c.contains(SECRET)) {
                return Some(format!("outside content in {}", p.display()));
            }
        }
    }
    None
}

/// The run refused the swapped name and nothing else went missing.
fn check(t: &Setup, case: Case, way: Way, r: &super::util::Run) {
    let what = format!("{case:?}/{way:?}: {}\n--- stderr\n{}", r.cmdline, r.stderr);
    assert_eq!(leaked(&t.dest), None, "{what}");
    r.assert_code(23);
    let line = match case {
        Case::Content => "sub/loot\": Invalid cross-device link (18)",
        Case::Listing => "sub\" failed: Invalid cross-device link (18)",
        Case::Leaf => "target\": Too many levels of symbolic links (40)",
    };
    let head = match case {
        Case::Listing => "rsync: [sender] opendir \"",
        _ => "rsync: [sender] send_files failed to open \"",
    };
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with(head) && l.ends_with(line)),
        "missing `{head}...{line}`: {what}"
    );
    // The rest of the tree arrived.
    match case {
        Case::Leaf => assert!(t.dest.join("zzz").is_dir(), "{what}"),
        _ => assert_eq!(
            fs::read_to_string(t.dest.join("aaa")).ok().as_deref(),
            Some(INSIDE),
            "{what}"
        ),
    }
    if case == Case::Content {
        // Everything but the refused file was listed while `sub` was a
        // directory: the names arrive, the outside content does not.
        assert!(t.dest.join("sub").is_dir(), "{what}");
        assert!(!t.dest.join("sub/loot").exists(), "{what}");
    }
}

/// Where openat2 is missing, the component-by-component walk of a
/// transfer root refuses the swapped link the same way (debug builds
/// take `OXSYNC_TEST_FORCE_WALK=1`; another binary under test runs as it
/// is).
#[test]
fn the_fallback_walk_refuses_the_swap_too() {
    for case in [Case::Content, Case::Listing, Case::Leaf] {
        for way in [Way::Local, Way::Pull] {
            let t = setup(case);
            let before = snapshot(&t.outside);
            let walk = [("OXSYNC_TEST_FORCE_WALK", "1")];
            let r = transfer_env(&t, case, way, &[], &walk);
            check(&t, case, way, &r);
            assert_eq!(snapshot(&t.outside), before, "{case:?}/{way:?}");
        }
    }
}

fn race(case: Case) {
    for way in Way::ALL {
        let t = setup(case);
        let before = snapshot(&t.outside);
        let r = transfer(&t, case, way, &[]);
        check(&t, case, way, &r);
        assert_eq!(
            snapshot(&t.outside),
            before,
            "{case:?}/{way:?}: outside changed"
        );
    }
}

/// A directory listed by the scan, swapped for a link out before its files
/// are opened: no file is read through the link (symlink-race-source).
#[test]
fn swapped_dir_is_not_read_through() {
    race(Case::Content);
}

/// A directory stat'ed by the scan, swapped for a link out before it is
/// listed: nothing is listed through the link (sender-scan-dir-escape).
#[test]
fn swapped_dir_is_not_listed_through() {
    race(Case::Listing);
}

/// A file named on the command line, swapped for a link to an outside
/// file after the scan: the open refuses the link
/// (rrsync-sender-leaf-flip).
#[test]
fn swapped_file_argument_is_not_followed() {
    race(Case::Leaf);
}

/// With -L the scan follows what is a link when it looks (a link to an
/// outside file is copied as the file, as rsync does), but a directory it
/// saw as a directory and that is a link when its files are opened is
/// refused all the same.
#[test]
fn copy_links_follows_only_links_seen_by_the_scan() {
    for way in [Way::Local, Way::Pull, Way::StockPull] {
        let t = setup(Case::Content);
        let other = t.s.path("wanted");
        fs::create_dir_all(&other).expect("mkdir");
        fs::write(other.join("file"), "followed on purpose\n").expect("w");
        symlink(other.join("file"), t.src.join("linked")).expect("ln");
        symlink(&other, t.src.join("linkdir")).expect("ln");
        let before = snapshot(&t.outside);
        let r = transfer(&t, Case::Content, way, &["-L"]);
        check(&t, Case::Content, way, &r);
        for got in ["linked", "linkdir/file"] {
            let p = t.dest.join(got);
            assert!(
                !fs::symlink_metadata(&p)
                    .expect(got)
                    .file_type()
                    .is_symlink(),
                "{way:?}: {got} should be a copy"
            );
            assert_eq!(
                fs::read_to_string(&p).ok().as_deref(),
                Some("followed on purpose\n"),
                "{way:?}: {got}"
            );
        }
        assert_eq!(snapshot(&t.outside), before, "{way:?}: outside changed");
    }
}

/// `--insecure-links` is rsync 3.5.0's opt-out: the sender reads the
/// operator's paths as they are at open time, so the swapped directory
/// is followed (the stock behaviour this test pins so the opt-out stays
/// an opt-out, and shows the hook really races the sender).
#[test]
fn insecure_links_opts_out() {
    let t = setup(Case::Content);
    let r = transfer(&t, Case::Content, Way::Local, &["--insecure-links"]);
    // The names only the real `sub` holds have vanished (24).
    r.assert_code(24);
    assert_eq!(
        fs::read_to_string(t.dest.join("sub/loot")).ok().as_deref(),
        Some(format!("{SECRET}\n").as_str()),
        "{}",
        r.stderr
    );
}

/// A `-L` loop (`loop -> .`) ends where the kernel ends it when it
/// resolves a whole path: after 40 followed links, with ELOOP for the
/// 41st, exit 23 (each followed directory link is a root of its own, so
/// the count is kept by the sender).
#[test]
fn copy_links_loop_ends_after_forty_links() {
    let s = Scratch::new();
    let (src, dest) = (s.path("src"), s.path("dest"));
    fs::create_dir_all(&src).expect("mkdir");
    fs::write(src.join("f"), INSIDE).expect("w");
    symlink(".", src.join("loop")).expect("ln");
    let mut cmd = Command::new(oxsync_bin());
    cmd.arg("-aL")
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dest.display()));
    let r = run(&mut cmd, &s.logs());
    r.assert_code(23);
    let deepest = |n: usize| dest.join(vec!["loop"; n].join("/"));
    assert!(deepest(40).join("f").is_file(), "{}", r.stderr);
    assert!(!deepest(41).exists(), "{}", r.stderr);
    let want = format!(
        "rsync: [sender] link_stat \"{}\" failed: Too many levels of symbolic links (40)",
        src.join(vec!["loop"; 41].join("/")).display()
    );
    assert!(r.stderr.lines().any(|l| l == want), "{}", r.stderr);
}
