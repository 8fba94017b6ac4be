//! `--iconv` beyond the file list: the `--files-from` names a receiving
//! side forwards under `-s` go over the wire in UTF-8 (each side converts,
//! upstream filesfrom_convert), and a server's message lines are sent in
//! UTF-8 and shown in the client's charset (upstream send_msg()'s and
//! rwrite()'s conversions). Checked against stock rsync in both roles.
use super::util::*;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (latin-1, utf-8) spellings of the names used.
const NAMES: [(&[u8], &str); 3] = [
    (b"caf\xe9-0", "café-0"),
    (b"\xdcber", "Über"),
    (b"plain", "plain"),
];

fn p(dir: &Path, name: &[u8]) -> PathBuf {
    dir.join(OsStr::from_bytes(name))
}

/// A tree with the names in one charset, each file holding its index, an
/// extra file not named in any list, and a dangling symlink with a
/// non-ASCII name.
fn make_tree(dir: &Path, latin1: bool) {
    fs::create_dir_all(dir).expect("tree");
    for (i, (l, u)) in NAMES.iter().enumerate() {
        let name = if latin1 { l } else { u.as_bytes() };
        fs::write(p(dir, name), format!("file {i}\n")).expect("file");
    }
    fs::write(dir.join("unlisted"), "x").expect("file");
    let dangling: &[u8] = if latin1 {
        b"caf\xe9-dangling"
    } else {
        "café-dangling".as_bytes()
    };
    std::os::unix::fs::symlink("nowhere", p(dir, dangling)).expect("symlink");
}

/// A pull by `client` from `server` over the remote-shell stand-in.
fn pull(s: &Scratch, client: &Path, server: &Path, args: &[&str], src: &Path, dst: &Path) -> Run {
    let mut c = Command::new(client);
    c.args(args)
        .arg("-e")
        .arg(s.rsh())
        .arg(format!("--rsync-path={}", server.display()))
        .arg(format!("host:{}/", src.display()))
        .arg(format!("{}/", dst.display()))
        .current_dir(s.root());
    run(&mut c, &s.logs())
}

/// Exactly the listed files arrived, named in the client's charset.
fn check_listed(dst: &Path, latin1: bool, what: &str) {
    let mut want: Vec<Vec<u8>> = Vec::new();
    for (i, (l, u)) in NAMES.iter().enumerate().take(2) {
        let name = if latin1 {
            l.to_vec()
        } else {
            u.as_bytes().to_vec()
        };
        let got = fs::read(p(dst, &name)).unwrap_or_else(|e| {
            panic!("{what}: {:?} missing: {e}", String::from_utf8_lossy(&name))
        });
        assert_eq!(got, format!("file {i}\n").into_bytes(), "{what}");
        want.push(name);
    }
    want.sort();
    let mut have: Vec<Vec<u8>> = fs::read_dir(dst)
        .expect("dst")
        .map(|e| e.expect("entry").file_name().as_bytes().to_vec())
        .collect();
    have.sort();
    assert_eq!(have, want, "{what}: only the listed files");
}

#[test]
fn files_from_names_forwarded_under_protect_args_are_converted() {
    let s = Scratch::new();
    let (latin1_src, utf8_src) = (s.path("l"), s.path("u"));
    make_tree(&latin1_src, true);
    make_tree(&utf8_src, false);
    let (list_l, list_u) = (s.path("list-l"), s.path("list-u"));
    fs::write(&list_l, b"caf\xe9-0\n\xdcber\n").unwrap();
    fs::write(&list_u, "café-0\nÜber\n").unwrap();
    let files_from = |l: &Path| format!("--files-from={}", l.display());

    // oxsync's client (ISO-8859-1) forwards its list to stock rsync's
    // sender (UTF-8): the names go in UTF-8.
    let d1 = s.path("d1");
    let ff = files_from(&list_l);
    let args = ["-rs", "--iconv=ISO-8859-1,UTF-8", ff.as_str()];
    pull(&s, &oxsync_bin(), &rsync_bin(), &args, &utf8_src, &d1).assert_code(0);
    check_listed(&d1, true, "oxsync client, rsync sender");

    // Stock rsync's client (UTF-8) forwards to oxsync's sender
    // (ISO-8859-1), which reads them back in its charset.
    let d2 = s.path("d2");
    let ff = files_from(&list_u);
    let args = ["-rs", "--iconv=UTF-8,ISO-8859-1", ff.as_str()];
    pull(&s, &rsync_bin(), &oxsync_bin(), &args, &latin1_src, &d2).assert_code(0);
    check_listed(&d2, false, "rsync client, oxsync sender");
}

#[test]
fn server_message_lines_are_converted() {
    let s = Scratch::new();
    let (latin1_src, utf8_src) = (s.path("l"), s.path("u"));
    make_tree(&latin1_src, true);
    make_tree(&utf8_src, false);
    let line = |dir: &Path, name: &[u8]| {
        let mut v = format!("symlink has no referent: \"{}/", dir.display()).into_bytes();
        v.extend_from_slice(name);
        v.extend_from_slice(b"-dangling\"");
        v
    };
    let has = |r: &Run, want: &[u8]| r.stderr.as_bytes().windows(want.len()).any(|w| w == want);
    // Stock rsync's client (UTF-8) from oxsync's server (ISO-8859-1): the
    // server's line goes in UTF-8, shown as such.
    let r = pull(
        &s,
        &rsync_bin(),
        &oxsync_bin(),
        &["-rL", "--iconv=UTF-8,ISO-8859-1"],
        &latin1_src,
        &s.path("d1"),
    );
    r.assert_code(23);
    let want = line(&latin1_src, "café".as_bytes());
    assert!(
        has(&r, &want),
        "{:?} lacks {:?}",
        r.stderr,
        String::from_utf8_lossy(&want)
    );
    // oxsync's client (ISO-8859-1) from oxsync's server (UTF-8): the line
    // arrives in UTF-8 and is shown in ISO-8859-1 (é escaped as one byte,
    // as the C locale has no such character).
    let r = pull(
        &s,
        &oxsync_bin(),
        &oxsync_bin(),
        &["-rL", "--iconv=ISO-8859-1,UTF-8"],
        &utf8_src,
        &s.path("d2"),
    );
    r.assert_code(23);
    let want = line(&utf8_src, b"caf\\#351");
    assert!(
        has(&r, &want),
        "{:?} lacks {:?}",
        r.stderr,
        String::from_utf8_lossy(&want)
    );
}
