//! The sum header that precedes block checksums (upstream io.c
//! write_sum_head/read_sum_head).
use crate::error::{Error, Result};
use crate::varint::{write_i32, WireRead};
use std::io::Read;

/// Largest block length for protocol >= 30 (upstream MAX_BLOCK_SIZE).
pub const MAX_BLOCK_SIZE: i32 = 1 << 17;
/// Most blocks a header may announce; bounds the signature allocation.
/// (A 2^40-byte file at the largest block size needs 2^23 blocks.)
pub const MAX_BLOCK_COUNT: i32 = 1 << 24;

/// count, blength, s2length, remainder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SumHead {
    /// Number of blocks.
    pub count: i32,
    /// Block length.
    pub blength: i32,
    /// Bytes of strong sum per block.
    pub s2length: i32,
    /// Length of the last block (0 = full).
    pub remainder: i32,
}

impl SumHead {
    /// Appends the four i32s.
    // upstream: io.c:write_sum_head()
    pub fn write(&self, out: &mut Vec<u8>) {
        write_i32(out, self.count);
        write_i32(out, self.blength);
        write_i32(out, self.s2length);
        write_i32(out, self.remainder);
    }
    /// Reads and validates: count in 0..=MAX_BLOCK_COUNT, blength in
    /// 0..=MAX_BLOCK_SIZE, count > 0 requires blength > 0, s2length in
    /// 0..=digest_len, remainder in 0..=blength. Violations are
    /// `Error::Invalid` naming the field and the value.
    // upstream: io.c:read_sum_head()
    pub fn read<R: Read + ?Sized>(r: &mut R, digest_len: usize) -> Result<SumHead> {
        let count = r.read_i32_field("sum count")?;
        if !(0..=MAX_BLOCK_COUNT).contains(&count) {
            return Err(Error::invalid("sum count", format!("{count}")));
        }
        let blength = r.read_i32_field("block length")?;
        if !(0..=MAX_BLOCK_SIZE).contains(&blength) {
            return Err(Error::invalid("block length", format!("{blength}")));
        }
        if count > 0 && blength == 0 {
            return Err(Error::ZeroBlockLength);
        }
        let s2length = r.read_i32_field("checksum length")?;
        let digest_len = i32::try_from(digest_len).unwrap_or(i32::MAX);
        if !(0..=digest_len).contains(&s2length) {
            return Err(Error::invalid("checksum length", format!("{s2length}")));
        }
        let remainder = r.read_i32_field("remainder length")?;
        if !(0..=blength).contains(&remainder) {
            return Err(Error::invalid("remainder length", format!("{remainder}")));
        }
        Ok(SumHead {
            count,
            blength,
            s2length,
            remainder,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(bytes: &[u8]) -> Result<SumHead> {
        SumHead::read(&mut &bytes[..], 16)
    }
    fn enc(h: SumHead) -> Vec<u8> {
        let mut out = Vec::new();
        h.write(&mut out);
        out
    }

    #[test]
    fn empty_head() {
        assert_eq!(enc(SumHead::default()), [0u8; 16]);
        assert_eq!(read(&[0u8; 16]).unwrap(), SumHead::default());
    }

    #[test]
    fn validation() {
        let ok = SumHead {
            count: 3,
            blength: 700,
            s2length: 2,
            remainder: 100,
        };
        assert_eq!(read(&enc(ok)).unwrap(), ok);
        for bad in [
            SumHead { count: -1, ..ok },
            SumHead {
                count: MAX_BLOCK_COUNT + 1,
                ..ok
            },
            SumHead {
                blength: MAX_BLOCK_SIZE + 1,
                ..ok
            },
            SumHead { s2length: 17, ..ok },
            SumHead { s2length: -1, ..ok },
            SumHead {
                remainder: 701,
                ..ok
            },
            SumHead {
                remainder: -1,
                ..ok
            },
        ] {
            assert!(
                matches!(read(&enc(bad)), Err(Error::Invalid { .. })),
                "{bad:?}"
            );
        }
        let zero = SumHead {
            blength: 0,
            remainder: 0,
            ..ok
        };
        assert!(matches!(read(&enc(zero)), Err(Error::ZeroBlockLength)));
        assert_eq!(
            Error::ZeroBlockLength.to_string(),
            "Invalid zero block length"
        );
        assert!(matches!(read(&[0u8; 10]), Err(Error::Eof { .. })));
    }

    proptest! {
        #[test]
        fn round_trip(count in 0..=MAX_BLOCK_COUNT, blength in 1..=MAX_BLOCK_SIZE,
                      s2length in 0i32..=16, rem in 0i32..=MAX_BLOCK_SIZE) {
            let h = SumHead { count, blength, s2length, remainder: rem % (blength + 1) };
            prop_assert_eq!(read(&enc(h)).unwrap(), h);
        }
    }
}
