//! `-A/--acls` against stock rsync: access and default ACLs, named users
//! and groups (mapped by name, or by number with `--numeric-ids`), the
//! ACL cache (one ACL on several files), a mask that differs from the group
//! bits, a FIFO's ACL, in every direction (local; oxsync client pushing to
//! and pulling from `rsync --server`; stock rsync client with `oxsync
//! --server`), through the daemon both ways, and `--fake-super`'s
//! `user.rsync.%aacl`/`%dacl` attributes. Each transfer is compared with
//! the same transfer made by stock rsync on both ends: exit code, itemized
//! lines and `getfacl` of every item. A hostile sender's ACL with a
//! million entries is refused before anything is allocated for it.
use crate::interop::{Case, Direction};
use crate::util::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn setfacl(args: &[&str], path: &Path) {
    let out = Command::new("setfacl")
        .args(args)
        .arg(path)
        .output()
        .expect("run setfacl");
    assert!(
        out.status.success(),
        "setfacl {args:?} {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `getfacl` of every item below `dir` (relative names, numeric ids), in
/// `getfacl -R` order.
fn acls_of(dir: &Path) -> String {
    let out = Command::new("getfacl")
        .args(["-R", "-n", "-p", "."])
        .current_dir(dir)
        .output()
        .expect("run getfacl");
    assert!(out.status.success(), "getfacl in {}", dir.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `--fake-super` attributes of `p` (hex values).
fn fake_attrs(p: &Path) -> String {
    let out = Command::new("getfattr")
        .args([
            "-d",
            "-e",
            "hex",
            "-m",
            "^user\\.rsync\\.%[ad]acl$",
            "--absolute-names",
        ])
        .arg(p)
        .output()
        .expect("run getfattr");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // Leave out the "# file:" line (the paths differ).
    text.lines()
        .filter(|l| !l.starts_with("# file:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Items with ACLs added to `src` (its mtime kept).
fn add_acl_items(src: &Path) {
    let mtime = fs::metadata(src)
        .expect("stat src")
        .modified()
        .expect("mtime");
    for name in ["acl_file", "acl_same", "acl_mask", "plain"] {
        write_file(&src.join(name), name.as_bytes(), 0o640, T0 + 50);
    }
    // Named user and group (daemon, bin), twice: the second is sent as an
    // index into the ACL cache.
    setfacl(&["-m", "u:daemon:rw-,g:bin:r--"], &src.join("acl_file"));
    setfacl(&["-m", "u:daemon:rw-,g:bin:r--"], &src.join("acl_same"));
    // An id without a name, and a mask narrower than the group bits.
    setfacl(
        &["-m", "u:60001:rwx,g:60002:rw-,m::r--"],
        &src.join("acl_mask"),
    );
    let dir = src.join("acl_dir");
    fs::create_dir(&dir).expect("mkdir acl_dir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o750)).expect("chmod");
    setfacl(&["-m", "u:bin:r-x"], &dir);
    setfacl(
        &[
            "-m",
            "d:u::rwx,d:g::r-x,d:o::---,d:u:daemon:rwx,d:g:60002:r--",
        ],
        &dir,
    );
    // Created after the default ACL: inherits it.
    write_file(&dir.join("inherited"), b"inner", 0o664, T0 + 51);
    let fifo = src.join("fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    setfacl(&["-m", "u:daemon:r--"], &fifo);
    set_mtime(&dir, T0 + 52);
    let t = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .expect("epoch")
        .as_secs() as i64;
    set_mtime(src, t);
}

/// The transfer with the binaries under test and with stock rsync gave
/// the same ACLs (and the source's).
fn assert_same_acls(c: &Case) {
    let want = acls_of(&c.src);
    let ours = acls_of(&c.dst);
    let theirs = acls_of(&c.dst_ref);
    assert_eq!(ours, theirs, "ACLs differ from stock rsync's ({:?})", c.dir);
    assert_eq!(ours, want, "ACLs differ from the source's ({:?})", c.dir);
    assert!(ours.contains("user:1:rw-") && ours.contains("default:user:1:rwx"));
}

fn every_direction(dir: Direction) {
    let c = Case::new(dir);
    add_acl_items(&c.src);
    let (ours, _) = c.run_both(&["-aA", "-i"]);
    ours.assert_code(0);
    assert_same_acls(&c);
    // Nothing changed: nothing itemized, nothing rewritten.
    let (ours, _) = c.run_both(&["-aA", "-i"]);
    assert!(ours.itemized().is_empty(), "{}", ours.stdout);
    // The destination's ACLs drift; the source loses and gains entries.
    c.prepare_both(|d| {
        setfacl(&["-m", "u:sys:rwx"], &d.join("acl_file"));
        setfacl(&["-b"], &d.join("acl_mask"));
        setfacl(&["-k"], &d.join("acl_dir"));
        setfacl(&["-m", "g:daemon:r--"], &d.join("plain"));
    });
    setfacl(&["-x", "g:bin"], &c.src.join("acl_same"));
    let (ours, _) = c.run_both(&["-aA", "-i"]);
    ours.assert_code(0);
    let lines = ours.itemized();
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(" acl_file") && l.contains('a')),
        "{lines:?}"
    );
    assert_same_acls(&c);
}

#[test]
fn local() {
    every_direction(Direction::Local);
}

#[test]
fn ox_push() {
    every_direction(Direction::OxPush);
}

#[test]
fn ox_pull() {
    every_direction(Direction::OxPull);
}

#[test]
fn rsync_push() {
    every_direction(Direction::RsyncPush);
}

#[test]
fn rsync_pull() {
    every_direction(Direction::RsyncPull);
}

/// Named entries travel by name: `--usermap`/`--groupmap` rename them on
/// the receiver (which only works when the sender put the ACL's ids in its
/// id lists); `--numeric-ids` sends numbers alone.
fn by_name_and_number(dir: Direction) {
    let c = Case::new(dir);
    add_acl_items(&c.src);
    let (ours, _) = c.run_both(&["-aA", "--usermap=daemon:sys", "--groupmap=bin:sys"]);
    ours.assert_code(0);
    let (got, want) = (acls_of(&c.dst), acls_of(&c.dst_ref));
    assert_eq!(got, want, "--usermap/--groupmap ({dir:?})");
    assert!(
        got.contains("user:3:rw-") && got.contains("group:3:r--"),
        "{got}"
    );
    assert!(!got.contains("user:1:"), "{got}");
    c.prepare_both(|d| {
        fs::remove_dir_all(d).expect("rm dst");
    });
    let (ours, _) = c.run_both(&["-aA", "--numeric-ids"]);
    ours.assert_code(0);
    assert_same_acls(&c);
}

#[test]
fn names_ox_push() {
    by_name_and_number(Direction::OxPush);
}

#[test]
fn names_rsync_push() {
    by_name_and_number(Direction::RsyncPush);
}

#[test]
fn names_ox_pull() {
    by_name_and_number(Direction::OxPull);
}

/// `--fake-super` on the receiver (`-M--fake-super`: the server) keeps
/// the ACLs in `user.rsync.%aacl` / `%dacl`, byte for byte as stock rsync
/// writes them; a sender under `--fake-super` reads them back; a default
/// ACL that went away removes `%dacl`. (Stock rsync 3.2.7 ignores `-M` in
/// a local copy, so the comparison is made over the remote shell.)
fn fake_super(dir: Direction) {
    let c = Case::new(dir);
    add_acl_items(&c.src);
    let (ours, _) = c.run_both(&["-aA", "-M--fake-super"]);
    ours.assert_code(0);
    for name in ["acl_file", "acl_mask", "acl_dir", "plain", "d1"] {
        let (a, b) = (
            fake_attrs(&c.dst.join(name)),
            fake_attrs(&c.dst_ref.join(name)),
        );
        assert_eq!(a, b, "{name}");
    }
    assert!(fake_attrs(&c.dst.join("acl_file")).contains("user.rsync.%aacl=0x"));
    assert!(fake_attrs(&c.dst.join("acl_dir")).contains("user.rsync.%dacl=0x"));
    // No real ACL was set.
    let real = acls_of(&c.dst);
    assert!(!real.contains("user:1:"), "{real}");
    // Back from the attributes to real ACLs.
    let back = c.scratch.path("back");
    let r = run(
        Command::new(oxsync_bin())
            .args(["-aA", "--fake-super", "-e"])
            .arg(c.scratch.rsh())
            .arg(format!("--rsync-path={}", oxsync_bin().display()))
            .arg(format!("{}/", c.dst.display()))
            .arg(format!("h:{}/", back.display())),
        &c.scratch.logs(),
    );
    r.assert_code(0);
    assert_eq!(acls_of(&back), acls_of(&c.src));
    // The source's default ACL goes: so does %dacl.
    setfacl(&["-k"], &c.src.join("acl_dir"));
    let (ours, _) = c.run_both(&["-aA", "-M--fake-super"]);
    ours.assert_code(0);
    assert!(!fake_attrs(&c.dst.join("acl_dir")).contains("%dacl"));
    assert_eq!(
        fake_attrs(&c.dst.join("acl_dir")),
        fake_attrs(&c.dst_ref.join("acl_dir"))
    );
}

#[test]
fn fake_super_ox_push() {
    fake_super(Direction::OxPush);
}

#[test]
fn fake_super_rsync_push() {
    fake_super(Direction::RsyncPush);
}

/// In a local copy, `-M--fake-super` makes the receiving side fake (rsync
/// 3.5.0's local_child() reads the -M options).
#[test]
fn fake_super_local_receiver() {
    let s = Scratch::new();
    let src = s.path("src");
    make_source_tree(&src);
    add_acl_items(&src);
    let dst = s.path("dst");
    run(
        Command::new(oxsync_bin())
            .args(["-aA", "-M--fake-super"])
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display())),
        &s.logs(),
    )
    .assert_code(0);
    assert!(fake_attrs(&dst.join("acl_file")).contains("user.rsync.%aacl=0x"));
    assert!(fake_attrs(&dst.join("acl_dir")).contains("user.rsync.%dacl=0x"));
    assert!(!acls_of(&dst).contains("user:1:"));
}

/// With `-AX` under `--fake-super`, an xattr update of an item whose data
/// is unchanged keeps its `user.rsync.%aacl`/`%dacl` (the xattr list never
/// names them; removing names the sender lacks must leave them to -A).
#[test]
fn fake_super_acls_survive_an_xattr_update() {
    let s = Scratch::new();
    let src = s.path("src");
    make_source_tree(&src);
    add_acl_items(&src);
    let setx = |name: &str, value: &str, p: &Path| {
        let st = Command::new("setfattr")
            .args(["-n", name, "-v", value])
            .arg(p)
            .status()
            .expect("run setfattr");
        assert!(st.success(), "setfattr {}", p.display());
    };
    let dst = s.path("dst");
    let copy = || {
        run(
            Command::new(oxsync_bin())
                .args(["-aAX", "-M--fake-super"])
                .arg(format!("{}/", src.display()))
                .arg(format!("{}/", dst.display())),
            &s.logs(),
        )
        .assert_code(0);
    };
    copy();
    let file = fake_attrs(&dst.join("acl_file"));
    let dir = fake_attrs(&dst.join("acl_dir"));
    assert!(file.contains("user.rsync.%aacl=0x"), "{file}");
    assert!(dir.contains("user.rsync.%dacl=0x"), "{dir}");
    for item in ["acl_file", "acl_dir"] {
        setx("user.k", "new", &src.join(item));
    }
    copy();
    assert_eq!(fake_attrs(&dst.join("acl_file")), file);
    assert_eq!(fake_attrs(&dst.join("acl_dir")), dir);
    let got = Command::new("getfattr")
        .args(["-n", "user.k", "--only-values"])
        .arg(dst.join("acl_file"))
        .output()
        .expect("run getfattr");
    assert_eq!(got.stdout, b"new");
}

/// Through the daemon: stock rsync client pushing to and pulling from
/// `oxsync --daemon`, and the oxsync client against `rsync --daemon`.
#[test]
fn daemon_both_ways() {
    let modules = "[mod]\npath = %ROOT%/mod\nread only = no\n";
    for (server, client) in [(oxsync_bin(), rsync_bin()), (rsync_bin(), oxsync_bin())] {
        let d = crate::daemon::start(&server, modules);
        let root = crate::daemon::root(&d);
        let src = root.join("asrc");
        make_source_tree(&src);
        add_acl_items(&src);
        let logs = root.join("logs");
        fs::create_dir_all(&logs).expect("logs");
        run(
            Command::new(&client)
                .arg("-aA")
                .arg(format!("{}/", src.display()))
                .arg(crate::daemon::url(&d, "mod/")),
            &logs,
        )
        .assert_code(0);
        assert_eq!(
            acls_of(&root.join("mod")),
            acls_of(&src),
            "push to {server:?}"
        );
        let back = root.join("back");
        run(
            Command::new(&client)
                .arg("-aA")
                .arg(crate::daemon::url(&d, "mod/"))
                .arg(format!("{}/", back.display())),
            &logs,
        )
        .assert_code(0);
        assert_eq!(acls_of(&back), acls_of(&src), "pull from {server:?}");
    }
}

/// A sender's ACL claiming a million named entries is refused ("wire
/// value ACL count out of range", exit 2, as rsync 3.5.0) before the
/// receiver allocates for it; nothing is written.
#[test]
fn million_entry_acl_is_refused() {
    use protocol::flist::{write_id_list, FileEntry, FlistEncoder, S_IFREG};
    use protocol::varint::write_varint;
    let out = crate::fakepeer::against_receiver_with("-logDtpAre.LsfxCIvu", |peer| {
        let mut enc = FlistEncoder::new(peer.flist_options());
        let mut out = Vec::new();
        enc.encode(
            &mut out,
            &FileEntry {
                name: b"victim".into(),
                mode: S_IFREG | 0o644,
                ..FileEntry::default()
            }
            .with_size(3)
            .with_mtime(1_700_000_000),
        );
        // A literal access ACL (index 0), XMIT_NAME_LIST, a million names,
        // of which only a few follow.
        out.extend_from_slice(&[0, 0x10]);
        write_varint(&mut out, 1_000_000);
        for id in 0..4 {
            write_varint(&mut out, id);
            write_varint(&mut out, 7 << 2 | 2);
        }
        enc.encode_end(&mut out, 0);
        let id0: Option<&[u8]> = peer.id0_names().then_some(b"root");
        write_id_list(&mut out, &[], id0);
        write_id_list(&mut out, &[], id0);
        out
    });
    out.check(2, "an ACL with 1000000 entries", |l| {
        l.contains("acl count") && l.contains("1000000")
    });
}

/// Without -p a new item takes the destination directory's default ACL
/// (`user::`, mask or `group::`, `other::`) as its permission mask, else
/// 0777 less the umask; the destination directory the client creates is
/// made with 0777 under the same rule (upstream default_perms_for_dir(),
/// dest_mode(), get_local_name()). Compared with stock rsync under umask
/// 077, with and without a default ACL.
#[test]
fn default_acl_decides_new_modes_without_p() {
    use std::os::unix::fs::MetadataExt;
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(src.join("dir")).expect("mkdir");
    write_file(&src.join("file"), b"File!\n", 0o666, T0);
    write_file(&src.join("program"), b"#!/bin/sh\n", 0o777, T0);
    fs::set_permissions(src.join("dir"), fs::Permissions::from_mode(0o777)).expect("chmod");
    let modes = |top: &Path| -> Vec<(String, u32)> {
        ["to", "to/dir", "to/file", "to/program"]
            .iter()
            .map(|n| {
                let m = fs::metadata(top.join(n)).expect("stat").mode() & 0o7777;
                (n.to_string(), m)
            })
            .collect()
    };
    for (label, acl) in [
        ("da750mask", Some("u::7,u:0:7,g::7,m:5,o:0")),
        ("noda", None),
    ] {
        let mut got = Vec::new();
        for bin in [oxsync_bin(), rsync_bin()] {
            let top = s.path(&format!("{label}-{}", got.len()));
            fs::create_dir(&top).expect("mkdir top");
            if let Some(acl) = acl {
                setfacl(&["-dm", acl], &top);
            }
            let script = "umask 077 && exec \"$@\"";
            run(
                Command::new("sh")
                    .args(["-c", script, "sh"])
                    .arg(&bin)
                    .arg("-r")
                    .arg(src.join("dir"))
                    .arg(src.join("file"))
                    .arg(src.join("program"))
                    .arg(format!("{}/to/", top.display())),
                &s.logs(),
            )
            .assert_code(0);
            got.push(modes(&top));
        }
        assert_eq!(got[0], got[1], "{label}: oxsync (left) and stock rsync");
        let want: &[u32] = match acl {
            Some(_) => &[0o750, 0o750, 0o640, 0o750],
            None => &[0o700, 0o700, 0o600, 0o700],
        };
        let ours: Vec<u32> = got[0].iter().map(|(_, m)| *m).collect();
        assert_eq!(ours, want, "{label}");
    }
}

/// A daemon module with `fake super = yes` keeps pushed ACLs in
/// `user.rsync.%aacl`/`%dacl` (the same bytes as `rsync --daemon` writes)
/// and sends them back from there as real ACLs.
#[test]
fn daemon_fake_super_module() {
    let modules = "[mod]\npath = %ROOT%/mod\nread only = no\nfake super = yes\n";
    let mut stored = Vec::new();
    for server in [oxsync_bin(), rsync_bin()] {
        let d = crate::daemon::start(&server, modules);
        let root = crate::daemon::root(&d);
        let src = root.join("asrc");
        make_source_tree(&src);
        add_acl_items(&src);
        let logs = root.join("logs");
        fs::create_dir_all(&logs).expect("logs");
        run(
            Command::new(rsync_bin())
                .arg("-aA")
                .arg(format!("{}/", src.display()))
                .arg(crate::daemon::url(&d, "mod/")),
            &logs,
        )
        .assert_code(0);
        let m = root.join("mod");
        assert!(
            !acls_of(&m).contains("user:1:"),
            "real ACLs set by {server:?}"
        );
        stored.push(
            ["acl_file", "acl_mask", "acl_dir", "fifo", "plain"]
                .map(|n| fake_attrs(&m.join(n)))
                .join("|"),
        );
        let back = root.join("back");
        run(
            Command::new(rsync_bin())
                .arg("-aA")
                .arg(crate::daemon::url(&d, "mod/"))
                .arg(format!("{}/", back.display())),
            &logs,
        )
        .assert_code(0);
        assert_eq!(acls_of(&back), acls_of(&src), "pulled from {server:?}");
    }
    assert_eq!(stored[0], stored[1], "oxsync (left) and rsync --daemon");
    assert!(stored[0].contains("user.rsync.%aacl=0x"), "{}", stored[0]);
}
