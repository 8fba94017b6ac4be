//! The daemon's text handshake on the wire, shared by the daemon and the
//! client: bounded line reads, the `@RSYNCD:` greeting and the protocol
//! both sides settle on, and the argument list sent after `@RSYNCD: OK`.
use std::io::{self, BufRead, Write};

/// Longest handshake line accepted (upstream uses a 4 KiB buffer).
pub const MAX_LINE: usize = 4096;
/// Longest single argument accepted after `@RSYNCD: OK`.
pub const MAX_ARG: usize = 8192;
/// Most arguments accepted after `@RSYNCD: OK`.
pub const MAX_ARGS: usize = 2048;

/// A bad handshake from the peer.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The connection failed or closed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A line longer than [`MAX_LINE`].
    #[error("handshake line longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// A NUL byte inside a handshake line.
    #[error("NUL byte in a handshake line")]
    Nul,
    /// Not a greeting.
    #[error("bad greeting {0:?}")]
    BadGreeting(String),
    /// A longer argument than allowed.
    #[error("argument list too long")]
    ArgsTooLong,
    /// More arguments than allowed (upstream's words).
    #[error("too many daemon arguments")]
    TooManyArgs,
}

/// Reads one `\n`-terminated line without the newline (a `\r` is dropped);
/// None at a clean end of stream before any byte.
// upstream: io.c:read_line_old()
pub fn read_line<R: BufRead + ?Sized>(r: &mut R) -> Result<Option<String>, WireError> {
    let mut buf = Vec::new();
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(WireError::Io(io::Error::from(io::ErrorKind::UnexpectedEof)));
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take > MAX_LINE + 1 {
            return Err(WireError::LineTooLong);
        }
        buf.extend_from_slice(&chunk[..take]);
        r.consume(take);
        if done {
            buf.pop();
            buf.retain(|&b| b != b'\r');
            if buf.contains(&0) {
                return Err(WireError::Nul);
            }
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
    }
}

/// A peer's `@RSYNCD: <proto>.<sub> [digests]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// Protocol version.
    pub protocol: i32,
    /// Sub-protocol (0 for a release).
    pub sub: i32,
    /// The daemon-auth digest list, when the peer sent one.
    pub digests: Option<Vec<String>>,
}

/// Our greeting line, newline included.
// upstream: compat.c:output_daemon_greeting()
pub fn our_greeting(protocol: i32, digests: &[&str]) -> String {
    format!("@RSYNCD: {protocol}.0 {}\n", digests.join(" "))
}

/// Parses a greeting line.
// upstream: clientserver.c:exchange_protocols()
pub fn parse_greeting(line: &str) -> Result<Greeting, WireError> {
    let bad = || WireError::BadGreeting(line.chars().take(80).collect());
    let rest = line.strip_prefix("@RSYNCD: ").ok_or_else(bad)?;
    let (version, list) = match rest.split_once(' ') {
        Some((v, l)) => (v, Some(l)),
        None => (rest, None),
    };
    let (p, s) = match version.split_once('.') {
        Some((p, s)) => (p, Some(s)),
        None => (version, None),
    };
    let protocol: i32 = p.parse().map_err(|_| bad())?;
    let sub: i32 = match s {
        Some(s) => s.parse().map_err(|_| bad())?,
        None if protocol < 30 => 0,
        None => return Err(bad()),
    };
    let digests = list
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|v| !v.is_empty());
    Ok(Greeting {
        protocol,
        sub,
        digests,
    })
}

/// The protocol both sides use, from our version and the peer's greeting.
// upstream: clientserver.c:exchange_protocols()
pub fn agree(ours: i32, theirs: &Greeting) -> i32 {
    if ours > theirs.protocol {
        theirs.protocol - i32::from(theirs.sub != 0)
    } else if ours == theirs.protocol && theirs.sub != 0 {
        ours - 1
    } else {
        ours
    }
}

/// Writes the argument list: NUL after each and an empty one at the end
/// (protocol 30 and later), else newline-terminated lines.
// upstream: clientserver.c:start_inband_exchange() (argument part)
pub fn write_args<W: Write + ?Sized>(w: &mut W, args: &[String], protocol: i32) -> io::Result<()> {
    let sep = if protocol >= 30 { b'\0' } else { b'\n' };
    let mut buf = Vec::new();
    for a in args {
        buf.extend_from_slice(a.as_bytes());
        buf.push(sep);
    }
    buf.push(sep);
    w.write_all(&buf)?;
    w.flush()
}

