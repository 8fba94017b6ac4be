//! Item flags (upstream rsync.h ITEM_*) and the `%i %n%L` text a client
//! prints for them (upstream log.c log_formatted).
use protocol::flist::{FileEntry, S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT};

/// atime differs.
pub const ITEM_REPORT_ATIME: u32 = 1 << 0;
/// checksum differs.
pub const ITEM_REPORT_CHANGE: u32 = 1 << 1;
/// size differs.
pub const ITEM_REPORT_SIZE: u32 = 1 << 2;
/// could not set a symlink's time.
pub const ITEM_REPORT_TIMEFAIL: u32 = 1 << 2;
/// mtime differs.
pub const ITEM_REPORT_TIME: u32 = 1 << 3;
/// permissions differ.
pub const ITEM_REPORT_PERMS: u32 = 1 << 4;
/// owner differs.
pub const ITEM_REPORT_OWNER: u32 = 1 << 5;
/// group differs.
pub const ITEM_REPORT_GROUP: u32 = 1 << 6;
/// ACL differs.
pub const ITEM_REPORT_ACL: u32 = 1 << 7;
/// xattrs differ.
pub const ITEM_REPORT_XATTR: u32 = 1 << 8;
/// crtime differs.
pub const ITEM_REPORT_CRTIME: u32 = 1 << 10;
/// a basis type byte follows.
pub const ITEM_BASIS_TYPE_FOLLOWS: u32 = 1 << 11;
/// an xname follows.
pub const ITEM_XNAME_FOLLOWS: u32 = 1 << 12;
/// the item is new.
pub const ITEM_IS_NEW: u32 = 1 << 13;
/// the receiver changed it locally.
pub const ITEM_LOCAL_CHANGE: u32 = 1 << 14;
/// data is transferred.
pub const ITEM_TRANSFER: u32 = 1 << 15;
/// in memory only: a deletion.
pub const ITEM_DELETED: u32 = 1 << 17;

/// Flags that make an item worth reporting.
pub const SIGNIFICANT_ITEM_FLAGS: u32 =
    !(ITEM_BASIS_TYPE_FOLLOWS | ITEM_XNAME_FOLLOWS | ITEM_LOCAL_CHANGE);

/// How the client formats item lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemFormat {
    /// `%i` is in the format (-i).
    pub itemize: u8,
    /// -v count.
    pub verbose: u8,
    /// The line comes from the sending side (`<`) rather than the receiving
    /// side (`>`).
    pub sender: bool,
    /// Local transfer: always `>`.
    pub local: bool,
    /// -t
    pub preserve_mtimes: bool,
}

impl ItemFormat {
    /// True if the client prints anything for items (-i or -v).
    pub fn enabled(&self) -> bool {
        self.itemize > 0 || self.verbose > 0
    }

    /// The line for an item (without newline), or `None` when this format
    /// prints nothing. Mirrors log_item with stdout_format "%i %n%L" (-i) or
    /// "%n%L" (-v).
    pub fn line(&self, iflags: u32, e: &FileEntry) -> Option<String> {
        self.line_x(iflags, e, b"")
    }

    /// As [`Self::line`] for an item that came with an xname: a non-empty
    /// one is the hard link's leader, shown as ` => NAME` by `%L`.
    pub fn line_x(&self, iflags: u32, e: &FileEntry, xname: &[u8]) -> Option<String> {
        if !self.enabled() {
            return None;
        }
        let name = if xname.is_empty() {
            name_and_link(e)
        } else {
            format!(
                "{} => {}",
                String::from_utf8_lossy(&e.name),
                String::from_utf8_lossy(xname)
            )
        };
        if self.itemize == 0 {
            return Some(name);
        }
        Some(format!("{} {}", self.change_string(iflags, e), name))
    }

    /// Upstream log.c maybe_log_item() on the client: whether a
    /// non-transfer item is printed.
    pub fn wants_item(&self, iflags: u32, e: &FileEntry) -> bool {
        self.wants_item_x(iflags, e, b"")
    }

    /// As [`Self::wants_item`]; an item naming its hard-link leader is
    /// always printed.
    pub fn wants_item_x(&self, iflags: u32, e: &FileEntry, xname: &[u8]) -> bool {
        if !xname.is_empty() {
            return true;
        }
        let significant = iflags & SIGNIFICANT_ITEM_FLAGS & 0xffff;
        let itemizing = self.itemize > 0;
        let see_item = itemizing && (significant != 0 || self.itemize > 1 || self.verbose > 1);
        let local_change = iflags & ITEM_LOCAL_CHANGE != 0 && significant != 0;
        see_item || local_change || (e.is_dir() && significant != 0)
    }

