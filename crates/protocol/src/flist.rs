//! File-list entries (upstream flist.c send_file_entry / recv_file_entry),
//! the id lists, and the sort order both sides apply.
use crate::error::{Error, Result};
use crate::varint::{write_i32, write_varint, write_varlong, WireRead};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::io::Read;

mod index;
mod name;
pub use index::OptIndex;
pub use name::{Name, INLINE_MAX as NAME_INLINE_MAX};

/// Longest name the decoder accepts (upstream MAXPATHLEN).
pub const MAX_NAME_LEN: usize = 4096;
/// Longest symlink target the decoder accepts.
pub const MAX_LINK_LEN: usize = 4096;

/// XMIT flag: top-level directory of the transfer.
pub const XMIT_TOP_DIR: u32 = 1 << 0;
/// XMIT flag: mode equals the previous entry's.
pub const XMIT_SAME_MODE: u32 = 1 << 1;
/// XMIT flag: extended flags (filler in varint mode).
pub const XMIT_EXTENDED_FLAGS: u32 = 1 << 2;
/// XMIT flag: uid equals the previous.
pub const XMIT_SAME_UID: u32 = 1 << 3;
/// XMIT flag: gid equals the previous.
pub const XMIT_SAME_GID: u32 = 1 << 4;
/// XMIT flag: a prefix length follows.
pub const XMIT_SAME_NAME: u32 = 1 << 5;
/// XMIT flag: suffix length is a varint30.
pub const XMIT_LONG_NAME: u32 = 1 << 6;
/// XMIT flag: mtime equals the previous.
pub const XMIT_SAME_TIME: u32 = 1 << 7;
/// XMIT flag: same rdev major (devices).
pub const XMIT_SAME_RDEV_MAJOR: u32 = 1 << 8;
/// XMIT flag: directory whose contents are not part of the transfer.
pub const XMIT_NO_CONTENT_DIR: u32 = 1 << 8;
/// XMIT flag: hard-link data follows.
pub const XMIT_HLINKED: u32 = 1 << 9;
/// XMIT flag: user name follows uid (inc-recurse only).
pub const XMIT_USER_NAME_FOLLOWS: u32 = 1 << 10;
/// XMIT flag: group name follows gid (inc-recurse only).
pub const XMIT_GROUP_NAME_FOLLOWS: u32 = 1 << 11;
/// XMIT flag: first of a hard-link group.
pub const XMIT_HLINK_FIRST: u32 = 1 << 12;
/// XMIT flag: end marker carries io_error.
pub const XMIT_IO_ERROR_ENDLIST: u32 = 1 << 12;
/// XMIT flag: mtime nanoseconds follow.
pub const XMIT_MOD_NSEC: u32 = 1 << 13;
/// The atime is the previous entry's (with `-U`, non-directories only).
pub const XMIT_SAME_ATIME: u32 = 1 << 14;

pub use crate::mode::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};

/// One decoded or to-be-encoded file-list entry.
///
/// A list holds one per file (a million files: a million entries on each
/// side of a local copy), so the fields most entries leave empty (symlink
/// target, checksum, device numbers, atime, ACLs) live in [`Extra`], a
/// side allocation only the entries that use them have; read and set them
/// through the accessors ([`FileEntry::link_target`], ...). The name is
/// inline up to [`NAME_INLINE_MAX`] bytes. The size and mtime keep their
/// low 32 bits here and their high 32 bits in [`Extra`] (as upstream
/// keeps a length's high bits in an OPT_EXTRA field): a size under 4 GiB
/// and an mtime from 1970 to 2106 cost no side allocation; read and set
/// them with [`FileEntry::size`], [`FileEntry::set_size`], ... A whole
/// entry is 64 bytes.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct FileEntry {
    /// Relative name as sent (raw bytes, `/`-separated, "." for the root).
    pub name: Name,
    /// Full st_mode (type and permission bits).
    pub mode: u32,
    /// Nanoseconds of the mtime (sent only from protocol 31, when non-zero).
    pub mtime_nsec: u32,
    /// The low 32 bits of the size in bytes (its high bits are
    /// [`Extra::size_hi`]): read and set it whole with [`FileEntry::size`]
    /// and [`FileEntry::set_size`].
    pub size_lo: u32,
    /// The low 32 bits of the modification time (its high bits are
    /// [`Extra::mtime_hi`]): read and set it whole with
    /// [`FileEntry::mtime`] and [`FileEntry::set_mtime`].
    pub mtime_lo: u32,
    /// Owner (meaningful with -o).
    pub uid: u32,
    /// Group (meaningful with -g).
    pub gid: u32,
    /// With -X: which of the xattr lists of this transfer the entry has
    /// (the index both sides give the lists in the order they first went
    /// over the wire); not encoded by the file-list codec itself.
    pub xattr: OptIndex,
    /// With -H (protocol 30+): the wire index of the first entry of this
    /// entry's hard-link group (its own index for that first entry); `None`
    /// for an entry that is not hard-linked. Ignored on directories.
    pub hlink: OptIndex,
    /// The rare fields, when any is set (use the accessors: they keep this
    /// `None` while all are empty, so equal entries compare equal).
    pub extra: Option<Box<Extra>>,
}

/// The fields of a [`FileEntry`] that most entries leave empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extra {
    /// Symlink target (symlinks with -l).
    pub link_target: Option<Vec<u8>>,
    /// Whole-file checksum (with -c, regular files).
    pub checksum: Option<Vec<u8>>,
    /// Device major/minor (devices with -D).
    pub rdev: (u32, u32),
    /// The high 32 bits of the size (a size of 4 GiB or more, or negative).
    pub size_hi: i32,
    /// The high 32 bits of the mtime (before 1970 or after 2106).
    pub mtime_hi: i32,
    /// Access time, seconds (sent with -U for non-directories).
    pub atime: i64,
    /// With -A: the entry's ACLs (not carried by [`FlistEncoder`] itself;
    /// see [`crate::acl`]).
    pub acl: Option<Box<crate::acl::EntryAcl>>,
    /// Only XMIT_TOP_DIR and XMIT_NO_CONTENT_DIR are meaningful here (set
    /// on top-level and implied directories only); the encoder computes
    /// every other bit itself.
    pub xflags: u32,
}

impl std::fmt::Debug for FileEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileEntry")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("mtime_nsec", &self.mtime_nsec)
            .field("size", &self.size())
            .field("mtime", &self.mtime())
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("xattr", &self.xattr)
            .field("hlink", &self.hlink)
            .field("extra", &self.extra)
            .finish()
    }
}

/// `v` as its low and high 32 bits.
fn split64(v: i64) -> (u32, i32) {
    (v as u32, (v >> 32) as i32)
}

/// The value whose low and high 32 bits are `lo` and `hi`.
fn join64(lo: u32, hi: i32) -> i64 {
    (i64::from(hi) << 32) | i64::from(lo)
}

impl FileEntry {
    /// Size in bytes (0 for devices and specials).
    pub fn size(&self) -> i64 {
        join64(self.size_lo, self.extra.as_ref().map_or(0, |x| x.size_hi))
    }
    /// Sets the size.
    pub fn set_size(&mut self, size: i64) {
        let (lo, hi) = split64(size);
        self.size_lo = lo;
        if hi != 0 || self.extra.is_some() {
            self.edit_extra(|x| x.size_hi = hi);
        }
    }
    /// With the size `size` (for building entries).
    pub fn with_size(mut self, size: i64) -> Self {
        self.set_size(size);
        self
    }
    /// Modification time, seconds since the epoch.
    pub fn mtime(&self) -> i64 {
        join64(self.mtime_lo, self.extra.as_ref().map_or(0, |x| x.mtime_hi))
    }
    /// Sets the modification time.
    pub fn set_mtime(&mut self, mtime: i64) {
        let (lo, hi) = split64(mtime);
        self.mtime_lo = lo;
        if hi != 0 || self.extra.is_some() {
            self.edit_extra(|x| x.mtime_hi = hi);
        }
    }
    /// With the modification time `mtime`.
    pub fn with_mtime(mut self, mtime: i64) -> Self {
        self.set_mtime(mtime);
        self
    }
    /// With the nanoseconds `nsec`.
    pub fn with_mtime_nsec(mut self, nsec: u32) -> Self {
        self.mtime_nsec = nsec;
        self
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
    /// True for a symlink.
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }

