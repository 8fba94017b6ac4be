//! Deletion on the receiving side (`--delete` and its timings,
//! `--max-delete`, `--force`, backups of what is deleted, the deletion
//! counts): what the destination holds beyond the list goes (upstream
//! generator.c delete_in_dir(), do_delete_pass(); delete.c).
use super::*;

impl Gen<'_> {
    /// NDX_DEL_STATS with the deletion counts (when deleting or forcing).
    pub(super) fn del_stats(&mut self) {
        let ctx = self.ctx;
        if ctx.opts.delete == DeleteMode::Off && !ctx.opts.force {
            return;
        }
        let d = ctx.stats(|s| s.deleted);
        let del = DelStats {
            files: d[0] as i32,
            dirs: d[1] as i32,
            symlinks: d[2] as i32,
            devices: d[3] as i32,
            specials: d[4] as i32,
        };
        self.ndx(NDX_DEL_STATS);
        del.write(&mut self.buf);
    }

    /// `--delete-before` / `--delete-after`: deletes in every directory of
    /// the list that exists in the destination.
    // upstream: generator.c:do_delete_pass()
    pub(super) fn delete_pass(&mut self) -> Result<()> {
        self.forget_dir();
        let ctx = self.ctx;
        if ctx.dest_missing {
            return Ok(());
        }
        for (i, e) in ctx.entries.iter() {
            // upstream: only directories whose contents were sent.
            if !crate::treeshape::is_content_dir(&e) || crate::treeshape::is_inactive(&e) {
                continue;
            }
            let is_dir = ctx
                .root
                .stat(&ctx.path(i))
                .ok()
                .flatten()
                .is_some_and(|s| s.file_type == FileType::Dir);
            if is_dir {
                self.delete_in_dir(i)?;
            }
        }
        Ok(())
    }

    // upstream: generator.c:delete_in_dir()
    pub(super) fn delete_in_dir(&mut self, i: usize) -> Result<()> {
        self.forget_dir();
        let ctx = self.ctx;
        // The sender's I/O error as it stands now: with incremental
        // recursion a list read after the first can bring one (a
        // directory it could not read), and no deletion follows it
        // (upstream checks the global io_error at each directory).
        if self.ctx.out.io_error() & 1 != 0 && !self.ctx.opts.ignore_errors {
            if !self.warned_io_error {
                self.warned_io_error = true;
                // upstream: generator.c delete_in_dir(): rprintf(FINFO)
                ctx.out
                    .info("IO error encountered -- skipping file deletion");
            }
            return Ok(());
        }
        if self.on_other_fs(i) {
            return Ok(());
        }
        let dir = &ctx.path(i);
        let mut read = |p: &[u8]| read_dest_file(&ctx.root, p);
        if let Err(e) = self
            .fstack
            .enter(&mut self.rules, dir.as_bytes(), &mut read)
        {
            ctx.out.error(&e.message);
        }
        let mut names = match ctx.root.read_dir(dir) {
            Ok(n) => n,
            Err(err) => {
                ctx.out.error_xfer(&format!(
                    "rsync: [generator] opendir \"{}\" failed: {}",
                    ctx.full_name(i),
                    crate::error::sys_err(&err)
                ));
                return Ok(());
            }
        };
        // Last first in upstream's order (files before directories), as it
        // walks its sorted dirlist; it decides what --max-delete leaves out.
        self.sort_like_dirlist(dir, &mut names);
        for name in names.into_iter().rev() {
            let Ok(child) = dir.join(&name) else { continue };
            let full = child.as_bytes();
            if self.names.contains(full) {
                continue;
            }
            let Some(st) = ctx.root.stat(&child).ok().flatten() else {
                continue;
            };
            if self.is_mount_point(dir, &st) {
                continue;
            }
            // A daemon module's `ignore nonreadable`: what its uid may not
            // read is not in upstream's dirlist either (flist.c
            // make_file()), so it is not deleted.
            if ctx.opts.ignore_nonreadable
                && st.file_type != FileType::Symlink
                && !ctx.root.readable(&child)
            {
                continue;
            }
            if self.rules.is_protected(full, st.file_type == FileType::Dir)
                || self
                    .daemon_refuses(full, st.file_type == FileType::Dir)
                    .is_some()
            {
                continue;
            }
            if ctx.opts.delete == DeleteMode::Delay {
                self.delayed.push((child, st));
            } else if let Err(err) = self.delete_item(&child, &st, true) {
                ctx.out.error_xfer(&err.message);
            }
        }
        Ok(())
    }

    /// Deletes one item (a directory with its contents), logging each
    /// deletion when `log` is set.
    pub(super) fn delete_item(&self, p: &RelPath, st: &Stat, log: bool) -> Result<bool> {
        if st.file_type != FileType::Dir {
            return self.delete_file(p, st, log);
        }
        // The rules as they stand here, moved into each directory deleted
        // (its own per-directory merge files protect what it holds).
        let mut rules = self.rules.clone();
        self.delete_entry(&mut rules, p, st, log)
    }

    /// Returns whether the item is gone. A directory whose contents are
    /// protected by `rules` stays, with upstream's "cannot delete
    /// non-empty directory" note.
    // upstream: delete.c:delete_item(), delete_dir_contents()
    fn delete_entry(
        &self,
        rules: &mut filter::FilterList,
        p: &RelPath,
        st: &Stat,
        log: bool,
    ) -> Result<bool> {
        if st.file_type != FileType::Dir {
            return self.delete_file(p, st, log);
        }
        // Making room (no `log`) for a non-directory empties a directory only
        // with --delete or --force (upstream DEL_RECURSE).
        let recurse = log || self.ctx.opts.delete != DeleteMode::Off || self.ctx.opts.force;
        if !recurse {
            return self.delete_dir(rules, (p, st), false, log);
        }
        // upstream delete_dir_contents() -> get_dirlist(): the directory's
        // own merge files apply to what it holds.
        let mut read = |f: &[u8]| read_dest_file(&self.ctx.root, f);
        if let Err(e) = rules.enter_dir(p.as_bytes(), &mut read) {
            self.ctx.out.error(&crate::filters::rule_error(e).message);
            return self.delete_dir(rules, (p, st), true, log);
        }
        let res = self.delete_dir(rules, (p, st), true, log);
        rules.leave_dir();
        res
    }

    /// Deletes a non-directory (backed up with -b), logging it when `log`
    /// is set.
    fn delete_file(&self, p: &RelPath, st: &Stat, log: bool) -> Result<bool> {
        self.forget_dir();
        let ctx = self.ctx;
        let dry = ctx.opts.dry_run;
        let name = p.as_bytes();
        if self.at_delete_limit(log) {
            return Ok(false);
        } else if ctx.opts.backup && !self.is_backup_file(name) {
            // upstream: delete.c:delete_item() backs a deleted file up, and
            // one that makes room for a new item too; one that already is
            // a backup (NAME + suffix, no --backup-dir) is unlinked. The
            // client's `P *SUFFIX` rule keeps such files from being
            // candidates at all unless a rule of the user's risks them.
            if !dry && !crate::backup::make_backup(ctx, p, false) {
                return Ok(false);
            }
        } else if !dry {
            match ctx.root.unlink(p) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) => {
                    return Ok(true);
                }
                Err(e) => return Err(delete_failed("unlink", name, &e)),
            }
        }
        if log {
            ctx.out.deleted(name, false);
            ctx.stats(|s| s.deleted[kind_index(st.mode)] += 1);
        }
        Ok(true)
    }

    /// Deletes directory `p` (`name`) with what it holds (when `recurse`);
    /// what `rules` protect stays, and keeps it.
    fn delete_dir(
        &self,
        rules: &mut filter::FilterList,
        (p, st): (&RelPath, &Stat),
        recurse: bool,
        log: bool,
    ) -> Result<bool> {
        self.forget_dir();
        let ctx = self.ctx;
        let dry = ctx.opts.dry_run;
        let name = p.as_bytes();
        let mut names = ctx.root.read_dir(p).map_err(|e| {
            Error::file_io(format!(
                "rsync: [generator] opendir \"{}\" failed: {}",
                String::from_utf8_lossy(name),
                crate::error::sys_err(&e)
            ))
        })?;
        self.sort_like_dirlist(p, &mut names);
        let mut not_empty = !recurse && !names.is_empty();
        for n in names.iter().rev().filter(|_| recurse) {
            let Ok(child) = p.join(n) else { continue };
            if let Some(cst) = ctx.root.stat(&child).ok().flatten() {
                let is_dir = cst.file_type == FileType::Dir;
                // Perishable rules (-C's defaults, `p`) do not protect
                // inside a directory that is being deleted.
                let protected =
                    rules.check_side(child.as_bytes(), is_dir, filter::Side::Receiver, true)
                        == filter::Match::Exclude;
                if log && protected {
                    not_empty = true;
                    continue;
                }
                // A child that fails is reported and keeps this
                // directory; its siblings are still deleted.
                match self.delete_entry(rules, &child, &cst, true) {
                    Ok(true) => {}
                    Ok(false) => not_empty = true,
                    Err(err) => {
                        ctx.out.error_xfer(&err.message);
                        not_empty = true;
                    }
                }
            }
        }
        if not_empty {
            ctx.out.info(&format!(
                "cannot delete non-empty directory: {}",
                String::from_utf8_lossy(name)
            ));
            return Ok(false);
        }
        if self.at_delete_limit(log) {
            return Ok(false);
        }
        if !dry {
            match ctx.root.rmdir(p) {
                Ok(()) => {}
                // Not empty after all (a backup left in it, a name
                // made meanwhile): kept, as a note, not an error.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTEMPTY.raw_os_error()) => {
                    ctx.out.info(&format!(
                        "cannot delete non-empty directory: {}",
                        String::from_utf8_lossy(name)
                    ));
                    return Ok(false);
                }
                // Gone already: nothing to delete, nothing logged.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) => {
                    return Ok(true);
                }
                Err(e) => return Err(delete_failed("rmdir", name, &e)),
            }
        }
        if log {
            ctx.out.deleted(name, true);
            ctx.stats(|s| s.deleted[kind_index(st.mode)] += 1);
        }
        Ok(true)
    }

    /// Whether `name` is itself a backup (NAME + suffix, no --backup-dir).
    // upstream: backup.c:is_backup_file()
    fn is_backup_file(&self, name: &[u8]) -> bool {
        let suffix = self.ctx.opts.backup_suffix();
        self.ctx.opts.backup_dir.is_none()
            && !suffix.is_empty()
            && name.len() > suffix.len()
            && name.ends_with(suffix.as_bytes())
    }

    /// Sorts the names in `dir` as upstream sorts a directory listing:
    /// non-directories first, then directories, each by name.
    fn sort_like_dirlist(&self, dir: &RelPath, names: &mut [Vec<u8>]) {
        let root = &self.ctx.root;
        names.sort_by_cached_key(|n| {
            let is_dir = dir.join(n).ok().is_some_and(|c| {
                root.stat(&c)
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.file_type == FileType::Dir)
            });
            (is_dir, n.clone())
        });
    }

    /// `--max-delete` reached: counts the deletion as skipped.
    fn at_delete_limit(&self, log: bool) -> bool {
        let Some(max) = self.ctx.opts.max_delete.filter(|_| log) else {
            return false;
        };
        let done: u64 = self.ctx.stats(|s| s.deleted.iter().sum());
        if done < u64::from(max) {
            return false;
        }
        self.skipped_deletes.set(self.skipped_deletes.get() + 1);
        true
    }
}

/// A deletion that failed, in upstream's words (`rsyserr(FERROR_XFER,
/// errno, "delete_file: %s(%s) failed", what, fbuf)`).
// upstream: delete.c:delete_item()
fn delete_failed(what: &str, name: &[u8], e: &confine::Error) -> Error {
    Error::file_io(format!(
        "rsync: [generator] delete_file: {what}({}) failed: {}",
        String::from_utf8_lossy(name),
        crate::error::sys_err(e)
    ))
}

/// The destination's file at `p` (a per-directory merge file), read
/// beneath the destination's root.
fn read_dest_file(root: &confine::Root, p: &[u8]) -> Option<Vec<u8>> {
    let rel = RelPath::new(p.strip_prefix(b"/").unwrap_or(p)).ok()?;
    let mut f = root.open_read(&rel).ok()?;
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut v).ok()?;
    Some(v)
}
