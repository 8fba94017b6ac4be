//! The sender: answers the generator's requests with file data, as
//! literal runs and matches against the receiver's basis blocks (upstream
//! sender.c).
use crate::basis::FNAMECMP_FNAME;
use crate::error::{os_err, Error, Result};
use crate::flist::{FileList, IncSender};
use crate::itemize::*;
use crate::out::{lock, Out, SharedWriter};
use crate::session::Session;
use crate::stats::XferStats;
use delta::{match_file, ChecksumKind, FileHasher, MatchStats, Op, Signature, SumSizes};
use protocol::mplex::MsgCode;
use protocol::ndx::{NdxReader, NdxWriter, NDX_DEL_STATS, NDX_DONE};
use protocol::stats::DelStats;
use protocol::sum_head::SumHead;
use protocol::varint::WireRead;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

/// Bytes of token data buffered before they go to the writer.
const FLUSH_AT: usize = 256 * 1024;

/// Everything the sending side needs.
pub struct SendCtx<'a> {
    /// Options.
    pub opts: &'a crate::options::Options,
    /// Agreed parameters.
    pub session: &'a Session,
    /// The sorted list with local paths.
    pub list: &'a FileList,
    /// Messages.
    pub out: &'a Out,
    /// Counters.
    pub stats: &'a Mutex<XferStats>,
    /// This side is the server.
    pub am_server: bool,
    /// `--only-write-batch`: each file's data goes to the batch file only,
    /// never to the receiver (upstream sender.c f_xfer = batch_fd).
    pub batch_only: bool,
    /// A batch is recorded: the closing statistics go into it (upstream
    /// main.c handle_stats() for a client sender).
    pub batch_stats: bool,
    /// -X: the lists sent with the file list.
    pub xattrs: Option<&'a crate::xattrs::SendLists>,
}

