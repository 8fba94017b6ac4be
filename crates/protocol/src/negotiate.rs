//! Checksum (and later compression) name negotiation (upstream compat.c
//! negotiate_the_strings).
use crate::error::Result;
use crate::varint::{write_vstring, WireRead};
use std::io::Read;

/// Longest negotiation string accepted (upstream MAX_NSTR_STRLEN - 1).
pub const MAX_NSTR_LEN: usize = 255;

/// Appends our list as a vstring of space-separated names.
// upstream: compat.c:send_negotiate_str()
pub fn write_name_list(out: &mut Vec<u8>, names: &[&str]) {
    write_vstring(out, names.join(" ").as_bytes());
}
/// Reads the peer's list (vstring, at most MAX_NSTR_LEN bytes) and splits it
/// on spaces.
// upstream: compat.c:recv_negotiate_str()
pub fn read_name_list<R: Read + ?Sized>(r: &mut R) -> Result<Vec<String>> {
    let raw = r.read_vstring(MAX_NSTR_LEN, "negotiation string")?;
    Ok(raw
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect())
}
/// Picks the first name in `ours` (our preference order) that the peer also
/// listed; `None` if there is no common name.
pub fn choose<'a>(ours: &[&'a str], theirs: &[String]) -> Option<&'a str> {
    ours.iter().copied().find(|n| theirs.iter().any(|t| t == n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn trace_bytes() {
        let mut out = Vec::new();
        write_name_list(&mut out, &["md5"]);
        assert_eq!(out, [0x03, b'm', b'd', b'5']);
        let mut wire = vec![0x1E];
        wire.extend_from_slice(b"xxh128 xxh3 xxh64 md5 md4 sha1");
        let theirs = read_name_list(&mut &wire[..]).unwrap();
        assert_eq!(theirs, ["xxh128", "xxh3", "xxh64", "md5", "md4", "sha1"]);
        assert_eq!(choose(&["md5", "md4"], &theirs), Some("md5"));
        assert_eq!(choose(&["zstd"], &theirs), None);
    }

    #[test]
    fn too_long() {
        let mut out = Vec::new();
        write_vstring(&mut out, &[b'a'; 256]);
        assert!(matches!(
            read_name_list(&mut &out[..]),
            Err(Error::TooLong { .. })
        ));
    }
}
