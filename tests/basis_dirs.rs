//! Basis directories (`--compare-dest`, `--copy-dest`, `--link-dest`) and
//! the other client path options on a daemon push, with stock rsync and
//! oxsync as the client: a basis dir is read as rsync 3.5.0 reads it (`..`
//! clamped at the module root, a leading `/` naming the module root), one
//! that still leaves the module through a symlink is skipped with a warning
//! and a log line while the transfer goes on, and nothing outside the
//! module is read, linked or changed. `--temp-dir`/`--backup-dir` outside
//! the module stay refused unless the module says `client paths =
//! module-relative`. Where stock `rsync --daemon` (3.2.7) behaves the same,
//! it runs the same push on an identically prepared module as the
//! reference (exit code, itemize lines, which files are hard-linked).
use crate::daemon::{start, url, Daemon};
use crate::util::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// Module `b` is `ROOT/bk`; `r` is the same directory read with
/// `client paths = module-relative` (oxsync only).
const OURS: &str = "[b]\npath = %ROOT%/bk\nread only = no\nmunge symlinks = no\n\
[r]\npath = %ROOT%/bk\nread only = no\nmunge symlinks = no\nclient paths = module-relative\n";
/// The same modules for stock rsync, which always reads them module-relative.
const STOCK: &str = "[b]\npath = %ROOT%/bk\nread only = no\nmunge symlinks = no\n\
[r]\npath = %ROOT%/bk\nread only = no\nmunge symlinks = no\n";

const NAMES: [&str; 2] = ["f.dat", "g.txt"];

/// The source (`ROOT/src`), a previous copy inside the module
/// (`bk/prev`), the destination `bk/cur`, and an identical copy outside the
/// module (`ROOT/outside`, a sibling of the module root) whose `g.txt` has
/// other bytes of the same size and mtime: a basis read from there would
/// show in the destination. `bk/cd` is a symlink to `ROOT/outside`.
fn prep(root: &Path) {
    let big: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::remove_dir(root.join("src/sub")).ok();
    fs::create_dir_all(root.join("bk/cur")).expect("mkdir");
    for dir in ["src", "bk/prev", "outside"] {
        fs::create_dir_all(root.join(dir)).expect("mkdir");
        write_file(&root.join(dir).join("f.dat"), &big, 0o644, T0);
    }
    for dir in ["src", "bk/prev"] {
        write_file(&root.join(dir).join("g.txt"), b"the source\n", 0o644, T0);
    }
    write_file(&root.join("outside/g.txt"), b"OUTSIDE!!!\n", 0o644, T0);
    std::os::unix::fs::symlink(root.join("outside"), root.join("bk/cd")).expect("symlink");
    // Directory times pinned, so that only what the options do shows.
    for dir in ["src", "bk/cur", "bk/prev"] {
        set_mtime(&root.join(dir), T0);
    }
}

/// `client -a -i ARGS ROOT/src/ rsync://.../DEST`.
fn push(client: &Path, d: &Daemon, args: &[&str], dest: &str) -> Run {
    let mut c = Command::new(client);
    c.args(["-a", "-i"])
        .args(args)
        .arg(format!("{}/", d.root().join("src").display()))
        .arg(url(d, dest));
    let logs = d.root().join("logs");
    fs::create_dir_all(&logs).expect("mkdir logs");
    run(&mut c, &logs)
}

/// The names in `dir` that are the same inode as the same name in `other`.
fn linked(dir: &Path, other: &Path) -> Vec<&'static str> {
    NAMES
        .into_iter()
        .filter(|n| {
            let (Ok(a), Ok(b)) = (fs::metadata(dir.join(n)), fs::metadata(other.join(n))) else {
                return false;
            };
            (a.dev(), a.ino()) == (b.dev(), b.ino())
        })
        .collect()
}

fn log(d: &Daemon) -> String {
    fs::read_to_string(d.root().join("daemon.log")).unwrap_or_default()
}

