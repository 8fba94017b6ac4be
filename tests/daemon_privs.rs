//! The daemon's own `daemon chroot`, `daemon gid` and `daemon uid`: each
//! connection chroots and takes these ids before it greets the client
//! (upstream clientserver.c start_daemon()), so that everything after,
//! the handshake and the module's own steps included, runs that way. Each
//! case runs against `oxsync --daemon` and stock `rsync --daemon`.
use crate::daemon::{start, url, Daemon};
use crate::util::{oxsync_bin, rsync_bin};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

/// Pushes `src/` (one file, `f`) into `module/` with stock rsync.
fn push(d: &Daemon, module: &str) -> Output {
    fs::write(d.root().join("src/f"), "pushed\n").expect("w");
    push_by(&rsync_bin(), d, &["-rt"], module)
}

/// `client ARGS src/ rsync://.../module/`.
fn push_by(client: &Path, d: &Daemon, args: &[&str], module: &str) -> Output {
    Command::new(client)
        .args(args)
        .arg(format!("{}/", d.root().join("src").display()))
        .arg(url(d, &format!("{module}/")))
        .output()
        .expect("run the client")
}

fn log(d: &Daemon) -> String {
    fs::read_to_string(d.root().join("daemon.log")).unwrap_or_default()
}

fn as_root() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    eprintln!("skipped: needs root");
    false
}

/// A file pushed through a daemon with `daemon uid` / `daemon gid` is
/// owned by them: the connection runs as them.
#[test]
fn a_pushed_file_belongs_to_the_daemon_uid_and_gid() {
    if !as_root() {
        return;
    }
    // Empty `uid` and `gid` (the harness sets both globally): a daemon no
    // longer root leaves them (upstream would fail to set a group list).
    let conf = "daemon uid = 4242\ndaemon gid = 4343\n\
                [m]\npath = %ROOT%/mod\nread only = no\nuid =\ngid =\n";
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, conf);
        // The module is theirs (its times and modes can be set).
        fs::set_permissions(d.root(), fs::Permissions::from_mode(0o755)).expect("chmod");
        std::os::unix::fs::chown(d.root().join("mod"), Some(4242), Some(4343)).expect("chown");
        let out = push(&d, "m");
        let who = format!("{} daemon", bin.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{who}: {err}\n{}", log(&d));
        let f = d.root().join("mod/f");
        assert_eq!(
            fs::read_to_string(&f).ok().as_deref(),
            Some("pushed\n"),
            "{who}"
        );
        let md = fs::metadata(&f).expect("stat");
        assert_eq!((md.uid(), md.gid()), (4242, 4343), "{who}: {err}");
    }
}

/// With `daemon chroot`, a module's path is inside it: the push lands in
/// the chroot's `/mod`, and nothing is made at the host's `/mod`.
#[test]
fn module_paths_are_inside_the_daemon_chroot() {
    if !as_root() {
        return;
    }
    let conf = "daemon chroot = %ROOT%/jail\n[m]\npath = /mod\nread only = no\n";
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, conf);
        fs::create_dir_all(d.root().join("jail/mod")).expect("mkdir");
        let out = push(&d, "m");
        let who = format!("{} daemon", bin.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{who}: {err}\n{}", log(&d));
        assert_eq!(
            fs::read_to_string(d.root().join("jail/mod/f"))
                .ok()
                .as_deref(),
            Some("pushed\n"),
            "{who}"
        );
        assert!(!Path::new("/mod/f").exists(), "{who}");
    }
}

