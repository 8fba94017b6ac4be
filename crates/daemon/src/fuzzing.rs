//! Harness for a fuzz target: the daemon's text handshake as a peer sends
//! it (greeting, module line, auth response, argument list) and the one
//! option parser the arguments go through. Must never panic or hang
//! (errors are fine). Kept in the crate so it builds and is tested with
//! every build.
use crate::{auth, wire};
use std::ffi::OsString;
use std::io::BufReader;

/// The first byte picks the protocol of the argument list (29: lines,
/// 30+: NUL-separated) and, with its high bit, a PROXY header first (as
/// `proxy protocol = yes` reads it); the rest is what a client (or, for the
/// greeting and challenge, a daemon) sends.
pub fn handshake(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    // A tiny buffer so lines straddle refills.
    let mut r = BufReader::with_capacity(7, rest);
    if sel & 0x80 != 0 {
        let _ = crate::proxyproto::read_header(&mut r);
    }
    let Ok(Some(greeting)) = wire::read_line(&mut r) else {
        return;
    };
    let digest = match wire::parse_greeting(&greeting) {
        Ok(g) => {
            let p = wire::agree(protocol::PROTOCOL_VERSION, &g);
            auth::negotiate(g.digests.as_deref(), p)
        }
        Err(_) => None,
    };
    let digest = digest.unwrap_or(auth::AuthDigest::Md5);
    let Ok(Some(_module)) = wire::read_line(&mut r) else {
        return;
    };
    // As a daemon: the auth response. As a client: the same line read as
    // the daemon's challenge.
    let Ok(Some(line)) = wire::read_line(&mut r) else {
        return;
    };
    let _ = auth::response(digest, b"secret", line.trim());
    if let Some((user, resp)) = line.split_once(' ') {
        let rules = auth::parse_auth_users("alice:rw, @staff:ro bob* *:deny");
        let _ = auth::match_rule(&rules, user, &[resp.to_string()]);
        let _ = auth::parse_auth_users(resp);
    }
    let protocol = 29 + i32::from(sel % 4);
    let Ok(args) = wire::read_args(&mut r, protocol) else {
        return;
    };
    let args: Vec<OsString> = args
        .iter()
        .map(|a| OsString::from(wire::unbackslash(a)))
        .collect();
    let _ = engine::Options::parse(&args);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edge_inputs() {
        for data in [
            &b""[..],
            &b"\x01@RSYNCD: 31.0 md5 md4\nmod\nalice abc\n--server\0--sender\0-r\0.\0m/\0\0"[..],
            &b"\x00@RSYNCD: 29\nmod\nx\n--server\n-vvvvvvvvvvvv\n.\n\n"[..],
            &b"\x02@RSYNCD: 2147483647.2147483647 \n\n \n\\\0\0"[..],
            &b"\x02@RSYNCD: -5.-1\n\n\n--max-alloc=1\0--bwlimit=99999999999999999999\0\0"[..],
        ] {
            handshake(data);
        }
    }

    /// Inputs the fuzz target found that crashed a session.
    #[test]
    fn found_by_fuzzing() {
        // `--max-alloc=0M?` followed by bytes that are not UTF-8: the size
        // parser sliced inside a replacement character and panicked.
        let mut data = b"\x01@RSY: 3d5 md4\nmodule\nal$time-limit6789abcdefAB+/\n\
                         --server\0--sender\0-vlogDtpre.iHsfxCIvu\0--max-alloc=0M?"
            .to_vec();
        data.extend_from_slice(&[0xFF; 18]);
        data.extend_from_slice(b".\0module/dir\0\0");
        handshake(&data);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_handshake_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            handshake(&data);
        }

        #[test]
        fn option_shaped_args_never_panic(
            sel in any::<u8>(),
            greeting in "@RSYNCD: [0-9]{1,3}(\\.[0-9]{1,2})?( [a-z0-9 ]{0,12})?",
            args in proptest::collection::vec(
                "--?[a-zA-Z-]{0,16}(=[a-zA-Z0-9.,/:*-]{0,10})?|[./a-z]{0,6}", 0..12),
        ) {
            let mut data = vec![sel | 1];
            data.extend_from_slice(greeting.as_bytes());
            data.extend_from_slice(b"\nmod\nuser resp\n");
            for a in &args {
                data.extend_from_slice(a.as_bytes());
                data.push(0);
            }
            data.push(0);
            handshake(&data);
        }
    }
}
