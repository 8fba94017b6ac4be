//! The options the other suites use only in passing, each compared with
//! stock rsync on the same command in five directions (local copy, oxsync
//! pushing/pulling against `rsync --server`, stock rsync pushing/pulling
//! against `oxsync --server`): `--size-only`, `-B/--block-size`,
//! `--out-format`, `-D/--devices/--specials/--no-D`, `--msgs2stderr`, and
//! `--contimeout` against a daemon.
use crate::pair::Pair;
use crate::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Directory mtimes after this were set by the system during the run.
const T_RECENT: i64 = T0 + 10_000_000;

type Maker = fn(&Path);

/// Every entry's state (with device numbers) as one string.
fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    snapshot(root)
        .into_iter()
        .map(|(p, s)| {
            let md = fs::symlink_metadata(root.join(&p)).expect("lstat");
            let ft = md.file_type();
            let kind = if ft.is_char_device() {
                format!("c{:x}", md.rdev())
            } else if ft.is_block_device() {
                format!("b{:x}", md.rdev())
            } else if ft.is_fifo() {
                "p".to_string()
            } else if ft.is_socket() {
                "s".to_string()
            } else {
                s.kind.to_string()
            };
            let v = format!(
                "{kind} {:o} mtime={} size={} digest={:x} link={:?}",
                s.perm,
                s.mtime.min(T_RECENT),
                s.size,
                s.digest,
                s.link
            );
            (p, v)
        })
        .collect()
}

/// Runs `args` in `dir` and with stock rsync alone; compares exit codes,
/// itemize lines and trees. Returns (ours, stock's).
fn check(dir: Dir, args: &[&str], make_src: Maker, make_dst: Maker) -> (Run, Run) {
    let pair = Pair::new(dir, make_src, |_, d| make_dst(d));
    let (ours, theirs, _) = pair.check(args, tree);
    (ours, theirs)
}

fn nothing(_: &Path) {}

// ---------------------------------------------------------------------------
// --size-only, --block-size

/// Files that differ from the destination's in content only, in size, or
/// in mtime only; and a 300 KiB file changed in three places.
fn sized_src(src: &Path) {
    fs::create_dir_all(src.join("sub")).expect("mkdir");
    put(src, "same_size.txt", b"source content\n", T0 + 1);
    put(src, "other_size.txt", b"source, longer content\n", T0 + 1);
    put(src, "newer.txt", b"identical\n", T0 + 50);
    put(src, "sub/new.txt", b"new file\n", T0 + 1);
    let mut big = Prng::new(7).bytes(300 * 1024);
    for at in [1_000usize, 150_000, 290_000] {
        big[at..at + 100].fill(b'x');
    }
    put(src, "big.bin", &big, T0 + 60);
    fix_dirs(src, T0 + 500);
}

fn sized_dst(dst: &Path) {
    fs::create_dir_all(dst.join("sub")).expect("mkdir");
    put(dst, "same_size.txt", b"destin content\n", T0 + 9);
    put(dst, "other_size.txt", b"destination\n", T0 + 1);
    put(dst, "newer.txt", b"identical\n", T0 + 2);
    put(dst, "big.bin", &Prng::new(7).bytes(300 * 1024), T0 + 2);
    fix_dirs(dst, T0 + 500);
}

#[test]
fn size_only() {
    for dir in ALL {
        let (_, theirs) = check(dir, &["-ai", "--size-only"], sized_src, sized_dst);
        // same_size.txt keeps its (different) content: only the size
        // counts, so it is touched (`.f..t`), not transferred.
        assert!(
            theirs
                .itemized()
                .iter()
                .any(|l| l == ".f..t...... same_size.txt"),
            "{}",
            theirs.stdout
        );
        check(dir, &["-rti", "--size-only", "-I"], sized_src, sized_dst);
    }
}

