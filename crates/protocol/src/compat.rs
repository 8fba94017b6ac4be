//! Compat flags (protocol >= 30) and the client-info letters of `-e.xxx`.

/// Incremental recursion (oxsync grants and accepts it as the receiving
/// side only).
pub const CF_INC_RECURSE: i32 = 1 << 0;
/// Receiver can set symlink times.
pub const CF_SYMLINK_TIMES: i32 = 1 << 1;
/// Symlink contents converted with iconv.
pub const CF_SYMLINK_ICONV: i32 = 1 << 2;
/// I/O errors reported in the file-list end marker.
pub const CF_SAFE_FLIST: i32 = 1 << 3;
/// No xattr hard-link optimisation.
pub const CF_AVOID_XATTR_OPTIM: i32 = 1 << 4;
/// MD5 block sums hash the seed before the data.
pub const CF_CHKSUM_SEED_FIX: i32 = 1 << 5;
/// Partial-dir basis updated in place.
pub const CF_INPLACE_PARTIAL_DIR: i32 = 1 << 6;
/// Varint file-list flags, and checksum/compress negotiation.
pub const CF_VARINT_FLIST_FLAGS: i32 = 1 << 7;
/// uid/gid lists carry the names of id 0.
pub const CF_ID0_NAMES: i32 = 1 << 8;

/// The client-info letters oxsync sends after `-e` (a pulling client
/// adds `i`, see the engine's `options::client_offers_inc`).
pub const CLIENT_INFO: &str = ".LsfxCIvu";

/// Compat flags a server grants for the letters the client sent in its
/// `-e` value (`info`, the text after `e`, e.g. ".iLsfxCIvu"). Never sets
/// `CF_INC_RECURSE` (the engine decides that from the options too). Letters: L->SYMLINK_TIMES, f->SAFE_FLIST,
/// x->AVOID_XATTR_OPTIM, C->CHKSUM_SEED_FIX, I->INPLACE_PARTIAL_DIR,
/// v->VARINT_FLIST_FLAGS, u->ID0_NAMES. `s` is ignored (no iconv).
// upstream: compat.c:setup_protocol()
pub fn server_flags_for(info: &str) -> i32 {
    info.bytes().fold(0, |flags, letter| {
        flags
            | match letter {
                b'L' => CF_SYMLINK_TIMES,
                // upstream: compat.c (ICONV_OPTION) offers symlink
                // conversion to any client that can do it.
                b's' => CF_SYMLINK_ICONV,
                b'f' => CF_SAFE_FLIST,
                b'x' => CF_AVOID_XATTR_OPTIM,
                b'C' => CF_CHKSUM_SEED_FIX,
                b'I' => CF_INPLACE_PARTIAL_DIR,
                b'v' => CF_VARINT_FLIST_FLAGS,
                b'u' => CF_ID0_NAMES,
                _ => 0,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_client_letters() {
        // Everything a stock client asks for, minus inc-recurse.
        assert_eq!(server_flags_for(".iLsfxCIvu"), 0x1FE);
        assert_eq!(server_flags_for(".iLsfxCIvu") & CF_INC_RECURSE, 0);
        assert_eq!(server_flags_for("fCv"), 0xA8);
        assert_eq!(server_flags_for(""), 0);
        assert_eq!(server_flags_for(CLIENT_INFO), 0x1FE);
    }
}
