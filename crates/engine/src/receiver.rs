//! The receiver: reads file data from the sender, rebuilds each file from
//! literal data and basis blocks into a temp file beneath the destination
//! root, verifies the whole-file checksum, sets metadata through the open
//! descriptor and renames it into place (upstream receiver.c).
use crate::ctx::{GenEvent, RecvCtx};
use crate::error::{Error, Result};
use crate::itemize::*;
use crate::partial::final_mode;
use confine::RelPath;
use delta::{FileHasher, Signature, SumSizes};
use protocol::ndx::{NdxReader, NDX_DEL_STATS, NDX_DONE, NDX_FLIST_EOF, NDX_FLIST_OFFSET};
use protocol::stats::{DelStats, Stats};
use protocol::sum_head::SumHead;
use protocol::token::Token;
use protocol::varint::WireRead;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::mpsc::Sender;

/// Counters a client receiver reads after the sender's last DONE.
pub type PeerStats = Option<Stats>;

/// Reads records from the sender until the end of the transfer, feeding the
/// generator with phase and redo events. Returns the sender's stats when it
/// is the server.
// upstream: receiver.c:recv_files(), main.c:do_recv()
pub fn receive_files<R: Read>(
    ctx: &RecvCtx,
    r: &mut R,
    events: Sender<GenEvent>,
    sender_is_server: bool,
    mut inc: Option<crate::increc::IncReader>,
) -> Result<PeerStats> {
    let mut ndx_r = NdxReader::default();
    let mut phase = 0;
    let mut redone = vec![false; 0];
    let mut buf = Vec::new();
    let mut tokens = crate::tokens::TokenIn::new(&ctx.session)?;
    let mut xfr = 0u64;
    loop {
        let ndx = read_ndx(ctx, r, &mut ndx_r, (&mut inc, &events))?;
        if ndx == NDX_DONE {
            // upstream: each DONE of the first phase finishes one list
            // (flist_free(first_flist)); the phase ends with the last.
            if phase == 0 && crate::increc::list_done(ctx) {
                continue;
            }
            phase += 1;
            if phase == 1 {
                if let Some(wants) = &ctx.batch_wants {
                    wants.wants(i32::MAX, &mut |j| no_batched_update(ctx, j));
                }
            }
            if phase > 2 {
                break;
            }
            if phase == 2 && ctx.opts.delay_updates {
                for i in crate::partial::delayed_updates(ctx) {
                    placed(ctx, &events, i);
                }
            }
            let _ = events.send(GenEvent::Done);
            continue;
        }
        let (i, iflags, basis_type, xname) = read_attrs(ctx, r, ndx as usize, phase)?;
        let e = &*ctx.entries.at(i);
        if iflags & ITEM_TRANSFER == 0 {
            log_untransferred(ctx, iflags, i, &xname);
            continue;
        }
        // upstream receiver.c recv_files(): the last phase only closes.
        if phase == 2 {
            return Err(Error::protocol(
                "got transfer request in phase 2 [receiver]",
            ));
        }
        if !e.is_file() {
            return Err(Error::protocol(format!(
                "received a transfer request for non-regular file {}",
                ctx.name(i)
            )));
        }
        if let Some(wants) = &ctx.batch_wants {
            let wanted = if phase == 0 {
                wants.wants(ndx, &mut |j| no_batched_update(ctx, j))
            } else {
                redone.get(i).copied().unwrap_or(false)
            };
            if !wanted {
                let again = if phase > 0 { " resend of" } else { "" };
                ctx.out.info(&format!(
                    "(Skipping batched update for{again} \"{}\")",
                    ctx.name(i)
                ));
                discard_data(ctx, r, &mut buf, &mut tokens)?;
                continue;
            }
        }
        if ctx.opts.dry_run {
            if ctx.batch_data_in_dry_run {
                discard_data(ctx, r, &mut buf, &mut tokens)?;
            }
            log_item(ctx, iflags, e);
            ctx.stats(|s| {
                s.xferred_files += 1;
                s.total_transferred_size += e.size().max(0) as u64;
            });
            placed(ctx, &events, i);
            finished(ctx, &events, i, phase);
            continue;
        }
        let head = SumHead::read(r, ctx.session.checksum.digest_len())?;
        // The line said before the data, once its output file is open
        // (upstream recv_files(): log_item() after the mkstemp).
        let before = || {
            if !ctx.am_server {
                ctx.out.item_before_transfer(
                    crate::out::FileEvent {
                        sender: false,
                        iflags,
                        entry: e,
                    },
                    b"",
                );
            }
        };
        let ok = match receive_data(
            ctx,
            r,
            (i, &before),
            &head,
            &mut buf,
            &mut tokens,
            // upstream: a file sent again (FLAG_FILE_SENT) is received
            // as in the redo phase, also when incremental recursion redoes
            // it in the first.
            (
                basis_type,
                &xname,
                if redone.get(i).copied().unwrap_or(false) {
                    phase.max(1)
                } else {
                    phase
                },
                iflags & ITEM_IS_NEW != 0,
            ),
        ) {
            Ok(ok) => ok,
            Err(err) => {
                crate::partial::interrupted(ctx);
                return Err(err);
            }
        };
        ctx.stats(|s| {
            s.xferred_files += 1;
            s.total_transferred_size += e.size().max(0) as u64;
        });
        let Some(ok) = ok else {
            // No temporary file: reported, its data read past; the file is
            // done with all the same (a list waiting on it can end).
            finished(ctx, &events, i, phase);
            continue;
        };
        if ok {
            xfr += 1;
            let (index, total) = crate::increc::file_index(ctx, i);
            ctx.out.end_progress(
                e.size().max(0) as u64,
                crate::progress::Counters {
                    xfr,
                    to_check: total.saturating_sub(index + 1),
                    total,
                },
            );
            log_transferred(ctx, iflags, i);
            placed(ctx, &events, i);
            finished(ctx, &events, i, phase);
        } else if redone.get(i).copied().unwrap_or(false) || phase > 0 {
            ctx.out.error_xfer(&format!(
                "ERROR: {} failed verification -- update {}.",
                ctx.name(i),
                kept(&ctx.opts)
            ));
            finished(ctx, &events, i, phase);
        } else {
            if redone.len() < ctx.entries.len() {
                redone.resize(ctx.entries.len(), false);
            }
            redone[i] = true;
            if ctx.opts.verbose > 0 || ctx.am_server {
                ctx.out.warning(&format!(
                    "WARNING: {} failed verification -- update {} (will try again).",
                    ctx.name(i),
                    kept(&ctx.opts)
                ));
            }
            let _ = events.send(GenEvent::Redo(i));
        }
    }
    crate::summary::report_heap(&ctx.out, &ctx.opts, "receiver", ctx.am_server);
    let stats = if sender_is_server && !ctx.am_server {
        Some(Stats::read(r)?)
    } else {
        None
    };
    let _ = events.send(GenEvent::Done);
    if ctx.session.protocol >= 31 {
        end_of_run(ctx, r, &mut ndx_r, (&mut inc, &events))?;
    }
    Ok(stats)
}

