//! State shared by the generator and receiver threads of one receiving
//! side.
use crate::ids::IdMap;
use crate::options::Options;
use crate::out::Out;
use crate::session::Session;
use crate::stats::XferStats;
use crate::store::Store;
use confine::{RelPath, Root};
use protocol::flist::FileEntry;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, RwLock};

/// The receiving side's view of one transfer.
pub struct RecvCtx {
    /// Options after parsing.
    pub opts: Options,
    /// Agreed parameters.
    pub session: Session,
    /// Sorted entries; the index is the ndx (but see `wire_order`). With
    /// incremental recursion the receiver thread appends each sub-list as
    /// it arrives, and a list both roles have finished is freed but for its
    /// directories and -H group members (`increc::release`).
    pub entries: Store<FileEntry>,
    /// Under `--iconv`: the peer's index of each sorted entry, and the
    /// sorted index of each peer's index (the list came in another order).
    /// Never with incremental recursion (not granted under `--iconv`).
    pub wire_order: Option<(Vec<u32>, Vec<u32>)>,
    /// The entry whose path is not its name, with that path: a lone file
    /// stored under the destination's own name. Every other entry lands at
    /// its name (see [`RecvCtx::path_of`]).
    pub renamed: Option<(usize, RelPath)>,
    /// Sender ids to ours (grown by the names each sub-list carries).
    pub ids: RwLock<IdMap>,
    /// Incremental recursion: the segments of the list.
    pub inc: Option<Segments>,
    /// The destination directory handle: every filesystem call of the
    /// generator and receiver goes through it.
    pub root: Root,
    /// Messages.
    pub out: Arc<Out>,
    /// Counters.
    pub stats: Arc<Mutex<XferStats>>,
    /// This side is the server (no terminal output).
    pub am_server: bool,
    /// The destination directory was created for this transfer (upstream
    /// FLAG_DIR_CREATED on ".").
    pub dest_created: bool,
    /// Dry run into a destination that does not exist: everything is new.
    pub dest_missing: bool,
    /// Delta transfers are off (-W, or the default for a local copy).
    pub whole_file: bool,
    /// We run as root (ownership is applied and reported).
    pub am_root: bool,
    /// The rules that protect destination files from deletion.
    pub filters: filter::FilterList,
    /// A daemon module's rules, with the module-relative path of `root`:
    /// names they exclude are refused.
    pub daemon_filter: Option<(crate::filters::DaemonFilter, Vec<u8>)>,
    /// The update options' directories (partial, temp, backup, basis).
    pub dirs: crate::basis::Dirs,
    /// Partial-file and delayed-update bookkeeping.
    pub upd: Updates,
    /// Received symlink targets are sanitized (a daemon module not
    /// chrooted at its own root): each is judged again where the link is
    /// physically created.
    pub sanitize_links: bool,
    /// Replaying a batch: which files the generator wants.
    pub batch_wants: Option<Wants>,
    /// A dry run whose stream still carries file data (a replay, or a
    /// client's `--only-write-batch` pull): the receiver reads it past.
    pub batch_data_in_dry_run: bool,
    /// -X: the received xattr lists and what the sender's replies filled in.
    pub xattrs: crate::xattrs::RecvLists,
    /// The destination directory as the kernel names it, for messages
    /// about the operator's own files (None beneath a daemon module).
    pub shown_root: Option<String>,
}

impl RecvCtx {
    /// The peer's index of sorted entry `i`.
    pub fn wire_ndx(&self, i: i32) -> i32 {
        match (&self.wire_order, usize::try_from(i)) {
            (Some((to_wire, _)), Ok(k)) => to_wire.get(k).map_or(i, |&w| w as i32),
            _ => i,
        }
    }
    /// The sorted index of the peer's index `ndx` (checked in range).
    pub fn local_ndx(&self, ndx: i32) -> i32 {
        match (&self.wire_order, usize::try_from(ndx)) {
            (Some((_, from_wire)), Ok(k)) => from_wire.get(k).map_or(ndx, |&l| l as i32),
            _ => ndx,
        }
    }

