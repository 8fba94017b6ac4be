//! `--iconv`: names (and symlink targets) in ISO-8859-1 on one side arrive
//! in UTF-8 on the other, with oxsync's client against stock rsync as
//! sender and receiver, stock rsync's client against an oxsync server, a
//! local copy, and a daemon module's `charset`; rsync's errors for a
//! charset iconv does not know and a name that cannot be converted.
use super::daemon::{root, start, url};
use super::util::*;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

/// (latin-1 name, utf-8 name, content) of the test files: enough of them
/// that a stock sender's list (in directory order) is not sorted.
fn names() -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut v = Vec::new();
    for (i, (l1, u8)) in [
        (&b"caf\xe9"[..], "café"),
        (b"na\xefve", "naïve"),
        (b"\xdcber", "Über"),
        (b"plain", "plain"),
        (b"\xe0 la", "à la"),
    ]
    .iter()
    .enumerate()
    {
        for j in 0..4 {
            let mut l = l1.to_vec();
            l.extend_from_slice(format!("-{j}").as_bytes());
            let u = format!("{u8}-{j}").into_bytes();
            v.push((
                l,
                u,
                format!("content {i} {j}\n")
                    .repeat(i * 40 + j + 1)
                    .into_bytes(),
            ));
        }
    }
    v
}

fn p(dir: &Path, name: &[u8]) -> std::path::PathBuf {
    dir.join(OsStr::from_bytes(name))
}

/// A tree with the names in one charset (`latin1`) and a symlink whose
/// target is one of them.
fn make_tree(dir: &Path, latin1: bool) {
    fs::create_dir_all(dir).expect("tree");
    for (l, u, data) in names() {
        fs::write(p(dir, if latin1 { &l } else { &u }), data).expect("file");
    }
    let (link, target) = if latin1 {
        (&b"lien-\xe9"[..], &b"caf\xe9-0"[..])
    } else {
        ("lien-é".as_bytes(), "café-0".as_bytes())
    };
    std::os::unix::fs::symlink(OsStr::from_bytes(target), p(dir, link)).expect("symlink");
}

/// Every name arrived in the other charset with its own content.
fn check_tree(dir: &Path, latin1: bool, what: &str) {
    check_tree_munged(dir, latin1, what, b"")
}

/// As [`check_tree`], the symlink target behind `prefix` (a daemon's
/// `munge symlinks`).
fn check_tree_munged(dir: &Path, latin1: bool, what: &str, prefix: &[u8]) {
    let mut want: Vec<Vec<u8>> = Vec::new();
    for (l, u, data) in names() {
        let name = if latin1 { l } else { u };
        let got = fs::read(p(dir, &name)).unwrap_or_else(|e| {
            panic!("{what}: {:?} missing: {e}", String::from_utf8_lossy(&name))
        });
        assert!(
            got == data,
            "{what}: wrong content in {:?}",
            String::from_utf8_lossy(&name)
        );
        want.push(name);
    }
    let (link, target) = if latin1 {
        (b"lien-\xe9".to_vec(), b"caf\xe9-0".to_vec())
    } else {
        ("lien-é".as_bytes().to_vec(), "café-0".as_bytes().to_vec())
    };
    let t = fs::read_link(p(dir, &link)).unwrap_or_else(|e| panic!("{what}: link: {e}"));
    assert_eq!(
        t.as_os_str().as_bytes(),
        &[prefix, &target[..]].concat()[..],
        "{what}: link target"
    );
    want.push(link);
    want.sort();
    let mut have: Vec<Vec<u8>> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().as_bytes().to_vec())
        .collect();
    have.sort();
    assert_eq!(have, want, "{what}: names");
}

fn remote(
    s: &Scratch,
    client: &Path,
    server: &Path,
    args: &[&str],
    from: String,
    to: String,
) -> Run {
    run(
        Command::new(client)
            .args(["-rl"])
            .args(args)
            .arg("-e")
            .arg(s.rsh())
            .arg("--rsync-path")
            .arg(server)
            .arg(from)
            .arg(to),
        &s.logs(),
    )
}

