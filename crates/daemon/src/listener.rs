//! `oxsync --daemon`: the command line, and the three ways a daemon runs.
//!
//! * Listener: bind (or take a socket from systemd), accept, and hand each
//!   connection to a fresh process of this binary with the socket as its
//!   stdin and stdout, so every connection owns a whole process.
//! * Connection (inetd mode): stdin is a connected socket; serve it once.
//!   The listener's children run this way too.
//! * `--server --daemon` (daemon over a remote shell): the same session
//!   over stdin and stdout pipes.
use crate::access::{Peer, SystemResolver};
use crate::config::{canonical_key, Config};
use crate::log::Log;
use crate::session::{serve, Settings, Streams};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Set in a connection process started by the listener.
pub const ENV_CHILD: &str = "OXSYNC_DAEMON_CHILD";
/// The peer address a listener passes to a connection process.
pub const ENV_PEER: &str = "OXSYNC_DAEMON_PEER";
/// Set in the re-executed, detached listener.
const ENV_DETACHED: &str = "OXSYNC_DAEMON_DETACHED";
/// Set when stdin is the listening socket (systemd `Accept=no`, or
/// `LISTEN_FDS` moved onto stdin).
const ENV_LISTEN_STDIN: &str = "OXSYNC_DAEMON_LISTEN_STDIN";

/// The daemon's command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonArgs {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--port N`.
    pub port: Option<u16>,
    /// `--address A`.
    pub address: Option<String>,
    /// `--no-detach`.
    pub no_detach: bool,
    /// `--log-file F`.
    pub log_file: Option<PathBuf>,
    /// `--log-file-format FMT`: every module's transfer log format, on
    /// whether or not `transfer logging` is (empty: none).
    pub log_file_format: Option<String>,
    /// `-M` / `--dparam KEY=VALUE`, in order.
    pub dparams: Vec<(String, String)>,
    /// `--bwlimit N` in KiB per second (caps every session's writes).
    pub bwlimit: Option<String>,
    /// `--sockopts OPTIONS`: the listening socket's options, instead of
    /// the `socket options` parameter.
    pub sockopts: Option<String>,
    /// `--server` (daemon over a remote shell).
    pub server: bool,
    /// `--help` / `-h`: print the daemon's usage and exit.
    pub help: bool,
}

/// The daemon's options: long name, short letter, whether it takes a value,
/// and its `--daemon --help` line (upstream help-rsyncd.h order and words).
/// The parser and the usage text both read this table.
#[rustfmt::skip]
pub const DAEMON_OPTIONS: &[(&str, Option<char>, bool, &str)] = &[
    ("daemon", None, false, "--daemon                 run as an rsync daemon"),
    ("address", None, true, "--address=ADDRESS        bind to the specified address"),
    ("bwlimit", None, true, "--bwlimit=RATE           limit socket I/O bandwidth"),
    ("config", None, true, "--config=FILE            specify alternate rsyncd.conf file"),
    ("dparam", Some('M'), true, "--dparam=OVERRIDE, -M    override global daemon config parameter"),
    ("detach", None, false, "--detach                 detach from the parent (the default)"),
    ("no-detach", None, false, "--no-detach              do not detach from the parent"),
    ("port", None, true, "--port=PORT              listen on alternate port number"),
    ("log-file", None, true, "--log-file=FILE          override the \"log file\" setting"),
    ("log-file-format", None, true, "--log-file-format=FMT    override the \"log format\" setting"),
    ("sockopts", None, true, "--sockopts=OPTIONS       specify custom TCP options"),
    ("verbose", Some('v'), false, "--verbose, -v            increase verbosity"),
    ("ipv4", Some('4'), false, "--ipv4, -4               prefer IPv4"),
    ("ipv6", Some('6'), false, "--ipv6, -6               prefer IPv6"),
    ("help", Some('h'), false, "--help, -h               show this help (when used with --daemon)"),
];

/// The daemon's internal option: `--server --daemon` over a remote shell.
pub const DAEMON_INTERNAL: &[&str] = &["server", "no-verbose", "no-v"];