#[test]
fn block_size() {
    for dir in ALL {
        for args in [
            &["-ai", "--no-W", "-B", "1024", "--stats"][..],
            &["-ai", "--no-W", "--block-size=8192", "--stats"],
            &["-ai", "--no-W", "-B700", "--stats"],
        ] {
            let (ours, theirs) = check(dir, args, sized_src, sized_dst);
            // The sending side's literal data follows the block size the
            // same way on both (upstream match.c and ours find the same
            // blocks for the same block length).
            let lit = |r: &Run| stat_bytes(&r.stdout, "Literal data");
            assert_eq!(lit(&ours), lit(&theirs), "{dir:?} {args:?}");
        }
    }
    // Out of range: the same refusal and exit code.
    for dir in [Dir::Local, Dir::OxPush] {
        check(dir, &["-ai", "-B", "200000"], sized_src, sized_dst);
    }
}

// ---------------------------------------------------------------------------
// --out-format

#[test]
fn out_format() {
    for dir in ALL {
        for fmt in [
            "--out-format=%o|%n|%l|%M|%i",
            "--out-format=[%t] %n%L %B %U:%G",
        ] {
            let args = ["-a", fmt];
            let (ours, theirs) = check(dir, &args, sized_src, sized_dst);
            let lines = |r: &Run| {
                let mut v: Vec<String> = r
                    .stdout
                    .lines()
                    .filter(|l| !l.is_empty())
                    // %t is the local time of the transfer: keep its shape.
                    .map(|l| match l.find("] ") {
                        Some(i) if l.starts_with('[') => format!("[time]{}", &l[i + 1..]),
                        _ => l.to_string(),
                    })
                    .collect();
                v.sort();
                v
            };
            assert_eq!(
                lines(&ours),
                lines(&theirs),
                "{dir:?} {fmt}\n--- ours\n{}\n--- stock\n{}",
                ours.stdout,
                theirs.stdout
            );
            assert!(lines(&theirs).len() >= 4, "{}", theirs.stdout);
        }
    }
}

// ---------------------------------------------------------------------------
// -D, --devices, --specials

/// A character device, a block device, a fifo and a socket next to a file.
fn special_src(src: &Path) {
    use rustix::fs::{makedev, mknodat, FileType, Mode, CWD};
    fs::create_dir_all(src.join("dev")).expect("mkdir");
    put(src, "plain.txt", b"plain\n", T0 + 1);
    let node = |rel: &str, ft: FileType, dev| {
        mknodat(CWD, src.join(rel), ft, Mode::from_raw_mode(0o640), dev).expect("mknod");
        set_mtime_nofollow(&src.join(rel), T0 + 2);
    };
    node("dev/null", FileType::CharacterDevice, makedev(1, 3));
    node("dev/loop", FileType::BlockDevice, makedev(7, 200));
    node("dev/pipe", FileType::Fifo, 0);
    node("dev/sock", FileType::Socket, 0);
    fix_dirs(src, T0 + 500);
}

fn set_mtime_nofollow(p: &Path, t: i64) {
    let ts = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: t,
            tv_nsec: 0,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: t,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        p,
        &ts,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .expect("utimensat");
}

/// A destination that already has a device where the source has a fifo.
fn special_dst(dst: &Path) {
    use rustix::fs::{makedev, mknodat, FileType, Mode, CWD};
    fs::create_dir_all(dst.join("dev")).expect("mkdir");
    mknodat(
        CWD,
        dst.join("dev/pipe"),
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o600),
        makedev(1, 5),
    )
    .expect("mknod");
}

#[test]
fn devices_and_specials() {
    assert!(
        rustix::process::geteuid().is_root(),
        "device nodes need root"
    );
    for dir in ALL {
        for args in [
            &["-rlti", "-D"][..],
            &["-rlti", "--devices"],
            &["-rlti", "--specials"],
            &["-rlti", "--devices", "--specials"],
            &["-rlti"],
            &["-ai", "--no-D"],
            &["-ai", "--no-devices"],
            &["-ai", "--no-specials"],
            &["-ai"],
        ] {
            check(dir, args, special_src, nothing);
            check(dir, args, special_src, special_dst);
        }
    }
}

