//! A pulling client checks the names in the file list it receives (the
//! CVE-2022-29154 class, upstream flist.c recv_file_entry()): a name it
//! did not request is refused with "ERROR: rejecting unrequested file-list
//! name: NAME", a name its own rules exclude with "ERROR: rejecting
//! excluded file-list name: NAME", both exit 4 (RERR_UNSUPPORTED) before
//! anything is written; `--trust-sender` turns the checks off.
//!
//! The hostile side is [`FakeServer`] (a crafted list over the `-e`
//! remote shell) or stock `rsync --server` started by a "modified shell"
//! that asks it for more than the client did. Ordinary pulls against stock
//! `rsync --server` (-r, -R, --files-from, wildcards, trailing slashes, -d,
//! --delete, --delete-missing-args, honest excludes) must still give what
//! stock rsync's own client gives.
use crate::fakeserver::{FakeServer, Served};
use crate::util::*;
use protocol::flist::{FileEntry, S_IFDIR, S_IFREG, XMIT_NO_CONTENT_DIR, XMIT_TOP_DIR};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const RERR_UNSUPPORTED: i32 = 4;

fn file(name: &str) -> FileEntry {
    FileEntry {
        name: name.as_bytes().into(),
        mode: S_IFREG | 0o644,
        ..FileEntry::default()
    }
    .with_size(3)
    .with_mtime(T0)
}

fn dir(name: &str, xflags: u32) -> FileEntry {
    FileEntry {
        name: name.as_bytes().into(),
        mode: S_IFDIR | 0o755,
        ..FileEntry::default()
    }
    .with_mtime(T0)
    .with_xflags(xflags)
}

/// A scratch with `home/` (holding `keep.txt`) and `outside/` (holding
/// `precious`), whose states are compared after each run.
fn scratch() -> Scratch {
    let s = Scratch::new();
    put(s.root(), "home/keep.txt", b"keep\n", T0);
    put(s.root(), "outside/precious", b"precious\n", T0);
    s
}

/// Runs the oxsync client with `-e rsh` and `args`.
fn pull(s: &Scratch, rsh: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(oxsync_bin());
    cmd.current_dir(s.root()).arg("-e").arg(rsh).args(args);
    run(&mut cmd, &s.logs())
}

/// Runs `args` against a fake server sending `entries`, and checks the
/// refusal: exit 4, `message` on stderr, `home/` and `outside/` unchanged.
fn refused(entries: Vec<FileEntry>, args: &[&str], message: &str) -> Served {
    refused_with(RERR_UNSUPPORTED, entries, args, message)
}

fn refused_with(code: i32, entries: Vec<FileEntry>, args: &[&str], message: &str) -> Served {
    let s = scratch();
    let before = (snapshot(&s.path("home")), snapshot(&s.path("outside")));
    let server = FakeServer::start(&s, entries);
    let out = pull(&s, server.rsh(), args);
    let served = server.served();
    out.assert_code(code);
    assert!(
        out.stderr.lines().any(|l| l == message),
        "`{}`: no line {message:?} on stderr\n--- stderr\n{}",
        out.cmdline,
        out.stderr
    );
    assert!(
        !served.data_requested,
        "`{}`: the client asked for file data",
        out.cmdline
    );
    let after = (snapshot(&s.path("home")), snapshot(&s.path("outside")));
    assert!(
        before == after,
        "`{}` changed the destination or the tree beside it:\nbefore {:?}\nafter  {:?}",
        out.cmdline,
        before,
        after
    );
    served
}

#[test]
fn unrequested_name_is_refused() {
    // `oxsync host:notes.txt home/` answered with .ssh/authorized_keys.
    let served = refused(
        vec![
            file("notes.txt"),
            dir(".ssh", 0),
            file(".ssh/authorized_keys"),
        ],
        &["fakehost:notes.txt", "home/"],
        "ERROR: rejecting unrequested file-list name: .ssh",
    );
    assert_eq!(served.argv.last().map(String::as_str), Some("notes.txt"));
    // A plain file under a requested name is no better.
    refused(
        vec![file("notes.txt"), file("authorized_keys")],
        &["-t", "fakehost:notes.txt", "home/"],
        "ERROR: rejecting unrequested file-list name: authorized_keys",
    );
}

