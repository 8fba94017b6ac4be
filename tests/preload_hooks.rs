//! oxsync's filesystem calls go through the C library (rustix's `use-libc`
//! backend), so an `LD_PRELOAD` interposer sees them as it sees rsync's:
//! fakeroot and test hooks work. Here a hook built with `cc` fails the
//! first `renameat`/`linkat` of a pair of names `victim` (EXDEV, EPERM),
//! which forces `--backup-dir`'s copy fallback (upstream's
//! fake-super-backup-fifo-regression test): under `--fake-super` the
//! backup of a FIFO's placeholder must stay an inert regular file that
//! still records the FIFO in `user.rsync.%stat`.
use crate::util::*;
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The interposer: the first rename/link whose old and new names both end
/// in `victim` fails once (the marker file, created exclusively, says it
/// did); loading it creates the load marker.
const HOOK_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int claim(const char *path)
{
    int fd;
    if (!path || (fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
        return 0;
    close(fd);
    return 1;
}

static int victim(const char *a, const char *b)
{
    const char *sa = a ? strrchr(a, '/') : NULL, *sb = b ? strrchr(b, '/') : NULL;
    a = sa ? sa + 1 : a;
    b = sb ? sb + 1 : b;
    return a && b && !strcmp(a, "victim") && !strcmp(b, "victim");
}

static int fail_once(const char *a, const char *b, int err)
{
    if (victim(a, b) && claim(getenv("HOOK_FAIL_MARKER"))) {
        errno = err;
        return 1;
    }
    return 0;
}

int renameat(int od, const char *o, int nd, const char *n)
{
    if (fail_once(o, n, EXDEV))
        return -1;
    return (int)syscall(SYS_renameat, od, o, nd, n);
}

int rename(const char *o, const char *n)
{
    return renameat(AT_FDCWD, o, AT_FDCWD, n);
}

int linkat(int od, const char *o, int nd, const char *n, int flags)
{
    if (fail_once(o, n, EPERM))
        return -1;
    return (int)syscall(SYS_linkat, od, o, nd, n, flags);
}

int link(const char *o, const char *n)
{
    return linkat(AT_FDCWD, o, AT_FDCWD, n, 0);
}

__attribute__((constructor)) static void loaded(void)
{
    claim(getenv("HOOK_LOAD_MARKER"));
}
"#;

/// Builds the interposer in the scratch directory (`cc` must be present:
/// scripts/test installs it).
fn build_hook(s: &Scratch) -> PathBuf {
    let src = s.path("hook.c");
    let lib = s.path("hook.so");
    fs::write(&src, HOOK_C).unwrap();
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .expect("run cc (scripts/test installs gcc)");
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

/// The value of `user.rsync.%stat` on `p`, as getfattr prints it.
fn xstat(p: &Path) -> Option<String> {
    let out = Command::new("getfattr")
        .args(["--only-values", "-n", "user.rsync.%stat"])
        .arg(p)
        .output()
        .expect("run getfattr");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Seeds a fake-super copy of a FIFO, replaces the source's FIFO with a
/// file, then updates with `--backup-dir` while the hook fails the backup's
/// rename; `push`: through the remote-shell stand-in (the hook is
/// inherited by the server side, the receiver).
fn backup_fallback(push: bool) {
    let s = Scratch::new();
    let logs = s.logs();
    let hook = build_hook(&s);
    let (src, dst) = (s.path("src"), s.path("mod"));
    // Beneath the destination, the same place in both directions.
    let bak = dst.join("bak");
    for d in [src.join("slot"), dst.join("slot"), bak.join("slot")] {
        fs::create_dir_all(d).unwrap();
    }
    let fifo = src.join("slot/victim");
    let st = Command::new("mkfifo")
        .args(["-m", "600"])
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let target = |d: &Path| {
        let d = format!("{}/", d.display());
        if push {
            format!("localhost:{d}")
        } else {
            d
        }
    };
    let base = |extra: &[&str]| {
        let mut c = Command::new(oxsync_bin());
        c.args(["-rtI", "--specials", "--fake-super"]).args(extra);
        if push {
            // --fake-super is the local side's: the receiving server is told.
            c.arg("-M--fake-super").arg("-e").arg(s.rsh());
            c.arg(format!("--rsync-path={}", oxsync_bin().display()));
        }
        c.arg(format!("{}/", src.display())).arg(target(&dst));
        c
    };
    run(&mut base(&[]), &logs).assert_code(0);
    let placeholder = dst.join("slot/victim");
    assert!(fs::symlink_metadata(&placeholder).unwrap().is_file());
    let rec = xstat(&placeholder).expect("placeholder records the FIFO");
    assert!(rec.starts_with("10600 "), "recorded {rec:?}");

    fs::remove_file(&fifo).unwrap();
    fs::write(&fifo, "NEW-REMOTE-DATA\n").unwrap();
    let (loaded, failed) = (s.path("hook-loaded"), s.path("fast-path-failed"));
    let mut c = base(&["--backup", "--backup-dir=bak", "--no-inc-recursive"]);
    c.env("LD_PRELOAD", &hook)
        .env("HOOK_LOAD_MARKER", &loaded)
        .env("HOOK_FAIL_MARKER", &failed);
    let r = run(&mut c, &logs);
    r.assert_code(0);
    assert!(loaded.exists(), "the hook was not loaded");
    assert!(
        failed.exists(),
        "oxsync's rename/link did not go through the C library (the hook never fired)\n{}{}",
        r.stdout,
        r.stderr
    );
    let backup = bak.join("slot/victim");
    let meta = fs::symlink_metadata(&backup).expect("the backup exists");
    assert!(!meta.file_type().is_fifo(), "the backup is a live FIFO");
    assert!(meta.is_file(), "backup type {:?}", meta.file_type());
    assert_eq!(meta.len(), 0);
    let kept = xstat(&backup).unwrap_or_default();
    assert!(
        kept.starts_with("10600 0,0 "),
        "the copied backup lost what it stands for: {kept:?}"
    );
    assert_eq!(fs::read(&placeholder).unwrap(), b"NEW-REMOTE-DATA\n");
}

#[test]
fn fake_super_backup_copy_fallback_keeps_inert_placeholder_local() {
    backup_fallback(false);
}

#[test]
fn fake_super_backup_copy_fallback_keeps_inert_placeholder_push() {
    backup_fallback(true);
}

/// An interposer refusing to hard-link a symlink with the errno named by
/// `HOOK_ERRNO` (other links go through), marking `HOOK_FAIL_MARKER`.
const LINK_HOOK_C: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int refused(int dfd, const char *path)
{
    struct stat st;
    const char *m = getenv("HOOK_FAIL_MARKER"), *e = getenv("HOOK_ERRNO");
    int fd;
    if (!path || fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
        return 0;
    if (m && (fd = open(m, O_WRONLY | O_CREAT, 0600)) >= 0)
        close(fd);
    errno = e && !strcmp(e, "EPERM") ? EPERM : e && !strcmp(e, "ENOSYS") ? ENOSYS : ENOTSUP;
    return 1;
}

int linkat(int od, const char *o, int nd, const char *n, int flags)
{
    static int (*real)(int, const char *, int, const char *, int);
    if (refused(od, o))
        return -1;
    if (!real)
        real = dlsym(RTLD_NEXT, "linkat");
    return real(od, o, nd, n, flags);
}

int link(const char *o, const char *n)
{
    return linkat(AT_FDCWD, o, AT_FDCWD, n, 0);
}
"#;

/// `--link-dest` onto a destination that refuses to hard-link a symlink
/// (upstream link-dest-symlink-enotsup): the symlink is created instead,
/// silently and reported once, and regular files are still hard-linked.
#[test]
fn link_dest_symlink_refused_falls_back_to_creating_it() {
    use std::os::unix::fs::MetadataExt;
    let s = Scratch::new();
    let logs = s.logs();
    let src_c = s.path("link-hook.c");
    let lib = s.path("link-hook.so");
    fs::write(&src_c, LINK_HOOK_C).unwrap();
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src_c)
        .arg("-ldl")
        .output()
        .expect("run cc (scripts/test installs gcc)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (src, basis) = (s.path("src"), s.path("ldest"));
    for d in [&src, &basis] {
        fs::create_dir_all(d).unwrap();
        fs::write(d.join("reg"), "REGULAR-CONTENT").unwrap();
        std::os::unix::fs::symlink("some-target", d.join("sym")).unwrap();
        set_mtime(&d.join("reg"), T0);
    }
    let link_dest = format!("--link-dest={}", basis.display());
    for (errno, args) in [
        ("ENOTSUP", &["-a"][..]),
        ("EPERM", &["-a"][..]),
        ("ENOSYS", &["-a"][..]),
        ("ENOTSUP", &["-ivvplrtH"][..]),
    ] {
        let dest = s.path(&format!("dest-{errno}-{}", args[0].trim_start_matches('-')));
        let marker = s.path(&format!("fired-{errno}-{}", args[0]));
        let mut c = Command::new(oxsync_bin());
        c.args(args)
            .arg(&link_dest)
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dest.display()))
            .env("LD_PRELOAD", &lib)
            .env("HOOK_ERRNO", errno)
            .env("HOOK_FAIL_MARKER", &marker);
        let r = run(&mut c, &logs);
        let ctx = format!("{errno} {args:?}: {}{}", r.stdout, r.stderr);
        assert!(marker.exists(), "the hook never fired: {ctx}");
        assert_eq!(r.code, Some(0), "{ctx}");
        assert!(!r.stderr.contains("failed to hard-link"), "{ctx}");
        assert_eq!(
            fs::read_link(dest.join("sym")).unwrap().as_os_str(),
            "some-target",
            "{ctx}"
        );
        assert_eq!(
            fs::metadata(dest.join("reg")).unwrap().ino(),
            fs::metadata(basis.join("reg")).unwrap().ino(),
            "{ctx}"
        );
        if args[0] == "-ivvplrtH" {
            let lines: Vec<&str> = r
                .stdout
                .lines()
                .filter(|l| l.starts_with("cL") && l.ends_with(" sym -> some-target"))
                .collect();
            assert_eq!(lines.len(), 1, "{ctx}");
        }
    }
}
