//! Incremental recursion on the receiving side (upstream's inc_recurse,
//! compat flag CF_INC_RECURSE): the sender sends the top-level list, then
//! one sub-list per directory (an `NDX_FLIST_OFFSET - dir_ndx` marker, the
//! entries, an end marker) between the file records, and
//! `NDX_FLIST_EOF` after the last. The receiver thread reads each sub-list
//! where it finds it, validates its parent and appends it to the shared
//! store; the generator walks the segments in order and sends `NDX_DONE`
//! for each one it has finished, which the sender echoes.
//!
//! Wire indexes: the top list starts at 1, each later list at the previous
//! list's start + its length + 1; the slot before a sub-list stands for
//! its directory (upstream flist_new()). Slot 0 and those gaps are stored
//! as inactive placeholders, so the store's index is the wire ndx.
// upstream: flist.c recv_file_list(), flist_new(), flist_free();
// rsync.c read_ndx_and_attrs(); generator.c generate_files(),
// check_for_finished_files(); receiver.c recv_files(); compat.c
// set_allow_inc_recurse()
use crate::ctx::{DirSlot, GenEvent, RecvCtx, Seg, SegState, Segments};
use crate::error::{Error, Result};
use crate::flist::{FileList, ListReader};
use protocol::exit;
use protocol::flist::FileEntry;
use protocol::ndx::NDX_FLIST_OFFSET;
use std::io::Read;
use std::sync::mpsc::Sender;

/// Whether a batch recorded with incremental recursion can be replayed
/// with these options (the reading side's own; the batch's stream flags
/// already applied): as [`crate::options::receiver_allows`], the batch
/// itself aside.
// upstream: compat.c setup_protocol() ("Incompatible options specified for
// inc-recursive batch file.")
pub fn replay_allows(opts: &crate::options::Options) -> bool {
    let mut o = opts.clone();
    o.batch = None;
    crate::options::receiver_allows(&o)
}

/// See [`Segments::dir_slot_entry`]; none without incremental recursion.
pub fn dir_slot_entry(ctx: &RecvCtx, ndx: usize) -> Option<usize> {
    ctx.inc.as_ref().and_then(|s| s.dir_slot_entry(ndx))
}

/// An inactive stand-in for a wire index that names no entry of its own.
fn placeholder() -> FileEntry {
    FileEntry {
        name: b".".into(),
        mode: protocol::flist::S_IFDIR | 0o755,
        ..FileEntry::default()
    }
    .with_xflags(crate::treeshape::FLAG_INACTIVE)
}

/// Stores a received list as segment `parent`'s contents (or the top
/// list), with its placeholder slot first.
// upstream: flist.c recv_file_list() (the dir_flist bookkeeping)
pub(crate) fn store_list(
    ctx: &RecvCtx,
    segs: &Segments,
    mut list: FileList,
    parent: Option<usize>,
) -> Seg {
    let slot = match parent {
        Some(p) => {
            let mut e = ctx.entries.at(p).clone();
            e.add_xflags(crate::treeshape::FLAG_INACTIVE);
            e
        }
        None => placeholder(),
    };
    let start = ctx.entries.len() + 1;
    let len = list.entries.len();
    let (counts, size) = (list.kind_counts(), list.total_size());
    // Directories join dir_flist in sorted order, cleared duplicates
    // included (upstream appends every S_ISDIR entry, then sorts).
    let dirs: Vec<DirSlot> = (list.entries.iter().enumerate())
        .filter(|(_, e)| e.is_dir())
        .map(|(k, _)| DirSlot {
            ndx: start + k,
            got: false,
        })
        .collect();
    // The slot and the list are one part of the store (freed together).
    list.entries.insert(0, slot);
    ctx.entries.push_all(list.entries);
    let seg = Seg { start, len, parent };
    segs.with(|s| {
        s.segs.push(seg);
        s.released.push(0);
        s.dirs.extend(dirs);
        s.live += 1;
    });
    let total = ctx.stats(|s| {
        for (k, c) in counts.iter().enumerate() {
            s.num_files[k] += c;
        }
        s.total_size += size;
        s.total_size
    });
    ctx.out.set_total_size(total);
    seg
}

