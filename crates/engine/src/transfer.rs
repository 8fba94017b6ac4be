//! The role drivers: one sending side and one receiving side, each for a
//! client or a server, over any byte stream. Local copies join the two over
//! an in-process socket pair, so they run exactly the remote code path.
use crate::ctx::RecvCtx;
pub use crate::error::{closing_line, closing_line_at};
use crate::error::{Error, PeerExit, Result};
use crate::filters::{self, DaemonFilter};
use crate::flist::{self, FileList};
use crate::itemize::ItemFormat;
use crate::options::{DeleteMode, Options};
use crate::out::{lock, shared, Out, SharedWriter};
use crate::sender;
use crate::session::{self, Session, Side};
use crate::stats::XferStats;
use confine::{AmbientAuthority, Links, RelPath, Root};
use filter::{FilterList, WireOptions};
use protocol::exit;
use protocol::mplex::{payload_i32, Message, MplexReader, MsgCode, MsgHandler};
use protocol::varint::WireRead;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The read half of a connection.
pub type Input = Box<dyn Read + Send>;

/// How this end of the connection was reached.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// Client or server.
    pub side: Side,
    /// A server's copy of the client's `-e` letters.
    pub client_info: Option<String>,
    /// The two sides are halves of one local copy (no filter list, whole
    /// files by default).
    pub local: bool,
    /// The protocol a daemon greeting settled (skips the version exchange).
    pub agreed_protocol: Option<i32>,
    /// A daemon module's own rules (`exclude`, `filter`, ...), which the
    /// client's rules cannot override.
    pub daemon_filter: Option<DaemonFilter>,
    /// A daemon module's `incoming chmod`: applied to received modes.
    pub incoming_chmod: Option<crate::chmod::ChmodSpec>,
    /// A daemon module's `outgoing chmod`: applied to the sent list.
    pub outgoing_chmod: Option<crate::chmod::ChmodSpec>,
    /// A daemon module's `numeric ids`: a receiving side ignores the
    /// sender's user and group names.
    pub numeric_ids: bool,
    /// A daemon module that is not chrooted at its own root (and does not
    /// munge symlinks): a receiving side makes each received symlink
    /// target stay inside the module (leading `/` and excess `..`
    /// dropped).
    pub sanitize_symlinks: bool,
    /// A daemon module's `timeout` in seconds, announced to the client with
    /// MSG_IO_TIMEOUT once multiplexing starts (protocol 31 and later).
    pub io_timeout: Option<u32>,
    /// A `--files-from` list this side read already (a daemon reads it
    /// beneath its module); without it a server opens the named file.
    pub files_from_data: Option<Vec<u8>>,
    /// Where a sending side reads its files: beneath a daemon module's
    /// root, or (the default) the operator's own paths.
    pub sources: crate::source::Sources,
    /// A pulling client: what it asked the remote sender for, which every
    /// received name is checked against (None: no check).
    pub requested: Option<crate::trust::Requested>,
    /// A client's batch file: the stream is recorded into it, or (a
    /// replay) the connection is one.
    pub batch: Option<crate::batch::LinkBatch>,
}

/// Applies a chmod spec to every entry but symlinks.
fn tweak_modes(entries: &mut [protocol::flist::FileEntry], spec: Option<&crate::chmod::ChmodSpec>) {
    let Some(spec) = spec else { return };
    for e in entries {
        if e.mode & 0o170000 != 0o120000 {
            e.mode = spec.apply(e.mode);
        }
    }
}

impl Link {
    /// A remote-shell client.
    pub fn client() -> Link {
        Link {
            side: Side::Client,
            ..Default::default()
        }
    }
    /// A remote-shell server with the client's `-e` letters.
    pub fn server(client_info: Option<&str>) -> Link {
        Link {
            side: Side::Server,
            client_info: client_info.map(str::to_string),
            ..Default::default()
        }
    }
}

/// Longest filter rule accepted from the peer (upstream MAXPATHLEN).
const MAX_RULE_LEN: i32 = filter::MAX_WIRE_RULE_LEN as i32;

/// Most rules accepted from the peer.
const MAX_RULES: usize = 1 << 16;

/// Handles the peer's non-data messages: prints its text, records its
/// io_error, turns MSG_ERROR_EXIT into an error.
pub fn msg_handler(out: Arc<Out>) -> MsgHandler {
    msg_handler_with(out, None)
}

/// As [`msg_handler`], with the sender's `--remove-source-files` handler
/// for MSG_SUCCESS.
pub fn msg_handler_with(
    out: Arc<Out>,
    remover: Option<Arc<crate::remove_source::SourceRemover>>,
) -> MsgHandler {
    Box::new(move |m: Message| {
        match m.code {
            MsgCode::Success => {
                if let Some(r) = &remover {
                    r.success(&m.payload, &out);
                }
            }
            MsgCode::Info | MsgCode::Client => out.raw_info(&m.payload),
            MsgCode::Error | MsgCode::Warning | MsgCode::ErrorUtf8 | MsgCode::ErrorSocket => {
                out.raw_error(&m.payload)
            }
            MsgCode::ErrorXfer => {
                out.note_xfer_error();
                out.raw_error(&m.payload);
            }
            MsgCode::IoError => {
                if let Some(v) = payload_i32(&m.payload) {
                    out.add_io_error(v & 7);
                }
            }
            MsgCode::Deleted => {
                let (name, dir) = match m.payload.split_last() {
                    Some((0, rest)) => (rest, true),
                    _ => (m.payload.as_slice(), false),
                };
                out.deleted(name, dir);
            }
            MsgCode::ErrorExit => {
                let code = payload_i32(&m.payload).unwrap_or(exit::RERR_STREAMIO);
                return Err(io::Error::other(PeerExit(code)));
            }
            _ => {}
        }
        Ok(())
    })
}

fn start(
    r: Input,
    w: &SharedWriter,
    opts: &Options,
    link: &Link,
    out: &Arc<Out>,
    remover: Option<Arc<crate::remove_source::SourceRemover>>,
    receiving: bool,
) -> Result<(MplexReader<Input>, Session)> {
    let mut reader = MplexReader::new(r, msg_handler_with(out.clone(), remover));
    let session = {
        let mut g = lock(w)?;
        session::setup_with(
            &mut reader,
            &mut *g,
            opts,
            link.side,
            link.client_info.as_deref(),
            link.agreed_protocol,
            receiving,
        )?
    };
    out.set_protocol(session.protocol);
    out.set_sum_reverse(matches!(
        session.checksum,
        delta::ChecksumKind::Xxh64 | delta::ChecksumKind::Xxh3 | delta::ChecksumKind::Xxh128
    ));
    if link.side == Side::Client && opts.ctl.debug.nstr > 0 {
        report_choices(opts, &session, out);
    }
    lock(w)?.set_multiplexed(true)?;
    reader.set_multiplexed(true);
    announce_io_timeout(w, link, session.protocol)?;
    Ok((reader, session))
}

/// `--debug=NSTR`: the checksum and the compression the session settled
/// on, as a client prints them.
// upstream: checksum.c:parse_checksum_choice(), compat.c:parse_compress_choice()
fn report_choices(opts: &Options, session: &Session, out: &Out) {
    let negotiated = |chosen: &Option<String>| if chosen.is_none() { " negotiated" } else { "" };
    out.info(&format!(
        "Client{} checksum: {}",
        negotiated(&opts.checksum_choice),
        session.checksum.name()
    ));
    if let Some(codec) = session.compress {
        let level = codec.effective_level(opts.compress_level).unwrap_or(0);
        out.info(&format!(
            "Client{} compress: {} (level {level})",
            negotiated(&opts.compress_choice),
            codec.name()
        ));
    }
}

