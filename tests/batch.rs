//! Batch files: `--write-batch`, `--only-write-batch`, `--read-batch`.
//! A batch written by oxsync is replayed by stock rsync and the other way
//! round (local copies, pushes and pulls over a remote shell); the `.sh`
//! replay script is rsync 3.5.0's, every argument quoted; a hostile batch
//! file ends with one error line and rsync's exit code, writing nothing.
use crate::util::*;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Size of the file that changes between the old and new trees (large
/// enough that its delta is much smaller than the file).
const BIG: usize = 300_000;

/// The new tree: files of several modes, a subdirectory, an empty file, a
/// symlink, and `big` (see [`old_tree`]).
fn new_tree(root: &Path) {
    let mut rng = Prng::new(7);
    fs::create_dir_all(root.join("sub/deep")).expect("mkdir");
    write_file(&root.join("a.txt"), b"alpha\n", 0o644, T0 + 1);
    write_file(
        &root.join("exec.sh"),
        b"#!/bin/sh\necho hi\n",
        0o755,
        T0 + 2,
    );
    write_file(&root.join("sub/private"), &rng.bytes(70_000), 0o600, T0 + 3);
    write_file(&root.join("sub/deep/empty"), b"", 0o640, T0 + 4);
    symlink("a.txt", root.join("link")).expect("symlink");
    let mut big = Prng::new(11).bytes(BIG);
    for b in &mut big[150_000..151_000] {
        *b ^= 0x5a;
    }
    write_file(&root.join("big"), &big, 0o644, T0 + 5);
    for d in ["sub/deep", "sub", ""] {
        let p = root.join(d);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
        set_mtime(&p, T0 + 9);
    }
}

/// A destination holding the old version of `big` (the batch's deltas are
/// made against it) and nothing else.
fn old_tree(root: &Path) {
    fs::create_dir_all(root).expect("mkdir");
    write_file(&root.join("big"), &Prng::new(11).bytes(BIG), 0o644, T0);
}

fn ox(s: &Scratch, args: &[&str]) -> Run {
    run_in(s, &oxsync_bin(), args)
}

fn rs(s: &Scratch, args: &[&str]) -> Run {
    run_in(s, &rsync_bin(), args)
}

/// A scratch dir with `src` (new tree) and old copies `d1`..`dN`.
fn setup(n: usize) -> Scratch {
    let s = Scratch::new();
    new_tree(&s.path("src"));
    for i in 1..=n {
        old_tree(&s.path(&format!("d{i}")));
    }
    s
}

/// The error lines of a failed run: one `rsync: ...` line, then rsync's
/// closing line with `code`.
fn assert_one_error(r: &Run, code: i32, text: &str) {
    r.assert_code(code);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "two lines expected:\n{}", r.stderr);
    assert!(lines[0].contains(text), "{:?} lacks {text:?}", lines[0]);
    assert!(
        lines[1].starts_with("rsync error: ") && lines[1].contains(&format!("(code {code})")),
        "{:?}",
        lines[1]
    );
}

