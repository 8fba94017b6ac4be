//! The symlink options (-L, --copy-unsafe-links, --safe-links, -k) and
//! the ownership maps (--usermap, --groupmap, --chown) end to end, in five directions (local copy, oxsync client pushing/pulling
//! against stock `rsync --server`, stock rsync pushing/pulling against
//! `oxsync --server`) and against stock rsync alone on an identically
//! prepared destination: trees (with symlink targets and owners), sorted
//! itemize lines and exit codes must agree.
use crate::pair::{self, Pair};
use crate::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

/// Source: files, a directory, and symlinks of every kind: within the tree,
/// climbing out of it, absolute, dangling, to a directory, nested.
fn make_src(scratch: &Scratch) -> PathBuf {
    let src = scratch.path("src");
    put(
        scratch.root(),
        "outside.txt",
        b"outside the tree\n",
        T0 + 10,
    );
    fs::create_dir_all(scratch.path("outdir")).expect("mkdir");
    put(
        scratch.root(),
        "outdir/o.txt",
        b"in an outside dir\n",
        T0 + 10,
    );
    put(&src, "f.txt", b"a file\n", T0 + 10);
    put(&src, "d/in.txt", b"inside d\n", T0 + 10);
    put(&src, "d/e/deep.txt", b"deeper\n", T0 + 10);
    let links: &[(&str, &str)] = &[
        ("l_file", "f.txt"),
        ("l_dir", "d"),
        ("l_out", "../outside.txt"),
        ("l_outdir", "../outdir"),
        ("l_abs", "/etc/hostname"),
        ("l_dangling", "nothing-here"),
        ("d/up", "../f.txt"),
        ("d/e/up2", "../../d/in.txt"),
        ("d/e/out2", "../../../outside.txt"),
        ("d/dotty", "./../f.txt"),
    ];
    for (name, target) in links {
        symlink(target, src.join(name)).expect("symlink");
    }
    // Owners for the map tests: daemon, bin, an id without a name, root.
    let owners: &[(&str, u32, u32)] = &[
        ("f.txt", 1, 1),
        ("d", 2, 2),
        ("d/in.txt", 2, 1),
        ("d/e/deep.txt", 4321, 4321),
        ("l_file", 1, 2),
    ];
    for (name, uid, gid) in owners {
        std::os::unix::fs::lchown(src.join(name), Some(*uid), Some(*gid)).expect("lchown");
    }
    src
}

/// The standard source (without its dangling link unless
/// `with_dangling`) and two destinations with `existing.txt` and
/// `prep_dst`'s changes; commands start `-ai` and run over a remote shell
/// that passes its arguments through a shell.
fn case(dir: Dir, with_dangling: bool, prep_dst: fn(&Path)) -> Pair {
    let mut pair = Pair::empty(dir).prefix(&["-ai"]);
    pair.rsh = pair.scratch.shell_rsh();
    let src = make_src(&pair.scratch);
    if !with_dangling {
        fs::remove_file(src.join("l_dangling")).expect("rm");
    }
    // Fixed directory mtimes, so no itemize line depends on the clock.
    for d in ["src/d/e", "src/d", "src", "outdir"] {
        set_mtime(&pair.scratch.path(d), T0 + 900);
    }
    pair.make_dsts(|_, d| {
        put(d, "existing.txt", b"already here\n", T0 + 10);
        prep_dst(d);
        set_mtime(d, T0 + 100_000);
    });
    pair
}

type Seen = (char, u32, u64, u64, Option<PathBuf>, u32, u32);

/// Entries with kind, permissions, size, digest, link target, owner, group.
fn tree(root: &Path) -> BTreeMap<PathBuf, Seen> {
    snapshot(root)
        .into_iter()
        .map(|(p, s)| {
            let md = fs::symlink_metadata(root.join(&p)).expect("lstat");
            (
                p,
                (s.kind, s.perm, s.size, s.digest, s.link, md.uid(), md.gid()),
            )
        })
        .collect()
}

/// Runs `args` in direction `dir` and against the stock-rsync reference;
/// compares exit codes, itemize lines and trees. Returns stock rsync's
/// itemize lines and the tree it made.
fn check(dir: Dir, args: &[&str], with_dangling: bool) -> (Vec<String>, BTreeMap<PathBuf, Seen>) {
    check_prep(dir, args, with_dangling, |_| {})
}

fn check_prep(
    dir: Dir,
    args: &[&str],
    with_dangling: bool,
    prep_dst: fn(&Path),
) -> (Vec<String>, BTreeMap<PathBuf, Seen>) {
    let (_, theirs, t) = case(dir, with_dangling, prep_dst).check(args, tree);
    (theirs.itemized(), t)
}