    /// Changes the rare fields; drops their allocation when all are empty.
    fn edit_extra<T>(&mut self, f: impl FnOnce(&mut Extra) -> T) -> T {
        let mut x = self.extra.take().unwrap_or_default();
        let out = f(&mut x);
        if *x != Extra::default() {
            self.extra = Some(x);
        }
        out
    }
    /// Symlink target (symlinks with -l).
    pub fn link_target(&self) -> Option<&[u8]> {
        self.extra.as_ref()?.link_target.as_deref()
    }
    /// Sets the symlink target.
    pub fn set_link_target(&mut self, t: Option<Vec<u8>>) {
        self.edit_extra(|x| x.link_target = t);
    }
    /// The symlink target, to change in place.
    pub fn link_target_mut(&mut self) -> Option<&mut Vec<u8>> {
        self.extra.as_mut()?.link_target.as_mut()
    }
    /// Whole-file checksum (with -c, regular files).
    pub fn checksum(&self) -> Option<&[u8]> {
        self.extra.as_ref()?.checksum.as_deref()
    }
    /// Sets the whole-file checksum.
    pub fn set_checksum(&mut self, c: Option<Vec<u8>>) {
        self.edit_extra(|x| x.checksum = c);
    }
    /// Device major/minor (devices with -D; (0, 0) otherwise).
    pub fn rdev(&self) -> (u32, u32) {
        self.extra.as_ref().map_or((0, 0), |x| x.rdev)
    }
    /// Sets the device numbers.
    pub fn set_rdev(&mut self, rdev: (u32, u32)) {
        self.edit_extra(|x| x.rdev = rdev);
    }
    /// Access time, seconds (with -U, non-directories; 0 otherwise).
    pub fn atime(&self) -> i64 {
        self.extra.as_ref().map_or(0, |x| x.atime)
    }
    /// Sets the access time.
    pub fn set_atime(&mut self, atime: i64) {
        self.edit_extra(|x| x.atime = atime);
    }
    /// With -A: the entry's ACLs.
    pub fn acl(&self) -> Option<&crate::acl::EntryAcl> {
        self.extra.as_ref()?.acl.as_deref()
    }
    /// Sets the entry's ACLs.
    pub fn set_acl(&mut self, acl: Option<crate::acl::EntryAcl>) {
        self.edit_extra(|x| x.acl = acl.map(Box::new));
    }
    /// The entry's own flags (see [`Extra::xflags`]; 0 for most entries).
    pub fn xflags(&self) -> u32 {
        self.extra.as_ref().map_or(0, |x| x.xflags)
    }
    /// Sets the entry's own flags.
    pub fn set_xflags(&mut self, f: u32) {
        self.edit_extra(|x| x.xflags = f);
    }
    /// Adds `f` to the entry's own flags.
    pub fn add_xflags(&mut self, f: u32) {
        self.edit_extra(|x| x.xflags |= f);
    }
    /// With the symlink target `t` (for building entries).
    pub fn with_link_target(mut self, t: Vec<u8>) -> Self {
        self.set_link_target(Some(t));
        self
    }
    /// With the checksum `c`.
    pub fn with_checksum(mut self, c: Vec<u8>) -> Self {
        self.set_checksum(Some(c));
        self
    }
    /// With the device numbers `rdev`.
    pub fn with_rdev(mut self, rdev: (u32, u32)) -> Self {
        self.set_rdev(rdev);
        self
    }
    /// With the access time `atime`.
    pub fn with_atime(mut self, atime: i64) -> Self {
        self.set_atime(atime);
        self
    }
    /// With the flags `f` (see [`Extra::xflags`]).
    pub fn with_xflags(mut self, f: u32) -> Self {
        self.set_xflags(f);
        self
    }
}

/// What the two sides agreed that changes the entry format.
///
/// `Default` is protocol 32 with varint flags and nothing preserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlistOptions {
    /// Negotiated protocol (30..=32).
    pub protocol: i32,
    /// CF_VARINT_FLIST_FLAGS is in effect.
    pub varint_flags: bool,
    /// -o
    pub preserve_uid: bool,
    /// -g
    pub preserve_gid: bool,
    /// -l
    pub preserve_links: bool,
    /// -D (devices)
    pub preserve_devices: bool,
    /// -D (specials)
    pub preserve_specials: bool,
    /// With -c: the length of the per-file checksum, else None.
    pub checksum_len: Option<usize>,
    /// -H
    pub preserve_hard_links: bool,
    /// -U: non-directories carry their atime.
    pub preserve_atimes: bool,
}

impl Default for FlistOptions {
    fn default() -> Self {
        FlistOptions {
            protocol: crate::PROTOCOL_VERSION,
            varint_flags: true,
            preserve_uid: false,
            preserve_gid: false,
            preserve_links: false,
            preserve_devices: false,
            preserve_specials: false,
            checksum_len: None,
            preserve_hard_links: false,
            preserve_atimes: false,
        }
    }
}

/// Longest user or group name in an id list or inline in an entry.
pub const MAX_ID_NAME_LEN: usize = 255;
/// Most entries an id list may hold.
pub const MAX_ID_LIST_LEN: usize = 1 << 20;

/// Directory bits kept in [`FileEntry::xflags`].
const DIR_XFLAGS: u32 = XMIT_TOP_DIR | XMIT_NO_CONTENT_DIR;

/// The "previous entry" values both sides compare against; upstream keeps
/// them in statics that live as long as the process.
#[derive(Debug, Clone, Default)]
struct PrevEntry {
    name: Vec<u8>,
    mode: u32,
    mtime: i64,
    uid: u32,
    gid: u32,
    rdev_major: u32,
    atime: i64,
}

impl PrevEntry {
    /// What a receiver sets from the first entry of a hard-link group when
    /// it reads a follower (upstream recv_file_entry's abbreviated branch).
    fn restore(&self, prev: &mut PrevEntry, o: &FlistOptions) {
        prev.mode = self.mode;
        prev.mtime = self.mtime;
        if o.preserve_uid {
            prev.uid = self.uid;
        }
        if o.preserve_gid {
            prev.gid = self.gid;
        }
        if o.preserve_devices && kind(self.mode) == Kind::Device {
            prev.rdev_major = self.rdev_major;
        }
        if o.preserve_atimes && kind(self.mode) != Kind::Dir {
            prev.atime = self.atime;
        }
    }
}

/// File type of a mode, as far as the entry format cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
    Device,
    Special,
    Unknown,
}

fn kind(mode: u32) -> Kind {
    match mode & S_IFMT {
        S_IFREG => Kind::File,
        S_IFDIR => Kind::Dir,
        S_IFLNK => Kind::Symlink,
        S_IFCHR | S_IFBLK => Kind::Device,
        S_IFIFO | S_IFSOCK => Kind::Special,
        _ => Kind::Unknown,
    }
}

impl FlistOptions {
    /// Whether an entry of this kind carries rdev fields.
    fn sends_rdev(&self, k: Kind) -> bool {
        (self.preserve_devices && k == Kind::Device)
            || (self.preserve_specials && k == Kind::Special && self.protocol < 31)
    }
}

/// The name of a uid (`true`) or gid, for the inline names of incremental
/// recursion.
pub type NameLookup = fn(bool, u32) -> Option<Vec<u8>>;

/// Encoder state (persists across the whole session).
///
/// Call [`FlistEncoder::encode`] for each entry in send order, then
/// [`FlistEncoder::encode_end`] once per file list.
#[derive(Debug, Clone, Default)]
pub struct FlistEncoder {
    opts: FlistOptions,
    prev: PrevEntry,
    /// Entries encoded so far (the wire index of the next one).
    count: u32,
    /// With -H: the "previous entry" values of each hard-link group's first
    /// entry, by its wire index; a follower leaves them as the receiver
    /// will (it copies them from the first).
    leaders: HashMap<u32, PrevEntry>,
    /// Wire index of the current list's first entry (incremental
    /// recursion: a follower of an earlier list's entry is sent whole).
    list_start: u32,
    /// Incremental recursion without --numeric-ids: the name of each uid
    /// and gid goes with its first entry (XMIT_USER_NAME_FOLLOWS), looked
    /// up by this function (`true` for a user).
    inline_names: Option<NameLookup>,
    /// Ids whose names have been looked up (users, groups).
    named: (
        std::collections::HashSet<u32>,
        std::collections::HashSet<u32>,
    ),
}

