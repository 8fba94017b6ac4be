//! Operator-named paths through a symlink another user planted (issue 11
//! item 7): the destination, `--log-file`, `--temp-dir`, `--partial-dir`,
//! `--backup-dir`, `--link-dest`/`--compare-dest`, `--files-from`,
//! `--exclude-from`, per-directory merge files, `--password-file`, and a
//! daemon's module `path` and `secrets file`.
//!
//! Each site is tried three ways, as upstream's operator-path tests do:
//! a symlink owned by another uid (65534) is refused, with rsync 3.5.0's
//! message and exit code and nothing written (or read) outside; the same
//! symlink owned by root (the test's own user) is followed; and
//! `--insecure-links` (a daemon's `insecure links = yes`) follows the
//! foreign one too. Needs root, to own a symlink by another uid.
use super::daemon::{start, url};
use super::util::{oxsync_bin, run, snapshot, EntryState, Run, Scratch};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The planting user: not root, not us.
const OTHER_UID: u32 = 65534;
/// What `strerror(ELOOP)` reads as in rsync's messages.
const ELOOP: &str = "Too many levels of symbolic links (40)";

/// Who owns the planted symlink, and whether `--insecure-links` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Another user's symlink: refused.
    Foreign,
    /// Root's (our own) symlink: followed.
    Own,
    /// Another user's symlink with `--insecure-links`: followed.
    Insecure,
}

const VARIANTS: [Variant; 3] = [Variant::Foreign, Variant::Own, Variant::Insecure];

impl Variant {
    fn followed(self) -> bool {
        self != Variant::Foreign
    }
    fn extra(self) -> &'static [&'static str] {
        if self == Variant::Insecure {
            &["--insecure-links"]
        } else {
            &[]
        }
    }
}

/// One scratch tree: `src/`, `dest/`, `outside/` (what a followed link
/// reaches) and `plant/` (where absolute plants live).
struct Cell {
    s: Scratch,
    variant: Variant,
}

impl Cell {
    fn new(variant: Variant) -> Cell {
        assert!(
            rustix::process::geteuid().is_root(),
            "planting another user's symlink needs root"
        );
        let s = Scratch::new();
        for d in ["src", "dest", "outside", "plant"] {
            fs::create_dir(s.path(d)).expect("mkdir");
        }
        Cell { s, variant }
    }
    fn p(&self, name: &str) -> PathBuf {
        self.s.path(name)
    }
    /// Creates the symlink `at` -> `target`, owned by another uid unless
    /// this is the `Own` variant.
    fn plant(&self, at: &str, target: &Path) {
        let at = self.p(at);
        std::os::unix::fs::symlink(target, &at).expect("symlink");
        if self.variant != Variant::Own {
            std::os::unix::fs::lchown(&at, Some(OTHER_UID), Some(OTHER_UID)).expect("lchown");
        }
    }
    /// Runs oxsync in the scratch root with `args` (plus `--insecure-links`
    /// for that variant).
    fn ox(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(oxsync_bin());
        cmd.current_dir(self.s.root())
            .args(self.variant.extra())
            .args(args);
        run(&mut cmd, &self.s.logs())
    }
    fn outside(&self) -> BTreeMap<PathBuf, EntryState> {
        snapshot(&self.p("outside"))
    }
}

/// Asserts a refusal: exit `code`, `needle` and ELOOP's text on stderr,
/// and `outside/` exactly as it was.
fn assert_refused(
    c: &Cell,
    r: &Run,
    code: i32,
    needle: &str,
    before: &BTreeMap<PathBuf, EntryState>,
) {
    r.assert_code(code);
    assert!(
        r.stderr.contains(needle) && r.stderr.contains(ELOOP),
        "{:?}: want {needle:?} and {ELOOP:?} on stderr of `{}`:\n{}",
        c.variant,
        r.cmdline,
        r.stderr
    );
    assert_eq!(&c.outside(), before, "{:?}: outside/ changed", c.variant);
}

