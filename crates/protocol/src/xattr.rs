//! Extended attributes on the wire (`-X`, upstream xattrs.c): the list
//! that follows each file-list entry (`send_xattr` / `receive_xattr`), the
//! generator's request for abbreviated values (`send_xattr_request`) and
//! the sender's reply carrying them (`recv_xattr_request`).
//!
//! A list is either a reference to one sent before (`varint ndx+1`) or
//! literal (`varint 0`, `varint count`, then per item `varint name_len`
//! (with its NUL), `varint datum_len`, the name, and the value, or its
//! 16-byte MD5 when `datum_len` is over [`MAX_FULL_DATUM`]).
//!
//! Every count and length from the peer is checked against its bound and
//! against the caller's allocation budget before anything is allocated.
use crate::error::{Error, Result};
use crate::varint::{write_varint, WireRead};
use std::io::Read;

/// Values longer than this travel as their digest (upstream MAX_FULL_DATUM).
pub const MAX_FULL_DATUM: usize = 32;
/// Length of the digest of an abbreviated value (MD5, protocol 30+).
pub const DIGEST_LEN: usize = 16;
/// Most items one list may hold (upstream MAX_WIRE_XATTR_COUNT).
pub const MAX_COUNT: usize = 65536;
/// Longest name, its NUL included (upstream MAX_WIRE_XATTR_NAMELEN).
pub const MAX_NAME_LEN: usize = 4096;
/// Longest value (upstream MAX_XATTR_VALUE_BYTES, 128 MiB).
pub const MAX_VALUE_LEN: usize = 128 << 20;
/// Most name and value bytes one list may announce (upstream
/// MAX_XATTR_LIST_BYTES).
pub const MAX_LIST_BYTES: usize = 512 << 20;

/// An attribute's value as the list carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// The value itself (at most [`MAX_FULL_DATUM`] bytes, or a value
    /// filled in by a reply).
    Full(Vec<u8>),
    /// A long value: its length and MD5.
    Abbrev {
        /// The value's length.
        len: usize,
        /// MD5 of the value.
        digest: [u8; DIGEST_LEN],
    },
}

impl Value {
    /// The value's length.
    pub fn len(&self) -> usize {
        match self {
            Value::Full(v) => v.len(),
            Value::Abbrev { len, .. } => *len,
        }
    }
    /// True for an empty value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One item of a literal list, in the order received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The name, without its NUL.
    pub name: Vec<u8>,
    /// The value or its digest.
    pub value: Value,
    /// Its position in the sender's list (1-based): what a request names.
    pub num: u32,
}

/// What follows one file-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// The same list as the `n`th one received (0-based).
    Ref(u32),
    /// A new list.
    Literal(Vec<Item>),
}

/// Writes a reference to the `ndx`th list sent (0-based).
pub fn encode_ref(out: &mut Vec<u8>, ndx: u32) {
    write_varint(out, ndx as i32 + 1);
}

/// Writes a literal list: `(name, value)` pairs, sorted by name, a long
/// value given as [`Value::Abbrev`] (or as full bytes, abbreviated here by
/// `digest`).
pub fn encode_literal(out: &mut Vec<u8>, items: &[(&[u8], &Value)]) {
    write_varint(out, 0);
    write_varint(out, items.len() as i32);
    for (name, value) in items {
        write_varint(out, name.len() as i32 + 1);
        write_varint(out, value.len() as i32);
        out.extend_from_slice(name);
        out.push(0);
        match value {
            Value::Full(v) if v.len() <= MAX_FULL_DATUM => out.extend_from_slice(v),
            Value::Full(v) => out.extend_from_slice(&digest(v)),
            Value::Abbrev { digest, .. } => out.extend_from_slice(digest),
        }
    }
}

/// MD5 of a long value (upstream xattr_sum_nni for protocol 30+; the
/// checksum seed plays no part in MD5).
pub fn digest(v: &[u8]) -> [u8; DIGEST_LEN] {
    use md5::Digest;
    md5::Md5::digest(v).into()
}

/// The value as it travels: full when short, abbreviated when long.
pub fn wire_value(v: Vec<u8>) -> Value {
    if v.len() > MAX_FULL_DATUM {
        Value::Abbrev {
            len: v.len(),
            digest: digest(&v),
        }
    } else {
        Value::Full(v)
    }
}

fn too_long(field: &'static str, len: u64, max: u64) -> Error {
    Error::TooLong { field, len, max }
}

