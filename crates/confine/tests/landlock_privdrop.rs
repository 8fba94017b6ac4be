//! Steps 4 and 5 of a daemon session in order (chroot, setgroups/setgid/
//! setuid, no_new_privs, Landlock), each run in a fresh child process: the
//! test binary re-executes itself with only that test selected, because
//! credentials, the root directory and Landlock would otherwise leak into
//! the other tests of this process. Needs root; skipped otherwise.

mod common;

use confine::{
    chroot, confine_to, drop_privileges, set_no_new_privs, AmbientAuthority, LandlockOutcome, Rules,
};
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SCENARIOS: common::Scenarios = common::Scenarios("CONFINE_PRIVDROP_SCENARIO");
const NOBODY: u32 = 65534;

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
    if !SCENARIOS.is_child(NAME) {
        SCENARIOS.run_child(NAME, &[]);
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
    if !SCENARIOS.is_child(NAME) {
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
        let out = SCENARIOS.run_child(NAME, &[("JAIL", jail.path())]);
        assert!(out.contains("landlock: abi "), "{out}");
        assert_eq!(std::fs::read(module.join("f")).unwrap(), b"pushed");
        assert!(!other.join("f").exists());
        return;
    }
    let jail = common::env_path("JAIL");
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
