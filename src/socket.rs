//! The client's outgoing daemon socket: `-4` / `-6` choose the address
//! family, `--address` binds the socket to a local address before it
//! connects (upstream socket.c open_socket_out() and try_bind_local()).
//! std cannot bind a socket before connecting it, so a bound socket is
//! made with rustix's `net` calls.
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Whether `a` is of the family `-4`/`-6` asked for (0: either).
pub fn family_ok(a: &SocketAddr, family: u8) -> bool {
    match family {
        4 => a.is_ipv4(),
        6 => a.is_ipv6(),
        _ => true,
    }
}

/// The option that gives ssh the family `-4`/`-6` asked for: added when
/// the remote shell is ssh (upstream main.c do_cmd()).
pub fn ssh_family_arg(program: &str, family: u8) -> Option<&'static str> {
    let base = program.rsplit('/').next().unwrap_or(program);
    match (base, family) {
        ("ssh", 4) => Some("-4"),
        ("ssh", 6) => Some("-6"),
        _ => None,
    }
}

/// Connects to `to`, first binding to `bind` when given (the first of its
/// addresses of `to`'s family that binds), within `timeout` when given.
pub fn connect(
    to: &SocketAddr,
    bind: Option<&str>,
    timeout: Option<Duration>,
) -> io::Result<TcpStream> {
    let Some(bind) = bind else {
        return match timeout {
            Some(t) => TcpStream::connect_timeout(to, t),
            None => TcpStream::connect(to),
        };
    };
    let domain = if to.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = rustix::net::socket_with(domain, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    let locals = (bind, 0u16)
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("getaddrinfo {bind}: {e}")))?;
    let bound = locals
        .filter(|l| l.is_ipv4() == to.is_ipv4())
        .any(|l| rustix::net::bind(&fd, &l).is_ok());
    if !bound {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("cannot bind to the local address {bind}"),
        ));
    }
    let Some(limit) = timeout else {
        rustix::net::connect(&fd, to)?;
        return Ok(TcpStream::from(fd));
    };
    rustix::io::ioctl_fionbio(&fd, true)?;
    match rustix::net::connect(&fd, to) {
        Ok(()) => {}
        Err(rustix::io::Errno::INPROGRESS) => {
            let until = Instant::now() + limit;
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                let ts = Timespec {
                    tv_sec: left.as_secs() as _,
                    tv_nsec: left.subsec_nanos() as _,
                };
                let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
                match rustix::event::poll(&mut fds, Some(&ts)) {
                    Ok(0) => continue,
                    Ok(_) => break,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            rustix::net::sockopt::socket_error(&fd)??;
        }
        Err(e) => return Err(e.into()),
    }
    rustix::io::ioctl_fionbio(&fd, false)?;
    Ok(TcpStream::from(fd))
}

/// `--sockopts`: sets each option of `spec` on `sock`, complaints on
/// stderr (engine::sockopts).
pub fn set_options(sock: &TcpStream, spec: &str) {
    engine::sockopts::set_options(sock, spec, &mut |m| eprintln!("{m}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn binds_the_local_address() {
        let l = TcpListener::bind("127.0.0.1:0").expect("listen");
        let to = l.local_addr().expect("addr");
        for timeout in [None, Some(Duration::from_secs(10))] {
            let s = connect(&to, Some("127.0.0.2"), timeout).expect("connect");
            let (_, peer) = l.accept().expect("accept");
            assert_eq!(peer.ip().to_string(), "127.0.0.2");
            assert_eq!(s.local_addr().expect("local").ip(), peer.ip());
        }
        // An address of the other family cannot be bound.
        let e = connect(&to, Some("::1"), None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrNotAvailable);
    }

    #[test]
    fn families() {
        let v4: SocketAddr = "127.0.0.1:1".parse().expect("a");
        let v6: SocketAddr = "[::1]:1".parse().expect("a");
        assert!(family_ok(&v4, 0) && family_ok(&v4, 4) && !family_ok(&v4, 6));
        assert!(family_ok(&v6, 6) && !family_ok(&v6, 4));
        assert_eq!(ssh_family_arg("/usr/bin/ssh", 4), Some("-4"));
        assert_eq!(ssh_family_arg("ssh", 6), Some("-6"));
        assert_eq!(ssh_family_arg("ssh", 0), None);
        assert_eq!(ssh_family_arg("rsh", 4), None);
    }
}
