//! The daemon's sending side stays inside its module (issue 11, items 2
//! and 4): a module holding `etclink -> OUTSIDE` (an absolute link out)
//! and `uplink -> ../outside` (a relative one) is pulled with every option
//! that follows symlinks (-L, --copy-unsafe-links, -k, -K), through
//! --files-from, through -R and with a trailing slash. The secret beside
//! the module never arrives, and links that stay in the module (one of
//! them climbing `..` to a sibling) are still followed.
//!
//! Every module runs with `landlock = off`, so what stops the escape is
//! the sender's `confine::Root`, not the Landlock sandbox.
//!
//! What stock `rsync --daemon` (Debian's 3.2.7, with its backported
//! openat2 confinement) does for the same module is the reference for the
//! exit code and the error text ("Invalid cross-device link (18)", exit
//! 23). Where they differ, oxsync follows rsync 3.5.0's intent (flist.c
//! readlink_stat, sender.c sender_open_copylinks_confined): a link whose
//! target leaves the module is refused. oxsync refuses it at the link
//! itself, so no name inside the outside directory is listed either, where
//! 3.2.7 lists the outside directory's names and fails on each of them.
//! The path in the message is relative to the module, followed by the
//! module's name (`"etclink" (in ro)`), as rsync prints it: a client is
//! never told where the module lies on the server.
use super::daemon::{start, start_env, url, Daemon};
use super::util::{oxsync_bin, rsync_bin};
use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SECRET: &[u8] = b"TOP-SECRET-OUTSIDE-THE-MODULE\n";
const INSIDE: &[u8] = b"inside the module\n";

const MODULES: &str = "[ro]\npath = %ROOT%/ro\nlandlock = off\n\
[rw]\npath = %ROOT%/mod\nread only = no\nlandlock = off\n";

/// The same modules for stock `rsync --daemon` (which has no `landlock`).
const STOCK_MODULES: &str = "[ro]\npath = %ROOT%/ro\n[rw]\npath = %ROOT%/mod\nread only = no\n";

/// An oxsync daemon and a stock one serving the same planted tree.
struct Pair {
    ox: Daemon,
    stock: Daemon,
    /// The oxsync daemon's outside directory.
    outside: PathBuf,
}

fn pair() -> Pair {
    pair_env(&[])
}

/// As [`pair`], with extra environment variables for the oxsync daemon.
fn pair_env(env: &[(&str, &str)]) -> Pair {
    let ox = start_env(&oxsync_bin(), MODULES, env);
    let stock = start(&rsync_bin(), STOCK_MODULES);
    let outside = plant(&ox);
    plant(&stock);
    Pair { ox, stock, outside }
}

/// The module tree; returns the outside directory.
fn plant(d: &Daemon) -> PathBuf {
    let root = d.root();
    let outside = root.join("outside");
    fs::create_dir_all(outside.join("deeper")).expect("mkdir");
    fs::write(outside.join("secret.txt"), SECRET).expect("w");
    fs::write(outside.join("deeper/secret2.txt"), SECRET).expect("w");
    let ro = root.join("ro");
    fs::create_dir_all(ro.join("real")).expect("mkdir");
    fs::create_dir_all(ro.join("sub")).expect("mkdir");
    fs::write(ro.join("real/in.txt"), INSIDE).expect("w");
    symlink(&outside, ro.join("etclink")).expect("ln");
    symlink("../outside", ro.join("uplink")).expect("ln");
    symlink("../outside/secret.txt", ro.join("filelink")).expect("ln");
    symlink("real", ro.join("inlink")).expect("ln");
    symlink("real/in.txt", ro.join("infile")).expect("ln");
    // Climbs ".." to a sibling inside the module.
    symlink("../real", ro.join("sub/climb")).expect("ln");
    outside
}

/// Every file below `dir` whose bytes contain the secret.
fn leaked(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return found;
    };
    for e in rd.flatten() {
        let p = e.path();
        let m = fs::symlink_metadata(&p).expect("lstat");
        if m.is_dir() {
            found.extend(leaked(&p));
        } else if m.is_file() {
            let data = fs::read(&p).expect("read");
            if data.windows(SECRET.len()).any(|w| w == SECRET) {
                found.push(p);
            }
        } else if m.file_type().is_symlink() {
            // A link received as a link is fine; it must not have been
            // followed on the sending side into a regular file.
        }
    }
    found
}