#[test]
fn local_batch_from_oxsync_replays_with_rsync_with_oxsync_and_its_script() {
    let s = setup(4);
    ox(&s, &["-a", "--write-batch=B", "src/", "d1/"]).assert_code(0);
    assert_same_tree(&s.path("src"), &s.path("d1"));
    // The batch holds the delta against the old `big`, not the file.
    let len = fs::metadata(s.path("B")).expect("batch").len();
    assert!(len < (BIG as u64) / 2 + 80_000, "batch of {len} bytes");
    assert_eq!(
        fs::metadata(s.path("B")).expect("B").permissions().mode() & 0o777,
        0o600
    );
    let script = fs::read_to_string(s.path("B.sh")).expect("B.sh");
    assert_eq!(
        script,
        format!(
            "'{}' '-a' --read-batch='B' ${{1:-'d1/'}}\n",
            oxsync_bin().display()
        )
    );
    assert_eq!(
        fs::metadata(s.path("B.sh"))
            .expect("B.sh")
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    rs(&s, &["-a", "--read-batch=B", "d2/"]).assert_code(0);
    assert_same_tree(&s.path("src"), &s.path("d2"));
    ox(&s, &["-a", "--read-batch=B", "d3/"]).assert_code(0);
    assert_same_tree(&s.path("src"), &s.path("d3"));
    let mut sh = Command::new("sh");
    sh.args(["B.sh", "d4/"]).current_dir(s.root());
    run(&mut sh, &s.logs()).assert_code(0);
    assert_same_tree(&s.path("src"), &s.path("d4"));
    // Replayed onto the updated tree, nothing is wanted: each record is
    // skipped, the tree stays as it is.
    let again = ox(&s, &["-a", "--read-batch=B", "d3/"]);
    again.assert_code(0);
    let skipped: Vec<&str> = again.stdout.lines().collect();
    assert_eq!(
        skipped,
        [
            "(Skipping batched update for \"a.txt\")",
            "(Skipping batched update for \"big\")",
            "(Skipping batched update for \"exec.sh\")",
            "(Skipping batched update for \"sub/private\")",
            "(Skipping batched update for \"sub/deep/empty\")",
        ]
    );
    assert_same_tree(&s.path("src"), &s.path("d3"));
}

#[test]
fn local_batch_from_rsync_replays_with_oxsync() {
    let s = setup(4);
    rs(&s, &["-a", "--no-i-r", "--write-batch=B", "src/", "d1/"]).assert_code(0);
    let r = ox(&s, &["-av", "--stats", "--read-batch=B", "d2/"]);
    r.assert_code(0);
    assert_same_tree(&s.path("src"), &s.path("d2"));
    assert!(r.stdout.contains("sub/private\n"), "{}", r.stdout);
    // Counted from the batch's records, as rsync does (`big` existed in
    // the destination the batch was written against).
    let created = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("Number of created files"))
            .map(str::to_string)
    };
    let stock = rs(&s, &["-a", "--stats", "--read-batch=B", "d4/"]);
    stock.assert_code(0);
    assert_eq!(created(&r.stdout), created(&stock.stdout));
    assert_eq!(
        created(&r.stdout).as_deref(),
        Some("Number of created files: 7 (reg: 4, dir: 2, link: 1)")
    );
    // From standard input.
    let mut c = Command::new("sh");
    c.args(["-c", "exec \"$0\" -a --read-batch=- d3/ < B"])
        .arg(oxsync_bin())
        .current_dir(s.root());
    run(&mut c, &s.logs()).assert_code(0);
    assert_same_tree(&s.path("src"), &s.path("d3"));
}

/// Where a batch is written with stock rsync's default incremental
/// recursion: a local copy, or a push or pull over the remote shell (stock
/// rsync at both ends).
#[derive(Clone, Copy, Debug)]
enum IncForm {
    Local,
    Push,
    Pull,
}

/// The new tree with more directories (several sub-lists), hard links
/// across them, and a destination entry for `--delete` to remove.
fn inc_setup() -> Scratch {
    let s = setup(3);
    let src = s.path("src");
    for d in ["m/n/o", "p", "sub/q"] {
        fs::create_dir_all(src.join(d)).expect("mkdir");
    }
    write_file(&src.join("m/n/o/one"), b"one\n", 0o644, T0 + 6);
    write_file(&src.join("p/two"), b"two two\n", 0o600, T0 + 7);
    fs::hard_link(src.join("m/n/o/one"), src.join("p/one-link")).expect("link");
    fs::hard_link(src.join("a.txt"), src.join("sub/q/a-link")).expect("link");
    for d in ["m/n/o", "m/n", "m", "p", "sub/q", "sub", ""] {
        set_mtime(&src.join(d), T0 + 9);
    }
    for d in ["d1", "d2", "d3"] {
        fs::create_dir_all(s.path(d).join("gone/deeper")).expect("mkdir");
        write_file(&s.path(d).join("gone/deeper/stale"), b"x", 0o644, T0);
        write_file(&s.path(d).join("stale"), b"x", 0o644, T0);
    }
    s
}

