//! Incremental recursion handles a directory in two steps, as upstream
//! does: where its parent's list names it, the directory is only made if
//! it is missing (with -t, so that the parent's time can be set right
//! away); the rest (itemizing, attributes, counting, --delete-during)
//! waits for the start of the directory's own list, before its entries.
// upstream: generator.c recv_generator() (is_dir < 0, FLAG_DIR_CREATED)
// and generate_files() (the recv_generator() call for the list's parent)
use super::Gen;
use crate::error::Result;
use confine::FileType;
use std::collections::HashSet;

/// The directories between the two steps.
#[derive(Debug, Default)]
pub(super) struct Early {
    /// Met in their parent's list; handled in full when their own list
    /// starts (or, if none comes, at the end of the walk).
    waiting: HashSet<usize>,
    /// Made by this run at the first step: the second itemizes them as
    /// created.
    made: HashSet<usize>,
    /// The directory being handled in full at its own list's start, and
    /// the wire index it goes by there: its list's slot (none when it got
    /// no list: what it would report is not sent).
    own: Option<(usize, Option<usize>)>,
}

impl Gen<'_> {
    /// Whether directory entry `i` gets only the first step now: with
    /// incremental recursion, other than the destination root, and not
    /// at its own list's start.
    pub(super) fn dir_defers(&self, i: usize, redo: bool, name: &[u8]) -> bool {
        self.ctx.inc.is_some() && !redo && name != b"." && !self.dir_at_own_list(i)
    }

    /// Whether directory entry `i` is handled in full now, its contents
    /// to come next (so nothing of them is waited for).
    pub(super) fn dir_at_own_list(&self, i: usize) -> bool {
        self.early.own.is_some_and(|(d, _)| d == i)
    }

    /// The wire index entry `i` is reported by (none: not reported).
    pub(super) fn dir_wire_ndx(&self, i: usize) -> Option<usize> {
        match self.early.own {
            Some((d, slot)) if d == i => slot,
            _ => Some(i),
        }
    }

    /// The first step for directory entry `i`: made if missing, quietly
    /// (failures are reported by the second step).
    pub(super) fn dir_first_step(&mut self, i: usize) -> Result<()> {
        let ctx = self.ctx;
        self.early.waiting.insert(i);
        let dry = ctx.opts.dry_run;
        if !dry && (!ctx.opts.times || ctx.opts.omit_dir_times()) {
            return Ok(());
        }
        let e = &**self.entry(i);
        let p = &*self.path(i);
        if self.daemon_refuses(p.as_bytes(), true).is_some() {
            return Ok(());
        }
        let Ok(mut st) = self.stat(p) else {
            return Ok(());
        };
        if st.is_some_and(|s| s.file_type == FileType::Symlink) {
            if let Some((_, target)) = self.dirlink(p) {
                st = Some(target);
            }
        }
        match st {
            None if ctx.opts.ignore_non_existing => return Ok(()),
            Some(s) if s.file_type == FileType::Dir => return Ok(()),
            Some(_) if ctx.opts.ignore_existing => return Ok(()),
            _ => {}
        }
        if dry {
            // The missing state carries to the directory's own list.
            self.note_dry_missing(i);
            return Ok(());
        }
        self.forget_dir();
        if let Some(s) = st {
            if self.delete_item(p, &s, false).is_err() {
                return Ok(());
            }
        }
        if ctx.root.mkdir(p, (e.mode & 0o7777) | 0o700).is_ok() {
            self.early.made.insert(i);
            self.note_fresh(i);
        }
        Ok(())
    }

    /// Whether this run made directory entry `i` at the first step (asked
    /// once, by the second).
    pub(super) fn dir_made_early(&mut self, i: usize) -> bool {
        self.early.made.remove(&i)
    }

    /// The second step for directory `parent`, whose list starts after
    /// `slot`.
    pub(super) fn dir_second_step(&mut self, parent: usize, slot: Option<usize>) -> Result<()> {
        self.early.waiting.remove(&parent);
        self.early.own = Some((parent, slot));
        let r = self.recv_generator(parent, false);
        self.early.own = None;
        r
    }

    /// The walk is over: directories that got no list of their own (a
    /// stock sender sends one for each) get their second step now; their
    /// own lists being done, it is not reported to the sender.
    pub(super) fn dirs_without_lists(&mut self) -> Result<()> {
        let mut left: Vec<usize> = self.early.waiting.drain().collect();
        left.sort_unstable();
        for i in left {
            self.dir_second_step(i, None)?;
        }
        Ok(())
    }
}
