//! End-to-end tests of the oxsync binary: interoperability with stock rsync
//! in every direction, local copies, and a hand-written hostile peer.
//!
//! Set `OXSYNC_TEST_BIN=/usr/bin/rsync` to run every scenario with stock
//! rsync in place of oxsync (this checks the harness itself).
mod abort;
mod acls;
mod backup;
mod backup_links;
mod basis_dirs;
mod batch;
mod client_names;
mod compress;
mod confine_root;
mod connect_prog;
mod control;
mod daemon;
mod daemon_auth_digest;
mod daemon_auth_rules;
mod daemon_exec;
mod daemon_filters;
mod daemon_glob;
mod daemon_insecure_links;
mod daemon_maxconn;
mod daemon_net;
mod daemon_options;
mod daemon_paths;
mod deltasum;
mod early_input;
mod fakepeer;
mod fakeserver;
mod filter_merge_names;
mod filters;
mod fuzzy;
mod hardlinks;
mod hostile_push;
mod insecure_links;
mod interop;
mod local;
mod maxalloc;
mod mkpath;
mod operator_paths;
mod options;
mod options2;
mod options3;
mod options4;
mod options5;
mod planted_links;
mod proxy;
mod receiving;
mod refuse;
mod sandbox;
mod sender_boundary;
mod stoptime;
mod treeshape;
mod util;
mod xattrs;