/// Runs the send loop and the end-of-transfer exchange. A server also
/// writes its transfer stats (built by `stats_fn` at that moment).
// upstream: sender.c:send_files(), main.c:read_final_goodbye()
pub fn send_files<R: Read>(
    ctx: &SendCtx<'_>,
    r: &mut R,
    w: &SharedWriter,
    stats_fn: &dyn Fn() -> protocol::stats::Stats,
    mut inc: Option<&mut IncSender<'_>>,
) -> Result<()> {
    let mut ndx_r = NdxReader::default();
    let mut ndx_w = NdxWriter::default();
    let mut phase = 0;
    let mut out = Vec::with_capacity(FLUSH_AT + 64 * 1024);
    let io_error_before = ctx.out.io_error();
    let digest_len = ctx.session.checksum.digest_len();
    let mut xfr = 0u64;
    let mut tokens = crate::tokens::TokenOut::new(ctx.session, ctx.opts)?;
    let mut totals = delta::MatchStats::default();
    let mut last_ndx = 0usize;
    let mut open_cache = crate::source::OpenCache::default();
    loop {
        top_up(ctx, inc.as_deref_mut(), w, &mut out, &mut ndx_w)?;
        let ndx = read_ndx(ctx, inc.as_deref(), r, &mut ndx_r, &mut out, &mut ndx_w)?;
        if ndx == NDX_DONE {
            list_end_progress(ctx, inc.as_deref(), last_ndx, xfr);
            // Each list the receiving side finished is freed and echoed;
            // the last one ends the phase.
            if !inc.as_deref_mut().is_some_and(|l| l.list_done()) {
                phase += 1;
                if phase > 2 {
                    break;
                }
            }
            ndx_w.write(&mut out, NDX_DONE);
            write_out(w, &mut out, true)?;
            continue;
        }
        top_up(ctx, inc.as_deref_mut(), w, &mut out, &mut ndx_w)?;
        let i = ndx as usize;
        last_ndx = i;
        let iflags = r.read_u16_field("iflags")? as u32;
        // upstream FLAG_FILE_SENT: a second request is a redo.
        let redo = phase > 0 || (iflags & ITEM_TRANSFER != 0 && mark_sent(inc.as_deref_mut(), i));
        let it = item(ctx, inc.as_deref(), i)
            .ok_or_else(|| Error::protocol(format!("Invalid file index: {ndx} [sender]")))?;
        let e = it.entry;
        let (basis_type, xname) = read_extras(r, iflags)?;
        // -X: the generator's request, answered after our record.
        let xattr_reply = xattr_reply(ctx, inc.as_deref(), r, iflags, i, &it)?;
        let echo = |out: &mut Vec<u8>, ndx_w: &mut NdxWriter| {
            echo_request(out, ndx_w, (ndx, iflags, basis_type));
            let extra = [xname.as_deref(), xattr_reply.as_deref()];
            if let Some(x) = extra[0] {
                protocol::varint::write_vstring(out, x);
            }
            out.extend_from_slice(extra[1].unwrap_or_default());
        };
        if iflags & ITEM_TRANSFER == 0 {
            log_unchanged(ctx, iflags, e, xname.as_deref().unwrap_or_default());
            echo(&mut out, &mut ndx_w);
            if iflags & ITEM_IS_NEW != 0 {
                let k = crate::stats::kind_index(e.mode);
                stat(ctx, |s| s.created[k] += 1);
            }
            continue;
        }
        if phase == 2 {
            return Err(Error::protocol("got transfer request in phase 2 [sender]"));
        }
        if !e.is_file() {
            return Err(Error::protocol(format!(
                "transfer request for non-regular file index {ndx} [sender]"
            )));
        }
        if iflags & ITEM_IS_NEW != 0 && !redo {
            stat(ctx, |s| s.created[0] += 1);
        }
        stat(ctx, |s| {
            s.xferred_files += 1;
            s.total_transferred_size += e.size().max(0) as u64;
        });
        if ctx.opts.dry_run {
            log_item(ctx, iflags, e);
            echo(&mut out, &mut ndx_w);
            continue;
        }
        let sig = receive_sums(r, digest_len, ctx.opts.append > 0 && !redo, ctx.opts)?;
        let path = &it.path;
        let Some((file, st)) = open_item(ctx, &it, &mut open_cache, w, &mut out, ndx)? else {
            continue;
        };
        echo(&mut out, &mut ndx_w);
        if ctx.batch_only {
            write_out(w, &mut out, false)?;
        }
        sum_head(&sig).write(&mut out);
        let mut io_fail: Option<io::Error> = None;
        tokens.start_file(&e.name)?;
        let block_src = tokens
            .wants_block_data()
            .then(|| file.try_clone().ok())
            .flatten();
        let again = ctx.opts.inplace.then(|| file.try_clone().ok()).flatten();
        let remaining = readable_size(ctx, &st, e);
        let limit = remaining;
        let reader = ReadTracker {
            inner: file.take(limit),
            err: &mut io_fail,
            remaining,
        };
        let mut pos = 0u64;
        let mut block = Vec::new();
        let size = e.size().max(0) as u64;
        // Under --iconv the list holds the wire names: output shows ours.
        let shown = crate::charset::shown_by_sender(e);
        let shown = shown.as_ref().unwrap_or(e);
        if !ctx.am_server {
            let ev = crate::out::FileEvent {
                sender: true,
                iflags,
                entry: shown,
            };
            // The first progress reading comes with the first data sent
            // (upstream match.c matched()), none before it.
            ctx.out.item_before_transfer(ev, b"");
        }
        let result = crate::sender::send_stream(
            ctx.opts,
            if redo { phase.max(1) } else { phase },
            basis_type,
            again,
            reader,
            &sig,
            ctx.session.checksum,
            ctx.session.seed,
            ctx.session.seed_fix(),
            &mut |op| {
                match op {
                    Op::Literal(data) => {
                        pos += data.len() as u64;
                        literal(&mut tokens, data, (w, &mut out), ctx.batch_only)
                            .map_err(io::Error::other)?;
                    }
                    Op::Match(idx) => {
                        let len = Signature::block_range(&sig.sizes, idx).map_or(0, |(_, l)| l);
                        block.clear();
                        if let Some(src) = &block_src {
                            block.resize(len, 0);
                            std::os::unix::fs::FileExt::read_exact_at(src, &mut block, pos)?;
                        }
                        pos += len as u64;
                        tokens
                            .matched(idx, &block, &mut out)
                            .map_err(io::Error::other)?;
                    }
                }
                if out.len() >= FLUSH_AT {
                    write_data(w, &mut out, ctx.batch_only).map_err(io::Error::other)?;
                }
                ctx.out.show_progress(pos, size);
                Ok(())
            },
        );
        let (mstats, mut sum) = match result {
            Ok(v) => v,
            Err(err) if io_fail.is_none() => return Err(Error::stream(err)),
            Err(_) => (Default::default(), vec![0u8; digest_len]),
        };
        if let Some(err) = io_fail {
            sum = read_failed(ctx, path, &err, digest_len);
        }
        tokens.end(&mut out)?;
        out.extend_from_slice(&sum[..digest_len.min(sum.len())]);
        if ctx.batch_only {
            write_data(w, &mut out, true)?;
        }
        stat(ctx, |s| {
            s.literal_data += mstats.literal;
            s.matched_data += mstats.matched;
        });
        match_counts(ctx, &mstats, &mut totals);
        xfr += 1;
        file_done(ctx, inc.as_deref(), (i, xfr, size), iflags, e, shown);
    }
    let mut ndx = (ndx_r, ndx_w);
    finish(
        ctx,
        r,
        w,
        stats_fn,
        &mut out,
        &mut ndx,
        &totals,
        io_error_before,
    )
}

