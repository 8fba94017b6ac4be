//! `-X`: extended attributes (upstream xattrs.c). The sender reads each
//! file's list, abbreviates values over 32 bytes by their MD5 and sends a
//! list once, then refers to it by index; the generator compares a list
//! with the destination, asks the sender for the long values it lacks,
//! and the receiver (or the generator, for what it can) sets and removes
//! names through descriptors opened beneath the destination's `Root`.
//!
//! Names: without `x` filter rules, a sender skips `system.*`, a receiver
//! that is not the super-user keeps only `user.*`; with `--fake-super`
//! other namespaces are kept as `user.rsync.NAME`. rsync's own
//! `user.rsync.%*` attributes travel only with `-XX`.
//! Symlinks, devices, FIFOs and sockets carry no xattrs here: Linux
//! keeps no user xattrs on symlinks, and opening a device or FIFO to
//! reach its xattrs through a descriptor could make it act (a path-based
//! call is never made on a peer's path).
use crate::error::{Error, Result};
use crate::options::Options;
use confine::xattr as fx;
use filter::{FilterList, Side};
use protocol::exit;
use protocol::flist::FileEntry;
use protocol::xattr::{self as wire, Item, Value, Wire};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, RwLock};

const USER: &[u8] = b"user.";
const SYSTEM: &[u8] = b"system.";
/// Where other namespaces live when kept by a non-super-user.
const RSYNC: &[u8] = b"user.rsync.";

/// How one side treats names (upstream am_root, preserve_xattrs,
/// saw_xattr_filter).
#[derive(Clone, Copy)]
pub struct Policy<'a> {
    /// 1 super-user, 0 not, -1 `--fake-super`.
    root: i32,
    /// The `-X` count.
    level: u8,
    /// The `x` rules, when there are any.
    rules: Option<&'a FilterList>,
    side: Side,
    /// -A: the ACL code keeps `user.rsync.%aacl`/`%dacl` under
    /// `--fake-super`.
    acls: bool,
}

impl<'a> Policy<'a> {
    /// The policy of this side.
    pub fn new(opts: &Options, rules: &'a FilterList, side: Side) -> Policy<'a> {
        let root = if opts.fake_super {
            -1
        } else if opts.am_root() {
            1
        } else {
            0
        };
        Policy {
            root,
            level: opts.xattrs,
            rules: rules.has_xattr_rules().then_some(rules),
            side,
            acls: opts.acls,
        }
    }

    /// A local name this side reads (sender, or the receiver comparing).
    // upstream: xattrs.c:rsync_xal_get()
    fn keep_local(&self, name: &[u8], sender: bool) -> bool {
        if let Some(r) = self.rules {
            if r.is_xattr_excluded(name, self.side) {
                return false;
            }
        } else if !sender && self.root == 0 {
            if !name.starts_with(USER) {
                return false;
            }
        } else if name.starts_with(SYSTEM) {
            return false;
        }
        if let Some(suffix) = rsync_pct(name) {
            if (sender && self.level < 2)
                || (self.root < 0 && matches!(suffix, b"stat" | b"aacl" | b"dacl"))
            {
                return false;
            }
        }
        true
    }

    /// A local name the receiver may remove when the sender lacks it.
    // upstream: xattrs.c:rsync_xal_set()
    fn removable(&self, name: &[u8]) -> bool {
        if let Some(r) = self.rules {
            if r.is_xattr_excluded(name, self.side) {
                return false;
            }
        } else if self.root <= 0 {
            if !name.starts_with(USER) {
                return false;
            }
        } else if name.starts_with(SYSTEM) {
            return false;
        }
        if self.root < 0 && name == crate::fakesuper::XSTAT_ATTR.as_bytes() {
            return false;
        }
        // upstream sets the xattrs before the ACLs (rsync.c
        // set_file_attrs()), so set_acl() rewrites what this removal
        // dropped; here the ACL of an item may be set first, so with -A
        // the ACL code alone decides these two.
        !(self.root < 0 && self.acls && matches!(rsync_pct(name), Some(b"aacl" | b"dacl")))
    }

    /// The name a sender puts on the wire.
    // upstream: xattrs.c:send_xattr()
    fn wire_name<'n>(&self, name: &'n [u8]) -> &'n [u8] {
        if self.root < 0
            && name.len() > RSYNC.len()
            && name.starts_with(RSYNC)
            && name[RSYNC.len()] != b'%'
        {
            &name[RSYNC.len()..]
        } else {
            name
        }
    }

    /// What a receiver keeps of a received name, and under which name.
    // upstream: xattrs.c:receive_xattr()
    fn received_name(&self, name: Vec<u8>) -> Option<Vec<u8>> {
        if let Some(r) = self.rules {
            if r.is_xattr_excluded(&name, self.side) {
                return None;
            }
        }
        let name = if self.root <= 0 && !name.starts_with(USER) {
            if self.root == 0 && self.rules.is_none() {
                return None;
            }
            [RSYNC, &name].concat()
        } else {
            name
        };
        if self.level < 2 && rsync_pct(&name).is_some() {
            return None;
        }
        Some(name)
    }
}

