//! The file list: built from local paths by a sender, received and
//! validated by a receiver, sorted identically on both sides.
use crate::error::{io_of, os_err, Error, Result};
use crate::filters::DaemonFilter;
use crate::filters::DirStack;
use crate::ids;
use crate::options::Options;
use crate::out::Out;
use crate::session::Session;
use crate::source::{Origin, Sources};
use crate::trust::has_dotdot;
use confine::{FileType, RelPath, Stat};
use delta::FileHasher;
use filter::FilterList;
use protocol::exit;
use protocol::flist::*;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

mod ahead;
mod dirnames;
mod extra;
mod relnames;
mod sources;
mod tree;
pub use extra::{IncSender, ListWatch, LOOKAHEAD};
pub use sources::SourcePaths;
pub use tree::files_from_names;

/// A sorted file list. On the sending side `sources` holds the local path
/// of each entry (same index).
#[derive(Debug, Default, Clone)]
pub struct FileList {
    /// Entries in upstream's sorted order; the index is the wire ndx.
    pub entries: Vec<FileEntry>,
    /// Sender only: where each entry is read from.
    pub sources: SourcePaths,
    /// Sender only: how `sources` are reached (beneath a daemon module's
    /// root, or the operator's own paths beneath their transfer roots).
    pub source: Sources,
    /// Receiver under `--iconv` only: the wire index of each sorted entry
    /// (names sort differently once converted, so the peer's index is the
    /// order the list came in: upstream need_unsorted_flist).
    pub wire_order: Option<Vec<u32>>,
    /// Sender only: the transfer root each entry is read beneath (same
    /// index as `sources`; empty when `source` needs none).
    pub origins: crate::anchors::Origins,
}

impl FileList {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Room for `n` more entries (with their sources), grown by a quarter
    /// at a time rather than doubled: a walk of a million names does not
    /// leave up to as much again in spare capacity.
    fn reserve(&mut self, n: usize) {
        grow(&mut self.entries, n);
        self.origins.reserve(n);
        self.sources.reserve(n);
    }

    /// Gives back the spare capacity of a finished list.
    fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
        self.origins.shrink_to_fit();
        self.sources.shrink_to_fit();
    }

    /// Sender only: where entry `i` is read from.
    pub fn path_of(&self, i: usize) -> Option<PathBuf> {
        self.sources.get(i, &self.entries.get(i)?.name)
    }

    /// How entry `i`'s source path is reached (beneath its transfer root).
    pub fn source_of(&self, i: usize) -> Sources {
        match self.origins.get(i) {
            Some(o) => self.source.at(o),
            None => self.source.clone(),
        }
    }

    /// Sorts entries (and sources) in upstream's order, stable. Duplicate
    /// names stay, as upstream's sender keeps them (they count in the
    /// stats); the receiver drops all but the first
    /// ([`crate::treeshape::clean_received`]).
    fn sort(&mut self) {
        self.sort_keeping(false);
    }

    /// Sorts as [`FileList::sort`]; with `keep`, records in `wire_order`
    /// where each sorted entry was.
    fn sort_keeping(&mut self, keep: bool) {
        // A list that is in order already (as a sender sends it) stays as
        // it is, without the index: a received list is sorted while the
        // sender's, in a local copy, is held beside it.
        let in_order = || {
            self.entries.windows(2).all(|w| {
                compare_names(&w[0].name, w[0].is_dir(), &w[1].name, w[1].is_dir())
                    != std::cmp::Ordering::Greater
            })
        };
        if !keep && in_order() {
            return;
        }
        // Sorted through an index and permuted in place: a received list
        // is never held twice. (Lists are bounded by MAX_ENTRIES < 2^32.)
        // Equal names keep their order (the index breaks the tie), without
        // the scratch buffer of a stable sort.
        let mut idx: Vec<u32> = (0..self.entries.len() as u32).collect();
        idx.sort_unstable_by(|&a, &b| {
            let (ea, eb) = (&self.entries[a as usize], &self.entries[b as usize]);
            compare_names(&ea.name, ea.is_dir(), &eb.name, eb.is_dir()).then(a.cmp(&b))
        });
        if keep {
            self.wire_order = Some(idx.clone());
        }
        let has_sources = !self.sources.is_empty();
        let has_origins = self.origins.len() == self.entries.len();
        // Entry k of the sorted list is entry idx[k] of the old one; each
        // cycle of the permutation is walked once, swapping along it.
        for start in 0..idx.len() {
            let mut cur = start;
            while idx[cur] as usize != start && idx[cur] as usize != cur {
                let next = idx[cur] as usize;
                self.entries.swap(cur, next);
                if has_sources {
                    self.sources.swap(cur, next);
                }
                if has_origins {
                    self.origins.swap(cur, next);
                }
                idx[cur] = cur as u32;
                cur = next;
            }
            idx[cur] = cur as u32;
        }
    }

    /// Per-kind counts, for --stats.
    pub fn kind_counts(&self) -> [u64; 5] {
        let mut c = [0u64; 5];
        for e in &self.entries {
            c[crate::stats::kind_index(e.mode)] += 1;
        }
        c
    }

    /// Sum of sizes of regular files and symlinks (upstream total_size).
    pub fn total_size(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| !e.is_dir())
            .map(|e| e.size().max(0) as u64)
            .sum()
    }
}

/// Room for `n` more in `v`: at least a quarter of what it holds, so
/// that growing stays amortised without doubling.
pub(crate) fn grow<T>(v: &mut Vec<T>, n: usize) {
    if v.capacity() - v.len() < n {
        v.reserve_exact(n.max(v.len() / 4).max(16));
    }
}

impl crate::source::SentList for FileList {
    fn entries(&self) -> &[FileEntry] {
        &self.entries
    }
    fn source_path(&self, i: usize) -> Option<PathBuf> {
        self.path_of(i)
    }
    fn source_of(&self, i: usize) -> Sources {
        FileList::source_of(self, i)
    }
}

/// Builds the sender's list for the command-line sources (upstream
/// flist.c send_file_list): `dir/` sends the directory's contents under
/// ".", `dir` sends it under its own name, files are sent by their last
/// component. Unreadable items are reported and set io_error.
pub fn build(
    sources: &[String],
    opts: &Options,
    session: &Session,
    out: &Out,
    rules: &mut FilterList,
) -> Result<FileList> {
    build_with(sources, opts, session, out, rules, None, &Sources::Ambient)
}

/// As [`build_with`], for -R arguments or --files-from `names` (relative to
/// the one source directory).
#[allow(clippy::too_many_arguments)]
pub fn build_full(
    sources: &[String],
    names: Option<&[Vec<u8>]>,
    opts: &Options,
    session: &Session,
    out: &Out,
    rules: &mut FilterList,
    daemon: Option<&DaemonFilter>,
    src: &Sources,
) -> Result<FileList> {
    if names.is_none() && !opts.tree.relative() {
        return build_with(sources, opts, session, out, rules, daemon, src);
    }
    let mut w = Walker::new(opts, session, out, rules, daemon, src);
    tree::build_tree(&mut w, sources, names)?;
    Ok(ready_to_send(w.list, opts, session, out, src))
}

/// As [`build`], also leaving out what a daemon module's rules exclude,
/// and reading through `src` (a daemon module's root).
pub fn build_with(
    sources: &[String],
    opts: &Options,
    session: &Session,
    out: &Out,
    rules: &mut FilterList,
    daemon: Option<&DaemonFilter>,
    src: &Sources,
) -> Result<FileList> {
    let mut w = Walker::new(opts, session, out, rules, daemon, src);
    walk_args(&mut w, sources)?;
    Ok(ready_to_send(w.list, opts, session, out, src))
}

/// A walked list made ready to send: names in wire form, upstream's
/// order, the sources unbound, hard-link groups assigned.
fn ready_to_send(
    mut list: FileList,
    opts: &Options,
    session: &Session,
    out: &Out,
    src: &Sources,
) -> FileList {
    names_to_wire(&mut list, session, out);
    list.shrink_to_fit();
    list.sort();
    list.source = src.unbound();
    if opts.hard_links {
        assign_hard_links(&mut list);
    }
    // The list stays for the whole transfer; what the walk and the sort
    // freed need not stay resident beside it.
    confine::heap::give_back_freed();
    list
}

