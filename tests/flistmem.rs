//! What a received file list costs (issue 14): the allocation bound
//! (`--max-alloc`) charges each entry what it really holds, a compact
//! entry with its rare fields out of line, so a list that fits in the
//! bound is accepted and the server's peak memory stays near the bound,
//! while a hostile sender's millions of entries are refused at it with
//! upstream's message and exit code 22.
use crate::fakepeer::{Peer, RERR_MALLOC};
use crate::util::*;
use protocol::flist::{write_id_list, FileEntry, FlistEncoder, S_IFDIR, S_IFREG};
use std::fs;
use std::time::Duration;

/// The bound both tests run with.
const MAX_ALLOC: u64 = 64 << 20;
/// What the server may hold besides the list: its code, stacks, buffers.
const BASELINE: u64 = 24 << 20;

/// The peak resident size of process `pid` (VmHWM), in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Runs `oxsync --server` receiving into an empty DEST with
/// `--max-alloc=64M` and streams `n` entries `d/f0000000`... (then, if
/// all went, the end marker and empty id lists). Waits until the server's
/// peak RSS stops growing (it has the list and waits for file data that
/// never comes, or it is gone), ends the session and returns the entries
/// sent, the peak RSS seen and the outcome. DEST stays empty (a dry
/// run).
fn stream(n: usize) -> (usize, u64, crate::fakepeer::Outcome) {
    let s = Scratch::new();
    let dest = s.path("dest");
    fs::create_dir(&dest).expect("mkdir dest");
    let mut peer = Peer::start(&[
        "--server".into(),
        "-nlogDtpre.LsfxCIvu".into(),
        format!("--max-alloc={MAX_ALLOC}").into(),
        ".".into(),
        dest.clone().into(),
    ]);
    let pid = peer.child.id();
    let (opts, id0) = (peer.flist_options(), peer.id0_names());
    let mut enc = FlistEncoder::new(opts);
    let mut e = FileEntry {
        mode: S_IFREG | 0o644,
        ..FileEntry::default()
    }
    .with_size(1)
    .with_mtime(1_700_000_000);
    let (mut sent, mut peak, mut buf) = (0, 0, Vec::new());
    // The files' directory first: a list the receiver can take.
    let dir = FileEntry {
        name: b"d".into(),
        mode: S_IFDIR | 0o755,
        ..FileEntry::default()
    }
    .with_mtime(1_700_000_000);
    enc.encode(&mut buf, &dir);
    while sent < n {
        for i in sent..(sent + 10_000).min(n) {
            e.name = format!("d/f{i:07}").into_bytes().into();
            enc.encode(&mut buf, &e);
        }
        peak = peak.max(peak_rss(pid).unwrap_or(0));
        if peer.send_raw(&buf).is_err() {
            break;
        }
        buf.clear();
        sent = (sent + 10_000).min(n);
    }
    if sent == n {
        buf.clear();
        enc.encode_end(&mut buf, 0);
        let id0: Option<&[u8]> = id0.then_some(b"root");
        write_id_list(&mut buf, &[], id0);
        write_id_list(&mut buf, &[], id0);
        let _ = peer.send_raw(&buf);
    }
    let mut still = 0;
    while still < 10 {
        std::thread::sleep(Duration::from_millis(100));
        match peak_rss(pid) {
            Some(k) if k <= peak => still += 1,
            Some(k) => (peak, still) = (k, 0),
            None => break,
        }
    }
    let out = peer.finish();
    eprintln!(
        "{n} entries: {sent} sent, peak RSS {} MiB, exit {:?}: {}",
        peak >> 20,
        out.code,
        out.diagnostics().first().map_or("", String::as_str)
    );
    assert!(
        fs::read_dir(&dest).expect("read dest").next().is_none(),
        "something was written to DEST"
    );
    (sent, peak, out)
}

/// 300,000 entries fit in 64 MiB as the receiver holds them (under 200
/// bytes each): the list is accepted (the
/// session then ends with exit 12 when the fake sender hangs up instead
/// of answering) and the server's peak stays within the bound plus its
/// baseline. The entries of oxsync-s6a (152 bytes before their names)
/// were charged 244 bytes: the same list was refused there.
#[test]
fn a_list_that_fits_the_bound_is_accepted_within_it() {
    accepted_within_the_bound(300_000);
}

/// Streams `n` entries: the server takes them all without refusing at
/// --max-alloc, and its peak RSS stays within the bound plus the baseline.
fn accepted_within_the_bound(n: usize) {
    let (sent, peak, out) = stream(n);
    let diags = out.diagnostics().join("\n");
    assert!(
        !diags.contains("exceeded --max-alloc"),
        "a list of {n} entries was refused at --max-alloc={MAX_ALLOC}:\n{diags}"
    );
    assert_eq!(sent, n, "the server stopped reading the list");
    assert_ne!(out.code, Some(RERR_MALLOC), "{diags}");
    // The list was taken; the session ends when the fake sender hangs up
    // instead of answering: RERR_STREAMIO.
    assert_eq!(out.code, Some(12), "{diags}");
    assert!(
        peak <= MAX_ALLOC + BASELINE,
        "peak RSS {} MiB for {n} entries at --max-alloc=64M",
        peak >> 20
    );
}

/// 480,000 entries with short names: the list fits in 64 MiB and is
/// accepted, and the peak stays within the bound plus the baseline.
/// oxsync-s6z's 88-byte entries, each with a heap block for its name (172
/// bytes), refused it.
#[test]
fn compact_entries_fit_a_larger_list_in_the_bound() {
    accepted_within_the_bound(480_000);
}

/// 720,000 entries with short names: the receiving side keeps one copy of
/// each name, inside its entry (no `RelPath` of it beside), and was
/// charged about 76 bytes an entry: the list fits in 64 MiB and is
/// accepted, the peak within the bound plus the baseline. Main at 77afc95
/// held and charged a path with its heap block besides (about 124 bytes)
/// and refused it.
#[test]
fn one_copy_of_each_name_fits_a_larger_list_in_the_bound() {
    accepted_within_the_bound(720_000);
}

/// 940,000 entries with short names: an entry keeps only the low halves
/// of its size and mtime (the high ones go out of line when not zero), 64
/// bytes, charged 68 with its slot in the sort's index: the list fits in
/// 64 MiB (about 61 MiB) and is accepted, the peak within the bound plus
/// the baseline. oxsync-s7d's 72-byte entries were charged 76 (about 68
/// MiB): the same list was refused there.
#[test]
fn half_width_size_and_mtime_fit_a_larger_list_in_the_bound() {
    accepted_within_the_bound(940_000);
}

/// A hostile sender streaming 5,000,000 entries: refused at the bound
/// with upstream's message and exit code 22, long before the end, and the
/// server never held much more than the bound.
#[test]
fn five_million_entries_are_refused_at_the_bound() {
    let n = 5_000_000;
    let (sent, peak, out) = stream(n);
    out.check(RERR_MALLOC, "a 5,000,000-entry list", |l| {
        l.contains(&format!("exceeded --max-alloc={MAX_ALLOC} setting"))
    });
    assert!(
        sent < n,
        "the server read all {sent} entries before refusing"
    );
    assert!(
        peak <= MAX_ALLOC + BASELINE,
        "peak RSS {} MiB before the refusal at --max-alloc=64M",
        peak >> 20
    );
}