/// Runs `op`; refused for want of write permission (a read-only file
/// of ours), again with the owner's write bit added for the moment
/// (upstream set_xattr()'s added_write_perm).
fn writable<F: AsFd>(fd: F, op: impl Fn() -> rustix::io::Result<()>) -> rustix::io::Result<()> {
    match op() {
        Err(rustix::io::Errno::ACCESS) => {
            let mode = rustix::fs::fstat(&fd)?.st_mode & 0o7777;
            rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(mode | 0o200))?;
            let res = op();
            rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(mode))?;
            res
        }
        other => other,
    }
}

/// The suffix of a `user.rsync.%SUFFIX` name.
fn rsync_pct(name: &[u8]) -> Option<&[u8]> {
    (name.len() > RSYNC.len() && name.starts_with(RSYNC) && name[RSYNC.len()] == b'%')
        .then(|| &name[RSYNC.len() + 1..])
}

/// True when the entry's kind carries xattrs here.
pub fn carries(e: &FileEntry) -> bool {
    e.is_file() || e.is_dir()
}

/// The xattrs of an open file or directory, as this side keeps them,
/// sorted by name.
fn read_fd<F: AsFd>(
    fd: F,
    pol: &Policy<'_>,
    sender: bool,
) -> std::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut v = Vec::new();
    for name in fx::fd_list(&fd)? {
        if !pol.keep_local(&name, sender) {
            continue;
        }
        if let Some(val) = fx::fd_get(&fd, &name)? {
            v.push((name, val));
        }
    }
    v.sort();
    Ok(v)
}

