//! Devices and specials (fifos, sockets) without `-D`: the sender lists
//! them as rsync's does (flist.c make_file()) and the receiver skips each
//! with "skipping non-regular file", so that they count in `--stats` and
//! their names keep what the destination holds under them from
//! `--delete`. (Before, oxsync's sender left them out of the list, so
//! `-r --delete` deleted a destination file named as a source fifo, which
//! rsync keeps, and `--existing` still printed the skip.) Locally, and
//! over a remote shell with oxsync as client and stock rsync as server
//! and the reverse.
use super::util::*;
use std::fs;
use std::path::Path;
use std::process::Command;

/// `src/` holds a file and a fifo; `dst/` a file named as the fifo and
/// one that is extraneous.
fn tree(root: &Path) {
    fs::create_dir_all(root.join("src")).expect("mkdir src");
    fs::create_dir_all(root.join("dst")).expect("mkdir dst");
    write_file(&root.join("src/a"), b"a\n", 0o644, T0);
    let fifo = root.join("src/fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo {}", fifo.display());
    write_file(&root.join("dst/fifo"), b"keep\n", 0o644, T0);
    write_file(&root.join("dst/extra"), b"extra\n", 0o644, T0);
}

/// `client ARGS src/ dst/`, remote through `server` when given.
fn transfer(s: &Scratch, client: &Path, server: Option<&Path>, args: &[&str]) -> Run {
    into_dst(s, client, server, args, &["src/"])
}

fn skips(r: &Run) -> usize {
    r.stdout
        .lines()
        .chain(r.stderr.lines())
        .filter(|l| *l == "skipping non-regular file \"fifo\"")
        .count()
}

fn number_of_files(r: &Run) -> String {
    let line = r.stdout.lines().find(|l| l.starts_with("Number of files:"));
    line.unwrap_or_default().to_string()
}

#[test]
fn delete_keeps_the_names_of_unlisted_specials() {
    let mut counts = Vec::new();
    for (client, server) in each_side() {
        let (client, server) = (client.as_path(), server.as_deref());
        let s = Scratch::new();
        tree(s.root());
        let r = transfer(&s, client, server, &["-r", "--delete", "--stats"]);
        let label = format!("{} via {server:?}", client.display());
        r.assert_code(0);
        assert_eq!(
            fs::read(s.path("dst/fifo")).expect("kept"),
            b"keep\n",
            "{label}: {r:?}"
        );
        assert!(!s.path("dst/extra").exists(), "{label}: {r:?}");
        assert_eq!(
            fs::read(s.path("dst/a")).expect("copied"),
            b"a\n",
            "{label}"
        );
        assert_eq!(skips(&r), 1, "{label}: {r:?}");
        counts.push(number_of_files(&r));
    }
    // The list counts the fifo wherever the sender runs.
    assert!(
        counts.iter().all(|c| c.contains("special: 1")),
        "{counts:?}"
    );
}

#[test]
fn existing_skips_a_missing_special_silently() {
    for bin in [oxsync_bin(), rsync_bin()] {
        let s = Scratch::new();
        tree(s.root());
        fs::remove_file(s.path("dst/fifo")).expect("rm");
        let r = transfer(&s, &bin, None, &["-r", "--existing"]);
        r.assert_code(0);
        assert_eq!(skips(&r), 0, "{}: {r:?}", bin.display());
        assert!(!s.path("dst/a").exists() && !s.path("dst/fifo").exists());
    }
}