/// A daemon tells its client the module's timeout right after multiplexing
/// starts, so that the client can adopt a shorter one.
// upstream: main.c:start_server()
fn announce_io_timeout(w: &SharedWriter, link: &Link, protocol: i32) -> Result<()> {
    let Some(secs) = link.io_timeout.filter(|&t| t > 0) else {
        return Ok(());
    };
    if link.side == Side::Server && protocol >= 31 {
        let secs = i32::try_from(secs).unwrap_or(i32::MAX);
        lock(w)?.send_msg(MsgCode::IoTimeout, &secs.to_le_bytes())?;
    }
    Ok(())
}

/// Reads the client's filter rules. A received `merge` rule is never read
/// here: a peer must not make us open a file it names.
// upstream: exclude.c:recv_filter_list()
fn recv_filter_list<R: Read>(
    r: &mut R,
    protocol: i32,
    opts: &Options,
    link: &Link,
) -> Result<FilterList> {
    let mut rules = Vec::new();
    loop {
        let len = r.read_i32_field("filter rule length")?;
        if len == 0 {
            break;
        }
        if !(0..=MAX_RULE_LEN).contains(&len) {
            return Err(Error::protocol(format!(
                "filter rule length {len} out of range"
            )));
        }
        if rules.len() >= MAX_RULES {
            return Err(Error::protocol(format!(
                "more than {MAX_RULES} filter rules"
            )));
        }
        rules.push(r.read_bytes(len as usize, MAX_RULE_LEN as usize, "filter rule")?);
    }
    let mut list = FilterList::new();
    // upstream exclude.c get_cvs_excludes(): a client's `-C` also brings in
    // a remote-shell server's own $HOME/.cvsignore and $CVSIGNORE (not a
    // daemon's here).
    if link.agreed_protocol.is_none() {
        filters::server_cvs_sources(&mut list);
    }
    for rule in &rules {
        list.add_wire_rule(rule, protocol as u32, &mut |_| None)
            .map_err(|e| {
                Error::new(
                    exit::RERR_PROTOCOL,
                    format!("rsync: invalid filter rule from the client: {e}"),
                )
            })?;
    }
    filters::finish_received(&mut list, opts)?;
    Ok(list)
}

fn send_filter_list(
    w: &SharedWriter,
    list: &FilterList,
    protocol: i32,
    am_sender: bool,
) -> Result<()> {
    let mut b = Vec::new();
    list.encode_wire(
        WireOptions {
            protocol: protocol as u32,
            am_sender,
        },
        &mut b,
    )
    .map_err(|e| Error::new(exit::RERR_SYNTAX, format!("rsync: {e}")))?;
    lock(w)?.write_all(&b)?;
    Ok(())
}

/// The sending side: a client pushing (or copying locally), or a server
/// with `--sender`.
pub fn run_sender(
    r: Input,
    w: SharedWriter,
    opts: &Options,
    sources: &[String],
    link: &Link,
    out: Arc<Out>,
) -> Result<XferStats> {
    let (side, local) = (link.side, link.local);
    let remover = Arc::new(crate::remove_source::SourceRemover::default());
    let (mut reader, session) = start(r, &w, opts, link, &out, Some(remover.clone()), false)?;
    let mut rules = match side {
        Side::Server if !local => recv_filter_list(&mut reader, session.protocol, opts, link)?,
        _ => filters::from_options(opts)?,
    };
    if side == Side::Client {
        filters::print_notes(&mut rules, &out);
    }
    rules.take_notes();
    rules.set_debug(opts.ctl.debug_filter, "sender");
    if side == Side::Client
        && !local
        && (opts.delete != DeleteMode::Off || opts.tree.receiver_wants_rules())
    {
        send_filter_list(&w, &rules, session.protocol, true)?;
    }
    let recorder = record_from_here(link, &session)?;
    if let Some(rec) = &recorder {
        lock(&w)?.set_tee(Some(Box::new(rec.clone())));
    }
    let t0 = Instant::now();
    let flist_progress = crate::flist::FlistProgress::start(opts, side == Side::Client, &out);
    let protocol = session.protocol;
    let names = flist::files_from_names(
        opts,
        side == Side::Client,
        &mut || {
            lock(&w)?.flush()?;
            let names = crate::treeshape::recv_forwarded(&mut reader, protocol)?;
            // Under -s the forwarded names come in UTF-8 (upstream
            // filesfrom_convert).
            Ok(match opts.ctl.protect() {
                true => names
                    .into_iter()
                    .map(|n| crate::charset::forwarded_from_wire(&n).unwrap_or(n))
                    .collect(),
                false => names,
            })
        },
        &mut |path| files_from_local(opts, link, path),
    )?;
    if session.compat & protocol::compat::CF_INC_RECURSE != 0 {
        // upstream: a batch-only run removes nothing.
        let removes = opts.remove_source_files && !opts.dry_run && !opts.only_writes_batch();
        let ictx = IncStart {
            opts,
            session: &session,
            out: &out,
            link,
            recorder: recorder.is_some(),
            t0,
            names: names.as_deref(),
            remover: removes.then_some(remover as Arc<dyn flist::ListWatch + Send + Sync>),
        };
        return run_inc_sender(ictx, reader, w, sources, &mut rules, flist_progress);
    }
    flist_progress.begin("building");
    let mut list = flist::build_full(
        sources,
        names.as_deref(),
        opts,
        &session,
        &out,
        &mut rules,
        link.daemon_filter.as_ref(),
        &sender_sources(link, opts),
    )?;
    flist_progress.finish(list.entries.len(), "building");
    tweak_modes(&mut list.entries, link.outgoing_chmod.as_ref());
    if side == Side::Client {
        // upstream: flist.c send_file_name() applies the client's --chmod.
        tweak_modes(&mut list.entries, opts.chmod_spec().as_ref());
    }
    let buildtime = t0.elapsed().as_millis() as u64;
    // upstream: a batch-only run removes nothing (the batch is not applied
    // yet).
    if opts.remove_source_files && !opts.dry_run && !opts.only_writes_batch() {
        remover.set(&list);
        remover.report(&list, opts.ctl.info.remove);
    }
    let xattrs =
        (opts.xattrs > 0).then(|| crate::xattrs::SendLists::collect(&list, opts, &rules, &out));
    let io_error = out.io_error();
    let t1 = Instant::now();
    // Written as it is encoded: the encoded list is never held whole.
    let flist_size = {
        let mut g = lock(&w)?;
        let mut sink = |b: &[u8]| g.write_all(b);
        let n = flist::encode_to(&list, opts, &session, io_error, xattrs.as_ref(), &mut sink)?;
        g.flush()?;
        n
    };
    if list.is_empty() && side == Side::Server && !local {
        // upstream: do_server_sender() exits quietly on an empty list.
        return Ok(XferStats::default());
    }
    let xfertime = t1.elapsed().as_millis() as u64;
    out.set_total_size(list.total_size());
    let stats = Mutex::new(XferStats {
        num_files: list.kind_counts(),
        total_size: list.total_size(),
        flist_size,
        flist_buildtime: buildtime,
        flist_xfertime: xfertime,
        ..Default::default()
    });
    let ctx = sender::SendCtx {
        opts,
        session: &session,
        list: &list,
        out: &out,
        stats: &stats,
        am_server: side == Side::Server,
        batch_only: recorder.is_some() && opts.only_writes_batch(),
        batch_stats: recorder.is_some(),
        xattrs: xattrs.as_ref(),
    };
    let written = {
        let w2 = w.clone();
        move || lock(&w2).map(|g| g.bytes_written()).unwrap_or(0)
    };
    let read_so_far = std::cell::Cell::new(0u64);
    let stats_fn = || protocol::stats::Stats {
        total_read: read_so_far.get() as i64,
        total_written: written() as i64,
        total_size: list.total_size() as i64,
        flist_buildtime: buildtime as i64,
        flist_xfertime: xfertime as i64,
    };
    let mut counted = CountingReader {
        inner: &mut reader,
        cell: &read_so_far,
    };
    if let Err(e) = sender::send_files(&ctx, &mut counted, &w, &stats_fn, None) {
        if side == Side::Client && e.code == exit::RERR_STREAMIO {
            return Err(peer_error(&mut counted).unwrap_or(e));
        }
        return Err(e);
    }
    let mut s = stats.into_inner().unwrap_or_else(|p| p.into_inner());
    s.total_written = lock(&w)?.bytes_written();
    s.total_read = reader.bytes_read();
    Ok(s)
}