impl FlistEncoder {
    /// New encoder with upstream's initial state.
    pub fn new(opts: FlistOptions) -> Self {
        FlistEncoder {
            opts,
            prev: PrevEntry::default(),
            count: 0,
            leaders: HashMap::new(),
            list_start: 0,
            inline_names: None,
            named: Default::default(),
        }
    }
    /// Incremental recursion: the next list starts at wire index `start`
    /// (the encoder's state otherwise goes on, as upstream's statics do).
    pub fn start_list(&mut self, start: u32) {
        self.count = start;
        self.list_start = start;
        self.leaders.clear();
    }
    /// Incremental recursion: each id's name goes inline with the first
    /// entry that sends the id, id 0's too (upstream 3.5.0 uidlist.c
    /// add_uid(); a receiver's `--groupmap=:ID` maps only nameless ids).
    pub fn set_inline_names(&mut self, lookup: NameLookup) {
        self.inline_names = Some(lookup);
    }
    /// The name to send inline for `id`, the first time it is sent (by an
    /// entry or, under -A, by an ACL: upstream's one uid and gid list).
    pub fn inline_name(&mut self, user: bool, id: u32) -> Option<Vec<u8>> {
        let lookup = self.inline_names?;
        let seen = if user {
            &mut self.named.0
        } else {
            &mut self.named.1
        };
        if !seen.insert(id) {
            return None;
        }
        lookup(user, id).map(|mut n| {
            n.truncate(255);
            n
        })
    }
    /// Appends one entry.
    ///
    /// The entry is trusted (it comes from our own disk walk): the name must
    /// be at most [`MAX_NAME_LEN`] bytes, `mtime_nsec` below 10^9, and a
    /// checksum shorter than `checksum_len` is padded with zeros.
    // upstream: flist.c:send_file_entry()
    pub fn encode(&mut self, out: &mut Vec<u8>, e: &FileEntry) {
        let o = self.opts;
        let prev = &mut self.prev;
        let k = kind(e.mode);
        let first = prev.name.is_empty();

        let mut x = if k == Kind::Dir {
            e.xflags() & DIR_XFLAGS
        } else {
            0
        };
        if e.mode == prev.mode {
            x |= XMIT_SAME_MODE;
        } else {
            prev.mode = e.mode;
        }
        let mut rdev = e.rdev();
        if o.preserve_devices && k == Kind::Device {
            if rdev.0 == prev.rdev_major {
                x |= XMIT_SAME_RDEV_MAJOR;
            } else {
                prev.rdev_major = rdev.0;
            }
        } else if o.sends_rdev(k) {
            // Protocol 30 specials: a placeholder rdev that costs one byte.
            rdev = (prev.rdev_major, 0);
            x |= XMIT_SAME_RDEV_MAJOR;
        }
        let (mut user_name, mut group_name) = (None, None);
        if !o.preserve_uid || (e.uid == prev.uid && !first) {
            x |= XMIT_SAME_UID;
        } else {
            prev.uid = e.uid;
            user_name = self.inline_name(true, e.uid);
            if user_name.is_some() {
                x |= XMIT_USER_NAME_FOLLOWS;
            }
        }
        let prev = &mut self.prev;
        if !o.preserve_gid || (e.gid == prev.gid && !first) {
            x |= XMIT_SAME_GID;
        } else {
            prev.gid = e.gid;
            group_name = self.inline_name(false, e.gid);
            if group_name.is_some() {
                x |= XMIT_GROUP_NAME_FOLLOWS;
            }
        }
        let prev = &mut self.prev;
        if e.mtime() == prev.mtime {
            x |= XMIT_SAME_TIME;
        } else {
            prev.mtime = e.mtime();
        }
        if o.protocol >= 31 && e.mtime_nsec != 0 {
            x |= XMIT_MOD_NSEC;
        }
        if o.preserve_atimes && k != Kind::Dir {
            if e.atime() == prev.atime {
                x |= XMIT_SAME_ATIME;
            } else {
                prev.atime = e.atime();
            }
        }
        // upstream: a follower names the first entry of its group and
        // sends nothing else about itself.
        let (mut follows, mut earlier) = (None, None);
        if o.preserve_hard_links && k != Kind::Dir {
            if let Some(first) = e.hlink.get() {
                x |= XMIT_HLINKED;
                match self.leaders.get(&first) {
                    Some(lead) if first < self.count => {
                        follows = Some(first);
                        lead.restore(prev, &o);
                    }
                    // An earlier list's entry: named, then this one is
                    // sent whole (upstream first_hlink_ndx < first_ndx).
                    _ if first < self.list_start => earlier = Some(first),
                    _ => x |= XMIT_HLINK_FIRST,
                }
            }
        }
        let l1 = e
            .name
            .iter()
            .zip(prev.name.iter())
            .take(255)
            .take_while(|(a, b)| a == b)
            .count();
        let suffix = &e.name[l1..];
        if l1 > 0 {
            x |= XMIT_SAME_NAME;
        }
        if suffix.len() > 255 {
            x |= XMIT_LONG_NAME;
        }

        if o.varint_flags {
            // 0 would read as the end marker.
            write_varint(out, if x == 0 { XMIT_EXTENDED_FLAGS } else { x } as i32);
        } else {
            if x == 0 && k != Kind::Dir {
                x |= XMIT_TOP_DIR;
            }
            if x & 0xFF00 != 0 || x == 0 {
                x |= XMIT_EXTENDED_FLAGS;
                out.extend_from_slice(&(x as u16).to_le_bytes());
            } else {
                out.push(x as u8);
            }
        }
        if x & XMIT_SAME_NAME != 0 {
            out.push(l1 as u8);
        }
        if x & XMIT_LONG_NAME != 0 {
            write_varint(out, suffix.len() as i32);
        } else {
            out.push(suffix.len() as u8);
        }
        out.extend_from_slice(suffix);
        if let Some(first) = follows {
            write_varint(out, first as i32);
            prev.name.clear();
            prev.name.extend_from_slice(&e.name);
            self.count += 1;
            return;
        }
        if let Some(first) = earlier {
            write_varint(out, first as i32);
        }

        write_varlong(out, e.size(), 3);
        if x & XMIT_SAME_TIME == 0 {
            write_varlong(out, e.mtime(), 4);
        }
        if x & XMIT_MOD_NSEC != 0 {
            write_varint(out, e.mtime_nsec as i32);
        }
        if x & XMIT_SAME_MODE == 0 {
            write_i32(out, e.mode as i32);
        }
        if o.preserve_atimes && k != Kind::Dir && x & XMIT_SAME_ATIME == 0 {
            write_varlong(out, e.atime(), 4);
        }
        if o.preserve_uid && x & XMIT_SAME_UID == 0 {
            write_varint(out, e.uid as i32);
            if let Some(n) = &user_name {
                out.push(n.len() as u8);
                out.extend_from_slice(n);
            }
        }
        if o.preserve_gid && x & XMIT_SAME_GID == 0 {
            write_varint(out, e.gid as i32);
            if let Some(n) = &group_name {
                out.push(n.len() as u8);
                out.extend_from_slice(n);
            }
        }
        if o.sends_rdev(k) {
            if x & XMIT_SAME_RDEV_MAJOR == 0 {
                write_varint(out, rdev.0 as i32);
            }
            write_varint(out, rdev.1 as i32);
        }
        if o.preserve_links && k == Kind::Symlink {
            let target = e.link_target().unwrap_or_default();
            write_varint(out, target.len() as i32);
            out.extend_from_slice(target);
        }
        if let (Some(n), Kind::File) = (o.checksum_len, k) {
            let sum = e.checksum().unwrap_or_default();
            let have = sum.len().min(n);
            out.extend_from_slice(&sum[..have]);
            out.resize(out.len() + (n - have), 0);
        }

        prev.name.clear();
        prev.name.extend_from_slice(&e.name);
        if x & XMIT_HLINK_FIRST != 0 {
            self.leaders.insert(
                self.count,
                PrevEntry {
                    name: Vec::new(),
                    ..prev.clone()
                },
            );
        }
        self.count += 1;
    }
    /// Appends the end-of-list marker carrying `io_error` (§5.5).
    // upstream: flist.c:write_end_of_flist()
    pub fn encode_end(&mut self, out: &mut Vec<u8>, io_error: i32) {
        if self.opts.varint_flags {
            write_varint(out, 0);
            write_varint(out, io_error);
        } else if io_error != 0 {
            let x = (XMIT_EXTENDED_FLAGS | XMIT_IO_ERROR_ENDLIST) as u16;
            out.extend_from_slice(&x.to_le_bytes());
            write_varint(out, io_error);
        } else {
            out.push(0);
        }
    }
}

/// Decoder state (persists across the whole session).
///
/// Call [`FlistDecoder::decode`] until it returns `None`, then read
/// [`FlistDecoder::io_error`].
#[derive(Debug, Clone, Default)]
pub struct FlistDecoder {
    opts: FlistOptions,
    prev: PrevEntry,
    io_error: i32,
    /// Entries decoded so far (the wire index of the next one).
    count: u32,
    /// With -H: the first entry of each hard-link group (without its
    /// name), by wire index.
    leaders: HashMap<u32, FileEntry>,
    /// The inline user and group names of the last entry decoded.
    names: Vec<InlineName>,
    /// Incremental recursion: the wire index of the current sub-list's
    /// first entry (back-references below it carry full attributes).
    seg_start: Option<u32>,
    /// Incremental recursion: every hard-link group declared so far
    /// (`XMIT_HLINK_FIRST` entries, by wire index).
    declared: std::collections::HashSet<u32>,
}

/// A user or group name sent inside an entry (`XMIT_*_NAME_FOLLOWS`),
/// with the id it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineName {
    /// A user name (else a group name).
    pub user: bool,
    /// The sender's id.
    pub id: u32,
    /// The name (1 to [`MAX_ID_NAME_LEN`] bytes).
    pub name: Vec<u8>,
}

impl FlistDecoder {
    /// New decoder with upstream's initial state.
    pub fn new(opts: FlistOptions) -> Self {
        FlistDecoder {
            opts,
            prev: PrevEntry::default(),
            io_error: 0,
            count: 0,
            leaders: HashMap::new(),
            names: Vec::new(),
            seg_start: None,
            declared: Default::default(),
        }
    }
    /// Incremental recursion: the next entries form a list starting at
    /// wire index `ndx_start`. Abbreviated hard-link followers may only
    /// name a leader of that list; a follower naming an earlier list's
    /// group carries its own attributes, and the group must have been
    /// declared (upstream hlink.c match_gnums()).
    pub fn start_segment(&mut self, ndx_start: u32) {
        self.count = ndx_start;
        self.leaders.clear();
        self.seg_start = Some(ndx_start);
    }
    /// The inline user and group names of the entry [`Self::decode`] just
    /// returned (at most one of each; empty names are dropped). Taken, so
    /// a caller that ignores them holds nothing.
    pub fn take_names(&mut self) -> Vec<InlineName> {
        std::mem::take(&mut self.names)
    }
    /// Reads one entry, or `None` at the end marker (then [`Self::io_error`]
    /// holds the marker's io_error). Bounds: name <= MAX_NAME_LEN, link target
    /// <= MAX_LINK_LEN, nsec <= 999_999_999, size >= 0, known file type.
    /// Names are returned as sent; path safety is the caller's job.
    ///
    /// Entries with `XMIT_HLINKED` are refused (`Error::Invalid`) unless
    /// `preserve_hard_links`; then a follower must name an earlier entry
    /// that started a hard-link group, and it gets that entry's attributes
    /// ([`FileEntry::hlink`] holds the group's first wire index). Inline
    /// user/group names (`XMIT_*_NAME_FOLLOWS`) are kept for
    /// [`Self::take_names`] until the next call.
    // upstream: flist.c:recv_file_list(), recv_file_entry()
    pub fn decode<R: Read + ?Sized>(&mut self, r: &mut R) -> Result<Option<FileEntry>> {
        let o = self.opts;
        self.names.clear();
        let Some(x) = self.read_flags(r)? else {
            return Ok(None);
        };
        if x & XMIT_HLINKED != 0 && !o.preserve_hard_links {
            return Err(Error::invalid(
                "flist flags",
                format!("hard-link entry ({x:#x}) without -H"),
            ));
        }
        let name = self.read_entry_name(r, x)?;
        let mut back_ref = None;
        if x & (XMIT_HLINKED | XMIT_HLINK_FIRST) == XMIT_HLINKED {
            // upstream: flist.c:recv_file_entry(), the abbreviated follower.
            let lead = self.read_follower(r)?;
            if self.seg_start.is_some_and(|start| lead < start) {
                back_ref = Some(lead);
            } else {
                return self.abbreviated(lead, name).map(Some);
            }
        }
        let mut e = self.read_attrs(r, x)?;
        e.name = name;
        let index = self.count;
        self.count += 1;
        e.hlink = back_ref
            .or((x & XMIT_HLINKED != 0 && !e.is_dir()).then_some(index))
            .into();
        if e.hlink == Some(index) {
            if self.seg_start.is_some() {
                self.declared.insert(index);
            }
            self.leaders.insert(
                index,
                FileEntry {
                    name: Name::new(),
                    ..e.clone()
                },
            );
        }
        Ok(Some(e))
    }