/// Lists each command-line source (upstream flist.c send_file_list()'s
/// loop): with incremental recursion (`w.divert`) a directory's contents
/// wait for their own list, except those of a `dir/` argument.
fn walk_args(w: &mut Walker<'_>, sources: &[String]) -> Result<()> {
    let (opts, session, out) = (w.opts, w.session, w.out);
    let src = &w.src.clone();
    for arg in sources {
        let trailing = arg.ends_with('/') || arg == "." || arg.ends_with("/.");
        let path = PathBuf::from(if arg.is_empty() { "." } else { arg.as_str() });
        // The transfer root: the directory itself for `dir/`, else its
        // parent. Opened once as the operator named it; everything below
        // is read beneath it.
        let anchor = if trailing {
            path.clone()
        } else {
            parent_or_dot(&path)
        };
        let (asrc, looked, entered) = match src.anchor_at(&anchor) {
            Ok(a) => {
                let m = a.lstat(&path);
                (a, m, true)
            }
            Err(e) => (src.unbound(), Err(e), false),
        };
        w.src = asrc.clone();
        let src = &asrc;
        let meta = match looked {
            Ok(m) => m,
            // upstream send_file_list() -> change_pathname(): the
            // directory an argument is read in ("DIR/", or the DIR of
            // "DIR/NAME") cannot be entered. A transfer error that also
            // stops deletion (a source on a missing or unmounted path
            // must not empty the destination), whatever
            // --ignore-missing-args and --delete-missing-args say: they
            // are about the name, not its directory.
            Err(e)
                if !opts.tree.relative()
                    && (trailing && arg != "." || !entered && anchor != Path::new(".")) =>
            {
                let dir = if trailing {
                    PathBuf::from(arg.trim_end_matches("/.").trim_end_matches('/'))
                } else {
                    anchor.clone()
                };
                let dir = if dir.as_os_str().is_empty() {
                    PathBuf::from("/")
                } else {
                    dir
                };
                out.error_xfer(&format!(
                    "rsync: [sender] change_dir {} failed: {}",
                    full_fname(&dir),
                    os_err(&e)
                ));
                out.add_io_error(1);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && opts.tree.missing_args == 1 => {
                continue;
            }
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && opts.tree.missing_args == 2
                    && !trailing =>
            {
                // --delete-missing-args: a mode-0 entry asks for deletion.
                let e = FileEntry {
                    name: last_component(&path).into(),
                    ..Default::default()
                };
                w.push(e, path.clone(), Origin::OPERATOR);
                continue;
            }
            Err(e) => {
                out.error_xfer(&format!(
                    "rsync: [sender] link_stat {} failed: {}",
                    full_fname(&path),
                    os_err(&e)
                ));
                // upstream: a missing argument is a transfer error but no
                // io_error (deletion may go on).
                if e.kind() != io::ErrorKind::NotFound {
                    out.add_io_error(1);
                }
                continue;
            }
        };
        let was_link = meta.is_symlink() && !trailing;
        let meta = if was_link {
            let name = last_component(&path);
            match follow_link(src, &path, &name, meta, (opts, out)) {
                Ok(m) => m,
                Err(e) => {
                    report_follow_error(&path, &e, out);
                    continue;
                }
            }
        } else {
            meta
        };
        let followed = was_link && !meta.is_symlink();
        w.root = anchor;
        let abs_root = std::path::absolute(&w.root).unwrap_or_else(|_| w.root.clone());
        w.rules.set_root(abs_root.as_os_str().as_bytes());
        w.stack
            .enter(w.rules, b"", &mut |p| read_beneath(src, &abs_root, p, opts))?;
        crate::filters::print_notes(w.rules, out);
        w.top_dev = Some(meta.dev);
        if w.hides(&meta, || src.readable(&path)) {
            w.stack.clear(w.rules);
            continue;
        }
        if meta.is_dir() {
            if !opts.recursive && !opts.dirs {
                // upstream names it as it is after changing into its parent.
                let shown = if trailing {
                    ".".to_string()
                } else {
                    String::from_utf8_lossy(&last_component(&path)).into_owned()
                };
                out.info(&format!("skipping directory {shown}"));
                w.stack.clear(w.rules);
                continue;
            }
            let base: Vec<u8> = if trailing {
                b".".to_vec()
            } else {
                last_component(&path)
            };
            if w.daemon_excluded(&base, true) {
                w.stack.clear(w.rules);
                continue;
            }
            if trailing || !w.excluded(&base, true) {
                let mut e = entry_for(src, &path, &meta, base.clone(), opts, session)?;
                // upstream: -d sends a named directory without its contents
                // unless the name ends in a slash or a dot.
                let content = opts.recursive || trailing;
                e.set_xflags(if content {
                    XMIT_TOP_DIR
                } else {
                    XMIT_NO_CONTENT_DIR
                });
                w.push(e, path.clone(), src.origin(followed));
                if content && !trailing && w.divert.is_some() {
                    w.divert_dir(path.clone(), base, followed, true);
                } else if content {
                    w.walk(&path, if trailing { Vec::new() } else { base }, followed)?;
                }
            }
        } else {
            let name = last_component(&path);
            if !w.excluded(&name, false) && !w.daemon_excluded(&name, false) {
                let esrc = src.leaf_followed(followed);
                if let Some(e) = leaf_entry(&esrc, &path, &meta, name, opts, session, out)? {
                    w.push(e, path.clone(), esrc.origin(followed));
                }
            }
        }
        w.stack.clear(w.rules);
    }
    Ok(())
}

/// The text of an errno, as strerror() gives it.
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

/// `--iconv` on the sender: names (and with CF_SYMLINK_ICONV symlink
/// targets) go to UTF-8 before the list is sorted, so that both sides
/// index it in the wire names' order. An entry that cannot be converted is
/// left out, with rsync's message and an I/O error.
// upstream: flist.c:send_file_name() (ic_send)
fn names_to_wire(list: &mut FileList, session: &Session, out: &Out) {
    if !crate::charset::active() {
        return;
    }
    let links = session.compat & protocol::compat::CF_SYMLINK_ICONV != 0;
    // The sources are read by the local names, which change here.
    list.sources
        .detach(list.entries.iter().map(|e| &e.name[..]));
    let mut keep = vec![true; list.entries.len()];
    for (i, e) in list.entries.iter_mut().enumerate() {
        match crate::charset::to_wire(&e.name) {
            Some(Ok(name)) => e.name = name.into(),
            Some(Err(err)) => {
                out.error_xfer(&format!(
                    "[sender] cannot convert filename: {} ({})",
                    String::from_utf8_lossy(&e.name),
                    strerror(&err)
                ));
                out.add_io_error(1);
                keep[i] = false;
                continue;
            }
            None => return,
        }
        if !links {
            continue;
        }
        let mut resized = None;
        if let Some(t) = e.link_target_mut() {
            match crate::charset::to_wire(t) {
                Some(Ok(target)) => {
                    *t = target;
                    resized = Some(t.len() as i64);
                }
                Some(Err(err)) => {
                    out.error_xfer(&format!(
                        "[sender] cannot convert symlink data for: {} ({})",
                        String::from_utf8_lossy(&e.name),
                        strerror(&err)
                    ));
                    out.add_io_error(1);
                    keep[i] = false;
                }
                None => {}
            }
        }
        if let Some(n) = resized {
            e.set_size(n);
        }
    }
    if keep.iter().all(|&k| k) {
        return;
    }
    let mut k = keep.iter();
    list.entries.retain(|_| *k.next().unwrap_or(&true));
    if !list.sources.is_empty() {
        let mut k = keep.iter();
        list.sources.retain(|| *k.next().unwrap_or(&true));
    }
}

/// `--iconv` on the receiver: the received UTF-8 names (and with
/// CF_SYMLINK_ICONV symlink targets) in this side's charset, before they
/// are checked. An entry whose name cannot be converted is reported and
/// left inactive (never created), with an I/O error.
// upstream: flist.c:recv_file_entry() (ic_recv)
fn names_from_wire(entries: &mut [FileEntry], session: &Session, io_error: &mut i32) -> Result<()> {
    if !crate::charset::active() {
        return Ok(());
    }
    let links = session.compat & protocol::compat::CF_SYMLINK_ICONV != 0;
    for e in entries.iter_mut() {
        match crate::charset::from_wire(&e.name) {
            Some(Ok(name)) => e.name = name.into(),
            Some(Err(err)) => {
                eprintln!(
                    "[receiver] cannot convert filename: {} ({})",
                    String::from_utf8_lossy(&e.name),
                    strerror(&err)
                );
                *io_error |= 1;
                e.add_xflags(crate::treeshape::FLAG_INACTIVE);
                continue;
            }
            None => return Ok(()),
        }
        let mut resized = None;
        if let (true, Some(t)) = (links, e.link_target_mut()) {
            match crate::charset::from_wire(t) {
                Some(Ok(target)) => {
                    *t = target;
                    resized = Some(t.len() as i64);
                }
                Some(Err(err)) => {
                    eprintln!(
                        "[receiver] cannot convert symlink data for: {} ({})",
                        String::from_utf8_lossy(&e.name),
                        strerror(&err)
                    );
                    *io_error |= 1;
                    e.add_xflags(crate::treeshape::FLAG_INACTIVE);
                }
                None => {}
            }
        }
        if let Some(n) = resized {
            e.set_size(n);
        }
    }
    Ok(())
}

/// The directory `p` names its item in ("." for a bare name).
pub(crate) fn parent_or_dot(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// -H: every non-directory whose inode has other links gets the list index
/// of the first entry with that inode (upstream flist.c make_file() and
/// send_file_entry(); the list is sent in this order, so it is the wire
/// index too). An inode whose other links are all outside the list makes a
/// group of one, as upstream sends it.
fn assign_hard_links(list: &mut FileList) {
    assign_hard_links_from(list, 0, &mut Default::default());
}

/// As [`assign_hard_links`] for a list whose first entry has wire index
/// `start`, `first` holding the groups of the lists sent before
/// (incremental recursion).
fn assign_hard_links_from(
    list: &mut FileList,
    start: u32,
    first: &mut std::collections::HashMap<(u64, u64), u32>,
) {
    for i in 0..list.entries.len() {
        let Some(path) = list.path_of(i) else {
            continue;
        };
        let (e, path) = (&list.entries[i], &path);
        if e.is_dir() {
            continue;
        }
        // The entry describes what -L and friends followed, if anything.
        let source = list.source_of(i);
        let followed = list.origins.get(i).is_some_and(|o| o.follows_leaf());
        let meta = if e.is_symlink() || (source.is_anchored() && !followed) {
            source.lstat(path)
        } else {
            source.stat(path)
        };
        let Ok(m) = meta else { continue };
        if m.nlink > 1 {
            list.entries[i].hlink =
                Some(*first.entry((m.dev, m.ino)).or_insert(start + i as u32)).into();
        }
    }
}

/// Reads a per-directory merge file: a relative name beneath the transfer
/// root (one that would leave it is not read); an absolute one (the
/// parent-directory scan of a dir-merge rule, whose `..` the filter list
/// has already collapsed) as it is, which beneath a daemon module's root
/// means only inside the module. Neither is read through a symlink
/// another user owns (unless `--insecure-links`), as upstream.
fn read_beneath(src: &Sources, root: &Path, name: &[u8], opts: &Options) -> Option<Vec<u8>> {
    let path = if name.starts_with(b"/") {
        // Checked again here: the scan never hands out a `..`.
        RelPath::new(&name[1..]).ok()?;
        PathBuf::from(std::ffi::OsStr::from_bytes(name))
    } else {
        let rp = RelPath::new(name).ok()?;
        root.join(std::ffi::OsStr::from_bytes(rp.as_bytes()))
    };
    src.read(&path, confine::Links::from_insecure(opts.insecure_links))
        .ok()
}

struct Walker<'a> {
    opts: &'a Options,
    session: &'a Session,
    out: &'a Out,
    rules: &'a mut FilterList,
    daemon: Option<&'a DaemonFilter>,
    list: FileList,
    stack: DirStack,
    root: PathBuf,
    /// -x: the device of the current top-level argument.
    top_dev: Option<u64>,
    /// Where the files are read.
    src: Sources,
    /// Incremental recursion: the directories found, whose contents are
    /// listed later (upstream FLAG_DIVERT_DIRS).
    divert: Option<Vec<extra::Diverted>>,
    /// Incremental -R: the implied directory sent last (its root, name and
    /// place in `divert`), which further names below it join (upstream
    /// send_implied_dirs() lastpath_struct).
    last_implied: Option<(PathBuf, Vec<u8>, usize)>,
    /// Directory descriptors held by the walks in progress above.
    held_listings: usize,
    /// Incremental recursion: the directories listed ahead of the walk
    /// (started when first needed; None when there is no second core).
    ahead: Option<Option<ahead::Ahead>>,
    /// Directories listed so far.
    walked: usize,
}

impl<'a> Walker<'a> {
    fn new(
        opts: &'a Options,
        session: &'a Session,
        out: &'a Out,
        rules: &'a mut FilterList,
        daemon: Option<&'a DaemonFilter>,
        src: &Sources,
    ) -> Walker<'a> {
        Walker {
            opts,
            session,
            out,
            rules,
            daemon,
            list: FileList::default(),
            stack: DirStack::default(),
            root: PathBuf::new(),
            top_dev: None,
            src: src.clone(),
            divert: None,
            last_implied: None,
            held_listings: 0,
            ahead: None,
            walked: 0,
        }
    }
}

