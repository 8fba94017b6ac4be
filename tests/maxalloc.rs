//! The allocation bound (`--max-alloc`, a daemon module's `max alloc`)
//! against a hostile sender that streams millions of small file-list
//! entries: the receiver refuses at the bound with upstream's message and
//! exit code 22 (RERR_MALLOC, util2.c my_alloc) instead of growing.
use crate::fakepeer::{Peer, RERR_MALLOC};
use crate::util::*;
use protocol::flist::{write_id_list, FileEntry, FlistEncoder, FlistOptions, S_IFREG};
use std::fs;

/// Most entries a hostile sender streams (about 40 MB on the wire).
const HOSTILE_ENTRIES: usize = 5_000_000;

/// Encodes entries `PREFIXf0000000`, `PREFIXf0000001`, ... in batches
/// and hands each batch to `send` until `n` entries were sent or `send`
/// fails (the receiver gave up); then, if all went, the end marker and id
/// lists (`uids` as the user list). Returns how many entries were sent.
fn stream_entries(
    opts: FlistOptions,
    id0: bool,
    (prefix, n): (&str, usize),
    uids: &[(u32, Vec<u8>)],
    mut send: impl FnMut(&[u8]) -> bool,
) -> usize {
    let mut enc = FlistEncoder::new(opts);
    let mut buf = Vec::new();
    let mut e = FileEntry {
        mode: S_IFREG | 0o644,
        ..FileEntry::default()
    }
    .with_size(1)
    .with_mtime(1_700_000_000);
    let mut sent = 0;
    while sent < n {
        buf.clear();
        for i in sent..(sent + 10_000).min(n) {
            e.name = format!("{prefix}f{i:07}").into_bytes().into();
            enc.encode(&mut buf, &e);
        }
        if !send(&buf) {
            return sent;
        }
        sent = (sent + 10_000).min(n);
    }
    buf.clear();
    enc.encode_end(&mut buf, 0);
    let id0: Option<&[u8]> = id0.then_some(b"root");
    write_id_list(&mut buf, uids, id0);
    write_id_list(&mut buf, &[], id0);
    send(&buf);
    sent
}

/// Runs `oxsync --server` receiving into an empty DEST with `max_alloc`,
/// streams the list, and checks the refusal: exit 22, upstream's message
/// with the bound in bytes, nothing written. Returns the entries sent.
fn refused_at(max_alloc: &str, bytes: u64, list: (&str, usize), uids: &[(u32, Vec<u8>)]) -> usize {
    let s = Scratch::new();
    let dest = s.path("dest");
    fs::create_dir(&dest).expect("mkdir dest");
    let mut peer = Peer::start(&[
        "--server".into(),
        "-logDtpre.LsfxCIvu".into(),
        format!("--max-alloc={max_alloc}").into(),
        ".".into(),
        dest.clone().into(),
    ]);
    let (opts, id0) = (peer.flist_options(), peer.id0_names());
    let sent = stream_entries(opts, id0, list, uids, |b| peer.send_raw(b).is_ok());
    let out = peer.finish();
    let msg = format!("exceeded --max-alloc={bytes} setting");
    out.check(RERR_MALLOC, &format!("{} entries", list.1), |l| {
        l.contains(&msg)
    });
    assert!(
        fs::read_dir(&dest).expect("read dest").next().is_none(),
        "something was written to DEST"
    );
    sent
}

/// `oxsync --server` receiving with `--max-alloc=4M`: a list of millions
/// of entries ends at the bound, long before the sender is done.
#[test]
fn server_refuses_a_hostile_list_at_max_alloc() {
    let sent = refused_at("4M", 4 << 20, ("", HOSTILE_ENTRIES), &[]);
    assert!(
        sent < HOSTILE_ENTRIES,
        "the receiver read all {sent} entries before refusing"
    );
}

/// Long names cost little on the wire (each entry repeats the previous
/// name's prefix) but are held in full: the bound counts name bytes, not
/// only the entry table (200,000 entries of 250 bytes: 27 MB of entry
/// table, over 100 MB with the names).
#[test]
fn max_alloc_counts_the_names() {
    let prefix = format!("{}/", "d".repeat(240));
    refused_at("32M", 32 << 20, (&prefix, 200_000), &[]);
}

/// The uid list after the file list is counted too: 100,000 names of 255
/// bytes (about 26 MB held) after a one-entry list.
#[test]
fn max_alloc_counts_the_id_lists() {
    let uids: Vec<(u32, Vec<u8>)> = (1..=100_000).map(|i| (i, vec![b'u'; 255])).collect();
    refused_at("4M", 4 << 20, ("", 1), &uids);
}

/// The peak resident size of process `pid` (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Not a check: prints the peak RSS of `oxsync --server` receiving a list
/// of `OXSYNC_RSS_ENTRIES` (default 2,000,000) small entries with the
/// default bound (or `--max-alloc=$OXSYNC_RSS_MAX_ALLOC`), for
/// docs/security.md. Run with
/// `cargo test --release --test tests maxalloc::measure -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_peak_rss_of_a_large_list() {
    let n: usize = std::env::var("OXSYNC_RSS_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let s = Scratch::new();
    let dest = s.path("dest");
    fs::create_dir(&dest).expect("mkdir dest");
    let mut args: Vec<std::ffi::OsString> = vec!["--server".into(), "-logDtpre.LsfxCIvu".into()];
    if let Ok(m) = std::env::var("OXSYNC_RSS_MAX_ALLOC") {
        args.push(format!("--max-alloc={m}").into());
    }
    args.extend([".".into(), dest.into()]);
    let mut peer = Peer::start(&args);
    let pid = peer.child.id();
    let (opts, id0) = (peer.flist_options(), peer.id0_names());
    // Sampled after every batch too: a refusing server is gone at the end.
    let mut last = 0;
    let sent = stream_entries(opts, id0, ("", n), &[], |b| {
        last = last.max(peak_rss_kib(pid).unwrap_or(0));
        peer.send_raw(b).is_ok()
    });
    // The list is in; wait until the peak stops growing (or the server is
    // gone), then end the session.
    let mut still = 0;
    while still < 20 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        match peak_rss_kib(pid) {
            Some(k) if k <= last => still += 1,
            Some(k) => (last, still) = (k, 0),
            None => break,
        }
    }
    let _ = peer.child.kill();
    let out = peer.finish();
    eprintln!(
        "entries sent: {sent} of {n}; peak RSS {} MiB; exit {:?}; {}",
        last / 1024,
        out.code,
        out.stderr.lines().next().unwrap_or("")
    );
}

