//! The transfer-control and output options against stock rsync: `-s` /
//! `--old-args` over the remote shell both ways, `--list-only` and the
//! single-argument listing, `--info` / `--debug` / `-h` / `-8`,
//! `--log-file`, `--bwlimit` (also a daemon's), `--timeout` and
//! `--max-alloc`. Each check runs the same command with oxsync (as client,
//! as server, or both) and with stock rsync alone, and compares output
//! lines, exit codes and trees.
use crate::util::*;
use crate::wire_trace::{assert_paced, traced};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `client [args] SRC DST` in a direction; `src`/`dst` are full paths
/// (a trailing slash is kept), the remote side gets `localhost:`.
fn command(
    scratch: &Scratch,
    dir: Dir,
    reference: bool,
    args: &[&str],
    src: &str,
    dst: &str,
) -> Command {
    let mut c = dir.client(reference, &scratch.shell_rsh());
    c.env("TZ", "UTC")
        .args(args)
        .args(dir.operands(src.to_string(), dst.to_string()));
    c
}

/// A small tree: files, a subdirectory, a symlink; fixed mtimes.
fn small_tree(root: &Path) {
    put(root, "a.txt", b"alpha\n", T0 + 10);
    put(root, "sub/b.txt", b"beta beta\n", T0 + 10);
    put(root, "sub/deep/c.txt", b"c\n", T0 + 10);
    symlink("a.txt", root.join("lnk")).expect("symlink");
    for d in ["sub/deep", "sub", ""] {
        set_mtime(&root.join(d), T0 + 500);
    }
}

/// Kind, permissions, size, content digest and link target of every
/// entry (mtimes are left out: most runs here do not preserve them).
fn tree(
    root: &Path,
) -> std::collections::BTreeMap<PathBuf, (char, u32, u64, u64, Option<PathBuf>)> {
    if !root.exists() {
        return Default::default();
    }
    snapshot(root)
        .into_iter()
        .map(|(p, e)| (p, (e.kind, e.perm, e.size, e.digest, e.link)))
        .collect()
}

/// A big file at `path`, creating its directory.
fn big(path: &Path, size: usize, seed: u64) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    write_big_file(path, size, seed);
}

/// Runs `client ARGS SRC DST/` in `dir` with oxsync in its role (`ours`)
/// and with stock rsync on both ends (`theirs`); returns both runs.
fn run_pair(
    s: &Scratch,
    dir: Dir,
    ours: (&[&str], &str, &Path),
    theirs: (&[&str], &str, &Path),
) -> (Run, Run) {
    let one = |reference: bool, (args, src, dst): (&[&str], &str, &Path)| {
        let dst = format!("{}/", dst.display());
        run(&mut command(s, dir, reference, args, src, &dst), &s.logs())
    };
    (one(false, ours), one(true, theirs))
}

fn assert_same(label: &str, ours: &Run, theirs: &Run, ours_dst: &Path, theirs_dst: &Path) {
    assert_runs_agree(label, ours, theirs);
    let (a, b) = (tree(ours_dst), tree(theirs_dst));
    crate::pair::assert_same(label, (ours, theirs), "trees differ", &a, &b);
}

/// `-s` (and its long names) carries paths with spaces and shell
/// metacharacters over the remote shell in every direction, exactly as
/// stock rsync does; without `-s` the default escaping does the same.
#[test]
fn secluded_args_carry_awkward_names_both_ways() {
    for args in [
        &["-ai", "-s"][..],
        &["-ai", "--protect-args"],
        &["-ai", "--secluded-args"],
        &["-ai"],
    ] {
        for dir in REMOTE {
            let s = Scratch::new();
            let src = s.path("s r;c $HOME 'q' *");
            put(&src, "a b&c'd \"e\" $(x) `y`.txt", b"one\n", T0 + 10);
            put(&src, "sub dir/x;y", b"two\n", T0 + 10);
            set_mtime(&src.join("sub dir"), T0 + 5);
            set_mtime(&src, T0 + 5);
            let (dst, dst_ref) = (s.path("d st&1"), s.path("d st&2"));
            let (sa, da, ra) = (
                format!("{}/", src.display()),
                format!("{}/", dst.display()),
                format!("{}/", dst_ref.display()),
            );
            let ours = run(&mut command(&s, dir, false, args, &sa, &da), &s.logs());
            let theirs = run(&mut command(&s, dir, true, args, &sa, &ra), &s.logs());
            theirs.assert_code(0);
            assert_same(&format!("{dir:?} {args:?}"), &ours, &theirs, &dst, &dst_ref);
            // A single awkward file named as the source.
            let one = format!("{}/sub dir/x;y", src.display());
            let (d1, d2) = (s.path("one1"), s.path("one2"));
            let (d1a, d2a) = (format!("{}/", d1.display()), format!("{}/", d2.display()));
            let ours = run(&mut command(&s, dir, false, args, &one, &d1a), &s.logs());
            let theirs = run(&mut command(&s, dir, true, args, &one, &d2a), &s.logs());
            assert_same(
                &format!("{dir:?} {args:?} one file"),
                &ours,
                &theirs,
                &d1,
                &d2,
            );
            assert_eq!(fs::read(d1.join("x;y")).expect("copied"), b"two\n");
        }
    }
}