/// `oxsync --daemon --help` after the version text (upstream usage.c
/// daemon_usage()), generated from [`DAEMON_OPTIONS`].
pub fn daemon_usage() -> String {
    let mut out = String::from("Usage: oxsync --daemon [OPTION]...\n");
    for (_, _, _, line) in DAEMON_OPTIONS {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(
        "\nIf you were not trying to invoke rsync as a daemon, avoid using any of the\n\
         daemon-specific rsync options.  See also the oxsyncd.conf(5) manpage.\n",
    );
    out
}

/// A daemon command line that cannot be accepted (printed after "rsync: ",
/// exit 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DaemonArgError {
    /// An option the daemon does not have, as written.
    #[error("{0}: unknown daemon option")]
    Unknown(String),
    /// An option that takes a value, last on the line.
    #[error("--{0} needs a value")]
    NeedsValue(String),
    /// `--NAME=VALUE` for an option without one.
    #[error("--{0}: option does not take an argument")]
    NoArgument(String),
    /// `--port` that is no port number.
    #[error("--port={0}: invalid port")]
    Port(String),
    /// `--dparam` without `=`.
    #[error("--dparam={0}: needs KEY=VALUE")]
    Dparam(String),
}

/// Why the configuration cannot be used (printed after "rsync: ", exit 1).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file, or a `--dparam` read as a line of it.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// A `--dparam` the configuration would only warn about.
    #[error("{0}")]
    Dparam(String),
}

/// Parses the daemon's arguments (without argv\[0\]).
pub fn parse_args(args: &[OsString]) -> Result<DaemonArgs, DaemonArgError> {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut d = DaemonArgs::default();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        let (name, inline) = match w.strip_prefix("--") {
            Some(b) => match b.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (b.to_string(), None),
            },
            None if w == "." => continue,
            None => {
                // -M takes its value attached or as the next word.
                let mut chars = w.chars().skip(1);
                let long = match (w.starts_with('-'), chars.next()) {
                    (true, Some(c)) => DAEMON_OPTIONS.iter().find(|o| o.1 == Some(c)),
                    _ => None,
                };
                match long {
                    Some(o) if o.2 => (
                        o.0.to_string(),
                        Some(w[2..].to_string()).filter(|v| !v.is_empty()),
                    ),
                    Some(o) if w.len() == 2 => (o.0.to_string(), None),
                    _ => return Err(DaemonArgError::Unknown(w.clone())),
                }
            }
        };
        let takes = match DAEMON_OPTIONS.iter().find(|o| o.0 == name) {
            Some(o) => o.2,
            None if DAEMON_INTERNAL.contains(&name.as_str()) => false,
            None => return Err(DaemonArgError::Unknown(format!("--{name}"))),
        };
        let value = if takes {
            match inline {
                Some(v) => Some(v),
                None => {
                    let v = words
                        .get(i)
                        .cloned()
                        .ok_or_else(|| DaemonArgError::NeedsValue(name.clone()))?;
                    i += 1;
                    Some(v)
                }
            }
        } else if inline.is_some() {
            return Err(DaemonArgError::NoArgument(name));
        } else {
            None
        };
        let v = value.unwrap_or_default();
        match name.as_str() {
            // -v: accepted as upstream's; the daemon's log has no levels.
            "daemon" | "detach" | "ipv4" | "ipv6" | "verbose" | "no-verbose" | "no-v" => {}
            "log-file-format" => d.log_file_format = Some(v),
            "no-detach" => d.no_detach = true,
            "help" => d.help = true,
            "server" => d.server = true,
            "config" => d.config = Some(PathBuf::from(v)),
            "port" => d.port = Some(v.parse().map_err(|_| DaemonArgError::Port(v.clone()))?),
            "address" => d.address = Some(v),
            "log-file" => d.log_file = Some(PathBuf::from(v)),
            "bwlimit" => d.bwlimit = Some(v),
            "sockopts" => d.sockopts = Some(v),
            "dparam" => {
                let (k, val) = v
                    .split_once('=')
                    .ok_or_else(|| DaemonArgError::Dparam(v.clone()))?;
                d.dparams
                    .push((k.trim().to_string(), val.trim().to_string()));
            }
            _ => return Err(DaemonArgError::Unknown(format!("--{name}"))),
        }
    }
    Ok(d)
}

