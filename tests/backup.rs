//! `--backup`, each case run with oxsync and with stock rsync on twin
//! trees: the `--info=backup` lines of a delta transfer, a backup
//! directory where a directory already sits at the backup's name, one on
//! another filesystem (the entry is copied there), and `--delete` with a
//! name that already is a backup.
use super::util::{oxsync_bin, rsync_bin, run, snapshot, Run, Scratch};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `bin` with `args`, logging into `s`.
fn go(s: &Scratch, bin: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    run(&mut cmd, &s.logs())
}

/// The same setup for both implementations: `make(base)` builds the tree
/// under `base` and returns the arguments to run there.
fn twins(make: impl Fn(&Path) -> Vec<String>) -> [(Scratch, Run); 2] {
    [oxsync_bin(), rsync_bin()].map(|bin| {
        let s = Scratch::new();
        let args = make(s.root());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = go(&s, &bin, &argv);
        (s, r)
    })
}

fn dir(p: &Path) -> String {
    format!("{}/", p.display())
}

#[test]
fn delta_transfer_reports_each_backup() {
    let [(ox_s, ox), (rs_s, rs)] = twins(|b| {
        fs::create_dir_all(b.join("from/deep")).unwrap();
        fs::create_dir_all(b.join("to/deep")).unwrap();
        fs::write(b.join("from/deep/name1"), vec![b'a'; 5000]).unwrap();
        fs::write(b.join("to/deep/name1"), vec![b'b'; 4000]).unwrap();
        vec![
            "-ai".into(),
            "--info=backup".into(),
            "--no-whole-file".into(),
            "--backup".into(),
            dir(&b.join("from")),
            dir(&b.join("to")),
        ]
    });
    ox.assert_code(0);
    rs.assert_code(0);
    let line = "backed up deep/name1 to deep/name1~";
    assert!(rs.stdout.contains(line), "{rs:?}");
    assert!(ox.stdout.contains(line), "{ox:?}");
    for s in [&ox_s, &rs_s] {
        assert_eq!(
            fs::read(s.path("to/deep/name1~")).unwrap(),
            vec![b'b'; 4000]
        );
    }
}

#[test]
fn a_directory_at_the_backup_name_gives_way() {
    let [(ox_s, ox), (rs_s, rs)] = twins(|b| {
        fs::create_dir_all(b.join("from")).unwrap();
        fs::create_dir_all(b.join("to")).unwrap();
        fs::create_dir_all(b.join("bak/dname/inner")).unwrap();
        fs::write(b.join("bak/dname/inner/f"), b"old dir content").unwrap();
        fs::write(b.join("to/dname"), b"deleted-file\n").unwrap();
        vec![
            "-ai".into(),
            "--delete-delay".into(),
            "--backup".into(),
            format!("--backup-dir={}", b.join("bak").display()),
            dir(&b.join("from")),
            dir(&b.join("to")),
        ]
    });
    rs.assert_code(0);
    ox.assert_code(0);
    for s in [&ox_s, &rs_s] {
        assert_eq!(fs::read(s.path("bak/dname")).unwrap(), b"deleted-file\n");
        assert!(!s.path("to/dname").exists());
    }
}

#[test]
fn a_backup_dir_on_another_filesystem_gets_a_copy() {
    // tmpfs under /dev/shm is another filesystem than the scratch tree's
    // on this project's machines and CI; the test says so if not.
    let shm = Path::new("/dev/shm");
    let s = Scratch::new();
    let here = fs::metadata(s.root()).unwrap().dev();
    assert_ne!(
        fs::metadata(shm).map(|m| m.dev()).ok(),
        Some(here),
        "/dev/shm is on the scratch filesystem: this test needs another one"
    );
    for bin in [oxsync_bin(), rsync_bin()] {
        let bak = tempfile::Builder::new()
            .prefix("oxsync-bak-xdev-")
            .tempdir_in(shm)
            .unwrap();
        let (from, to) = (s.path("from"), s.path("to"));
        let _ = fs::remove_dir_all(&from);
        let _ = fs::remove_dir_all(&to);
        fs::create_dir_all(&from).unwrap();
        fs::create_dir_all(&to).unwrap();
        fs::write(to.join("reg"), b"gen1\n").unwrap();
        fs::write(from.join("reg"), b"gen1\ngen1\n").unwrap();
        std::os::unix::fs::symlink("target-gen1", to.join("lnk")).unwrap();
        std::os::unix::fs::symlink("target-gen2", from.join("lnk")).unwrap();
        let st = Command::new("mkfifo")
            .arg(to.join("fifo"))
            .status()
            .unwrap();
        assert!(st.success());
        fs::write(from.join("fifo"), b"replaces-fifo\n").unwrap();
        let r = go(
            &s,
            &bin,
            &[
                "-rlpD",
                "--backup",
                &format!("--backup-dir={}", bak.path().display()),
                &dir(&from),
                &dir(&to),
            ],
        );
        r.assert_code(0);
        assert_eq!(
            fs::read(bak.path().join("reg")).unwrap(),
            b"gen1\n",
            "{r:?}"
        );
        assert_eq!(fs::read(to.join("reg")).unwrap(), b"gen1\ngen1\n");
        let lnk = fs::read_link(bak.path().join("lnk")).unwrap();
        assert_eq!(lnk, Path::new("target-gen1"), "{r:?}");
        use std::os::unix::fs::FileTypeExt;
        let ft = fs::symlink_metadata(bak.path().join("fifo"))
            .unwrap()
            .file_type();
        assert!(ft.is_fifo(), "{r:?}");
        assert_eq!(fs::read(to.join("fifo")).unwrap(), b"replaces-fifo\n");
        assert_eq!(
            fs::read_link(to.join("lnk")).unwrap(),
            Path::new("target-gen2")
        );
    }
}