/// The xattrs of an operator's own path (a sender's source read with
/// ambient authority), sorted by name.
fn read_path(p: &std::path::Path, pol: &Policy<'_>) -> std::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    use rustix::fs::OFlags;
    let fd = match rustix::fs::open(
        p,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => fd,
        // A symlink (followed by -L for its content): its own xattrs,
        // which Linux keeps none of (upstream reads them with llistxattr).
        Err(rustix::io::Errno::LOOP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let st = rustix::fs::fstat(&fd)?;
    let kind = st.st_mode as u32 & protocol::flist::S_IFMT;
    if kind != protocol::flist::S_IFREG && kind != protocol::flist::S_IFDIR {
        return Ok(Vec::new());
    }
    read_fd(&fd, pol, true)
}

/// One item as a sender holds it.
#[derive(Debug, Clone)]
struct SendItem {
    /// The local name (what a re-read asks for).
    local: Vec<u8>,
    /// The name on the wire.
    wire: Vec<u8>,
    value: Value,
}

/// A sender's lists: each entry's list index, the lists in wire order,
/// numbered across the whole transfer (with incremental recursion an
/// entry of a later list refers to an identical list an earlier one
/// sent, and a request for a long value may come for an entry of any
/// list in flight).
// upstream: xattrs.c rsync_xal_l, find_matching_xattr() (kept for the
// whole transfer)
#[derive(Debug, Default)]
pub struct SendLists {
    /// Without incremental recursion: each entry's list (else the index
    /// is kept in the entry, [`FileEntry::xattr`]).
    per_entry: Vec<u32>,
    lists: Vec<Vec<SendItem>>,
    /// The lists by a hash of their wire names and values, to find an
    /// identical one.
    seen: HashMap<u64, Vec<u32>>,
    sent: std::cell::Cell<usize>,
}

impl SendLists {
    /// Reads the xattrs of every entry of `list` (in list order, which is
    /// the wire order), sharing identical lists.
    // upstream: flist.c:send_file_name() -> get_xattr()
    pub fn collect(
        list: &impl crate::source::SentList,
        opts: &Options,
        rules: &FilterList,
        out: &crate::out::Out,
    ) -> SendLists {
        let pol = Policy::new(opts, rules, Side::Sender);
        let mut me = SendLists::default();
        for i in 0..list.entries().len() {
            let n = me.read_entry(list, i, &pol, out);
            me.per_entry.push(n);
        }
        // One list: no later list looks for an identical one.
        me.seen = HashMap::new();
        me
    }

    /// Under incremental recursion: reads the xattrs of the entries of
    /// one list about to be sent, numbering new lists on from those of
    /// the lists before. Returns each entry's list index (which the entry
    /// keeps, [`FileEntry::xattr`]).
    pub fn collect_more(
        &mut self,
        list: &impl crate::source::SentList,
        opts: &Options,
        rules: &FilterList,
        out: &crate::out::Out,
    ) -> Vec<u32> {
        let pol = Policy::new(opts, rules, Side::Sender);
        (0..list.entries().len())
            .map(|i| self.read_entry(list, i, &pol, out))
            .collect()
    }

    /// Reads entry `i`'s xattrs; returns the index of its list (an
    /// earlier identical one, else a new one).
    fn read_entry(
        &mut self,
        list: &impl crate::source::SentList,
        i: usize,
        pol: &Policy<'_>,
        out: &crate::out::Out,
    ) -> u32 {
        let mut items = Vec::new();
        if carries(&list.entries()[i]) {
            if let Some(path) = list.source_path(i) {
                match read_source(&list.source_of(i), &path, pol) {
                    Ok(v) => items = v,
                    Err(err) => {
                        out.add_io_error(1);
                        out.error_xfer(&format!(
                            "rsync: get_xattr_names: llistxattr(\"{}\") failed: {}",
                            path.display(),
                            crate::error::os_err(&err)
                        ));
                    }
                }
            }
        }
        let items: Vec<SendItem> = items
            .into_iter()
            .map(|(local, v)| SendItem {
                wire: pol.wire_name(&local).to_vec(),
                local,
                value: wire::wire_value(v),
            })
            .collect();
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            for it in &items {
                (&it.wire, &it.value).hash(&mut h);
            }
            h.finish()
        };
        let same = |a: &[SendItem]| {
            a.len() == items.len()
                && a.iter()
                    .zip(&items)
                    .all(|(x, y)| x.wire == y.wire && x.value == y.value)
        };
        let candidates = self.seen.entry(key).or_default();
        if let Some(&n) = candidates.iter().find(|&&n| same(&self.lists[n as usize])) {
            return n;
        }
        let next = self.lists.len() as u32;
        candidates.push(next);
        self.lists.push(items);
        next
    }

    /// Writes entry `i`'s list (after its file-list entry).
    pub fn encode_entry(&self, out: &mut Vec<u8>, i: usize) {
        self.encode_list(out, self.per_entry.get(i).copied().unwrap_or(0));
    }

    /// Writes list `ndx` after an entry: the list itself the first time,
    /// else a reference to it.
    // upstream: xattrs.c:send_xattr()
    pub fn encode_list(&self, out: &mut Vec<u8>, ndx: u32) {
        if ndx as usize == self.sent.get() {
            self.sent.set(self.sent.get() + 1);
            let items = &self.lists[ndx as usize];
            let pairs: Vec<(&[u8], &Value)> = items
                .iter()
                .map(|it| (it.wire.as_slice(), &it.value))
                .collect();
            wire::encode_literal(out, &pairs);
        } else {
            wire::encode_ref(out, ndx);
        }
    }

    /// The index of the list of entry `i` of the one list sent, or of
    /// entry `e` (incremental recursion).
    pub fn list_of(&self, i: usize, e: &FileEntry) -> u32 {
        match e.xattr.get() {
            Some(n) => n,
            None => self.per_entry.get(i).copied().unwrap_or(0),
        }
    }

    fn items(&self, ndx: u32) -> &[SendItem] {
        self.lists.get(ndx as usize).map_or(&[], |v| v.as_slice())
    }

    /// Reads the generator's request for entry `e` (whose xattrs are list
    /// `ndx`, read from `path` by `src`) and answers it: the reply the
    /// sender writes after its record of the entry to the receiver.
    // upstream: sender.c -> recv_xattr_request(), send_xattr_request()
    #[allow(clippy::too_many_arguments)]
    pub fn answer<R: Read>(
        &self,
        r: &mut R,
        ndx: u32,
        e: &FileEntry,
        path: &std::path::Path,
        src: &crate::source::Sources,
        out: &crate::out::Out,
    ) -> Result<Vec<u8>> {
        let items = self.items(ndx);
        let nums = wire::decode_request(r, items.len()).map_err(|err| {
            Error::protocol(format!(
                "[sender] could not find xattr for {}: {}",
                crate::text::name_text(&e.name),
                crate::error::sys_err(&err)
            ))
        })?;
        let mut values: Vec<(u32, Vec<u8>)> = Vec::new();
        for n in nums {
            let it = &items[n as usize - 1];
            if !matches!(it.value, Value::Abbrev { .. }) {
                return Err(Error::protocol(format!(
                    "[sender] internal abbrev error on {}",
                    crate::text::name_text(&e.name)
                )));
            }
            let v = reread(src, path, &it.local).unwrap_or_else(|| {
                out.error_xfer(&format!(
                    "failed to re-read xattr {} for {}",
                    String::from_utf8_lossy(&it.local),
                    path.display()
                ));
                Vec::new()
            });
            values.push((n, v));
        }
        let pairs: Vec<(u32, &[u8])> = values.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let mut reply = Vec::new();
        wire::encode_reply(&mut reply, &pairs);
        Ok(reply)
    }
}

/// A source's xattrs, through its module's `Root` or the operator's path.
fn read_source(
    src: &crate::source::Sources,
    path: &std::path::Path,
    pol: &Policy<'_>,
) -> std::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    match src.xattr_fd(path)? {
        Some(Some(fd)) => read_fd(&fd, pol, true),
        Some(None) => Ok(Vec::new()),
        None => read_path(path, pol),
    }
}