/// Reads a record's attributes after its index: item flags, basis type,
/// xname and the xattr reply; refuses what this side could not have asked
/// for. Returns the entry the record acts on (see [`record_entry`]).
// upstream: rsync.c:read_ndx_and_attrs()
fn read_attrs<R: Read>(
    ctx: &RecvCtx,
    r: &mut R,
    ndx: usize,
    phase: i32,
) -> Result<(usize, u32, Option<u8>, Vec<u8>)> {
    let iflags = r.read_u16_field("iflags")? as u32;
    let mut basis_type = None;
    if iflags & ITEM_BASIS_TYPE_FOLLOWS != 0 {
        basis_type = Some(r.read_u8_field("basis type")?);
    }
    let mut xname = Vec::new();
    if iflags & ITEM_XNAME_FOLLOWS != 0 {
        xname = r.read_vstring(4096, "xname")?;
    }
    let i = record_entry(ctx, ndx, iflags)?;
    let e = &*ctx.entries.at(i);
    // upstream: receiver.c counts created items from the records; here
    // the generator does, but a replay's records are the batch's.
    if ctx.batch_wants.is_some()
        && iflags & ITEM_IS_NEW != 0
        && (phase == 0 || iflags & ITEM_TRANSFER == 0)
    {
        let k = crate::stats::kind_index(e.mode);
        ctx.stats(|s| s.created[k] += 1);
    }
    // A fuzzy basis is checked before anything is read for it: one this
    // side could not have chosen ends the transfer (upstream: "refusing
    // malicious fuzzy operation").
    if let Some(t) = basis_type.filter(|&t| t >= crate::basis::FNAMECMP_FUZZY) {
        if i < ctx.entries.len() {
            crate::fuzzy::basis_place(ctx, i, t, &xname)?;
        }
    }
    // upstream: rsync.c read_ndx_and_attrs() reads the xattr reply
    // after the basis type and xname.
    if crate::xattrs::exchange_follows(&ctx.opts, &ctx.session, iflags) {
        let mut budget = ctx.opts.ctl.max_alloc();
        ctx.xattrs
            .read_reply(r, e, &mut budget, ctx.batch_wants.is_some())?;
        if iflags & ITEM_TRANSFER == 0 {
            set_xattrs(ctx, i, None);
        }
    }
    Ok((i, iflags, basis_type, xname))
}

