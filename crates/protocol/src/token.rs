//! The uncompressed token stream (upstream token.c simple_send_token /
//! simple_recv_token): literal runs, block matches, end.
use crate::error::{Error, Result};
use crate::varint::{write_i32, WireRead};
use std::io::Read;

/// Largest literal run the reader accepts in one token. Upstream writes at
/// most CHUNK_SIZE (32 KiB); we allow more but bound it.
pub const MAX_LITERAL_LEN: usize = 1 << 20;
/// Literal chunk size the writer uses (upstream CHUNK_SIZE).
pub const CHUNK_SIZE: usize = 32 * 1024;

/// One token read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// `n` literal bytes were read into the caller's buffer.
    Literal(usize),
    /// Copy block `i` of the basis.
    Match(u32),
    /// End of this file's tokens.
    End,
}

/// Appends literal data, split into CHUNK_SIZE runs.
// upstream: token.c:simple_send_token()
pub fn write_literal(out: &mut Vec<u8>, data: &[u8]) {
    for chunk in data.chunks(CHUNK_SIZE) {
        write_i32(out, chunk.len() as i32);
        out.extend_from_slice(chunk);
    }
}
/// Appends a match of block `index`.
pub fn write_match(out: &mut Vec<u8>, index: u32) {
    write_i32(out, (index as i32).wrapping_add(1).wrapping_neg());
}
/// Appends the end token.
pub fn write_end(out: &mut Vec<u8>) {
    write_i32(out, 0);
}
/// Reads one token; a literal run of `n` bytes (bounded by
/// MAX_LITERAL_LEN) is placed in `buf[..n]`. The buffer grows to hold it
/// and is never shrunk: bytes past the run are stale.
// upstream: token.c:simple_recv_token()
pub fn read_token<R: Read + ?Sized>(r: &mut R, buf: &mut Vec<u8>) -> Result<Token> {
    read_token_at(r, buf, 0)
}

/// As [`read_token`], the run placed at `buf[at..at + n]` after the first
/// `at` bytes (which are kept), so that consecutive runs gather in one
/// buffer.
pub fn read_token_at<R: Read + ?Sized>(r: &mut R, buf: &mut Vec<u8>, at: usize) -> Result<Token> {
    let t = r.read_i32_field("token")?;
    if t == 0 {
        return Ok(Token::End);
    }
    if t < 0 {
        // -(i + 1) for block i; i32::MIN maps to i32::MAX.
        return Ok(Token::Match(t.wrapping_add(1).unsigned_abs()));
    }
    let len = t as usize;
    if len > MAX_LITERAL_LEN {
        return Err(Error::TooLong {
            field: "literal",
            len: len as u64,
            max: MAX_LITERAL_LEN as u64,
        });
    }
    // The buffer is reused run after run, never shrunk: zeroed only where
    // it grows (once, to the largest gather).
    let end = at + len;
    if buf.len() < end {
        buf.resize(end, 0);
    }
    r.read_exact_field(&mut buf[at..end], "literal")?;
    Ok(Token::Literal(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn runs_gather_after_what_the_buffer_holds() {
        let mut out = Vec::new();
        write_literal(&mut out, b"abc");
        write_literal(&mut out, b"de");
        let mut r = &out[..];
        let mut buf = b"stale bytes".to_vec();
        assert_eq!(
            read_token_at(&mut r, &mut buf, 0).unwrap(),
            Token::Literal(3)
        );
        assert_eq!(
            read_token_at(&mut r, &mut buf, 3).unwrap(),
            Token::Literal(2)
        );
        assert_eq!(buf, b"abcde bytes");
        // A shorter run later leaves the rest stale, not shrunk or zeroed.
        let mut out = Vec::new();
        write_literal(&mut out, b"xy");
        read_token_at(&mut &out[..], &mut buf, 1).unwrap();
        assert_eq!(buf, b"axyde bytes");
    }

    #[test]
    fn wire_bytes() {
        let mut out = Vec::new();
        write_literal(&mut out, b"hi\n");
        write_match(&mut out, 0);
        write_match(&mut out, 4);
        write_end(&mut out);
        assert_eq!(
            out,
            [
                3, 0, 0, 0, b'h', b'i', b'\n', 0xFF, 0xFF, 0xFF, 0xFF, 0xFB, 0xFF, 0xFF, 0xFF, 0,
                0, 0, 0
            ]
        );
        let mut r = &out[..];
        let mut buf = Vec::new();
        assert_eq!(read_token(&mut r, &mut buf).unwrap(), Token::Literal(3));
        assert_eq!(buf, b"hi\n");
        assert_eq!(read_token(&mut r, &mut buf).unwrap(), Token::Match(0));
        assert_eq!(read_token(&mut r, &mut buf).unwrap(), Token::Match(4));
        assert_eq!(read_token(&mut r, &mut buf).unwrap(), Token::End);
    }

    #[test]
    fn literal_chunks_and_bounds() {
        let data = vec![7u8; CHUNK_SIZE * 2 + 5];
        let mut out = Vec::new();
        write_literal(&mut out, &data);
        assert_eq!(out.len(), data.len() + 12);
        let mut r = &out[..];
        let mut buf = Vec::new();
        assert_eq!(
            read_token(&mut r, &mut buf).unwrap(),
            Token::Literal(CHUNK_SIZE)
        );
        let mut big = Vec::new();
        write_i32(&mut big, MAX_LITERAL_LEN as i32 + 1);
        assert!(matches!(
            read_token(&mut &big[..], &mut buf),
            Err(Error::TooLong { .. })
        ));
        assert!(matches!(
            read_token(&mut &[5u8, 0, 0, 0, 1][..], &mut buf),
            Err(Error::Eof { .. })
        ));
    }

    #[derive(Debug, Clone)]
    enum T {
        Lit(Vec<u8>),
        Match(u32),
    }

    proptest! {
        #[test]
        fn round_trip(tokens in proptest::collection::vec(prop_oneof![
            proptest::collection::vec(any::<u8>(), 1..100).prop_map(T::Lit),
            (0u32..=i32::MAX as u32).prop_map(T::Match),
        ], 0..20)) {
            let mut out = Vec::new();
            for t in &tokens {
                match t {
                    T::Lit(d) => write_literal(&mut out, d),
                    T::Match(i) => write_match(&mut out, *i),
                }
            }
            write_end(&mut out);
            let mut r = &out[..];
            let mut buf = Vec::new();
            for t in &tokens {
                match (t, read_token(&mut r, &mut buf).unwrap()) {
                    (T::Lit(d), Token::Literal(n)) => {
                        prop_assert_eq!(n, d.len());
                        prop_assert_eq!(&buf[..n], &d[..]);
                    }
                    (T::Match(i), Token::Match(j)) => prop_assert_eq!(*i, j),
                    (t, got) => prop_assert!(false, "{:?} read as {:?}", t, got),
                }
            }
            prop_assert_eq!(read_token(&mut r, &mut buf).unwrap(), Token::End);
            prop_assert!(r.is_empty());
        }
    }
}