/// Whether a destination made for the transfer is announced ("created
/// directory DIR"): with --info=name (-v), or when the output format
/// itemizes: -i's, or an --out-format that has %i (one without it
/// overrides -i's).
// upstream: main.c get_local_name() (INFO_GTE(NAME, 1) || stdout_format_has_i)
fn announces_created(opts: &Options) -> bool {
    let itemizes = match opts.log_format.as_deref() {
        Some(f) => crate::control::log_format_has(f, 'i'),
        None => opts.itemize > 0,
    };
    opts.ctl.info.name > 0 || itemizes
}

/// What the incremental sending side takes from [`run_sender`].
struct IncStart<'a> {
    opts: &'a Options,
    session: &'a Session,
    out: &'a Arc<Out>,
    link: &'a Link,
    recorder: bool,
    t0: Instant,
    /// The --files-from names.
    names: Option<&'a [Vec<u8>]>,
    /// --remove-source-files.
    remover: Option<Arc<dyn flist::ListWatch + Send + Sync>>,
}

/// The sending side with incremental recursion: the top-level list, then
/// the send loop, which sends the lists below as it goes.
// upstream: flist.c send_file_list(), sender.c send_files()
fn run_inc_sender(
    c: IncStart<'_>,
    mut reader: MplexReader<Input>,
    w: SharedWriter,
    sources: &[String],
    rules: &mut FilterList,
    flist_progress: crate::flist::FlistProgress<'_>,
) -> Result<XferStats> {
    let (opts, session, out, link) = (c.opts, c.session, c.out, c.link);
    let side = link.side;
    // The receiving side waits for lists and file data while it asks for
    // more: what this side wrote goes out before it waits to read
    // (upstream io.c perform_io() writes while it waits).
    let inner = std::mem::replace(reader.inner_mut(), Box::new(io::empty()));
    *reader.inner_mut() = Box::new(FlushOnRead::new(inner, w.clone()));
    flist_progress.sending_incremental();
    let outgoing = link.outgoing_chmod.clone();
    let client_chmod = (side == Side::Client).then(|| opts.chmod_spec()).flatten();
    let fixup = Box::new(move |l: &mut FileList| {
        tweak_modes(&mut l.entries, outgoing.as_ref());
        tweak_modes(&mut l.entries, client_chmod.as_ref());
    });
    let src = sender_sources(link, opts);
    let (mut inc, encoded, counts) = flist::IncSender::start(
        sources,
        c.names,
        opts,
        session,
        out,
        rules,
        link.daemon_filter.as_ref(),
        &src,
        fixup,
        c.remover,
    )?;
    let buildtime = c.t0.elapsed().as_millis().max(1) as u64;
    let t1 = Instant::now();
    {
        let mut g = lock(&w)?;
        g.write_all(&encoded)?;
        g.flush()?;
    }
    let top_len = inc.listed();
    if top_len == 0 && side == Side::Server && !link.local {
        // upstream: do_server_sender() exits quietly on an empty list.
        return Ok(XferStats::default());
    }
    let xfertime = t1.elapsed().as_millis() as u64;
    out.set_total_size(counts.size);
    if side == Side::Client {
        out.set_flist_incomplete(true);
    }
    let stats = Mutex::new(XferStats {
        num_files: counts.kinds,
        total_size: counts.size,
        flist_size: encoded.len() as u64,
        flist_buildtime: buildtime,
        flist_xfertime: xfertime,
        ..Default::default()
    });
    let no_list = FileList {
        source: src.unbound(),
        ..Default::default()
    };
    let ctx = sender::SendCtx {
        opts,
        session,
        list: &no_list,
        out,
        stats: &stats,
        am_server: side == Side::Server,
        batch_only: false,
        batch_stats: c.recorder,
        xattrs: None,
    };
    let written = {
        let w2 = w.clone();
        move || lock(&w2).map(|g| g.bytes_written()).unwrap_or(0)
    };
    let read_so_far = std::cell::Cell::new(0u64);
    let stats_fn = || protocol::stats::Stats {
        total_read: read_so_far.get() as i64,
        total_written: written() as i64,
        total_size: stats.lock().map(|s| s.total_size).unwrap_or(0) as i64,
        flist_buildtime: buildtime as i64,
        flist_xfertime: xfertime as i64,
    };
    let mut counted = CountingReader {
        inner: &mut reader,
        cell: &read_so_far,
    };
    if let Err(e) = sender::send_files(&ctx, &mut counted, &w, &stats_fn, Some(&mut inc)) {
        if side == Side::Client && e.code == exit::RERR_STREAMIO {
            return Err(peer_error(&mut counted).unwrap_or(e));
        }
        return Err(e);
    }
    let mut s = stats.into_inner().unwrap_or_else(|p| p.into_inner());
    s.total_written = lock(&w)?.bytes_written();
    s.total_read = reader.bytes_read();
    Ok(s)
}

/// After the connection failed under a sending client: the receiving
/// server may have ended on an error of its own (a full disk) whose
/// messages and MSG_ERROR_EXIT are still in the connection. Reading them
/// prints the messages; the error is the server's code, as upstream's
/// sender reads them while it writes.
fn peer_error<R: Read>(r: &mut R) -> Option<Error> {
    let mut sink = [0u8; 16 * 1024];
    loop {
        match r.read(&mut sink) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(err) => {
                let e = Error::stream(err);
                return (e.code != exit::RERR_STREAMIO).then_some(e);
            }
        }
    }
}

/// Where this sender reads: its link's sources, or with `--insecure-links`
/// the operator's plain paths instead of beneath each transfer root
/// (upstream 3.5.0's opt-out).
fn sender_sources(link: &Link, opts: &Options) -> crate::source::Sources {
    match &link.sources {
        crate::source::Sources::Anchored(_) if opts.insecure_links => {
            crate::source::Sources::Ambient
        }
        other => other.clone(),
    }
}

/// Flushes the connection's writer before each read of the input below
/// the multiplexing that may wait: it keeps what it read, and reads (and
/// flushes) again only when that is used up. (Flushing before every read
/// of the multiplexing's frames wrote each small file to the wire alone.)
struct FlushOnRead {
    inner: Input,
    w: SharedWriter,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
}

impl FlushOnRead {
    /// What one read of the input may take: the generator's requests of
    /// a few hundred files.
    const BUF: usize = 16 * 1024;

    fn new(inner: Input, w: SharedWriter) -> FlushOnRead {
        FlushOnRead {
            inner,
            w,
            buf: vec![0; Self::BUF].into_boxed_slice(),
            pos: 0,
            end: 0,
        }
    }
}

