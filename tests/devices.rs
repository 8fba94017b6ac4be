//! `--copy-devices` (a device's content goes as a regular file) and
//! `--write-devices` (the data is written into an existing device node in
//! place), as rsync 3.5.0 does them: locally, with oxsync's client against
//! stock rsync and stock rsync's client against an oxsync server. Loop
//! devices over scratch images stand in for disks (the tests run as root).
use super::util::*;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A loop device over a scratch image, detached on drop.
struct Loop {
    dev: PathBuf,
}

impl Loop {
    fn attach(image: &Path) -> Loop {
        let out = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(image)
            .output()
            .expect("run losetup");
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Loop { dev: dev.into() }
    }
    /// (major, minor) of the device.
    fn numbers(&self) -> (u64, u64) {
        let rdev = fs::metadata(&self.dev).expect("stat loop").rdev();
        (
            ((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff),
            ((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff),
        )
    }
    /// Makes a block node for this device at `at`.
    fn node(&self, at: &Path) {
        let (major, minor) = self.numbers();
        let st = Command::new("mknod")
            .arg(at)
            .args(["b", &major.to_string(), &minor.to_string()])
            .status()
            .expect("mknod");
        assert!(st.success(), "mknod {}", at.display());
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

fn image(path: &Path, data: &[u8]) {
    fs::write(path, data).expect("image");
}

fn random(len: usize, seed: u64) -> Vec<u8> {
    Prng::new(seed).bytes(len)
}

fn mknod_char(at: &Path, major: u32, minor: u32) {
    let st = Command::new("mknod")
        .arg(at)
        .args(["c", &major.to_string(), &minor.to_string()])
        .status()
        .expect("mknod");
    assert!(st.success());
}

/// The ways a push is made: (label, client, server), `None` for a local copy.
fn pushes() -> Vec<(&'static str, PathBuf, Option<PathBuf>)> {
    vec![
        ("local", oxsync_bin(), None),
        ("ox-to-rsync", oxsync_bin(), Some(rsync_bin())),
        ("rsync-to-ox", rsync_bin(), Some(oxsync_bin())),
    ]
}

fn push(
    s: &Scratch,
    client: &Path,
    server: Option<&Path>,
    args: &[&str],
    src: &Path,
    dst: &Path,
) -> Run {
    let mut cmd = Command::new(client);
    cmd.args(args);
    match server {
        None => {
            cmd.arg(format!("{}/", src.display())).arg(dst);
        }
        Some(server) => {
            cmd.arg("-e")
                .arg(s.rsh())
                .arg("--rsync-path")
                .arg(server)
                .arg(format!("{}/", src.display()))
                .arg(format!("lh:{}", dst.display()));
        }
    }
    run(&mut cmd, &s.logs())
}

/// `--copy-devices`: a block device arrives as a regular file holding the
/// device's bytes, a character device of no size as an empty regular
/// file; without it (and without -D) the devices are skipped.
#[test]
fn copy_devices_sends_a_device_as_a_regular_file() {
    let s = Scratch::new();
    let data = random(192 * 1024, 7);
    image(&s.path("disk.img"), &data);
    let lo = Loop::attach(&s.path("disk.img"));
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    lo.node(&src.join("disk"));
    mknod_char(&src.join("null"), 1, 3);
    fs::write(src.join("plain"), b"plain\n").expect("plain");
    for (label, client, server) in pushes() {
        let dst = s.path(&format!("dst-{label}"));
        let out = push(
            &s,
            &client,
            server.as_deref(),
            &["-rt", "--copy-devices"],
            &src,
            &dst,
        );
        out.assert_code(0);
        let disk = fs::symlink_metadata(dst.join("disk"))
            .unwrap_or_else(|e| panic!("{label}: disk did not arrive ({e}): {out:?}"));
        assert!(
            disk.file_type().is_file(),
            "{label}: {:?}",
            disk.file_type()
        );
        assert!(
            fs::read(dst.join("disk")).expect("disk") == data,
            "{label}: content"
        );
        let null = fs::symlink_metadata(dst.join("null")).expect("null arrived");
        assert!(
            null.file_type().is_file() && null.len() == 0,
            "{label}: null"
        );
        assert_eq!(fs::read(dst.join("plain")).expect("plain"), b"plain\n");
        // Without the option a device is skipped (no -D).
        let bare = s.path(&format!("bare-{label}"));
        push(&s, &client, server.as_deref(), &["-rt"], &src, &bare).assert_code(0);
        assert!(
            !bare.join("disk").exists(),
            "{label}: device sent without -D"
        );
    }
}

/// `--write-devices`: the data goes into the existing device node of the
/// destination (which stays a device), so it lands on the device itself;
/// without it the node is replaced by a regular file.
#[test]
fn write_devices_writes_into_an_existing_device() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    for (n, (label, client, server)) in pushes().into_iter().enumerate() {
        let data = random(100_000 + n * 1000, 11 + n as u64);
        fs::write(src.join("disk"), &data).expect("source file");
        let img = s.path(&format!("disk-{label}.img"));
        image(&img, &vec![0u8; 128 * 1024]);
        let lo = Loop::attach(&img);
        let dst = s.path(&format!("dst-{label}"));
        fs::create_dir_all(&dst).expect("dst");
        lo.node(&dst.join("disk"));
        push(
            &s,
            &client,
            server.as_deref(),
            &["-r", "--write-devices"],
            &src,
            &dst,
        )
        .assert_code(0);
        let node = fs::symlink_metadata(dst.join("disk")).expect("node");
        assert!(node.file_type().is_block_device(), "{label}: node replaced");
        drop(lo);
        let written = fs::read(&img).expect("image");
        assert!(written[..data.len()] == data[..], "{label}: device content");
        assert!(
            written[data.len()..].iter().all(|&b| b == 0),
            "{label}: device written past the data"
        );
        // Without the option the device node is replaced by the file.
        let img2 = s.path(&format!("disk2-{label}.img"));
        image(&img2, &vec![0u8; 128 * 1024]);
        let lo2 = Loop::attach(&img2);
        let dst2 = s.path(&format!("dst2-{label}"));
        fs::create_dir_all(&dst2).expect("dst2");
        lo2.node(&dst2.join("disk"));
        push(&s, &client, server.as_deref(), &["-r"], &src, &dst2).assert_code(0);
        let meta = fs::symlink_metadata(dst2.join("disk")).expect("file");
        assert!(
            meta.file_type().is_file(),
            "{label}: node kept without the option"
        );
        drop(lo2);
        assert!(fs::read(&img2).expect("img2").iter().all(|&b| b == 0));
    }
}

/// A daemon refuses `--write-devices` and `--copy-devices` unless the
/// module accepts them by name, as upstream.
#[test]
fn a_daemon_refuses_device_writes_unless_accepted() {
    use super::daemon::{root, start, url};
    let s = Scratch::new();
    let d = start(
        &oxsync_bin(),
        "[no]\npath = %ROOT%/mod\nread only = no\n\
         [yes]\npath = %ROOT%/dst\nread only = no\nrefuse options = !write-devices\n",
    );
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    fs::write(src.join("f"), b"data\n").expect("f");
    let out = run(
        Command::new(oxsync_bin())
            .args(["-r", "--write-devices"])
            .arg(format!("{}/", src.display()))
            .arg(url(&d, "no/")),
        &s.logs(),
    );
    out.assert_code(4);
    assert!(
        out.stderr
            .contains("The server is configured to refuse --write-devices"),
        "{}",
        out.stderr
    );
    assert!(!root(&d).join("mod/f").exists());
    run(
        Command::new(oxsync_bin())
            .args(["-r", "--write-devices"])
            .arg(format!("{}/", src.display()))
            .arg(url(&d, "yes/")),
        &s.logs(),
    )
    .assert_code(0);
    assert_eq!(fs::read(root(&d).join("dst/f")).expect("f"), b"data\n");
}
