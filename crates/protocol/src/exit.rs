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
/// Sibling process crashed.
pub const RERR_CRASHED: i32 = 15;
/// Sibling process terminated abnormally.
pub const RERR_TERMINATED: i32 = 16;
/// Received SIGUSR1.
pub const RERR_SIGNAL1: i32 = 19;
/// waitpid() failed.
pub const RERR_WAITCHILD: i32 = 21;
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
// upstream: log.c:rerr_name()
pub fn name(code: i32) -> &'static str {
    match code {
        RERR_SYNTAX => "syntax or usage error",
        RERR_PROTOCOL => "protocol incompatibility",
        RERR_FILESELECT => "errors selecting input/output files, dirs",
        RERR_UNSUPPORTED => "requested action not supported",
        RERR_STARTCLIENT => "error starting client-server protocol",
        RERR_SOCKETIO => "error in socket IO",
        RERR_FILEIO => "error in file IO",
        RERR_STREAMIO => "error in rsync protocol data stream",
        RERR_MESSAGEIO => "errors with program diagnostics",
        RERR_IPC => "error in IPC code",
        RERR_CRASHED => "sibling process crashed",
        RERR_TERMINATED => "sibling process terminated abnormally",
        RERR_SIGNAL1 => "received SIGUSR1",
        RERR_SIGNAL => "received SIGINT, SIGTERM, or SIGHUP",
        RERR_WAITCHILD => "waitpid() failed",
        RERR_MALLOC => "error allocating core memory buffers",
        RERR_PARTIAL => "some files/attrs were not transferred (see previous errors)",
        RERR_VANISHED => "some files vanished before they could be transferred",
        RERR_DEL_LIMIT => "the --max-delete limit stopped deletions",
        RERR_TIMEOUT => "timeout in data send/receive",
        RERR_CONTIMEOUT => "timeout waiting for daemon connection",
        RERR_CMD_FAILED => "remote shell failed",
        RERR_CMD_KILLED => "remote shell killed",
        RERR_CMD_RUN => "remote command could not be run",
        RERR_CMD_NOTFOUND => "remote command not found",
        _ => "unexplained error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_upstream() {
        assert_eq!(name(1), "syntax or usage error");
        assert_eq!(name(2), "protocol incompatibility");
        assert_eq!(name(3), "errors selecting input/output files, dirs");
        assert_eq!(name(4), "requested action not supported");
        assert_eq!(name(5), "error starting client-server protocol");
        assert_eq!(name(10), "error in socket IO");
        assert_eq!(name(11), "error in file IO");
        assert_eq!(name(12), "error in rsync protocol data stream");
        assert_eq!(name(13), "errors with program diagnostics");
        assert_eq!(name(14), "error in IPC code");
        assert_eq!(name(20), "received SIGINT, SIGTERM, or SIGHUP");
        assert_eq!(name(22), "error allocating core memory buffers");
        assert_eq!(
            name(23),
            "some files/attrs were not transferred (see previous errors)"
        );
        assert_eq!(
            name(24),
            "some files vanished before they could be transferred"
        );
        assert_eq!(name(25), "the --max-delete limit stopped deletions");
        assert_eq!(name(30), "timeout in data send/receive");
        assert_eq!(name(35), "timeout waiting for daemon connection");
        assert_eq!(name(0), "unexplained error");
        assert_eq!(name(99), "unexplained error");
    }
}
