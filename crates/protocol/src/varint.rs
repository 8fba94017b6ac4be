//! Integer and string encodings (upstream io.c: write_int, write_varint,
//! write_varlong, write_vstring and their readers).
use crate::error::{Error, Result};
use std::io::{self, Read};

/// Appends a little-endian i32 ("int").
pub fn write_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// Appends a varint (32-bit variable length, §3.3).
// upstream: io.c:write_varint()
pub fn write_varint(out: &mut Vec<u8>, v: i32) {
    let bytes = v.to_le_bytes();
    let h = bytes.iter().rposition(|&b| b != 0).unwrap_or(0);
    if bytes[h] < (0x80u8 >> h) {
        out.push(marker(h as u32) | bytes[h]);
        out.extend_from_slice(&bytes[..h]);
    } else {
        out.push(marker(h as u32 + 1));
        out.extend_from_slice(&bytes[..=h]);
    }
}
/// Appends a varlong with at least `min_bytes` bytes (§3.4).
///
/// `min_bytes` must be in 1..=8 (callers use 3 and 4).
// upstream: io.c:write_varlong()
pub fn write_varlong(out: &mut Vec<u8>, v: i64, min_bytes: u8) {
    let min = usize::from(min_bytes.clamp(1, 8));
    let bytes = v.to_le_bytes();
    // Significant bytes, never fewer than `min`.
    let c = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i + 1)
        .max(min);
    let k = (c - min) as u32;
    let top = bytes[c - 1];
    if u32::from(top) >= (1u32 << (7 - k)) {
        out.push(marker(k + 1));
        out.extend_from_slice(&bytes[..c]);
    } else {
        out.push(marker(k) | top);
        out.extend_from_slice(&bytes[..c - 1]);
    }
}
/// Appends a vstring (1-2 byte length, then bytes). Panics if `s.len() > 0x7FFF`
/// (a local invariant: callers pass short names).
// upstream: io.c:write_vstring()
pub fn write_vstring(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    assert!(len <= 0x7FFF, "vstring of {len} bytes is too long");
    if len >= 0x80 {
        out.push(0x80 | (len >> 8) as u8);
        out.push(len as u8);
    } else {
        out.push(len as u8);
    }
    out.extend_from_slice(s);
}

/// A first byte with `k` leading one-bits.
fn marker(k: u32) -> u8 {
    if k == 0 {
        0
    } else {
        !(0xFFu8.checked_shr(k).unwrap_or(0))
    }
}

/// Turns an I/O error into a crate error naming `field` on EOF.
fn map_io(e: io::Error, field: &'static str) -> Error {
    let carries_crate_error = e.get_ref().is_some_and(|inner| inner.is::<Error>());
    if e.kind() == io::ErrorKind::UnexpectedEof && !carries_crate_error {
        Error::Eof { field }
    } else {
        Error::from(e)
    }
}