// ---------------------------------------------------------------------------
// --msgs2stderr

#[test]
fn msgs2stderr() {
    for dir in ALL {
        let (ours, theirs) = check(dir, &["-r", "-v", "--msgs2stderr"], sized_src, nothing);
        // File names go where stock rsync puts them (stdout or stderr);
        // the summary figures and the list heading differ (no incremental
        // recursion), so only the name lines are compared.
        let names = |text: &str| {
            let mut v: Vec<String> = text
                .lines()
                .filter(|l| l.ends_with(".txt") || l.ends_with(".bin") || l.ends_with('/'))
                .map(str::to_string)
                .collect();
            v.sort();
            v
        };
        let show = format!(
            "{dir:?}\n--- ours\n{}\n{}\n--- stock\n{}\n{}",
            ours.stdout, ours.stderr, theirs.stdout, theirs.stderr
        );
        assert_eq!(names(&ours.stdout), names(&theirs.stdout), "{show}");
        assert_eq!(names(&ours.stderr), names(&theirs.stderr), "{show}");
        assert!(!names(&theirs.stdout).is_empty() || !names(&theirs.stderr).is_empty());
    }
}

// ---------------------------------------------------------------------------
// --contimeout

#[test]
fn contimeout_against_daemons() {
    let s = Scratch::new();
    sized_src(&s.path("src"));
    let modules = format!("[m]\npath = {}\nread only = no\n", s.root().display());
    for (client, daemon_bin) in [(oxsync_bin(), rsync_bin()), (rsync_bin(), oxsync_bin())] {
        let d = crate::daemon::start(&daemon_bin, &modules);
        let dst = s.path("pulled");
        let _ = fs::remove_dir_all(&dst);
        let r = run(
            Command::new(&client)
                .args(["-a", "--contimeout=5"])
                .arg(crate::daemon::url(&d, "m/src/"))
                .arg(&dst),
            &s.logs(),
        );
        r.assert_code(0);
        assert_eq!(tree(&dst), tree(&s.path("src")), "{}", r.cmdline);
    }
    // A bad value: the same message and exit code as rsync.
    let mut outs = Vec::new();
    for bin in [oxsync_bin(), rsync_bin()] {
        let r = run(
            Command::new(bin).args(["-a", "--contimeout=abc", "rsync://127.0.0.1:1/m/", "x/"]),
            &s.logs(),
        );
        outs.push((r.code, r.stderr.lines().next().unwrap_or("").to_string()));
    }
    assert_eq!(outs[0], outs[1], "{outs:?}");
}

// ---------------------------------------------------------------------------
// --debug

/// Debug flags are accepted on either side and leave the transfer as stock
/// rsync's. The debug lines themselves are not compared: they describe
/// upstream's internal structures (hash tables, buffer states, per-ndx
/// bookkeeping) that oxsync does not have, and oxsync prints none.
#[test]
fn debug_flags_leave_the_transfer_alone() {
    for dir in ALL {
        for args in [
            &["-ai", "--debug=flist2,del2"][..],
            &["-ai", "--delete", "--debug=all"],
        ] {
            check(dir, args, sized_src, sized_dst);
        }
    }
}

/// `--remove-source-files` removes sent devices and specials as well as
/// files (and leaves what was not sent). Each run has its own source.
#[test]
fn remove_source_files_with_specials() {
    for dir in ALL {
        let args = ["-ai", "--remove-source-files"];
        let pair = Pair::with_src_copy(dir, special_src, |_, d| special_dst(d));
        let label = format!("{dir:?} {args:?}");
        let (a, b) = pair.run_pair(
            &label,
            &mut pair.command(false, &args),
            &mut pair.command(true, &args),
        );
        let show = |what: &str| show_runs(&label, what, &a, &b);
        for (x, ours, theirs) in [
            ("src", &pair.src, &pair.src_ref),
            ("dst", &pair.dst, &pair.dst_ref),
        ] {
            let diff = map_diff(&tree(ours), &tree(theirs));
            assert!(
                diff.is_empty(),
                "{}",
                show(&format!("{x}:\n{}", diff.join("\n")))
            );
        }
        assert!(
            !pair.src.join("dev/null").exists(),
            "{}",
            show("not removed")
        );
    }
}

