//! Harnesses for the compressed token streams: an encoder driven by a list
//! of operations and a decoder that rebuilds files from a basis, used by the
//! round-trip tests and by fuzz targets (which must never panic).
use super::{Codec, Compressor, Decompressor};
use crate::error::{Error, Result};
use crate::token::Token;

/// One step of a file's delta, as the sender sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Literal bytes.
    Literal(Vec<u8>),
    /// Block `i` of the basis.
    Match(u32),
}

/// Block `i` of `basis` cut in `block_len` pieces; `None` when out of range.
pub fn basis_block(basis: &[u8], block_len: usize, i: u32) -> Option<&[u8]> {
    let start = (i as usize).checked_mul(block_len)?;
    if start >= basis.len() || block_len == 0 {
        return None;
    }
    Some(&basis[start..basis.len().min(start + block_len)])
}

/// Encodes several files in one session (matches refer to `basis`).
pub fn encode_files(
    codec: Codec,
    level: Option<i32>,
    protocol: i32,
    files: &[Vec<Op>],
    basis: &[u8],
    block_len: usize,
) -> Result<Vec<u8>> {
    let mut c = Compressor::new(codec, level, protocol)?;
    let mut out = Vec::new();
    for ops in files {
        for op in ops {
            match op {
                Op::Literal(d) => c.literal(d, &mut out)?,
                Op::Match(i) => {
                    let block = basis_block(basis, block_len, *i)
                        .ok_or_else(|| Error::invalid("block index", format!("{i}")))?;
                    c.matched(*i, block, &mut out)?;
                }
            }
        }
        c.end(&mut out)?;
    }
    Ok(out)
}

/// What a file's content would be after applying `ops` to `basis`.
pub fn expected_content(ops: &[Op], basis: &[u8], block_len: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for op in ops {
        match op {
            Op::Literal(d) => v.extend_from_slice(d),
            Op::Match(i) => v.extend_from_slice(basis_block(basis, block_len, *i).unwrap_or(&[])),
        }
    }
    v
}

/// Decodes `files` files from `stream`, rebuilding each from literals and
/// basis blocks (calling `see_match` like a receiver). Stops with an error
/// once more than `max_out` bytes were produced in total.
pub fn decode_files(
    codec: Codec,
    protocol: i32,
    mut stream: &[u8],
    files: usize,
    basis: &[u8],
    block_len: usize,
    max_out: usize,
) -> Result<Vec<Vec<u8>>> {
    let mut d = Decompressor::new(codec, protocol)?;
    let mut buf = Vec::new();
    let mut result = Vec::new();
    let mut total = 0usize;
    for _ in 0..files {
        let mut file = Vec::new();
        loop {
            match d.read_token(&mut stream, &mut buf)? {
                Token::End => break,
                Token::Literal(n) => {
                    if n != buf.len() {
                        return Err(Error::invalid("literal", "length mismatch"));
                    }
                    total += n;
                    file.extend_from_slice(&buf);
                }
                Token::Match(i) => {
                    let block = basis_block(basis, block_len, i)
                        .ok_or_else(|| Error::invalid("block index", format!("{i}")))?;
                    total += block.len();
                    file.extend_from_slice(block);
                    d.see_match(block)?;
                }
            }
            if total > max_out {
                return Err(Error::TooLong {
                    field: "decoded output",
                    len: total as u64,
                    max: max_out as u64,
                });
            }
        }
        result.push(file);
    }
    Ok(result)
}

/// Fuzz target: the first byte picks codec and protocol, the rest is the
/// stream, decoded as up to 4 files against a small basis.
pub fn decompress_stream(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let codec = [Codec::Zlib, Codec::Zlibx, Codec::Zstd, Codec::Lz4][usize::from(sel % 4)];
    let protocol = if sel & 4 != 0 { 30 } else { 31 };
    let basis: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    let _ = decode_files(codec, protocol, rest, 4, &basis, 700, 64 << 20);
}
