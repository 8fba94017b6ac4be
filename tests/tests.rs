//! End-to-end tests of the oxsync binary: interoperability with stock rsync
//! in every direction, local copies, and a hand-written hostile peer.
//!
//! Set `OXSYNC_TEST_BIN=/usr/bin/rsync` to run every scenario with stock
//! rsync in place of oxsync (this checks the harness itself).
mod compress;
mod control;
mod daemon;
mod daemon_filters;
mod daemon_options;
mod fakepeer;
mod filters;
mod hardlinks;
mod interop;
mod local;
mod maxalloc;
mod options;
mod options2;
mod options3;
mod options4;
mod options5;
mod receiving;
mod sandbox;
mod treeshape;
mod util;