/// With `-s` no remote shell expands wildcards: the server does, as
/// stock rsync's does (a pattern matching nothing stays literal).
#[test]
fn secluded_args_expand_wildcards_on_the_server() {
    for dir in [Dir::OxPull, Dir::RsyncPull] {
        for pat in ["*.txt", "s*/*.txt", "[ab]*", "*.none"] {
            let s = Scratch::new();
            let src = s.path("src");
            for f in ["a.txt", "b.txt", "c.dat", ".h.txt", "sub/x.txt"] {
                put(&src, f, f.as_bytes(), T0 + 10);
            }
            let sa = format!("{}/{pat}", src.display());
            let (d1, d2) = (s.path("d1"), s.path("d2"));
            let args = ["-ri", "-s"];
            let (ours, theirs) = run_pair(&s, dir, (&args, &sa, &d1), (&args, &sa, &d2));
            assert_same(&format!("{dir:?} {pat}"), &ours, &theirs, &d1, &d2);
        }
    }
}

/// `--old-args`: paths go to the remote shell unescaped, so a space splits
/// a remote path (both sides then fail the same way); `-s` conflicts.
#[test]
fn old_args_split_remote_paths_like_rsync() {
    for dir in [Dir::OxPull, Dir::RsyncPull] {
        let s = Scratch::new();
        let src = s.path("two words");
        put(&src, "f", b"f\n", T0 + 10);
        put(s.root(), "two/f", b"other\n", T0 + 10);
        let sa = format!("{}/", src.display());
        let (d1, d2) = (s.path("d1"), s.path("d2"));
        let args = ["-ai", "--old-args"];
        let (ours, theirs) = run_pair(&s, dir, (&args, &sa, &d1), (&args, &sa, &d2));
        assert_ne!(theirs.code, Some(0), "stock rsync splits the path");
        assert_same(&format!("{dir:?} --old-args"), &ours, &theirs, &d1, &d2);
    }
    let s = Scratch::new();
    let r = run(
        Command::new(oxsync_bin()).args(["-s", "--old-args", "a", "b"]),
        &s.logs(),
    );
    r.assert_code(1);
    assert!(
        r.stderr
            .contains("--secluded-args conflicts with --old-args."),
        "{}",
        r.stderr
    );
}

/// The listing of one argument (local and remote, as client and as
/// server) and of `--list-only` is line for line stock rsync's.
#[test]
fn listing_matches_rsync() {
    let s = Scratch::new();
    let src = s.path("src");
    small_tree(&src);
    let sa = format!("{}/", src.display());
    let listings: &[&[&str]] = &[&[], &["-a"], &["-r"], &["-h"], &["--no-h", "-l"], &["-rhh"]];
    for args in listings {
        for (client, server) in [
            (oxsync_bin(), oxsync_bin()),
            (oxsync_bin(), rsync_bin()),
            (rsync_bin(), oxsync_bin()),
        ] {
            let reference = rsync_bin();
            for (what, target) in [
                ("local dir/", sa.clone()),
                ("local dir", src.display().to_string()),
                ("local file", format!("{}/a.txt", src.display())),
                ("remote dir/", format!("localhost:{sa}")),
            ] {
                let cmd = |bin: &Path, srv: &Path| {
                    let mut c = Command::new(bin);
                    c.env("TZ", "UTC")
                        .args(*args)
                        .arg("-e")
                        .arg(s.shell_rsh())
                        .arg(format!("--rsync-path={}", srv.display()))
                        .arg(&target);
                    c
                };
                let ours = run(&mut cmd(&client, &server), &s.logs());
                let theirs = run(&mut cmd(&reference, &reference), &s.logs());
                let show = |w: &str| show_runs(&format!("{what} {args:?}"), w, &ours, &theirs);
                assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
                assert_eq!(ours.stdout, theirs.stdout, "{}", show("listings differ"));
                assert!(!ours.stdout.is_empty(), "{}", show("nothing listed"));
            }
        }
    }
    // --list-only with a destination lists and creates nothing.
    for dir in ALL {
        let (d1, d2) = (
            s.path(&format!("ld1{dir:?}")),
            s.path(&format!("ld2{dir:?}")),
        );
        let args = ["--list-only", "-r"];
        let (ours, theirs) = run_pair(&s, dir, (&args, &sa, &d1), (&args, &sa, &d2));
        let show = |w: &str| show_runs(&format!("{dir:?} --list-only"), w, &ours, &theirs);
        assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
        assert_eq!(ours.stdout, theirs.stdout, "{}", show("listings differ"));
        assert!(
            !d1.exists() && !d2.exists(),
            "{}",
            show("a destination was created")
        );
    }
}

/// The lines of a summary that do not depend on timing or on protocol
/// byte counts ("File list size" depends on the list encoding: stock
/// sends its list incrementally).
fn stable_summary(stdout: &str) -> Vec<String> {
    const KEEP: [&str; 8] = [
        "Number of files",
        "Number of created files",
        "Number of deleted files",
        "Number of regular files transferred",
        "Total file size",
        "Total transferred file size",
        "Literal data",
        "Matched data",
    ];
    stdout
        .lines()
        .filter(|l| KEEP.iter().any(|k| l.starts_with(k)))
        .map(str::to_string)
        .chain(
            stdout
                .lines()
                .filter_map(|l| l.strip_prefix("total size is "))
                .map(|l| format!("total size is {}", l.split("  ").next().unwrap_or(""))),
        )
        .collect()
}

