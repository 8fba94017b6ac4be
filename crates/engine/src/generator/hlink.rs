//! `-H` on the receiving side: the members of a hard-link group after the
//! first one that got done become hard links to it (upstream hlink.c
//! match_hard_links, hard_link_check, finish_hard_link).
//!
//! Without incremental recursion the whole list is known, so a group is
//! simply the entries (in sorted order) that name the same first wire
//! index. The first member the generator reaches is processed like any
//! file; when it is done (up to date, linked from a --link-dest dir,
//! created, or received by the receiver) every later member is linked to
//! it. A member reached while the first one is still being transferred
//! waits until the receiver reports it finished. A member that was skipped
//! (--existing, --max-size, ...) or failed does not lead: the next one
//! becomes the group's first, as upstream's "virtual first".
use super::Gen;
use crate::error::Result;
use crate::itemize::*;
use crate::options::AltDest;
use crate::store::Store;
use confine::Stat;
use protocol::flist::FileEntry;
use std::collections::HashMap;
use std::ops::Range;

/// What the generator did with the leading member of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    /// It is in place at its destination.
    Done,
    /// Its data was requested from the sender.
    Sending,
    /// A missing regular file that is not its group's last member: it
    /// waits for a later member to be done (upstream F_HLINK_NOT_LAST).
    Deferred,
}

#[derive(Debug, Default)]
struct Group {
    /// The member the others link to, once it is in place.
    done: Option<usize>,
    /// The member being transferred.
    sending: Option<usize>,
    /// Members waiting for `sending`, or deferred until a later member is
    /// done.
    waiting: Vec<usize>,
    /// The member that does not defer (upstream FLAG_HLINK_LAST).
    last: usize,
}

/// The hard-link groups of a received list.
#[derive(Debug, Default)]
pub(super) struct Links {
    /// Group of each entry that shares its inode with another entry.
    group_of: HashMap<usize, usize>,
    groups: Vec<Group>,
    /// Set by the generator while it processes a group's leading member.
    pub(super) mark: Option<Mark>,
    /// Group of each first index (incremental recursion: across lists).
    by_gnum: HashMap<u32, usize>,
}

/// How a group member is handled when the generator reaches it.
enum Role {
    /// Not in a group, or the group's (possibly new) first: process it.
    Lead,
    /// Link it to this member.
    LinkTo(usize),
    /// Wait for the member being transferred.
    Wait,
}

impl Links {
    /// Adds the entries `range` of the list: groups of two or more
    /// non-directories naming the same first index (groups of one are
    /// plain files, as upstream's match_gnums leaves them). With
    /// incremental recursion (`inc`) a group may grow with later lists, so
    /// every member joins its group, and its last member so far is the
    /// one the others wait for.
    pub(super) fn add(&mut self, entries: &Store<FileEntry>, range: Range<usize>, inc: bool) {
        let mut by_first: HashMap<u32, Vec<usize>> = HashMap::new();
        for i in range {
            let e = &*entries.at(i);
            if crate::treeshape::is_inactive(e) && inc {
                continue;
            }
            if let Some(first) = e.hlink.get().filter(|_| !e.is_dir()) {
                by_first.entry(first).or_default().push(i);
            }
        }
        for (first, members) in by_first {
            if !inc && members.len() < 2 {
                continue;
            }
            let g = match self.by_gnum.get(&first) {
                Some(&g) if inc => g,
                _ => {
                    self.groups.push(Group::default());
                    self.by_gnum.insert(first, self.groups.len() - 1);
                    self.groups.len() - 1
                }
            };
            // upstream match_gnums(): the group's last member known so far
            // leads; with a later list the lead moves on.
            self.groups[g].last = members[members.len() - 1];
            for i in members {
                self.group_of.insert(i, g);
            }
        }
    }

    fn role(&self, i: usize, redo: bool) -> Role {
        let Some(&g) = self.group_of.get(&i) else {
            return Role::Lead;
        };
        let group = &self.groups[g];
        match (group.done, group.sending) {
            (Some(l), _) if l != i => Role::LinkTo(l),
            (None, Some(s)) if s != i && !redo => Role::Wait,
            _ => Role::Lead,
        }
    }
}