/// Writes an inc-recursive batch with `writer` (`-aH --delete`), then
/// replays it with oxsync into `d2` and with `writer` itself into `d3`:
/// the two replayed trees agree with each other and with the source.
fn inc_batch_replays(writer: &Path, form: IncForm) {
    let s = inc_setup();
    let rsh = s.rsh();
    let server = format!("--rsync-path={}", writer.display());
    let (src, d1) = (s.path("src"), s.path("d1"));
    let (from, to) = match form {
        IncForm::Local => ("src/".to_string(), "d1/".to_string()),
        IncForm::Push => ("src/".to_string(), format!("host:{}/", d1.display())),
        IncForm::Pull => (format!("host:{}/", src.display()), "d1/".to_string()),
    };
    let mut args = vec!["-aH", "--delete", "--write-batch=B"];
    if !matches!(form, IncForm::Local) {
        args.extend(["-e", rsh.to_str().expect("utf-8"), &server]);
    }
    args.extend([from.as_str(), to.as_str()]);
    run_in(&s, writer, &args).assert_code(0);
    assert_same_tree(&src, &d1);
    // The batch really is inc-recursive: CF_INC_RECURSE (bit 0) in its
    // compat flags, the varint after the stream flags and protocol (its
    // low byte first unless the lead byte is 0x80..0xBF: one more byte).
    let batch = fs::read(s.path("B")).expect("batch");
    let lead = batch[8];
    assert!(lead < 0xC0, "{form:?}: compat lead byte {lead:#x}");
    let low = if lead < 0x80 { lead } else { batch[9] };
    assert!(
        low & 1 != 0,
        "{form:?}: compat flags without CF_INC_RECURSE"
    );
    let ours = ox(&s, &["-aH", "--delete", "--read-batch=B", "d2/"]);
    ours.assert_code(0);
    assert!(ours.stderr.is_empty(), "{form:?}: {}", ours.stderr);
    run_in(&s, writer, &["-aH", "--delete", "--read-batch=B", "d3/"]).assert_code(0);
    assert_same_tree(&s.path("d3"), &s.path("d2"));
    assert_same_tree(&src, &s.path("d2"));
    assert!(!s.path("d2/gone").exists() && !s.path("d2/stale").exists());
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &str| fs::metadata(s.path("d2").join(p)).expect(p).ino();
    assert_eq!(ino("m/n/o/one"), ino("p/one-link"), "{form:?}");
    assert_eq!(ino("a.txt"), ino("sub/q/a-link"), "{form:?}");
}

/// The writers: stock rsync, and a newer build named by
/// `OXSYNC_TEST_RSYNC_NEW` (e.g. rsync 3.5.0's) when set.
fn writers() -> Vec<PathBuf> {
    let mut w = vec![rsync_bin()];
    w.extend(std::env::var_os("OXSYNC_TEST_RSYNC_NEW").map(PathBuf::from));
    w
}

#[test]
fn incremental_recursion_batch_from_rsync_local_replays() {
    for w in writers() {
        inc_batch_replays(&w, IncForm::Local);
    }
}

#[test]
fn incremental_recursion_batch_from_rsync_push_replays() {
    for w in writers() {
        inc_batch_replays(&w, IncForm::Push);
    }
}

#[test]
fn incremental_recursion_batch_from_rsync_pull_replays() {
    for w in writers() {
        inc_batch_replays(&w, IncForm::Pull);
    }
}

/// Options this side cannot receive incrementally refuse such a batch as
/// rsync does (a reader's `--delete-after`), writing nothing.
#[test]
fn incremental_recursion_batch_with_delete_after_is_refused() {
    let s = setup(2);
    rs(&s, &["-a", "--write-batch=B", "src/", "d1/"]).assert_code(0);
    let before = snapshot(&s.path("d2"));
    let r = ox(&s, &["-a", "--delete-after", "--read-batch=B", "d2/"]);
    assert_one_error(
        &r,
        1,
        "Incompatible options specified for inc-recursive batch file.",
    );
    assert_eq!(snapshot(&s.path("d2")), before);
    rs(&s, &["-a", "--delete-after", "--read-batch=B", "d2/"]).assert_code(1);
}