/// `--stats` and the summary at each `-h` level, and `--info=stats*`.
#[test]
fn stats_and_human_readable_numbers() {
    for dir in ALL {
        for args in [
            &["-r", "--stats"][..],
            &["-r", "--stats", "-h"],
            &["-r", "--stats", "-hh"],
            &["-r", "--stats", "--no-h"],
            &["-rv", "--info=stats0"],
            &["-r", "--info=stats2"],
            &["-r", "--info=stats1", "-h"],
        ] {
            let s = Scratch::new();
            let src = s.path("src");
            big(&src.join("big.bin"), 1_234_567, 7);
            put(&src, "small", b"x\n", T0 + 10);
            let sa = format!("{}/", src.display());
            let (d1, d2) = (s.path("d1"), s.path("d2"));
            let (ours, theirs) = run_pair(&s, dir, (args, &sa, &d1), (args, &sa, &d2));
            let show = |w: &str| show_runs(&format!("{dir:?} {args:?}"), w, &ours, &theirs);
            assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
            let (a, b) = (stable_summary(&ours.stdout), stable_summary(&theirs.stdout));
            assert_eq!(a, b, "{}", show("summaries differ"));
            if args.contains(&"-h") {
                assert!(
                    a.iter().any(|l| l.contains("1.23M")),
                    "{}",
                    show("no -h units")
                );
            }
            let summary = |r: &Run| r.stdout.lines().any(|l| l.starts_with("sent "));
            assert_eq!(
                summary(&ours),
                summary(&theirs),
                "{}",
                show("summary presence differs")
            );
        }
    }
}

/// `--info=help` / `--debug=help` print upstream's text; an unknown word
/// is a syntax error; debug words are accepted (and forwarded).
#[test]
fn info_and_debug_words() {
    let s = Scratch::new();
    for args in [["--info=help"], ["--debug=help"]] {
        let ours = run(Command::new(oxsync_bin()).args(args), &s.logs());
        let theirs = run(Command::new(rsync_bin()).args(args), &s.logs());
        assert_eq!(ours.code, Some(0));
        assert_eq!(
            ours.stdout,
            theirs.stdout,
            "{}",
            show_runs("help", "differs", &ours, &theirs)
        );
    }
    let ours = run(
        Command::new(oxsync_bin()).args(["--info=bogus", "a", "b"]),
        &s.logs(),
    );
    let theirs = run(
        Command::new(rsync_bin()).args(["--info=bogus", "a", "b"]),
        &s.logs(),
    );
    assert_eq!(ours.code, theirs.code);
    assert!(
        ours.stderr.contains("Unknown --info item: \"bogus\""),
        "{}",
        ours.stderr
    );
    // Debug flags and other info flags go to a stock server, which accepts
    // them; the transfer is unchanged.
    for dir in REMOTE {
        let s = Scratch::new();
        let src = s.path("src");
        small_tree(&src);
        let sa = format!("{}/", src.display());
        let (d1, d2) = (s.path("d1"), s.path("d2"));
        let args = ["-ai", "--debug=none", "--info=misc2,skip,flist0"];
        let (ours, theirs) = run_pair(&s, dir, (&args, &sa, &d1), (&args, &sa, &d2));
        assert_same(&format!("{dir:?} debug"), &ours, &theirs, &d1, &d2);
    }
}

/// Name, deletion and skip messages follow the info levels: `-v` with
/// `--info=name0`, `--info=name` alone, `--info=del` alone, `--info=skip`.
#[test]
fn info_levels_shape_the_output() {
    let cases: &[&[&str]] = &[
        &["-r", "--info=name"],
        &["-rv", "--info=name0"],
        &["-r", "--delete", "--info=del"],
        &["-rv", "--delete", "--info=del0"],
        &["-r", "--ignore-existing", "--info=skip"],
        &["-r", "--info=name2"],
    ];
    for dir in ALL {
        for args in cases {
            let s = Scratch::new();
            let src = s.path("src");
            small_tree(&src);
            let sa = format!("{}/", src.display());
            let (d1, d2) = (s.path("d1"), s.path("d2"));
            for d in [&d1, &d2] {
                put(d, "gone.txt", b"to delete\n", T0 + 10);
                put(d, "a.txt", b"exists\n", T0 + 10);
            }
            let (ours, theirs) = run_pair(&s, dir, (args, &sa, &d1), (args, &sa, &d2));
            let show = |w: &str| show_runs(&format!("{dir:?} {args:?}"), w, &ours, &theirs);
            assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
            let lines = |r: &Run| {
                let mut v: Vec<String> = r
                    .stdout
                    .lines()
                    .filter(|l| {
                        !l.is_empty() && !l.starts_with("sent ") && !l.starts_with("total size")
                    })
                    .filter(|l| {
                        !l.starts_with("created directory")
                            && !l.starts_with("sending ")
                            && !l.starts_with("receiving ")
                            && !l.starts_with("building ")
                    })
                    .map(str::to_string)
                    .collect();
                v.sort();
                v
            };
            assert_eq!(
                lines(&ours),
                lines(&theirs),
                "{}",
                show("output lines differ")
            );
            let diff = map_diff(&tree(&d1), &tree(&d2));
            assert!(
                diff.is_empty(),
                "{}",
                show(&format!("trees differ:\n{}", diff.join("\n")))
            );
        }
    }
}