/// `%C` (the file's checksum with `-c`), `%%`, and an
/// escape wider than upstream's buffer (kept literally up to the limit),
/// compared line for line with stock rsync on a local copy.
#[test]
fn out_format_checksum_percent_and_overwide_escapes() {
    let wide = format!("--out-format=%{}%C %n", "0".repeat(30));
    // Without -c stock rsync shows a transferred file's whole-file sum;
    // oxsync shows blanks there (a known gap, README).
    let cases: [&[&str]; 2] = [&["-ac", "--out-format=%C %n"], &["-ac", &wide]];
    for args in cases {
        let (ours, theirs) = check(Dir::Local, args, sized_src, nothing);
        let lines = |r: &Run| {
            let mut v: Vec<String> = r.stdout.lines().map(str::to_string).collect();
            v.sort();
            v
        };
        assert_eq!(
            lines(&ours),
            lines(&theirs),
            "{args:?}\n--- ours\n{}\n--- stock\n{}",
            ours.stdout,
            theirs.stdout
        );
        assert!(lines(&theirs).len() >= 3, "{}", theirs.stdout);
    }
    // `%%` is one literal percent (rsync 3.5.0; 3.2.7 printed two).
    let (ours, _) = check(
        Dir::Local,
        &["-a", "--out-format=100%% done %n"],
        sized_src,
        nothing,
    );
    assert!(
        ours.stdout.lines().any(|l| l == "100% done big.bin"),
        "{}",
        ours.stdout
    );
}

/// `rsync --daemon --help` prints the daemon's usage and exits 0.
#[test]
fn daemon_help() {
    let s = Scratch::new();
    for bin in [oxsync_bin(), rsync_bin()] {
        let r = run(Command::new(bin).args(["--daemon", "--help"]), &s.logs());
        r.assert_code(0);
        for want in [" --daemon [OPTION]...", "--no-detach", "--config=FILE"] {
            assert!(r.stdout.contains(want), "{want}: {r:?}");
        }
    }
}