/// One long value read again for the reply.
fn reread(src: &crate::source::Sources, path: &std::path::Path, name: &[u8]) -> Option<Vec<u8>> {
    match src.xattr_fd(path).ok()? {
        Some(Some(fd)) => fx::fd_get(&fd, name).ok()?,
        Some(None) => None,
        None => {
            use rustix::fs::OFlags;
            let fd = rustix::fs::open(
                path,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY,
                rustix::fs::Mode::empty(),
            )
            .ok()?;
            fx::fd_get(&fd, name).ok()?
        }
    }
}

/// True when a request (generator to sender) and a reply (sender to
/// receiver) follow the record with these flags.
// upstream: the want_xattr_optim condition of rsync.c/sender.c/generator.c
pub fn exchange_follows(opts: &Options, session: &crate::session::Session, iflags: u32) -> bool {
    use crate::itemize::{ITEM_LOCAL_CHANGE, ITEM_REPORT_XATTR, ITEM_XNAME_FOLLOWS};
    let optim =
        session.protocol >= 31 && session.compat & protocol::compat::CF_AVOID_XATTR_OPTIM == 0;
    let both = ITEM_XNAME_FOLLOWS | ITEM_LOCAL_CHANGE;
    // upstream do_xfers: --only-write-batch turns on dry_run after the
    // options are parsed, so the exchange still happens (the batch
    // records the sender's replies).
    opts.xattrs > 0
        && (!opts.dry_run || opts.only_writes_batch())
        && iflags & ITEM_REPORT_XATTR != 0
        && !(optim && iflags & both == both)
}

/// The lists a receiver got, as the peer sent them (before this side's
/// name rules): see [`RecvLists::finish`]. The lists are numbered across
/// the whole transfer (with incremental recursion a later list's entry
/// may refer to one an earlier list brought); `count` is how many arrived
/// so far, `lists` those not yet taken (see [`Received::take_new`]).
// upstream: xattrs.c rsync_xal_l (kept for the whole transfer)
#[derive(Debug, Default)]
pub struct Received {
    lists: Vec<Vec<Item>>,
    count: usize,
}

impl Received {
    /// Reads the list that follows entry `e`, within `budget` bytes
    /// (lowered by what it holds). Returns the entry's list index.
    // upstream: xattrs.c:receive_xattr()
    pub fn receive<R: Read>(&mut self, r: &mut R, e: &FileEntry, budget: &mut u64) -> Result<u32> {
        let name = crate::text::name_text(&e.name);
        match wire::decode(r, self.count, budget) {
            Ok(Wire::Ref(n)) => Ok(n),
            Ok(Wire::Literal(items)) => {
                self.lists.push(items);
                self.count += 1;
                Ok(self.count as u32 - 1)
            }
            Err(err) => Err(wire_error(err, &name)),
        }
    }