/// One remote transfer writing a batch, then its replay by the other
/// implementation into a fresh copy of the old destination.
fn remote_case(pull: bool, ox_client: bool) {
    let s = setup(2);
    let (client, server) = if ox_client {
        (oxsync_bin(), rsync_bin())
    } else {
        (rsync_bin(), oxsync_bin())
    };
    let rsh = s.rsh();
    let rsh = rsh.to_str().expect("utf-8");
    let server_path = format!("--rsync-path={}", server.display());
    let src = s.path("src");
    let d1 = s.path("d1");
    let (from, to) = if pull {
        (format!("host:{}/", src.display()), "d1/".to_string())
    } else {
        ("src/".to_string(), format!("host:{}/", d1.display()))
    };
    let mut args = vec!["-a", "-e", rsh, &server_path, "--write-batch=B"];
    if !ox_client {
        args.push("--no-i-r");
    }
    args.extend([from.as_str(), to.as_str()]);
    run_in(&s, &client, &args).assert_code(0);
    assert_same_tree(&src, &d1);
    let reader = if ox_client { rsync_bin() } else { oxsync_bin() };
    run_in(&s, &reader, &["-a", "--read-batch=B", "d2/"]).assert_code(0);
    assert_same_tree(&src, &s.path("d2"));
}

#[test]
fn oxsync_push_batch_replays_with_rsync() {
    remote_case(false, true);
}

#[test]
fn oxsync_pull_batch_replays_with_rsync() {
    remote_case(true, true);
}

#[test]
fn rsync_push_to_oxsync_server_batch_replays_with_oxsync() {
    remote_case(false, false);
}

#[test]
fn rsync_pull_from_oxsync_server_batch_replays_with_oxsync() {
    remote_case(true, false);
}

#[test]
fn only_write_batch_changes_nothing_until_replayed() {
    let s = setup(2);
    let src_before = snapshot(&s.path("src"));
    let d1_before = snapshot(&s.path("d1"));
    let r = ox(
        &s,
        &[
            "-a",
            "--only-write-batch=B",
            "--remove-source-files",
            "src/",
            "d1/",
        ],
    );
    r.assert_code(0);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_eq!(snapshot(&s.path("d1")), d1_before, "destination changed");
    assert_eq!(snapshot(&s.path("src")), src_before, "source changed");
    let r = ox(&s, &["-av", "--only-write-batch=C", "src/", "d1/missing/"]);
    r.assert_code(0);
    assert!(r.stdout.contains("speedup is "), "{}", r.stdout);
    assert!(r.stdout.ends_with(" (BATCH ONLY)\n"), "{}", r.stdout);
    assert!(!s.path("d1/missing").exists(), "destination created");
    rs(&s, &["-a", "--read-batch=B", "d1/"]).assert_code(0);
    assert_same_tree(&s.path("src"), &s.path("d1"));
    // A push to a stock server: the server writes nothing either.
    let rsh = s.rsh();
    let to = format!("host:{}/", s.path("d2").display());
    let d2_before = snapshot(&s.path("d2"));
    let rp = format!("--rsync-path={}", rsync_bin().display());
    let args = ["-a", "-e", rsh.to_str().expect("utf-8"), &rp];
    let mut all = args.to_vec();
    all.extend(["--only-write-batch=D", "src/", to.as_str()]);
    ox(&s, &all).assert_code(0);
    assert_eq!(snapshot(&s.path("d2")), d2_before, "server wrote");
    ox(&s, &["-a", "--read-batch=D", "d2/"]).assert_code(0);
    assert_same_tree(&s.path("src"), &s.path("d2"));
}

#[test]
fn only_write_batch_pull_and_stock_push_to_oxsync_server() {
    let s = setup(3);
    let rsh = s.rsh();
    let rsh = rsh.to_str().expect("utf-8");
    // oxsync pulling from stock rsync: the data is recorded, not written.
    let rp = format!("--rsync-path={}", rsync_bin().display());
    let from = format!("host:{}/", s.path("src").display());
    ox(
        &s,
        &["-a", "-e", rsh, &rp, "--only-write-batch=A", &from, "new/"],
    )
    .assert_code(0);
    assert!(!s.path("new").exists(), "destination created");
    rs(&s, &["-a", "--read-batch=A", "d1/"]).assert_code(0);
    assert_same_tree(&s.path("src"), &s.path("d1"));
    // Stock rsync pushing to oxsync --server with --only-write-batch: the
    // server changes nothing; the batch replays with oxsync.
    let before = snapshot(&s.path("d2"));
    let op = format!("--rsync-path={}", oxsync_bin().display());
    let to = format!("host:{}/", s.path("d2").display());
    rs(
        &s,
        &[
            "-a",
            "--no-i-r",
            "-e",
            rsh,
            &op,
            "--only-write-batch=B",
            "src/",
            &to,
        ],
    )
    .assert_code(0);
    assert_eq!(snapshot(&s.path("d2")), before, "the server wrote");
    ox(&s, &["-a", "--read-batch=B", "d2/"]).assert_code(0);
    assert_same_tree(&s.path("src"), &s.path("d2"));
}