fn check_all(args: &[&str], with_dangling: bool) -> BTreeMap<PathBuf, Seen> {
    pair::check_all(|dir| check(dir, args, with_dangling).1)
}

fn kind(t: &BTreeMap<PathBuf, Seen>, name: &str) -> char {
    t.get(Path::new(name)).map_or('-', |s| s.0)
}

#[test]
fn copy_links() {
    let t = check_all(&["-L"], false);
    assert_eq!(kind(&t, "l_file"), 'f');
    assert_eq!(kind(&t, "l_outdir"), 'd');
    assert_eq!(kind(&t, "l_dir/e/out2"), 'f');
    // A dangling symlink: an error, exit 23, the rest still copied.
    let t = check_all(&["--copy-links"], true);
    assert_eq!(kind(&t, "l_dangling"), '-');
    assert_eq!(kind(&t, "f.txt"), 'f');
    check_all(&["-L", "--no-l"], true);
}

#[test]
fn copy_unsafe_links() {
    let t = check_all(&["--copy-unsafe-links"], true);
    assert_eq!(kind(&t, "l_out"), 'f');
    assert_eq!(kind(&t, "l_abs"), 'f');
    assert_eq!(kind(&t, "l_outdir"), 'd');
    assert_eq!(kind(&t, "d/e/out2"), 'f');
    assert_eq!(kind(&t, "l_file"), 'l');
    assert_eq!(kind(&t, "d/up"), 'l');
    check_all(&["--copy-unsafe-links", "-n"], true);
}

#[test]
fn safe_links() {
    let t = check_all(&["--safe-links"], true);
    assert_eq!(kind(&t, "l_out"), '-');
    assert_eq!(kind(&t, "l_abs"), '-');
    assert_eq!(kind(&t, "d/e/out2"), '-');
    assert_eq!(kind(&t, "d/e/up2"), 'l');
    assert_eq!(kind(&t, "l_dangling"), 'l');
    check_all(&["--safe-links", "-v"], true);
    let t = check_all(&["--safe-links", "--copy-unsafe-links"], true);
    assert_eq!(kind(&t, "l_out"), 'f');
}

#[test]
fn copy_dirlinks() {
    let t = check_all(&["-k"], true);
    assert_eq!(kind(&t, "l_dir"), 'd');
    assert_eq!(kind(&t, "l_outdir"), 'd');
    assert_eq!(kind(&t, "l_file"), 'l');
    check_all(&["--copy-dirlinks", "--safe-links"], true);
}

fn owner(t: &BTreeMap<PathBuf, Seen>, name: &str) -> (u32, u32) {
    t.get(Path::new(name))
        .map_or((u32::MAX, u32::MAX), |s| (s.5, s.6))
}

#[test]
fn usermap_groupmap() {
    let t = check_all(&["--usermap=daemon:sys"], false);
    assert_eq!(owner(&t, "f.txt"), (3, 1));
    assert_eq!(owner(&t, "d"), (2, 2));
    let t = check_all(
        &["--usermap=0-1:bin,*:sys", "--groupmap=bin:nogroup"],
        false,
    );
    assert_eq!(owner(&t, "f.txt"), (2, 1));
    assert_eq!(owner(&t, "d"), (3, 65534));
    assert_eq!(owner(&t, "d/e/deep.txt"), (3, 4321));
    assert_eq!(owner(&t, "l_file"), (2, 65534));
    let t = check_all(&["--groupmap=d*:7,4321:sys", "--no-o"], false);
    assert_eq!(owner(&t, "f.txt"), (0, 7));
    assert_eq!(owner(&t, "d/e/deep.txt"), (0, 3));
}

#[test]
fn chown() {
    // Checked in every direction: the map must reach a receiving server.
    for dir in ALL {
        let t = check(dir, &["--chown=sys:nogroup"], false).1;
        assert_eq!(owner(&t, "f.txt"), (3, 65534), "{dir:?}");
        assert_eq!(owner(&t, "d/e/deep.txt"), (3, 65534), "{dir:?}");
        let t = check(dir, &["--usermap=0-1:bin,*:sys"], false).1;
        assert_eq!(owner(&t, "f.txt"), (2, 1), "{dir:?}");
        assert_eq!(owner(&t, "d"), (3, 2), "{dir:?}");
    }
    let t = check_all(&["--chown=:daemon"], false);
    assert_eq!(owner(&t, "d"), (2, 1));
    let t = check_all(&["--chown=bin"], false);
    assert_eq!(owner(&t, "f.txt"), (2, 1));
}

#[test]
fn map_errors() {
    for args in [
        &["--chown=bin", "--usermap=a:b"][..],
        &["--usermap=a:b", "--usermap=c:d"],
        &["--groupmap=nocolon"],
        &["--usermap=1x:bin"],
    ] {
        check(Dir::Local, args, false);
        check(Dir::OxPush, args, false);
    }
}

