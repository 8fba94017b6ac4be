//! `-vv` (`--info=name2`) without `-i`: the receiving side names what it
//! leaves in place, "NAME is uptodate" (or just "NAME" when it fixed the
//! item's attributes), for files, symlinks, specials, hard links already
//! in place and items found in a `--link-dest`/`--compare-dest`/
//! `--copy-dest` directory; with `-i` it does not. A hard link already in
//! place is no time change without `-t`. Each case runs in every
//! direction against stock rsync (3.2.7, and 3.5.0 where built) and
//! compares the name and item lines.
use crate::util::*;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The entries of [`source`], as the lines name them.
const NAMES: [&str; 9] = [
    ".", "a", "lnk", "sub", "sub/b", "sub/c", "sub/fifo", "sub/new", "sub/perm",
];

/// Files, a symlink, a fifo and a hard-linked pair; fixed mtimes.
fn source(root: &Path) {
    put(root, "a", b"alpha\n", T0 + 10);
    put(root, "sub/b", b"beta\n", T0 + 10);
    fs::hard_link(root.join("sub/b"), root.join("sub/c")).expect("link");
    put(root, "sub/perm", b"perm\n", T0 + 10);
    put(root, "sub/new", b"new content\n", T0 + 20);
    symlink("a", root.join("lnk")).expect("symlink");
    let st = Command::new("mkfifo")
        .arg(root.join("sub/fifo"))
        .status()
        .expect("mkfifo");
    assert!(st.success());
    for d in ["sub", ""] {
        set_mtime(&root.join(d), T0 + 500);
    }
}

/// A copy of `src` (stock rsync -aH) with one file's permissions and
/// another's data changed.
fn copy_with_changes(s: &Scratch, src: &str, dst: &Path) {
    let mut c = Command::new(rsync_bin());
    c.args(["-aH", src]).arg(dst);
    run(&mut c, &s.logs()).assert_code(0);
    fs::set_permissions(dst.join("sub/perm"), fs::Permissions::from_mode(0o600)).expect("chmod");
    put(dst, "sub/new", b"old\n", T0 + 10);
    set_mtime(&dst.join("sub"), T0 + 500);
}

/// `client ARGS SRC DST` in `dir`, `client` and `server` the binaries.
fn command(
    s: &Scratch,
    dir: Dir,
    (client, server): (&Path, &Path),
    args: &[String],
    src: &str,
    dst: &str,
) -> Command {
    let mut c = Command::new(client);
    if dir != Dir::Local {
        c.arg("-e")
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", server.display()));
    }
    c.args(args)
        .args(dir.operands(src.to_string(), dst.to_string()));
    c
}

/// The lines naming an entry (a name alone, "NAME is uptodate",
/// "NAME -> TARGET", "NAME => LEADER", "DIR/") and the item lines, sorted.
fn name_lines(stdout: &str) -> Vec<String> {
    let mut v: Vec<String> = stdout
        .lines()
        .filter(|l| {
            let first = l.split(' ').next().unwrap_or("");
            let first = first.strip_suffix('/').unwrap_or(first);
            NAMES.contains(&first) || is_itemize_line(l)
        })
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The cases: the options, and whether the destination starts as a
/// changed copy (else it does not exist and `B` names such a copy as the
/// basis directory).
fn cases() -> Vec<(Vec<&'static str>, bool)> {
    vec![
        (vec!["-aH", "-vv"], true),
        (vec!["-aH", "--info=name2"], true),
        (vec!["-aHn", "-vv"], true),
        (vec!["-aH", "-ivv"], true),
        (vec!["-rlpDH", "-i"], true),
        (vec!["-rlpDH", "-vv"], true),
        (vec!["-aH", "-vv", "--link-dest=B"], false),
        (vec!["-aH", "-vv", "--compare-dest=B"], false),
        (vec!["-aH", "-vv", "--copy-dest=B"], false),
        (vec!["-aH", "-ivv", "--link-dest=B"], false),
    ]
}

/// Runs one case: oxsync in its role for `dir` (with `stock` as its
/// peer) and `stock` alone; returns both runs.
fn run_case(dir: Dir, stock: &Path, args: &[&str], existing: bool) -> (Run, Run) {
    let s = Scratch::new();
    let src = s.path("src");
    source(&src);
    let sa = format!("{}/", src.display());
    let basis = s.path("basis");
    copy_with_changes(&s, &sa, &basis);
    let ox = oxsync_bin();
    let ends = match dir {
        Dir::Local => (ox.as_path(), ox.as_path()),
        Dir::OxPush | Dir::OxPull => (ox.as_path(), stock),
        Dir::RsyncPush | Dir::RsyncPull => (stock, ox.as_path()),
    };
    let mut runs = Vec::new();
    for (name, ends) in [("d1", ends), ("d2", (stock, stock))] {
        let dst: PathBuf = s.path(name);
        if existing {
            copy_with_changes(&s, &sa, &dst);
        }
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("=B", &format!("={}", basis.display())))
            .collect();
        let d = format!("{}/", dst.display());
        runs.push(run(&mut command(&s, dir, ends, &args, &sa, &d), &s.logs()));
    }
    let theirs = runs.pop().expect("stock run");
    (runs.pop().expect("our run"), theirs)
}

#[test]
fn unchanged_items_are_named_as_stock() {
    for stock in stock_bins() {
        for dir in ALL {
            for (args, existing) in cases() {
                let (ours, theirs) = run_case(dir, &stock, &args, existing);
                let label = format!("{dir:?} {args:?} against {}", stock.display());
                let show = |w: &str| show_runs(&label, w, &ours, &theirs);
                assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
                let (a, b) = (name_lines(&ours.stdout), name_lines(&theirs.stdout));
                // The reference itself says what the case is about.
                if args == ["-aH", "-vv"] {
                    for l in ["a is uptodate", "sub/c is uptodate", "sub/perm", "sub/new"] {
                        assert!(b.iter().any(|x| x == l), "{}", show(&format!("no {l:?}")));
                    }
                }
                assert_eq!(a, b, "{}", show("name lines differ"));
            }
        }
    }
}
