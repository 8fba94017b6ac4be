//! rsync's exit codes (upstream `errcode.h`) and their names (`log.c`).

/// Success.
pub const RERR_OK: i32 = 0;
/// Syntax or usage error.
pub const RERR_SYNTAX: i32 = 1;
/// Protocol incompatibility.
pub const RERR_PROTOCOL: i32 = 2;
/// Errors selecting input/output files, dirs.
pub const RERR_FILESELECT: i32 = 3;
/// Requested action not supported.
pub const RERR_UNSUPPORTED: i32 = 4;
/// Error starting client-server protocol.
pub const RERR_STARTCLIENT: i32 = 5;
/// Error in socket I/O.
pub const RERR_SOCKETIO: i32 = 10;
/// Error in file I/O.
pub const RERR_FILEIO: i32 = 11;
/// Error in rsync protocol data stream.
pub const RERR_STREAMIO: i32 = 12;
/// Errors with program diagnostics.
pub const RERR_MESSAGEIO: i32 = 13;
/// Error in IPC code.
pub const RERR_IPC: i32 = 14;
/// Received SIGINT, SIGTERM, or SIGHUP.
pub const RERR_SIGNAL: i32 = 20;
/// Error allocating core memory buffers.
pub const RERR_MALLOC: i32 = 22;
/// Some files/attrs were not transferred.
pub const RERR_PARTIAL: i32 = 23;
/// Some files vanished before they could be transferred.
pub const RERR_VANISHED: i32 = 24;
/// The --max-delete limit stopped deletions.
pub const RERR_DEL_LIMIT: i32 = 25;
/// Timeout in data send/receive.
pub const RERR_TIMEOUT: i32 = 30;
/// Timeout waiting for daemon connection.
pub const RERR_CONTIMEOUT: i32 = 35;
/// Remote shell failed.
pub const RERR_CMD_FAILED: i32 = 124;
/// Remote shell killed.
pub const RERR_CMD_KILLED: i32 = 125;
/// Remote command could not be run.
pub const RERR_CMD_RUN: i32 = 126;
/// Remote command not found.
pub const RERR_CMD_NOTFOUND: i32 = 127;

/// The text rsync prints for an exit code in its final
/// `rsync error: <name> (code N)` line, e.g. 23 ->
/// "some files/attrs were not transferred (see previous errors)".
pub fn name(code: i32) -> &'static str {
    let _ = code;
    todo!()
}
