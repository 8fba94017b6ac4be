//! The generator under incremental recursion: walks each segment of the
//! list as it arrives, deletes in a directory when its contents arrive,
//! and sends `NDX_DONE` for each segment it has finished: walked, moved
//! past, and with no file of it still being received.
// upstream: generator.c generate_files(), check_for_finished_files()
use super::{receiver_gone, Gen, FLUSH_AT};
use crate::ctx::GenEvent;
use crate::ctx::Segments;
use crate::error::Result;
use crate::options::DeleteMode;
use confine::FileType;
use protocol::ndx::NDX_DONE;
use std::collections::HashSet;
use std::ops::Range;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The generator's bookkeeping of the segments.
#[derive(Debug, Default)]
pub(super) struct Walk {
    /// Segments walked.
    walked: usize,
    /// -H: segments whose members joined their groups.
    linked: usize,
    /// Segments whose NDX_DONE went out.
    done: usize,
    /// NDX_FLIST_EOF has arrived (or the receiver ended the phase).
    eof: bool,
    /// -H: members parked until their group's leader is in place; each
    /// keeps its segment unfinished.
    held: HashSet<usize>,
}

/// -H: entries received ahead of the walk before it goes on, so that a
/// hard-link group's later members are known (upstream
/// MIN_FILECNT_LOOKAHEAD / 2).
const HLINK_LOOKAHEAD: usize = 500;

