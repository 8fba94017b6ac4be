//! The module's own filter (`exclude`, `filter`) protects what a client's
//! path option names: a `--backup-dir` or `--partial-dir` that climbs with
//! `..` into an excluded subtree is rejected before anything is written,
//! as rsync 3.5.0 does ("Your options have been rejected by the server",
//! exit 4). Each push runs against `oxsync --daemon` and stock
//! `rsync --daemon`; the excluded subtree is compared before and after.
use crate::daemon::{start, url, Daemon};
use crate::util::{oxsync_bin, rsync_bin, snapshot};
use std::fs;
use std::process::Command;

/// Module `m` (the daemon's `mod` directory) excludes `/secret/`; `dest`
/// holds an old `f0`, `secret/f0` is the victim.
fn prepare(d: &Daemon) {
    let m = d.root().join("mod");
    fs::create_dir_all(m.join("secret")).expect("mkdir");
    fs::create_dir_all(m.join("dest")).expect("mkdir");
    fs::write(m.join("secret/f0"), "PROTECTED\n").expect("w");
    fs::write(m.join("dest/f0"), "OLD\n").expect("w");
    let src = d.root().join("src");
    fs::create_dir_all(src.join("sub")).expect("mkdir");
    fs::write(src.join("f0"), "NEW-PUSHED\n").expect("w");
}

const MODULE: &str = "[m]\npath = %ROOT%/mod\nread only = no\nexclude = /secret/\n";

/// Pushes `src/` into `m/dest` with `extra`; returns (exit code, stderr).
fn push(d: &Daemon, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(rsync_bin())
        .arg("-a")
        .args(extra)
        .arg(format!("{}/", d.root().join("src").display()))
        .arg(url(d, "m/dest"))
        .output()
        .expect("run rsync");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The option name of the last argument (`--backup-dir` of `--backup-dir=X`).
fn opt_name<'a>(extra: &[&'a str]) -> &'a str {
    let last = extra.last().copied().unwrap_or_default();
    last.split('=').next().unwrap_or(last)
}

/// `stock_rejects`: rsync 3.2.7 rejects it too (it reads a climbing
/// `--partial-dir` as a per-directory one, clamped below the destination:
/// it leaves the subtree alone but transfers).
fn option_into_excluded_subtree_is_rejected(extra: &[&str], stock_rejects: bool) {
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, MODULE);
        prepare(&d);
        let secret = d.root().join("mod/secret");
        let before = snapshot(&secret);
        let (code, err) = push(&d, extra);
        let who = format!("{} daemon, {extra:?}", bin.display());
        assert_eq!(snapshot(&secret), before, "{who}: secret/ changed; {err}");
        if bin != oxsync_bin() && !stock_rejects {
            continue;
        }
        assert_eq!(code, Some(4), "{who}: {err}");
        assert!(
            err.contains("Your options have been rejected by the server"),
            "{who}: {err}"
        );
        assert_eq!(
            fs::read_to_string(d.root().join("mod/dest/f0")).expect("r"),
            "OLD\n",
            "{who}: nothing is transferred"
        );
        if bin == oxsync_bin() {
            let log = fs::read_to_string(d.root().join("daemon.log")).unwrap_or_default();
            assert!(
                log.contains(&format!("rejected {}='", opt_name(extra)))
                    && log.contains("excluded by the filter"),
                "{who}: {log}"
            );
        }
    }
}

#[test]
fn backup_dir_climbing_into_excluded_subtree_is_rejected() {
    option_into_excluded_subtree_is_rejected(
        &["--backup", "--backup-dir=../src/sub/../../secret/"],
        true,
    );
}

#[test]
fn partial_dir_climbing_into_excluded_subtree_is_rejected() {
    option_into_excluded_subtree_is_rejected(&["--partial-dir=../src/sub/../../secret/"], false);
}

#[test]
fn temp_dir_in_excluded_subtree_is_rejected() {
    option_into_excluded_subtree_is_rejected(&["--temp-dir=../secret"], true);
}

/// The module filter matches names (rsyncd.conf(5)): `exclude = /excluded`
/// protects only the entry of that name, so a file pushed to
/// `excluded/x2.tx` lands; `/excluded/` and `/excluded/***` protect the
/// subtree, and the push is refused ("daemon has excluded destination",
/// exit 3) with nothing written. As stock `rsync --daemon`.
#[test]
fn bare_name_exclude_protects_only_that_name() {
    let cases = [
        ("bare", "/excluded", true),
        ("dir", "/excluded/", false),
        ("triple", "/excluded/***", false),
    ];
    let modules: String = cases
        .iter()
        .map(|(m, pat, _)| format!("[{m}]\npath = %ROOT%/{m}\nread only = no\nexclude = {pat}\n"))
        .collect();
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, &modules);
        let src = d.root().join("hosts");
        fs::write(&src, "127.0.0.1 localhost\n").expect("w");
        for (m, pat, lands) in cases {
            let excluded = d.root().join(m).join("excluded");
            fs::create_dir_all(&excluded).expect("mkdir");
            fs::write(excluded.join("keep"), "keep\n").expect("w");
            let before = snapshot(&excluded);
            let out = Command::new(rsync_bin())
                .arg("-a")
                .arg(&src)
                .arg(url(&d, &format!("{m}/excluded/x2.tx")))
                .output()
                .expect("run rsync");
            let err = String::from_utf8_lossy(&out.stderr);
            let who = format!("{} daemon, exclude = {pat}", bin.display());
            let landed = fs::read_to_string(excluded.join("x2.tx")).ok();
            if lands {
                assert_eq!(out.status.code(), Some(0), "{who}: {err}");
                assert_eq!(landed.as_deref(), Some("127.0.0.1 localhost\n"), "{who}");
            } else {
                assert_eq!(out.status.code(), Some(3), "{who}: {err}");
                assert!(
                    err.contains("ERROR: daemon has excluded destination \"excluded/x2.tx\""),
                    "{who}: {err}"
                );
                assert_eq!(snapshot(&excluded), before, "{who}: {err}");
            }
        }
    }
}