#[test]
fn script_quotes_every_argument_and_keeps_rules_in_a_heredoc() {
    let s = setup(0);
    let dest = "d`touch PWNED`x/";
    let r = ox(
        &s,
        &["-a", "--exclude=*.tmp", "--write-batch=B", "src/", dest],
    );
    r.assert_code(0);
    let script = fs::read_to_string(s.path("B.sh")).expect("B.sh");
    assert_eq!(
        script,
        format!(
            "'{}' --filter='._-' '-a' --read-batch='B' ${{1:-'d`touch PWNED`x/'}} <<'#E#'\n- *.tmp\n#E#\n",
            oxsync_bin().display()
        )
    );
    fs::remove_dir_all(s.path(dest)).expect("rm dest");
    let mut sh = Command::new("sh");
    sh.arg("B.sh").current_dir(s.root());
    run(&mut sh, &s.logs()).assert_code(0);
    assert!(!s.path("PWNED").exists(), "the script ran a command");
    assert_same_tree(&s.path("src"), &s.path(dest));
    // A rule with a newline could end the here-document: refused, and no
    // batch or script is written.
    let r = ox(
        &s,
        &[
            "-a",
            "--filter=- keep\n#E#\ntouch PWNED",
            "--write-batch=C",
            "src/",
            "e/",
        ],
    );
    assert_one_error(
        &r,
        1,
        "cannot write a filter rule containing a newline to the batch replay script",
    );
    assert!(!s.path("C.sh").exists() && !s.path("C").exists());
}

/// A batch whose first file's data is replaced by `patch` (given the
/// offset of the sum header), and the replay's result.
fn patched_batch(s: &Scratch, patch: impl Fn(&mut Vec<u8>, usize)) -> PathBuf {
    fs::create_dir_all(s.path("one")).expect("mkdir");
    write_file(&s.path("one/f"), b"hello", 0o644, T0);
    ox(s, &["-a", "--write-batch=O", "one/", "o/"]).assert_code(0);
    let mut b = fs::read(s.path("O")).expect("O");
    let at = b
        .windows(5)
        .position(|w| w == b"hello")
        .expect("literal data");
    patch(&mut b, at - 4 - 16);
    let p = s.path("H");
    fs::write(&p, b).expect("write H");
    p
}

/// A replay of a hostile batch into `dest` (inside an `outside` tree
/// that must not change).
fn hostile(s: &Scratch, batch: &Path, code: i32, text: &str) {
    let outside = s.path("outside");
    fs::create_dir_all(outside.join("dest")).expect("mkdir");
    write_file(&outside.join("keep"), b"keep", 0o644, T0);
    let before = snapshot(&outside);
    let arg = format!("--read-batch={}", batch.display());
    let r = ox(s, &["-a", &arg, "outside/dest/"]);
    assert_one_error(&r, code, text);
    assert_eq!(snapshot(&outside), before, "the replay wrote");
}

#[test]
fn hostile_batch_truncated() {
    let s = setup(0);
    ox(&s, &["-a", "--write-batch=B", "src/", "d/"]).assert_code(0);
    let b = fs::read(s.path("B")).expect("B");
    fs::write(s.path("T"), &b[..60]).expect("T");
    hostile(
        &s,
        &s.path("T"),
        12,
        "rsync: connection unexpectedly closed (60 bytes received so far) [Receiver]",
    );
}