    /// The lists that arrived since the last call (numbered on from
    /// those), for [`RecvLists::finish`] or [`RecvLists::extend`]; the
    /// count stays, so later references are checked against every list.
    pub fn take_new(&mut self) -> Received {
        Received {
            lists: std::mem::take(&mut self.lists),
            count: self.count,
        }
    }

    /// This side's name rules applied to each list.
    fn filtered<'p>(self, pol: &'p Policy<'_>) -> impl Iterator<Item = Arc<Vec<Item>>> + 'p {
        self.lists.into_iter().map(move |items| {
            let mut v: Vec<Item> = items
                .into_iter()
                .filter_map(|mut it| {
                    it.name = pol.received_name(std::mem::take(&mut it.name))?;
                    Some(it)
                })
                .collect();
            v.sort_by(|a, b| a.name.cmp(&b.name));
            Arc::new(v)
        })
    }

    /// Applies this side's name rules, giving the receiving side's state.
    pub fn finish(self, pol: &Policy<'_>) -> RecvLists {
        RecvLists {
            lists: RwLock::new(self.filtered(pol).collect()),
            filled: Mutex::default(),
            filled_bytes: Default::default(),
            requested: Mutex::default(),
        }
    }
}

fn wire_error(err: protocol::Error, name: &str) -> Error {
    match err {
        protocol::Error::TooLong {
            field: "xattr datum_len",
            ..
        } => Error::new(
            exit::RERR_PROTOCOL,
            "xattr datum_len exceeds per-value limit [receiver]",
        ),
        protocol::Error::Invalid {
            field: "xattr index",
            detail,
        } => Error::new(
            exit::RERR_STREAMIO,
            format!("receive_xattr: {detail} for {name}"),
        ),
        protocol::Error::Invalid {
            field: "xattr name",
            ..
        } => Error::new(
            exit::RERR_FILEIO,
            "Invalid xattr name received (missing trailing \\0).",
        ),
        protocol::Error::TooLong { field, len, max } => Error::new(
            exit::RERR_PROTOCOL,
            format!("{field} {len} exceeds limit {max} for {name} [receiver]"),
        ),
        other => other.into(),
    }
}

/// The receiving side's lists (shared by the generator and the
/// receiver), the long values learned from the sender's replies, and
/// which values the generator has asked for (never twice per list, as
/// upstream's sender allows).
#[derive(Debug, Default)]
pub struct RecvLists {
    /// Every list received so far, in wire order: with incremental
    /// recursion the receiver thread appends each sub-list's new lists
    /// before the generator can see its entries.
    lists: RwLock<Vec<Arc<Vec<Item>>>>,
    filled: Mutex<HashMap<(u32, u32), Vec<u8>>>,
    filled_bytes: std::sync::atomic::AtomicU64,
    requested: Mutex<HashSet<(u32, u32)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One xattr of a file that could not be made the sender's, in
/// upstream's words.
#[derive(Debug, thiserror::Error)]
pub enum SetProblem {
    /// The file's own list could not be read.
    #[error("llistxattr failed: {}", crate::error::sys_err(.0))]
    List(rustix::io::Errno),
    /// An abbreviated value neither sent nor found locally.
    #[error("Missing abbreviated xattr value, {}", String::from_utf8_lossy(.0))]
    Missing(Vec<u8>),
    /// Setting the named xattr failed.
    #[error("rsync_xal_set: fsetxattr(\"{}\") failed: {}", String::from_utf8_lossy(.0), crate::error::sys_err(.1))]
    Set(Vec<u8>, rustix::io::Errno),
    /// Removing the named xattr failed.
    #[error("rsync_xal_set: fremovexattr(\"{}\") failed: {}", String::from_utf8_lossy(.0), crate::error::sys_err(.1))]
    Remove(Vec<u8>, rustix::io::Errno),
}

/// What [`RecvLists::apply`] could not do: every problem, joined by "; ".
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ApplyError(pub Vec<SetProblem>);

impl crate::error::SysErr for ApplyError {
    fn sys_text(&self) -> String {
        crate::error::errno_text(&self.to_string())
    }
}

impl RecvLists {
    /// Appends the lists a later file list brought (incremental
    /// recursion), numbered on from those already held.
    pub fn extend(&self, more: Received, pol: &Policy<'_>) {
        if more.lists.is_empty() {
            return;
        }
        let mut lists = self.lists.write().unwrap_or_else(|p| p.into_inner());
        debug_assert_eq!(lists.len() + more.lists.len(), more.count);
        lists.extend(more.filtered(pol));
    }

