use super::fuzzing::{decode_files, decompress_stream, encode_files, expected_content, Op};
use super::*;
use proptest::prelude::*;

const ALL: [Codec; 4] = [Codec::Zlib, Codec::Zlibx, Codec::Zstd, Codec::Lz4];

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn text(len: usize) -> Vec<u8> {
    let words = [
        "rsync ",
        "delta ",
        "token ",
        "stream\n",
        "compress ",
        "zlib ",
    ];
    let mut v = Vec::new();
    let mut i = 0usize;
    while v.len() < len {
        v.extend_from_slice(words[(i * 7 + i / 3) % words.len()].as_bytes());
        i += 1;
    }
    v.truncate(len);
    v
}

fn round_trip(codec: Codec, protocol: i32, files: &[Vec<Op>], basis: &[u8], block_len: usize) {
    let stream = encode_files(codec, None, protocol, files, basis, block_len).unwrap();
    let got = decode_files(
        codec,
        protocol,
        &stream,
        files.len(),
        basis,
        block_len,
        1 << 30,
    )
    .unwrap_or_else(|e| panic!("{codec:?} p{protocol}: {e}"));
    for (ops, file) in files.iter().zip(&got) {
        assert_eq!(
            file,
            &expected_content(ops, basis, block_len),
            "{codec:?} p{protocol}"
        );
    }
}

#[test]
fn names() {
    for name in Codec::PREFERENCE {
        assert_eq!(Codec::from_name(name).unwrap().name(), name);
    }
    assert_eq!(Codec::from_name("none"), None);
    assert_eq!(Codec::Zlib.effective_level(Some(0)), None);
    assert_eq!(Codec::Zlib.effective_level(None), Some(6));
    assert_eq!(Codec::Zlibx.effective_level(Some(12)), Some(9));
    assert_eq!(Codec::Zstd.effective_level(Some(0)), Some(3));
    assert_eq!(Codec::Lz4.effective_level(Some(5)), Some(0));
}

#[test]
fn run_encoding_wire_bytes() {
    let basis = vec![1u8; 1000];
    let files = vec![vec![
        Op::Match(0),
        Op::Match(1),
        Op::Match(2),
        Op::Match(5),
        Op::Match(100),
        Op::Match(101),
        Op::Match(3),
    ]];
    for codec in ALL {
        let out = encode_files(codec, None, 31, &files, &basis, 8).unwrap();
        assert_eq!(
            out,
            [
                TOKENRUN_REL,
                2,
                0,             // 0..=2
                TOKEN_REL + 3, // 5
                TOKENRUN_LONG,
                100,
                0,
                0,
                0,
                1,
                0, // 100..=101
                TOKEN_LONG,
                3,
                0,
                0,
                0, // 3 (before last)
                END_FLAG
            ],
            "{codec:?}"
        );
        let mut d = Decompressor::new(codec, 31).unwrap();
        let mut r = &out[..];
        let mut buf = Vec::new();
        for want in [0, 1, 2, 5, 100, 101, 3] {
            assert_eq!(d.read_token(&mut r, &mut buf).unwrap(), Token::Match(want));
            d.see_match(&basis[..8]).unwrap();
        }
        assert_eq!(d.read_token(&mut r, &mut buf).unwrap(), Token::End);
        assert!(r.is_empty());
    }
}

#[test]
fn long_runs_split_at_65536() {
    let basis = vec![0u8; 70_000];
    let files = vec![(0..70_000u32).map(Op::Match).collect::<Vec<_>>()];
    let out = encode_files(Codec::Lz4, None, 31, &files, &basis, 1).unwrap();
    // 0..=65535 then 65536..=69999 (relative 1 from the run's end)
    assert_eq!(
        out,
        [
            TOKENRUN_REL,
            0xff,
            0xff,
            TOKENRUN_REL + 1,
            0x6f,
            0x11,
            END_FLAG
        ]
    );
    round_trip(Codec::Lz4, 31, &files, &basis, 1);
}