impl Read for FlushOnRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.end {
            self.w
                .lock()
                .map_err(|_| io::Error::other("writer lock poisoned"))?
                .flush()?;
            if buf.len() >= self.buf.len() {
                return self.inner.read(buf);
            }
            self.end = self.inner.read(&mut self.buf)?;
            self.pos = 0;
        }
        let n = buf.len().min(self.end - self.pos);
        buf[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

struct CountingReader<'a, R: Read> {
    inner: &'a mut MplexReader<R>,
    cell: &'a std::cell::Cell<u64>,
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.cell.set(self.inner.bytes_read());
        Ok(n)
    }
}

/// The receiving side: a client pulling, or a server receiving a push (or
/// the server half of a local copy).
/// Where a receiving side writes.
#[derive(Debug)]
pub enum Dest {
    /// A destination the operator named (command line, remote-shell
    /// server argument): resolved normally, then used as the root.
    Operator(String),
    /// A daemon module: the module directory (opened by the daemon from its
    /// configuration) and the client's relative path beneath it.
    Beneath {
        /// The module root.
        root: Root,
        /// The client's path inside the module ("" for the module itself).
        path: RelPath,
        /// The client wrote a trailing slash.
        trailing_slash: bool,
    },
}

/// The receiving side: a client pulling, or a server receiving a push (or
/// the server half of a local copy).
pub fn run_receiver(
    r: Input,
    w: SharedWriter,
    opts: &Options,
    dest: &str,
    link: &Link,
    out: Arc<Out>,
) -> Result<XferStats> {
    run_receiver_to(r, w, opts, Dest::Operator(dest.to_string()), link, out)
}

/// As [`run_receiver`], with any kind of destination.
pub fn run_receiver_to(
    r: Input,
    w: SharedWriter,
    opts: &Options,
    dest: Dest,
    link: &Link,
    out: Arc<Out>,
) -> Result<XferStats> {
    let (side, local) = (link.side, link.local);
    // upstream get_local_name(): a listing writes nowhere, so its
    // destination is the current directory, whatever was named.
    let dest = match dest {
        Dest::Operator(_) if opts.ctl.list_only > 0 => Dest::Operator(".".to_string()),
        d => d,
    };
    let (mut reader, session) = match &link.batch {
        Some(crate::batch::LinkBatch::Replay(s)) => {
            (MplexReader::new(r, msg_handler(out.clone())), *s)
        }
        _ => start(r, &w, opts, link, &out, None, true)?,
    };
    let replay = matches!(link.batch, Some(crate::batch::LinkBatch::Replay(_)));
    let rules = receiver_rules(&mut reader, &w, opts, link, &session, &out)?;
    let forwarded = forward_files_from(&w, opts, link, session.protocol)?;
    let check = match &link.requested {
        Some(req) if side == Side::Client && !local => Some(crate::trust::NameCheck::for_pull(
            opts,
            req,
            &rules,
            forwarded.as_deref(),
            session.protocol,
        )?),
        _ => None,
    };
    let flist_progress =
        crate::flist::FlistProgress::start(opts, side == Side::Client && (!local || replay), &out);
    if side == Side::Server && !local {
        // upstream: flist.c recv_file_list() logs this (FLOG).
        out.log_only("receiving file list");
    }
    let (mut list, received, lists, flist_size) =
        read_top_list(&mut reader, opts, &session, check.clone(), &flist_progress)?;
    out.add_io_error(received.io_error & 7);
    if opts.tree.prune_empty_dirs {
        crate::treeshape::prune_empty_dirs(&mut list.entries, &mut |name| {
            rules.is_protected(name, true)
        });
    }
    let fixup = list_fixup(opts, link, side);
    fixup(&mut list);
    if list.is_empty() && side == Side::Client && !local {
        // upstream: main.c client_run() skips do_recv() on an empty list
        // (the server sender has already exited quietly).
        return Ok(XferStats::default());
    }
    let mut renamed = None;
    let dest_ambient = match &dest {
        Dest::Operator(d) => Some(d.clone()),
        Dest::Beneath { .. } => None,
    };
    let (module, dest_info, module_prefix) = open_dest(opts, dest, &list, &mut renamed, &out)?;
    let stats = Arc::new(Mutex::new(XferStats::default()));
    let moved = dest_ambient
        .as_deref()
        .filter(|_| dest_info.missing)
        .and_then(|d| missing_dest_basis(opts, d));
    let dirs = basis_dirs(
        moved.as_ref().unwrap_or(opts),
        dest_ambient.as_deref(),
        module,
        &dest_info.root,
        &out,
    )?;
    let whole_file = whole_file(opts, &session, local);
    let xattrs = received.xattrs.finish(&crate::xattrs::Policy::new(
        opts,
        &rules,
        filter::Side::Receiver,
    ));
    let wire_order = list.wire_order.take().map(with_inverse);
    // The list's first entry; with incremental recursion the top list
    // follows its slot (see `increc::store_list`).
    let first = usize::from(session.compat & protocol::compat::CF_INC_RECURSE != 0);
    // Named before Landlock (which may hide /proc) and only for the
    // operator's own destination.
    let shown_root = dest_ambient
        .as_ref()
        .and_then(|_| shown_root(&dest_info.root));
    let ctx = Arc::new(RecvCtx {
        opts: opts.clone(),
        session,
        wire_order,
        entries: Default::default(),
        renamed: renamed.map(|p| (first, p)),
        ids: std::sync::RwLock::new(if link.numeric_ids {
            crate::ids::IdMap::default()
        } else {
            received.ids
        }),
        inc: (session.compat & protocol::compat::CF_INC_RECURSE != 0)
            .then(crate::ctx::Segments::default),
        root: dest_info.root,
        out: out.clone(),
        stats: stats.clone(),
        am_server: side == Side::Server,
        dest_created: dest_info.created,
        dest_missing: dest_info.missing,
        whole_file,
        am_root: opts.am_root(),
        filters: rules,
        daemon_filter: link.daemon_filter.clone().map(|d| (d, module_prefix)),
        dirs,
        upd: Default::default(),
        sanitize_links: link.sanitize_symlinks && !opts.munge_links,
        batch_wants: replay.then(crate::ctx::Wants::default),
        batch_data_in_dry_run: replay || (opts.only_writes_batch() && side == Side::Client),
        xattrs,
        shown_root,
    });
    // Landlock before the generator thread exists, so it inherits it.
    // A replayed batch is someone's recorded stream: confined as a pull.
    crate::confinement::confine_receiver(opts, side, local && !replay, &ctx.root, &out)?;
    let events = std::sync::mpsc::channel();
    let inc = ctx.inc.as_ref().map(|_| {
        reader.set_handler(no_send_handler(out.clone(), ctx.clone(), events.0.clone()));
        crate::increc::IncReader::new(lists, Box::new(fixup), !link.numeric_ids)
    });
    store_top(&ctx, list);
    let (peer_stats, reader) =
        crate::roles::run_receiving(&ctx, &w, reader, side == Side::Client, events, inc)?;
    let mut s = stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
    s.flist_size = flist_size;
    match peer_stats {
        Some(ps) => s.take_peer(&ps),
        None => {
            s.total_written = lock(&w)?.bytes_written();
            s.total_read = reader.bytes_read();
        }
    }
    Ok(s)
}

