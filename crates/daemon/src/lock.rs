//! `max connections`: one slot file per allowed connection next to the
//! `lock file` (`LOCKFILE.0`, `LOCKFILE.1`, ...). A connection holds an
//! exclusive `flock` on a free slot for its whole life; the kernel drops it
//! when the process exits, so a crashed session never leaks a slot.
//! (Upstream locks byte ranges of one file; rustix offers only whole-file
//! locks without unsafe code, hence one file per slot.)
use rustix::fs::{flock, FlockOperation};
use std::fs::File;
use std::io;
use std::path::Path;

/// A claimed connection slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    _file: File,
    /// The slot number.
    pub index: u64,
}

/// Claims one of `max` slots under `lock_file`; None when all are taken.
// upstream: connection.c:claim_connection()
pub fn claim(lock_file: &Path, max: u64) -> io::Result<Option<Slot>> {
    for index in 0..max {
        let mut name = lock_file.as_os_str().to_owned();
        name.push(format!(".{index}"));
        // An operator path: a symlink on it another user owns is refused.
        let flags = rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CREATE;
        let file =
            confine::operator::open_file(Path::new(&name), flags, 0o600, confine::Links::Trusted)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(Some(Slot { _file: file, index })),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots() {
        let dir = tempfile::tempdir().expect("tmp");
        let lf = dir.path().join("rsyncd.lock");
        let a = claim(&lf, 2).expect("claim").expect("slot 0");
        let b = claim(&lf, 2).expect("claim").expect("slot 1");
        assert_eq!((a.index, b.index), (0, 1));
        assert!(claim(&lf, 2).expect("claim").is_none());
        drop(a);
        // Another test of this binary may be forking a child right now; the
        // child holds a copy of the descriptor (and so the lock) until its
        // exec closes it, so the freed slot may take a moment to show.
        let mut freed = None;
        for _ in 0..100 {
            freed = claim(&lf, 2).expect("claim");
            if freed.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(freed.expect("freed").index, 0);
    }
}