#[test]
fn excluded_name_is_refused() {
    let served = refused(
        vec![dir(".", XMIT_TOP_DIR), file(".bashrc"), file("a.txt")],
        &["-r", "--exclude=.bashrc", "fakehost:src/", "home/"],
        "ERROR: rejecting excluded file-list name: .bashrc",
    );
    assert_eq!(served.rules, ["- .bashrc"]);
    // A sender-side rule (`hide`) binds the sender too.
    refused(
        vec![dir(".", XMIT_TOP_DIR), file("x.conf")],
        &["-r", "--filter=-s *.conf", "fakehost:src/", "home/"],
        "ERROR: rejecting excluded file-list name: x.conf",
    );
}

#[test]
fn name_outside_the_requested_directory_is_refused() {
    // host:dir/sub (no slash) asks for sub and what is beneath it.
    refused(
        vec![
            dir("sub", XMIT_TOP_DIR),
            file("sub/x"),
            dir("other", 0),
            file("other/evil"),
        ],
        &["-r", "fakehost:dir/sub", "home/"],
        "ERROR: rejecting unrequested file-list name: other",
    );
    // -R keeps the path: only dir/sub's contents and its parents.
    refused(
        vec![
            dir("dir", XMIT_TOP_DIR | XMIT_NO_CONTENT_DIR),
            dir("dir/sub", XMIT_TOP_DIR),
            file("dir/sub/x"),
            file("dir/evil"),
        ],
        &["-rR", "fakehost:dir/sub/", "home/"],
        "ERROR: rejecting unrequested file-list name: dir/evil",
    );
    // -d asks for the directory's own entries, not deeper ones.
    refused(
        vec![dir(".", XMIT_TOP_DIR), dir("a", 0), file("a/evil")],
        &["-d", "fakehost:dir/sub/", "home/"],
        "ERROR: rejecting unrequested file-list name: a/evil",
    );
    // A --files-from list is what was requested.
    let s = Scratch::new();
    let list = s.path("list");
    fs::write(&list, "a.txt\nsub/b.txt\n").expect("write list");
    let served = refused(
        vec![
            dir(".", XMIT_TOP_DIR | XMIT_NO_CONTENT_DIR),
            file("a.txt"),
            dir("sub", XMIT_TOP_DIR | XMIT_NO_CONTENT_DIR),
            file("sub/b.txt"),
            file("sub/c.txt"),
        ],
        &[
            &format!("--files-from={}", list.display()),
            "fakehost:src",
            "home/",
        ],
        "ERROR: rejecting unrequested file-list name: sub/c.txt",
    );
    assert_eq!(served.files_from, ["a.txt", "sub/b.txt"]);
}

#[test]
fn transfer_root_as_a_file_is_refused() {
    // Under --force, replacing the root "." by a file would empty home/.
    let mut dot = file(".");
    dot.set_size(0);
    refused_with(
        2,
        vec![dot, file("notes.txt")],
        &["-r", "--force", "fakehost:notes.txt", "home/"],
        "ERROR: rejecting non-directory transfer-root entry: .",
    );
}

#[test]
fn implied_parent_is_not_a_delete_root() {
    // With -R --delete a sender flagging the implied parent `a` as content
    // would have the client delete a's other entries.
    let s = scratch();
    put(s.root(), "home/a/precious", b"p\n", T0);
    fs::create_dir_all(s.path("home/a/b/sub")).expect("mkdir");
    let server = FakeServer::start(
        &s,
        vec![
            dir("a", XMIT_TOP_DIR),
            dir("a/b", XMIT_TOP_DIR | XMIT_NO_CONTENT_DIR),
            dir("a/b/sub", XMIT_TOP_DIR),
        ],
    );
    let out = pull(
        &s,
        server.rsh(),
        &["-rR", "--delete", "fakehost:a/b/sub", "home/"],
    );
    let served = server.served();
    out.assert_code(0);
    assert!(served.finished, "the run did not complete: {served:?}");
    assert_eq!(
        fs::read(s.path("home/a/precious")).ok().as_deref(),
        Some(&b"p\n"[..]),
        "--delete swept the implied parent a/"
    );
}

