//! Socket options as rsync spells them: the client's `--sockopts`, and
//! the daemon's `--sockopts` and `socket options` parameter (upstream
//! socket.c set_socket_options()).
//!
//! A spec is a list of `NAME` or `NAME=VALUE` separated by commas, spaces
//! or tabs. A name without a value sets 1; an unknown name or a failure is
//! reported and the rest still applied, as upstream does.
use rustix::net::sockopt;
use std::os::fd::AsFd;

/// IP_TOS values (RFC 791 precedence bits, netinet/ip.h).
const IPTOS_LOWDELAY: u8 = 0x10;
const IPTOS_THROUGHPUT: u8 = 0x08;

/// Sets each option of `spec` on `sock`; each complaint (one line, as
/// upstream words it) goes to `report`.
pub fn set_options<Fd: AsFd>(sock: Fd, spec: &str, report: &mut dyn FnMut(String)) {
    let sock = sock.as_fd();
    for tok in spec.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        let (name, value) = match tok.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (tok, None),
        };
        // upstream: atoi(), so a value that is not a number is 0.
        let int = value.map_or(1, |v| v.trim().parse::<usize>().unwrap_or(0));
        let on = int != 0;
        let res = match name {
            "SO_KEEPALIVE" => sockopt::set_socket_keepalive(sock, on),
            "SO_REUSEADDR" => sockopt::set_socket_reuseaddr(sock, on),
            "SO_BROADCAST" => sockopt::set_socket_broadcast(sock, on),
            "TCP_NODELAY" => sockopt::set_tcp_nodelay(sock, on),
            "SO_SNDBUF" => sockopt::set_socket_send_buffer_size(sock, int),
            "SO_RCVBUF" => sockopt::set_socket_recv_buffer_size(sock, int),
            "IPTOS_LOWDELAY" | "IPTOS_THROUGHPUT" => {
                if value.is_some() {
                    report(format!("syntax error -- {name} does not take a value"));
                }
                let tos = if name == "IPTOS_LOWDELAY" {
                    IPTOS_LOWDELAY
                } else {
                    IPTOS_THROUGHPUT
                };
                sockopt::set_ip_tos(sock, tos)
            }
            _ => {
                report(format!("Unknown socket option {name}"));
                continue;
            }
        };
        if let Err(e) = res {
            report(format!(
                "failed to set socket option {name}: {}",
                std::io::Error::from(e)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn sets_what_it_knows_and_reports_the_rest() {
        let l = TcpListener::bind("127.0.0.1:0").expect("listen");
        let mut said = Vec::new();
        set_options(
            &l,
            "SO_KEEPALIVE, TCP_NODELAY\tSO_RCVBUF=40000,IPTOS_LOWDELAY=3,SO_FOO=1,SO_BROADCAST=0",
            &mut |m| said.push(m),
        );
        assert!(sockopt::socket_keepalive(&l).expect("get"));
        assert!(sockopt::tcp_nodelay(&l).expect("get"));
        assert!(!sockopt::socket_broadcast(&l).expect("get"));
        // The kernel doubles what it is asked for (socket(7)).
        assert_eq!(sockopt::socket_recv_buffer_size(&l).expect("get"), 80000);
        assert_eq!(sockopt::ip_tos(&l).expect("get"), IPTOS_LOWDELAY);
        assert_eq!(
            said,
            [
                "syntax error -- IPTOS_LOWDELAY does not take a value",
                "Unknown socket option SO_FOO"
            ]
        );
    }

    #[test]
    fn a_failure_is_reported_with_its_cause() {
        let not_a_socket = std::fs::File::open("/dev/null").expect("open");
        let mut said = Vec::new();
        set_options(&not_a_socket, "SO_KEEPALIVE", &mut |m| said.push(m));
        assert!(
            said.len() == 1 && said[0].starts_with("failed to set socket option SO_KEEPALIVE: "),
            "{said:?}"
        );
    }
}