/// Each entry's kind, bytes and permissions (directory times and the `cd`
/// link, which names each scratch directory, left out).
type Shape = Vec<(std::path::PathBuf, char, u64, u64, u32)>;

fn shape(root: &Path) -> Shape {
    snapshot(root)
        .into_iter()
        .filter(|(p, _)| p != Path::new("cd"))
        .map(|(p, e)| (p, e.kind, e.size, e.digest, e.perm))
        .collect()
}

/// Both daemons, prepared alike.
fn daemons() -> (Daemon, Daemon) {
    let ours = start(&oxsync_bin(), OURS);
    let stock = start(&rsync_bin(), STOCK);
    prep(ours.root());
    prep(stock.root());
    (ours, stock)
}

fn clients() -> [std::path::PathBuf; 2] {
    [rsync_bin(), oxsync_bin()]
}

/// Runs the push on both daemons and compares exit codes, itemize lines and
/// which files of `dest_dir` are hard-linked into `basis_dir` (both
/// relative to the scratch root). Returns our run.
fn compare(client: &Path, args: &[&str], dest: &str, dest_dir: &str, basis_dir: &str) -> Run {
    let (ours, stock) = daemons();
    let a = push(client, &ours, args, dest);
    let b = push(&rsync_bin(), &stock, args, dest);
    let label = format!("{client:?} {args:?}");
    assert_runs_agree(&label, &a, &b);
    let show = |what: &str| show_runs(&label, what, &a, &b);
    let la = linked(&ours.root().join(dest_dir), &ours.root().join(basis_dir));
    let lb = linked(&stock.root().join(dest_dir), &stock.root().join(basis_dir));
    assert_eq!(la, lb, "{}", show("hard-linked files differ"));
    for n in NAMES {
        let got = fs::read(ours.root().join(dest_dir).join(n));
        let want = fs::read(ours.root().join("src").join(n)).expect("src");
        if !(args.iter().any(|a| a.starts_with("--compare-dest")) && got.is_err()) {
            assert_eq!(got.ok(), Some(want), "{}", show(&format!("{n} content")));
        }
    }
    a
}

/// `--link-dest=../prev` from `cur/`: the backup pattern works, the files
/// are hard-linked to `prev/` beside the destination, as by rsync 3.5.0
/// (upstream test link-dest-relative-basis; stock 3.2.7 reads `../prev` as
/// `cur/prev` and sends the files, so it is no reference here). The same
/// for `--copy-dest` (nothing sent) and `--compare-dest` (nothing created).
#[test]
fn dotdot_link_dest_beside_the_destination() {
    for client in clients() {
        for opt in [
            "--link-dest=../prev",
            "--copy-dest=../prev",
            "--compare-dest=../prev",
        ] {
            let (ours, _stock) = daemons();
            let r = push(&client, &ours, &[opt, "--stats"], "b/cur/");
            r.assert_code(0);
            assert!(!r.stderr.contains("arg"), "{opt}: {}", r.stderr);
            let cur = ours.root().join("bk/cur");
            let want: &[&str] = if opt.starts_with("--link") {
                &NAMES
            } else {
                &[]
            };
            assert_eq!(
                linked(&cur, &ours.root().join("bk/prev")),
                want,
                "{client:?} {opt}"
            );
            assert_eq!(
                stat_bytes(&r.stdout, "Literal data"),
                Some(0),
                "{opt}: {}",
                r.stdout
            );
            let created = fs::read_dir(&cur).expect("cur").count();
            assert_eq!(
                created,
                if opt.starts_with("--compare") { 0 } else { 2 },
                "{opt}"
            );
        }
    }
}

