//! `RSYNC_CONNECT_PROG`: instead of opening a TCP connection to a daemon,
//! run a program (through `sh -c`, `%H` replaced by the host) with one end
//! of a loopback TCP socket pair as its stdin and stdout, and talk to it as
//! to a daemon.
//!
//! The pair is TCP, as upstream's: a daemon sees a peer at 127.0.0.1, so
//! `hosts allow = localhost 127.0.0.0/8` admits it. (Over a Unix-domain pair
//! a stock daemon sees the address "localhost" and the name "UNKNOWN", and
//! such a configuration refuses the client.)
// upstream: socket.c:open_socket_out_wrapped(), sock_exec(), socketpair_tcp()
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};

/// The environment variable naming the program.
pub const ENV: &str = "RSYNC_CONNECT_PROG";

/// The refusal of a host that a shell could act on.
pub const UNSAFE_HOST: &str = "unsafe host characters for RSYNC_CONNECT_PROG";

/// Whether `host` could change meaning when `%H` is substituted into a
/// command a shell (or a nested `sh -c '...'`) runs: anything beyond
/// letters, digits and `._:-%+~`, an empty host, or a first character that
/// reads as an option (`-`, `+`), a tilde expansion (`~`) or a fish
/// expansion (`%`).
// upstream: socket.c:shell_unsafe_connect_host()
pub fn shell_unsafe_host(host: &str) -> bool {
    let Some(first) = host.chars().next() else {
        return true;
    };
    if "-+~%".contains(first) {
        return true;
    }
    !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._:-%+~".contains(c))
}

/// The command with `%H` replaced by the single-quoted host and `%%` by
/// `%`; any other `%` passes through. None when the command has a `%` and
/// the host is unsafe (see [`shell_unsafe_host`]).
pub fn expand(prog: &str, host: &str) -> Option<String> {
    if !prog.contains('%') {
        return Some(prog.to_string());
    }
    if shell_unsafe_host(host) {
        return None;
    }
    let quoted = format!("'{}'", host.replace('\'', "'\\''"));
    let mut out = String::with_capacity(prog.len() + quoted.len());
    let mut chars = prog.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('%') => {
                chars.next();
                out.push('%');
            }
            Some('H') => {
                chars.next();
                out.push_str(&quoted);
            }
            _ => out.push('%'),
        }
    }
    Some(out)
}

/// Runs `prog` through `sh -c` with one end of a loopback socket pair as
/// its stdin and stdout (stderr is ours); returns our end and the child.
// upstream: socket.c:sock_exec()
pub fn sock_exec(prog: &str) -> io::Result<(TcpStream, Child)> {
    let (ours, theirs) = socketpair_tcp()?;
    let theirs: OwnedFd = theirs.into();
    let out = theirs.try_clone()?;
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(prog)
        .stdin(Stdio::from(theirs))
        .stdout(Stdio::from(out))
        .stderr(Stdio::inherit())
        .spawn()?;
    Ok((ours, child))
}

/// A connected pair of loopback TCP sockets that nobody else can have
/// joined: the accepted connection must come from our own connecting
/// socket, or the pair is refused.
// upstream: socket.c:socketpair_tcp()
fn socketpair_tcp() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    let connecting = TcpStream::connect(listener.local_addr()?)?;
    // The connection is complete (connect returned), so it is queued.
    let (accepted, from) = listener.accept()?;
    drop(listener);
    let ours = connecting.local_addr()?;
    if from != ours || !from.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "another process connected to the socket pair first",
        ));
    }
    Ok((accepted, connecting))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_check() {
        for ok in [
            "localhost",
            "example.com.",
            "host_name",
            "host+alias",
            "host~alias",
            "fe80::1%eth0",
            "a-b",
        ] {
            assert!(!shell_unsafe_host(ok), "{ok}");
        }
        for bad in [
            "", "-c", "+x", "~root", "%self", "a;b", "a b", "a'b", "a$b", "a/b", "é",
        ] {
            assert!(shell_unsafe_host(bad), "{bad}");
        }
    }

    #[test]
    fn expansion() {
        assert_eq!(
            expand("nc %H 873 %% %x", "h.example").as_deref(),
            Some("nc 'h.example' 873 % %x")
        );
        assert_eq!(
            expand("prog --daemon", "a;b").as_deref(),
            Some("prog --daemon")
        );
        assert_eq!(expand("prog %H", "a;b"), None);
        assert_eq!(expand("trailing %", "h").as_deref(), Some("trailing %"));
    }

    #[test]
    fn pair_talks() {
        use std::io::{Read, Write};
        let (mut a, mut b) = socketpair_tcp().expect("pair");
        a.write_all(b"ping").expect("w");
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).expect("r");
        assert_eq!(&buf, b"ping");
    }
}
