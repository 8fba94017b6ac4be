//! The generator: walks the received file list on the receiving side,
//! creates directories and symlinks, deletes extraneous files, decides what
//! to fetch and sends block checksums of the basis files to the sender
//! (upstream generator.c).
use crate::ctx::{GenEvent, RecvCtx};
use crate::error::{Error, Result};
use crate::itemize::*;
use crate::options::DeleteMode;
use crate::out::{lock, SharedWriter};
use crate::stats::kind_index;
use confine::{FileType, RelPath, Stat};
use delta::{sum_sizes, Signature};
use protocol::flist::{FileEntry, S_IFMT};
use protocol::ndx::{NdxWriter, NDX_DEL_STATS, NDX_DONE};
use protocol::stats::DelStats;
use protocol::sum_head::SumHead;
use protocol::varint::write_i32;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::mpsc::Receiver;

mod current;
mod delete;
mod dry_missing;
mod early_dir;
mod fresh;
mod fuzzy;
mod hlink;
mod increc;
mod tree;

use crate::basis::FNAMECMP_FUZZY;

/// Bytes buffered before the generator hands them to the shared writer.
const FLUSH_AT: usize = 64 * 1024;

/// In memory only: the item matched a basis dir's (upstream ITEM_MATCHED).
const ITEM_MATCHED: u32 = 1 << 18;

/// The itemized differences that fixing an item's attributes changes
/// (upstream set_file_attrs()'s `updated`).
const ATTRS_FIXED: u32 = ITEM_REPORT_TIME
    | ITEM_REPORT_PERMS
    | ITEM_REPORT_OWNER
    | ITEM_REPORT_GROUP
    | ITEM_REPORT_ACL
    | ITEM_REPORT_XATTR
    | ITEM_REPORT_ATIME
    | ITEM_REPORT_CRTIME;

/// The basis chosen for a regular file the sender is asked for.
struct Pick {
    /// Where the basis is (a basis dir's index, partial dir, fuzzy match).
    basis_type: Option<u8>,
    basis_st: Option<Stat>,
    /// A fuzzy match's name.
    xname: Vec<u8>,
    /// What the itemized changes compare with.
    shown_st: Option<Stat>,
}

/// What the basis dirs offer for a missing non-regular item.
enum NonDest {
    /// Handled (linked, or the same in a --compare-dest dir): nothing to do.
    Done,
    /// Create it without reporting it (an identical item in a basis dir).
    Quiet,
    /// Create it, reporting the changes against this basis-dir item.
    Basis(Stat),
    /// No basis dir has it.
    Nothing,
}

struct Gen<'a> {
    ctx: &'a RecvCtx,
    w: &'a SharedWriter,
    ndx_w: NdxWriter,
    buf: Vec<u8>,
    /// With a deletion: the names of the lists being walked (with
    /// incremental recursion, each goes with its list's NDX_DONE).
    names: HashSet<Vec<u8>>,
    /// Names of the directories in the list (and of --delete-missing-args
    /// entries): every entry's own directory must be one.
    dir_names: HashSet<Vec<u8>>,
    /// Dry run: the directories that do not exist, so what is below them
    /// is new and is not looked at.
    dry_missing: fresh::NewBelow,
    /// The directories this run made, whose files are not looked for.
    fresh: fresh::NewBelow,
    /// A directory whose mkdir failed: what is below it is skipped
    /// (upstream's skip_dir).
    skip_dir: Option<Vec<u8>>,
    /// Directories created without -p whose own mode lacks u+rwx: they were
    /// made with it, and get their final mode in touch_up_dirs.
    retouch_perms: HashSet<usize>,
    /// Existing directories lacking u+rwx that an ordinary user made
    /// writable for the transfer: the mode each gets back in touch_up_dirs.
    tweaked_dirs: HashMap<usize, u32>,
    warned_io_error: bool,
    report_all: bool,
    /// How this side's output format itemizes (upstream
    /// stdout_format_has_i).
    has_i: u8,
    /// The receiver-side rules, with per-directory merge files of the
    /// destination loaded as the walk goes.
    rules: filter::FilterList,
    fstack: crate::filters::DirStack,
    /// `--delete-delay`: what the walk found to delete, deleted at the end.
    delayed: Vec<(RelPath, Stat)>,
    /// Deletions refused by `--max-delete` (upstream skipped_deletes).
    skipped_deletes: std::cell::Cell<u32>,
    /// -H: the hard-link groups.
    links: hlink::Links,
    /// -x: the filesystems of the top directories (deletion stays on them).
    fs_devs: tree::FsDevs,
    /// --fuzzy: the listings of the directory being worked on.
    fuzzy: fuzzy::Listings,
    /// -X: the entry being generated, and a request for long xattr
    /// values waiting for the basis type or xname to be written.
    xattr_cur: usize,
    xattr_pending: Option<Vec<u32>>,
    /// -X: the basis dir holding the entry being generated, when one does.
    xattr_basis: Option<usize>,
    /// Incremental recursion: the generator's view of the segments.
    inc: increc::Walk,
    /// Incremental recursion: directories between their two steps.
    early: early_dir::Early,
    /// The destination directory of the entries being generated, kept open
    /// between their stats; cleared whenever a directory is handled or
    /// anything is deleted or replaced (see [`Gen::forget_dir`]).
    parent: std::cell::RefCell<confine::ParentCache>,
    /// The entry and path last looked up (each entry is looked at by
    /// several steps; the store's lookup is not free).
    cur: current::Current,
}

/// Runs the generator to the end of the transfer.
// upstream: generator.c:generate_files(), main.c:do_recv() (goodbye)
pub fn generate(ctx: &RecvCtx, w: &SharedWriter, events: Receiver<GenEvent>) -> Result<()> {
    let report_all = ctx.opts.itemize > 1
        || ctx.opts.ctl.info.name > 1
        || ctx
            .opts
            .log_format
            .as_deref()
            .is_some_and(|f| f.contains("%i%I"));
    let mut g = Gen {
        ctx,
        w,
        ndx_w: NdxWriter::default(),
        buf: Vec::with_capacity(FLUSH_AT * 2),
        names: HashSet::new(),
        dir_names: HashSet::new(),
        dry_missing: fresh::NewBelow::default(),
        fresh: fresh::NewBelow::default(),
        skip_dir: None,
        retouch_perms: HashSet::new(),
        tweaked_dirs: HashMap::new(),
        warned_io_error: false,
        report_all,
        has_i: ctx.opts.stdout_has_i(),
        rules: ctx.filters.clone(),
        fstack: crate::filters::DirStack::default(),
        delayed: Vec::new(),
        skipped_deletes: std::cell::Cell::new(0),
        links: hlink::Links::default(),
        fs_devs: Default::default(),
        fuzzy: Default::default(),
        xattr_cur: 0,
        xattr_pending: None,
        xattr_basis: None,
        inc: increc::Walk::default(),
        early: early_dir::Early::default(),
        parent: Default::default(),
        cur: Default::default(),
    };
    if ctx.inc.is_none() {
        g.add_names(0..ctx.entries.len());
    }
    if ctx.dest_missing {
        g.dry_missing = fresh::NewBelow::everything();
    }
    if ctx.dest_created && !ctx.opts.dry_run {
        g.fresh = fresh::NewBelow::everything();
    }
    // upstream: --list-only prints the list and neither deletes nor
    // touches anything.
    let listing = ctx.opts.ctl.list_only > 0;
    let mode = if listing {
        DeleteMode::Off
    } else {
        ctx.opts.delete
    };
    if mode == DeleteMode::Before {
        g.delete_pass()?;
    }
    if let Some(segs) = &ctx.inc {
        g.walk_segments(segs, &events)?;
    }
    for i in (0..ctx.entries.len()).filter(|_| ctx.inc.is_none()) {
        if listing {
            let e = &*ctx.entries.at(i);
            let line = crate::listing::line(e, ctx.opts.links, ctx.opts.ctl.human_readable);
            ctx.out.info(&line);
            continue;
        }
        g.recv_generator(i, false)?;
        if g.buf.len() >= FLUSH_AT {
            g.flush(false)?;
        }
    }
    let proto = ctx.session.protocol;
    if let Some(wants) = &ctx.batch_wants {
        wants.done();
    }
    // With incremental recursion each segment had its own DONE.
    if ctx.inc.is_none() {
        g.ndx(NDX_DONE);
    }
    g.flush(true)?;
    // Phase 1: redo requests until the receiver saw the sender's first DONE.
    loop {
        match events.recv() {
            Ok(GenEvent::Finished(_) | GenEvent::Segment | GenEvent::FlistEof) => {}
            Ok(GenEvent::Redo(ndx)) => {
                g.recv_generator(ndx, true)?;
                g.flush(true)?;
            }
            Ok(GenEvent::Placed(ndx)) => {
                g.hard_link_done(ndx)?;
                g.flush(true)?;
            }
            Ok(GenEvent::Done) => break,
            Err(_) => return Err(receiver_gone()),
        }
    }
    g.ndx(NDX_DONE);
    // upstream: the receiver's phase-2 MSG_DONE (after it placed the redone
    // and --delay-updates files, whose hard links are made and itemized
    // here) comes before the generator's next DONE.
    g.flush(true)?;
    g.wait_done(&events, 1, true)?;
    g.ndx(NDX_DONE);
    // With a late deletion pass the deletion stats and the last DONE wait
    // until after it (upstream EARLY_DELETE_DONE_MSG).
    let late = matches!(mode, DeleteMode::After | DeleteMode::Delay);
    if proto >= 31 && !late {
        g.del_stats();
        g.ndx(NDX_DONE);
    }
    g.flush(true)?;
    let waits = if proto >= 31 && !late { 2 } else { 1 };
    g.wait_done(&events, waits, false)?;
    if mode == DeleteMode::Delay {
        for (p, st) in std::mem::take(&mut g.delayed) {
            if let Err(err) = g.delete_item(&p, &st, true) {
                ctx.out.error_xfer(&err.message);
            }
        }
    } else if mode == DeleteMode::After {
        g.delete_pass()?;
    }
    let skipped = g.skipped_deletes.get();
    if ctx.opts.max_delete.is_some() && skipped > 0 {
        ctx.out.warning(&format!(
            "Deletions stopped due to --max-delete limit ({skipped} skipped)"
        ));
        ctx.out.add_io_error(4);
    }
    if proto >= 31 && late {
        g.del_stats();
        g.ndx(NDX_DONE);
        g.flush(true)?;
        g.wait_done(&events, 1, false)?;
    }
    if !listing {
        g.touch_up_dirs();
    }
    crate::summary::report_heap(&ctx.out, &ctx.opts, "generator", ctx.am_server);
    g.ndx(NDX_DONE);
    g.flush(true)?;
    Ok(())
}

