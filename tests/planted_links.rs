//! A client plants an escaping symlink through an in-module directory
//! link: push 1 makes `a -> .`, push 2 sends `a/a/a/a/a/a/L` pointing six
//! levels up. The link's name says depth 6 but it physically lands at the
//! module root, so a target judged by the name leaves the module. The
//! daemon (`munge symlinks = no`, `use chroot = no`, `landlock = off`) must
//! judge the link where it is created; a later `-L` pull must not serve
//! the outside file. Stock rsync is the pushing and pulling client.
use crate::daemon::{self, Daemon};
use crate::util::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const MODULE: &str =
    "[m]\npath = %ROOT%/mod\nread only = no\nmunge symlinks = no\nlandlock = off\n";
const SECRET: &[u8] = b"OUTSIDE-SECRET\n";

fn stock(args: &[&str]) -> Output {
    Command::new(rsync_bin())
        .args(args)
        .stdin(Stdio::null())
        .env("LC_ALL", "C")
        .env_remove("RSYNC_PASSWORD")
        .output()
        .expect("run stock rsync")
}

fn url(d: &Daemon, rest: &str) -> String {
    format!("rsync://127.0.0.1:{}/{rest}", d.port())
}

/// Every symlink below `module` whose target exists and lies outside it.
fn escaping_links(module: &Path) -> Vec<String> {
    let top = fs::canonicalize(module).expect("canonicalize module");
    let mut bad = Vec::new();
    let mut todo = vec![module.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for ent in fs::read_dir(&dir).expect("read_dir") {
            let p = ent.expect("entry").path();
            let meta = fs::symlink_metadata(&p).expect("lstat");
            if meta.is_dir() {
                todo.push(p);
            } else if meta.file_type().is_symlink() {
                if let Ok(real) = fs::canonicalize(&p) {
                    if !real.starts_with(&top) {
                        bad.push(format!(
                            "{} -> {}",
                            p.display(),
                            fs::read_link(&p).expect("readlink").display()
                        ));
                    }
                }
            }
        }
    }
    bad
}

/// The two pushes: `a -> .`, then `a/a/a/a/a/a/L` (through the kept
/// link) aiming at `secret` beside the module, plus a legitimate relative
/// link in real directories as the positive control.
fn plant(push2: &[&str], relative_names: bool) -> (Daemon, PathBuf) {
    let d = daemon::start(&oxsync_bin(), MODULE);
    let root = d.root().to_path_buf();
    let secret = root.join("secret");
    fs::write(&secret, SECRET).expect("write secret");
    let src1 = root.join("src1");
    fs::create_dir(&src1).expect("mkdir src1");
    symlink(".", src1.join("a")).expect("symlink a");
    let out = stock(&["-rl", &format!("{}/", src1.display()), &url(&d, "m/")]);
    assert!(out.status.success(), "push 1: {out:?}");
    assert_eq!(
        fs::read_link(root.join("mod/a")).expect("mod/a is a symlink"),
        Path::new(".")
    );
    // Six levels up from where the name says, then down to the secret.
    let target = format!(
        "../../../../../../{}",
        secret.to_string_lossy().trim_start_matches('/')
    );
    let src2 = root.join("src2");
    fs::create_dir_all(src2.join("a/a/a/a/a/a")).expect("mkdir src2");
    symlink(&target, src2.join("a/a/a/a/a/a/L")).expect("symlink L");
    fs::create_dir_all(src2.join("d/e")).expect("mkdir d/e");
    fs::write(src2.join("d/f"), b"f\n").expect("write d/f");
    symlink("../f", src2.join("d/e/G")).expect("symlink G");
    let mut args: Vec<String> = push2.iter().map(|a| a.to_string()).collect();
    let cwd;
    if relative_names {
        // -R from inside the source: the names are the paths given.
        cwd = src2.clone();
        args.extend(["a/a/a/a/a/a/L".into(), "d/e/G".into(), "d/f".into()]);
    } else {
        cwd = root.clone();
        args.push(format!("{}/", src2.display()));
    }
    args.push(url(&d, "m/"));
    // Its exit code is not the point: what it left in the module is.
    Command::new(rsync_bin())
        .args(&args)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .env("LC_ALL", "C")
        .output()
        .expect("push 2");
    (d, secret)
}

fn check(d: &Daemon, secret: &Path, what: &str) {
    let module = d.root().join("mod");
    assert_eq!(fs::read(secret).expect("read secret"), SECRET);
    // Positive control: a link that stays in the module keeps its target.
    assert_eq!(
        fs::read_link(module.join("d/e/G")).map_err(|e| format!("{what}: d/e/G: {e}")),
        Ok(PathBuf::from("../f")),
        "{what}: the legitimate link was not transferred as sent"
    );
    let bad = escaping_links(&module);
    assert!(bad.is_empty(), "{what}: links leave the module: {bad:?}");
    // A -L pull of what the link's names reach must not serve the secret.
    let out_dir = d.root().join(format!("pulled-{what}"));
    fs::create_dir(&out_dir).expect("mkdir pulled");
    for name in ["m/L", "m/a/a/a/a/a/a/L"] {
        let _ = stock(&["-L", &url(d, name), &format!("{}/", out_dir.display())]);
        if let Ok(got) = fs::read(out_dir.join("L")) {
            assert_ne!(got, SECRET, "{what}: `-L {name}` served the outside file");
        }
    }
}

#[test]
fn keep_dirlinks_push_cannot_plant_an_escaping_link() {
    let (d, secret) = plant(&["-rlK"], false);
    check(&d, &secret, "-K");
}

#[test]
fn no_implied_dirs_push_cannot_plant_an_escaping_link() {
    let (d, secret) = plant(&["-lR", "--no-implied-dirs"], true);
    check(&d, &secret, "-R --no-implied-dirs");
}
