//! A fatal error in one role ends every role, promptly, with the message
//! and rsync's exit code: the receiving side's generator failing while its
//! receiver waits on a sender that waits on the generator must not hang the
//! run. Hangs are caught by deadlines in the harness (the hostile peer's
//! watchdog, [`run_within`]); a killed run has no exit code and fails.
use crate::fakepeer::{Peer, SERVER_FLAGS};
use crate::util::*;
use protocol::flist::{write_id_list, FileEntry, FlistEncoder, S_IFDIR, S_IFLNK, S_IFREG};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a run may take here before it is killed and the test fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `cmd` (in its own process group), killing the group after
/// [`DEADLINE`]; `None` as the code when it had to be killed.
fn run_within(cmd: &mut Command) -> (Option<i32>, String) {
    let err = tempfile::NamedTempFile::new().expect("stderr file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err.reopen().expect("reopen"))
        .env("LC_ALL", "C")
        .env_remove("RSYNC_RSH")
        .process_group(0)
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st.code();
        }
        if start.elapsed() > DEADLINE {
            kill_group(child.id());
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = fs::read_to_string(err.path()).unwrap_or_default();
    (code, stderr)
}

use std::os::unix::process::CommandExt;

/// The entries `[".", lnk -> target, lnk/f]` as a complete file list.
fn list_through_link(peer: &Peer, target: &[u8]) -> Vec<u8> {
    encode_through_link(peer.flist_options(), peer.id0_names(), target)
}

fn encode_through_link(
    opts: protocol::flist::FlistOptions,
    id0_names: bool,
    target: &[u8],
) -> Vec<u8> {
    let mut enc = FlistEncoder::new(opts);
    let mut out = Vec::new();
    let entries = [
        FileEntry {
            name: b".".into(),
            mode: S_IFDIR | 0o755,
            ..FileEntry::default()
        }
        .with_mtime(1_700_000_000),
        FileEntry {
            name: b"lnk".into(),
            mode: S_IFLNK | 0o777,
            ..FileEntry::default()
        }
        .with_size(target.len() as i64)
        .with_mtime(1_700_000_000)
        .with_link_target(target.to_vec()),
        FileEntry {
            name: b"lnk/f".into(),
            mode: S_IFREG | 0o644,
            ..FileEntry::default()
        }
        .with_size(3)
        .with_mtime(1_700_000_000),
    ];
    for e in &entries {
        enc.encode(&mut out, e);
    }
    enc.encode_end(&mut out, 0);
    let id0: Option<&[u8]> = id0_names.then_some(b"root");
    write_id_list(&mut out, &[], id0);
    write_id_list(&mut out, &[], id0);
    out
}

/// A hostile sender lists `lnk -> /abs` and then `lnk/f`, and keeps the
/// connection open as a real sender waiting for file requests does. The
/// generator refuses the list as upstream does, and the whole server ends
/// with RERR_PROTOCOL instead of its receiver waiting forever. Nothing is
/// written through the link.
#[test]
fn generator_refusal_ends_the_server() {
    let s = Scratch::new();
    let dest = s.path("dest");
    let outside = s.path("outside");
    fs::create_dir(&dest).expect("mkdir dest");
    fs::create_dir(&outside).expect("mkdir outside");
    let before = snapshot(&outside);
    let mut peer = Peer::start(&[
        "--server".into(),
        SERVER_FLAGS.into(),
        ".".into(),
        dest.clone().into(),
    ]);
    let data = list_through_link(&peer, outside.to_string_lossy().as_bytes());
    peer.send(&data);
    let out = peer.finish_holding_stdin();
    out.check(2, "a name below a symlink in the list", |l| {
        l.contains("aborting due to invalid path from sender: lnk/f")
    });
    assert_eq!(snapshot(&outside), before, "something was written outside");
    assert!(!dest.join("lnk/f").exists());
}

/// The same list with a relative link that stays in the destination: still
/// refused (the link's directory is not in the list as a directory), still
/// ending at once.
#[test]
fn name_below_an_in_tree_link_is_refused() {
    let s = Scratch::new();
    let dest = s.path("dest");
    fs::create_dir(&dest).expect("mkdir dest");
    let mut peer = Peer::start(&[
        "--server".into(),
        SERVER_FLAGS.into(),
        ".".into(),
        dest.clone().into(),
    ]);
    let data = list_through_link(&peer, b".");
    peer.send(&data);
    let out = peer.finish_holding_stdin();
    out.check(2, "a name below an in-tree symlink", |l| {
        l.contains("aborting due to invalid path from sender: lnk/f")
    });
    assert!(!dest.join("f").exists(), "f was written through lnk -> .");
}

fn relative_tree(s: &Scratch) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let src = s.path("src");
    let dest = s.path("dest");
    let outside = s.path("outside");
    fs::create_dir_all(src.join("A/B")).expect("mkdir src");
    fs::write(src.join("A/B/file"), b"payload\n").expect("write");
    fs::create_dir(&dest).expect("mkdir dest");
    fs::create_dir(&outside).expect("mkdir outside");
    std::os::unix::fs::symlink(&outside, dest.join("A")).expect("symlink");
    (src, dest, outside)
}

fn assert_refused_through_link(what: &str, code: Option<i32>, stderr: &str, outside: &Path) {
    assert_eq!(
        code,
        Some(23),
        "{what}: expected exit 23 (killed after {DEADLINE:?} if none)\n{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("recv_generator: mkdir \"")
                && (l.contains("\"A/B\" failed") || l.contains("/A/B\" failed"))),
        "{what}: no mkdir error\n{stderr}"
    );
    assert!(
        fs::read_dir(outside)
            .expect("read outside")
            .next()
            .is_none(),
        "{what}: written through the destination's symlink"
    );
}

