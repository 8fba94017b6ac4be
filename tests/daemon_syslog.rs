//! Without a `log file`, the daemon's lines go to syslog, as upstream's:
//! one datagram each to `/dev/log`, `<PRI>Mmm dd hh:mm:ss TAG[PID]: msg`,
//! with the `syslog facility` and `syslog tag` parameters. Each daemon
//! runs in a mount namespace of its own whose `/dev/log` is the test's
//! socket; stock rsync's daemon gives the reference.
use crate::util::{oxsync_bin, rsync_bin};
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the daemon when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin --daemon` with `conf`, its `/dev/log` being `sock`;
/// returns it with its port.
fn start(dir: &Path, bin: &Path, conf: &Path, sock: &Path) -> (Running, u16) {
    let wrap = dir.join("wrap");
    fs::write(
        &wrap,
        "#!/bin/sh\nexec unshare -m sh -c \
         'mount -t tmpfs none /dev && ln -s \"$0\" /dev/log && exec \"$@\"' \"$@\"\n",
    )
    .expect("wrapper");
    fs::set_permissions(&wrap, fs::Permissions::from_mode(0o755)).expect("chmod");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let child = Command::new(&wrap)
        .arg(sock)
        .arg(bin)
        .args(["--daemon", "--no-detach", "--port", &port.to_string()])
        .arg(format!("--config={}", conf.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start daemon");
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} did not listen",
            bin.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (running, port)
}

/// The datagrams received until one holds `want` (or 10 s pass).
fn datagrams_until(sock: &UnixDatagram, want: &str) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = line.contains(want);
            got.push(line);
            if done {
                break;
            }
        }
    }
    got
}

#[test]
fn without_a_log_file_lines_go_to_syslog() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (a mount namespace)");
        return;
    }
    for bin in [oxsync_bin(), rsync_bin()] {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock_path = dir.path().join("log.sock");
        let sock = UnixDatagram::bind(&sock_path).expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        fs::create_dir_all(dir.path().join("mod")).expect("mkdir");
        let conf = dir.path().join("rsyncd.conf");
        fs::write(
            &conf,
            format!(
                "use chroot = no\nsyslog facility = local5\nsyslog tag = oxtest\n\
                 [m]\npath = {}/mod\n",
                dir.path().display()
            ),
        )
        .expect("conf");
        let (_daemon, port) = start(dir.path(), &bin, &conf, &sock_path);
        let out = Command::new(rsync_bin())
            .arg(format!("rsync://127.0.0.1:{port}/"))
            .output()
            .expect("run rsync");
        let who = bin.display().to_string();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{who}: {err}");
        let got = datagrams_until(&sock, "module-list request");
        // local5 (21) * 8 + info (6)
        let line = got
            .iter()
            .find(|l| l.contains("connect from"))
            .unwrap_or_else(|| panic!("{who}: no connect line in {got:?}"));
        assert!(line.starts_with("<174>"), "{who}: {line}");
        let (head, msg) = line.split_once("]: ").expect("tag");
        assert!(head.contains(" oxtest["), "{who}: {line}");
        // (The host name depends on the lookup inside the namespace.)
        assert!(msg.starts_with("connect from "), "{who}: {line}");
        assert!(msg.trim_end().ends_with(" (127.0.0.1)"), "{who}: {line}");
        assert!(
            got.iter()
                .any(|l| l.contains("]: module-list request from ")),
            "{who}: {got:?}"
        );
    }
}
