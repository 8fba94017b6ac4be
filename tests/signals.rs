//! SIGTERM, SIGINT and SIGHUP in the middle of a file, compared with stock
//! rsync on the same command: the client exits 20 with "received SIGINT,
//! SIGTERM, or SIGHUP", `-P` keeps the partial file under its final name
//! with the mode the finished file would have (`--partial-dir` keeps it
//! there), no `.NAME.XXXXXX` temp file is left, and the next `-P` run
//! resumes from the partial file (Matched data > 0) and ends with the
//! source's bytes and mode. The transfer is throttled (--bwlimit) and the
//! signal is sent once the temp file has grown, so it lands mid-file; every
//! wait has a deadline, nothing asserts on speed.
use crate::util::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest any one wait here may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);
/// The interrupted file's size: at the throttle below, seconds of transfer.
const SIZE: usize = 3 << 20;
/// The size the temp file must reach before the signal.
const GROWN: u64 = 96 << 10;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Way {
    Local,
    Pull,
    Push,
}

/// What an interrupted run left.
#[derive(Debug, PartialEq)]
struct Left {
    code: Option<i32>,
    /// The message of code 20 was printed.
    said: bool,
    /// Size and mode of the file under its final name.
    fin: Option<(u64, u32)>,
    /// Size and mode of the file in the partial dir `.pp`.
    in_dir: Option<(u64, u32)>,
    /// Temp files (`.big.bin.XXXXXX`) left anywhere in the destination.
    temps: Vec<String>,
}

fn command(bin: &Path, s: &Scratch, way: Way, src: &Path, dst: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args(extra);
    let (src, dst) = (format!("{}/", src.display()), format!("{}/", dst.display()));
    match way {
        Way::Local => {
            c.args([&src, &dst]);
        }
        Way::Pull => {
            c.arg("-e").arg(s.rsh()).arg("--rsync-path").arg(bin);
            c.args([format!("localhost:{src}"), dst]);
        }
        Way::Push => {
            c.arg("-e").arg(s.rsh()).arg("--rsync-path").arg(bin);
            c.args([src, format!("localhost:{dst}")]);
        }
    }
    c.env("LC_ALL", "C").env_remove("RSYNC_RSH");
    c
}

/// The temp files and the partial file of `big.bin` under `dst`.
fn temps(dst: &Path) -> Vec<(PathBuf, u64)> {
    let mut found = Vec::new();
    let mut dirs = vec![dst.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let md = match e.metadata() {
                Ok(m) => m,
                Err(_) => continue,
            };
            if md.is_dir() {
                dirs.push(e.path());
            } else if e.file_name().to_string_lossy().starts_with(".big.bin.") {
                found.push((e.path(), md.len()));
            }
        }
    }
    found
}

fn size_mode(p: &Path) -> Option<(u64, u32)> {
    fs::metadata(p)
        .ok()
        .map(|m| (m.len(), m.permissions().mode() & 0o7777))
}

