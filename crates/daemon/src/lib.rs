//! The rsync daemon: rsyncd.conf, the listener, and one session per
//! connection (greeting, module choice, host checks, authentication,
//! refused options, hooks), handing the transfer to the engine's roles.
//!
//! `oxsync --daemon` calls [`run`]. The client side of the daemon protocol
//! (in the oxsync binary) shares [`wire`] and [`auth`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod access;
pub mod auth;
pub mod config;
pub mod fuzzing;
pub mod glob;
pub mod hooks;
pub mod listener;
pub mod lock;
pub mod log;
pub mod logfmt;
pub mod modfilter;
pub mod namecvt;
pub mod pidfile;
pub mod privs;
pub mod proxyproto;
pub mod sandbox;
pub mod session;
pub mod syslog;
pub mod tail;
pub mod treeshape;
pub mod wild;
pub mod wire;

pub use listener::run;
