//! A dry run's missing directories: what is below a directory that does
//! not exist (a new one, or a destination not yet created) is new, so the
//! generator does not look for it (upstream generator.c recv_generator()'s
//! dry_missing_dir and FLAG_MISSING_DIR).
use super::Gen;

impl Gen<'_> {
    /// Whether `name` lies at or below the directory known missing.
    pub(super) fn dry_missing_covers(&self, name: &[u8]) -> bool {
        super::fresh::covers(self.dry_missing.as_deref(), name)
    }

    /// Dry run: directory entry `i` does not exist, so neither does
    /// anything below it.
    pub(super) fn note_dry_missing(&mut self, i: usize) {
        let name = self.path(i);
        if !self.dry_missing_covers(name.as_bytes()) {
            self.dry_missing = Some(name.as_bytes().to_vec());
        }
        if self.ctx.inc.is_some() {
            self.dry_missing_dirs.insert(i);
        }
    }

    /// Incremental recursion: the list of `parent`'s contents begins; they
    /// are missing if `parent` was (upstream looks at the directory again
    /// before its list).
    pub(super) fn enter_dir_dry(&mut self, parent: usize) {
        if !self.ctx.opts.dry_run || self.dry_missing.as_deref() == Some(&[][..]) {
            return;
        }
        self.dry_missing = self
            .dry_missing_dirs
            .contains(&parent)
            .then(|| self.ctx.path(parent).as_bytes().to_vec());
    }
}
