//! The client side of the daemon protocol: `rsync://[user@]host[:port]/module/path`
//! and `[user@]host::module/path`. Connects over TCP, exchanges greetings,
//! lists modules or requests one (answering an auth challenge), sends the
//! server arguments and runs the engine role over the socket.
use daemon::auth;
use daemon::wire;
use engine::out::shared;
use engine::session::our_protocol;
use engine::transfer::{closing_line, run_receiver, run_sender, Input, Link};
use engine::Options;
use protocol::exit;
use std::fs::File;
use std::io::{BufReader, Read, Write};

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Default daemon port.
const RSYNC_PORT: u16 = 873;

/// A daemon address from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSpec {
    /// `user@`, if given.
    pub user: Option<String>,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// `:port` of an rsync:// URL.
    pub port: Option<u16>,
    /// The module ("" asks for the module list).
    pub module: String,
    /// The path as sent to the daemon: `module/rest` ("" when no module).
    pub path: String,
}

/// Parses `rsync://[user@]host[:port][/module[/path]]` or
/// `[user@]host::[module[/path]]`; None for anything else.
// upstream: main.c:check_for_hostspec() / parse_hostspec()
pub fn parse_spec(arg: &str) -> Option<DaemonSpec> {
    let (hostspec, path, url) = if let Some(rest) = arg.strip_prefix("rsync://") {
        match rest.split_once('/') {
            Some((h, p)) => (h, p, true),
            None => (rest, "", true),
        }
    } else {
        let i = arg.find("::")?;
        (&arg[..i], &arg[i + 2..], false)
    };
    let (user, hostport) = match hostspec.rfind('@') {
        Some(at) => (Some(hostspec[..at].to_string()), &hostspec[at + 1..]),
        None => (None, hostspec),
    };
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let (h, after) = inner.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) if url => Some(p.parse().ok()?),
            _ => None,
        };
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) if url && !h.contains(':') => (h.to_string(), Some(p.parse().ok()?)),
            _ => (hostport.to_string(), None),
        }
    };
    // An empty host is kept for rsync:// (upstream parse_hostspec): it
    // fails to resolve, or RSYNC_CONNECT_PROG refuses it.
    if host.is_empty() && !url {
        return None;
    }
    let path = path.trim_start_matches('/');
    let module = path.split('/').next().unwrap_or("").to_string();
    let path = if module.is_empty() {
        String::new()
    } else if path == module {
        format!("{module}/")
    } else {
        path.to_string()
    };
    Some(DaemonSpec {
        user,
        host,
        port,
        module,
        path,
    })
}

/// Runs a transfer (or a module listing) where one side is a daemon.
pub fn run(opts: &Options, batch: Option<engine::batch::LinkBatch>) -> i32 {
    let started = Instant::now();
    let mut args = opts.args.clone();
    if args.len() == 1 {
        let Some(spec) = parse_spec(&args[0]) else {
            return fail("bad daemon address", exit::RERR_SYNTAX);
        };
        if spec.module.is_empty() {
            // After a listing the status of a remote shell does not count
            // (upstream exits at `@RSYNCD: EXIT`; a stock daemon over a
            // remote shell then exits 255).
            return match connect_and_request(opts, &spec, false) {
                Ok(Handshake::Exit(child)) => finish_child(child.map(Helper::reap_only), 0),
                Ok(Handshake::Ready { writer, reader, .. }) => {
                    drop((writer.writer, reader));
                    finish_child(writer.child.map(Helper::reap_only), 0)
                }
                Err(code) => code,
            };
        }
        // A module path alone lists it: a pull whose receiver only prints
        // (list_only is set by the parser, the destination is unused).
        args.push(".".to_string());
    }
    let dest = args.pop().unwrap_or_default();
    let (push, spec, local, remote_paths) = match parse_spec(&dest) {
        Some(spec) => {
            if args.iter().any(|a| {
                parse_spec(a).is_some()
                    || crate::remote::parse_location(a) != crate::remote::Location::Local(a.clone())
            }) {
                return fail(
                    "The source and destination cannot both be remote.",
                    exit::RERR_SYNTAX,
                );
            }
            (true, spec.clone(), args.clone(), vec![spec.path.clone()])
        }
        None => {
            let specs: Vec<DaemonSpec> = match args
                .iter()
                .map(|a| parse_spec(a))
                .collect::<Option<Vec<_>>>()
            {
                Some(v) => v,
                None => {
                    return fail(
                        "The source and destination cannot both be remote.",
                        exit::RERR_SYNTAX,
                    )
                }
            };
            let first = specs[0].clone();
            if specs.iter().any(|s| {
                s.host != first.host
                    || s.port != first.port
                    || s.user != first.user
                    || s.module != first.module
            }) {
                return fail(
                    "all daemon sources must name the same host and module",
                    exit::RERR_SYNTAX,
                );
            }
            if first.module.is_empty() {
                return fail("a daemon source must name a module", exit::RERR_SYNTAX);
            }
            (
                false,
                first,
                vec![dest.clone()],
                specs.iter().map(|s| s.path.clone()).collect(),
            )
        }
    };
    if spec.module.is_empty() {
        return fail(
            "the daemon destination must name a module",
            exit::RERR_SYNTAX,
        );
    }
    let (conn, reader, protocol) = match connect_and_request(opts, &spec, push) {
        Ok(Handshake::Ready {
            writer,
            reader,
            protocol,
        }) => (writer, reader, protocol),
        Ok(Handshake::Exit(child)) => return finish_child(child, 0),
        Err(code) => return code,
    };
    let code = transfer(
        opts,
        push,
        conn.writer,
        reader,
        protocol,
        &local,
        remote_paths,
        (started, batch),
    );
    finish_child(conn.child, code)
}