/// Destination where the source's directory `d` is a symlink to a
/// directory in the tree, with an extra file in it.
fn dirlink_dst(dst: &Path) {
    put(dst, "realdir/extra.txt", b"extra\n", T0 + 10);
    put(dst, "realdir/e/old.txt", b"old\n", T0 + 10);
    set_mtime(&dst.join("realdir/e"), T0 + 5);
    set_mtime(&dst.join("realdir"), T0 + 5);
    symlink("realdir", dst.join("d")).expect("symlink");
}

#[test]
fn keep_dirlinks() {
    for args in [&["-K"][..], &["--keep-dirlinks", "--delete"], &["-K", "-n"]] {
        let mut t = BTreeMap::new();
        for dir in ALL {
            t = check_prep(dir, args, true, dirlink_dst).1;
        }
        if args.contains(&"--delete") {
            // "realdir" is not in the source: deleted before "d" is reached.
            assert_eq!((kind(&t, "d"), kind(&t, "realdir")), ('d', '-'));
            continue;
        }
        assert_eq!(kind(&t, "d"), 'l', "{args:?} {t:?}");
        let made = if args.contains(&"-n") { '-' } else { 'f' };
        assert_eq!(kind(&t, "realdir/in.txt"), made, "{args:?}");
        assert_eq!(
            kind(&t, "realdir/e/deep.txt"),
            if args.contains(&"-n") { '-' } else { 'f' }
        );
    }
    // Without -K the symlink is replaced by a directory.
    let t = check_prep(Dir::Local, &[], true, dirlink_dst).1;
    assert_eq!(kind(&t, "d"), 'd');
}

/// A symlink leading out of the destination is not followed under -K
/// (stock rsync would write through it): it is replaced by a directory.
#[test]
fn keep_dirlinks_refuses_outward_links() {
    for dir in [Dir::Local, Dir::RsyncPush, Dir::OxPull] {
        let c = case(dir, true, |_| {});
        let outside = c.scratch.path("outdir");
        let before = snapshot(&outside);
        symlink(&outside, c.dst.join("d")).expect("symlink");
        let r = run(&mut c.command(false, &["-K"]), &c.scratch.logs());
        r.assert_code(0);
        assert_eq!(snapshot(&outside), before, "{dir:?}: wrote outside");
        let t = tree(&c.dst);
        assert_eq!(kind(&t, "d"), 'd', "{dir:?}");
        assert_eq!(kind(&t, "d/in.txt"), 'f', "{dir:?}");
    }
}

/// With `-v`, each unsafe link `--copy-unsafe-links` follows is named by
/// the sender ("copying unsafe symlink "NAME" -> "TARGET"", upstream's
/// readlink_stat() at INFO_SYMSAFE), locally and from a remote sender,
/// as stock rsync names them. (Before, oxsync said nothing.)
#[test]
fn copy_unsafe_links_names_each_followed_link() {
    let noted = |r: &Run| -> Vec<String> {
        let mut v: Vec<String> = r
            .stdout
            .lines()
            .chain(r.stderr.lines())
            .filter(|l| l.starts_with("copying unsafe symlink"))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    let mut seen = Vec::new();
    for (client, server) in [
        (rsync_bin(), None),
        (oxsync_bin(), None),
        (oxsync_bin(), Some(rsync_bin())),
        (rsync_bin(), Some(oxsync_bin())),
    ] {
        let s = Scratch::new();
        let src = make_src(&s);
        let mut c = std::process::Command::new(&client);
        c.args(["-rv", "--copy-unsafe-links"]);
        match &server {
            Some(server) => c
                .arg("-e")
                .arg(s.rsh())
                .arg(format!("--rsync-path={}", server.display()))
                .arg(format!("localhost:{}/", src.display())),
            None => c.arg(format!("{}/", src.display())),
        };
        c.arg(format!("{}/", s.path("dst").display()));
        let r = run(&mut c, &s.logs());
        seen.push((format!("{} via {server:?}", client.display()), noted(&r)));
    }
    let want = [
        "copying unsafe symlink \"d/dotty\" -> \"./../f.txt\"",
        "copying unsafe symlink \"d/e/out2\" -> \"../../../outside.txt\"",
        "copying unsafe symlink \"l_abs\" -> \"/etc/hostname\"",
        "copying unsafe symlink \"l_out\" -> \"../outside.txt\"",
        "copying unsafe symlink \"l_outdir\" -> \"../outdir\"",
    ];
    for (label, lines) in &seen {
        assert_eq!(lines, &want, "{label}");
    }
}
