//! The transfer engine: options, file lists and the three roles (sender,
//! generator, receiver) over one pipeline shared by local, remote-shell and
//! daemon transfers.
//!
//! The receiving side runs the generator and the receiver as two threads;
//! both touch the destination only through a `confine::Root`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod acls;
pub mod alloc;
pub mod altdest;
pub mod anchors;
pub mod backup;
pub mod basis;
pub mod batch;
pub mod batch_script;
pub mod charset;
pub mod chmod;
pub mod confinement;
pub mod control;
pub mod copyas;
pub mod ctx;
pub mod error;
pub mod fakesuper;
pub mod filters;
pub mod flist;
pub mod fuzzy;
pub mod generator;
pub mod ids;
pub mod increc;
pub mod iolimit;
pub mod itemize;
pub mod listing;
pub mod localpipe;
pub mod mkpath;
pub mod options;
pub mod out;
pub mod outlevels;
pub mod partial;
pub mod progress;
pub mod receiver;
pub mod relocate;
pub mod remove_source;
pub mod replay;
mod roles;
pub mod sender;
pub mod session;
pub mod signals;
pub mod sockopts;
pub mod source;
pub mod sparse;
pub mod stats;
pub mod stoptime;
pub mod store;
pub mod summary;
pub mod text;
pub mod tokens;
pub mod transfer;
pub mod treeshape;
pub mod trust;
pub mod usage;
pub mod xattrs;

pub use error::OptionError;
pub use error::{Error, Result};
pub use options::{DeleteMode, FilterArg, Options};
