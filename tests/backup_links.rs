//! `--backup` when the item being replaced is not a regular file, or is
//! replaced by something else: a symlink replaced by a file, a file by a
//! symlink, a symlink by another symlink, a file by a directory (upstream
//! delete.c:delete_item() and generator.c:atomic_create() back each up),
//! and `--safe-links`, which drops an escaping symlink instead of keeping
//! it as a backup (rsync 3.5.0 backup.c; 3.2.7 still keeps it).
use crate::util::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the destination is written from.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// A local copy.
    Local,
    /// Pushed to `oxsync --server` over a remote shell.
    Push,
}

/// Runs `bin ARGS SRC/ DEST/` (or `... -e RSH host:DEST/`).
fn sync(scratch: &Scratch, bin: &Path, via: Via, args: &[&str], src: &Path, dst: &Path) -> Run {
    let mut c = Command::new(bin);
    c.args(args).arg(format!("{}/", src.display()));
    match via {
        Via::Local => {
            c.arg(format!("{}/", dst.display()));
        }
        Via::Push => {
            c.arg("-e")
                .arg(scratch.rsh())
                .arg(format!("--rsync-path={}", bin.display()))
                .arg(format!("localhost:{}/", dst.display()));
        }
    }
    run(&mut c, &scratch.logs())
}

/// A source and a destination where every entry changes type.
fn type_changes(src: &Path, dst: &Path) {
    for d in [src, dst] {
        fs::create_dir_all(d).expect("mkdir");
    }
    write_file(&dst.join("file_to_link"), b"old file\n", 0o644, T0 + 1);
    symlink("old", dst.join("link_to_link")).expect("symlink");
    symlink("old", dst.join("link_to_file")).expect("symlink");
    write_file(&dst.join("file_to_dir"), b"old file two\n", 0o600, T0 + 3);
    if src.join("keep").exists() {
        return;
    }
    write_file(&src.join("keep"), b"kept\n", 0o644, T0);
    symlink("keep", src.join("file_to_link")).expect("symlink");
    symlink("new", src.join("link_to_link")).expect("symlink");
    write_file(&src.join("link_to_file"), b"new file\n", 0o644, T0 + 2);
    fs::create_dir(src.join("file_to_dir")).expect("mkdir");
    set_mtime(&src.join("file_to_dir"), T0 + 4);
    set_mtime(src, T0 + 5);
}

/// Every replaced non-directory is kept as `NAME~`, as stock rsync keeps
/// it: the destination trees agree entry for entry.
fn type_change_backups(via: Via) {
    let scratch = Scratch::new();
    let (src, ours, theirs) = (
        scratch.path("src"),
        scratch.path("ours"),
        scratch.path("theirs"),
    );
    type_changes(&src, &ours);
    type_changes(&src, &theirs);
    let args = ["-a", "--backup"];
    let r1 = sync(&scratch, &oxsync_bin(), via, &args, &src, &ours);
    let r2 = sync(&scratch, &rsync_bin(), via, &args, &src, &theirs);
    assert_eq!(
        r1.code,
        r2.code,
        "{}",
        show_runs("type changes", "exit codes differ", &r1, &r2)
    );
    r2.assert_code(0);
    // Not vacuous: stock rsync did keep each one.
    for (name, link) in [
        ("file_to_link~", None),
        ("link_to_link~", Some("old")),
        ("link_to_file~", Some("old")),
        ("file_to_dir~", None),
    ] {
        let p = theirs.join(name);
        let md = fs::symlink_metadata(&p).expect("stock rsync's backup");
        assert_eq!(
            fs::read_link(&p).ok(),
            link.map(PathBuf::from),
            "{name}: {md:?}"
        );
    }
    // -b without --backup-dir implies --omit-dir-times: the directories'
    // times are the run's own.
    for d in [&theirs, &ours] {
        for dir in [d.clone(), d.join("file_to_dir")] {
            set_mtime(&dir, T0);
        }
    }
    assert_same_tree(&theirs, &ours);
}

#[test]
fn type_change_backups_local() {
    type_change_backups(Via::Local);
}

#[test]
fn type_change_backups_push() {
    type_change_backups(Via::Push);
}

/// A destination holding an escaping symlink (`escape -> ../../sensitive`)
/// and an in-tree one (`inside -> keep.txt`), both replaced by files.
fn safe_links_case(scratch: &Scratch, tag: &str) -> (PathBuf, PathBuf) {
    let (src, dst) = (
        scratch.path(&format!("{tag}_src")),
        scratch.path(&format!("{tag}_dst")),
    );
    fs::create_dir_all(&src).expect("mkdir");
    fs::create_dir_all(dst.join("sub")).expect("mkdir");
    write_file(&src.join("keep.txt"), b"source regular file\n", 0o644, T0);
    write_file(&src.join("escape"), b"replacement one\n", 0o644, T0);
    write_file(&src.join("inside"), b"replacement two\n", 0o644, T0);
    fs::create_dir(src.join("sub")).expect("mkdir");
    write_file(&src.join("sub/up"), b"replacement three\n", 0o644, T0);
    symlink("../../sensitive", dst.join("escape")).expect("symlink");
    symlink("keep.txt", dst.join("inside")).expect("symlink");
    // One level down, `..` stays inside the tree.
    symlink("../keep.txt", dst.join("sub/up")).expect("symlink");
    (src, dst)
}