fn pull(client: &Path, d: &Daemon, path: &str, args: &[&str], stdin: &[u8], dst: &Path) -> Output {
    let _ = fs::remove_dir_all(dst);
    let mut child = Command::new(client)
        .args(args)
        .arg(url(d, path))
        .arg(format!("{}/", dst.display()))
        .env_remove("RSYNC_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("client");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("stdin");
    drop(input);
    child.wait_with_output().expect("client")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A snapshot of the outside tree: names and contents.
fn outside_state(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir).expect("rd").flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(outside_state(&p));
        } else {
            v.push((p.clone(), fs::read(&p).expect("r")));
        }
    }
    v.sort();
    v
}

/// One pull against both daemons. Stock rsync against stock `rsync
/// --daemon` gives the reference exit code (and must not leak either);
/// then stock rsync and oxsync as clients of the oxsync daemon: the secret
/// never arrives, the exit code is `code` (the reference), and stderr
/// names the refused link with EXDEV when `refused` is given.
fn check(p: &Pair, path: &str, args: &[&str], stdin: &[u8], code: i32, refused: Option<&str>) {
    let dst = p.stock.root().join("dst");
    let o = pull(&rsync_bin(), &p.stock, path, args, stdin, &dst);
    let what = format!("stock daemon {args:?} {path}: {o:?}");
    assert!(leaked(&dst).is_empty(), "secret leaked by {what}");
    assert_eq!(o.status.code(), Some(code), "reference: {what}");
    for client in [rsync_bin(), oxsync_bin()] {
        let dst = p.ox.root().join("dst");
        let o = pull(&client, &p.ox, path, args, stdin, &dst);
        let what = format!("{} {args:?} {path}: {o:?}", client.display());
        assert!(leaked(&dst).is_empty(), "secret leaked by {what}");
        assert_eq!(o.status.code(), Some(code), "{what}");
        let e = err(&o);
        assert!(
            !shows_module_dir(&p.ox, &e),
            "module directory shown: {what}"
        );
        if let Some(name) = refused {
            assert!(
                e.contains(name) && e.contains("Invalid cross-device link (18)"),
                "{what}"
            );
        }
    }
}

/// Whether `text` names the directory of `d`'s modules (a client is told
/// paths relative to a module, as upstream's full_fname(), never where
/// the module lies on the server).
fn shows_module_dir(d: &Daemon, text: &str) -> bool {
    ["ro", "mod"]
        .iter()
        .any(|m| text.contains(&d.root().join(m).display().to_string()))
}

fn file(p: &Path) -> Option<Vec<u8>> {
    let m = fs::symlink_metadata(p).ok()?;
    m.is_file().then(|| fs::read(p).expect("read"))
}

#[test]
fn copy_links_stay_in_the_module() {
    let p = pair();
    let (d, outside) = (&p.ox, &p.outside);
    let before = outside_state(outside);
    check(&p, "ro/", &["-rL"], b"", 23, Some("etclink"));
    // In-module links are still followed (after the refused ones).
    for client in [rsync_bin(), oxsync_bin()] {
        let dst = d.root().join("dst");
        let o = pull(&client, d, "ro/", &["-rL"], b"", &dst);
        let e = err(&o);
        for name in ["etclink", "uplink", "filelink"] {
            assert!(e.contains(&format!("\"{name}\" (in ro)")), "{name}: {o:?}");
        }
        assert!(!shows_module_dir(d, &e), "{o:?}");
        assert_eq!(file(&dst.join("inlink/in.txt")).as_deref(), Some(INSIDE));
        assert_eq!(file(&dst.join("infile")).as_deref(), Some(INSIDE));
        assert_eq!(file(&dst.join("sub/climb/in.txt")).as_deref(), Some(INSIDE));
        assert!(!dst.join("etclink").exists() && !dst.join("uplink").exists());
    }
    assert_eq!(outside_state(outside), before, "outside tree changed");
}

#[test]
fn copy_unsafe_links_stay_in_the_module() {
    let p = pair();
    let d = &p.ox;
    check(
        &p,
        "ro/",
        &["-r", "--copy-unsafe-links"],
        b"",
        23,
        Some("etclink"),
    );
    // Pulling a subdirectory, `climb -> ../real` leaves the transfer tree
    // but not the module: it is followed.
    for client in [rsync_bin(), oxsync_bin()] {
        let dst = d.root().join("dst");
        let o = pull(
            &client,
            d,
            "ro/sub/",
            &["-r", "--copy-unsafe-links"],
            b"",
            &dst,
        );
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        assert_eq!(
            file(&dst.join("climb/in.txt")).as_deref(),
            Some(INSIDE),
            "{o:?}"
        );
    }
}

