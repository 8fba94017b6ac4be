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
    let (ox, stock) = (oxsync_bin(), rsync_bin());
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
        for (client, server) in [
            (&stock, None),
            (&ox, None),
            (&ox, Some(&stock)),
            (&stock, Some(&ox)),
        ] {
            let s = Scratch::new();
            fs::create_dir_all(s.path("src")).expect("mkdir");
            fs::create_dir_all(s.path("dst")).expect("mkdir");
            write_file(&s.path("src/a"), b"a\n", 0o644, T0);
            write_file(&s.path("dst/extra"), b"keep\n", 0o644, T0);
            let r = into_dst(&s, client, server.map(|p| p.as_path()), args, srcs);
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
