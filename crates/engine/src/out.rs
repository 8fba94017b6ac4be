//! Where user-facing lines go: a client prints them, a server turns them
//! into multiplexed messages for the client to print.
use crate::itemize::ItemFormat;
use protocol::{MplexWriter, MsgCode};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

/// The writer half of a connection, shared by the threads of one side.
pub type SharedWriter = Arc<Mutex<MplexWriter<Box<dyn Write + Send>>>>;

/// Wraps a writer for sharing.
pub fn shared(w: Box<dyn Write + Send>) -> SharedWriter {
    Arc::new(Mutex::new(MplexWriter::new(w)))
}

/// Locks a shared writer (a poisoned lock means another thread of this side
/// panicked; the stream is then unusable).
pub fn lock(
    w: &SharedWriter,
) -> io::Result<std::sync::MutexGuard<'_, MplexWriter<Box<dyn Write + Send>>>> {
    w.lock()
        .map_err(|_| io::Error::other("writer lock poisoned"))
}

enum Mode {
    Terminal,
    Wire(SharedWriter),
}

/// The message sink of one side of a transfer.
pub struct Out {
    mode: Mode,
    /// How item lines look on this client.
    pub format: ItemFormat,
    quiet: bool,
    /// --progress (client only).
    pub progress: bool,
    xfer_error: AtomicBool,
    io_error: AtomicI32,
    protocol: AtomicI32,
    /// `%C` shows the checksum's bytes last first (the xxhash family's
    /// canonical form, upstream sum_as_hex()).
    sum_reverse: AtomicBool,
    file_log: std::sync::OnceLock<FileLogFn>,
    ctl: std::sync::OnceLock<OutCtl>,
    progress2: Mutex<crate::progress::Progress>,
    item_log: std::sync::OnceLock<FileLogFn>,
    /// A custom `--out-format` for item lines (else `format`'s own).
    line_fmt: std::sync::OnceLock<LineFmtFn>,
    msg_log: std::sync::OnceLock<MsgLogFn>,
    landlock: std::sync::OnceLock<crate::stats::LandlockNote>,
}

/// Receives the messages a client prints (for `--log-file`).
pub type MsgLogFn = Box<dyn Fn(&[u8]) + Send + Sync>;

/// The client's output settings from the control options.
#[derive(Debug, Clone, Copy)]
pub struct OutCtl {
    /// `-8`
    pub eight_bit: bool,
    /// The locale is UTF-8 (valid UTF-8 names print as they are).
    pub utf8: bool,
    /// `--info=del` level.
    pub del: u8,
    /// `--info=progress` level.
    pub progress: u8,
    /// `--info=name` level (progress prints names when no format does).
    pub name: u8,
    /// The `-h` level.
    pub human: u8,
    /// upstream msgs2stderr 1: informational lines go to stderr too.
    pub all_to_stderr: bool,
    /// A transferred file's line is printed before its data (the format
    /// shows nothing only known after it: no `%b`, `%c`, `%C`).
    pub log_before: bool,
}

/// One file a daemon transferred, for its `transfer logging`.
#[derive(Debug, Clone, Copy)]
pub struct FileEvent<'a> {
    /// This side sent the file (else received it).
    pub sender: bool,
    /// The item flags.
    pub iflags: u32,
    /// The file-list entry (name relative to the transfer root).
    pub entry: &'a protocol::flist::FileEntry,
}