/// The end of the transfer: the I/O error, the final NDX_DONE (with a
/// server's stats) and the goodbye.
// upstream: sender.c send_files() (the end), main.c read_final_goodbye()
#[allow(clippy::too_many_arguments)]
fn finish<R: Read>(
    ctx: &SendCtx<'_>,
    r: &mut R,
    w: &SharedWriter,
    stats_fn: &dyn Fn() -> protocol::stats::Stats,
    out: &mut Vec<u8>,
    ndx: &mut (NdxReader, NdxWriter),
    totals: &delta::MatchStats,
    io_error_before: i32,
) -> Result<()> {
    write_out(w, out, false)?;
    match_report(ctx, totals);
    crate::summary::report_heap(ctx.out, ctx.opts, "sender", ctx.am_server);
    let io_error = ctx.out.io_error();
    if io_error != io_error_before {
        lock(w)?.send_msg(MsgCode::IoError, &io_error.to_le_bytes())?;
    }
    ndx.1.write(out, NDX_DONE);
    if ctx.am_server {
        stats_fn().write(out);
    } else if ctx.batch_stats {
        // The batch's reader is a client receiver: it reads the stats a
        // server sender would have sent.
        write_out(w, out, false)?;
        stats_fn().write(out);
        write_data(w, out, true)?;
    }
    write_out(w, out, true)?;
    // upstream: main.c:read_final_goodbye()
    let mut got = read_ndx(ctx, None, r, &mut ndx.0, out, &mut ndx.1)?;
    if ctx.session.protocol >= 31 && got == NDX_DONE {
        ndx.1.write(out, NDX_DONE);
        write_out(w, out, true)?;
        got = read_ndx(ctx, None, r, &mut ndx.0, out, &mut ndx.1)?;
    }
    if got != NDX_DONE {
        return Err(Error::protocol(format!(
            "Invalid packet at end of run ({got}) [sender]"
        )));
    }
    Ok(())
}

/// The request's index, flags and basis type, as the receiver reads them
/// back.
fn echo_request(
    out: &mut Vec<u8>,
    ndx_w: &mut NdxWriter,
    (ndx, iflags, basis): (i32, u32, Option<u8>),
) {
    ndx_w.write(out, ndx);
    out.extend_from_slice(&(iflags as u16).to_le_bytes());
    out.extend(basis);
}

/// The basis type and the alternate name a request may carry.
fn read_extras<R: Read>(r: &mut R, iflags: u32) -> Result<(Option<u8>, Option<Vec<u8>>)> {
    let basis_type = if iflags & ITEM_BASIS_TYPE_FOLLOWS != 0 {
        Some(r.read_u8_field("basis type")?)
    } else {
        None
    };
    let xname = if iflags & ITEM_XNAME_FOLLOWS != 0 {
        Some(r.read_vstring(4096, "xname")?)
    } else {
        None
    };
    Ok((basis_type, xname))
}

/// An item the generator reports without a transfer: logged, and itemized
/// on a client.
// upstream: sender.c send_files() (maybe_log_item)
fn log_unchanged(ctx: &SendCtx<'_>, iflags: u32, e: &protocol::flist::FileEntry, x: &[u8]) {
    let shown = crate::charset::shown_by_sender(e);
    let e = shown.as_ref().unwrap_or(e);
    let ev = crate::out::FileEvent {
        sender: true,
        iflags,
        entry: e,
    };
    ctx.out.log_item(ev);
    if !ctx.am_server && ctx.out.format.wants_item_x(iflags, e, x) {
        if let Some(line) = ctx.out.item_line(ev, x) {
            ctx.out.info(&line);
        }
    }
}