impl Gen<'_> {
    /// Names (and directory names) of entries `range`, for deletion and
    /// the parent check.
    pub(super) fn add_names(&mut self, range: Range<usize>) {
        let ctx = self.ctx;
        // Only a deletion looks names up (a table of every name is the
        // size of the list's entries again).
        let deletes = ctx.opts.delete != DeleteMode::Off;
        for i in range.clone() {
            let e = &*ctx.entries.at(i);
            // A pruned or duplicate directory still names its entries'
            // directory.
            if e.is_dir() || e.mode == 0 {
                self.dir_names.insert(e.name.to_vec());
            }
            if deletes && !crate::treeshape::is_inactive(e) {
                self.names.insert(e.name.to_vec());
            }
        }
        if ctx.inc.is_none() {
            self.links.add(&ctx.entries, range, false);
        }
    }

    /// -H: every segment stored so far joins the hard-link groups (later
    /// members decide which one leads).
    fn add_links(&mut self, segs: &Segments) {
        if !self.ctx.opts.hard_links {
            return;
        }
        while let Some(seg) = segs.seg(self.inc.linked) {
            self.links
                .add(&self.ctx.entries, seg.start..seg.start + seg.len, true);
            self.inc.linked += 1;
        }
    }

    /// A transfer of entry `i` was requested.
    pub(super) fn inc_requested(&mut self, i: usize) {
        let Some(k) = self.ctx.inc.as_ref().and_then(|s| s.seg_of(i)) else {
            return;
        };
        let mut counts = lock(&self.ctx.upd.in_progress);
        if counts.len() <= k {
            counts.resize(k + 1, 0);
        }
        counts[k] += 1;
    }

    /// -H: member `i` waits in its group; its segment is not finished
    /// until it is dealt with.
    pub(super) fn inc_hold(&mut self, i: usize) {
        if self.ctx.inc.is_some() && self.inc.held.insert(i) {
            self.inc_requested(i);
        }
    }

    /// -H: member `i` no longer waits.
    pub(super) fn inc_release(&mut self, i: usize) {
        if self.inc.held.remove(&i) {
            if let Some(segs) = &self.ctx.inc {
                self.finished(segs, i);
            }
        }
    }

    /// Walks the segments to the last one, then waits until each is
    /// finished.
    pub(super) fn walk_segments(
        &mut self,
        segs: &Segments,
        events: &Receiver<GenEvent>,
    ) -> Result<()> {
        loop {
            while segs.count() <= self.inc.walked && !self.inc.eof {
                self.flush(true)?;
                let ev = events.recv().map_err(|_| receiver_gone())?;
                self.inc_event(segs, ev)?;
            }
            let Some(seg) = segs.seg(self.inc.walked) else {
                break;
            };
            // upstream generate_files(): with -H, wait for more of the
            // list first.
            while self.ctx.opts.hard_links
                && !self.inc.eof
                && self.ctx.entries.len() < seg.start + HLINK_LOOKAHEAD
            {
                self.flush(true)?;
                let ev = events.recv().map_err(|_| receiver_gone())?;
                self.inc_event(segs, ev)?;
            }
            let range = seg.start..seg.start + seg.len;
            self.add_names(range.clone());
            self.add_links(segs);
            if let Some(parent) = seg.parent {
                self.enter_dir(parent);
                self.dir_second_step(parent, Some(seg.start - 1))?;
                self.contents_arrived(parent)?;
            }
            for i in range {
                self.recv_generator(i, false)?;
                if self.buf.len() >= FLUSH_AT {
                    self.flush(false)?;
                }
                self.poll_events(segs, events)?;
            }
            self.inc.walked += 1;
            self.finish_segments(segs)?;
        }
        self.dirs_without_lists()?;
        while self.inc.done < segs.count() {
            self.flush(true)?;
            let ev = events.recv().map_err(|_| receiver_gone())?;
            self.inc_event(segs, ev)?;
        }
        Ok(())
    }

    /// Handles what the receiver reported meanwhile, without waiting.
    fn poll_events(&mut self, segs: &Segments, events: &Receiver<GenEvent>) -> Result<()> {
        loop {
            match events.try_recv() {
                Ok(ev) => self.inc_event(segs, ev)?,
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => return Err(receiver_gone()),
            }
        }
    }

    fn inc_event(&mut self, segs: &Segments, ev: GenEvent) -> Result<()> {
        match ev {
            GenEvent::Segment => {}
            // The receiver ends the phase only when every list is done; a
            // sender that says so early gets no more requests.
            GenEvent::FlistEof | GenEvent::Done => self.inc.eof = true,
            GenEvent::Placed(ndx) => self.hard_link_done(ndx)?,
            // The receiver counted it (see `Updates::in_progress`).
            GenEvent::Finished(ndx) => {
                if self.ctx.opts.hard_links {
                    self.hard_link_failed(ndx)?;
                }
            }
            GenEvent::Redo(ndx) => {
                self.finished(segs, ndx);
                // upstream: check_for_finished_files() redoes it with
                // full-length checksums before its list is done.
                self.recv_generator(ndx, true)?;
            }
        }
        self.finish_segments(segs)
    }

    fn finished(&mut self, segs: &Segments, ndx: usize) {
        if let Some(k) = segs.seg_of(ndx) {
            if let Some(n) = lock(&self.ctx.upd.in_progress).get_mut(k) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Sends NDX_DONE for each finished segment, in order: walked, not
    /// the one the walk is still on (its successor has arrived or no more
    /// will), and nothing of it in progress.
    fn finish_segments(&mut self, segs: &Segments) -> Result<()> {
        while self.inc.done < self.inc.walked {
            let w = &mut self.inc;
            let current = w.done + 1 == w.walked && segs.count() <= w.walked && !w.eof;
            let busy = || {
                lock(&self.ctx.upd.in_progress)
                    .get(w.done)
                    .copied()
                    .unwrap_or(0)
                    > 0
            };
            if current || busy() {
                break;
            }
            w.done += 1;
            let k = w.done - 1;
            self.ndx_w.write(&mut self.buf, NDX_DONE);
            self.forget_names(segs, k);
            crate::increc::release(self.ctx, k);
        }
        Ok(())
    }

    /// Segment `k` is done: its names leave the deletion's table.
    fn forget_names(&mut self, segs: &Segments, k: usize) {
        let Some(seg) = segs.seg(k).filter(|_| !self.names.is_empty()) else {
            return;
        };
        for i in seg.start..seg.start + seg.len {
            if let Some(e) = self.ctx.entries.get(i) {
                self.names.remove(&e.name[..]);
            }
        }
    }

    /// The contents of directory `parent` arrived: --delete-during
    /// deletes what the directory holds beyond them (upstream: at the
    /// start of the directory's list).
    fn contents_arrived(&mut self, parent: usize) -> Result<()> {
        let ctx = self.ctx;
        let e = &*ctx.entries.at(parent);
        if !matches!(ctx.opts.delete, DeleteMode::During | DeleteMode::Delay)
            || !crate::treeshape::is_content_dir(e)
            || ctx.opts.dry_run && self.stat(&ctx.path(parent))?.is_none()
        {
            return Ok(());
        }
        let is_dir = ctx
            .root
            .stat(&ctx.path(parent))
            .ok()
            .flatten()
            .is_some_and(|s| s.file_type == FileType::Dir);
        if is_dir {
            self.delete_in_dir(parent)?;
        }
        Ok(())
    }
}