#[test]
fn delete_unlinks_an_existing_backup_only_when_a_rule_risks_it() {
    let make = |risk: bool| {
        move |b: &Path| -> Vec<String> {
            fs::create_dir_all(b.join("from/d")).unwrap();
            fs::create_dir_all(b.join("to/d")).unwrap();
            fs::write(b.join("from/d/keep"), b"k").unwrap();
            fs::write(b.join("to/d/keep"), b"k").unwrap();
            fs::write(b.join("to/d/plain"), b"extraneous\n").unwrap();
            fs::write(b.join("to/d/stale~"), b"already a backup\n").unwrap();
            let mut v: Vec<String> = vec!["-a".into(), "-b".into(), "--delete".into()];
            if risk {
                v.push("--filter=R *~".into());
            }
            v.push(dir(&b.join("from")));
            v.push(dir(&b.join("to")));
            v
        }
    };
    for risk in [false, true] {
        let [(ox_s, ox), (rs_s, rs)] = twins(make(risk));
        ox.assert_code(0);
        rs.assert_code(0);
        let tree = |s: &Scratch| -> Vec<PathBuf> { snapshot(&s.path("to")).into_keys().collect() };
        assert_eq!(tree(&ox_s), tree(&rs_s), "risk={risk}\n{ox:?}\n{rs:?}");
        assert_eq!(fs::read(ox_s.path("to/d/plain~")).unwrap(), b"extraneous\n");
        assert_eq!(ox_s.path("to/d/stale~").exists(), !risk);
        assert!(!ox_s.path("to/d/stale~~").exists());
    }
}

/// `--delete` with `--backup` (no backup dir) of a directory holding a
/// file: the file is backed up in place, so its directory cannot go; as
/// rsync's, each such directory is kept with the note "cannot delete
/// non-empty directory" and the run succeeds (before, oxsync ended with
/// `delete_file: rmdir ... Directory not empty` and exit 23).
#[test]
fn delete_with_backup_keeps_a_directory_holding_backups() {
    let [(ox_s, ox), (rs_s, rs)] = twins(|b| {
        fs::create_dir_all(b.join("from")).unwrap();
        fs::create_dir_all(b.join("to/old/deep")).unwrap();
        fs::write(b.join("from/a"), b"a").unwrap();
        fs::write(b.join("to/old/deep/x"), b"x\n").unwrap();
        fs::write(b.join("to/old/y"), b"y\n").unwrap();
        vec![
            "-rv".into(),
            "--delete".into(),
            "-b".into(),
            dir(&b.join("from")),
            dir(&b.join("to")),
        ]
    });
    ox.assert_code(0);
    rs.assert_code(0);
    let notes = |r: &Run| -> Vec<String> {
        let mut v: Vec<String> = r
            .stdout
            .lines()
            .filter(|l| l.starts_with("cannot delete") || l.starts_with("deleting"))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        notes(&ox),
        [
            "cannot delete non-empty directory: old",
            "cannot delete non-empty directory: old/deep",
            "deleting old/deep/x",
            "deleting old/y",
        ],
        "{ox:?}"
    );
    assert_eq!(notes(&ox), notes(&rs), "{rs:?}");
    assert!(!ox.stderr.contains("rsync"), "{ox:?}");
    let tree = |s: &Scratch| -> Vec<PathBuf> { snapshot(&s.path("to")).into_keys().collect() };
    assert_eq!(tree(&ox_s), tree(&rs_s));
    assert_eq!(fs::read(ox_s.path("to/old/deep/x~")).unwrap(), b"x\n");
}