#[test]
fn hostile_batch_oversized_name_length() {
    let s = setup(0);
    let mut b = Vec::new();
    b.extend_from_slice(&1i32.to_le_bytes()); // -r
    b.extend_from_slice(&31i32.to_le_bytes());
    b.push(0); // compat flags
    b.extend_from_slice(&1234i32.to_le_bytes());
    b.push(0x40); // XMIT_LONG_NAME
    b.extend_from_slice(&[0xf0, 0, 0, 0, 0x40]); // varint 1 << 30
    b.extend_from_slice(&[b'A'; 64]);
    fs::write(s.path("H"), b).expect("H");
    hostile(&s, &s.path("H"), 22, "overflow");
}

#[test]
fn hostile_batch_oversized_block_count() {
    let s = setup(0);
    let p = patched_batch(&s, |b, head| {
        b[head..head + 4].copy_from_slice(&i32::MAX.to_le_bytes());
        b[head + 4..head + 8].copy_from_slice(&700i32.to_le_bytes());
        b[head + 8..head + 12].copy_from_slice(&16i32.to_le_bytes());
    });
    hostile(&s, &p, 2, "invalid sum count");
}

#[test]
fn hostile_batch_name_climbing_out_of_the_destination() {
    let s = setup(0);
    fs::create_dir_all(s.path("ev")).expect("mkdir");
    write_file(&s.path("ev/aaaa"), b"pwned", 0o644, T0);
    ox(&s, &["-a", "--write-batch=E", "ev/", "evd/"]).assert_code(0);
    let mut b = fs::read(s.path("E")).expect("E");
    let at = b.windows(4).position(|w| w == b"aaaa").expect("name");
    b[at..at + 4].copy_from_slice(b"../x");
    fs::write(s.path("H"), b).expect("H");
    hostile(
        &s,
        &s.path("H"),
        4,
        "ABORTING due to unsafe pathname from sender: ../x",
    );
    assert!(!s.path("outside/x").exists());
}

#[test]
fn batch_file_must_be_a_regular_file_that_exists() {
    let s = setup(0);
    hostile(
        &s,
        Path::new("/dev/null"),
        11,
        "rsync: Batch file /dev/null is not a regular file",
    );
    hostile(
        &s,
        &s.path("nonexistent"),
        11,
        "open error: No such file or directory (2)",
    );
}

#[test]
fn stream_flags_are_matched_or_refused() {
    let s = setup(2);
    ox(&s, &["-a", "--write-batch=B", "src/", "d1/"]).assert_code(0);
    // No -a when reading: -r, -l, -o, -g, -D follow the batch.
    let r = ox(&s, &["-v", "--read-batch=B", "d2/"]);
    r.assert_code(0);
    for name in ["--recurse (-r)", "--links (-l)", "--owner (-o)"] {
        let line = format!("Setting the {name} option to match the batchfile.");
        assert!(r.stdout.contains(&line), "{line}\n{}", r.stdout);
    }
    for f in ["a.txt", "sub/private", "exec.sh", "big"] {
        assert!(
            same_content(&s.path("src").join(f), &s.path("d2").join(f)),
            "{f}"
        );
    }
    assert_eq!(
        fs::read_link(s.path("d2/link")).expect("link"),
        Path::new("a.txt")
    );
    let b = fs::read(s.path("B")).expect("B");
    let flags = i32::from_le_bytes(b[..4].try_into().expect("4 bytes"));
    let mut patched = b.clone();
    patched[..4].copy_from_slice(&(flags | 1 << 9).to_le_bytes());
    fs::write(s.path("P"), &patched).expect("P");
    let text = "Please specify the --iconv option to use this batch file.";
    hostile(&s, &s.path("P"), 1, text);
}

#[test]
fn batch_option_combinations_are_refused_as_upstream() {
    let s = setup(0);
    for (args, text) in [
        (
            vec!["--write-batch=A", "--read-batch=B", "d/"],
            "--write-batch and --read-batch can not be used together",
        ),
        (
            vec!["--read-batch=B", "--remove-source-files", "d/"],
            "--read-batch cannot be used with --remove-source-files",
        ),
        (
            vec!["--read-batch=B", "--files-from=x", "d/"],
            "--read-batch cannot be used with --files-from",
        ),
        (
            vec!["--read-batch=B", "host:d/"],
            "remote destination is not allowed with --read-batch",
        ),
    ] {
        let r = ox(&s, &args);
        assert_one_error(&r, 1, text);
    }
}

