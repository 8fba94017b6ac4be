//! The daemon's network edge and its names: `proxy protocol` (a HAProxy
//! PROXY v1/v2 header from a trusted peer names the client; any other is
//! dropped, as rsync 3.5.0), the client's `--address` and `-4`/`-6`, and
//! the `name converter` (its mapping, and its refusal of names that would
//! forge a request or an answer that would mean uid 0).
use super::daemon::{root, start, start_with, url, Daemon};
use super::fakepeer::{Peer, SERVER_FLAGS};
use super::util::{oxsync_bin, rsync_bin, run, Run};
use protocol::flist::{write_id_list, FileEntry, FlistEncoder, S_IFREG};
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use std::time::{Duration, Instant};

fn log(d: &Daemon) -> String {
    fs::read_to_string(root(d).join("daemon.log")).unwrap_or_default()
}

/// Waits (up to 20 s) for the daemon's log to hold `what`.
fn wait_log(d: &Daemon, what: &str) -> String {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let text = log(d);
        if text.contains(what) || Instant::now() >= until {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Connects, sends `header` then a greeting asking for module `m`, and
/// returns everything the daemon wrote before it closed.
fn probe(d: &Daemon, header: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", d.port())).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut all = header.to_vec();
    all.extend_from_slice(b"@RSYNCD: 30.0\nm\n");
    // A daemon that drops us may close before all of it is written.
    let _ = s.write_all(&all);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn v1(line: &str) -> Vec<u8> {
    format!("PROXY {line}\r\n").into_bytes()
}

const V2_SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

fn v2(cmd: u8, fam: u8, addr: &[u8]) -> Vec<u8> {
    let mut v = V2_SIG.to_vec();
    v.extend_from_slice(&[0x20 | cmd, fam]);
    v.extend_from_slice(&(addr.len() as u16).to_be_bytes());
    v.extend_from_slice(addr);
    v
}

fn v2_ip4(src: [u8; 4]) -> Vec<u8> {
    let mut a = src.to_vec();
    a.extend_from_slice(&[127, 0, 0, 1, 0x9c, 0x40, 0x03, 0x69]);
    v2(1, 0x11, &a)
}

/// Trusted peer (127.0.0.0/8); the module admits only the proxied
/// 10.0.0.0/8, so an answer of OK shows the header's address was checked.
const TRUSTED: &str = "proxy protocol = yes\nproxy protocol hosts = 127.0.0.0/8\n\
reverse lookup = no\n[m]\npath = %ROOT%/mod\nhosts allow = 10.0.0.0/8 fd00::/8\n";

#[test]
fn a_trusted_proxy_header_names_the_client() {
    let d = start(&oxsync_bin(), TRUSTED);
    let ok = |hdr: &[u8], addr: &str| {
        let out = probe(&d, hdr);
        assert!(
            out.starts_with("@RSYNCD: ") && out.contains("@RSYNCD: OK"),
            "{addr}: {out:?}\n{}",
            log(&d)
        );
        let text = wait_log(&d, &format!("connect from UNKNOWN ({addr})"));
        assert!(
            text.contains(&format!("connect from UNKNOWN ({addr})")),
            "{text}"
        );
    };
    ok(&v1("TCP4 10.1.2.3 127.0.0.1 40000 873"), "10.1.2.3");
    ok(&v1("TCP6 fd00::1234 ::1 40000 873"), "fd00::1234");
    ok(&v2_ip4([10, 9, 8, 7]), "10.9.8.7");
    let mut six = [0u8; 36];
    six[0] = 0xfd;
    six[15] = 0xcd;
    ok(&v2(1, 0x21, &six), "fd00::cd");
    // A proxied client outside the module's hosts allow is refused by its
    // own address; UNKNOWN and LOCAL leave the socket's 127.0.0.1.
    for (hdr, addr) in [
        (v1("TCP4 192.168.1.1 127.0.0.1 40000 873"), "192.168.1.1"),
        (v2_ip4([172, 16, 0, 1]), "172.16.0.1"),
        (v1("UNKNOWN"), "127.0.0.1"),
        (v2(0, 0, &[]), "127.0.0.1"),
        (v2(1, 0x31, &[0; 4]), "127.0.0.1"),
    ] {
        let out = probe(&d, &hdr);
        assert!(
            out.starts_with("@RSYNCD: ") && out.contains("@ERROR: access denied"),
            "{addr}: {out:?}"
        );
        let line = format!("refused UNKNOWN ({addr}): access denied");
        assert!(wait_log(&d, &line).contains(&line), "{}", log(&d));
    }
}

#[test]
fn a_bad_or_untrusted_proxy_header_gets_no_greeting() {
    let d = start(&oxsync_bin(), TRUSTED);
    let mut oversize = V2_SIG.to_vec();
    oversize.extend_from_slice(&[0x21, 0x11, 0x10, 0x00]);
    oversize.extend_from_slice(&[0; 12]);
    let mut ver3 = v2_ip4([10, 1, 1, 1]);
    ver3[12] = 0x31;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("short v1", v1("TCP4 10.1.2.3")),
        ("bad family", v1("TCP9 10.1.2.3 127.0.0.1 40000 873")),
        ("bad port", v1("TCP4 10.1.2.3 127.0.0.1 abc 873")),
        (
            "overlong v1",
            format!("PROXY TCP4 {}", "1".repeat(200)).into_bytes(),
        ),
        ("no header", b"GET / HTTP/1.0\r\n\r\n".to_vec()),
        ("v2 version 3", ver3),
        ("v2 4096-byte block", oversize),
        ("v2 short TCPv4 block", v2(1, 0x11, &[0; 8])),
        ("v2 command 7", v2(7, 0x11, &[0; 12])),
        ("nothing", Vec::new()),
    ];
    for (what, hdr) in &cases {
        let out = probe(&d, hdr);
        assert!(!out.contains("@RSYNCD"), "{what}: greeted: {out:?}");
    }
    let text = wait_log(&d, "bad PROXY header");
    assert!(
        text.contains("bad PROXY header from 127.0.0.1: PROXY v2 address block of 4096 bytes"),
        "{text}"
    );
    assert!(!text.contains("connect from"), "{text}");

    // Without `proxy protocol hosts` (or with one that does not list the
    // peer) nobody is trusted, and the header is never read.
    for (global, warned) in [("", true), ("proxy protocol hosts = 10.0.0.0/8\n", false)] {
        let d = start(
            &oxsync_bin(),
            &format!("proxy protocol = yes\n{global}reverse lookup = no\n[m]\npath = %ROOT%/mod\n"),
        );
        for hdr in [v1("TCP4 127.0.0.1 127.0.0.1 1 2"), v2_ip4([127, 0, 0, 1])] {
            let out = probe(&d, &hdr);
            assert!(!out.contains("@RSYNCD"), "untrusted peer greeted: {out:?}");
        }
        let line = "proxy protocol rejected from untrusted peer UNDETERMINED (127.0.0.1)";
        let text = wait_log(&d, line);
        assert!(text.contains(line), "{text}");
        assert_eq!(
            text.contains("\"proxy protocol hosts\" is unset"),
            warned,
            "{text}"
        );
    }
}

/// Pulls module `m` with oxsync and `extra` client options.
fn pull(d: &Daemon, host: &str, extra: &[&str]) -> Run {
    let r = root(d);
    let _ = fs::remove_dir_all(r.join("dst"));
    run(
        Command::new(oxsync_bin())
            .arg("-r")
            .args(extra)
            .arg(format!("rsync://{host}:{}/m/", d.port()))
            .arg(format!("{}/", r.join("dst").display())),
        &r,
    )
}

#[test]
fn client_address_binds_the_outgoing_socket() {
    let d = start(
        &oxsync_bin(),
        "reverse lookup = no\n[m]\npath = %ROOT%/mod\nhosts allow = 127.0.0.2\n",
    );
    fs::write(root(&d).join("mod/f"), b"ADDRESS\n").expect("write");
    // From 127.0.0.1 the module refuses; bound to 127.0.0.2 it admits.
    let out = pull(&d, "127.0.0.1", &[]);
    assert_eq!(out.code, Some(5), "{out:?}");
    pull(&d, "127.0.0.1", &["--address=127.0.0.2"]).assert_code(0);
    assert_eq!(
        fs::read(root(&d).join("dst/f")).expect("pulled"),
        b"ADDRESS\n"
    );
    assert!(
        log(&d).contains("connect from UNKNOWN (127.0.0.2)"),
        "{}",
        log(&d)
    );
    pull(&d, "localhost", &["-4", "--address", "127.0.0.2"]).assert_code(0);
    // -6 finds no IPv6 address for an IPv4 literal.
    let out = pull(&d, "127.0.0.1", &["-6"]);
    assert_eq!(out.code, Some(10), "{out:?}");
    assert!(out.stderr.contains("no IPv6 address"), "{out:?}");
    // An address this host does not have cannot be bound.
    let out = pull(&d, "127.0.0.1", &["--address=192.0.2.1"]);
    assert_eq!(out.code, Some(10), "{out:?}");
    assert!(
        out.stderr
            .contains("cannot bind to the local address 192.0.2.1"),
        "{out:?}"
    );
}

/// A converter that logs each request to `requests` beside it and
/// answers from a table; anything else gets an empty line (unknown).
const CONVERTER: &str = "#!/bin/sh\nwhile IFS= read -r line; do\n\
printf '%s\\n' \"$line\" >> \"$(dirname \"$0\")/requests\"\n\
case \"$line\" in 'usr alice'|'usr daemon') echo 4242;; 'grp staff'|'grp daemon') echo 4343;; \
'uid 4242') echo daemon;; 'usr sys') echo 12x;; *) echo;; esac\ndone\n";

fn converter_module(d: &Daemon) -> std::path::PathBuf {
    let dir = root(d).join("cvt");
    fs::create_dir_all(&dir).expect("mkdir");
    let script = dir.join("convert");
    fs::write(&script, CONVERTER).expect("script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

const CONVERTED: &str = "[m]\npath = %ROOT%/mod\nread only = no\nnumeric ids = no\n\
name converter = %ROOT%/cvt/convert\nlandlock allow = %ROOT%/cvt:rw\n";

/// A hostile sender's user names reach the converter only when safe: a
/// name with a newline (which would forge a second request) is refused
/// with rsync 3.5.0's message, to the client and in the log.
#[test]
fn name_converter_refuses_names_with_control_characters() {
    let s = super::util::Scratch::new();
    let (module, cvt) = (s.path("mod"), s.path("cvt"));
    fs::create_dir_all(&module).expect("mkdir");
    fs::create_dir_all(&cvt).expect("mkdir");
    fs::write(cvt.join("convert"), CONVERTER).expect("script");
    fs::set_permissions(cvt.join("convert"), fs::Permissions::from_mode(0o755)).expect("chmod");
    let me = fs::metadata(s.root()).expect("stat");
    let conf = s.path("rsyncd.conf");
    let log = s.path("daemon.log");
    fs::write(
        &conf,
        format!(
            "use chroot = no\nuid = {}\ngid = {}\nlog file = {}\nlock file = {}\n{}",
            me.uid(),
            me.gid(),
            log.display(),
            s.path("lock").display(),
            CONVERTED.replace("%ROOT%", &s.root().to_string_lossy())
        ),
    )
    .expect("conf");
    let mut peer = Peer::start_daemon(&conf, "m", &["--server", SERVER_FLAGS, ".", "m/"]);
    let mut enc = FlistEncoder::new(peer.flist_options());
    let mut data = Vec::new();
    for (name, uid) in [(&b"a"[..], 1000), (b"b", 1001), (b"c", 1002)] {
        enc.encode(
            &mut data,
            &FileEntry {
                name: name.to_vec().into(),
                mode: S_IFREG | 0o644,
                uid,
                gid: 2000,
                ..FileEntry::default()
            }
            .with_mtime(1_700_000_000),
        );
    }
    enc.encode_end(&mut data, 0);
    let id0: Option<&[u8]> = peer.id0_names().then_some(b"root");
    let users = [
        (1000, b"bad\nname".to_vec()),
        (1001, b"alice".to_vec()),
        (1002, b"tab\there".to_vec()),
    ];
    write_id_list(&mut data, &users, id0);
    write_id_list(&mut data, &[(2000, b"staff".to_vec())], id0);
    peer.send(&data);
    let out = peer.finish();
    let diags = out.diagnostics().join("\n");
    let text = fs::read_to_string(&log).unwrap_or_default();
    // The log escapes a newline (not a tab) as it escapes any line.
    for (shown, logged) in [
        ("bad\\#012name", "bad\\#012name"),
        ("tab\\#011here", "tab\there"),
    ] {
        let line = format!("invalid name-converter token: {shown}");
        assert!(diags.contains(&line), "client not told {line}:\n{diags}");
        let line = format!("invalid name-converter token: {logged}");
        assert!(text.contains(&line), "not logged {line}:\n{text}");
    }
    // Only the safe names were asked for; "name" never became a request.
    let asked = fs::read_to_string(cvt.join("requests")).unwrap_or_default();
    let mut lines: Vec<&str> = asked.lines().collect();
    lines.retain(|l| !l.ends_with(" root")); // the id-0 names, when sent
    assert_eq!(lines, ["usr alice", "grp staff"], "{text}");
    assert!(!text.contains("\nname"), "{text}");
}

/// The converter maps the names a pushing rsync sends (as root, so the
/// daemon can give files any owner) and names the ids a daemon sender
/// sends; an empty or non-numeric answer leaves the sender's id, never 0.
#[test]
fn name_converter_maps_names_both_ways() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to give files other owners");
        return;
    }
    let d = start(&oxsync_bin(), CONVERTED);
    let cvt = converter_module(&d);
    let src = root(&d).join("src");
    // Debian's users daemon (1), bin (2), sys (3) and group daemon (1).
    let passwd = fs::read_to_string("/etc/passwd").expect("passwd");
    for entry in ["daemon:x:1:", "bin:x:2:", "sys:x:3:"] {
        assert!(passwd.contains(entry), "the test needs {entry}");
    }
    for (f, uid) in [("one", 1), ("two", 2), ("three", 3)] {
        fs::write(src.join(f), f).expect("write");
        std::os::unix::fs::chown(src.join(f), Some(uid), Some(1)).expect("chown");
    }
    run(
        Command::new(rsync_bin())
            .arg("-a")
            .arg(format!("{}/", src.display()))
            .arg(url(&d, "m/")),
        &root(&d),
    )
    .assert_code(0);
    let owner = |p: &str| {
        let m = fs::metadata(root(&d).join("mod").join(p)).expect("stat");
        (m.uid(), m.gid())
    };
    // daemon -> 4242 and group daemon -> 4343; bin's empty answer and
    // sys's "12x" leave the sender's ids.
    assert_eq!(owner("one"), (4242, 4343), "{}", log(&d));
    assert_eq!(owner("two"), (2, 4343), "{}", log(&d));
    assert_eq!(owner("three"), (3, 4343), "{}", log(&d));
    let asked = fs::read_to_string(cvt.join("requests")).unwrap_or_default();
    for req in ["usr daemon\n", "usr bin\n", "usr sys\n", "grp daemon\n"] {
        assert_eq!(asked.matches(req).count(), 1, "{req:?} in {asked}");
    }

    // A pull: the daemon sends the converter's name for uid 4242
    // ("daemon"), which the client maps to its own uid 1.
    let dst = root(&d).join("dst");
    run(
        Command::new(rsync_bin())
            .arg("-a")
            .arg(url(&d, "m/one"))
            .arg(format!("{}/", dst.display())),
        &root(&d),
    )
    .assert_code(0);
    let asked = fs::read_to_string(cvt.join("requests")).unwrap_or_default();
    assert!(asked.contains("uid 4242\n"), "{asked}\n{}", log(&d));
    assert_eq!(fs::metadata(dst.join("one")).expect("stat").uid(), 1);
}

/// `--sockopts`: known options are set on the daemon connection, an
/// unknown one is reported and the transfer goes on, as stock rsync does.
#[test]
fn client_sockopts_are_applied_and_unknown_ones_reported() {
    let d = start(&oxsync_bin(), "[m]\npath = %ROOT%/mod\nread only = no\n");
    let s = super::util::Scratch::new();
    fs::create_dir_all(s.path("src")).unwrap();
    fs::write(s.path("src/f"), b"payload\n").unwrap();
    for (i, client) in [oxsync_bin(), rsync_bin()].into_iter().enumerate() {
        let mut c = Command::new(client);
        c.args([
            "-r",
            "--sockopts=SO_KEEPALIVE,BOGUS,SO_SNDBUF=8192,TCP_NODELAY",
        ])
        .arg(format!("{}/", s.path("src").display()))
        .arg(url(&d, &format!("m/to{i}/")));
        let r = run(&mut c, &s.logs());
        r.assert_code(0);
        assert!(r.stderr.contains("Unknown socket option BOGUS"), "{r:?}");
        let got = fs::read(d.root().join(format!("mod/to{i}/f"))).unwrap();
        assert_eq!(got, b"payload\n");
    }
}

/// `ss ARGS sport = :PORT`, its lines.
fn ss(args: &[&str], port: u16) -> Vec<String> {
    let port = format!(":{port}");
    let out = Command::new("ss")
        .args(args)
        .args(["sport", "=", &port])
        .output()
        .expect("ss (iproute2)");
    assert!(out.status.success(), "ss {args:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `socket options` (or the daemon's `--sockopts`, which wins) are set on
/// the listening socket, whose connections inherit them; `listen backlog`
/// is its backlog (5 by default); every connection is kept alive; an
/// unknown option is logged and the others still set (upstream socket.c
/// open_socket_in(), start_accept_loop(), set_socket_options()).
#[test]
fn socket_options_and_listen_backlog_reach_the_sockets() {
    let cases: [(&str, &[&str], Option<u32>, u32); 3] = [
        ("", &[], None, 5),
        (
            "socket options = SO_FOO, SO_RCVBUF=40000\nlisten backlog = 17\n",
            &[],
            Some(80000),
            17,
        ),
        (
            "socket options = SO_RCVBUF=40000\n",
            &["--sockopts=SO_RCVBUF=50000,TCP_NODELAY"],
            Some(100000),
            5,
        ),
    ];
    for (globals, args, rcvbuf, backlog) in cases {
        let d = start_with(
            &oxsync_bin(),
            &format!("{globals}[mod]\npath = %ROOT%/mod\n"),
            &[],
            args,
        );
        // Listening: State Recv-Q Send-Q(= the backlog) Local Peer.
        let listening = ss(&["-tlnH"], d.port());
        assert!(!listening.is_empty(), "{globals:?}: no listening socket");
        for l in &listening {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f[2], backlog.to_string(), "{globals:?} {args:?}: {l}");
        }
        let mut s = TcpStream::connect(("127.0.0.1", d.port())).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut greeting = [0u8; 9];
        s.read_exact(&mut greeting).expect("greeting");
        assert_eq!(&greeting, b"@RSYNCD: ");
        let conn = ss(&["-tnmoH", "state", "established"], d.port()).join(" ");
        // The kernel doubles SO_RCVBUF (socket(7)): skmem's rb.
        let rb = conn
            .split(|c: char| c == ',' || c == '(' || c.is_whitespace())
            .find_map(|w| w.strip_prefix("rb").and_then(|n| n.parse::<u32>().ok()))
            .unwrap_or_else(|| panic!("no rb in {conn:?}"));
        match rcvbuf {
            Some(want) => assert_eq!(rb, want, "{globals:?} {args:?}: {conn}"),
            None => assert!(rb != 80000 && rb != 100000, "{conn}"),
        }
        assert!(conn.contains("keepalive"), "{globals:?}: {conn}");
        drop(s);
        if globals.contains("SO_FOO") {
            let text = wait_log(&d, "Unknown socket option SO_FOO");
            assert!(text.contains("Unknown socket option SO_FOO"), "{text}");
        }
    }
}