/// Opens the item's source (beneath the directory `cache` keeps from the
/// previous file); one that cannot be opened is reported and refused to
/// the receiver (MSG_NO_SEND), after the output so far.
fn open_item(
    ctx: &SendCtx<'_>,
    it: &Item<'_>,
    cache: &mut crate::source::OpenCache,
    w: &SharedWriter,
    out: &mut Vec<u8>,
    ndx: i32,
) -> Result<Option<(std::fs::File, confine::Stat)>> {
    match it.source.open_sized(&it.path, ctx.opts.open_noatime, cache) {
        Ok(f) => Ok(Some(f)),
        Err(err) => {
            open_failed(ctx, &it.path, &err);
            write_out(w, out, false)?;
            lock(w)?.send_msg(MsgCode::NoSend, &(ndx).to_le_bytes())?;
            Ok(None)
        }
    }
}

/// A source that could not be opened: vanished, or an error.
fn open_failed(ctx: &SendCtx<'_>, path: &std::path::Path, err: &io::Error) {
    if err.kind() == io::ErrorKind::NotFound {
        ctx.out.add_io_error(2);
        ctx.out.warning(&format!(
            "file has vanished: {}",
            crate::flist::full_fname(path)
        ));
    } else {
        ctx.out.add_io_error(1);
        ctx.out.error_xfer(&format!(
            "rsync: [sender] send_files failed to open {}: {}",
            crate::flist::full_fname(path),
            os_err(err)
        ));
    }
}

/// A read error in the middle of a file: reported, and the checksum sent
/// is deliberately wrong so that the receiver discards the file.
fn read_failed(
    ctx: &SendCtx<'_>,
    path: &std::path::Path,
    err: &io::Error,
    digest_len: usize,
) -> Vec<u8> {
    ctx.out.add_io_error(1);
    ctx.out.error_xfer(&format!(
        "rsync: [sender] read errors mapping {}: {}",
        crate::flist::full_fname(path),
        os_err(err)
    ));
    let mut sum = vec![0u8; digest_len];
    if let Some(b) = sum.last_mut() {
        *b = 1;
    }
    sum
}

/// How much of a source is sent: a device under --copy-devices as far as
/// its listed size (a character device may never end); a regular file the
/// size it had when opened (one that shrank since is a read error, "No
/// data available", as upstream fileio.c:map_ptr()).
fn readable_size(ctx: &SendCtx<'_>, st: &confine::Stat, e: &protocol::flist::FileEntry) -> u64 {
    if ctx.opts.copy_devices && st.file_type != confine::FileType::File {
        e.size().max(0) as u64
    } else {
        st.size
    }
}

fn sum_head(sig: &Signature) -> SumHead {
    SumHead {
        count: sig.sizes.count as i32,
        blength: sig.sizes.blength as i32,
        s2length: sig.sizes.s2length as i32,
        remainder: sig.sizes.remainder as i32,
    }
}

/// A file sent: its progress line (`xfr#`, the entries still to check)
/// and its log line.
fn file_done(
    ctx: &SendCtx<'_>,
    inc: Option<&IncSender<'_>>,
    (i, xfr, size): (usize, u64, u64),
    iflags: u32,
    e: &protocol::flist::FileEntry,
    shown: &protocol::flist::FileEntry,
) {
    let (index, total) = match inc {
        Some(l) => l.file_index(i),
        None => (i, ctx.list.len()),
    };
    let c = crate::progress::Counters {
        xfr,
        to_check: total.saturating_sub(index + 1),
        total,
    };
    ctx.out.end_progress(size, c);
    if ctx.out.logs_before_transfer() {
        ctx.out.log_file(crate::out::FileEvent {
            sender: true,
            iflags,
            entry: shown,
        });
    } else {
        log_item(ctx, iflags, e);
    }
}