/// Reads the argument list written by [`write_args`].
// upstream: io.c:read_args()
pub fn read_args<R: BufRead + ?Sized>(r: &mut R, protocol: i32) -> Result<Vec<String>, WireError> {
    let sep = if protocol >= 30 { b'\0' } else { b'\n' };
    let mut args = Vec::new();
    loop {
        let mut buf = Vec::new();
        let n = io::Read::take(&mut *r, MAX_ARG as u64 + 1).read_until(sep, &mut buf)?;
        if n == 0 {
            return Err(WireError::Io(io::Error::from(io::ErrorKind::UnexpectedEof)));
        }
        if buf.last() != Some(&sep) {
            return Err(WireError::ArgsTooLong);
        }
        buf.pop();
        if sep == b'\n' && buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if buf.is_empty() {
            return Ok(args);
        }
        if args.len() >= MAX_ARGS {
            return Err(WireError::TooManyArgs);
        }
        args.push(String::from_utf8_lossy(&buf).into_owned());
    }
}

/// Undoes the client's backslash escaping of an option argument.
// upstream: io.c:unbackslash_arg()
pub fn unbackslash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let mut r = io::Cursor::new(b"abc\r\ndef\nlast".to_vec());
        assert_eq!(read_line(&mut r).expect("l").as_deref(), Some("abc"));
        assert_eq!(read_line(&mut r).expect("l").as_deref(), Some("def"));
        assert!(read_line(&mut r).is_err());
        let mut r = io::Cursor::new(b"".to_vec());
        assert_eq!(read_line(&mut r).expect("eof"), None);
        let mut r = io::Cursor::new(b"a\0b\n".to_vec());
        assert!(matches!(read_line(&mut r), Err(WireError::Nul)));
        let mut r = io::Cursor::new(vec![b'x'; MAX_LINE + 10]);
        assert!(matches!(read_line(&mut r), Err(WireError::LineTooLong)));
    }

    #[test]
    fn greetings() {
        let g = parse_greeting("@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4").expect("g");
        assert_eq!((g.protocol, g.sub), (32, 0));
        assert_eq!(g.digests.as_ref().map(Vec::len), Some(5));
        let g = parse_greeting("@RSYNCD: 31.0").expect("g");
        assert_eq!(g.digests, None);
        assert_eq!(parse_greeting("@RSYNCD: 29").expect("g").sub, 0);
        for bad in ["@RSYNCD: 31", "hello", "@RSYNCD: x.0", "@RSYNCD:31.0"] {
            assert!(parse_greeting(bad).is_err(), "{bad}");
        }
        assert_eq!(our_greeting(32, &["md5", "md4"]), "@RSYNCD: 32.0 md5 md4\n");
    }

    #[test]
    fn agreement() {
        let g = |p, s| Greeting {
            protocol: p,
            sub: s,
            digests: None,
        };
        assert_eq!(agree(32, &g(32, 0)), 32);
        assert_eq!(agree(32, &g(31, 0)), 31);
        assert_eq!(agree(32, &g(31, 2)), 30);
        assert_eq!(agree(32, &g(32, 1)), 31);
        assert_eq!(agree(32, &g(33, 0)), 32);
    }

    #[test]
    fn args_round_trip() {
        let args: Vec<String> = ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for proto in [29, 30, 32] {
            let mut buf = Vec::new();
            write_args(&mut buf, &args, proto).expect("w");
            assert_eq!(
                read_args(&mut io::Cursor::new(buf), proto).expect("r"),
                args
            );
        }
        let mut buf = Vec::new();
        write_args(&mut buf, &args, 32).expect("w");
        assert_eq!(buf, b"--server\0-logDtpre.iLsfxCIvu\0.\0mod/\0\0");
        assert!(read_args(&mut io::Cursor::new(vec![b'a'; MAX_ARG + 5]), 32).is_err());
        assert_eq!(unbackslash("a\\ b\\\\c"), "a b\\c");
    }
}
