//! A module's links to places inside it, reached the ways rsync 3.5.0's
//! daemon-symlink-escape-matrix test reaches them: a `-K` push through a
//! directory link, a push into a link named as the destination, and
//! `--compare-dest` naming a link. With `insecure links = yes` every link
//! already on disk is followed wherever it leads (a link that names the
//! module by its absolute path, one that climbs above it with `..` and
//! comes back in, and one that ends outside it), as rsync 3.5.0 restores
//! its legacy following there. Without it only links beneath the module
//! are followed and nothing outside changes. A link within the module
//! named as the push's destination is entered by every module, as
//! upstream's change_dir() enters it.
use crate::daemon::{self, Daemon};
use crate::util::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const PWNED: &[u8] = b"WROTE-THROUGH-LINK\n";
const SECRET: &[u8] = b"TARGET-CONTENT\n";

/// The link kinds, with whether the target is inside the module.
const LINKS: [(&str, bool); 5] = [
    ("rel", true),
    ("abs", true),
    ("transit", true),
    ("out", false),
    ("absout", false),
];

/// A fresh module at `%ROOT%/mod` holding `realdir/tgtfile` and one link
/// `evil` of `kind`; `%ROOT%/outside/tgtfile` beside it.
fn plant(d: &Daemon, kind: &str) {
    let root = d.root();
    let m = root.join("mod");
    let _ = fs::remove_dir_all(&m);
    let _ = fs::remove_dir_all(root.join("outside"));
    fs::create_dir_all(m.join("realdir")).expect("mkdir");
    fs::create_dir_all(root.join("outside")).expect("mkdir");
    fs::write(m.join("realdir/tgtfile"), SECRET).expect("write");
    fs::write(root.join("outside/tgtfile"), SECRET).expect("write");
    let target = match kind {
        "rel" => "realdir".to_string(),
        "abs" => m.join("realdir").display().to_string(),
        "transit" => "../mod/realdir".to_string(),
        "out" => "../outside".to_string(),
        _ => root.join("outside").display().to_string(),
    };
    symlink(target, m.join("evil")).expect("ln");
}

fn client(args: &[&str], src: &Path, dest: String) -> Output {
    Command::new(rsync_bin())
        .args(args)
        .arg(format!("{}/", src.display()))
        .arg(dest)
        .stdin(Stdio::null())
        .output()
        .expect("run client")
}

/// Where the file of `vector` would land through the link, and whether it
/// did (for compare-dest: whether the pushed file was skipped).
fn attempt(d: &Daemon, module: &str, vector: &str, kind: &str, inside: bool) -> bool {
    plant(d, kind);
    let root = d.root();
    let src = root.join("src");
    let _ = fs::remove_dir_all(&src);
    fs::create_dir_all(&src).expect("mkdir");
    let landed = if inside {
        root.join("mod/realdir/pwned")
    } else {
        root.join("outside/pwned")
    };
    let url = daemon::url(d, module);
    match vector {
        "keep-dirlinks" => {
            fs::create_dir_all(src.join("evil")).expect("mkdir");
            fs::write(src.join("evil/pwned"), PWNED).expect("write");
            client(&["-r", "--keep-dirlinks"], &src, format!("{url}/"));
            fs::read(&landed).is_ok_and(|b| b == PWNED)
        }
        "dest" => {
            fs::write(src.join("pwned"), PWNED).expect("write");
            client(&["-r"], &src, format!("{url}/evil/"));
            fs::read(&landed).is_ok_and(|b| b == PWNED)
        }
        _ => {
            fs::write(src.join("tgtfile"), SECRET).expect("write");
            let out = client(
                &["-r", "--checksum", "--compare-dest=/evil"],
                &src,
                format!("{url}/"),
            );
            assert!(out.status.success(), "{kind}: {out:?}");
            !root.join("mod/tgtfile").exists()
        }
    }
}

/// The outside tree holds what plant() put there and nothing else.
fn assert_outside_untouched(d: &Daemon) {
    let outside = d.root().join("outside");
    let names: Vec<_> = snapshot(&outside).into_keys().collect();
    assert_eq!(
        names,
        [Path::new(""), Path::new("tgtfile")],
        "outside changed"
    );
    assert_eq!(fs::read(outside.join("tgtfile")).expect("outside"), SECRET);
}

const MODULES: &str = "[ins]\npath = %ROOT%/mod\nread only = no\ninsecure links = yes\n\
    [sec]\npath = %ROOT%/mod\nread only = no\n";

#[test]
fn insecure_links_follow_every_pre_existing_link() {
    // The expectation is rsync 3.5.0's (testsuite/daemon-symlink-escape-
    // matrix_test.py: the opt-out follows every pre-existing link). Debian's
    // 3.2.7 cannot serve as the oracle: its backported secure_relative_open()
    // refuses even `rel` for a -K push, and it has no `insecure links`.
    let ours = daemon::start(&oxsync_bin(), MODULES);
    for vector in ["keep-dirlinks", "dest", "compare-dest"] {
        for (kind, inside) in LINKS {
            let got = attempt(&ours, "ins", vector, kind, inside);
            assert!(
                got,
                "insecure links = yes: {kind} (inside: {inside}) not followed ({vector})"
            );
        }
    }
}

#[test]
fn secure_module_follows_only_links_beneath_it() {
    let ours = daemon::start(&oxsync_bin(), MODULES);
    for vector in ["keep-dirlinks", "dest", "compare-dest"] {
        for (kind, inside) in LINKS {
            let got = attempt(&ours, "sec", vector, kind, inside);
            assert_eq!(got, kind == "rel", "insecure links = no: {kind} ({vector})");
            assert_outside_untouched(&ours);
        }
    }
}
