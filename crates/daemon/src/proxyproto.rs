//! `proxy protocol = yes`: the HAProxy PROXY header (version 1 text or
//! version 2 binary) a trusted load balancer sends before the `@RSYNCD`
//! greeting, naming the real client's address. The address it names is the
//! one `hosts allow`, the logs and `RSYNC_HOST_ADDR` see.
//!
//! Only a peer listed in `proxy protocol hosts` may send one: any other
//! peer is dropped before a byte of it is read (with no list, every peer),
//! as rsync 3.5.0 does. Every length in the header is bounded before it is
//! read: a version 1 line by 107 bytes, a version 2 address block by 216.
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a PROXY header was refused (logged; the connection is dropped).
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The stream failed or ended inside the header.
    #[error("reading the PROXY header: {0}")]
    Read(#[source] std::io::Error),
    /// Neither signature.
    #[error("no PROXY header")]
    Missing,
    /// A version 1 line without its end within the bound.
    #[error("PROXY v1 line longer than {V1_MAX} bytes")]
    V1TooLong,
    /// A malformed version 1 line.
    #[error("bad PROXY v1 line {0:?}")]
    V1Line(String),
    /// A version 2 header of another version.
    #[error("PROXY v2 header of version {0}")]
    V2Version(u8),
    /// A version 2 address block over the bound.
    #[error("PROXY v2 address block of {0} bytes")]
    V2TooLong(usize),
    /// A TCP address block of the wrong length.
    #[error("PROXY v2 address block of {len} bytes for family {fam:#x}")]
    V2Family {
        /// The block's length.
        len: usize,
        /// The address family.
        fam: u8,
    },
    /// A version 2 command other than LOCAL or PROXY.
    #[error("PROXY v2 command {0}")]
    V2Command(u8),
}

/// The version 2 signature.
const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest version 1 line, `\r\n` included (the PROXY spec's 107).
const V1_MAX: usize = 107;
/// The largest version 2 address block (upstream's union: two Unix socket
/// paths of 108 bytes).
const V2_MAX_ADDR: usize = 216;
const CMD_LOCAL: u8 = 0;
const CMD_PROXY: u8 = 1;
const FAM_TCP4: u8 = 0x11;
const FAM_TCP6: u8 = 0x21;

/// Reads one PROXY header from `r`. `Ok(Some(addr))`: the proxied
/// client's address; `Ok(None)`: a valid header that names none
/// (`UNKNOWN`, `LOCAL`, an unsupported family), so the socket's peer
/// stands; `Err`: no valid header, and the connection must be dropped.
// upstream: clientname.c:read_proxy_protocol_header()
pub fn read_header<R: Read + ?Sized>(r: &mut R) -> Result<Option<IpAddr>, ProxyError> {
    let mut head = [0u8; 12];
    read(r, &mut head)?;
    if &head == V2_SIG {
        return read_v2(r);
    }
    if head.starts_with(b"PROXY") {
        let mut line = head.to_vec();
        if !head.contains(&b'\n') {
            let mut b = [0u8; 1];
            loop {
                if line.len() >= V1_MAX {
                    return Err(ProxyError::V1TooLong);
                }
                read(r, &mut b)?;
                line.push(b[0]);
                if b[0] == b'\n' {
                    break;
                }
            }
        }
        return parse_v1(&line);
    }
    Err(ProxyError::Missing)
}

fn read<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> Result<(), ProxyError> {
    r.read_exact(buf).map_err(ProxyError::Read)
}

fn read_v2<R: Read + ?Sized>(r: &mut R) -> Result<Option<IpAddr>, ProxyError> {
    let mut hdr = [0u8; 4];
    read(r, &mut hdr)?;
    let (ver, cmd, fam) = (hdr[0] >> 4, hdr[0] & 0x0f, hdr[1]);
    let len = usize::from(u16::from_be_bytes([hdr[2], hdr[3]]));
    if ver != 2 {
        return Err(ProxyError::V2Version(ver));
    }
    if len > V2_MAX_ADDR {
        return Err(ProxyError::V2TooLong(len));
    }
    let mut addr = vec![0u8; len];
    read(r, &mut addr)?;
    match cmd {
        CMD_LOCAL => Ok(None),
        CMD_PROXY => match fam {
            FAM_TCP4 if len == 12 => Ok(Some(IpAddr::V4(Ipv4Addr::new(
                addr[0], addr[1], addr[2], addr[3],
            )))),
            FAM_TCP6 if len == 36 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&addr[..16]);
                Ok(Some(IpAddr::V6(Ipv6Addr::from(a))))
            }
            FAM_TCP4 | FAM_TCP6 => Err(ProxyError::V2Family { len, fam }),
            // upstream: another family is accepted and its data ignored.
            _ => Ok(None),
        },
        _ => Err(ProxyError::V2Command(cmd)),
    }
}