/// `--info=flist` (part of `-v`, level 2 with `--progress`) without
/// incremental recursion: both sides get `--no-i-r`, stock rsync is the
/// reference (with it, oxsync says "sending/receiving incremental file
/// list" as stock does, see tests/increc.rs and tests/increc_send.rs).
#[test]
fn flist_lines_match_non_incremental_rsync() {
    for dir in [Dir::Local, Dir::OxPush, Dir::OxPull] {
        for args in [
            &["-rv"][..],
            &["-r", "--info=flist2"],
            &["-r", "--info=flist0", "-v"],
            &["-v"],
        ] {
            let s = Scratch::new();
            let src = s.path("src");
            small_tree(&src);
            for i in 0..150 {
                put(&src, &format!("many/f{i}"), b"x", T0 + 10);
            }
            let sa = format!("{}/", src.display());
            let (d1, d2) = (s.path("d1"), s.path("d2"));
            let mut with_no_ir: Vec<&str> = args.to_vec();
            with_no_ir.push("--no-i-r");
            let ours_args = &with_no_ir;
            let ours = run(
                &mut command(
                    &s,
                    dir,
                    false,
                    ours_args,
                    &sa,
                    &format!("{}/", d1.display()),
                ),
                &s.logs(),
            );
            let theirs = run(
                &mut command(
                    &s,
                    dir,
                    true,
                    &with_no_ir,
                    &sa,
                    &format!("{}/", d2.display()),
                ),
                &s.logs(),
            );
            let show = |w: &str| show_runs(&format!("{dir:?} {args:?}"), w, &ours, &theirs);
            assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
            let head = |r: &Run| {
                let l = r.stdout.split_inclusive('\n').next().unwrap_or_default();
                if l.starts_with("created directory") {
                    "created directory".to_string()
                } else {
                    l.to_string()
                }
            };
            let (a, b) = (head(&ours), head(&theirs));
            let first_lines = |r: &Run| {
                let t = &r.stdout;
                t.find("to consider\n").map(|i| t[..i].to_string())
            };
            assert_eq!(a, b, "{}", show("first lines differ"));
            assert_eq!(
                first_lines(&ours),
                first_lines(&theirs),
                "{}",
                show("counts differ")
            );
        }
    }
}

/// `--info=remove` names each source the sender removes.
#[test]
fn info_remove_names_removed_sources() {
    for dir in ALL {
        let s = Scratch::new();
        let (s1, s2) = (s.path("src1"), s.path("src2"));
        small_tree(&s1);
        small_tree(&s2);
        let (d1, d2) = (s.path("d1"), s.path("d2"));
        let args = ["-r", "--remove-source-files", "--info=remove"];
        let a1 = format!("{}/", s1.display());
        let a2 = format!("{}/", s2.display());
        let (ours, theirs) = run_pair(&s, dir, (&args, &a1, &d1), (&args, &a2, &d2));
        let show = |w: &str| show_runs(&format!("{dir:?}"), w, &ours, &theirs);
        assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
        let removed = |r: &Run| {
            let mut v: Vec<String> = r
                .stdout
                .lines()
                .filter(|l| l.starts_with("sender removed "))
                .map(str::to_string)
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            removed(&ours),
            removed(&theirs),
            "{}",
            show("removal lines differ")
        );
        assert_eq!(
            removed(&ours).len(),
            3,
            "{}",
            show("not every file reported")
        );
        assert!(!s1.join("a.txt").exists());
    }
}

/// `--progress` / `--info=progress`: per-file lines (`\r`, size, 100%,
/// xfr#, to-chk) like stock rsync's non-incremental ones; names only when
/// `--progress` (which implies `--info=name`) asks for them.
#[test]
fn progress_lines_match_rsync() {
    for dir in [Dir::Local, Dir::OxPush, Dir::OxPull] {
        for args in [
            &["-r", "--progress"][..],
            &["-r", "--info=progress"],
            &["-r", "--progress", "-h"],
        ] {
            let s = Scratch::new();
            let src = s.path("src");
            small_tree(&src);
            big(&src.join("big.bin"), 1_500_000, 9);
            let sa = format!("{}/", src.display());
            let (d1, d2) = (s.path("d1"), s.path("d2"));
            let ours = run(
                &mut command(&s, dir, false, args, &sa, &format!("{}/", d1.display())),
                &s.logs(),
            );
            let mut no_ir: Vec<&str> = args.to_vec();
            no_ir.push("--no-i-r");
            let theirs = run(
                &mut command(&s, dir, true, &no_ir, &sa, &format!("{}/", d2.display())),
                &s.logs(),
            );
            let show = |w: &str| show_runs(&format!("{dir:?} {args:?}"), w, &ours, &theirs);
            assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
            // The final line of each file, without its rate and time.
            let finals = |r: &Run| {
                let mut v: Vec<String> = r
                    .stdout
                    .split('\n')
                    .filter(|l| l.contains("(xfr#"))
                    .map(|l| {
                        let last = l.rsplit('\r').next().unwrap_or_default();
                        let w: Vec<&str> = last.split_whitespace().collect();
                        format!("{} {} {}", w[0], w[1], w[4..].join(" "))
                    })
                    .collect();
                v.sort();
                v
            };
            assert_eq!(
                finals(&ours),
                finals(&theirs),
                "{}",
                show("progress lines differ")
            );
            assert_eq!(finals(&ours).len(), 4, "{}", show("not one line per file"));
            assert!(ours.stdout.contains("\r"), "{}", show("no carriage return"));
            let names = |r: &Run| r.stdout.lines().any(|l| l == "a.txt");
            assert_eq!(
                names(&ours),
                names(&theirs),
                "{}",
                show("name lines differ")
            );
        }
    }
}

/// `--info=progress2`: one running total line rewritten with `\r`, ending
/// at 100% with the file count, then a newline; no per-file names.
#[test]
fn progress2_prints_one_total_line() {
    for dir in [Dir::Local, Dir::OxPush, Dir::OxPull] {
        let s = Scratch::new();
        let src = s.path("src");
        big(&src.join("big.bin"), 300_000, 3);
        put(&src, "small", b"x\n", T0 + 10);
        let sa = format!("{}/", src.display());
        let d = s.path("d");
        let r = run(
            &mut command(
                &s,
                dir,
                false,
                &["-r", "--info=progress2"],
                &sa,
                &format!("{}/", d.display()),
            ),
            &s.logs(),
        );
        r.assert_code(0);
        assert!(r.stdout.starts_with('\r'), "{dir:?}: {:?}", r.stdout);
        assert!(r.stdout.ends_with('\n'), "{dir:?}: {:?}", r.stdout);
        let last = r
            .stdout
            .trim_end()
            .rsplit('\r')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(last.contains("300,002 100%"), "{dir:?}: {last:?}");
        assert!(last.contains("(xfr#2, to-chk=0/3)"), "{dir:?}: {last:?}");
        assert!(
            !r.stdout.contains("big.bin"),
            "{dir:?}: names printed: {:?}",
            r.stdout
        );
    }
}

