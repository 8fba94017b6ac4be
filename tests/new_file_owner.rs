//! The owner and group of a received file that is new: the receiver skips
//! the chown when the temp file already has them (made by us, in a
//! directory of our group), and only then. A setgid directory of another
//! group gives a new file that group: the file must still end up with the
//! sender's group, as with rsync 3.5.0 (local copy, push, pull).
use crate::util::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

fn owner(p: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(p).expect("stat");
    (m.uid(), m.gid())
}

/// A tree whose `sg` directory is setgid with group 4321 (so is the
/// destination's, which the transfer keeps): `sg/ours` and `plain/ours`
/// belong to us, `sg/theirs` to 1234:5678.
fn tree(src: &Path) {
    put(src, "sg/ours", b"ours\n", 1_700_000_000);
    put(src, "sg/theirs", b"theirs\n", 1_700_000_000);
    put(src, "plain/ours", b"plain\n", 1_700_000_000);
    std::os::unix::fs::lchown(src.join("sg/theirs"), Some(1234), Some(5678)).expect("chown");
    std::os::unix::fs::chown(src.join("sg"), None, Some(4321)).expect("chgrp");
    fs::set_permissions(src.join("sg"), fs::Permissions::from_mode(0o2755)).expect("chmod");
}

fn check(dst: &Path, us: (u32, u32), who: &str) {
    assert_eq!(owner(&dst.join("sg")), (us.0, 4321), "{who}: sg");
    assert_eq!(owner(&dst.join("sg/ours")), us, "{who}: sg/ours");
    assert_eq!(
        owner(&dst.join("sg/theirs")),
        (1234, 5678),
        "{who}: sg/theirs"
    );
    assert_eq!(owner(&dst.join("plain/ours")), us, "{who}: plain/ours");
    assert_eq!(fs::read(dst.join("sg/ours")).expect("read"), b"ours\n");
}

#[test]
fn new_file_in_setgid_dir_gets_the_senders_group() {
    let s = Scratch::new();
    let src = s.path("src");
    tree(&src);
    let us = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    assert_eq!(us.0, 0, "this test chowns: it runs as root");
    let rsh = s.rsh();
    let bin = oxsync_bin();
    let bin = bin.to_str().expect("utf-8 path");
    let ways: [(&str, Vec<String>); 4] = [
        ("local", vec![format!("{}/", src.display()), "DST/".into()]),
        (
            "push",
            vec![
                format!("--rsync-path={bin}"),
                "-e".into(),
                rsh.display().to_string(),
                format!("{}/", src.display()),
                "h:DST/".into(),
            ],
        ),
        (
            "pull",
            vec![
                format!("--rsync-path={bin}"),
                "-e".into(),
                rsh.display().to_string(),
                format!("h:{}/", src.display()),
                "DST/".into(),
            ],
        ),
        ("rsync", vec![format!("{}/", src.display()), "DST/".into()]),
    ];
    for (who, args) in ways {
        let dst = s.path(&format!("dst-{who}"));
        // The destination directory is there already, setgid, of group
        // 4321: what is made in it gets that group.
        fs::create_dir_all(dst.join("sg")).expect("mkdir");
        std::os::unix::fs::chown(dst.join("sg"), None, Some(4321)).expect("chgrp");
        fs::set_permissions(dst.join("sg"), fs::Permissions::from_mode(0o2755)).expect("chmod");
        let args: Vec<String> = args
            .into_iter()
            .map(|a| a.replace("DST", &dst.display().to_string()))
            .collect();
        let prog = if who == "rsync" {
            rsync_bin()
        } else {
            oxsync_bin()
        };
        let r = run(Command::new(prog).arg("-a").args(&args), &s.logs());
        assert_eq!(r.code, Some(0), "{who}: {}\n{}", r.cmdline, r.stderr);
        check(&dst, us, who);
    }
}
