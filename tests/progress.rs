//! `--progress` and `--info=progress2` during a throttled transfer: the
//! client prints a reading at least once a second while a file copies, in
//! rsync's columns, with plausible rates, and ends each file (or the run)
//! with the same counters as stock rsync.
use crate::util::*;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The throttle, KiB/s.
const BWLIMIT: f64 = 800.0;

/// One progress reading: `\r`, the bytes, the percentage, the rate, the
/// time and, at the end of a file, the `(xfr#N, to-chk=M/T)` tail.
#[derive(Debug, Clone)]
struct Reading {
    bytes: u64,
    pct: u32,
    /// KiB/s
    rate: f64,
    tail: Option<String>,
}

/// Parses a reading, checking its columns by rendering it again as rsync's
/// progress.c does (`%15s %3d%% %7.2f%s %s`).
fn parse_reading(text: &str) -> Result<Reading, String> {
    let w: Vec<&str> = text.split_whitespace().collect();
    if w.len() < 4 {
        return Err(format!("too few columns: {text:?}"));
    }
    let bytes: u64 = w[0]
        .replace(',', "")
        .parse()
        .map_err(|_| format!("bytes column: {text:?}"))?;
    let pct: u32 = w[1]
        .strip_suffix('%')
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("percent column: {text:?}"))?;
    let (num, unit) = w[2].split_at(w[2].len().saturating_sub(4));
    let scale = match unit {
        "kB/s" => 1.0,
        "MB/s" => 1024.0,
        "GB/s" => 1024.0 * 1024.0,
        _ => return Err(format!("rate unit: {text:?}")),
    };
    let rate_num: f64 = num.parse().map_err(|_| format!("rate column: {text:?}"))?;
    let hms: Vec<u64> = w[3].split(':').filter_map(|p| p.parse().ok()).collect();
    if hms.len() != 3 {
        return Err(format!("time column: {text:?}"));
    }
    let rest = w[4..].join(" ");
    let tail = if rest.is_empty() {
        None
    } else {
        let ok = rest.starts_with("(xfr#")
            && rest.ends_with(')')
            && (rest.contains(", to-chk=") || rest.contains(", ir-chk="));
        if !ok {
            return Err(format!("counter tail: {text:?}"));
        }
        Some(rest.clone())
    };
    let again = format!(
        "{:>15} {pct:>3}% {num:>7}{unit} {:>4}:{:02}:{:02}",
        w[0], hms[0], hms[1], hms[2]
    );
    if !text.starts_with(&again) {
        return Err(format!(
            "columns differ from rsync's: {text:?} vs {again:?}"
        ));
    }
    if num.split('.').nth(1).map(str::len) != Some(2) {
        return Err(format!("rate decimals: {text:?}"));
    }
    Ok(Reading {
        bytes,
        pct,
        rate: rate_num * scale,
        tail,
    })
}

/// Every reading of a run's stdout: the text after each `\r` up to the
/// next `\r` or newline (but the file-list count, `N files to consider`).
fn readings(stdout: &str) -> Vec<Reading> {
    stdout
        .split('\r')
        .skip(1)
        .map(|seg| seg.split('\n').next().unwrap_or_default())
        .filter(|t| !t.ends_with(" files to consider"))
        .map(|t| parse_reading(t).unwrap_or_else(|e| panic!("{e}\n--- stdout\n{stdout:?}")))
        .collect()
}

fn command(s: &Scratch, dir: Dir, reference: bool, args: &[&str], src: &str, dst: &str) -> Command {
    let (client, server) = dir.endpoints(reference);
    let mut c = Command::new(client);
    c.args(args).arg(format!("--bwlimit={BWLIMIT}"));
    if reference {
        c.arg("--no-i-r");
    }
    if dir != Dir::Local {
        c.arg("-e")
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", server.display()));
    }
    match dir {
        Dir::Local => c.arg(src).arg(dst),
        Dir::OxPush | Dir::RsyncPush => c.arg(src).arg(format!("localhost:{dst}")),
        Dir::OxPull | Dir::RsyncPull => c.arg(format!("localhost:{src}")).arg(dst),
    };
    c
}