/// True while a process of group `pgid` is alive.
fn group_alive(pgid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Runs the throttled transfer with `bin` on both ends, sends `sig` to the
/// client once the temp file has grown, and reports what is left when
/// every process of the run has ended.
fn interrupt(bin: &Path, way: Way, sig: &str, extra: &[&str]) -> (Left, Scratch) {
    let s = Scratch::new();
    let (src, dst) = (s.path("src"), s.path("dst"));
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&dst).unwrap();
    write_big_file(&src.join("big.bin"), SIZE, 7);
    fs::set_permissions(src.join("big.bin"), fs::Permissions::from_mode(0o644)).unwrap();
    let err = s.path("stderr");
    let mut args = vec!["-rt", "--bwlimit=300"];
    args.extend_from_slice(extra);
    let mut child = command(bin, &s, way, &src, &dst, &args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let start = Instant::now();
    // A new file written without a name shows only as a descriptor.
    let grown =
        |d: &Path| temps(d).iter().any(|(_, n)| *n >= GROWN) || largest_open_file(d) >= GROWN;
    while !grown(&dst) {
        if start.elapsed() > DEADLINE || child.try_wait().unwrap().is_some() {
            kill_group(pid);
            let _ = child.wait();
            panic!(
                "{}: no temp file grew to {GROWN} bytes: {}",
                bin.display(),
                fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("kill");
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > DEADLINE {
            kill_group(pid);
            let _ = child.wait();
            panic!("{} did not end after SIG{sig}", bin.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // The server of a push cleans up after the client is gone.
    while group_alive(pid) {
        if start.elapsed() > DEADLINE {
            kill_group(pid);
            panic!(
                "a process of {} outlived the run after SIG{sig}",
                bin.display()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let stderr = fs::read_to_string(&err).unwrap_or_default();
    let left = Left {
        code: status.code(),
        said: stderr.contains("rsync error: received SIGINT, SIGTERM, or SIGHUP (code 20)"),
        fin: size_mode(&dst.join("big.bin")),
        in_dir: size_mode(&dst.join(".pp/big.bin")),
        temps: temps(&dst)
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect(),
    };
    (left, s)
}

/// The next `-P` run: exit code, Matched data, and whether the final file
/// has the source's bytes and mode 0644.
fn resume(bin: &Path, s: &Scratch, way: Way, extra: &[&str]) -> (Option<i32>, u64, bool) {
    let (src, dst) = (s.path("src"), s.path("dst"));
    let mut args = vec!["-rt", "--stats", "--no-whole-file"];
    args.extend_from_slice(extra);
    let r = run(&mut command(bin, s, way, &src, &dst, &args), &s.logs());
    let matched = stat_bytes(&r.stdout, "Matched data").unwrap_or(0);
    let ok = same_content(&src.join("big.bin"), &dst.join("big.bin"))
        && size_mode(&dst.join("big.bin")).map(|(_, m)| m) == Some(0o644)
        && temps(&dst).is_empty();
    (r.code, matched, ok)
}

/// Checks one way with each signal: `-P` keeps and resumes, `--partial-dir`
/// keeps in the dir, no option removes the temp file; oxsync's outcome
/// equals stock rsync's.
fn check(way: Way) {
    let ox = oxsync_bin();
    let rs = rsync_bin();
    for (sig, extra) in [
        ("TERM", &["-P"][..]),
        ("INT", &["--partial-dir=.pp"][..]),
        ("HUP", &[][..]),
    ] {
        let (ours, s_ours) = interrupt(&ox, way, sig, extra);
        let (theirs, s_theirs) = interrupt(&rs, way, sig, extra);
        let label = format!("{way:?} SIG{sig} {extra:?}");
        assert_eq!(ours.code, Some(20), "{label}: {ours:?}");
        assert!(ours.said, "{label}: no code 20 message: {ours:?}");
        assert!(ours.temps.is_empty(), "{label}: temp file left: {ours:?}");
        // Sizes differ with timing: compare what is where, and the modes.
        let shape = |l: &Left| {
            (
                l.code,
                l.said,
                l.fin.map(|(n, m)| (n > 0 && n < SIZE as u64, m)),
                l.in_dir.map(|(n, m)| (n > 0 && n < SIZE as u64, m)),
                l.temps.len(),
            )
        };
        assert_eq!(shape(&ours), shape(&theirs), "{label}: ours vs rsync's");
        if extra.is_empty() {
            assert_eq!(ours.fin, None, "{label}");
            continue;
        }
        let kept = if extra == ["-P"] {
            ours.fin
        } else {
            ours.in_dir
        };
        assert!(
            matches!(kept, Some((n, 0o644)) if n > 0),
            "{label}: nothing kept at 0644: {ours:?}"
        );
        let (code, matched, ok) = resume(&ox, &s_ours, way, extra);
        let (rcode, rmatched, rok) = resume(&rs, &s_theirs, way, extra);
        assert_eq!((code, ok), (Some(0), true), "{label}: resume");
        assert_eq!((rcode, rok), (Some(0), true), "{label}: rsync's resume");
        assert!(matched > 0, "{label}: the resume matched nothing");
        assert!(rmatched > 0, "{label}: rsync's resume matched nothing");
    }
}

#[test]
fn interrupted_local_copy() {
    check(Way::Local);
}

#[test]
fn interrupted_pull() {
    check(Way::Pull);
}

#[test]
fn interrupted_push() {
    check(Way::Push);
}
