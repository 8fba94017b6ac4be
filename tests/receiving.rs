//! Receiver-side options end to end (`--sparse`, `--preallocate`,
//! `--open-noatime`, `--crtimes`, ...), in five directions (local copy,
//! oxsync client pushing/pulling against stock `rsync --server`, stock
//! rsync pushing/pulling against `oxsync --server`) and against stock rsync
//! alone on identically prepared trees: destination trees (with the
//! metadata the option affects), sorted itemize lines and exit codes must
//! agree.
use crate::pair::{self, assert_same, Pair};
use crate::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Times after this were set by the system during the run.
const T_RECENT: i64 = T0 + 10_000_000;

/// What a tree view records besides kind, mode bits, mtime, size, content
/// and link target.
#[derive(Debug, Clone, Copy, Default)]
struct Facets {
    /// st_blocks of regular files (holes).
    blocks: bool,
    /// atime of regular files and symlinks (clamped: recent times compare
    /// equal).
    atime: bool,
    /// Compare the source trees too (atimes the senders' reads moved).
    sources: bool,
    /// Owner and group.
    ids: bool,
    /// The `user.rsync.%stat` extended attribute (--fake-super).
    fake_stat: bool,
}

/// A file of `len` bytes with the byte runs `data` at the given offsets
/// and holes elsewhere.
fn put_sparse(root: &Path, rel: &str, len: u64, data: &[(u64, &[u8])], mtime: i64) {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).expect("mkdir parents");
    }
    let mut f = fs::File::create(&p).expect("create");
    for (at, bytes) in data {
        f.seek(SeekFrom::Start(*at)).expect("seek");
        f.write_all(bytes).expect("write");
    }
    f.set_len(len).expect("set_len");
    drop(f);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).expect("chmod");
    set_mtime(&p, mtime);
}

fn set_atime(p: &Path, atime: i64) {
    let ok = Command::new("touch")
        .arg("-a")
        .arg("-d")
        .arg(format!("@{atime}"))
        .arg(p)
        .status()
        .expect("touch -a");
    assert!(ok.success());
}

type Maker = fn(&Path);

/// An empty destination.
fn nothing(d: &Path) {
    fix_dirs(d, T_DST_DIRS);
}

/// Directory mtimes of a source tree.
const T_SRC_DIRS: i64 = T0 + 900;
/// Directory mtimes of a destination tree.
const T_DST_DIRS: i64 = T0 + 1900;

/// The trees for one test: each run with its own source (made by
/// `make_src`) and destination (made by `make_dst`).
fn case(dir: Dir, make_src: Maker, make_dst: Maker) -> Pair {
    // The makers end with fix_dirs (or set directory times themselves).
    Pair::with_src_copy(dir, make_src, |_, d| make_dst(d))
}

/// Every entry's recorded state as one string.
fn tree(root: &Path, facets: Facets) -> BTreeMap<PathBuf, String> {
    // atimes first: the snapshot reads every file.
    let mut atimes = BTreeMap::new();
    if facets.atime {
        for p in snapshot_paths(root) {
            let md = fs::symlink_metadata(root.join(&p)).expect("lstat");
            if md.is_file() || md.file_type().is_symlink() {
                atimes.insert(p, md.atime().min(T_RECENT));
            }
        }
    }
    snapshot(root)
        .into_iter()
        .map(|(p, s)| {
            let full = root.join(&p);
            let md = fs::symlink_metadata(&full).expect("lstat");
            let mtime = if s.kind == 'l' { md.mtime() } else { s.mtime };
            let mut v = format!(
                "{} {:o} mtime={} size={} digest={:x} link={:?}",
                s.kind,
                s.perm,
                mtime.min(T_RECENT),
                s.size,
                s.digest,
                s.link
            );
            if facets.blocks && s.kind == 'f' {
                v.push_str(&format!(" blocks={}", md.blocks()));
            }
            if let Some(a) = atimes.get(&p) {
                v.push_str(&format!(" atime={a}"));
            }
            if facets.fake_stat && s.kind != 'l' {
                v.push_str(&format!(" %stat={:?}", fake_stat(&full)));
            }
            if facets.ids {
                v.push_str(&format!(" uid={} gid={}", md.uid(), md.gid()));
                if md.file_type().is_char_device() || md.file_type().is_block_device() {
                    v.push_str(&format!(" rdev={:x}", md.rdev()));
                }
            }
            (p, v)
        })
        .collect()
}

fn snapshot_paths(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let full = root.join(&rel);
        out.push(rel.clone());
        let md = fs::symlink_metadata(&full).expect("lstat");
        if md.is_dir() {
            for e in fs::read_dir(&full).expect("read_dir") {
                stack.push(rel.join(e.expect("entry").file_name()));
            }
        }
    }
    out
}