impl Gen<'_> {
    /// Waits for `n` MSG_DONEs from the receiver. Hard links reported in
    /// place are made; they are itemized only while `linking` (the sender
    /// may have left its loop afterwards).
    fn wait_done(&mut self, events: &Receiver<GenEvent>, n: usize, linking: bool) -> Result<()> {
        let ctx = self.ctx;
        for _ in 0..n {
            loop {
                match events.recv() {
                    Ok(GenEvent::Done) => break,
                    Ok(GenEvent::Placed(ndx)) => {
                        let keep = self.buf.len();
                        self.hard_link_done(ndx)?;
                        if linking {
                            self.flush(true)?;
                        } else {
                            self.buf.truncate(keep);
                        }
                    }
                    Ok(GenEvent::Redo(ndx)) => {
                        ctx.out.error_xfer(&format!(
                            "ERROR: {} failed verification -- update {}.",
                            ctx.name(ndx),
                            crate::receiver::kept(&ctx.opts)
                        ));
                    }
                    Ok(GenEvent::Finished(_) | GenEvent::Segment | GenEvent::FlistEof) => {}
                    Err(_) => return Err(receiver_gone()),
                }
            }
        }
        Ok(())
    }
}

/// The destination's mtime needs setting: any difference (nanoseconds
/// included) by default, outside the window with `--modify-window`.
fn mtime_differs(opts: &crate::options::Options, st: &Stat, e: &FileEntry) -> bool {
    match opts.modify_window {
        None => st.mtime != e.mtime() || st.mtime_nsec != e.mtime_nsec,
        Some(_) => !opts.same_time(st.mtime, st.mtime_nsec, e.mtime(), e.mtime_nsec),
    }
}

#[track_caller]
fn receiver_gone() -> Error {
    Error::new(protocol::exit::RERR_STREAMIO, "receiver stopped early")
}

/// The kind of a new item in upstream's "could not make way for new
/// KIND: NAME".
// upstream: delete.c:delete_item() (check_ret), get_del_for_flag()
fn kind_for_room(mode: u32) -> &'static str {
    match mode & S_IFMT {
        protocol::flist::S_IFDIR => "directory",
        protocol::flist::S_IFREG => "regular file",
        protocol::flist::S_IFLNK => "symlink",
        protocol::flist::S_IFCHR | protocol::flist::S_IFBLK => "device file",
        _ => "special file",
    }
}