/// progress2's line at each NDX_DONE under incremental recursion: where
/// the lists are.
// upstream: sender.c send_files() (set_current_file_index(NULL, 0))
fn list_end_progress(ctx: &SendCtx<'_>, inc: Option<&IncSender<'_>>, last_ndx: usize, xfr: u64) {
    let Some((index, total)) = inc.and_then(|l| l.end_index(last_ndx)) else {
        return;
    };
    if !ctx.am_server && ctx.out.progress_level() >= 2 {
        let c = crate::progress::Counters {
            xfr,
            to_check: total.saturating_sub(index + 1),
            total,
        };
        ctx.out.end_progress(0, c);
    }
}

/// `--debug=DELTASUM2`: one file's search counters; all files' are
/// summed for [`match_report`].
// upstream: match.c:match_sums()
fn match_counts(ctx: &SendCtx<'_>, m: &delta::MatchStats, totals: &mut delta::MatchStats) {
    if ctx.opts.ctl.debug.deltasum >= 2 {
        ctx.out.info(&format!(
            "false_alarms={} hash_hits={} matches={}",
            m.false_alarms, m.hash_hits, m.matches
        ));
    }
    totals.hash_hits += m.hash_hits;
    totals.false_alarms += m.false_alarms;
    totals.matches += m.matches;
}

/// `--debug=DELTASUM` (on with `-vv`): the delta search's totals and the
/// literal data, at the end of the sending.
// upstream: match.c:match_report()
fn match_report(ctx: &SendCtx<'_>, totals: &delta::MatchStats) {
    if ctx.opts.ctl.debug.deltasum == 0 {
        return;
    }
    let data = ctx
        .stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .literal_data;
    ctx.out.info(&format!(
        "total: matches={}  hash_hits={}  false_alarms={} data={}",
        totals.matches, totals.hash_hits, totals.false_alarms, data
    ));
}

/// The source file being sent: its first read error is kept (the file is
/// then reported and its update discarded), reads stop at the size it had
/// when opened, and an end before that size is an error (ENODATA).
struct ReadTracker<'a> {
    inner: io::Take<std::fs::File>,
    err: &'a mut Option<io::Error>,
    remaining: u64,
}

impl Read for ReadTracker<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let read =
            confine::failpoint::check("read").and_then(|()| self.inner.read(&mut buf[..want]));
        match read {
            Ok(0) => {
                if self.err.is_none() {
                    *self.err = Some(io::Error::from_raw_os_error(
                        rustix::io::Errno::NODATA.raw_os_error(),
                    ));
                }
                Ok(0)
            }
            Ok(n) => {
                self.remaining -= n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                *self.err = Some(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
        }
    }
}

fn stat(ctx: &SendCtx<'_>, f: impl FnOnce(&mut XferStats)) {
    let mut g = ctx.stats.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut g);
}

fn log_item(ctx: &SendCtx<'_>, iflags: u32, e: &protocol::flist::FileEntry) {
    // Under --iconv the list holds the wire (UTF-8) names: the output
    // shows this side's own.
    let shown = crate::charset::shown_by_sender(e);
    let entry = shown.as_ref().unwrap_or(e);
    ctx.out.log_file(crate::out::FileEvent {
        sender: true,
        iflags,
        entry,
    });
    if ctx.am_server {
        return;
    }
    let ev = crate::out::FileEvent {
        sender: true,
        iflags,
        entry,
    };
    if let Some(line) = ctx.out.item_line(ev, b"") {
        ctx.out.info(&line);
    }
}

fn write_out(w: &SharedWriter, out: &mut Vec<u8>, flush: bool) -> Result<()> {
    let mut g = lock(w)?;
    g.write_all(out)?;
    if flush {
        g.flush()?;
    }
    out.clear();
    Ok(())
}

/// Literal data: plain runs go to the writer from the read buffer, each
/// after its token (no copy into `out`); compressed, or for a batch file
/// alone, through `out`.
fn literal(
    tokens: &mut crate::tokens::TokenOut,
    data: &[u8],
    (w, out): (&SharedWriter, &mut Vec<u8>),
    batch_only: bool,
) -> Result<()> {
    if !tokens.plain() || batch_only {
        return tokens.literal(data, out);
    }
    for run in data.chunks(protocol::token::CHUNK_SIZE) {
        tokens.literal_header(run.len(), out);
        write_runs(w, out, run)?;
    }
    Ok(())
}