/// Sends the server arguments and runs this side's role.
#[allow(clippy::too_many_arguments)]
fn transfer(
    opts: &Options,
    push: bool,
    stream: File,
    reader: BufReader<File>,
    protocol: i32,
    local: &[String],
    remote_paths: Vec<String>,
    (started, batch): (Instant, Option<engine::batch::LinkBatch>),
) -> i32 {
    let mut sargs = opts.to_server_args(!push, protocol);
    sargs.push(".".into());
    let requested = (!push).then(|| engine::trust::Requested {
        args: remote_paths.clone(),
        daemon: true,
    });
    sargs.extend(remote_paths);
    // With -s only the options up to the short bundle go as lines; the
    // rest follow NUL-terminated (upstream clientserver.c).
    let protected = if opts.ctl.protect() {
        let at = sargs
            .iter()
            .position(|a| a.starts_with("-s"))
            .map_or(sargs.len(), |i| i + 1);
        let mut rest = vec!["rsync".to_string()];
        rest.extend(sargs.split_off(at));
        Some(rest)
    } else {
        None
    };
    let mut w = stream;
    if let Err(e) = wire::write_args(&mut w, &sargs, protocol) {
        return fail(
            &format!("failed to send arguments to the daemon: {e}"),
            exit::RERR_SOCKETIO,
        );
    }
    if let Some(rest) = protected {
        if let Err(e) = crate::protect_args::send_protected_args(&mut w, &rest) {
            return fail(&e.message, exit::RERR_SOCKETIO);
        }
    }
    // upstream: main.c client_run() -> become_copy_as_user(): connected as
    // the invoking user, the copy runs as the other.
    if let Err(e) = engine::copyas::become_user(opts.copy_as.as_deref()) {
        eprintln!("{}", e.message);
        eprintln!("{}", e.closing_line("client"));
        return e.code;
    }
    let link = Link {
        agreed_protocol: Some(protocol),
        requested,
        batch,
        ..Link::client()
    };
    let recv_opts = engine::batch::receiving_options(opts);
    let fmt = crate::output::format(opts, push, false);
    let out = crate::output::client_out(opts, fmt);
    let logf = crate::logfile::LogFile::start(opts, &out, push, false);
    // --timeout on the socket's reads (keeping what the handshake already
    // buffered) and --bwlimit on its writes.
    let who = if push { "sender" } else { "Receiver" };
    let buffered = reader.buffer().to_vec();
    let sock = engine::iolimit::TimeoutRead::new(reader.into_inner(), opts.ctl.timeout, who);
    let r: Input = Box::new(BufReader::with_capacity(
        256 * 1024,
        std::io::Read::chain(std::io::Cursor::new(buffered), sock),
    ));
    let wr = shared(Box::new(engine::iolimit::BwLimitWrite::new(
        w,
        opts.ctl.bwlimit,
    )));
    let result = if push {
        run_sender(r, wr, opts, local, &link, out.clone())
    } else {
        run_receiver(r, wr, &recv_opts, &local[0], &link, out.clone())
    };
    crate::output::finish(opts, result.map(|s| (s, 0)), &out, logf.as_ref(), started)
}

