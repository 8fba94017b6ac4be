//! `max connections`: the module's `lock file` holds one 4-byte slot per
//! allowed connection (slot N is bytes 4N..4N+4), as upstream's. A
//! connection holds an exclusive record lock on a free slot for its whole
//! life; the kernel drops it when the session's descriptor closes, so a
//! crashed session never leaks a slot. The locks are the kind upstream
//! takes (see [`confine::rangelock`]), so an rsync daemon and an oxsync
//! daemon sharing one lock file count their connections together.
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

/// Bytes of the lock file one slot takes.
const SLOT_BYTES: u64 = 4;

/// A claimed connection slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    _file: File,
    /// The slot number.
    pub index: u64,
}

/// Claims one of `max` slots of `lock_file` (created mode 0600 when
/// missing); None when all are taken.
// upstream: connection.c:claim_connection()
pub fn claim(lock_file: &Path, max: u64) -> io::Result<Option<Slot>> {
    // An operator path: a symlink on it another user owns is refused.
    let flags = rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CREATE;
    let file = confine::operator::open_file(lock_file, flags, 0o600, confine::Links::Trusted)?;
    for index in 0..max {
        let start = index
            .checked_mul(SLOT_BYTES)
            .ok_or(io::ErrorKind::InvalidInput)?;
        if confine::rangelock::try_lock_range(file.as_fd(), start, SLOT_BYTES)? {
            return Ok(Some(Slot { _file: file, index }));
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
        // One file, no per-slot files beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("readdir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("rsyncd.lock")]);
        assert!(claim(&lf, 2).expect("claim").is_none());
        // A larger limit finds the third slot free.
        let c = claim(&lf, 3).expect("claim").expect("slot 2");
        assert_eq!(c.index, 2);
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
