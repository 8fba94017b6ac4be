//! `--mkpath`: the destination path's missing directories are made before
//! the transfer, compared with stock rsync (exit code, the "created N
//! directories for X" line, itemize lines, what arrived) locally and with
//! oxsync as the receiving server; a dry run creates nothing and itemizes
//! as the real run does (upstream #880, fixed after 3.2.7); through a
//! daemon the directories are made beneath the module, never through a
//! symlink out of it.
use crate::daemon::{start, url};
use crate::util::*;
use std::fs;
use std::path::Path;
use std::process::Command;

/// `BIN -ai ARGS` run in `dir` (relative paths as upstream's test uses
/// them); with `server`, stock or oxsync is the receiving server behind
/// a remote-shell stand-in.
fn rsync_in(bin: &Path, server: Option<&Path>, dir: &Path, args: &[&str], s: &Scratch) -> Run {
    let mut c = Command::new(bin);
    c.current_dir(dir).arg("-ai");
    if let Some(server) = server {
        c.arg("-e")
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", server.display()));
    }
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if server.is_some() {
        if let Some(last) = args.last_mut() {
            *last = format!("localhost:{}/{last}", dir.display());
        }
    }
    c.args(&args);
    run(&mut c, &s.logs())
}

/// The lines a user sees (itemize and "created ..."), in order, with the
/// scratch directory `top` written as TOP.
fn shown(r: &Run, top: &Path) -> Vec<String> {
    let top = top.display().to_string();
    r.stdout
        .lines()
        .filter(|l| is_itemize_line(l) || l.starts_with("created "))
        .map(|l| l.replace(&top, "TOP"))
        .collect()
}

/// Upstream's mkpath test, run by oxsync and by stock rsync in twin
/// directories: every step's exit code, lines and resulting file agree.
fn upstream_steps(client: &Path, server: Option<&Path>) {
    let s = Scratch::new();
    let (ours, theirs) = (s.path("ours"), s.path("theirs"));
    for top in [&ours, &theirs] {
        fs::create_dir_all(top.join("from")).expect("mkdir");
        fs::create_dir_all(top.join("to")).expect("mkdir");
        write_file(&top.join("from/text"), b"the text\n", 0o644, T0);
        write_file(&top.join("from/extra"), b"extra\n", 0o644, T0);
        // A fixed time: a directory made now always differs from it (with
        // the time of the run, a second boundary between the two trees'
        // runs made the "./" line come and go).
        set_mtime(&top.join("from"), T0);
    }
    let deep = "to/foo/bar/baz/down/deep";
    let steps: Vec<(Vec<String>, &str)> = vec![
        (vec!["from/text".into(), format!("{deep}/new")], "new"),
        (
            vec!["--mkpath".into(), "from/text".into(), format!("{deep}/new")],
            "new",
        ),
        (
            vec!["--mkpath".into(), "from/text".into(), format!("{deep}/")],
            "text",
        ),
        (
            vec!["--mkpath".into(), "from/".into(), deep.into()],
            "extra",
        ),
        (
            vec!["--mkpath".into(), "from/".into(), format!("{deep}/")],
            "text",
        ),
        (
            vec!["--mkpath".into(), "from/text".into(), "to_text".into()],
            "",
        ),
    ];
    for (n, (args, landed)) in steps.iter().enumerate() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let rs = rsync_bin();
        let reference = rsync_in(&rs, server.map(|_| rs.as_path()), &theirs, &args, &s);
        let got = rsync_in(client, server, &ours, &args, &s);
        assert_eq!(
            got.code, reference.code,
            "step {n}: {}\n{}",
            got.stderr, reference.stderr
        );
        assert_eq!(shown(&got, &ours), shown(&reference, &theirs), "step {n}");
        if n == 0 {
            // The negative control: without --mkpath nothing is made.
            assert_ne!(got.code, Some(0));
            assert!(!ours.join("to/foo").exists());
            continue;
        }
        got.assert_code(0);
        let file = if landed.is_empty() {
            ours.join("to_text")
        } else if *landed == "new" {
            ours.join(deep).join("new")
        } else {
            ours.join(deep).join(landed)
        };
        assert!(file.is_file(), "step {n}: {} missing", file.display());
        for top in [&ours, &theirs] {
            fs::remove_dir_all(top.join("to/foo")).ok();
        }
    }
}

#[test]
fn local_as_upstream_test() {
    upstream_steps(&oxsync_bin(), None);
}

#[test]
fn oxsync_pushes_to_stock_server() {
    upstream_steps(&oxsync_bin(), Some(&rsync_bin()));
}

#[test]
fn stock_pushes_to_oxsync_server() {
    upstream_steps(&rsync_bin(), Some(&oxsync_bin()));
}

/// A dry run makes nothing and itemizes what the real run does (upstream's
/// file-to-file-mkpath-dry-run test; stock 3.2.7 still fails it with
/// "change_dir#3", so the real run is the reference).
#[test]
fn local_dry_run_matches_the_real_run() {
    let s = Scratch::new();
    write_file(&s.path("src"), b"payload\n", 0o644, T0);
    let ox = oxsync_bin();
    let dry = rsync_in(
        &ox,
        None,
        s.root(),
        &["-n", "--mkpath", "src", "dndir/x/dst"],
        &s,
    );
    dry.assert_code(0);
    assert!(!s.path("dndir").exists(), "a dry run made directories");
    let real = rsync_in(&ox, None, s.root(), &["--mkpath", "src", "rdir/x/dst"], &s);
    real.assert_code(0);
    assert!(s.path("rdir/x/dst").is_file());
    assert_eq!(
        dry.stdout.replace("dndir", "X"),
        real.stdout.replace("rdir", "X")
    );
    assert!(
        dry.stdout.contains("created 2 directories for dndir/x"),
        "{}",
        dry.stdout
    );
}

/// Through a daemon the path is made beneath the module: a push to
/// `m/a/b/c/` makes the three directories there, and a push through
/// `m/out`, a symlink out of the module, makes nothing outside.
#[test]
fn daemon_makes_paths_beneath_the_module() {
    let d = start(
        &oxsync_bin(),
        "[m]\npath = %ROOT%/mod\nread only = no\nmunge symlinks = no\n",
    );
    let root = d.root();
    write_file(&root.join("src/sub/f"), b"data\n", 0o644, T0);
    fs::create_dir_all(root.join("outside")).expect("mkdir");
    std::os::unix::fs::symlink(root.join("outside"), root.join("mod/out")).expect("symlink");
    let before = snapshot(&root.join("outside"));
    fs::create_dir_all(root.join("logs")).expect("mkdir");
    let push = |dest: &str| {
        let mut c = Command::new(rsync_bin());
        c.args(["-ai", "--mkpath"])
            .arg(format!("{}/", root.join("src/sub").display()))
            .arg(url(&d, dest));
        run(&mut c, &root.join("logs"))
    };
    let ok = push("m/a/b/c/");
    ok.assert_code(0);
    assert!(root.join("mod/a/b/c/f").is_file(), "{}", ok.stdout);
    assert!(
        ok.stdout.contains("created 3 directories for a/b/c"),
        "{}",
        ok.stdout
    );
    let out = push("m/out/x/y/");
    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(
        snapshot(&root.join("outside")),
        before,
        "something was made outside"
    );
}
