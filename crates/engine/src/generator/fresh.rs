//! Directories this run made: nothing was below one when it was made,
//! and nothing but this generator's own requests puts anything there, so
//! on the first pass the generator does not look for the files it lists
//! (one failed lookup less per new file). A dry run skips the lookups
//! below missing directories the same way (dry_missing.rs); a file the
//! second pass redoes is always looked at.
use super::Gen;

/// Whether `name` lies at or below `dir` (empty: the whole destination).
pub(super) fn covers(dir: Option<&[u8]>, name: &[u8]) -> bool {
    dir.is_some_and(|dir| {
        dir.is_empty()
            || name == dir
            || (name.starts_with(dir) && name.get(dir.len()) == Some(&b'/'))
    })
}

impl Gen<'_> {
    /// Whether the file `name` is below a directory this run made.
    pub(super) fn fresh_covers(&self, name: &[u8]) -> bool {
        covers(self.fresh.as_deref(), name)
    }

    /// Directory entry `i` was just made.
    pub(super) fn note_fresh(&mut self, i: usize) {
        let name = self.path(i);
        if !self.fresh_covers(name.as_bytes()) {
            self.fresh = Some(name.as_bytes().to_vec());
        }
        if self.ctx.inc.is_some() {
            self.fresh_dirs.insert(i);
        }
    }

    /// Incremental recursion: the list of `parent`'s contents begins;
    /// they are new if this run made `parent`.
    pub(super) fn enter_dir_fresh(&mut self, parent: usize) {
        if self.fresh.as_deref() == Some(&[][..]) {
            return;
        }
        self.fresh = self
            .fresh_dirs
            .remove(&parent)
            .then(|| self.ctx.path(parent).as_bytes().to_vec());
    }
}
