//! Incremental recursion, the sending side: the top-level list holds the
//! arguments (and the contents of a `dir/` argument); each directory's
//! contents go later in a list of their own, announced by
//! `NDX_FLIST_OFFSET - dir_ndx`, sent a few at a time between the file
//! data, depth first in the lists' sorted order, and `NDX_FLIST_EOF`
//! after the last. A list is dropped once the receiving side has finished
//! it (its NDX_DONE), so only the lists in flight and the directories still
//! to list are held, never the whole tree.
// upstream: flist.c send_file_list() (inc_recurse, FLAG_DIVERT_DIRS),
// send_extra_file_list(), send1extra(), add_dirs_to_tree();
// sender.c send_files()
use super::*;
use crate::source::Origin;
use protocol::ndx::{NdxWriter, NDX_FLIST_EOF, NDX_FLIST_OFFSET};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Files the lists in flight should hold before the sender reads the
/// generator's next request (upstream MIN_FILECNT_LOOKAHEAD).
pub const LOOKAHEAD: usize = 1000;

/// A directory found while listing, whose contents wait for their own
/// list (with what is needed to list them later).
pub(super) struct Diverted {
    /// Its position in the list being built (before sorting).
    pos: usize,
    path: PathBuf,
    rel: Vec<u8>,
    followed: bool,
    src: Sources,
    root: PathBuf,
    top_dev: Option<u64>,
    /// False for a mount point under -x (its list is sent empty) and for
    /// a -R implied directory.
    content: bool,
    /// -R: the names below it, sent in its list.
    pub(super) relnames: Vec<super::relnames::RelName>,
}

impl Walker<'_> {
    /// The directory just pushed is listed later.
    pub(super) fn divert_dir(
        &mut self,
        path: PathBuf,
        rel: Vec<u8>,
        followed: bool,
        content: bool,
    ) {
        let d = Diverted {
            pos: self.list.entries.len().saturating_sub(1),
            path,
            rel,
            followed,
            src: self.src.clone(),
            root: self.root.clone(),
            top_dev: self.top_dev,
            content,
            relnames: Vec::new(),
        };
        if let Some(v) = self.divert.as_mut() {
            v.push(d);
        }
    }
}

/// A directory of the tree whose list is still to be sent: its dir_ndx
/// and its sources (more than one when arguments gave the same name:
/// upstream sends duplicate directories in one list).
struct Node {
    dir_ndx: usize,
    dirs: Vec<Diverted>,
    /// Its entry and source, for requests naming its list's slot.
    entry: (FileEntry, PathBuf, Origin),
}

/// A list sent and not yet finished by the receiving side.
pub struct SentList {
    /// Wire index of its first entry.
    pub start: usize,
    /// Its entries and their sources.
    pub list: FileList,
    /// The directory it lists (wire index `start - 1`), none for the top
    /// list.
    pub parent: Option<(FileEntry, PathBuf, Origin)>,
    /// Entries whose data was sent once (upstream FLAG_FILE_SENT): a
    /// second request is a redo.
    pub sent: Vec<bool>,
    /// The number of lists sent before this one.
    pub ordinal: usize,
}

/// The sending side's lists under incremental recursion.
pub struct IncSender<'a> {
    w: Walker<'a>,
    enc: FlistEncoder,
    /// The directories still to list: one queue of siblings per level of
    /// the depth-first walk.
    levels: Vec<VecDeque<Node>>,
    next_dir_ndx: usize,
    next_start: usize,
    lists_sent: usize,
    hlinks: HashMap<(u64, u64), u32>,
    fixup: Box<dyn Fn(&mut FileList) + 'a>,
    /// Told of each list sent and finished (--remove-source-files).
    watch: Option<Arc<dyn ListWatch + Send + Sync>>,
    /// -A: the ACLs sent so far, which later entries refer to by index
    /// (one cache for the whole transfer, as the receiving side's).
    acls: Option<protocol::acl::AclSender>,
    /// -X: the xattr lists sent so far, numbered across the transfer; a
    /// later entry with an identical set refers to an earlier list's, and
    /// the values stay for the generator's requests (upstream keeps
    /// rsync_xal_l for the whole transfer).
    xattrs: Option<crate::xattrs::SendLists>,
    /// Where the walk's filter stack is rooted now.
    cur_root: Option<PathBuf>,
    /// The lists not yet finished, oldest first.
    pub lists: VecDeque<SentList>,
    /// Entries in `lists`.
    pub pending: usize,
    /// NDX_FLIST_EOF was sent.
    pub eof: bool,
    /// The list [`IncSender::find`] found last (requests come in order).
    find_hint: std::cell::Cell<usize>,
}

