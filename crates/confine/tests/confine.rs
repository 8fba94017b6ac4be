//! Behaviour of `Root` with openat2 and with the `O_NOFOLLOW` walk: every
//! case runs twice, once per strategy (chosen per root with
//! `Root::with_fallback`, so the cases can run in parallel).
use confine::{AmbientAuthority, FileType, RelPath, Root};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod openat2 {
            $(#[test] fn $name() { super::$name(false) })*
        }
        mod fallback {
            $(#[test] fn $name() { super::$name(true) })*
        }
    };
}

both!(
    basic_ops,
    read_dir_and_stat,
    chmod_mtime_mknod,
    root_itself,
    escape_through_symlink_fails,
    last_component_symlink_not_followed,
    in_tree_symlink_intermediate,
    parent_not_a_dir,
    following_root_stays_beneath,
    chroot_root_takes_absolute_links_from_the_root,
);

fn rp(s: &str) -> RelPath {
    RelPath::new(s.as_bytes()).unwrap()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    root: Root,
}

impl Fixture {
    /// base/outside/secret (outside the root), base/root/{sub/file,
    /// inlink -> sub, abs -> base/outside, rel -> ../outside,
    /// absfile -> base/outside/secret, flink -> sub/file}.
    fn new(fallback: bool) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        fs::create_dir(base.join("outside")).unwrap();
        fs::write(base.join("outside/secret"), b"secret").unwrap();
        fs::set_permissions(
            base.join("outside/secret"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let r = base.join("root");
        fs::create_dir(&r).unwrap();
        fs::create_dir(r.join("sub")).unwrap();
        fs::write(r.join("sub/file"), b"inside").unwrap();
        symlink("sub", r.join("inlink")).unwrap();
        symlink(base.join("outside"), r.join("abs")).unwrap();
        symlink("../outside", r.join("rel")).unwrap();
        symlink("../../..", r.join("up")).unwrap();
        symlink(base.join("outside/secret"), r.join("absfile")).unwrap();
        symlink("sub/file", r.join("flink")).unwrap();
        let root = Root::open_ambient(&r, AmbientAuthority::operator())
            .unwrap()
            .with_fallback(fallback);
        assert_eq!(root.uses_fallback(), fallback);
        Fixture {
            _tmp: tmp,
            base,
            root,
        }
    }
    fn outside(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.base.join("outside"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.base.join("root").join(rel)
    }
}

fn read_all(mut f: fs::File) -> Vec<u8> {
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

fn basic_ops(fallback: bool) {
    let fx = Fixture::new(fallback);
    let root = &fx.root;
    root.mkdir(&rp("d"), 0o755).unwrap();
    root.mkdir(&rp("d/e"), 0o700).unwrap();
    let mut f = root.create_excl(&rp("d/e/f"), 0o644).unwrap();
    f.write_all(b"hello").unwrap();
    drop(f);
    assert!(root.create_excl(&rp("d/e/f"), 0o644).is_err(), "O_EXCL");
    assert_eq!(read_all(root.open_read(&rp("d/e/f")).unwrap()), b"hello");
    let mut w = root.open_write(&rp("d/e/f")).unwrap();
    w.write_all(b"J").unwrap();
    drop(w);
    assert_eq!(
        fs::read(fx.path("d/e/f")).unwrap(),
        b"Jello",
        "no truncation"
    );
    assert!(root.open_write(&rp("d")).is_err(), "directory");

    root.rename(&rp("d/e/f"), &rp("d/g")).unwrap();
    assert!(!fx.path("d/e/f").exists());
    root.link(&rp("d/g"), &rp("h")).unwrap();
    assert_eq!(root.stat(&rp("h")).unwrap().unwrap().nlink, 2);
    root.symlink(b"../nowhere/at/all", &rp("d/s")).unwrap();
    assert_eq!(root.readlink(&rp("d/s")).unwrap(), b"../nowhere/at/all");
    assert_eq!(
        root.stat(&rp("d/s")).unwrap().unwrap().file_type,
        FileType::Symlink
    );
    assert_eq!(
        fs::read_link(fx.path("d/s")).unwrap(),
        Path::new("../nowhere/at/all")
    );

    root.unlink(&rp("d/s")).unwrap();
    root.unlink(&rp("d/g")).unwrap();
    root.unlink(&rp("h")).unwrap();
    assert!(root.unlink(&rp("d/e")).is_err(), "unlink of a directory");
    root.rmdir(&rp("d/e")).unwrap();
    root.rmdir(&rp("d")).unwrap();
    assert!(!fx.path("d").exists());

    let sub = root.open_dir(&rp("sub")).unwrap();
    assert_eq!(sub.uses_fallback(), fallback);
    assert_eq!(read_all(sub.open_read(&rp("file")).unwrap()), b"inside");
}

fn read_dir_and_stat(fallback: bool) {
    let fx = Fixture::new(fallback);
    let root = &fx.root;
    let mut names = root.read_dir(&RelPath::root()).unwrap();
    names.sort();
    let want: Vec<Vec<u8>> = ["abs", "absfile", "flink", "inlink", "rel", "sub", "up"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    assert_eq!(names, want);
    assert_eq!(root.read_dir(&rp("sub")).unwrap(), vec![b"file".to_vec()]);

    let st = root.stat(&rp("sub/file")).unwrap().unwrap();
    let md = fs::symlink_metadata(fx.path("sub/file")).unwrap();
    assert_eq!(st.file_type, FileType::File);
    assert_eq!(st.size, 6);
    assert_eq!((st.ino, st.dev, st.mode), (md.ino(), md.dev(), md.mode()));
    assert_eq!(
        root.stat(&rp("sub")).unwrap().unwrap().file_type,
        FileType::Dir
    );
    assert_eq!(
        root.stat(&rp("abs")).unwrap().unwrap().file_type,
        FileType::Symlink
    );
    assert_eq!(root.stat(&rp("missing")).unwrap(), None);
    assert_eq!(root.stat(&rp("missing/deeper")).unwrap(), None);
}

fn chmod_mtime_mknod(fallback: bool) {
    let fx = Fixture::new(fallback);
    let root = &fx.root;
    root.chmod(&rp("sub/file"), 0o640).unwrap();
    assert_eq!(
        root.stat(&rp("sub/file")).unwrap().unwrap().mode & 0o7777,
        0o640
    );
    root.set_mtime(&rp("sub/file"), 1_000_000_000, 123).unwrap();
    let st = root.stat(&rp("sub/file")).unwrap().unwrap();
    assert_eq!((st.mtime, st.mtime_nsec), (1_000_000_000, 123));
    // On the symlink itself, not its target.
    root.set_mtime(&rp("flink"), 2_000_000_000, 0).unwrap();
    assert_eq!(
        root.stat(&rp("flink")).unwrap().unwrap().mtime,
        2_000_000_000
    );
    assert_eq!(
        root.stat(&rp("sub/file")).unwrap().unwrap().mtime,
        1_000_000_000
    );

    let me = root.stat(&rp("sub/file")).unwrap().unwrap();
    root.lchown(&rp("flink"), Some(me.uid), None).unwrap();
    root.lchown(&rp("sub/file"), None, Some(me.gid)).unwrap();

    root.mknod(&rp("sub/fifo"), 0o010_644, 0).unwrap();
    let st = root.stat(&rp("sub/fifo")).unwrap().unwrap();
    assert_eq!(st.file_type, FileType::Special);
    assert_eq!(st.mode & 0o777, 0o644 & !umask());
    // Opening a FIFO must neither hang nor hand out a writable non-file.
    assert!(root.open_write(&rp("sub/fifo")).is_err());
    drop(root.open_read(&rp("sub/fifo")).unwrap());

    let f = root.create_excl(&rp("t"), 0o600).unwrap();
    Root::set_fd_meta(
        &f,
        Some(0o751),
        Some((Some(me.uid), Some(me.gid))),
        Some((1_234_567_890, 5)),
    )
    .unwrap();
    let st = root.stat(&rp("t")).unwrap().unwrap();
    assert_eq!(
        (st.mode & 0o7777, st.mtime, st.mtime_nsec),
        (0o751, 1_234_567_890, 5)
    );
    Root::set_fd_meta(&f, None, None, None).unwrap();
}

/// The process umask, read back from a directory created with mode 0777.
fn umask() -> u32 {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("probe");
    fs::create_dir(&p).unwrap();
    0o777 & !fs::metadata(&p).unwrap().mode()
}

fn root_itself(fallback: bool) {
    let fx = Fixture::new(fallback);
    let root = &fx.root;
    let dot = rp(".");
    assert!(dot.is_root());
    assert_eq!(root.stat(&dot).unwrap().unwrap().file_type, FileType::Dir);
    root.chmod(&dot, 0o750).unwrap();
    assert_eq!(fs::metadata(fx.path("")).unwrap().mode() & 0o7777, 0o750);
    root.set_mtime(&dot, 1_500_000_000, 0).unwrap();
    assert_eq!(fs::metadata(fx.path("")).unwrap().mtime(), 1_500_000_000);
    assert!(root.mkdir(&dot, 0o755).is_err());
    let again = root.open_dir(&dot).unwrap();
    assert!(again.stat(&rp("sub")).unwrap().is_some());
    assert!(root.read_dir(&dot).unwrap().contains(&b"sub".to_vec()));
}

fn escape_through_symlink_fails(fallback: bool) {
    let fx = Fixture::new(fallback);
    let root = &fx.root;
    let before = fx.outside();
    for link in ["abs", "rel", "up"] {
        let p = |tail: &str| rp(&format!("{link}/{tail}"));
        assert!(root.open_read(&p("secret")).is_err(), "{link}: open_read");
        assert!(root.open_write(&p("secret")).is_err(), "{link}: open_write");
        assert!(
            root.create_excl(&p("x"), 0o644).is_err(),
            "{link}: create_excl"
        );
        assert!(root.mkdir(&p("d"), 0o755).is_err(), "{link}: mkdir");
        fs::write(fx.path("a"), b"a").unwrap();
        assert!(root.rename(&rp("a"), &p("x")).is_err(), "{link}: rename to");
        assert!(
            root.rename(&p("secret"), &rp("stolen")).is_err(),
            "{link}: rename from"
        );
        assert!(root.link(&rp("a"), &p("h")).is_err(), "{link}: link to");
        assert!(
            root.link(&p("secret"), &rp("h")).is_err(),
            "{link}: link from"
        );
        assert!(root.symlink(b"t", &p("s")).is_err(), "{link}: symlink");
        assert!(root.unlink(&p("secret")).is_err(), "{link}: unlink");
        assert!(root.chmod(&p("secret"), 0o666).is_err(), "{link}: chmod");
        assert!(
            root.set_mtime(&p("secret"), 0, 0).is_err(),
            "{link}: set_mtime"
        );
        assert!(
            root.lchown(&p("secret"), Some(0), Some(0)).is_err(),
            "{link}: lchown"
        );
        assert!(
            root.mknod(&p("fifo"), 0o010_644, 0).is_err(),
            "{link}: mknod"
        );
        assert!(root.readlink(&p("secret")).is_err(), "{link}: readlink");
        assert!(
            !matches!(root.stat(&p("secret")), Ok(Some(_))),
            "{link}: stat"
        );
        assert!(root.open_dir(&rp(link)).is_err(), "{link}: open_dir");
        assert!(root.read_dir(&rp(link)).is_err(), "{link}: read_dir");
        assert!(root.open_dir(&p("")).is_err(), "{link}/: open_dir");
    }
    assert_eq!(fx.outside(), before);
    assert_eq!(fs::read(fx.base.join("outside/secret")).unwrap(), b"secret");
    let md = fs::metadata(fx.base.join("outside/secret")).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o600);
    assert_ne!(md.mtime(), 0);
    assert!(!fx.path("stolen").exists() && !fx.path("h").exists());
}

fn last_component_symlink_not_followed(fallback: bool) {
    let fx = Fixture::new(fallback);
    let root = &fx.root;
    for link in ["absfile", "flink"] {
        let p = rp(link);
        assert!(root.open_read(&p).is_err(), "{link}: open_read");
        assert!(root.open_write(&p).is_err(), "{link}: open_write");
        assert!(root.create_excl(&p, 0o644).is_err(), "{link}: create_excl");
        assert!(root.chmod(&p, 0o666).is_err(), "{link}: chmod");
        assert!(!root.readlink(&p).unwrap().is_empty());
    }
    // The *at calls act on the link itself.
    root.rename(&rp("absfile"), &rp("moved")).unwrap();
    root.unlink(&rp("moved")).unwrap();
    assert_eq!(fs::read(fx.base.join("outside/secret")).unwrap(), b"secret");
    assert_eq!(
        fs::metadata(fx.base.join("outside/secret")).unwrap().mode() & 0o7777,
        0o600
    );
    assert_eq!(fs::read(fx.path("sub/file")).unwrap(), b"inside");
}

/// With openat2 an in-tree symlink to an in-tree directory works as an
/// intermediate component; the walk refuses it (the documented cost of the
/// fallback).
fn in_tree_symlink_intermediate(fallback: bool) {
    let fx = Fixture::new(fallback);
    let root = &fx.root;
    let through = rp("inlink/file");
    if fallback {
        assert!(root.open_read(&through).is_err());
        assert!(root.create_excl(&rp("inlink/new"), 0o644).is_err());
        assert!(root.open_dir(&rp("inlink")).is_err());
        assert!(!fx.path("sub/new").exists());
    } else {
        assert_eq!(read_all(root.open_read(&through).unwrap()), b"inside");
        root.create_excl(&rp("inlink/new"), 0o644).unwrap();
        assert!(fx.path("sub/new").exists());
        assert_eq!(root.stat(&through).unwrap().unwrap().size, 6);
        let d = root.open_dir(&rp("inlink")).unwrap();
        assert!(d.stat(&rp("new")).unwrap().is_some());
    }
}

fn parent_not_a_dir(fallback: bool) {
    let fx = Fixture::new(fallback);
    let root = &fx.root;
    assert_eq!(root.stat(&rp("sub/file/x")).unwrap(), None);
    assert!(root.mkdir(&rp("sub/file/x"), 0o755).is_err());
    let e = root.open_read(&rp("nope/x")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert!(e.to_string().contains("nope/x"), "{e}");
}

#[test]
fn relpath_refuses_unsafe_names() {
    for bad in [&b".."[..], b"a/../b", b"/tmp", b"//x", b"a\0b"] {
        let e = RelPath::new(bad).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
    }
    assert!(RelPath::new(&vec![b'x'; confine::path::MAX_PATH_LEN + 1]).is_err());
}

#[test]
fn create_ambient_makes_one_level() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("dest");
    let root = Root::create_ambient(&p, AmbientAuthority::operator()).unwrap();
    root.mkdir(&rp("x"), 0o755).unwrap();
    assert!(p.join("x").is_dir());
    // Existing directory: opened as it is.
    Root::create_ambient(&p, AmbientAuthority::operator()).unwrap();
    assert!(Root::create_ambient(&tmp.path().join("a/b"), AmbientAuthority::operator()).is_err());
    assert!(Root::open_ambient(&tmp.path().join("missing"), AmbientAuthority::operator()).is_err());
}

#[test]
fn locate_finds_the_real_path() {
    let fx = Fixture::new(false);
    let root = &fx.root;
    fs::create_dir_all(fx.path("sub/deep/er")).unwrap();
    let deep = root.open_dir(&rp("sub/deep/er")).unwrap();
    assert_eq!(
        root.locate(&deep).unwrap().map(|p| p.as_bytes().to_vec()),
        Some(b"sub/deep/er".to_vec())
    );
    // Through an in-tree symlink: the real path.
    let via = root.open_dir(&rp("inlink")).unwrap();
    assert_eq!(
        root.locate(&via).unwrap().map(|p| p.as_bytes().to_vec()),
        Some(b"sub".to_vec())
    );
    // The root itself.
    let same = root.open_dir(&RelPath::root()).unwrap();
    assert_eq!(
        root.locate(&same).unwrap().map(|p| p.as_bytes().to_vec()),
        Some(Vec::new())
    );
    // A directory outside the root.
    let outside =
        Root::open_ambient(&fx.base.join("outside"), AmbientAuthority::operator()).unwrap();
    assert_eq!(root.locate(&outside).unwrap(), None);
    // The root seen from below: the parent of the root is outside it.
    let base = Root::open_ambient(&fx.base, AmbientAuthority::operator()).unwrap();
    assert_eq!(root.locate(&base).unwrap(), None);
    assert_eq!(
        base.locate(root).unwrap().map(|p| p.as_bytes().to_vec()),
        Some(b"root".to_vec())
    );
}

#[test]
fn open_dir_located_tells_the_physical_directory() {
    let fx = Fixture::new(false);
    let root = &fx.root;
    fs::create_dir_all(fx.path("sub/deep")).unwrap();
    symlink(".", fx.path("sub/deep/self")).unwrap();
    let located = |p: &str| {
        let (sub, at) = root.open_dir_located(&rp(p)).unwrap();
        // Whatever is created through the handle lands where `at` says.
        sub.mkdir(&rp("made"), 0o755).unwrap();
        let at = at.map(|a| String::from_utf8(a.as_bytes().to_vec()).unwrap());
        let real = at.clone().unwrap();
        assert!(fx.path(&real).join("made").is_dir(), "{p}: not in {real}");
        fs::remove_dir(fx.path(&real).join("made")).unwrap();
        at
    };
    // No symlink on the way: the path itself.
    assert_eq!(located("sub/deep").as_deref(), Some("sub/deep"));
    assert_eq!(located("").as_deref(), Some(""));
    // In-tree symlinks are resolved to the real directory.
    assert_eq!(located("inlink").as_deref(), Some("sub"));
    assert_eq!(located("sub/deep/self/self").as_deref(), Some("sub/deep"));
    assert_eq!(located("inlink/deep/self").as_deref(), Some("sub/deep"));
    // Links out of the root still fail.
    assert!(root.open_dir_located(&rp("abs")).is_err());
    assert!(root.open_dir_located(&rp("rel")).is_err());
}

#[test]
fn xattrs_on_files_and_dirs_only() {
    let fx = Fixture::new(false);
    let root = &fx.root;
    let name = "user.oxsync.test";
    assert_eq!(root.get_xattr(&rp("sub/file"), name, 64).unwrap(), None);
    root.set_xattr(&rp("sub/file"), name, Some(b"v1")).unwrap();
    assert_eq!(
        root.get_xattr(&rp("sub/file"), name, 64).unwrap(),
        Some(b"v1".to_vec())
    );
    root.set_xattr(&rp("sub"), name, Some(b"d")).unwrap();
    assert_eq!(
        root.get_xattr(&rp("sub"), name, 64).unwrap(),
        Some(b"d".to_vec())
    );
    root.set_xattr(&rp("sub/file"), name, None).unwrap();
    root.set_xattr(&rp("sub/file"), name, None).unwrap();
    assert_eq!(root.get_xattr(&rp("sub/file"), name, 64).unwrap(), None);
    // A symlink (in-tree or leading out) is left alone, never followed.
    root.set_xattr(&rp("flink"), name, Some(b"x")).unwrap();
    root.set_xattr(&rp("absfile"), name, Some(b"x")).unwrap();
    assert_eq!(root.get_xattr(&rp("flink"), name, 64).unwrap(), None);
    assert!(rustix::fs::getxattr(fx.path("sub/file"), name, &mut [0u8; 8][..]).is_err());
    assert!(rustix::fs::getxattr(fx.base.join("outside/secret"), name, &mut [0u8; 8][..]).is_err());
    // Through a symlinked directory leading out: refused.
    assert!(root.set_xattr(&rp("abs/secret"), name, Some(b"x")).is_err());
}

/// A following root (a sender's source root) follows in-tree links with
/// either strategy, the last component included for `stat_follow`,
/// `open_read_follow`, `open_dir` and `read_dir`, also through `..` that
/// stays inside; every link that leaves fails with EXDEV and nothing
/// outside is read.
fn following_root_stays_beneath(fallback: bool) {
    let fx = Fixture::new(fallback);
    let root = Root::open_ambient(&fx.path(""), AmbientAuthority::operator())
        .unwrap()
        .with_fallback(fallback)
        .following();
    fs::create_dir(fx.path("sub/deep")).unwrap();
    symlink("../../sub/file", fx.path("sub/deep/climb")).unwrap();
    symlink("../../inlink", fx.path("sub/deep/dirclimb")).unwrap();
    symlink("loop2", fx.path("loop1")).unwrap();
    symlink("loop1", fx.path("loop2")).unwrap();
    for name in [
        "flink",
        "inlink/file",
        "sub/deep/climb",
        "sub/deep/dirclimb/file",
    ] {
        let st = root.stat_follow(&rp(name)).unwrap().unwrap();
        assert!(st.is_file() && st.size == 6, "{name}");
        assert_eq!(
            read_all(root.open_read_follow(&rp(name), false).unwrap()),
            b"inside"
        );
        // The link itself, not followed.
        assert!(root.stat(&rp(name)).unwrap().is_some(), "{name}");
    }
    assert!(root.stat_follow(&rp("inlink")).unwrap().unwrap().is_dir());
    let mut names = root.read_dir(&rp("sub/deep/dirclimb")).unwrap();
    names.sort();
    assert_eq!(names, vec![b"deep".to_vec(), b"file".to_vec()]);
    assert_eq!(
        root.readlink(&rp("inlink/deep/climb")).unwrap(),
        b"../../sub/file"
    );
    assert!(root.stat_follow(&rp("nosuch")).unwrap().is_none());
    let xdev = Some(rustix::io::Errno::XDEV.raw_os_error());
    for name in ["abs", "rel", "up", "absfile", "abs/secret", "rel/secret"] {
        let e = root.stat_follow(&rp(name)).unwrap_err();
        assert_eq!(e.raw_os_error(), xdev, "{name}: {e}");
        assert!(root.open_read_follow(&rp(name), false).is_err(), "{name}");
        assert!(root.read_dir(&rp(name)).is_err(), "{name}");
        assert!(!matches!(
            root.stat(&rp(&format!("{name}/secret"))),
            Ok(Some(_))
        ));
    }
    let e = root.stat_follow(&rp("loop1")).unwrap_err();
    assert_eq!(
        e.raw_os_error(),
        Some(rustix::io::Errno::LOOP.raw_os_error())
    );
    assert_eq!(fs::read(fx.base.join("outside/secret")).unwrap(), b"secret");
}

/// A root resolving as a chroot (a daemon module chrooted at its own
/// directory): an absolute target starts at the root, `..` stops there.
fn chroot_root_takes_absolute_links_from_the_root(fallback: bool) {
    let fx = Fixture::new(fallback);
    let root = Root::open_ambient(&fx.path(""), AmbientAuthority::operator())
        .unwrap()
        .with_fallback(fallback)
        .as_chroot();
    symlink("/sub", fx.path("jailabs")).unwrap();
    for name in ["jailabs/file", "up/sub/file"] {
        let f = root.open_read_follow(&rp(name), false).unwrap();
        assert_eq!(read_all(f), b"inside", "{name}");
        assert!(root.stat_follow(&rp(name)).unwrap().unwrap().is_file());
    }
    // rel -> ../outside, abs -> the real outside directory: from the
    // root, neither names anything that exists.
    for name in ["rel/secret", "abs/secret", "absfile"] {
        assert!(root.stat_follow(&rp(name)).unwrap().is_none(), "{name}");
        assert!(root.open_read_follow(&rp(name), false).is_err(), "{name}");
    }
    assert_eq!(fs::read(fx.base.join("outside/secret")).unwrap(), b"secret");
}
