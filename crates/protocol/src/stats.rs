//! Transfer statistics sent by a server sender (upstream main.c
//! handle_stats) and deletion statistics (NDX_DEL_STATS).
use crate::error::Result;
use std::io::Read;

/// The five transfer counters a server sender reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Bytes the sender read from the wire.
    pub total_read: i64,
    /// Bytes the sender wrote to the wire.
    pub total_written: i64,
    /// Sum of the file sizes in the list.
    pub total_size: i64,
    /// File-list build time in ms.
    pub flist_buildtime: i64,
    /// File-list transfer time in ms.
    pub flist_xfertime: i64,
}

impl Stats {
    /// Appends five varlong(3)s.
    pub fn write(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!()
    }
    /// Reads five varlong(3)s; negative values are `Error::Invalid`.
    pub fn read<R: Read + ?Sized>(r: &mut R) -> Result<Stats> {
        let _ = r;
        todo!()
    }
}

/// Deletion counts (protocol >= 31, after NDX_DEL_STATS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DelStats {
    /// Regular files deleted.
    pub files: i32,
    /// Directories deleted.
    pub dirs: i32,
    /// Symlinks deleted.
    pub symlinks: i32,
    /// Devices deleted.
    pub devices: i32,
    /// Special files deleted.
    pub specials: i32,
}

impl DelStats {
    /// Total deletions.
    pub fn total(&self) -> i32 {
        self.files + self.dirs + self.symlinks + self.devices + self.specials
    }
    /// Appends five varints. Upstream sends `files` as total minus the rest;
    /// callers pass the real per-kind counts.
    pub fn write(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!()
    }
    /// Reads five varints, each bounded by 2^28.
    pub fn read<R: Read + ?Sized>(r: &mut R) -> Result<DelStats> {
        let _ = r;
        todo!()
    }
}
