//! Landlock on the running kernel. A Landlock domain confines the calling
//! thread and everything it creates afterwards, and the test harness runs
//! tests on shared threads, so every scenario that confines runs in a
//! fresh child process: the test binary re-executes itself with only that
//! test selected and `CONFINE_LANDLOCK_SCENARIO` set, and the parent
//! asserts on the child's exit status and output.

mod common;

use confine::{abi_version, confine_to, AmbientAuthority, LandlockOutcome, Level, Rules};
use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

const SCENARIOS: common::Scenarios = common::Scenarios("CONFINE_LANDLOCK_SCENARIO");

/// The kernel's ABI from the raw version query of landlock_create_ruleset.
fn raw_abi() -> i64 {
    extern "C" {
        fn syscall(num: std::os::raw::c_long, ...) -> std::os::raw::c_long;
    }
    // Same number on every architecture (the unified syscall table).
    const SYS_LANDLOCK_CREATE_RULESET: std::os::raw::c_long = 444;
    const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag the
    // kernel reads no memory and only returns the ABI version (or -1).
    #[allow(unsafe_code)]
    let v = unsafe {
        syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    v as i64
}

/// Landlock is available here; otherwise the test is skipped with a note.
fn landlock_here() -> bool {
    let v = raw_abi();
    if v < 1 {
        eprintln!("landlock not available on this kernel: test skipped");
    }
    v >= 1
}

/// Confines this thread, asserting that a domain was enforced.
fn confine(rules: &Rules) -> (i32, Level) {
    let outcome = confine_to(rules);
    println!("{}", outcome.log_line());
    match outcome {
        LandlockOutcome::Enforced { abi, level, .. } => (abi, level),
        other => panic!("not enforced: {other}"),
    }
}

fn assert_denied(res: std::io::Result<()>, what: &str) {
    match res {
        Ok(()) => panic!("{what}: allowed"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{what}: {e}"),
    }
}

#[test]
fn probe_agrees_with_kernel() {
    let raw = raw_abi();
    let probe = abi_version();
    if raw < 1 {
        assert_eq!(probe, None);
        return;
    }
    assert_eq!(probe.map(i64::from), Some(raw));
    // The abi an enforced domain reports (the landlock crate's own status
    // after restrict_self) agrees too.
    if SCENARIOS.is_child("probe_agrees_with_kernel") {
        let (abi, _) = confine(&Rules::default());
        assert_eq!(i64::from(abi), raw);
        return;
    }
    let out = SCENARIOS.run_child("probe_agrees_with_kernel", &[]);
    assert!(out.contains(&format!("landlock: abi {raw}, ")), "{out}");
}

#[test]
fn write_inside_root_succeeds() {
    const NAME: &str = "write_inside_root_succeeds";
    if !landlock_here() {
        return;
    }
    if !SCENARIOS.is_child(NAME) {
        let root = tempfile::tempdir().unwrap();
        SCENARIOS.run_child(NAME, &[("ROOT", root.path())]);
        assert_eq!(std::fs::read(root.path().join("d/b")).unwrap(), b"data");
        return;
    }
    let root = common::env_path("ROOT");
    let auth = AmbientAuthority::operator();
    confine(&Rules::for_module(&root, true, auth));
    std::fs::write(root.join("a"), b"data").unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::rename(root.join("a"), root.join("d/b")).unwrap();
    // Truncating rewrite and removal work too.
    std::fs::write(root.join("t"), b"x").unwrap();
    std::fs::write(root.join("t"), b"y").unwrap();
    std::fs::remove_file(root.join("t")).unwrap();
}

#[test]
fn write_outside_root_is_denied() {
    const NAME: &str = "write_outside_root_is_denied";
    if !landlock_here() {
        return;
    }
    if !SCENARIOS.is_child(NAME) {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("existing"), b"old").unwrap();
        SCENARIOS.run_child(NAME, &[("ROOT", root.path()), ("OUTSIDE", outside.path())]);
        assert!(!outside.path().join("new").exists());
        assert_eq!(
            std::fs::read(outside.path().join("existing")).unwrap(),
            b"old"
        );
        return;
    }
    let root = common::env_path("ROOT");
    let outside = common::env_path("OUTSIDE");
    confine(&Rules::for_module(
        &root,
        true,
        AmbientAuthority::operator(),
    ));
    assert_denied(std::fs::write(outside.join("new"), b"x"), "create outside");
    assert_denied(
        std::fs::write(outside.join("existing"), b"x"),
        "overwrite outside",
    );
    assert_denied(
        std::fs::remove_file(outside.join("existing")),
        "unlink outside",
    );
    assert_denied(std::fs::write("/etc/confine-test", b"x"), "write in /etc");
    // A rename out of the root is a write outside too.
    std::fs::write(root.join("f"), b"x").unwrap();
    let res = std::fs::rename(root.join("f"), outside.join("moved"));
    assert!(res.is_err(), "rename out of the root allowed");
}

#[test]
fn read_only_module_root_denies_writes() {
    const NAME: &str = "read_only_module_root_denies_writes";
    if !landlock_here() {
        return;
    }
    if !SCENARIOS.is_child(NAME) {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), b"content").unwrap();
        SCENARIOS.run_child(NAME, &[("ROOT", root.path())]);
        return;
    }
    let root = common::env_path("ROOT");
    confine(&Rules::for_module(
        &root,
        false,
        AmbientAuthority::operator(),
    ));
    assert_eq!(std::fs::read(root.join("f")).unwrap(), b"content");
    assert_denied(std::fs::write(root.join("g"), b"x"), "create in ro root");
    assert_denied(std::fs::write(root.join("f"), b"x"), "overwrite in ro root");
}

