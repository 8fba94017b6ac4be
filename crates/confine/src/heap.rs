//! Giving freed heap memory back to the system (glibc `malloc_trim`),
//! which neither std nor rustix offers.
//!
//! glibc keeps what a program frees for its next allocations, and once a
//! large block has been freed it keeps up to twice that much at the top of
//! its heap (its dynamic mmap threshold). A sender that has just walked a
//! million names holds its list from then on, while the walk's transient
//! blocks and the sort's index would stay resident beside it for the
//! whole transfer: [`give_back_freed`] returns them once, at that point.
//! [`stats`] reads the allocator's counters (glibc `mallinfo2`) for
//! `--info=stats3`.
#![allow(unsafe_code)]

/// Returns the free pages of every malloc arena to the system. A no-op
/// where the allocator is not glibc's.
pub fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists (under
    // its arena locks) and takes no pointer; any pad value is valid.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The allocator's own counters (glibc `mallinfo2`), for
/// `--info=stats3`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes from sbrk.
    pub arena: usize,
    /// Free chunks.
    pub ordblks: usize,
    /// Free fastbin blocks.
    pub smblks: usize,
    /// Chunks from mmap.
    pub hblks: usize,
    /// Bytes from mmap.
    pub hblkhd: usize,
    /// Always 0.
    pub usmblks: usize,
    /// Bytes in freed fastbin blocks.
    pub fsmblks: usize,
    /// Bytes in use.
    pub uordblks: usize,
    /// Bytes free.
    pub fordblks: usize,
    /// Bytes at the top of the heap that could be released.
    pub keepcost: usize,
}

/// The allocator's counters over every arena; None where the allocator
/// is not glibc's.
pub fn stats() -> Option<HeapStats> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 takes no argument and returns a plain struct
        // of counters, read under the arena locks.
        let m = unsafe { libc::mallinfo2() };
        Some(HeapStats {
            arena: m.arena,
            ordblks: m.ordblks,
            smblks: m.smblks,
            hblks: m.hblks,
            hblkhd: m.hblkhd,
            usmblks: m.usmblks,
            fsmblks: m.fsmblks,
            uordblks: m.uordblks,
            fordblks: m.fordblks,
            keepcost: m.keepcost,
        })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn counters_see_a_live_block() {
        let block = vec![7u8; 1 << 16];
        let s = super::stats().expect("glibc");
        assert!(s.uordblks + s.hblkhd >= block.len());
        assert_eq!(s.usmblks, 0);
        drop(block);
    }
}