/// A `daemon uid` that names no user, or a `daemon chroot` that cannot be
/// entered, ends every connection before the greeting, with upstream's
/// log line; nothing is written, and either client says so as rsync's.
#[test]
fn a_bad_daemon_uid_or_chroot_ends_the_connection() {
    if !as_root() {
        return;
    }
    let cases = [
        (
            "daemon uid = no-such-user-oxsync\n",
            "Invalid daemon uid: no-such-user-oxsync".to_string(),
        ),
        (
            "daemon gid = no-such-group-oxsync\n",
            "Invalid daemon gid: no-such-group-oxsync".to_string(),
        ),
        (
            "daemon chroot = %ROOT%/missing\n",
            "daemon chroot(\"%ROOT%/missing\") failed: No such file or directory (2)".to_string(),
        ),
    ];
    for (global, line) in cases {
        for bin in [oxsync_bin(), rsync_bin()] {
            let conf = format!("{global}[m]\npath = %ROOT%/mod\nread only = no\n");
            let d = start(&bin, &conf);
            let who = format!("{} daemon, {global}", bin.display());
            // Both clients see the connection end before the greeting: as
            // its end (exit 5) or, when the daemon left the client's
            // greeting unread, as a reset (exit 12), by timing.
            for client in [rsync_bin(), oxsync_bin()] {
                let out = push_by(&client, &d, &["-r"], "m");
                let err = String::from_utf8_lossy(&out.stderr);
                let who = format!("{who}, client {}", client.display());
                match out.status.code() {
                    Some(5) => assert!(err.contains("did not see server greeting"), "{who}: {err}"),
                    Some(12) => assert!(err.contains("safe_read failed to read"), "{who}: {err}"),
                    other => panic!("{who}: exit {other:?}: {err}"),
                }
            }
            let out = push(&d, "m");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_ne!(out.status.code(), Some(0), "{who}: {err}");
            assert!(!d.root().join("mod/f").exists(), "{who}");
            let want = line.replace("%ROOT%", &d.root().to_string_lossy());
            let got = log(&d);
            assert!(got.contains(&want), "{who}: no {want:?} in {got}");
            assert!(!got.contains("connect from"), "{who}: {got}");
        }
    }
}

/// The names `--list-only` shows of module `module`.
fn listed(d: &Daemon, module: &str) -> (Option<i32>, Vec<String>, String) {
    let out = Command::new(rsync_bin())
        .args(["-r", "--list-only"])
        .arg(url(d, &format!("{module}/")))
        .output()
        .expect("run rsync");
    let names = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_owned))
        .collect();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), names, err)
}

/// `ignore nonreadable`: what the module's uid may not read is left out of
/// the list unseen (a directory with its contents; symlinks are kept), as
/// stock rsync's daemon leaves it out. Without it, the names are listed.
#[test]
fn ignore_nonreadable_leaves_unreadable_names_out() {
    if !as_root() {
        return;
    }
    let conf = "[hide]\npath = %ROOT%/mod\nuid = 65534\ngid = 65534\nignore nonreadable = yes\n\
                [show]\npath = %ROOT%/mod\nuid = 65534\ngid = 65534\n";
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, conf);
        let m = d.root().join("mod");
        fs::create_dir_all(m.join("closed")).expect("mkdir");
        fs::create_dir_all(m.join("sub")).expect("mkdir");
        for (f, mode) in [
            ("pub.txt", 0o644),
            ("secret.txt", 0o600),
            ("closed/inner.txt", 0o644),
            ("sub/open.txt", 0o644),
            ("sub/hidden.txt", 0o600),
        ] {
            fs::write(m.join(f), f).expect("w");
            fs::set_permissions(m.join(f), fs::Permissions::from_mode(mode)).expect("chmod");
        }
        std::os::unix::fs::symlink("secret.txt", m.join("link")).expect("symlink");
        for (p, mode) in [(d.root(), 0o755), (&m, 0o755), (&m.join("closed"), 0o700)] {
            fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let who = format!("{} daemon", bin.display());
        let (code, names, err) = listed(&d, "hide");
        assert_eq!(code, Some(0), "{who}: {err}");
        assert_eq!(
            names,
            [".", "link", "pub.txt", "sub", "sub/open.txt"],
            "{who}: {err}"
        );
        let (_, names, err) = listed(&d, "show");
        for n in ["secret.txt", "closed", "sub/hidden.txt"] {
            assert!(
                names.iter().any(|x| x == n),
                "{who}: {n} not in {names:?}: {err}"
            );
        }
    }
}

