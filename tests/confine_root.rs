//! `--confine-root=DIR` and `--drop-D`, the two options rsync 3.5.0's
//! rrsync gives the server it starts for a restricted directory: every
//! path the server opens on its own (a `--files-from` list, the update and
//! basis directories, merge files) must resolve inside DIR, an fd pin
//! (`/proc/self/fd/N`) inside DIR included; and a restricted receiver
//! creates no devices or special files while the file list keeps its -D
//! framing. The remote shell here plays rrsync: it drops the host and the
//! client's program name, changes into the root and starts the server with
//! the two options.
use super::util::{oxsync_bin, run, write_script, Run, Scratch};
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch tree with `root/` (the restricted directory), an `outside`
/// file beside it, and a remote shell that starts the server confined to
/// `root/` (`confined`) or plainly in it (`plain`).
struct Restricted {
    s: Scratch,
}

impl Restricted {
    fn new() -> Restricted {
        let s = Scratch::new();
        fs::create_dir_all(s.path("root")).unwrap();
        fs::write(s.path("root/keep"), b"kept\n").unwrap();
        fs::write(s.path("root/other"), b"other\n").unwrap();
        fs::write(s.path("root/inside-list"), b"keep\n").unwrap();
        fs::write(s.path("outside-list"), b"keep\n").unwrap();
        let root = s.path("root");
        let bin = oxsync_bin();
        write_script(
            &s.path("rsh-confined"),
            &format!(
                "#!/bin/sh\nshift\nshift\ncd '{}' || exit 1\nexec '{}' --confine-root='{}' --drop-D \"$@\"\n",
                root.display(),
                bin.display(),
                root.display()
            ),
        );
        write_script(
            &s.path("rsh-plain"),
            &format!(
                "#!/bin/sh\nshift\nshift\ncd '{}' || exit 1\nexec '{}' \"$@\"\n",
                root.display(),
                bin.display()
            ),
        );
        Restricted { s }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.s.path(name)
    }

    /// Runs the client with `args`, through the `rsh` shell.
    fn client(&self, rsh: &str, args: &[&str]) -> Run {
        let mut cmd = Command::new(oxsync_bin());
        cmd.arg("-e").arg(self.path(rsh)).args(args);
        run(&mut cmd, &self.s.logs())
    }
}

#[test]
fn files_from_outside_the_root_is_refused_inside_is_read() {
    let t = Restricted::new();
    let outside = format!("--files-from=:{}", t.path("outside-list").display());
    let inside = format!("--files-from=:{}", t.path("root/inside-list").display());
    let into = |n: &str| format!("{}/", t.path(n).display());

    // Control: the same list outside the root is read by a plain server.
    t.client("rsh-plain", &["-r", &outside, "h:.", &into("plain")])
        .assert_code(0);
    assert_eq!(fs::read(t.path("plain/keep")).unwrap(), b"kept\n");
    assert!(!t.path("plain/other").exists());

    let r = t.client("rsh-confined", &["-r", &outside, "h:.", &into("refused")]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("failed to open files-from file")
            && r.stderr.contains("Too many levels of symbolic links (40)"),
        "{r:?}"
    );
    assert!(!t.path("refused/keep").exists(), "{r:?}");

    t.client("rsh-confined", &["-r", &inside, "h:.", &into("inside")])
        .assert_code(0);
    assert_eq!(fs::read(t.path("inside/keep")).unwrap(), b"kept\n");
    assert!(!t.path("inside/other").exists());
}

