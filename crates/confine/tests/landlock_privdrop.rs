//! Steps 4 and 5 of a daemon session in order (chroot, setgroups/setgid/
//! setuid, no_new_privs, Landlock), each run in a fresh child process: the
//! test binary re-executes itself with only that test selected, because
//! credentials, the root directory and Landlock would otherwise leak into
//! the other tests of this process. Needs root; skipped otherwise.

use confine::{
    chroot, confine_to, drop_privileges, set_no_new_privs, AmbientAuthority, LandlockOutcome, Rules,
};
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const SCENARIO: &str = "CONFINE_PRIVDROP_SCENARIO";
const NOBODY: u32 = 65534;

fn is_child(name: &str) -> bool {
    std::env::var(SCENARIO).as_deref() == Ok(name)
}

fn run_child(name: &str, env: &[(&str, &Path)]) -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(SCENARIO, name);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scenario {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("1 passed"),
        "scenario {name} did not run:\n{stdout}"
    );
    stdout
}

fn env_path(key: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(key).unwrap_or_else(|| panic!("{key} not set")))
}

fn root_here() -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("not root: test skipped");
    }
    root
}

#[test]
fn drop_to_nobody_cannot_regain_root() {
    const NAME: &str = "drop_to_nobody_cannot_regain_root";
    if !root_here() {
        return;
    }
    if !is_child(NAME) {
        run_child(NAME, &[]);
        return;
    }
    drop_privileges(NOBODY, NOBODY, &[NOBODY]).unwrap();
    assert_eq!(rustix::process::getuid().as_raw(), NOBODY);
    assert_eq!(rustix::process::geteuid().as_raw(), NOBODY);
    assert_eq!(rustix::process::getegid().as_raw(), NOBODY);
    let groups = rustix::process::getgroups().unwrap();
    assert_eq!(
        groups.iter().map(|g| g.as_raw()).collect::<Vec<_>>(),
        vec![NOBODY]
    );
    // A second drop back to root fails.
    assert!(drop_privileges(0, 0, &[]).is_err());
}

#[test]
fn chroot_drop_and_landlock_in_session_order() {
    const NAME: &str = "chroot_drop_and_landlock_in_session_order";
    if !root_here() {
        return;
    }
    if !is_child(NAME) {
        // A chroot holding a module directory owned by nobody and a file
        // owned by root.
        let jail = tempfile::tempdir().unwrap();
        std::fs::set_permissions(jail.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let module = jail.path().join("module");
        let other = jail.path().join("other");
        for d in [&module, &other] {
            std::fs::create_dir(d).unwrap();
            std::os::unix::fs::chown(d, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        let out = run_child(NAME, &[("JAIL", jail.path())]);
        assert!(out.contains("landlock: abi "), "{out}");
        assert_eq!(std::fs::read(module.join("f")).unwrap(), b"pushed");
        assert!(!other.join("f").exists());
        return;
    }
    let jail = env_path("JAIL");
    let auth = AmbientAuthority::operator();
    chroot(&jail, auth).unwrap();
    assert!(Path::new("/module").is_dir());
    drop_privileges(NOBODY, NOBODY, &[]).unwrap();
    set_no_new_privs().unwrap();
    let outcome = confine_to(&Rules::for_module(Path::new("/module"), true, auth));
    println!("{}", outcome.log_line());
    if rustix::process::geteuid().is_root() {
        panic!("still root");
    }
    match &outcome {
        // The jail has no system directories, so they are skipped.
        LandlockOutcome::Enforced { skipped, .. } => {
            assert!(skipped.contains(&PathBuf::from("/usr")), "{outcome}")
        }
        LandlockOutcome::Unavailable { .. } => {}
        LandlockOutcome::Error(e) => panic!("landlock error: {e}"),
    }
    std::fs::write("/module/f", b"pushed").unwrap();
    // Owned by nobody, so only Landlock stops this write.
    let res = std::fs::write("/other/f", b"x");
    if outcome.is_enforced() {
        assert_eq!(res.unwrap_err().kind(), ErrorKind::PermissionDenied);
    }
}