/// `ignore nonreadable` on a receiving module: `--delete` leaves alone
/// what the module's uid may not read (it never sees it, as stock rsync's
/// daemon does not) and deletes the rest.
#[test]
fn ignore_nonreadable_keeps_unreadable_files_from_delete() {
    if !as_root() {
        return;
    }
    let conf = "[m]\npath = %ROOT%/mod\nread only = no\nuid = 65534\ngid = 65534\n\
                ignore nonreadable = yes\n";
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, conf);
        let m = d.root().join("mod");
        for (f, mode) in [("keep.secret", 0o600), ("gone.txt", 0o644)] {
            fs::write(m.join(f), f).expect("w");
            fs::set_permissions(m.join(f), fs::Permissions::from_mode(mode)).expect("chmod");
        }
        fs::set_permissions(d.root(), fs::Permissions::from_mode(0o755)).expect("chmod");
        std::os::unix::fs::chown(&m, Some(65534), Some(65534)).expect("chown");
        fs::write(d.root().join("src/f"), "pushed\n").expect("w");
        let out = push_by(&rsync_bin(), &d, &["-r", "--delete"], "m");
        let who = format!("{} daemon", bin.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{who}: {err}");
        assert!(m.join("keep.secret").exists(), "{who}: {err}");
        assert!(!m.join("gone.txt").exists(), "{who}: {err}");
        assert!(m.join("f").exists(), "{who}: {err}");
    }
}

/// `ignore errors`: a receiving module deletes with `--delete` after an
/// I/O error on the sending side (a dangling symlink under -L), as if the
/// client gave `--ignore-errors`; without it the deletion is skipped.
#[test]
fn ignore_errors_lets_the_module_delete_after_an_io_error() {
    let conf = "[ie]\npath = %ROOT%/mod/ie\nread only = no\nignore errors = yes\n\
                [plain]\npath = %ROOT%/mod/plain\nread only = no\n";
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, conf);
        fs::write(d.root().join("src/f"), "pushed\n").expect("w");
        std::os::unix::fs::symlink("no-such-target", d.root().join("src/dangling"))
            .expect("symlink");
        for (module, deleted) in [("ie", true), ("plain", false)] {
            let m = d.root().join("mod").join(module);
            fs::create_dir_all(&m).expect("mkdir");
            fs::write(m.join("old.txt"), "old\n").expect("w");
            let out = push_by(&rsync_bin(), &d, &["-rL", "--delete"], module);
            let who = format!("{} daemon, module {module}", bin.display());
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(23), "{who}: {err}");
            assert!(m.join("f").exists(), "{who}: {err}");
            assert_eq!(!m.join("old.txt").exists(), deleted, "{who}: {err}");
            // An info line (the client's stdout), as upstream's FINFO.
            let said = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                said.contains("IO error encountered -- skipping file deletion"),
                !deleted,
                "{who}: {said}"
            );
        }
    }
}

/// A push refused permission inside a module whose `uid`/`gid` drop the
/// connection to nobody: the client is told which ids the module writes
/// as, but not where the module lies (the daemon's log names the
/// directory). Before, the client's message named it.
#[test]
fn the_permission_hint_keeps_the_module_directory_from_the_client() {
    if !as_root() {
        return;
    }
    let d = start(
        &oxsync_bin(),
        "[w]\npath = %ROOT%/mod\nread only = no\nuid = 65534\ngid = 65534\n",
    );
    let module = d.root().join("mod");
    fs::set_permissions(d.root(), fs::Permissions::from_mode(0o755)).expect("chmod root");
    fs::set_permissions(&module, fs::Permissions::from_mode(0o777)).expect("chmod mod");
    fs::create_dir(module.join("blk")).expect("mkdir blk");
    fs::set_permissions(module.join("blk"), fs::Permissions::from_mode(0o000)).expect("chmod blk");
    fs::write(d.root().join("src/f"), "pushed\n").expect("w");
    let o = Command::new(rsync_bin())
        .arg(d.root().join("src/f"))
        .arg(url(&d, "w/blk/q/r"))
        .output()
        .expect("run the client");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{o:?}");
    assert!(err.contains("Permission denied (13)"), "{err}");
    assert!(
        err.contains("module w is written as uid 65534 gid 65534")
            && err.contains("make its directory writable by them"),
        "{err}"
    );
    assert!(!err.contains(&module.display().to_string()), "{err}");
    let want = format!("make {} writable by them", module.display());
    assert!(log(&d).contains(&want), "{}", log(&d));
}
