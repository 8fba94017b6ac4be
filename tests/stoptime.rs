//! `--stop-after` / `--time-limit` / `--stop-at`, compared with stock rsync
//! (run with `TZ=UTC`: oxsync reads `--stop-at` in UTC): what parses, the
//! refusals and their exit code, and a transfer slowed by `--bwlimit`
//! ending at the stop time with "stopping at requested limit" and exit code
//! 30, locally and pushing to stock `rsync --server`, with no finished file
//! left behind.
use crate::util::*;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// `YYYY-MM-DDThh:mm` (UTC) of `secs`.
fn when(secs: i64) -> String {
    let out = Command::new("date")
        .env("TZ", "UTC")
        .arg("-d")
        .arg(format!("@{secs}"))
        .arg("+%Y-%m-%dT%H:%M")
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn copy(bin: &Path, args: &[&str], src: &Path, dst: &Path, logs: &Path) -> Run {
    let mut c = Command::new(bin);
    c.env("TZ", "UTC")
        .arg("-a")
        .args(args)
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()));
    run(&mut c, logs)
}

#[test]
fn local_values_as_stock() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(src.join("a")).expect("mkdir");
    write_file(&src.join("a/f"), b"data\n", 0o644, T0);
    let tomorrow = when(now() + 86_400);
    let cases: Vec<(Vec<String>, i32)> = vec![
        (vec![format!("--stop-at={tomorrow}")], 0),
        (vec!["--stop-at=2000-01-01T00:00".into()], 1),
        (vec!["--stop-at=25:99".into()], 1),
        (vec!["--stop-at=junk".into()], 1),
        (vec!["--stop-after=60".into()], 0),
        (vec!["--time-limit=60".into()], 0),
        (vec!["--stop-after=0".into()], 1),
        (vec!["--stop-after=x".into()], 1),
    ];
    for (n, (args, code)) in cases.iter().enumerate() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (d_ours, d_stock) = (s.path(&format!("o{n}")), s.path(&format!("s{n}")));
        let ours = copy(&oxsync_bin(), &args, &src, &d_ours, &s.logs());
        let stock = copy(&rsync_bin(), &args, &src, &d_stock, &s.logs());
        assert_eq!(stock.code, Some(*code), "stock {args:?}: {}", stock.stderr);
        assert_eq!(ours.code, stock.code, "{args:?}: {}", ours.stderr);
        if *code == 0 {
            assert!(same_content(&src.join("a/f"), &d_ours.join("a/f")));
        } else {
            assert!(!d_ours.exists(), "{args:?} made the destination");
            // The same first line (the reason) as stock rsync.
            let first = |r: &Run| r.stderr.lines().next().unwrap_or("").to_string();
            assert_eq!(first(&ours), first(&stock), "{args:?}");
        }
    }
}

/// A 300 KB file at 2 KiB/s takes minutes; the stop time (the next whole
/// minute, at least 10 s ahead) ends each run first with exit code 30.
#[test]
fn transfer_stops_at_the_limit() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("mkdir");
    let data = Prng::new(3).bytes(300_000);
    write_file(&src.join("f"), &data, 0o644, T0);
    let t = now();
    let stop = (t + 10) / 60 * 60 + 60;
    let at = format!("--stop-at={}", when(stop));
    let runs: Vec<(&str, std::path::PathBuf, Vec<String>)> = vec![
        ("ours", oxsync_bin(), vec![]),
        ("stock", rsync_bin(), vec![]),
        (
            "ours pushing",
            oxsync_bin(),
            vec![
                "-e".into(),
                s.rsh().display().to_string(),
                format!("--rsync-path={}", rsync_bin().display()),
            ],
        ),
    ];
    let handles: Vec<_> = runs
        .into_iter()
        .enumerate()
        .map(|(n, (label, bin, extra))| {
            let (src, at) = (src.clone(), at.clone());
            let dst = s.path(&format!("d{n}"));
            let logs = s.logs();
            std::thread::spawn(move || {
                let mut c = Command::new(&bin);
                c.env("TZ", "UTC")
                    .args(["-a", "--bwlimit=2", &at])
                    .args(&extra)
                    .arg(format!("{}/", src.display()));
                if extra.is_empty() {
                    c.arg(format!("{}/", dst.display()));
                } else {
                    c.arg(format!("localhost:{}/", dst.display()));
                }
                (label, dst, run(&mut c, &logs))
            })
        })
        .collect();
    for h in handles {
        let (label, dst, r) = h.join().expect("thread");
        assert_eq!(r.code, Some(30), "{label}: {}\n{}", r.cmdline, r.stderr);
        assert!(
            r.stderr.contains("stopping at requested limit"),
            "{label}: {}",
            r.stderr
        );
        assert!(now() >= stop, "{label} ended before the stop time");
        assert!(!dst.join("f").exists(), "{label}: the file was finished");
    }
}