/// A client pulling (confined to its destination by Landlock) with a
/// `--backup-dir` that does not exist yet: the directory is made and the
/// old file kept there, as unconfined and as rsync. (Before, the backup
/// dir was outside the rules: every backup failed with "No such file or
/// directory" and the old files were replaced all the same, exit 23.)
#[test]
fn a_confined_pull_makes_a_missing_backup_dir() {
    let [(ox_s, ox), (rs_s, rs)] = [oxsync_bin(), rsync_bin()].map(|bin| {
        let s = Scratch::new();
        let b = s.root();
        fs::create_dir_all(b.join("src/sub")).unwrap();
        fs::create_dir_all(b.join("dst/sub")).unwrap();
        fs::write(b.join("src/sub/f"), b"new\n").unwrap();
        fs::write(b.join("dst/sub/f"), b"old!\n").unwrap();
        let mut cmd = Command::new(&bin);
        cmd.current_dir(b)
            .args(["-a", "-b", "--backup-dir=../bk/deep", "-e"])
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", bin.display()))
            .arg(format!("localhost:{}/src/", b.display()))
            .arg("dst/");
        let r = run(&mut cmd, &s.logs());
        (s, r)
    });
    for (s, r) in [(&ox_s, &ox), (&rs_s, &rs)] {
        r.assert_code(0);
        assert_eq!(
            fs::read(s.path("bk/deep/sub/f")).ok(),
            Some(b"old!\n".to_vec()),
            "{r:?}"
        );
        assert_eq!(fs::read(s.path("dst/sub/f")).unwrap(), b"new\n");
    }
}

/// A 250-byte name whose backup name (`--suffix`) is too long: the backup
/// fails, the old file stays and the run ends with code 11 (upstream's
/// finish_transfer()); in place, the file is skipped (code 23). (Before,
/// the file was replaced without its backup and the run went on.)
#[test]
fn a_backup_that_cannot_be_made_keeps_the_old_file() {
    let name = "n".repeat(250);
    for (inplace, code) in [(false, 11), (true, 23)] {
        let runs = twins(|b| {
            fs::create_dir_all(b.join("src")).unwrap();
            fs::create_dir_all(b.join("dst")).unwrap();
            fs::write(b.join("src").join(&name), b"new contents\n").unwrap();
            fs::write(b.join("dst").join(&name), b"old\n").unwrap();
            let mut args = vec![
                "-r".to_string(),
                "-b".into(),
                "--suffix=.backup-suffix".into(),
            ];
            if inplace {
                args.push("--inplace".into());
            }
            args.extend([dir(&b.join("src")), dir(&b.join("dst"))]);
            args
        });
        for (s, r) in &runs {
            r.assert_code(code);
            // (In place, rsync's generator says `unlink "NAME.backup-suffix"`.)
            assert!(
                (inplace || r.stderr.contains("keep_backup failed: \""))
                    && r.stderr.contains("File name too long (36)"),
                "inplace {inplace}: {r:?}"
            );
            assert!(!r.stderr.contains("os error"), "{r:?}");
            assert_eq!(
                fs::read(s.path("dst").join(&name)).unwrap(),
                b"old\n",
                "inplace {inplace}: the old file was replaced: {r:?}"
            );
        }
    }
}

/// `src/SUB/f` ("new contents") and `dst/SUB/f` ("old") under `b`; the
/// arguments that copy src/ into dst/ with `--backup-dir=b/BK`.
fn backup_case(b: &Path, sub: &str, bk: &str) -> Vec<String> {
    for (side, data) in [("src", &b"new contents\n"[..]), ("dst", b"old\n")] {
        let d = b.join(side).join(sub);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("f"), data).unwrap();
    }
    let bk = format!("--backup-dir={}", b.join(bk).display());
    vec![
        "-r".into(),
        "-b".into(),
        bk,
        dir(&b.join("src")),
        dir(&b.join("dst")),
    ]
}

/// A `--backup-dir` that is a file ends the run before any file is
/// touched (exit 1), as upstream's do_recv() checks it.
#[test]
fn a_backup_dir_that_is_a_file_is_refused_first() {
    let runs = twins(|b| {
        fs::write(b.join("bkf"), b"a file\n").unwrap();
        backup_case(b, "", "bkf")
    });
    for (s, r) in &runs {
        r.assert_code(1);
        let line = format!(
            "The backup-dir is not a directory: {}",
            s.path("bkf").display()
        );
        assert!(r.stderr.contains(&line), "{r:?}");
        assert_eq!(fs::read(s.path("dst/f")).unwrap(), b"old\n");
    }
}

/// A file in the backup dir where a backup needs a directory is removed
/// for it (upstream's copy_valid_path()).
#[test]
fn a_file_in_the_backup_dirs_way_gives_way() {
    let runs = twins(|b| {
        fs::create_dir_all(b.join("bk")).unwrap();
        fs::write(b.join("bk/x"), b"in the way\n").unwrap();
        backup_case(b, "x", "bk")
    });
    for (s, r) in &runs {
        r.assert_code(0);
        assert_eq!(
            fs::read(s.path("bk/x/f")).ok(),
            Some(b"old\n".to_vec()),
            "{r:?}"
        );
        assert_eq!(fs::read(s.path("dst/x/f")).unwrap(), b"new contents\n");
    }
}