    /// The 11-character change string.
    // upstream: log.c:log_formatted() case 'i'
    pub fn change_string(&self, iflags: u32, e: &FileEntry) -> String {
        if iflags & ITEM_DELETED != 0 {
            return "*deleting  ".to_string();
        }
        let mut c = [b'.'; 11];
        c[0] = if iflags & ITEM_LOCAL_CHANGE != 0 {
            if iflags & ITEM_XNAME_FOLLOWS != 0 {
                b'h'
            } else {
                b'c'
            }
        } else if iflags & ITEM_TRANSFER == 0 {
            b'.'
        } else if !self.local && self.sender {
            b'<'
        } else {
            b'>'
        };
        let ft = e.mode & S_IFMT;
        if ft == S_IFLNK {
            c[1] = b'L';
            c[3] = b'.';
            c[4] = if iflags & ITEM_REPORT_TIME == 0 {
                b'.'
            } else if !self.preserve_mtimes || iflags & ITEM_REPORT_TIMEFAIL != 0 {
                b'T'
            } else {
                b't'
            };
        } else {
            c[1] = match ft {
                S_IFDIR => b'd',
                S_IFCHR | S_IFBLK => b'D',
                protocol::flist::S_IFREG => b'f',
                _ => b'S',
            };
            c[3] = if iflags & ITEM_REPORT_SIZE == 0 {
                b'.'
            } else {
                b's'
            };
            c[4] = if iflags & ITEM_REPORT_TIME == 0 {
                b'.'
            } else if !self.preserve_mtimes {
                b'T'
            } else {
                b't'
            };
        }
        c[2] = if iflags & ITEM_REPORT_CHANGE == 0 {
            b'.'
        } else {
            b'c'
        };
        c[5] = if iflags & ITEM_REPORT_PERMS == 0 {
            b'.'
        } else {
            b'p'
        };
        c[6] = if iflags & ITEM_REPORT_OWNER == 0 {
            b'.'
        } else {
            b'o'
        };
        c[7] = if iflags & ITEM_REPORT_GROUP == 0 {
            b'.'
        } else {
            b'g'
        };
        c[8] = match (
            iflags & ITEM_REPORT_ATIME != 0,
            iflags & ITEM_REPORT_CRTIME != 0,
        ) {
            (false, false) => b'.',
            (true, true) => b'b',
            (true, false) => b'u',
            (false, true) => b'n',
        };
        c[9] = if iflags & ITEM_REPORT_ACL == 0 {
            b'.'
        } else {
            b'a'
        };
        c[10] = if iflags & ITEM_REPORT_XATTR == 0 {
            b'.'
        } else {
            b'x'
        };
        if iflags & ITEM_IS_NEW != 0 {
            for b in &mut c[2..] {
                *b = b'+';
            }
        } else if matches!(c[0], b'.' | b'h' | b'c') && c[2..].iter().all(|&b| b == b'.') {
            for b in &mut c[2..] {
                *b = b' ';
            }
        }
        String::from_utf8_lossy(&c).into_owned()
    }

    /// The line for a deletion ("*deleting   name" with -i, "deleting name"
    /// with -v), or `None`.
    pub fn deleted_line(&self, name: &[u8], is_dir: bool) -> Option<String> {
        let mut n = crate::text::name_text(name);
        if is_dir && !n.ends_with('/') {
            n.push('/');
        }
        if self.itemize > 0 {
            Some(format!("*deleting   {n}"))
        } else if self.verbose > 0 {
            Some(format!("deleting {n}"))
        } else {
            None
        }
    }
}

/// `%n%L`: the name (directories with a trailing `/`) and ` -> target` for
/// symlinks.
pub fn name_and_link(e: &FileEntry) -> String {
    let mut s = crate::text::name_text(&e.name);
    if e.is_dir() {
        s.push('/');
    }
    if let Some(t) = e.link_target() {
        if e.is_symlink() {
            s.push_str(" -> ");
            s.push_str(&crate::text::name_text(t));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt() -> ItemFormat {
        ItemFormat {
            itemize: 1,
            verbose: 0,
            sender: false,
            local: false,
            preserve_mtimes: true,
        }
    }

    #[test]
    fn new_file_and_dir() {
        let f = FileEntry {
            name: b"a".into(),
            mode: 0o100644,
            ..Default::default()
        };
        assert_eq!(
            fmt().line(ITEM_TRANSFER | ITEM_IS_NEW, &f).unwrap(),
            ">f+++++++++ a"
        );
        let d = FileEntry {
            name: b".".into(),
            mode: 0o040755,
            ..Default::default()
        };
        assert_eq!(
            fmt().line(ITEM_LOCAL_CHANGE | ITEM_IS_NEW, &d).unwrap(),
            "cd+++++++++ ./"
        );
        assert_eq!(fmt().line(ITEM_REPORT_TIME, &d).unwrap(), ".d..t...... ./");
    }

    #[test]
    fn changed_file_from_sender() {
        let f = FileEntry {
            name: b"big".into(),
            mode: 0o100644,
            ..Default::default()
        };
        let s = ItemFormat {
            sender: true,
            ..fmt()
        };
        assert_eq!(
            s.line(ITEM_TRANSFER | ITEM_REPORT_TIME, &f).unwrap(),
            "<f..t...... big"
        );
    }

    #[test]
    fn symlink_and_delete() {
        let l = FileEntry {
            name: b"l".into(),
            mode: 0o120777,
            ..Default::default()
        }
        .with_link_target(b"a".to_vec());
        assert_eq!(
            fmt()
                .line(ITEM_LOCAL_CHANGE | ITEM_REPORT_CHANGE | ITEM_IS_NEW, &l)
                .unwrap(),
            "cL+++++++++ l -> a"
        );
        assert_eq!(fmt().deleted_line(b"x", true).unwrap(), "*deleting   x/");
    }
}
