//! A source whose directory cannot be entered (`nope/`, or the `nodir`
//! of `nodir/file`): rsync's sender reports `change_dir ... failed` and
//! sets its I/O error, so the receiving side skips deletion ("IO error
//! encountered -- skipping file deletion"), whatever
//! `--ignore-missing-args` or `--delete-missing-args` say (they are
//! about the name, not its directory). A source on a missing or
//! unmounted path must not empty the destination. (Before, oxsync's
//! sender set no I/O error for a missing directory, so `--delete`
//! deleted what the other sources did not list, and
//! `--ignore-missing-args` hid the error.) Locally, and with oxsync's
//! sender against a stock receiver over a remote shell and the reverse.
use super::util::*;
use std::fs;
use std::process::Command;

#[test]
fn a_source_directory_that_cannot_be_entered_stops_deletion() {
    let cases: [(&[&str], &[&str], &str); 4] = [
        (&["-r", "--delete"], &["nope/", "src/"], "nope"),
        (
            &["-r", "--delete", "--ignore-missing-args"],
            &["nope/", "src/"],
            "nope",
        ),
        (&["-r", "--delete"], &["nodir/f", "src/"], "nodir"),
        (
            &["-r", "--delete", "--delete-missing-args"],
            &["nodir/f", "src/"],
            "nodir",
        ),
    ];
    for (args, srcs, dir) in cases {
        for (client, server) in each_side() {
            let (client, server) = (client.as_path(), server.as_deref());
            let s = Scratch::new();
            fs::create_dir_all(s.path("src")).expect("mkdir");
            fs::create_dir_all(s.path("dst")).expect("mkdir");
            write_file(&s.path("src/a"), b"a\n", 0o644, T0);
            write_file(&s.path("dst/extra"), b"keep\n", 0o644, T0);
            let r = into_dst(&s, client, server, args, srcs);
            let label = format!("{} via {server:?} {args:?} {srcs:?}", client.display());
            assert_eq!(r.code, Some(23), "{label}: {r:?}");
            let want = format!("change_dir \"{}/{dir}\" failed", s.root().display());
            assert!(r.stderr.contains(&want), "{label}: {r:?}");
            assert!(s.path("dst/extra").exists(), "deleted: {label}: {r:?}");
            assert_eq!(
                fs::read(s.path("dst/a")).expect("copied"),
                b"a\n",
                "{label}"
            );
        }
    }
}

/// The same from a daemon module: a client pulling `m/nope/` and `m/sub/`
/// with --delete keeps what the destination holds, as from stock rsync's
/// daemon (the module's sender reports `change_dir "nope" (in m)` and its
/// I/O error).
#[test]
fn a_module_directory_that_is_not_there_stops_deletion() {
    for daemon in [oxsync_bin(), rsync_bin()] {
        let d = super::daemon::start(&daemon, "[m]\npath = %ROOT%/mod\n");
        let root = d.root().to_path_buf();
        fs::create_dir_all(root.join("mod/sub")).expect("mkdir");
        write_file(&root.join("mod/sub/a"), b"a\n", 0o644, T0);
        let dst = root.join("dst");
        write_file(&dst.join("extra"), b"keep\n", 0o644, T0);
        let r = run(
            Command::new(rsync_bin())
                .args(["-r", "--delete"])
                .arg(super::daemon::url(&d, "m/nope/"))
                .arg(super::daemon::url(&d, "m/sub/"))
                .arg(format!("{}/", dst.display())),
            &root,
        );
        let label = daemon.display();
        assert_eq!(r.code, Some(23), "{label}: {r:?}");
        assert!(
            r.stderr.contains("change_dir \"nope\" (in m) failed"),
            "{label}: {r:?}"
        );
        assert!(dst.join("extra").exists(), "deleted: {label}: {r:?}");
        assert_eq!(fs::read(dst.join("a")).expect("a"), b"a\n", "{label}");
    }
}

/// A source directory the sender cannot read (mode 000, the client not
/// root): with incremental recursion its list comes after others, with
/// the I/O error, and no deletion may follow: the destination's copy of
/// that directory keeps its files ("IO error encountered -- skipping
/// file deletion"), as with rsync. (Before, oxsync's generator read the
/// I/O error once, at its start: `-r --delete` emptied the destination's
/// copy of the unreadable directory.)
#[test]
fn an_unreadable_source_directory_keeps_its_copy() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (to run the transfer as nobody)");
        return;
    }
    for (client, server) in each_side() {
        let (client, server) = (client.as_path(), server.as_deref());
        let s = Scratch::new();
        let mode = |p: &std::path::Path, m: u32| {
            fs::set_permissions(p, fs::Permissions::from_mode(m)).expect("chmod")
        };
        mode(s.root(), 0o755);
        for d in ["src/ok", "src/locked", "dst/locked"] {
            fs::create_dir_all(s.path(d)).expect("mkdir");
        }
        write_file(&s.path("src/ok/a"), b"a\n", 0o644, T0);
        write_file(&s.path("dst/locked/x"), b"keep\n", 0o666, T0);
        mode(&s.path("src/locked"), 0o000);
        mode(&s.path("dst"), 0o777);
        mode(&s.path("dst/locked"), 0o777);
        mode(&s.logs(), 0o777);
        let mut c = into_dst_cmd(&s, client, server, &["-r", "--delete"], &["src/"]);
        c.uid(65534).gid(65534);
        let r = run(&mut c, &s.logs());
        let label = format!("{} via {server:?}", client.display());
        assert_eq!(r.code, Some(23), "{label}: {r:?}");
        let said = format!("{}{}", r.stdout, r.stderr);
        assert!(
            said.contains("IO error encountered -- skipping file deletion"),
            "{label}: {r:?}"
        );
        assert!(s.path("dst/locked/x").exists(), "deleted: {label}: {r:?}");
        assert_eq!(
            fs::read(s.path("dst/ok/a")).expect("copied"),
            b"a\n",
            "{label}"
        );
        mode(&s.path("src/locked"), 0o755);
    }
}
