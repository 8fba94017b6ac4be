//! A dry run's missing directories: what is below a directory that does
//! not exist (a new one, or a destination not yet created) is new, so the
//! generator does not look for it (upstream generator.c recv_generator()'s
//! dry_missing_dir and FLAG_MISSING_DIR). Kept as a fresh::NewBelow.
use super::Gen;

impl Gen<'_> {
    /// Dry run: directory entry `i` does not exist, so neither does
    /// anything below it.
    pub(super) fn note_dry_missing(&mut self, i: usize) {
        let name = self.ctx.path(i);
        let later = self.ctx.inc.is_some() && !self.dir_at_own_list(i);
        self.dry_missing.note(i, name.as_bytes(), later);
    }
}