/// Reads one entry's list. `known` is how many lists were received
/// before (a reference must name one of them); `budget` is what the list
/// may still allocate (names and short values), lowered by what it does.
// upstream: xattrs.c:receive_xattr()
pub fn decode<R: Read + ?Sized>(r: &mut R, known: usize, budget: &mut u64) -> Result<Wire> {
    let ndx = r.read_varint("xattr index")?;
    if ndx < 0 || ndx as usize > known {
        return Err(Error::invalid(
            "xattr index",
            format!("xa index {ndx} out of range"),
        ));
    }
    if ndx != 0 {
        return Ok(Wire::Ref(ndx as u32 - 1));
    }
    let count = r.read_varint("xattr count")?;
    if count < 0 || count as usize > MAX_COUNT {
        return Err(too_long("xattr count", count as u64, MAX_COUNT as u64));
    }
    let mut items = Vec::new();
    let mut total: u64 = 0;
    for num in 1..=count as u32 {
        let name_len = r.read_varint("xattr name_len")?;
        if name_len < 1 || name_len as usize > MAX_NAME_LEN {
            return Err(too_long(
                "xattr name_len",
                name_len as u64,
                MAX_NAME_LEN as u64,
            ));
        }
        let datum_len = r.read_varint("xattr datum_len")?;
        if datum_len < 0 || datum_len as usize > MAX_VALUE_LEN {
            return Err(too_long(
                "xattr datum_len",
                datum_len as u32 as u64,
                MAX_VALUE_LEN as u64,
            ));
        }
        let (name_len, datum_len) = (name_len as usize, datum_len as usize);
        total += (name_len + datum_len) as u64;
        if total > MAX_LIST_BYTES as u64 {
            return Err(too_long("xattr list bytes", total, MAX_LIST_BYTES as u64));
        }
        let held = name_len + datum_len.min(DIGEST_LEN.max(MAX_FULL_DATUM)) + 64;
        if held as u64 > *budget {
            return Err(too_long("xattr list bytes", held as u64, *budget));
        }
        *budget -= held as u64;
        if items.len() == items.capacity() {
            // Grown as items arrive, never by the announced count alone.
            items.reserve(items.len().clamp(4, 1024));
        }
        let mut name = r.read_bytes(name_len, MAX_NAME_LEN, "xattr name")?;
        if name.pop() != Some(0) {
            return Err(Error::invalid(
                "xattr name",
                String::from("Invalid xattr name received (missing trailing \\0)."),
            ));
        }
        if name.is_empty() || name.contains(&0) {
            return Err(Error::invalid(
                "xattr name",
                String::from("empty or embedded NUL"),
            ));
        }
        let value = if datum_len > MAX_FULL_DATUM {
            let mut d = [0u8; DIGEST_LEN];
            r.read_exact_field(&mut d, "xattr digest")?;
            Value::Abbrev {
                len: datum_len,
                digest: d,
            }
        } else {
            Value::Full(r.read_bytes(datum_len, MAX_FULL_DATUM, "xattr value")?)
        };
        items.push(Item { name, value, num });
    }
    Ok(Wire::Literal(items))
}

/// Writes the generator's request: the (ascending) item numbers whose
/// values it needs, then the end.
// upstream: xattrs.c:send_xattr_request() (fname == NULL)
pub fn encode_request(out: &mut Vec<u8>, nums: &[u32]) {
    let mut prior = 0i64;
    for &n in nums {
        write_varint(out, (i64::from(n) - prior) as i32);
        prior = i64::from(n);
    }
    write_varint(out, 0);
}

/// Reads a request: item numbers, each within `1..=count`, at most
/// `count` of them.
// upstream: xattrs.c:recv_xattr_request() (am_sender)
pub fn decode_request<R: Read + ?Sized>(r: &mut R, count: usize) -> Result<Vec<u32>> {
    let mut nums = Vec::new();
    let mut num: i64 = 0;
    loop {
        let rel = r.read_varint("xattr request")?;
        if rel == 0 {
            return Ok(nums);
        }
        num += i64::from(rel);
        if num < 1 || num as usize > count || nums.len() >= count {
            return Err(Error::invalid(
                "xattr request",
                format!("could not find xattr #{num}"),
            ));
        }
        nums.push(num as u32);
    }
}

/// Writes the sender's reply: each requested number with its value
/// (empty when it could not be read again), then the end.
// upstream: xattrs.c:send_xattr_request() (fname != NULL)
pub fn encode_reply(out: &mut Vec<u8>, values: &[(u32, &[u8])]) {
    let mut prior = 0i64;
    for (n, v) in values {
        write_varint(out, (i64::from(*n) - prior) as i32);
        prior = i64::from(*n);
        write_varint(out, v.len() as i32);
        out.extend_from_slice(v);
    }
    write_varint(out, 0);
}