#[test]
fn destination_through_planted_symlink() {
    for v in VARIANTS {
        for absolute in [true, false] {
            let c = Cell::new(v);
            fs::write(c.p("src/f"), b"payload\n").expect("write");
            c.plant("dest/sub", &c.p("outside"));
            let before = c.outside();
            let dest = if absolute {
                format!("{}/", c.p("dest/sub").display())
            } else {
                "dest/sub/".to_string()
            };
            let r = c.ox(&["-a", "src/", &dest]);
            if v.followed() {
                r.assert_code(0);
                assert_eq!(fs::read(c.p("outside/f")).expect("arrived"), b"payload\n");
            } else {
                assert_refused(&c, &r, 3, "change_dir", &before);
            }
        }
    }
}

#[test]
fn destination_created_beneath_planted_parent() {
    // A missing destination is created in its parent: the parent is
    // walked too.
    for v in VARIANTS {
        let c = Cell::new(v);
        fs::write(c.p("src/f"), b"payload\n").expect("write");
        c.plant("plant/opd", &c.p("outside"));
        let before = c.outside();
        let r = c.ox(&["-a", "src/", "plant/opd/new/"]);
        if v.followed() {
            r.assert_code(0);
            assert_eq!(
                fs::read(c.p("outside/new/f")).expect("arrived"),
                b"payload\n"
            );
        } else {
            assert_refused(&c, &r, 11, "/plant/opd/new\" failed", &before);
        }
    }
}

#[test]
fn log_file_through_planted_symlink() {
    for v in VARIANTS {
        for leaf in [true, false] {
            let c = Cell::new(v);
            fs::write(c.p("src/f"), b"data\n").expect("write");
            fs::write(c.p("outside/victim"), b"VICTIM\n").expect("write");
            let log = if leaf {
                c.plant("plant/osl", &c.p("outside/victim"));
                "plant/osl"
            } else {
                c.plant("plant/opd", &c.p("outside"));
                "plant/opd/victim"
            };
            let before = c.outside();
            let r = c.ox(&["-a", &format!("--log-file={log}"), "src/", "dest/"]);
            // upstream log.c: the log is ignored, the transfer goes on.
            r.assert_code(0);
            assert_eq!(fs::read(c.p("dest/f")).expect("transferred"), b"data\n");
            let victim = fs::read_to_string(c.p("outside/victim")).expect("victim");
            if v.followed() {
                assert!(victim.contains("building file list"), "{v:?}: {victim:?}");
            } else {
                assert_refused(
                    &c,
                    &r,
                    0,
                    &format!("failed to open log-file {log}: "),
                    &before,
                );
                assert!(
                    r.stdout.contains("Ignoring \"log file\" setting."),
                    "{}",
                    r.stdout
                );
            }
        }
    }
}

/// The option directories that may name a place outside the destination:
/// a foreign symlink among their components refuses the run before any
/// file is written (exit 3).
#[test]
fn temp_partial_backup_dirs_through_planted_symlink() {
    let cases: [(&str, &[&str]); 4] = [
        ("--temp-dir", &[]),
        ("--partial-dir", &["--delay-updates"]),
        ("--backup-dir", &["--backup"]),
        ("--backup-dir", &["-b"]),
    ];
    for (opt, extra) in cases {
        for v in VARIANTS {
            for relative in [false, true] {
                if relative && opt != "--backup-dir" {
                    continue;
                }
                let c = Cell::new(v);
                fs::write(c.p("src/f"), b"NEW-CONTENT\n").expect("write");
                fs::write(c.p("dest/f"), b"OLD\n").expect("write");
                let value = if relative {
                    // A relative directory is taken from the destination.
                    c.plant("dest/opd", &c.p("outside"));
                    "opd/sub".to_string()
                } else {
                    c.plant("plant/opd", &c.p("outside"));
                    let sub = if opt == "--temp-dir" { "" } else { "/sub" };
                    format!("{}{sub}", c.p("plant/opd").display())
                };
                let before = c.outside();
                let arg = format!("{opt}={value}");
                let mut args = vec!["-a", &arg];
                args.extend_from_slice(extra);
                args.extend(["src/", "dest/"]);
                let r = c.ox(&args);
                if v.followed() {
                    r.assert_code(0);
                    assert_eq!(fs::read(c.p("dest/f")).expect("dest"), b"NEW-CONTENT\n");
                    if opt == "--backup-dir" {
                        assert_eq!(fs::read(c.p("outside/sub/f")).expect("backup"), b"OLD\n");
                    } else {
                        // The temporary file was made (and renamed away) there.
                        assert_ne!(c.outside(), before, "{opt} {v:?}: not used");
                    }
                } else {
                    let needle = format!("cannot use {opt}='{value}': ");
                    assert_refused(&c, &r, 3, &needle, &before);
                    assert_eq!(fs::read(c.p("dest/f")).expect("dest"), b"OLD\n");
                }
            }
        }
    }
}

