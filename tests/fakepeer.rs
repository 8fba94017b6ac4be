//! A hand-written hostile peer, built on the `protocol` crate, talking to
//! `oxsync --server` over pipes. Each test sends one malformed or malicious
//! thing and checks that the server exits with upstream rsync's exit code,
//! says what went wrong (on stderr, or in a multiplexed error message that
//! a client would print), and wrote nothing outside its destination.
//!
//! Expected codes (upstream rsync 3.2.7, checked with
//! `OXSYNC_TEST_BIN=/usr/bin/rsync`):
//! * unsafe name (`../x`, `/x`): flist.c recv_file_entry, "ABORTING due to
//!   unsafe pathname from sender", RERR_UNSUPPORTED (4);
//! * name suffix longer than MAXPATHLEN: "overflow: ... l2=5000", then
//!   overflow_exit(), RERR_MALLOC (22);
//! * s2length larger than the negotiated digest: io.c read_sum_head,
//!   "Invalid checksum length", RERR_PROTOCOL (2);
//! * stream closed in the middle of the file list: "connection unexpectedly
//!   closed", RERR_STREAMIO (12).
use crate::util::*;
use protocol::compat::{CF_ID0_NAMES, CF_VARINT_FLIST_FLAGS};
use protocol::flist::{
    compare_names, read_id_list, write_id_list, FileEntry, FlistDecoder, FlistEncoder,
    FlistOptions, S_IFREG, XMIT_LONG_NAME, XMIT_SAME_GID, XMIT_SAME_UID,
};
use protocol::mplex::{Message, MplexReader, MplexWriter, MsgCode};
use protocol::ndx::NdxWriter;
use protocol::negotiate::{read_name_list, write_name_list};
use protocol::sum_head::SumHead;
use protocol::varint::{write_i32, write_varint, WireRead};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The flags of `rsync -a` as the client sends them to the server.
pub(crate) const SERVER_FLAGS: &str = "-logDtpre.LsfxCIvu";
/// Exit codes from upstream errcode.h.
const RERR_PROTOCOL: i32 = 2;
const RERR_UNSUPPORTED: i32 = 4;
const RERR_STREAMIO: i32 = 12;
pub(crate) const RERR_MALLOC: i32 = 22;

/// A running `oxsync --server` and our two ends of its pipes.
pub(crate) struct Peer {
    pub(crate) child: Child,
    w: Option<MplexWriter<ChildStdin>>,
    r: MplexReader<ChildStdout>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    msgs: Arc<Mutex<Vec<Message>>>,
    cancel_watchdog: Option<mpsc::Sender<()>>,
    /// Negotiated protocol version.
    protocol: i32,
    /// Compat flags the server sent.
    compat: i32,
}

/// What the server did, once it has exited.
pub(crate) struct Outcome {
    pub(crate) code: Option<i32>,
    pub(crate) stderr: String,
    msgs: Vec<Message>,
}

impl Peer {
    /// Starts the server with `args` and performs the setup (protocol
    /// version, compat flags, checksum negotiation, seed); afterwards both
    /// directions are multiplexed.
    pub(crate) fn start(args: &[OsString]) -> Peer {
        let mut peer = Peer::spawn(args);
        if let Err(e) = peer.setup() {
            let out = peer.finish();
            panic!(
                "setup with the server failed: {e}\nexit {:?}, stderr:\n{}",
                out.code, out.stderr
            );
        }
        peer
    }

    /// Starts `oxsync --server --daemon --config=CONFIG .` (a daemon over a
    /// remote shell), asks for `module` with `args`, and performs the setup
    /// that follows `@RSYNCD: OK`.
    pub(crate) fn start_daemon(config: &Path, module: &str, args: &[&str]) -> Peer {
        let mut peer = Peer::spawn(&[
            "--server".into(),
            "--daemon".into(),
            format!("--config={}", config.display()).into(),
            ".".into(),
        ]);
        let mut hello = format!("@RSYNCD: 32.0 md5\n{module}\n").into_bytes();
        let done = peer.send_raw(&hello).is_ok() && peer.daemon_ok();
        hello.clear();
        for a in args {
            hello.extend_from_slice(a.as_bytes());
            hello.push(0);
        }
        hello.push(0);
        peer.protocol = 32;
        let setup = if done {
            peer.send_raw(&hello)
                .map_err(|e| e.to_string())
                .and_then(|_| peer.setup_after_version())
        } else {
            Err("no @RSYNCD: OK".to_string())
        };
        if let Err(e) = setup {
            let out = peer.finish();
            panic!(
                "setup with the daemon failed: {e}\nexit {:?}, stderr:\n{}",
                out.code, out.stderr
            );
        }
        peer
    }