    fn list(&self, e: &FileEntry) -> (u32, Arc<Vec<Item>>) {
        let lists = self.lists.read().unwrap_or_else(|p| p.into_inner());
        match e.xattr.get() {
            Some(n) => (n, lists.get(n as usize).cloned().unwrap_or_default()),
            None => (u32::MAX, Arc::default()),
        }
    }

    /// Compares the sender's list of `e` with the destination's (`local`,
    /// sorted); returns whether they differ and the long values to ask
    /// for (those that differ, not asked for before).
    // upstream: xattrs.c:xattr_diff(find_all), send_xattr_request(NULL)
    pub fn diff(&self, e: &FileEntry, local: &[(Vec<u8>, Vec<u8>)]) -> (bool, Vec<u32>) {
        let (_, items) = self.list(e);
        let items = items.as_slice();
        let mut differ = items.len() != local.len();
        let mut want = Vec::new();
        for it in items {
            let have = local
                .binary_search_by(|(n, _)| n.as_slice().cmp(&it.name))
                .ok()
                .map(|k| &local[k].1);
            let same = match (&it.value, have) {
                (Value::Full(v), Some(h)) => v == h,
                (Value::Abbrev { len, digest }, Some(h)) => {
                    *len == h.len() && *digest == wire::digest(h)
                }
                (_, None) => false,
            };
            if !same {
                differ = true;
                if matches!(it.value, Value::Abbrev { .. }) {
                    want.push(it.num);
                }
            }
        }
        if !differ {
            differ = local.iter().any(|(n, _)| {
                items
                    .binary_search_by(|it| it.name.as_slice().cmp(n))
                    .is_err()
            });
        }
        want.sort_unstable();
        (differ, want)
    }

    /// The values of [`RecvLists::diff`] that go into a request: each
    /// one once per list, as upstream's sender accepts.
    pub fn claim(&self, e: &FileEntry, mut nums: Vec<u32>) -> Vec<u32> {
        let (ndx, _) = self.list(e);
        let mut asked = lock(&self.requested);
        nums.retain(|&n| asked.insert((ndx, n)));
        nums
    }

    /// True when the destination's xattrs (`local`) already are those of
    /// `e` (a `--link-dest` basis is only linked then).
    pub fn same(&self, e: &FileEntry, local: &[(Vec<u8>, Vec<u8>)]) -> bool {
        e.xattr.is_none() || !self.diff(e, local).0
    }

    /// Reads the sender's reply for `e`: the long values asked for. A
    /// batch replay (`replay`) reads what the recording generator asked
    /// for, which this side's generator may not have claimed yet: there
    /// each value is still taken once and within the budget.
    // upstream: xattrs.c:recv_xattr_request() (receiver)
    pub fn read_reply<R: Read>(
        &self,
        r: &mut R,
        e: &FileEntry,
        budget: &mut u64,
        replay: bool,
    ) -> Result<()> {
        let (ndx, items) = self.list(e);
        let items = items.as_slice();
        let max = items.iter().map(|it| it.num).max().unwrap_or(0) as usize;
        // Only values our generator asked for, each once: what a peer
        // makes us hold stays within what we asked for and the budget.
        let valid = |n: u32| {
            items
                .iter()
                .any(|it| it.num == n && matches!(it.value, Value::Abbrev { .. }))
                && (replay || lock(&self.requested).contains(&(ndx, n)))
                && !lock(&self.filled).contains_key(&(ndx, n))
        };
        use std::sync::atomic::Ordering;
        *budget = budget.saturating_sub(self.filled_bytes.load(Ordering::Relaxed));
        let got = wire::decode_reply(r, max, &valid, budget).map_err(|err| {
            Error::protocol(format!(
                "[receiver] could not find xattr for {}: {}",
                crate::text::name_text(&e.name),
                crate::error::sys_err(&err)
            ))
        })?;
        let mut filled = lock(&self.filled);
        for (n, v) in got {
            self.filled_bytes
                .fetch_add(v.len() as u64, Ordering::Relaxed);
            filled.insert((ndx, n), v);
        }
        Ok(())
    }