/// `--link-dest=../../outside` from `cur/` climbs above the module root:
/// the climb is clamped there (`outside` beneath the module, absent), a
/// warning says so, the transfer goes on and nothing outside is linked.
#[test]
fn dotdot_link_dest_is_clamped_at_the_module_root() {
    for client in clients() {
        for opt in [
            "--link-dest=../../outside",
            "--link-dest=../../../../../outside",
        ] {
            let (ours, _stock) = daemons();
            let before = snapshot(&ours.root().join("outside"));
            let r = push(&client, &ours, &[opt], "b/cur/");
            r.assert_code(0);
            assert!(
                r.stderr
                    .contains("--link-dest arg does not exist: ../outside"),
                "{client:?} {opt}: no warning:\n{}",
                r.stderr
            );
            let cur = ours.root().join("bk/cur");
            assert!(
                linked(&cur, &ours.root().join("outside")).is_empty(),
                "{opt}"
            );
            assert_eq!(fs::read(cur.join("g.txt")).expect("g"), b"the source\n");
            assert_eq!(snapshot(&ours.root().join("outside")), before);
            compare(&client, &[opt], "b/cur/", "bk/cur", "outside").assert_code(0);
        }
    }
}

/// `--link-dest=/prev`: a leading `/` names the module root.
#[test]
fn absolute_link_dest_is_module_relative() {
    for client in clients() {
        compare(
            &client,
            &["--link-dest=/prev"],
            "b/cur/",
            "bk/cur",
            "bk/prev",
        )
        .assert_code(0);
        let (ours, _stock) = daemons();
        push(&client, &ours, &["--link-dest=/prev"], "b/cur/").assert_code(0);
        assert_eq!(
            linked(&ours.root().join("bk/cur"), &ours.root().join("bk/prev")),
            NAMES
        );
        // Into the module root, `/prev` is `prev`, for every basis kind.
        for opt in ["--compare-dest=/prev", "--copy-dest=/prev"] {
            compare(&client, &[opt], "b/", "bk", "bk/prev").assert_code(0);
        }
    }
}

/// A basis dir that is a symlink out of the module (`cd` -> the outside
/// copy) is skipped with a warning and a log line; the transfer goes on
/// (exit 0) and the outside files are neither hard-linked, copied nor
/// compared against: the destination holds the source's bytes. (Stock
/// rsync 3.2.7 follows the symlink, so it is no reference here.)
#[test]
fn basis_dir_through_a_symlink_out_of_the_module_is_skipped() {
    for client in clients() {
        for (opt, dest, shown) in [
            ("--link-dest=cd", "b/", "cd"),
            ("--copy-dest=cd", "b/", "cd"),
            ("--compare-dest=cd/", "b/", "cd"),
            ("--link-dest=/cd", "b/cur/", "../cd"),
            ("--copy-dest=../cd", "b/cur/", "../cd"),
        ] {
            let (ours, _stock) = daemons();
            let outside = ours.root().join("outside");
            let before = snapshot(&outside);
            let r = push(&client, &ours, &[opt], dest);
            r.assert_code(0);
            let kind = opt.split('=').next().expect("kind");
            let warning = format!("{kind} arg is outside the module, skipped: {shown}");
            assert!(
                r.stderr.contains(&warning),
                "{client:?} {opt}:\n{}",
                r.stderr
            );
            let logged = log(&ours);
            assert!(
                logged
                    .lines()
                    .any(|l| l.contains(&format!("rejected {opt}' from "))
                        || (l.contains(&format!("rejected {kind}='"))
                            && l.ends_with(&format!(
                                "outside module root '{}'",
                                ours.root().join("bk").display()
                            )))),
                "{opt}: no log line:\n{logged}"
            );
            let into = ours.root().join(dest.replace("b/", "bk/"));
            for n in NAMES {
                let got = fs::read(into.join(n)).expect("arrived");
                assert_eq!(
                    got,
                    fs::read(ours.root().join("src").join(n)).expect("src"),
                    "{opt} {n}"
                );
            }
            assert!(linked(&into, &outside).is_empty(), "{opt}: linked outside");
            assert_eq!(snapshot(&outside), before, "{opt}: outside changed");
        }
    }
}