/// An item with nothing to transfer: logged (and itemized by a client).
/// What became of a file that failed verification, as the message says
/// it: written in place (`--inplace`, `--append`) or kept as a partial
/// file it was retained, else discarded.
// upstream: receiver.c:recv_files() (keptstr)
pub(crate) fn kept(opts: &crate::options::Options) -> &'static str {
    if !opts.partial && !opts.inplace {
        "discarded"
    } else if opts.partial_dir.is_some() {
        "put into partial-dir"
    } else {
        "retained"
    }
}

fn log_untransferred(ctx: &RecvCtx, iflags: u32, i: usize, xname: &[u8]) {
    let e = &*ctx.entries.at(i);
    ctx.out.log_item(crate::out::FileEvent {
        sender: false,
        iflags,
        entry: e,
    });
    if !ctx.am_server && ctx.out.format.wants_item_x(iflags, e, xname) {
        let ev = crate::out::FileEvent {
            sender: false,
            iflags,
            entry: e,
        };
        if let Some(line) = ctx.out.item_line(ev, xname) {
            ctx.out.info(&line);
        }
    }
}

/// The sender's last DONE (protocol 31 and later).
fn end_of_run<R: Read>(
    ctx: &RecvCtx,
    r: &mut R,
    ndx_r: &mut NdxReader,
    inc: IncIn<'_>,
) -> Result<()> {
    let events = inc.1;
    let ndx = read_ndx(ctx, r, ndx_r, inc)?;
    if ndx != NDX_DONE {
        return Err(Error::protocol(format!(
            "Invalid packet at end of run ({ndx}) [receiver]"
        )));
    }
    let _ = events.send(GenEvent::Done);
    Ok(())
}

/// The --progress line of a received file.
/// A batch wanted file the batch has no data for.
// upstream: receiver.c:no_batched_update()
fn no_batched_update(ctx: &RecvCtx, i: usize) {
    if i < ctx.entries.len() {
        ctx.out
            .error_xfer(&format!("(No batched update for \"{}\")", ctx.name(i)));
    }
}

/// Reads one file's data past without writing it (a batch record the
/// generator does not want, or a dry run's).
// upstream: receiver.c:discard_receive_data()
fn discard_data<R: Read>(
    ctx: &RecvCtx,
    r: &mut R,
    buf: &mut Vec<u8>,
    tokens: &mut crate::tokens::TokenIn,
) -> Result<()> {
    let head = SumHead::read(r, ctx.session.checksum.digest_len())?;
    discard_tokens(ctx, r, &head, buf, tokens)
}

/// Reads one file's tokens and checksum past (its head already read).
fn discard_tokens<R: Read>(
    ctx: &RecvCtx,
    r: &mut R,
    head: &SumHead,
    buf: &mut Vec<u8>,
    tokens: &mut crate::tokens::TokenIn,
) -> Result<()> {
    let sizes = SumSizes {
        count: head.count as u32,
        blength: head.blength as u32,
        s2length: head.s2length as u32,
        remainder: head.remainder as u32,
    };
    let mut block = Vec::new();
    loop {
        match tokens.read(r, buf)? {
            Token::End => break,
            Token::Literal(_) => {}
            Token::Match(idx) => {
                let Some((_, len)) = Signature::block_range(&sizes, idx) else {
                    return Err(Error::protocol(format!(
                        "invalid block index {idx} (count {})",
                        head.count
                    )));
                };
                block.clear();
                block.resize(len, 0);
                tokens.see_match(&block)?;
            }
        }
    }
    let mut sum = vec![0u8; ctx.session.checksum.digest_len()];
    r.read_exact_field(&mut sum, "file checksum")?;
    Ok(())
}

/// With --append: where the received data starts (the verified prefix,
/// upstream's sum.flength).
fn append_offset(head: &SumHead) -> u64 {
    let (count, blength, rem) = (
        head.count.max(0) as u64,
        head.blength.max(0) as u64,
        head.remainder.max(0) as u64,
    );
    let mut len = count * blength;
    if rem > 0 && len > 0 {
        len -= blength - rem.min(blength);
    }
    len
}

