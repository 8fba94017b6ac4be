//! `--iconv`: file names (and, with CF_SYMLINK_ICONV, symlink targets) go
//! over the wire in UTF-8; each side converts between its own charset and
//! UTF-8 (upstream rsync.c setup_iconv, flist.c send_file_entry /
//! recv_file_entry). The client's `--iconv=LOCAL,REMOTE` keeps LOCAL and
//! gives the server `--iconv=REMOTE`; `.` (or nothing) is the locale's
//! charset. In a local copy the sending side uses LOCAL and the receiving
//! side REMOTE, as upstream's forked local server does.
use crate::error::{Error, Result};
use confine::iconv::Iconv;
use protocol::exit;
use std::sync::{Mutex, OnceLock};

/// The longest converted name or symlink target (upstream MAXPATHLEN).
pub const MAX_CONVERTED: usize = 4096;

/// The wire's charset (upstream UTF8_CHARSET).
const UTF8: &str = "UTF-8";

struct Side {
    /// Local charset -> UTF-8 (upstream ic_send).
    send: Mutex<Iconv>,
    /// UTF-8 -> local charset (upstream ic_recv).
    recv: Mutex<Iconv>,
}

static SENDING: OnceLock<Side> = OnceLock::new();
static RECEIVING: OnceLock<Side> = OnceLock::new();

fn open_side(spec: &str) -> Result<Side> {
    let charset = if spec.is_empty() || spec == "." {
        confine::iconv::locale_charset()
    } else {
        spec.to_string()
    };
    let failed = |to: &str, from: &str| {
        Error::new(
            exit::RERR_UNSUPPORTED,
            format!("iconv_open(\"{to}\", \"{from}\") failed"),
        )
    };
    let send = Iconv::open(UTF8, &charset).map_err(|_| failed(UTF8, &charset))?;
    let recv = Iconv::open(&charset, UTF8).map_err(|_| failed(&charset, UTF8))?;
    Ok(Side {
        send: Mutex::new(send),
        recv: Mutex::new(recv),
    })
}

/// Opens the conversions `--iconv=SPEC` asks for (nothing without it):
/// `server` for the server's side, `local` for a local copy (two sides in
/// this process).
// upstream: rsync.c:setup_iconv()
pub fn setup(iconv: Option<&str>, server: bool, local: bool) -> Result<()> {
    let Some(spec) = iconv else {
        return Ok(());
    };
    let (mine, theirs) = match spec.split_once(',') {
        Some((a, b)) => (a, b),
        None => (spec, spec),
    };
    let (sending, receiving) = if server {
        (theirs, theirs)
    } else if local {
        (mine, theirs)
    } else {
        (mine, mine)
    };
    let _ = SENDING.set(open_side(sending)?);
    let _ = RECEIVING.set(open_side(receiving)?);
    Ok(())
}

/// Whether names are converted in this process.
pub fn active() -> bool {
    SENDING.get().is_some()
}

fn convert(c: &Mutex<Iconv>, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut c = c.lock().unwrap_or_else(|p| p.into_inner());
    c.convert(bytes, MAX_CONVERTED)
}

/// The sender's local name or symlink target in UTF-8 for the wire (None
/// without --iconv).
pub fn to_wire(bytes: &[u8]) -> Option<std::io::Result<Vec<u8>>> {
    SENDING.get().map(|s| convert(&s.send, bytes))
}

/// A received UTF-8 name or symlink target in the receiver's charset
/// (None without --iconv).
pub fn from_wire(bytes: &[u8]) -> Option<std::io::Result<Vec<u8>>> {
    RECEIVING.get().map(|s| convert(&s.recv, bytes))
}

/// A sender's list entry with its name and symlink target back in this
/// side's charset, for its own output (None without --iconv, or when they
/// do not convert back).
pub fn shown_by_sender(e: &protocol::flist::FileEntry) -> Option<protocol::flist::FileEntry> {
    let side = SENDING.get()?;
    let mut shown = e.clone();
    shown.name = convert(&side.recv, &e.name).ok()?.into();
    if let Some(t) = e.link_target() {
        if let Ok(local) = convert(&side.recv, t) {
            shown.set_link_target(Some(local));
        }
    }
    Some(shown)
}

/// `t` through `c`, a byte that does not convert kept as it is; `None`
/// when even that overflows (upstream's buffers are bounded too).
fn convert_text(c: &Mutex<Iconv>, t: &[u8]) -> Option<Vec<u8>> {
    let mut c = c.lock().unwrap_or_else(|p| p.into_inner());
    c.convert_keeping_bad(t, t.len().saturating_mul(4).saturating_add(16))
        .ok()
}

/// A server's message line (this side's charset) for the wire, in UTF-8
/// (None without --iconv).
// upstream: log.c rwrite() -> send_msg(..., convert = !is_utf8), ic_send
pub fn msg_to_wire(text: &[u8]) -> Option<Vec<u8>> {
    RECEIVING.get().and_then(|s| convert_text(&s.send, text))
}

/// A message line from the server (UTF-8) in this side's charset, for the
/// client's output (None without --iconv).
// upstream: io.c read_a_msg() -> rwrite(..., is_utf8), ic_recv
pub fn msg_from_wire(text: &[u8]) -> Option<Vec<u8>> {
    SENDING.get().and_then(|s| convert_text(&s.recv, text))
}

/// The `--files-from` names a receiving side forwards under `-s`
/// (NUL-terminated, as `treeshape::forward_bytes` makes them), each in
/// UTF-8 (None without --iconv).
// upstream: io.c forward_filesfrom_data() (filesfrom_convert, ic_send)
pub fn forwarded_to_wire(bytes: &[u8]) -> Option<Vec<u8>> {
    let side = RECEIVING.get()?;
    let mut out = Vec::with_capacity(bytes.len() + 16);
    for name in bytes.split_inclusive(|&b| b == 0) {
        let (name, nul) = match name.split_last() {
            Some((0, n)) => (n, true),
            _ => (name, false),
        };
        match convert_text(&side.send, name) {
            Some(c) => out.extend_from_slice(&c),
            None => out.extend_from_slice(name),
        }
        if nul {
            out.push(0);
        }
    }
    Some(out)
}

/// A forwarded `--files-from` name (UTF-8) in the sending side's charset
/// (None without --iconv).
// upstream: io.c read_line() with RL_CONVERT (ic_recv)
pub fn forwarded_from_wire(name: &[u8]) -> Option<Vec<u8>> {
    SENDING.get().and_then(|s| convert_text(&s.recv, name))
}