enum Handshake {
    /// `@RSYNCD: OK`: send the arguments next.
    Ready {
        writer: Conn,
        reader: BufReader<File>,
        protocol: i32,
    },
    /// `@RSYNCD: EXIT` (after a listing).
    Exit(Option<Helper>),
}

/// The remote shell that carries the connection, and whether its exit
/// status counts. (The `RSYNC_CONNECT_PROG` program is not waited for, as
/// upstream: it may outlive the connection, e.g. a relay.)
struct Helper {
    child: Child,
    status_counts: bool,
}

impl Helper {
    fn reap_only(self) -> Helper {
        Helper {
            status_counts: false,
            ..self
        }
    }
}

/// The writing half of a daemon connection (a socket, or a remote shell's
/// stdin), and the remote shell to wait for.
struct Conn {
    writer: File,
    child: Option<Helper>,
}

/// Waits for a remote shell that ran the daemon; its failure becomes the
/// result when the transfer itself succeeded (upstream client_run()).
fn finish_child(helper: Option<Helper>, code: i32) -> i32 {
    let Some(mut h) = helper else {
        return code;
    };
    let status = h.child.wait();
    if code != 0 || !h.status_counts {
        return code;
    }
    match status {
        Ok(s) => s.code().unwrap_or(exit::RERR_CMD_KILLED),
        Err(_) => exit::RERR_WAITCHILD,
    }
}

fn fail(msg: &str, code: i32) -> i32 {
    eprintln!("rsync: {msg}");
    eprintln!("{}", closing_line(code, "client"));
    code
}

/// Connects, greets, names the module (or asks for the list) and answers
/// any challenge, up to `@RSYNCD: OK` or `@RSYNCD: EXIT`.
// upstream: clientserver.c:start_socket_client() / start_inband_exchange()
fn connect_and_request(opts: &Options, spec: &DaemonSpec, push: bool) -> Result<Handshake, i32> {
    let (mut r, mut w, child) = open(opts, spec)?;
    let ours = our_protocol(opts);
    let io_fail = |e: std::io::Error| {
        fail(
            &format!("failed to talk to the daemon: {e}"),
            exit::RERR_SOCKETIO,
        )
    };
    w.write_all(wire::our_greeting(ours, &auth::DAEMON_DIGESTS).as_bytes())
        .map_err(io_fail)?;
    let line = read(&mut r, push, "did not see server greeting")?;
    let greeting = match wire::parse_greeting(&line) {
        Ok(g) => g,
        Err(_) => {
            eprintln!("{line}");
            return Err(fail("did not see server greeting", exit::RERR_STARTCLIENT));
        }
    };
    let protocol = wire::agree(ours, &greeting);
    if protocol < protocol::MIN_PROTOCOL_VERSION {
        return Err(fail(
            &format!(
                "the daemon speaks protocol {}; oxsync speaks {} to {}",
                greeting.protocol,
                protocol::MIN_PROTOCOL_VERSION,
                protocol::PROTOCOL_VERSION
            ),
            exit::RERR_PROTOCOL,
        ));
    }
    if let Some(path) = &opts.early_input {
        let data = early_input(opts, path)?;
        if !data.is_empty() {
            w.write_all(format!("#early_input={}\n", data.len()).as_bytes())
                .and_then(|_| w.write_all(&data))
                .map_err(io_fail)?;
        }
    }
    let module_line = if spec.module.is_empty() {
        "#list".to_string()
    } else {
        spec.module.clone()
    };
    w.write_all(format!("{module_line}\n").as_bytes())
        .and_then(|_| w.flush())
        .map_err(io_fail)?;
    loop {
        let line = read(&mut r, push, "didn't get server startup line")?;
        if let Some(challenge) = line.strip_prefix("@RSYNCD: AUTHREQD ") {
            let user = spec
                .user
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .or_else(|| std::env::var("LOGNAME").ok())
                .unwrap_or_else(|| "nobody".into());
            let password = password(opts)?;
            let Some(digest) = auth::negotiate(greeting.digests.as_deref(), protocol) else {
                return Err(fail(
                    "the daemon offers no daemon-auth digest oxsync supports",
                    exit::RERR_STARTCLIENT,
                ));
            };
            let resp = auth::response(digest, &password, challenge.trim());
            w.write_all(format!("{user} {resp}\n").as_bytes())
                .and_then(|_| w.flush())
                .map_err(io_fail)?;
        } else if line == "@RSYNCD: OK" {
            return Ok(Handshake::Ready {
                writer: Conn { writer: w, child },
                reader: r,
                protocol,
            });
        } else if line == "@RSYNCD: EXIT" {
            return Ok(Handshake::Exit(child));
        } else if line.starts_with("@ERROR") {
            eprintln!("{line}");
            eprintln!("{}", closing_line(exit::RERR_STARTCLIENT, "client"));
            return Err(exit::RERR_STARTCLIENT);
        } else {
            // MOTD or module listing: the two cannot be told apart, so
            // --no-motd hides both (upstream clientserver.c
            // start_inband_exchange()).
            if !opts.no_motd {
                crate::say(&format!("{line}\n"));
            }
        }
    }
}

