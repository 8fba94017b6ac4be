//! Integer and string encodings (upstream io.c: write_int, write_varint,
//! write_varlong, write_vstring and their readers).
use crate::error::Result;
use std::io::Read;

/// Appends a little-endian i32 ("int").
pub fn write_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_le_bytes());
}
/// Appends a varint (32-bit variable length, §3.3).
pub fn write_varint(out: &mut Vec<u8>, v: i32) {
    let _ = (out, v);
    todo!()
}
/// Appends a varlong with at least `min_bytes` bytes (§3.4).
pub fn write_varlong(out: &mut Vec<u8>, v: i64, min_bytes: u8) {
    let _ = (out, v, min_bytes);
    todo!()
}
/// Appends a vstring (1-2 byte length, then bytes). Panics if `s.len() > 0x7FFF`
/// (a local invariant: callers pass short names).
pub fn write_vstring(out: &mut Vec<u8>, s: &[u8]) {
    let _ = (out, s);
    todo!()
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
        let _ = (buf, field);
        todo!()
    }
    fn read_u8_field(&mut self, field: &'static str) -> Result<u8> {
        let _ = field;
        todo!()
    }
    fn read_u16_field(&mut self, field: &'static str) -> Result<u16> {
        let _ = field;
        todo!()
    }
    fn read_i32_field(&mut self, field: &'static str) -> Result<i32> {
        let _ = field;
        todo!()
    }
    fn read_varint(&mut self, field: &'static str) -> Result<i32> {
        let _ = field;
        todo!()
    }
    fn read_varlong(&mut self, min_bytes: u8, field: &'static str) -> Result<i64> {
        let _ = (min_bytes, field);
        todo!()
    }
    fn read_bytes(&mut self, len: usize, max: usize, field: &'static str) -> Result<Vec<u8>> {
        let _ = (len, max, field);
        todo!()
    }
    fn read_vstring(&mut self, max: usize, field: &'static str) -> Result<Vec<u8>> {
        let _ = (max, field);
        todo!()
    }
}
