//! Per-directory merge files named with a directory part (`-F`'s
//! `/.rsync-filter`, a `../NAME` read from a merge file) and what the
//! filter code says about rules: the parent-directory scan reads the
//! named file in every directory from the named one down to the transfer
//! root, and a rule read from a file is never shown by its text (a match
//! trace at `-vv`, a bad line, an unusable merge-file name), while the
//! user's own rules are (rsync 3.5.0 exclude.c).
use crate::util::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A file nobody should see in any output.
const SECRET: &str = "TOP-SECRET-PASSWORD-abc123";

fn oxsync(scratch: &Scratch, args: &[&str], src: &Path, dst: &Path) -> Run {
    let mut c = Command::new(oxsync_bin());
    c.args(args)
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()));
    run(&mut c, &scratch.logs())
}

fn output(r: &Run) -> String {
    format!("{}{}", r.stdout, r.stderr)
}

/// `base/top/src` with files `keep` and `f`, and `base/top/.rsync-filter`
/// excluding `f`.
fn parent_rules(base: &Path) -> PathBuf {
    let src = base.join("top/src");
    fs::create_dir_all(&src).expect("mkdir");
    write_file(&src.join("keep"), b"keep\n", 0o644, T0);
    write_file(&src.join("f"), b"excluded by the parent\n", 0o644, T0);
    write_file(&base.join("top/.rsync-filter"), b"- f\n", 0o644, T0);
    src
}

/// `-F` reads `.rsync-filter` in the source's parent directories too
/// (the scan `dir-merge /.rsync-filter` asks for), locally, pushing, and
/// as a server sender for stock rsync pulling; the result is stock
/// rsync's.
#[test]
fn dash_f_reads_parent_directories() {
    let scratch = Scratch::new();
    let src = parent_rules(scratch.root());
    let ours = scratch.path("ours");
    let theirs = scratch.path("theirs");
    let reference = run(
        Command::new(rsync_bin())
            .args(["-r", "-F"])
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", theirs.display())),
        &scratch.logs(),
    );
    reference.assert_code(0);
    assert!(theirs.join("keep").exists() && !theirs.join("f").exists());
    let ox = oxsync_bin();
    let rsync = rsync_bin();
    let rsh = scratch.rsh();
    let rsh = rsh.to_str().expect("utf-8 path");
    let ways: [(&Path, Vec<String>); 3] = [
        (&ox, vec![]),
        (
            &ox,
            vec![
                "-e".into(),
                rsh.into(),
                format!("--rsync-path={}", rsync.display()),
            ],
        ),
        (
            &rsync,
            vec![
                "-e".into(),
                rsh.into(),
                format!("--rsync-path={}", ox.display()),
            ],
        ),
    ];
    for (i, (client, extra)) in ways.iter().enumerate() {
        let _ = fs::remove_dir_all(&ours);
        let (s, d) = match i {
            0 => (
                format!("{}/", src.display()),
                format!("{}/", ours.display()),
            ),
            1 => (
                format!("{}/", src.display()),
                format!("localhost:{}/", ours.display()),
            ),
            _ => (
                format!("localhost:{}/", src.display()),
                format!("{}/", ours.display()),
            ),
        };
        let r = run(
            Command::new(client)
                .args(["-r", "-F"])
                .args(extra)
                .arg(s)
                .arg(d),
            &scratch.logs(),
        );
        r.assert_code(0);
        assert!(
            !ours.join("f").exists() && ours.join("keep").exists(),
            "way {i}: the parent's .rsync-filter was not applied\n{}",
            output(&r)
        );
    }
}

/// A per-directory merge rule read from a merge file names `../rules`:
/// the file beside the transfer root is read (its rule applies), and a
/// line of it that is not a rule is reported by place, never by text.
#[test]
fn dotdot_merge_name_is_read_and_never_echoed() {
    let scratch = Scratch::new();
    let base = scratch.root();
    let src = base.join("src");
    fs::create_dir_all(&src).expect("mkdir");
    write_file(&src.join("keep"), b"keep\n", 0o644, T0);
    write_file(&src.join("f"), b"excluded\n", 0o644, T0);
    write_file(&src.join(".rsync-filter"), b": ../rules\n", 0o644, T0);
    write_file(&base.join("rules"), b"- f\n", 0o644, T0);
    let dst = scratch.path("dst");
    oxsync(&scratch, &["-r", "-F"], &src, &dst).assert_code(0);
    assert!(dst.join("keep").exists());
    assert!(!dst.join("f").exists(), "../rules was not read");

    write_file(
        &base.join("rules"),
        format!("{SECRET}\n").as_bytes(),
        0o644,
        T0,
    );
    let r = oxsync(&scratch, &["-r", "-F"], &src, &dst);
    r.assert_code(1);
    let out = output(&r);
    assert!(!out.contains(SECRET), "the merge file was echoed: {out}");
    assert!(out.contains("<rule from a file read earlier>"), "{out}");
}