#[test]
fn an_fd_pin_inside_the_root_is_an_update_dir_one_outside_is_refused() {
    let t = Restricted::new();
    fs::create_dir(t.path("root/parts")).unwrap();
    fs::create_dir(t.path("elsewhere")).unwrap();
    fs::write(t.path("src-file"), b"new content\n").unwrap();
    fs::write(t.path("root/keep"), b"old content\n").unwrap();
    let src = t.path("src-file");
    let src = src.to_str().unwrap();

    // rrsync hands the server a directory it opened as /proc/self/fd/N:
    // the remote shell opens it on descriptor 7 for the server to inherit.
    let pinned = |dir: &Path, name: &str| {
        write_script(
            &t.path(name),
            &format!(
                "#!/bin/sh\nexec 7<'{}'\nexec '{}' \"$@\"\n",
                dir.display(),
                t.path("rsh-confined").display()
            ),
        );
    };
    pinned(&t.path("root/parts"), "rsh-pin-in");
    pinned(&t.path("elsewhere"), "rsh-pin-out");
    let backup = "--backup-dir=/proc/self/fd/7";
    t.client("rsh-pin-in", &["-b", backup, "-I", src, "h:keep"])
        .assert_code(0);
    assert_eq!(fs::read(t.path("root/keep")).unwrap(), b"new content\n");
    assert_eq!(
        fs::read(t.path("root/parts/keep")).unwrap(),
        b"old content\n"
    );

    let r = t.client("rsh-pin-out", &["-b", backup, "-I", src, "h:other"]);
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.contains("--backup-dir='/proc/self/fd/7'")
            && r.stderr.contains("Too many levels of symbolic links"),
        "{r:?}"
    );
    assert_eq!(fs::read(t.path("root/other")).unwrap(), b"other\n");
    assert_eq!(fs::read_dir(t.path("elsewhere")).unwrap().count(), 0);

    // Control: without --confine-root the server takes the same pin as
    // its backup dir, as rsync's does (its client is the operator).
    write_script(
        &t.path("rsh-pin-plain"),
        &format!(
            "#!/bin/sh\nexec 7<'{}'\nexec '{}' \"$@\"\n",
            t.path("elsewhere").display(),
            t.path("rsh-plain").display()
        ),
    );
    t.client("rsh-pin-plain", &["-b", backup, "-I", src, "h:other"])
        .assert_code(0);
    assert_eq!(fs::read(t.path("root/other")).unwrap(), b"new content\n");
    assert_eq!(fs::read(t.path("elsewhere/other")).unwrap(), b"other\n");
}

#[test]
fn drop_d_creates_no_special_file_and_keeps_the_transfer() {
    let t = Restricted::new();
    let src = t.path("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("regular"), b"data\n").unwrap();
    let st = Command::new("mkfifo")
        .arg(src.join("fifo"))
        .status()
        .unwrap();
    assert!(st.success());
    let from = format!("{}/", src.display());

    // Control: a plain server creates the FIFO.
    t.client("rsh-plain", &["-a", &from, "h:plain"])
        .assert_code(0);
    let ft = fs::symlink_metadata(t.path("root/plain/fifo"))
        .unwrap()
        .file_type();
    assert!(ft.is_fifo());

    let r = t.client("rsh-confined", &["-a", &from, "h:dropped"]);
    r.assert_code(0);
    assert_eq!(fs::read(t.path("root/dropped/regular")).unwrap(), b"data\n");
    assert!(
        fs::symlink_metadata(t.path("root/dropped/fifo")).is_err(),
        "--drop-D created the FIFO: {r:?}"
    );
}

#[test]
fn option_checks_as_upstream() {
    let s = Scratch::new();
    let cases: [(&[&str], &str); 2] = [
        (
            &["--confine-root=relative/dir"],
            "--confine-root must be an absolute path",
        ),
        (
            &["--confine-root=/tmp", "--insecure-links"],
            "--insecure-links cannot be combined with --confine-root",
        ),
    ];
    for (extra, message) in cases {
        let mut cmd = Command::new(oxsync_bin());
        cmd.args(extra).arg(s.path("a")).arg(s.path("b"));
        let r = run(&mut cmd, &s.logs());
        assert_eq!(r.code, Some(1), "{r:?}");
        assert!(r.stderr.contains(message), "{r:?}");
    }
}

#[test]
fn a_local_copy_reads_no_merge_file_through_a_link_out_of_the_root() {
    // upstream rrsync-merge-file-confine, its direct part: the source is
    // reached through a symlink inside the root, the merge file's name is
    // a symlink leading out of it; the destination is the operator's own.
    let s = Scratch::new();
    let root = s.path("aliased");
    fs::create_dir(&root).unwrap();
    fs::write(s.path("secret"), b"word\n").unwrap();
    fs::write(root.join("word"), b"x").unwrap();
    fs::write(root.join("plain"), b"x").unwrap();
    fs::write(root.join("intree-list"), b"plain\n").unwrap();
    std::os::unix::fs::symlink(".", root.join("self")).unwrap();
    std::os::unix::fs::symlink("../secret", root.join("outside-link")).unwrap();
    let confined = |rule: &str, into: &str| -> Run {
        fs::write(root.join(".rsync-filter"), format!("{rule}\n")).unwrap();
        let mut cmd = Command::new(oxsync_bin());
        cmd.arg("-r")
            .arg(format!("--confine-root={}", root.display()))
            .arg("--filter=:s .rsync-filter")
            .arg(format!("{}/self/", root.display()))
            .arg(format!("{}/", s.path(into).display()));
        run(&mut cmd, &s.logs())
    };
    let r = confined("merge,- outside-link", "escape");
    assert!(
        r.code != Some(0) || s.path("escape/word").exists(),
        "the merge file outside the root was read: {r:?}"
    );
    let r = confined("merge,- intree-list", "control");
    r.assert_code(0);
    assert!(s.path("control/word").exists(), "{r:?}");
    assert!(!s.path("control/plain").exists(), "{r:?}");
}