/// Names with control and high-bit bytes print escaped (`\#ooo`) as stock
/// rsync prints them, with and without `-8`, in the C and a UTF-8 locale.
#[test]
fn output_escapes_names_like_rsync() {
    for locale in ["C", "C.UTF-8"] {
        for eight in [false, true] {
            for dir in ALL {
                let s = Scratch::new();
                let src = s.path("src");
                fs::create_dir_all(&src).expect("mkdir");
                for name in [
                    &b"nl\ny"[..],
                    b"tab\tx",
                    "\u{e9}t\u{e9}".as_bytes(),
                    b"bad\xff",
                    b"del\x7f",
                    b"lit\\#041",
                ] {
                    let p = src.join(std::ffi::OsStr::from_bytes(name));
                    write_file(&p, b"data\n", 0o644, T0);
                }
                set_mtime(&src, T0);
                let sa = format!("{}/", src.display());
                let (d1, d2) = (s.path("d1"), s.path("d2"));
                let args: &[&str] = if eight { &["-ri", "-8"] } else { &["-ri"] };
                let mut c1 = command(&s, dir, false, args, &sa, &format!("{}/", d1.display()));
                let mut c2 = command(&s, dir, true, args, &sa, &format!("{}/", d2.display()));
                let ours = run(c1.env("LC_ALL", locale), &s.logs());
                let theirs = run(c2.env("LC_ALL", locale), &s.logs());
                let show =
                    |w: &str| show_runs(&format!("{dir:?} {locale} -8={eight}"), w, &ours, &theirs);
                assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
                let sorted = |r: &Run| {
                    let mut v: Vec<&str> = r
                        .stdout
                        .lines()
                        .filter(|l| !l.starts_with("created directory"))
                        .collect();
                    v.sort();
                    v.join("\n")
                };
                assert_eq!(sorted(&ours), sorted(&theirs), "{}", show("output differs"));
                assert!(
                    ours.stdout.contains("nl\\#012y"),
                    "{}",
                    show("newline not escaped")
                );
            }
        }
    }
}

/// Without -l symlinks are in the list and the receiver skips them with
/// stock rsync's message (the sender no longer drops them itself).
#[test]
fn symlinks_without_l_are_skipped_by_the_receiver() {
    for dir in ALL {
        let s = Scratch::new();
        let src = s.path("src");
        small_tree(&src);
        let sa = format!("{}/", src.display());
        let (d1, d2) = (s.path("d1"), s.path("d2"));
        let args = ["-r", "--stats"];
        let (ours, theirs) = run_pair(&s, dir, (&args, &sa, &d1), (&args, &sa, &d2));
        let show = |w: &str| show_runs(&format!("{dir:?}"), w, &ours, &theirs);
        assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
        let skip = |r: &Run| {
            r.stdout
                .lines()
                .filter(|l| l.starts_with("skipping non-regular"))
                .count()
        };
        assert_eq!(skip(&ours), 1, "{}", show("no skip line"));
        assert_eq!(skip(&ours), skip(&theirs), "{}", show("skip lines differ"));
        assert_eq!(
            stable_summary(&ours.stdout),
            stable_summary(&theirs.stdout),
            "{}",
            show("summaries differ")
        );
        assert!(!d1.join("lnk").exists());
    }
}

fn log_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.splitn(4, ' ').nth(3).unwrap_or_default().to_string())
        .map(|l| {
            if l.starts_with("sent ") {
                "sent ...".to_string()
            } else {
                l
            }
        })
        .collect()
}

/// `--log-file` on a client of a daemon, pushing and pulling: the client
/// writes it as stock rsync's client does (before, oxsync's daemon client
/// wrote none).
#[test]
fn log_file_on_a_daemons_client() {
    let d = crate::daemon::start(
        &oxsync_bin(),
        "[m]\npath = %ROOT%/mod\nread only = no\nuse chroot = no\n",
    );
    let src = d.root().join("src");
    small_tree(&src);
    fs::create_dir_all(d.root().join("mod")).expect("mod");
    fs::create_dir_all(d.root().join("logs")).expect("logs");
    for push in [true, false] {
        let mut logs = Vec::new();
        for (k, client) in [oxsync_bin(), rsync_bin()].iter().enumerate() {
            let log = d.root().join(format!("log{push}{k}"));
            let mut c = Command::new(client);
            c.args(["-a", &format!("--log-file={}", log.display())]);
            if push {
                c.arg(format!("{}/", src.display()))
                    .arg(crate::daemon::url(&d, &format!("m/p{k}/")));
            } else {
                c.arg(crate::daemon::url(&d, "m/p0/"))
                    .arg(d.root().join(format!("pulled{k}")));
            }
            let r = run(&mut c, &d.root().join("logs"));
            r.assert_code(0);
            logs.push(log_lines(&log));
        }
        assert!(
            logs[0].iter().any(|l| l.contains("a.txt")),
            "push {push}: {:?}",
            logs[0]
        );
        assert_eq!(logs[0], logs[1], "push {push}: oxsync's log, then rsync's");
    }
}