/// A line from the daemon. Its end instead is `missing` (upstream's
/// words for the greeting and for the lines after the module request),
/// exit 5; a failed read (the daemon dropped the connection unread: a
/// refused `daemon uid`) is upstream's safe_read error, exit 12, naming
/// this side's role (`push`: sender).
// upstream: clientserver.c:start_inband_exchange()
fn read(r: &mut BufReader<File>, push: bool, missing: &str) -> Result<String, i32> {
    match wire::read_line(r) {
        Ok(Some(l)) => Ok(l),
        Ok(None) => Err(fail(missing, exit::RERR_STARTCLIENT)),
        // upstream: io.c:safe_read()
        Err(wire::WireError::Io(e)) if e.kind() != std::io::ErrorKind::UnexpectedEof => Err(fail(
            &format!(
                "[{}] safe_read failed to read 1 bytes: {}",
                if push { "sender" } else { "receiver" },
                engine::error::os_err(&e)
            ),
            exit::RERR_STREAMIO,
        )),
        Err(e) => Err(fail(
            &format!("bad line from the daemon: {e}"),
            exit::RERR_PROTOCOL,
        )),
    }
}

/// Opens the connection: a remote shell running the daemon (`-e`), the
/// `RSYNC_CONNECT_PROG` program, or a TCP connection.
// upstream: main.c:start_client() (daemon_connection), socket.c:open_socket_out_wrapped()
fn open(opts: &Options, spec: &DaemonSpec) -> Result<(BufReader<File>, File, Option<Helper>), i32> {
    if let Some(rsh) = &opts.rsh {
        return remote_shell(opts, rsh, spec);
    }
    let port = spec.port.or(opts.port).unwrap_or(RSYNC_PORT);
    let (stream, child) = match std::env::var(crate::connect_prog::ENV) {
        Ok(prog) => {
            let Some(cmd) = crate::connect_prog::expand(&prog, &spec.host) else {
                eprintln!("{}", crate::connect_prog::UNSAFE_HOST);
                eprintln!("{}", closing_line(exit::RERR_SOCKETIO, "client"));
                return Err(exit::RERR_SOCKETIO);
            };
            let (s, child) = crate::connect_prog::sock_exec(&cmd).map_err(|e| {
                fail(
                    &format!("cannot run RSYNC_CONNECT_PROG: {e}"),
                    exit::RERR_SOCKETIO,
                )
            })?;
            (s, Some(child))
        }
        Err(_) => (connect(&spec.host, port, opts)?, None),
    };
    let fd: OwnedFd = stream.into();
    let rd = fd
        .try_clone()
        .map_err(|e| fail(&format!("socket: {e}"), exit::RERR_SOCKETIO))?;
    drop(child);
    Ok((BufReader::new(File::from(rd)), File::from(fd), None))
}

