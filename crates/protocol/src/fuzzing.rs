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
use crate::varint::WireRead;
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

/// Varints, varlongs (every width) and vstrings, each picked by the byte
/// before it, to the end of the input.
pub fn varints(data: &[u8]) {
    let mut r = data;
    while let Ok(sel) = r.read_u8_field("selector") {
        let ok = match sel % 4 {
            0 => r.read_varint("varint").is_ok(),
            1 => r.read_varlong(1 + (sel >> 2) % 8, "varlong").is_ok(),
            2 => r.read_vstring(1 << 15, "vstring").is_ok(),
            _ => r.read_i32_field("int").is_ok(),
        };
        if !ok {
            break;
        }
    }
}

/// The small integer decoders together: sum header and stats records,
/// ndx values, varints.
pub fn ndx_varint(data: &[u8]) {
    sum_head(data);
    ndx(data);
    varints(data);
    name_list(data);
}

/// A negotiation name list.
pub fn name_list(data: &[u8]) {
    let _ = read_name_list(&mut &data[..]);
}

/// xattr lists as they follow file-list entries (a reference or a
/// literal list, repeated), then a request and a reply against the last
/// list, all under a 1 MiB allocation budget.
pub fn xattr_lists(data: &[u8]) {
    use crate::xattr::{decode, decode_reply, decode_request, Wire};
    let mut r = data;
    let mut budget: u64 = 1 << 20;
    let mut lists: Vec<usize> = Vec::new();
    // Every list consumes at least one byte, so this ends.
    while !r.is_empty() && lists.len() < 4096 {
        match decode(&mut r, lists.len(), &mut budget) {
            Ok(Wire::Ref(n)) => {
                assert!((n as usize) < lists.len());
                let c = lists[n as usize];
                lists.push(c);
            }
            Ok(Wire::Literal(items)) => lists.push(items.len()),
            Err(_) => break,
        }
    }
    let count = lists.last().copied().unwrap_or(0);
    if let Ok(nums) = decode_request(&mut r, count) {
        assert!(nums.iter().all(|&n| n >= 1 && n as usize <= count));
    }
    let _ = decode_reply(&mut r, count, &|n| n % 2 == 1, &mut budget);
}

/// Every harness above on the same bytes.
pub fn all(data: &[u8]) {
    xattr_lists(data);
    flist_entries(data);
    mplex(data);
    token(data);
    sum_head(data);
    ndx(data);
    varints(data);
    name_list(data);
}

