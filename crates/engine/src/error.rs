//! The engine's error: a one-line message, rsync's exit code, and where
//! in oxsync it arose (printed as rsync prints `at main.c(1347)`).
use protocol::exit;
use std::fmt;
use std::io;
use std::panic::Location;

/// A fatal condition of a transfer role: what to print and how to exit.
///
/// Every constructor is `#[track_caller]`: the error records the file and
/// line of the code that built it (or of the `?` that converted an
/// `io::Error` or a `protocol::Error` into it), and the closing
/// `rsync error: ... at FILE.rs(LINE)` line names that place.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// One line, without the "rsync: " prefix or a newline.
    pub message: String,
    /// rsync's exit code (protocol::exit).
    pub code: i32,
    /// Already reported to the user (by the peer, or by us through the
    /// message channel): print only the final "rsync error" line.
    pub reported: bool,
    /// Where the error was built.
    pub location: &'static Location<'static>,
}

/// Two errors are equal when they say the same thing with the same code,
/// wherever they arose.
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.message == other.message && self.code == other.code && self.reported == other.reported
    }
}

impl Eq for Error {}

impl Error {
    /// A new error, recording the caller's file and line.
    #[track_caller]
    pub fn new(code: i32, message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            code,
            reported: false,
            location: Location::caller(),
        }
    }
    /// A protocol violation (exit 2).
    #[track_caller]
    pub fn protocol(message: impl Into<String>) -> Error {
        Error::new(exit::RERR_PROTOCOL, message)
    }
    /// A file I/O failure (exit 11).
    #[track_caller]
    pub fn file_io(message: impl Into<String>) -> Error {
        Error::new(exit::RERR_FILEIO, message)
    }
    /// The exit code.
    pub fn exit_code(&self) -> i32 {
        self.code
    }
    /// Where the error arose, as rsync's closing line names it:
    /// `receiver.rs(123)` (the path below the crate's `src/`).
    pub fn origin(&self) -> String {
        origin(self.location)
    }
    /// rsync's closing line for this error, naming where it arose:
    /// `rsync error: <what> (code N) at <file>.rs(<line>) [<role>=<version>]`.
    pub fn closing_line(&self, role: &str) -> String {
        closing_line_at(self.code, role, self.location)
    }
    /// Builds an error from a stream failure while talking to the peer.
    #[track_caller]
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
                // inside the delta callback) keeps its code and origin.
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

/// A source location as rsync's closing line names it: the path below the
/// last `src/` (`receiver.rs`, `generator/hlink.rs`) and the line.
pub fn origin(at: &Location<'_>) -> String {
    let file = at.file();
    let short = match file.rfind("src/") {
        Some(i) => &file[i + 4..],
        None => file.rsplit('/').next().unwrap_or(file),
    };
    format!("{short}({})", at.line())
}

impl From<protocol::Error> for Error {
    #[track_caller]
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
    #[track_caller]
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

/// `rsync error: <what> (code N) at <file>.rs(<line>) [<role>=oxsync-<version>]`,
/// naming the caller's place (as upstream's exit_cleanup() names its
/// `__FILE__` and `__LINE__`); an [`Error`] names its own with
/// [`Error::closing_line`].
#[track_caller]
pub fn closing_line(code: i32, role: &str) -> String {
    closing_line_at(code, role, std::panic::Location::caller())
}

/// [`closing_line`] naming the given place.
// upstream: log.c:log_exit()
pub fn closing_line_at(code: i32, role: &str, at: &std::panic::Location<'_>) -> String {
    let word = if code == exit::RERR_VANISHED {
        "warning"
    } else {
        "error"
    };
    format!(
        "rsync {word}: {} (code {code}) at {} [{role}=oxsync-{}]",
        exit::name(code),
        origin(at),
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of the caller, for comparing with a recorded location.
    #[track_caller]
    fn here() -> u32 {
        Location::caller().line()
    }

    #[test]
    fn constructors_record_their_caller() {
        let (e, line) = (Error::new(23, "x"), here());
        assert_eq!((e.location.file(), e.location.line()), (file!(), line));
        assert_eq!(e.origin(), format!("error.rs({line})"));
        let (e, line) = (Error::protocol("x"), here());
        assert_eq!((e.code, e.location.line()), (2, line));
        let (e, line) = (Error::file_io("x"), here());
        assert_eq!((e.code, e.location.line()), (11, line));
        let gone = io::Error::from(io::ErrorKind::BrokenPipe);
        let (e, line) = (Error::stream(gone), here());
        assert_eq!((e.code, e.location.line()), (12, line));
    }

    #[test]
    fn question_mark_records_where_it_converted() {
        fn from_io() -> Result<()> {
            Err(io::Error::from(io::ErrorKind::UnexpectedEof))?
        }
        fn from_protocol() -> Result<()> {
            Err(protocol::Error::ZeroBlockLength)?
        }
        let io_line = line!() - 5;
        let proto_line = line!() - 3;
        let e = from_io().unwrap_err();
        assert_eq!((e.code, e.location.line()), (12, io_line), "{e:?}");
        let e = from_protocol().unwrap_err();
        assert_eq!((e.code, e.location.line()), (2, proto_line), "{e:?}");
        assert_eq!(e.message, "Invalid zero block length");
    }

    #[test]
    fn an_error_carried_through_io_keeps_its_origin() {
        let (inner, line) = (Error::new(exit::RERR_FILEIO, "write failed"), here());
        let e = Error::stream(io::Error::other(inner.clone()));
        assert_eq!(e, inner);
        assert_eq!(e.location.line(), line);
    }

    #[test]
    fn closing_line_names_file_and_line() {
        let (e, line) = (Error::new(exit::RERR_PARTIAL, "x"), here());
        let l = e.closing_line("receiver");
        let want = format!(
            "rsync error: some files/attrs were not transferred (see previous errors) \
             (code 23) at error.rs({line}) [receiver=oxsync-{}]",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(l, want);
        let (l, line) = (closing_line(24, "sender"), here());
        assert!(
            l.contains(&format!("(code 24) at error.rs({line}) [sender=")),
            "{l}"
        );
        assert!(l.starts_with("rsync warning: "), "{l}");
    }

    #[test]
    fn origin_is_the_path_below_src() {
        let at = Location::caller();
        assert_eq!(origin(at).split('(').next(), Some("error.rs"));
        // Equality ignores where: the same error from two places is equal.
        assert_eq!(Error::new(1, "a"), Error::new(1, "a"));
        assert_ne!(Error::new(1, "a"), Error::new(2, "a"));
    }
}