/// `out`, then `run` (plain literal data), to the receiver.
fn write_runs(w: &SharedWriter, out: &mut Vec<u8>, run: &[u8]) -> Result<()> {
    let mut g = lock(w)?;
    g.write_all(out)?;
    g.write_all(run)?;
    out.clear();
    Ok(())
}

/// File data: to the receiver, or with `batch_only` to the batch file
/// alone.
fn write_data(w: &SharedWriter, out: &mut Vec<u8>, batch_only: bool) -> Result<()> {
    if !batch_only {
        return write_out(w, out, false);
    }
    lock(w)?.write_tee_only(out)?;
    out.clear();
    Ok(())
}

fn read_ndx<R: Read>(
    ctx: &SendCtx<'_>,
    inc: Option<&IncSender<'_>>,
    r: &mut R,
    ndx_r: &mut NdxReader,
    out: &mut Vec<u8>,
    ndx_w: &mut NdxWriter,
) -> Result<i32> {
    loop {
        let ndx = ndx_r.read(r)?;
        if ndx == NDX_DEL_STATS {
            let d = DelStats::read(r)?;
            if ctx.am_server {
                // A server sender passes the generator's deletion counts on
                // to the client's receiver.
                ndx_w.write(out, NDX_DEL_STATS);
                d.write(out);
            } else {
                stat(ctx, |s| {
                    s.deleted = [
                        d.files as u64,
                        d.dirs as u64,
                        d.symlinks as u64,
                        d.devices as u64,
                        d.specials as u64,
                    ]
                });
            }
            continue;
        }
        if ndx == NDX_DONE {
            return Ok(ndx);
        }
        if let Some(l) = inc {
            if ndx < 0 || l.find(ndx as usize).is_none() {
                let first = l.lists.front().map_or(0, |f| f.start as i64 - 1);
                return Err(Error::protocol(format!(
                    "Invalid file index: {ndx} ({first} - {}) [sender]",
                    l.listed() as i64 + l.lists.len() as i64
                )));
            }
            return Ok(ndx);
        }
        if ndx < 0 || ndx as usize >= ctx.list.len() {
            return Err(Error::protocol(format!(
                "Invalid file index: {ndx} (-1 - {}) [sender]",
                ctx.list.len() as i64 - 1
            )));
        }
        return Ok(ndx);
    }
}

/// Reads the sum header and block sums the generator sent.
// upstream: sender.c:receive_sums()
fn receive_sums<R: Read>(
    r: &mut R,
    digest_len: usize,
    append: bool,
    opts: &crate::Options,
) -> Result<Signature> {
    let head = SumHead::read(r, digest_len)?;
    // The block table the peer's count asks for, against --max-alloc.
    // (a rolling sum and the strong sum per block; the match table adds
    // about 16 bytes a block)
    let per_block = 4 + head.s2length.max(0) as usize;
    crate::alloc::check_alloc(opts, head.count.max(0) as u64 * per_block as u64, "sender")?;
    let sizes = SumSizes {
        count: head.count as u32,
        blength: head.blength as u32,
        s2length: head.s2length as u32,
        remainder: head.remainder as u32,
    };
    if append {
        // --append: the header gives the receiver's length, no sums follow.
        return Ok(Signature::new(sizes, 0, 0));
    }
    let s2 = head.s2length as usize;
    // Grows with the data actually received; the count is bounded by
    // SumHead::read, s2 by the digest length.
    let mut sig = Signature::new(sizes, s2, (head.count as usize).min(1 << 16));
    let mut sum2 = [0u8; delta::checksum::MAX_DIGEST_LEN];
    for _ in 0..head.count {
        let sum1 = r.read_i32_field("block sum1")? as u32;
        r.read_exact_field(&mut sum2[..s2], "block sum2")?;
        sig.push(sum1, &sum2[..s2]);
    }
    Ok(sig)
}

