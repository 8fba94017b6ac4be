//! The sender's walk stats a large directory's names on two threads
//! (`confine::statahead`: the walking thread stats half of each window of
//! 256 names, a helper the other half). Each name must still get its own
//! stat: in wide directories (more than one window, subdirectories walked
//! between the names of a window) every entry is listed with its own
//! type, size, permissions, mtime and link target, as stock rsync lists
//! it, and a copy arrives whole.
use super::util::{
    assert_same_tree, fix_dirs, oxsync_bin, run, stock_bins, write_file, Run, Scratch,
};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// 600 entries in `w/` (three windows), of five kinds in turn, each with
/// its own size, mode and mtime; a subdirectory every fifth name, with a
/// file of its own.
fn wide_tree(src: &Path) {
    let w = src.join("w");
    fs::create_dir_all(&w).expect("mkdir w");
    for i in 0..600u32 {
        let name = w.join(format!("e{i:04}"));
        let mtime = 1_500_000_000 + i64::from(i) * 977;
        let data = vec![b'a' + (i % 26) as u8; (i * 3) as usize];
        match i % 5 {
            0 | 1 => write_file(&name, &data, 0o600 | (i % 8) << 3, mtime),
            2 => symlink(format!("target-{i}"), &name).expect("symlink"),
            3 => {
                fs::create_dir(&name).expect("mkdir");
                write_file(&name.join("inner"), &data[..i as usize], 0o640, mtime);
            }
            _ => write_file(&name, &data[..i as usize], 0o755, mtime),
        }
    }
    write_file(&src.join("top"), b"top", 0o644, 1_400_000_000);
    fix_dirs(src, 1_450_000_000);
}

/// A dry run of `bin` listing every name with its size, permissions and
/// mtime, then the list's totals.
fn listing(s: &Scratch, bin: &Path, src: &Path, extra: &[&str]) -> Run {
    let dst = s.path("empty");
    fs::create_dir_all(&dst).expect("mkdir empty");
    let r = run(
        Command::new(bin)
            .args([
                "-a",
                "--dry-run",
                "--stats",
                "--out-format=%i %n%L %l %B %M",
            ])
            .args(extra)
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display())),
        &s.logs(),
    );
    r.assert_code(0);
    r
}

/// The item lines of a listing (in the order printed, or sorted) and the
/// list's counts from --stats.
fn items_and_counts(r: &Run, sorted: bool) -> (Vec<String>, Vec<String>) {
    let mut items: Vec<String> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with(['c', '>', '.']))
        .map(str::to_owned)
        .collect();
    if sorted {
        items.sort();
    }
    let counts = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("Number of files") || l.starts_with("Total file size"))
        .map(str::to_owned)
        .collect();
    (items, counts)
}

#[test]
fn wide_directories_list_each_name_with_its_own_stat() {
    let s = Scratch::new();
    let src = s.path("src");
    wide_tree(&src);
    for (extra, sorted) in [(&["--no-inc-recursive"][..], false), (&[][..], true)] {
        let ours = listing(&s, &oxsync_bin(), &src, extra);
        let (items, counts) = items_and_counts(&ours, sorted);
        assert_eq!(items.len(), 600 + 120 + 2 + 1, "{}", ours.stdout);
        // A line of each kind, with the size and permissions the tree
        // gave that name.
        for want in [
            ">f+++++++++ w/e0000 0 rw------- ",
            ">f+++++++++ w/e0001 3 rw---x--- ",
            "cL+++++++++ w/e0002 -> target-2 8 rwxrwxrwx ",
            "cd+++++++++ w/e0003/ ",
            ">f+++++++++ w/e0003/inner 3 rw-r----- ",
            ">f+++++++++ w/e0599 599 rwxr-xr-x ",
        ] {
            assert!(
                items.iter().any(|l| l.starts_with(want)),
                "no line starting {want:?} in\n{}",
                ours.stdout
            );
        }
        for stock in stock_bins() {
            let theirs = listing(&s, &stock, &src, extra);
            let (their_items, their_counts) = items_and_counts(&theirs, sorted);
            assert_eq!(items, their_items, "{extra:?} against {}", stock.display());
            assert_eq!(
                counts,
                their_counts,
                "{extra:?} against {}",
                stock.display()
            );
        }
    }
}

#[test]
fn wide_directories_copy_whole() {
    let s = Scratch::new();
    let src = s.path("src");
    wide_tree(&src);
    for (tag, extra) in [("inc", None), ("noinc", Some("--no-inc-recursive"))] {
        let dst = s.path(&format!("dst-{tag}"));
        let r = run(
            Command::new(oxsync_bin())
                .arg("-a")
                .args(extra)
                .arg(format!("{}/", src.display()))
                .arg(format!("{}/", dst.display())),
            &s.logs(),
        );
        r.assert_code(0);
        assert_same_tree(&src, &dst);
    }
}