    /// The flags of the next entry, or `None` at the end marker (whose
    /// io_error is then kept).
    fn read_flags<R: Read + ?Sized>(&mut self, r: &mut R) -> Result<Option<u32>> {
        if self.opts.varint_flags {
            let x = r.read_varint("flist flags")? as u32;
            if x == 0 {
                self.io_error = r.read_varint("flist io_error")?;
                return Ok(None);
            }
            return Ok(Some(x));
        }
        let mut x = u32::from(r.read_u8_field("flist flags")?);
        if x == 0 {
            self.io_error = 0;
            return Ok(None);
        }
        if x & XMIT_EXTENDED_FLAGS != 0 {
            x |= u32::from(r.read_u8_field("flist flags")?) << 8;
        }
        if x == XMIT_EXTENDED_FLAGS | XMIT_IO_ERROR_ENDLIST {
            self.io_error = r.read_varint("flist io_error")?;
            return Ok(None);
        }
        Ok(Some(x))
    }

    /// The entry's name: a prefix of the previous name and a suffix.
    fn read_entry_name<R: Read + ?Sized>(&mut self, r: &mut R, x: u32) -> Result<Name> {
        let prev = &mut self.prev;
        let l1 = if x & XMIT_SAME_NAME != 0 {
            usize::from(r.read_u8_field("name prefix length")?)
        } else {
            0
        };
        if l1 > prev.name.len() {
            return Err(Error::invalid(
                "name prefix length",
                format!("{l1} exceeds previous name length {}", prev.name.len()),
            ));
        }
        let l2 = if x & XMIT_LONG_NAME != 0 {
            let l2 = r.read_varint("name length")?;
            usize::try_from(l2)
                .map_err(|_| Error::invalid("name length", format!("negative length {l2}")))?
        } else {
            usize::from(r.read_u8_field("name length")?)
        };
        if l2 > MAX_NAME_LEN - l1 {
            return Err(Error::TooLong {
                field: "name",
                len: (l1 + l2) as u64,
                max: MAX_NAME_LEN as u64,
            });
        }
        prev.name.truncate(l1);
        prev.name.resize(l1 + l2, 0);
        r.read_exact_field(&mut prev.name[l1..], "name")?;
        Ok(prev.name.as_slice().into())
    }

    /// A hard-link follower's reference: the wire index of its group's
    /// first entry, which must be earlier and (before the current
    /// sub-list) declared.
    fn read_follower<R: Read + ?Sized>(&mut self, r: &mut R) -> Result<u32> {
        let first = r.read_varint("hard-link index")?;
        let lead = u32::try_from(first)
            .ok()
            .filter(|&f| f < self.count)
            .ok_or_else(|| {
                Error::invalid(
                    "hard-link index",
                    format!("reference out of range: {first} ({})", self.count),
                )
            })?;
        match self.seg_start {
            // upstream: hlink.c match_gnums() refuses a group no earlier
            // list declared.
            Some(start) if lead < start && !self.declared.contains(&lead) => Err(Error::invalid(
                "hard-link index",
                format!("hard-link gnum {lead} precedes flist start {start}"),
            )),
            _ => Ok(lead),
        }
    }

    /// An abbreviated follower of group `lead` (in this list): the
    /// leader's attributes under its own name.
    fn abbreviated(&mut self, lead: u32, name: Name) -> Result<FileEntry> {
        let Some(lead_entry) = self.leaders.get(&lead) else {
            return Err(Error::invalid(
                "hard-link index",
                format!("entry {lead} does not start a hard-link group"),
            ));
        };
        PrevEntry {
            name: Vec::new(),
            mode: lead_entry.mode,
            mtime: lead_entry.mtime(),
            uid: lead_entry.uid,
            gid: lead_entry.gid,
            rdev_major: lead_entry.rdev().0,
            atime: lead_entry.atime(),
        }
        .restore(&mut self.prev, &self.opts);
        self.count += 1;
        Ok(FileEntry {
            name,
            hlink: Some(lead).into(),
            ..lead_entry.clone()
        })
    }

    /// The attributes after the name of a full entry (flags `x`): size,
    /// times, mode, ids (and inline names), device, symlink target and
    /// checksum. The name and hard-link fields are left empty.
    fn read_attrs<R: Read + ?Sized>(&mut self, r: &mut R, x: u32) -> Result<FileEntry> {
        let o = self.opts;
        let prev = &mut self.prev;
        let size = r.read_varlong(3, "file length")?;
        if size < 0 {
            return Err(Error::invalid(
                "file length",
                format!("negative size {size}"),
            ));
        }
        if x & XMIT_SAME_TIME == 0 {
            prev.mtime = r.read_varlong(4, "mtime")?;
        }
        let mtime_nsec = if x & XMIT_MOD_NSEC != 0 {
            let nsec = r.read_varint("mtime nsec")?;
            if !(0..=999_999_999).contains(&nsec) {
                return Err(Error::invalid("mtime nsec", format!("{nsec}")));
            }
            nsec as u32
        } else {
            0
        };
        if x & XMIT_SAME_MODE == 0 {
            prev.mode = r.read_i32_field("mode")? as u32;
        }
        let mode = prev.mode;
        let k = kind(mode);
        // Mode 0 is a --delete-missing-args entry; the engine decides
        // whether it may be accepted.
        if k == Kind::Unknown && mode != 0 {
            return Err(Error::invalid(
                "mode",
                format!("unknown file type in {mode:#o}"),
            ));
        }
        let mut extra = Extra::default();
        if o.preserve_atimes && k != Kind::Dir {
            if x & XMIT_SAME_ATIME == 0 {
                prev.atime = r.read_varlong(4, "atime")?;
            }
            extra.atime = prev.atime;
        }
        if o.preserve_uid && x & XMIT_SAME_UID == 0 {
            prev.uid = r.read_varint("uid")? as u32;
            if x & XMIT_USER_NAME_FOLLOWS != 0 {
                if let Some(name) = read_name(r, "user name")? {
                    let (user, id) = (true, prev.uid);
                    self.names.push(InlineName { user, id, name });
                }
            }
        }
        if o.preserve_gid && x & XMIT_SAME_GID == 0 {
            prev.gid = r.read_varint("gid")? as u32;
            if x & XMIT_GROUP_NAME_FOLLOWS != 0 {
                if let Some(name) = read_name(r, "group name")? {
                    let (user, id) = (false, prev.gid);
                    self.names.push(InlineName { user, id, name });
                }
            }
        }
        if o.sends_rdev(k) {
            if x & XMIT_SAME_RDEV_MAJOR == 0 {
                prev.rdev_major = r.read_varint("rdev major")? as u32;
            }
            let minor = r.read_varint("rdev minor")? as u32;
            if k == Kind::Device {
                extra.rdev = (prev.rdev_major, minor);
            }
        }
        if o.preserve_links && k == Kind::Symlink {
            let len = r.read_varint("symlink target length")?;
            let len = usize::try_from(len).map_err(|_| {
                Error::invalid("symlink target length", format!("negative length {len}"))
            })?;
            extra.link_target = Some(r.read_bytes(len, MAX_LINK_LEN, "symlink target")?);
        }
        if let (Some(n), Kind::File) = (o.checksum_len, k) {
            extra.checksum = Some(r.read_bytes(n, n, "file checksum")?);
        }
        if k == Kind::Dir {
            extra.xflags = x & DIR_XFLAGS;
        }
        let (size_lo, size_hi) = split64(size);
        let (mtime_lo, mtime_hi) = split64(prev.mtime);
        (extra.size_hi, extra.mtime_hi) = (size_hi, mtime_hi);
        Ok(FileEntry {
            name: Name::new(),
            mode,
            mtime_nsec,
            size_lo,
            mtime_lo,
            uid: prev.uid,
            gid: prev.gid,
            hlink: OptIndex::NONE,
            xattr: OptIndex::NONE,
            extra: (extra != Extra::default()).then(|| Box::new(extra)),
        })
    }
    /// io_error from the end marker.
    pub fn io_error(&self) -> i32 {
        self.io_error
    }
}

/// Reads an inline `u8 len` + name (at most 255 bytes by its length
/// byte); None for an empty one.
// upstream: uidlist.c:recv_user_name()
fn read_name<R: Read + ?Sized>(r: &mut R, field: &'static str) -> Result<Option<Vec<u8>>> {
    let len = usize::from(r.read_u8_field(field)?);
    let mut buf = [0u8; MAX_ID_NAME_LEN];
    r.read_exact_field(&mut buf[..len], field)?;
    Ok((len > 0).then(|| buf[..len].to_vec()))
}

/// Appends a uid or gid list: `(id, name)` pairs with id != 0, then the
/// terminator varint 0 (plus the name of id 0 when `id0_names` is given
/// as Some(name)).
///
/// Pairs with id 0 are skipped (0 is the terminator); names are cut to
/// 255 bytes.
// upstream: uidlist.c:send_one_list()
pub fn write_id_list(out: &mut Vec<u8>, ids: &[(u32, Vec<u8>)], id0_name: Option<&[u8]>) {
    fn one(out: &mut Vec<u8>, id: u32, name: &[u8]) {
        let name = &name[..name.len().min(MAX_ID_NAME_LEN)];
        write_varint(out, id as i32);
        out.push(name.len() as u8);
        out.extend_from_slice(name);
    }
    for (id, name) in ids {
        if *id != 0 {
            one(out, *id, name);
        }
    }
    match id0_name {
        Some(name) => one(out, 0, name),
        None => write_varint(out, 0),
    }
}

