//! File-list entries (upstream flist.c send_file_entry / recv_file_entry),
//! the id lists, and the sort order both sides apply.
use crate::error::Result;
use std::cmp::Ordering;
use std::io::Read;

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

/// File-type bits of `mode` (Linux values, as on the wire).
pub const S_IFMT: u32 = 0o170000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Symlink.
pub const S_IFLNK: u32 = 0o120000;
/// Character device.
pub const S_IFCHR: u32 = 0o020000;
/// Block device.
pub const S_IFBLK: u32 = 0o060000;
/// FIFO.
pub const S_IFIFO: u32 = 0o010000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140000;

/// One decoded or to-be-encoded file-list entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileEntry {
    /// Relative name as sent (raw bytes, `/`-separated, "." for the root).
    pub name: Vec<u8>,
    /// Full st_mode (type and permission bits).
    pub mode: u32,
    /// Size in bytes (0 for devices and specials).
    pub size: i64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds of the mtime (sent only from protocol 31, when non-zero).
    pub mtime_nsec: u32,
    /// Owner (meaningful with -o).
    pub uid: u32,
    /// Group (meaningful with -g).
    pub gid: u32,
    /// Device major/minor (devices with -D).
    pub rdev: (u32, u32),
    /// Symlink target (symlinks with -l).
    pub link_target: Option<Vec<u8>>,
    /// Whole-file checksum (with -c, regular files).
    pub checksum: Option<Vec<u8>>,
    /// Only XMIT_TOP_DIR and XMIT_NO_CONTENT_DIR are meaningful here; the
    /// encoder computes every other bit itself.
    pub xflags: u32,
}

impl FileEntry {
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
}

/// What the two sides agreed that changes the entry format.
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
}

/// Encoder state (persists across the whole session).
#[derive(Debug, Clone, Default)]
pub struct FlistEncoder {
    _p: (),
}

impl FlistEncoder {
    /// New encoder with upstream's initial state.
    pub fn new(opts: FlistOptions) -> Self {
        let _ = opts;
        todo!()
    }
    /// Appends one entry.
    pub fn encode(&mut self, out: &mut Vec<u8>, e: &FileEntry) {
        let _ = (out, e);
        todo!()
    }
    /// Appends the end-of-list marker carrying `io_error` (§5.5).
    pub fn encode_end(&mut self, out: &mut Vec<u8>, io_error: i32) {
        let _ = (out, io_error);
        todo!()
    }
}

/// Decoder state (persists across the whole session).
#[derive(Debug, Clone, Default)]
pub struct FlistDecoder {
    _p: (),
}

impl FlistDecoder {
    /// New decoder with upstream's initial state.
    pub fn new(opts: FlistOptions) -> Self {
        let _ = opts;
        todo!()
    }
    /// Reads one entry, or `None` at the end marker (then [`Self::io_error`]
    /// holds the marker's io_error). Bounds: name <= MAX_NAME_LEN, link target
    /// <= MAX_LINK_LEN, nsec <= 999_999_999, size >= 0, known file type.
    /// Names are returned as sent; path safety is the caller's job.
    pub fn decode<R: Read + ?Sized>(&mut self, r: &mut R) -> Result<Option<FileEntry>> {
        let _ = r;
        todo!()
    }
    /// io_error from the end marker.
    pub fn io_error(&self) -> i32 {
        todo!()
    }
}

/// Appends a uid or gid list: `(id, name)` pairs with id != 0, then the
/// terminator varint 0 (plus the name of id 0 when `id0_names` is given
/// as Some(name)).
pub fn write_id_list(out: &mut Vec<u8>, ids: &[(u32, Vec<u8>)], id0_name: Option<&[u8]>) {
    let _ = (out, ids, id0_name);
    todo!()
}

/// Reads a uid or gid list; with `id0_names` (CF_ID0_NAMES) the terminator
/// is followed by a name for id 0, returned as `(0, name)`. Bounded to
/// 1 << 20 entries and 255-byte names.
pub fn read_id_list<R: Read + ?Sized>(r: &mut R, id0_names: bool) -> Result<Vec<(u32, Vec<u8>)>> {
    let _ = (r, id0_names);
    todo!()
}

/// Upstream's protocol >= 29 file-list order (flist.c f_name_cmp), given the
/// names and whether each is a directory: inside every directory, "." first,
/// then files by bytes, then subdirectories (compared as `name/`), each
/// followed by its contents.
pub fn compare_names(a: &[u8], a_is_dir: bool, b: &[u8], b_is_dir: bool) -> Ordering {
    let _ = (a, a_is_dir, b, b_is_dir);
    todo!()
}