/// Runs `args` in direction `dir` and against the stock-rsync reference;
/// compares exit codes, itemize lines, destination trees and (with
/// `facets.atime`) source trees. Returns stock rsync's run.
fn check(dir: Dir, args: &[&str], make_src: Maker, make_dst: Maker, facets: Facets) -> Run {
    let c = case(dir, make_src, make_dst);
    let label = format!("{dir:?} {args:?}");
    let (ours, theirs) = c.run_pair(
        &label,
        &mut c.command(false, args),
        &mut c.command(true, args),
    );
    let runs = (&ours, &theirs);
    if facets.sources {
        let (a, b) = (tree(&c.src, facets), tree(&c.src_ref, facets));
        assert_same(&label, runs, "sources differ", &a, &b);
    }
    let mut ours_tree = tree(&c.dst, facets);
    let theirs_tree = tree(&c.dst_ref, facets);
    forgive_metadata_blocks(&mut ours_tree, &theirs_tree);
    assert_same(&label, runs, "trees differ", &ours_tree, &theirs_tree);
    theirs
}

/// st_blocks also counts the filesystem's own extent-tree blocks, which
/// depend on how the kernel happened to merge the writes (seen: one 4 KiB
/// block more or less under load). Entries that differ only by at most
/// one such block are taken as equal; a hole or a preallocation differs
/// by far more.
fn forgive_metadata_blocks(
    ours: &mut BTreeMap<PathBuf, String>,
    theirs: &BTreeMap<PathBuf, String>,
) {
    fn split(v: &str) -> Option<(String, i64)> {
        let at = v.find(" blocks=")?;
        let rest = &v[at + 8..];
        let end = rest.find(' ').unwrap_or(rest.len());
        let n = rest[..end].parse().ok()?;
        Some((format!("{}{}", &v[..at], &rest[end..]), n))
    }
    for (p, v) in ours.iter_mut() {
        let Some(t) = theirs.get(p) else { continue };
        if let (Some((a, x)), Some((b, y))) = (split(v), split(t)) {
            if a == b && (x - y).abs() <= 8 {
                *v = t.clone();
            }
        }
    }
}

fn check_all(args: &[&str], make_src: Maker, make_dst: Maker, facets: Facets) -> Run {
    pair::check_all(|dir| check(dir, args, make_src, make_dst, facets))
}

// ---------------------------------------------------------------------------
// --sparse, --preallocate

const K: u64 = 1024;

/// Files with holes: inside, at the end, at the start, none at all, and a
/// file that is all hole.
fn sparse_src(src: &Path) {
    let t = T0 + 10;
    put_sparse(
        src,
        "holes.bin",
        3 * K * K + 10,
        &[
            (0, &[b'a'; 8192]),
            (K * K, &[b'b'; 5000]),
            (3 * K * K, &[b'c'; 10]),
        ],
        t,
    );
    put_sparse(src, "tail.bin", K * K, &[(0, &[b'x'; 4096])], t);
    put_sparse(src, "head.bin", 600 * K, &[(512 * K, &[b'h'; 8192])], t);
    put_sparse(src, "empty.bin", 256 * K, &[], t);
    put_mode(src, "dense.txt", &[b'd'; 20_000], 0o644, t);
    put_sparse(
        src,
        "sub/deep.bin",
        2 * K * K,
        &[(K * K, &[b'e'; 70_000])],
        t,
    );
    put_mode(src, "changed.bin", &changed_new(), 0o644, t);
    fix_dirs(src, T_SRC_DIRS);
}

/// The source's version of `changed.bin`: the old data's shape with holes
/// where the old file had data, and data past its end.
fn changed_new() -> Vec<u8> {
    let mut v = vec![0u8; 400 * K as usize];
    v[..64 * K as usize].fill(b'n');
    v[300 * K as usize..].fill(b'm');
    v
}

/// A destination with an older, fully written `changed.bin` (for the
/// in-place and delta cases) and a stale `holes.bin`.
fn sparse_dst(dst: &Path) {
    let t = T0 - 500;
    let mut old = vec![b'o'; 360 * K as usize];
    old[..64 * K as usize].fill(b'n');
    put_mode(dst, "changed.bin", &old, 0o644, t);
    put_mode(dst, "holes.bin", &[b'z'; 70_000], 0o644, t);
    fix_dirs(dst, T_DST_DIRS);
}

fn blocks() -> Facets {
    Facets {
        blocks: true,
        ..Default::default()
    }
}

#[test]
fn sparse_new_files() {
    check_all(&["-ai", "-S"], sparse_src, nothing, blocks());
    check_all(&["-ai", "--sparse"], sparse_src, nothing, blocks());
    check_all(&["-ai", "-S", "--no-sparse"], sparse_src, nothing, blocks());
    check_all(
        &["-ai", "-S", "--no-S", "-S"],
        sparse_src,
        nothing,
        blocks(),
    );
    check_all(&["-ai"], sparse_src, nothing, blocks());
}