/// Starts `RSH [-l USER] HOST RSYNC_PATH --server --daemon .` and returns
/// its stdout, its stdin and the child.
// upstream: main.c:do_cmd() with daemon_connection > 0
fn remote_shell(
    opts: &Options,
    rsh: &str,
    spec: &DaemonSpec,
) -> Result<(BufReader<File>, File, Option<Helper>), i32> {
    if spec.host.starts_with('-') {
        eprintln!("Invalid remote host: hostnames may not start with '-'.");
        eprintln!("{}", closing_line(exit::RERR_SYNTAX, "client"));
        return Err(exit::RERR_SYNTAX);
    }
    let mut words = crate::remote::split_command(rsh);
    if words.is_empty() {
        return Err(fail("the remote shell command is empty", exit::RERR_SYNTAX));
    }
    let program = words.remove(0);
    // A `-l user` already in the command wins over user@ (upstream).
    let dash_l = words
        .windows(2)
        .any(|w| w[0] == "-l" && !w[1].starts_with('-'));
    let mut cmd = Command::new(&program);
    cmd.args(&words);
    if let (Some(u), false) = (&spec.user, dash_l) {
        cmd.arg("-l").arg(u);
    }
    cmd.args(crate::socket::ssh_family_arg(&program, opts.ip_family));
    cmd.arg(&spec.host)
        .arg(opts.rsync_path.clone().unwrap_or_else(|| "rsync".into()))
        .args(["--server", "--daemon", "."]);
    if let Some(port) = spec.port.or(opts.port) {
        cmd.env("RSYNC_PORT", port.to_string());
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // upstream pipe.c: a remote shell that cannot be run is "error in IPC
    // code" (14), whatever the reason.
    let mut child = cmd.spawn().map_err(|e| {
        fail(
            &format!("Failed to exec {program}: {}", engine::error::os_err(&e)),
            exit::RERR_IPC,
        )
    })?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(fail("cannot talk to the remote shell", exit::RERR_IPC));
    };
    let r = File::from(OwnedFd::from(stdout));
    let w = File::from(OwnedFd::from(stdin));
    let helper = Helper {
        child,
        status_counts: true,
    };
    Ok((BufReader::new(r), w, Some(helper)))
}

fn connect(host: &str, port: u16, opts: &Options) -> Result<TcpStream, i32> {
    let timeout = opts.contimeout.map(Duration::from_secs);
    let proxy = match crate::proxy::from_env() {
        Some(Ok(p)) => Some(p),
        Some(Err(msg)) => return Err(fail(&msg, exit::RERR_SOCKETIO)),
        None => None,
    };
    let (to_host, to_port) = match &proxy {
        Some(p) => (p.host.as_str(), p.port.as_str()),
        None => (host, ""),
    };
    let to_port: u16 = if proxy.is_some() {
        to_port.parse().map_err(|_| {
            fail(
                &format!("getaddrinfo: {to_host} {to_port}: invalid port"),
                exit::RERR_SOCKETIO,
            )
        })?
    } else {
        port
    };
    let addrs: Vec<SocketAddr> = (to_host, to_port)
        .to_socket_addrs()
        .map_err(|e| {
            fail(
                &format!("getaddrinfo: {to_host} {to_port}: {e}"),
                exit::RERR_SOCKETIO,
            )
        })?
        .filter(|a| crate::socket::family_ok(a, opts.ip_family))
        .collect();
    if addrs.is_empty() && opts.ip_family != 0 {
        return Err(fail(
            &format!(
                "getaddrinfo: {to_host} {to_port}: no IPv{} address",
                opts.ip_family
            ),
            exit::RERR_SOCKETIO,
        ));
    }
    let mut last = None;
    for a in &addrs {
        let res = crate::socket::connect(a, opts.bind_address.as_deref(), timeout);
        if let (Ok(s), Some(spec)) = (&res, &opts.sockopts) {
            crate::socket::set_options(s, spec);
        }
        match (res, &proxy) {
            (Ok(s), None) => return Ok(s),
            (Ok(mut s), Some(p)) => match crate::proxy::establish(&mut s, p, host, port) {
                Ok(()) => return Ok(s),
                // upstream: reported, and the next address is tried.
                Err(msg) => eprintln!("{msg}"),
            },
            (Err(e), _) => last = Some(e),
        }
    }
    let (msg, code) = match last {
        Some(e) if e.kind() == std::io::ErrorKind::TimedOut && timeout.is_some() => (
            format!("failed to connect to {to_host} ({to_port}): connection timed out"),
            exit::RERR_CONTIMEOUT,
        ),
        Some(e) => (
            format!("failed to connect to {to_host} ({to_port}): {e}"),
            exit::RERR_SOCKETIO,
        ),
        None if proxy.is_some() => (
            format!("failed to connect to {host} through the proxy {to_host} ({to_port})"),
            exit::RERR_SOCKETIO,
        ),
        None => (
            format!("failed to connect to {host}: no address"),
            exit::RERR_SOCKETIO,
        ),
    };
    Err(fail(&msg, code))
}

/// The password: `--password-file` (first line; must not be
/// other-accessible), else `RSYNC_PASSWORD`.
// upstream: authenticate.c:getpassf() / auth_client()
/// Most bytes `--early-input` may send (upstream: its line buffer,
/// BIGPATHBUFLEN).
const MAX_EARLY_INPUT: u64 = 5120;