/// Under incremental recursion, more lists before the next request
/// (upstream sender.c send_files(): send_extra_file_list()), with their
/// counts added to the stats; they are written out at once, as the
/// receiving side may be waiting for them.
fn top_up(
    ctx: &SendCtx<'_>,
    inc: Option<&mut IncSender<'_>>,
    w: &SharedWriter,
    out: &mut Vec<u8>,
    ndx_w: &mut NdxWriter,
) -> Result<()> {
    let Some(l) = inc else { return Ok(()) };
    if l.eof {
        // What was echoed goes to the writer, which is flushed before
        // the next read waits.
        return write_out(w, out, false);
    }
    let c = l.send_more(out, ndx_w, crate::flist::LOOKAHEAD)?;
    if c.bytes == 0 && !l.eof {
        // No list went out (the usual case: called twice a request).
        return if out.is_empty() {
            Ok(())
        } else {
            write_out(w, out, false)
        };
    }
    let total = {
        let mut g = ctx.stats.lock().unwrap_or_else(|p| p.into_inner());
        for (t, n) in g.num_files.iter_mut().zip(c.kinds) {
            *t += n;
        }
        g.total_size += c.size;
        g.flist_size += c.bytes;
        g.total_size
    };
    ctx.out.set_total_size(total);
    if l.eof {
        ctx.out.set_flist_incomplete(false);
    }
    write_out(w, out, false)
}

/// Records that entry `ndx`'s data is being sent; true when it was sent
/// before (a redo).
fn mark_sent(inc: Option<&mut IncSender<'_>>, ndx: usize) -> bool {
    let Some(l) = inc else { return false };
    let Some(k) = l.find(ndx) else { return false };
    let list = &mut l.lists[k];
    match ndx
        .checked_sub(list.start)
        .and_then(|j| list.sent.get_mut(j))
    {
        Some(s) => std::mem::replace(s, true),
        None => false,
    }
}

/// The entry a request names and where its data is read.
struct Item<'x> {
    entry: &'x protocol::flist::FileEntry,
    path: std::path::PathBuf,
    source: crate::source::Sources,
}

fn item<'x>(ctx: &'x SendCtx<'_>, inc: Option<&'x IncSender<'_>>, ndx: usize) -> Option<Item<'x>> {
    let Some(l) = inc else {
        return Some(Item {
            entry: ctx.list.entries.get(ndx)?,
            path: ctx.list.path_of(ndx)?,
            source: ctx.list.source_of(ndx),
        });
    };
    let list = &l.lists[l.find(ndx)?];
    if ndx + 1 == list.start {
        let (e, p, o) = list.parent.as_ref()?;
        return Some(Item {
            entry: e,
            path: p.clone(),
            source: list.list.source.at(*o),
        });
    }
    let j = ndx - list.start;
    Some(Item {
        entry: list.list.entries.get(j)?,
        path: list.list.path_of(j)?,
        source: list.list.source_of(j),
    })
}

/// -X: reads the generator's request for entry `i` (when one follows
/// its record) and returns the reply. Under incremental recursion the
/// lists are the transfer's, and the entry (of whichever list in flight)
/// knows its list's index.
fn xattr_reply<R: Read>(
    ctx: &SendCtx<'_>,
    inc: Option<&IncSender<'_>>,
    r: &mut R,
    iflags: u32,
    i: usize,
    it: &Item<'_>,
) -> Result<Option<Vec<u8>>> {
    let lists = inc.map_or(ctx.xattrs, |l| l.xattrs());
    let Some(x) = lists.filter(|_| crate::xattrs::exchange_follows(ctx.opts, ctx.session, iflags))
    else {
        return Ok(None);
    };
    let n = x.list_of(i, it.entry);
    x.answer(r, n, it.entry, &it.path, &it.source, ctx.out)
        .map(Some)
}

/// Longest literal run one op carries (upstream CHUNK_SIZE).
const CHUNK: usize = 32 * 1024;