/// Runs oxsync and stock rsync on the same transfer; returns oxsync's run,
/// its wall time in seconds and rsync's run.
fn both(s: &Scratch, dir: Dir, args: &[&str], src: &Path) -> (Run, f64, Run) {
    let sa = format!("{}/", src.display());
    let (d1, d2) = (s.path("d1"), s.path("d2"));
    let t = Instant::now();
    let ours = run(
        &mut command(s, dir, false, args, &sa, &format!("{}/", d1.display())),
        &s.logs(),
    );
    let secs = t.elapsed().as_secs_f64();
    let theirs = run(
        &mut command(s, dir, true, args, &sa, &format!("{}/", d2.display())),
        &s.logs(),
    );
    ours.assert_code(0);
    theirs.assert_code(0);
    assert_same_tree(src, &d1);
    (ours, secs, theirs)
}

/// The checks common to every run: at least one reading a second of the
/// run on average (one of tolerance), readings inside a file, rates near
/// the throttle, and the last reading as rsync's but for rate and time.
fn check(label: &str, ours: &Run, secs: f64, theirs: &Run, inside: impl Fn(&Reading) -> bool) {
    let show = |what: &str| show_runs(label, what, ours, theirs);
    let r = readings(&ours.stdout);
    assert!(
        (r.len() + 1) as f64 >= secs.floor(),
        "{}",
        show(&format!("{} readings in {secs:.1}s", r.len()))
    );
    let during = r.iter().filter(|x| inside(x)).count();
    assert!(
        during as f64 >= (secs.floor() - 1.0).max(1.0),
        "{}",
        show(&format!("{during} readings during a file in {secs:.1}s"))
    );
    for x in &r {
        assert!(
            x.rate <= 5.0 * BWLIMIT && x.pct <= 100,
            "{}",
            show(&format!("implausible reading {x:?}"))
        );
    }
    let mut last = r.last().cloned().expect("a reading");
    assert!(
        last.rate >= BWLIMIT / 4.0,
        "{}",
        show(&format!("final rate {} KiB/s", last.rate))
    );
    let theirs_last = readings(&theirs.stdout).pop().expect("rsync's reading");
    last.rate = theirs_last.rate;
    assert_eq!(
        (last.bytes, last.pct, &last.tail),
        (theirs_last.bytes, theirs_last.pct, &theirs_last.tail),
        "{}",
        show("final readings differ")
    );
    assert!(ours.stdout.ends_with('\n'), "{}", show("no final newline"));
}

const BIG: usize = 2_000_000;

#[test]
fn progress_updates_during_one_large_file() {
    for dir in [Dir::Local, Dir::OxPush, Dir::OxPull] {
        let s = Scratch::new();
        let src = s.path("src");
        std::fs::create_dir_all(&src).expect("mkdir");
        write_big_file(&src.join("big.bin"), BIG, 5);
        let label = format!("{dir:?} --progress");
        let (ours, secs, theirs) = both(&s, dir, &["-rt", "--progress"], &src);
        check(&label, &ours, secs, &theirs, |x| {
            x.tail.is_none() && x.pct > 0 && x.pct < 100
        });
        let r = readings(&ours.stdout);
        // Every reading of the file, then its closing line with a newline.
        assert!(
            ours.stdout.contains("big.bin\n\r"),
            "{}",
            show_runs(&label, "name not before readings", &ours, &theirs)
        );
        assert_eq!(r.iter().filter(|x| x.tail.is_some()).count(), 1);
        assert!(r.windows(2).all(|w| w[0].bytes <= w[1].bytes));
    }
}