/// The receiver thread's side: reads the sub-lists where the sender puts
/// them.
pub struct IncReader {
    lists: ListReader,
    /// Per-entry changes the receiving side makes to every list
    /// (--chmod, sanitized symlinks).
    fixup: Box<dyn Fn(&mut FileList) + Send>,
    /// Ids are mapped by name (not --numeric-ids).
    map_ids: bool,
    named: usize,
}

impl IncReader {
    /// The reader that read the top list, continuing.
    pub fn new(
        lists: ListReader,
        fixup: Box<dyn Fn(&mut FileList) + Send>,
        map_ids: bool,
    ) -> IncReader {
        let named = lists.named_ids();
        IncReader {
            lists,
            fixup,
            map_ids,
            named,
        }
    }

    /// NDX_FLIST_EOF: no more lists.
    pub fn flist_eof(&mut self, ctx: &RecvCtx, events: &Sender<GenEvent>) -> Result<()> {
        let segs = inc(ctx)?;
        if segs.with(|s| std::mem::replace(&mut s.eof, true)) {
            return Err(Error::protocol(
                "rsync: refusing a second end of the file lists [receiver]",
            ));
        }
        ctx.out.set_flist_incomplete(false);
        let _ = events.send(GenEvent::FlistEof);
        Ok(())
    }

    /// An `NDX_FLIST_OFFSET - dir_ndx` marker (`ndx`): validates the
    /// directory it names and reads its list.
    // upstream: rsync.c read_ndx_and_attrs(), flist.c recv_file_list()
    pub fn sub_list<R: Read>(
        &mut self,
        ctx: &RecvCtx,
        r: &mut R,
        ndx: i32,
        events: &Sender<GenEvent>,
    ) -> Result<()> {
        let segs = inc(ctx)?;
        let dir_ndx = i64::from(NDX_FLIST_OFFSET) - i64::from(ndx);
        let parent = segs.with(|s| claim_dir(s, dir_ndx, ctx))?;
        let start = ctx.entries.len() + 1;
        self.lists
            .credit(segs.with(|s| std::mem::take(&mut s.credit)));
        self.lists.start_segment(start);
        let (mut list, io_error) = self.lists.read_list(r, &ctx.opts, &ctx.session)?;
        if !ctx.opts.ignore_errors {
            ctx.out.add_io_error(io_error & 7);
        }
        check_dirnames(
            &list,
            &ctx.entries.at(parent).name,
            ctx.opts.tree.relative(),
        )?;
        (self.fixup)(&mut list);
        // -X: the lists this one brought, visible before its entries are.
        let pol = crate::xattrs::Policy::new(&ctx.opts, &ctx.filters, filter::Side::Receiver);
        ctx.xattrs.extend(self.lists.take_xattrs(), &pol);
        self.lists.take_acl_names();
        if self.map_ids && self.lists.named_ids() != self.named {
            self.named = self.lists.named_ids();
            let map = self.lists.id_map(&ctx.opts);
            *ctx.ids.write().unwrap_or_else(|p| p.into_inner()) = map;
        }
        store_list(ctx, segs, list, Some(parent));
        let _ = events.send(GenEvent::Segment);
        Ok(())
    }
}

fn inc(ctx: &RecvCtx) -> Result<&Segments> {
    ctx.inc
        .as_ref()
        .ok_or_else(|| Error::protocol("file-list marker without incremental recursion"))
}

/// The directory `dir_ndx` may get its list now: the lists are not all
/// finished, it exists, is active and has none yet. Returns its wire
/// index.
fn claim_dir(s: &mut SegState, dir_ndx: i64, ctx: &RecvCtx) -> Result<usize> {
    if s.live == 0 {
        return Err(Error::protocol(
            "rsync: refusing sub-flist after final flist was freed",
        ));
    }
    if s.eof {
        return Err(Error::protocol(
            "rsync: refusing sub-flist after the end of the file lists",
        ));
    }
    let used = s.dirs.len();
    let Some(slot) = usize::try_from(dir_ndx)
        .ok()
        .and_then(|d| s.dirs.get_mut(d))
    else {
        return Err(Error::protocol(format!(
            "Invalid dir index: {} ({NDX_FLIST_OFFSET} - {}) [receiver]",
            i64::from(NDX_FLIST_OFFSET) - dir_ndx,
            i64::from(NDX_FLIST_OFFSET) - used as i64 + 1
        )));
    };
    if crate::treeshape::is_inactive(&ctx.entries.at(slot.ndx)) {
        return Err(Error::protocol(format!(
            "rsync: refusing flist for cleared dir_ndx {dir_ndx}"
        )));
    }
    if slot.got {
        return Err(Error::protocol(format!(
            "rsync: refusing malicious duplicate flist for dir {dir_ndx}"
        )));
    }
    slot.got = true;
    Ok(slot.ndx)
}