    /// Reads the daemon's lines up to `@RSYNCD: OK` (false at EOF or
    /// `@ERROR`).
    fn daemon_ok(&mut self) -> bool {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while let Ok(1) = self.r.read(&mut b) {
            if b[0] != b'\n' {
                line.push(b[0]);
                continue;
            }
            if line == b"@RSYNCD: OK" {
                return true;
            }
            if line.starts_with(b"@ERROR") {
                return false;
            }
            line.clear();
        }
        false
    }

    fn spawn(args: &[OsString]) -> Peer {
        let mut child = Command::new(oxsync_bin())
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn oxsync --server");
        let pid = child.id();
        let (tx, rx) = mpsc::channel::<()>();
        let timeout = run_timeout().min(Duration::from_secs(60));
        thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(timeout) {
                kill_group(pid);
            }
        });
        let mut err_pipe = child.stderr.take().expect("stderr pipe");
        let stderr = thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err_pipe.read_to_end(&mut v);
            v
        });
        let msgs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&msgs);
        let r = MplexReader::new(
            child.stdout.take().expect("stdout pipe"),
            Box::new(move |m| {
                sink.lock().expect("msgs lock").push(m);
                Ok(())
            }),
        );
        let w = MplexWriter::new(child.stdin.take().expect("stdin pipe"));
        Peer {
            child,
            w: Some(w),
            r,
            stderr: Some(stderr),
            msgs,
            cancel_watchdog: Some(tx),
            protocol: 0,
            compat: 0,
        }
    }

    fn w(&mut self) -> &mut MplexWriter<ChildStdin> {
        self.w.as_mut().expect("stdin already closed")
    }

    /// upstream compat.c setup_protocol, client side.
    fn setup(&mut self) -> Result<(), String> {
        let mut out = Vec::new();
        write_i32(&mut out, 32);
        self.send_raw(&out)
            .map_err(|e| format!("write version: {e}"))?;
        let theirs = self
            .r
            .read_i32_field("protocol version")
            .map_err(|e| e.to_string())?;
        if !(30..=40).contains(&theirs) {
            return Err(format!("server protocol {theirs}"));
        }
        self.protocol = theirs.min(32);
        self.setup_after_version()
    }

    /// The setup after the version exchange (in daemon mode the greeting
    /// carried the version).
    fn setup_after_version(&mut self) -> Result<(), String> {
        self.compat = self
            .r
            .read_varint("compat flags")
            .map_err(|e| e.to_string())?;
        if self.compat & CF_VARINT_FLIST_FLAGS == 0 {
            return Err(format!(
                "server did not grant varint flags (compat {:#x}) although we sent 'v'",
                self.compat
            ));
        }
        let names = read_name_list(&mut self.r).map_err(|e| e.to_string())?;
        if !names.iter().any(|n| n == "md5") {
            return Err(format!("server does not offer md5: {names:?}"));
        }
        let mut out = Vec::new();
        write_name_list(&mut out, &["md5"]);
        self.send_raw(&out)
            .map_err(|e| format!("write checksum list: {e}"))?;
        self.r
            .read_i32_field("checksum seed")
            .map_err(|e| e.to_string())?;
        self.w()
            .set_multiplexed(true)
            .map_err(|e| format!("start multiplexing: {e}"))?;
        self.r.set_multiplexed(true);
        Ok(())
    }

    pub(crate) fn send_raw(&mut self, data: &[u8]) -> std::io::Result<()> {
        let w = self.w();
        w.write_all(data)?;
        w.flush()
    }

    /// Sends a non-data message (MSG_INFO, ...). Errors are ignored, as
    /// for [`Peer::send`].
    pub(crate) fn send_msg(&mut self, code: MsgCode, payload: &[u8]) {
        let w = self.w();
        let _ = w.send_msg(code, payload).and_then(|_| w.flush());
    }

    /// Sends `data` as MSG_DATA. Errors are ignored: the server may already
    /// have given up, which is what several tests expect.
    pub(crate) fn send(&mut self, data: &[u8]) {
        let _ = self.send_raw(data);
    }

    /// The file-list options matching `-logDtpr` and the negotiated setup.
    pub(crate) fn flist_options(&self) -> FlistOptions {
        FlistOptions {
            protocol: self.protocol,
            varint_flags: self.compat & CF_VARINT_FLIST_FLAGS != 0,
            preserve_uid: true,
            preserve_gid: true,
            preserve_links: true,
            preserve_devices: true,
            preserve_specials: true,
            checksum_len: None,
            preserve_hard_links: false,
            preserve_atimes: false,
        }
    }

    /// The compat flags the server chose.
    pub(crate) fn compat(&self) -> i32 {
        self.compat
    }

    pub(crate) fn id0_names(&self) -> bool {
        self.compat & CF_ID0_NAMES != 0
    }

    /// Reads whatever the server sends until it closes its output, with our
    /// end of its stdin still open (as a real sender waiting for requests
    /// keeps it), then finishes. A server that never ends is killed by the
    /// watchdog, and the outcome then has no exit code.
    pub(crate) fn finish_holding_stdin(mut self) -> Outcome {
        if let Some(w) = self.w.as_mut() {
            let _ = w.flush();
        }
        let mut sink = [0u8; 64 * 1024];
        while let Ok(n) = self.r.read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        self.finish()
    }

    /// Closes our end of the server's stdin, reads whatever it still sends,
    /// and waits for it to exit.
    pub(crate) fn finish(mut self) -> Outcome {
        if let Some(mut w) = self.w.take() {
            let _ = w.flush();
        }
        let mut sink = [0u8; 64 * 1024];
        while let Ok(n) = self.r.read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        let status = self.child.wait().expect("wait for server");
        drop(self.cancel_watchdog.take());
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let msgs = self.msgs.lock().expect("msgs lock").clone();
        Outcome {
            code: status.code(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            msgs,
        }
    }
}

