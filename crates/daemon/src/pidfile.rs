//! `pid file`: the daemon writes its pid into the file and holds a record
//! lock on it for its whole life, so a second daemon with the same pid file
//! refuses to start ("failed to lock pid file"), while a stale file that no
//! live daemon locks is simply reused. Anything there that is not a regular
//! file is removed first; the file itself is never followed as a symlink.
// upstream: clientserver.c:create_pid_file()
use rustix::fs::OFlags;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Why the pid file could not be taken: upstream's line
/// "failed to WHAT pid file PATH: REASON" (the reason without Rust's
/// "(os error N)").
#[derive(Debug, thiserror::Error)]
#[error("failed to {what} pid file {path}: {}", reason(source))]
pub struct PidFileError {
    /// The step that failed ("create", "lock", "write", ...).
    pub what: &'static str,
    /// The pid file.
    pub path: String,
    /// The system's reason.
    pub source: io::Error,
}

fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

/// Longest pid file content accepted (upstream's pidbuf).
const MAX_LEN: u64 = 32;

/// Creates (or takes over) the pid file and writes our pid into it. Keep
/// the returned file open while the daemon runs: it holds the lock.
pub fn create(path: &str) -> Result<File, PidFileError> {
    let fail = |what: &'static str, source: io::Error| PidFileError {
        what,
        path: path.to_owned(),
        source,
    };
    let p = Path::new(path);
    let before = std::fs::symlink_metadata(p).ok();
    if let Some(md) = &before {
        if !md.file_type().is_file() {
            std::fs::remove_file(p).map_err(|e| fail("unlink", e))?;
        }
    }
    let existed = before.as_ref().is_some_and(|m| m.file_type().is_file());
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW;
    let mut file = confine::operator::open_file(p, flags, 0o664, confine::Links::Trusted)
        .map_err(|e| fail(if existed { "open" } else { "create" }, e))?;
    match confine::rangelock::try_lock_range(file.as_fd(), 0, 4) {
        Ok(true) => {}
        Ok(false) => {
            let busy = rustix::io::Errno::AGAIN.raw_os_error();
            return Err(fail("lock", io::Error::from_raw_os_error(busy)));
        }
        Err(e) => return Err(fail("lock", e)),
    }
    let opened = file.metadata().map_err(|e| fail("fstat opened", e))?;
    if opened.len() > MAX_LEN {
        return Err(fail("find small", io::Error::from_raw_os_error(0)));
    }
    let now = std::fs::symlink_metadata(p).map_err(|e| fail("lstat", e))?;
    if !opened.file_type().is_file() {
        return Err(fail(
            "avoid file overwrite race for",
            io::Error::from_raw_os_error(0),
        ));
    }
    if (opened.dev(), opened.ino()) != (now.dev(), now.ino()) {
        return Err(fail(
            "verify stat info for",
            io::Error::from_raw_os_error(0),
        ));
    }
    file.set_len(0).map_err(|e| fail("truncate", e))?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
        .map_err(|e| fail("write", e))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_stale_file_reused() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("d.pid");
        std::fs::write(&p, "99999999\n").expect("stale");
        let ps = p.to_str().expect("utf-8");
        let held = create(ps).expect("a stale file is taken over");
        let text = std::fs::read_to_string(&p).expect("read");
        assert_eq!(text, format!("{}\n", std::process::id()));
        // Record locks are per process: a second open in this process
        // would get the lock again, so ask a child (flock(1) has no fcntl
        // mode; the daemon test in tests/faults.rs starts two daemons).
        drop(held);
        let link = dir.path().join("l.pid");
        std::os::unix::fs::symlink("/nonexistent-target", &link).expect("symlink");
        create(link.to_str().expect("utf-8")).expect("a symlink is replaced");
        assert!(std::fs::symlink_metadata(&link)
            .expect("stat")
            .file_type()
            .is_file());
    }
}
