//! With incremental recursion the generator handles a directory in two
//! steps, as upstream's: where its parent's list names it, it is only
//! made if missing; it is itemized (`cd+++++++++` when this run made it),
//! gets its attributes and is cleaned by --delete-during at the start of
//! its own list, before that list's entries. Checked on the order of the
//! generator's lines (directories, symlinks, deletions; with -vv the
//! directory names and deletions) against stock rsync 3.2.7 and 3.5.0 on
//! both ends, in every direction (locally, pushed and pulled over the
//! loopback remote shell), into a destination where some directories
//! exist with other mtimes and modes and hold extraneous items; and on
//! the tree that arrived. A dry run too (the directories it does not
//! make stay missing until their lists start).
use super::util::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Nested new directories with files, a symlink, and `bar/` and `foo/`
/// that the destination has too.
fn source(src: &Path) {
    put(src, "top.txt", b"top", T0);
    put(src, "a/a1.txt", b"a1", T0 + 1);
    put(src, "a/b/b1.txt", b"b1", T0 + 2);
    put(src, "a/b/c/c1.txt", b"c1", T0 + 3);
    put(src, "a/z/z1.txt", b"z1", T0 + 4);
    put(src, "bar/baz/rsync", b"rsync", T0 + 5);
    put(src, "bar/bar1.txt", b"bar1", T0 + 6);
    put(src, "foo/config1", b"config1", T0 + 7);
    put(src, "foo/deep/er/file", b"deeper", T0 + 8);
    fs::create_dir_all(src.join("foo/empty")).expect("mkdir");
    std::os::unix::fs::symlink("../bar/baz/rsync", src.join("foo/sym")).expect("symlink");
    fix_dirs(src, T0 + 100);
}

/// `bar/` (mode 0700, another mtime) and `foo/` (another mtime) exist,
/// with extraneous items for --delete-during; `a` is a file where the
/// source has a directory.
fn destination(dst: &Path) {
    put(dst, "bar/old.txt", b"old", T0 - 10);
    put(dst, "foo/gone/inner.txt", b"gone", T0 - 10);
    put(dst, "foo/stale.txt", b"stale", T0 - 10);
    put(dst, "zz.txt", b"extra", T0 - 10);
    put(dst, "a", b"a file", T0 - 10);
    fix_dirs(dst, T0 - 50);
    fs::set_permissions(dst.join("bar"), fs::Permissions::from_mode(0o700)).expect("chmod");
}

/// The lines the generator prints, in order: with -i directories and
/// symlinks, with -vv directory names; then, apart (they reach the
/// output by another way than the items the sender echoes, so their
/// place among those varies in stock rsync too), the deletions.
fn generator_lines(stdout: &str, itemized: bool) -> [Vec<String>; 2] {
    let deletion = |l: &&str| l.starts_with("*deleting ") || l.starts_with("deleting ");
    let item = |l: &&str| {
        if itemized {
            is_itemize_line(l) && matches!(l.as_bytes()[1], b'd' | b'L')
        } else {
            l.ends_with('/') && !l.contains(' ')
        }
    };
    let pick = |f: &dyn Fn(&&str) -> bool| stdout.lines().filter(f).map(str::to_owned).collect();
    [pick(&|l| item(l) && !deletion(l)), pick(&deletion)]
}

/// The client command: `client`, over the loopback shell with `server`
/// unless local.
fn command(s: &Scratch, dir: Dir, client: &Path, server: &Path, opts: &[&str]) -> Command {
    let mut c = dir.client_of(client, server, &s.rsh());
    c.args(opts);
    let src = format!("{}/", s.path("src").display());
    let dst = format!("{}/", s.path("dst").display());
    c.args(dir.operands(src, dst));
    c
}

/// One transfer of the tree with `opts`; its generator lines and the tree
/// that arrived.
fn transfer(
    dir: Dir,
    client: &Path,
    server: &Path,
    opts: &[&str],
    existing: bool,
) -> (
    [Vec<String>; 2],
    std::collections::BTreeMap<PathBuf, EntryState>,
) {
    let s = Scratch::new();
    source(&s.path("src"));
    if existing {
        destination(&s.path("dst"));
    }
    let r = run(&mut command(&s, dir, client, server, opts), &s.logs());
    r.assert_code(0);
    let itemized = opts.iter().any(|o| o.contains('i'));
    (
        generator_lines(&r.stdout, itemized),
        snapshot(&s.path("dst")),
    )
}

const CASES: [(&[&str], bool); 6] = [
    (&["-ai"], false),
    (&["-ai"], true),
    (&["-a", "-vv"], true),
    (&["-ai", "--delete-during"], true),
    (&["-rlpi"], true),
    (&["-ain", "--delete-during"], true),
];

#[test]
fn generator_order_matches_stock() {
    let ox = oxsync_bin();
    let mut failures = Vec::new();
    for stock in stock_bins() {
        for dir in ALL {
            let (client, server) = match dir {
                Dir::Local => (ox.clone(), ox.clone()),
                Dir::OxPush | Dir::OxPull => (ox.clone(), stock.clone()),
                Dir::RsyncPush | Dir::RsyncPull => (stock.clone(), ox.clone()),
            };
            for (opts, existing) in CASES {
                let (ours, our_tree) = transfer(dir, &client, &server, opts, existing);
                let (theirs, their_tree) = transfer(dir, &stock, &stock, opts, existing);
                assert!(
                    theirs[0].iter().any(|l| l.contains("a/b/c/")),
                    "no directory lines from {}: {theirs:?}",
                    stock.display()
                );
                let label = format!("{} {dir:?} {opts:?} existing={existing}", stock.display());
                if ours != theirs {
                    failures.push(format!(
                        "{label}: order differs\n  oxsync: {ours:#?}\n  stock:  {theirs:#?}"
                    ));
                }
                // Without -t the times are the transfer's.
                if opts[0].contains('a') {
                    let d = map_diff(&our_tree, &their_tree);
                    if !d.is_empty() {
                        failures.push(format!("{label}: trees differ\n{}", d.join("\n")));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
