//! (e) A local copy, `oxsync -a SRC/ DST/`, with the same scenarios as the
//! remote-shell directions (see `interop.rs`). The reference for itemize
//! comparison is a local `rsync -a SRC/ DST/`.
crate::interop::scenario_tests!(crate::interop::Direction::Local);
