//! `--debug=DELTASUM` (and `-vv`): the sender's delta-search counters as
//! upstream prints them (`total: matches=N  hash_hits=N  false_alarms=N
//! data=N`), and the search's work per weak-checksum hit staying bounded on
//! a basis whose 8000 blocks share one rolling sum (upstream's
//! hashsearch-chain test, issue #217: rsync 3.2.7 walks the whole chain
//! at every offset, 3.5.0 caps it at 1024 entries).
use crate::interop::{Case, Direction};
use crate::util::*;
use std::fs;

const BLOCK: usize = 256;
const NBLOCKS: usize = 8000;
const RUN: usize = 3000;
const C: u8 = 100;

/// (matches, hash_hits, false_alarms, data) from the `total:` line.
fn totals(out: &str) -> Option<(u64, u64, u64, u64)> {
    let line = out.lines().find(|l| l.starts_with("total: matches="))?;
    let num = |key: &str| -> Option<u64> {
        let rest = line.split(key).nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    Some((
        num("matches=")?,
        num("hash_hits=")?,
        num("false_alarms=")?,
        num("data=")?,
    ))
}

/// The basis: identical decoy blocks with the source's rolling sum but
/// other bytes; the source: a run of one byte value.
fn decoys(case: &Case) {
    fs::remove_dir_all(&case.src).expect("rm src");
    fs::create_dir_all(&case.src).expect("mkdir src");
    write_file(&case.src.join("image.bin"), &[C; RUN], 0o644, T0 + 9);
    let mut block = vec![C; BLOCK];
    block[0] = C + 1;
    block[1] = C - 2;
    block[2] = C + 1;
    let basis = block.repeat(NBLOCKS);
    case.prepare_both(|d| {
        fs::create_dir_all(d).expect("mkdir");
        write_file(&d.join("image.bin"), &basis, 0o644, T0);
    });
}

fn chain_stays_bounded(dir: Direction) {
    let case = Case::new(dir);
    decoys(&case);
    // Stock rsync's server prints nothing for a forwarded
    // --debug=deltasum1 (3.2.7), so the remote runs ask with -vv.
    let debug = if dir == Direction::Local {
        "--debug=deltasum1"
    } else {
        "-vv"
    };
    let args = ["-a", "--no-whole-file", "--block-size=256", debug];
    let (ours, theirs) = case.run_both(&args);
    ours.assert_code(0);
    let all = |r: &Run| format!("{}{}", r.stdout, r.stderr);
    let (_, stock_hits, stock_false, _) =
        totals(&all(&theirs)).unwrap_or_else(|| panic!("stock: {}", all(&theirs)));
    // The check of the check: stock 3.2.7 walks the whole chain per hit.
    assert!(stock_false > 1000 * stock_hits, "{}", all(&theirs));
    let (matches, hits, false_alarms, data) =
        totals(&all(&ours)).unwrap_or_else(|| panic!("no totals: {}", all(&ours)));
    assert_eq!(hits, stock_hits, "{}", all(&ours));
    assert_eq!(matches, 0);
    assert_eq!(data, RUN as u64);
    assert!(
        false_alarms <= hits,
        "{false_alarms} false alarms for {hits} hits\n{}",
        all(&ours)
    );
    assert_eq!(
        fs::read(case.dst.join("image.bin")).expect("read"),
        vec![C; RUN]
    );
}

/// `-vv` turns DELTASUM on, as upstream: the totals line appears with
/// stock rsync's numbers for an ordinary delta update.
fn vv_prints_the_totals(dir: Direction) {
    let case = Case::new(dir);
    fs::remove_dir_all(&case.src).expect("rm src");
    fs::create_dir_all(&case.src).expect("mkdir src");
    let data = Prng::new(5).bytes(100_000);
    let mut new = data.clone();
    new.extend_from_slice(b"appended tail\n");
    write_file(&case.src.join("f.bin"), &new, 0o644, T0 + 9);
    case.prepare_both(|d| {
        fs::create_dir_all(d).expect("mkdir");
        write_file(&d.join("f.bin"), &data, 0o644, T0);
    });
    let (ours, theirs) = case.run_both(&["-a", "-vv", "--no-whole-file", "-B2048"]);
    ours.assert_code(0);
    let all = |r: &Run| format!("{}{}", r.stdout, r.stderr);
    let stock = totals(&all(&theirs)).unwrap_or_else(|| panic!("stock: {}", all(&theirs)));
    let got = totals(&all(&ours)).unwrap_or_else(|| panic!("no totals: {}", all(&ours)));
    assert_eq!(got, stock, "{}", all(&ours));
    assert!(same_content(
        &case.src.join("f.bin"),
        &case.dst.join("f.bin")
    ));
}

macro_rules! directions {
    ($($name:ident => $dir:expr),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[test]
            fn chain_stays_bounded() {
                super::chain_stays_bounded($dir);
            }
            #[test]
            fn vv_prints_the_totals() {
                super::vv_prints_the_totals($dir);
            }
        }
    )*};
}

// The directions where oxsync sends.
directions! {
    local => Direction::Local,
    ox_push => Direction::OxPush,
    rsync_pull => Direction::RsyncPull,
}
