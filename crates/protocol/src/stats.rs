//! Transfer statistics sent by a server sender (upstream main.c
//! handle_stats) and deletion statistics (NDX_DEL_STATS).
use crate::error::{Error, Result};
use crate::varint::{write_varint, write_varlong, WireRead};
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
    // upstream: main.c:handle_stats()
    pub fn write(&self, out: &mut Vec<u8>) {
        for v in [
            self.total_read,
            self.total_written,
            self.total_size,
            self.flist_buildtime,
            self.flist_xfertime,
        ] {
            write_varlong(out, v, 3);
        }
    }
    /// Reads five varlong(3)s; negative values are `Error::Invalid`.
    pub fn read<R: Read + ?Sized>(r: &mut R) -> Result<Stats> {
        let mut one = |field: &'static str| -> Result<i64> {
            let v = r.read_varlong(3, field)?;
            if v < 0 {
                return Err(Error::invalid(field, format!("negative value {v}")));
            }
            Ok(v)
        };
        Ok(Stats {
            total_read: one("total_read")?,
            total_written: one("total_written")?,
            total_size: one("total_size")?,
            flist_buildtime: one("flist_buildtime")?,
            flist_xfertime: one("flist_xfertime")?,
        })
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
    // upstream: generator.c:write_del_stats()
    pub fn write(&self, out: &mut Vec<u8>) {
        for v in [
            self.files,
            self.dirs,
            self.symlinks,
            self.devices,
            self.specials,
        ] {
            write_varint(out, v);
        }
    }
    /// Reads five varints, each bounded by 2^28.
    // upstream: generator.c:read_del_stats()
    pub fn read<R: Read + ?Sized>(r: &mut R) -> Result<DelStats> {
        const MAX: i32 = 1 << 28;
        let mut one = |field: &'static str| -> Result<i32> {
            let v = r.read_varint(field)?;
            if v < 0 {
                return Err(Error::invalid(field, format!("negative count {v}")));
            }
            if v > MAX {
                return Err(Error::TooLong {
                    field,
                    len: v as u64,
                    max: MAX as u64,
                });
            }
            Ok(v)
        };
        Ok(DelStats {
            files: one("deleted files")?,
            dirs: one("deleted dirs")?,
            symlinks: one("deleted symlinks")?,
            devices: one("deleted devices")?,
            specials: one("deleted specials")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stats_bytes() {
        let s = Stats {
            total_read: 3,
            total_written: 4096,
            total_size: 0,
            flist_buildtime: 1,
            flist_xfertime: 0x80_0000,
        };
        let mut out = Vec::new();
        s.write(&mut out);
        assert_eq!(
            out,
            [0, 3, 0, 0, 0, 0x10, 0, 0, 0, 0, 1, 0, 0x80, 0, 0, 0x80]
        );
        assert_eq!(Stats::read(&mut &out[..]).unwrap(), s);
        let mut neg = Vec::new();
        write_varlong(&mut neg, -1, 3);
        assert!(matches!(
            Stats::read(&mut &neg[..]),
            Err(Error::Invalid { .. })
        ));
    }

    #[test]
    fn del_stats_bounds() {
        let d = DelStats {
            files: 1,
            dirs: 2,
            symlinks: 3,
            devices: 0,
            specials: 1000,
        };
        let mut out = Vec::new();
        d.write(&mut out);
        assert_eq!(out, [1, 2, 3, 0, 0x83, 0xE8]);
        assert_eq!(DelStats::read(&mut &out[..]).unwrap(), d);
        assert_eq!(d.total(), 1006);
        let mut big = Vec::new();
        write_varint(&mut big, (1 << 28) + 1);
        assert!(matches!(
            DelStats::read(&mut &big[..]),
            Err(Error::TooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trip(v in proptest::array::uniform5(0i64..=i64::MAX),
                      d in proptest::array::uniform5(0i32..=(1 << 28))) {
            let s = Stats { total_read: v[0], total_written: v[1], total_size: v[2],
                            flist_buildtime: v[3], flist_xfertime: v[4] };
            let mut out = Vec::new();
            s.write(&mut out);
            prop_assert_eq!(Stats::read(&mut &out[..]).unwrap(), s);
            let ds = DelStats { files: d[0], dirs: d[1], symlinks: d[2], devices: d[3], specials: d[4] };
            let mut out = Vec::new();
            ds.write(&mut out);
            prop_assert_eq!(DelStats::read(&mut &out[..]).unwrap(), ds);
        }
    }
}