impl Walker<'_> {
    /// Adds an entry read from `path` beneath `origin`.
    fn push(&mut self, e: FileEntry, path: PathBuf, origin: Origin) {
        self.push_path(e, &path, origin);
    }

    /// As [`Walker::push`], the path borrowed.
    fn push_path(&mut self, e: FileEntry, path: &Path, origin: Origin) {
        self.list.sources.push(path, &e.name);
        self.list.entries.push(e);
        self.list.origins.push(origin);
    }

    /// Lists the directory `dir` (named `prefix` in the list) and what is
    /// below it. `via_link`: `dir` is a symlink the scan followed (`-L`,
    /// `-k`), whose target becomes the root of the walk below it.
    fn walk(&mut self, dir: &Path, prefix: Vec<u8>, via_link: bool) -> Result<()> {
        if !via_link {
            return self.walk_in(dir, prefix);
        }
        let inner = match self.src.follow_dir(dir) {
            Ok(s) => s,
            Err(e) => {
                self.out.error_xfer(&format!(
                    "rsync: [sender] opendir {} failed: {}",
                    full_fname(dir),
                    os_err(&e)
                ));
                self.out.add_io_error(1);
                return Ok(());
            }
        };
        let outer = std::mem::replace(&mut self.src, inner);
        let res = self.walk_in(dir, prefix);
        self.src = outer;
        res
    }

    /// A daemon module's `ignore nonreadable` leaves out the entry whose
    /// lstat is `meta`: not a symlink, and `readable` says this process
    /// may not read it (asked only then).
    // upstream: flist.c:make_file()
    fn hides(&self, meta: &Stat, readable: impl FnOnce() -> bool) -> bool {
        self.opts.ignore_nonreadable && !meta.is_symlink() && !readable()
    }

    /// The daemon module's rules exclude `rel` (below the transfer root);
    /// a root outside the module is excluded too.
    fn daemon_excluded(&self, rel: &[u8], is_dir: bool) -> bool {
        let Some(d) = self.daemon else { return false };
        match d.module_path(&self.root, rel) {
            Some(p) => d.excludes(&p, is_dir),
            None => true,
        }
    }

    /// The rules leave `rel` out of the list. From FILTER debug level 1 on
    /// the rule that decided is reported, as upstream's sender does.
    // upstream: exclude.c:check_filter(), report_filter_result()
    fn excluded(&self, rel: &[u8], is_dir: bool) -> bool {
        if self.opts.ctl.debug_filter == 0 {
            return self.rules.is_excluded(rel, is_dir);
        }
        let (m, why) = self.rules.check_traced(rel, is_dir, filter::Side::Sender);
        if let Some(why) = why {
            self.out.info(&format!(
                "[sender] {} {} {} because of pattern {why}",
                if m == filter::Match::Include {
                    "showing"
                } else {
                    "hiding"
                },
                if is_dir { "directory" } else { "file" },
                crate::text::name_text(rel)
            ));
        }
        m == filter::Match::Exclude
    }

    /// Lists `dir` (named `prefix`) and walks its subdirectories as it
    /// meets them: its names are read and each entry stat'ed beneath the
    /// directory's one open descriptor.
    fn walk_in(&mut self, dir: &Path, prefix: Vec<u8>) -> Result<()> {
        let (opts, out) = (self.opts, self.out);
        let src = self.src.clone();
        let abs_root = std::path::absolute(&self.root).unwrap_or_else(|_| self.root.clone());
        self.stack.enter(self.rules, &prefix, &mut |p| {
            read_beneath(&src, &abs_root, p, opts)
        })?;
        crate::filters::print_notes(self.rules, out);
        self.walked += 1;
        let ahead = self
            .ahead
            .as_ref()
            .and_then(|a| a.as_ref()?.take(dir, &src));
        // The entries' stats, made a window of names at a time (shared
        // with a helper thread, `confine::statahead`), or all made ahead:
        // `stats[k]` is name `stats_from + k`'s.
        let mut stats: Vec<std::result::Result<Option<Stat>, confine::Error>> = Vec::new();
        let listed = match ahead {
            Some(a) => {
                stats = a.stats;
                Ok((a.names, a.listing))
            }
            None => src
                .open_listing(dir)
                .and_then(|l| Ok((dirnames::DirNames::read(&l).map_err(io_of)?, l))),
        };
        let (names, listing) = match listed {
            Ok(l) => l,
            Err(e) => {
                out.error_xfer(&format!(
                    "rsync: [sender] opendir {} failed: {}",
                    full_fname(dir),
                    os_err(&e)
                ));
                out.add_io_error(1);
                return Ok(());
            }
        };
        self.list.reserve(names.len());
        // Each entry's path is built in one buffer (as Path::join would
        // spell it), kept only where the entry needs it.
        let mut path = dir.as_os_str().as_bytes().to_vec();
        if !path.is_empty() && !path.ends_with(b"/") {
            path.push(b'/');
        }
        let dir_len = path.len();
        let plain = src.leaf_followed(false);
        let mut listing = Some(listing);
        let names = std::sync::Arc::new(names);
        let stat_names: std::sync::Arc<dyn confine::Names> = names.clone();
        let mut stats_from = 0;
        for (i, name) in names.iter().enumerate() {
            path.truncate(dir_len);
            path.extend_from_slice(name);
            let rel = child_rel(&prefix, name);
            let l = match listing.take() {
                Some(l) => l,
                // Closed while a deep tree below was walked: opened again,
                // beneath the root as the first time.
                None => match src.open_listing(dir) {
                    Ok(l) => l,
                    Err(e) => {
                        out.error_xfer(&format!(
                            "rsync: [sender] opendir {} failed: {}",
                            full_fname(dir),
                            os_err(&e)
                        ));
                        out.add_io_error(1);
                        return Ok(());
                    }
                },
            };
            if i == stats_from + stats.len() {
                stats.clear();
                stats_from = i;
                l.lstat_many(&stat_names, i..names.len().min(i + STAT_WINDOW), &mut stats);
            }
            let st = std::mem::replace(&mut stats[i - stats_from], Ok(None));
            if matches!(&st, Ok(Some(m)) if self.hides(m, || l.readable(name))) {
                listing = Some(l);
                continue;
            }
            let here = Here {
                plain: &plain,
                src: &src,
            };
            let p = Path::new(std::ffi::OsStr::from_bytes(&path));
            let sub = self.add_child(&here, p, rel, st)?;
            let Some((sub, rel, followed)) = sub else {
                listing = Some(l);
                continue;
            };
            // Depth first, as the list is sorted; this directory's
            // descriptor is held meanwhile, up to a bound on how many are.
            let held = self.held_listings < MAX_HELD_LISTINGS;
            if held {
                listing = Some(l);
                self.held_listings += 1;
            } else {
                drop(l);
            }
            let before = self.walked;
            let res = self.walk(&sub, rel, followed);
            if held {
                self.held_listings -= 1;
            }
            res?;
            // Back in this directory: its merge rules apply again.
            self.stack.enter(self.rules, &prefix, &mut |p| {
                read_beneath(&src, &abs_root, p, opts)
            })?;
            // A directory without subdirectories: the next ones here are
            // likely the same, and are walked next, so they are listed
            // ahead (as incremental recursion's siblings, see `ahead`).
            if self.walked == before + 1 && !followed {
                let next = &stats[i + 1 - stats_from..];
                self.list_ahead((&path[..dir_len], &prefix), &names, i + 1, next, &src);
            }
        }
        Ok(())
    }

    /// Asks for the subdirectories among names `from..` of the directory
    /// `dir` (ending in `/`), whose lstats are `stats`, to be listed ahead,
    /// as many as there is room for: two of every [`WALKER_LISTS`] names.
    /// (Without incremental recursion the walk has little else to do for
    /// each directory, so it lists the others itself rather than wait: a
    /// million-name dry run, 5 runs, 1.95 s median with none listed ahead,
    /// 2.06 s with all, 1.79 s with every other, 1.72 s with two of three,
    /// 1.86 s with three of four.)
    fn list_ahead(
        &mut self,
        (dir, prefix): (&[u8], &[u8]),
        names: &dirnames::DirNames,
        from: usize,
        stats: &[std::result::Result<Option<Stat>, confine::Error>],
        src: &Sources,
    ) {
        let one_fs = self.opts.tree.one_file_system > 0;
        let mut wanted = Vec::new();
        for (k, st) in stats.iter().enumerate() {
            let Ok(Some(st)) = st else { continue };
            if (from + k).is_multiple_of(WALKER_LISTS) || !st.is_dir() {
                continue;
            }
            // What the walk will not enter is not read either: a mount
            // point under -x, a directory the rules leave out.
            if one_fs && self.top_dev.is_some_and(|d| d != st.dev) {
                continue;
            }
            let name = confine::Names::name(names, from + k);
            let rel = child_rel(prefix, name);
            if self.rules.is_excluded(&rel, true) || self.daemon_excluded(&rel, true) {
                continue;
            }
            let mut p = dir.to_vec();
            p.extend_from_slice(name);
            wanted.push(PathBuf::from(
                <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(p),
            ));
            if wanted.len() == ahead::MAX_AHEAD {
                break;
            }
        }
        let Some(ahead) = self.ahead() else {
            return;
        };
        for p in wanted {
            if !ahead.offer(&p, src) {
                break;
            }
        }
    }

    /// The helper that lists directories ahead, started when first asked
    /// for (None: there is no second core).
    fn ahead(&mut self) -> Option<&ahead::Ahead> {
        self.ahead.get_or_insert_with(ahead::Ahead::start).as_ref()
    }

    /// Adds the entry of the directory being listed at `path` (named
    /// `rel` in the list, its lstat `st`); returns a directory whose
    /// contents are to be walked now.
    fn add_child(
        &mut self,
        here: &Here<'_>,
        path: &Path,
        rel: Vec<u8>,
        st: std::result::Result<Option<Stat>, confine::Error>,
    ) -> Result<Option<(PathBuf, Vec<u8>, bool)>> {
        let (opts, session, out) = (self.opts, self.session, self.out);
        let src = here.src;
        let meta = match st.map_err(io_of).and_then(found) {
            Ok(m) => m,
            Err(e) => {
                let vanished = e.kind() == io::ErrorKind::NotFound;
                if vanished {
                    out.warning(&format!("file has vanished: {}", full_fname(path)));
                } else {
                    out.error_xfer(&format!(
                        "rsync: [sender] link_stat {} failed: {}",
                        full_fname(path),
                        os_err(&e)
                    ));
                }
                out.add_io_error(if vanished { 2 } else { 1 });
                return Ok(None);
            }
        };
        let was_link = meta.is_symlink();
        let meta = match follow_link(src, path, &rel, meta, (opts, out)) {
            Ok(m) => m,
            Err(e) => {
                let excluded = [false, true]
                    .iter()
                    .any(|&d| self.rules.is_excluded(&rel, d) || self.daemon_excluded(&rel, d));
                if !excluded {
                    report_follow_error(path, &e, out);
                }
                return Ok(None);
            }
        };
        if self.excluded(&rel, meta.is_dir()) || self.daemon_excluded(&rel, meta.is_dir()) {
            return Ok(None);
        }
        let followed = was_link && !meta.is_symlink();
        let origin = src.origin(followed);
        let other_fs = opts.tree.one_file_system > 0
            && meta.is_dir()
            && self.top_dev.is_some_and(|d| d != meta.dev);
        if other_fs && opts.tree.one_file_system > 1 {
            // -xx: a mount point is left out altogether.
            return Ok(None);
        }
        if meta.is_dir() && (!opts.recursive || other_fs) {
            // -d (or -x at a mount point): the directory itself, not
            // its contents.
            let mut e = entry_for(src, path, &meta, rel.clone(), opts, session)?;
            e.set_xflags(XMIT_NO_CONTENT_DIR);
            self.push_path(e, path, origin);
            if self.divert.is_some() {
                // upstream: a mount point's list is sent, empty.
                self.divert_dir(path.to_path_buf(), rel, followed, false);
            }
        } else if meta.is_dir() && self.divert.is_some() {
            let e = entry_for(src, path, &meta, rel.clone(), opts, session)?;
            self.push_path(e, path, origin);
            self.divert_dir(path.to_path_buf(), rel, followed, true);
        } else if meta.is_dir() {
            let e = entry_for(src, path, &meta, rel.clone(), opts, session)?;
            self.push_path(e, path, origin);
            return Ok(Some((path.to_path_buf(), rel, followed)));
        } else {
            let followed_src;
            let esrc = if followed {
                followed_src = src.at(origin);
                &followed_src
            } else {
                here.plain
            };
            if let Some(e) = leaf_entry(esrc, path, &meta, rel, opts, session, out)? {
                self.push_path(e, path, origin);
            }
        }
        Ok(None)
    }
}

