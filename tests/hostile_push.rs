//! A hostile client pushing to a daemon (over a remote shell, the daemon
//! reading its config): streams that no real sender produces, each refused
//! with upstream rsync 3.5.0's message and exit code, and logged in the
//! daemon's log as upstream logs it. These are the shapes of upstream's
//! `proto-cleared-ndx`, `proto-msg-info-assert` and
//! `proto-parent-ndx-empty-dirflist` tests.
use crate::fakepeer::Peer;
use crate::util::*;
use protocol::compat::CF_INC_RECURSE;
use protocol::flist::S_IFDIR;
use protocol::flist::{write_id_list, FileEntry, FlistEncoder, S_IFREG};
use protocol::mplex::MsgCode;
use protocol::ndx::{NdxWriter, NDX_DONE, NDX_FLIST_OFFSET};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// upstream errcode.h
const RERR_PROTOCOL: i32 = 2;
const RERR_STREAMIO: i32 = 12;
/// upstream rsync.h
const ITEM_TRANSFER: u16 = 1 << 15;

/// A daemon config with one writable module `m` and a log file.
/// A writable daemon module `m` in a scratch directory, with its log.
pub(crate) struct Module {
    _s: Scratch,
    pub(crate) conf: PathBuf,
    log: PathBuf,
    pub(crate) dir: PathBuf,
}

impl Module {
    pub(crate) fn new() -> Module {
        let s = Scratch::new();
        let dir = s.path("mod");
        fs::create_dir(&dir).expect("mkdir module");
        let me = fs::metadata(&dir).expect("stat");
        let conf = s.path("rsyncd.conf");
        let log = s.path("daemon.log");
        fs::write(
            &conf,
            format!(
                "use chroot = no\nuid = {}\ngid = {}\nlog file = {}\nlock file = {}\n\
                 [m]\npath = {}\nread only = no\n",
                me.uid(),
                me.gid(),
                log.display(),
                s.path("lock").display(),
                dir.display()
            ),
        )
        .expect("conf");
        Module {
            _s: s,
            conf,
            log,
            dir,
        }
    }

    /// A push of `-a` into the module.
    fn push(&self) -> Peer {
        self.push_with(crate::fakepeer::SERVER_FLAGS)
    }

    fn push_with(&self, flags: &str) -> Peer {
        Peer::start_daemon(&self.conf, "m", &["--server", flags, ".", "m/"])
    }