/// A module beneath a 0700 parent, served as uid nobody without chroot:
/// the module root is opened (and its Landlock rule built from that
/// descriptor) before the uid is dropped, so the pull serves the module
/// instead of failing to open its path again, as rsync 3.5.0 does (stock
/// 3.2.7 lists the module but fails to open `sub/file`, so it is not the
/// reference here).
#[test]
fn module_under_private_parent_is_served_after_the_uid_drop() {
    use std::os::unix::fs::PermissionsExt;
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let modules = "[m]\npath = %ROOT%/private/mod\nuid = nobody\ngid = nogroup\n";
    {
        let bin = oxsync_bin();
        let d = start(&bin, modules);
        let private = d.root().join("private");
        let sub = private.join("mod/sub");
        fs::create_dir_all(&sub).expect("mkdir");
        fs::write(sub.join("file"), "served\n").expect("w");
        for (p, mode) in [
            (sub.join("file"), 0o644),
            (sub.clone(), 0o755),
            (private.join("mod"), 0o755),
            (private.clone(), 0o700),
        ] {
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let before = snapshot(&private);
        for (i, opts) in [&["-r"][..], &["-rL"][..]].iter().enumerate() {
            let dst = d.root().join(format!("dst/p{i}"));
            let out = Command::new(rsync_bin())
                .args(*opts)
                .arg(url(&d, "m/"))
                .arg(format!("{}/", dst.display()))
                .output()
                .expect("run rsync");
            let who = format!("{} daemon, {opts:?}", bin.display());
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{who}: {err}");
            assert_eq!(
                fs::read_to_string(dst.join("sub/file")).ok().as_deref(),
                Some("served\n"),
                "{who}: {err}"
            );
        }
        assert_eq!(
            snapshot(&private),
            before,
            "{}: module changed",
            bin.display()
        );
    }
}

/// The module's `exclude from` and `include from` files are the operator's
/// own and may live outside the module (`/etc/rsync/excludes`): they are
/// read before the session's confinement, as upstream reads them before
/// its chroot, and they apply. Stock rsync's daemon on the same module
/// gives the same tree.
#[test]
fn exclude_from_outside_the_module_applies() {
    let module = "[m]\npath = %ROOT%/mod\nread only = yes\n\
                  exclude from = %ROOT%/etc/excludes\ninclude from = %ROOT%/etc/includes\n";
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, module);
        let m = d.root().join("mod");
        fs::create_dir_all(d.root().join("etc")).expect("mkdir");
        fs::write(d.root().join("etc/excludes"), "drop*\n").expect("w");
        fs::write(d.root().join("etc/includes"), "drop-but-kept\n").expect("w");
        for f in ["keep.txt", "drop.txt", "drop-but-kept"] {
            fs::write(m.join(f), f).expect("w");
        }
        let dst = d.root().join("dst");
        let out = Command::new(rsync_bin())
            .arg("-r")
            .arg(url(&d, "m/"))
            .arg(format!("{}/", dst.display()))
            .output()
            .expect("run rsync");
        let who = format!("{} daemon: {out:?}", bin.display());
        assert_eq!(out.status.code(), Some(0), "{who}");
        let mut got: Vec<String> = fs::read_dir(&dst)
            .expect("read dst")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        got.sort();
        assert_eq!(got, ["drop-but-kept", "keep.txt"], "{who}");
    }
}

/// A client pulling from a module with its own `--backup-dir` (and
/// `--temp-dir`, `--partial-dir`) outside its destination: those are the
/// client's paths, which the sending daemon is sent but never uses, so
/// they are not refused as outside the module. (Before, oxsync's daemon
/// refused the pull: "--backup-dir='../bk' is outside module m", exit 1.)
#[test]
fn a_pulling_clients_own_directories_are_not_the_modules() {
    for daemon_bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&daemon_bin, MODULE);
        prepare(&d);
        for client in [oxsync_bin(), rsync_bin()] {
            let base = d.root().join(format!("pull{}", client == oxsync_bin()));
            fs::create_dir_all(base.join("dst")).expect("mkdir");
            fs::create_dir_all(base.join("tmp")).expect("mkdir");
            fs::write(base.join("dst/f0"), "LOCAL!\n").expect("w");
            let out = Command::new(&client)
                .current_dir(&base)
                .args([
                    "-r",
                    "-b",
                    "--backup-dir=../bk",
                    "--partial-dir=/nonexistent/p",
                ])
                .arg(format!("--temp-dir={}", base.join("tmp").display()))
                .arg(url(&d, "m/dest/"))
                .arg("dst/")
                .output()
                .expect("run client");
            let err = String::from_utf8_lossy(&out.stderr);
            let who = format!("{} from {}", client.display(), daemon_bin.display());
            assert_eq!(out.status.code(), Some(0), "{who}: {err}");
            assert_eq!(fs::read(base.join("dst/f0")).expect("f0"), b"OLD\n");
            assert_eq!(
                fs::read(base.join("bk/f0")).ok(),
                Some(b"LOCAL!\n".to_vec()),
                "{who}: no backup beside the destination"
            );
        }
    }
}
