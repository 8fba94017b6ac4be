//! `max connections`: the slots are 4-byte record locks in the one `lock
//! file`, as upstream's connection.c claim_connection() takes them, so a
//! stock `rsync --daemon` and `oxsync --daemon` sharing a lock file count
//! their connections together (each refuses while the other holds the
//! last slot) and no per-slot file appears beside it.
use super::daemon::{start, url, Daemon};
use super::util::{oxsync_bin, rsync_bin};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A connection parked on module `module` of `d` after `@RSYNCD: OK`: it
/// holds a slot until dropped.
fn park(d: &Daemon, module: &str) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", d.port())).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    r.read_line(&mut line).expect("greeting");
    assert!(line.starts_with("@RSYNCD: "), "{line}");
    (&s).write_all(format!("@RSYNCD: 31.0\n{module}\n").as_bytes())
        .expect("send");
    while !line.starts_with("@RSYNCD: OK") {
        line.clear();
        assert!(r.read_line(&mut line).expect("read") > 0, "closed early");
        assert!(!line.starts_with("@ERROR"), "{line}");
    }
    s
}

fn pull(client: &Path, d: &Daemon, dest: &Path) -> Output {
    Command::new(client)
        .arg("-r")
        .arg(url(d, "one/"))
        .arg(dest)
        .stdin(Stdio::null())
        .output()
        .expect("run client")
}

fn assert_full(out: &Output, who: &str) {
    assert_eq!(out.status.code(), Some(5), "{who}: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("@ERROR: max connections (1) reached -- try again later"),
        "{who}: {out:?}"
    );
}

/// Pulls from `d` until the slot the parked connection held is free again
/// (the daemon's session process must first see the close and exit; the
/// harness deadline ends a pull that never succeeds).
fn pull_when_free(client: &Path, d: &Daemon, dest: &Path) {
    loop {
        let out = pull(client, d, dest);
        if out.status.success() {
            return;
        }
        assert_full(&out, "waiting for the slot");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn one_lock_file_shared_with_stock_daemon() {
    let stock = start(
        &rsync_bin(),
        "[one]\npath = %ROOT%/mod\nmax connections = 1\n",
    );
    let lock = stock.root().join("lock");
    fs::write(stock.root().join("mod/f"), b"stock\n").expect("write");
    let ours = start(
        &oxsync_bin(),
        &format!(
            "[one]\npath = %ROOT%/mod\nmax connections = 1\nlock file = {}\n",
            lock.display()
        ),
    );
    fs::write(ours.root().join("mod/f"), b"ours\n").expect("write");
    let dest = ours.root().join("dst");

    // Stock rsync holds the one slot: oxsync's daemon is full.
    let held = park(&stock, "one");
    assert_full(&pull(&rsync_bin(), &ours, &dest), "oxsync daemon");
    assert!(!dest.join("f").exists(), "a refused pull wrote a file");
    drop(held);
    pull_when_free(&rsync_bin(), &ours, &dest);
    assert_eq!(fs::read(dest.join("f")).expect("pulled"), b"ours\n");

    // oxsync holds it: the stock daemon is full.
    let held = park(&ours, "one");
    let dest2 = stock.root().join("dst");
    assert_full(&pull(&oxsync_bin(), &stock, &dest2), "stock daemon");
    drop(held);
    pull_when_free(&oxsync_bin(), &stock, &dest2);
    assert_eq!(fs::read(dest2.join("f")).expect("pulled"), b"stock\n");

    // The one lock file, mode 0600 as upstream creates it, and nothing else.
    let mut names: Vec<String> = fs::read_dir(stock.root())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("lock"))
        .collect();
    names.sort();
    assert_eq!(names, ["lock"]);
}

#[test]
fn lock_file_created_by_first_connection() {
    let d = start(
        &oxsync_bin(),
        "[one]\npath = %ROOT%/mod\nmax connections = 2\nlock file = %ROOT%/slots.lock\n",
    );
    fs::write(d.root().join("mod/f"), b"x\n").expect("write");
    let lock = d.root().join("slots.lock");
    assert!(!lock.exists());
    let dest = d.root().join("dst");
    let out = pull(&rsync_bin(), &d, &dest);
    assert!(out.status.success(), "{out:?}");
    let meta = fs::metadata(&lock).expect("the lock file was created");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(!d.root().join("slots.lock.0").exists());
    // Two parked connections take both slots; a third is refused.
    let a = park(&d, "one");
    let b = park(&d, "one");
    let out = pull(&rsync_bin(), &d, &dest);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("max connections (2) reached"),
        "{out:?}"
    );
    drop((a, b));
}