#[test]
fn basis_dirs_through_planted_symlink() {
    const T: i64 = 1_234_567_890;
    for opt in ["--link-dest", "--compare-dest"] {
        for v in VARIANTS {
            let c = Cell::new(v);
            fs::write(c.p("src/f"), b"BASIS-MATCH\n").expect("write");
            fs::create_dir(c.p("outside/sub")).expect("mkdir");
            fs::write(c.p("outside/sub/f"), b"BASIS-MATCH\n").expect("write");
            super::util::set_mtime(&c.p("src/f"), T);
            super::util::set_mtime(&c.p("outside/sub/f"), T);
            fs::set_permissions(c.p("src/f"), fs::Permissions::from_mode(0o644)).expect("chmod");
            fs::set_permissions(c.p("outside/sub/f"), fs::Permissions::from_mode(0o644))
                .expect("chmod");
            c.plant("plant/opd", &c.p("outside"));
            let before = c.outside();
            let arg = format!("{opt}={}", c.p("plant/opd/sub").display());
            let r = c.ox(&["-a", &arg, "src/", "dest/"]);
            // A basis directory that cannot be used is skipped, as one that
            // does not exist: the transfer goes on.
            r.assert_code(0);
            let dest = c.p("dest/f");
            let used = match opt {
                "--link-dest" => {
                    fs::metadata(&dest).expect("dest").ino()
                        == fs::metadata(c.p("outside/sub/f")).expect("basis").ino()
                }
                _ => !dest.exists(),
            };
            assert_eq!(used, v.followed(), "{opt} {v:?}: {}", r.stderr);
            if !v.followed() {
                assert_eq!(fs::read(&dest).expect("sent"), b"BASIS-MATCH\n");
                assert_eq!(c.outside(), before);
            }
        }
    }
}

#[test]
fn files_from_and_exclude_from_through_planted_symlink() {
    for v in VARIANTS {
        for leaf in [true, false] {
            let c = Cell::new(v);
            fs::write(c.p("src/canary"), b"x\n").expect("write");
            fs::write(c.p("src/other"), b"y\n").expect("write");
            fs::write(c.p("outside/list"), b"canary\n").expect("write");
            let list = if leaf {
                c.plant("plant/osl", &c.p("outside/list"));
                "plant/osl"
            } else {
                c.plant("plant/opd", &c.p("outside"));
                "plant/opd/list"
            };
            let before = c.outside();
            // --files-from: the list names what is sent.
            let r = c.ox(&["-a", &format!("--files-from={list}"), "src/", "dest/"]);
            if v.followed() {
                r.assert_code(0);
                assert!(c.p("dest/canary").exists() && !c.p("dest/other").exists());
            } else {
                let needle = format!("failed to open files-from file {list}: ");
                assert_refused(&c, &r, 1, &needle, &before);
                assert!(!c.p("dest/canary").exists());
            }
            // --exclude-from: the list's rules apply.
            let r = c.ox(&["-a", &format!("--exclude-from={list}"), "src/", "dest2/"]);
            if v.followed() {
                r.assert_code(0);
                assert!(!c.p("dest2/canary").exists() && c.p("dest2/other").exists());
            } else {
                let needle = format!("failed to open exclude file {list}: ");
                assert_refused(&c, &r, 11, &needle, &before);
                assert!(!c.p("dest2").exists());
            }
        }
    }
}

