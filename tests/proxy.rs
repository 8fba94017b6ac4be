//! `RSYNC_PROXY`: the daemon client goes through an HTTP proxy's CONNECT,
//! with stock rsync's client on the same proxy as the reference, and a
//! hostile proxy's oversized answers end the run with upstream's message.
use super::daemon::{start, url};
use super::util::{oxsync_bin, rsync_bin, run, Scratch};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;

/// A CONNECT proxy on loopback that serves every connection, records each
/// request's lines, and either forwards (`reply` None) or answers `reply`
/// and hangs up.
struct Proxy {
    port: u16,
    requests: Arc<Mutex<Vec<Vec<String>>>>,
}

fn proxy(reply: Option<&'static [u8]>) -> Proxy {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let seen = seen.clone();
            thread::spawn(move || serve(conn, reply, &seen));
        }
    });
    Proxy { port, requests }
}

fn serve(conn: TcpStream, reply: Option<&[u8]>, seen: &Mutex<Vec<Vec<String>>>) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    seen.lock().unwrap().push(lines.clone());
    let mut w = conn;
    if let Some(reply) = reply {
        let _ = w.write_all(reply);
        return;
    }
    let target = lines[0].split(' ').nth(1).unwrap().to_string();
    let up = TcpStream::connect(&target).expect("connect upstream");
    w.write_all(b"HTTP/1.0 200 Connection established\r\nVia: test\r\n\r\n")
        .unwrap();
    let (mut up_r, mut up_w) = (up.try_clone().unwrap(), up);
    let mut down_w = w.try_clone().unwrap();
    let t = thread::spawn(move || {
        let _ = std::io::copy(&mut up_r, &mut down_w);
        let _ = down_w.shutdown(std::net::Shutdown::Write);
    });
    // What the client sent after its header, then the rest.
    let buffered = r.buffer().to_vec();
    let _ = up_w.write_all(&buffered);
    let mut rest = r.into_inner();
    let _ = std::io::copy(&mut rest, &mut up_w);
    let _ = up_w.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

fn pull(bin: &Path, proxy_env: &str, from: &str, to: &Path, s: &Scratch) -> super::util::Run {
    run(
        Command::new(bin)
            .env("RSYNC_PROXY", proxy_env)
            .arg("-r")
            .arg(from)
            .arg(format!("{}/", to.display())),
        &s.logs(),
    )
}

#[test]
fn pull_through_a_connect_proxy() {
    let d = start(&oxsync_bin(), "[m]\npath = %ROOT%/mod\n");
    fs::write(d.root().join("mod/f"), b"through the proxy\n").unwrap();
    let p = proxy(None);
    let s = Scratch::new();
    for (who, bin) in [("oxsync", oxsync_bin()), ("rsync", rsync_bin())] {
        let dst = s.path(who);
        let env = format!("alice:sesame@127.0.0.1:{}", p.port);
        pull(&bin, &env, &url(&d, "m/"), &dst, &s).assert_code(0);
        assert_eq!(
            fs::read(dst.join("f")).unwrap(),
            b"through the proxy\n",
            "{who}"
        );
    }
    let reqs = p.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    // Both clients sent the same request: CONNECT and Basic credentials.
    assert_eq!(reqs[0], reqs[1]);
    assert_eq!(
        reqs[0][0],
        format!("CONNECT 127.0.0.1:{} HTTP/1.0", d.port())
    );
    assert_eq!(reqs[0][1], "Proxy-Authorization: Basic YWxpY2U6c2VzYW1l");
}

#[test]
fn hostile_proxy_answers_are_bounded() {
    let s = Scratch::new();
    let mut header_bomb = b"HTTP/1.0 200 OK\r\n".to_vec();
    header_bomb.extend([b'X'; 4096]);
    let cases: [(&'static [u8], &str); 3] = [
        (&[b'X'; 4096], "proxy response line too long"),
        (header_bomb.leak(), "proxy response header line too long"),
        (
            b"HTTP/1.0 407 Proxy Authentication Required\r\n\r\n",
            "bad response from proxy -- HTTP/1.0 407",
        ),
    ];
    for (reply, msg) in cases {
        let p = proxy(Some(reply));
        let dst = s.path("out");
        let r = pull(
            &oxsync_bin(),
            &format!("127.0.0.1:{}", p.port),
            "rsync://example.invalid/m/",
            &dst,
            &s,
        );
        assert_eq!(r.code, Some(10), "{msg}: {}", r.stderr);
        assert!(r.stderr.contains(msg), "want {msg:?} in:\n{}", r.stderr);
        assert!(!dst.exists());
    }
    // An oversized request is refused before anything is written to the proxy.
    let p = proxy(Some(b"HTTP/1.0 200 OK\r\n\r\n"));
    let host = format!("{}.invalid", "a".repeat(1500));
    let r = pull(
        &oxsync_bin(),
        &format!("127.0.0.1:{}", p.port),
        &format!("rsync://{host}/m/"),
        &s.path("out2"),
        &s,
    );
    assert_eq!(r.code, Some(10), "{}", r.stderr);
    assert!(
        r.stderr.contains("proxy CONNECT request too long"),
        "{}",
        r.stderr
    );
    assert!(p.requests.lock().unwrap().is_empty());
}
