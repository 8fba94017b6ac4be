//! `RSYNC_PROXY=[USER:PASS@]HOST:PORT`: the daemon client reaches the daemon
//! through an HTTP proxy's CONNECT method (upstream socket.c
//! open_socket_out() and establish_proxy_connection()).
//!
//! Everything the proxy answers is bounded: its status line and each header
//! line may be at most [`PROXY_BUF_SIZE`] bytes, as upstream's buffer.
use std::io::{Read, Write};

/// Upstream's buffer for the request and for each response line.
pub const PROXY_BUF_SIZE: usize = 1024;

/// A parsed `RSYNC_PROXY`.
#[derive(Debug, PartialEq, Eq)]
pub struct Proxy {
    /// The proxy's host name or address.
    pub host: String,
    /// Its port, as written.
    pub port: String,
    /// `USER:PASS@` credentials for Basic authentication.
    pub auth: Option<(String, String)>,
}

/// The proxy named by `RSYNC_PROXY`, if it is set and not empty.
pub fn from_env() -> Option<Result<Proxy, String>> {
    let v = std::env::var("RSYNC_PROXY")
        .ok()
        .filter(|v| !v.is_empty())?;
    Some(parse(&v))
}

/// Parses `[USER:PASS@]HOST:PORT` (the last `@` ends the credentials, the
/// first `:` of the rest starts the port).
pub fn parse(spec: &str) -> Result<Proxy, String> {
    let (auth, hostport) = match spec.rsplit_once('@') {
        Some((cred, rest)) => {
            let (user, pass) = cred
                .split_once(':')
                .ok_or("invalid proxy specification: should be USER:PASS@HOST:PORT".to_string())?;
            (Some((user.to_string(), pass.to_string())), rest)
        }
        None => (None, spec),
    };
    let (host, port) = hostport
        .split_once(':')
        .ok_or("invalid proxy specification: should be HOST:PORT".to_string())?;
    Ok(Proxy {
        host: host.to_string(),
        port: port.to_string(),
        auth,
    })
}

/// The CONNECT request for `host:port`, or upstream's refusal when it
/// would not fit the buffer or the host holds control characters (which
/// could smuggle headers into the request).
pub fn request(proxy: &Proxy, host: &str, port: u16) -> Result<Vec<u8>, String> {
    if host.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("invalid control character in proxy CONNECT host".into());
    }
    let auth = match &proxy.auth {
        Some((user, pass)) => {
            let cred = format!("{user}:{pass}");
            if (cred.len() * 8).div_ceil(6) >= PROXY_BUF_SIZE - 3 {
                return Err("authentication information is too long".into());
            }
            format!(
                "\r\nProxy-Authorization: Basic {}",
                base64_padded(cred.as_bytes())
            )
        }
        None => String::new(),
    };
    let req = format!("CONNECT {host}:{port} HTTP/1.0{auth}\r\n\r\n");
    if req.len() >= PROXY_BUF_SIZE {
        return Err("proxy CONNECT request too long".into());
    }
    Ok(req.into_bytes())
}

/// Sends the CONNECT request on `s` and reads the proxy's answer up to
/// the blank line that ends its header; a 2xx status lets the daemon
/// protocol begin. The error is the line to print.
pub fn establish<S: Read + Write>(
    s: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), String> {
    let req = request(proxy, host, port)?;
    s.write_all(&req)
        .and_then(|()| s.flush())
        .map_err(|e| format!("failed to write to proxy: {e}"))?;
    let status =
        read_line(s).map_err(|e| e.unwrap_or_else(|| "proxy response line too long".into()))?;
    let status = String::from_utf8_lossy(&status).into_owned();
    let code = status
        .strip_prefix("HTTP/")
        .map(|r| r.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.'))
        .map(|r| r.trim_start_matches(' '));
    if !code.is_some_and(|c| c.starts_with('2')) {
        return Err(format!("bad response from proxy -- {status}"));
    }
    loop {
        let line = read_line(s)
            .map_err(|e| e.unwrap_or_else(|| "proxy response header line too long".into()))?;
        if line.is_empty() {
            return Ok(());
        }
    }
}

/// One line without its `\n` (and a `\r` before it). `Err(None)`: longer
/// than the buffer; `Err(Some(msg))`: the read failed or the proxy hung up.
fn read_line<S: Read>(s: &mut S) -> Result<Vec<u8>, Option<String>> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.len() < PROXY_BUF_SIZE - 1 {
        match s.read(&mut b) {
            Ok(1) if b[0] == b'\n' => {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            Ok(1) => line.push(b[0]),
            Ok(_) => return Err(Some("failed to read from proxy: unexpected EOF".into())),
            Err(e) => return Err(Some(format!("failed to read from proxy: {e}"))),
        }
    }
    Err(None)
}

/// Standard base64 with `=` padding (the Basic credentials).
fn base64_padded(data: &[u8]) -> String {
    let mut s = daemon::auth::base64_nopad(data);
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A proxy answering with `reply`, recording the request.
    struct Fake {
        reply: Cursor<Vec<u8>>,
        sent: Vec<u8>,
    }
    impl Read for Fake {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            self.reply.read(b)
        }
    }
    impl Write for Fake {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.sent.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    fn fake(reply: &[u8]) -> Fake {
        Fake {
            reply: Cursor::new(reply.to_vec()),
            sent: Vec::new(),
        }
    }

    #[test]
    fn specs() {
        assert_eq!(
            parse("u:p@px:3128").unwrap(),
            Proxy {
                host: "px".into(),
                port: "3128".into(),
                auth: Some(("u".into(), "p".into()))
            }
        );
        assert_eq!(parse("px:8080").unwrap().auth, None);
        assert!(parse("px").unwrap_err().contains("HOST:PORT"));
        assert!(parse("u@px:1").unwrap_err().contains("USER:PASS@"));
    }

    #[test]
    fn connects_through_a_2xx_answer() {
        let p = parse("Aladdin:open sesame@px:1").unwrap();
        let mut f = fake(b"HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n@RSYNCD");
        establish(&mut f, &p, "h", 873).unwrap();
        assert_eq!(
            f.sent,
            b"CONNECT h:873 HTTP/1.0\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        let mut rest = Vec::new();
        f.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"@RSYNCD", "the daemon's bytes are left unread");
    }

    #[test]
    fn refusals() {
        let p = parse("px:1").unwrap();
        let err =
            |reply: &[u8], host: &str| establish(&mut fake(reply), &p, host, 873).unwrap_err();
        assert_eq!(
            err(b"", &"a".repeat(1500)),
            "proxy CONNECT request too long"
        );
        assert_eq!(
            err(b"", "h\r\nX: y"),
            "invalid control character in proxy CONNECT host"
        );
        assert_eq!(err(&[b'X'; 1023], "h"), "proxy response line too long");
        let mut long = b"HTTP/1.0 200 OK\r\n".to_vec();
        long.extend([b'X'; 1023]);
        assert_eq!(err(&long, "h"), "proxy response header line too long");
        assert_eq!(
            err(b"HTTP/1.0 403 Forbidden\r\n\r\n", "h"),
            "bad response from proxy -- HTTP/1.0 403 Forbidden"
        );
        assert!(err(b"HTTP/1.0 200 OK\r\n", "h").starts_with("failed to read from proxy"));
    }
}