#[test]
fn per_directory_merge_file_through_planted_symlink() {
    // -C's .cvsignore and -F's .rsync-filter in the source tree: one
    // reached through another user's symlink is not read (the canary is
    // sent); root's own, or any with --insecure-links, applies.
    for (flag, name, rule) in [
        ("-C", ".cvsignore", "canary\n"),
        ("-F", ".rsync-filter", "- canary\n"),
    ] {
        for v in VARIANTS {
            let c = Cell::new(v);
            fs::create_dir(c.p("src/sub")).expect("mkdir");
            fs::write(c.p("src/sub/canary"), b"x\n").expect("write");
            fs::write(c.p("outside/rules"), rule).expect("write");
            c.plant(&format!("src/sub/{name}"), Path::new("../../outside/rules"));
            let r = c.ox(&["-a", flag, "src/", "dest/"]);
            r.assert_code(0);
            assert_eq!(
                c.p("dest/sub/canary").exists(),
                !v.followed(),
                "{flag} {v:?}: {}",
                r.stderr
            );
        }
    }
}

#[test]
fn password_file_through_planted_symlink() {
    for v in VARIANTS {
        let c = Cell::new(v);
        let d = start(
            &oxsync_bin(),
            "[auth]\npath = %ROOT%/mod\nread only = no\nauth users = alice\n\
             secrets file = %ROOT%/secrets\n",
        );
        fs::write(c.p("src/f"), b"data\n").expect("write");
        fs::write(c.p("outside/pw"), b"sesame\n").expect("write");
        fs::set_permissions(c.p("outside/pw"), fs::Permissions::from_mode(0o600)).expect("chmod");
        c.plant("plant/opd", &c.p("outside"));
        let target = url(&d, "auth/").replace("rsync://", "rsync://alice@");
        let r = c.ox(&["-a", "--password-file=plant/opd/pw", "src/", &target]);
        if v.followed() {
            r.assert_code(0);
            assert_eq!(fs::read(d.root().join("mod/f")).expect("pushed"), b"data\n");
        } else {
            let before = c.outside();
            assert_refused(
                &c,
                &r,
                1,
                "could not open password file plant/opd/pw: ",
                &before,
            );
            assert!(!d.root().join("mod/f").exists());
        }
    }
}