/// Opens the destination the received list lands in: with it, a handle
/// on a daemon's module when its option directories may reach anywhere in
/// it (the destination's own root is opened below it), and the module
/// path the list's names start at (for the daemon's filter).
fn open_dest(
    opts: &Options,
    dest: Dest,
    list: &FileList,
    renamed: &mut Option<RelPath>,
    out: &Out,
) -> Result<(Option<Root>, DestInfo, Vec<u8>)> {
    let mut module_prefix = Vec::new();
    let module = match &dest {
        Dest::Beneath { root, .. } if crate::basis::any_climbs(opts) => Some(
            root.open_dir(&RelPath::root())
                .map_err(|e| Error::new(exit::RERR_FILESELECT, e.to_string()))?,
        ),
        _ => None,
    };
    let dest_info = match dest {
        Dest::Operator(d) => local_name(opts, &d, list, renamed, out)?,
        Dest::Beneath {
            root,
            path,
            trailing_slash,
        } => {
            let info = local_name_beneath(opts, root, &path, trailing_slash, list, renamed, out)?;
            // A single file stored under the destination's own name lands
            // in its parent.
            module_prefix = if info.solo {
                path.split_last().0.as_bytes().to_vec()
            } else {
                path.as_bytes().to_vec()
            };
            info
        }
    };
    Ok((module, dest_info, module_prefix))
}

/// A dry run into a destination that does not exist resolves from its
/// parent: a relative basis dir is taken from where the destination would
/// be (`x` as `DEST/x`, which does not exist either), and `../x` as `x`
/// (upstream main.c check_alt_basis_dirs() drops one leading "../"). None
/// when nothing changes.
fn missing_dest_basis(opts: &Options, dest: &str) -> Option<Options> {
    let name = std::path::Path::new(dest).file_name()?.to_str()?;
    if opts.basis_dirs.iter().all(|d| d.starts_with('/')) {
        return None;
    }
    let mut moved = opts.clone();
    for d in moved.basis_dirs.iter_mut().filter(|d| !d.starts_with('/')) {
        *d = match d.strip_prefix("../") {
            Some(rest) => rest.to_string(),
            None => format!("{name}/{d}"),
        };
    }
    Some(moved)
}

/// The option directories (basis, backup, partial, temp) resolved for a
/// receiver: operator paths for a client, a local copy and a remote-shell
/// server (as rsync's: its client is the operator, whom ssh gave a shell;
/// started with --confine-root, by rrsync, each walk is bounded by that
/// root), paths inside the module for a daemon; basis dirs that leave
/// the bound are warned about and dropped.
fn basis_dirs(
    opts: &Options,
    dest_ambient: Option<&str>,
    module: Option<Root>,
    dest_root: &Root,
    out: &Out,
) -> Result<crate::basis::Dirs> {
    let mut dirs = match dest_ambient {
        Some(d) => crate::basis::Dirs::resolve(opts, Some(&crate::basis::operator_dest_dir(d)))?,
        None => {
            let bound = module_bound(opts, module, dest_root)?;
            crate::basis::Dirs::resolve_bounded(opts, None, bound.as_ref())?
        }
    };
    if let Some(kind) = opts.alt_dest {
        let what = match dest_ambient {
            None => "the module",
            Some(_) => "the destination's tree",
        };
        for line in dirs.check_basis(kind.option(), dest_root, what) {
            out.warning(&line);
        }
    }
    if let (Some(t), Some(value)) = (&dirs.temp, opts.temp_dir.as_deref()) {
        check_temp_dir(t.root(dest_root), &t.dir, value)?;
    }
    if let (Some(b), Some(value)) = (&dirs.backup, opts.backup_dir.as_deref()) {
        check_backup_dir(b.root(dest_root), &b.dir, value)?;
    }
    Ok(dirs)
}

/// A `--backup-dir` that is there but not a directory ends the run before
/// any file (exit 1), instead of failing each file's backup; one that is
/// missing is made with the first backup.
// upstream: main.c:do_recv()
fn check_backup_dir(root: &Root, dir: &RelPath, value: &str) -> Result<()> {
    let shown = match value.trim_end_matches('/') {
        "" => "/",
        v => v,
    };
    if dir.as_bytes().is_empty() {
        return Ok(());
    }
    match root.stat(dir) {
        Ok(Some(st)) if !st.is_dir() && !st.is_symlink() => Err(Error::new(
            exit::RERR_SYNTAX,
            format!("The backup-dir is not a directory: {shown}"),
        )),
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) => Ok(()),
        Err(e) => Err(Error::new(
            exit::RERR_FILEIO,
            format!("Failed to stat {shown}: {}", crate::error::sys_err(&e)),
        )),
    }
}

/// A `--temp-dir` that is missing or not a directory ends the run before
/// any file, as upstream's receiver checks it once (main.c do_recv(),
/// exit 1), instead of failing each file's temporary file.
fn check_temp_dir(root: &Root, dir: &RelPath, value: &str) -> Result<()> {
    if dir.as_bytes().is_empty() {
        return Ok(());
    }
    match root.stat(dir) {
        Ok(None) => Err(Error::new(
            exit::RERR_SYNTAX,
            format!("The temp-dir does not exist: {value}"),
        )),
        // A symlink is left to the open beneath it to judge.
        Ok(Some(st)) if !st.is_dir() && !st.is_symlink() => Err(Error::new(
            exit::RERR_SYNTAX,
            format!("The temp-dir is not a directory: {value}"),
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(Error::new(
            exit::RERR_FILEIO,
            format!(
                "Failed to stat temp-dir {value}: {}",
                crate::error::errno_text(&e.to_string())
            ),
        )),
    }
}

/// Whether files go whole instead of as deltas.
fn whole_file(opts: &Options, session: &Session, local: bool) -> bool {
    // upstream: a local copy defaults to whole files, unless it records a
    // batch (whose deltas are to be replayed against the same basis).
    // upstream: checksum.c parse_checksum_choice(): with no checksum
    // (`--checksum-choice=none`) every file goes whole.
    if session.checksum == delta::ChecksumKind::None {
        true
    } else if local && opts.batch.is_none() {
        opts.whole_file.unwrap_or(true)
    } else {
        opts.whole_file.unwrap_or(false)
    }
}

/// The list's wire order with its inverse (wire index to sorted index).
fn with_inverse(to_wire: Vec<u32>) -> (Vec<u32>, Vec<u32>) {
    let mut from_wire = vec![0u32; to_wire.len()];
    for (k, &w) in to_wire.iter().enumerate() {
        from_wire[w as usize] = k as u32;
    }
    (to_wire, from_wire)
}

/// The destination's path as the operator's messages show it.
fn shown_root(root: &Root) -> Option<String> {
    use std::os::fd::{AsFd, AsRawFd};
    let fd = root.as_fd().as_raw_fd();
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|p| p.display().to_string())
}

/// The receiving side's rules: the client's own (sent to a server
/// sender), or what a server receiver gets from the client.
fn receiver_rules(
    reader: &mut MplexReader<Input>,
    w: &SharedWriter,
    opts: &Options,
    link: &Link,
    session: &Session,
    out: &Out,
) -> Result<FilterList> {
    let (side, local) = (link.side, link.local);
    Ok(match side {
        Side::Client => {
            let mut rules = filters::from_options(opts)?;
            filters::print_notes(&mut rules, out);
            if !local {
                send_filter_list(w, &rules, session.protocol, false)?;
                lock(w)?.flush()?;
            }
            if let Some(rec) = record_from_here(link, session)? {
                reader.set_tee(Some(Box::new(rec)));
            }
            rules
        }
        Side::Server
            if !local && (opts.delete != DeleteMode::Off || opts.tree.receiver_wants_rules()) =>
        {
            recv_filter_list(reader, session.protocol, opts, link)?
        }
        Side::Server if local => filters::from_options(opts)?,
        Side::Server => FilterList::new(),
    })
}

/// Reads the (top) list: with incremental recursion it starts at wire
/// index 1 and no id lists follow (upstream flist.c recv_file_list()).
fn read_top_list(
    r: &mut MplexReader<Input>,
    opts: &Options,
    session: &Session,
    check: Option<crate::trust::NameCheck>,
    progress: &crate::flist::FlistProgress<'_>,
) -> Result<(FileList, flist::Received, flist::ListReader, u64)> {
    // upstream: flist.c recv_file_list() counts the raw bytes read for
    // the list as its "File list size".
    let read_before_list = r.bytes_read();
    let inc_mode = session.compat & protocol::compat::CF_INC_RECURSE != 0;
    let mut lists = flist::ListReader::new(opts, session, check);
    if inc_mode {
        lists.start_segment(1);
    }
    if !inc_mode {
        progress.begin("receiving");
    }
    let (list, io_error) = lists.read_list(r, opts, session)?;
    if inc_mode {
        lists.take_acl_names();
    } else {
        lists.read_id_lists(r, opts, session)?;
    }
    let received = flist::Received {
        list: FileList::default(),
        ids: lists.id_map(opts),
        io_error,
        xattrs: lists.take_xattrs(),
    };
    match inc_mode {
        true => progress.incremental(),
        false => progress.finish(list.entries.len(), "receiving"),
    }
    Ok((list, received, lists, r.bytes_read() - read_before_list))
}

/// The received (top) list goes into the context's store: with
/// incremental recursion as its first segment.
fn store_top(ctx: &RecvCtx, list: FileList) {
    if let Some(segs) = &ctx.inc {
        crate::increc::store_list(ctx, segs, list, None);
        ctx.out.set_flist_incomplete(true);
        return;
    }
    ctx.out.set_total_size(list.total_size());
    ctx.stats(|s| {
        s.num_files = list.kind_counts();
        s.total_size = list.total_size();
    });
    ctx.entries.push_all(list.entries);
}

/// Incremental recursion: the message handler also hands the sender's
/// MSG_NO_SEND to the generator, which counts the file finished (upstream
/// io.c got_flist_entry_status()).
fn no_send_handler(
    out: Arc<Out>,
    ctx: Arc<RecvCtx>,
    tx: std::sync::mpsc::Sender<crate::ctx::GenEvent>,
) -> MsgHandler {
    let mut base = msg_handler(out);
    Box::new(move |m: Message| {
        if m.code == MsgCode::NoSend {
            if let Some(n) = payload_i32(&m.payload).and_then(|n| usize::try_from(n).ok()) {
                crate::receiver::count_finished(&ctx, &tx, n);
            }
        }
        base(m)
    })
}

/// The changes the receiving side makes to every received list: sanitized
/// symlink targets, the link's and the client's --chmod.
fn list_fixup(opts: &Options, link: &Link, side: Side) -> impl Fn(&mut FileList) + Send + 'static {
    let sanitize = link.sanitize_symlinks && !opts.munge_links;
    let incoming = link.incoming_chmod.clone();
    // upstream: flist.c recv_file_entry() applies the client's --chmod.
    let own = if side == Side::Client {
        opts.chmod_spec()
    } else {
        None
    };
    move |list: &mut FileList| {
        if sanitize {
            flist::sanitize_symlinks(&mut list.entries);
        }
        tweak_modes(&mut list.entries, incoming.as_ref());
        tweak_modes(&mut list.entries, own.as_ref());
    }
}