/// `--log-file` (with the default and a custom format) on the client, and
/// on the server through `--rsync-path`, logs what stock rsync logs.
#[test]
fn log_file_on_client_and_server() {
    for dir in ALL {
        for fmt in [None, Some("--log-file-format=%o %n %l%L"), Some("--delete")] {
            let s = Scratch::new();
            let src = s.path("src");
            small_tree(&src);
            let sa = format!("{}/", src.display());
            let (d1, d2) = (s.path("d1"), s.path("d2"));
            for d in [&d1, &d2] {
                put(d, "old/gone.txt", b"x\n", T0 + 10);
            }
            let (l1, l2) = (s.path("log1"), s.path("log2"));
            let mut a1 = vec!["-a".to_string(), format!("--log-file={}", l1.display())];
            let mut a2 = vec!["-a".to_string(), format!("--log-file={}", l2.display())];
            if let Some(f) = fmt {
                a1.push(f.to_string());
                a2.push(f.to_string());
            }
            let v1: Vec<&str> = a1.iter().map(String::as_str).collect();
            let v2: Vec<&str> = a2.iter().map(String::as_str).collect();
            let (ours, theirs) = run_pair(&s, dir, (&v1, &sa, &d1), (&v2, &sa, &d2));
            let show = |w: &str| show_runs(&format!("{dir:?} {fmt:?}"), w, &ours, &theirs);
            assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
            // Only the client writes the log (the option is not forwarded);
            // with a stock client both logs are stock rsync's, which checks
            // that oxsync as the server echoes the items the client logs.
            let (g1, g2) = (log_lines(&l1), log_lines(&l2));
            assert_eq!(g1, g2, "{}", show("logs differ"));
            assert!(
                g1.iter().any(|l| l.contains("a.txt")),
                "{}",
                show(&format!("{g1:?}"))
            );
        }
    }
    // The server's own --log-file, through --rsync-path.
    for (client, server) in [(rsync_bin(), oxsync_bin()), (rsync_bin(), rsync_bin())] {
        let s = Scratch::new();
        let src = s.path("src");
        small_tree(&src);
        let log = s.path("srvlog");
        let r = run(
            Command::new(&client)
                .args(["-a", "-e"])
                .arg(s.shell_rsh())
                .arg(format!(
                    "--rsync-path={} --log-file={}",
                    server.display(),
                    log.display()
                ))
                .arg(format!("{}/", src.display()))
                .arg(format!("localhost:{}/", s.path("dst").display())),
            &s.logs(),
        );
        r.assert_code(0);
        let lines = log_lines(&log);
        assert_eq!(
            lines.first().map(String::as_str),
            Some("receiving file list"),
            "{lines:?}"
        );
        assert_eq!(
            lines.iter().filter(|l| *l == "receiving file list").count(),
            1,
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l == ">f+++++++++ sub/deep/c.txt"),
            "{lines:?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("sent ..."),
            "{lines:?}"
        );
    }
}

/// `--bwlimit` paces a transfer in each direction (the limit reaches the
/// side that sends): traced, the sender writes 1 MiB in pieces of at most
/// 32 KiB (256 * 128, upstream's bwlimit_writemax) and sleeps between
/// them. Its value is checked like stock rsync's.
#[test]
fn bwlimit_paces_transfers() {
    for dir in ALL {
        let s = Scratch::new();
        let src = s.path("src");
        big(&src.join("big.bin"), 1 << 20, 11);
        let sa = format!("{}/", src.display());
        let d = s.path("d");
        let trace = s.path("trace/t");
        fs::create_dir_all(s.path("trace")).expect("mkdir");
        let r = run(
            &mut traced(
                &trace,
                &command(
                    &s,
                    dir,
                    false,
                    &["-r", "--bwlimit=256"],
                    &sa,
                    &format!("{}/", d.display()),
                ),
            ),
            &s.logs(),
        );
        r.assert_code(0);
        assert_paced(&format!("{dir:?}"), &trace, 256, 1 << 20);
        assert!(same_content(&src.join("big.bin"), &d.join("big.bin")));
    }
    let s = Scratch::new();
    for bad in [
        "--bwlimit=10b",
        "--bwlimit=1x",
        "--max-alloc=10",
        "--stderr=bogus",
    ] {
        let ours = run(Command::new(oxsync_bin()).args([bad, "a", "b"]), &s.logs());
        let theirs = run(Command::new(rsync_bin()).args([bad, "a", "b"]), &s.logs());
        assert_eq!(ours.code, theirs.code, "{bad}");
        let first = |r: &Run| r.stderr.lines().next().unwrap_or_default().to_string();
        assert_eq!(first(&ours), first(&theirs), "{bad}");
    }
}