    /// Makes the xattrs of the open file or directory `fd` those of `e`.
    /// A long value comes from a reply, or from `basis` (or the file
    /// itself) when its digest matches; the generator (`receiver` false)
    /// skips one it cannot find, the receiver reports it.
    // upstream: xattrs.c:set_xattr(), rsync_xal_set()
    pub fn apply<F: AsFd>(
        &self,
        fd: F,
        basis: Option<&std::fs::File>,
        e: &FileEntry,
        pol: &Policy<'_>,
        receiver: bool,
    ) -> std::result::Result<(), ApplyError> {
        let (ndx, items) = self.list(e);
        let items = items.as_slice();
        let current = fx::fd_list(&fd).map_err(|err| ApplyError(vec![SetProblem::List(err)]))?;
        let mut problems = Vec::new();
        for it in items {
            let value = match &it.value {
                Value::Full(v) => Some(v.clone()),
                Value::Abbrev { len, digest } => {
                    let filled = lock(&self.filled).get(&(ndx, it.num)).cloned();
                    let matches = |v: &Vec<u8>| v.len() == *len && wire::digest(v) == *digest;
                    if let Some(v) = filled {
                        Some(v)
                    } else if let Some(v) = basis
                        .and_then(|b| fx::fd_get(b, &it.name).ok().flatten())
                        .filter(matches)
                    {
                        Some(v)
                    } else if fx::fd_get(&fd, &it.name)
                        .ok()
                        .flatten()
                        .is_some_and(|v| matches(&v))
                    {
                        None
                    } else {
                        if receiver {
                            problems.push(SetProblem::Missing(it.name.clone()));
                        }
                        None
                    }
                }
            };
            if let Some(v) = value {
                let same = fx::fd_get(&fd, &it.name).ok().flatten().as_ref() == Some(&v);
                if !same {
                    if let Err(err) = writable(&fd, || fx::fd_set(&fd, &it.name, &v)) {
                        problems.push(SetProblem::Set(it.name.clone(), err));
                    }
                }
            }
        }
        for name in current {
            if !pol.removable(&name) || items.iter().any(|it| it.name == name) {
                continue;
            }
            if let Err(err) = writable(&fd, || fx::fd_remove(&fd, &name)) {
                problems.push(SetProblem::Remove(name, err));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ApplyError(problems))
        }
    }

    /// The xattrs of an open destination file or directory as the
    /// receiving side keeps them.
    pub fn local_fd<F: AsFd>(&self, fd: F, pol: &Policy<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
        read_fd(fd, pol, false).unwrap_or_default()
    }

    /// The destination's xattrs of `p` as the receiving side keeps them
    /// (empty for a kind that carries none, or when absent).
    pub fn local(
        &self,
        root: &confine::Root,
        p: &confine::RelPath,
        pol: &Policy<'_>,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        match root.xattr_fd(p) {
            Ok(Some(fd)) => read_fd(&fd, pol, false).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pol(root: i32, level: u8) -> Policy<'static> {
        Policy {
            root,
            level,
            rules: None,
            side: Side::Receiver,
            acls: false,
        }
    }

    #[test]
    fn names_as_upstream_keeps_them() {
        let user = pol(0, 1);
        assert_eq!(
            user.received_name(b"user.a".to_vec()),
            Some(b"user.a".to_vec())
        );
        assert_eq!(user.received_name(b"trusted.a".to_vec()), None);
        assert_eq!(user.received_name(b"security.x".to_vec()), None);
        assert_eq!(user.received_name(b"user.rsync.%stat".to_vec()), None);
        assert_eq!(
            pol(0, 2).received_name(b"user.rsync.%stat".to_vec()),
            Some(b"user.rsync.%stat".to_vec())
        );
        let fake = pol(-1, 1);
        assert_eq!(
            fake.received_name(b"trusted.a".to_vec()),
            Some(b"user.rsync.trusted.a".to_vec())
        );
        assert_eq!(fake.wire_name(b"user.rsync.trusted.a"), b"trusted.a");
        assert_eq!(fake.wire_name(b"user.rsync.%stat"), b"user.rsync.%stat");
        let root = pol(1, 1);
        assert_eq!(
            root.received_name(b"trusted.a".to_vec()),
            Some(b"trusted.a".to_vec())
        );
        assert!(root.keep_local(b"trusted.a", false));
        assert!(!root.keep_local(b"system.posix_acl_access", true));
        assert!(!pol(1, 1).keep_local(b"user.rsync.%stat", true));
        assert!(!fake.keep_local(b"user.rsync.%stat", false));
        // -X skips the fake-super ACL attributes as upstream rsync_xal_get().
        assert!(!fake.keep_local(b"user.rsync.%aacl", false));
        assert!(!fake.keep_local(b"user.rsync.%dacl", true));
        assert!(!pol(0, 1).keep_local(b"user.rsync.%aacl", true));
        assert!(pol(0, 2).keep_local(b"user.rsync.%aacl", true));
        assert!(!fake.removable(b"user.rsync.%stat"));
        // With -A the ACL code owns the fake-super ACL attributes.
        assert!(fake.removable(b"user.rsync.%aacl"));
        let fake_acls = Policy { acls: true, ..fake };
        assert!(!fake_acls.removable(b"user.rsync.%aacl"));
        assert!(!fake_acls.removable(b"user.rsync.%dacl"));
        assert!(fake_acls.removable(b"user.rsync.other"));
        assert!(!user.removable(b"trusted.a"));
        assert!(root.removable(b"trusted.a"));
    }

