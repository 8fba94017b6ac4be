//! File-list index codec (protocol >= 30, upstream io.c write_ndx/read_ndx).
use crate::error::{Error, Result};
use crate::varint::WireRead;
use std::io::Read;

/// End of a phase / of the transfer.
pub const NDX_DONE: i32 = -1;
/// No more incremental file lists.
pub const NDX_FLIST_EOF: i32 = -2;
/// Deletion statistics follow.
pub const NDX_DEL_STATS: i32 = -3;
/// Base of incremental file-list announcements.
pub const NDX_FLIST_OFFSET: i32 = -101;

/// Encoder state for one direction of a stream (never reset in a session).
#[derive(Debug, Clone)]
pub struct NdxWriter {
    prev_pos: i32,
    prev_neg: i32,
}

impl Default for NdxWriter {
    fn default() -> Self {
        NdxWriter {
            prev_pos: -1,
            prev_neg: 1,
        }
    }
}

impl NdxWriter {
    /// Appends the encoding of `ndx`.
    // upstream: io.c:write_ndx()
    pub fn write(&mut self, out: &mut Vec<u8>, ndx: i32) {
        let (v, diff) = if ndx >= 0 {
            let diff = ndx.wrapping_sub(self.prev_pos);
            self.prev_pos = ndx;
            (ndx, diff)
        } else if ndx == NDX_DONE {
            out.push(0);
            return;
        } else {
            out.push(0xFF);
            let v = ndx.wrapping_neg();
            let diff = v.wrapping_sub(self.prev_neg);
            self.prev_neg = v;
            (v, diff)
        };
        if (1..=0xFD).contains(&diff) {
            out.push(diff as u8);
        } else if (0..=0x7FFF).contains(&diff) {
            out.extend_from_slice(&[0xFE, (diff >> 8) as u8, diff as u8]);
        } else {
            out.extend_from_slice(&[
                0xFE,
                0x80 | (v >> 24) as u8,
                v as u8,
                (v >> 8) as u8,
                (v >> 16) as u8,
            ]);
        }
    }
}

/// Decoder state for one direction of a stream.
#[derive(Debug, Clone)]
pub struct NdxReader {
    prev_pos: i32,
    prev_neg: i32,
}

impl Default for NdxReader {
    fn default() -> Self {
        NdxReader {
            prev_pos: -1,
            prev_neg: 1,
        }
    }
}

impl NdxReader {
    /// Reads one ndx.
    ///
    /// Values that decode outside `0..=0x7FFF_FFFF` (before negation) are
    /// `Error::Invalid`.
    // upstream: io.c:read_ndx()
    pub fn read<R: Read + ?Sized>(&mut self, r: &mut R) -> Result<i32> {
        const FIELD: &str = "ndx";
        let mut lead = r.read_u8_field(FIELD)?;
        if lead == 0 {
            return Ok(NDX_DONE);
        }
        let negative = lead == 0xFF;
        if negative {
            lead = r.read_u8_field(FIELD)?;
        }
        let prev = i64::from(if negative {
            self.prev_neg
        } else {
            self.prev_pos
        });
        let num: i64 = if lead == 0xFE {
            let mut b = [0u8; 2];
            r.read_exact_field(&mut b, FIELD)?;
            if b[0] & 0x80 != 0 {
                let mut c = [0u8; 2];
                r.read_exact_field(&mut c, FIELD)?;
                i64::from(u32::from_le_bytes([b[1], c[0], c[1], b[0] & 0x7F]))
            } else {
                prev + (i64::from(b[0]) << 8 | i64::from(b[1]))
            }
        } else {
            prev + i64::from(lead)
        };
        let lowest = if negative { 1 } else { 0 };
        if num < lowest || num > i64::from(i32::MAX) {
            return Err(Error::invalid(FIELD, format!("value {num} out of range")));
        }
        let num = num as i32;
        if negative {
            self.prev_neg = num;
            Ok(-num)
        } else {
            self.prev_pos = num;
            Ok(num)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doc_sequence() {
        let seq: &[(i32, &[u8])] = &[
            (0, &[0x01]),
            (1, &[0x01]),
            (2, &[0x01]),
            (5, &[0x03]),
            (5, &[0xFE, 0x00, 0x00]),
            (300, &[0xFE, 0x01, 0x27]),
            (40000, &[0xFE, 0x80, 0x40, 0x9C, 0x00]),
            (3, &[0xFE, 0x80, 0x03, 0x00, 0x00]),
            (-1, &[0x00]),
            (-101, &[0xFF, 0x64]),
            (-102, &[0xFF, 0x01]),
            (-2, &[0xFF, 0xFE, 0x80, 0x02, 0x00, 0x00]),
        ];
        let mut w = NdxWriter::default();
        let mut all = Vec::new();
        for &(ndx, bytes) in seq {
            let mut out = Vec::new();
            w.write(&mut out, ndx);
            assert_eq!(out, bytes, "ndx {ndx}");
            all.extend_from_slice(&out);
        }
        let mut rd = NdxReader::default();
        let mut r = &all[..];
        for &(ndx, _) in seq {
            assert_eq!(rd.read(&mut r).unwrap(), ndx);
        }
        assert!(r.is_empty());
    }

    #[test]
    fn first_ndx_one_is_02() {
        let mut out = Vec::new();
        NdxWriter::default().write(&mut out, 1);
        assert_eq!(out, [0x02]);
    }

    #[test]
    fn rejects_out_of_range() {
        // Positive diff from prev -1 to -1 never comes from a real writer.
        let mut r = &[0xFEu8, 0x00, 0x00][..];
        assert!(NdxReader::default().read(&mut r).is_err());
        let mut r = &[0xFEu8][..];
        assert!(matches!(
            NdxReader::default().read(&mut r),
            Err(Error::Eof { .. })
        ));
    }

    fn ndx_value() -> impl Strategy<Value = i32> {
        prop_oneof![
            0i32..100,
            0i32..=i32::MAX,
            Just(NDX_DONE),
            Just(NDX_FLIST_EOF),
            Just(NDX_DEL_STATS),
            (-i32::MAX..=-2),
            (-2000i32..=-101),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(seq in proptest::collection::vec(ndx_value(), 0..64)) {
            let mut w = NdxWriter::default();
            let mut out = Vec::new();
            for &n in &seq {
                w.write(&mut out, n);
            }
            let mut rd = NdxReader::default();
            let mut r = &out[..];
            for &n in &seq {
                prop_assert_eq!(rd.read(&mut r).unwrap(), n);
            }
            prop_assert!(r.is_empty());
        }
    }
}