/// A client recording a batch: the header goes out now, and the stream
/// from here on is copied (upstream main.c start_write_batch()).
fn record_from_here(link: &Link, session: &Session) -> Result<Option<crate::batch::Recorder>> {
    match &link.batch {
        Some(crate::batch::LinkBatch::Record(rec)) if link.side == Side::Client => {
            rec.start(session)?;
            Ok(Some(rec.clone()))
        }
        _ => Ok(None),
    }
}

/// The directory a daemon's climbing option directories must stay in: the
/// module. None when no option climbs.
fn module_bound(
    opts: &Options,
    module: Option<Root>,
    dest_root: &Root,
) -> Result<Option<crate::basis::Bound>> {
    use crate::basis::Bound;
    if !crate::basis::any_climbs(opts) {
        return Ok(None);
    }
    let fail =
        |e: confine::Error| Error::new(exit::RERR_FILESELECT, format!("rsync: [Receiver] {e}"));
    let Some(root) = module else {
        return Ok(None);
    };
    let Some(dest) = root.locate(dest_root).map_err(fail)? else {
        return Err(Error::new(
            exit::RERR_FILESELECT,
            "rsync: [Receiver] cannot locate the destination",
        ));
    };
    Ok(Some(Bound { root, dest }))
}

struct DestInfo {
    root: Root,
    created: bool,
    missing: bool,
    /// The list's only entry takes the destination's name.
    solo: bool,
}

/// Where the received list lands (upstream main.c get_local_name): into
/// the destination directory (created when missing and more than one item
/// or a trailing slash), or, for a single non-directory, as the destination
/// name itself.
fn local_name(
    opts: &Options,
    dest: &str,
    list: &FileList,
    renamed: &mut Option<RelPath>,
    out: &Out,
) -> Result<DestInfo> {
    let auth = AmbientAuthority::operator();
    let links = Links::from_insecure(opts.insecure_links).for_destination();
    let dest = if dest.is_empty() { "." } else { dest };
    crate::mkpath::make_operator(opts, out, dest, list.len())?;
    let path = Path::new(dest);
    let trailing = dest.ends_with('/');
    let open_err = |e: confine::Error| {
        Error::new(
            exit::RERR_FILESELECT,
            format!(
                "rsync: [Receiver] change_dir \"{dest}\" failed: {}",
                crate::error::confine_err(&e)
            ),
        )
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(DestInfo {
            root: Root::open_operator(path, links, auth).map_err(open_err)?,
            created: false,
            missing: false,
            solo: false,
        }),
        Ok(_) => {
            if list.len() > 1 {
                return Err(Error::new(
                    exit::RERR_FILESELECT,
                    "ERROR: destination must be a directory when copying more than 1 file",
                ));
            }
            if list.entries.first().is_some_and(|e| e.is_dir()) {
                return Err(Error::new(
                    exit::RERR_FILESELECT,
                    "ERROR: cannot overwrite non-directory with a directory",
                ));
            }
            solo(path, renamed, links, auth)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let need_dir =
                list.len() > 1 || trailing || list.entries.first().is_some_and(|e| e.is_dir());
            if !need_dir {
                let parent = path.parent().unwrap_or(Path::new(""));
                if let Some(anc) = crate::mkpath::dry_parent_missing(opts, parent) {
                    // upstream: a dry run does not enter the parent
                    // --mkpath would have made; everything is new.
                    let name = path.file_name().map(|n| n.as_encoded_bytes().to_vec());
                    let rel = RelPath::new(&name.unwrap_or_default())
                        .map_err(|e| Error::new(exit::RERR_FILESELECT, e.to_string()))?;
                    *renamed = Some(rel);
                    return Ok(DestInfo {
                        root: Root::open_operator(&anc, links, auth).map_err(open_err)?,
                        created: false,
                        missing: true,
                        solo: false,
                    });
                }
                return solo(path, renamed, links, auth);
            }
            let announce = || {
                if announces_created(opts) {
                    out.info(&format!("created directory {}", dest.trim_end_matches('/')));
                }
            };
            if opts.dry_run {
                announce();
                let parent = existing_ancestor(path);
                return Ok(DestInfo {
                    root: Root::open_operator(&parent, links, auth).map_err(open_err)?,
                    created: true,
                    missing: true,
                    solo: false,
                });
            }
            let root = Root::create_operator(Path::new(dest.trim_end_matches('/')), links, auth)
                .map_err(|e| {
                    Error::new(
                        exit::RERR_FILEIO,
                        format!(
                            "rsync: [Receiver] mkdir \"{}\" failed: {}",
                            crate::flist::abs_display(Path::new(dest.trim_end_matches('/'))),
                            crate::error::confine_err(&e)
                        ),
                    )
                })?;
            // upstream main.c get_local_name(): said once it exists.
            announce();
            Ok(DestInfo {
                root,
                created: true,
                missing: false,
                solo: false,
            })
        }
        Err(e) => Err(Error::new(
            exit::RERR_FILESELECT,
            format!(
                "rsync: [Receiver] ERROR: cannot stat destination \"{dest}\": {}",
                crate::error::sys_err(&e)
            ),
        )),
    }
}

