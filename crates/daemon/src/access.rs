//! `hosts allow` / `hosts deny`: addresses, CIDR and dotted masks, host
//! names and wildcards, with upstream's precedence (an allow match always
//! admits; with an allow list and no deny list, everything else is refused;
//! otherwise a deny match refuses and everything else is admitted).
use crate::wild::iwildmatch;
use std::net::{IpAddr, ToSocketAddrs};
use std::process::{Command, Stdio};

/// A peer's address: an IP address (an IPv4-mapped IPv6 address is
/// stored as IPv4), or a Unix-domain socket, which upstream reports as
/// "localhost" (what getnameinfo gives for AF_UNIX) and which matches no
/// address token and no forward lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAddr {
    /// An IP peer.
    Ip(IpAddr),
    /// A Unix-domain socket (e.g. a socket pair on inetd-mode stdin).
    Local,
}

impl PeerAddr {
    /// The IP address, if the peer has one.
    pub fn ip(self) -> Option<IpAddr> {
        match self {
            PeerAddr::Ip(a) => Some(a),
            PeerAddr::Local => None,
        }
    }
}

impl std::fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerAddr::Ip(a) => a.fmt(f),
            PeerAddr::Local => f.write_str("localhost"),
        }
    }
}

/// The connecting peer as the access checks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its address.
    pub addr: PeerAddr,
    /// Its host name from a confirmed reverse lookup, when one was done
    /// and succeeded.
    pub name: Option<String>,
}

impl Peer {
    /// A peer at `addr` whose name is not known.
    pub fn new(addr: IpAddr) -> Peer {
        Peer {
            addr: PeerAddr::Ip(normalise(addr)),
            name: None,
        }
    }
    /// A peer on a Unix-domain socket.
    pub fn local() -> Peer {
        Peer {
            addr: PeerAddr::Local,
            name: None,
        }
    }
    /// The name for messages and logs: the host name, or "UNKNOWN".
    pub fn host_name(&self) -> &str {
        self.name.as_deref().unwrap_or("UNKNOWN")
    }
}

fn normalise(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

/// Name lookups used by the access checks (swapped out in tests).
pub trait Resolver {
    /// The addresses of `host`, or None when it cannot be resolved.
    fn forward(&self, host: &str) -> Option<Vec<IpAddr>>;
    /// The name of `addr`, confirmed by a forward lookup, if any.
    fn reverse(&self, addr: IpAddr) -> Option<String>;
}

/// The system resolver: forward lookups through getaddrinfo (std), reverse
/// lookups through `getent hosts ADDR` (which uses the system's NSS order,
/// so /etc/hosts and DNS both count), confirmed by a forward lookup of the
/// name as upstream does.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn forward(&self, host: &str) -> Option<Vec<IpAddr>> {
        let addrs = (host, 0u16).to_socket_addrs().ok()?;
        let v: Vec<IpAddr> = addrs.map(|a| normalise(a.ip())).collect();
        (!v.is_empty()).then_some(v)
    }
    fn reverse(&self, addr: IpAddr) -> Option<String> {
        let out = Command::new("getent")
            .arg("hosts")
            .arg(addr.to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8(out.stdout).ok()?;
        let name = text.lines().next()?.split_whitespace().nth(1)?.to_string();
        // Forward-confirm, so a peer's own DNS cannot claim any name.
        let confirmed = self.forward(&name)?.contains(&normalise(addr));
        confirmed.then_some(name)
    }
}

/// The peer's confirmed name, if a reverse lookup finds one. A Unix-domain
/// peer and the address 0.0.0.0 (a daemon over a remote shell that was
/// told no address) have none: upstream names them UNKNOWN.
// upstream: clientname.c:client_name()
pub fn reverse_name(res: &dyn Resolver, addr: PeerAddr) -> Option<String> {
    addr.ip()
        .filter(|a| !a.is_unspecified())
        .and_then(|a| res.reverse(a))
}

