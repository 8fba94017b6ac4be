//! Harnesses for fuzz targets: each feeds arbitrary bytes to one decoder and
//! must never panic (errors are fine). Kept in the crate so they build and
//! are tested with every build.
use crate::flist::{read_id_list, FlistDecoder, FlistOptions};
use crate::mplex::MplexReader;
use crate::ndx::NdxReader;
use crate::negotiate::read_name_list;
use crate::stats::{DelStats, Stats};
use crate::sum_head::SumHead;
use crate::token::{read_token, Token};
use std::io::Read;

/// Decoder options chosen by one selector byte, so a fuzzer explores every
/// entry format.
pub fn flist_options(sel: u8) -> FlistOptions {
    FlistOptions {
        protocol: 30 + i32::from(sel % 3),
        varint_flags: sel & 0x04 != 0,
        preserve_uid: sel & 0x08 != 0,
        preserve_gid: sel & 0x10 != 0,
        preserve_links: sel & 0x20 != 0,
        preserve_devices: sel & 0x40 != 0,
        preserve_specials: sel & 0x40 != 0,
        checksum_len: if sel & 0x80 != 0 { Some(16) } else { None },
        preserve_hard_links: sel & 0x03 == 0x01,
        // (Both low bits set still leaves every protocol reachable.)
        preserve_atimes: sel & 0x03 == 0x03,
    }
}

/// File-list entries, then the id lists: the first byte picks the options
/// (see [`flist_options`]).
pub fn flist_entries(data: &[u8]) {
    let Some((&sel, mut r)) = data.split_first() else {
        return;
    };
    let opts = flist_options(sel);
    let mut dec = FlistDecoder::new(opts);
    // Every entry consumes at least one byte, so this ends.
    loop {
        match dec.decode(&mut r) {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(_) => return,
        }
    }
    let _ = dec.io_error();
    if read_id_list(&mut r, sel & 1 != 0).is_ok() {
        let _ = read_id_list(&mut r, sel & 1 != 0);
    }
}

/// A multiplexed stream read to its end; messages are collected.
pub fn mplex(data: &[u8]) {
    let mut reader = MplexReader::new(data, Box::new(|_msg| Ok(())));
    reader.set_multiplexed(true);
    let mut sink = Vec::new();
    let _ = reader.read_to_end(&mut sink);
    let _ = reader.bytes_read();
}

/// A token stream up to its end token.
pub fn token(data: &[u8]) {
    let mut r = data;
    let mut buf = Vec::new();
    while let Ok(t) = read_token(&mut r, &mut buf) {
        if t == Token::End {
            break;
        }
    }
}

/// A sum header (digest length 16) and the stats records.
pub fn sum_head(data: &[u8]) {
    let _ = SumHead::read(&mut &data[..], 16);
    let _ = Stats::read(&mut &data[..]);
    let _ = DelStats::read(&mut &data[..]);
}

/// A sequence of ndx values.
pub fn ndx(data: &[u8]) {
    let mut r = data;
    let mut rd = NdxReader::default();
    while rd.read(&mut r).is_ok() {}
}

/// A negotiation name list.
pub fn name_list(data: &[u8]) {
    let _ = read_name_list(&mut &data[..]);
}

/// Every harness above on the same bytes.
pub fn all(data: &[u8]) {
    flist_entries(data);
    mplex(data);
    token(data);
    sum_head(data);
    ndx(data);
    name_list(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edge_inputs() {
        for data in [
            &[][..],
            &[0xFF; 64][..],
            &[0x00; 64][..],
            &[0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF][..],
            &[0xFF, 0xFF, 0xFF, 0x07, 0x01][..],
        ] {
            all(data);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            all(&data);
        }

        #[test]
        fn arbitrary_flist_never_panics(sel in any::<u8>(),
                                        data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut input = vec![sel];
            input.extend_from_slice(&data);
            flist_entries(&input);
        }
    }
}
