//! A hostile server for pulling clients, built on the `protocol` crate: the
//! client runs it as its remote shell (`-e`), asks it for files, and gets a
//! file list crafted by the test instead of what it asked for.
//!
//! The `-e` program is a small bash script that forwards the client's pipes
//! to a loopback TCP connection accepted by [`FakeServer`] in the test
//! process (after sending the remote command line, NUL-separated). The
//! server plays `rsync --server --sender` at protocol 31: setup, the
//! client's filter rules and `--files-from` names, the crafted list, then
//! the end-of-run exchange. Entries that need no file data (directories,
//! symlinks) complete a transfer; a request for file data ends the
//! connection (recorded in [`Served::data_requested`]).
use crate::util::*;
use protocol::compat::{server_flags_for, CF_ID0_NAMES, CF_INC_RECURSE, CF_VARINT_FLIST_FLAGS};
use protocol::flist::{write_id_list, FileEntry, FlistEncoder, FlistOptions};
use protocol::mplex::{MplexReader, MplexWriter};
use protocol::ndx::{NdxReader, NdxWriter, NDX_DEL_STATS, NDX_DONE};
use protocol::negotiate::{read_name_list, write_name_list};
use protocol::stats::{DelStats, Stats};
use protocol::sum_head::SumHead;
use protocol::varint::{write_i32, write_varint, WireRead};
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// upstream rsync.h item flags the generator sends.
const ITEM_TRANSFER: u32 = 1 << 15;
const ITEM_BASIS_TYPE_FOLLOWS: u32 = 1 << 11;
const ITEM_XNAME_FOLLOWS: u32 = 1 << 12;
const ITEM_REPORT_XATTR: u32 = 1 << 8;

/// What the fake server saw and did.
#[derive(Debug, Default)]
pub struct Served {
    /// The remote command line (after the host): `rsync --server ...`.
    pub argv: Vec<String>,
    /// The filter rules the client sent.
    pub rules: Vec<String>,
    /// The `--files-from` names the client forwarded.
    pub files_from: Vec<String>,
    /// The client asked for a file's data (the connection was then closed).
    pub data_requested: bool,
    /// The end-of-run exchange completed.
    pub finished: bool,
    /// Where the conversation stopped early (the client gave up, ...).
    pub stopped: Option<String>,
}

/// A fake server waiting for one connection from the `-e` script.
pub struct FakeServer {
    script: PathBuf,
    handle: Option<JoinHandle<Served>>,
    /// Set once the client has exited: a connection not made by then
    /// never will be.
    client_done: Arc<AtomicBool>,
}

impl FakeServer {
    /// Listens on loopback and writes the `-e` script into `s`; the client
    /// that runs the script gets `entries` as its file list, in this order.
    pub fn start(s: &Scratch, entries: Vec<FileEntry>) -> FakeServer {
        FakeServer::start_with_xattrs(s, entries, Vec::new())
    }

    /// As [`FakeServer::start`], each entry followed (with `-X`) by the
    /// bytes of `xattrs` at its index (an empty literal list when absent).
    /// The server answers an xattr request with no values.
    pub fn start_with_xattrs(
        s: &Scratch,
        entries: Vec<FileEntry>,
        xattrs: Vec<Vec<u8>>,
    ) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let script = s.path("fake-rsh.sh");
        // socket -> stdout in the background (the only holder of stdout,
        // so the client sees the server hang up); stdin -> socket in the
        // foreground, until the client closes our stdin.
        let text = format!(
            "#!/bin/bash\nexec 3<>/dev/tcp/127.0.0.1/{port} || exit 255\nshift\n\
             printf '%s\\0' \"$@\" >&3\nprintf '\\0' >&3\n\
             cat <&3 &\nreader=$!\nexec 1>&-\ncat >&3\n\
             kill $reader 2>/dev/null\nwait $reader\nexit 0\n"
        );
        fs::write(&script, text).expect("write fake rsh");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod fake rsh");
        let client_done = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&client_done);
        let handle = thread::spawn(move || serve(listener, (entries, xattrs), &done));
        FakeServer {
            script,
            handle: Some(handle),
            client_done,
        }
    }

    /// The program to pass as `-e`.
    pub fn rsh(&self) -> &Path {
        &self.script
    }

    /// Waits for the conversation to end and reports it; call it once the
    /// client has exited.
    pub fn served(mut self) -> Served {
        self.client_done.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .expect("served once")
            .join()
            .expect("fake server thread")
    }
}

type Listed = (Vec<FileEntry>, Vec<Vec<u8>>);