/// Why [`Gen::replace_with`] could not put a new item in place; the text
/// follows upstream's "failed: ".
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplaceError {
    /// Already said (by `--backup`'s make_backup): nothing more to report.
    #[error("")]
    Reported,
    /// Deleting the directory in the way failed.
    #[error("{0}")]
    Delete(Error),
    /// The directory in the way could not be deleted (not empty).
    #[error("could not make way for it")]
    InTheWay,
    /// Creating or renaming the item failed.
    #[error("{0}")]
    Confined(#[from] confine::Error),
    /// Every temporary name tried was taken.
    #[error("could not find a free temporary name")]
    NoTempName,
}

impl crate::error::SysErr for ReplaceError {
    fn sys_text(&self) -> String {
        match self {
            // The errno alone: the message names the item and the call.
            ReplaceError::Confined(e) => crate::error::confine_err(e),
            ReplaceError::Delete(e) => crate::error::sys_err(e),
            other => other.to_string(),
        }
    }
}

impl Gen<'_> {
    /// Capacity of the output buffer kept between flushes.
    const BUF_KEEP: usize = 64 << 10;

    fn ndx(&mut self, ndx: i32) {
        let ndx = self.ctx.wire_ndx(ndx);
        self.ndx_w.write(&mut self.buf, ndx);
    }

    fn flush(&mut self, to_peer: bool) -> Result<()> {
        let mut guard = lock(self.w)?;
        crate::partial::send_held_success(self.ctx, &mut guard);
        guard.write_all(&self.buf)?;
        if to_peer {
            guard.flush()?;
        }
        self.buf.clear();
        // A file's block sums can make it large: don't keep that.
        self.buf.shrink_to(Self::BUF_KEEP);
        Ok(())
    }

    fn stat(&self, p: &RelPath) -> Result<Option<Stat>> {
        if self.dry_missing.covers(p.as_bytes()) {
            return Ok(None);
        }
        if self.ctx.opts.fake_super {
            return crate::fakesuper::stat(&self.ctx.root, p);
        }
        let mut parent = self.parent.borrow_mut();
        self.ctx.root.stat_cached(&mut parent, p).map_err(|e| {
            Error::file_io(format!(
                "rsync: [generator] stat {:?} failed: {}",
                String::from_utf8_lossy(p.as_bytes()),
                crate::error::sys_err(&e)
            ))
        })
    }

    /// Closes the directory [`Gen::stat`] keeps open: the next stat
    /// resolves its parent from the destination root again. Called before
    /// anything that may replace or move a directory (a directory entry,
    /// a deletion, an item replaced under a temporary name).
    fn forget_dir(&self) {
        self.parent.borrow_mut().clear();
        // The receiver's directory too (it checks before each use).
        self.ctx
            .upd
            .dir_epoch
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The target of the symlink at `p`; under `--fake-super` the text of
    /// the plain file that stands for it (a real symlink reads as empty,
    /// so that it is replaced by such a file).
    // upstream: syscall.c do_readlink()
    fn read_link(&self, p: &RelPath) -> Option<Vec<u8>> {
        let ctx = self.ctx;
        if ctx.opts.fake_super {
            return crate::fakesuper::read_link_file(&ctx.root, p);
        }
        ctx.root.readlink(p).ok()
    }

    /// `--fake-super`: records what a super-user would have applied to
    /// `p` in its `user.rsync.%stat` xattr.
    fn fake_record(&self, p: &RelPath, e: &FileEntry) {
        self.fake_record_keeping(p, e, None);
    }

    /// As [`Gen::fake_record`]; without -p, `kept` are the permission bits
    /// of the node it replaced (upstream dest_mode()).
    fn fake_record_keeping(&self, p: &RelPath, e: &FileEntry, kept: Option<u32>) {
        let ctx = self.ctx;
        if !ctx.opts.fake_super || ctx.opts.dry_run {
            return;
        }
        let real = ctx.root.stat(p).ok().flatten();
        let mode = if ctx.opts.perms {
            e.mode & 0o7777
        } else if let Some(kept) = kept {
            kept
        } else {
            real.map_or(e.mode & 0o777 & !crate::chmod::umask(), |s| s.mode & 0o7777)
        };
        let uid = if ctx.opts.owner {
            ctx.uid(e)
        } else {
            real.map_or(0, |s| s.uid)
        };
        let gid = if ctx.opts.group {
            ctx.gid(e)
        } else {
            real.map_or(0, |s| s.gid)
        };
        let want = crate::fakesuper::wanted(e, mode, uid, gid);
        if let Err(err) = crate::fakesuper::record(&ctx.root, p, &want) {
            ctx.out.error_xfer(&err.message);
        }
    }

    /// Upstream generator.c itemize(): the report bits for an item and, if
    /// worth it, the record to the sender.
    fn itemize(
        &mut self,
        ndx: Option<usize>,
        e: &FileEntry,
        st: Option<&Stat>,
        iflags: u32,
    ) -> u32 {
        self.itemize_x(ndx, e, st, iflags, None)
    }

    /// [`Gen::itemize`] of a record whose xname (after
    /// `ITEM_XNAME_FOLLOWS`) is `xname`: an empty one (a hard link already
    /// in place) reports no time change without -t.
    fn itemize_x(
        &mut self,
        ndx: Option<usize>,
        e: &FileEntry,
        st: Option<&Stat>,
        mut iflags: u32,
        xname: Option<&[u8]>,
    ) -> u32 {
        let ctx = self.ctx;
        let opts = &ctx.opts;
        if let Some(st) = st {
            let ft = e.mode & S_IFMT;
            // upstream: -b without --backup-dir implies --omit-dir-times.
            let keep_time = opts.times
                && !(e.is_dir() && opts.omit_dir_times())
                && !(e.is_symlink() && opts.omit_link_times);
            if e.is_file() && e.size() as u64 != st.size {
                iflags |= ITEM_REPORT_SIZE;
            }
            if keep_time {
                if !opts.same_time(st.mtime, st.mtime_nsec, e.mtime(), e.mtime_nsec) {
                    iflags |= ITEM_REPORT_TIME;
                }
            } else if iflags & (ITEM_TRANSFER | ITEM_LOCAL_CHANGE) != 0
                && iflags & ITEM_MATCHED == 0
                && (iflags & ITEM_XNAME_FOLLOWS == 0 || xname.is_none_or(|x| !x.is_empty()))
            {
                iflags |= ITEM_REPORT_TIME;
            }
            let (acl_differs, st_mode) = crate::acls::itemize(ctx, e, st);
            // upstream: without -p, -E compares only whether any x bit is set.
            let perms_differ = if opts.perms {
                ft != protocol::flist::S_IFLNK && (st_mode & 0o7777) != (e.mode & 0o7777)
            } else {
                opts.executability && e.is_file() && (st.mode & 0o111 == 0) != (e.mode & 0o111 == 0)
            };
            if perms_differ {
                iflags |= ITEM_REPORT_PERMS;
            }
            if acl_differs {
                iflags |= ITEM_REPORT_ACL;
            }
            if opts.owner && ctx.am_root && ctx.uid(e) != st.uid {
                iflags |= ITEM_REPORT_OWNER;
            }
            if opts.group && ctx.am_root && ctx.gid(e) != st.gid {
                iflags |= ITEM_REPORT_GROUP;
            }
            if opts.atimes > 0 && !e.is_dir() && !e.is_symlink() && st.atime != e.atime() {
                iflags |= ITEM_REPORT_ATIME;
            }
        } else {
            iflags |= ITEM_IS_NEW;
        }
        let wanted = self.xattr_check(ndx.unwrap_or(self.xattr_cur), e, st.is_some(), iflags);
        if wanted.is_some() {
            iflags |= ITEM_REPORT_XATTR;
        }
        iflags &= 0xffff;
        if iflags & SIGNIFICANT_ITEM_FLAGS & 0xffff != 0 || self.report_all {
            if let Some(n) = ndx {
                // A directory at its own list's start goes by its slot.
                let Some(n) = self.dir_wire_ndx(n) else {
                    return iflags;
                };
                self.ndx(n as i32);
            }
            self.buf.extend_from_slice(&(iflags as u16).to_le_bytes());
            if crate::xattrs::exchange_follows(&ctx.opts, &ctx.session, iflags) {
                let nums = ctx.xattrs.claim(e, wanted.unwrap_or_default());
                self.xattr_pending = Some(nums);
                if iflags & (ITEM_BASIS_TYPE_FOLLOWS | ITEM_XNAME_FOLLOWS) == 0 {
                    self.xattr_flush();
                }
            }
        }
        iflags
    }

    /// -X: whether the xattrs of entry `i` differ from the destination's
    /// (Some: the long values to ask for); a file or directory that is
    /// not being transferred gets what can be set here (upstream: the
    /// generator's set_file_attrs(), the receiver sets the rest).
    // upstream: generator.c:itemize() -> xattr_diff(), set_xattr()
    fn xattr_check(&self, i: usize, e: &FileEntry, exists: bool, iflags: u32) -> Option<Vec<u32>> {
        let ctx = self.ctx;
        if ctx.opts.xattrs == 0 || !crate::xattrs::carries(e) || e.xattr.is_none() {
            return None;
        }
        let pol = crate::xattrs::Policy::new(&ctx.opts, &ctx.filters, filter::Side::Receiver);
        let p = &ctx.path_of(i)?;
        let fd = if exists {
            ctx.root.xattr_fd(p).ok().flatten()
        } else {
            None
        };
        let local = match (&fd, self.xattr_basis_fd(p)) {
            (Some(fd), _) => ctx.xattrs.local_fd(fd, &pol),
            // Compared with the basis dir's (upstream: itemize(cmpbuf)).
            (None, Some(b)) if exists => ctx.xattrs.local_fd(&b, &pol),
            // Compared with a basis elsewhere (--compare-dest): nothing here
            // to give xattrs to.
            (None, _) if exists => return None,
            (None, _) => Vec::new(),
        };
        let (differ, wanted) = ctx.xattrs.diff(e, &local);
        if !differ {
            return None;
        }
        if let Some(fd) = fd.filter(|_| iflags & ITEM_TRANSFER == 0 && !ctx.opts.dry_run) {
            if let Err(err) = ctx.xattrs.apply(&fd, None, e, &pol, false) {
                ctx.out.error_xfer(&format!(
                    "rsync: [generator] set_xattr \"{}\": {}",
                    ctx.full_name(i),
                    crate::error::sys_err(&err)
                ));
            }
        }
        Some(wanted)
    }

    /// The basis dir's copy of `p` (a file or directory), when the entry
    /// was found in one.
    fn xattr_basis_fd(&self, p: &RelPath) -> Option<std::os::fd::OwnedFd> {
        let place = self.ctx.dirs.basis.get(self.xattr_basis?)?;
        let path = place.dir_path(p).ok()?;
        place.root(&self.ctx.root).xattr_fd(&path).ok().flatten()
    }

    /// -X: a directory made for an entry found in a basis dir gets the
    /// entry's xattrs, long values copied from the basis dir's when they
    /// match (upstream: gen_entry_copy_xattrs(), set_file_attrs()).
    fn xattr_new_dir(&self, i: usize) {
        let ctx = self.ctx;
        let e = &**self.entry(i);
        if ctx.opts.xattrs == 0 || e.xattr.is_none() {
            return;
        }
        let p = &*self.path(i);
        let Ok(Some(fd)) = ctx.root.xattr_fd(p) else {
            return;
        };
        let basis = self.xattr_basis_fd(p).map(std::fs::File::from);
        let pol = crate::xattrs::Policy::new(&ctx.opts, &ctx.filters, filter::Side::Receiver);
        if let Err(err) = ctx.xattrs.apply(&fd, basis.as_ref(), e, &pol, false) {
            ctx.out.error_xfer(&format!(
                "rsync: [generator] set_xattr \"{}\": {}",
                ctx.full_name(i),
                crate::error::sys_err(&err)
            ));
        }
    }

    /// Writes a pending xattr request (after the record's basis type or
    /// xname).
    fn xattr_flush(&mut self) {
        if let Some(nums) = self.xattr_pending.take() {
            protocol::xattr::encode_request(&mut self.buf, &nums);
        }
    }

    /// A daemon module's rules exclude `rel` (below the destination):
    /// Some(true) for the name itself, Some(false) for a directory above it.
    fn daemon_refuses(&self, rel: &[u8], is_dir: bool) -> Option<bool> {
        let (d, prefix) = self.ctx.daemon_filter.as_ref()?;
        let mut full = prefix.clone();
        if !full.is_empty() && !rel.is_empty() {
            full.push(b'/');
        }
        full.extend_from_slice(rel);
        d.excluded_below(&full, prefix.len(), is_dir)
    }

    fn recv_generator(&mut self, i: usize, redo: bool) -> Result<()> {
        if self.ctx.opts.hard_links {
            return self.with_hard_links(i, |g| g.recv_generator_one(i, redo));
        }
        self.recv_generator_one(i, redo)
    }

    // upstream: generator.c:recv_generator()
    fn recv_generator_one(&mut self, i: usize, redo: bool) -> Result<()> {
        self.xattr_cur = i;
        self.xattr_basis = None;
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let p = &*self.path(i);
        if let Some(skip) = &self.skip_dir {
            let name = p.as_bytes();
            if name.starts_with(skip) && name.get(skip.len()) == Some(&b'/') {
                return Ok(());
            }
            self.skip_dir = None;
        }
        if !redo {
            self.check_parent(i)?;
        }
        if self.tree_shape_done(i)? {
            return Ok(());
        }
        if e.is_dir() && self.dir_defers(i, redo, &e.name) {
            return self.dir_first_step(i);
        }
        if let Some(refused) = self.daemon_refuses(p.as_bytes(), e.is_dir()) {
            if refused {
                ctx.out.error_xfer(&format!(
                    "ERROR: daemon refused to receive {} \"{}\"",
                    if e.is_dir() { "directory" } else { "file" },
                    ctx.name(i)
                ));
            }
            return Ok(());
        }
        // upstream: an entry whose destination cannot be examined is
        // skipped ("recv_generator: failed to stat"), the run goes on.
        let fresh = !redo && !e.is_dir() && self.fresh.covers(p.as_bytes());
        let mut st = match if fresh { Ok(None) } else { self.stat(p) } {
            Ok(st) => st,
            Err(err) => {
                ctx.out.error_xfer(&err.message);
                return Ok(());
            }
        };
        if e.is_dir() && st.is_some_and(|s| s.file_type == FileType::Symlink) {
            if let Some((_, target)) = self.dirlink(p) {
                st = Some(target);
            }
        }
        if !redo && self.skip_by_existence(i, st.as_ref()) {
            return Ok(());
        }

        if e.is_dir() {
            return self.gen_dir(i, redo, st);
        }
        if ctx.opts.hard_links && self.hard_link_check(i, redo)? {
            return Ok(());
        }
        if e.is_symlink() {
            return self.gen_symlink(i, st);
        }
        if !e.is_file() {
            return self.gen_special(i, st);
        }
        self.gen_file(i, redo, st)
    }

    /// A directory: created, or its attributes fixed; --delete-during
    /// cleans it.
    fn gen_dir(&mut self, i: usize, redo: bool, mut st: Option<Stat>) -> Result<()> {
        self.forget_dir();
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let p = &*self.path(i);
        let dry = ctx.opts.dry_run;
        if let Some(s) = st {
            if s.file_type != FileType::Dir {
                if !dry {
                    self.delete_item(p, &s, false)?;
                }
                st = None;
            }
        }
        // Made at the first step with incremental recursion: it is new.
        let made = !dry && self.dir_made_early(i) && st.is_some();
        let exists = st.is_some() && !made;
        let first = i == usize::from(ctx.inc.is_some());
        let shown = if made || first && ctx.dest_created && e.name == b"." {
            None
        } else {
            st
        };
        let basis = match shown {
            None if !ctx.dirs.basis.is_empty() => self.try_dests_non(i)?,
            _ => NonDest::Nothing,
        };
        let in_basis = !matches!(basis, NonDest::Nothing);
        match basis {
            NonDest::Basis(bst) => {
                self.itemize(Some(i), e, Some(&bst), ITEM_LOCAL_CHANGE);
            }
            NonDest::Done | NonDest::Quiet => {}
            NonDest::Nothing => {
                self.itemize(
                    Some(i),
                    e,
                    shown.as_ref(),
                    if shown.is_some() {
                        0
                    } else {
                        ITEM_LOCAL_CHANGE
                    },
                );
            }
        }
        if !exists {
            // Made by this run (at the first step, or now).
            let mut new_dir = made;
            if dry {
                self.note_dry_missing(i);
            } else if !made {
                match ctx.root.mkdir(p, (e.mode & 0o7777) | 0o700) {
                    Ok(()) => {
                        new_dir = true;
                        self.note_fresh(i);
                    }
                    Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => {
                        ctx.out.error_xfer(&format!(
                            "rsync: [generator] recv_generator: mkdir \"{}\" failed: {}",
                            ctx.full_name(i),
                            crate::error::sys_err(&err)
                        ));
                        ctx.out
                            .error("*** Skipping any contents from this failed directory ***");
                        self.skip_dir = Some(p.as_bytes().to_vec());
                        return Ok(());
                    }
                    Err(_) => {}
                }
            }
            if new_dir && !ctx.opts.perms && e.mode & 0o700 != 0o700 {
                self.retouch_perms.insert(i);
            }
            if !dry {
                // A new directory gets its owner now, like upstream's
                // set_file_attrs() after the mkdir.
                self.set_owner(p, e, None);
                self.fake_record(p, e);
                crate::acls::apply(ctx, p, e, None, e.mode | 0o700);
                if in_basis {
                    self.xattr_new_dir(i);
                }
            }
            if !in_basis {
                ctx.count_created(1);
            }
        } else if !dry {
            self.fix_attrs(p, e, st.as_ref());
            self.make_dir_writable(i, st.as_ref());
        }
        // The destination root this run created counts as created
        // (upstream itemizes it `cd+++++++++ ./` too).
        if exists && shown.is_none() && !in_basis {
            ctx.count_created(1);
        }
        if matches!(ctx.opts.delete, DeleteMode::During | DeleteMode::Delay)
            && exists
            && !redo
            && crate::treeshape::is_content_dir(e)
            && (ctx.inc.is_none() || e.name == b".")
        {
            self.delete_in_dir(i)?;
        }
        Ok(())
    }

    /// A symlink: kept when it already points at the target, else
    /// (re)created.
    fn gen_symlink(&mut self, i: usize, st: Option<Stat>) -> Result<()> {
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let p = &*self.path(i);
        let dry = ctx.opts.dry_run;
        if !ctx.opts.links {
            // upstream: generator.c:recv_generator() (ftype != FT_REG)
            if ctx.opts.ctl.info.nonreg > 0 {
                ctx.out
                    .info(&format!("skipping non-regular file \"{}\"", ctx.name(i)));
            }
            return Ok(());
        }
        let target = e.link_target().map(<[u8]>::to_vec).unwrap_or_default();
        let Some((target, site)) = self.link_site(i, target) else {
            return Ok(());
        };
        if let Some(s) = st {
            if s.file_type == FileType::Symlink {
                let cur = self.read_link(p);
                if cur.as_deref() == Some(target.as_slice()) {
                    if !dry {
                        self.fix_attrs(p, e, Some(&s));
                    }
                    let fl = self.itemize(Some(i), e, Some(&s), 0);
                    self.report_kept(i, fl);
                    self.hl_mark(hlink::Mark::Done);
                    // upstream: an up-to-date symlink counts as sent
                    // for --remove-source-files.
                    self.success(i);
                    return Ok(());
                }
            }
        }
        let shown = st.filter(|s| s.file_type == FileType::Symlink);
        let basis = match st {
            None if !ctx.dirs.basis.is_empty() => self.try_dests_non(i)?,
            _ => NonDest::Nothing,
        };
        let (shown, quiet) = match basis {
            NonDest::Done => return Ok(()),
            NonDest::Quiet => (None, true),
            NonDest::Basis(bst) => (Some(bst), false),
            NonDest::Nothing => (shown, false),
        };
        if self.dry_room_blocked(i, st.as_ref())? {
            return Ok(());
        }
        if !dry {
            let fake = ctx.opts.fake_super;
            if let Err(err) = self.replace_with(p, st.as_ref(), |root, tmp| {
                if fake {
                    crate::fakesuper::create_link_file(root, tmp, &target)
                } else if let Some(dir) = &site {
                    // In the very directory the target was judged for.
                    dir.symlink(&target, &RelPath::new(tmp.split_last().1)?)
                } else {
                    root.symlink(&target, tmp)
                }
            }) {
                if self.said_in_the_way(i, &err) {
                    return Ok(());
                }
                ctx.out.error_xfer(&format!(
                    "rsync: [generator] symlink \"{}\" -> \"{}\" failed: {}",
                    ctx.full_name(i),
                    String::from_utf8_lossy(&target),
                    crate::error::sys_err(&err)
                ));
                return Ok(());
            }
            if ctx.opts.times && !ctx.opts.omit_link_times {
                let _ = ctx.root.set_mtime(p, e.mtime(), e.mtime_nsec);
            }
            self.set_atime(p, e, None);
            self.set_owner(p, e, None);
            self.fake_record(p, e);
        }
        self.made_item(i, shown.as_ref(), quiet, 2);
        Ok(())
    }

    /// After a symlink, device or special was made (or found in a basis
    /// directory): counted as sent, itemized unless `quiet`, and counted
    /// as created (stats kind `kind`) when nothing was there.
    fn made_item(&mut self, i: usize, shown: Option<&Stat>, quiet: bool, kind: usize) {
        let ctx = self.ctx;
        self.success(i);
        if quiet {
            return;
        }
        self.itemize(
            Some(i),
            &ctx.entries.at(i),
            shown,
            ITEM_LOCAL_CHANGE | ITEM_REPORT_CHANGE,
        );
        self.hl_mark(hlink::Mark::Done);
        if shown.is_none() {
            ctx.count_created(kind);
        }
    }

    /// A device, fifo or socket: kept when identical, else (re)created.
    fn gen_special(&mut self, i: usize, st: Option<Stat>) -> Result<()> {
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let p = &*self.path(i);
        let dry = ctx.opts.dry_run;
        let ft = e.mode & S_IFMT;
        let is_device = ft == protocol::flist::S_IFCHR || ft == protocol::flist::S_IFBLK;
        // --drop-D refuses the creation and leaves the list's -D
        // framing alone (upstream generator.c, drop_devices).
        let wanted = !ctx.opts.drop_devices
            && if is_device {
                ctx.opts.devices && ctx.am_root
            } else {
                ctx.opts.specials
            };
        if !wanted {
            if ctx.opts.ctl.info.nonreg > 0 {
                ctx.out
                    .info(&format!("skipping non-regular file \"{}\"", ctx.name(i)));
            }
            return Ok(());
        }
        let rdev = if is_device {
            crate::fakesuper::makedev(e.rdev().0, e.rdev().1)
        } else {
            0
        };
        if let Some(s) = st {
            if s.mode & S_IFMT == ft && (!is_device || s.rdev == rdev) {
                if !dry {
                    self.fix_attrs(p, e, Some(&s));
                }
                let fl = self.itemize(Some(i), e, Some(&s), 0);
                self.report_kept(i, fl);
                self.hl_mark(hlink::Mark::Done);
                // upstream: an identical device or special counts as
                // sent for --remove-source-files.
                self.success(i);
                return Ok(());
            }
        }
        let shown = st.filter(|s| s.mode & S_IFMT == ft);
        let basis = match st {
            None if !ctx.dirs.basis.is_empty() => self.try_dests_non(i)?,
            _ => NonDest::Nothing,
        };
        let (shown, quiet) = match basis {
            NonDest::Done => return Ok(()),
            NonDest::Quiet => (None, true),
            NonDest::Basis(bst) => (Some(bst), false),
            NonDest::Nothing => (shown, false),
        };
        if self.dry_room_blocked(i, st.as_ref())? {
            return Ok(());
        }
        if !dry {
            let mode = e.mode;
            let fake = ctx.opts.fake_super;
            if let Err(err) = self.replace_with(p, st.as_ref(), |root, tmp| {
                if fake {
                    // upstream: syscall.c do_mknod() under --fake-super.
                    root.create_excl(tmp, 0o600).map(drop)
                } else {
                    root.mknod(tmp, mode, rdev)
                }
            }) {
                if self.said_in_the_way(i, &err) {
                    return Ok(());
                }
                ctx.out.error_xfer(&format!(
                    "rsync: [generator] mknod \"{}\" failed: {}",
                    ctx.full_name(i),
                    crate::error::sys_err(&err)
                ));
                return Ok(());
            }
            self.fix_attrs(p, e, None);
            // upstream: generator.c dest_mode(): without -p a node that
            // replaces an existing non-directory keeps its permissions.
            if let Some(old) = st.filter(|s| s.file_type != FileType::Dir) {
                if !ctx.opts.perms && !fake {
                    let _ = ctx.root.chmod(p, old.mode & 0o7777);
                } else if !ctx.opts.perms {
                    // (the recorded bits of what it replaces)
                    self.fake_record_keeping(p, e, Some(old.mode & 0o7777));
                }
            }
        }
        self.made_item(i, shown.as_ref(), quiet, kind_index(e.mode));
        Ok(())
    }

    fn gen_file(&mut self, i: usize, redo: bool, mut st: Option<Stat>) -> Result<()> {
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let p = &*self.path(i);
        let dry = ctx.opts.dry_run;
        // --max-size, --min-size and -u decide before anything in the
        // way is replaced: a skipped file leaves it (upstream
        // recv_generator() checks them first).
        if !redo && self.skip_by_size_or_age(i, st.as_ref()) {
            return Ok(());
        }
        // A regular file (or, under --write-devices, an existing device
        // written into: upstream generator.c recv_generator()).
        if let Some(s) = st {
            let into_device = ctx.opts.write_devices && s.file_type == FileType::Device;
            if s.file_type != FileType::File && !into_device {
                if self.dry_room_blocked(i, Some(&s))? {
                    return Ok(());
                }
                if !dry {
                    match self.delete_item(p, &s, false) {
                        Ok(true) => {}
                        Ok(false) => {
                            self.said_in_the_way(i, &ReplaceError::InTheWay);
                            return Ok(());
                        }
                        Err(err) => {
                            ctx.out.error_xfer(&err.message);
                            return Ok(());
                        }
                    }
                }
                st = None;
            }
        }
        // upstream: generator.c:try_dests_reg(), for a missing file and,
        // unless --copy-dest, for an existing one an exact basis match
        // replaces.
        let mut basis_type: Option<u8> = None;
        let mut basis_st: Option<Stat> = None;
        let exact_for_existing = st.is_some()
            && ctx
                .opts
                .alt_dest
                .is_some_and(|k| k != crate::options::AltDest::Copy);
        if (st.is_none() || exact_for_existing) && !redo && !ctx.dirs.basis.is_empty() {
            match self.try_dests(i, st.as_ref())? {
                crate::altdest::Dests::Done => {
                    self.success(i);
                    // A --compare-dest match leaves nothing here to link to.
                    if ctx.opts.hard_links && (dry || ctx.root.stat(p).is_ok_and(|s| s.is_some())) {
                        self.hl_mark(hlink::Mark::Done);
                    }
                    return Ok(());
                }
                crate::altdest::Dests::Basis(j, s) => {
                    basis_type = Some(j);
                    basis_st = Some(s);
                }
                crate::altdest::Dests::Nothing => {}
            }
        }
        if !redo && basis_type.is_none() {
            if let Some(s) = st {
                if self.quick_check_ok(p, e, &s) {
                    if !dry {
                        self.fix_attrs(p, e, Some(&s));
                        crate::partial::clear_partial(ctx, p);
                    }
                    let fl = self.itemize(Some(i), e, Some(&s), 0);
                    self.report_kept(i, fl);
                    self.success(i);
                    self.hl_mark(hlink::Mark::Done);
                    return Ok(());
                }
                if ctx.opts.append > 0 && s.size >= e.size().max(0) as u64 {
                    return Ok(());
                }
            }
        }
        let shown_st = basis_st.or(st);
        if ctx.opts.hard_links && st.is_none() && basis_type.is_none() && !redo && self.hl_defer(i)
        {
            return Ok(());
        }
        if basis_type.is_none() && !(ctx.opts.append > 0 && !redo && st.is_some()) {
            if let Some((place, pp)) = ctx.dirs.partial_of(p) {
                let root = place.map(|pl| pl.root(&ctx.root)).unwrap_or(&ctx.root);
                if let Ok(Some(ps)) = root.stat(&pp) {
                    if ps.file_type == FileType::File {
                        basis_type = Some(crate::basis::FNAMECMP_PARTIAL_DIR);
                        basis_st = Some(ps);
                    }
                }
            }
        }
        // upstream: a missing file with no partial file and no basis-dir
        // basis may take a similarly named one (--fuzzy).
        let mut xname: Vec<u8> = Vec::new();
        if st.is_none() && basis_type.is_none() && ctx.opts.fuzzy > 0 {
            if let Some(c) = self.find_fuzzy(i) {
                basis_type = Some(c.basis_type);
                basis_st = Some(c.st);
                xname = c.name;
            }
        }
        let pick = Pick {
            basis_type,
            basis_st,
            xname,
            shown_st,
        };
        self.request_file(i, redo, st, pick)
    }

    /// Asks the sender for file `i`: its index, itemize flags, basis type,
    /// and the block checksums of the basis (upstream generator.c, the
    /// tail of recv_generator()).
    fn request_file(&mut self, i: usize, redo: bool, st: Option<Stat>, pick: Pick) -> Result<()> {
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let p = &*self.path(i);
        let dry = ctx.opts.dry_run;
        let Pick {
            basis_type,
            basis_st,
            xname,
            shown_st,
        } = pick;
        if st.is_none() {
            ctx.count_created(0);
        }
        if ctx.opts.fuzzy > 0 {
            self.fuzzy_mark_sent(p);
        }
        self.ndx(i as i32);
        self.inc_requested(i);
        if let Some(wants) = ctx.batch_wants.as_ref().filter(|_| !redo) {
            wants.want(i);
        }
        self.hl_mark(hlink::Mark::Sending);
        let mut iflags = ITEM_TRANSFER;
        if ctx.opts.checksum {
            iflags |= ITEM_REPORT_CHANGE;
        }
        if basis_type.is_some() {
            iflags |= ITEM_BASIS_TYPE_FOLLOWS;
        }
        if basis_type.is_some_and(|t| t >= FNAMECMP_FUZZY) {
            iflags |= ITEM_XNAME_FOLLOWS;
        }
        let report_all = self.report_all;
        self.report_all = true;
        let real = if basis_type.is_some_and(|t| t < 0x80) {
            shown_st
        } else {
            st
        };
        let flags = self.itemize(None, e, real.as_ref(), iflags);
        if flags & ITEM_BASIS_TYPE_FOLLOWS != 0 {
            if let Some(t) = basis_type {
                self.buf.push(t);
            }
        }
        if flags & ITEM_XNAME_FOLLOWS != 0 {
            protocol::varint::write_vstring(&mut self.buf, &xname);
        }
        self.xattr_flush();
        self.report_all = report_all;
        // --only-write-batch: nothing changes here, but the sender is asked
        // for the data (the batch records it).
        if dry && !ctx.opts.only_writes_batch() {
            return Ok(());
        }
        if ctx.opts.append > 0 && !redo {
            let len = st.map_or(0, |s| s.size);
            let sizes = sum_sizes(
                len,
                ctx.session.checksum.digest_len(),
                ctx.opts.block_size,
                false,
            );
            let head = if len == 0 {
                SumHead::default()
            } else {
                SumHead {
                    count: sizes.count as i32,
                    blength: sizes.blength as i32,
                    s2length: sizes.s2length as i32,
                    remainder: sizes.remainder as i32,
                }
            };
            head.write(&mut self.buf);
            return Ok(());
        }
        let st = if basis_type.is_some() { basis_st } else { st };
        let sent = match st {
            Some(s) if !ctx.whole_file && s.size > 0 => {
                let mark = self.buf.len();
                match self.write_sums(i, (basis_type, &xname), s.size, redo) {
                    Ok(()) => true,
                    Err(err) => {
                        self.buf.truncate(mark);
                        ctx.out.error(&format!(
                            "rsync: [generator] failed to open \"{}\", continuing: {}",
                            ctx.full_name(i),
                            crate::error::sys_err(&err)
                        ));
                        false
                    }
                }
            }
            _ => false,
        };
        if !sent {
            SumHead::default().write(&mut self.buf);
        }
        Ok(())
    }

    /// Writes the sum header and the block sums of the basis to the
    /// output as they are computed (nothing is kept, as upstream).
    // upstream: generator.c:generate_and_send_sums()
    fn write_sums(
        &mut self,
        i: usize,
        (basis_type, xname): (Option<u8>, &[u8]),
        size: u64,
        redo: bool,
    ) -> Result<()> {
        let ctx = self.ctx;
        let f = crate::partial::open_basis(ctx, i, basis_type, xname)?;
        let sizes = sum_sizes(
            size,
            ctx.session.checksum.digest_len(),
            ctx.opts.block_size,
            redo,
        );
        let s2 = sizes.s2length as usize;
        SumHead {
            count: sizes.count as i32,
            blength: sizes.blength as i32,
            s2length: s2 as i32,
            remainder: sizes.remainder as i32,
        }
        .write(&mut self.buf);
        let buf = &mut self.buf;
        buf.reserve((sizes.count as usize).min(1 << 20) * (4 + s2));
        // (read in chunks of whole blocks, by two threads, by the signature
        // itself)
        Signature::generate_with(
            &f,
            size,
            sizes,
            (
                ctx.session.checksum,
                ctx.session.seed,
                ctx.session.seed_fix(),
            ),
            &mut |sum1, sum2| {
                write_i32(buf, sum1 as i32);
                let n = s2.min(sum2.len());
                buf.extend_from_slice(&sum2[..n]);
                buf.resize(buf.len() + s2 - n, 0);
            },
        )
        .map_err(|e| Error::file_io(e.to_string()))
    }

    /// MSG_SUCCESS for --remove-source-files on an up-to-date file (not
    /// for --remove-sent-files: only what is sent goes).
    // upstream: generator.c recv_generator() (remove_source_files == 1)
    fn success(&self, i: usize) {
        if !self.ctx.opts.remove_sent_only {
            crate::partial::send_success(self.ctx, i);
        }
    }

    /// A missing directory, symlink, device or special found in a basis
    /// dir: an identical one is hard-linked (`--link-dest`, not for
    /// directories), left out (`--compare-dest`) or created quietly; a
    /// similar one is created and reported against the basis dir's.
    // upstream: generator.c:try_dests_non()
    fn try_dests_non(&mut self, i: usize) -> Result<NonDest> {
        use crate::options::AltDest;
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let p = &*self.path(i);
        let Some((j, level, bst)) = crate::altdest::find_dest_non(ctx, p, e) else {
            return Ok(NonDest::Nothing);
        };
        self.xattr_basis = Some(j);
        if level < 3 {
            return Ok(NonDest::Basis(bst));
        }
        self.report_uptodate(i);
        let kind = ctx.opts.alt_dest.unwrap_or(AltDest::Compare);
        if kind == AltDest::Link && !e.is_dir() {
            let place = &ctx.dirs.basis[j];
            let root = place.root(&ctx.root);
            let (Ok(from), Ok(to)) = (place.dir_path(p), place.dest_path(p)) else {
                return Ok(NonDest::Basis(bst));
            };
            // A destination that refuses the hard link (whatever the
            // errno: ENOTSUP for a symlink, EPERM, ENOSYS from FUSE) gets
            // the entry created instead, reported once below (upstream
            // 3.5.0: cannot_hardlink, match_level 2).
            if ctx.opts.dry_run || root.link(&from, &to).is_ok() {
                if self.report_all {
                    self.ndx(i as i32);
                    let fl = (ITEM_LOCAL_CHANGE | ITEM_XNAME_FOLLOWS) as u16;
                    self.buf.extend_from_slice(&fl.to_le_bytes());
                    protocol::varint::write_vstring(&mut self.buf, b"");
                }
                return Ok(NonDest::Done);
            }
        }
        if self.report_all {
            let chg = if kind == AltDest::Compare && !e.is_dir() {
                0
            } else {
                ITEM_LOCAL_CHANGE
            };
            self.itemize(Some(i), e, Some(&bst), chg | ITEM_MATCHED);
        }
        if kind == AltDest::Compare && !e.is_dir() {
            return Ok(NonDest::Done);
        }
        Ok(NonDest::Quiet)
    }

    // upstream: generator.c:try_dests_reg()
    fn try_dests(&mut self, i: usize, existing: Option<&Stat>) -> Result<crate::altdest::Dests> {
        use crate::altdest::Dests;
        use crate::options::AltDest;
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let p = &*self.path(i);
        let quick = |root: &confine::Root, path: &RelPath, st: &Stat| -> bool {
            self.basis_quick_ok(root, path, e, st)
        };
        let Some((j, level, bst)) = crate::altdest::find_dest(ctx, p, &quick, e) else {
            return Ok(Dests::Nothing);
        };
        let place = &ctx.dirs.basis[j];
        let root = place.root(&ctx.root);
        let (Ok(from), Ok(to)) = (place.dir_path(p), place.dest_path(p)) else {
            return Ok(Dests::Nothing);
        };
        let kind = ctx.opts.alt_dest.unwrap_or(AltDest::Compare);
        if level == 3 && kind != AltDest::Copy {
            if let Some(ex) = existing {
                // Already the basis file: the ordinary checks take over.
                if kind == AltDest::Link && ex.dev == bst.dev && ex.ino == bst.ino {
                    return Ok(Dests::Nothing);
                }
                if !ctx.opts.dry_run {
                    if let Err(err) = ctx.root.unlink(p) {
                        if err.kind() != std::io::ErrorKind::NotFound {
                            return Ok(Dests::Nothing);
                        }
                    }
                }
            }
            if kind == AltDest::Link {
                if ctx.opts.dry_run || root.link(&from, &to).is_ok() {
                    if self.report_all {
                        self.ndx(i as i32);
                        let fl = (ITEM_LOCAL_CHANGE | ITEM_XNAME_FOLLOWS) as u16;
                        self.buf.extend_from_slice(&fl.to_le_bytes());
                        protocol::varint::write_vstring(&mut self.buf, b"");
                    }
                    self.report_uptodate(i);
                    return Ok(Dests::Done);
                }
            } else {
                self.itemize(Some(i), e, Some(&bst), 0);
                self.report_uptodate(i);
                return Ok(Dests::Done);
            }
        }
        if existing.is_some() {
            return Ok(Dests::Nothing);
        }
        if level >= 2 {
            if !ctx.opts.dry_run && crate::relocate::copy_in(root, &from, root, &to).is_err() {
                return Ok(Dests::Nothing);
            }
            if !ctx.opts.dry_run {
                if let Ok(Some(nst)) = ctx.root.stat(p) {
                    self.fix_attrs(p, e, Some(&nst));
                }
            }
            self.itemize(Some(i), e, Some(&bst), ITEM_LOCAL_CHANGE);
            if level == 3 {
                self.report_uptodate(i);
            }
            return Ok(Dests::Done);
        }
        Ok(Dests::Basis(j as u8, bst))
    }

    /// `-vv` (`--info=name2`) without `%i` in the output format: the
    /// items left in place are named here (upstream maybe_ATTRS_REPORT).
    fn names_kept(&self) -> bool {
        self.ctx.opts.ctl.info.name >= 2 && self.has_i == 0
    }

    /// The name of entry `i` in those lines: where it lands, `.` for the
    /// destination itself, a directory's with a `/`.
    fn kept_name(&self, i: usize) -> String {
        let p = self.path(i);
        let name = if p.is_root() { b"." } else { p.as_bytes() };
        let slash = if self.entry(i).is_dir() { "/" } else { "" };
        format!("{}{slash}", crate::text::name_text(name))
    }

    /// An existing item that needed no data, `iflags` as itemized: under
    /// [`Gen::names_kept`], "NAME is uptodate", or "NAME" when its
    /// attributes were fixed.
    // upstream: rsync.c:set_file_attrs() (ATTRS_REPORT)
    fn report_kept(&self, i: usize, iflags: u32) {
        if !self.names_kept() {
            return;
        }
        let name = self.kept_name(i);
        if iflags & ATTRS_FIXED != 0 {
            self.ctx.out.info(&name);
        } else {
            self.ctx.out.info(&format!("{name} is uptodate"));
        }
    }

    /// An item found identical in a basis directory, or already the hard
    /// link it is to be: "NAME is uptodate" under [`Gen::names_kept`].
    // upstream: generator.c try_dests_reg(), try_dests_non(); hlink.c
    // maybe_hard_link(), hard_link_check()
    pub(super) fn report_uptodate(&self, i: usize) {
        if self.names_kept() {
            self.ctx
                .out
                .info(&format!("{} is uptodate", self.kept_name(i)));
        }
    }

    // upstream: generator.c:quick_check_ok()
    fn quick_check_ok(&self, p: &RelPath, e: &FileEntry, st: &Stat) -> bool {
        let opts = &self.ctx.opts;
        if st.size != e.size() as u64 {
            return false;
        }
        if opts.checksum {
            let Some(want) = e.checksum() else {
                return false;
            };
            let Ok(mut f) = self.ctx.root.open_read(p) else {
                return false;
            };
            return crate::flist::checksum_reader(&mut f, &self.ctx.session)
                .ok()
                .as_deref()
                == Some(want);
        }
        if opts.size_only {
            return true;
        }
        if opts.ignore_times {
            return false;
        }
        opts.same_time(st.mtime, st.mtime_nsec, e.mtime(), e.mtime_nsec)
    }

    /// `--existing` (the item is missing) and `--ignore-existing` (it
    /// exists, unless both are directories): true when the item is skipped.
    // upstream: generator.c:recv_generator() (ignore_non_existing, ignore_existing)
    fn skip_by_existence(&self, i: usize, st: Option<&Stat>) -> bool {
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let skip_info = ctx.opts.ctl.info.skip > 0;
        if ctx.opts.ignore_non_existing && st.is_none() {
            // Below a directory that was not created the skip is silent
            // (upstream remembers it as skip_dir).
            let (parent, _) = self.path(i).split_last();
            let parent_there = parent.is_root() || matches!(ctx.root.stat(&parent), Ok(Some(_)));
            if skip_info && parent_there {
                ctx.out.info(&format!(
                    "not creating new {} \"{}\"",
                    if e.is_dir() { "directory" } else { "file" },
                    ctx.name(i)
                ));
            }
            return true;
        }
        if let Some(s) = st {
            if ctx.opts.ignore_existing && !(e.is_dir() && s.file_type == FileType::Dir) {
                if skip_info {
                    ctx.out.info(&format!("{} exists", ctx.name(i)));
                }
                return true;
            }
        }
        false
    }

    /// `--max-size`, `--min-size` and `-u` for a regular file: true when
    /// the file is skipped.
    // upstream: generator.c:recv_generator() (max_size, min_size, update_only)
    fn skip_by_size_or_age(&self, i: usize, st: Option<&Stat>) -> bool {
        let ctx = self.ctx;
        let opts = &ctx.opts;
        let e = &**self.entry(i);
        let size = e.size().max(0) as u64;
        let why = if opts.max_size.is_some_and(|max| size > max) {
            "is over max-size"
        } else if opts.min_size.is_some_and(|min| size < min) {
            "is under min-size"
        } else if opts.update_only
            && st.is_some_and(|s| {
                s.file_type == FileType::File
                    && e.mtime().saturating_sub(s.mtime)
                        < i64::from(opts.modify_window.unwrap_or(0))
            })
        {
            "is newer"
        } else {
            return false;
        };
        if opts.ctl.info.skip > 0 {
            ctx.out.info(&format!("{} {why}", ctx.name(i)));
        }
        true
    }

    /// Sets perms, owner and mtime of an existing item that needs no data
    /// (upstream rsync.c set_file_attrs).
    fn fix_attrs(&self, p: &RelPath, e: &FileEntry, st: Option<&Stat>) {
        let ctx = self.ctx;
        let opts = &ctx.opts;
        if e.is_dir() {
            // Directory perms and times are finished in touch_up_dirs.
            self.set_owner(p, e, st);
            crate::acls::apply(ctx, p, e, st, e.mode | 0o700);
            return;
        }
        self.set_owner(p, e, st);
        self.fake_record(p, e);
        crate::acls::apply(ctx, p, e, st, e.mode);
        if opts.perms
            && !opts.fake_super
            && !e.is_symlink()
            && st.is_none_or(|s| s.mode & 0o7777 != e.mode & 0o7777)
        {
            if let Err(err) = ctx.root.chmod(p, e.mode & 0o7777) {
                ctx.out.error_xfer(&format!(
                    "rsync: [generator] failed to set permissions on \"{}\": {}",
                    String::from_utf8_lossy(&e.name),
                    crate::error::sys_err(&err)
                ));
            }
        }
        if !opts.perms && opts.executability && e.is_file() && !opts.fake_super {
            if let Some(s) = st {
                let want = crate::chmod::exec_mode(e.mode, s.mode);
                if want != s.mode & 0o7777 {
                    if let Err(err) = ctx.root.chmod(p, want) {
                        ctx.out.error_xfer(&format!(
                            "rsync: [generator] failed to set permissions on \"{}\": {}",
                            String::from_utf8_lossy(&e.name),
                            crate::error::sys_err(&err)
                        ));
                    }
                }
            }
        }
        self.set_atime(p, e, st);
        let keep_time = !(e.is_symlink() && opts.omit_link_times);
        if opts.times && keep_time && st.is_none_or(|s| mtime_differs(opts, s, e)) {
            if let Err(err) = ctx.root.set_mtime(p, e.mtime(), e.mtime_nsec) {
                if !e.is_symlink() {
                    ctx.out.error_xfer(&format!(
                        "rsync: [generator] failed to set times on \"{}\": {}",
                        String::from_utf8_lossy(&e.name),
                        crate::error::sys_err(&err)
                    ));
                }
            }
        }
    }

    /// `-U`: a non-directory gets the sender's atime (not a symlink under
    /// `-J`).
    // upstream: rsync.c:set_file_attrs() (ATTRS_SKIP_ATIME)
    fn set_atime(&self, p: &RelPath, e: &FileEntry, st: Option<&Stat>) {
        let opts = &self.ctx.opts;
        if opts.atimes == 0 || e.is_dir() || (e.is_symlink() && opts.omit_link_times) {
            return;
        }
        // With -c the checksum read has just moved it (upstream
        // maybe_ATTRS_ACCURATE_TIME): set it whatever the old stat said.
        if !opts.checksum && st.is_some_and(|s| s.atime == e.atime()) {
            return;
        }
        if let Err(err) = self.ctx.root.set_times(p, None, Some(e.atime())) {
            self.ctx.out.error_xfer(&format!(
                "rsync: [generator] failed to set times on \"{}\": {}",
                String::from_utf8_lossy(&e.name),
                crate::error::sys_err(&err)
            ));
        }
    }

    fn set_owner(&self, p: &RelPath, e: &FileEntry, st: Option<&Stat>) {
        let ctx = self.ctx;
        if !ctx.am_root || ctx.opts.fake_super {
            return;
        }
        let uid = if ctx.opts.owner {
            Some(ctx.uid(e))
        } else {
            None
        };
        let gid = if ctx.opts.group {
            Some(ctx.gid(e))
        } else {
            None
        };
        let uid = uid.filter(|u| st.is_none_or(|s| s.uid != *u));
        let gid = gid.filter(|g| st.is_none_or(|s| s.gid != *g));
        if uid.is_some() || gid.is_some() {
            if let Err(err) = ctx.root.lchown(p, uid, gid) {
                ctx.out.error_xfer(&format!(
                    "rsync: [generator] chown \"{}\" failed: {}",
                    String::from_utf8_lossy(&e.name),
                    crate::error::sys_err(&err)
                ));
            }
        }
    }

    /// A dry run's making room for entry `i` (a non-directory) where `st`
    /// is: a directory in the way that a real run could not empty is
    /// reported as that run would report it (upstream's delete_item()
    /// changes nothing in a dry run but still finds it not empty). True
    /// when the item would not be made.
    fn dry_room_blocked(&self, i: usize, st: Option<&Stat>) -> Result<bool> {
        let Some(s) = st.filter(|s| self.ctx.opts.dry_run && s.file_type == FileType::Dir) else {
            return Ok(false);
        };
        if self.delete_item(&self.path(i), s, false)? {
            return Ok(false);
        }
        self.said_in_the_way(i, &ReplaceError::InTheWay);
        Ok(true)
    }

    /// Whether a failed [`Gen::replace_with`] of entry `i` needs no
    /// more words: already reported, or a directory in the way that could
    /// not be emptied, reported here as upstream reports it ("could not
    /// make way for new symlink: NAME").
    fn said_in_the_way(&self, i: usize, err: &ReplaceError) -> bool {
        match err {
            ReplaceError::Reported => true,
            ReplaceError::InTheWay => {
                let ctx = self.ctx;
                ctx.out.error_xfer(&format!(
                    "could not make way for new {}: {}",
                    kind_for_room(self.entry(i).mode),
                    ctx.name(i)
                ));
                true
            }
            _ => false,
        }
    }

    /// Creates an item under a temporary name and renames it over `p`, so
    /// that the old item stays until the new one is complete (upstream
    /// atomic_create). A directory in the way is deleted first; with
    /// `--backup` a non-directory is backed up first.
    fn replace_with(
        &self,
        p: &RelPath,
        st: Option<&Stat>,
        make: impl Fn(&confine::Root, &RelPath) -> std::result::Result<(), confine::Error>,
    ) -> std::result::Result<(), ReplaceError> {
        self.forget_dir();
        let root = &self.ctx.root;
        if let Some(s) = st {
            if s.file_type == FileType::Dir {
                if !self
                    .delete_item(p, s, false)
                    .map_err(ReplaceError::Delete)?
                {
                    return Err(ReplaceError::InTheWay);
                }
                return Ok(make(root, p)?);
            }
        }
        if st.is_none() {
            return Ok(make(root, p)?);
        }
        // upstream: generator.c:atomic_create() backs the replaced item up.
        if self.ctx.opts.backup
            && !self.ctx.opts.dry_run
            && !crate::backup::make_backup(self.ctx, p, false)
        {
            // make_backup has said why.
            return Err(ReplaceError::Reported);
        }
        match crate::relocate::replace_via_temp(root, p, |tmp| make(root, tmp))? {
            true => Ok(()),
            false => Err(ReplaceError::NoTempName),
        }
    }

    /// The target a received symlink gets and the directory it is created
    /// in; `None` when it is skipped (and said so). Its name gives its
    /// depth, but a directory on the way may be a symlink (one -K keeps,
    /// one --no-implied-dirs leaves, one a hostile list walks through), so
    /// --safe-links and a sanitizing daemon judge the target where the link
    /// physically lands, and it is created in that directory.
    // upstream: generator.c recv_generator() unsafe_symlink(),
    // flist.c recv_file_entry() sanitize_path()
    fn link_site(&self, i: usize, target: Vec<u8>) -> Option<(Vec<u8>, Option<confine::Root>)> {
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let located = if (ctx.sanitize_links || ctx.opts.safe_links) && !ctx.opts.dry_run {
            let path = self.path(i);
            let (parent, base) = path.split_last();
            let (dir, at) = match ctx.root.open_dir_located(&parent) {
                Ok(found) => found,
                Err(err) => {
                    ctx.out.error_xfer(&format!(
                        "rsync: [generator] symlink \"{}\" -> \"{}\" failed: {}",
                        ctx.full_name(i),
                        String::from_utf8_lossy(&target),
                        crate::error::sys_err(&err)
                    ));
                    return None;
                }
            };
            let mut name = at.map(|a| a.as_bytes().to_vec()).unwrap_or_default();
            if !name.is_empty() {
                name.push(b'/');
            }
            name.extend_from_slice(base);
            Some((dir, name))
        } else {
            None
        };
        let name = located
            .as_ref()
            .map_or(e.name.as_slice(), |(_, n)| n.as_slice());
        if ctx.opts.safe_links && crate::flist::unsafe_symlink(&target, name) {
            if ctx.opts.ctl.info.name > 0 {
                ctx.out.info(&format!(
                    "ignoring unsafe symlink \"{}\" -> \"{}\"",
                    ctx.name(i),
                    String::from_utf8_lossy(&target)
                ));
            }
            return None;
        }
        let target = if ctx.sanitize_links && located.is_some() && !target.is_empty() {
            let depth = name.iter().filter(|&&b| b == b'/').count();
            crate::flist::sanitize_link(&target, depth)
        } else {
            target
        };
        Some((target, located.map(|(dir, _)| dir)))
    }

    // upstream: generator.c:touch_up_dirs()
    /// With -K, the directory a symlink at `p` leads to, when it stays
    /// beneath the destination (outward links are not followed).
    fn dirlink(&self, p: &RelPath) -> Option<(confine::Root, Stat)> {
        if !self.ctx.opts.keep_dirlinks {
            return None;
        }
        let sub = self.ctx.root.open_dir(p).ok()?;
        let st = sub.stat(&RelPath::root()).ok().flatten()?;
        (st.file_type == FileType::Dir).then_some((sub, st))
    }

    /// An ordinary user cannot write into a directory without u+w (nor
    /// enter it without u+x): such an existing directory gets u+rwx for
    /// the transfer and its mode back in touch_up_dirs.
    // upstream: generator.c:recv_generator() (dir_tweaking, need_retouch_dir_perms)
    fn make_dir_writable(&mut self, i: usize, before: Option<&Stat>) {
        let ctx = self.ctx;
        let Some(before) = before else { return };
        if ctx.am_root || before.file_type != FileType::Dir {
            return;
        }
        let p = &*self.path(i);
        let mode = match ctx.root.stat(p) {
            Ok(Some(now)) if now.file_type == FileType::Dir => now.mode & 0o7777,
            _ => return,
        };
        if mode & 0o700 == 0o700 {
            return;
        }
        match ctx.root.chmod(p, mode | 0o700) {
            Ok(()) => {
                self.tweaked_dirs.insert(i, mode);
            }
            Err(err) => ctx.out.error_xfer(&format!(
                "rsync: [generator] failed to modify permissions on \"{}\": {}",
                ctx.full_name(i),
                crate::error::sys_err(&err)
            )),
        }
    }

    fn touch_up_dirs(&mut self) {
        self.forget_dir();
        let ctx = self.ctx;
        if ctx.opts.dry_run {
            return;
        }
        for (i, e) in ctx.entries.iter() {
            let e = &*e;
            if !e.is_dir()
                || crate::treeshape::is_inactive(e)
                || (!ctx.opts.tree.implied_dirs() && crate::treeshape::is_implied_dir(e))
            {
                continue;
            }
            let p = &*self.path(i);
            let st = ctx.root.stat(p).ok().flatten();
            let Some(mut st) = st else { continue };
            // Under -K the mode goes to the directory a symlink leads to but
            // the times to the symlink itself, as upstream's chmod/lutimes.
            let link_st = st;
            let mut through = None;
            if st.file_type == FileType::Symlink {
                if let Some((sub, target)) = self.dirlink(p) {
                    (through, st) = (Some(sub), target);
                }
            }
            if st.file_type != FileType::Dir {
                continue;
            }
            let here = RelPath::root();
            let (root, mode_p) = match &through {
                Some(sub) => (sub, &here),
                None => (&ctx.root, p),
            };
            // upstream: need_retouch_dir_perms (the mode of a new directory
            // without -p is the source's under the default umask).
            let want = if let Some(mode) = self.tweaked_dirs.get(&i) {
                Some(*mode)
            } else if ctx.opts.perms {
                Some(e.mode & 0o7777)
            } else {
                self.retouch_perms
                    .contains(&i)
                    .then_some(e.mode & crate::acls::default_perms(&ctx.root, &p.split_last().0))
            };
            if ctx.opts.fake_super {
                if through.is_none() {
                    self.fake_record(p, e);
                }
            } else if let Some(want) = want.filter(|w| st.mode & 0o7777 != *w) {
                if let Err(err) = root.chmod(mode_p, want) {
                    ctx.out.error_xfer(&format!(
                        "rsync: [generator] failed to set permissions on \"{}\": {}",
                        ctx.full_name(i),
                        crate::error::sys_err(&err)
                    ));
                }
            }
            if ctx.opts.times && !ctx.opts.omit_dir_times() && mtime_differs(&ctx.opts, &link_st, e)
            {
                if let Err(err) = ctx.root.set_mtime(p, e.mtime(), e.mtime_nsec) {
                    ctx.out.error_xfer(&format!(
                        "rsync: [generator] failed to set times on \"{}\": {}",
                        ctx.full_name(i),
                        crate::error::sys_err(&err)
                    ));
                }
            }
        }
    }
}