    /// A sender's lists read one after another (as incremental lists):
    /// `paths[k]` is entry k's source.
    struct Lists(Vec<FileEntry>, Vec<std::path::PathBuf>);

    impl crate::source::SentList for Lists {
        fn entries(&self) -> &[FileEntry] {
            &self.0
        }
        fn source_path(&self, i: usize) -> Option<std::path::PathBuf> {
            self.1.get(i).cloned()
        }
        fn source_of(&self, _: usize) -> crate::source::Sources {
            crate::source::Sources::operator(false)
        }
    }

    /// Incremental lists share one numbering: a set already sent in an
    /// earlier list goes as a reference to it, a new one as the next
    /// literal; a request for a long value of an entry of a later list that
    /// refers to an earlier list is answered from the values kept.
    #[test]
    fn later_lists_refer_to_earlier_ones_and_answer_requests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let long = vec![b'L'; 60];
        let mut paths = Vec::new();
        for (f, other) in [("a", false), ("b", false), ("c", true)] {
            let p = dir.path().join(f);
            std::fs::write(&p, b"x").expect("write");
            let v: &[u8] = if other { b"other" } else { &long };
            rustix::fs::setxattr(&p, "user.long", v, rustix::fs::XattrFlags::empty())
                .expect("setxattr");
            paths.push(p);
        }
        let e = FileEntry {
            name: "a".into(),
            mode: protocol::flist::S_IFREG | 0o644,
            ..Default::default()
        };
        let lists = Lists(vec![e.clone(), e.clone(), e], paths.clone());
        let rules = FilterList::default();
        let opts = Options::default();
        let pol = Policy::new(&opts, &rules, Side::Sender);
        let out = crate::out::Out::terminal(
            crate::itemize::ItemFormat {
                itemize: 0,
                verbose: 0,
                sender: true,
                local: false,
                preserve_mtimes: true,
            },
            true,
        );
        let mut x = SendLists::default();
        // The first list holds `a`, a later one `b` (the same set) and `c`.
        let nums: Vec<u32> = (0..3)
            .map(|i| x.read_entry(&lists, i, &pol, &out))
            .collect();
        assert_eq!(nums, [0, 0, 1]);
        let mut wire_bytes = Vec::new();
        for &n in &nums {
            x.encode_list(&mut wire_bytes, n);
        }
        let mut r = wire_bytes.as_slice();
        let mut budget = u64::MAX;
        let mut got = Vec::new();
        for known in [0, 1, 1] {
            got.push(wire::decode(&mut r, known, &mut budget).expect("decode"));
        }
        assert!(r.is_empty());
        assert!(matches!(&got[0], Wire::Literal(v) if v.len() == 1));
        assert!(matches!(got[1], Wire::Ref(0)));
        assert!(matches!(&got[2], Wire::Literal(v) if v.len() == 1));
        // The receiving side asks for `b`'s long value (item 1 of list 0).
        let mut req = Vec::new();
        wire::encode_request(&mut req, &[1]);
        let src = crate::source::Sources::operator(false);
        let reply = x
            .answer(
                &mut req.as_slice(),
                nums[1],
                &lists.0[1],
                &paths[1],
                &src,
                &out,
            )
            .expect("answer");
        let mut want = Vec::new();
        wire::encode_reply(&mut want, &[(1, &long)]);
        assert_eq!(reply, want);
    }
}