impl Outcome {
    /// The diagnostics the user would see: the server's stderr lines, then
    /// the text of the error/warning/info messages it multiplexed to us (a
    /// real client prints those on its own stderr/stdout). Upstream writes
    /// these errors to stderr; sending them as MSG_ERROR is equally visible.
    pub(crate) fn diagnostics(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.stderr.lines().map(str::to_owned).collect();
        for m in &self.msgs {
            if matches!(
                m.code,
                MsgCode::Error | MsgCode::ErrorXfer | MsgCode::Warning | MsgCode::Info
            ) {
                let text = String::from_utf8_lossy(&m.payload);
                lines.extend(text.lines().map(str::to_owned));
            }
        }
        lines
    }

    /// Asserts the exit code and that one diagnostic line satisfies
    /// `line_ok` (given the line in lower case).
    pub(crate) fn check(&self, code: i32, what: &str, line_ok: impl Fn(&str) -> bool) {
        let diags = self.diagnostics();
        assert_eq!(
            self.code,
            Some(code),
            "{what}: expected exit code {code}\n--- diagnostics\n{}",
            diags.join("\n")
        );
        assert!(
            diags.iter().any(|l| line_ok(&l.to_ascii_lowercase())),
            "{what}: no diagnostic line describes the problem\n--- diagnostics\n{}",
            diags.join("\n")
        );
    }
}

