//! `Root::stat_cached`: the same answers as `Root::stat`, with the parent
//! directory kept open between calls, and the same refusal of a parent that
//! leads out of the root (openat2 and the `O_NOFOLLOW` walk).
use confine::{AmbientAuthority, FileType, ParentCache, RelPath, Root};
use std::fs;
use std::os::unix::fs::symlink;

fn rp(s: &str) -> RelPath {
    RelPath::new(s.as_bytes()).unwrap()
}

/// base/outside/secret; base/root/{top, d/{f1, f2, ln -> f1, sub/}, in -> d,
/// out -> ../outside, notdir}.
fn tree(fallback: bool) -> (tempfile::TempDir, Root) {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    fs::create_dir(base.join("outside")).unwrap();
    fs::write(base.join("outside/secret"), b"secret").unwrap();
    let r = base.join("root");
    fs::create_dir_all(r.join("d/sub")).unwrap();
    fs::write(r.join("top"), b"1").unwrap();
    fs::write(r.join("d/f1"), b"22").unwrap();
    fs::write(r.join("d/f2"), b"333").unwrap();
    symlink("f1", r.join("d/ln")).unwrap();
    symlink("d", r.join("in")).unwrap();
    symlink("../outside", r.join("out")).unwrap();
    fs::write(r.join("notdir"), b"x").unwrap();
    let root = Root::open_ambient(&r, AmbientAuthority::operator())
        .unwrap()
        .with_fallback(fallback);
    (tmp, root)
}

fn agrees(fallback: bool) {
    let (_tmp, root) = tree(fallback);
    let mut cache = ParentCache::default();
    let mut names = vec![
        "top", "d/f1", "d/f2", "d/ln", "d/sub", "d/nope", "d/f1", "nope/x", "notdir/x", "d", ".",
        "d/sub/x", "d/f2",
    ];
    if !fallback {
        // An in-tree symlinked parent (the walk refuses it, as stat does).
        names.push("in/f2");
    }
    for name in names {
        let p = rp(name);
        let want = root.stat(&p).unwrap();
        let got = root.stat_cached(&mut cache, &p).unwrap();
        assert_eq!(got, want, "{name}");
    }
    let ln = root.stat_cached(&mut cache, &rp("d/ln")).unwrap().unwrap();
    assert_eq!(ln.file_type, FileType::Symlink);
    assert_eq!(
        root.stat_cached(&mut cache, &rp("d/f2"))
            .unwrap()
            .unwrap()
            .size,
        3
    );
}

#[test]
fn agrees_with_stat_openat2() {
    agrees(false);
}

#[test]
fn agrees_with_stat_walk() {
    agrees(true);
}

/// A parent that leads out of the root is refused as by `stat`, also right
/// after a cached in-tree parent; nothing outside is looked at through it.
fn refuses_escape(fallback: bool) {
    let (_tmp, root) = tree(fallback);
    let mut cache = ParentCache::default();
    assert!(root.stat_cached(&mut cache, &rp("d/f1")).unwrap().is_some());
    let plain = root.stat(&rp("out/secret"));
    let cached = root.stat_cached(&mut cache, &rp("out/secret"));
    // openat2 fails with EXDEV; the walk meets the link as ENOTDIR: "no
    // such file". Never the secret's stat.
    match (plain, cached) {
        (Ok(None), Ok(None)) => assert!(fallback),
        (Err(a), Err(b)) => {
            assert!(!fallback);
            assert_eq!(a.raw_os_error(), b.raw_os_error());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refuses_escape_openat2() {
    refuses_escape(false);
}

#[test]
fn refuses_escape_walk() {
    refuses_escape(true);
}

/// The cache holds the directory it opened: once the caller clears it, a
/// directory replaced under the same name is resolved again.
#[test]
fn clear_resolves_again() {
    let (tmp, root) = tree(false);
    let r = tmp.path().join("root");
    let mut cache = ParentCache::default();
    assert!(root.stat_cached(&mut cache, &rp("d/f1")).unwrap().is_some());
    fs::rename(r.join("d"), r.join("old")).unwrap();
    fs::create_dir(r.join("d")).unwrap();
    // Still the directory it holds (now named "old").
    assert!(root.stat_cached(&mut cache, &rp("d/f2")).unwrap().is_some());
    cache.clear();
    assert_eq!(root.stat_cached(&mut cache, &rp("d/f2")).unwrap(), None);
    assert_eq!(root.stat(&rp("d/f2")).unwrap(), None);
}