    /// Runs `f` on the counters.
    pub fn stats<T>(&self, f: impl FnOnce(&mut XferStats) -> T) -> T {
        let mut g = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }
    /// Counts a created item of kind `k` (see `stats::kind_index`). A
    /// replayed batch counts what its records say instead (upstream's
    /// receiver counts ITEM_IS_NEW).
    pub fn count_created(&self, k: usize) {
        if self.batch_wants.is_none() {
            self.stats(|s| s.created[k] += 1);
        }
    }
    /// The name used in messages (empty for a freed entry).
    pub fn name(&self, ndx: usize) -> String {
        (self.entries.get(ndx)).map_or_else(String::new, |e| crate::text::name_text(&e.name))
    }
    /// The name of entry `ndx` in an error line: absolute for the
    /// operator's own destination, as upstream's full_fname(); as listed
    /// beneath a daemon module.
    pub fn full_name(&self, ndx: usize) -> String {
        self.full_path(
            self.path_of(ndx)
                .as_ref()
                .map_or(&b""[..], |p| p.as_bytes()),
        )
    }
    /// Where entry `i` lands beneath `root`, when it is stored and not
    /// freed: its name made a path by the same checks that accepted the
    /// list (`RelPath::new`, see `flist::finish_list`), or the path it was
    /// [`renamed`](Self::renamed) to. The receiving side keeps no second
    /// copy of the names.
    pub fn path_of(&self, i: usize) -> Option<RelPath> {
        if let Some((k, p)) = &self.renamed {
            if *k == i {
                return Some(p.clone());
            }
        }
        RelPath::new(&self.entries.get(i)?.name).ok()
    }
    /// [`Self::path_of`] for an entry that is there; panics when it is
    /// not (callers check indexes from a peer first).
    pub fn path(&self, i: usize) -> RelPath {
        match self.path_of(i) {
            Some(p) => p,
            None => panic!("no path for entry {i} ({} stored)", self.entries.len()),
        }
    }
    /// [`Self::full_name`] of a path relative to the destination.
    pub fn full_path(&self, rel: &[u8]) -> String {
        let rel = if rel.is_empty() { &b"."[..] } else { rel };
        match &self.shown_root {
            Some(root) => format!(
                "{}/{}",
                root.trim_end_matches('/'),
                crate::text::name_text(rel)
            ),
            None => crate::text::name_text(rel),
        }
    }
    /// Our uid for an entry.
    pub fn uid(&self, e: &FileEntry) -> u32 {
        self.id_map().uid(e.uid)
    }
    /// Our gid for an entry.
    pub fn gid(&self, e: &FileEntry) -> u32 {
        self.id_map().gid(e.gid)
    }
    /// The id map as it stands.
    pub fn id_map(&self) -> std::sync::RwLockReadGuard<'_, IdMap> {
        self.ids.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// Events from the receiver thread to the generator thread (upstream's
/// internal pipe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenEvent {
    /// The receiver finished a phase (upstream MSG_DONE / NDX_DONE).
    Done,
    /// A file failed verification: request it again (MSG_REDO).
    Redo(usize),
    /// -H: a hard-linked file is in place; its group can link to it
    /// (upstream MSG_SUCCESS to the generator).
    Placed(usize),
    /// Incremental recursion: the receiver is done with a requested file
    /// (upstream got_flist_entry_status() FES_SUCCESS / FES_NO_SEND).
    Finished(usize),
    /// Incremental recursion: a new segment of the list is stored.
    Segment,
    /// Incremental recursion: the sender has sent its last sub-list.
    FlistEof,
}

/// The receiving side of a replay learns from its generator which files
/// it wants, in list order (upstream: the generator's pipe to the receiver,
/// receiver.c gen_wants_ndx()).
pub struct Wants {
    tx: Mutex<Sender<i32>>,
    rx: Mutex<WantState>,
}

struct WantState {
    rx: Receiver<i32>,
    next: Option<i32>,
    eof: bool,
}

impl std::fmt::Debug for Wants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wants")
    }
}

impl Default for Wants {
    fn default() -> Self {
        let (tx, rx) = channel();
        Wants {
            tx: Mutex::new(tx),
            rx: Mutex::new(WantState {
                rx,
                next: None,
                eof: false,
            }),
        }
    }
}

impl Wants {
    /// Generator: this file is wanted.
    pub fn want(&self, ndx: usize) {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let _ = tx.send(ndx as i32);
    }
    /// Generator: no more wanted files in this pass.
    pub fn done(&self) {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let _ = tx.send(-1);
    }
    /// Receiver: whether the generator wants `ndx`; every wanted file
    /// before it that the batch skipped is passed to `missing`.
    pub fn wants(&self, ndx: i32, missing: &mut dyn FnMut(usize)) -> bool {
        let mut st = self.rx.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if st.eof {
                return false;
            }
            let next = match st.next.take() {
                Some(n) => n,
                None => match st.rx.recv() {
                    Ok(n) if n >= 0 => n,
                    _ => {
                        st.eof = true;
                        return false;
                    }
                },
            };
            if next == ndx {
                return true;
            }
            if next > ndx {
                st.next = Some(next);
                return false;
            }
            missing(next as usize);
        }
    }
}

/// One list of the transfer: wire indexes `start..start + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seg {
    /// Wire index of the first entry.
    pub start: usize,
    /// Entries.
    pub len: usize,
    /// The directory whose contents these are (its wire index); none for
    /// the top list.
    pub parent: Option<usize>,
}

/// A directory of the lists (upstream dir_flist), by dir_ndx.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DirSlot {
    /// Its wire index.
    pub(crate) ndx: usize,
    /// Its sub-list arrived (upstream FLAG_GOT_DIR_FLIST).
    pub(crate) got: bool,
}