/// Told of each list as it is sent and once the receiving side finished
/// it (--remove-source-files keeps the sources of the lists in flight).
pub trait ListWatch {
    /// A list was sent, its first entry at wire index `start`.
    fn sent(&self, start: usize, list: &FileList, opts: &Options);
    /// The list starting at `start` is finished.
    fn done(&self, start: usize);
}

/// What a newly sent list adds to the transfer's counters.
#[derive(Debug, Default)]
pub struct ListCounts {
    /// Per-kind entry counts.
    pub kinds: [u64; 5],
    /// Total size.
    pub size: u64,
    /// Bytes of list data.
    pub bytes: u64,
}

impl<'a> IncSender<'a> {
    /// Builds the top-level list (returned encoded, with its counts);
    /// the directories below wait. `names`: the --files-from names (else
    /// the sources are the arguments, -R ones with `opts.tree.relative()`).
    /// `fixup` changes each list's entries before they are sent (--chmod);
    /// `watch` (--remove-source-files) learns each list sent.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        sources: &[String],
        names: Option<&[Vec<u8>]>,
        opts: &'a Options,
        session: &'a Session,
        out: &'a Out,
        rules: &'a mut FilterList,
        daemon: Option<&'a DaemonFilter>,
        src: &Sources,
        fixup: Box<dyn Fn(&mut FileList) + 'a>,
        watch: Option<Arc<dyn ListWatch + Send + Sync>>,
    ) -> Result<(IncSender<'a>, Vec<u8>, ListCounts)> {
        let mut w = Walker::new(opts, session, out, rules, daemon, src);
        w.divert = Some(Vec::new());
        if names.is_some() || opts.tree.relative() {
            super::tree::build_tree(&mut w, sources, names)?;
        } else {
            walk_args(&mut w, sources)?;
        }
        let mut enc = FlistEncoder::new(session.flist_options(opts));
        if !opts.numeric_ids {
            enc.set_inline_names(|user, id| {
                if user {
                    ids::user_name(id).map(|n| n.to_vec())
                } else {
                    ids::group_name(id).map(|n| n.to_vec())
                }
            });
        }
        let mut s = IncSender {
            w,
            enc,
            levels: Vec::new(),
            next_dir_ndx: 0,
            next_start: 1,
            lists_sent: 0,
            hlinks: HashMap::new(),
            fixup,
            watch,
            acls: opts.acls.then(protocol::acl::AclSender::default),
            xattrs: (opts.xattrs > 0).then(crate::xattrs::SendLists::default),
            cur_root: None,
            lists: VecDeque::new(),
            pending: 0,
            eof: false,
            find_hint: std::cell::Cell::new(0),
        };
        let mut buf = Vec::new();
        let counts = s.finish_list(&mut buf, None, out.io_error())?;
        // upstream: a top list starting with "." has it as its directory
        // (slot 0 names it: parent_ndx 0 of dir_flist).
        if let Some(top) = s.lists.front_mut() {
            if top.list.entries.first().is_some_and(|e| e.name == b".") {
                let origin = top.list.origins.get(0).unwrap_or(Origin::OPERATOR);
                let path = top.list.path_of(0).unwrap_or_default();
                top.parent = Some((top.list.entries[0].clone(), path, origin));
            }
        }
        s.w.src = src.clone();
        Ok((s, buf, counts))
    }

    /// Sorts the list the walker built, numbers its hard links and
    /// directories, encodes it (after `buf`'s marker) and keeps it.
    fn finish_list(
        &mut self,
        buf: &mut Vec<u8>,
        parent: Option<(FileEntry, PathBuf, Origin)>,
        io_error: i32,
    ) -> Result<ListCounts> {
        let src = self.w.src.unbound();
        let mut list = std::mem::take(&mut self.w.list);
        let diverted = self.w.divert.replace(Vec::new()).unwrap_or_default();
        self.w.last_implied = None;
        list.sort_keeping(true);
        let order = list.wire_order.take().unwrap_or_default();
        list.source = src;
        let start = self.next_start;
        if self.w.opts.hard_links {
            assign_hard_links_from(&mut list, start as u32, &mut self.hlinks);
        }
        (self.fixup)(&mut list);
        // -X: each entry's list index goes with it (and with a directory's
        // copy that names its list's slot).
        if let Some(x) = self.xattrs.as_mut() {
            let nums = x.collect_more(&list, self.w.opts, self.w.rules, self.w.out);
            for (e, n) in list.entries.iter_mut().zip(nums) {
                e.xattr = Some(n).into();
            }
        }
        let mut by_pos: HashMap<usize, Diverted> =
            diverted.into_iter().map(|d| (d.pos, d)).collect();
        let mut level: VecDeque<Node> = VecDeque::new();
        for (k, e) in list.entries.iter().enumerate() {
            if !e.is_dir() {
                continue;
            }
            let dir_ndx = self.next_dir_ndx;
            self.next_dir_ndx += 1;
            let Some(d) = order.get(k).and_then(|&p| by_pos.remove(&(p as usize))) else {
                continue;
            };
            match level.back_mut().filter(|n| n.entry.0.name == e.name) {
                Some(n) => n.dirs.push(d),
                None => {
                    let origin = list.origins.get(k).unwrap_or(Origin::OPERATOR);
                    let path = list.path_of(k).unwrap_or_default();
                    level.push_back(Node {
                        dir_ndx,
                        dirs: vec![d],
                        entry: (e.clone(), path, origin),
                    });
                }
            }
        }
        let at = buf.len();
        self.enc.start_list(start as u32);
        for e in &list.entries {
            self.enc.encode(buf, e);
            // upstream: flist.c send_file_name(): the entry's ACLs follow it.
            // Ids' names go inline, from the one list the entries' use.
            if let Some(tx) = self.acls.as_mut() {
                let enc = &mut self.enc;
                crate::acls::send_named(tx, buf, e, &mut |u, id| enc.inline_name(u, id));
            }
            // upstream: flist.c send_file_name(): then the xattrs.
            if let Some(x) = self.xattrs.as_ref() {
                x.encode_list(buf, e.xattr.get().unwrap_or(0));
            }
        }
        self.enc.encode_end(buf, io_error);
        let counts = ListCounts {
            kinds: list.kind_counts(),
            size: list.total_size(),
            bytes: (buf.len() - at) as u64,
        };
        if !level.is_empty() {
            self.levels.push(level);
        }
        self.next_start = start + list.len() + 1;
        self.pending += list.len();
        if let Some(r) = &self.watch {
            r.sent(start, &list, self.w.opts);
        }
        self.lists.push_back(SentList {
            start,
            sent: vec![false; list.len()],
            list,
            parent,
            ordinal: self.lists_sent,
        });
        self.lists_sent += 1;
        Ok(counts)
    }

    /// Sends lists until those in flight hold `at_least` entries or the
    /// last is sent (then NDX_FLIST_EOF).
    // upstream: flist.c send_extra_file_list()
    pub fn send_more(
        &mut self,
        out: &mut Vec<u8>,
        ndx_w: &mut NdxWriter,
        at_least: usize,
    ) -> Result<ListCounts> {
        let mut total = ListCounts::default();
        while !self.eof {
            while self.levels.last().is_some_and(|l| l.is_empty()) {
                self.levels.pop();
            }
            // The end goes out as soon as the last list has (the receiving
            // side finishes its last list only after it).
            let Some(level) = self.levels.last_mut() else {
                ndx_w.write(out, NDX_FLIST_EOF);
                self.eof = true;
                self.w.stack.clear(self.w.rules);
                break;
            };
            // A receiving side finishes a list only once a later one (or
            // the end) has come: with one list in flight it may be waiting
            // for the next (upstream sends more while it waits to read).
            if self.pending >= at_least && self.lists.len() > 1 {
                break;
            }
            let Some(node) = level.pop_front() else { break };
            let depth = self.levels.len();
            let c = self.send_node(out, ndx_w, node)?;
            // A directory without subdirectories: its siblings are likely
            // the same, and are listed next, so they are listed ahead.
            if self.levels.len() == depth {
                self.list_ahead();
            }
            for (t, n) in total.kinds.iter_mut().zip(c.kinds) {
                *t += n;
            }
            total.size += c.size;
            total.bytes += c.bytes;
        }
        Ok(total)
    }

    /// Asks for the next directories of the deepest level (each listed
    /// once, from one source, not through a followed link) to be listed
    /// ahead, as many as there is room for (see `ahead`).
    fn list_ahead(&mut self) {
        let Some(level) = self.levels.last() else {
            return;
        };
        let Some(ahead) = self.w.ahead() else {
            return;
        };
        for n in level {
            let [d] = &n.dirs[..] else { break };
            if !d.content || d.followed || !d.relnames.is_empty() {
                break;
            }
            if !ahead.offer(&d.path, &d.src) {
                break;
            }
        }
    }

    /// Lists one directory (or a group of duplicates) and sends the list.
    // upstream: flist.c send1extra()
    fn send_node(
        &mut self,
        out: &mut Vec<u8>,
        ndx_w: &mut NdxWriter,
        node: Node,
    ) -> Result<ListCounts> {
        ndx_w.write(out, NDX_FLIST_OFFSET - node.dir_ndx as i32);
        let io_before = self.w.out.io_error();
        let parent = Some(node.entry);
        let first_root = node.dirs.first().map(|d| d.root.clone());
        let mut prev_content = false;
        for d in node.dirs {
            if self.cur_root.as_ref() != Some(&d.root) {
                self.w.stack.clear(self.w.rules);
                let abs = std::path::absolute(&d.root).unwrap_or_else(|_| d.root.clone());
                self.w.rules.set_root(abs.as_os_str().as_bytes());
                self.cur_root = Some(d.root.clone());
            }
            self.w.root = d.root.clone();
            self.w.top_dev = d.top_dev;
            self.w.src = d.src.clone();
            // upstream: a duplicate of a directory just listed from the
            // same root is not listed again.
            let content = d.content && !(prev_content && first_root.as_ref() == Some(&d.root));
            if content {
                self.w.walk(&d.path, d.rel.clone(), d.followed)?;
            }
            prev_content = content;
            if !d.relnames.is_empty() {
                super::relnames::send(&mut self.w, &d.root, &d.rel, d.relnames)?;
            }
        }
        let io_after = self.w.out.io_error();
        let end_error = if io_after == io_before || self.w.opts.ignore_errors {
            0
        } else if self.w.session.compat & protocol::compat::CF_SAFE_FLIST != 0 {
            io_after
        } else {
            0
        };
        self.finish_list(out, parent, end_error)
    }

    /// The receiving side finished the oldest list. True while lists
    /// remain.
    pub fn list_done(&mut self) -> bool {
        if let Some(l) = self.lists.pop_front() {
            self.pending -= l.list.len();
            if let Some(r) = &self.watch {
                r.done(l.start);
            }
        }
        !self.lists.is_empty()
    }

    /// -X: the xattr lists sent so far.
    pub fn xattrs(&self) -> Option<&crate::xattrs::SendLists> {
        self.xattrs.as_ref()
    }

    /// The list holding wire index `ndx` (its directory's slot included).
    pub fn find(&self, ndx: usize) -> Option<usize> {
        let starts_by = |k: usize| self.lists.get(k).is_some_and(|l| l.start <= ndx + 1);
        // The partition point, checked first where the last one was.
        let h = self.find_hint.get();
        let k = if starts_by(h) && !starts_by(h + 1) {
            h + 1
        } else {
            self.lists.partition_point(|l| l.start <= ndx + 1)
        };
        let found = k
            .checked_sub(1)
            .filter(|&k| ndx < self.lists[k].start + self.lists[k].list.len());
        if let Some(k) = found {
            self.find_hint.set(k);
        }
        found
    }

    /// For progress lines: the index of entry `ndx` among the entries
    /// listed so far, and their number.
    // upstream: progress.c set_current_file_index() (ndx - flist_num)
    pub fn file_index(&self, ndx: usize) -> (usize, usize) {
        let before = self.find(ndx).map_or(0, |k| self.lists[k].ordinal + 1);
        (ndx.saturating_sub(before), self.listed())
    }

    /// For the progress line at a list's end: the index of the last entry
    /// of the list holding `ndx`, and the entries listed so far.
    // upstream: progress.c set_current_file_index(NULL, 0)
    pub fn end_index(&self, ndx: usize) -> Option<(usize, usize)> {
        let l = &self.lists[self.find(ndx)?];
        let last = (l.start + l.list.len()).checked_sub(l.ordinal + 2)?;
        Some((last, self.listed()))
    }

    /// Entries listed so far (every list's).
    pub fn listed(&self) -> usize {
        self.next_start - 1 - self.lists_sent
    }
}
