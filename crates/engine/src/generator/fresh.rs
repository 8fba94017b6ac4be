//! Directories known to hold nothing yet, so that what the list names
//! below them is not looked for in the destination:
//! - in a dry run, the missing ones (dry_missing.rs);
//! - in a real run, the ones this run made: nothing was below one when it
//!   was made, and nothing but this generator's own requests puts anything
//!   there, so on the first pass their files are not looked for (one
//!   failed lookup less per new file). A file the second pass redoes is
//!   always looked at.
use super::Gen;
use std::collections::HashSet;

/// One such set of directories.
#[derive(Default)]
pub(super) struct NewBelow {
    /// The one whose contents are being generated (empty: the whole
    /// destination).
    dir: Option<Vec<u8>>,
    /// With incremental recursion: those (by entry index) whose contents
    /// have not come yet.
    later: HashSet<usize>,
}

impl NewBelow {
    /// The whole destination.
    pub(super) fn everything() -> NewBelow {
        NewBelow {
            dir: Some(Vec::new()),
            later: HashSet::new(),
        }
    }

    /// Whether `name` lies at or below the directory.
    pub(super) fn covers(&self, name: &[u8]) -> bool {
        self.dir.as_deref().is_some_and(|dir| {
            dir.is_empty()
                || name == dir
                || (name.starts_with(dir) && name.get(dir.len()) == Some(&b'/'))
        })
    }

    /// Directory entry `i`, named `name`, holds nothing; its contents come
    /// later with incremental recursion (`inc`), else next.
    pub(super) fn note(&mut self, i: usize, name: &[u8], inc: bool) {
        if !self.covers(name) {
            self.dir = Some(name.to_vec());
        }
        if inc {
            self.later.insert(i);
        }
    }

    /// Incremental recursion: the list of directory `parent`'s contents
    /// begins (`name` gives its name).
    pub(super) fn enter(&mut self, parent: usize, name: impl FnOnce() -> Vec<u8>) {
        if self.dir.as_deref() != Some(&[][..]) {
            self.dir = self.later.remove(&parent).then(name);
        }
    }
}

impl Gen<'_> {
    /// Directory entry `i` was just made.
    pub(super) fn note_fresh(&mut self, i: usize) {
        let name = self.ctx.path(i);
        let later = self.ctx.inc.is_some() && !self.dir_at_own_list(i);
        self.fresh.note(i, name.as_bytes(), later);
    }

    /// Incremental recursion: the list of `parent`'s contents begins; they
    /// are missing if `parent` was (upstream looks at the directory again
    /// before its list), and new if this run made it.
    pub(super) fn enter_dir(&mut self, parent: usize) {
        let ctx = self.ctx;
        let name = || ctx.path(parent).as_bytes().to_vec();
        if ctx.opts.dry_run {
            self.dry_missing.enter(parent, name);
        } else {
            self.fresh.enter(parent, name);
        }
    }
}