/// `--ignore-non-existing -n -vv`: a directory not created is announced,
/// what is below it is skipped silently, as stock rsync does.
#[test]
fn existing_skips_below_a_missing_directory_silently() {
    let make_src = |src: &Path| {
        fs::create_dir_all(src.join("subdir")).unwrap();
        put(src, "subdir/file", b"data\n", T0 + 1)
    };
    let make_dst = |dst: &Path| put(dst, "other", b"data\n", T0 + 1);
    let (ours, theirs) = check(
        Dir::Local,
        &["-n", "-r", "--ignore-non-existing", "-vv"],
        make_src,
        make_dst,
    );
    let skips = |r: &Run| -> Vec<String> {
        r.stdout
            .lines()
            .filter(|l| l.starts_with("not creating new"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        skips(&theirs),
        vec!["not creating new directory \"subdir\""]
    );
    assert_eq!(skips(&ours), skips(&theirs), "{}", ours.stdout);
}

/// `--debug=NSTR`: the client names the checksum and the compression the
/// session settled on exactly as stock rsync does (upstream's
/// compress-options test reads these lines).
#[test]
fn debug_nstr_names_the_choices() {
    let cases: [&[&str]; 5] = [
        &["-az", "--debug=NSTR"],
        &["-az", "--compress-choice=zstd", "--debug=NSTR"],
        &[
            "-az",
            "--compress-choice=zlibx",
            "--compress-level=9",
            "--debug=NSTR",
        ],
        &["-ac", "--checksum-choice=md4", "--debug=NSTR"],
        &["-a", "--debug=NSTR"],
    ];
    for args in cases {
        for dir in [Dir::Local, Dir::OxPush] {
            let (ours, theirs) = check(dir, args, sized_src, nothing);
            let lines = |r: &Run| -> Vec<String> {
                r.stdout
                    .lines()
                    .filter(|l| l.starts_with("Client"))
                    .map(str::to_string)
                    .collect()
            };
            assert!(!lines(&theirs).is_empty(), "{args:?}: {}", theirs.stdout);
            assert_eq!(lines(&ours), lines(&theirs), "{dir:?} {args:?}");
        }
    }
}

/// `--out-format`'s names keep their bytes: a name that is not UTF-8
/// prints escaped as rsync prints it (`\#377`), not with U+FFFD; `%f` of
/// the transfer root is `.` on a receiving side (a sending side's upstream
/// puts its transfer root's path before the name, oxsync not yet); and
/// "created directory" comes only with -v or a format that itemizes (an
/// --out-format without %i overrides -i's), as rsync's get_local_name()
/// says it.
#[test]
fn out_format_names_keep_their_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let mut seen = Vec::new();
    for bin in [oxsync_bin(), rsync_bin()] {
        let s = Scratch::new();
        fs::create_dir_all(s.path("src")).expect("mkdir");
        let odd = std::ffi::OsStr::from_bytes(b"bad\xffname");
        write_file(&s.path("src").join(odd), b"x", 0o644, T0);
        let mut lines = Vec::new();
        for (args, dst) in [
            (&["-ai", "--out-format=%n|%f"][..], "d1"),
            (&["-a", "--out-format=%i %n"], "d2"),
        ] {
            // Pulled over a remote shell: %f is the receiving side's.
            let r = run(
                Command::new(&bin)
                    .args(args)
                    .arg("-e")
                    .arg(s.rsh())
                    .arg(format!("--rsync-path={}", bin.display()))
                    .arg(format!("localhost:{}/", s.path("src").display()))
                    .arg(format!("{}/", s.path(dst).display())),
                &s.logs(),
            );
            r.assert_code(0);
            let root = s.root().display().to_string();
            lines.push(r.stdout.replace(&root, "ROOT"));
        }
        seen.push(lines);
    }
    assert_eq!(seen[0], seen[1]);
    assert!(
        seen[0][0].contains("./|.\nbad\\#377name|bad\\#377name\n"),
        "{:?}",
        seen[0]
    );
    assert!(!seen[0][0].contains("created directory"), "{:?}", seen[0]);
    assert!(
        seen[0][1].contains("created directory ROOT/d2"),
        "{:?}",
        seen[0]
    );
}

/// `--remove-sent-files` (rsync's older spelling, still accepted): only
/// the files sent are removed, one already up to date stays;
/// `--remove-source-files` removes both. Locally and over a remote shell,
/// oxsync and stock rsync on either side. (Before, oxsync refused the
/// older spelling with exit 4.)
#[test]
fn remove_sent_files_keeps_what_was_not_sent() {
    for (opt, keeps_same) in [
        ("--remove-sent-files", true),
        ("--remove-source-files", false),
    ] {
        for (client, server) in each_side() {
            let s = Scratch::new();
            put(&s.path("src"), "changed", b"new\n", T0);
            put(&s.path("src"), "same", b"same\n", T0);
            put(&s.path("dst"), "changed", b"old!\n", T0 + 5);
            put(&s.path("dst"), "same", b"same\n", T0);
            let r = into_dst(&s, &client, server.as_deref(), &["-a", opt], &["src/"]);
            let label = format!("{opt} {} {server:?}", client.display());
            r.assert_code(0);
            assert!(!s.path("src/changed").exists(), "{label}: sent, kept");
            assert_eq!(s.path("src/same").exists(), keeps_same, "{label}");
            assert_eq!(
                fs::read(s.path("dst/changed")).unwrap(),
                b"new\n",
                "{label}"
            );
        }
    }
}