#[test]
fn sparse_updates() {
    check_all(&["-ai", "-S"], sparse_src, sparse_dst, blocks());
    check_all(&["-ai", "-S", "--no-W"], sparse_src, sparse_dst, blocks());
    check_all(&["-ai", "-S", "-I", "-W"], sparse_src, sparse_dst, blocks());
}

#[test]
fn sparse_inplace() {
    // rsync 3.2.7 allows --sparse with --inplace: zeros over old data are
    // punched out, zeros past it skipped.
    check_all(
        &["-ai", "-S", "--inplace"],
        sparse_src,
        sparse_dst,
        blocks(),
    );
    check_all(
        &["-ai", "-S", "--inplace", "--no-W"],
        sparse_src,
        sparse_dst,
        blocks(),
    );
    check_all(
        &["-ai", "-S", "--inplace", "-W"],
        sparse_src,
        sparse_dst,
        blocks(),
    );
}

#[test]
fn sparse_dry_run() {
    check_all(&["-ain", "-S"], sparse_src, sparse_dst, blocks());
}

#[test]
fn preallocate() {
    // Preallocated space stays allocated.
    check_all(&["-ai", "--preallocate"], sparse_src, nothing, blocks());
    check_all(&["-ai", "--preallocate"], sparse_src, sparse_dst, blocks());
    check_all(
        &["-ai", "--preallocate", "--inplace"],
        sparse_src,
        sparse_dst,
        blocks(),
    );
}

/// With -S the zero runs inside the preallocated extent are punched back
/// into holes, as rsync 3.5.0 does (its write_sparse() punches below the
/// length do_fallocate reserved; 3.2.7 left the file fully allocated): a
/// new file ends as sparse as stock's `-S` alone makes it, in each
/// direction where oxsync receives (Debian's 3.2.7 receiving would not).
#[test]
fn sparse_preallocate_punches_the_reserved_zero_runs() {
    for dir in [Dir::Local, Dir::OxPull, Dir::RsyncPush] {
        let c = case(dir, sparse_src, nothing);
        let label = format!("{dir:?} -S --preallocate");
        let (ours, theirs) = c.run_pair(
            &label,
            &mut c.command(false, &["-ai", "-S", "--preallocate"]),
            &mut c.command(true, &["-ai", "-S"]),
        );
        let mut ours_tree = tree(&c.dst, blocks());
        let theirs_tree = tree(&c.dst_ref, blocks());
        forgive_metadata_blocks(&mut ours_tree, &theirs_tree);
        assert_same(
            &label,
            (&ours, &theirs),
            "trees differ",
            &ours_tree,
            &theirs_tree,
        );
    }
}

// ---------------------------------------------------------------------------
// --open-noatime, --crtimes

/// Source files whose atime lies before their mtime (so that a read under
/// relatime updates it).
fn atime_src(src: &Path) {
    let t = T0 + 10;
    put_mode(src, "a.txt", b"aaa\n", 0o644, t);
    put_mode(src, "b.txt", b"bbb\n", 0o644, t);
    put_mode(src, "same.txt", b"same\n", 0o644, t);
    put_mode(src, "sub/c.txt", &[b'c'; 100_000], 0o600, t);
    for f in ["a.txt", "b.txt", "same.txt", "sub/c.txt"] {
        set_atime(&src.join(f), T0);
    }
    fix_dirs(src, T_SRC_DIRS);
}

fn atime_dst(dst: &Path) {
    let t = T0 + 10;
    put_mode(dst, "same.txt", b"same\n", 0o644, t);
    put_mode(dst, "sub/c.txt", &[b'C'; 90_000], 0o600, t - 5);
    for f in ["same.txt", "sub/c.txt"] {
        set_atime(&dst.join(f), T0);
    }
    fix_dirs(dst, T_DST_DIRS);
}

#[test]
fn open_noatime() {
    let f = Facets {
        atime: true,
        sources: true,
        ..Default::default()
    };
    // Debian's rsync 3.2.7 (with the 2024 security patches) opens the files
    // it sends with O_NOATIME only under -L/--copy-unsafe-links (it uses
    // do_open_nofollow otherwise), so the source atimes are compared with
    // it under -L; the checksum reads of -c honour the option either way.
    check_all(&["-aiL", "--open-noatime"], atime_src, atime_dst, f);
    check_all(
        &["-aiL", "--open-noatime", "--no-W"],
        atime_src,
        atime_dst,
        f,
    );
    check_all(&["-aicL", "--open-noatime"], atime_src, atime_dst, f);
    // Without it the reads move the source atimes (the control).
    check_all(&["-aiL"], atime_src, atime_dst, f);
    check_all(
        &["-aiL", "--open-noatime", "--no-open-noatime"],
        atime_src,
        atime_dst,
        f,
    );
}