#[test]
fn dirlinks_options_stay_in_the_module() {
    let p = pair();
    let d = &p.ox;
    // -K is the receiver's: the sender follows nothing. -k follows the
    // directory links that stay inside and refuses the others (stock
    // rsync lists them as directories and then fails to read them: the
    // same exit code).
    check(&p, "ro/", &["-rK"], b"", 0, None);
    check(&p, "ro/", &["-rk"], b"", 23, Some("etclink"));
    check(&p, "ro/", &["-rlk"], b"", 23, Some("uplink"));
    for client in [rsync_bin(), oxsync_bin()] {
        let dst = d.root().join("dst");
        let o = pull(&client, d, "ro/", &["-rlk"], b"", &dst);
        assert_eq!(
            file(&dst.join("inlink/in.txt")).as_deref(),
            Some(INSIDE),
            "{o:?}"
        );
        assert_eq!(file(&dst.join("sub/climb/in.txt")).as_deref(), Some(INSIDE));
        assert!(fs::symlink_metadata(dst.join("uplink")).is_err(), "{o:?}");
        // -l alone sends the links as links.
        let o = pull(&client, d, "ro/", &["-rl"], b"", &dst);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let target = fs::read_link(dst.join("etclink")).expect("etclink sent as a link");
        assert_eq!(target, d.root().join("outside"));
    }
}

#[test]
fn named_paths_through_a_link_stay_in_the_module() {
    let p = pair();
    let d = &p.ox;
    let names = b"etclink/secret.txt\nuplink/deeper/secret2.txt\nreal/in.txt\n";
    check(
        &p,
        "ro/",
        &["-r", "--files-from=-"],
        names,
        23,
        Some("etclink/secret.txt"),
    );
    for client in [rsync_bin(), oxsync_bin()] {
        let dst = d.root().join("dst");
        let o = pull(&client, d, "ro/", &["-r", "--files-from=-"], names, &dst);
        assert_eq!(
            file(&dst.join("real/in.txt")).as_deref(),
            Some(INSIDE),
            "{o:?}"
        );
    }
    check(
        &p,
        "ro/etclink/secret.txt",
        &["-rR"],
        b"",
        23,
        Some("etclink/secret.txt"),
    );
    check(
        &p,
        "ro/./uplink/secret.txt",
        &["-rR"],
        b"",
        23,
        Some("uplink/secret.txt"),
    );
    check(
        &p,
        "ro/etclink/secret.txt",
        &["-r"],
        b"",
        23,
        Some("etclink/secret.txt"),
    );
    check(&p, "ro/etclink/", &["-r"], b"", 23, Some("etclink"));
    check(&p, "ro/uplink/", &["-rL"], b"", 23, Some("uplink"));
    check(&p, "ro/etclink/deeper/", &["-r"], b"", 23, Some("etclink"));
    // A link named by itself without -l is skipped, never followed.
    check(&p, "ro/filelink", &["-r"], b"", 0, None);
    check(&p, "ro/filelink", &["-rL"], b"", 23, Some("filelink"));
    // Named paths through in-module links still work.
    for client in [rsync_bin(), oxsync_bin()] {
        let dst = d.root().join("dst");
        let o = pull(&client, d, "ro/inlink/in.txt", &["-rR"], b"", &dst);
        assert_eq!(
            file(&dst.join("inlink/in.txt")).as_deref(),
            Some(INSIDE),
            "{o:?}"
        );
        let o = pull(&client, d, "ro/sub/climb/", &["-r"], b"", &dst);
        assert_eq!(file(&dst.join("in.txt")).as_deref(), Some(INSIDE), "{o:?}");
    }
}

/// The three client/daemon pairings: stock/stock (the reference), then
/// stock and oxsync clients against the oxsync daemon.
fn runs(p: &Pair) -> [(PathBuf, &Daemon); 3] {
    [
        (rsync_bin(), &p.stock),
        (rsync_bin(), &p.ox),
        (oxsync_bin(), &p.ox),
    ]
}

#[test]
fn read_only_module_refuses_remove_source_files() {
    let p = pair();
    for (client, d) in runs(&p) {
        let ro = d.root().join("ro");
        fs::write(ro.join("keep.txt"), INSIDE).expect("w");
        let dst = d.root().join("dst");
        let o = pull(
            &client,
            d,
            "ro/",
            &["-r", "--remove-source-files"],
            b"",
            &dst,
        );
        // upstream: main.c do_server_sender(), RERR_SYNTAX.
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        assert!(
            err(&o).contains("ERROR: --remove-source-files cannot be used with a read-only module"),
            "{o:?}"
        );
        assert_eq!(fs::read(ro.join("keep.txt")).expect("kept"), INSIDE);
        assert_eq!(fs::read(ro.join("real/in.txt")).expect("kept"), INSIDE);
        assert!(!dst.join("keep.txt").exists(), "{o:?}");
    }
}