/// Receives [`FileEvent`]s.
pub type FileLogFn = Box<dyn Fn(FileEvent<'_>) + Send + Sync>;

/// Renders a client's item line from a [`FileEvent`] and the xname (a
/// custom `--out-format`).
/// The bool: the checksum (`%C`) is shown last byte first.
pub type LineFmtFn = Box<dyn Fn(FileEvent<'_>, &[u8], bool) -> String + Send + Sync>;

impl Out {
    /// A client's sink with --progress.
    pub fn terminal_with_progress(format: ItemFormat, quiet: bool, progress: bool) -> Arc<Out> {
        let o = Out {
            mode: Mode::Terminal,
            format,
            quiet,
            progress,
            xfer_error: AtomicBool::new(false),
            io_error: AtomicI32::new(0),
            protocol: AtomicI32::new(0),
            sum_reverse: AtomicBool::new(false),
            file_log: std::sync::OnceLock::new(),
            ctl: std::sync::OnceLock::new(),
            progress2: Mutex::new(crate::progress::Progress::default()),
            item_log: std::sync::OnceLock::new(),
            line_fmt: std::sync::OnceLock::new(),
            msg_log: std::sync::OnceLock::new(),
            landlock: std::sync::OnceLock::new(),
        };
        Arc::new(o)
    }
    /// A client's sink: info to stdout, errors to stderr.
    pub fn terminal(format: ItemFormat, quiet: bool) -> Arc<Out> {
        Arc::new(Out {
            mode: Mode::Terminal,
            format,
            quiet,
            progress: false,
            xfer_error: AtomicBool::new(false),
            io_error: AtomicI32::new(0),
            protocol: AtomicI32::new(0),
            sum_reverse: AtomicBool::new(false),
            file_log: std::sync::OnceLock::new(),
            ctl: std::sync::OnceLock::new(),
            progress2: Mutex::new(crate::progress::Progress::default()),
            item_log: std::sync::OnceLock::new(),
            line_fmt: std::sync::OnceLock::new(),
            msg_log: std::sync::OnceLock::new(),
            landlock: std::sync::OnceLock::new(),
        })
    }
    /// A server's sink: every line becomes a message to the client.
    pub fn wire(w: SharedWriter, format: ItemFormat) -> Arc<Out> {
        Arc::new(Out {
            mode: Mode::Wire(w),
            format,
            quiet: true,
            progress: false,
            xfer_error: AtomicBool::new(false),
            io_error: AtomicI32::new(0),
            protocol: AtomicI32::new(0),
            sum_reverse: AtomicBool::new(false),
            file_log: std::sync::OnceLock::new(),
            ctl: std::sync::OnceLock::new(),
            progress2: Mutex::new(crate::progress::Progress::default()),
            item_log: std::sync::OnceLock::new(),
            line_fmt: std::sync::OnceLock::new(),
            msg_log: std::sync::OnceLock::new(),
            landlock: std::sync::OnceLock::new(),
        })
    }
    /// Records what Landlock did for this run (first call wins).
    pub fn set_landlock(&self, note: crate::stats::LandlockNote) {
        let _ = self.landlock.set(note);
    }

    /// What Landlock did for this run, if it was asked to confine it.
    pub fn landlock(&self) -> Option<crate::stats::LandlockNote> {
        self.landlock.get().cloned()
    }

    /// Sets a custom `--out-format` renderer for item lines (first call
    /// wins).
    pub fn set_line_format(&self, f: LineFmtFn) {
        let _ = self.line_fmt.set(f);
    }

    /// The client's line for an item, or `None` when nothing is printed:
    /// the custom `--out-format` when one is set, else `format`'s line.
    pub fn item_line(&self, ev: FileEvent<'_>, xname: &[u8]) -> Option<String> {
        if !self.format.enabled() {
            return None;
        }
        match self.line_fmt.get() {
            Some(f) => Some(f(ev, xname, self.sum_reverse.load(Ordering::SeqCst))),
            None => self.format.line_x(ev.iflags, ev.entry, xname),
        }
    }

    /// Applies the client's control options (first call wins).
    pub fn set_control(&self, c: OutCtl) {
        let _ = self.ctl.set(c);
    }

    /// The total size of the list (for `--info=progress2`).
    pub fn set_total_size(&self, total: u64) {
        if let Ok(mut p) = self.progress2.lock() {
            p.set_total(total);
        }
    }

    /// Incremental recursion: while the list is still arriving the
    /// progress counters read `ir-chk`, after its end `to-chk`.
    pub fn set_flist_incomplete(&self, incomplete: bool) {
        if let Ok(mut p) = self.progress2.lock() {
            p.flist_incomplete = incomplete;
        }
    }

    /// Marks the terminal's line as left open (a progress line, "building
    /// file list ... "): the next message ends it first, as upstream's
    /// output_needs_newline.
    pub fn hold_line(&self) {
        if let Ok(mut p) = self.progress2.lock() {
            p.pending_newline = true;
        }
    }

    /// Takes back [`Out::hold_line`] without ending the line (its owner
    /// completes it).
    pub fn release_line(&self) {
        if let Ok(mut p) = self.progress2.lock() {
            p.pending_newline = false;
        }
    }

    /// Ends a pending `--info=progress2` line.
    pub fn finish_progress(&self) {
        self.end_line(false);
    }

    /// Ends a line left open (progress, "building file list ... ") before
    /// a message, with a newline on the message's own stream (stderr for
    /// an error), as upstream's rwrite() does with output_needs_newline.
    fn end_line(&self, error: bool) {
        let pending = self
            .progress2
            .lock()
            .map(|mut p| std::mem::take(&mut p.pending_newline))
            .unwrap_or(false);
        if pending {
            self.write_terminal(b"\n", error);
        }
    }

    /// Writes client output: escaped as upstream's rwrite() does, to
    /// stdout (stderr for errors, or for everything with --msgs2stderr).
    fn write_terminal(&self, text: &[u8], error: bool) {
        let ctl = self.ctl.get();
        let (eight_bit, utf8) = ctl.map_or((true, true), |c| (c.eight_bit, c.utf8));
        let text = crate::text::unmask(text);
        let mut buf = Vec::with_capacity(text.len() + 8);
        // A trailing newline or CR and a leading CR (progress lines) stay
        // raw; everything between is escaped, embedded newlines too.
        let (body, end) = match text.split_last() {
            Some((&c, body)) if c == b'\n' || c == b'\r' => (body, Some(c)),
            _ => (&text[..], None),
        };
        let body = match body.split_first() {
            Some((b'\r', rest)) => {
                buf.push(b'\r');
                rest
            }
            _ => body,
        };
        buf.extend(crate::text::escape_line(body, eight_bit, utf8));
        buf.extend(end);
        if !error && !ctl.is_some_and(|c| c.all_to_stderr) {
            write_stdout(&buf);
        } else {
            let mut e = io::stderr().lock();
            let _ = e.write_all(&buf);
        }
    }

    /// Sets the per-file log hook (a daemon's `transfer logging`); only the
    /// first call takes effect.
    pub fn set_file_log(&self, f: FileLogFn) {
        let _ = self.file_log.set(f);
    }
    /// Reports one transferred file to the per-file log hook, if any.
    pub fn log_file(&self, ev: FileEvent<'_>) {
        if let Some(f) = self.file_log.get() {
            f(ev);
        }
        self.log_item(ev);
    }
    /// Sets the `--log-file` hook, which sees every item (transferred or
    /// not); only the first call takes effect.
    pub fn set_item_log(&self, f: FileLogFn) {
        let _ = self.item_log.set(f);
    }
    /// Sets the `--log-file` hook for messages (first call wins).
    pub fn set_msg_log(&self, f: MsgLogFn) {
        let _ = self.msg_log.set(f);
    }
    fn log_msg(&self, text: &[u8]) {
        if let Some(f) = self.msg_log.get() {
            f(text);
        }
    }
    /// Reports an item to the `--log-file` hook, if any.
    pub fn log_item(&self, ev: FileEvent<'_>) {
        if let Some(f) = self.item_log.get() {
            f(ev);
        }
    }
    /// Records the negotiated protocol (decides MSG_ERROR_EXIT).
    pub fn set_protocol(&self, p: i32) {
        self.protocol.store(p, Ordering::SeqCst);
    }
    /// Whether `%C` shows the checksum last byte first (set once the
    /// checksum is negotiated).
    pub fn set_sum_reverse(&self, on: bool) {
        self.sum_reverse.store(on, Ordering::SeqCst);
    }
    /// The negotiated protocol, 0 before setup.
    pub fn protocol(&self) -> i32 {
        self.protocol.load(Ordering::SeqCst)
    }
    /// Text from the peer for stdout, as sent.
    pub fn raw_info(&self, bytes: &[u8]) {
        match &self.mode {
            Mode::Terminal => {
                // --iconv: the server's lines come in UTF-8.
                let converted = crate::charset::msg_from_wire(bytes);
                let bytes = converted.as_deref().unwrap_or(bytes);
                self.log_msg(bytes);
                self.finish_progress();
                self.write_terminal(bytes, false);
            }
            // upstream log.c rwrite(): a server logs the peer's line (a
            // daemon's log file) and passes it back to the client as sent.
            Mode::Wire(w) => {
                self.log_msg(bytes);
                if let Ok(mut g) = lock(w) {
                    if g.is_multiplexed() {
                        let _ = g.send_msg(MsgCode::Info, bytes);
                    }
                }
            }
        }
    }
    /// A line only for the log (upstream FLOG): a daemon's log file, a
    /// client's `--log-file`; never shown to the peer.
    pub fn log_only(&self, line: &str) {
        self.log_msg(line.as_bytes());
    }
    /// Client-only text (upstream FCLIENT): printed as given (escaped,
    /// a trailing newline or CR kept), not logged, nothing on a server.
    pub fn client_text(&self, text: &[u8]) {
        if self.is_terminal() && !self.quiet {
            self.write_terminal(text, false);
        }
    }
    /// Text from the peer for stderr, as sent.
    pub fn raw_error(&self, bytes: &[u8]) {
        if self.is_terminal() {
            let converted = crate::charset::msg_from_wire(bytes);
            let bytes = converted.as_deref().unwrap_or(bytes);
            self.log_msg(bytes);
            self.end_line(true);
            self.write_terminal(bytes, true);
            return;
        }
        self.log_msg(bytes);
        let mut e = io::stderr().lock();
        let _ = e.write_all(bytes);
    }
    /// The `--info=progress` level of this side (0 on a server).
    pub(crate) fn progress_level(&self) -> u8 {
        if !self.is_terminal() || self.quiet {
            return 0;
        }
        self.ctl
            .get()
            .map_or(u8::from(self.progress), |c| c.progress)
    }

    /// Whether a transferred file's line is printed before its data.
    pub fn logs_before_transfer(&self) -> bool {
        self.is_terminal() && self.ctl.get().is_none_or(|c| c.log_before)
    }

    /// Before a file's data on a client: its item line when it is printed
    /// before the transfer, else its name alone when `--progress` shows
    /// names and the line comes after. `ev` is the item.
    // upstream: receiver.c recv_files() / sender.c send_files(), "log the
    // transfer"
    pub fn item_before_transfer(&self, ev: FileEvent<'_>, xname: &[u8]) {
        if !self.is_terminal() {
            return;
        }
        if self.logs_before_transfer() {
            if let Some(line) = self.item_line(ev, xname) {
                self.info(&line);
            }
        } else if self.progress_level() == 1 && self.ctl.get().is_some_and(|c| c.name > 0) {
            self.info(&crate::text::name_text(&ev.entry.name));
        }
    }

    /// With --progress on a client: a reading during a file, `ofs` of its
    /// `size` bytes done (printed at most once a second).
    // upstream: progress.c:show_progress()
    pub fn show_progress(&self, ofs: u64, size: u64) {
        let level = self.progress_level();
        if level == 0 {
            return;
        }
        let human = self.ctl.get().map_or(1, |c| c.human);
        let line = match self.progress2.lock() {
            Ok(mut p) => p.update(std::time::Instant::now(), (ofs, size), level, human),
            Err(_) => None,
        };
        if let Some(line) = line {
            self.write_terminal(line.as_bytes(), false);
        }
    }

    /// With --progress on a client: the closing line of a transferred
    /// file of `size` bytes.
    // upstream: progress.c:end_progress()
    pub fn end_progress(&self, size: u64, c: crate::progress::Counters) {
        let level = self.progress_level();
        if level == 0 {
            return;
        }
        let human = self.ctl.get().map_or(1, |c| c.human);
        let line = match self.progress2.lock() {
            Ok(mut p) => p.end(std::time::Instant::now(), size, level, c, human),
            Err(_) => return,
        };
        self.write_terminal(line.as_bytes(), false);
    }

    /// True on the client.
    pub fn is_terminal(&self) -> bool {
        matches!(self.mode, Mode::Terminal)
    }

    fn send(&self, code: MsgCode, line: &str) -> bool {
        match &self.mode {
            Mode::Terminal => false,
            Mode::Wire(w) => {
                let mut text = crate::text::unmask(line.as_bytes()).into_owned();
                // --iconv: the line goes in UTF-8 (upstream send_msg()'s
                // conversion).
                if let Some(t) = crate::charset::msg_to_wire(&text) {
                    text = t;
                }
                text.push(b'\n');
                if let Ok(mut g) = lock(w) {
                    if g.is_multiplexed() {
                        let _ = g.send_msg(code, &text);
                        return true;
                    }
                }
                false
            }
        }
    }

    /// An informational line (stdout on the client).
    pub fn info(&self, line: &str) {
        if self.send(MsgCode::Info, line) {
            return;
        }
        if self.is_terminal() {
            if self.quiet {
                return;
            }
            self.finish_progress();
            self.write_terminal(format!("{line}\n").as_bytes(), false);
        }
    }
    /// A line for stderr on the client.
    fn terminal_error(&self, line: &str) {
        self.log_msg(line.as_bytes());
        self.end_line(true);
        self.write_terminal(format!("{line}\n").as_bytes(), true);
    }
    /// A warning (stderr).
    pub fn warning(&self, line: &str) {
        if !self.send(MsgCode::Warning, line) {
            self.terminal_error(line);
        }
    }
    /// An error that does not fail the transfer by itself (stderr).
    pub fn error(&self, line: &str) {
        if !self.send(MsgCode::Error, line) {
            self.terminal_error(line);
        }
    }
    /// A per-file error: the transfer goes on but exits 23.
    pub fn error_xfer(&self, line: &str) {
        self.xfer_error.store(true, Ordering::SeqCst);
        if !self.send(MsgCode::ErrorXfer, line) {
            self.terminal_error(line);
        }
    }
    /// Notes that the peer reported a per-file error.
    pub fn note_xfer_error(&self) {
        self.xfer_error.store(true, Ordering::SeqCst);
    }
    /// True once any per-file error happened.
    pub fn had_xfer_error(&self) -> bool {
        self.xfer_error.load(Ordering::SeqCst)
    }
    /// ORs io_error bits (IOERR_*).
    pub fn add_io_error(&self, bits: i32) {
        self.io_error.fetch_or(bits, Ordering::SeqCst);
    }
    /// The io_error bits so far.
    pub fn io_error(&self) -> i32 {
        self.io_error.load(Ordering::SeqCst)
    }
    /// Reports a deletion: MSG_DELETED from a server, a log line on a client.
    // upstream: log.c:log_delete()
    pub fn deleted(&self, name: &[u8], is_dir: bool) {
        if self.item_log.get().is_some() {
            use protocol::flist::{S_IFDIR, S_IFREG};
            let entry = protocol::flist::FileEntry {
                name: name.into(),
                mode: if is_dir {
                    S_IFDIR | 0o755
                } else {
                    S_IFREG | 0o644
                },
                ..Default::default()
            };
            self.log_item(FileEvent {
                sender: false,
                iflags: crate::itemize::ITEM_DELETED,
                entry: &entry,
            });
        }
        match &self.mode {
            Mode::Wire(w) => {
                let mut payload = name.to_vec();
                if is_dir {
                    payload.push(0);
                }
                if let Ok(mut g) = lock(w) {
                    let _ = g.send_msg(MsgCode::Deleted, &payload);
                }
            }
            Mode::Terminal => {
                let line = match self.ctl.get() {
                    // upstream log_delete(): "*deleting" with -i, else
                    // "deleting" at --info=del1 and above or whenever
                    // names are printed.
                    Some(c) if self.format.itemize == 0 => (c.del > 0 || self.format.enabled())
                        .then(|| {
                            let mut n = crate::text::name_text(name);
                            if is_dir && !n.ends_with('/') {
                                n.push('/');
                            }
                            format!("deleting {n}")
                        }),
                    _ => self.format.deleted_line(name, is_dir),
                };
                if let Some(line) = line {
                    self.info(&line);
                }
            }
        }
    }
    /// The exit code this side's non-fatal errors imply (23, 24 or 0).
    pub fn final_code(&self) -> i32 {
        let io = self.io_error();
        if self.had_xfer_error() || io & 1 != 0 {
            protocol::exit::RERR_PARTIAL
        } else if io & 2 != 0 {
            protocol::exit::RERR_VANISHED
        } else if io & 4 != 0 {
            protocol::exit::RERR_DEL_LIMIT
        } else {
            0
        }
    }
}

/// `--outbuf=B`: the client's stdout is written in blocks of this size
/// (and at exit, [`flush_stdout`]), as setvbuf(_IOFBF) would.
const STDOUT_BLOCK: usize = 8192;

/// The client's stdout buffering (`--outbuf`): b'N' (every write goes out
/// at once), b'L' (by lines, the default) or b'B' (by blocks).
static STDOUT_MODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(b'L');
static STDOUT_BLOCKS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Sets the client's stdout buffering from `--outbuf` ('N', 'L' or 'B').
// upstream: options.c parse_arguments() (setvbuf(stdout, ...))
pub fn set_stdout_buffering(mode: char) {
    flush_stdout();
    let mode = u8::try_from(mode).unwrap_or(b'L');
    STDOUT_MODE.store(mode, std::sync::atomic::Ordering::Relaxed);
}

/// Writes the client's stdout text as `--outbuf` asks.
fn write_stdout(buf: &[u8]) {
    let mode = STDOUT_MODE.load(std::sync::atomic::Ordering::Relaxed);
    if mode == b'B' {
        let mut pending = STDOUT_BLOCKS.lock().unwrap_or_else(|p| p.into_inner());
        pending.extend_from_slice(buf);
        if pending.len() >= STDOUT_BLOCK {
            let mut o = io::stdout().lock();
            let _ = o.write_all(&pending).and_then(|()| o.flush());
            pending.clear();
        }
        return;
    }
    let mut o = io::stdout().lock();
    if mode == b'N' {
        // Unbuffered: each piece goes out as it is written (std's stdout
        // would hold a partial line).
        let _ = o.write_all(buf).and_then(|()| o.flush());
    } else {
        let _ = o.write_all(buf);
        let _ = o.flush();
    }
}

/// Writes out what `--outbuf=B` holds (at exit).
pub fn flush_stdout() {
    let mut pending = STDOUT_BLOCKS.lock().unwrap_or_else(|p| p.into_inner());
    if !pending.is_empty() {
        let mut o = io::stdout().lock();
        let _ = o.write_all(&pending).and_then(|()| o.flush());
        pending.clear();
    }
}

/// The client's terminal settings for [`crate::out::Out::set_control`].
pub fn out_ctl(opts: &crate::Options) -> crate::out::OutCtl {
    let c = &opts.ctl;
    crate::out::OutCtl {
        eight_bit: c.eight_bit,
        utf8: crate::text::utf8_locale(),
        del: c.info.del,
        progress: c.info.progress,
        name: c.info.name,
        human: c.human_readable,
        all_to_stderr: c.msgs2stderr == 1,
        log_before: !opts.log_format.as_deref().is_some_and(|f| {
            ['b', 'c', 'C']
                .iter()
                .any(|&e| crate::control::log_format_has(f, e))
        }),
    }
}
