//! The `auth digest` module parameter (rsync 3.5.0, authenticate.c
//! auth_server()): a floor on the negotiated daemon-auth digest, checked
//! before the challenge. A client that negotiates a stronger digest logs
//! in; a weaker one (a client that offers only md5) is refused, and a floor naming an unknown digest refuses
//! every login. Stock rsync 3.2.7 has no such parameter, so the
//! behaviour is asserted from 3.5.0's source.
use super::daemon::{root, start, url, Daemon};
use super::util::{oxsync_bin, rsync_bin, run, Run};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

const MODULES: &str = "[floor]\npath = %ROOT%/mod\nread only = no\nauth users = alice\n\
secrets file = %ROOT%/secrets\nauth digest = sha256\n\
[nofloor]\npath = %ROOT%/dst\nread only = no\nauth users = alice\nsecrets file = %ROOT%/secrets\n\
[badfloor]\npath = %ROOT%/ro\nread only = no\nauth users = alice\n\
secrets file = %ROOT%/secrets\nauth digest = no-such-digest\n";

fn push(d: &Daemon, module: &str, extra: &[&str]) -> Run {
    let r = root(d);
    fs::write(r.join("src/f1"), b"DIGEST\n").expect("src");
    run(
        Command::new(rsync_bin())
            .arg("-r")
            .args(extra)
            .arg(format!("{}/", r.join("src").display()))
            .arg(url(d, &format!("{module}/")).replace("rsync://", "rsync://alice@"))
            .env("RSYNC_PASSWORD", "sesame"),
        &r,
    )
}

/// Greets the daemon offering only `digests`, asks for `module`, and
/// returns its answer line.
fn answer(d: &Daemon, digests: &str, module: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", d.port())).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    r.read_line(&mut line).expect("greeting");
    assert!(line.starts_with("@RSYNCD: "), "{line}");
    write!(s, "@RSYNCD: 31.0 {digests}\n{module}\n").expect("send");
    line.clear();
    r.read_line(&mut line).expect("answer");
    line
}

fn log(d: &Daemon) -> String {
    fs::read_to_string(root(d).join("daemon.log")).unwrap_or_default()
}

#[test]
fn auth_digest_floor() {
    let d = start(&oxsync_bin(), MODULES);
    let r = root(&d);
    // A modern client negotiates sha512: above the floor.
    push(&d, "floor", &[]).assert_code(0);
    assert_eq!(fs::read(r.join("mod/f1")).expect("pushed"), b"DIGEST\n");
    // A client offering only md5 (as a downgraded or pre-3.2.0 client)
    // is below the floor: refused before any challenge. Without a floor
    // it gets the challenge.
    fs::remove_file(r.join("mod/f1")).expect("rm");
    let got = answer(&d, "md5", "floor");
    assert_eq!(got, "@ERROR: auth failed on module floor\n");
    assert!(
        log(&d).contains(
            "negotiated auth digest md5 is weaker than the required 'auth digest = sha256'"
        ),
        "{}",
        log(&d)
    );
    assert!(answer(&d, "md5", "nofloor").starts_with("@RSYNCD: AUTHREQD "));
    assert!(answer(&d, "sha256", "floor").starts_with("@RSYNCD: AUTHREQD "));
    push(&d, "nofloor", &[]).assert_code(0);
    assert!(r.join("dst/f1").exists());
    // A floor this build does not know refuses even the strongest client.
    let out = push(&d, "badfloor", &[]);
    assert_eq!(out.code, Some(5), "{out:?}");
    assert!(
        out.stderr.contains("auth failed on module badfloor"),
        "{out:?}"
    );
    assert!(
        log(&d).contains("the configured 'auth digest = no-such-digest' is not a supported digest"),
        "{}",
        log(&d)
    );
    assert!(!r.join("ro/f1").exists());
}