/// Locally, `-R --no-implied-dirs` into a destination whose `A` is a
/// symlink out of it: the generator cannot make `A/B` (or examine
/// `A/B/file`) beneath the destination; it says so and the run ends with
/// exit 23 instead of hanging.
#[test]
fn local_no_implied_dirs_through_outside_link_ends() {
    let s = Scratch::new();
    let (src, dest, outside) = relative_tree(&s);
    let (code, stderr) = run_within(
        Command::new(oxsync_bin())
            .arg("-aR")
            .arg("--no-implied-dirs")
            .arg(format!("{}/./A/B/file", src.display()))
            .arg(format!("{}/", dest.display())),
    );
    assert_refused_through_link("local", code, &stderr, &outside);
}

/// The same over a remote shell, oxsync pushing to `oxsync --server`.
#[test]
fn push_no_implied_dirs_through_outside_link_ends() {
    let s = Scratch::new();
    let (src, dest, outside) = relative_tree(&s);
    let (code, stderr) = run_within(
        Command::new(oxsync_bin())
            .arg("-aR")
            .arg("--no-implied-dirs")
            .arg("-e")
            .arg(s.rsh())
            .arg("--rsync-path")
            .arg(oxsync_bin())
            .arg(format!("{}/./A/B/file", src.display()))
            .arg(format!("localhost:{}/", dest.display())),
    );
    assert_refused_through_link("push", code, &stderr, &outside);
}

/// The same hostile list pushed to a daemon module by a client speaking the
/// daemon protocol, which keeps the connection open afterwards: the session
/// refuses the list with upstream's message and RERR_PROTOCOL (in the
/// daemon's log, and as MSG_ERROR_EXIT to the client) and closes the
/// connection, instead of waiting forever for file data.
#[test]
fn daemon_session_refusing_a_list_ends() {
    use protocol::flist::FlistOptions;
    use protocol::mplex::{MplexReader, MplexWriter, MsgCode};
    use protocol::negotiate::{read_name_list, write_name_list};
    use protocol::varint::WireRead;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::sync::{Arc, Mutex};

    let d = crate::daemon::start(
        &oxsync_bin(),
        "[m]\npath = %ROOT%/mod\nread only = no\nlandlock = off\n",
    );
    let outside = d.root().join("outside");
    fs::create_dir(&outside).expect("mkdir outside");
    let s = TcpStream::connect(("127.0.0.1", d.port())).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    r.read_line(&mut line).expect("greeting");
    assert!(line.starts_with("@RSYNCD: "), "{line}");
    let mut w = s.try_clone().expect("clone");
    w.write_all(b"@RSYNCD: 31.0 md5\nm\n").expect("send");
    while !line.starts_with("@RSYNCD: OK") {
        line.clear();
        assert!(r.read_line(&mut line).expect("read") > 0, "closed early");
        assert!(!line.starts_with("@ERROR"), "{line}");
    }
    w.write_all(b"--server\0-logDtpre.LsfxCIvu\0.\0m/\0\0")
        .expect("args");
    let msgs = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&msgs);
    let mut mr = MplexReader::new(
        r,
        Box::new(move |m| {
            sink.lock().expect("msgs").push(m);
            Ok(())
        }),
    );
    let compat = mr.read_varint("compat flags").expect("compat flags");
    read_name_list(&mut mr).expect("checksum list");
    let mut out = Vec::new();
    write_name_list(&mut out, &["md5"]);
    w.write_all(&out).expect("checksum choice");
    mr.read_i32_field("seed").expect("seed");
    mr.set_multiplexed(true);
    let mut mw = MplexWriter::new(w);
    mw.set_multiplexed(true).expect("multiplex");
    let opts = FlistOptions {
        protocol: 31,
        varint_flags: compat & protocol::compat::CF_VARINT_FLIST_FLAGS != 0,
        preserve_uid: true,
        preserve_gid: true,
        preserve_links: true,
        preserve_devices: true,
        preserve_specials: true,
        checksum_len: None,
        preserve_hard_links: false,
        preserve_atimes: false,
    };
    let id0 = compat & protocol::compat::CF_ID0_NAMES != 0;
    let list = encode_through_link(opts, id0, outside.to_string_lossy().as_bytes());
    mw.write_all(&list).expect("send list");
    mw.flush().expect("flush");
    // Keep our end open; read until the daemon closes its end.
    let mut rest = [0u8; 4096];
    let ended = loop {
        match mr.read(&mut rest) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break false,
            Err(_) => break true,
        }
    };
    let msgs = msgs.lock().expect("msgs").clone();
    let text: String = msgs
        .iter()
        .filter(|m| matches!(m.code, MsgCode::Error | MsgCode::ErrorXfer))
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    assert!(ended, "the session did not end within {DEADLINE:?}\n{text}");
    assert!(
        text.contains("ABORTING due to invalid path from sender: lnk/f"),
        "{text}"
    );
    let exit = msgs
        .iter()
        .find(|m| m.code == MsgCode::ErrorExit)
        .and_then(|m| {
            m.payload
                .get(..4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        });
    assert_eq!(exit, Some(2), "{text}");
    assert!(
        fs::read_dir(&outside)
            .expect("read outside")
            .next()
            .is_none(),
        "written outside"
    );
}