fn serve(listener: TcpListener, entries: Listed, client_done: &AtomicBool) -> Served {
    let mut served = Served::default();
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let deadline = Instant::now() + run_timeout();
    let stream = loop {
        match listener.accept() {
            Ok((st, _)) => break st,
            Err(_) if Instant::now() < deadline && !client_done.load(Ordering::SeqCst) => {
                thread::sleep(Duration::from_millis(10))
            }
            Err(e) => {
                served.stopped = Some(format!("no connection: {e}"));
                return served;
            }
        }
    };
    stream.set_nonblocking(false).expect("blocking stream");
    // A safety net for a client that stops talking (the harness's
    // deadline on the client reports the hang itself).
    let _ = stream.set_read_timeout(Some(run_timeout()));
    if let Err(e) = converse(&stream, &entries, &mut served) {
        served.stopped = Some(e);
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    served
}

/// The sender's flags from the client's short-option bundle.
struct Flags {
    letters: String,
    info: String,
}

fn flags_of(argv: &[String]) -> Flags {
    let bundle = argv
        .iter()
        .find(|a| a.starts_with('-') && !a.starts_with("--"))
        .map(|a| a[1..].to_string())
        .unwrap_or_default();
    match bundle.find('e') {
        Some(p) => Flags {
            letters: bundle[..p].to_string(),
            info: bundle[p + 1..].to_string(),
        },
        None => Flags {
            letters: bundle,
            info: String::new(),
        },
    }
}

fn converse(stream: &TcpStream, listed: &Listed, served: &mut Served) -> Result<(), String> {
    let (entries, xattrs) = listed;
    let mut raw = stream.try_clone().map_err(|e| e.to_string())?;
    served.argv = read_argv(&mut raw)?;
    let flags = flags_of(&served.argv);
    let mut r = MplexReader::new(raw, Box::new(|_| Ok(())));
    let mut w = MplexWriter::new(stream.try_clone().map_err(|e| e.to_string())?);
    let err = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");

    // upstream compat.c setup_protocol(), server side.
    let mut out = Vec::new();
    write_i32(&mut out, 31);
    w.write_all(&out).map_err(|e| err("version", &e))?;
    w.flush().map_err(|e| err("version", &e))?;
    let theirs = r
        .read_i32_field("protocol version")
        .map_err(|e| err("version", &e))?;
    let protocol = theirs.min(31);
    let compat = server_flags_for(&flags.info) & !CF_INC_RECURSE;
    let mut out = Vec::new();
    write_varint(&mut out, compat);
    if compat & CF_VARINT_FLIST_FLAGS != 0 {
        write_name_list(&mut out, &["md5"]);
    }
    w.write_all(&out).map_err(|e| err("compat", &e))?;
    w.flush().map_err(|e| err("compat", &e))?;
    if compat & CF_VARINT_FLIST_FLAGS != 0 {
        read_name_list(&mut r).map_err(|e| err("checksum list", &e))?;
    }
    let mut out = Vec::new();
    write_i32(&mut out, 0);
    w.write_all(&out).map_err(|e| err("seed", &e))?;
    w.flush().map_err(|e| err("seed", &e))?;
    w.set_multiplexed(true).map_err(|e| err("multiplex", &e))?;
    r.set_multiplexed(true);

    // The client's rules, then its --files-from names.
    loop {
        let len = r
            .read_i32_field("rule length")
            .map_err(|e| err("rules", &e))?;
        if len == 0 {
            break;
        }
        let len = usize::try_from(len).map_err(|e| err("rule length", &e))?;
        let rule = r
            .read_bytes(len, 5120, "rule")
            .map_err(|e| err("rules", &e))?;
        served
            .rules
            .push(String::from_utf8_lossy(&rule).into_owned());
    }
    if served.argv.iter().any(|a| a == "--files-from=-") {
        served.files_from = read_names(&mut r)?;
    }

    let fo = FlistOptions {
        protocol,
        varint_flags: compat & CF_VARINT_FLIST_FLAGS != 0,
        preserve_uid: flags.letters.contains('o'),
        preserve_gid: flags.letters.contains('g'),
        preserve_links: flags.letters.contains('l'),
        preserve_devices: flags.letters.contains('D'),
        preserve_specials: flags.letters.contains('D'),
        checksum_len: flags.letters.contains('c').then_some(16),
        preserve_hard_links: false,
        preserve_atimes: false,
    };
    let mut enc = FlistEncoder::new(fo);
    let mut out = Vec::new();
    let with_xattrs = flags.letters.contains('X');
    for (i, e) in entries.iter().enumerate() {
        enc.encode(&mut out, e);
        if with_xattrs {
            out.extend_from_slice(xattrs.get(i).map_or(&[0, 0][..], |x| x.as_slice()));
        }
    }
    enc.encode_end(&mut out, 0);
    let id0: Option<&[u8]> = (compat & CF_ID0_NAMES != 0).then_some(b"root");
    if fo.preserve_uid {
        write_id_list(&mut out, &[], id0);
    }
    if fo.preserve_gid {
        write_id_list(&mut out, &[], id0);
    }
    w.write_all(&out).map_err(|e| err("file list", &e))?;
    w.flush().map_err(|e| err("file list", &e))?;
    end_of_run(&mut r, &mut w, served, with_xattrs).map_err(|e| err("after the file list", &e))
}

/// The sender's side of the rest of the run (upstream sender.c
/// send_files() and main.c read_final_goodbye()) for a list that needs
/// no file data.
fn end_of_run(
    r: &mut MplexReader<TcpStream>,
    w: &mut MplexWriter<TcpStream>,
    served: &mut Served,
    with_xattrs: bool,
) -> Result<(), String> {
    let mut ndx_r = NdxReader::default();
    let mut ndx_w = NdxWriter::default();
    let mut phase = 0;
    let mut next = |r: &mut MplexReader<TcpStream>, out: &mut Vec<u8>, ndx_w: &mut NdxWriter| loop {
        let ndx = ndx_r.read(r).map_err(|e| e.to_string())?;
        if ndx == NDX_DEL_STATS {
            let d = DelStats::read(r).map_err(|e| e.to_string())?;
            ndx_w.write(out, NDX_DEL_STATS);
            d.write(out);
            continue;
        }
        return Ok::<i32, String>(ndx);
    };
    let mut out = Vec::new();
    loop {
        let ndx = next(r, &mut out, &mut ndx_w)?;
        if ndx == NDX_DONE {
            phase += 1;
            if phase > 2 {
                break;
            }
            ndx_w.write(&mut out, NDX_DONE);
            send(w, &mut out)?;
            continue;
        }
        let iflags = r.read_u16_field("iflags").map_err(|e| e.to_string())? as u32;
        let mut echo = Vec::new();
        ndx_w.write(&mut echo, ndx);
        echo.extend_from_slice(&(iflags as u16).to_le_bytes());
        if iflags & ITEM_BASIS_TYPE_FOLLOWS != 0 {
            echo.push(r.read_u8_field("basis").map_err(|e| e.to_string())?);
        }
        if iflags & ITEM_XNAME_FOLLOWS != 0 {
            let x = r.read_vstring(4096, "xname").map_err(|e| e.to_string())?;
            protocol::varint::write_vstring(&mut echo, &x);
        }
        if with_xattrs && iflags & ITEM_REPORT_XATTR != 0 {
            // The generator's request (item numbers up to 0), answered
            // with no values.
            while r.read_varint("xattr request").map_err(|e| e.to_string())? != 0 {}
            echo.push(0);
        }
        if iflags & ITEM_TRANSFER != 0 {
            let _ = SumHead::read(r, 16);
            served.data_requested = true;
            return Ok(());
        }
        out.extend_from_slice(&echo);
    }
    ndx_w.write(&mut out, NDX_DONE);
    Stats {
        total_read: 0,
        total_written: 0,
        total_size: 0,
        flist_buildtime: 0,
        flist_xfertime: 0,
    }
    .write(&mut out);
    send(w, &mut out)?;
    // read_final_goodbye: protocol 31 echoes one NDX_DONE first.
    let mut ndx = next(r, &mut out, &mut ndx_w)?;
    if ndx == NDX_DONE {
        ndx_w.write(&mut out, NDX_DONE);
        send(w, &mut out)?;
        ndx = next(r, &mut out, &mut ndx_w)?;
    }
    if ndx != NDX_DONE {
        return Err(format!("unexpected index {ndx} at the end of the run"));
    }
    served.finished = true;
    Ok(())
}

fn send(w: &mut MplexWriter<TcpStream>, out: &mut Vec<u8>) -> Result<(), String> {
    w.write_all(out).map_err(|e| e.to_string())?;
    w.flush().map_err(|e| e.to_string())?;
    out.clear();
    Ok(())
}

/// The command line the script sends first: NUL-terminated words, then an
/// empty one.
fn read_argv(r: &mut impl Read) -> Result<Vec<String>, String> {
    let words = read_names(r)?;
    if words.is_empty() {
        return Err("empty remote command line".into());
    }
    Ok(words)
}

/// NUL-terminated names up to an empty one (bounded).
fn read_names(r: &mut impl Read) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = Vec::new();
    let mut total = 0usize;
    loop {
        let b = r.read_u8_field("name").map_err(|e| e.to_string())?;
        total += 1;
        if total > 1 << 20 {
            return Err("name list too long".into());
        }
        if b != 0 {
            cur.push(b);
        } else if cur.is_empty() {
            return Ok(words);
        } else {
            words.push(String::from_utf8_lossy(&std::mem::take(&mut cur)).into_owned());
        }
    }
}