/// Well-formed inputs for each protocol-crate target (named by target),
/// made with the crate's encoders: the seed corpus of `fuzz/` (written by
/// the ignored test `write_seed_corpus`, see docs/fuzzing.md).
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    use crate::compress::{fuzzing as cf, Codec};
    use crate::flist::{FileEntry, FlistEncoder, S_IFDIR, S_IFLNK, S_IFREG};
    use crate::mplex::{MplexWriter, MsgCode};
    use crate::ndx::{NdxWriter, NDX_DONE};
    use crate::token::{write_end, write_literal, write_match};
    use std::io::Write;
    let mut out = Vec::new();
    let entries = [
        FileEntry {
            name: b".".into(),
            mode: S_IFDIR | 0o755,
            ..FileEntry::default()
        }
        .with_xflags(crate::flist::XMIT_TOP_DIR),
        FileEntry {
            name: b"dir/file.txt".into(),
            mode: S_IFREG | 0o644,
            mtime_nsec: 5,
            uid: 1000,
            gid: 100,
            hlink: Some(1).into(),
            ..FileEntry::default()
        }
        .with_size(1234)
        .with_mtime(1_700_000_000)
        .with_checksum(vec![7; 16])
        .with_atime(1_700_000_001),
        FileEntry {
            name: b"dir/link".into(),
            mode: S_IFLNK | 0o777,
            ..FileEntry::default()
        }
        .with_link_target(b"file.txt".to_vec()),
    ];
    for sel in [0x00u8, 0x05, 0x3E, 0xFB] {
        let mut enc = FlistEncoder::new(flist_options(sel));
        let mut v = vec![sel];
        for e in &entries {
            let mut e = e.clone();
            if !flist_options(sel).preserve_hard_links {
                e.hlink = None.into();
            }
            enc.encode(&mut v, &e);
        }
        enc.encode_end(&mut v, 0);
        crate::flist::write_id_list(&mut v, &[(1000, b"user".to_vec())], None);
        crate::flist::write_id_list(&mut v, &[(100, b"group".to_vec())], None);
        out.push(("flist", v));
    }
    let mut w = MplexWriter::new(Vec::new());
    let _ = w.set_multiplexed(true);
    let _ = w.write_all(b"file data");
    let _ = w.send_msg(MsgCode::Info, b"info line\n");
    let _ = w.send_msg(MsgCode::IoError, &5i32.to_le_bytes());
    let _ = w.send_msg(MsgCode::Data, b"");
    let _ = w.flush();
    out.push(("mplex", w.inner_mut().clone()));
    let mut t = Vec::new();
    write_literal(&mut t, b"hello");
    write_match(&mut t, 3);
    write_end(&mut t);
    out.push(("token", t));
    let ops = vec![
        cf::Op::Literal(b"some literal text, some literal text".to_vec()),
        cf::Op::Match(1),
        cf::Op::Literal(vec![0; 100]),
    ];
    let basis: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
    for (sel, codec) in [
        (0u8, Codec::Zlib),
        (1, Codec::Zlibx),
        (2, Codec::Zstd),
        (3, Codec::Lz4),
    ] {
        if let Ok(stream) =
            cf::encode_files(codec, None, 31, &[ops.clone(), ops.clone()], &basis, 700)
        {
            let mut v = vec![sel];
            v.extend_from_slice(&stream);
            out.push(("compressed_token", v));
        }
    }
    let mut v = Vec::new();
    SumHead {
        count: 3,
        blength: 700,
        s2length: 16,
        remainder: 5,
    }
    .write(&mut v);
    let mut nw = NdxWriter::default();
    for n in [0, 1, 300, 70_000, -1, NDX_DONE] {
        nw.write(&mut v, n);
    }
    out.push(("ndx_varint", v));
    let mut v = Vec::new();
    let long = crate::xattr::wire_value(vec![b'L'; 80]);
    let short = crate::xattr::Value::Full(b"short".to_vec());
    crate::xattr::encode_literal(&mut v, &[(b"user.a", &short), (b"user.long", &long)]);
    crate::xattr::encode_ref(&mut v, 0);
    crate::xattr::encode_request(&mut v, &[2]);
    crate::xattr::encode_reply(&mut v, &[(1, &[b'L'; 80])]);
    out.push(("xattr", v));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The seeds are accepted by their decoders (so the corpus starts
    /// from the decoders' happy paths).
    #[test]
    fn seeds_decode() {
        let seeds = seeds();
        for target in ["flist", "mplex", "token", "compressed_token", "ndx_varint"] {
            assert!(seeds.iter().any(|(t, _)| *t == target), "{target}");
        }
        for (target, data) in &seeds {
            if *target == "flist" {
                let mut dec = FlistDecoder::new(flist_options(data[0]));
                let mut r = &data[1..];
                let mut n = 0;
                while dec.decode(&mut r).expect("seed entry").is_some() {
                    n += 1;
                }
                assert_eq!(n, 3);
            }
        }
    }

    /// `OXSYNC_SEED_DIR=fuzz/corpus cargo test -p protocol write_seed_corpus
    /// -- --ignored` (re)writes the seed files.
    #[test]
    #[ignore]
    fn write_seed_corpus() {
        let dir = std::env::var("OXSYNC_SEED_DIR").expect("OXSYNC_SEED_DIR");
        for (i, (target, data)) in seeds().iter().enumerate() {
            let d = std::path::Path::new(&dir).join(target);
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join(format!("seed-{i}")), data).expect("write");
        }
    }

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

    /// The harness `fuzz/fuzz_targets/NAME.rs` calls.
    fn target(name: &str) -> fn(&[u8]) {
        match name {
            "flist" => flist_entries,
            "mplex" => mplex,
            "token" => token,
            "compressed_token" => crate::compress::fuzzing::decompress_stream,
            "xattr" => xattr_lists,
            _ => ndx_varint,
        }
    }

    proptest! {
        /// Well-formed inputs with a few bytes changed, inserted or cut
        /// (what a fuzzer starts from, for the CI run).
        #[test]
        fn mutated_seeds_never_panic(
            pick in any::<prop::sample::Index>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        ) {
            let seeds = seeds();
            let (name, seed) = &seeds[pick.index(seeds.len())];
            let mut data = seed.clone();
            for (at, byte, op) in edits {
                let i = at.index(data.len().max(1));
                match op {
                    0 if i < data.len() => data[i] = byte,
                    1 => data.insert(i.min(data.len()), byte),
                    _ if i < data.len() => {
                        data.remove(i);
                    }
                    _ => {}
                }
            }
            target(name)(&data);
        }

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

        #[test]
        fn arbitrary_xattr_lists_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
            xattr_lists(&data);
        }
    }
}
