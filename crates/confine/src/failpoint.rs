//! Fault injection for the tests, in debug builds only: with
//! `OXSYNC_FAILPOINT=OP[@ROLE]` the first filesystem operation OP (`open`,
//! `read`, `write`, `fsync`, `rename`, `mkdir`, `unlink`, `setmeta`) made by role
//! ROLE (a thread named `generator` or `receiver`; `sender` is any other
//! thread) fails once with EIO. Release builds compile none of this: the
//! check is an empty inline function there and the variable is never read
//! (tests/fault_matrix.rs runs the debug binary).
use std::io;

/// Fails once, with EIO, where `OXSYNC_FAILPOINT` names `op` (debug
/// builds only).
#[cfg(debug_assertions)]
pub fn check(op: &str) -> io::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::OnceLock;
    static SPEC: OnceLock<Option<(String, Option<String>)>> = OnceLock::new();
    static FIRED: AtomicBool = AtomicBool::new(false);
    let spec = SPEC.get_or_init(|| {
        let v = std::env::var("OXSYNC_FAILPOINT").ok()?;
        let mut it = v.splitn(2, '@');
        let op = it.next()?.to_string();
        Some((op, it.next().map(str::to_string)))
    });
    let Some((want, role)) = spec else {
        return Ok(());
    };
    if want != op {
        return Ok(());
    }
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("");
    let matches = match role.as_deref() {
        None => true,
        Some("sender") => !matches!(name, "generator" | "receiver"),
        Some(r) => name == r,
    };
    if matches && !FIRED.swap(true, Ordering::SeqCst) {
        return Err(io::Error::from_raw_os_error(
            rustix::io::Errno::IO.raw_os_error(),
        ));
    }
    Ok(())
}

/// Release builds: never fails.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn check(_op: &str) -> io::Result<()> {
    Ok(())
}