/// The directory [`Walker::walk_in`] is listing.
struct Here<'a> {
    /// Its sources, bound as they are.
    src: &'a Sources,
    /// Its sources, the leaf not followed.
    plain: &'a Sources,
}

/// The list name of `name` in the directory named `prefix` (sized
/// exactly: an entry keeps it for the transfer).
fn child_rel(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut rel = Vec::with_capacity(prefix.len() + 1 + name.len());
    rel.extend_from_slice(prefix);
    if !rel.is_empty() {
        rel.push(b'/');
    }
    rel.extend_from_slice(name);
    rel
}

/// Without incremental recursion, the walk lists one of every this many
/// names of a directory itself, if a directory (see [`Walker::list_ahead`]).
const WALKER_LISTS: usize = 3;

/// Most directory descriptors the walks of the directories above hold at
/// once (a deeper directory closes its own while it walks below it).
const MAX_HELD_LISTINGS: usize = 64;

/// Most names of a directory stat'ed ahead of the entry the walk is at
/// (what a walk holds for each directory above it while it walks below).
const STAT_WINDOW: usize = 256;

/// A stat that found nothing is an error here (the entry vanished).
fn found(st: Option<Stat>) -> io::Result<Stat> {
    st.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

/// With -L, -k or --copy-unsafe-links, the metadata of what a symlink
/// (named `name` in the list) refers to; other entries keep `meta`.
// upstream: flist.c:readlink_stat()
///
/// Beneath a daemon module, a link is followed only while its target stays
/// inside the module: one that leaves it fails with EXDEV (reported, the
/// entry left out).
fn follow_link(
    src: &Sources,
    path: &Path,
    name: &[u8],
    meta: Stat,
    (opts, out): (&Options, &Out),
) -> io::Result<Stat> {
    if !meta.is_symlink() {
        return Ok(meta);
    }
    if opts.copy_links {
        return src.stat(path);
    }
    if opts.copy_unsafe_links {
        if let Some(target) = src.read_link(path).ok().filter(|t| unsafe_symlink(t, name)) {
            if opts.ctl.info.symsafe > 0 {
                out.info(&format!(
                    "copying unsafe symlink \"{}\" -> \"{}\"",
                    crate::text::name_text(name),
                    crate::text::name_text(&target)
                ));
            }
            return src.stat(path);
        }
    }
    if opts.copy_dirlinks {
        match src.stat(path) {
            Ok(m) if m.is_dir() => return Ok(m),
            // upstream 3.5.0 lists a directory link that leaves the module
            // as a directory and then fails to open it (io_error): the
            // same outcome, without statting anything outside.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
                return Err(e)
            }
            _ => {}
        }
    }
    Ok(meta)
}