fn entries_of(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// Runs `oxsync --server` as a receiver into `DEST`, sends what `payload`
/// builds (after the setup), closes the pipe, and checks that nothing
/// appeared outside `DEST` and no `escape`/`evil` appeared anywhere.
fn against_receiver(payload: impl FnOnce(&Peer) -> Vec<u8>) -> Outcome {
    against_receiver_with(SERVER_FLAGS, payload)
}

/// As [`against_receiver`], with other server flags.
pub(crate) fn against_receiver_with(
    flags: &str,
    payload: impl FnOnce(&Peer) -> Vec<u8>,
) -> Outcome {
    let s = Scratch::new();
    let dest = s.path("dest");
    fs::create_dir(&dest).expect("mkdir dest");
    let etc_evil_before = Path::new("/etc/evil").exists();
    let mut peer = Peer::start(&[
        "--server".into(),
        flags.into(),
        ".".into(),
        dest.clone().into(),
    ]);
    let data = payload(&peer);
    peer.send(&data);
    let out = peer.finish();
    let expected: BTreeSet<String> = ["dest".to_string()].into();
    assert_eq!(
        entries_of(s.root()),
        expected,
        "something was written next to DEST\n--- stderr\n{}",
        out.stderr
    );
    for (p, _) in snapshot(&dest) {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        assert!(
            !matches!(name.as_deref(), Some("escape" | "evil")),
            "DEST contains {}",
            p.display()
        );
    }
    assert!(
        etc_evil_before || !Path::new("/etc/evil").exists(),
        "/etc/evil was created"
    );
    out
}

/// A complete file list holding one regular file called `name`, with the
/// end marker and the uid/gid lists.
fn flist_with_name(peer: &Peer, name: &[u8]) -> Vec<u8> {
    let mut enc = FlistEncoder::new(peer.flist_options());
    let mut out = Vec::new();
    enc.encode(
        &mut out,
        &FileEntry {
            name: name.to_vec().into(),
            mode: S_IFREG | 0o644,
            ..FileEntry::default()
        }
        .with_size(3)
        .with_mtime(1_700_000_000),
    );
    enc.encode_end(&mut out, 0);
    let id0: Option<&[u8]> = peer.id0_names().then_some(b"root");
    write_id_list(&mut out, &[], id0);
    write_id_list(&mut out, &[], id0);
    out
}

#[test]
fn unsafe_dotdot_name_is_refused() {
    let out = against_receiver(|p| flist_with_name(p, b"../escape"));
    out.check(RERR_UNSUPPORTED, "`../escape` in the file list", |l| {
        l.contains("unsafe") && l.contains("../escape")
    });
}

#[test]
fn absolute_name_is_refused() {
    let out = against_receiver(|p| flist_with_name(p, b"/etc/evil"));
    out.check(RERR_UNSUPPORTED, "`/etc/evil` in the file list", |l| {
        l.contains("unsafe") && l.contains("/etc/evil")
    });
}

#[test]
fn oversized_name_is_refused() {
    let out = against_receiver(|_| {
        // Written by hand: flags with XMIT_LONG_NAME, suffix length 5000
        // (more than MAXPATHLEN), then the 5000 bytes.
        let mut out = Vec::new();
        write_varint(&mut out, XMIT_LONG_NAME as i32);
        write_varint(&mut out, 5000);
        out.extend(std::iter::repeat_n(b'a', 5000));
        out
    });
    out.check(RERR_MALLOC, "a 5000-byte name", |l| l.contains("5000"));
}

#[test]
fn truncated_file_list_is_a_stream_error() {
    let out = against_receiver(|_| {
        // One entry cut short: flags, a name length of 20, 5 name bytes.
        let mut out = Vec::new();
        write_varint(&mut out, (XMIT_SAME_UID | XMIT_SAME_GID) as i32);
        out.push(20);
        out.extend_from_slice(b"parti");
        out
    });
    out.check(RERR_STREAMIO, "a stream closed inside the file list", |l| {
        l.contains("closed") || l.contains("eof") || l.contains("end of file")
    });
}

/// Runs `oxsync --server --sender` on a source dir holding one 5000-byte
/// file, reads its file list as the client receiver would, then requests
/// that file with ITEM_TRANSFER and the given sum header (plus `count`
/// block sums of `s2length` bytes), and closes the pipe.
fn against_sender(head: SumHead) -> Outcome {
    against_sender_watched(head, false).0
}

/// As [`against_sender`]; with `watch`, the block sums have distinct
/// rolling sums and the server's peak RSS (VmHWM) is read until it stops
/// growing, before the pipe closes, and returned too.
fn against_sender_watched(head: SumHead, watch: bool) -> (Outcome, u64) {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir(&src).expect("mkdir src");
    write_file(&src.join("f"), &Prng::new(7).bytes(5000), 0o644, T0);
    let before = snapshot(&src);
    let mut peer = Peer::start(&[
        "--server".into(),
        "--sender".into(),
        SERVER_FLAGS.into(),
        ".".into(),
        src.clone().into(),
    ]);
    // The client receiver's (empty) filter list.
    let mut out = Vec::new();
    write_i32(&mut out, 0);
    peer.send(&out);

    let mut dec = FlistDecoder::new(peer.flist_options());
    let mut entries = Vec::new();
    loop {
        match dec.decode(&mut peer.r) {
            Ok(Some(e)) => entries.push(e),
            Ok(None) => break,
            Err(e) => {
                let out = peer.finish();
                panic!("reading the file list: {e}\n--- stderr\n{}", out.stderr);
            }
        }
    }
    let id0 = peer.id0_names();
    for which in ["uid", "gid"] {
        if let Err(e) = read_id_list(&mut peer.r, id0) {
            let out = peer.finish();
            panic!("reading the {which} list: {e}\n--- stderr\n{}", out.stderr);
        }
    }
    // Indexes refer to the sorted list.
    entries.sort_by(|a, b| compare_names(&a.name, a.is_dir(), &b.name, b.is_dir()));
    let ndx = entries
        .iter()
        .position(|e| e.is_file() && e.name.ends_with(b"f"))
        .unwrap_or_else(|| panic!("no regular file in the list: {entries:?}"));

    let mut out = Vec::new();
    NdxWriter::default().write(&mut out, ndx as i32);
    out.extend_from_slice(&0x8000u16.to_le_bytes()); // ITEM_TRANSFER
    head.write(&mut out);
    for i in 0..head.count {
        let sum1 = if watch {
            (i as u32).wrapping_mul(0x9E37_79B1)
        } else {
            0
        };
        write_i32(&mut out, sum1 as i32);
        out.extend(std::iter::repeat_n(0u8, head.s2length.max(0) as usize));
    }
    peer.send(&out);
    let mut peak = 0;
    let mut still = 0;
    while watch && still < 10 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let status = fs::read_to_string(format!("/proc/{}/status", peer.child.id()));
        let hwm = status.ok().and_then(|st| {
            let line = st.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        match hwm {
            Some(k) if k * 1024 <= peak => still += 1,
            Some(k) => (peak, still) = (k * 1024, 0),
            None => break,
        }
    }
    let outcome = peer.finish();
    assert_eq!(entries_of(s.root()), ["src".to_string()].into());
    assert!(snapshot(&src) == before, "the sender changed its source");
    (outcome, peak)
}

/// A million block sums with distinct rolling sums: the sender keeps them
/// in about 6 bytes a block and its match table in about 20, not in an
/// allocation per block (peak RSS 139 MiB before, 26 now).
#[test]
fn a_million_block_sums_stay_compact() {
    let (out, peak) = against_sender_watched(
        SumHead {
            count: 1 << 20,
            blength: 700,
            s2length: 2,
            remainder: 0,
        },
        true,
    );
    eprintln!("peak RSS {} MiB, exit {:?}", peak >> 20, out.code);
    assert!(peak > 0, "no peak RSS read\n{}", out.stderr);
    assert!(
        peak < 48 << 20,
        "peak RSS {} MiB\n{}",
        peak >> 20,
        out.stderr
    );
    // The pipe closed while the sender waited for the next request.
    out.check(RERR_STREAMIO, "eof after the file", |l| {
        l.contains("closed") || l.contains("eof") || l.contains("end of file")
    });
}

#[test]
fn oversized_strong_sum_length_is_refused() {
    let out = against_sender(SumHead {
        count: 1,
        blength: 700,
        s2length: 32, // the md5 digest has 16 bytes
        remainder: 0,
    });
    out.check(RERR_PROTOCOL, "s2length 32 with md5", |l| {
        l.contains("checksum length") && l.contains("32")
    });
}

#[test]
fn blocks_with_zero_length_are_harmless() {
    let out = against_sender(SumHead {
        count: 1,
        blength: 0,
        s2length: 16,
        remainder: 0,
    });
    // Stock rsync 3.2.7 accepts this header, sends the file as literal
    // data, and exits with RERR_STREAMIO (12) when we close the pipe;
    // rsync 3.5.0's read_sum_head() refuses it with "Invalid zero block
    // length" (2), as oxsync does. Either is safe; anything else (a crash,
    // a hang, another code) is not.
    match out.code {
        Some(RERR_STREAMIO) => out.check(RERR_STREAMIO, "count=1 blength=0 (tolerated)", |l| {
            l.contains("closed") || l.contains("eof")
        }),
        _ => out.check(RERR_PROTOCOL, "count=1 blength=0 (refused)", |l| {
            l.contains("invalid zero block length")
        }),
    }
}

/// A file list for `-H` whose last entry is a hard-link follower naming
/// wire index `first`: a directory, a plain file and a group leader come
/// before it.
fn flist_with_follower(peer: &Peer, first: i32) -> Vec<u8> {
    let mut opts = peer.flist_options();
    opts.preserve_hard_links = true;
    let mut enc = FlistEncoder::new(opts);
    let mut out = Vec::new();
    let file = |name: &[u8], hlink| {
        FileEntry {
            name: name.to_vec().into(),
            mode: S_IFREG | 0o644,
            hlink,
            ..FileEntry::default()
        }
        .with_size(3)
        .with_mtime(1_700_000_000)
    };
    enc.encode(
        &mut out,
        &FileEntry {
            name: b"d".into(),
            mode: protocol::flist::S_IFDIR | 0o755,
            ..FileEntry::default()
        }
        .with_mtime(1_700_000_000),
    );
    enc.encode(&mut out, &file(b"plain", None.into()));
    enc.encode(&mut out, &file(b"lead", Some(2).into()));
    // Written by hand: the encoder only names real leaders.
    write_varint(
        &mut out,
        (protocol::flist::XMIT_HLINKED | XMIT_SAME_UID | XMIT_SAME_GID) as i32,
    );
    out.push(8);
    out.extend_from_slice(b"follower");
    write_varint(&mut out, first);
    enc.encode_end(&mut out, 0);
    let id0: Option<&[u8]> = peer.id0_names().then_some(b"root");
    write_id_list(&mut out, &[], id0);
    write_id_list(&mut out, &[], id0);
    out
}

/// Upstream flist.c recv_file_entry refuses an index that is not an
/// earlier entry ("hard-link reference out of range: 3 (3)",
/// RERR_PROTOCOL). An earlier entry that did not start a group (a
/// directory, a plain file) is refused the same way by oxsync; stock rsync
/// 3.2.7 accepts it (copying that entry's attributes) and only fails with
/// RERR_STREAMIO when we close the pipe, so with `OXSYNC_TEST_BIN` naming
/// stock rsync those two cases expect that.
#[test]
fn hard_link_follower_must_name_an_earlier_leader() {
    let flags = "-lHogDtpre.LsfxCIvu";
    let stock = oxsync_bin().file_name().is_some_and(|n| n == "rsync");
    for (first, what, strict) in [
        (3, "itself", false),
        (4, "a later entry", false),
        (1_000_000, "far past the end", false),
        (-1, "a negative index", false),
        (1, "a plain file", true),
        (0, "a directory", true),
    ] {
        let out = against_receiver_with(flags, |p| flist_with_follower(p, first));
        let what = format!("a follower naming {what}");
        if strict && stock {
            out.check(RERR_STREAMIO, &what, |l| l.contains("closed"));
        } else {
            out.check(RERR_PROTOCOL, &what, |l| {
                l.contains("hard-link") && (strict || l.contains(&format!("{first} (3)")))
            });
        }
    }
    // The same list with a real leader is accepted (the server then stops
    // because we send nothing more).
    let out = against_receiver_with(flags, |p| flist_with_follower(p, 2));
    assert_eq!(out.code, Some(RERR_STREAMIO), "{:?}", out.diagnostics());
    assert!(
        !out.diagnostics().iter().any(|l| l.contains("hard-link")),
        "{:?}",
        out.diagnostics()
    );
}

/// After a file list holding `f`, a sender answering the generator with a
/// fuzzy basis of its own choosing: basis type `basis_type` and name
/// `xname` (upstream receiver.c: "refusing malicious fuzzy operation",
/// RERR_PROTOCOL). Nothing is read through the name.
fn fuzzy_echo(peer: &Peer, basis_type: u8, xname: &[u8]) -> Vec<u8> {
    let mut out = flist_with_name(peer, b"f");
    NdxWriter::default().write(&mut out, 0);
    let iflags: u16 = (1 << 15) | (1 << 11) | (1 << 12);
    out.extend_from_slice(&iflags.to_le_bytes());
    out.push(basis_type);
    protocol::varint::write_vstring(&mut out, xname);
    SumHead::default().write(&mut out);
    out
}

#[test]
fn fuzzy_basis_the_receiver_did_not_choose_is_refused() {
    // Without --fuzzy, any fuzzy basis is refused.
    let out = against_receiver(|p| fuzzy_echo(p, 0x83, b"f2"));
    out.check(RERR_PROTOCOL, "a fuzzy basis without --fuzzy", |l| {
        l.contains("refusing malicious fuzzy operation")
    });
    // With -y, a name that is not one component of the file's directory.
    for xname in [&b"../escape"[..], b"a/b", b"..", b""] {
        let out = against_receiver_with("-logDtprye.LsfxCIvu", |p| fuzzy_echo(p, 0x83, xname));
        out.check(RERR_PROTOCOL, "a fuzzy basis name with a slash", |l| {
            l.contains("refusing malicious fuzzy operation")
        });
    }
    // With -y (no basis dirs), a basis-dir fuzzy type.
    let out = against_receiver_with("-logDtprye.LsfxCIvu", |p| fuzzy_echo(p, 0x84, b"f2"));
    out.check(RERR_PROTOCOL, "a basis-dir fuzzy type without -yy", |l| {
        l.contains("invalid basis_dir index")
    });
}