#[test]
fn trust_sender_lets_the_list_through() {
    let s = scratch();
    let server = FakeServer::start(&s, vec![dir(".ssh", 0)]);
    let out = pull(
        &s,
        server.rsh(),
        &["--trust-sender", "fakehost:notes.txt", "home/"],
    );
    let served = server.served();
    out.assert_code(0);
    assert!(served.finished, "the run did not complete: {served:?}");
    assert!(s.path("home/.ssh").is_dir(), "home/.ssh was not created");
    assert!(
        !served.argv.iter().any(|a| a.contains("trust")),
        "--trust-sender was forwarded: {:?}",
        served.argv
    );
}

/// A "modified shell": runs the requested stock `rsync --server --sender`
/// in `src`, asking it for `.ssh` besides what the client asked for.
fn greedy_shell(s: &Scratch, src: &Path) -> PathBuf {
    script(
        s,
        "greedy.sh",
        &format!(
            "shift\ncd '{}' || exit 1\nshift\nexec {} \"$@\" .ssh\n",
            src.display(),
            rsync_bin().display()
        ),
    )
}

/// A remote-shell stand-in that, like ssh, hands the command line to a
/// shell (which expands wildcards).
fn ssh_like(s: &Scratch) -> PathBuf {
    script(s, "ssh-like.sh", "shift\nexec sh -c \"$*\"\n")
}

fn script(s: &Scratch, name: &str, body: &str) -> PathBuf {
    let p = s.path(name);
    fs::write(&p, format!("#!/bin/sh\n{body}")).expect("write shell");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod shell");
    p
}

#[test]
fn stock_sender_asked_for_more_is_refused_unless_trusted() {
    let s = scratch();
    let src = s.path("src");
    put(&src, "notes.txt", b"notes\n", T0);
    put_mode(
        &src,
        ".ssh/authorized_keys",
        b"ssh-ed25519 evil\n",
        0o600,
        T0,
    );
    let shell = greedy_shell(&s, &src);
    let before = snapshot(&s.path("home"));
    let out = pull(&s, &shell, &["-rt", "fakehost:notes.txt", "home/"]);
    out.assert_code(RERR_UNSUPPORTED);
    assert!(
        out.stderr
            .lines()
            .any(|l| l == "ERROR: rejecting unrequested file-list name: .ssh"),
        "no refusal on stderr\n{}",
        out.stderr
    );
    assert_eq!(before, snapshot(&s.path("home")), "home/ changed");

    let out = pull(
        &s,
        &shell,
        &["-rt", "--trust-sender", "fakehost:notes.txt", "home/"],
    );
    out.assert_code(0);
    assert_eq!(
        fs::read(s.path("home/.ssh/authorized_keys")).expect("trusted list written"),
        b"ssh-ed25519 evil\n"
    );
}

/// The source tree for the ordinary pulls.
fn make_src(src: &Path) {
    put(src, "a.txt", b"a\n", T0);
    put(src, "b.txt", b"b\n", T0 + 1);
    put(src, "c.log", b"c\n", T0 + 2);
    put(src, "f[1].txt", b"f\n", T0 + 3);
    put(src, "sub/d.txt", b"d\n", T0 + 4);
    put(src, "sub/deep/e.txt", b"e\n", T0 + 5);
    for d in ["sub/deep", "sub", ""] {
        set_mtime(&src.join(d), T0 + 10);
    }
}