#[test]
fn remove_source_files_unlinks_inside_the_module_only() {
    let p = pair();
    for (client, d) in runs(&p) {
        let outside = d.root().join("outside");
        let m = d.root().join("mod");
        fs::create_dir_all(m.join("dir")).expect("mkdir");
        fs::write(m.join("dir/gone.txt"), INSIDE).expect("w");
        let _ = fs::remove_file(m.join("away"));
        symlink(&outside, m.join("away")).expect("ln");
        let before = outside_state(&outside);
        let dst = d.root().join("dst");
        let o = pull(
            &client,
            d,
            "rw/",
            &["-rL", "--remove-source-files"],
            b"",
            &dst,
        );
        assert_eq!(o.status.code(), Some(23), "{o:?}");
        assert_eq!(file(&dst.join("dir/gone.txt")).as_deref(), Some(INSIDE));
        assert!(!m.join("dir/gone.txt").exists(), "sent file removed: {o:?}");
        assert_eq!(
            outside_state(&outside),
            before,
            "outside tree changed: {o:?}"
        );
        assert!(leaked(&dst).is_empty(), "{o:?}");
    }
}

/// `insecure links = yes` (rsync 3.5.0's operator opt-out) gives the
/// module's sender the old behaviour back: links are followed anywhere.
#[test]
fn insecure_links_opt_out_follows_anywhere() {
    let d = start(
        &oxsync_bin(),
        "[ins]\npath = %ROOT%/ro\nlandlock = off\ninsecure links = yes\n",
    );
    plant(&d);
    let dst = d.root().join("dst");
    let o = pull(&rsync_bin(), &d, "ins/", &["-rL"], b"", &dst);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(
        file(&dst.join("etclink/secret.txt")).as_deref(),
        Some(SECRET)
    );
    assert_eq!(file(&dst.join("inlink/in.txt")).as_deref(), Some(INSIDE));
}

/// Where openat2 is missing, the `O_NOFOLLOW` walk follows in-module links
/// itself and refuses the ones that leave (forced here in the debug build
/// with `OXSYNC_TEST_FORCE_WALK`).
#[test]
fn fallback_walk_stays_in_the_module() {
    let p = pair_env(&[("OXSYNC_TEST_FORCE_WALK", "1")]);
    let d = &p.ox;
    check(&p, "ro/", &["-rL"], b"", 23, Some("etclink"));
    check(&p, "ro/", &["-rk"], b"", 23, Some("etclink"));
    let names = b"etclink/secret.txt\nuplink/deeper/secret2.txt\nreal/in.txt\n";
    check(
        &p,
        "ro/",
        &["-r", "--files-from=-"],
        names,
        23,
        Some("etclink/secret.txt"),
    );
    check(&p, "ro/etclink/", &["-r"], b"", 23, Some("etclink"));
    for client in [rsync_bin(), oxsync_bin()] {
        let dst = d.root().join("dst");
        let o = pull(&client, d, "ro/", &["-rL"], b"", &dst);
        assert_eq!(
            file(&dst.join("inlink/in.txt")).as_deref(),
            Some(INSIDE),
            "{o:?}"
        );
        assert_eq!(file(&dst.join("sub/climb/in.txt")).as_deref(), Some(INSIDE));
        let o = pull(&client, d, "ro/inlink/in.txt", &["-rR"], b"", &dst);
        assert_eq!(
            file(&dst.join("inlink/in.txt")).as_deref(),
            Some(INSIDE),
            "{o:?}"
        );
    }
}

/// A source the client names that is not there is reported relative to
/// the module, with its name, as stock rsync's daemon reports it; the
/// module's directory appears in no message (before, the oxsync daemon
/// showed it: `link_stat "/srv/mod/nope" failed`).
#[test]
fn messages_name_paths_inside_the_module() {
    let p = pair();
    let line = |d: &Daemon, path: &str| {
        let dst = d.root().join("dst-missing");
        let o = pull(&rsync_bin(), d, path, &["-r"], b"", &dst);
        assert_eq!(o.status.code(), Some(23), "{path}: {o:?}");
        let e = err(&o);
        assert!(!shows_module_dir(d, &e), "module directory shown: {e}");
        let found = e.lines().find(|l| l.contains("link_stat"));
        found.map(str::to_string).unwrap_or_default()
    };
    let ours = line(&p.ox, "ro/nope");
    assert_eq!(
        ours,
        "rsync: [sender] link_stat \"nope\" (in ro) failed: No such file or directory (2)"
    );
    assert_eq!(ours, line(&p.stock, "ro/nope"));
    // Below the module's top (stock rsync writes "/sub/nope" here, its
    // working directory's tail).
    assert!(line(&p.ox, "ro/sub/nope").contains("\"sub/nope\" (in ro)"));
}