fn report_follow_error(path: &Path, e: &io::Error, out: &Out) {
    if e.kind() == io::ErrorKind::NotFound {
        out.error_xfer(&format!("symlink has no referent: {}", full_fname(path)));
    } else {
        out.error_xfer(&format!(
            "rsync: [sender] link_stat {} failed: {}",
            full_fname(path),
            os_err(e)
        ));
    }
    out.add_io_error(1);
}

/// Whether symlink `target`, found at list name `name`, leads out of the
/// transfer tree: absolute or empty, or climbing with ".." above the
/// directory the name starts in.
// upstream: util1.c:unsafe_symlink()
pub fn unsafe_symlink(target: &[u8], name: &[u8]) -> bool {
    if target.is_empty() || target[0] == b'/' {
        return true;
    }
    // A ".." anywhere but in a leading run of "../" is unsafe, as is a
    // trailing "/..".
    let mut rest = target;
    while let Some(r) = rest.strip_prefix(b"../") {
        rest = r;
        while let Some(r) = rest.strip_prefix(b"/") {
            rest = r;
        }
    }
    if rest.windows(4).any(|w| w == b"/../") || (target.len() > 3 && target.ends_with(b"/..")) {
        return true;
    }
    // How deep the link itself sits: its directory components.
    let mut depth: i64 = 0;
    let parts: Vec<&[u8]> = name
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let dir_parts = &parts[..parts.len().saturating_sub(1)];
    for c in dir_parts {
        match *c {
            b"." => {}
            b".." => depth = 0,
            _ => depth += 1,
        }
    }
    if parts.last().is_some_and(|c| *c == b"..") {
        depth = 0;
    }
    let tparts: Vec<&[u8]> = target.split(|&b| b == b'/').collect();
    let Some((last, dirs)) = tparts.split_last() else {
        return true;
    };
    for c in dirs {
        match *c {
            b"." | b"" => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    if *last == b".." {
        depth -= 1;
    }
    depth < 0
}

/// The entry of a non-directory named `name`. Every kind is listed:
/// devices and specials without `-D` too, as upstream's sender lists
/// them (flist.c make_file()); the receiver skips them ("skipping
/// non-regular file"), and their names keep what the destination holds
/// under them from `--delete`.
fn leaf_entry(
    src: &Sources,
    path: &Path,
    meta: &Stat,
    name: Vec<u8>,
    opts: &Options,
    session: &Session,
    out: &Out,
) -> Result<Option<FileEntry>> {
    if meta.file_type == FileType::Dir {
        out.info(&format!(
            "skipping non-regular file \"{}\"",
            String::from_utf8_lossy(&name)
        ));
        return Ok(None);
    }
    match entry_for(src, path, meta, name, opts, session) {
        Ok(e) => Ok(Some(e)),
        Err(e) => {
            out.error_xfer(&format!("rsync: [sender] {}", e.message));
            out.add_io_error(1);
            Ok(None)
        }
    }
}

fn entry_for(
    src: &Sources,
    path: &Path,
    meta: &Stat,
    name: Vec<u8>,
    opts: &Options,
    session: &Session,
) -> Result<FileEntry> {
    let mut e = FileEntry {
        name: name.into(),
        mode: meta.mode,
        mtime_nsec: meta.mtime_nsec,
        uid: meta.uid,
        gid: meta.gid,
        ..Default::default()
    }
    .with_size(0)
    .with_mtime(meta.mtime);
    // Held (in the entry's side allocation) only when it is sent.
    if opts.atimes > 0 && !meta.is_dir() {
        e.set_atime(meta.atime);
    }
    let ft = meta.file_type;
    if matches!(ft, FileType::File | FileType::Dir) {
        e.set_size(meta.size as i64);
    }
    if ft == FileType::Symlink {
        let t = src.read_link(path).map_err(|err| {
            Error::file_io(format!(
                "readlink {} failed: {}",
                full_fname(path),
                os_err(&err)
            ))
        })?;
        e.set_size(t.len() as i64);
        e.set_link_target(Some(t));
    }
    if ft == FileType::Device && opts.copy_devices {
        copy_device(src, path, &mut e)?;
    } else if ft == FileType::Device {
        e.set_rdev((major(meta.rdev), minor(meta.rdev)));
    }
    if opts.fake_super {
        crate::fakesuper::source_override(src, path, &mut e);
    }
    if opts.acls && !e.is_symlink() {
        let acl = crate::acls::read_source(src, path, e.mode, opts)?;
        e.set_acl(Some(acl));
    }
    // upstream: flist.c readlink_stat() un-munges what a --munge-links
    // receiver stored (a --fake-super stand-in file's text included).
    let prefix = crate::options::SYMLINK_PREFIX.as_bytes();
    if let Some(t) = e.link_target_mut() {
        if opts.munge_links && t.len() > prefix.len() && t.starts_with(prefix) {
            t.drain(..prefix.len());
            let n = t.len() as i64;
            e.set_size(n);
        }
    }
    if opts.checksum && e.is_file() {
        e.set_checksum(Some(file_checksum_with(
            src,
            path,
            session,
            opts.open_noatime,
        )?));
    }
    Ok(e)
}

/// `--copy-devices`: a device goes as a regular file of its size (the
/// end of the device, as lseek finds it), with the mtime of now, since a
/// device's is not kept up to date.
// upstream: flist.c:make_file() (copy_devices) -> util1.c:get_device_size()
fn copy_device(src: &Sources, path: &Path, e: &mut FileEntry) -> Result<()> {
    use std::io::Seek;
    let mut f = src.open(path, false).map_err(|err| {
        Error::file_io(format!(
            "open {} failed: {}",
            full_fname(path),
            os_err(&err)
        ))
    })?;
    let size = f.seek(std::io::SeekFrom::End(0)).unwrap_or(0);
    e.mode = 0o100000 | (e.mode & 0o7777);
    e.set_size(i64::try_from(size).unwrap_or(i64::MAX));
    e.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    );
    e.mtime_nsec = 0;
    Ok(())
}

/// `--munge-links` on a receiver: every received symlink target gets
/// [`crate::options::SYMLINK_PREFIX`] in front, so the link leads nowhere.
// upstream: flist.c:recv_file_entry()
fn munge(entries: &mut [FileEntry]) {
    for e in entries.iter_mut().filter(|e| e.is_symlink()) {
        if let Some(t) = e.link_target_mut() {
            let mut v = crate::options::SYMLINK_PREFIX.as_bytes().to_vec();
            v.append(t);
            *t = v;
        }
        e.set_size(e.link_target().map_or(e.size(), |t| t.len() as i64));
    }
}

/// A daemon's receiver: every symlink target is made to stay inside the
/// module: leading and doubled slashes and `.` components dropped, `..`
/// kept only as far as the link's own depth allows.
// upstream: flist.c:recv_file_entry() -> util1.c:sanitize_path()
pub fn sanitize_symlinks(entries: &mut [FileEntry]) {
    for e in entries.iter_mut().filter(|e| e.is_symlink()) {
        let depth = e.name.iter().filter(|&&b| b == b'/').count();
        if let Some(t) = e.link_target_mut() {
            if !t.is_empty() {
                *t = sanitize_link(t, depth);
                let n = t.len() as i64;
                e.set_size(n);
            }
        }
    }
}

/// `target` with leading and doubled `/` and `.` components removed, and
/// `..` kept only as the first `depth` components (elsewhere it removes the
/// component before it, or nothing); "." when nothing is left. A component
/// keeps the slash that followed it.
pub fn sanitize_link(target: &[u8], depth: usize) -> Vec<u8> {
    let mut depth = depth;
    let mut v: Vec<u8> = Vec::with_capacity(target.len());
    // Output before `start` is made of kept leading `..` components.
    let mut start = 0;
    let mut i = 0;
    let at_end = |k: usize| k >= target.len() || target[k] == b'/';
    while i < target.len() {
        if target[i] == b'/' {
            i += 1;
            continue;
        }
        if target[i] == b'.' && at_end(i + 1) {
            i += 1;
            continue;
        }
        if target[i] == b'.' && target.get(i + 1) == Some(&b'.') && at_end(i + 2) {
            if depth == 0 || v.len() != start {
                i += 2;
                if v.len() != start {
                    // Drop the previous component (and its slash).
                    v.pop();
                    while v.len() > start && v.last() != Some(&b'/') {
                        v.pop();
                    }
                }
                continue;
            }
            depth -= 1;
            start = v.len() + 3;
        }
        while i < target.len() {
            let b = target[i];
            v.push(b);
            i += 1;
            if b == b'/' {
                break;
            }
        }
    }
    if v.is_empty() {
        v.push(b'.');
    }
    v
}

/// Refuses `--munge-links` where a `/rsyncd-munged` directory exists: the
/// munged links would lead into it.
// upstream: options.c:parse_arguments(), clientserver.c:rsync_module()
pub fn check_munge_dir(opts: &Options) -> Result<()> {
    let dir = crate::options::SYMLINK_PREFIX.trim_end_matches('/');
    if opts.munge_links && fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(Error::new(
            exit::RERR_UNSUPPORTED,
            format!("Symlink munging is unsafe when a {dir} directory exists."),
        ));
    }
    Ok(())
}

