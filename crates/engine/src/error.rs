//! The engine's error: a one-line message and rsync's exit code.
use protocol::exit;
use std::fmt;
use std::io;

/// A fatal condition of a transfer role: what to print and how to exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// One line, without the "rsync: " prefix or a newline.
    pub message: String,
    /// rsync's exit code (protocol::exit).
    pub code: i32,
    /// Already reported to the user (by the peer, or by us through the
    /// message channel): print only the final "rsync error" line.
    pub reported: bool,
}

impl Error {
    /// A new error.
    pub fn new(code: i32, message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            code,
            reported: false,
        }
    }
    /// A protocol violation (exit 2).
    pub fn protocol(message: impl Into<String>) -> Error {
        Error::new(exit::RERR_PROTOCOL, message)
    }
    /// A file I/O failure (exit 11).
    pub fn file_io(message: impl Into<String>) -> Error {
        Error::new(exit::RERR_FILEIO, message)
    }
    /// The exit code.
    pub fn exit_code(&self) -> i32 {
        self.code
    }
    /// Builds an error from a stream failure while talking to the peer.
    pub fn stream(err: io::Error) -> Error {
        match err.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset => {
                Error::new(exit::RERR_STREAMIO, "connection unexpectedly closed")
            }
            io::ErrorKind::InvalidData => Error::protocol(err.to_string()),
            _ => {
                if let Some(t) = err
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<crate::iolimit::IoTimeout>())
                {
                    return Error::new(exit::RERR_TIMEOUT, t.to_string());
                }
                // An engine error carried through an io::Error (a write
                // inside the delta callback) keeps its code.
                if let Some(inner) = err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
                    return inner.clone();
                }
                if let Some(t) = err
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<crate::iolimit::StopReached>())
                {
                    return Error::new(exit::RERR_TIMEOUT, t.to_string());
                }
                if let Some(peer) = err.get_ref().and_then(|e| e.downcast_ref::<PeerExit>()) {
                    let mut e = Error::new(peer.0, format!("peer exited with code {}", peer.0));
                    e.reported = true;
                    return e;
                }
                Error::new(
                    exit::RERR_STREAMIO,
                    format!("error in rsync protocol data stream: {err}"),
                )
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<protocol::Error> for Error {
    fn from(e: protocol::Error) -> Error {
        match e {
            protocol::Error::Io(io) => Error::stream(io),
            protocol::Error::PeerExit(code) => {
                let mut e = Error::new(code, format!("peer exited with code {code}"));
                e.reported = true;
                e
            }
            other => {
                let code = other.exit_code();
                Error::new(code, other.to_string())
            }
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::stream(e)
    }
}

/// The payload of an io::Error that a message handler returns when the peer
/// sent MSG_ERROR_EXIT: the code to exit with.
#[derive(Debug)]
pub struct PeerExit(pub i32);

impl fmt::Display for PeerExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer requested exit with code {}", self.0)
    }
}

impl std::error::Error for PeerExit {}

/// Shorthand.
pub type Result<T> = std::result::Result<T, Error>;

/// A system error as rsync words it: the errno text and number
/// (`Permission denied (13)`), never Rust's `(os error 13)` nor the
/// failed operation and name a second time.
// upstream: log.c:rsyserr()
pub trait SysErr {
    /// The text after `failed: `.
    fn sys_text(&self) -> String;
}

impl SysErr for io::Error {
    fn sys_text(&self) -> String {
        crate::error::os_err(self)
    }
}

impl SysErr for confine::Error {
    fn sys_text(&self) -> String {
        crate::error::confine_err(self)
    }
}

impl<T: SysErr + ?Sized> SysErr for &T {
    fn sys_text(&self) -> String {
        (**self).sys_text()
    }
}

/// [`SysErr::sys_text`] of any system error.
pub fn sys_err<E: SysErr>(e: E) -> String {
    e.sys_text()
}

impl SysErr for str {
    fn sys_text(&self) -> String {
        errno_text(self)
    }
}

impl SysErr for String {
    fn sys_text(&self) -> String {
        errno_text(self)
    }
}

impl SysErr for dyn fmt::Display + '_ {
    fn sys_text(&self) -> String {
        errno_text(&self.to_string())
    }
}

/// Rewrites Rust's `(os error N)` suffixes of an already rendered error
/// as rsync's `(N)`.
pub fn errno_text(s: &str) -> String {
    const MARK: &str = " (os error ";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find(MARK) {
        let after = &rest[at + MARK.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..at]);
        if digits > 0 && after[digits..].starts_with(')') {
            out.push_str(" (");
            out.push_str(&after[..digits]);
            out.push(')');
            rest = &after[digits + 1..];
        } else {
            out.push_str(MARK);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

impl SysErr for Error {
    fn sys_text(&self) -> String {
        errno_text(&self.message)
    }
}

impl SysErr for protocol::Error {
    fn sys_text(&self) -> String {
        errno_text(&self.to_string())
    }
}

impl SysErr for rustix::io::Errno {
    fn sys_text(&self) -> String {
        crate::error::os_err(&io::Error::from_raw_os_error(self.raw_os_error()))
    }
}

/// A confined operation's error as upstream words it: the errno text and
/// number alone (`Too many levels of symbolic links (40)`), or the whole
/// error when it has no errno.
pub fn confine_err(e: &confine::Error) -> String {
    match e.raw_os_error() {
        Some(n) => os_err(&io::Error::from_raw_os_error(n)),
        None => e.to_string(),
    }
}

/// rsync's `(N)` errno suffix: "No such file or directory (2)".
pub fn os_err(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let s = e.to_string();
            let text = s.split(" (os error").next().unwrap_or(&s).to_string();
            format!("{text} ({n})")
        }
        // An error made from a kind alone (no errno): rsync's text for it.
        None if e.get_ref().is_none() => match e.kind() {
            io::ErrorKind::NotFound => "No such file or directory (2)".to_string(),
            io::ErrorKind::PermissionDenied => "Permission denied (13)".to_string(),
            io::ErrorKind::AlreadyExists => "File exists (17)".to_string(),
            _ => e.to_string(),
        },
        None => e.to_string(),
    }
}

/// A command line that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OptionError {
    /// The one-line message (without the "rsync: " prefix).
    pub message: String,
    /// The exit code (1 for syntax errors, 4 for options not supported yet).
    pub exit_code: i32,
}

impl OptionError {
    pub(crate) fn syntax(message: String) -> OptionError {
        OptionError {
            message,
            exit_code: 1,
        }
    }

    pub(crate) fn unsupported(message: String) -> OptionError {
        OptionError {
            message,
            exit_code: 4,
        }
    }
}

pub(crate) fn outside() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::XDEV.raw_os_error())
}

/// The io::Error inside a confined failure (errno kept, so messages carry
/// rsync's "(18)" suffix).
pub(crate) fn io_of(e: confine::Error) -> io::Error {
    match e {
        confine::Error::Io { source, .. } => source,
        other => io::Error::new(io::ErrorKind::PermissionDenied, other.to_string()),
    }
}