#[test]
fn all_codecs_round_trip_mixed() {
    let block_len = 700;
    let basis = noise(1, block_len * 20 + 123);
    let mut files = Vec::new();
    for f in 0..4u64 {
        let mut ops = Vec::new();
        for i in 0..12u32 {
            match (i + f as u32) % 4 {
                0 => ops.push(Op::Literal(noise(
                    f * 100 + u64::from(i),
                    1 + 97 * i as usize,
                ))),
                1 => ops.push(Op::Literal(text(5000 + i as usize))),
                2 => ops.push(Op::Match((i * 3 + f as u32) % 21)),
                _ => {
                    ops.push(Op::Match(i % 20));
                    ops.push(Op::Match(i % 20 + 1));
                }
            }
        }
        files.push(ops);
    }
    files.push(Vec::new()); // empty file
    files.push(vec![Op::Literal(noise(9, 100_000))]); // incompressible, many chunks
    for codec in ALL {
        for protocol in [30, 31, 32] {
            round_trip(codec, protocol, &files, &basis, block_len);
        }
    }
}

#[test]
fn literal_after_match_uses_window() {
    // zlib's window knows the matched block, so repeating it as a literal
    // costs almost nothing; zlibx has to send it.
    let basis = noise(3, 8192);
    let files = vec![vec![Op::Match(0), Op::Literal(basis[..8192].to_vec())]];
    let zlib = encode_files(Codec::Zlib, None, 31, &files, &basis, 8192).unwrap();
    let zlibx = encode_files(Codec::Zlibx, None, 31, &files, &basis, 8192).unwrap();
    assert!(zlib.len() < 200, "zlib {}", zlib.len());
    assert!(zlibx.len() > 8000, "zlibx {}", zlibx.len());
    round_trip(Codec::Zlib, 31, &files, &basis, 8192);
    round_trip(Codec::Zlibx, 31, &files, &basis, 8192);
    // Decoding zlib output without the window feed fails or differs.
    let bad = decode_files(Codec::Zlibx, 31, &zlib, 1, &basis, 8192, 1 << 20);
    assert!(bad.map_or(true, |f| f[0] != expected_content(&files[0], &basis, 8192)));
}

#[test]
fn big_blocks_protocol_30_quirk() {
    // Blocks over 65535 bytes: protocol 30 re-feeds the block's start.
    let block_len = 100_000;
    let basis = noise(5, block_len * 3);
    let tail = basis[block_len + 80_000..block_len * 2].to_vec();
    let files = vec![
        vec![Op::Match(1), Op::Literal(tail.clone()), Op::Match(2)],
        vec![Op::Literal(text(70_000)), Op::Match(0), Op::Literal(tail)],
    ];
    for protocol in [30, 31] {
        round_trip(Codec::Zlib, protocol, &files, &basis, block_len);
    }
    // A receiver with the other protocol's feed loses the window.
    // (protocol 31 sends the tail as references into the window.)
    let s31 = encode_files(Codec::Zlib, None, 31, &files[..1], &basis, block_len).unwrap();
    assert!(s31.len() < 1000, "{}", s31.len());
    let wrong = decode_files(Codec::Zlib, 30, &s31, 1, &basis, block_len, 1 << 24);
    assert!(wrong.map_or(true, |f| f[0]
        != expected_content(&files[0], &basis, block_len)));
}

#[test]
fn huge_expansion_is_split() {
    let zeros = vec![0u8; 3 * MAX_LITERAL_OUT + 17];
    for codec in ALL {
        let stream =
            encode_files(codec, None, 31, &[vec![Op::Literal(zeros.clone())]], &[], 1).unwrap();
        let mut d = Decompressor::new(codec, 31).unwrap();
        let mut r = &stream[..];
        let mut buf = Vec::new();
        let mut total = 0;
        loop {
            match d.read_token(&mut r, &mut buf).unwrap() {
                Token::Literal(n) => {
                    assert!(n <= MAX_LITERAL_OUT && n == buf.len());
                    assert!(buf.iter().all(|&b| b == 0));
                    total += n;
                }
                Token::End => break,
                t => panic!("{t:?}"),
            }
        }
        assert_eq!(total, zeros.len(), "{codec:?}");
    }
}

#[test]
fn zstd_is_one_session_stream() {
    // The second file's bytes only decode after the first file's.
    let t = text(50_000);
    let files = vec![vec![Op::Literal(t.clone())], vec![Op::Literal(t.clone())]];
    let stream = encode_files(Codec::Zstd, None, 31, &files, &[], 1).unwrap();
    let first_len = encode_files(Codec::Zstd, None, 31, &files[..1], &[], 1)
        .unwrap()
        .len();
    // the second copy is a cheap back-reference into the first
    assert!(stream.len() - first_len < 200);
    round_trip(Codec::Zstd, 31, &files, &[], 1);
    assert!(decode_files(Codec::Zstd, 31, &stream[first_len..], 1, &[], 1, 1 << 20).is_err());
}

