//! `--fuzzy` / `-yy` in every direction, compared with stock rsync: a file
//! renamed in the source finds its old copy in the destination (or, with
//! `-yy`, in a `--compare-dest` directory) as its delta basis, so only the
//! changed tail travels as literal data; the result is byte for byte the
//! source, and the itemize lines and exit code are stock rsync's.
use crate::interop::{Case, Direction};
use crate::util::*;
use std::fs;

const SIZE: usize = 300_000;
const TAIL: usize = 20_000;

/// The source gets `archive-v2.tar`; `dest` gets an older copy under the
/// names `archive-v1.tar` (the same bytes but the last 20 KB) and an
/// unrelated `other.dat`.
fn prepare(case: &Case) -> Vec<u8> {
    let data = Prng::new(77).bytes(SIZE);
    write_file(&case.src.join("archive-v2.tar"), &data, 0o644, T0 + 50);
    let old = data[..SIZE - TAIL].to_vec();
    case.prepare_both(|d| {
        fs::create_dir_all(d).expect("mkdir");
        write_file(&d.join("archive-v1.tar"), &old, 0o644, T0);
        write_file(&d.join("other.dat"), &[7u8; 5000], 0o644, T0);
    });
    data
}

/// A case whose source holds only what the test puts there (the standard
/// tree's 50 MB file would drown the literal-data measure).
fn small_case(dir: Direction) -> Case {
    let case = Case::new(dir);
    fs::remove_dir_all(&case.src).expect("rm src");
    fs::create_dir_all(&case.src).expect("mkdir src");
    case
}

fn literal(run: &Run) -> u64 {
    stat_bytes(&run.stdout, "Literal data")
        .unwrap_or_else(|| panic!("no Literal data in {}\n{}", run.cmdline, run.stdout))
}

fn renamed_file_is_a_delta(dir: Direction) {
    let case = small_case(dir);
    let data = prepare(&case);
    let args = ["-a", "-i", "--no-whole-file", "--fuzzy", "--stats"];
    let (ours, theirs) = case.run_both(&args);
    ours.assert_code(0);
    assert_eq!(
        fs::read(case.dst.join("archive-v2.tar")).expect("read"),
        data
    );
    // Stock rsync finds the basis: the check of the check.
    assert!(literal(&theirs) < 2 * TAIL as u64, "{}", theirs.stdout);
    // Only the new tail (and the standard tree's small files) is literal.
    let lit = literal(&ours);
    assert!(
        lit < 2 * TAIL as u64,
        "literal data {lit} (stock {})\n{}",
        literal(&theirs),
        ours.stdout
    );
    // The older copy is still there (no --delete): a basis, not a rename.
    assert!(case.dst.join("archive-v1.tar").exists());
}

/// `-yy` looks in the basis directories too: the old copy lives only in
/// `--compare-dest=../prev`. Run where oxsync is the receiving side (stock
/// rsync 3.2.7's receiver fails its own `-yy` basis-dir transfers with
/// "failed verification", so it is no reference here).
fn basis_dir_fuzzy(dir: Direction) {
    let case = small_case(dir);
    let data = Prng::new(78).bytes(SIZE);
    write_file(&case.src.join("report-2.bin"), &data, 0o644, T0 + 50);
    let old = data[..SIZE - TAIL].to_vec();
    fs::create_dir_all(case.scratch.path("prev")).expect("mkdir");
    write_file(&case.scratch.path("prev/report-1.bin"), &old, 0o644, T0);
    let args = ["-a", "--no-whole-file", "--compare-dest=../prev", "--stats"];
    let one = case.run(&[&args[..], &["-y"]].concat());
    one.assert_code(0);
    // One -y looks only in the destination: everything is literal.
    assert!(literal(&one) >= SIZE as u64, "{}", one.stdout);
    fs::remove_dir_all(&case.dst).expect("rm dst");
    let ours = case.run(&[&args[..], &["-yy"]].concat());
    ours.assert_code(0);
    assert_eq!(fs::read(case.dst.join("report-2.bin")).expect("read"), data);
    assert!(literal(&ours) < 2 * TAIL as u64, "{}", ours.stdout);
    assert!(!case.dst.join("report-1.bin").exists());
}

/// `--debug=FUZZY2` names each candidate's score and the choice, as
/// upstream words them; the closest name wins over a shorter one.
#[test]
fn local_debug_names_the_choice() {
    let case = small_case(Direction::Local);
    prepare(&case);
    let old: Vec<u8> = fs::read(case.dst.join("archive-v1.tar")).expect("read");
    case.prepare_both(|d| write_file(&d.join("archive-old.tar"), &old[..200_000], 0o644, T0));
    let args = ["-a", "--no-whole-file", "--fuzzy", "--debug=FUZZY2"];
    let (ours, theirs) = case.run_both(&args);
    ours.assert_code(0);
    let picked = "fuzzy basis selected for archive-v2.tar: archive-v1.tar";
    for run in [&ours, &theirs] {
        assert!(
            run.stdout.contains(picked),
            "{}\n{}",
            run.cmdline,
            run.stdout
        );
    }
    let scores = |r: &Run| -> Vec<String> {
        r.stdout
            .lines()
            .filter(|l| l.starts_with("fuzzy distance for "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(scores(&ours), scores(&theirs));
}

/// Without --fuzzy nothing is borrowed: the whole file is literal.
#[test]
fn local_without_fuzzy_sends_everything() {
    let case = small_case(Direction::Local);
    prepare(&case);
    let (ours, _) = case.run_both(&["-a", "--no-whole-file", "--stats"]);
    ours.assert_code(0);
    assert!(literal(&ours) >= SIZE as u64, "{}", ours.stdout);
}

/// A fuzzy basis outside the destination is never read: `archive-v1.tar`
/// in the destination is a symlink to a file outside, so it is no
/// candidate, and the outside file is unchanged.
#[test]
fn local_symlinked_candidate_is_not_a_basis() {
    let case = small_case(Direction::Local);
    prepare(&case);
    let outside = case.scratch.path("outside.tar");
    fs::rename(case.dst.join("archive-v1.tar"), &outside).expect("rename");
    std::os::unix::fs::symlink(&outside, case.dst.join("archive-v1.tar")).expect("symlink");
    let before = fs::read(&outside).expect("read");
    let run = case.run(&[
        "-a",
        "--no-whole-file",
        "--fuzzy",
        "--debug=FUZZY",
        "--stats",
    ]);
    run.assert_code(0);
    assert!(
        !run.stdout.contains("fuzzy basis selected"),
        "{}",
        run.stdout
    );
    assert!(literal(&run) >= SIZE as u64, "{}", run.stdout);
    assert_eq!(fs::read(&outside).expect("read"), before);
    assert!(same_content(
        &case.src.join("archive-v2.tar"),
        &case.dst.join("archive-v2.tar")
    ));
}

macro_rules! directions {
    ($($name:ident => $dir:expr $(, $yy:ident)?);* $(;)?) => {$(
        mod $name {
            use super::*;
            #[test]
            fn renamed_file_is_a_delta() {
                super::renamed_file_is_a_delta($dir);
            }
            $(
            #[test]
            fn $yy() {
                super::basis_dir_fuzzy($dir);
            }
            )?
        }
    )*};
}

directions! {
    local => Direction::Local, basis_dir_fuzzy;
    ox_push => Direction::OxPush;
    ox_pull => Direction::OxPull, basis_dir_fuzzy;
    rsync_push => Direction::RsyncPush, basis_dir_fuzzy;
    rsync_pull => Direction::RsyncPull;
}