    pub(crate) fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn file(name: &[u8], size: i64) -> FileEntry {
    FileEntry {
        name: name.to_vec().into(),
        mode: S_IFREG | 0o644,
        ..FileEntry::default()
    }
    .with_size(size)
    .with_mtime(1_700_000_000)
}

/// A complete file list of `entries` (as given, unsorted), with the end
/// marker and the (empty) uid/gid lists.
fn flist(peer: &Peer, entries: &[FileEntry]) -> Vec<u8> {
    let mut enc = FlistEncoder::new(peer.flist_options());
    let mut out = Vec::new();
    for e in entries {
        enc.encode(&mut out, e);
    }
    enc.encode_end(&mut out, 0);
    let id0: Option<&[u8]> = peer.id0_names().then_some(b"root");
    write_id_list(&mut out, &[], id0);
    write_id_list(&mut out, &[], id0);
    out
}

/// The same name twice: the receiver keeps the first and clears the
/// second (upstream flist_sort_and_clean), so a transfer record for the
/// second's index names nothing. Upstream receiver.c recv_files():
/// "rsync: refusing transfer of cleared file index 1", RERR_PROTOCOL.
#[test]
fn transfer_of_a_cleared_duplicate_is_refused() {
    let m = Module::new();
    let mut peer = m.push();
    let dup = file(b"dup.txt", 0);
    let mut data = flist(&peer, &[dup.clone(), dup]);
    NdxWriter::default().write(&mut data, 1);
    data.extend_from_slice(&0u16.to_le_bytes());
    peer.send(&data);
    let out = peer.finish_holding_stdin();
    out.check(RERR_PROTOCOL, "a record for a cleared duplicate", |l| {
        l.contains("refusing transfer of cleared file index 1")
    });
    let log = m.log_text();
    assert!(
        log.contains("receiving file list")
            && log.contains("refusing transfer of cleared file index 1"),
        "daemon log:\n{log}"
    );
    // At most the first (kept) entry, empty, was made; nothing else.
    for e in fs::read_dir(&m.dir).expect("read module") {
        let e = e.expect("entry");
        assert_eq!(e.file_name(), "dup.txt", "the module holds {:?}", e.path());
        assert_eq!(e.metadata().expect("stat").len(), 0);
    }
}

/// After the sender's second NDX_DONE only the closing handshake is
/// left; a file record then is refused (upstream receiver.c recv_files():
/// "got transfer request in phase 2 [receiver]", RERR_PROTOCOL) before
/// any of its data is read.
#[test]
fn transfer_request_in_the_last_phase_is_refused() {
    let m = Module::new();
    let mut peer = m.push();
    let mut data = flist(&peer, &[file(b"late.txt", 3)]);
    let mut ndx = NdxWriter::default();
    ndx.write(&mut data, NDX_DONE);
    ndx.write(&mut data, NDX_DONE);
    ndx.write(&mut data, 0);
    data.extend_from_slice(&ITEM_TRANSFER.to_le_bytes());
    peer.send(&data);
    let out = peer.finish_holding_stdin();
    out.check(RERR_PROTOCOL, "a file record in phase 2", |l| {
        l.contains("got transfer request in phase 2")
    });
    assert!(
        !m.dir.join("late.txt").exists(),
        "the late record made a file"
    );
}

/// A sender never sends MSG_INFO to a receiver; upstream log.c rwrite()
/// takes one from a peer anyway: a daemon logs the line and passes it
/// back to the client. The transfer then ends on our closed pipe as any
/// cut connection does (RERR_STREAMIO).
#[test]
fn info_message_from_the_sender_is_logged_and_returned() {
    const MARKER: &str = "OXSYNC-PEER-INFO-7f3a";
    let m = Module::new();
    let mut peer = m.push();
    let data = flist(&peer, &[file(b"hello.txt", 0)]);
    peer.send(&data);
    peer.send_msg(MsgCode::Info, format!("{MARKER}\n").as_bytes());
    let out = peer.finish();
    out.check(RERR_STREAMIO, "a peer's MSG_INFO", |l| {
        l.contains(&MARKER.to_ascii_lowercase())
    });
    let log = m.log_text();
    assert!(
        log.lines().any(|l| l.ends_with(&format!("] {MARKER}"))),
        "daemon log:\n{log}"
    );
    assert!(
        !m.dir.join(MARKER).exists(),
        "the message became a file in the module"
    );
}

/// "." is the transfer root; as a regular file it is refused before
/// anything is made (upstream flist.c recv_file_entry(): "ERROR:
/// rejecting non-directory transfer-root entry: .", RERR_PROTOCOL), and
/// the daemon's log shows the list was being received (upstream logs
/// "receiving file list" as it starts reading one).
#[test]
fn non_directory_transfer_root_is_refused_and_logged() {
    let m = Module::new();
    let mut peer = m.push();
    let data = flist(&peer, &[file(b".", 100), file(b"a", 100)]);
    peer.send(&data);
    let out = peer.finish_holding_stdin();
    out.check(RERR_PROTOCOL, "a regular-file \".\"", |l| {
        l.contains("rejecting non-directory transfer-root entry: .")
    });
    let log = m.log_text();
    let at = |needle: &str| log.find(needle);
    match (
        at("receiving file list"),
        at("rejecting non-directory transfer-root entry"),
    ) {
        (Some(a), Some(b)) if a < b => {}
        _ => panic!("daemon log:\n{log}"),
    }
    assert!(
        fs::read_dir(&m.dir).expect("read module").next().is_none(),
        "something was written to the module"
    );
}

/// A client that offers incremental recursion (`i` in its `-e` letters)
/// does not get it: oxsync's receiver reads one whole list. A
/// sub-file-list marker is then an index like any other outside the list,
/// refused with upstream's wording for a receiver without incremental
/// recursion (rsync.c read_ndx_and_attrs(): "Invalid file index: N (-1 -
/// LAST) [receiver]", RERR_PROTOCOL), whether it names a directory slot
/// the list cleaning dropped (upstream's `proto-cleared-dirflist` shape) or
/// comes after the sender's NDX_DONE (`proto-subflist-freed`).
#[test]
fn sub_file_list_markers_are_invalid_indexes() {
    let dir = |name: &[u8]| {
        FileEntry {
            name: name.to_vec().into(),
            mode: S_IFDIR | 0o755,
            ..FileEntry::default()
        }
        .with_mtime(1_700_000_000)
    };
    for (what, done, last) in [
        ("a cleared directory's list", false, 2),
        ("a list after NDX_DONE", true, 1),
    ] {
        let m = Module::new();
        // A client that does not offer incremental recursion (no `i`;
        // with it the sub-lists are checked, see tests/increc.rs).
        let mut peer = m.push_with("-logDtpre.LsfxCIvu");
        assert_eq!(
            peer.compat() & CF_INC_RECURSE,
            0,
            "the daemon granted incremental recursion"
        );
        let mut entries = vec![dir(b"d"), dir(b"d")];
        if !done {
            entries.push(file(b"f", 100));
        }
        let mut data = flist(&peer, &entries);
        let mut ndx = NdxWriter::default();
        if done {
            ndx.write(&mut data, NDX_DONE);
        }
        let marker = NDX_FLIST_OFFSET - i32::from(!done);
        ndx.write(&mut data, marker);
        peer.send(&data);
        let out = peer.finish_holding_stdin();
        let want = format!("invalid file index: {marker} (-1 - {last}) [receiver]");
        out.check(RERR_PROTOCOL, what, |l| l.contains(&want));
    }
}