/// -H: tells the generator that a hard-linked file is in place (a file
/// parked for --delay-updates is, once it is moved).
fn placed(ctx: &RecvCtx, events: &Sender<GenEvent>, i: usize) {
    if ctx.opts.hard_links
        && ctx.entries.at(i).hlink.is_some()
        && !crate::partial::is_delayed(ctx, i)
    {
        let _ = events.send(GenEvent::Placed(i));
    }
}

/// Incremental recursion: the file a record of the first phase asked for
/// is done with (upstream: the receiver's MSG_SUCCESS / MSG_NO_SEND to the
/// generator, which counts the files of each list in progress). Counted
/// here; the generator hears of it only when its list has no file left
/// in progress (or, with -H, of each file), not woken for every file.
fn finished(ctx: &RecvCtx, events: &Sender<GenEvent>, i: usize, phase: i32) {
    if phase == 0 {
        count_finished(ctx, events, i);
    }
}

/// Incremental recursion: a requested file is done with (also a file the
/// sender could not open, its MSG_NO_SEND): counted in its segment, the
/// generator told when that leaves the segment with nothing in progress.
pub(crate) fn count_finished(ctx: &RecvCtx, events: &Sender<GenEvent>, i: usize) {
    let Some(segs) = ctx.inc.as_ref() else {
        return;
    };
    let emptied = segs.seg_of(i).is_some_and(|k| {
        let mut counts = ctx
            .upd
            .in_progress
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        counts.get_mut(k).is_some_and(|n| {
            *n = n.saturating_sub(1);
            *n == 0
        })
    });
    if emptied || ctx.opts.hard_links {
        let _ = events.send(GenEvent::Finished(i));
    }
}

type IncIn<'a> = (
    &'a mut Option<crate::increc::IncReader>,
    &'a Sender<GenEvent>,
);

/// The entry a record acts on: a duplicate the list cleaning dropped has
/// no name to act on (upstream receiver.c recv_files()), but a list's slot
/// stands for its directory: a record there (a replayed batch's;
/// upstream's generator makes one per list) reports on that directory.
fn record_entry(ctx: &RecvCtx, i: usize, iflags: u32) -> Result<usize> {
    if !crate::treeshape::is_inactive(&ctx.entries.at(i)) {
        return Ok(i);
    }
    crate::increc::dir_slot_entry(ctx, i)
        .filter(|_| iflags & ITEM_TRANSFER == 0)
        .ok_or_else(|| {
            Error::protocol(format!(
                "rsync: refusing transfer of cleared file index {i}"
            ))
        })
}

