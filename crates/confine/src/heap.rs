//! Giving freed heap memory back to the system (glibc `malloc_trim`),
//! which neither std nor rustix offers.
//!
//! glibc keeps what a program frees for its next allocations, and once a
//! large block has been freed it keeps up to twice that much at the top of
//! its heap (its dynamic mmap threshold). A sender that has just walked a
//! million names holds its list from then on, while the walk's transient
//! blocks and the sort's index would stay resident beside it for the
//! whole transfer: [`give_back_freed`] returns them once, at that point.
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