/// At `-vv` the sender says which rule hid or showed a name: a rule the
/// user gave is shown as stock rsync shows it; one read from a merge file
/// only by where it came from.
#[test]
fn match_trace_hides_rules_from_files() {
    let scratch = Scratch::new();
    let src = scratch.path("src");
    fs::create_dir_all(&src).expect("mkdir");
    write_file(&src.join("keep"), b"keep\n", 0o644, T0);
    write_file(&src.join("secret-marker-9x"), b"hidden\n", 0o644, T0);
    write_file(&src.join("drop.tmp"), b"tmp\n", 0o644, T0);
    write_file(
        &src.join(".rsync-filter"),
        b"- sec[r]et-marker-9x\n",
        0o644,
        T0,
    );
    let args = ["-r", "-vv", "-F", "--exclude=*.tmp"];
    let r = oxsync(&scratch, &args, &src, &scratch.path("ours"));
    r.assert_code(0);
    let out = output(&r);
    assert!(
        !out.contains("sec[r]et"),
        "a merge file's pattern was echoed: {out}"
    );
    assert!(
        out.contains(
            "[sender] hiding file secret-marker-9x because of pattern \
             <rule from a file read earlier> [per-dir .rsync-filter]"
        ),
        "{out}"
    );
    let mut c = Command::new(rsync_bin());
    c.args(args)
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", scratch.path("theirs").display()));
    let stock = run(&mut c, &scratch.logs());
    let line = "[sender] hiding file drop.tmp because of pattern *.tmp";
    assert!(stock.stdout.contains(line), "{}", stock.stdout);
    assert!(out.contains(line), "{out}");
    assert!(!scratch.path("ours/secret-marker-9x").exists());
}

/// `--debug=FILTER1` warns about a rule of the user's that ends in
/// whitespace, as stock rsync does, and says nothing about one read from
/// a file.
#[test]
fn trailing_whitespace_caution_only_for_own_rules() {
    let scratch = Scratch::new();
    let src = scratch.path("src");
    fs::create_dir_all(&src).expect("mkdir");
    write_file(&src.join("f"), b"x\n", 0o644, T0);
    write_file(
        &src.join(".rsync-filter"),
        b"- trailing-ws-probe \n",
        0o644,
        T0,
    );
    let dst = scratch.path("dst");
    let r = oxsync(&scratch, &["-r", "-F", "--debug=FILTER1"], &src, &dst);
    r.assert_code(0);
    let out = output(&r);
    assert!(
        !out.contains("trailing-ws-probe") && !out.contains("CAUTION"),
        "{out}"
    );
    let args = ["-r", "--debug=FILTER1", "--filter=- my-own-rule "];
    let r = oxsync(&scratch, &args, &src, &dst);
    r.assert_code(0);
    let line = "add_rule(- my-own-rule ) -- CAUTION: trailing whitespace!";
    assert!(output(&r).contains(line), "{}", output(&r));
    let mut c = Command::new(rsync_bin());
    c.args(args)
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()));
    let stock = run(&mut c, &scratch.logs());
    assert!(output(&stock).contains(line), "{}", output(&stock));
}

/// An over-long rule of the user's is discarded with its whole text
/// shown (stock rsync's message); a merge-file name that only overflows
/// once its directory is prepended is refused without being shown.
#[test]
fn over_long_rules_and_merge_names() {
    let scratch = Scratch::new();
    let src = scratch.path("src");
    fs::create_dir_all(src.join("sub")).expect("mkdir");
    write_file(&src.join("sub/f"), b"x\n", 0o644, T0);
    let dst = scratch.path("dst");
    let long = format!("ARGLONG-{}", "Q".repeat(4300));
    let r = oxsync(&scratch, &["-r", &format!("--filter=- {long}")], &src, &dst);
    let out = output(&r);
    assert!(
        out.contains(&format!("discarding over-long filter: {long}")),
        "{out}"
    );
    r.assert_code(0);

    let pad = 4096 - src.as_os_str().len() - 4;
    let name = format!("sub/DEFERRED-SECRET-{}", "Q".repeat(pad));
    write_file(
        &src.join(".rsync-filter"),
        format!(": {name}\n").as_bytes(),
        0o644,
        T0,
    );
    let r = oxsync(&scratch, &["-r", "-F"], &src, &dst);
    let out = output(&r);
    assert!(!out.contains("DEFERRED-SECRET"), "{out}");
    assert!(
        out.contains("merge-file name overflows: <rule from a file read earlier>"),
        "{out}"
    );
}
