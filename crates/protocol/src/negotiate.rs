//! Checksum (and later compression) name negotiation (upstream compat.c
//! negotiate_the_strings).
use crate::error::Result;
use std::io::Read;

/// Longest negotiation string accepted (upstream MAX_NSTR_STRLEN - 1).
pub const MAX_NSTR_LEN: usize = 255;

/// Appends our list as a vstring of space-separated names.
pub fn write_name_list(out: &mut Vec<u8>, names: &[&str]) {
    let _ = (out, names);
    todo!()
}
/// Reads the peer's list (vstring, at most MAX_NSTR_LEN bytes) and splits it
/// on spaces.
pub fn read_name_list<R: Read + ?Sized>(r: &mut R) -> Result<Vec<String>> {
    let _ = r;
    todo!()
}
/// Picks the first name in `ours` (our preference order) that the peer also
/// listed; `None` if there is no common name.
pub fn choose<'a>(ours: &[&'a str], theirs: &[String]) -> Option<&'a str> {
    ours.iter().copied().find(|n| theirs.iter().any(|t| t == n))
}
