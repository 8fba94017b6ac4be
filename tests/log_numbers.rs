//! Numbers in logs: `--log-file` writes the closing "sent N bytes
//! received N bytes  total size N" line and `%l`/`%b` with plain digits, as
//! rsync's log.c does (log parsers read them), while the terminal's
//! `--stats` keeps rsync's human formatting; `%'l` and `%''l` humanize.
use crate::util::*;
use std::fs;
use std::process::Command;

const SIZE: usize = 1_234_567;

/// The log lines after the `YYYY/MM/DD HH:MM:SS [PID] ` prefix.
fn log_bodies(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| match l.split_once("] ") {
            Some((_, body)) => body.to_string(),
            None => l.to_string(),
        })
        .collect()
}

fn closing(bodies: &[String]) -> (u64, u64, u64) {
    let l = bodies
        .iter()
        .find(|l| l.starts_with("sent "))
        .unwrap_or_else(|| panic!("no closing line in {bodies:?}"));
    let w: Vec<&str> = l.split_whitespace().collect();
    assert_eq!(
        (w[0], w[2], w[3], w[5], w[6], w[7]),
        ("sent", "bytes", "received", "bytes", "total", "size"),
        "{l}"
    );
    let n = |s: &str| -> u64 {
        assert!(
            s.bytes().all(|b| b.is_ascii_digit()),
            "not plain digits: {l}"
        );
        s.parse().expect("number")
    };
    (n(w[1]), n(w[4]), n(w[8]))
}

#[test]
fn log_file_numbers_are_plain_digits() {
    for bin in [oxsync_bin(), rsync_bin()] {
        let s = Scratch::new();
        let src = s.path("src");
        fs::create_dir_all(&src).expect("mkdir");
        write_big_file(&src.join("big.bin"), SIZE, 3);
        let log = s.path("run.log");
        let r = run(
            Command::new(&bin)
                .args(["-r"])
                .arg(format!("--log-file={}", log.display()))
                .arg("--log-file-format=%o %n len=%l bytes=%b h1=%'l h2=%''l")
                .arg(format!("{}/", src.display()))
                .arg(s.path("dst")),
            &s.logs(),
        );
        r.assert_code(0);
        let bodies = log_bodies(&fs::read_to_string(&log).expect("log"));
        let (sent, _received, total) = closing(&bodies);
        assert_eq!(total, SIZE as u64, "{bin:?}: {bodies:?}");
        assert!(sent > SIZE as u64, "{bin:?}: {bodies:?}");
        let item = bodies
            .iter()
            .find(|l| l.contains("big.bin"))
            .unwrap_or_else(|| panic!("{bin:?}: no item line in {bodies:?}"));
        assert!(
            item.contains("big.bin len=1234567 bytes=") && item.ends_with(" h1=1,234,567 h2=1.23M"),
            "{bin:?}: {item}"
        );
        let bytes = item
            .split("bytes=")
            .nth(1)
            .and_then(|t| t.split(' ').next());
        assert!(
            bytes.is_some_and(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit())),
            "{bin:?}: {item}"
        );
        // The terminal keeps the human formatting.
        let r = run(
            Command::new(&bin)
                .args(["-r", "--stats"])
                .arg(format!("{}/", src.display()))
                .arg(s.path("dst2")),
            &s.logs(),
        );
        r.assert_code(0);
        assert!(
            r.stdout.contains("Total file size: 1,234,567 bytes"),
            "{bin:?}: {}",
            r.stdout
        );
        assert!(
            r.stdout.contains("total size is 1,234,567"),
            "{bin:?}: {}",
            r.stdout
        );
    }
}

/// A daemon's log: the closing line of a session and a `log format` with
/// `%l`, `%'l` and `%''b` write numbers as rsync's daemon does, for stock
/// rsync's daemon and oxsync's alike.
#[test]
fn daemon_log_numbers_as_rsync() {
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = crate::daemon::start(
            &bin,
            "[m]\npath = %ROOT%/mod\nread only = no\ntransfer logging = yes\n\
             log format = %o %n len=%l h1=%'l h2=%''l\n",
        );
        let root = d.root().to_path_buf();
        fs::create_dir_all(root.join("mod")).expect("mkdir");
        fs::create_dir_all(root.join("logs")).expect("mkdir");
        write_big_file(&root.join("src/big.bin"), SIZE, 4);
        let r = run(
            Command::new(rsync_bin())
                .arg("-r")
                .arg(format!("{}/", root.join("src").display()))
                .arg(crate::daemon::url(&d, "m/")),
            &root.join("logs"),
        );
        r.assert_code(0);
        let text = (0..100)
            .map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(50));
                fs::read_to_string(root.join("daemon.log")).unwrap_or_default()
            })
            .find(|t| t.contains("total size"))
            .unwrap_or_else(|| panic!("{bin:?}: no closing line in the daemon log"));
        let bodies = log_bodies(&text);
        let (_sent, received, total) = closing(&bodies);
        assert_eq!(total, SIZE as u64, "{bin:?}: {bodies:?}");
        assert!(received > SIZE as u64, "{bin:?}: {bodies:?}");
        assert!(
            bodies
                .iter()
                .any(|l| l.ends_with("recv big.bin len=1234567 h1=1,234,567 h2=1.23M")),
            "{bin:?}: {bodies:?}"
        );
    }
}
