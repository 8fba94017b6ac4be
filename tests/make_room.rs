//! A new item where the destination holds a directory of the same name
//! (upstream delete.c delete_item() for DEL_MAKE_ROOM, generator.c
//! atomic_create()): without `--delete` or `--force` a non-empty one
//! stays, with "cannot delete non-empty directory: NAME" and "could not
//! make way for new KIND: NAME", exit 23; with `--delete` it is emptied
//! and replaced. A dry run reports the same as the real run. Compared
//! with stock rsync locally and over a remote shell, with oxsync on
//! either side. (Before, oxsync said `symlink ... failed: could not make
//! way for it` for links and fifos and nothing at all in a dry run,
//! which exited 0.)
use super::util::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// Source: a file, a symlink and a fifo; destination: a non-empty
/// directory in the place of each.
fn tree(root: &Path) {
    for d in ["src", "dst/file/sub", "dst/link/sub", "dst/fifo/sub"] {
        fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    write_file(&root.join("src/file"), b"f\n", 0o644, T0);
    symlink("file", root.join("src/link")).expect("symlink");
    let made = Command::new("mkfifo")
        .arg(root.join("src/fifo"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    for d in ["file", "link", "fifo"] {
        write_file(&root.join(format!("dst/{d}/sub/data")), b"d\n", 0o644, T0);
    }
}

/// What a run said about making room, sorted, and its exit code.
fn said(r: &Run) -> (Vec<String>, Option<i32>) {
    let mut v: Vec<String> = r
        .stdout
        .lines()
        .chain(r.stderr.lines())
        .filter(|l| l.starts_with("cannot delete") || l.starts_with("could not make way"))
        .map(str::to_string)
        .collect();
    v.sort();
    (v, r.code)
}

fn transfer(client: &Path, server: Option<&Path>, args: &[&str]) -> (Run, Scratch) {
    let s = Scratch::new();
    tree(s.root());
    (into_dst(&s, client, server, args, &["src/"]), s)
}

#[test]
fn a_non_empty_directory_in_the_way_stays_unless_deleting() {
    let (ox, stock) = (oxsync_bin(), rsync_bin());
    let blocked: Vec<String> = [
        "cannot delete non-empty directory: fifo",
        "cannot delete non-empty directory: file",
        "cannot delete non-empty directory: link",
        "could not make way for new regular file: file",
        "could not make way for new special file: fifo",
        "could not make way for new symlink: link",
    ]
    .map(str::to_string)
    .to_vec();
    for args in [
        &["-a"][..],
        &["-an"],
        &["-a", "--delete"],
        &["-an", "--delete"],
    ] {
        let (reference, _) = transfer(&stock, None, args);
        let want = said(&reference);
        let deleting = args.contains(&"--delete");
        assert_eq!(
            want,
            if deleting {
                (vec![], Some(0))
            } else {
                (blocked.clone(), Some(23))
            }
        );
        for (client, server) in [(&ox, None), (&ox, Some(&stock)), (&stock, Some(&ox))] {
            let (r, s) = transfer(client, server.map(|p| p.as_path()), args);
            let label = format!("{} via {server:?} {args:?}", client.display());
            assert_eq!(said(&r), want, "{label}: {r:?}");
            let replaced = deleting && !args.contains(&"-an");
            assert_eq!(s.path("dst/file/sub/data").exists(), !replaced, "{label}");
            if replaced {
                assert_eq!(
                    fs::read(s.path("dst/file")).expect("file"),
                    b"f\n",
                    "{label}"
                );
                assert!(fs::symlink_metadata(s.path("dst/link"))
                    .expect("link")
                    .is_symlink());
            }
        }
    }
}