#[test]
fn empty_allowlist_denies_every_write() {
    const NAME: &str = "empty_allowlist_denies_every_write";
    if !landlock_here() {
        return;
    }
    if !SCENARIOS.is_child(NAME) {
        let dir = tempfile::tempdir().unwrap();
        SCENARIOS.run_child(NAME, &[("DIR", dir.path())]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        return;
    }
    let dir = common::env_path("DIR");
    confine(&Rules::default());
    assert_denied(std::fs::write(dir.join("x"), b"x"), "create in a tempdir");
    assert_denied(std::fs::create_dir(dir.join("d")), "mkdir in a tempdir");
    assert_denied(
        std::fs::write(std::env::temp_dir().join("confine-x"), b"x"),
        "create in /tmp",
    );
    assert_denied(
        std::fs::read("/etc/passwd").map(|_| ()),
        "read with nothing allowed",
    );
}

#[test]
fn second_confine_cannot_widen() {
    const NAME: &str = "second_confine_cannot_widen";
    if !landlock_here() {
        return;
    }
    if !SCENARIOS.is_child(NAME) {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        SCENARIOS.run_child(NAME, &[("A", a.path()), ("B", b.path())]);
        assert!(a.path().join("second").exists());
        assert!(!b.path().join("x").exists());
        return;
    }
    let a = common::env_path("A");
    let b = common::env_path("B");
    let auth = AmbientAuthority::operator();
    confine(&Rules::for_module(&a, true, auth));
    std::fs::write(a.join("first"), b"x").unwrap();
    let mut wider = Rules::for_module(&a, true, auth);
    wider.allow(&b, true, auth);
    wider.allow(Path::new("/tmp"), true, auth);
    confine(&wider);
    assert_denied(std::fs::write(b.join("x"), b"x"), "write to the added path");
    std::fs::write(a.join("second"), b"x").unwrap();
}

#[test]
fn system_directories_stay_usable() {
    const NAME: &str = "system_directories_stay_usable";
    if !landlock_here() {
        return;
    }
    if !SCENARIOS.is_child(NAME) {
        let root = tempfile::tempdir().unwrap();
        SCENARIOS.run_child(NAME, &[("ROOT", root.path())]);
        assert_eq!(std::fs::read(root.path().join("hook")).unwrap(), b"hi\n");
        return;
    }
    let root = common::env_path("ROOT");
    confine(&Rules::for_module(
        &root,
        true,
        AmbientAuthority::operator(),
    ));
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(passwd.contains("root:"));
    // A hook: exec from the system directories, output into the root,
    // noise into /dev/null; it inherits the sandbox.
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg("echo hi > hook; echo noise > /dev/null; touch /etc/confine-hook 2>/dev/null && exit 3; exit 0")
        .current_dir(&root)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "hook failed or escaped");
}

#[test]
fn tcp_is_denied_from_abi_4() {
    const NAME: &str = "tcp_is_denied_from_abi_4";
    if raw_abi() < 4 {
        eprintln!("kernel landlock abi below 4: test skipped");
        return;
    }
    if !SCENARIOS.is_child(NAME) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        SCENARIOS.run_child(NAME, &[("PORT", Path::new(&port))]);
        return;
    }
    let port: u16 = std::env::var("PORT").unwrap().parse().unwrap();
    // Reachable before the sandbox.
    drop(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    let rules = Rules {
        deny_tcp: true,
        ..Rules::default()
    };
    let outcome = confine_to(&rules);
    println!("{}", outcome.log_line());
    match &outcome {
        LandlockOutcome::Enforced { missing, .. } => {
            assert!(!missing.iter().any(|m| m.starts_with("tcp_")), "{outcome}")
        }
        other => panic!("not enforced: {other}"),
    }
    assert_denied(
        std::net::TcpStream::connect(("127.0.0.1", port)).map(drop),
        "tcp connect",
    );
    assert_denied(
        std::net::TcpListener::bind("127.0.0.1:0").map(drop),
        "tcp bind",
    );
}

#[test]
fn signals_are_scoped_from_abi_6() {
    const NAME: &str = "signals_are_scoped_from_abi_6";
    if raw_abi() < 6 {
        eprintln!("kernel landlock abi below 6: test skipped");
        return;
    }
    if !SCENARIOS.is_child(NAME) {
        SCENARIOS.run_child(NAME, &[]);
        return;
    }
    let parent = rustix::process::getppid().expect("parent");
    rustix::process::test_kill_process(parent).expect("signal before");
    let rules = Rules {
        scope_ipc: true,
        ..Rules::default()
    };
    confine(&rules);
    let res = rustix::process::test_kill_process(parent);
    assert_eq!(res, Err(rustix::io::Errno::PERM));
    // This process is inside the domain: signalling itself still works.
    rustix::process::test_kill_process(rustix::process::getpid()).expect("signal self");
}