#[test]
fn progress2_updates_during_a_tree() {
    for dir in [Dir::Local, Dir::OxPush, Dir::OxPull] {
        let s = Scratch::new();
        let src = s.path("src");
        std::fs::create_dir_all(src.join("sub")).expect("mkdir");
        write_big_file(&src.join("a.bin"), BIG / 2, 6);
        write_big_file(&src.join("sub/b.bin"), BIG / 2, 7);
        write_file(&src.join("sub/c.txt"), b"c\n", 0o644, T0);
        let label = format!("{dir:?} --info=progress2");
        let (ours, secs, theirs) = both(&s, dir, &["-rt", "--info=progress2"], &src);
        // Readings between the files' boundaries come from inside a file.
        let bounds = [0, BIG as u64 / 2, BIG as u64, BIG as u64 + 2];
        check(&label, &ours, secs, &theirs, |x| !bounds.contains(&x.bytes));
        let r = readings(&ours.stdout);
        assert!(
            r.windows(2)
                .all(|w| w[0].bytes <= w[1].bytes && w[0].pct <= w[1].pct),
            "{}",
            show_runs(&label, "the total went back", &ours, &theirs)
        );
        assert!(
            !ours.stdout.contains("a.bin"),
            "{}",
            show_runs(&label, "names printed", &ours, &theirs)
        );
    }
}

#[test]
fn progress_lines_of_a_tree_match_rsync() {
    for dir in [Dir::Local, Dir::OxPull] {
        let s = Scratch::new();
        let src = s.path("src");
        std::fs::create_dir_all(src.join("sub")).expect("mkdir");
        write_big_file(&src.join("a.bin"), BIG / 2, 6);
        write_big_file(&src.join("sub/b.bin"), BIG / 2, 7);
        let label = format!("{dir:?} --progress tree");
        let (ours, secs, theirs) = both(&s, dir, &["-rt", "--progress"], &src);
        check(&label, &ours, secs, &theirs, |x| {
            x.tail.is_none() && x.pct > 0 && x.pct < 100
        });
        let tails = |r: &Run| -> Vec<(u64, Option<String>)> {
            readings(&r.stdout)
                .into_iter()
                .filter(|x| x.tail.is_some())
                .map(|x| (x.bytes, x.tail))
                .collect()
        };
        assert_eq!(
            tails(&ours),
            tails(&theirs),
            "{}",
            show_runs(&label, "closing lines differ", &ours, &theirs)
        );
    }
}

/// A file's first reading comes with its first data, as rsync's sender
/// prints it (match.c matched()): a file of one chunk or less shows its
/// whole size at 100%, an empty one only its closing line. (Before, the
/// oxsync sender printed a `0 0%` reading ahead of every file.)
#[test]
fn first_reading_comes_with_the_first_data() {
    for dir in [Dir::Local, Dir::OxPush] {
        let s = Scratch::new();
        let src = s.path("src");
        std::fs::create_dir_all(&src).expect("mkdir");
        write_file(&src.join("a"), b"abc", 0o644, T0);
        write_file(&src.join("b"), b"", 0o644, T0);
        write_file(&src.join("c"), &[7u8; 20_000], 0o644, T0);
        let label = format!("{dir:?} --progress small files");
        let (ours, _, theirs) = both(&s, dir, &["-rt", "--progress"], &src);
        let shape = |r: &Run| -> Vec<(u64, u32, bool)> {
            readings(&r.stdout)
                .into_iter()
                .map(|x| (x.bytes, x.pct, x.tail.is_some()))
                .collect()
        };
        assert_eq!(
            shape(&ours),
            vec![
                (3, 100, false),
                (3, 100, true),
                (0, 100, true),
                (20_000, 100, false),
                (20_000, 100, true)
            ],
            "{}",
            show_runs(&label, "readings", &ours, &theirs)
        );
        assert_eq!(shape(&ours), shape(&theirs), "{label}");
    }
}