/// Without -L, where stock rsync 3.2.7 updates the atimes of what it sends
/// despite `--open-noatime` (see [`open_noatime`]), an oxsync sender keeps
/// them as upstream's later releases do; the destination matches stock
/// rsync's either way.
#[test]
fn open_noatime_oxsync_sender() {
    for dir in ALL {
        let c = case(dir, atime_src, atime_dst);
        let plain = Facets::default();
        c.check(&["-ai", "--open-noatime"], |r| tree(r, plain));
        if matches!(dir, Dir::Local | Dir::OxPush | Dir::RsyncPull) {
            for f in ["a.txt", "b.txt", "sub/c.txt"] {
                let md = fs::metadata(c.src.join(f)).expect("stat");
                assert_eq!(md.atime(), T0, "{dir:?} {f}: the sender moved the atime");
            }
        }
    }
}

#[test]
fn crtimes_refused() {
    for args in [
        &["-aiN"][..],
        &["-ai", "--crtimes"],
        &["-ai", "--no-crtimes", "-N"],
        &["-ai", "-N", "--no-N"],
        &["-ai", "--crtimes", "--no-crtimes"],
    ] {
        let r = check_all(args, atime_src, atime_dst, Facets::default());
        assert_eq!(r.code, Some(1));
        assert!(
            r.stderr
                .contains("This rsync does not support --crtimes (-N)"),
            "{}",
            r.stderr
        );
    }
    // Its negations alone are accepted.
    check_all(&["-ai", "--no-N"], atime_src, atime_dst, Facets::default());
    check_all(
        &["-ai", "--no-crtimes"],
        atime_src,
        atime_dst,
        Facets::default(),
    );
}

#[test]
fn crtimes_message_matches() {
    let s = Scratch::new();
    let ours = run(Command::new(oxsync_bin()).args(["-N", "a", "b"]), &s.logs());
    assert_eq!(ours.code, Some(1));
    assert_eq!(
        ours.stderr.lines().next(),
        Some("rsync: This rsync does not support --crtimes (-N)"),
        "{}",
        ours.stderr
    );
}

// ---------------------------------------------------------------------------
// Basis dirs (--compare-dest, --copy-dest, --link-dest) holding directories,
// symlinks and specials the destination lacks

/// Sets the mtime of `p` without opening or following it.
fn lset_mtime(p: &Path, mtime: i64) {
    let ok = Command::new("touch")
        .arg("-h")
        .arg("-d")
        .arg(format!("@{mtime}"))
        .arg(p)
        .status()
        .expect("touch -h");
    assert!(ok.success());
}

fn link(root: &Path, rel: &str, target: &str, mtime: i64) {
    let p = root.join(rel);
    symlink(target, &p).expect("symlink");
    lset_mtime(&p, mtime);
}

fn fifo(root: &Path, rel: &str, mode: u32, mtime: i64) {
    let p = root.join(rel);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &p,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(mode),
        0,
    )
    .expect("mkfifo");
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).expect("chmod");
    lset_mtime(&p, mtime);
}

fn set_dir(root: &Path, rel: &str, mode: u32, mtime: i64) {
    let p = root.join(rel);
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).expect("chmod dir");
    set_mtime(&p, mtime);
}

/// Directories, symlinks and fifos, each new to the destination.
fn nondir_src(src: &Path) {
    let t = T0 + 10;
    put_mode(src, "same_dir/f.txt", b"same file\n", 0o644, t);
    put_mode(src, "time_dir/f.txt", b"time file\n", 0o644, t);
    put_mode(src, "mode_dir/f.txt", b"mode file\n", 0o644, t);
    fs::create_dir_all(src.join("new_dir")).expect("mkdir");
    link(src, "same_link", "same_dir/f.txt", t + 1);
    link(src, "time_link", "same_dir/f.txt", t + 2);
    link(src, "other_link", "elsewhere", t + 3);
    fifo(src, "same_fifo", 0o644, t + 4);
    fifo(src, "mode_fifo", 0o600, t + 5);
    fix_dirs(src, T_SRC_DIRS);
    set_dir(src, "mode_dir", 0o750, T_SRC_DIRS);
}

/// A basis dir `.b` inside the destination holding versions of the
/// source's items: identical, with another mtime or mode, with another
/// target.
fn nondir_dst(dst: &Path) {
    let b = dst.join(".b");
    let t = T0 + 10;
    put_mode(&b, "same_dir/f.txt", b"same file\n", 0o644, t);
    put_mode(&b, "time_dir/f.txt", b"time file\n", 0o644, t);
    put_mode(&b, "mode_dir/f.txt", b"mode file\n", 0o644, t);
    link(&b, "same_link", "same_dir/f.txt", t + 1);
    link(&b, "time_link", "same_dir/f.txt", t + 200);
    link(&b, "other_link", "somewhere", t + 3);
    fifo(&b, "same_fifo", 0o644, t + 4);
    fifo(&b, "mode_fifo", 0o644, t + 5);
    fix_dirs(dst, T_DST_DIRS);
    for d in ["same_dir", "mode_dir", ""] {
        set_dir(&b, d, 0o755, T_SRC_DIRS);
    }
    set_dir(&b, "time_dir", 0o755, T_SRC_DIRS + 77);
    set_dtime(dst);
}