/// [`local_name`] for a destination beneath a root the peer cannot leave.
fn local_name_beneath(
    opts: &Options,
    base: Root,
    path: &RelPath,
    trailing: bool,
    list: &FileList,
    renamed: &mut Option<RelPath>,
    out: &Out,
) -> Result<DestInfo> {
    let shown = String::from_utf8_lossy(path.as_bytes()).into_owned();
    let fail = |code: i32, what: &str, e: confine::Error| {
        Error::new(
            code,
            format!(
                "rsync: [Receiver] {what} \"{shown}\" failed: {}",
                crate::error::sys_err(&e)
            ),
        )
    };
    if path.is_root() {
        return Ok(DestInfo {
            root: base,
            created: false,
            missing: false,
            solo: false,
        });
    }
    crate::mkpath::make_in(opts, out, &base, (path, trailing), list.len())?;
    let st = base
        .stat(path)
        .map_err(|e| fail(exit::RERR_FILESELECT, "stat", e))?;
    // A destination that is a symlink to a directory beneath the root is
    // entered, as upstream's change_dir() enters it; one that leads out
    // stays a name to replace.
    // upstream: main.c:get_local_name() (do_stat) / util1.c:change_dir()
    let st = match st {
        Some(l) if l.file_type == confine::FileType::Symlink => match base.stat_follow(path) {
            Ok(Some(t)) if t.file_type == confine::FileType::Dir => Some(t),
            _ => Some(l),
        },
        other => other,
    };
    match st {
        Some(st) if st.file_type == confine::FileType::Dir => {
            let root = base
                .open_dir(path)
                .map_err(|e| fail(exit::RERR_FILESELECT, "change_dir", e))?;
            Ok(DestInfo {
                root,
                created: false,
                missing: false,
                solo: false,
            })
        }
        Some(_) if list.len() > 1 => Err(Error::new(
            exit::RERR_FILESELECT,
            "ERROR: destination must be a directory when copying more than 1 file",
        )),
        Some(_) if list.entries.first().is_some_and(|e| e.is_dir()) => Err(Error::new(
            exit::RERR_FILESELECT,
            "ERROR: cannot overwrite non-directory with a directory",
        )),
        Some(_) => solo_beneath(base, path, renamed, &shown),
        None => {
            let need_dir =
                list.len() > 1 || trailing || list.entries.first().is_some_and(|e| e.is_dir());
            if !need_dir {
                let parent = path.split_last().0;
                let parent_missing =
                    !parent.is_root() && !matches!(base.stat(&parent), Ok(Some(_)));
                if opts.mkpath && opts.dry_run && parent_missing {
                    // As for an operator path: nothing below exists yet.
                    let rel = RelPath::new(path.split_last().1)
                        .map_err(|e| Error::new(exit::RERR_FILESELECT, e.to_string()))?;
                    *renamed = Some(rel);
                    return Ok(DestInfo {
                        root: base,
                        created: false,
                        missing: true,
                        solo: false,
                    });
                }
                return solo_beneath(base, path, renamed, &shown);
            }
            // upstream main.c get_local_name(): the line comes once the
            // directory exists (or would, in a dry run).
            if !opts.dry_run {
                base.mkdir(path, 0o755)
                    .map_err(|e| fail(exit::RERR_FILEIO, "mkdir", e))?;
            }
            if announces_created(opts) {
                out.info(&format!("created directory {shown}"));
            }
            if opts.dry_run {
                return Ok(DestInfo {
                    root: base,
                    created: true,
                    missing: true,
                    solo: false,
                });
            }
            let root = base
                .open_dir(path)
                .map_err(|e| fail(exit::RERR_FILESELECT, "change_dir", e))?;
            Ok(DestInfo {
                root,
                created: true,
                missing: false,
                solo: false,
            })
        }
    }
}

fn solo_beneath(
    base: Root,
    path: &RelPath,
    renamed: &mut Option<RelPath>,
    shown: &str,
) -> Result<DestInfo> {
    let (parent, name) = path.split_last();
    let rel = RelPath::new(name).map_err(|e| Error::new(exit::RERR_FILESELECT, e.to_string()))?;
    *renamed = Some(rel);
    let root = if parent.is_root() {
        base
    } else {
        base.open_dir(&parent).map_err(|e| {
            Error::new(
                exit::RERR_FILESELECT,
                format!(
                    "rsync: [Receiver] change_dir \"{shown}\" failed: {}",
                    crate::error::sys_err(&e)
                ),
            )
        })?
    };
    Ok(DestInfo {
        root,
        created: false,
        missing: false,
        solo: true,
    })
}

fn existing_ancestor(p: &Path) -> std::path::PathBuf {
    let mut cur = p.to_path_buf();
    loop {
        if cur.as_os_str().is_empty() {
            return ".".into();
        }
        if cur.is_dir() {
            return cur;
        }
        if !cur.pop() {
            return ".".into();
        }
    }
}

fn solo(
    path: &Path,
    renamed: &mut Option<RelPath>,
    links: Links,
    auth: AmbientAuthority,
) -> Result<DestInfo> {
    use std::os::unix::ffi::OsStrExt;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => ".".into(),
    };
    let base = path
        .file_name()
        .map(|b| b.as_bytes().to_vec())
        .unwrap_or_else(|| b".".to_vec());
    let rel = RelPath::new(&base).map_err(|e| Error::new(exit::RERR_FILESELECT, e.to_string()))?;
    *renamed = Some(rel);
    let root = Root::open_operator(&parent, links, auth).map_err(|e| {
        Error::new(
            exit::RERR_FILESELECT,
            format!(
                "rsync: [Receiver] change_dir#3 \"{}\" failed: {}",
                crate::flist::abs_display(&parent),
                crate::error::confine_err(&e)
            ),
        )
    })?;
    Ok(DestInfo {
        root,
        created: false,
        missing: false,
        solo: false,
    })
}

/// Reports a fatal error from a server: the text and rsync's closing line
/// as messages, then MSG_ERROR_EXIT (protocol 31 and later), flushed.
pub fn server_fail(w: &SharedWriter, out: &Out, err: &Error, role: &str) {
    if !err.reported {
        out.error(&err.message);
        out.error(&err.closing_line(role));
    }
    if let Ok(mut g) = w.lock() {
        if g.is_multiplexed() && out.protocol() >= 31 {
            let _ = g.send_msg(MsgCode::ErrorExit, &err.code.to_le_bytes());
        }
        let _ = g.flush();
    }
}

/// A files-from list this side opens itself: one the daemon read beneath
/// its module, or a local file. A daemon never opens a path of the
/// client's choosing on its own.
fn files_from_local(opts: &Options, link: &Link, path: &str) -> Result<Vec<u8>> {
    if let Some(data) = &link.files_from_data {
        return Ok(data.clone());
    }
    if link.agreed_protocol.is_some() && link.side == Side::Server {
        return Err(Error::new(
            exit::RERR_UNSUPPORTED,
            format!("rsync: --files-from={path} cannot be read by this daemon"),
        ));
    }
    crate::treeshape::read_local_file(path, Links::from_insecure(opts.insecure_links))
}