/// Reads the sender's reply: numbers within `1..=count` (checked by
/// `valid`, which says whether that item was abbreviated), each value at
/// most [`MAX_VALUE_LEN`] and within `budget`.
// upstream: xattrs.c:recv_xattr_request() (receiver)
pub fn decode_reply<R: Read + ?Sized>(
    r: &mut R,
    count: usize,
    valid: &dyn Fn(u32) -> bool,
    budget: &mut u64,
) -> Result<Vec<(u32, Vec<u8>)>> {
    let mut got = Vec::new();
    let mut num: i64 = 0;
    loop {
        let rel = r.read_varint("xattr reply")?;
        if rel == 0 {
            return Ok(got);
        }
        num += i64::from(rel);
        if num < 1 || num as usize > count || got.len() >= count || !valid(num as u32) {
            return Err(Error::invalid(
                "xattr reply",
                format!("could not find xattr #{num}"),
            ));
        }
        let len = r.read_varint("xattr datum_len")?;
        if len < 0 || len as usize > MAX_VALUE_LEN {
            return Err(too_long(
                "xattr datum_len",
                len as u32 as u64,
                MAX_VALUE_LEN as u64,
            ));
        }
        if len as u64 > *budget {
            return Err(too_long("xattr datum_len", len as u64, *budget));
        }
        *budget -= len as u64;
        let v = r.read_bytes(len as usize, MAX_VALUE_LEN, "xattr value")?;
        got.push((num as u32, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_round_trip_with_abbreviation() {
        let long = vec![b'x'; 40];
        let short = Value::Full(b"v".to_vec());
        let abbrev = wire_value(long.clone());
        let mut out = Vec::new();
        encode_literal(&mut out, &[(b"user.a", &short), (b"user.b", &abbrev)]);
        let mut budget = 1 << 20;
        let w = decode(&mut out.as_slice(), 0, &mut budget).unwrap();
        let Wire::Literal(items) = w else { panic!() };
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].name, b"user.a");
        assert_eq!(items[0].value, short);
        assert_eq!(items[1].num, 2);
        assert_eq!(
            items[1].value,
            Value::Abbrev {
                len: 40,
                digest: digest(&long)
            }
        );
        // Upstream's bytes: 0, count 2, "user.a\0" len 7, value len 1.
        assert_eq!(&out[..4], &[0, 2, 7, 1]);
    }

    #[test]
    fn references_are_bounded_by_what_was_received() {
        let mut out = Vec::new();
        encode_ref(&mut out, 2);
        let mut budget = 1 << 20;
        assert_eq!(
            decode(&mut out.as_slice(), 3, &mut budget).unwrap(),
            Wire::Ref(2)
        );
        assert!(decode(&mut out.as_slice(), 2, &mut budget).is_err());
    }

    #[test]
    fn oversized_lengths_refused_before_allocation() {
        // count over the bound
        let mut out = Vec::new();
        write_varint(&mut out, 0);
        write_varint(&mut out, MAX_COUNT as i32 + 1);
        let mut budget = u64::MAX;
        assert!(matches!(
            decode(&mut out.as_slice(), 0, &mut budget),
            Err(Error::TooLong { .. })
        ));
        // a value over 128 MiB
        let mut out = Vec::new();
        for v in [0, 1, 7, MAX_VALUE_LEN as i32 + 1] {
            write_varint(&mut out, v);
        }
        assert!(matches!(
            decode(&mut out.as_slice(), 0, &mut budget),
            Err(Error::TooLong {
                field: "xattr datum_len",
                ..
            })
        ));
        // a name without its NUL
        let mut out = Vec::new();
        for v in [0, 1, 2, 0] {
            write_varint(&mut out, v);
        }
        out.extend_from_slice(b"ab");
        assert!(decode(&mut out.as_slice(), 0, &mut budget).is_err());
        // the budget
        let mut out = Vec::new();
        encode_literal(&mut out, &[(b"user.a", &Value::Full(vec![1; 8]))]);
        let mut small = 10;
        assert!(decode(&mut out.as_slice(), 0, &mut small).is_err());
    }

    #[test]
    fn request_and_reply_round_trip() {
        let mut out = Vec::new();
        encode_request(&mut out, &[2, 5]);
        assert_eq!(out, [2, 3, 0]);
        assert_eq!(decode_request(&mut out.as_slice(), 5).unwrap(), [2, 5]);
        assert!(decode_request(&mut out.as_slice(), 4).is_err());
        let mut out = Vec::new();
        encode_reply(&mut out, &[(3, b"abc")]);
        let mut budget = 100;
        let got = decode_reply(&mut out.as_slice(), 3, &|n| n == 3, &mut budget).unwrap();
        assert_eq!(got, [(3, b"abc".to_vec())]);
        assert!(decode_reply(&mut out.as_slice(), 3, &|_| false, &mut budget).is_err());
    }
}
