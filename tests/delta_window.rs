//! The receiver rebuilds a file from matched basis blocks read through its
//! basis window and written in runs of consecutive blocks (and, in place,
//! one block at a time): blocks in file order, reversed, repeated, out of
//! the window and back, between literal data, and the short last block,
//! from oxsync and from stock rsync senders, the generator's two-thread
//! block sums read by both.
use super::util::*;
use std::fs;

/// Block length forced with `-B`: 32 blocks fill the receiver's 256 KiB
/// window.
const BL: usize = 8192;
/// Basis: 160 full blocks (five windows) and a short last one.
const BLOCKS: usize = 160;
const TAIL: usize = 1234;

/// The old file and the new one made from its blocks: a run in order
/// that crosses window boundaries, a reversed run, one block four times,
/// blocks from the far end and back, literal data between some, and the
/// short last block at the end (where alone it can match).
fn files() -> (Vec<u8>, Vec<u8>) {
    let mut rng = Prng::new(0xde17a);
    let old = rng.bytes(BLOCKS * BL + TAIL);
    let block = |i: usize| &old[i * BL..(i + 1) * BL];
    let mut new = Vec::new();
    for i in 20..90 {
        new.extend_from_slice(block(i));
    }
    new.extend_from_slice(&rng.bytes(3000));
    for i in (0..20).rev() {
        new.extend_from_slice(block(i));
    }
    for _ in 0..4 {
        new.extend_from_slice(block(100));
    }
    for i in [159, 31, 32, 33, 158, 0, 1] {
        new.extend_from_slice(block(i));
    }
    new.extend_from_slice(&rng.bytes(BL / 2 + 17));
    for i in 90..159 {
        new.extend_from_slice(block(i));
    }
    new.extend_from_slice(&old[BLOCKS * BL..]);
    (old, new)
}

/// Every direction, with and without --inplace: exit 0, the new bytes
/// arrive, no failed verification (a wrongly rebuilt file fails its
/// whole-file checksum and is sent again), and the blocks were matched
/// (the literal data is what the new file added).
#[test]
fn reordered_blocks_rebuild_in_every_direction() {
    let s = Scratch::new();
    let (old, new) = files();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    write_file(&src.join("f"), &new, 0o644, T0);
    let added = (3000 + BL / 2 + 17) as u64;
    for dir in ALL {
        for inplace in [false, true] {
            let dst = s.path(&format!("dst-{dir:?}-{inplace}"));
            fs::create_dir_all(&dst).expect("dst");
            write_file(&dst.join("f"), &old, 0o644, T0 - 100);
            let mut cmd = dir.client(false, &s.rsh());
            cmd.args(["-a", "--stats", "--no-whole-file", "-B", "8192"]);
            if inplace {
                cmd.arg("--inplace");
            }
            cmd.args(dir.operands(format!("{}/", src.display()), format!("{}/", dst.display())));
            let r = run(&mut cmd, &s.logs());
            r.assert_code(0);
            let all = format!("{}\n{}", r.stdout, r.stderr);
            assert!(
                !all.contains("failed verification"),
                "{dir:?} inplace {inplace}: a pass failed\n{all}"
            );
            let got = fs::read(dst.join("f")).expect("read dst");
            assert!(got == new, "{dir:?} inplace {inplace}: content differs");
            let literal = stat_bytes(&all, "Literal data").expect("Literal data");
            let matched = stat_bytes(&all, "Matched data").expect("Matched data");
            assert_eq!(
                literal + matched,
                new.len() as u64,
                "{dir:?} inplace {inplace}\n{all}"
            );
            if !inplace {
                // (in place, a block the file already holds where it goes
                // is matched, others may be sent as literals)
                assert_eq!(literal, added, "{dir:?}\n{all}");
            }
        }
    }
}