/// The receiving side that holds the files-from list sends its names to
/// the sender: a client pulling with a local list, or a server whose
/// client named a list on this host.
// upstream: main.c:do_recv()/do_server_recv() start_filesfrom_forwarding()
/// Sends a local `--files-from` list to the sender; returns what was sent
/// (the names as the sender's list spells them on the wire).
fn forward_files_from(
    w: &SharedWriter,
    opts: &Options,
    link: &Link,
    protocol: i32,
) -> Result<Option<Vec<u8>>> {
    use crate::options::tree::FilesFrom;
    if link.local {
        return Ok(None);
    }
    let path = match (opts.tree.files_from(), link.side) {
        (Some(FilesFrom::Local(p)), Side::Client) => p,
        (Some(FilesFrom::Local(p)), Side::Server) if p != "-" => p,
        _ => return Ok(None),
    };
    let data = files_from_local(opts, link, &path)?;
    let bytes = crate::treeshape::forward_bytes(&data, opts.tree.from0);
    // Under -s they go in UTF-8 (upstream filesfrom_convert).
    let wire = opts
        .ctl
        .protect()
        .then(|| crate::charset::forwarded_to_wire(&bytes))
        .flatten();
    let bytes = wire.unwrap_or(bytes);
    crate::treeshape::send_forwarded(w, &bytes, protocol)?;
    Ok(Some(bytes))
}

/// The send buffer of each end of a local copy's socket pair. The default
/// (208 KiB) made the two threads take turns on a 2 GiB copy: 1 MiB made
/// it 14% faster and the 100k-file copy 10% (4 MiB no better).
const LOCAL_BUFFER: usize = 1024 * 1024;

/// An error setting up a local copy's connection (exit code 14).
fn ipc_error(what: &str, e: &io::Error) -> Error {
    Error::new(
        exit::RERR_IPC,
        format!("{what}: {}", crate::error::sys_err(e)),
    )
}

/// One half of a local copy's connection: what it reads, what it writes,
/// and how it ends the connection when it fails (a side blocked on the
/// other then sees the end instead of waiting forever).
struct LocalEnd {
    read: Input,
    write: Box<dyn Write + Send>,
    end: Box<dyn Fn() + Send>,
}

/// The connection between a local copy's sender (first) and receiving
/// side. Inside the process (crate::localpipe) the bytes never cross the
/// kernel; under --bwlimit it is a socket pair, as upstream's, so the
/// paced writes are the system calls it makes.
fn local_ends(opts: &Options) -> Result<(LocalEnd, LocalEnd)> {
    if opts.ctl.bwlimit == 0 {
        let (a, b) = crate::localpipe::pair();
        let end = |e: crate::localpipe::Ender| Box::new(move || e.end()) as Box<dyn Fn() + Send>;
        return Ok((
            LocalEnd {
                read: Box::new(a.read.checking_stop()),
                write: Box::new(crate::iolimit::BwLimitWrite::new(a.write, 0)),
                end: end(a.end),
            },
            LocalEnd {
                read: Box::new(b.read),
                write: Box::new(b.write),
                end: end(b.end),
            },
        ));
    }
    let (a, b) =
        std::os::unix::net::UnixStream::pair().map_err(|e| ipc_error("socketpair failed", &e))?;
    for s in [&a, &b] {
        // Best effort: a refusal leaves the default size.
        let _ = rustix::net::sockopt::set_socket_send_buffer_size(s, LOCAL_BUFFER);
    }
    let dup =
        |s: &std::os::unix::net::UnixStream| s.try_clone().map_err(|e| ipc_error("dup failed", &e));
    let end = |s: std::os::unix::net::UnixStream| {
        Box::new(move || {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }) as Box<dyn Fn() + Send>
    };
    let a_read = crate::iolimit::TimeoutRead::new(dup(&a)?, 0, "sender");
    Ok((
        LocalEnd {
            read: Box::new(std::io::BufReader::with_capacity(256 * 1024, a_read)),
            end: end(dup(&a)?),
            write: Box::new(crate::iolimit::BwLimitWrite::new(a, opts.ctl.bwlimit)),
        },
        LocalEnd {
            read: Box::new(std::io::BufReader::with_capacity(256 * 1024, dup(&b)?)),
            end: end(dup(&b)?),
            write: Box::new(b),
        },
    ))
}

/// A local copy: the sender here, the receiving side on a thread, joined
/// by the same wire protocol as a remote transfer (see [`local_ends`]).
pub fn local_copy(
    opts: &Options,
    sources: &[String],
    dest: &str,
    out: Arc<Out>,
    batch: Option<crate::batch::LinkBatch>,
) -> Result<XferStats> {
    let (a, b) = local_ends(opts)?;
    let mut server_opts = opts.clone();
    // upstream: pipe.c local_child(): each side needs its own --munge-links.
    server_opts.munge_links = false;
    // upstream: main.c sets dry_run for --only-write-batch (the receiving
    // side changes nothing).
    if opts.only_writes_batch() {
        server_opts.dry_run = true;
    }
    // upstream: local_child() also reads the -M options on top; the ones
    // that decide how the receiving side keeps privileged attributes.
    for o in &opts.remote_options {
        match o.as_str() {
            "--fake-super" => (server_opts.fake_super, server_opts.super_user) = (true, None),
            "--super" => (server_opts.fake_super, server_opts.super_user) = (false, Some(true)),
            "--no-super" => (server_opts.fake_super, server_opts.super_user) = (false, Some(false)),
            _ => {}
        }
    }
    let dest = dest.to_string();
    let server = std::thread::Builder::new()
        .name("receiver".into())
        .spawn(move || {
            let w = shared(b.write);
            let fmt = ItemFormat {
                itemize: 0,
                verbose: 0,
                sender: false,
                local: true,
                preserve_mtimes: server_opts.times,
            };
            let sout = Out::wire(w.clone(), fmt);
            // upstream: compat.c set_allow_inc_recurse(): a local copy's
            // receiving half reads the letters its client would send.
            let info = if crate::options::allows_inc(&server_opts, false) {
                format!(".i{}", &protocol::compat::CLIENT_INFO[1..])
            } else {
                protocol::compat::CLIENT_INFO.to_string()
            };
            let link = Link {
                local: true,
                ..Link::server(Some(&info))
            };
            let res = run_receiver(b.read, w.clone(), &server_opts, &dest, &link, sout.clone());
            if let Err(e) = &res {
                server_fail(&w, &sout, e, "receiver");
                (b.end)();
            }
            res.map(|_| sout.final_code())
        })
        .map_err(|e| {
            Error::new(
                exit::RERR_IPC,
                format!(
                    "cannot start the receiving thread: {}",
                    crate::error::sys_err(&e)
                ),
            )
        })?;
    let res = run_sender(
        a.read,
        shared(a.write),
        opts,
        sources,
        &Link {
            local: true,
            batch,
            ..Link::client()
        },
        out.clone(),
    );
    if res.is_err() {
        (a.end)();
    }
    let server_res = server
        .join()
        .map_err(|_| Error::new(exit::RERR_CRASHED, "the receiving thread panicked"))?;
    match (res, server_res) {
        (Ok(s), Ok(code)) => {
            match code {
                0 => {}
                exit::RERR_VANISHED => out.add_io_error(2),
                exit::RERR_DEL_LIMIT => out.add_io_error(4),
                _ => out.note_xfer_error(),
            }
            Ok(s)
        }
        // The receiving side failed first and the sender only saw the
        // connection end: the receiving side's error is the one to report.
        (Err(e), Err(se)) if e.code == exit::RERR_STREAMIO && !e.reported => Err(se),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => {
            let mut e = e;
            e.reported = true;
            Err(e)
        }
    }
}