/// The `--early-input` file's bytes. An operator path: opened by the walk
/// that refuses a symlink another user owns (upstream
/// open_no_attacker_symlinks), its size checked on the descriptor before
/// anything is read.
// upstream: clientserver.c:start_inband_exchange()
fn early_input(opts: &Options, path: &str) -> Result<Vec<u8>, i32> {
    let open_fail = |e: std::io::Error| {
        fail(
            &format!("failed to open {path}: {}", engine::error::os_err(&e)),
            exit::RERR_STARTCLIENT,
        )
    };
    let links = confine::Links::from_insecure(opts.insecure_links);
    let f = confine::operator::open_file(
        std::path::Path::new(path),
        rustix::fs::OFlags::RDONLY,
        0,
        links,
    )
    .map_err(open_fail)?;
    let len = f.metadata().map_err(open_fail)?.len();
    if len > MAX_EARLY_INPUT {
        eprintln!("{path} is > {MAX_EARLY_INPUT} bytes.");
        eprintln!("{}", closing_line(exit::RERR_STARTCLIENT, "client"));
        return Err(exit::RERR_STARTCLIENT);
    }
    let mut data = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut data).map_err(open_fail)?;
    if (data.len() as u64) < len {
        return Err(fail(
            &format!("Early EOF in {path}"),
            exit::RERR_STARTCLIENT,
        ));
    }
    Ok(data)
}

fn password(opts: &Options) -> Result<Vec<u8>, i32> {
    if let Some(path) = &opts.password_file {
        let text = if path == "-" {
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
            s.into_bytes()
        } else {
            // An operator path: opened by the walk that refuses a symlink
            // another user owns, and checked on the descriptor it opened.
            let links = confine::Links::from_insecure(opts.insecure_links);
            let open_fail = |e: std::io::Error| {
                fail(
                    &format!(
                        "could not open password file {path}: {}",
                        engine::error::os_err(&e)
                    ),
                    exit::RERR_SYNTAX,
                )
            };
            let mut f = confine::operator::open_file(
                std::path::Path::new(path),
                rustix::fs::OFlags::RDONLY,
                0,
                links,
            )
            .map_err(open_fail)?;
            let meta = f.metadata().map_err(open_fail)?;
            if meta.mode() & 0o006 != 0 {
                return Err(fail(
                    "ERROR: password file must not be other-accessible",
                    exit::RERR_SYNTAX,
                ));
            }
            let mut text = Vec::new();
            f.read_to_end(&mut text).map_err(|e| {
                fail(
                    &format!("could not read password file {path}: {e}"),
                    exit::RERR_SYNTAX,
                )
            })?;
            text
        };
        let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
        return Ok(line.strip_suffix(b"\r").unwrap_or(line).to_vec());
    }
    if let Ok(p) = std::env::var("RSYNC_PASSWORD") {
        return Ok(p.into_bytes());
    }
    Err(fail("the daemon asks for a password: use --password-file or RSYNC_PASSWORD (oxsync does not prompt)", exit::RERR_STARTCLIENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let s = parse_spec("rsync://bob@host:8873/mod/a/b").expect("url");
        assert_eq!(
            (
                s.user.as_deref(),
                s.host.as_str(),
                s.port,
                s.module.as_str(),
                s.path.as_str()
            ),
            (Some("bob"), "host", Some(8873), "mod", "mod/a/b")
        );
        let s = parse_spec("rsync://host/mod").expect("url");
        assert_eq!((s.port, s.path.as_str()), (None, "mod/"));
        let s = parse_spec("rsync://host").expect("url");
        assert_eq!((s.module.as_str(), s.path.as_str()), ("", ""));
        let s = parse_spec("rsync://[::1]:99/m/").expect("v6");
        assert_eq!(
            (s.host.as_str(), s.port, s.path.as_str()),
            ("::1", Some(99), "m/")
        );
        let s = parse_spec("alice@host::mod/x/").expect("::");
        assert_eq!(
            (
                s.user.as_deref(),
                s.host.as_str(),
                s.module.as_str(),
                s.path.as_str()
            ),
            (Some("alice"), "host", "mod", "mod/x/")
        );
        let s = parse_spec("host::").expect("list");
        assert_eq!(s.module, "");
        assert!(parse_spec("host:path").is_none());
        assert!(parse_spec("/local/path").is_none());
    }
}