/// A basis dir that does not exist: a warning, and the files are sent, as
/// by stock rsync.
#[test]
fn absent_basis_dir_warns() {
    for client in clients() {
        let r = compare(
            &client,
            &["--link-dest=nope"],
            "b/cur/",
            "bk/cur",
            "bk/prev",
        );
        r.assert_code(0);
        assert!(
            r.stderr.contains("--link-dest arg does not exist: nope"),
            "{client:?}:\n{}",
            r.stderr
        );
        let r = compare(
            &client,
            &["--compare-dest=prev/f.dat"],
            "b/",
            "bk",
            "bk/prev",
        );
        assert!(
            r.stderr
                .contains("--compare-dest arg is not a dir: prev/f.dat"),
            "{client:?}:\n{}",
            r.stderr
        );
    }
}

/// `--temp-dir=/tmp` and `--backup-dir=/bak` are refused by default (the
/// log line, the client's message, nothing written); with `client paths =
/// module-relative` they name places beneath the module root and a climbing
/// `--backup-dir` is clamped at the destination, as stock rsync reads them.
#[test]
fn temp_and_backup_dirs_refused_unless_module_relative() {
    for client in clients() {
        let (ours, _stock) = daemons();
        for opt in ["--temp-dir=/tmp", "--backup-dir=/bak"] {
            let r = push(&client, &ours, &["-b", opt], "b/cur/");
            assert_eq!(r.code, Some(1), "{client:?} {opt}:\n{}", r.stderr);
            assert!(r.stderr.contains("is outside module b"), "{}", r.stderr);
            let (k, v) = opt.split_once('=').expect("opt");
            let want = format!(
                "rejected {k}='{v}' from localhost: outside module root '{}'",
                ours.root().join("bk").display()
            );
            let logged = log(&ours);
            assert!(
                logged.contains(&want) || logged.contains(&want.replace("localhost", "UNKNOWN")),
                "{want}\n{logged}"
            );
            assert_eq!(
                fs::read_dir(ours.root().join("bk/cur"))
                    .expect("cur")
                    .count(),
                0
            );
        }
        fs::create_dir(ours.root().join("bk/tmpd")).expect("mkdir");
        push(&client, &ours, &["--temp-dir=/tmpd"], "b/cur/").assert_code(1);
        push(&client, &ours, &["--temp-dir=/tmpd"], "r/cur/").assert_code(0);
        assert_eq!(
            fs::read(ours.root().join("bk/cur/g.txt")).expect("g"),
            b"the source\n"
        );
        // The backups of a changed source land where stock rsync puts them.
        for opt in [
            "--backup-dir=/bak",
            "--backup-dir=../../bak2",
            "--backup-dir=/../x/../bak3",
        ] {
            let (ours, stock) = daemons();
            for d in [&ours, &stock] {
                fs::copy(
                    d.root().join("bk/prev/g.txt"),
                    d.root().join("bk/cur/g.txt"),
                )
                .expect("cp");
                write_file(&d.root().join("src/g.txt"), b"changed!\n", 0o644, T0 + 5);
                set_mtime(&d.root().join("src"), T0);
                set_mtime(&d.root().join("bk/cur"), T0);
            }
            let a = push(&client, &ours, &["-b", opt], "r/cur/");
            let b = push(&rsync_bin(), &stock, &["-b", opt], "r/cur/");
            let show = |what: &str| show_runs(opt, what, &a, &b);
            assert_eq!(a.code, Some(0), "{}", show("exit"));
            assert_eq!(a.code, b.code, "{}", show("exit codes differ"));
            assert_eq!(a.itemized(), b.itemized(), "{}", show("itemize"));
            let (ta, tb) = (
                shape(&ours.root().join("bk")),
                shape(&stock.root().join("bk")),
            );
            assert_eq!(ta, tb, "{}", show("module trees differ"));
            assert!(
                ta.iter().any(|(p, ..)| p.ends_with("g.txt")
                    && (p.to_string_lossy().starts_with("bak") || p.starts_with("cur/bak2"))),
                "{opt}: no backup: {ta:?}"
            );
        }
    }
}