#[derive(Debug, Default)]
pub(crate) struct SegState {
    pub(crate) segs: Vec<Seg>,
    pub(crate) dirs: Vec<DirSlot>,
    /// Lists not yet finished by the sender's NDX_DONE (upstream's chain
    /// from first_flist).
    pub(crate) live: usize,
    /// NDX_FLIST_EOF arrived.
    pub(crate) eof: bool,
    /// Per list: how many of the two roles are done with it (at two it is
    /// freed).
    pub(crate) released: Vec<u8>,
    /// Lists the receiver has seen the sender's NDX_DONE for.
    pub(crate) recv_done: usize,
    /// What freed lists held of the --max-alloc budget, not yet credited
    /// back to the list reader.
    pub(crate) credit: u64,
    /// The segments [`Segments::seg_of`] found last (the generator's and
    /// the receiver's, each mostly asking about the segment it asked
    /// about before, or the next one).
    hints: [usize; 2],
}

/// The segments of a received list, shared by the receiving roles.
#[derive(Debug, Default)]
pub struct Segments {
    state: Mutex<SegState>,
}

impl Segments {
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut SegState) -> T) -> T {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }
    /// Segments received so far.
    pub fn count(&self) -> usize {
        self.with(|s| s.segs.len())
    }
    /// Segment `k`.
    pub fn seg(&self, k: usize) -> Option<Seg> {
        self.with(|s| s.segs.get(k).copied())
    }
    /// The segment holding wire index `ndx` (its directory's slot
    /// included).
    pub fn seg_of(&self, ndx: usize) -> Option<usize> {
        self.with(|s| {
            // What the search below finds: the last segment starting at or
            // before `ndx + 1`, if it reaches `ndx`.
            let holds = |k: usize| {
                let g = &s.segs[k];
                g.start <= ndx + 1
                    && ndx < g.start + g.len
                    && s.segs.get(k + 1).is_none_or(|n| n.start > ndx + 1)
            };
            for j in 0..s.hints.len() {
                let h = s.hints[j];
                if let Some(k) = (h..s.segs.len().min(h + 2)).find(|&k| holds(k)) {
                    s.hints[j] = k;
                    return Some(k);
                }
            }
            let k = s.segs.partition_point(|g| g.start <= ndx + 1);
            let found = k
                .checked_sub(1)
                .filter(|&k| ndx < s.segs[k].start + s.segs[k].len);
            if let Some(k) = found {
                s.hints = [k, s.hints[0]];
            }
            found
        })
    }
    /// The entry a list's slot stands for: the slot before a sub-list is
    /// that list's directory (kept there), slot 0 before the top list its
    /// first directory (upstream: read_ndx_and_attrs() takes
    /// `ndx_start - 1` as dir_flist's entry for the list's parent).
    pub fn dir_slot_entry(&self, ndx: usize) -> Option<usize> {
        self.with(|s| {
            if ndx == 0 {
                return s.dirs.first().map(|d| d.ndx);
            }
            let k = s.segs.partition_point(|g| g.start <= ndx + 1);
            k.checked_sub(1)
                .filter(|&k| s.segs[k].start == ndx + 1 && s.segs[k].parent.is_some())
                .map(|_| ndx)
        })
    }
    /// NDX_FLIST_EOF has arrived.
    pub fn eof(&self) -> bool {
        self.with(|s| s.eof)
    }
    /// The lowest wire index the sender may still name: the slot of the
    /// first list the receiver has not seen finished.
    pub fn first_live(&self) -> usize {
        self.with(|s| s.segs.get(s.recv_done).map_or(0, |g| g.start - 1))
    }
}

/// The file the receiver is writing.
#[derive(Debug, Clone)]
pub struct Output {
    /// Written in `--temp-dir` (else beside the file or in place).
    pub(crate) in_temp_dir: bool,
    /// Its path beneath its root.
    pub tmp: RelPath,
    /// Written straight into the destination file.
    pub inplace: bool,
    /// A file without a name yet (O_TMPFILE), named `tmp` (the
    /// destination itself) once complete: see `confine::tmpfile`.
    pub(crate) unnamed: bool,
    /// The group of the directory a new temp file was made in, when
    /// known (see `receiver::made_owned`).
    pub(crate) dir_gid: Option<u32>,
}

/// Receiver state shared across files.
#[derive(Debug, Default)]
pub struct Updates {
    pub(crate) in_flight: Mutex<Option<(usize, Output)>>,
    pub(crate) delayed: Mutex<Vec<usize>>,
    /// The directory the receiver last made a file in, kept open for the
    /// next file there, with the [`Updates::dir_epoch`] it was opened in.
    pub(crate) dir: Mutex<(u64, confine::ParentCache)>,
    /// Counts the generator's steps that may replace or move a directory
    /// (`Gen::forget_dir`): a `dir` opened before one is opened again.
    pub(crate) dir_epoch: std::sync::atomic::AtomicU64,
    /// Incremental recursion: files requested and not yet finished, per
    /// segment (upstream in_progress). The generator counts a request,
    /// the receiver a finished file, and wakes the generator (with
    /// `GenEvent::Finished`) only when a segment's count drops to 0.
    pub(crate) in_progress: Mutex<Vec<usize>>,
    /// The receiver's effective uid and gid, asked for once.
    pub(crate) creds: std::sync::OnceLock<(u32, u32)>,
    /// --remove-source-files: MSG_SUCCESS indexes the receiver could not
    /// write at once (the generator held the writer), sent with the
    /// generator's next write.
    pub(crate) held_success: Mutex<Vec<i32>>,
}