/// Every entry of a sub-list lies directly in its directory.
// upstream: flist.c recv_file_list() ("ABORTING due to invalid path from
// sender")
fn check_dirnames(list: &FileList, dir: &[u8], relative: bool) -> Result<()> {
    let strip = |n: &'_ [u8]| -> Vec<u8> {
        let n = if relative {
            n.strip_prefix(b"/").unwrap_or(n)
        } else {
            n
        };
        n.to_vec()
    };
    let want = strip(dir);
    for e in &list.entries {
        let (d, base) = match e.name.iter().rposition(|&b| b == b'/') {
            Some(cut) => (strip(&e.name[..cut]), &e.name[cut + 1..]),
            None => (Vec::new(), e.name.as_slice()),
        };
        let want_here: &[u8] = if want == b"." { b"" } else { &want };
        if d != want_here {
            return Err(Error::new(
                exit::RERR_UNSUPPORTED,
                format!(
                    "ABORTING due to invalid path from sender: {}/{}",
                    String::from_utf8_lossy(&d),
                    String::from_utf8_lossy(base)
                ),
            ));
        }
    }
    Ok(())
}

/// The sender's NDX_DONE in the first phase: the first live list is
/// finished. True when lists remain (the phase goes on).
// upstream: receiver.c recv_files() (flist_free(first_flist))
pub fn list_done(ctx: &RecvCtx) -> bool {
    let Some(segs) = &ctx.inc else {
        return false;
    };
    let done = segs.with(|s| {
        if s.live == 0 {
            return None;
        }
        s.live -= 1;
        s.recv_done += 1;
        Some((s.recv_done - 1, s.live > 0))
    });
    let Some((k, more)) = done else {
        return false;
    };
    release(ctx, k);
    more
}

/// One receiving role (the generator having sent list `k`'s NDX_DONE, or
/// the receiver having seen the sender's) is done with list `k`; when both
/// are, the list is freed.
// upstream: flist.c flist_free() (each process frees its own copy)
pub(crate) fn release(ctx: &RecvCtx, k: usize) {
    let Some(segs) = &ctx.inc else {
        return;
    };
    let seg = segs.with(|s| {
        let n = s.released.get_mut(k)?;
        *n += 1;
        (*n == 2).then(|| s.segs[k])
    });
    if let Some(seg) = seg {
        free_list(ctx, segs, seg);
    }
}

/// Frees a finished list's entries (and its slot) but for what
/// outlives it: directories (upstream keeps them in dir_flist, for the
/// lists still to come, deletion and the directory times set at the end)
/// and, with -H, hard-link group members (a later list's member links to
/// an earlier one). What is freed is credited back to --max-alloc.
fn free_list(ctx: &RecvCtx, segs: &Segments, seg: Seg) {
    let links = ctx.opts.hard_links;
    let mut kept = Vec::new();
    let mut credit = 0;
    for (i, e) in (seg.start..seg.start + seg.len).filter_map(|i| Some((i, ctx.entries.get(i)?))) {
        if e.is_dir() || links && e.hlink.is_some() {
            kept.push(i);
        } else {
            credit += crate::flist::received_entry_cost(&e);
        }
    }
    // The list's part starts with its slot (see store_list()).
    let keep = |i: usize| kept.binary_search(&i).is_ok();
    ctx.entries.free(seg.start - 1, |i, _| keep(i));
    segs.with(|s| s.credit += credit);
}

/// For progress lines: the index of entry `ndx` among the files received
/// so far, and their number (placeholder slots not counted).
// upstream: progress.c set_current_file_index() (ndx - flist_num)
pub fn file_index(ctx: &RecvCtx, ndx: usize) -> (usize, usize) {
    match &ctx.inc {
        Some(segs) => {
            let lists = segs.count();
            let before = segs.seg_of(ndx).map_or(lists, |k| k + 1);
            (
                ndx.saturating_sub(before),
                ctx.entries.len().saturating_sub(lists),
            )
        }
        None => (ndx, ctx.entries.len()),
    }
}
