//! `insecure links = yes`, the administrator's per-module opt-out back to
//! rsync's legacy symlink following (rsync 3.5.0's
//! insecure-links-admin-optout and daemon-symlink-escape-matrix tests):
//! two modules over one tree holding a directory link `sub -> ../outside`
//! that leaves the module. The default module refuses to go through it and
//! leaves the outside tree byte for byte as it was; the opted-out module
//! follows it for reading (a `--copy-dirlinks` pull) and for writing (a
//! push through the pre-existing link), Landlock still engaged and widened
//! to the filesystem root, which the daemon log says plainly.
use crate::daemon::{self, Daemon};
use crate::util::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

const SECRET: &[u8] = b"OUT-OF-MODULE-SECRET\n";
const PWNED: &[u8] = b"WROTE-THROUGH-LINK\n";

/// Both modules serve `%ROOT%/tree`; Landlock is left at its default
/// (required where the kernel has it), so the opt-out must widen it.
const MODULES: &str = "[sec]\npath = %ROOT%/tree\n\
    [ins]\npath = %ROOT%/tree\ninsecure links = yes\n\
    [secw]\npath = %ROOT%/tree\nread only = no\n\
    [insw]\npath = %ROOT%/tree\nread only = no\ninsecure links = yes\n";

/// `%ROOT%/tree/{intree.txt, sub -> ../outside}` and
/// `%ROOT%/outside/secret.txt`; returns the outside directory.
fn plant(d: &Daemon) -> PathBuf {
    let root = d.root();
    let tree = root.join("tree");
    let outside = root.join("outside");
    let _ = fs::remove_dir_all(&tree);
    let _ = fs::remove_dir_all(&outside);
    fs::create_dir_all(&tree).expect("mkdir tree");
    fs::create_dir_all(&outside).expect("mkdir outside");
    fs::write(tree.join("intree.txt"), b"in-module\n").expect("write");
    fs::write(outside.join("secret.txt"), SECRET).expect("write");
    symlink("../outside", tree.join("sub")).expect("ln");
    outside
}

fn scratch_dir(d: &Daemon, name: &str) -> PathBuf {
    let p = d.root().join(name);
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).expect("mkdir");
    p
}

fn rsync(d: &Daemon, args: &[&str], from: &str, to: &str) -> Run {
    let logs = scratch_dir(d, "client-logs");
    run(
        Command::new(rsync_bin()).args(args).arg(from).arg(to),
        &logs,
    )
}

/// The daemon log's `landlock:` lines for `module`.
fn landlock_lines(d: &Daemon, module: &str) -> Vec<String> {
    let log = fs::read_to_string(d.root().join("daemon.log")).unwrap_or_default();
    let tag = format!("(module {module}, ");
    log.lines()
        .filter(|l| l.contains("] landlock: ") && l.contains(&tag))
        .map(str::to_string)
        .collect()
}

#[test]
fn copy_dirlinks_pull_follows_the_escaping_link_only_when_opted_out() {
    let d = daemon::start(&oxsync_bin(), MODULES);
    let outside = plant(&d);
    let before = snapshot(&outside);

    // Default module: the link out of the module is not followed.
    let dst = scratch_dir(&d, "dst-sec");
    let r = rsync(
        &d,
        &["-r", "--copy-dirlinks"],
        &daemon::url(&d, "sec/"),
        &format!("{}/", dst.display()),
    );
    r.assert_code(23);
    assert_eq!(
        fs::read(dst.join("intree.txt")).ok().as_deref(),
        Some(&b"in-module\n"[..]),
        "{r:?}"
    );
    assert!(
        !dst.join("sub/secret.txt").exists(),
        "the default module served a file through a link out of it: {r:?}"
    );
    // One plain line per connection (issue 11): no escaped newline, no
    // wording that reads as if a granted path were missing.
    let lines = landlock_lines(&d, "sec");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines.iter().all(|l| !l.contains("insecure links")
            && !l.contains("\\#012")
            && !l.contains("skipped missing")
            && l.ends_with("(module sec, read-only)")),
        "{lines:?}"
    );

    // `insecure links = yes`: served as stock rsync serves it.
    let dst = scratch_dir(&d, "dst-ins");
    let r = rsync(
        &d,
        &["-r", "--copy-dirlinks"],
        &daemon::url(&d, "ins/"),
        &format!("{}/", dst.display()),
    );
    r.assert_code(0);
    assert_eq!(
        fs::read(dst.join("sub/secret.txt")).ok().as_deref(),
        Some(SECRET),
        "the opted-out module did not follow its link: {r:?}"
    );
    assert_eq!(
        fs::read(dst.join("intree.txt")).ok().as_deref(),
        Some(&b"in-module\n"[..])
    );
    let lines = landlock_lines(&d, "ins");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with(
            "(module ins, read-only); module ins has `insecure links = yes`: \
             reads beyond the module are allowed"
        ),
        "{lines:?}"
    );
    // A pull only reads: the outside tree is as it was.
    assert_eq!(snapshot(&outside), before, "the outside tree changed");
}