/// Runs `tool args... path`, which must succeed; its stdout.
fn tool(name: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(name)
        .args(args)
        .current_dir(dir)
        .output()
        .expect(name);
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// ACLs and xattrs of every item below `dir`.
fn acls_and_xattrs(dir: &Path) -> String {
    tool("getfacl", &["-R", "-n", "-p", "."], dir)
        + &tool(
            "getfattr",
            &["-R", "-d", "-m", "-", "-e", "hex", "-h", "."],
            dir,
        )
}

#[test]
fn batch_with_acls_and_xattrs_sets_the_options_and_replays_both_ways() {
    let s = setup(4);
    let src = s.path("src");
    tool("setfacl", &["-m", "u:1234:rw-,g:2345:r--", "a.txt"], &src);
    tool("setfacl", &["-d", "-m", "u:1234:rwx", "sub"], &src);
    tool(
        "setfattr",
        &["-n", "user.k", "-v", "short", "exec.sh"],
        &src,
    );
    let long: String = std::iter::repeat_n('v', 300).collect();
    tool(
        "setfattr",
        &["-n", "user.long", "-v", &long, "sub/private"],
        &src,
    );
    let want = acls_and_xattrs(&src);
    assert!(
        want.contains("user:1234:rw-") && want.contains("user.long="),
        "{want}"
    );
    // Stock rsync writes the batch; oxsync replays it without -A/-X (-p
    // as a new file's mode, which the ACL mask follows, would otherwise
    // be limited by the umask; upstream's batch flags do not imply -p).
    rs(&s, &["-aAX", "--no-i-r", "--write-batch=R", "src/", "d1/"]).assert_code(0);
    assert_eq!(acls_and_xattrs(&s.path("d1")), want);
    let r = ox(&s, &["-v", "-p", "--read-batch=R", "d2/"]);
    r.assert_code(0);
    for name in ["--acls (-A)", "--xattrs (-X)"] {
        let line = format!("Setting the {name} option to match the batchfile.");
        assert!(r.stdout.contains(&line), "{line}\n{}", r.stdout);
    }
    assert_eq!(acls_and_xattrs(&s.path("d2")), want);
    // oxsync writes one; stock rsync replays it (Debian's 3.2.7 crashes
    // replaying an ACL batch without -A, so it is given -AX).
    ox(&s, &["-aAX", "--write-batch=O", "src/", "d3/"]).assert_code(0);
    assert_eq!(acls_and_xattrs(&s.path("d3")), want);
    rs(&s, &["-pAX", "--read-batch=O", "d4/"]).assert_code(0);
    assert_eq!(acls_and_xattrs(&s.path("d4")), want);
}

/// `--only-write-batch` with `-X`: the xattr requests and replies still
/// cross (upstream's do_xfers stays on), so the batch replays with bare -a.
#[test]
fn only_write_batch_with_xattrs_replays_with_bare_a() {
    let s = setup(0);
    let src = s.path("src");
    let long: String = std::iter::repeat_n('w', 200).collect();
    tool("setfattr", &["-n", "user.m", "-v", "v", "a.txt"], &src);
    tool("setfattr", &["-n", "user.long", "-v", &long, "big"], &src);
    ox(&s, &["-a", "-X", "--only-write-batch=X", "src/", "wb/"]).assert_code(0);
    assert!(
        !s.path("wb").exists(),
        "--only-write-batch created the destination"
    );
    for (run, d) in [(ox as fn(&Scratch, &[&str]) -> Run, "d1"), (rs, "d2")] {
        fs::create_dir_all(s.path(d)).expect("mkdir");
        // Debian's 3.2.7 crashes replaying it without -X.
        let x = if d == "d1" { "-a" } else { "-aX" };
        run(&s, &[x, "--read-batch=X", &format!("{d}/")]).assert_code(0);
        let got = tool(
            "getfattr",
            &["-R", "-d", "-m", "user", "-e", "text", "."],
            &s.path(d),
        );
        assert!(got.contains("# file: a.txt\nuser.m=\"v\""), "{d}: {got}");
        assert!(got.contains(&format!("user.long=\"{long}\"")), "{d}: {got}");
    }
}