/// The destination root's own mtime back after the basis dir was made.
fn set_dtime(dst: &Path) {
    set_mtime(dst, T_DST_DIRS);
}

/// The link count of every entry (hard links made by --link-dest).
fn nlinks(root: &Path) -> BTreeMap<PathBuf, u64> {
    snapshot_paths(root)
        .into_iter()
        .map(|p| {
            let n = fs::symlink_metadata(root.join(&p)).expect("lstat").nlink();
            (p, n)
        })
        .collect()
}

#[test]
fn basis_dirs_with_non_files() {
    for opt in ["--compare-dest=.b", "--copy-dest=.b", "--link-dest=.b"] {
        for extra in [&["-i"][..], &["-ii"], &["-i", "-n"], &["-i", "-O", "-J"]] {
            for dir in ALL {
                let mut args = vec!["-aD", opt];
                args.extend_from_slice(extra);
                let c = case(dir, nondir_src, nondir_dst);
                let f = Facets::default();
                let (ours, theirs, _) = c.check(&args, |r| tree(r, f));
                let label = format!("{dir:?} {args:?}");
                let (a, b) = (nlinks(&c.dst), nlinks(&c.dst_ref));
                assert_same(&label, (&ours, &theirs), "link counts differ", &a, &b);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// rsync's snapshot pattern: `--link-dest=../prev` beside the destination

/// A source tree and, beside each destination, `prev/` holding an older
/// snapshot of it (some files identical, some changed).
fn snap_src(src: &Path) {
    let t = T0 + 10;
    put_mode(src, "same.txt", b"same\n", 0o644, t);
    put_mode(src, "changed.txt", b"new text\n", 0o644, t + 50);
    put_mode(src, "sub/deep.txt", b"deep\n", 0o600, t);
    put_mode(src, "sub/new.txt", b"new\n", 0o644, t);
    fix_dirs(src, T_SRC_DIRS);
}

/// Runs a snapshot push or pull: `dst` is `W/cur`, with `W/prev` beside it.
fn snapshot_case(dir: Dir, opt: &str) {
    let c = case(dir, snap_src, nothing);
    for d in [&c.dst, &c.dst_ref] {
        let prev = d.parent().expect("parent").join(format!(
            "prev-{}",
            d.file_name().expect("name").to_string_lossy()
        ));
        fs::create_dir_all(&prev).expect("mkdir prev");
        let t = T0 + 10;
        put_mode(&prev, "same.txt", b"same\n", 0o644, t);
        put_mode(&prev, "changed.txt", b"old text\n", 0o644, t);
        put_mode(&prev, "sub/deep.txt", b"deep\n", 0o600, t);
        fix_dirs(&prev, T_SRC_DIRS);
    }
    let name = |d: &Path| {
        format!(
            "{opt}=../prev-{}",
            d.file_name().expect("name").to_string_lossy()
        )
    };
    // The option goes before the paths.
    let ours_cmd = &mut c.command(false, &["-ai", &name(&c.dst)]);
    let theirs_cmd = &mut c.command(true, &["-ai", &name(&c.dst_ref)]);
    let label = format!("{dir:?} {opt}");
    let (ours, theirs) = c.run_pair(&label, ours_cmd, theirs_cmd);
    let f = Facets::default();
    c.assert_trees(&label, (&ours, &theirs), |r| tree(r, f));
    let (a, b) = (nlinks(&c.dst), nlinks(&c.dst_ref));
    assert_same(&label, (&ours, &theirs), "link counts differ", &a, &b);
}

#[test]
fn link_dest_beside_the_destination() {
    for opt in ["--link-dest", "--compare-dest", "--copy-dest"] {
        for dir in ALL {
            snapshot_case(dir, opt);
        }
    }
}

// ---------------------------------------------------------------------------
// --munge-links

/// Symlinks: plain, already munged, the bare prefix, and one leading out.
fn munge_src(src: &Path) {
    let t = T0 + 10;
    put_mode(src, "file.txt", b"file\n", 0o644, t);
    link(src, "plain", "file.txt", t + 1);
    link(src, "munged", "/rsyncd-munged/file.txt", t + 2);
    link(src, "bare", "/rsyncd-munged/", t + 3);
    link(src, "out", "../../etc/passwd", t + 4);
    link(src, "abs", "/etc/passwd", t + 5);
    put_mode(src, "sub/x.txt", b"x\n", 0o644, t);
    link(src, "sub/up", "../file.txt", t + 6);
    fix_dirs(src, T_SRC_DIRS);
}

/// A destination already holding the munged form of one link and the
/// plain form of another.
fn munge_dst(dst: &Path) {
    let t = T0 + 10;
    link(dst, "plain", "/rsyncd-munged/file.txt", t + 1);
    link(dst, "abs", "/etc/passwd", t + 5);
    fix_dirs(dst, T_DST_DIRS);
}

#[test]
fn munge_links() {
    let f = Facets::default();
    for args in [
        &["-ai", "--munge-links"][..],
        &["-ai", "--munge-links", "--no-munge-links"],
        &["-ai", "--munge-links", "-n"],
        &["-ai", "--munge-links", "--safe-links"],
        &["-ai", "--munge-links", "-vv"],
        &["-ai"],
    ] {
        check_all(args, munge_src, munge_dst, f);
        check_all(args, munge_src, nothing, f);
    }
}

/// A daemon module munges the symlinks it receives unless `munge symlinks
/// = no` (and un-munges what it sends): oxsync's daemon against stock
/// rsync's, both pushed to and pulled from by stock rsync.
#[test]
fn daemon_munge_symlinks() {
    let modules = "[m]\npath = %ROOT%/mod\nread only = no\n\
        [nm]\npath = %ROOT%/nm\nread only = no\nmunge symlinks = no\n";
    let f = Facets::default();
    let mut seen = Vec::new();
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = crate::daemon::start(&bin, modules);
        let root = d.root().to_path_buf();
        let src = root.join("msrc");
        fs::create_dir_all(&src).expect("mkdir");
        munge_src(&src);
        fs::create_dir_all(root.join("nm")).expect("mkdir");
        let url = |m: &str| format!("rsync://127.0.0.1:{}/{m}", d.port());
        let mut outputs = Vec::new();
        for m in ["m", "nm"] {
            // Push, then pull back what the module stored.
            let push = run(
                Command::new(rsync_bin())
                    .args(["-ai", "--munge-links"])
                    .arg(format!("{}/", src.display()))
                    .arg(format!("{}/", url(m))),
                &root,
            );
            let back = root.join(format!("back-{m}"));
            let pull = run(
                Command::new(rsync_bin())
                    .args(["-ai"])
                    .arg(format!("{}/", url(m)))
                    .arg(format!("{}/", back.display())),
                &root,
            );
            let stored = root.join(if m == "m" { "mod" } else { "nm" });
            outputs.push((
                m,
                push.code,
                push.itemized(),
                pull.code,
                pull.itemized(),
                tree(&stored, f)
                    .into_iter()
                    .map(|(p, s)| (p, s.replace(&format!("{}", T_RECENT), "recent")))
                    .collect::<Vec<_>>(),
                tree(&back, f)
                    .into_iter()
                    .filter(|(p, _)| !p.as_os_str().is_empty())
                    .collect::<Vec<_>>(),
            ));
        }
        seen.push(outputs);
    }
    assert_eq!(
        seen[0], seen[1],
        "oxsync's daemon (left) and rsync's (right) differ"
    );
    let (_, _, _, _, _, stored, _) = &seen[0][0];
    assert!(
        stored
            .iter()
            .any(|(p, s)| p == Path::new("plain") && s.contains("/rsyncd-munged/file.txt")),
        "{stored:?}"
    );
}

// ---------------------------------------------------------------------------
// -U / --atimes

fn set_latime(p: &Path, atime: i64) {
    let ok = Command::new("touch")
        .arg("-h")
        .arg("-a")
        .arg("-d")
        .arg(format!("@{atime}"))
        .arg(p)
        .status()
        .expect("touch -h -a");
    assert!(ok.success());
}

/// Files and a symlink with distinct access times (two share one, so the
/// list repeats an atime), all before their mtimes.
fn atimes_src(src: &Path) {
    let t = T0 + 10;
    put_mode(src, "a.txt", b"aaa\n", 0o644, t);
    put_mode(src, "b.txt", b"bbb\n", 0o644, t);
    put_mode(src, "same.txt", b"same\n", 0o644, t);
    put_mode(src, "changed.txt", b"changed new\n", 0o644, t + 20);
    put_mode(src, "sub/c.txt", &[b'c'; 100_000], 0o600, t);
    link(src, "link", "a.txt", t);
    fix_dirs(src, T_SRC_DIRS);
    for (f, at) in [
        ("a.txt", T0 - 100),
        ("b.txt", T0 - 100),
        ("same.txt", T0 - 200),
        ("changed.txt", T0 - 300),
        ("sub/c.txt", T0 - 400),
        ("link", T0 - 500),
    ] {
        set_latime(&src.join(f), at);
    }
}

/// The same file with another atime, a changed file, a file whose atime
/// already matches.
fn atimes_dst(dst: &Path) {
    let t = T0 + 10;
    put_mode(dst, "same.txt", b"same\n", 0o644, t);
    put_mode(dst, "changed.txt", b"changed old\n", 0o644, t);
    put_mode(dst, "sub/c.txt", &[b'c'; 100_000], 0o600, t);
    fix_dirs(dst, T_DST_DIRS);
    for (f, at) in [
        ("same.txt", T0 - 7),
        ("changed.txt", T0 - 8),
        ("sub/c.txt", T0 - 400),
    ] {
        set_latime(&dst.join(f), at);
    }
}

#[test]
fn atimes() {
    let f = Facets {
        atime: true,
        ..Default::default()
    };
    for args in [
        &["-ai", "-U"][..],
        &["-ai", "--atimes"],
        &["-ai", "-U", "--no-W"],
        &["-ai", "-U", "-c"],
        &["-ai", "-U", "-n"],
        &["-ai", "-UJ"],
        &["-ai", "-U", "--inplace"],
        &["-rlpi", "-U"],
        &["-ai", "-U", "--no-U"],
        &["-ai", "-U", "--no-atimes"],
        &["-ai", "-UU"],
    ] {
        check_all(args, atimes_src, atimes_dst, f);
        check_all(args, atimes_src, nothing, f);
    }
}

// ---------------------------------------------------------------------------
// --super, --no-super (the tests run as root)

fn chown(p: &Path, uid: u32, gid: u32) {
    rustix::fs::chownat(
        rustix::fs::CWD,
        p,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .expect("chown");
}

/// Files owned by other users, a device and a fifo.
fn owners_src(src: &Path) {
    let t = T0 + 10;
    put_mode(src, "mine.txt", b"mine\n", 0o644, t);
    put_mode(src, "theirs.txt", b"theirs\n", 0o640, t);
    put_mode(src, "same.txt", b"same\n", 0o644, t);
    fs::create_dir_all(src.join("sub")).expect("mkdir");
    link(src, "sub/link", "../theirs.txt", t);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        src.join("null"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o600),
        rustix::fs::makedev(1, 3),
    )
    .expect("mknod");
    lset_mtime(&src.join("null"), t);
    fifo(src, "pipe", 0o644, t);
    chown(&src.join("theirs.txt"), 1234, 2345);
    chown(&src.join("same.txt"), 1234, 2345);
    chown(&src.join("sub"), 4321, 5432);
    chown(&src.join("sub/link"), 1234, 5432);
    fix_dirs(src, T_SRC_DIRS);
}

/// `same.txt` already there (owned by root).
fn owners_dst(dst: &Path) {
    put_mode(dst, "same.txt", b"same\n", 0o644, T0 + 10);
    fix_dirs(dst, T_DST_DIRS);
}

#[test]
fn super_and_no_super() {
    assert!(
        rustix::process::geteuid().is_root(),
        "these tests run as root"
    );
    let f = Facets {
        ids: true,
        ..Default::default()
    };
    for args in [
        &["-ai", "--numeric-ids"][..],
        &["-ai", "--numeric-ids", "--no-super"],
        &["-ai", "--numeric-ids", "--super"],
        &["-ai", "--numeric-ids", "--no-super", "--super"],
        &["-ai", "--numeric-ids", "--super", "--no-super"],
        &["-ai", "--numeric-ids", "--no-super", "-n"],
    ] {
        check_all(args, owners_src, owners_dst, f);
        check_all(args, owners_src, nothing, f);
    }
}

// ---------------------------------------------------------------------------
// --fake-super

/// The `user.rsync.%stat` attribute of `p`, as text.
fn fake_stat(p: &Path) -> Option<String> {
    let mut buf = [0u8; 256];
    let n = rustix::fs::lgetxattr(p, "user.rsync.%stat", &mut buf[..]).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn set_fake_stat(p: &Path, value: &str) {
    rustix::fs::lsetxattr(
        p,
        "user.rsync.%stat",
        value.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    )
    .expect("setxattr");
}

/// The owners tree plus special bits and a read-only directory.
fn fake_src(src: &Path) {
    owners_src(src);
    put_mode(src, "suid", b"suid\n", 0o4755, T0 + 10);
    fs::create_dir_all(src.join("ro_dir")).expect("mkdir");
    put_mode(src, "ro_dir/f", b"f\n", 0o444, T0 + 10);
    fix_dirs(src, T_SRC_DIRS);
    set_dir(src, "ro_dir", 0o555, T_SRC_DIRS);
}

/// A destination from an earlier --fake-super run: `same.txt` recorded
/// with its owner, `theirs.txt` with a stale record, a plain `suid`.
fn fake_dst(dst: &Path) {
    let t = T0 + 10;
    put_mode(dst, "same.txt", b"same\n", 0o644, t);
    set_fake_stat(&dst.join("same.txt"), "100644 0,0 1234:2345");
    put_mode(dst, "theirs.txt", b"theirs\n", 0o600, t);
    set_fake_stat(&dst.join("theirs.txt"), "100600 0,0 1:1");
    put_mode(dst, "suid", b"suid\n", 0o755, t);
    fix_dirs(dst, T_DST_DIRS);
}

/// A source that holds records itself: sent as what they record under
/// --fake-super (a device, other owners, other modes).
fn recorded_src(src: &Path) {
    let t = T0 + 10;
    put_mode(src, "as_device", b"", 0o600, t);
    set_fake_stat(&src.join("as_device"), "20640 1,5 1234:2345");
    put_mode(src, "as_fifo", b"", 0o600, t);
    set_fake_stat(&src.join("as_fifo"), "10600 0,0 0:0");
    put_mode(src, "owned", b"owned\n", 0o600, t);
    set_fake_stat(&src.join("owned"), "104750 0,0 4321:5432");
    put_mode(src, "plain", b"plain\n", 0o644, t);
    fs::create_dir_all(src.join("dir")).expect("mkdir");
    fix_dirs(src, T_SRC_DIRS);
    set_fake_stat(&src.join("dir"), "40700 0,0 1234:1234");
}

#[test]
fn fake_super() {
    let f = Facets {
        ids: true,
        fake_stat: true,
        ..Default::default()
    };
    for args in [
        &["-ai", "--numeric-ids", "--fake-super"][..],
        &["-ai", "--numeric-ids", "--fake-super", "-n"],
        &["-ai", "--numeric-ids", "--super", "--fake-super"],
        &["-ai", "--numeric-ids", "--fake-super", "--no-super"],
        &["-ai", "--fake-super"],
        // (Not without -o/-g: rsync 3.2.7 then records whatever memory
        // holds as the ids of some items, e.g. "100444 0,0 445115008:...",
        // where oxsync records the real ones.)
    ] {
        check_all(args, fake_src, fake_dst, f);
        check_all(args, fake_src, nothing, f);
        check_all(args, recorded_src, nothing, f);
    }
}

/// A daemon module with `fake super = yes`: what stock rsync pushes is
/// recorded in xattrs, and a pull sends what they record; oxsync's
/// daemon against rsync's.
#[test]
fn daemon_fake_super() {
    let modules = "[m]\npath = %ROOT%/mod\nread only = no\nfake super = yes\n";
    let f = Facets {
        ids: true,
        fake_stat: true,
        ..Default::default()
    };
    let mut seen = Vec::new();
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = crate::daemon::start(&bin, modules);
        let root = d.root().to_path_buf();
        let src = root.join("fsrc");
        fs::create_dir_all(&src).expect("mkdir");
        fake_src(&src);
        let url = format!("rsync://127.0.0.1:{}/m/", d.port());
        let push = run(
            Command::new(rsync_bin())
                .args(["-ai", "--numeric-ids"])
                .arg(format!("{}/", src.display()))
                .arg(&url),
            &root,
        );
        let back = root.join("back");
        let pull = run(
            Command::new(rsync_bin())
                .args(["-ai", "--numeric-ids"])
                .arg(&url)
                .arg(format!("{}/", back.display())),
            &root,
        );
        let stored: Vec<_> = tree(&root.join("mod"), f).into_iter().collect();
        let pulled: Vec<_> = tree(&back, f)
            .into_iter()
            .filter(|(p, _)| !p.as_os_str().is_empty())
            .collect();
        seen.push((
            push.code,
            push.itemized(),
            pull.code,
            pull.itemized(),
            stored,
            pulled,
        ));
    }
    assert_eq!(
        seen[0], seen[1],
        "oxsync's daemon (left) and rsync's (right) differ"
    );
    let (_, _, _, _, stored, pulled) = &seen[0];
    assert!(
        stored
            .iter()
            .any(|(p, s)| p == Path::new("null") && s.contains("20600 1,3 0:0")),
        "{stored:?}"
    );
    assert!(
        pulled
            .iter()
            .any(|(p, s)| p == Path::new("null") && s.starts_with('o')),
        "{pulled:?}"
    );
}

/// A module's `open noatime = yes`: oxsync's daemon sends its files
/// without moving their atimes (stock rsync 3.2.7 opens them with
/// do_open_nofollow, which drops O_NOATIME, so it is not the reference
/// here); `open noatime = no` overrides a client's --open-noatime.
#[test]
fn daemon_open_noatime() {
    let modules = "[on]\npath = %ROOT%/mod\nopen noatime = yes\n\
        [off]\npath = %ROOT%/mod\nopen noatime = no\n";
    let d = crate::daemon::start(&oxsync_bin(), modules);
    let root = d.root().to_path_buf();
    atime_src(&root.join("mod"));
    let pull = |m: &str, extra: &[&str], to: &str| {
        let r = run(
            Command::new(rsync_bin())
                .args(["-a"])
                .args(extra)
                .arg(format!("rsync://127.0.0.1:{}/{m}/", d.port()))
                .arg(format!("{}/", root.join(to).display())),
            &root,
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    };
    let atime = |f: &str| {
        fs::metadata(root.join("mod").join(f))
            .expect("stat")
            .atime()
    };
    pull("on", &[], "a");
    for f in ["a.txt", "sub/c.txt"] {
        assert_eq!(atime(f), T0, "{f}: open noatime = yes moved the atime");
    }
    pull("off", &["--open-noatime"], "b");
    assert_ne!(atime("a.txt"), T0, "open noatime = no kept the atime");
}