fn read_ndx<R: Read>(
    ctx: &RecvCtx,
    r: &mut R,
    ndx_r: &mut NdxReader,
    (inc, events): IncIn<'_>,
) -> Result<i32> {
    loop {
        let ndx = ndx_r.read(r)?;
        // upstream: rsync.c read_ndx_and_attrs(): with incremental
        // recursion the sender puts its next lists between the records.
        if let Some(lists) = inc.as_mut() {
            if ndx == NDX_FLIST_EOF {
                lists.flist_eof(ctx, events)?;
                continue;
            }
            if ndx <= NDX_FLIST_OFFSET {
                lists.sub_list(ctx, r, ndx, events)?;
                continue;
            }
        }
        if ndx == NDX_DEL_STATS {
            let d = DelStats::read(r)?;
            if !ctx.am_server {
                ctx.stats(|s| {
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
        let last = ctx.entries.len() as i64 - 1;
        if ndx < 0 || i64::from(ndx) > last {
            return Err(Error::protocol(format!(
                "Invalid file index: {ndx} (-1 - {last}) [receiver]"
            )));
        }
        // With incremental recursion a finished list is freed: its
        // indexes are no longer valid.
        // upstream: flist.c flist_for_ndx() (from read_ndx_and_attrs())
        if let Some(first) = ctx.inc.as_ref().map(|s| s.first_live()) {
            if (ndx as usize) < first || ctx.entries.get(ndx as usize).is_none() {
                return Err(Error::protocol(format!(
                    "File-list index {ndx} not in {first} - {last} (read_ndx_and_attrs) [receiver]"
                )));
            }
        }
        return Ok(ctx.local_ndx(ndx));
    }
}

/// Logs a transferred file: its line was printed before its data when
/// the format allows.
fn log_transferred(ctx: &RecvCtx, iflags: u32, i: usize) {
    if ctx.out.logs_before_transfer() {
        ctx.out.log_file(crate::out::FileEvent {
            sender: false,
            iflags,
            entry: &ctx.entries.at(i),
        });
    } else {
        log_item(ctx, iflags, &ctx.entries.at(i));
    }
}

fn log_item(ctx: &RecvCtx, iflags: u32, entry: &protocol::flist::FileEntry) {
    let ev = crate::out::FileEvent {
        sender: false,
        iflags,
        entry,
    };
    ctx.out.log_file(ev);
    if ctx.am_server {
        return;
    }
    if let Some(line) = ctx.out.item_line(ev, b"") {
        ctx.out.info(&line);
    }
}

/// Literal bytes gathered before they are written (see [`write_held`]).
const GATHER: usize = 256 * 1024;

/// Writes literal bytes that follow what `window` holds.
fn write_held(
    data: &[u8],
    hasher: &mut FileHasher,
    window: &mut BasisWindow,
    w: &mut crate::sparse::Sink,
) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    hasher.update(data);
    window.flush(w)?;
    confine::failpoint::check("write")?;
    w.write_all(data)
}

/// Rebuilds one file (`new`: the generator found nothing at its name).
/// Returns Ok(Some(false)) when the checksum did not match (the temp file
/// is gone, the destination untouched), Ok(None) when no temporary file
/// could be made (reported; the data was read past).
// upstream: receiver.c:receive_data()
fn receive_data<R: Read>(
    ctx: &RecvCtx,
    r: &mut R,
    (i, before): (usize, &dyn Fn()),
    head: &SumHead,
    buf: &mut Vec<u8>,
    tokens: &mut crate::tokens::TokenIn,
    (basis_type, xname, phase, new): (Option<u8>, &[u8], i32, bool),
) -> Result<Option<bool>> {
    let e = &*ctx.entries.at(i);
    let p = &ctx.path(i);
    // Error lines name the file as upstream's full_fname() does (made
    // only for one).
    let name = std::cell::LazyCell::new(|| ctx.full_name(i));
    let sizes = SumSizes {
        count: head.count as u32,
        blength: head.blength as u32,
        s2length: head.s2length as u32,
        remainder: head.remainder as u32,
    };
    let append = ctx.opts.append > 0 && phase == 0;
    let basis: Option<File> = if head.count > 0 && !append {
        match crate::partial::open_basis(ctx, i, basis_type, xname) {
            Ok(f) => Some(f),
            Err(err) => {
                ctx.out.error_xfer(&format!(
                    "rsync: [receiver] failed to open basis \"{}\": {}",
                    *name,
                    crate::error::sys_err(&err)
                ));
                None
            }
        }
    } else {
        None
    };
    let mut hasher = FileHasher::new(ctx.session.checksum);
    // upstream receiver.c: a temporary file that cannot be made is this
    // file's error; its data is read past and the transfer goes on.
    let (tmp, file) = match crate::partial::open_output(ctx, i, head, (append, new), &mut hasher) {
        Ok(v) => v,
        // (In place, only a failed backup is: other errors end the run.)
        Err(err)
            if err.code == protocol::exit::RERR_FILEIO
                && (!ctx.opts.inplace || crate::backup::is_backup_failure(&err)) =>
        {
            ctx.out.error_xfer(&err.message);
            discard_tokens(ctx, r, head, buf, tokens)?;
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    before();
    let total = e.size().max(0) as u64;
    let (mut w, warning) =
        crate::sparse::open_sink(&ctx.opts, file, tmp.inplace, ctx.whole_file, total, &name)
            .inspect_err(|_| crate::partial::discard(ctx, &tmp))?;
    if let Some(warning) = warning {
        ctx.out.warning(&warning);
    }
    // Consecutive matched blocks are read through one window of the basis
    // (not one pread per block), and written from it in one run (not
    // copied through the write buffer). An in-place basis is the file being
    // written, so it is always read fresh and each block written at once.
    let mut window = BasisWindow::new(!tmp.inplace);
    // Consecutive literal runs gather in `buf` and go to the file in one
    // write from it (not copied through the sink's buffer).
    let gather = if tokens.gathers() { GATHER } else { 0 };
    let mut held = 0;
    let mut block = Vec::new();
    let mut literal = 0u64;
    let mut matched = 0u64;
    let mut write_err: Option<std::io::Error> = None;
    let mut basis_failed = false;
    let mut offset = if append { append_offset(head) } else { 0 };
    loop {
        ctx.out.show_progress(offset, total);
        // A failed read (the peer went away) leaves no temp file behind.
        // (receive_files hands it to partial::interrupted, which keeps it
        // for --partial.)
        let token = tokens.read_at(r, buf, held)?;
        if let Token::Literal(n) = token {
            literal += n as u64;
            offset += n as u64;
            held += n;
            if held <= gather {
                continue;
            }
        }
        // What is held goes out before what comes next.
        let res = write_held(
            &buf[..std::mem::take(&mut held)],
            &mut hasher,
            &mut window,
            &mut w,
        );
        if let Err(err) = res {
            write_err = Some(err);
            break;
        }
        match token {
            Token::Literal(_) => {}
            Token::End => {
                if let Err(err) = window.flush(&mut w) {
                    write_err = Some(err);
                }
                break;
            }
            Token::Match(idx) => {
                let Some((off, len)) = Signature::block_range(&sizes, idx) else {
                    crate::partial::discard(ctx, &tmp);
                    return Err(Error::protocol(format!(
                        "invalid block index {idx} for {} (count {})",
                        *name, head.count
                    )));
                };
                matched += len as u64;
                offset += len as u64;
                if !window.continues(off, len) {
                    if let Err(err) = window.flush(&mut w) {
                        write_err = Some(err);
                        break;
                    }
                }
                let deferred = window.enabled;
                let read = basis.as_ref().and_then(|f| window.read(f, off, len).ok());
                let deferred = deferred && read.is_some();
                let data = read.unwrap_or_else(|| {
                    basis_failed = true;
                    block.clear();
                    block.resize(len, 0);
                    &block
                });
                hasher.update(data);
                tokens.see_match(data)?;
                if !deferred {
                    if let Err(err) =
                        confine::failpoint::check("write").and_then(|()| w.write_all(data))
                    {
                        write_err = Some(err);
                        break;
                    }
                } else {
                    window.defer(off, len);
                }
            }
        }
    }
    if let Some(err) = write_err {
        return Err(write_failed(&name, &err));
    }
    let digest_len = ctx.session.checksum.digest_len();
    let mut sent = vec![0u8; digest_len];
    r.read_exact_field(&mut sent, "file checksum")
        .inspect_err(|_| {
            crate::partial::discard(ctx, &tmp);
        })?;
    ctx.stats(|s| {
        s.literal_data += literal;
        s.matched_data += matched;
    });
    let file = match w.finish() {
        Ok(f) => Some(f),
        Err(err) => {
            write_err.get_or_insert(err);
            None
        }
    };
    if let Some(err) = write_err {
        return Err(write_failed(&name, &err));
    }
    let ours = hasher.finish();
    if ours != sent || basis_failed {
        crate::partial::discard(ctx, &tmp);
        return Ok(Some(false));
    }
    let Some(file) = file else {
        return Ok(Some(true));
    };
    // upstream: receiver.c:receive_data() (do_fsync): a failed fsync ends
    // the transfer.
    if ctx.opts.fsync {
        if let Err(err) = confine::failpoint::check("fsync").and_then(|()| file.sync_all()) {
            crate::partial::discard(ctx, &tmp);
            return Err(Error::file_io(format!(
                "rsync: [receiver] fsync failed on \"{}\": {}",
                *name,
                crate::error::sys_err(&err)
            )));
        }
    }
    finish_file(ctx, (i, e), &tmp, p, &file, &name)?;
    crate::partial::send_success(ctx, i);
    Ok(Some(true))
}

/// A failed write (or flush, fsync) of the received file is fatal, as
/// upstream's: a full disk or a failing device ends the run with code 11;
/// what was written is kept with --partial (receive_files hands the temp
/// file to partial::interrupted).
// upstream: receiver.c:receive_data() (report_write_error)
#[track_caller]
fn write_failed(name: &str, err: &std::io::Error) -> Error {
    Error::file_io(format!(
        "rsync: [receiver] write failed on \"{name}\": {}",
        crate::error::os_err(err)
    ))
}

/// Sets metadata through the descriptor, then renames into place.
// upstream: receiver.c:recv_files() -> finish_transfer(), rsync.c:set_file_attrs()
fn finish_file(
    ctx: &RecvCtx,
    (i, e): (usize, &protocol::flist::FileEntry),
    tmp: &crate::ctx::Output,
    dest: &RelPath,
    file: &File,
    name: &str,
) -> Result<()> {
    let opts = &ctx.opts;
    let mode = final_mode(ctx, e, dest);
    let owner = if ctx.am_root && (opts.owner || opts.group) {
        Some((
            opts.owner.then(|| ctx.uid(e)),
            opts.group.then(|| ctx.gid(e)),
        ))
    } else {
        None
    };
    // A new file that already has the owner asked for is not chowned.
    let owner = owner.filter(|&(u, g)| !made_owned(ctx, tmp, u, g));
    let mtime = opts.times.then_some((e.mtime(), e.mtime_nsec));
    // --fake-super: no chown, owner-accessible real bits; the rest goes
    // into the user.rsync.%stat xattr.
    let fake = opts.fake_super.then(|| {
        let uid = if opts.owner {
            ctx.uid(e)
        } else {
            rustix::process::geteuid().as_raw()
        };
        let gid = if opts.group {
            ctx.gid(e)
        } else {
            rustix::process::getegid().as_raw()
        };
        crate::fakesuper::wanted(e, mode, uid, gid)
    });
    let (mode, owner) = match &fake {
        Some(want) => (crate::fakesuper::real_mode(want, e.mode), None),
        None => (mode, owner),
    };
    if opts.xattrs > 0 {
        set_xattrs(ctx, i, Some(file));
    }
    if let Some(want) = &fake {
        if let Err(err) = crate::fakesuper::record_fd(file, want) {
            ctx.out.error_xfer(&format!("{} \"{name}\"", err.message));
        }
    }
    crate::acls::apply_fd(ctx, file, e, mode, name);
    if tmp.inplace {
        // Truncating an in-place file changes its mtime: truncate first.
        if let Err(err) = crate::partial::place(ctx, i, tmp, file) {
            ctx.out.error_xfer(&format!(
                "rsync: [receiver] truncate \"{name}\" failed: {}",
                err.message
            ));
        }
        if let Err(err) = confine::Root::set_fd_meta(file, Some(mode), owner, mtime) {
            ctx.out.error_xfer(&format!(
                "rsync: [receiver] failed to set attributes on \"{name}\": {}",
                crate::error::sys_err(&err)
            ));
        }
        set_atime(ctx, file, e, name);
        return Ok(());
    }
    if let Err(err) = confine::Root::set_fd_meta(file, Some(mode), owner, mtime) {
        ctx.out.error_xfer(&format!(
            "rsync: [receiver] failed to set attributes on \"{name}\": {}",
            crate::error::sys_err(&err)
        ));
    }
    set_atime(ctx, file, e, name);
    if let Err(err) = crate::partial::place(ctx, i, tmp, file) {
        crate::partial::discard(ctx, tmp);
        // A file whose old version could not be backed up is not put in
        // place, and the run ends (code 11), as upstream's
        // finish_transfer() (exit_cleanup(RERR_FILEIO)).
        if crate::backup::is_backup_failure(&err) {
            return Err(err);
        }
        ctx.out.error_xfer(&format!(
            "rsync: [receiver] rename \"{}\" -> \"{name}\" failed: {}",
            String::from_utf8_lossy(tmp.tmp.as_bytes()),
            err.message
        ));
    }
    Ok(())
}

/// Whether the temp file `tmp`, new, already has owner `uid` and group
/// `gid` (None: unchanged): ours, in a directory of our group, where
/// a new file gets our group whether or not the directory is setgid
/// (upstream set_file_attrs() compares with its stat instead).
fn made_owned(ctx: &RecvCtx, tmp: &crate::ctx::Output, uid: Option<u32>, gid: Option<u32>) -> bool {
    let Some(dir_gid) = tmp.dir_gid.filter(|_| !tmp.inplace) else {
        return false;
    };
    let (euid, egid) = *ctx.upd.creds.get_or_init(|| {
        (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        )
    });
    dir_gid == egid
        && uid.is_none_or(|u| u == euid || u == u32::MAX)
        && gid.is_none_or(|g| g == egid || g == u32::MAX)
}

/// -X: gives the received file `file` (or, without it, the destination
/// file or directory) the xattrs of entry `i`; long values the sender did
/// not send come from the destination file being replaced.
// upstream: rsync.c:set_file_attrs() -> xattrs.c:set_xattr()
fn set_xattrs(ctx: &RecvCtx, i: usize, file: Option<&File>) {
    let e = &*ctx.entries.at(i);
    if ctx.opts.dry_run || !crate::xattrs::carries(e) {
        return;
    }
    let pol = crate::xattrs::Policy::new(&ctx.opts, &ctx.filters, filter::Side::Receiver);
    let dest = ctx
        .root
        .xattr_fd(&ctx.path(i))
        .ok()
        .flatten()
        .map(File::from);
    let res = match (file, &dest) {
        (Some(f), basis) => ctx.xattrs.apply(f, basis.as_ref(), e, &pol, true),
        (None, Some(d)) => ctx.xattrs.apply(d, None, e, &pol, true),
        (None, None) => Ok(()),
    };
    if let Err(err) = res {
        ctx.out
            .error_xfer(&format!("{err} for \"{}\"", ctx.name(i)));
    }
}

/// `-U`: the received file gets the sender's atime.
// upstream: rsync.c:set_file_attrs() (ATTRS_SKIP_ATIME unless atimes)
fn set_atime(ctx: &RecvCtx, file: &File, e: &protocol::flist::FileEntry, name: &str) {
    if ctx.opts.atimes == 0 {
        return;
    }
    if let Err(err) = confine::Root::set_fd_atime(file, e.atime()) {
        ctx.out.error_xfer(&format!(
            "rsync: [receiver] failed to set times on \"{name}\": {}",
            crate::error::sys_err(&err)
        ));
    }
}

/// A read-ahead window over the basis file for matched blocks, and the
/// run of matched bytes in it not written yet.
struct BasisWindow {
    /// False for an in-place basis: each block is read fresh (the window
    /// holds just it) and never deferred.
    enabled: bool,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    start: u64,
    /// `buf[run]`: matched blocks hashed but not written yet, consecutive
    /// in the basis as in the output.
    run: std::ops::Range<usize>,
}

impl BasisWindow {
    /// Bytes read at once when a block is not in the window (upstream's
    /// MAX_MAP_SIZE; a read per 256 KiB costs no more than per MiB, and the
    /// window is resident for the whole transfer).
    const SIZE: usize = 256 << 10;

    fn new(enabled: bool) -> BasisWindow {
        BasisWindow {
            enabled,
            buf: Vec::new(),
            start: 0,
            run: 0..0,
        }
    }

    /// The basis bytes at `off`, `len` long: from the window, else read
    /// into it (from `off` on, as many whole blocks of `len` bytes as fit
    /// in [`SIZE`](Self::SIZE), at least one). Unless the block
    /// [`continues`](Self::continues) the run, the run must have been
    /// flushed first.
    fn read(&mut self, f: &File, off: u64, len: usize) -> std::io::Result<&[u8]> {
        let end = off + len as u64;
        let in_window =
            self.enabled && off >= self.start && end <= self.start + self.buf.len() as u64;
        if !in_window {
            debug_assert!(self.run.is_empty(), "unwritten run in a window moved");
            self.run = 0..0;
            // Whole blocks of this length: the next window of a run of
            // consecutive blocks starts where this one ends (nothing read
            // twice).
            let want = if self.enabled && len > 0 {
                (Self::SIZE / len).max(1) * len
            } else {
                len
            };
            self.buf.resize(want, 0);
            let mut got = 0;
            while got < want {
                match f.read_at(&mut self.buf[got..], off + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.buf.clear();
                        return Err(e);
                    }
                }
            }
            self.buf.truncate(got);
            self.start = off;
            if got < len {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "basis file is shorter than its sums",
                ));
            }
        }
        let at = (off - self.start) as usize;
        Ok(&self.buf[at..at + len])
    }

    /// True when the block at `off`, `len` long, is in the window right
    /// after the unwritten run.
    fn continues(&self, off: u64, len: usize) -> bool {
        !self.run.is_empty()
            && off == self.start + self.run.end as u64
            && off + len as u64 <= self.start + self.buf.len() as u64
    }

    /// Adds the block just [`read`](Self::read) at `off` to the run.
    fn defer(&mut self, off: u64, len: usize) {
        let at = (off - self.start) as usize;
        if self.run.is_empty() {
            self.run = at..at + len;
        } else {
            debug_assert_eq!(self.run.end, at);
            self.run.end = at + len;
        }
    }

    /// Writes the unwritten run.
    fn flush(&mut self, w: &mut crate::sparse::Sink) -> std::io::Result<()> {
        if self.run.is_empty() {
            return Ok(());
        }
        let run = std::mem::replace(&mut self.run, 0..0);
        confine::failpoint::check("write").and_then(|()| w.write_direct(&self.buf[run]))
    }
}