/// Typed readers over any byte stream. `field` names the wire field for
/// error messages (`Error::Eof { field }`).
pub trait WireRead: Read {
    /// Reads exactly `buf.len()` bytes; EOF becomes `Error::Eof { field }`.
    fn read_exact_field(&mut self, buf: &mut [u8], field: &'static str) -> Result<()>;
    /// Reads one byte.
    fn read_u8_field(&mut self, field: &'static str) -> Result<u8>;
    /// Reads a little-endian u16 ("shortint").
    fn read_u16_field(&mut self, field: &'static str) -> Result<u16>;
    /// Reads a little-endian i32 ("int").
    fn read_i32_field(&mut self, field: &'static str) -> Result<i32>;
    /// Reads a varint (§3.3); a first byte 0xF8..=0xFF is `Error::Invalid`.
    fn read_varint(&mut self, field: &'static str) -> Result<i32>;
    /// Reads a varlong with `min_bytes` (§3.4).
    fn read_varlong(&mut self, min_bytes: u8, field: &'static str) -> Result<i64>;
    /// Reads `len` bytes after checking `len <= max` (`Error::TooLong`).
    fn read_bytes(&mut self, len: usize, max: usize, field: &'static str) -> Result<Vec<u8>>;
    /// Reads a vstring whose length must be `<= max`.
    fn read_vstring(&mut self, max: usize, field: &'static str) -> Result<Vec<u8>>;
}

impl<R: Read + ?Sized> WireRead for R {
    fn read_exact_field(&mut self, buf: &mut [u8], field: &'static str) -> Result<()> {
        self.read_exact(buf).map_err(|e| map_io(e, field))
    }
    fn read_u8_field(&mut self, field: &'static str) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read_exact_field(&mut b, field)?;
        Ok(b[0])
    }
    fn read_u16_field(&mut self, field: &'static str) -> Result<u16> {
        let mut b = [0u8; 2];
        self.read_exact_field(&mut b, field)?;
        Ok(u16::from_le_bytes(b))
    }
    fn read_i32_field(&mut self, field: &'static str) -> Result<i32> {
        let mut b = [0u8; 4];
        self.read_exact_field(&mut b, field)?;
        Ok(i32::from_le_bytes(b))
    }
    // upstream: io.c:read_varint()
    fn read_varint(&mut self, field: &'static str) -> Result<i32> {
        let first = self.read_u8_field(field)?;
        let k = first.leading_ones() as usize;
        if k > 4 {
            return Err(Error::invalid(
                field,
                format!("varint overflow (first byte {first:#04x})"),
            ));
        }
        let mut b = [0u8; 5];
        self.read_exact_field(&mut b[..k], field)?;
        // The first byte's free bits are the next-higher byte; with four
        // extra bytes they fall outside 32 bits and are dropped, as upstream.
        b[k] = first & (0x7Fu8 >> k);
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    // upstream: io.c:read_varlong()
    fn read_varlong(&mut self, min_bytes: u8, field: &'static str) -> Result<i64> {
        let min = usize::from(min_bytes.clamp(1, 8));
        let first = self.read_u8_field(field)?;
        let k = first.leading_ones() as usize;
        if min + k > 9 {
            return Err(Error::invalid(
                field,
                format!("varlong overflow (first byte {first:#04x})"),
            ));
        }
        let low = min - 1 + k;
        let mut b = [0u8; 9];
        self.read_exact_field(&mut b[..low], field)?;
        b[low] = first & 0x7Fu8.checked_shr(k as u32).unwrap_or(0);
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[..8]);
        Ok(i64::from_le_bytes(v))
    }
    fn read_bytes(&mut self, len: usize, max: usize, field: &'static str) -> Result<Vec<u8>> {
        if len > max {
            return Err(Error::TooLong {
                field,
                len: len as u64,
                max: max as u64,
            });
        }
        let mut buf = vec![0u8; len];
        self.read_exact_field(&mut buf, field)?;
        Ok(buf)
    }
    // upstream: io.c:read_vstring()
    fn read_vstring(&mut self, max: usize, field: &'static str) -> Result<Vec<u8>> {
        let mut len = usize::from(self.read_u8_field(field)?);
        if len & 0x80 != 0 {
            len = ((len & 0x7F) << 8) | usize::from(self.read_u8_field(field)?);
        }
        self.read_bytes(len, max, field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn varint(v: i32) -> Vec<u8> {
        let mut out = Vec::new();
        write_varint(&mut out, v);
        out
    }
    fn varlong(v: i64, min: u8) -> Vec<u8> {
        let mut out = Vec::new();
        write_varlong(&mut out, v, min);
        out
    }

    #[test]
    fn varint_table() {
        let table: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (0x7F, &[0x7F]),
            (0x80, &[0x80, 0x80]),
            (0xA8, &[0x80, 0xA8]),
            (0x1FF, &[0x81, 0xFF]),
            (1000, &[0x83, 0xE8]),
            (0x3FFF, &[0xBF, 0xFF]),
            (0x4000, &[0xC0, 0x00, 0x40]),
            (0x1F_FFFF, &[0xDF, 0xFF, 0xFF]),
            (0x20_0000, &[0xE0, 0x00, 0x00, 0x20]),
            (0x0FFF_FFFF, &[0xEF, 0xFF, 0xFF, 0xFF]),
            (0x1000_0000, &[0xF0, 0x00, 0x00, 0x00, 0x10]),
            (-1, &[0xF0, 0xFF, 0xFF, 0xFF, 0xFF]),
        ];
        for &(v, bytes) in table {
            assert_eq!(varint(v), bytes, "encoding {v:#x}");
            assert_eq!((&mut &bytes[..]).read_varint("t").unwrap(), v);
        }
    }

    #[test]
    fn varlong_table() {
        let table: &[(i64, u8, &[u8])] = &[
            (0, 3, &[0x00, 0x00, 0x00]),
            (3, 3, &[0x00, 0x03, 0x00]),
            (4096, 3, &[0x00, 0x00, 0x10]),
            (0x7F_FFFF, 3, &[0x7F, 0xFF, 0xFF]),
            (0x80_0000, 3, &[0x80, 0x00, 0x00, 0x80]),
            (0xFFFF_FFFF, 3, &[0xC0, 0xFF, 0xFF, 0xFF, 0xFF]),
            (0x1_2345_6789, 3, &[0xC1, 0x89, 0x67, 0x45, 0x23]),
            (0x6500_0000, 4, &[0x65, 0x00, 0x00, 0x00]),
            (0x6500_0001, 4, &[0x65, 0x01, 0x00, 0x00]),
            (0x8000_0000, 4, &[0x80, 0x00, 0x00, 0x00, 0x80]),
            (
                -1,
                4,
                &[0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
        ];
        for &(v, min, bytes) in table {
            assert_eq!(varlong(v, min), bytes, "encoding {v:#x}/{min}");
            assert_eq!((&mut &bytes[..]).read_varlong(min, "t").unwrap(), v);
        }
    }

    #[test]
    fn varint_overflow_and_eof() {
        assert!(matches!(
            (&mut &[0xF8u8, 0, 0, 0, 0, 0][..]).read_varint("x"),
            Err(Error::Invalid { field: "x", .. })
        ));
        assert!(matches!(
            (&mut &[0xC0u8, 0][..]).read_varint("x"),
            Err(Error::Eof { field: "x" })
        ));
        assert!(matches!(
            (&mut &[][..]).read_i32_field("y"),
            Err(Error::Eof { field: "y" })
        ));
    }

    #[test]
    fn vstring() {
        let mut out = Vec::new();
        write_vstring(&mut out, b"md5");
        assert_eq!(out, b"\x03md5");
        let long = vec![b'x'; 0x123];
        let mut out = Vec::new();
        write_vstring(&mut out, &long);
        assert_eq!(&out[..2], &[0x81, 0x23]);
        assert_eq!((&mut &out[..]).read_vstring(0x7FFF, "v").unwrap(), long);
        assert!(matches!(
            (&mut &out[..]).read_vstring(255, "v"),
            Err(Error::TooLong {
                len: 0x123,
                max: 255,
                ..
            })
        ));
    }

    #[test]
    fn read_bytes_checks_bound_first() {
        // A huge length is refused before any allocation or read.
        assert!(matches!(
            (&mut &[][..]).read_bytes(usize::MAX, 10, "b"),
            Err(Error::TooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn varint_round_trip(v in any::<i32>()) {
            let bytes = varint(v);
            let mut r = &bytes[..];
            prop_assert_eq!(r.read_varint("t").unwrap(), v);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn varlong_round_trip(v in any::<i64>(), min in 1u8..=8) {
            let bytes = varlong(v, min);
            prop_assert!(bytes.len() >= usize::from(min));
            let mut r = &bytes[..];
            prop_assert_eq!(r.read_varlong(min, "t").unwrap(), v);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn varlong_small_values(v in 0i64..(1 << 40), min in 3u8..=4) {
            let bytes = varlong(v, min);
            let mut r = &bytes[..];
            prop_assert_eq!(r.read_varlong(min, "t").unwrap(), v);
        }

        #[test]
        fn vstring_round_trip(s in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut out = Vec::new();
            write_vstring(&mut out, &s);
            prop_assert_eq!((&mut &out[..]).read_vstring(0x7FFF, "v").unwrap(), s);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = (&mut &data[..]).read_varint("t");
            for min in 1..=8 {
                let _ = (&mut &data[..]).read_varlong(min, "t");
            }
            let _ = (&mut &data[..]).read_vstring(255, "t");
        }
    }
}