/// Settings that shape a host check.
#[derive(Debug, Clone, Copy)]
pub struct Lookups {
    /// `forward lookup`: resolve plain host names in the lists.
    pub forward: bool,
}

/// Upstream's allow/deny decision for `peer`.
// upstream: access.c:allow_access()
pub fn allow_access(
    peer: &Peer,
    allow: Option<&str>,
    deny: Option<&str>,
    lk: Lookups,
    res: &dyn Resolver,
) -> bool {
    let allow = allow.filter(|s| !s.trim().is_empty());
    let deny = deny.filter(|s| !s.trim().is_empty());
    if let Some(list) = allow {
        if list_matches(list, peer, false, lk, res) {
            return true;
        }
        if deny.is_none() {
            return false;
        }
    }
    if let Some(list) = deny {
        if list_matches(list, peer, true, lk, res) {
            return false;
        }
    }
    true
}

/// Whether `peer` may send a PROXY header: it must match `proxy protocol
/// hosts` by address, or by a name token against upstream's placeholder
/// name `UNDETERMINED` (no lookups are made for it); an unset or empty list
/// trusts no peer.
// upstream: access.c:allow_proxy_protocol_peer()
pub fn allow_proxy_peer(list: Option<&str>, addr: PeerAddr, res: &dyn Resolver) -> bool {
    let Some(list) = list.filter(|l| !l.trim().is_empty()) else {
        return false;
    };
    let peer = Peer {
        addr,
        name: Some(UNDETERMINED.to_string()),
    };
    list_matches(list, &peer, false, Lookups { forward: false }, res)
}

/// The name upstream gives a peer whose name was not looked up.
pub const UNDETERMINED: &str = "UNDETERMINED";

fn list_matches(list: &str, peer: &Peer, deny: bool, lk: Lookups, res: &dyn Resolver) -> bool {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .any(|tok| {
            let by_addr = match peer.addr {
                PeerAddr::Ip(a) => match_address(tok, a),
                // upstream: "localhost" parses as no address.
                PeerAddr::Local => is_address(tok).then_some(false),
            };
            by_addr.unwrap_or_else(|| match_hostname(tok, peer, deny, lk, res))
        })
}

/// Matches an address token (`a.b.c.d`, `a:b::c`, `addr/n`,
/// `addr/mask`, IPv6 `%scope` dropped); None when the token is not an
/// address at all (it is then a host name).
// upstream: access.c:match_address()
pub fn match_address(tok: &str, addr: IpAddr) -> Option<bool> {
    let (a, mask) = match tok.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (tok, None),
    };
    let a = a.split('%').next().unwrap_or(a);
    let want: IpAddr = normalise(a.parse().ok()?);
    let bits = match (want, addr) {
        (IpAddr::V4(w), IpAddr::V4(g)) => (u32::from(w) as u128, u32::from(g) as u128, 32u32),
        (IpAddr::V6(w), IpAddr::V6(g)) => (u128::from(w), u128::from(g), 128u32),
        // A bad mask is still an address token: it matches nothing.
        _ => return Some(false),
    };
    let (w, g, width) = bits;
    let m: u128 = match mask {
        None => all_ones(width),
        Some(m) => match parse_mask(m, want) {
            Some(v) => v,
            None => return Some(false),
        },
    };
    Some(w & m == g & m)
}

/// Whether `tok` is an address token (see [`match_address`]).
fn is_address(tok: &str) -> bool {
    match_address(tok, IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)).is_some()
}

fn all_ones(width: u32) -> u128 {
    if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    }
}

/// `/n` or a dotted (or IPv6) mask, as a mask in the address's width.
fn parse_mask(m: &str, want: IpAddr) -> Option<u128> {
    let width = if want.is_ipv4() { 32 } else { 128 };
    if let Ok(n) = m.parse::<u32>() {
        if n > width {
            return None;
        }
        let ones = all_ones(width);
        return Some(if n == 0 {
            0
        } else {
            ones & !(all_ones(width - n))
        });
    }
    let m = m.split('%').next().unwrap_or(m);
    match (m.parse::<IpAddr>().ok()?, want) {
        (IpAddr::V4(mm), IpAddr::V4(_)) => Some(u32::from(mm) as u128),
        (IpAddr::V6(mm), IpAddr::V6(_)) => Some(u128::from(mm)),
        _ => None,
    }
}

