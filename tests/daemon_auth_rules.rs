//! Who a daemon module admits: `auth users` split as rsync 3.5.0 splits it
//! (a leading comma means commas alone), `gid = *` (every group of the
//! module's uid), and `hosts allow = *` for a peer without a host name
//! (upstream matches wildcards against the name "UNKNOWN"). Compared with
//! stock `rsync --daemon` where 3.2.7 behaves as 3.5.0.
use super::daemon::{root, start, url, Daemon};
use super::util::{oxsync_bin, rsync_bin, run, Run};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

fn log(d: &Daemon) -> String {
    fs::read_to_string(root(d).join("daemon.log")).unwrap_or_default()
}

/// Pushes `src/` (one file, f1) to `module/` as `user` (password sesame).
fn push(d: &Daemon, user: Option<&str>, module: &str, extra: &[&str]) -> Run {
    let r = root(d);
    fs::write(r.join("src/f1"), b"AUTH-RULES\n").expect("src");
    let mut target = url(d, &format!("{module}/"));
    if let Some(u) = user {
        target = target.replace("rsync://", &format!("rsync://{u}@"));
    }
    run(
        Command::new(rsync_bin())
            .arg("-r")
            .args(extra)
            .arg(format!("{}/", r.join("src").display()))
            .arg(target)
            .env("RSYNC_PASSWORD", "sesame"),
        &r,
    )
}

fn landed(d: &Daemon, dir: &str) -> bool {
    fs::read(root(d).join(dir).join("f1")).is_ok_and(|b| b == b"AUTH-RULES\n")
}

#[test]
fn auth_users_with_a_leading_comma_split_on_commas_alone() {
    let modules = "[spaced]\npath = %ROOT%/mod\nread only = no\nsecrets file = %ROOT%/secrets\n\
auth users = ,@nosuchgroup alice:deny, alice:rw\n\
[plain]\npath = %ROOT%/dst\nread only = no\nsecrets file = %ROOT%/secrets\n\
auth users = @nosuchgroup alice:deny, alice:rw\n";
    // Without the comma, stock rsync and oxsync both read "alice:deny".
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, modules);
        let out = push(&d, Some("alice"), "plain", &[]);
        assert_eq!(out.code, Some(5), "{}: {out:?}", bin.display());
        assert!(
            out.stderr.contains("auth failed on module plain"),
            "{out:?}"
        );
        assert!(log(&d).contains("for alice: denied by rule"), "{}", log(&d));
        assert!(!landed(&d, "dst"));
    }
    // With it, "@nosuchgroup alice:deny" is one rule naming a group that
    // does not exist (rsync 3.5.0; 3.2.7 still split on spaces), and
    // "alice:rw" admits.
    let d = start(&oxsync_bin(), modules);
    push(&d, Some("alice"), "spaced", &[]).assert_code(0);
    assert!(landed(&d, "mod"), "{}", log(&d));
    assert!(!log(&d).contains("denied by rule"), "{}", log(&d));
}

#[test]
fn gid_star_takes_every_group_of_the_uid() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let modules = "[star]\npath = %ROOT%/mod\nread only = no\nuid = daemon\ngid = *\n\
[starplus]\npath = %ROOT%/dst\nread only = no\nuid = daemon\ngid = *, 4242\n";
    let daemon_gid = fs::read_to_string("/etc/passwd")
        .expect("passwd")
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == "daemon").then(|| f[3].parse::<u32>().expect("gid"))
        })
        .expect("user daemon");
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, modules);
        for dir in ["mod", "dst"] {
            fs::set_permissions(root(&d).join(dir), fs::Permissions::from_mode(0o777))
                .expect("chmod");
        }
        for (m, dir) in [("star", "mod"), ("starplus", "dst")] {
            push(&d, None, m, &[]).assert_code(0);
            let meta = fs::metadata(root(&d).join(dir).join("f1"))
                .unwrap_or_else(|e| panic!("{} {m}: {e}\n{}", bin.display(), log(&d)));
            // The session ran as daemon with daemon's own group first.
            assert_eq!(
                (meta.uid(), meta.gid()),
                (1, daemon_gid),
                "{} {m}",
                bin.display()
            );
        }
        assert!(!log(&d).contains("Invalid gid"), "{}", log(&d));
    }
}

#[test]
fn hosts_allow_star_admits_a_peer_without_a_name() {
    // 127.0.0.3 has no reverse name here: the daemon calls it UNKNOWN.
    assert!(
        !fs::read_to_string("/etc/hosts")
            .unwrap_or_default()
            .contains("127.0.0.3"),
        "the test needs 127.0.0.3 without a name"
    );
    let modules = "[star]\npath = %ROOT%/mod\nread only = no\nhosts allow = *\n\
[unknown]\npath = %ROOT%/dst\nread only = no\nhosts allow = UNKNOWN\n\
[named]\npath = %ROOT%/ro\nread only = no\nhosts allow = *.example.com\n\
[denied]\npath = %ROOT%/ro\nread only = no\nhosts deny = *\n";
    for bin in [oxsync_bin(), rsync_bin()] {
        let d = start(&bin, modules);
        let from = ["--address=127.0.0.3"];
        for (m, dir) in [("star", "mod"), ("unknown", "dst")] {
            push(&d, None, m, &from).assert_code(0);
            assert!(landed(&d, dir), "{} {m}: {}", bin.display(), log(&d));
        }
        for m in ["named", "denied"] {
            let out = push(&d, None, m, &from);
            assert_eq!(out.code, Some(5), "{} {m}: {out:?}", bin.display());
            assert!(out.stderr.contains("access denied"), "{out:?}");
        }
        assert!(!landed(&d, "ro"));
        assert!(log(&d).contains("UNKNOWN (127.0.0.3)"), "{}", log(&d));
    }
}