impl Gen<'_> {
    /// Runs `process` (the generator's work on entry `i`) and records what
    /// it did with a group's leading member.
    pub(super) fn with_hard_links(
        &mut self,
        i: usize,
        process: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        self.links.mark = None;
        let r = process(self);
        let Some(&g) = self.links.group_of.get(&i) else {
            return r;
        };
        match self.links.mark.take() {
            Some(Mark::Done) => self.hard_link_done(i)?,
            Some(Mark::Sending) => self.links.groups[g].sending = Some(i),
            Some(Mark::Deferred) => self.links.groups[g].waiting.push(i),
            None => {
                // The last member was skipped: the deferred one before it
                // takes its place (upstream skip_hard_link()).
                let group = &mut self.links.groups[g];
                if group.last == i && group.done.is_none() && group.sending.is_none() {
                    if let Some(w) = group.waiting.pop() {
                        group.last = w;
                        r?;
                        self.inc_release(w);
                        return self.recv_generator(w, false);
                    }
                }
            }
        }
        r
    }

    /// A missing regular file in a group that a later member can still
    /// lead: true when it was deferred.
    pub(super) fn hl_defer(&mut self, i: usize) -> bool {
        let Some(&g) = self.links.group_of.get(&i) else {
            return false;
        };
        if self.links.groups[g].last == i {
            return false;
        }
        self.links.mark = Some(Mark::Deferred);
        self.inc_hold(i);
        true
    }

    /// Upstream hard_link_check(): true when entry `i` was dealt with here
    /// (linked to its group's leader, or parked until the leader arrives).
    pub(super) fn hard_link_check(&mut self, i: usize, redo: bool) -> Result<bool> {
        match self.links.role(i, redo) {
            Role::Lead => Ok(false),
            Role::LinkTo(l) => self.link_follower(i, l).map(|()| true),
            Role::Wait => {
                let g = self.links.group_of[&i];
                self.links.groups[g].waiting.push(i);
                self.inc_hold(i);
                Ok(true)
            }
        }
    }

    /// Records what happened to the entry being generated (only a group's
    /// leading member gets this far).
    pub(super) fn hl_mark(&mut self, m: Mark) {
        self.links.mark = Some(m);
    }

    /// Entry `i` (a group's leading member) is in place: the members that
    /// wait for it become links to it (upstream finish_hard_link).
    pub(super) fn hard_link_done(&mut self, i: usize) -> Result<()> {
        let Some(&g) = self.links.group_of.get(&i) else {
            return Ok(());
        };
        let group = &mut self.links.groups[g];
        if group.done.is_some() {
            return Ok(());
        }
        group.done = Some(i);
        group.sending = None;
        for w in std::mem::take(&mut group.waiting) {
            self.link_follower(w, i)?;
        }
        Ok(())
    }

    /// Incremental recursion: the receiver is done with `i` without it
    /// being placed (it failed, or the sender could not send it): when it
    /// led a group, the next waiting member leads instead (upstream
    /// handle_skipped_hlink()).
    pub(super) fn hard_link_failed(&mut self, i: usize) -> Result<()> {
        let Some(&g) = self.links.group_of.get(&i) else {
            return Ok(());
        };
        let group = &mut self.links.groups[g];
        if group.done.is_some() || group.sending != Some(i) {
            return Ok(());
        }
        group.sending = None;
        if group.waiting.is_empty() {
            return Ok(());
        }
        let w = group.waiting.remove(0);
        self.inc_release(w);
        self.recv_generator(w, false)
    }

    /// Makes entry `i` a hard link to entry `lead`, which is in place, and
    /// itemizes it as `hf... NAME => LEAD` (upstream maybe_hard_link).
    fn link_follower(&mut self, i: usize, lead: usize) -> Result<()> {
        self.inc_release(i);
        let ctx = self.ctx;
        let e = &*ctx.entries.at(i);
        let p = &ctx.path(i);
        let lp = &ctx.path(lead);
        // Only this call makes a follower: in a directory this run made,
        // it is not there yet.
        let st = if self.fresh.covers(p.as_bytes()) {
            None
        } else {
            self.stat(p)?
        };
        let lead_st = self.stat(lp)?;
        let same = |a: &Stat, b: &Stat| a.dev == b.dev && a.ino == b.ino;
        if let (Some(s), Some(l)) = (&st, &lead_st) {
            if same(s, l) {
                self.itemize_link(i, e, Some(s), b"");
                self.report_uptodate(i);
                self.success(i);
                return Ok(());
            }
        }
        // A missing member whose counterpart in a --link-dest directory is
        // already this inode is no change worth reporting; one whose
        // counterpart in a --compare-dest/--copy-dest directory is up to date
        // is itemized against it (upstream hard_link_check's alt-dest pass).
        let mut shown = st;
        let mut quiet = false;
        let link_dest = ctx.opts.alt_dest == Some(AltDest::Link);
        // The leader, or in a dry run (which made none) with --link-dest its
        // counterpart in each basis dir.
        let stands_for_lead = lead_st.is_some() || ctx.opts.dry_run && link_dest;
        if st.is_none() && stands_for_lead {
            for place in &ctx.dirs.basis {
                let root = place.root(&ctx.root);
                let there = |q: &confine::RelPath| -> Option<(confine::RelPath, Stat)> {
                    let bp = place.dir_path(q).ok()?;
                    let bs = root.stat(&bp).ok().flatten()?;
                    Some((bp, bs))
                };
                let Some((bp, bs)) = there(p) else { continue };
                if link_dest {
                    let l = lead_st.or_else(|| there(lp).map(|(_, ls)| ls));
                    if l.is_some_and(|l| same(&bs, &l)) {
                        quiet = true;
                        shown = Some(bs);
                        break;
                    }
                    continue;
                }
                if !e.is_file() || !self.basis_quick_ok(root, &bp, e, &bs) {
                    continue;
                }
                shown = Some(bs);
                let perms_ok = !ctx.opts.perms || bs.mode & 0o7777 == e.mode & 0o7777;
                let times_ok = !ctx.opts.times || bs.mtime == e.mtime();
                if perms_ok && times_ok {
                    break;
                }
            }
        }
        if !ctx.opts.dry_run {
            // upstream atomic_create(DEL_FOR_FILE): the file replaced is
            // backed up with -b.
            let mut old = st;
            if ctx.opts.backup && st.is_some_and(|s| s.file_type != confine::FileType::Dir) {
                if !crate::backup::make_backup(ctx, p, false) {
                    return Ok(());
                }
                old = None;
            }
            if let Err(err) = self.replace_with(p, old.as_ref(), |root, tmp| root.link(lp, tmp)) {
                if self.said_in_the_way(i, &err) {
                    return Ok(());
                }
                ctx.out.error_xfer(&format!(
                    "rsync: [generator] link \"{}\" => {} failed: {}",
                    ctx.name(i),
                    ctx.name(lead),
                    crate::error::sys_err(&err)
                ));
                return Ok(());
            }
        }
        self.success(i);
        if st.is_none() {
            ctx.count_created(crate::stats::kind_index(e.mode));
        }
        // upstream hard_link_check(): such a member is itemized only when
        // the output format itemizes it (-ii, or -i with -vv); -vv alone
        // calls it up to date.
        if quiet && (self.has_i == 0 || (ctx.opts.ctl.info.name < 2 && self.has_i < 2)) {
            self.report_uptodate(i);
            return Ok(());
        }
        let lead_name = ctx.entries.at(lead).name.clone();
        self.itemize_link(i, e, shown.as_ref(), &lead_name);
        Ok(())
    }

    /// upstream quick_check_ok() on a file in a basis directory.
    pub(super) fn basis_quick_ok(
        &self,
        root: &confine::Root,
        p: &confine::RelPath,
        e: &FileEntry,
        st: &Stat,
    ) -> bool {
        let ctx = self.ctx;
        if st.file_type != confine::FileType::File || st.size != e.size().max(0) as u64 {
            return false;
        }
        if ctx.opts.checksum {
            let Ok(mut f) = root.open_read(p) else {
                return false;
            };
            return e.checksum().is_some_and(|want| {
                crate::flist::checksum_reader(&mut f, &ctx.session)
                    .ok()
                    .as_deref()
                    == Some(want)
            });
        }
        ctx.opts.size_only
            || (!ctx.opts.ignore_times
                && ctx
                    .opts
                    .same_time(st.mtime, st.mtime_nsec, e.mtime(), e.mtime_nsec))
    }

    /// The item record of a hard-linked member: always sent when it names
    /// its leader, as upstream's itemize() does for a non-empty xname.
    fn itemize_link(&mut self, i: usize, e: &FileEntry, st: Option<&Stat>, xname: &[u8]) {
        let report_all = self.report_all;
        if !xname.is_empty() {
            self.report_all = true;
        }
        let flags = self.itemize_x(
            Some(i),
            e,
            st,
            ITEM_LOCAL_CHANGE | ITEM_XNAME_FOLLOWS,
            Some(xname),
        );
        let wrote = flags & SIGNIFICANT_ITEM_FLAGS & 0xffff != 0 || self.report_all;
        self.report_all = report_all;
        if wrote {
            protocol::varint::write_vstring(&mut self.buf, xname);
        }
        self.xattr_flush();
    }
}