/// The sender's data stream for one file: `--append` sends only what lies
/// past the receiver's length (hashing the skipped part for
/// `--append-verify`); `--inplace` into the file itself never refers back
/// to a block the receiver has already overwritten; else a normal match.
// upstream: match.c:match_sums() (append_mode, updating_basis_file)
#[allow(clippy::too_many_arguments)]
pub fn send_stream<R: Read>(
    opts: &crate::options::Options,
    phase: i32,
    basis_type: Option<u8>,
    again: Option<File>,
    mut new: R,
    sig: &Signature,
    kind: ChecksumKind,
    seed: i32,
    seed_fix: bool,
    emit: &mut dyn FnMut(Op<'_>) -> io::Result<()>,
) -> io::Result<(MatchStats, Vec<u8>)> {
    if opts.append > 0 && phase == 0 {
        let skip = Signature::covered_len(&sig.sizes).unwrap_or(0);
        let mut hasher = FileHasher::new(kind);
        let mut stats = MatchStats::default();
        let mut buf = vec![0u8; CHUNK];
        let mut pos = 0u64;
        loop {
            let n = new.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let data = &buf[..n];
            let keep = if pos < skip {
                let s = ((skip - pos) as usize).min(n);
                if opts.append > 1 {
                    hasher.update(&data[..s]);
                }
                s
            } else {
                0
            };
            if keep < n {
                hasher.update(&data[keep..]);
                stats.literal += (n - keep) as u64;
                emit(Op::Literal(&data[keep..]))?;
            }
            pos += n as u64;
        }
        return Ok((stats, hasher.finish()));
    }
    let guard = opts.inplace && basis_type.is_none_or(|t| t == FNAMECMP_FNAME) && !sig.is_empty();
    let (true, Some(again)) = (guard, again) else {
        return match_file(new, sig, kind, seed, seed_fix, emit);
    };
    let sizes: SumSizes = sig.sizes;
    let mut pos = 0u64;
    let mut copy = Vec::new();
    let (stats, sum) = match_file(new, sig, kind, seed, seed_fix, &mut |op| match op {
        Op::Literal(d) => {
            pos += d.len() as u64;
            emit(Op::Literal(d))
        }
        Op::Match(idx) => {
            let (off, len) = Signature::block_range(&sizes, idx)
                .ok_or_else(|| io::Error::other("bad block index"))?;
            if off >= pos {
                pos += len as u64;
                return emit(Op::Match(idx));
            }
            // The receiver has already overwritten that block: send its
            // bytes (the same as ours at this position) as literal data.
            copy.resize(len, 0);
            again.read_exact_at(&mut copy, pos)?;
            pos += len as u64;
            for chunk in copy.chunks(CHUNK) {
                emit(Op::Literal(chunk))?;
            }
            Ok(())
        }
    })?;
    Ok((stats, sum))
}

/// Writes the whole of `data` (used by tests of the helpers).
#[cfg(test)]
fn sink(out: &mut Vec<u8>) -> impl FnMut(Op<'_>) -> io::Result<()> + '_ {
    move |op| {
        match op {
            Op::Literal(d) => out.extend_from_slice(d),
            Op::Match(i) => out.extend_from_slice(format!("[{i}]").as_bytes()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sums the generator writes, for strong sums of 2 to 16 bytes,
    /// come back as the signature of the basis; a short stream is an error.
    #[test]
    fn receive_sums_round_trip() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 13 % 251) as u8).collect();
        let kind = ChecksumKind::Md5;
        let opts = crate::options::Options::default();
        for s2length in 2..=16u32 {
            let sizes = SumSizes {
                s2length,
                ..delta::sum_sizes(5000, 16, Some(700), false)
            };
            let sig = Signature::generate(&data[..], 5000, sizes, kind, 5, true).unwrap();
            let mut wire = Vec::new();
            protocol::sum_head::SumHead {
                count: sizes.count as i32,
                blength: sizes.blength as i32,
                s2length: s2length as i32,
                remainder: sizes.remainder as i32,
            }
            .write(&mut wire);
            for (sum1, sum2) in sig.iter() {
                protocol::varint::write_i32(&mut wire, sum1 as i32);
                wire.extend_from_slice(sum2);
            }
            let got = receive_sums(&mut &wire[..], 16, false, &opts).unwrap();
            assert_eq!(got, sig, "s2length {s2length}");
            assert_eq!(got.sum2(3).len(), s2length as usize);
            assert!(receive_sums(&mut &wire[..wire.len() - 1], 16, false, &opts).is_err());
        }
    }

    #[test]
    fn append_stream_skips_prefix() {
        let opts = crate::options::Options {
            append: 1,
            inplace: true,
            ..Default::default()
        };
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let sizes = delta::sum_sizes(1000, 16, Some(700), false);
        let sig = Signature::new(sizes, 0, 0);
        let mut out = Vec::new();
        let (st, sum) = send_stream(
            &opts,
            0,
            None,
            None,
            &data[..],
            &sig,
            ChecksumKind::Md5,
            0,
            false,
            &mut sink(&mut out),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, &data[1000..]);
        assert_eq!(st.literal, 4000);
        let mut h = FileHasher::new(ChecksumKind::Md5);
        h.update(&data[1000..]);
        assert_eq!(sum, h.finish());
    }
}
