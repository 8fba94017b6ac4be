//! The README's daemon quick start, run as written (in a scratch directory:
//! only the module path, the config file and the port are moved there),
//! and the failure it used to end in: a module its user may not write,
//! which must say why on the client's side instead of a reset connection.
use crate::util::*;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::process::Command;

/// Kills and reaps the daemon however the test ends.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The shell lines of the README's "Daemon quick start" block.
fn quick_start_block() -> String {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split_once("## Daemon quick start")
        .expect("quick start section")
        .1;
    let block = section.split_once("```sh\n").expect("sh block").1;
    block.split_once("```").expect("block end").0.to_string()
}

/// A scratch directory the daemon's `nobody` can enter, with `oxsync` on
/// the PATH as the README assumes.
fn setup() -> (Scratch, String) {
    let s = Scratch::new();
    fs::set_permissions(s.root(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = s.path("bin");
    fs::create_dir(&bin).unwrap();
    symlink(oxsync_bin(), bin.join("oxsync")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (s, path)
}

/// Runs the quick start's lines with bash, as root (the README's reader):
/// the greeting arrives in the module (owned by the module's user, as the
/// daemon wrote it after dropping to `nobody`) and comes back in ./copy.
#[test]
fn readme_quick_start_works_as_written() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the quick start is written for root (the test suite runs as root)"
    );
    let (s, path) = setup();
    let port = free_port().to_string();
    let module = s.path("srv/pub");
    fs::create_dir(s.path("srv")).unwrap();
    fs::set_permissions(s.path("srv"), fs::Permissions::from_mode(0o755)).unwrap();
    let conf = s.path("rsyncd.conf");
    // The one line added: a daemon left by a failing line is stopped.
    let script = "trap 'kill $(jobs -p) 2>/dev/null || :' EXIT\n".to_string()
        + &quick_start_block()
            .replace("/srv/pub", &module.to_string_lossy())
            .replace("/tmp/rsyncd.conf", &conf.to_string_lossy())
            .replace("8730", &port);
    let work = s.path("work");
    fs::create_dir(&work).unwrap();
    let r = run(
        Command::new("bash")
            .args(["-e", "-c", &script])
            .current_dir(&work)
            .env("PATH", &path),
        &s.logs(),
    );
    r.assert_code(0);
    assert_eq!(fs::read(module.join("greeting")).unwrap(), b"hello\n");
    assert_eq!(fs::read(work.join("copy/greeting")).unwrap(), b"hello\n");
    let owner =
        std::os::unix::fs::MetadataExt::uid(&fs::metadata(module.join("greeting")).unwrap());
    assert_eq!(owner, 65534, "written as nobody");
    assert!(r.stdout.contains("greeting"), "{r:?}");
}

/// A module directory owned by root, mode 0755, pushed to by a root
/// daemon that serves as `nobody`: both clients end with exit 11 and the
/// daemon's reasons (permission denied, and the ids it writes as), not a
/// reset connection (exit 10/12) after the daemon left with unread data.
#[test]
fn unwritable_module_says_why() {
    assert!(
        rustix::process::geteuid().is_root(),
        "needs root to drop privileges"
    );
    let (s, _) = setup();
    let module = s.path("pub");
    fs::create_dir(&module).unwrap();
    fs::set_permissions(&module, fs::Permissions::from_mode(0o755)).unwrap();
    let files = s.path("files");
    fs::create_dir(&files).unwrap();
    // Enough data that the client is still sending when the daemon fails.
    for i in 0..40 {
        write_big_file(&files.join(format!("f{i}")), 256 << 10, i);
    }
    let conf = s.path("rsyncd.conf");
    fs::write(
        &conf,
        format!(
            "[pub]\n    path = {}\n    read only = no\n",
            module.display()
        ),
    )
    .unwrap();
    let port = free_port().to_string();
    let daemon = Command::new(oxsync_bin())
        .args(["--daemon", "--no-detach", "--port", &port, "--config"])
        .arg(&conf)
        .stderr(fs::File::create(s.path("daemon.err")).unwrap())
        .spawn()
        .unwrap();
    let _daemon = Reap(daemon);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "daemon did not listen"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = format!("rsync://localhost:{port}/pub/");
    let src = format!("{}/", files.display());
    for client in [oxsync_bin(), rsync_bin()] {
        // Each file is refused with its reason, as rsync's daemon does,
        // and the run ends with code 23 rather than a reset.
        let r = run(Command::new(&client).args(["-av", &src, &url]), &s.logs());
        r.assert_code(23);
        assert!(r.stderr.contains("Permission denied (13)"), "{r:?}");
        assert!(!r.stderr.contains("reset by peer"), "{r:?}");
    }
    // The daemon's log says which ids the module is written as.
    let log = fs::read_to_string(s.path("daemon.err")).unwrap_or_default();
    for want in [
        "rsync: module pub is written as uid 65534 gid 65534",
        &format!("make {} writable by them", module.display()),
    ] {
        assert!(log.contains(want), "{want}: {log}");
    }
    assert_eq!(fs::read_dir(&module).unwrap().count(), 0, "nothing written");
}