/// A daemon of `bin` (killed on drop) serving `[mod]` (read-write) from
/// its scratch directory.
struct TestDaemon {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
    /// `child` is strace, tracing the daemon (its child).
    traced: bool,
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if self.traced {
            // The traced daemon first: strace would leave it running.
            let pid = self.child.id();
            let children =
                fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
            for daemon in children.split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", daemon]).status();
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(bin: &Path, extra: &[&str], fill: impl Fn(&Path)) -> TestDaemon {
    start_daemon_traced(bin, extra, fill, None)
}

/// As [`start_daemon`], under strace (see [`traced`]) when `trace` is given.
fn start_daemon_traced(
    bin: &Path,
    extra: &[&str],
    fill: impl Fn(&Path),
    trace: Option<&Path>,
) -> TestDaemon {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fs::create_dir_all(root.join("mod")).expect("mkdir");
    fill(&root.join("mod"));
    let me = fs::metadata(root).expect("stat");
    let conf = format!(
        "use chroot = no\nuid = {uid}\ngid = {gid}\nlock file = {r}/lock\nlog file = {r}/log\n\
         [mod]\npath = {r}/mod\nread only = no\n",
        uid = me.uid(),
        gid = me.gid(),
        r = root.display()
    );
    fs::write(root.join("rsyncd.conf"), conf).expect("conf");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut daemon = Command::new(bin);
    daemon
        .args(["--daemon", "--no-detach", "--port", &port.to_string()])
        .args(extra)
        .arg("--config")
        .arg(root.join("rsyncd.conf"));
    let mut daemon = match trace {
        Some(t) => traced(t, &daemon),
        None => daemon,
    };
    let child = daemon
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("daemon");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "daemon did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    TestDaemon {
        child,
        port,
        dir,
        traced: trace.is_some(),
    }
}

/// A daemon started with `--bwlimit` paces what it sends (traced: pieces
/// of at most 32 KiB, sleeps between them; see [`assert_paced`]).
#[test]
fn daemon_bwlimit_paces_a_pull() {
    let s = Scratch::new();
    fs::create_dir_all(s.path("trace")).expect("mkdir");
    let trace = s.path("trace/daemon");
    let d = start_daemon_traced(
        &oxsync_bin(),
        &["--bwlimit=256"],
        |m| big(&m.join("big.bin"), 1 << 20, 5),
        Some(&trace),
    );
    let r = run(
        Command::new(rsync_bin())
            .arg("-r")
            .arg(format!("rsync://127.0.0.1:{}/mod/", d.port))
            .arg(s.path("d")),
        &s.logs(),
    );
    r.assert_code(0);
    assert_paced("daemon sending", &trace, 256, 1 << 20);
    assert!(same_content(
        &d.dir.path().join("mod/big.bin"),
        &s.path("d/big.bin")
    ));
    // An oxsync client pushing to a (stock) daemon paces its own writes.
    let stock = start_daemon(&rsync_bin(), &[], |_| {});
    let trace = s.path("trace/client");
    let r = run(
        &mut traced(
            &trace,
            Command::new(oxsync_bin())
                .args(["-r", "--bwlimit=256"])
                .arg(format!("{}/", s.path("d").display()))
                .arg(format!("rsync://127.0.0.1:{}/mod/up/", stock.port)),
        ),
        &s.logs(),
    );
    r.assert_code(0);
    assert_paced("client pushing", &trace, 256, 1 << 20);
    assert!(same_content(
        &s.path("d/big.bin"),
        &stock.dir.path().join("mod/up/big.bin")
    ));
}

/// An oxsync daemon drops a client that goes quiet for longer than the
/// client's own `--timeout` (the module sets none).
#[test]
fn daemon_applies_the_clients_timeout() {
    let d = start_daemon(&oxsync_bin(), &[], |_| {});
    let s = Scratch::new();
    big(&s.path("src/big"), 48 << 20, 1);
    let log = || fs::read_to_string(d.dir.path().join("log")).unwrap_or_default();
    let mut child = Command::new(rsync_bin())
        .args(["-a", "--timeout=2"])
        .arg(format!("{}/", s.path("src").display()))
        .arg(format!("rsync://127.0.0.1:{}/mod/", d.port))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("client");
    let signal = |sig: &str, pid: u32| {
        let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !log().contains("rsync to mod/") {
        assert!(Instant::now() < deadline, "{}", log());
        std::thread::sleep(Duration::from_millis(5));
    }
    signal("-STOP", child.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log().contains("io timeout after 2 seconds -- exiting (code 30)") {
        if Instant::now() > deadline {
            signal("-CONT", child.id());
            let _ = child.kill();
            panic!("the daemon did not time out:\n{}", log());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal("-CONT", child.id());
    let status = child.wait().expect("wait");
    assert!(!status.success());
}

/// Against daemons (stock and oxsync, each client): a module path alone
/// lists like stock rsync, and `-s` carries awkward paths both ways.
#[test]
fn daemon_listing_and_secluded_args() {
    let fill = |m: &Path| {
        small_tree(m);
        put(m, "sp ace/f;x $y", b"odd\n", T0 + 10);
        set_mtime(&m.join("sp ace"), T0 + 9);
        set_mtime(m, T0 + 9);
    };
    for daemon_bin in [rsync_bin(), oxsync_bin()] {
        let d = start_daemon(&daemon_bin, &[], fill);
        let url = |p: &str| format!("rsync://127.0.0.1:{}/mod/{p}", d.port);
        for args in [&[][..], &["-r"], &["-s", "-l"]] {
            let mut outs = Vec::new();
            for client in [oxsync_bin(), rsync_bin()] {
                let s = Scratch::new();
                let r = run(
                    Command::new(client)
                        .env("TZ", "UTC")
                        .args(args)
                        .arg(url("")),
                    &s.logs(),
                );
                outs.push(r);
            }
            let show = |w: &str| {
                show_runs(
                    &format!("daemon {daemon_bin:?} {args:?}"),
                    w,
                    &outs[0],
                    &outs[1],
                )
            };
            assert_eq!(outs[0].code, Some(0), "{}", show("listing failed"));
            assert_eq!(
                outs[0].stdout,
                outs[1].stdout,
                "{}",
                show("listings differ")
            );
        }
        for client in [oxsync_bin(), rsync_bin()] {
            let s = Scratch::new();
            let r = run(
                Command::new(&client)
                    .args(["-s", "-r"])
                    .arg(url("sp ace/"))
                    .arg(s.path("got")),
                &s.logs(),
            );
            r.assert_code(0);
            assert_eq!(fs::read(s.path("got/f;x $y")).expect("pulled"), b"odd\n");
            let r = run(
                Command::new(&client)
                    .args(["-s", "-r"])
                    .arg(format!("{}/", s.path("got").display()))
                    .arg(url("up load;1/")),
                &s.logs(),
            );
            r.assert_code(0);
            assert!(
                d.dir.path().join("mod/up load;1/f;x $y").is_file(),
                "{client:?}"
            );
            fs::remove_dir_all(d.dir.path().join("mod/up load;1")).expect("rm");
        }
    }
}

/// `--timeout`: a peer that never answers ends the transfer with exit 30
/// and stock rsync's message, pushing and pulling.
#[test]
fn timeout_ends_a_silent_transfer() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    let sleeper = s.path("sleeper.sh");
    fs::write(&sleeper, "#!/bin/sh\nexec sleep 30\n").expect("write");
    fs::set_permissions(&sleeper, fs::Permissions::from_mode(0o755)).expect("chmod");
    put(s.root(), "f", b"f\n", T0 + 10);
    for push in [true, false] {
        let mk = |bin: PathBuf| {
            let mut c = Command::new(bin);
            c.args(["--timeout=2", "-e"]).arg(&sleeper);
            if push {
                c.arg(s.path("f")).arg("localhost:x");
            } else {
                c.arg("localhost:f").arg(s.path("y"));
            }
            c
        };
        let t0 = Instant::now();
        let ours = run(&mut mk(oxsync_bin()), &s.logs());
        let took = t0.elapsed();
        let theirs = run(&mut mk(rsync_bin()), &s.logs());
        let show = |w: &str| show_runs(&format!("push={push}"), w, &ours, &theirs);
        assert_eq!(ours.code, Some(30), "{}", show("exit code"));
        assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
        assert!(
            ours.stderr
                .contains("io timeout after 2 seconds -- exiting"),
            "{}",
            show("message")
        );
        assert!(
            took < Duration::from_secs(20),
            "{}",
            show("waited for the silent peer")
        );
    }
    // The timeout goes to the server, which accepts it.
    for dir in REMOTE {
        let s = Scratch::new();
        let src = s.path("src");
        small_tree(&src);
        let sa = format!("{}/", src.display());
        let (d1, d2) = (s.path("d1"), s.path("d2"));
        let args = ["-ai", "--timeout=30", "--max-alloc=64M"];
        let (ours, theirs) = run_pair(&s, dir, (&args, &sa, &d1), (&args, &sa, &d2));
        assert_same(&format!("{dir:?} timeout"), &ours, &theirs, &d1, &d2);
    }
}

/// `--max-alloc` bounds the received file list: a list larger than the
/// limit allows ends with exit 22 (oxsync counts its own entry table, so
/// its limit is reached earlier than stock rsync's pointer array).
#[test]
fn max_alloc_bounds_the_file_list() {
    for dir in [Dir::Local, Dir::RsyncPush, Dir::OxPull] {
        let s = Scratch::new();
        let src = s.path("src");
        fs::create_dir_all(&src).expect("mkdir");
        for i in 0..20_000 {
            fs::write(src.join(format!("f{i}")), b"").expect("write");
        }
        let sa = format!("{}/", src.display());
        let d = s.path("d");
        let r = run(
            &mut command(
                &s,
                dir,
                false,
                &["-r", "--max-alloc=1M"],
                &sa,
                &format!("{}/", d.display()),
            ),
            &s.logs(),
        );
        assert_eq!(r.code, Some(22), "{dir:?}: {}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("exceeded --max-alloc=1048576 setting"),
            "{dir:?}: {}",
            r.stderr
        );
        let ok = run(
            &mut command(
                &s,
                dir,
                false,
                &["-r", "--max-alloc=64M"],
                &sa,
                &format!("{}/", d.display()),
            ),
            &s.logs(),
        );
        ok.assert_code(0);
    }
}

/// `oxsync --help | head -1`: a reader that has gone away ends the output
/// quietly (no panic, no message), as rsync's does. The read end is closed
/// before the child writes, so every run meets the closed pipe.
#[test]
fn help_and_version_into_a_closed_pipe_end_quietly() {
    for args in [&["--help"][..], &["--version"], &["-VV"], &[]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = std::process::Command::new(super::util::oxsync_bin())
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run oxsync");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && out.status.code() != Some(101),
            "{args:?}: {:?}\n{stderr}",
            out.status
        );
    }
}

/// A file name with control characters is escaped in the --log-file, so it
/// cannot inject terminal escapes (upstream log.c logit()): a C0 ESC shows
/// as `\#033`, and the terminal's -v line escapes it too.
#[test]
fn log_file_escapes_control_characters() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join(std::ffi::OsStr::from_bytes(b"c0_\x1b_esc")), b"x").unwrap();
    let log = s.path("rsync.log");
    let r = run(
        Command::new(oxsync_bin())
            .arg("-rv")
            .arg(format!("--log-file={}", log.display()))
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", s.path("dst").display())),
        &s.logs(),
    );
    r.assert_code(0);
    let data = fs::read(&log).unwrap();
    let text = String::from_utf8_lossy(&data);
    assert!(!data.contains(&0x1b), "raw ESC in the log:\n{text}");
    assert!(
        text.contains("c0_\\#033_esc"),
        "no escaped name in:\n{text}"
    );
    assert!(
        !r.stdout.contains('\x1b'),
        "raw ESC on stdout:\n{}",
        r.stdout
    );
}