/// The daemon's entry point; returns the process exit code.
pub fn run(args: &[OsString]) -> i32 {
    let d = match parse_args(args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("rsync: {e}");
            return protocol::exit::RERR_SYNTAX;
        }
    };
    if d.help {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out
            .write_all(daemon_usage().as_bytes())
            .and_then(|()| out.flush());
        return 0;
    }
    let config_path = d.config.clone().unwrap_or_else(|| {
        if d.server && !rustix::process::geteuid().is_root() {
            PathBuf::from("rsyncd.conf")
        } else {
            PathBuf::from("/etc/rsyncd.conf")
        }
    });
    let cfg = match load(&config_path, &d.dparams) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rsync: {e}");
            return protocol::exit::RERR_SYNTAX;
        }
    };
    let child = std::env::var_os(ENV_CHILD).is_some();
    let settings = Settings {
        // Before a module is named: `handshake timeout`, else the global
        // `timeout` bounded as upstream bounds it.
        handshake_timeout: Duration::from_secs(match cfg.globals.int("handshake timeout", 0) {
            n if n > 0 => n as u64,
            _ => crate::session::handshake_secs(cfg.defaults.int("timeout", 0)),
        }),
        log_file: d.log_file.clone(),
        log_format: d.log_file_format.clone(),
        stderr_log: child && std::env::var_os("OXSYNC_DAEMON_STDERR_LOG").is_some(),
        bwlimit: match d.bwlimit.as_deref().map(str::parse::<u64>) {
            None => 0,
            Some(Ok(kib)) => kib,
            Some(Err(_)) => {
                eprintln!(
                    "rsync: --bwlimit={}: invalid numeric value",
                    d.bwlimit.as_deref().unwrap_or_default()
                );
                return protocol::exit::RERR_SYNTAX;
            }
        },
    };
    if d.server {
        return serve_pipes(&cfg, &settings);
    }
    if child {
        let peer = std::env::var(ENV_PEER)
            .ok()
            .and_then(|p| p.parse::<SocketAddr>().ok())
            .map(|a| Peer::new(a.ip()));
        return serve_stdin_socket(peer, &cfg, &settings);
    }
    if std::env::var_os(ENV_LISTEN_STDIN).is_none() && stdin_is_socket() {
        // A listening socket handed over on stdin (systemd `Accept=no`).
        if rustix::net::sockopt::socket_acceptconn(io::stdin().as_fd()).unwrap_or(false) {
            return listen(&d, &config_path, cfg, true);
        }
        // inetd mode: a connected socket, TCP or Unix-domain (a socket
        // pair from RSYNC_CONNECT_PROG or a test harness).
        return match stdin_peer() {
            Ok(peer) => serve_stdin_socket(Some(peer), &cfg, &settings),
            Err(e) => {
                eprintln!("rsync: getpeername on fd0 failed: {e}");
                protocol::exit::RERR_SOCKETIO
            }
        };
    }
    listen(
        &d,
        &config_path,
        cfg,
        std::env::var_os(ENV_LISTEN_STDIN).is_some(),
    )
}

/// Loads the configuration and applies `--dparam` overrides (global
/// parameters to the global section, module parameters to every module).
pub fn load(path: &std::path::Path, dparams: &[(String, String)]) -> Result<Config, LoadError> {
    let mut cfg = Config::load(path)?;
    for (k, v) in dparams {
        let key = canonical_key(k);
        let probe = Config::parse_str(&format!("{k} = {v}\n"), std::path::Path::new("--dparam"))?;
        if let Some(w) = probe.warnings.first() {
            return Err(LoadError::Dparam(w.clone()));
        }
        if probe.globals.get(&key).is_some() {
            cfg.globals.set(&key, v);
        } else {
            cfg.defaults.set(&key, v);
            for m in &mut cfg.modules {
                m.params.set(&key, v);
            }
        }
    }
    Ok(cfg)
}

fn stdin_is_socket() -> bool {
    rustix::fs::fstat(io::stdin().as_fd())
        .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Socket)
        .unwrap_or(false)
}

/// The peer of the connected socket on stdin: its IP address, or
/// [`Peer::local`] for a Unix-domain socket.
// upstream: clientname.c:client_addr() (getnameinfo gives "localhost" for AF_UNIX)
fn stdin_peer() -> io::Result<Peer> {
    let fd = io::stdin().as_fd().try_clone_to_owned()?;
    let fd2 = fd.try_clone()?;
    match TcpStream::from(fd).peer_addr() {
        Ok(a) => Ok(Peer::new(a.ip())),
        Err(e) => match std::os::unix::net::UnixStream::from(fd2).peer_addr() {
            Ok(_) => Ok(Peer::local()),
            Err(_) => Err(e),
        },
    }
}

fn stdin_stream() -> io::Result<TcpStream> {
    Ok(TcpStream::from(io::stdin().as_fd().try_clone_to_owned()?))
}