/// `--safe-links` with `--backup`: the escaping symlink is dropped, not
/// kept as `escape.bak`; safe ones are kept; every replacement arrives.
/// Without `--safe-links` the escaping one is kept too.
fn safe_links_backup(via: Via) {
    let scratch = Scratch::new();
    for safe in [true, false] {
        let tag = if safe { "safe" } else { "plain" };
        let (src, dst) = safe_links_case(&scratch, tag);
        let mut args = vec!["-a", "--backup", "--suffix=.bak"];
        if safe {
            args.push("--safe-links");
        }
        sync(&scratch, &oxsync_bin(), via, &args, &src, &dst).assert_code(0);
        for name in ["escape", "inside", "sub/up"] {
            assert!(
                same_content(&src.join(name), &dst.join(name)),
                "{tag}: {name} was not replaced by the source's file"
            );
        }
        let escape_bak = fs::read_link(dst.join("escape.bak")).ok();
        if safe {
            assert_eq!(
                escape_bak, None,
                "--safe-links kept the escaping symlink as a backup"
            );
        } else {
            assert_eq!(escape_bak, Some(PathBuf::from("../../sensitive")));
        }
        assert_eq!(
            fs::read_link(dst.join("inside.bak")).ok(),
            Some(PathBuf::from("keep.txt")),
            "{tag}: the in-tree symlink was not backed up"
        );
        assert_eq!(
            fs::read_link(dst.join("sub/up.bak")).ok(),
            Some(PathBuf::from("../keep.txt")),
            "{tag}: the in-tree symlink one level down was not backed up"
        );
    }
}

#[test]
fn safe_links_backup_local() {
    safe_links_backup(Via::Local);
}

#[test]
fn safe_links_backup_push() {
    safe_links_backup(Via::Push);
}

/// Where a pull reads from (a remote-shell source).
fn pull(scratch: &Scratch, bin: &Path, args: &[&str], src: &Path, dst: &Path) -> Run {
    let mut c = Command::new(bin);
    c.args(args)
        .arg("-e")
        .arg(scratch.rsh())
        .arg(format!("--rsync-path={}", bin.display()))
        .arg(format!("localhost:{}/", src.display()))
        .arg(format!("{}/", dst.display()));
    run(&mut c, &scratch.logs())
}

/// `--info=backup` lines come from the receiver wherever it runs (a
/// server receiver sends them to the client), as stock rsync's do.
#[test]
fn backup_messages_from_any_receiver() {
    let scratch = Scratch::new();
    let src = scratch.path("src");
    fs::create_dir_all(src.join("deep")).expect("mkdir");
    write_file(&src.join("deep/f"), b"new\n", 0o644, T0 + 5);
    let args = ["-a", "--backup", "--info=backup"];
    for (k, bin) in [oxsync_bin(), rsync_bin()].iter().enumerate() {
        for way in 0..3 {
            let dst = scratch.path(&format!("dst{k}{way}"));
            fs::create_dir_all(dst.join("deep")).expect("mkdir");
            write_file(&dst.join("deep/f"), b"old\n", 0o644, T0);
            let r = match way {
                0 => sync(&scratch, bin, Via::Local, &args, &src, &dst),
                1 => sync(&scratch, bin, Via::Push, &args, &src, &dst),
                _ => pull(&scratch, bin, &args, &src, &dst),
            };
            r.assert_code(0);
            assert!(
                r.stdout.lines().any(|l| l == "backed up deep/f to deep/f~"),
                "{} way {way}: {}",
                bin.display(),
                r.stdout
            );
            assert_eq!(fs::read(dst.join("deep/f~")).expect("backup"), b"old\n");
        }
    }
}

/// A directory where a backup goes (an old backup of what was a
/// directory) is removed with its contents and the file backed up in its
/// place, for a replaced file and a deleted one; the backup tree is stock
/// rsync's.
#[test]
fn backup_over_a_directory() {
    let scratch = Scratch::new();
    let src = scratch.path("src");
    fs::create_dir_all(&src).expect("mkdir");
    write_file(&src.join("changed"), b"new\n", 0o644, T0 + 5);
    let mut trees = Vec::new();
    for (k, bin) in [oxsync_bin(), rsync_bin()].iter().enumerate() {
        let dst = scratch.path(&format!("dst{k}"));
        let bak = scratch.path(&format!("bak{k}"));
        fs::create_dir_all(&dst).expect("mkdir");
        write_file(&dst.join("changed"), b"old\n", 0o644, T0);
        write_file(&dst.join("gone"), b"deleted\n", 0o644, T0);
        for d in ["changed/sub", "gone"] {
            fs::create_dir_all(bak.join(d)).expect("mkdir");
        }
        write_file(&bak.join("changed/sub/x"), b"older\n", 0o644, T0);
        let bd = format!("--backup-dir={}", bak.display());
        let args = ["-a", "--backup", "--delete", bd.as_str()];
        sync(&scratch, bin, Via::Local, &args, &src, &dst).assert_code(0);
        assert_eq!(fs::read(bak.join("changed")).expect("backup"), b"old\n");
        assert_eq!(fs::read(bak.join("gone")).expect("backup"), b"deleted\n");
        set_mtime(&bak, T0);
        trees.push(bak);
    }
    assert_same_tree(&trees[1], &trees[0]);
}