/// A host-name token: wildcards against the peer's confirmed name; a plain
/// name also by forward lookup. Fails closed: a deny-list name that cannot
/// be checked (no peer name for a wildcard, or an unresolvable plain name)
/// counts as a match.
// upstream: access.c:match_hostname()
fn match_hostname(tok: &str, peer: &Peer, deny: bool, lk: Lookups, res: &dyn Resolver) -> bool {
    // A peer without a name is matched as upstream names it, "UNKNOWN":
    // `*` (and `UNKNOWN` itself) admit it.
    if iwildmatch(tok, peer.host_name()) {
        return true;
    }
    let plain = !tok.contains(['*', '?', '[', ':', '/'])
        && tok.contains(|c: char| !(c.is_ascii_digit() || c == '.'));
    if !plain {
        // A wildcard we could not test against a name.
        return deny && peer.name.is_none();
    }
    if !lk.forward {
        return deny && peer.name.is_none();
    }
    match res.forward(tok) {
        Some(addrs) => peer.addr.ip().is_some_and(|a| addrs.contains(&a)),
        None => deny,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Resolver for Fake {
        fn forward(&self, host: &str) -> Option<Vec<IpAddr>> {
            match host {
                "good.example" => Some(vec!["10.1.2.3".parse().ok()?]),
                "other.example" => Some(vec!["10.9.9.9".parse().ok()?]),
                _ => None,
            }
        }
        fn reverse(&self, _: IpAddr) -> Option<String> {
            None
        }
    }

    fn peer(a: &str, name: Option<&str>) -> Peer {
        Peer {
            addr: PeerAddr::Ip(normalise(a.parse().expect("addr"))),
            name: name.map(str::to_string),
        }
    }

    const LK: Lookups = Lookups { forward: true };

    #[test]
    fn addresses() {
        let cases = [
            ("10.1.2.3", "10.1.2.3", true),
            ("10.1.2.3", "10.1.2.4", false),
            ("10.0.0.0/8", "10.200.0.1", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.1.0.0/255.255.0.0", "10.1.9.9", true),
            ("10.1.0.0/255.255.0.0", "10.2.9.9", false),
            ("0.0.0.0/0", "1.2.3.4", true),
            ("::1", "::1", true),
            ("2001:db8::/32", "2001:db8:1::5", true),
            ("2001:db8::/32", "2001:db9::5", false),
            ("2001:db8::/ffff:ffff::", "2001:db8:ffff::1", true),
            ("fe80::%eth0/64", "fe80::1", true),
            ("127.0.0.1", "::ffff:127.0.0.1", true),
            ("10.0.0.0/33", "10.0.0.1", false),
            ("::1", "127.0.0.1", false),
        ];
        for (tok, a, want) in cases {
            assert_eq!(
                match_address(tok, normalise(a.parse().expect("a"))),
                Some(want),
                "{tok} vs {a}"
            );
        }
        assert_eq!(
            match_address("host.example", "1.2.3.4".parse().expect("a")),
            None
        );
    }

    #[test]
    fn precedence() {
        let p = peer("10.1.2.3", None);
        let f = Fake;
        // (allow, deny, allowed?)
        let cases: [(Option<&str>, Option<&str>, bool); 9] = [
            (None, None, true),
            (Some("10.1.2.3"), None, true),
            (Some("10.9.9.9"), None, false),
            (None, Some("10.1.2.3"), false),
            (None, Some("10.9.9.9"), true),
            (Some("10.1.0.0/16"), Some("*"), true),
            (Some("192.168.0.0/16"), Some("10.1.2.3"), false),
            (Some("192.168.0.0/16"), Some("10.9.9.9"), true),
            (Some("  "), Some(""), true),
        ];
        for (a, d, want) in cases {
            assert_eq!(
                allow_access(&p, a, d, LK, &f),
                want,
                "allow {a:?} deny {d:?}"
            );
        }
    }

    #[test]
    fn proxy_peers() {
        let f = Fake;
        let at = |a: &str| PeerAddr::Ip(normalise(a.parse().expect("a")));
        assert!(!allow_proxy_peer(None, at("127.0.0.1"), &f));
        assert!(!allow_proxy_peer(Some(" "), at("127.0.0.1"), &f));
        assert!(allow_proxy_peer(Some("127.0.0.0/8"), at("127.0.0.1"), &f));
        assert!(allow_proxy_peer(Some("10.0.0.1, ::1"), at("::1"), &f));
        assert!(!allow_proxy_peer(Some("10.0.0.0/8"), at("127.0.0.1"), &f));
        // No lookups: a plain host name never matches by address.
        assert!(!allow_proxy_peer(Some("good.example"), at("10.1.2.3"), &f));
        assert!(!allow_proxy_peer(Some("127.0.0.1"), PeerAddr::Local, &f));
    }

    #[test]
    fn unix_domain_peer() {
        // upstream: address "localhost", no name; no address token or
        // forward lookup matches it, and a deny-list name fails closed.
        let p = Peer::local();
        assert_eq!(p.addr.to_string(), "localhost");
        assert_eq!(p.host_name(), "UNKNOWN");
        let f = Fake;
        assert!(!allow_access(
            &p,
            Some("localhost 127.0.0.0/8"),
            None,
            LK,
            &f
        ));
        assert!(!allow_access(&p, Some("good.example"), None, LK, &f));
        assert!(!allow_access(&p, None, Some("nosuch.invalid"), LK, &f));
        assert!(allow_access(&p, None, Some("10.0.0.0/8"), LK, &f));
        assert!(allow_access(&p, None, None, LK, &f));
        assert_eq!(reverse_name(&f, p.addr), None);
    }

    #[test]
    fn host_names() {
        let f = Fake;
        let named = peer("10.1.2.3", Some("Box.Example.COM"));
        assert!(allow_access(&named, Some("*.example.com"), None, LK, &f));
        assert!(!allow_access(&named, Some("*.example.org"), None, LK, &f));
        assert!(!allow_access(&named, None, Some("box.example.com"), LK, &f));
        let anon = peer("10.1.2.3", None);
        // Forward lookup of a plain name.
        assert!(allow_access(&anon, Some("good.example"), None, LK, &f));
        assert!(!allow_access(&anon, Some("other.example"), None, LK, &f));
        assert!(!allow_access(
            &anon,
            Some("good.example"),
            None,
            Lookups { forward: false },
            &f
        ));
        // Fail closed on deny lists: unresolvable names and untestable
        // wildcards refuse; on allow lists they admit nothing.
        assert!(!allow_access(&anon, None, Some("nosuch.invalid"), LK, &f));
        assert!(!allow_access(&anon, None, Some("*.example.com"), LK, &f));
        assert!(!allow_access(&anon, Some("nosuch.invalid"), None, LK, &f));
        assert!(allow_access(&anon, None, Some("other.example"), LK, &f));
        // A nameless peer is "UNKNOWN" to wildcards, as upstream.
        for list in ["*", "unknown", "10.9.9.9 *"] {
            assert!(allow_access(&anon, Some(list), None, LK, &f), "{list}");
            assert!(!allow_access(&anon, None, Some(list), LK, &f), "{list}");
        }
        assert!(allow_access(&Peer::local(), Some("*"), None, LK, &f));
        assert!(!allow_access(&anon, Some("*.example.com"), None, LK, &f));
        assert!(allow_access(
            &anon,
            Some("nosuch.invalid, 10.1.2.3"),
            None,
            LK,
            &f
        ));
    }
}