#[test]
fn ordinary_pulls_match_stock_rsync() {
    let s = Scratch::new();
    let src = s.path("src");
    make_src(&src);
    let list = s.path("list");
    fs::write(&list, "a.txt\nsub/deep/e.txt\nsub/d.txt\n").expect("write list");
    let files_from = format!("--files-from={}", list.display());
    let rsh = ssh_like(&s);
    let cases: Vec<Vec<String>> = [
        vec!["-rt", "h:src", "DST"],
        vec!["-rt", "h:src/", "DST"],
        vec!["-rt", "h:src/.", "DST"],
        vec!["-rt", "h:src/sub/", "h:src/a.txt", "DST"],
        vec!["-rtR", "h:src/sub/deep", "DST"],
        vec!["-rtR", "h:src/./sub/", "DST"],
        vec!["-tR", "h:src/sub/d.txt", "DST"],
        vec!["-t", &files_from, "h:src", "DST"],
        vec!["-rt", &files_from, "h:src/", "DST"],
        vec!["-t", "h:src/*.txt", "DST"],
        vec!["-t", "h:src/[ab].txt", "h:src/s*/d.txt", "DST"],
        vec!["-rt", "h:src/s*", "DST"],
        vec!["-t", "h:src/f[1].txt", "DST"],
        vec!["-dt", "h:src/", "DST"],
        vec!["-dt", "h:src", "DST"],
        vec!["-rt", "--delete", "h:src/", "DST"],
        vec!["-dt", "--delete", "h:src/sub/", "DST"],
        vec!["-rt", "--exclude=*.log", "--exclude=deep/", "h:src/", "DST"],
        vec!["-rt", "--filter=:- .gitignore", "h:src/", "DST"],
    ]
    .iter()
    .map(|c| c.iter().map(|a| a.to_string()).collect())
    .collect();
    for (i, case) in cases.iter().enumerate() {
        let ours = s.path(&format!("ox{i}"));
        let theirs = s.path(&format!("ref{i}"));
        for d in [&ours, &theirs] {
            put(d, "old.txt", b"old\n", T0);
            put(d, "gone.txt", b"gone\n", T0);
            set_mtime(d, T0);
        }
        let args = |dst: &Path| -> Vec<String> {
            case.iter()
                .map(|a| {
                    if a == "DST" {
                        format!("{}/", dst.display())
                    } else {
                        a.clone()
                    }
                })
                .collect()
        };
        let mut cmd = Command::new(rsync_bin());
        cmd.current_dir(s.root())
            .arg("-e")
            .arg(&rsh)
            .args(args(&theirs));
        let r = run(&mut cmd, &s.logs());
        let mut cmd = Command::new(oxsync_bin());
        cmd.current_dir(s.root())
            .arg("-e")
            .arg(&rsh)
            .arg(format!("--rsync-path={}", rsync_bin().display()))
            .args(args(&ours));
        let o = run(&mut cmd, &s.logs());
        assert_eq!(
            o.code, r.code,
            "case {case:?}: exit codes differ\n--- oxsync stderr\n{}\n--- rsync stderr\n{}",
            o.stderr, r.stderr
        );
        assert_eq!(
            r.code,
            Some(0),
            "case {case:?}: stock rsync failed\n{}",
            r.stderr
        );
        assert!(
            !o.stderr.contains("rejecting"),
            "case {case:?}: {}",
            o.stderr
        );
        // A root that was not transferred has the time of the run's writes.
        if fs::metadata(&theirs).expect("stat").mtime() != T0 + 10 {
            set_mtime(&theirs, T0);
            set_mtime(&ours, T0);
        }
        assert_same_tree(&theirs, &ours);
    }
    // --delete-missing-args: the missing name comes back as a mode-0 entry
    // (stock rsync 3.2.7's client refuses that entry, "invalid file mode").
    let dst = s.path("missing");
    put(&dst, "gone.txt", b"gone\n", T0);
    let mut cmd = Command::new(oxsync_bin());
    cmd.current_dir(s.root())
        .arg("-e")
        .arg(&rsh)
        .arg(format!("--rsync-path={}", rsync_bin().display()))
        .args([
            "-rt",
            "--delete-missing-args",
            "h:src/a.txt",
            "h:src/gone.txt",
        ])
        .arg(format!("{}/", dst.display()));
    run(&mut cmd, &s.logs()).assert_code(0);
    assert!(!dst.join("gone.txt").exists(), "gone.txt was not deleted");
    assert_eq!(fs::read(dst.join("a.txt")).expect("a.txt"), b"a\n");
}