/// The whole-file checksum of a local file (for -c).
pub fn file_checksum(path: &Path, session: &Session) -> Result<Vec<u8>> {
    file_checksum_with(&Sources::Ambient, path, session, false)
}

/// As [`file_checksum`], read through `src`, optionally without touching
/// the atime.
pub fn file_checksum_with(
    src: &Sources,
    path: &Path,
    session: &Session,
    noatime: bool,
) -> Result<Vec<u8>> {
    let mut f = src.open(path, noatime).map_err(|err| {
        Error::file_io(format!(
            "open {} failed: {}",
            full_fname(path),
            os_err(&err)
        ))
    })?;
    checksum_reader(&mut f, session).map_err(|err| {
        Error::file_io(format!(
            "read {} failed: {}",
            full_fname(path),
            os_err(&err)
        ))
    })
}

/// The whole-file checksum of a stream.
pub fn checksum_reader<R: Read>(r: &mut R, session: &Session) -> io::Result<Vec<u8>> {
    let mut h = FileHasher::new(session.checksum);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

fn major(rdev: u64) -> u32 {
    (((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff)) as u32
}
fn minor(rdev: u64) -> u32 {
    (((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff)) as u32
}

fn last_component(p: &Path) -> Vec<u8> {
    match p.file_name() {
        Some(n) => n.as_bytes().to_vec(),
        None => b".".to_vec(),
    }
}

/// A local name as upstream's full_fname() shows it: absolute.
/// A source path in a message, quoted, as upstream's full_fname(): the
/// operator's own paths absolute; beneath a daemon module (see
/// [`crate::source::show_module`]) relative to the module, followed by
/// its name (`"sub/f" (in mod)`), so that a client never learns where
/// the module lies on the server.
// upstream: util1.c:full_fname()
pub(crate) fn full_fname(p: &Path) -> String {
    let Some((base, name)) = crate::source::module_shown() else {
        return format!("\"{}\"", abs_display(p));
    };
    let rel = match p.strip_prefix(base) {
        Ok(rel) => rel,
        Err(_) if p.is_relative() => p,
        // Not beneath the module (it never is): its last name only.
        Err(_) => Path::new(p.file_name().unwrap_or_default()),
    };
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    format!(
        "\"{}\" (in {name})",
        crate::text::name_text(rel.as_os_str().as_bytes())
    )
}

/// `p` made absolute (against the working directory) for a message.
pub(crate) fn abs_display(p: &Path) -> String {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    // A "./" inside (an argument's "./NAME") is not shown, as upstream's
    // names are cleaned (clean_fname()).
    let mut bytes = std::os::unix::ffi::OsStrExt::as_bytes(abs.as_os_str()).to_vec();
    while let Some(at) = bytes.windows(3).position(|w| w == b"/./") {
        bytes.drain(at..at + 2);
    }
    // Bytes that are not UTF-8 stay as they are on the way out (masked:
    // an --iconv server converts them, a terminal escapes them).
    crate::text::name_text(&bytes)
}

/// Writes the list, its end marker and (without --numeric-ids) the id
/// lists.
// upstream: flist.c:send_file_list()
pub fn encode(list: &FileList, opts: &Options, session: &Session, io_error: i32) -> Vec<u8> {
    encode_with(list, opts, session, io_error, None)
}

/// As [`encode`], each entry followed by its xattr list with `-X`.
pub fn encode_with(
    list: &FileList,
    opts: &Options,
    session: &Session,
    io_error: i32,
    xattrs: Option<&crate::xattrs::SendLists>,
) -> Vec<u8> {
    let mut all = Vec::new();
    let mut sink = |b: &[u8]| {
        all.extend_from_slice(b);
        Ok(())
    };
    let _ = encode_to(list, opts, session, io_error, xattrs, &mut sink);
    all
}

/// Bytes of the encoded list handed on at a time by [`encode_to`].
const ENCODE_CHUNK: usize = 64 << 10;

/// As [`encode_with`], handing the bytes to `sink` a piece at a time as
/// they are encoded: the encoded list (a third of the size of the list
/// itself) is never held whole. Returns how many bytes there were.
pub fn encode_to(
    list: &FileList,
    opts: &Options,
    session: &Session,
    io_error: i32,
    xattrs: Option<&crate::xattrs::SendLists>,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let fo = session.flist_options(opts);
    let mut enc = FlistEncoder::new(fo);
    let mut out = Vec::with_capacity(ENCODE_CHUNK + 4096);
    let mut sent = 0u64;
    let mut acls = opts.acls.then(protocol::acl::AclSender::default);
    for (i, e) in list.entries.iter().enumerate() {
        enc.encode(&mut out, e);
        // upstream: flist.c send_file_name(): the ACLs, then the xattrs.
        if let Some(tx) = acls.as_mut() {
            crate::acls::send(tx, &mut out, e);
        }
        if let Some(x) = xattrs {
            x.encode_entry(&mut out, i);
        }
        if out.len() >= ENCODE_CHUNK {
            sink(&out)?;
            sent += out.len() as u64;
            out.clear();
        }
    }
    enc.encode_end(&mut out, io_error);
    encode_id_lists(&mut out, list, opts, session);
    sink(&out)?;
    Ok(sent + out.len() as u64)
}

/// The id lists after the list's end marker (without --numeric-ids).
fn encode_id_lists(out: &mut Vec<u8>, list: &FileList, opts: &Options, session: &Session) {
    if !opts.numeric_ids {
        let id0 = session.compat & protocol::compat::CF_ID0_NAMES != 0;
        let (mut acl_users, mut acl_groups) = (BTreeMap::new(), BTreeMap::new());
        let acl_zero = if opts.acls {
            crate::acls::add_ids(&list.entries, &mut acl_users, &mut acl_groups)
        } else {
            (false, false)
        };
        if opts.owner || opts.acls {
            let mut seen: BTreeMap<u32, Vec<u8>> = acl_users;
            if opts.owner {
                named_ids(
                    list.entries.iter().map(|e| e.uid),
                    &mut seen,
                    ids::user_name,
                );
            }
            let v: Vec<(u32, Vec<u8>)> = seen.into_iter().collect();
            let zero =
                if id0 && (acl_zero.0 || opts.owner && list.entries.iter().any(|e| e.uid == 0)) {
                    ids::user_name(0)
                } else {
                    None
                };
            write_id_list(
                out,
                &v,
                if id0 {
                    Some(zero.as_deref().unwrap_or(b""))
                } else {
                    None
                },
            );
        }
        if opts.group || opts.acls {
            let mut seen: BTreeMap<u32, Vec<u8>> = acl_groups;
            if opts.group {
                named_ids(
                    list.entries.iter().map(|e| e.gid),
                    &mut seen,
                    ids::group_name,
                );
            }
            let v: Vec<(u32, Vec<u8>)> = seen.into_iter().collect();
            let zero =
                if id0 && (acl_zero.1 || opts.group && list.entries.iter().any(|e| e.gid == 0)) {
                    ids::group_name(0)
                } else {
                    None
                };
            write_id_list(
                out,
                &v,
                if id0 {
                    Some(zero.as_deref().unwrap_or(b""))
                } else {
                    None
                },
            );
        }
    }
}

/// Adds the name of each id but 0 in `ids` to `seen` (those it has not
/// already): each id is looked up once, not once per entry.
fn named_ids(
    ids: impl Iterator<Item = u32>,
    seen: &mut BTreeMap<u32, Vec<u8>>,
    name_of: impl Fn(u32) -> Option<std::borrow::Cow<'static, [u8]>>,
) {
    let mut tried = HashSet::new();
    let mut last = None;
    for id in ids {
        if id == 0 || last == Some(id) {
            continue;
        }
        last = Some(id);
        if seen.contains_key(&id) || !tried.insert(id) {
            continue;
        }
        if let Some(n) = name_of(id) {
            seen.insert(id, n.into_owned());
        }
    }
}

/// What a receiver got: the sorted list (its names checked as paths), the
/// id map and the sender's io_error.
pub struct Received {
    /// The sorted list.
    pub list: FileList,
    /// uid/gid mapping.
    pub ids: ids::IdMap,
    /// io_error from the end marker.
    pub io_error: i32,
    /// With -X: the xattr lists as sent (see [`crate::xattrs::Received`]).
    pub xattrs: crate::xattrs::Received,
}

/// Most entries a list may hold; bounds the allocation a peer can cause.
pub const MAX_ENTRIES: usize = 1 << 26;

/// Reads a file list, refusing unsafe names before anything touches the
/// filesystem.
// upstream: flist.c:recv_file_list(), recv_file_entry()
pub fn receive<R: Read>(r: &mut R, opts: &Options, session: &Session) -> Result<Received> {
    receive_checked(r, opts, session, None)
}

/// As [`receive`], with a pulling client's check of each name as it
/// arrives (before anything is written).
pub fn receive_checked<R: Read>(
    r: &mut R,
    opts: &Options,
    session: &Session,
    check: Option<&crate::trust::NameCheck>,
) -> Result<Received> {
    let mut reader = ListReader::new(opts, session, check.cloned());
    let (list, io_error) = reader.read_list(r, opts, session)?;
    reader.read_id_lists(r, opts, session)?;
    Ok(Received {
        list,
        ids: reader.id_map(opts),
        io_error,
        xattrs: reader.take_xattrs(),
    })
}

/// A receiver's state across the lists of one transfer (one list, or
/// with incremental recursion the top list and each sub-list): the
/// decoder, the ids named so far and what the peer made us hold.
pub struct ListReader {
    dec: FlistDecoder,
    /// Everything the peer's lists make us hold, against --max-alloc.
    held: u64,
    uids: Vec<(u32, Vec<u8>)>,
    gids: Vec<(u32, Vec<u8>)>,
    named: HashSet<(bool, u32)>,
    acls: Option<protocol::acl::AclReceiver>,
    xattrs: crate::xattrs::Received,
    check: Option<crate::trust::NameCheck>,
    /// Entries received in all lists.
    total: usize,
}

impl ListReader {
    /// A reader for the session's lists.
    pub fn new(
        opts: &Options,
        session: &Session,
        check: Option<crate::trust::NameCheck>,
    ) -> ListReader {
        ListReader {
            dec: FlistDecoder::new(session.flist_options(opts)),
            held: 0,
            uids: Vec::new(),
            gids: Vec::new(),
            named: HashSet::new(),
            acls: crate::acls::receiver(opts),
            xattrs: crate::xattrs::Received::default(),
            check,
            total: 0,
        }
    }

    /// Incremental recursion: the next list starts at wire index `start`.
    pub fn start_segment(&mut self, start: usize) {
        self.dec.start_segment(start as u32);
    }

    /// Gives back to the --max-alloc budget what freed lists held.
    pub fn credit(&mut self, bytes: u64) {
        self.held = self.held.saturating_sub(bytes);
    }

    /// Reads one list up to its end marker; returns it validated (every
    /// name a safe path), sorted and cleaned, with the marker's io_error.
    // upstream: flist.c:recv_file_list(), recv_file_entry()
    pub fn read_list<R: Read>(
        &mut self,
        r: &mut R,
        opts: &Options,
        session: &Session,
    ) -> Result<(FileList, i32)> {
        let mut list = FileList::default();
        while let Some(e) = self.read_entry(r, opts, session)? {
            list.entries.push(e);
        }
        let mut io_error = self.dec.io_error();
        // --iconv: the names arrive in the sender's charset.
        names_from_wire(&mut list.entries, session, &mut io_error)?;
        finish_list(&mut list, opts)?;
        Ok((list, io_error))
    }

    fn read_entry<R: Read>(
        &mut self,
        r: &mut R,
        opts: &Options,
        session: &Session,
    ) -> Result<Option<FileEntry>> {
        let limit = opts.ctl.max_alloc();
        let mut e = match self.dec.decode(r) {
            Ok(Some(e)) => e,
            Ok(None) => return Ok(None),
            // upstream: flist.c:recv_file_entry() calls overflow_exit() here.
            Err(protocol::Error::TooLong {
                field: "name",
                len,
                max,
            }) => {
                return Err(Error::new(
                    exit::RERR_MALLOC,
                    format!("overflow: file-list name length {len} exceeds {max} [receiver]"),
                ));
            }
            Err(other) => return Err(other.into()),
        };
        // Names sent inside entries (upstream recv_user_name()): each id's
        // first name counts, looked up as it arrives.
        for n in self.dec.take_names() {
            if opts.numeric_ids || !self.named.insert((n.user, n.id)) {
                continue;
            }
            self.held += n.name.len() as u64 + 32;
            crate::alloc::check_alloc(opts, self.held, "receiver")?;
            let _ = ids::local_id(n.user, &n.name);
            let list = if n.user {
                &mut self.uids
            } else {
                &mut self.gids
            };
            list.push((n.id, n.name));
        }
        // upstream: "." is the transfer root; as a file, --force would
        // remove the destination to make room for it.
        if (e.name == b"." || e.name == b"/.") && !e.is_dir() {
            return Err(Error::new(
                exit::RERR_PROTOCOL,
                format!(
                    "ERROR: rejecting non-directory transfer-root entry: {}",
                    String::from_utf8_lossy(&e.name)
                ),
            ));
        }
        if let Some(rx) = self.acls.as_mut() {
            let before = rx.held();
            crate::acls::receive(rx, r, &mut e)?;
            self.held += (rx.held() - before) as u64;
        }
        if let Some(c) = &self.check {
            c.check(&mut e, session.protocol)?;
        }
        if self.total >= MAX_ENTRIES {
            return Err(Error::protocol(format!(
                "file list has more than {MAX_ENTRIES} entries"
            )));
        }
        self.total += 1;
        self.held += received_entry_cost(&e);
        crate::alloc::check_alloc(opts, self.held, "receiver")?;
        if opts.xattrs > 0 {
            let mut budget = limit.saturating_sub(self.held);
            let before = budget;
            e.xattr = Some(self.xattrs.receive(r, &e, &mut budget)?).into();
            self.held += before - budget;
        }
        Ok(Some(e))
    }

    /// The uid and gid lists after the (only) list, without
    /// --numeric-ids.
    pub fn read_id_lists<R: Read>(
        &mut self,
        r: &mut R,
        opts: &Options,
        session: &Session,
    ) -> Result<()> {
        if opts.numeric_ids {
            return Ok(());
        }
        let limit = opts.ctl.max_alloc();
        let id0 = session.compat & protocol::compat::CF_ID0_NAMES != 0;
        let mut ids_of = |held: &mut u64| match read_id_list_within(r, id0, limit - *held) {
            Ok((list, cost)) => {
                *held += cost;
                Ok(list)
            }
            Err(protocol::Error::TooLong {
                field: "id list bytes",
                len,
                ..
            }) => Err(crate::alloc::check_alloc(opts, *held + len, "receiver")
                .err()
                .unwrap_or_else(|| Error::protocol("id list over the allocation bound"))),
            Err(other) => Err(Error::from(other)),
        };
        if opts.owner || opts.acls {
            let more = ids_of(&mut self.held)?;
            self.uids.extend(more);
        }
        if opts.group || opts.acls {
            let more = ids_of(&mut self.held)?;
            self.gids.extend(more);
        }
        if let Some(rx) = self.acls.as_mut() {
            crate::acls::inline_names(rx, &mut self.uids, &mut self.gids);
        }
        Ok(())
    }

    /// The id map for the names received so far.
    pub fn id_map(&self, opts: &Options) -> ids::IdMap {
        let parse_map = |m: &Option<String>, user: bool| {
            m.as_deref()
                .and_then(|m| ids::MapRules::parse(m, user).ok())
        };
        ids::IdMap::new(&self.uids, &self.gids, opts.numeric_ids).with_maps(
            &self.uids,
            &self.gids,
            parse_map(&opts.usermap, true).as_ref(),
            parse_map(&opts.groupmap, false).as_ref(),
        )
    }

    /// Incremental recursion (no id lists follow): the names that came
    /// inline with the ACLs of the list just read join those named so far.
    // upstream: acls.c recv_ida_entries() (recv_user_name() as they arrive)
    pub fn take_acl_names(&mut self) {
        if let Some(rx) = self.acls.as_mut() {
            crate::acls::inline_names(rx, &mut self.uids, &mut self.gids);
        }
    }

    /// Ids named so far (users, groups).
    pub fn named_ids(&self) -> usize {
        self.uids.len() + self.gids.len()
    }

    /// -X: the xattr lists received since the last call (the reader
    /// keeps counting them, as one numbering spans the transfer).
    pub fn take_xattrs(&mut self) -> crate::xattrs::Received {
        self.xattrs.take_new()
    }
}

/// Checks the names of a received list, sorts and cleans it. Each name
/// that ends up in it must make a `RelPath`: the receiving side makes an
/// entry's path from its name with that same check where it uses it
/// ([`crate::ctx::RecvCtx::path_of`]), and keeps no copy.
fn finish_list(list: &mut FileList, opts: &Options) -> Result<()> {
    for e in &list.entries {
        // upstream: -R names may start with a slash (stripped after sorting).
        if e.name.is_empty()
            || (e.name.first() == Some(&b'/') && !opts.tree.relative())
            || has_dotdot(&e.name)
            || e.name.contains(&0)
        {
            return Err(Error::new(
                exit::RERR_UNSUPPORTED,
                format!(
                    "ABORTING due to unsafe pathname from sender: {}",
                    String::from_utf8_lossy(&e.name)
                ),
            ));
        }
        // upstream: only --delete-missing-args makes a mode-0 entry legal.
        if e.mode == 0 && opts.tree.missing_args != 2 {
            return Err(Error::protocol(format!(
                "invalid file mode 00 for {} [Receiver]",
                String::from_utf8_lossy(&e.name)
            )));
        }
        if e.name == b"." && !e.is_dir() {
            return Err(Error::protocol(
                "ABORTING due to a non-directory \".\" entry from sender",
            ));
        }
    }
    if opts.munge_links {
        munge(&mut list.entries);
    }
    list.sort_keeping(crate::charset::active());
    crate::treeshape::clean_received(&mut list.entries, opts);
    // A -R name that was only slashes became "."; it must be a directory.
    if list.entries.iter().any(|e| e.name == b"." && !e.is_dir()) {
        return Err(Error::protocol(
            "ABORTING due to a non-directory \".\" entry from sender",
        ));
    }
    for e in &list.entries {
        RelPath::new(&e.name).map_err(|err| {
            Error::new(
                exit::RERR_UNSUPPORTED,
                format!(
                    "ABORTING due to unsafe pathname from sender: {} ({err})",
                    String::from_utf8_lossy(&e.name)
                ),
            )
        })?;
    }
    Ok(())
}

/// Bytes one received entry makes the receiver hold until the transfer
/// ends: the entry in the list, its name when too long to be inline
/// (there is no second copy: a path is made from it where it is used),
/// its side allocation of rare
/// fields (symlink target, checksum, ACLs) when it has one, its slot in
/// the sort's index, and with -H the decoder's copy of a hard-link group's
/// first entry. Heap blocks are counted as the allocator hands them out
/// ([`protocol::flist::heap_cost`]).
pub(crate) fn received_entry_cost(e: &FileEntry) -> u64 {
    let entry = std::mem::size_of::<FileEntry>();
    let extra = |e: &FileEntry| {
        e.extra.as_ref().map_or(0, |_| {
            heap_cost(std::mem::size_of::<protocol::flist::Extra>())
                + e.link_target().map_or(0, |t| heap_cost(t.len()))
                + e.checksum().map_or(0, |c| heap_cost(c.len()))
                + e.acl().map_or(0, |_| {
                    heap_cost(std::mem::size_of::<protocol::acl::EntryAcl>())
                })
        })
    };
    let leader = if e.hlink.is_some() && !e.is_dir() {
        entry + extra(e) + std::mem::size_of::<(u32, usize)>()
    } else {
        0
    };
    let bytes = entry
        + std::mem::size_of::<u32>()
        + if e.name.is_heap() {
            heap_cost(e.name.len())
        } else {
            0
        }
        + extra(e)
        + leader;
    bytes as u64
}

#[cfg(test)]
mod sanitize_tests {
    use super::sanitize_link;

    #[test]
    fn sanitizes_like_upstream() {
        let cases: &[(&str, usize, &str)] = &[
            ("/etc/passwd", 0, "etc/passwd"),
            ("../../etc/passwd", 0, "etc/passwd"),
            ("../file.txt", 1, "../file.txt"),
            ("../../file.txt", 1, "../file.txt"),
            ("/rsyncd-munged/", 0, "rsyncd-munged/"),
            ("a/b/..", 0, "a/"),
            ("a/../..", 3, ".."),
            ("./a//./b", 0, "a/b"),
            ("..", 0, "."),
            ("x/..", 0, "."),
        ];
        for &(t, d, want) in cases {
            let got = sanitize_link(t.as_bytes(), d);
            assert_eq!(String::from_utf8_lossy(&got), want, "{t} at depth {d}");
        }
    }
}

/// The client's "building file list ... done" / "receiving file list ...
/// done" (upstream's non-incremental form, `--info=flist`; level 2 counts
/// the files), or a receiver's "receiving incremental file list".
// upstream: flist.c:start_filelist_progress() / finish_filelist_progress()
pub struct FlistProgress<'a> {
    out: Option<&'a crate::out::Out>,
    level: u8,
}

impl<'a> FlistProgress<'a> {
    /// Starts it when this side is the client and the options ask for it.
    pub fn start(
        opts: &crate::Options,
        client: bool,
        out: &'a crate::out::Out,
    ) -> FlistProgress<'a> {
        let level = opts.ctl.info.flist;
        let on = client && level > 0 && !opts.quiet && (opts.recursive || opts.dirs);
        FlistProgress {
            out: on.then_some(out),
            level,
        }
    }

    /// A receiver with incremental recursion says so instead.
    // upstream: flist.c recv_file_list()
    pub fn incremental(&self) {
        if let Some(out) = self.out {
            out.client_text(b"receiving incremental file list\n");
        }
    }

    /// A sender with incremental recursion says so instead.
    // upstream: flist.c send_file_list()
    pub fn sending_incremental(&self) {
        if let Some(out) = self.out {
            out.client_text(b"sending incremental file list\n");
        }
    }

    /// Says "KIND file list ... " as the list starts (`kind`: "building"
    /// or "receiving"), the line held open until [`FlistProgress::finish`]
    /// ends it with "done": a message meanwhile starts on a line of its
    /// own, and "done" follows on another, as upstream's.
    // upstream: flist.c:start_filelist_progress()
    pub fn begin(&self, kind: &str) {
        let Some(out) = self.out.filter(|_| self.level < 2) else {
            return;
        };
        out.client_text(format!("{kind} file list ... ").as_bytes());
        out.hold_line();
    }

    /// Prints the line once the list of `count` entries is complete
    /// (`kind`: "building" or "receiving").
    pub fn finish(&self, count: usize, kind: &str) {
        let Some(out) = self.out else {
            return;
        };
        if self.level < 2 {
            // The line [`FlistProgress::begin`] left open.
            out.release_line();
            out.client_text(b"done\n");
            return;
        }
        // The running count at every hundredth entry: the sender counts
        // before adding an entry (0, 100, ...), the receiver after (100,
        // 200, ...); the first one starts a new line.
        let counts: Vec<usize> = if kind == "receiving" {
            (100..=count).step_by(100).collect()
        } else {
            (0..count).step_by(100).collect()
        };
        let nl = if counts.is_empty() { "" } else { "\n" };
        out.client_text(format!("{kind} file list ... {nl}").as_bytes());
        for c in counts {
            out.client_text(format!(" {c} files...\r").as_bytes());
        }
        out.client_text(
            format!(
                "{count} file{}to consider\n",
                if count == 1 { " " } else { "s " }
            )
            .as_bytes(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::unsafe_symlink;

    #[test]
    fn unsafe_symlinks() {
        let cases: &[(&str, &str, bool)] = &[
            ("f", "l", false),
            ("", "l", true),
            ("/etc/passwd", "l", true),
            ("../x", "l", true),
            ("../x", "d/l", false),
            ("../../x", "d/l", true),
            ("../../d/x", "d/e/l", false),
            ("./../x", "d/l", true),
            ("a/../b", "l", true),
            ("a/..", "d/l", true),
            ("..", "d/l", false),
            ("..", "l", true),
            ("sub/./x", "l", false),
            ("../x", "./d/l", false),
        ];
        for (target, name, want) in cases {
            assert_eq!(
                unsafe_symlink(target.as_bytes(), name.as_bytes()),
                *want,
                "{target} at {name}"
            );
        }
    }
}
