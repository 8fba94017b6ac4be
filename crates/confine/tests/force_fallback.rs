//! The process-global `force_fallback` switch. Its own test binary, so
//! flipping it cannot disturb the cases in `confine.rs`.
use confine::{force_fallback, AmbientAuthority, RelPath, Root};
use std::fs;
use std::os::unix::fs::symlink;

#[test]
fn force_fallback_switches_every_root() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("sub")).unwrap();
    fs::write(tmp.path().join("sub/file"), b"x").unwrap();
    symlink("sub", tmp.path().join("inlink")).unwrap();
    let root = Root::open_ambient(tmp.path(), AmbientAuthority::operator()).unwrap();
    let through = RelPath::new(b"inlink/file").unwrap();

    force_fallback(true);
    assert!(root.uses_fallback());
    assert!(root.open_read(&through).is_err());
    assert!(root.open_read(&RelPath::new(b"sub/file").unwrap()).is_ok());
    force_fallback(false);
    assert!(!root.uses_fallback());
    assert!(root.open_read(&through).is_ok());
}