/// Reads a uid or gid list; with `id0_names` (CF_ID0_NAMES) the terminator
/// is followed by a name for id 0, returned as `(0, name)`. Bounded to
/// 1 << 20 entries and 255-byte names.
// upstream: uidlist.c:recv_id_list()
pub fn read_id_list<R: Read + ?Sized>(r: &mut R, id0_names: bool) -> Result<Vec<(u32, Vec<u8>)>> {
    read_id_list_within(r, id0_names, u64::MAX).map(|(list, _)| list)
}

/// A uid or gid list: `(id, name)` pairs.
pub type IdList = Vec<(u32, Vec<u8>)>;

/// Bytes of heap one `(id, name)` pair of an id list holds.
pub fn id_entry_cost(name: &[u8]) -> u64 {
    (std::mem::size_of::<(u32, Vec<u8>)>() + heap_cost(name.len())) as u64
}

/// Bytes the allocator hands out for a `len`-byte heap block: glibc malloc
/// rounds a request plus its 8-byte header up to 16, at least 32; nothing
/// for an empty one.
pub fn heap_cost(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        ((len + 8 + 15) & !15).max(32)
    }
}

/// [`read_id_list`], refusing a list whose pairs would hold more than
/// `budget` bytes ([`id_entry_cost`] each) with `Error::TooLong` (field
/// "id list bytes") before the pair that crosses it is stored. Returns the
/// list and the bytes it holds.
pub fn read_id_list_within<R: Read + ?Sized>(
    r: &mut R,
    id0_names: bool,
    budget: u64,
) -> Result<(IdList, u64)> {
    let mut list = Vec::new();
    let mut held = 0u64;
    loop {
        let id = r.read_varint("id")? as u32;
        if id == 0 {
            break;
        }
        if list.len() >= MAX_ID_LIST_LEN {
            return Err(Error::TooLong {
                field: "id list",
                len: list.len() as u64 + 1,
                max: MAX_ID_LIST_LEN as u64,
            });
        }
        let len = usize::from(r.read_u8_field("id name length")?);
        let name = r.read_bytes(len, MAX_ID_NAME_LEN, "id name")?;
        held = charge(held, id_entry_cost(&name), budget)?;
        list.push((id, name));
    }
    if id0_names {
        let len = usize::from(r.read_u8_field("id name length")?);
        let name = r.read_bytes(len, MAX_ID_NAME_LEN, "id name")?;
        held = charge(held, id_entry_cost(&name), budget)?;
        list.push((0, name));
    }
    Ok((list, held))
}

fn charge(held: u64, cost: u64, budget: u64) -> Result<u64> {
    let held = held.saturating_add(cost);
    if held > budget {
        return Err(Error::TooLong {
            field: "id list bytes",
            len: held,
            max: budget,
        });
    }
    Ok(held)
}

/// Upstream's protocol >= 29 file-list order (flist.c f_name_cmp), given the
/// names and whether each is a directory: inside every directory, "." first,
/// then files by bytes, then subdirectories (compared as `name/`), each
/// followed by its contents.
// upstream: flist.c:f_name_cmp()
pub fn compare_names(a: &[u8], a_is_dir: bool, b: &[u8], b_is_dir: bool) -> Ordering {
    // The directories both names share (each component before the last
    // '/' of their common prefix) compare equal: skipped.
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (cut, whole) = match a[..same].iter().rposition(|&c| c == b'/') {
        Some(slash) => (slash + 1, false),
        None => (0, true),
    };
    let (ra, rb) = (&a[cut..], &b[cut..]);
    // Two names in the same directory (the usual case): one component
    // each.
    let root = |n: &[u8], d| whole && d && n == b".";
    if !ra.contains(&b'/') && !rb.contains(&b'/') && !root(ra, a_is_dir) && !root(rb, b_is_dir) {
        let part = |n, d| {
            if d {
                SortPart::Dir(n)
            } else {
                SortPart::File(n)
            }
        };
        return part(ra, a_is_dir).cmp(&part(rb, b_is_dir));
    }
    compare_parts(ra, a_is_dir, rb, b_is_dir, whole)
}

/// [`compare_names`] by components; `whole`: these are the whole names
/// (so "." may be the root directory).
fn compare_parts(a: &[u8], a_is_dir: bool, b: &[u8], b_is_dir: bool, whole: bool) -> Ordering {
    let mut ka = sort_key(a, a_is_dir, whole);
    let mut kb = sort_key(b, b_is_dir, whole);
    loop {
        match (ka.next(), kb.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match x.cmp(&y) {
                Ordering::Equal => continue,
                other => return other,
            },
        }
    }
}

/// One path component as the sort sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortPart<'a> {
    /// The last component of a non-directory.
    File(&'a [u8]),
    /// A directory component, compared as `name/`.
    Dir(&'a [u8]),
}

impl Ord for SortPart<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortPart::File(a), SortPart::File(b)) => a.cmp(b),
            (SortPart::File(_), SortPart::Dir(_)) => Ordering::Less,
            (SortPart::Dir(_), SortPart::File(_)) => Ordering::Greater,
            (SortPart::Dir(a), SortPart::Dir(b)) => a.iter().chain(b"/").cmp(b.iter().chain(b"/")),
        }
    }
}

