//! A dry run does not look below a directory it found missing: what is
//! below is new (upstream generator.c recv_generator()'s dry_missing_dir),
//! so the receiving side makes no system call for those names, with and
//! without incremental recursion, while its itemized output stays that of
//! rsync.
use super::util::{oxsync_bin, rsync_bin, run, write_file, write_script, Scratch};
use std::fs;
use std::path::Path;
use std::process::Command;

/// A source with two directories missing from the destination (`a`, with a
/// subdirectory, and `c`) and one present (`b`, holding one of its files).
fn trees(s: &Scratch) -> (std::path::PathBuf, std::path::PathBuf) {
    let src = s.path("src");
    let dst = s.path("dst");
    for d in ["a/sub", "b", "c"] {
        fs::create_dir_all(src.join(d)).expect("src dir");
    }
    for i in 0..30 {
        fs::write(src.join(format!("a/fa{i}")), b"a").expect("a file");
        fs::write(src.join(format!("a/sub/fs{i}")), b"s").expect("sub file");
        fs::write(src.join(format!("b/fb{i}")), b"b").expect("b file");
        fs::write(src.join(format!("c/fc{i}")), b"c").expect("c file");
    }
    // b/fb0 is the same on both sides (so it is not itemized).
    fs::create_dir_all(dst.join("b")).expect("dst b");
    write_file(&src.join("b/fb0"), b"b", 0o644, 1_600_000_000);
    write_file(&dst.join("b/fb0"), b"b", 0o644, 1_600_000_000);
    (src, dst)
}

/// The failed lookups (ENOENT) the receiving server made on relative
/// names: `args` pushed `src/` into `dst/` through a remote shell that runs
/// the server under strace.
fn server_misses(s: &Scratch, tag: &str, src: &Path, dst: &Path, args: &[&str]) -> (String, usize) {
    let trace = s.path(&format!("trace-{tag}"));
    let rsh = s.path(&format!("rsh-{tag}.sh"));
    write_script(
        &rsh,
        &format!(
            "#!/bin/sh\nshift\nexec strace -f -qq -e trace=%file,%desc -o '{}' \"$@\"\n",
            trace.display()
        ),
    );
    let out = run(
        Command::new(oxsync_bin())
            .args(args)
            .arg("-e")
            .arg(&rsh)
            .arg("--rsync-path")
            .arg(oxsync_bin())
            .arg(format!("{}/", src.display()))
            .arg(format!("host:{}/", dst.display())),
        &s.logs(),
    );
    out.assert_code(0);
    let text = fs::read_to_string(&trace).expect("trace");
    let misses = text
        .lines()
        .filter(|l| l.contains("ENOENT"))
        .filter(|l| {
            // A name relative to a directory handle (not
            // the loader's or the locale's absolute paths), other than
            // b's missing files, which are looked for.
            l.split('"')
                .nth(1)
                .is_some_and(|n| !n.starts_with('/') && !n.starts_with("fb"))
        })
        .count();
    (out.stdout, misses)
}

#[test]
fn dry_run_does_not_look_below_missing_directories() {
    let s = Scratch::new();
    let (src, dst) = trees(&s);
    for (tag, extra) in [("inc", None), ("noinc", Some("--no-inc-recursive"))] {
        let mut args = vec!["-ai", "--dry-run"];
        args.extend(extra);
        let (stdout, misses) = server_misses(&s, tag, &src, &dst, &args);
        // At most one failed look for each missing top directory (`a`,
        // `c`); none for the 90 names below them (the old code made one
        // per name).
        assert!(misses <= 2, "{tag}: {misses} failed lookups\n{stdout}");
        // Within b (present), its missing files are still looked at: the
        // itemized output is rsync's.
        let reference = run(
            Command::new(rsync_bin())
                .args(&args)
                .arg("-e")
                .arg(s.rsh())
                .arg("--rsync-path")
                .arg(rsync_bin())
                .arg(format!("{}/", src.display()))
                .arg(format!("host:{}/", dst.display())),
            &s.logs(),
        );
        reference.assert_code(0);
        let mut ours: Vec<&str> = stdout.lines().collect();
        let mut theirs: Vec<&str> = reference.stdout.lines().collect();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "{tag}");
        assert!(ours.contains(&"cd+++++++++ a/sub/"), "{tag}: {ours:?}");
        assert!(ours.contains(&"<f+++++++++ b/fb1"), "{tag}: {ours:?}");
        assert!(!ours.iter().any(|l| l.ends_with("b/fb0")), "{tag}");
    }
    // Nothing was made.
    assert!(!dst.join("a").exists() && !dst.join("c").exists());
    assert_eq!(fs::read_dir(dst.join("b")).expect("b").count(), 1);
}

/// --dry-run into a destination that does not exist: nothing below it is
/// looked at.
#[test]
fn dry_run_into_missing_destination_looks_at_nothing_below() {
    let s = Scratch::new();
    let (src, _) = trees(&s);
    let dst = s.path("absent");
    for (tag, extra) in [("inc", None), ("noinc", Some("--no-inc-recursive"))] {
        let mut args = vec!["-ai", "--dry-run"];
        args.extend(extra);
        let (stdout, misses) = server_misses(&s, &format!("m{tag}"), &src, &dst, &args);
        assert!(misses <= 1, "{tag}: {misses} failed lookups\n{stdout}");
        assert!(stdout.lines().any(|l| l == "<f+++++++++ c/fc7"), "{stdout}");
    }
    assert!(!dst.exists());
}

/// A dry run into a destination that does not exist takes a relative
/// basis dir from where the destination would be: `--link-dest=../to`
/// is `to` beside it, whose identical files (a hard-linked pair too) are
/// not itemized, as stock rsync does (main.c check_alt_basis_dirs() drops
/// one leading "../").
#[test]
fn dry_run_into_missing_destination_finds_a_dotdot_basis_dir() {
    let s = Scratch::new();
    for (rel, data) in [("a", "hello"), ("sub/b", "world")] {
        let src = s.path("src").join(rel);
        fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
        write_file(&src, data.as_bytes(), 0o644, 1_600_000_000);
        let basis = s.path("to").join(rel);
        fs::create_dir_all(basis.parent().expect("parent")).expect("mkdir");
        let basis_data = if rel == "a" { data } else { "other data" };
        write_file(&basis, basis_data.as_bytes(), 0o644, 1_600_000_000);
    }
    // A hard-linked pair, the same pair in the basis dir.
    for dir in ["src", "to"] {
        let one = s.path(dir).join("sub/one");
        write_file(&one, b"linked", 0o644, 1_600_000_000);
        fs::hard_link(&one, s.path(dir).join("sub/two")).expect("link");
    }
    let itemized = |bin: &Path| {
        let r = run(
            Command::new(bin).current_dir(s.path("")).args([
                "-iplrtH",
                "--dry-run",
                "--link-dest=../to",
                "src/",
                "missing/",
            ]),
            &s.logs(),
        );
        r.assert_code(0);
        assert!(
            !s.path("missing").exists(),
            "a dry run made the destination"
        );
        (r.stdout, r.stderr)
    };
    let ours = itemized(&oxsync_bin());
    assert_eq!(ours, itemized(&rsync_bin()));
    assert!(ours.0.contains(">f.s....... sub/b"), "{ours:?}");
    assert!(!ours.0.contains(" a\n"), "{ours:?}");
}