/// `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` or `PROXY UNKNOWN...\r\n`.
fn parse_v1(line: &[u8]) -> Result<Option<IpAddr>, ProxyError> {
    let bad = || {
        Err(ProxyError::V1Line(
            String::from_utf8_lossy(line).into_owned(),
        ))
    };
    // The first `\r` must end the line, followed by its `\n`.
    let Some(cr) = line.iter().position(|&b| b == b'\r') else {
        return bad();
    };
    if &line[cr..] != b"\r\n" || line.contains(&0) {
        return bad();
    }
    let Ok(text) = std::str::from_utf8(&line[..cr]) else {
        return bad();
    };
    let Some(rest) = text.strip_prefix("PROXY") else {
        return bad();
    };
    let Some(rest) = rest.strip_prefix(|c: char| c.is_ascii_whitespace()) else {
        return bad();
    };
    if rest.starts_with("UNKNOWN") {
        return Ok(None);
    }
    let Some(rest) = rest
        .strip_prefix("TCP4")
        .or_else(|| rest.strip_prefix("TCP6"))
    else {
        return bad();
    };
    let Some(rest) = rest.strip_prefix(|c: char| c.is_ascii_whitespace()) else {
        return bad();
    };
    let mut words = rest.splitn(4, ' ');
    let (Some(src), Some(dst), Some(sport), Some(dport)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return bad();
    };
    let Ok(src) = src.parse::<IpAddr>() else {
        return bad();
    };
    let port = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u32>() != Ok(0)
    };
    if dst.parse::<IpAddr>().is_err() || !port(sport) || !port(dport) {
        return bad();
    }
    Ok(Some(src))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Whatever a peer sends, the header read ends without a panic and
        /// never takes more than the longest header (16 + 216 bytes).
        #[test]
        fn any_bytes_are_read_within_the_bound(
            prefix in prop_oneof![
                Just(V2_SIG.to_vec()),
                Just(b"PROXY ".to_vec()),
                Just(b"PROXY TCP4 ".to_vec()),
                Just(Vec::new()),
            ],
            data in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut all = prefix;
            all.extend_from_slice(&data);
            let mut r = &all[..];
            let _ = read_header(&mut r);
            prop_assert!(all.len() - r.len() <= 16 + V2_MAX_ADDR);
        }
    }

    fn v1(s: &str) -> Result<Option<IpAddr>, String> {
        read_header(&mut format!("PROXY {s}\r\n@RSYNCD: 30.0\n").as_bytes())
            .map_err(|e| e.to_string())
    }

    /// [`read_header`] with the error as its text.
    fn header(mut r: &[u8]) -> (Result<Option<IpAddr>, String>, &[u8]) {
        let got = read_header(&mut r).map_err(|e| e.to_string());
        (got, r)
    }

    fn v2(cmd: u8, fam: u8, addr: &[u8]) -> Vec<u8> {
        let mut v = V2_SIG.to_vec();
        v.extend_from_slice(&[0x20 | cmd, fam]);
        v.extend_from_slice(&(addr.len() as u16).to_be_bytes());
        v.extend_from_slice(addr);
        v
    }

    #[test]
    fn version_1() {
        let ip = |s: &str| Ok(Some(s.parse::<IpAddr>().expect("ip")));
        assert_eq!(v1("TCP4 10.1.2.3 127.0.0.1 40000 873"), ip("10.1.2.3"));
        assert_eq!(v1("TCP6 fd00::1234 ::1 40000 873"), ip("fd00::1234"));
        assert_eq!(v1("UNKNOWN"), Ok(None));
        assert_eq!(v1("UNKNOWN ffff::1 ::1 1 2"), Ok(None));
        for bad in [
            "TCP4 10.1.2.3",
            "TCP9 10.1.2.3 127.0.0.1 40000 873",
            "TCP4 10.1.2.3 127.0.0.1 abc 873",
            "TCP4 10.1.2.3 127.0.0.1 0 873",
            "TCP4 10.1.2.3 127.0.0.1 1 2 3",
            "TCP4 nothost 127.0.0.1 1 2",
            "TCP4  10.1.2.3 127.0.0.1 1 2",
        ] {
            assert!(v1(bad).is_err(), "{bad}");
        }
        // No `\r` before the `\n`, too long, not PROXY at all.
        assert!(read_header(&mut &b"PROXY UNKNOWN\n"[..]).is_err());
        let long = format!("PROXY TCP4 {}", "1".repeat(200));
        assert!(read_header(&mut long.as_bytes()).is_err());
        assert!(read_header(&mut &b"GET / HTTP/1.0\r\n\r\n"[..]).is_err());
        assert!(read_header(&mut &b"PROX"[..]).is_err());
    }

    #[test]
    fn version_1_reads_no_further_than_its_line() {
        let mut r: &[u8] = b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n@RSYNCD: 30.0\n";
        assert!(read_header(&mut r).expect("ok").is_some());
        assert_eq!(r, b"@RSYNCD: 30.0\n");
        let mut r2 = v2(
            CMD_PROXY,
            FAM_TCP4,
            &[10, 9, 8, 7, 127, 0, 0, 1, 0, 1, 0, 2],
        );
        r2.extend_from_slice(b"@RSYNCD");
        let (got, s) = header(&r2);
        assert_eq!(got, Ok(Some(IpAddr::V4(Ipv4Addr::new(10, 9, 8, 7)))));
        assert_eq!(s, b"@RSYNCD");
    }

    #[test]
    fn version_2() {
        let mut six = [0u8; 36];
        six[0] = 0xfd;
        six[15] = 1;
        assert_eq!(
            header(&v2(CMD_PROXY, FAM_TCP6, &six)).0,
            Ok(Some("fd00::1".parse().expect("ip")))
        );
        assert_eq!(header(&v2(CMD_LOCAL, 0, &[])).0, Ok(None));
        assert_eq!(header(&v2(CMD_PROXY, 0x31, &[0; 4])).0, Ok(None));
        assert!(read_header(&mut &v2(CMD_PROXY, FAM_TCP4, &[0; 8])[..]).is_err());
        assert!(read_header(&mut &v2(7, FAM_TCP4, &[0; 12])[..]).is_err());
        let mut ver3 = v2(CMD_PROXY, FAM_TCP4, &[0; 12]);
        ver3[12] = 0x31;
        assert!(read_header(&mut &ver3[..]).is_err());
        // A declared length over the bound is refused before it is read.
        let mut big = V2_SIG.to_vec();
        big.extend_from_slice(&[0x21, FAM_TCP4, 0x10, 0x00]);
        assert_eq!(
            header(&big).0,
            Err("PROXY v2 address block of 4096 bytes".into())
        );
        // A truncated block is an error, not a hang or a panic.
        let mut short = v2(CMD_PROXY, FAM_TCP4, &[0; 12]);
        short.truncate(20);
        assert!(read_header(&mut &short[..]).is_err());
    }
}