/// A daemon module without `max alloc` bounds each connection at 256 MiB
/// (the daemon default), and a client's larger `--max-alloc` does not
/// raise it: a 5-million-entry push ends with exit 22 at 268435456 bytes,
/// the module keeps nothing, and the refusal is in the daemon's log.
#[test]
fn daemon_default_bound_refuses_a_hostile_push() {
    let m = crate::hostile_push::Module::new();
    let mut peer = Peer::start_daemon(
        &m.conf,
        "m",
        &[
            "--server",
            "-logDtpre.LsfxCIvu",
            "--max-alloc=10G",
            ".",
            "m/",
        ],
    );
    let (opts, id0) = (peer.flist_options(), peer.id0_names());
    let sent = stream_entries(opts, id0, ("", HOSTILE_ENTRIES), &[], |b| {
        peer.send_raw(b).is_ok()
    });
    let out = peer.finish();
    out.check(RERR_MALLOC, "a 5-million-entry push to a daemon", |l| {
        l.contains("exceeded --max-alloc=268435456 setting")
    });
    assert!(sent < HOSTILE_ENTRIES, "the daemon read all {sent} entries");
    assert!(
        fs::read_dir(&m.dir).expect("read module").next().is_none(),
        "something was written to the module"
    );
    let log = m.log_text();
    assert!(
        log.contains("exceeded --max-alloc=268435456 setting"),
        "the daemon's log does not give the refusal:\n{log}"
    );
}

/// Plays a daemon on a loopback port for one pulling client: greeting,
/// `@RSYNCD: OK`, the setup a sender does (compat flags, checksum names,
/// seed), then a multiplexed file list of `n` small entries, streamed
/// until the client hangs up. Returns the port and a handle giving the
/// entries sent.
fn hostile_daemon_sender(prefix: String, n: usize) -> (u16, std::thread::JoinHandle<usize>) {
    use protocol::compat::CF_VARINT_FLIST_FLAGS;
    use protocol::mplex::MplexWriter;
    use protocol::negotiate::write_name_list;
    use protocol::varint::{write_i32, write_varint};
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let (sock, _) = listener.accept().expect("accept");
        let _ = sock.set_read_timeout(Some(run_timeout()));
        let mut r = BufReader::new(sock.try_clone().expect("clone"));
        let mut w = sock.try_clone().expect("clone");
        let _ = w.write_all(b"@RSYNCD: 32.0 md5\n");
        let mut line = String::new();
        // The client's greeting and module name.
        for _ in 0..2 {
            line.clear();
            let _ = r.read_line(&mut line);
        }
        let _ = w.write_all(b"@RSYNCD: OK\n");
        // Arguments up to the empty one.
        loop {
            let mut arg = Vec::new();
            match r.read_until(0, &mut arg) {
                Ok(0) | Err(_) => return 0,
                Ok(1) => break,
                Ok(_) => {}
            }
        }
        let mut out = Vec::new();
        write_varint(&mut out, CF_VARINT_FLIST_FLAGS);
        write_name_list(&mut out, &["md5"]);
        write_i32(&mut out, 0x1234);
        let _ = w.write_all(&out);
        // Whatever the client sends from now on is drained.
        std::thread::spawn(move || {
            let mut sink = [0u8; 65536];
            while matches!(r.read(&mut sink), Ok(k) if k > 0) {}
        });
        let mut mw = MplexWriter::new(w);
        if mw.set_multiplexed(true).is_err() {
            return 0;
        }
        let opts = FlistOptions {
            protocol: 32,
            varint_flags: true,
            ..FlistOptions::default()
        };
        stream_entries(opts, false, (&prefix, n), &[], |b| {
            mw.write_all(b).and_then(|_| mw.flush()).is_ok()
        })
    });
    (port, handle)
}

/// A client pulling from a hostile daemon with `--max-alloc=32M` stops the
/// daemon's list of 200,000 long names (cheap on the wire, over 100 MB
/// held) at the bound: exit 22, the message, and nothing written to DEST.
#[test]
fn pulling_client_refuses_a_hostile_list_at_max_alloc() {
    let s = Scratch::new();
    let dest = s.path("dest");
    fs::create_dir(&dest).expect("mkdir dest");
    let n = 200_000;
    let (port, sender) = hostile_daemon_sender(format!("{}/", "d".repeat(240)), n);
    let r = run(
        std::process::Command::new(oxsync_bin()).args([
            "-r",
            "--max-alloc=32M",
            &format!("rsync://127.0.0.1:{port}/m/"),
            &format!("{}/", dest.display()),
        ]),
        &s.logs(),
    );
    let sent = sender.join().expect("sender thread");
    assert_eq!(r.code, Some(22), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("exceeded --max-alloc=33554432 setting"),
        "{}",
        r.stderr
    );
    assert!(sent < n, "the client read all {sent} entries");
    assert!(
        fs::read_dir(&dest).expect("read dest").next().is_none(),
        "something was written to DEST"
    );
}