#[test]
fn chunks_are_bounded_and_zlib_flush_tail_stripped() {
    for codec in ALL {
        let data = noise(11, 60_000);
        let stream = encode_files(
            codec,
            None,
            31,
            &[vec![Op::Literal(data), Op::Match(0)]],
            &[9; 4],
            4,
        )
        .unwrap();
        let mut i = 0;
        let mut chunks = Vec::new();
        while stream[i] & 0xC0 == DEFLATED_DATA {
            let n = (usize::from(stream[i] & 0x3f) << 8) | usize::from(stream[i + 1]);
            assert!(n > 0 && n <= MAX_DATA_COUNT);
            chunks.push(stream[i + 2..i + 2 + n].to_vec());
            i += 2 + n;
        }
        assert_eq!(&stream[i..], [TOKEN_REL, END_FLAG], "{codec:?}");
        if matches!(codec, Codec::Zlib | Codec::Zlibx) {
            let all: Vec<u8> = chunks.concat();
            assert!(!all.ends_with(&[0, 0, 0xff, 0xff]));
        }
    }
}

#[test]
fn bad_flags_and_tokens_are_invalid() {
    let cases: &[&[u8]] = &[
        &[0x01],
        &[0x1f],
        &[0x22],
        &[TOKEN_LONG, 0xff, 0xff, 0xff, 0xff],
        &[TOKEN_LONG, 0xff, 0xff, 0xff, 0x7f],
        &[TOKENRUN_REL, 0, 0],
        &[TOKENRUN_LONG, 0xfe, 0xff, 0xff, 0x7f, 1, 0],
    ];
    for codec in ALL {
        for case in cases {
            let mut d = Decompressor::new(codec, 31).unwrap();
            let mut r = *case;
            let mut buf = Vec::new();
            let err = d.read_token(&mut r, &mut buf).unwrap_err();
            assert!(
                matches!(err, Error::Invalid { .. }),
                "{codec:?} {case:?}: {err}"
            );
        }
        // garbage compressed data
        let mut d = Decompressor::new(codec, 31).unwrap();
        let mut r: &[u8] = &[DEFLATED_DATA, 4, 0xff, 0xff, 0xff, 0xff, END_FLAG];
        let mut buf = Vec::new();
        let mut failed = false;
        for _ in 0..4 {
            match d.read_token(&mut r, &mut buf) {
                Err(e) => {
                    assert!(matches!(e, Error::Invalid { .. }), "{codec:?}: {e}");
                    failed = true;
                    break;
                }
                Ok(Token::End) => break,
                Ok(_) => {}
            }
        }
        assert!(failed, "{codec:?} accepted garbage");
    }
}

#[test]
fn truncated_is_eof() {
    for codec in ALL {
        let stream =
            encode_files(codec, None, 31, &[vec![Op::Literal(text(1000))]], &[], 1).unwrap();
        let cut = &stream[..stream.len() - 1];
        let err = decode_files(codec, 31, cut, 1, &[], 1, 1 << 20).unwrap_err();
        assert!(matches!(err, Error::Eof { .. }), "{codec:?}: {err}");
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..3000).prop_map(Op::Literal),
        (0usize..2000).prop_map(|n| Op::Literal(text(n + 1))),
        (0u32..40).prop_map(Op::Match),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn prop_round_trip(
        files in proptest::collection::vec(proptest::collection::vec(op_strategy(), 0..12), 1..4),
        codec in 0usize..4,
        protocol in 30i32..=32,
    ) {
        let basis = noise(77, 40 * 300);
        round_trip(ALL[codec], protocol, &files, &basis, 300);
    }

    #[test]
    fn prop_corrupt_streams_never_panic(
        files in proptest::collection::vec(proptest::collection::vec(op_strategy(), 0..6), 1..3),
        codec in 0usize..4,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let basis = noise(78, 40 * 300);
        let mut stream = encode_files(ALL[codec], None, 31, &files, &basis, 300).unwrap();
        for (at, x) in flips {
            if !stream.is_empty() {
                let i = at % stream.len();
                stream[i] ^= x | 1;
            }
        }
        let _ = decode_files(ALL[codec], 31, &stream, files.len(), &basis, 300, 1 << 26);
        let cut = cut % (stream.len() + 1);
        let _ = decode_files(ALL[codec], 31, &stream[..cut], files.len(), &basis, 300, 1 << 26);
    }

    #[test]
    fn prop_fuzz_harness(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        decompress_stream(&data);
    }
}