/// Pushes `src/sub/pwned` with --keep-dirlinks through the link `sub`.
fn push_keep_dirlinks(d: &Daemon, module: &str) -> Run {
    let src = scratch_dir(d, "src-push");
    fs::create_dir_all(src.join("sub")).expect("mkdir");
    fs::write(src.join("sub/pwned"), PWNED).expect("write");
    rsync(
        d,
        &["-r", "--keep-dirlinks"],
        &format!("{}/", src.display()),
        &daemon::url(d, &format!("{module}/")),
    )
}

/// Pushes `src/pwned2` into `MODULE/sub/`, the link named as destination.
fn push_into_link(d: &Daemon, module: &str) -> Run {
    let src = scratch_dir(d, "src-plain");
    fs::write(src.join("pwned2"), PWNED).expect("write");
    rsync(
        d,
        &["-r"],
        &format!("{}/", src.display()),
        &daemon::url(d, &format!("{module}/sub/")),
    )
}

#[test]
fn push_through_a_pre_existing_link_is_refused_by_default() {
    let d = daemon::start(&oxsync_bin(), MODULES);
    let outside = plant(&d);
    let before = snapshot(&outside);
    // The destination named through the link is refused.
    let r = push_into_link(&d, "secw");
    assert_ne!(r.code, Some(0), "{r:?}");
    assert_eq!(snapshot(&outside), before, "wrote through the link: {r:?}");
    assert_eq!(
        fs::read_link(d.root().join("tree/sub")).expect("readlink"),
        Path::new("../outside")
    );
    // -K keeps only links that stay in the module: this one is replaced by
    // a real directory in the module, and the file lands there.
    let r = push_keep_dirlinks(&d, "secw");
    r.assert_code(0);
    assert_eq!(snapshot(&outside), before, "wrote through the link: {r:?}");
    let sub = d.root().join("tree/sub");
    assert!(fs::symlink_metadata(&sub).expect("lstat").is_dir(), "{r:?}");
    assert_eq!(fs::read(sub.join("pwned")).ok().as_deref(), Some(PWNED));
}

#[test]
fn push_through_a_pre_existing_link_is_written_through_when_opted_out() {
    let d = daemon::start(&oxsync_bin(), MODULES);
    let outside = plant(&d);
    let keep = push_keep_dirlinks(&d, "insw");
    keep.assert_code(0);
    let plain = push_into_link(&d, "insw");
    plain.assert_code(0);
    assert_eq!(
        fs::read(outside.join("pwned")).ok().as_deref(),
        Some(PWNED),
        "--keep-dirlinks push did not go through the link: {keep:?}"
    );
    assert_eq!(
        fs::read(outside.join("pwned2")).ok().as_deref(),
        Some(PWNED),
        "push into MODULE/sub/ did not go through the link: {plain:?}"
    );
    assert_eq!(
        fs::read(outside.join("secret.txt")).ok().as_deref(),
        Some(SECRET)
    );
    assert_eq!(
        fs::read_link(d.root().join("tree/sub")).expect("readlink"),
        Path::new("../outside")
    );
    let lines = landlock_lines(&d, "insw");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines.iter().all(|l| l.ends_with(
            "(module insw, read-write); module insw has `insecure links = yes`: \
             reads and writes beyond the module are allowed"
        )),
        "{lines:?}"
    );
}

/// The opt-out covers links already on disk; a client still cannot upload
/// one that leaves the module (rsync 3.5.0's matrix expects the same):
/// munged by default without chroot, sanitized with `munge symlinks = no`.
#[test]
fn opt_out_does_not_let_a_client_upload_an_escaping_link() {
    let modules = format!(
        "{MODULES}[insw_nomunge]\npath = %ROOT%/tree\nread only = no\n\
         insecure links = yes\nmunge symlinks = no\n"
    );
    let d = daemon::start(&oxsync_bin(), &modules);
    let outside = plant(&d);
    let before = snapshot(&outside);
    let src = scratch_dir(&d, "src-link");
    symlink("../outside", src.join("evil")).expect("ln");
    fs::create_dir_all(src.join("evil2")).expect("mkdir");
    let evil = d.root().join("tree/evil");
    let upload = |module: &str| {
        let _ = fs::remove_file(&evil);
        let r = rsync(
            &d,
            &["-rl"],
            &format!("{}/", src.display()),
            &daemon::url(&d, &format!("{module}/")),
        );
        assert!(d.root().join("tree/evil2").is_dir(), "{r:?}");
        r
    };
    let r = upload("insw");
    r.assert_code(0);
    assert_eq!(
        fs::read_link(&evil).expect("munged link"),
        Path::new("/rsyncd-munged/../outside"),
        "{r:?}"
    );
    // Without munging, the target is sanitized into the module as rsync's
    // sanitize_path() does: `../outside` becomes `outside`.
    let r = upload("insw_nomunge");
    r.assert_code(0);
    assert_eq!(
        fs::read_link(&evil).expect("sanitized link"),
        Path::new("outside"),
        "{r:?}"
    );
    assert_eq!(snapshot(&outside), before);
}