/// A daemon module whose `path` or `secrets file` goes through another
/// user's symlink: refused unless `insecure links = yes`.
#[test]
fn daemon_module_path_and_secrets_through_planted_symlink() {
    for v in VARIANTS {
        let c = Cell::new(v);
        fs::write(c.p("outside/secret.txt"), b"OUT-OF-MODULE\n").expect("write");
        fs::write(c.p("outside/secrets"), b"alice:sesame\n").expect("write");
        fs::set_permissions(c.p("outside/secrets"), fs::Permissions::from_mode(0o600))
            .expect("chmod");
        c.plant("plant/opd", &c.p("outside"));
        let insecure = if v == Variant::Insecure {
            "insecure links = yes\n"
        } else {
            ""
        };
        let plant = c.p("plant/opd");
        let d = start(
            &oxsync_bin(),
            &format!(
                "[m]\npath = {0}\n{1}\
                 [auth]\npath = %ROOT%/mod\nauth users = alice\nsecrets file = {0}/secrets\n{1}",
                plant.display(),
                insecure
            ),
        );
        fs::write(d.root().join("mod/inmod"), b"in\n").expect("write");
        // The module path.
        let mut cmd = Command::new(oxsync_bin());
        cmd.args(["-r", &url(&d, "m/")]).arg(c.p("pulled"));
        let r = run(&mut cmd, &c.s.logs());
        if v.followed() {
            r.assert_code(0);
            assert!(c.p("pulled/secret.txt").exists());
        } else {
            assert_eq!(r.code, Some(5), "{}", r.stderr);
            assert!(r.stderr.contains("@ERROR: chdir failed"), "{}", r.stderr);
            let log = fs::read_to_string(d.root().join("daemon.log")).unwrap_or_default();
            let want = format!("chdir {} failed for module m: {ELOOP}", plant.display());
            assert!(log.contains(&want), "{log}");
            assert!(!c.p("pulled/secret.txt").exists());
        }
        // The secrets file.
        let mut cmd = Command::new(oxsync_bin());
        cmd.env("RSYNC_PASSWORD", "sesame")
            .args([
                "-r",
                &url(&d, "auth/").replace("rsync://", "rsync://alice@"),
            ])
            .arg(c.p("authed"));
        let r = run(&mut cmd, &c.s.logs());
        if v.followed() {
            r.assert_code(0);
            assert!(c.p("authed/inmod").exists());
        } else {
            assert_eq!(r.code, Some(5), "{}", r.stderr);
            assert!(
                r.stderr.contains("auth failed on module auth"),
                "{}",
                r.stderr
            );
            let log = fs::read_to_string(d.root().join("daemon.log")).unwrap_or_default();
            assert!(log.contains("no secrets file"), "{log}");
        }
    }
}

/// A client cannot switch the daemon's rule off: `--insecure-links` on the
/// wire is refused (stock rsync sends it with `-M`).
#[test]
fn daemon_refuses_insecure_links_from_a_client() {
    let d = start(&oxsync_bin(), "[m]\npath = %ROOT%/mod\n");
    fs::write(d.root().join("mod/f"), b"x\n").expect("write");
    let s = Scratch::new();
    let mut cmd = Command::new(super::util::rsync_bin());
    cmd.args(["-M--insecure-links", &url(&d, "m/")]);
    let r = run(&mut cmd, &s.logs());
    assert_ne!(r.code, Some(0), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("The server is configured to refuse --insecure-links"),
        "{}",
        r.stderr
    );
    let log = fs::read_to_string(d.root().join("daemon.log")).unwrap_or_default();
    assert!(
        log.lines()
            .any(|l| l.contains("refused option on module m")
                && l.contains("refuse --insecure-links")),
        "{log}"
    );
    // Without it the listing works.
    let mut cmd = Command::new(super::util::rsync_bin());
    cmd.arg(url(&d, "m/"));
    run(&mut cmd, &s.logs()).assert_code(0);
}

/// The daemon's own files (`--config`, and through it `lock file`, `motd
/// file`, `exclude from`) are operator paths too: a configuration reached
/// through another user's symlink is not read.
#[test]
fn daemon_config_through_planted_symlink() {
    for v in [Variant::Foreign, Variant::Own] {
        let c = Cell::new(v);
        fs::write(c.p("outside/rsyncd.conf"), "[m]\npath = /tmp\n").expect("write");
        c.plant("plant/opd", &c.p("outside"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let mut cmd = Command::new(oxsync_bin());
        cmd.current_dir(c.s.root()).args([
            "--daemon",
            "--no-detach",
            "--port",
            &port.to_string(),
            "--config=plant/opd/rsyncd.conf",
        ]);
        if v == Variant::Foreign {
            let r = run(&mut cmd, &c.s.logs());
            r.assert_code(1);
            let want = "failed to read config file plant/opd/rsyncd.conf: Too many levels";
            assert!(r.stderr.contains(want), "{}", r.stderr);
            continue;
        }
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("daemon");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let listening = loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break true;
            }
            if std::time::Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert!(listening, "root's own symlinked config was not used");
    }
}