impl PartialOrd for SortPart<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The components of a name; the root directory "." (a `whole` name) has
/// none, so it sorts before everything.
fn sort_key(name: &[u8], is_dir: bool, whole: bool) -> impl Iterator<Item = SortPart<'_>> {
    let root = whole && is_dir && name == b".";
    let mut parts = name.split(|&c| c == b'/').peekable();
    std::iter::from_fn(move || {
        if root {
            return None;
        }
        let part = parts.next()?;
        if parts.peek().is_none() && !is_dir {
            Some(SortPart::File(part))
        } else {
            Some(SortPart::Dir(part))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opts_a(protocol: i32, varint_flags: bool) -> FlistOptions {
        FlistOptions {
            protocol,
            varint_flags,
            preserve_uid: true,
            preserve_gid: true,
            preserve_links: true,
            preserve_devices: true,
            preserve_specials: true,
            checksum_len: None,
            preserve_hard_links: false,
            preserve_atimes: false,
        }
    }

    fn dot_and_a(nsec: bool) -> Vec<FileEntry> {
        vec![
            FileEntry {
                name: b".".into(),
                mode: S_IFDIR | 0o755,
                uid: 1000,
                gid: 1000,
                ..Default::default()
            }
            .with_size(4096)
            .with_mtime(0x6500_0001)
            .with_mtime_nsec(if nsec { 5 } else { 0 })
            .with_xflags(XMIT_TOP_DIR),
            FileEntry {
                name: b"a".into(),
                mode: S_IFREG | 0o644,
                uid: 1000,
                gid: 1000,
                ..Default::default()
            }
            .with_size(3)
            .with_mtime(0x6500_0000)
            .with_mtime_nsec(if nsec { 7 } else { 0 }),
        ]
    }

    fn encode_all(opts: FlistOptions, entries: &[FileEntry], io_error: i32) -> Vec<u8> {
        let mut enc = FlistEncoder::new(opts);
        let mut out = Vec::new();
        for e in entries {
            enc.encode(&mut out, e);
        }
        enc.encode_end(&mut out, io_error);
        out
    }

    fn decode_all(opts: FlistOptions, mut r: &[u8]) -> Result<(Vec<FileEntry>, i32, &[u8])> {
        let mut dec = FlistDecoder::new(opts);
        let mut list = Vec::new();
        while let Some(e) = dec.decode(&mut r)? {
            list.push(e);
        }
        Ok((list, dec.io_error(), r))
    }

    /// The 52-byte file list of the protocol doc's worked example (§12.1).
    const TRACE_12_1: &[u8] = &[
        0x01, 0x01, 0x2E, 0x00, 0x00, 0x10, 0x65, 0x01, 0x00, 0x00, 0xED, 0x41, 0x00, 0x00, 0x83,
        0xE8, 0x83, 0xE8, // "."
        0x18, 0x01, 0x61, 0x00, 0x03, 0x00, 0x65, 0x00, 0x00, 0x00, 0xA4, 0x81, 0x00,
        0x00, // "a"
        0x00, 0x00, // end, io_error 0
        0x83, 0xE8, 0x05, b'a', b'l', b'i', b'c', b'e', 0x00, // uids
        0x83, 0xE8, 0x05, b'a', b'l', b'i', b'c', b'e', 0x00, // gids
    ];

    #[test]
    fn worked_example_12_1() {
        assert_eq!(TRACE_12_1.len(), 52);
        for protocol in [31, 32] {
            let opts = opts_a(protocol, true);
            let mut out = encode_all(opts, &dot_and_a(false), 0);
            write_id_list(&mut out, &[(1000, b"alice".to_vec())], None);
            write_id_list(&mut out, &[(1000, b"alice".to_vec())], None);
            assert_eq!(out, TRACE_12_1);

            let (list, io_error, mut rest) = decode_all(opts, TRACE_12_1).unwrap();
            assert_eq!(list, dot_and_a(false));
            assert_eq!(io_error, 0);
            let alice = vec![(1000, b"alice".to_vec())];
            assert_eq!(read_id_list(&mut rest, false).unwrap(), alice);
            assert_eq!(read_id_list(&mut rest, false).unwrap(), alice);
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn nsec_flags_5_7() {
        let out = encode_all(opts_a(31, true), &dot_and_a(true), 0);
        assert_eq!(&out[..3], &[0xA0, 0x01, 0x01]);
        // "." is 18 bytes plus a flags byte and an nsec byte.
        assert_eq!(&out[20..22], &[0xA0, 0x18]);
        let (list, _, _) = decode_all(opts_a(31, true), &out).unwrap();
        assert_eq!(list, dot_and_a(true));
        // Protocol 30 has no nanoseconds.
        let out = encode_all(opts_a(30, true), &dot_and_a(true), 0);
        assert_eq!(out[0], 0x01);
        let (list, _, _) = decode_all(opts_a(30, true), &out).unwrap();
        assert_eq!(list, dot_and_a(false));
    }

    #[test]
    fn byte_flags_mode() {
        let opts = opts_a(30, false);
        let mut entries = dot_and_a(false);
        // Same as previous in everything but the name: flags would be 0.
        entries.push(FileEntry {
            name: b"b".into(),
            ..entries[1].clone()
        });
        let out = encode_all(opts, &entries, 0);
        assert_eq!(out[0], 0x01);
        assert_eq!(*out.last().unwrap(), 0x00);
        let (list, io_error, rest) = decode_all(opts, &out).unwrap();
        assert_eq!(list, entries);
        assert_eq!(io_error, 0);
        assert!(rest.is_empty());

        // Without -o/-g the file entry keeps the filler away from xflags.
        let bare = FlistOptions {
            protocol: 30,
            varint_flags: false,
            ..FlistOptions::default()
        };
        let f = FileEntry {
            name: b"f".into(),
            mode: S_IFREG | 0o600,
            ..Default::default()
        }
        .with_mtime(5);
        let g = FileEntry {
            name: b"g".into(),
            ..f.clone()
        };
        let out = encode_all(bare, &[f.clone(), g.clone()], 0);
        // f: SAME_UID|SAME_GID (ids not preserved).
        assert_eq!(out[0], 0x18);
        let (list, _, _) = decode_all(bare, &out).unwrap();
        assert_eq!(list, [f, g]);
    }

    #[test]
    fn byte_mode_filler_and_empty_dir_flags() {
        let bare = FlistOptions {
            protocol: 31,
            varint_flags: false,
            ..FlistOptions::default()
        };
        let d = FileEntry {
            name: b"d".into(),
            mode: S_IFDIR | 0o755,
            ..Default::default()
        };
        let out = encode_all(bare, std::slice::from_ref(&d), 0);
        // dir, SAME_UID|SAME_GID|SAME_TIME (mtime 0 on the first entry).
        assert_eq!(out[0], 0x98);
        let (list, _, _) = decode_all(bare, &out).unwrap();
        assert_eq!(list, [d]);

        // A non-dir entry whose flags would be 0 gets XMIT_TOP_DIR as filler
        // and the decoder does not keep it.
        let mut dec = FlistDecoder::new(bare);
        let wire = [0x01u8, 0x01, b'x', 0, 0, 0, 0x01, 0, 0, 0, 0xA4, 0x81, 0, 0];
        let e = dec.decode(&mut &wire[..]).unwrap().unwrap();
        assert_eq!(e.xflags(), 0);
        assert!(e.is_file());
    }

    #[test]
    fn end_markers() {
        let v = opts_a(31, true);
        assert_eq!(encode_all(v, &[], 0), [0, 0]);
        assert_eq!(encode_all(v, &[], 3), [0, 3]);
        let b = opts_a(31, false);
        assert_eq!(encode_all(b, &[], 0), [0]);
        assert_eq!(encode_all(b, &[], 1), [0x04, 0x10, 0x01]);
        let (list, io_error, rest) = decode_all(b, &[0x04, 0x10, 0x01]).unwrap();
        assert!(list.is_empty() && rest.is_empty());
        assert_eq!(io_error, 1);
        let (_, io_error, _) = decode_all(v, &[0x00, 0x02]).unwrap();
        assert_eq!(io_error, 2);
    }

    #[test]
    fn devices_specials_links_checksums() {
        let entries = vec![
            FileEntry {
                name: b"dev/null".into(),
                mode: S_IFCHR | 0o666,
                ..Default::default()
            }
            .with_mtime(1)
            .with_rdev((1, 3)),
            FileEntry {
                name: b"dev/zero".into(),
                mode: S_IFCHR | 0o666,
                ..Default::default()
            }
            .with_mtime(1)
            .with_rdev((1, 5)),
            FileEntry {
                name: b"dev/fifo".into(),
                mode: S_IFIFO | 0o600,
                ..Default::default()
            }
            .with_mtime(1),
            FileEntry {
                name: b"dev/sda".into(),
                mode: S_IFBLK | 0o660,
                ..Default::default()
            }
            .with_mtime(1)
            .with_rdev((8, 0)),
            FileEntry {
                name: b"link".into(),
                mode: S_IFLNK | 0o777,
                ..Default::default()
            }
            .with_mtime(2)
            .with_link_target(b"dev/null".to_vec()),
            FileEntry {
                name: b"sum".into(),
                mode: S_IFREG | 0o644,
                ..Default::default()
            }
            .with_size(10)
            .with_mtime(2)
            .with_checksum(vec![0xAB; 16]),
        ];
        for (protocol, varint_flags) in [(30, false), (30, true), (31, false), (32, true)] {
            let mut opts = opts_a(protocol, varint_flags);
            opts.checksum_len = Some(16);
            let out = encode_all(opts, &entries, 0);
            let (list, _, rest) = decode_all(opts, &out).unwrap();
            assert_eq!(list, entries, "protocol {protocol} varint {varint_flags}");
            assert!(rest.is_empty());
        }
        // The second device shares major 1: only the minor follows the mode.
        let mut opts = opts_a(31, true);
        opts.preserve_uid = false;
        opts.preserve_gid = false;
        let mut enc = FlistEncoder::new(opts);
        let mut out = Vec::new();
        enc.encode(&mut out, &entries[0]);
        let first_len = out.len();
        enc.encode(&mut out, &entries[1]);
        // SAME_RDEV_MAJOR|SAME_TIME|SAME_NAME|SAME_GID|SAME_UID|SAME_MODE
        assert_eq!(out[first_len..first_len + 2], [0x81, 0xBA]);
        // l1 = 4 ("dev/"), "zero", size 0, then only the minor.
        assert_eq!(
            out[first_len + 2..],
            [4, 4, b'z', b'e', b'r', b'o', 0, 0, 0, 0x05]
        );
    }

    #[test]
    fn decoder_refusals() {
        let opts = opts_a(31, true);
        let dec = || FlistDecoder::new(opts);
        // XMIT_HLINKED.
        let mut w = Vec::new();
        write_varint(&mut w, (XMIT_HLINKED | XMIT_HLINK_FIRST) as i32);
        assert!(matches!(
            dec().decode(&mut &w[..]),
            Err(Error::Invalid { .. })
        ));
        // l1 longer than the previous name.
        assert!(matches!(
            dec().decode(&mut &[0x20u8, 0x05, 0x01, b'x'][..]),
            Err(Error::Invalid { .. })
        ));
        // Name too long.
        let mut w = Vec::new();
        write_varint(&mut w, XMIT_LONG_NAME as i32);
        write_varint(&mut w, MAX_NAME_LEN as i32 + 1);
        assert!(matches!(
            dec().decode(&mut &w[..]),
            Err(Error::TooLong { .. })
        ));
        let entry = |mode: u32, nsec: Option<i32>, size: i64| {
            let mut w = Vec::new();
            let flags =
                XMIT_SAME_UID | XMIT_SAME_GID | if nsec.is_some() { XMIT_MOD_NSEC } else { 0 };
            write_varint(&mut w, flags as i32);
            w.extend_from_slice(&[1, b'x']);
            write_varlong(&mut w, size, 3);
            write_varlong(&mut w, 9, 4);
            if let Some(n) = nsec {
                write_varint(&mut w, n);
            }
            write_i32(&mut w, mode as i32);
            w
        };
        assert!(dec()
            .decode(&mut &entry(S_IFREG | 0o644, Some(1), 1)[..])
            .is_ok());
        for bad in [
            entry(0o644, None, 1),
            entry(0o070644, None, 1),
            entry(S_IFREG | 0o644, Some(1_000_000_000), 1),
            entry(S_IFREG | 0o644, Some(-1), 1),
            entry(S_IFREG | 0o644, None, -1),
        ] {
            assert!(matches!(
                dec().decode(&mut &bad[..]),
                Err(Error::Invalid { .. })
            ));
        }
        // Truncated input is EOF naming the field.
        assert!(matches!(
            dec().decode(&mut &TRACE_12_1[..5]),
            Err(Error::Eof {
                field: "file length"
            })
        ));
    }

    fn hl(name: &str, mode: u32, mtime: i64, uid: u32, hlink: Option<u32>) -> FileEntry {
        let mut e = FileEntry {
            name: name.as_bytes().into(),
            mode,
            uid,
            gid: uid + 1,
            hlink: hlink.into(),
            ..Default::default()
        }
        .with_size(if mode & S_IFMT == S_IFREG { 7 } else { 0 })
        .with_mtime(mtime);
        e.set_rdev(if mode & S_IFMT == S_IFCHR {
            (uid, 9)
        } else {
            (0, 0)
        });
        e.set_checksum((mode & S_IFMT == S_IFREG).then(|| vec![uid as u8; 16]));
        e
    }

    #[test]
    fn hard_link_groups_round_trip() {
        let f = S_IFREG | 0o644;
        let entries = vec![
            hl(".", S_IFDIR | 0o755, 1, 0, None).with_xflags(XMIT_TOP_DIR),
            hl("a", f, 10, 5, Some(1)),
            hl("b", f, 20, 6, Some(2)),
            // A device between the first and its follower changes every
            // "previous" value; the follower must put them back as the
            // receiver does.
            hl("dev", S_IFCHR | 0o600, 30, 7, None),
            hl("d/a2", f, 10, 5, Some(1)),
            hl("d/b2", f, 20, 6, Some(2)),
            hl("d/c", f, 10, 5, None),
            hl("d/dev2", S_IFCHR | 0o600, 30, 5, None),
            hl("d/a3", f, 10, 5, Some(1)),
            // A group of one (its other links are not in the list).
            hl("lonely", S_IFREG | 0o600, 10, 5, Some(9)),
        ];
        for (protocol, varint_flags) in [(30, false), (30, true), (31, false), (32, true)] {
            let mut opts = opts_a(protocol, varint_flags);
            opts.preserve_hard_links = true;
            opts.checksum_len = Some(16);
            let out = encode_all(opts, &entries, 0);
            let (list, _, rest) = decode_all(opts, &out).unwrap();
            assert_eq!(list, entries, "protocol {protocol} varint {varint_flags}");
            assert!(rest.is_empty());
        }
        // A follower is its flags, its name and the index of its first.
        let mut opts = opts_a(31, true);
        opts.preserve_hard_links = true;
        let mut enc = FlistEncoder::new(opts);
        let mut out = Vec::new();
        enc.encode(&mut out, &entries[1]);
        let first = out.clone();
        let mut x = 0;
        let mut r = &first[..];
        x |= r.read_varint("flags").unwrap() as u32;
        assert_eq!(
            x & (XMIT_HLINKED | XMIT_HLINK_FIRST),
            XMIT_HLINKED | XMIT_HLINK_FIRST
        );
        enc.encode(&mut out, &hl("z", f, 10, 5, Some(0)));
        let mut r = &out[first.len()..];
        let x = r.read_varint("flags").unwrap() as u32;
        assert_eq!(x & (XMIT_HLINKED | XMIT_HLINK_FIRST), XMIT_HLINKED);
        assert_eq!(r, [1, b'z', 0]);
        // Without -H the group data is not sent at all.
        let plain = opts_a(31, true);
        let out = encode_all(plain, &entries, 0);
        let (list, _, _) = decode_all(plain, &out).unwrap();
        assert!(list.iter().all(|e| e.hlink.is_none()));
    }

    #[test]
    fn hard_link_index_refusals() {
        let mut opts = opts_a(31, true);
        opts.preserve_hard_links = true;
        let f = S_IFREG | 0o644;
        let mut head = Vec::new();
        let mut enc = FlistEncoder::new(opts);
        enc.encode(&mut head, &hl("a", f, 10, 5, Some(0)));
        enc.encode(&mut head, &hl("plain", f, 10, 5, None));
        enc.encode(&mut head, &hl("dir", S_IFDIR | 0o755, 10, 5, None));
        let follower = |idx: i32| {
            let mut w = head.clone();
            write_varint(
                &mut w,
                (XMIT_HLINKED | XMIT_SAME_UID | XMIT_SAME_GID) as i32,
            );
            w.extend_from_slice(&[1, b'z']);
            write_varint(&mut w, idx);
            w.push(0);
            w.push(0);
            w
        };
        let (list, _, _) = decode_all(opts, &follower(0)).unwrap();
        assert_eq!(list[3].hlink, Some(0));
        assert_eq!((list[3].size(), list[3].mode), (7, f));
        for bad in [-1, 3, 4, 1000, 1, 2] {
            let err = decode_all(opts, &follower(bad)).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Invalid {
                        field: "hard-link index",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
        // A directory never starts a group.
        let mut w = Vec::new();
        write_varint(&mut w, (XMIT_HLINKED | XMIT_HLINK_FIRST) as i32);
        w.extend_from_slice(&[1, b'd']);
        write_varlong(&mut w, 0, 3);
        write_varlong(&mut w, 1, 4);
        write_i32(&mut w, (S_IFDIR | 0o755) as i32);
        write_varint(&mut w, 0);
        write_varint(&mut w, 0);
        write_varint(&mut w, (XMIT_HLINKED | XMIT_SAME_NAME) as i32);
        w.extend_from_slice(&[1, 1, b'e']);
        write_varint(&mut w, 0);
        let mut dec = FlistDecoder::new(opts);
        let mut r = &w[..];
        let d = dec.decode(&mut r).unwrap().unwrap();
        assert_eq!(d.hlink, None);
        assert!(matches!(
            dec.decode(&mut r),
            Err(Error::Invalid {
                field: "hard-link index",
                ..
            })
        ));
    }

    #[test]
    fn inline_names_are_kept_per_entry() {
        let opts = opts_a(31, true);
        let mut w = Vec::new();
        write_varint(
            &mut w,
            (XMIT_USER_NAME_FOLLOWS | XMIT_GROUP_NAME_FOLLOWS) as i32,
        );
        w.extend_from_slice(&[1, b'x', 0, 0, 0]);
        write_varlong(&mut w, 7, 4);
        write_i32(&mut w, (S_IFREG | 0o644) as i32);
        w.extend_from_slice(&[0x83, 0xE8, 5]);
        w.extend_from_slice(b"alice");
        w.extend_from_slice(&[0x2A, 3]);
        w.extend_from_slice(b"grp");
        w.push(0);
        w.push(0);
        let (list, _, rest) = decode_all(opts, &w).unwrap();
        assert_eq!((list[0].uid, list[0].gid), (1000, 42));
        assert!(rest.is_empty());
        // The names are kept for the caller until the next entry.
        let mut dec = FlistDecoder::new(opts);
        let mut r = &w[..];
        dec.decode(&mut r).unwrap().unwrap();
        let names = dec.take_names();
        assert_eq!(
            names,
            [
                InlineName {
                    user: true,
                    id: 1000,
                    name: b"alice".to_vec()
                },
                InlineName {
                    user: false,
                    id: 42,
                    name: b"grp".to_vec()
                }
            ]
        );
        assert!(dec.take_names().is_empty());
    }

    #[test]
    fn name_prefix_compression() {
        let long = vec![b'p'; 300];
        let mut a = long.clone();
        a.extend_from_slice(b"/one");
        let mut b = long.clone();
        b.extend_from_slice(b"/two");
        let e = |name: Vec<u8>| FileEntry {
            name: name.into(),
            mode: S_IFREG | 0o644,
            ..Default::default()
        };
        let entries = vec![e(a), e(b)];
        let opts = opts_a(31, true);
        let out = encode_all(opts, &entries, 0);
        let (list, _, _) = decode_all(opts, &out).unwrap();
        assert_eq!(list, entries);
    }

    #[test]
    fn entries_are_compact() {
        // A million-file list holds a million of these on each side.
        assert_eq!(std::mem::size_of::<FileEntry>(), 64);
        // The high halves of size and mtime fit in Extra's padding: an
        // entry that needs them costs no more than one with a symlink.
        assert_eq!(std::mem::size_of::<Extra>(), 88);
        assert_eq!(heap_cost(std::mem::size_of::<Extra>()), 96);
        // A decoded short name stays inline (no allocation of its own), a
        // long one takes an exact-size heap block; TOP_DIR (in Extra)
        // survives the trip.
        let short = b"h003/d12/f0001234.dat";
        let long = [b'q'; NAME_INLINE_MAX + 1];
        let entries = vec![
            FileEntry {
                name: b".".into(),
                mode: S_IFDIR | 0o755,
                ..Default::default()
            }
            .with_xflags(XMIT_TOP_DIR),
            FileEntry {
                name: short.into(),
                mode: S_IFREG | 0o644,
                ..Default::default()
            },
            FileEntry {
                name: long[..].into(),
                mode: S_IFREG | 0o644,
                ..Default::default()
            },
        ];
        let opts = opts_a(31, true);
        let (list, _, _) = decode_all(opts, &encode_all(opts, &entries, 0)).unwrap();
        assert_eq!(list, entries);
        assert_eq!(list[0].xflags(), XMIT_TOP_DIR);
        assert!(list[0].extra.is_some() && list[1].extra.is_none());
        assert_eq!(list[1].name, short);
        assert!(!list[1].name.is_heap(), "short name inline");
        assert!(list[2].name.is_heap(), "long name on the heap");
        assert_eq!(list[2].name.len(), NAME_INLINE_MAX + 1);
    }

    /// Sizes and mtimes at and around the 32-bit boundaries, negative and
    /// extreme ones, with and without other rare fields.
    const WIDE: [i64; 14] = [
        0,
        1,
        u32::MAX as i64 - 1,
        u32::MAX as i64,
        1 << 32,
        (1 << 32) + 1,
        5 << 40,
        i64::MAX,
        -1,
        -2,
        i32::MIN as i64,
        -(1 << 32) - 1,
        i64::MIN,
        i64::MIN + 1,
    ];

    #[test]
    fn size_and_mtime_keep_every_value() {
        for &size in &WIDE {
            for &mtime in &WIDE {
                for link in [None, Some(b"t".to_vec())] {
                    let mut e = FileEntry::default().with_size(size).with_mtime(mtime);
                    e.set_link_target(link.clone());
                    assert_eq!((e.size(), e.mtime()), (size, mtime));
                    // Only a value outside 0..2^32 needs the side block.
                    let wide = !(0..1 << 32).contains(&size) || !(0..1 << 32).contains(&mtime);
                    assert_eq!(e.extra.is_some(), wide || link.is_some(), "{size} {mtime}");
                    // Narrowing again (or dropping the other rare field)
                    // gives the side block back: equal entries stay equal.
                    e.set_size(7);
                    e.set_mtime(8);
                    e.set_link_target(None);
                    assert_eq!(e, FileEntry::default().with_size(7).with_mtime(8));
                    assert!(e.extra.is_none());
                }
            }
        }
    }

    #[test]
    fn wide_values_cross_the_wire() {
        // Every protocol and flag encoding: files and a symlink, each size
        // (the decoder refuses a negative one) and mtime of WIDE, with
        // nanoseconds (sent from 31 on) and an atime.
        for protocol in 30..=32 {
            let mut o = opts_a(protocol, protocol > 30);
            o.preserve_atimes = true;
            let mut entries = Vec::new();
            for (i, &size) in WIDE.iter().enumerate() {
                let size = size.max(0);
                let mtime = WIDE[(i * 5 + 3) % WIDE.len()];
                let nsec = if protocol >= 31 {
                    (i as u32) * 70_000_001
                } else {
                    0
                };
                let file = FileEntry {
                    name: format!("f{i:02}").into_bytes().into(),
                    mode: S_IFREG | 0o644,
                    mtime_nsec: nsec,
                    ..Default::default()
                }
                .with_size(size)
                .with_mtime(mtime)
                .with_atime(WIDE[(i * 3 + 1) % WIDE.len()]);
                entries.push(file);
            }
            entries.push(
                FileEntry {
                    name: b"l".into(),
                    mode: S_IFLNK | 0o777,
                    ..Default::default()
                }
                .with_link_target(b"target".to_vec())
                .with_size(6)
                .with_mtime(-(1 << 40)),
            );
            let (list, _, _) = decode_all(o, &encode_all(o, &entries, 0)).unwrap();
            assert_eq!(list, entries, "protocol {protocol}");
            for (a, b) in list.iter().zip(&entries) {
                assert_eq!(
                    (a.size(), a.mtime(), a.mtime_nsec),
                    (b.size(), b.mtime(), b.mtime_nsec)
                );
            }
        }
    }

    #[test]
    fn id_lists() {
        let ids = vec![
            (1000, b"alice".to_vec()),
            (u32::MAX - 1, b"nobody".to_vec()),
        ];
        let mut out = Vec::new();
        write_id_list(&mut out, &ids, Some(b"root"));
        let mut r = &out[..];
        let got = read_id_list(&mut r, true).unwrap();
        assert_eq!(got[..2], ids[..]);
        assert_eq!(got[2], (0, b"root".to_vec()));
        assert!(r.is_empty());
        let mut out = Vec::new();
        write_id_list(&mut out, &[], None);
        assert_eq!(out, [0]);
    }

    fn sorted(mut names: Vec<(&'static str, bool)>) -> Vec<&'static str> {
        names.sort_by(|a, b| compare_names(a.0.as_bytes(), a.1, b.0.as_bytes(), b.1));
        names.into_iter().map(|n| n.0).collect()
    }

    #[test]
    fn sort_order_matches_rsync() {
        // Order printed by `rsync -r --list-only --no-inc-recursive` (3.5.0)
        // for this tree.
        let expected = [
            ".", "B", "a-", "a.c.txt", "aa", "a b", "a b/q", "a.c", "a.c/f", "a", "a/z", "b-x",
            "b-x/f", "b", "b/f", "x", "x/a", "x/y.txt", "x/y", "x/y/z",
        ];
        let dirs = [".", "a b", "a.c", "a", "b-x", "b", "x", "x/y"];
        let mut input: Vec<(&str, bool)> =
            expected.iter().map(|n| (*n, dirs.contains(n))).collect();
        input.reverse();
        assert_eq!(sorted(input), expected);
    }

    #[test]
    fn sort_cases() {
        let c = |a: &str, ad, b: &str, bd| compare_names(a.as_bytes(), ad, b.as_bytes(), bd);
        assert_eq!(c("b-x", true, "b", true), Ordering::Less);
        assert_eq!(c("a.c", true, "a", true), Ordering::Less);
        assert_eq!(c("a", false, "a.c", false), Ordering::Less);
        assert_eq!(c(".", true, "0", false), Ordering::Less);
        assert_eq!(c("a", true, "a/z", false), Ordering::Less);
        assert_eq!(c("a/z", false, "a.c", true), Ordering::Greater);
        assert_eq!(c("z", false, "a", true), Ordering::Less);
        assert_eq!(c("a", false, "a", true), Ordering::Less);
        assert_eq!(c("d/e", false, "d/e", false), Ordering::Equal);
    }

    fn entry_strategy() -> impl Strategy<Value = FileEntry> {
        let name = proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'b'), Just(b'/'), Just(b'.'), any::<u8>()],
            1..300,
        );
        (
            name,
            0usize..6,
            0u32..0o7777,
            // Around the 32-bit boundary too (the entry keeps the high
            // halves of size and mtime out of line).
            prop_oneof![0i64..=i64::MAX, (1i64 << 32) - 2..(1 << 32) + 2],
            prop_oneof![
                Just(0i64),
                Just(1),
                any::<i64>(),
                -(1i64 << 32) - 2..(1 << 32) + 2
            ],
            prop_oneof![Just(0u32), 1u32..=999_999_999],
            prop_oneof![Just(0u32), Just(1000), any::<u32>()],
            prop_oneof![Just(0u32), Just(1000), any::<u32>()],
            (prop_oneof![Just(0u32), Just(8), any::<u32>()], any::<u32>()),
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(any::<u8>(), 16),
            0u32..4,
        )
            .prop_map(
                |(name, t, perm, size, mtime, nsec, uid, gid, rdev, link, sum, xf)| {
                    let ftype = [S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO][t];
                    let ftype = if t == 5 && perm & 1 == 1 {
                        S_IFSOCK
                    } else {
                        ftype
                    };
                    let k = kind(ftype);
                    let mut e = FileEntry {
                        name: name.into(),
                        mode: ftype | perm,
                        uid,
                        gid,
                        hlink: None.into(),
                        xattr: None.into(),
                        ..FileEntry::default()
                    }
                    .with_size(if matches!(k, Kind::Device | Kind::Special) {
                        0
                    } else {
                        size
                    })
                    .with_mtime(mtime)
                    .with_mtime_nsec(nsec);
                    e.set_xflags(if k == Kind::Dir { xf & DIR_XFLAGS } else { 0 });
                    e.set_rdev(if k == Kind::Device { rdev } else { (0, 0) });
                    e.set_link_target((k == Kind::Symlink).then_some(link));
                    e.set_checksum((k == Kind::File).then_some(sum));
                    // Repeats (XMIT_SAME_ATIME) and changes both occur.
                    e.set_atime(if k == Kind::Dir {
                        0
                    } else {
                        mtime / 2 + i64::from(nsec % 2)
                    });
                    e
                },
            )
    }

    /// What a decoder sees of `e` under `opts`.
    fn as_received(opts: FlistOptions, e: &FileEntry, prev: &mut (u32, u32)) -> FileEntry {
        let mut e = e.clone();
        if opts.protocol < 31 {
            e.mtime_nsec = 0;
        }
        if opts.preserve_uid {
            prev.0 = e.uid;
        } else {
            e.uid = prev.0;
        }
        if opts.preserve_gid {
            prev.1 = e.gid;
        } else {
            e.gid = prev.1;
        }
        if !opts.preserve_links {
            e.set_link_target(None);
        }
        if opts.checksum_len.is_none() {
            e.set_checksum(None);
        }
        if !opts.preserve_atimes {
            e.set_atime(0);
        }
        if !opts.preserve_devices {
            e.set_rdev((0, 0));
        }
        e
    }

    proptest! {
        #[test]
        fn flist_round_trip(
            entries in proptest::collection::vec(entry_strategy(), 0..12),
            protocol in 30i32..=32,
            varint_flags in any::<bool>(),
            o in any::<bool>(), g in any::<bool>(), l in any::<bool>(), d in any::<bool>(),
            csum in any::<bool>(),
            io_error in 0i32..8,
        ) {
            let opts = FlistOptions {
                protocol,
                varint_flags,
                preserve_uid: o,
                preserve_gid: g,
                preserve_links: l,
                preserve_devices: d,
                preserve_specials: d,
                checksum_len: csum.then_some(16),
                preserve_hard_links: false,
                preserve_atimes: l != csum,
            };
            let out = encode_all(opts, &entries, io_error);
            let (list, got_err, rest) = decode_all(opts, &out).unwrap();
            let mut prev = (0, 0);
            let want: Vec<FileEntry> =
                entries.iter().map(|e| as_received(opts, e, &mut prev)).collect();
            prop_assert_eq!(list, want);
            prop_assert_eq!(got_err, io_error);
            prop_assert!(rest.is_empty());
        }

        #[test]
        fn size_and_mtime_round_trip(
            size in any::<i64>(), mtime in any::<i64>(), nsec in any::<u32>(),
            atime in prop_oneof![Just(0i64), any::<i64>()],
            size2 in any::<i64>(), mtime2 in prop_oneof![0i64..1 << 32, any::<i64>()],
        ) {
            let mut e = FileEntry { mtime_nsec: nsec, ..Default::default() }
                .with_atime(atime)
                .with_size(size)
                .with_mtime(mtime);
            prop_assert_eq!((e.size(), e.mtime(), e.mtime_nsec, e.atime()), (size, mtime, nsec, atime));
            e.set_mtime(mtime2);
            e.set_size(size2);
            prop_assert_eq!((e.size(), e.mtime(), e.mtime_nsec, e.atime()), (size2, mtime2, nsec, atime));
            // The same values set in another order make an equal entry.
            let f = FileEntry::default().with_mtime(mtime2).with_size(size2).with_atime(atime)
                .with_mtime_nsec(nsec);
            prop_assert_eq!(e, f);
        }

        #[test]
        fn id_list_round_trip(
            ids in proptest::collection::vec((1u32.., proptest::collection::vec(any::<u8>(), 0..255)), 0..20),
            id0 in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..255)),
        ) {
            let mut out = Vec::new();
            write_id_list(&mut out, &ids, id0.as_deref());
            let mut r = &out[..];
            let mut want = ids.clone();
            if let Some(n) = &id0 {
                want.push((0, n.clone()));
            }
            prop_assert_eq!(read_id_list(&mut r, id0.is_some()).unwrap(), want);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn compare_names_is_a_total_order(
            names in proptest::collection::vec(
                (proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'/'), Just(b'.'), Just(b'-')], 1..6),
                 any::<bool>()),
                0..12)
        ) {
            for (a, ad) in &names {
                prop_assert_eq!(compare_names(a, *ad, a, *ad), Ordering::Equal);
                for (b, bd) in &names {
                    prop_assert_eq!(compare_names(a, *ad, b, *bd),
                                    compare_names(b, *bd, a, *ad).reverse());
                    // Skipping the shared directories changes nothing.
                    prop_assert_eq!(compare_names(a, *ad, b, *bd),
                                    compare_parts(a, *ad, b, *bd, true));
                }
            }
        }
    }
}