fn serve_stdin_socket(peer: Option<Peer>, cfg: &Config, settings: &Settings) -> i32 {
    match stdin_stream() {
        Ok(s) => serve_stream(s, peer, cfg, settings),
        Err(e) => {
            eprintln!("rsync: daemon: stdin is not usable: {e}");
            protocol::exit::RERR_SOCKETIO
        }
    }
}

fn serve_stream(s: TcpStream, peer: Option<Peer>, cfg: &Config, settings: &Settings) -> i32 {
    let peer = peer
        .or_else(|| s.peer_addr().ok().map(|a| Peer::new(a.ip())))
        .unwrap_or_else(|| Peer::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    let (r, t) = match (s.try_clone(), s.try_clone()) {
        (Ok(r), Ok(t)) => (r, t),
        _ => return protocol::exit::RERR_SOCKETIO,
    };
    let streams = Streams {
        reader: Box::new(r),
        writer: Box::new(s),
        set_timeout: Box::new(move |d| {
            let _ = t.set_read_timeout(d);
        }),
    };
    serve(streams, peer, cfg, settings, &SystemResolver)
}

fn serve_pipes(cfg: &Config, settings: &Settings) -> i32 {
    let (i, o) = match (
        io::stdin().as_fd().try_clone_to_owned(),
        io::stdout().as_fd().try_clone_to_owned(),
    ) {
        (Ok(i), Ok(o)) => (i, o),
        _ => return protocol::exit::RERR_IPC,
    };
    let peer = rsh_peer(|k| std::env::var(k).ok());
    let streams = Streams {
        reader: Box::new(File::from(i)),
        writer: Box::new(File::from(o)),
        set_timeout: Box::new(|_| {}),
    };
    serve(streams, Peer::new(peer), cfg, settings, &SystemResolver)
}

/// The client's address for a daemon over a remote shell: the first of
/// REMOTE_HOST, SSH_CONNECTION, SSH_CLIENT, SSH2_CLIENT that is set, up to
/// its first space, when that is an IP address; else 0.0.0.0.
// upstream: clientname.c:client_addr() with am_daemon < 0
fn rsh_peer(env: impl Fn(&str) -> Option<String>) -> IpAddr {
    ["REMOTE_HOST", "SSH_CONNECTION", "SSH_CLIENT", "SSH2_CLIENT"]
        .iter()
        .find_map(|k| env(k))
        .and_then(|v| v.split(' ').next().and_then(|a| a.parse().ok()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The listener. `from_stdin`: stdin is already a listening socket.
fn listen(d: &DaemonArgs, config_path: &std::path::Path, cfg: Config, from_stdin: bool) -> i32 {
    // systemd socket activation (LISTEN_FDS, fd 3): fd 3 cannot be adopted
    // without unsafe code, so the shell moves it onto stdin and this
    // process becomes the daemon again (exec: the same pid, so whatever
    // started it, systemd or a supervisor, still stops it).
    if !from_stdin && systemd_fds() {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("oxsync"));
        let err = Command::new("/bin/sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" <&3 3<&-")
            .arg(exe)
            .args(std::env::args_os().skip(1))
            .env(ENV_LISTEN_STDIN, "1")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .exec();
        eprintln!("cannot re-execute the daemon on the inherited socket: {err}");
        return protocol::exit::RERR_IPC;
    }
    if !d.no_detach && std::env::var_os(ENV_DETACHED).is_none() {
        return detach();
    }
    if std::env::var_os(ENV_DETACHED).is_some() {
        let _ = rustix::process::setsid();
    }
    let log = Log::open_daemon(d.log_file.as_deref(), &cfg.defaults, d.no_detach);
    // Held (locked) while the daemon runs; taken before the port, as
    // upstream's, so a second daemon with the same pid file stops here.
    let _pid_file = match cfg.globals.nonempty("pid file") {
        Some(path) => match crate::pidfile::create(path) {
            Ok(f) => Some(f),
            Err(e) => {
                let msg = e.to_string();
                // (--no-detach copies the log line to stderr.)
                if !d.no_detach {
                    eprintln!("{msg}");
                }
                log.line(&msg);
                return protocol::exit::RERR_FILEIO;
            }
        },
        None => None,
    };
    let listener = if from_stdin {
        match io::stdin().as_fd().try_clone_to_owned() {
            Ok(fd) => TcpListener::from(fd),
            Err(e) => {
                log.line(&format!("cannot use the inherited socket: {e}"));
                return protocol::exit::RERR_SOCKETIO;
            }
        }
    } else {
        let port = d
            .port
            .map(i64::from)
            .unwrap_or_else(|| cfg.globals.int("port", 873));
        let addr = d
            .address
            .clone()
            .or_else(|| cfg.globals.nonempty("address").map(str::to_string));
        let bind_to: Vec<SocketAddr> = match &addr {
            Some(a) => match (a.as_str(), port as u16).to_socket_addrs_vec() {
                Ok(v) => v,
                Err(e) => {
                    log.line(&format!("cannot resolve --address {a}: {e}"));
                    return protocol::exit::RERR_SOCKETIO;
                }
            },
            None => vec![
                SocketAddr::from(([0u8; 16], port as u16)),
                SocketAddr::from(([0u8; 4], port as u16)),
            ],
        };
        let listener = match TcpListener::bind(&bind_to[..]) {
            Ok(l) => l,
            Err(e) => {
                log.line(&format!("bind() failed on port {port}: {e}"));
                eprintln!("rsync: bind() failed on port {port}: {e}");
                return protocol::exit::RERR_SOCKETIO;
            }
        };
        if let Err(code) = tune(&listener, d, &cfg, &log) {
            return code;
        }
        listener
    };
    for w in &cfg.warnings {
        log.line(w);
    }
    // upstream: daemon_main() warns that this fails closed.
    if cfg.globals.bool("proxy protocol", false)
        && cfg
            .globals
            .get("proxy protocol hosts")
            .is_none_or(|h| h.trim().is_empty())
    {
        log.line(
            "\"proxy protocol = true\" but \"proxy protocol hosts\" is unset: all connections \
             will be rejected as untrusted proxy peers.  Set \"proxy protocol hosts\" to your \
             trusted proxy's address.",
        );
    }
    log.line(&format!(
        "oxsync daemon version {} starting, listening on port {}",
        env!("CARGO_PKG_VERSION"),
        listener.local_addr().map(|a| a.port()).unwrap_or_default()
    ));
    accept_loop(listener, d, config_path, &log)
}

/// The listening socket's options (`--sockopts`, else the `socket
/// options` parameter: the connections it accepts inherit them) and its
/// backlog (`listen backlog`, 5 by default), as upstream's
/// open_socket_in() and start_accept_loop() set them.
fn tune(listener: &TcpListener, d: &DaemonArgs, cfg: &Config, log: &Log) -> Result<(), i32> {
    let spec = d
        .sockopts
        .clone()
        .or_else(|| cfg.globals.nonempty("socket options").map(str::to_string));
    if let Some(spec) = spec {
        engine::sockopts::set_options(listener, &spec, &mut |m| log.line(&m));
    }
    // std listened with its own backlog; listen(2) again sets this one.
    let backlog = cfg
        .globals
        .int("listen backlog", 5)
        .clamp(0, i32::MAX as i64) as i32;
    rustix::net::listen(listener, backlog).map_err(|e| {
        log.line(&format!(
            "listen() on socket failed: {}",
            io::Error::from(e)
        ));
        protocol::exit::RERR_SOCKETIO
    })
}

fn systemd_fds() -> bool {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let n = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    pid_ok && n >= 1
}

trait ToAddrs {
    fn to_socket_addrs_vec(&self) -> io::Result<Vec<SocketAddr>>;
}

impl ToAddrs for (&str, u16) {
    fn to_socket_addrs_vec(&self) -> io::Result<Vec<SocketAddr>> {
        std::net::ToSocketAddrs::to_socket_addrs(self).map(Iterator::collect)
    }
}

/// Re-executes this daemon in the background (a new session, stdio on
/// /dev/null) and returns at once.
fn detach() -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("rsync: cannot find my own executable: {e}");
            return protocol::exit::RERR_IPC;
        }
    };
    let spawned = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(ENV_DETACHED, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("rsync: cannot start the daemon in the background: {e}");
            protocol::exit::RERR_IPC
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    d: &DaemonArgs,
    config_path: &std::path::Path,
    log: &Log,
) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            log.line(&format!("cannot find my own executable: {e}"));
            return protocol::exit::RERR_IPC;
        }
    };
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(x) => x,
            Err(e) => {
                log.line(&format!("accept failed: {e}"));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        // upstream start_daemon(): a connection is kept alive.
        if let Err(e) = rustix::net::sockopt::set_socket_keepalive(&stream, true) {
            log.line(&format!(
                "failed to set socket option SO_KEEPALIVE: {}",
                io::Error::from(e)
            ));
        }
        let fd: OwnedFd = stream.into();
        let out_fd = match fd.try_clone() {
            Ok(f) => f,
            Err(e) => {
                log.line(&format!("dup failed: {e}"));
                continue;
            }
        };
        let mut cmd = Command::new(&exe);
        cmd.arg("--daemon")
            .arg("--no-detach")
            .arg("--config")
            .arg(config_path);
        if let Some(f) = &d.log_file {
            cmd.arg("--log-file").arg(f);
        }
        if let Some(f) = &d.log_file_format {
            cmd.arg(format!("--log-file-format={f}"));
        }
        for (k, v) in &d.dparams {
            cmd.arg(format!("--dparam={k}={v}"));
        }
        if let Some(b) = &d.bwlimit {
            cmd.arg(format!("--bwlimit={b}"));
        }
        cmd.env(ENV_CHILD, "1")
            .env(ENV_PEER, peer.to_string())
            .env_remove(ENV_DETACHED)
            .env_remove(ENV_LISTEN_STDIN);
        if d.no_detach {
            cmd.env("OXSYNC_DAEMON_STDERR_LOG", "1");
        }
        cmd.stdin(Stdio::from(fd)).stdout(Stdio::from(out_fd));
        match cmd.spawn() {
            Ok(mut child) => {
                // Reap it when it ends.
                std::thread::spawn(move || child.wait());
            }
            Err(e) => log.line(&format!("cannot start a connection process: {e}")),
        }
        let _ = io::stderr().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn args() {
        let d = parse_args(&a("--daemon --no-detach --port 8873 --config=/x.conf -M motdfile=/m --dparam pidfile=/p --bwlimit=5 --address 127.0.0.1 --log-file /l")).expect("ok");
        assert!(d.no_detach && !d.server);
        assert_eq!(d.port, Some(8873));
        assert_eq!(d.config, Some(PathBuf::from("/x.conf")));
        assert_eq!(
            d.dparams,
            [
                ("motdfile".to_string(), "/m".to_string()),
                ("pidfile".to_string(), "/p".to_string())
            ]
        );
        assert_eq!(d.bwlimit.as_deref(), Some("5"));
        assert_eq!(d.sockopts, None);
        let s = parse_args(&a("--daemon --sockopts SO_KEEPALIVE,SO_RCVBUF=8192")).expect("ok");
        assert_eq!(s.sockopts.as_deref(), Some("SO_KEEPALIVE,SO_RCVBUF=8192"));
        assert_eq!(d.address.as_deref(), Some("127.0.0.1"));
        assert!(parse_args(&a("--server --daemon .")).expect("ok").server);
        assert!(parse_args(&a("--daemon --frob")).is_err());
        assert!(parse_args(&a("--daemon --port x")).is_err());
        assert!(parse_args(&a("--daemon --port")).is_err());
    }

    #[test]
    fn rsh_peer_from_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(rsh_peer(env(&[])).to_string(), "0.0.0.0");
        assert_eq!(
            rsh_peer(env(&[("SSH_CONNECTION", "10.0.0.7 5555 10.0.0.1 22")])).to_string(),
            "10.0.0.7"
        );
        // REMOTE_HOST comes first, and a value that is no address is 0.0.0.0.
        assert_eq!(
            rsh_peer(env(&[
                ("REMOTE_HOST", "::1"),
                ("SSH_CONNECTION", "10.0.0.7 5555 10.0.0.1 22")
            ]))
            .to_string(),
            "::1"
        );
        assert_eq!(
            rsh_peer(env(&[("SSH_CLIENT", "bogus 1 2")])).to_string(),
            "0.0.0.0"
        );
    }

    #[test]
    fn dparams_override() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("c.conf");
        std::fs::write(&p, "port = 1\n[m]\npath = /x\nread only = yes\n").expect("w");
        let cfg = load(
            &p,
            &[
                ("port".into(), "2".into()),
                ("read only".into(), "no".into()),
            ],
        )
        .expect("load");
        assert_eq!(cfg.globals.int("port", 0), 2);
        assert!(!cfg.module("m").expect("m").read_only());
        assert!(load(&p, &[("nonsense".into(), "1".into())]).is_err());
    }
}