/// oxsync's client with `--iconv=ISO-8859-1,UTF-8` pushes to and pulls
/// from a stock rsync whose side is in UTF-8, and stock rsync's client
/// does the same against an oxsync server.
#[test]
fn latin1_names_arrive_in_utf8_and_back() {
    let s = Scratch::new();
    let latin = s.path("latin");
    make_tree(&latin, true);
    let utf = s.path("utf");
    make_tree(&utf, false);
    let spec = ["--iconv=ISO-8859-1,UTF-8"];
    for (label, client, server) in [
        ("ox-client", oxsync_bin(), rsync_bin()),
        ("ox-server", rsync_bin(), oxsync_bin()),
    ] {
        let pushed = s.path(&format!("pushed-{label}"));
        remote(
            &s,
            &client,
            &server,
            &spec,
            format!("{}/", latin.display()),
            format!("lh:{}", pushed.display()),
        )
        .assert_code(0);
        check_tree(&pushed, false, &format!("{label} push"));
        let pulled = s.path(&format!("pulled-{label}"));
        remote(
            &s,
            &client,
            &server,
            &spec,
            format!("lh:{}/", utf.display()),
            pulled.display().to_string(),
        )
        .assert_code(0);
        check_tree(&pulled, true, &format!("{label} pull"));
    }
    // The sending client names the files in its own charset, as stock
    // rsync's does.
    let listed = |client: &Path, tag: &str| {
        let out = remote(
            &s,
            client,
            &rsync_bin(),
            &["-v", "--iconv=ISO-8859-1,UTF-8"],
            format!("{}/", latin.display()),
            format!("lh:{}", s.path(tag).display()),
        );
        out.assert_code(0);
        let mut lines: Vec<String> = out
            .stdout
            .lines()
            .filter(|l| {
                l.contains("-")
                    && !l.contains("bytes")
                    && !l.starts_with("sen")
                    && !l.starts_with("created")
            })
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let ours = listed(&oxsync_bin(), "v-ours");
    assert_eq!(ours, listed(&rsync_bin(), "v-theirs"));
    assert!(ours.iter().any(|l| l == "caf\\#351-0"), "{ours:?}");
    // A local copy converts between the two charsets as well.
    let local = s.path("local");
    run(
        Command::new(oxsync_bin())
            .args(["-rl", "--iconv=UTF-8,ISO-8859-1"])
            .arg(format!("{}/", utf.display()))
            .arg(&local),
        &s.logs(),
    )
    .assert_code(0);
    check_tree(&local, true, "local");
    // RSYNC_ICONV stands for the option, --no-iconv turns it off.
    let env = s.path("env");
    let mut cmd = Command::new(oxsync_bin());
    cmd.env("RSYNC_ICONV", "ISO-8859-1,UTF-8")
        .args(["-rl", "-e"])
        .arg(s.rsh())
        .arg("--rsync-path")
        .arg(rsync_bin())
        .arg(format!("{}/", latin.display()))
        .arg(format!("lh:{}", env.display()));
    let out = run(&mut cmd, &s.logs());
    out.assert_code(0);
    check_tree(&env, false, "RSYNC_ICONV");
    let off = s.path("off");
    let mut cmd = Command::new(oxsync_bin());
    cmd.env("RSYNC_ICONV", "ISO-8859-1,UTF-8")
        .args(["-rl", "--no-iconv"])
        .arg(format!("{}/", latin.display()))
        .arg(&off);
    run(&mut cmd, &s.logs()).assert_code(0);
    check_tree(&off, true, "--no-iconv");
}

/// A daemon module's `charset` applies when the client asks for --iconv;
/// a module without one refuses it, as rsync 3.5.0 does.
#[test]
fn a_daemon_module_charset() {
    let s = Scratch::new();
    let d = start(
        &oxsync_bin(),
        "[m]\npath = %ROOT%/mod\ncharset = ISO-8859-1\nread only = no\n\
         [plain]\npath = %ROOT%/mod\n",
    );
    let module = root(&d).join("mod");
    make_tree(&module, true);
    let utf = s.path("utf");
    make_tree(&utf, false);
    for client in [oxsync_bin(), rsync_bin()] {
        let tag = if client == oxsync_bin() {
            "ox"
        } else {
            "rsync"
        };
        let pulled = s.path(&format!("pulled-{tag}"));
        run(
            Command::new(&client)
                .args(["-rl", "--iconv=UTF-8"])
                .arg(url(&d, "m/"))
                .arg(&pulled),
            &s.logs(),
        )
        .assert_code(0);
        check_tree(&pulled, false, &format!("{tag} pull"));
        let out = run(
            Command::new(&client)
                .args(["-rl", "--iconv=UTF-8"])
                .arg(url(&d, "plain/"))
                .arg(s.path(&format!("never-{tag}"))),
            &s.logs(),
        );
        out.assert_code(4);
        assert!(
            out.stderr
                .contains("The server is configured to refuse --iconv"),
            "{tag}: {}",
            out.stderr
        );
        assert!(!s.path(&format!("never-{tag}")).exists());
    }
    let up = root(&d).join("mod/up");
    run(
        Command::new(rsync_bin())
            .args(["-rl", "--iconv=UTF-8"])
            .arg(format!("{}/", utf.display()))
            .arg(url(&d, "m/up/")),
        &s.logs(),
    )
    .assert_code(0);
    check_tree_munged(&up, true, "daemon push", b"/rsyncd-munged/");
}

/// An unknown charset is rsync's iconv_open error (exit 4); a name that
/// is not valid in the sender's charset is reported and left out (exit
/// 23), the rest arrives.
#[test]
fn iconv_errors() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    fs::write(src.join("ok"), b"ok\n").expect("ok");
    fs::write(p(&src, b"bad\xff"), b"bad\n").expect("bad");
    let out = run(
        Command::new(oxsync_bin())
            .args(["-r", "--iconv=NO-SUCH-CHARSET,UTF-8"])
            .arg(format!("{}/", src.display()))
            .arg(s.path("x")),
        &s.logs(),
    );
    out.assert_code(4);
    assert!(
        out.stderr
            .starts_with("iconv_open(\"UTF-8\", \"NO-SUCH-CHARSET\") failed\n"),
        "{}",
        out.stderr
    );
    assert!(!s.path("x").exists());
    let dst = s.path("dst");
    let out = remote(
        &s,
        &oxsync_bin(),
        &rsync_bin(),
        &["--iconv=UTF-8,ISO-8859-1"],
        format!("{}/", src.display()),
        format!("lh:{}", dst.display()),
    );
    out.assert_code(23);
    assert!(
        out.stderr.contains("[sender] cannot convert filename: bad"),
        "{}",
        out.stderr
    );
    assert_eq!(fs::read(dst.join("ok")).expect("ok"), b"ok\n");
    assert_eq!(fs::read_dir(&dst).expect("dst").count(), 1);
}
