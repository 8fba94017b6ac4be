//! One daemon connection, as a chain of states: each state is a type whose
//! method consumes it and returns the next one, so a step can only run in
//! its place (greeting, module request, admission, arguments, transfer).
//! Before `@RSYNCD: OK` a refusal is an `@ERROR:` line; after it, the
//! protocol is set up and the refusal travels as a multiplexed error.
use crate::access::{allow_access, reverse_name, Lookups, Peer, Resolver};
use crate::auth::{self, Grant, DAEMON_DIGESTS};
use crate::config::{Config, Module};
use crate::hooks::{self, HookEnv};
use crate::lock::{self, Slot};
use crate::log::Log;
use crate::logfmt::{self, LogFields};
use crate::modfilter;
use crate::privs;
use crate::sandbox;
pub use crate::tail::{module_tail, Tail};
use crate::wire::{self, Greeting, WireError};
use confine::{AmbientAuthority, RelPath, Root};
use engine::chmod::ChmodSpec;
use engine::filters::DaemonFilter;
use engine::itemize::ItemFormat;
use engine::options::refuse::Refusals;
use engine::out::{lock as lock_writer, shared, Out, SharedWriter};
use engine::session::{self as esession, Side};
use engine::transfer::{run_receiver_to, run_sender, server_fail, Dest, Input, Link};
use engine::{Error, Options};
use protocol::exit;
use std::ffi::OsString;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A module's `early exec`: the command, its environment, its input.
struct EarlyExec {
    cmd: String,
    env: HookEnv,
    input: Vec<u8>,
}

/// Longest `#early_input=` payload accepted (upstream's limit).
const MAX_EARLY_INPUT: usize = 5120;

/// How the daemon was started, for every session.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bound on each handshake step (default 60 s).
    pub handshake_timeout: Duration,
    /// `--log-file` from the command line (overrides `log file`).
    pub log_file: Option<PathBuf>,
    /// `--log-file-format` from the command line: every module logs its
    /// transfers in it (empty: none), `transfer logging` or not.
    pub log_format: Option<String>,
    /// Copy log lines to stderr (foreground listener).
    pub stderr_log: bool,
    /// `--bwlimit` of the daemon in KiB per second (0: none): the most a
    /// session writes, whatever its client asks.
    pub bwlimit: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            handshake_timeout: Duration::from_secs(60),
            log_file: None,
            log_format: None,
            stderr_log: false,
            bwlimit: 0,
        }
    }
}

/// The byte streams of one connection.
pub struct Streams {
    /// What the client sends.
    pub reader: Box<dyn Read + Send>,
    /// What we send.
    pub writer: Box<dyn Write + Send>,
    /// Sets the read timeout of the connection (no-op for pipes).
    pub set_timeout: Box<dyn Fn(Option<Duration>) + Send>,
}

/// Serves one connection from start to end; returns the exit code.
pub fn serve(
    streams: Streams,
    peer: Peer,
    cfg: &Config,
    settings: &Settings,
    res: &dyn Resolver,
) -> i32 {
    sandbox::test_force_walk();
    let log = Arc::new(Log::open_daemon(
        settings.log_file.as_deref(),
        &cfg.defaults,
        settings.stderr_log,
    ));
    let deadline = Arc::new(Mutex::new(None));
    let raw = SharedRead(Arc::new(Mutex::new(streams.reader)));
    let reader = Deadline {
        inner: Box::new(raw.clone()),
        until: deadline.clone(),
    };
    let mut conn = Conn {
        r: BufReader::with_capacity(256 * 1024, Box::new(reader)),
        raw,
        deadline,
        w: streams.writer,
        set_timeout: streams.set_timeout,
        log,
        peer,
        bwlimit: settings.bwlimit,
        log_format: settings.log_format.clone(),
    };
    // The handshake's deadline bounds the PROXY header too.
    conn.handshake_within(settings.handshake_timeout.as_secs());
    if cfg.globals.bool("proxy protocol", false) {
        if let Err(e) = conn.proxy_header(cfg, res) {
            return e.code;
        }
    }
    if conn.peer.name.is_none() && cfg.defaults.bool("reverse lookup", true) {
        conn.peer.name = reverse_name(res, conn.peer.addr);
    }
    if let Err(line) = daemon_privs(cfg, &mut conn, res) {
        conn.log.line(&line);
        return protocol::exit::RERR_STARTCLIENT;
    }
    conn.log.line(&format!(
        "connect from {} ({})",
        conn.peer.host_name(),
        conn.peer.addr
    ));
    let start = Start { conn };
    let greeted = match start.greet(cfg) {
        Ok(g) => g,
        Err(e) => return e.code,
    };
    let chosen = match greeted.request(cfg) {
        Ok(Request::Module(c)) => c,
        Ok(Request::Listed) => return 0,
        Err(e) => return e.code,
    };
    let admitted = match chosen.admit(res) {
        Ok(a) => a,
        Err(e) => return e.code,
    };
    match admitted.read_request() {
        Ok(req) => req.run(),
        Err(e) => e.code,
    }
}

/// The longest any handshake phase may take, and what a `timeout` of 0 (or
/// above it) means for the handshake (upstream clientserver.c
/// DAEMON_HANDSHAKE_TIMEOUT / daemon_handshake_timeout()).
pub const HANDSHAKE_LIMIT: i64 = 60;

/// The daemon's own chroot and ids ([`privs::apply_daemon`]), after the
/// reverse lookup a module will want when it cannot be made inside the
/// chroot (upstream caches it before the chroot as well).
// upstream: clientserver.c:start_daemon()
fn daemon_privs(cfg: &Config, conn: &mut Conn, res: &dyn Resolver) -> Result<(), String> {
    if cfg.globals.nonempty("daemon chroot").is_some()
        && conn.peer.name.is_none()
        && cfg
            .modules
            .iter()
            .any(|m| m.params.bool("reverse lookup", true))
    {
        conn.peer.name = reverse_name(res, conn.peer.addr);
    }
    privs::apply_daemon(&cfg.globals)
}

/// The handshake's bound in seconds for a configured `timeout`.
pub fn handshake_secs(timeout: i64) -> u64 {
    if timeout <= 0 || timeout > HANDSHAKE_LIMIT {
        HANDSHAKE_LIMIT as u64
    } else {
        timeout as u64
    }
}

/// A reader that fails with `TimedOut` once an absolute deadline has
/// passed: a peer that trickles a byte now and then cannot hold the
/// handshake open (the socket's idle timeout alone would let it).
struct Deadline {
    inner: Box<dyn Read + Send>,
    until: Arc<Mutex<Option<Instant>>>,
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let until = *self.until.lock().unwrap_or_else(|e| e.into_inner());
        if until.is_some_and(|t| Instant::now() >= t) {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.inner.read(buf)
    }
}

/// The client's stream, shared so that the session can still read it
/// after handing it to the engine (see [`Conn::until_death`]).
#[derive(Clone)]
struct SharedRead(Arc<Mutex<Box<dyn Read + Send>>>);

impl Read for SharedRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).read(buf)
    }
}

/// A session that ended before its transfer: already logged (and, when the
/// client can hear, sent as `@ERROR`). The connection's exit code, and the
/// place in the daemon that ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("session ended with code {code} at {location}")]
pub struct Ended {
    /// rsync's exit code for the connection's process.
    pub code: i32,
    /// Where the session was ended.
    pub location: &'static std::panic::Location<'static>,
}

impl Ended {
    /// Ends the session with `code`, here.
    #[track_caller]
    pub fn new(code: i32) -> Ended {
        Ended {
            code,
            location: std::panic::Location::caller(),
        }
    }
}

/// The connection with its handshake reader.
struct Conn {
    r: BufReader<Box<dyn Read + Send>>,
    /// The client's stream beneath `r`.
    raw: SharedRead,
    /// The handshake's absolute deadline (None once it is over).
    deadline: Arc<Mutex<Option<Instant>>>,
    w: Box<dyn Write + Send>,
    set_timeout: Box<dyn Fn(Option<Duration>) + Send>,
    log: Arc<Log>,
    peer: Peer,
    /// KiB per second the session's writes are paced to (0: none).
    bwlimit: u64,
    /// The daemon's `--log-file-format`.
    log_format: Option<String>,
}

impl Conn {
    /// Starts a handshake phase bounded by `secs` from now, and the
    /// socket's idle timeout with it.
    fn handshake_within(&mut self, secs: u64) {
        let t = Duration::from_secs(secs);
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + t);
        (self.set_timeout)(Some(t));
    }
    /// After a fatal error was sent: reads and discards what the client
    /// still sends until it closes the connection (at most `limit`), so
    /// that the error lines reach it rather than a reset of a socket
    /// closed with unread data.
    /// A stock client answers with its own MSG_ERROR_EXIT and waits for
    /// us to go: a client quiet for `IDLE` ends the wait too (the frames
    /// cannot be told apart from file data once the engine's buffers are
    /// gone).
    // upstream: io.c:noop_io_until_death(), read_a_msg() MSG_ERROR_EXIT
    fn until_death(&mut self, limit: Duration) {
        const IDLE: Duration = Duration::from_secs(2);
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + limit);
        (self.set_timeout)(Some(limit.min(IDLE)));
        let mut reader = Deadline {
            inner: Box::new(self.raw.clone()),
            until: self.deadline.clone(),
        };
        let mut buf = vec![0u8; 32 * 1024];
        while let Ok(1..) = reader.read(&mut buf) {}
    }
    /// The handshake is over: the transfer's own timeout governs.
    fn handshake_done(&mut self, timeout: Option<Duration>) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = None;
        (self.set_timeout)(timeout);
    }
    /// `proxy protocol = yes`: a peer listed in `proxy protocol hosts`
    /// sends a PROXY header first, and the client it names becomes the
    /// peer; any other peer, or a bad header, is dropped without a word.
    // upstream: clientserver.c:start_daemon() / proxy_peer_allowed()
    fn proxy_header(&mut self, cfg: &Config, res: &dyn Resolver) -> Result<(), Ended> {
        let hosts = cfg.globals.get("proxy protocol hosts");
        if !crate::access::allow_proxy_peer(hosts, self.peer.addr, res) {
            self.log.line(&format!(
                "proxy protocol rejected from untrusted peer {} ({})",
                crate::access::UNDETERMINED,
                self.peer.addr
            ));
            return Err(Ended::new(exit::RERR_STARTCLIENT));
        }
        match crate::proxyproto::read_header(&mut self.r) {
            Ok(Some(client)) => {
                self.peer = Peer::new(client);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                self.log
                    .line(&format!("bad PROXY header from {}: {e}", self.peer.addr));
                Err(Ended::new(exit::RERR_STARTCLIENT))
            }
        }
    }
    fn send(&mut self, text: &str) -> Result<(), Ended> {
        self.w
            .write_all(text.as_bytes())
            .and_then(|_| self.w.flush())
            .map_err(|e| {
                self.log.line(&format!("write to client failed: {e}"));
                Ended::new(exit::RERR_SOCKETIO)
            })
    }
    /// Sends `@ERROR: msg`, logs it, and ends the session (from the
    /// caller's place).
    #[track_caller]
    fn refuse(&mut self, msg: &str) -> Ended {
        self.log.line(&format!(
            "refused {} ({}): {msg}",
            self.peer.host_name(),
            self.peer.addr
        ));
        let ended = Ended::new(exit::RERR_STARTCLIENT);
        let _ = self.send(&format!("@ERROR: {msg}\n"));
        ended
    }
    fn line(&mut self, what: &str) -> Result<String, Ended> {
        match wire::read_line(&mut self.r) {
            Ok(Some(l)) => Ok(l),
            Ok(None) => {
                self.log.line(&format!(
                    "connection closed by {} before {what}",
                    self.peer.addr
                ));
                Err(Ended::new(exit::RERR_STARTCLIENT))
            }
            Err(WireError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                self.log.line(&format!(
                    "daemon handshake timeout waiting for {what} from {}",
                    self.peer.addr
                ));
                Err(Ended::new(exit::RERR_TIMEOUT))
            }
            Err(e) => {
                self.log
                    .line(&format!("bad {what} from {}: {e}", self.peer.addr));
                Err(self.refuse("protocol startup error"))
            }
        }
    }
}

/// A fresh connection.
struct Start {
    conn: Conn,
}

impl Start {
    /// Sends our greeting and the MOTD at once, then reads the client's
    /// greeting and settles the protocol.
    // upstream: clientserver.c:start_daemon() / exchange_protocols()
    fn greet(mut self, cfg: &Config) -> Result<Greeted, Ended> {
        self.conn.send(&wire::our_greeting(
            protocol::PROTOCOL_VERSION,
            &DAEMON_DIGESTS,
        ))?;
        // The file's text as it is, then an empty line (also when the
        // file cannot be read), as upstream's exchange_protocols() sends.
        if let Some(motd) = cfg.globals.nonempty("motd file") {
            let text = confine::operator::read(Path::new(motd), confine::Links::Trusted);
            let mut t = String::from_utf8_lossy(&text.unwrap_or_default()).into_owned();
            t.push('\n');
            self.conn.send(&t)?;
        }
        let line = self.conn.line("greeting")?;
        let greeting = match wire::parse_greeting(&line) {
            Ok(g) => g,
            Err(_) => return Err(self.conn.refuse("protocol startup error")),
        };
        if greeting.protocol > 31 && greeting.digests.is_none() {
            return Err(self.conn.refuse("your client omitted the digest name list"));
        }
        let protocol = wire::agree(protocol::PROTOCOL_VERSION, &greeting);
        if protocol < protocol::MIN_PROTOCOL_VERSION {
            let msg = format!(
                "protocol version mismatch: oxsync speaks {} to {}, the client {}",
                protocol::MIN_PROTOCOL_VERSION,
                protocol::PROTOCOL_VERSION,
                greeting.protocol
            );
            return Err(self.conn.refuse(&msg));
        }
        Ok(Greeted {
            conn: self.conn,
            protocol,
            greeting,
        })
    }
}

/// After the greetings.
struct Greeted {
    conn: Conn,
    protocol: i32,
    greeting: Greeting,
}

enum Request {
    Listed,
    Module(Box<Chosen>),
}

impl Greeted {
    /// Reads the module line (after any `#early_input`): lists modules or
    /// picks one.
    // upstream: clientserver.c:start_daemon() / send_listing()
    fn request(mut self, cfg: &Config) -> Result<Request, Ended> {
        let mut line = self.conn.line("module name")?;
        // The client's --early-input, kept for the module's `early exec`
        // (bounded before it is allocated).
        let mut early_input = Vec::new();
        if let Some(n) = line.strip_prefix("#early_input=") {
            let n: usize = match n.trim().parse() {
                Ok(n) if n > 0 && n <= MAX_EARLY_INPUT => n,
                _ => return Err(self.conn.refuse("invalid early_input length")),
            };
            early_input = vec![0u8; n];
            if self.conn.r.read_exact(&mut early_input).is_err() {
                return Err(self.conn.refuse("protocol startup error"));
            }
            line = self.conn.line("module name")?;
        }
        if line.is_empty() || line == "#list" {
            let mut text = String::new();
            for m in cfg.modules.iter().filter(|m| m.list()) {
                text.push_str(&format!("{:<15}\t{}\n", m.name, m.comment()));
            }
            text.push_str("@RSYNCD: EXIT\n");
            self.conn.log.line(&format!(
                "module-list request from {} ({})",
                self.conn.peer.host_name(),
                self.conn.peer.addr
            ));
            self.conn.send(&text)?;
            return Ok(Request::Listed);
        }
        if line.starts_with('#') {
            return Err(self
                .conn
                .refuse(&format!("Unknown command '{}'", truncate(&line))));
        }
        let name = line.split('/').next().unwrap_or("").to_string();
        let Some(module) = cfg.module(&name) else {
            return Err(self
                .conn
                .refuse(&format!("Unknown module '{}'", truncate(&name))));
        };
        // From here the module's `timeout` bounds the rest of the
        // handshake (auth, arguments), as upstream's rsync_module().
        self.conn.handshake_within(handshake_secs(module.timeout()));
        Ok(Request::Module(Box::new(Chosen {
            conn: self.conn,
            protocol: self.protocol,
            greeting: self.greeting,
            module: module.clone(),
            timeout: None,
            early_input,
        })))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(256).collect()
}

/// A module was named.
struct Chosen {
    conn: Conn,
    protocol: i32,
    greeting: Greeting,
    module: Module,
    timeout: Option<Duration>,
    /// The client's `#early_input` bytes (empty without).
    early_input: Vec<u8>,
}

impl Chosen {
    /// Hosts, connection limit and authentication, in upstream's order.
    // upstream: clientserver.c:rsync_module() (checks before OK)
    fn admit(mut self, res: &dyn Resolver) -> Result<Admitted, Ended> {
        let m = &self.module;
        let p = &mut self.conn.peer;
        if p.name.is_none()
            && m.params.bool("reverse lookup", true)
            && (m.params.get("hosts allow").is_some() || m.params.get("hosts deny").is_some())
        {
            p.name = reverse_name(res, p.addr);
        }
        let lk = Lookups {
            forward: m.params.bool("forward lookup", true),
        };
        if !allow_access(
            &self.conn.peer,
            m.params.get("hosts allow"),
            m.params.get("hosts deny"),
            lk,
            res,
        ) {
            let msg = if m.list() {
                format!(
                    "access denied to {} from {} ({})",
                    m.name,
                    self.conn.peer.host_name(),
                    self.conn.peer.addr
                )
            } else {
                format!("Unknown module '{}'", m.name)
            };
            return Err(self.conn.refuse(&msg));
        }
        let max = m.max_connections();
        let slot = if max > 0 {
            match lock::claim(Path::new(m.lock_file()), max as u64) {
                Ok(Some(s)) => Some(s),
                Ok(None) => {
                    return Err(self.conn.refuse(&format!(
                        "max connections ({max}) reached -- try again later"
                    )))
                }
                Err(e) => {
                    self.conn
                        .log
                        .line(&format!("cannot use lock file {}: {e}", m.lock_file()));
                    return Err(self.conn.refuse("failed to open lock file"));
                }
            }
        } else {
            None
        };
        let t = m.timeout();
        self.timeout = (t > 0).then(|| Duration::from_secs(t as u64));
        let mut read_only = m.read_only();
        let mut user = None;
        if let Some(users) = m.params.nonempty("auth users").map(str::to_string) {
            let (u, grant) = self.authenticate(&users)?;
            match grant {
                Grant::ReadOnly => read_only = true,
                Grant::ReadWrite => read_only = false,
                _ => {}
            }
            user = Some(u);
        }
        let write_only = self.module.write_only();
        Ok(Admitted {
            conn: self.conn,
            protocol: self.protocol,
            module: self.module,
            user,
            read_only,
            write_only,
            _slot: slot,
            timeout: self.timeout,
            early_input: self.early_input,
        })
    }

    /// Challenge and response.
    // upstream: authenticate.c:auth_server()
    fn authenticate(&mut self, users: &str) -> Result<(String, Grant), Ended> {
        let name = self.module.name.clone();
        let Some(digest) = auth::negotiate(self.greeting.digests.as_deref(), self.protocol) else {
            return Err(self.conn.refuse(&format!(
                "your client does not support one of our daemon-auth checksums: {}",
                DAEMON_DIGESTS.join(" ")
            )));
        };
        if let Some(floor) = self.module.params.nonempty("auth digest") {
            if let Err(why) = auth::check_floor(floor, digest) {
                self.conn.log.line(&format!(
                    "auth failed on module {name} from {} ({}): {why}",
                    self.conn.peer.host_name(),
                    self.conn.peer.addr
                ));
                return Err(self.conn.refuse(&format!("auth failed on module {name}")));
            }
        }
        let challenge = auth::new_challenge(digest);
        self.conn
            .send(&format!("@RSYNCD: AUTHREQD {challenge}\n"))?;
        let line = self.conn.line("auth response")?;
        let Some((user, resp)) = line.split_once(' ') else {
            self.conn
                .log
                .line(&format!("auth failed on module {name}: malformed response"));
            return Err(self.conn.refuse(&format!("auth failed on module {name}")));
        };
        let (user, resp) = (user.to_string(), resp.trim().to_string());
        let rules = auth::parse_auth_users(users);
        let groups = if rules.iter().any(|r| r.group) {
            auth::groups_of(&user)
        } else {
            Vec::new()
        };
        let fail = |conn: &mut Conn, why: &str| {
            conn.log.line(&format!(
                "auth failed on module {name} from {} ({}) for {user}: {why}",
                conn.peer.host_name(),
                conn.peer.addr
            ));
            conn.refuse(&format!("auth failed on module {name}"))
        };
        let Some((rule, group)) = auth::match_rule(&rules, &user, &groups) else {
            return Err(fail(&mut self.conn, "no matching rule"));
        };
        if rule.grant == Grant::Deny {
            return Err(fail(&mut self.conn, "denied by rule"));
        }
        let grant = rule.grant;
        let secrets = self
            .module
            .params
            .nonempty("secrets file")
            .map(PathBuf::from);
        let links = self.module.links();
        if let Err(e) = auth::check_secret(
            secrets.as_deref().map(|p| (p, links)),
            self.module.strict_modes(),
            &user,
            group.as_deref(),
            digest,
            &challenge,
            &resp,
        ) {
            return Err(fail(&mut self.conn, &e.to_string()));
        }
        self.conn.log.line(&format!(
            "auth ok on module {name} for {user} ({})",
            digest.name()
        ));
        Ok((user, grant))
    }
}

/// Admitted to a module.
struct Admitted {
    conn: Conn,
    protocol: i32,
    module: Module,
    user: Option<String>,
    read_only: bool,
    write_only: bool,
    _slot: Option<Slot>,
    timeout: Option<Duration>,
    /// The client's `#early_input` bytes, for `early exec`.
    early_input: Vec<u8>,
}

impl Admitted {
    /// Sends `@RSYNCD: OK` and reads the client's arguments.
    fn read_request(mut self) -> Result<Requested, Ended> {
        // upstream sets these before it expands `path`.
        let env_user = self.user.clone();
        let env_module = self.module.name.clone();
        let env_host = self.conn.peer.host_name().to_string();
        let env_addr = self.conn.peer.addr.to_string();
        let env = move |k: &str| match k {
            "RSYNC_USER_NAME" => env_user.clone(),
            "RSYNC_MODULE_NAME" => Some(env_module.clone()),
            "RSYNC_HOST_NAME" => Some(env_host.clone()),
            "RSYNC_HOST_ADDR" => Some(env_addr.clone()),
            _ => std::env::var(k).ok(),
        };
        let Some(path) = self.module.path(&env) else {
            return Err(self.conn.refuse("no path setting."));
        };
        // The "/./" chroot divider is kept aside for step 4.
        let raw_path = path.clone();
        let path = PathBuf::from(path.to_string_lossy().replace("/./", "/"));
        // The module path is the administrator's: walked as an operator
        // path, so a symlink on it another user owns is refused unless
        // `insecure links = yes` (upstream util1.c change_dir()).
        let flags = rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY;
        let root_canon = match confine::operator::open(&path, flags, 0, self.module.links()) {
            Ok(o) => o.path,
            Err(e) => {
                self.conn.log.line(&format!(
                    "chdir {} failed for module {}: {}",
                    path.display(),
                    self.module.name,
                    engine::error::os_err(&e.into())
                ));
                return Err(self.conn.refuse("chdir failed"));
            }
        };
        let hooks = self.expand_hooks(&root_canon)?;
        let early = self.early_exec(&root_canon)?;
        self.conn.send("@RSYNCD: OK\n")?;
        let raw = match wire::read_args(&mut self.conn.r, self.protocol) {
            Ok(a) => a,
            Err(e) => {
                self.conn.log.line(&format!(
                    "bad argument list from {}: {e}",
                    self.conn.peer.addr
                ));
                return Err(Ended::new(exit::RERR_PROTOCOL));
            }
        };
        // With -s the rest of the arguments follow, NUL-terminated and not
        // escaped, after a stand-in for argv[0].
        // upstream: clientserver.c:start_daemon() / io.c:read_args()
        let protected = if wants_protected_args(&raw) {
            match wire::read_args(&mut self.conn.r, 30) {
                Ok(a) => a.into_iter().skip(1).collect(),
                Err(e) => {
                    self.conn.log.line(&format!(
                        "bad protected argument list from {}: {e}",
                        self.conn.peer.addr
                    ));
                    return Err(Ended::new(exit::RERR_PROTOCOL));
                }
            }
        } else {
            Vec::new()
        };
        self.conn.handshake_done(self.timeout);
        let dot = raw.iter().position(|a| a == ".").unwrap_or(raw.len());
        let args: Vec<String> = raw
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i < dot {
                    wire::unbackslash(a)
                } else {
                    a.clone()
                }
            })
            .chain(protected)
            .collect();
        // The module's `exclude from`/`include from` files are the
        // operator's: read now, before chroot, privilege drop and Landlock,
        // as upstream reads them (clientserver.c:rsync_module()).
        let module_filter = modfilter::module_filter(&self.module);
        Ok(Requested {
            conn: self.conn,
            protocol: self.protocol,
            module: self.module,
            user: self.user,
            read_only: self.read_only,
            write_only: self.write_only,
            _slot: self._slot,
            root: root_canon,
            timeout: self.timeout,
            timed_out: Arc::new(AtomicBool::new(false)),
            chrooted: false,
            raw_path,
            module_root: None,
            args,
            hooks,
            converter: None,
            early,
            module_filter,
            dropped_to: None,
        })
    }

    /// The module's `early exec`, expanded with its environment and the
    /// client's `--early-input` bytes for its standard input. It runs
    /// later, inside the session's confinement like the other hooks
    /// ([`Requested::serve`]); upstream runs it here, before the arguments
    /// are read, as the daemon's user.
    // upstream: clientserver.c:rsync_module() (early exec), start_pre_exec()
    fn early_exec(&mut self, root: &Path) -> Result<Option<EarlyExec>, Ended> {
        let Some(cmd) = self
            .module
            .params
            .nonempty("early exec")
            .map(str::to_string)
        else {
            return Ok(None);
        };
        let lookup = |k: &str| match k {
            "RSYNC_MODULE_NAME" => Some(self.module.name.clone()),
            "RSYNC_HOST_NAME" => Some(self.conn.peer.host_name().to_string()),
            "RSYNC_HOST_ADDR" => Some(self.conn.peer.addr.to_string()),
            "RSYNC_USER_NAME" => Some(self.user.clone().unwrap_or_default()),
            "RSYNC_MODULE_PATH" => Some(root.display().to_string()),
            _ => std::env::var(k).ok(),
        };
        let cmd = match hooks::expand(&cmd, &lookup) {
            Ok(c) => c,
            Err(var) => {
                self.conn
                    .log
                    .line(&format!("refusing to run shell hook: {var}"));
                return Err(Ended::new(exit::RERR_UNSUPPORTED));
            }
        };
        let mut env = HookEnv::default();
        env.set("RSYNC_MODULE_NAME", self.module.name.clone());
        env.set("RSYNC_MODULE_PATH", root.display().to_string());
        env.set("RSYNC_HOST_ADDR", self.conn.peer.addr.to_string());
        env.set("RSYNC_HOST_NAME", self.conn.peer.host_name().to_string());
        env.set("RSYNC_USER_NAME", self.user.clone().unwrap_or_default());
        env.set("RSYNC_PID", std::process::id().to_string());
        env.set("RSYNC_REQUEST", "(NONE)");
        Ok(Some(EarlyExec {
            cmd,
            env,
            input: std::mem::take(&mut self.early_input),
        }))
    }

    /// `pre-xfer exec` and `post-xfer exec` with their `%VAR%` references
    /// expanded as upstream does when the module is entered: the `RSYNC_*`
    /// variables known then, else the daemon's own environment. A value
    /// holding a shell metacharacter ends the session before `@RSYNCD: OK`.
    // upstream: clientserver.c:rsync_module() / loadparm.c:expand_vars()
    fn expand_hooks(&mut self, root: &Path) -> Result<[Option<String>; 3], Ended> {
        let known = [
            ("RSYNC_MODULE_NAME", self.module.name.clone()),
            ("RSYNC_HOST_NAME", self.conn.peer.host_name().to_string()),
            ("RSYNC_HOST_ADDR", self.conn.peer.addr.to_string()),
            ("RSYNC_USER_NAME", self.user.clone().unwrap_or_default()),
            ("RSYNC_MODULE_PATH", root.display().to_string()),
        ];
        let lookup = |k: &str| match known.iter().find(|(n, _)| *n == k) {
            Some((_, v)) => Some(v.clone()),
            None => std::env::var(k).ok(),
        };
        let mut out = [None, None, None];
        let keys = ["pre-xfer exec", "post-xfer exec", "name converter"];
        for (slot, key) in out.iter_mut().zip(keys) {
            let Some(cmd) = self.module.params.nonempty(key) else {
                continue;
            };
            match hooks::expand(cmd, &lookup) {
                Ok(c) => *slot = Some(c),
                Err(var) => {
                    self.conn
                        .log
                        .line(&format!("refusing to run shell hook: {var}"));
                    return Err(Ended::new(exit::RERR_UNSUPPORTED));
                }
            }
        }
        Ok(out)
    }
}

/// The client's request is known.
struct Requested {
    conn: Conn,
    protocol: i32,
    module: Module,
    user: Option<String>,
    read_only: bool,
    write_only: bool,
    _slot: Option<Slot>,
    root: PathBuf,
    /// The module's `timeout` (read timeout of the socket).
    timeout: Option<Duration>,
    /// A read hit that timeout.
    timed_out: Arc<AtomicBool>,
    /// The session runs chrooted.
    chrooted: bool,
    /// `path` as configured (with any `/./` chroot divider).
    raw_path: PathBuf,
    /// The module directory, opened before any chroot (step 3).
    module_root: Option<Root>,
    args: Vec<String>,
    /// `pre-xfer exec`, `post-xfer exec` and `name converter`, expanded.
    hooks: [Option<String>; 3],
    /// The running `name converter`.
    converter: Option<Arc<crate::namecvt::Converter>>,
    /// The module's `early exec`, run first inside the confinement.
    early: Option<EarlyExec>,
    /// The module's own filter rules, read before the confinement.
    module_filter: Result<Option<filter::FilterList>, modfilter::ModuleFilterError>,
    /// The ids a root daemon dropped to for this session.
    dropped_to: Option<privs::Ids>,
}

/// The sender's source path for `tail` under the module root `path` (as
/// the sender spells it). Nothing is resolved here: the sender reads every
/// path beneath the module's directory handle
/// ([`engine::source::Sources::Beneath`]), which refuses (EXDEV, "Invalid
/// cross-device link") any symlink that would lead out of the module.
pub fn sender_source(path: &Path, tail: &Tail) -> String {
    if tail.rel.is_empty() {
        return format!("{}/", path.display());
    }
    let slash = if tail.trailing_slash { "/" } else { "" };
    format!("{}{slash}", path.join(&tail.rel).display())
}

/// A request refused before the transfer starts: the message for the
/// client and the exit code.
struct Refused {
    msg: String,
    code: i32,
}

impl Requested {
    /// Checks the request, runs the hooks and the transfer.
    // upstream: clientserver.c:rsync_module() (after OK) / main.c:start_server()
    fn run(mut self) -> i32 {
        let name = self.module.name.clone();
        // The one parser reads the client's argv and decides the module's
        // refusals on every option it reads, wherever it sits.
        let charset = self
            .module
            .params
            .get("charset")
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let refusals = Refusals::for_module_with_charset(
            self.module.params.get("refuse options").unwrap_or(""),
            charset.is_some(),
        );
        let mut opts = match self.parse_client_options(&name, &refusals) {
            Ok(o) => o,
            Err(ended) => return ended.code,
        };
        let client_info = opts.rsh.clone();
        if let Err(ended) = self.adopt_client_options(&name, charset, &mut opts) {
            return ended.code;
        }
        if let Err(ended) = self.check_access(&name, &opts) {
            return ended.code;
        }
        if opts.sender {
            self.expand_wildcards(&mut opts);
        }
        let paths: Vec<String> = opts.args.iter().skip(1).cloned().collect();
        let tails = match self.module_tails(&name, &opts, &paths) {
            Ok(t) => t,
            Err(ended) => return ended.code,
        };
        if let Err(ended) = self.check_path_options(&name, &mut opts, &tails) {
            return ended.code;
        }
        // `max verbosity` caps the client's -v for this side.
        let max_v = self.module.params.int("max verbosity", 1).clamp(0, 9) as u8;
        opts.verbose = opts.verbose.min(max_v);
        self.serve(opts, client_info, &tails, &paths)
    }

    /// Parses the client's argv with the module's refusals; `Err` ends the
    /// session (already reported to the client).
    fn parse_client_options(&mut self, name: &str, refusals: &Refusals) -> Result<Options, Ended> {
        let os: Vec<OsString> = self.args.iter().map(OsString::from).collect();
        let opts = match Options::parse_for_module(&os, refusals) {
            Ok(o) => o,
            Err(failed) => {
                let (e, seen) = *failed;
                let what = if e.exit_code == exit::RERR_UNSUPPORTED {
                    "refused option"
                } else {
                    "option error"
                };
                self.conn.log.line(&format!(
                    "{what} on module {name} from {}: {}",
                    self.conn.peer.addr, e.message
                ));
                // Set up as far as the client's options were read.
                let client_info = seen.rsh.clone();
                return Err(self.ended_after_ok(
                    Some(&seen),
                    client_info,
                    &format!("rsync: {}", e.message),
                    e.exit_code,
                ));
            }
        };
        Ok(opts)
    }

    /// Applies what the client's options ask of this side: the module's
    /// charset, `--copy-as`, the allocation bound; `Err` ends the
    /// session (already reported to the client).
    fn adopt_client_options(
        &mut self,
        name: &str,
        charset: Option<String>,
        opts: &mut Options,
    ) -> Result<(), Ended> {
        let client_info = opts.rsh.clone();
        // upstream: clientserver.c rsync_module(): a client's --iconv
        // turns the module's `charset` on (its own value only asks).
        if let (Some(cs), true) = (&charset, opts.iconv.is_some()) {
            if let Err(e) = engine::charset::setup(Some(cs), true, false) {
                self.conn.log.line(&e.message);
                return Err(self.ended_after_ok(Some(&*opts), client_info, &e.message, e.code));
            }
        }
        // upstream: main.c do_server_sender()/do_server_recv() ->
        // become_copy_as_user(), after the module's own uid/gid switch.
        if let Err(e) = engine::copyas::become_user(opts.copy_as.as_deref()) {
            self.conn.log.line(&format!(
                "--copy-as on module {name} from {}: {}",
                self.conn.peer.addr, e.message
            ));
            return Err(self.ended_after_ok(Some(&*opts), client_info, &e.message, e.code));
        }
        // A client's --insecure-links is refused by the parser itself
        // (engine::refuse: a daemon always refuses it, as upstream).
        // A client may lower the module's allocation bound, not raise it.
        match self.module.max_alloc() {
            Ok(limit) => opts.ctl.cap_max_alloc(limit),
            Err(msg) => {
                self.conn.log.line(&msg.to_string());
                return Err(self.ended_after_ok(
                    Some(&*opts),
                    client_info,
                    &format!("rsync: {msg}"),
                    exit::RERR_SYNTAX,
                ));
            }
        }
        Ok(())
    }

    /// Refuses a request the module does not serve (not a server, the
    /// wrong direction, deleting from a read-only module); `Err` ends the
    /// session (already reported to the client).
    fn check_access(&mut self, name: &str, opts: &Options) -> Result<(), Ended> {
        let client_info = opts.rsh.clone();
        if !opts.server {
            return Err(self.ended_after_ok(
                Some(opts),
                client_info,
                "rsync: the daemon expects --server in the arguments",
                exit::RERR_PROTOCOL,
            ));
        }
        if !opts.sender && self.read_only {
            return Err(self.ended_after_ok(
                Some(opts),
                client_info,
                "ERROR: module is read only",
                exit::RERR_SYNTAX,
            ));
        }
        if opts.sender && self.write_only {
            return Err(self.ended_after_ok(
                Some(opts),
                client_info,
                "ERROR: module is write only",
                exit::RERR_SYNTAX,
            ));
        }
        // upstream: main.c:do_server_sender() refuses before any file is
        // listed, so nothing of a read-only module can be deleted.
        if opts.sender && self.read_only && opts.remove_source_files {
            self.conn.log.line(&format!(
                "refused --remove-source-files on read-only module {name} from {}",
                self.conn.peer.addr
            ));
            let which = if opts.remove_sent_only {
                "sent"
            } else {
                "source"
            };
            return Err(self.ended_after_ok(
                Some(opts),
                client_info,
                &format!("ERROR: --remove-{which}-files cannot be used with a read-only module"),
                exit::RERR_SYNTAX,
            ));
        }
        Ok(())
    }

    /// The module-relative tails of the client's paths; `Err` ends the
    /// session (already reported to the client).
    fn module_tails(
        &mut self,
        name: &str,
        opts: &Options,
        paths: &[String],
    ) -> Result<Vec<Tail>, Ended> {
        let client_info = opts.rsh.clone();
        let mut tails = Vec::new();
        for p in paths {
            match module_tail(name, p) {
                Ok(t) => tails.push(t),
                Err(msg) => {
                    self.conn
                        .log
                        .line(&format!("refused on module {name}: {msg}"));
                    return Err(self.ended_after_ok(
                        Some(opts),
                        client_info,
                        &format!("rsync: {msg}"),
                        exit::RERR_SYNTAX,
                    ));
                }
            }
        }
        Ok(tails)
    }

    /// Checks (and rewrites) the client's path options against the module;
    /// `Err` ends the session (already reported to the client).
    fn check_path_options(
        &mut self,
        name: &str,
        opts: &mut Options,
        tails: &[Tail],
    ) -> Result<(), Ended> {
        let client_info = opts.rsh.clone();
        // Client path options are checked against the module before
        // anything is written (rewritten to paths below the destination).
        let base = match tails.first() {
            Some(t) if !opts.sender && !t.trailing_slash && !self.root.join(&t.rel).is_dir() => {
                Path::new(&t.rel)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default()
            }
            Some(t) if !opts.sender => PathBuf::from(&t.rel),
            _ => PathBuf::new(),
        };
        let mode = match sandbox::ClientPaths::of(&self.module) {
            Ok(m) => m,
            Err(msg) => {
                self.conn
                    .log
                    .line(&format!("refused on module {name}: {msg}"));
                return Err(self.ended_after_ok(
                    Some(&*opts),
                    client_info,
                    &format!("rsync: {msg}"),
                    exit::RERR_SYNTAX,
                ));
            }
        };
        // The module's own filter protects what a path option names too.
        let module_filter = self
            .module_filter
            .clone()
            .ok()
            .flatten()
            .map(|rules| DaemonFilter {
                rules,
                module_root: self.root.clone(),
            });
        // A sending daemon makes no temporary, partial or backup file: a
        // pulling client's own directories for them (sent along, as
        // upstream's server_options() sends them) are the client's
        // business, not refused here.
        if opts.sender {
            opts.temp_dir = None;
            opts.partial_dir = None;
            opts.backup_dir = None;
        }
        match sandbox::check_client_paths(
            opts,
            &self.root,
            &base,
            mode,
            module_filter.as_ref(),
            self.module.params.bool("insecure links", false),
        ) {
            // Basis dirs that leave the module are logged here and skipped
            // by the engine, which warns the client.
            Ok(skipped) => {
                for rej in skipped {
                    let line = rej.log_line(self.conn.peer.host_name(), &self.root);
                    self.conn.log.line(&line);
                }
            }
            Err(rej) => {
                let line = rej.log_line(self.conn.peer.host_name(), &self.root);
                self.conn.log.line(&line);
                return Err(self.ended_after_ok(
                    Some(&*opts),
                    client_info,
                    &rej.client_message(name),
                    rej.exit_code(),
                ));
            }
        }
        Ok(())
    }

    /// Confines the session (chroot, privilege drop, Landlock), then runs
    /// `pre-xfer exec`, the transfer and `post-xfer exec` inside that
    /// confinement: a hook reaches no more than the session may (see
    /// docs/security.md, "The order of a session"); the exit code.
    fn serve(
        &mut self,
        mut opts: Options,
        client_info: Option<String>,
        tails: &[Tail],
        paths: &[String],
    ) -> i32 {
        let name = self.module.name.clone();
        if let Err(msg) = self.confine_process() {
            self.conn
                .log
                .line(&format!("refused on module {name}: {msg}"));
            return self.fail_after_ok(
                Some(&opts),
                client_info,
                &format!("rsync: {msg}"),
                exit::RERR_FILEIO,
            );
        }
        // `munge symlinks`: the module decides, never the client (default:
        // on unless the module is chrooted at its own root).
        // upstream: clientserver.c:rsync_module()
        // `open noatime`: the module's setting when it has one.
        if self.module.params.get("open noatime").is_some() {
            opts.open_noatime = self.module.params.bool("open noatime", false);
        }
        // `fake super`: the module's; a client's --fake-super counts as
        // --super (upstream clientserver.c:rsync_module()).
        if self.module.params.bool("fake super", false) {
            opts.fake_super = true;
            opts.super_user = None;
        } else if opts.fake_super {
            opts.fake_super = false;
            opts.super_user = Some(true);
        }
        // `ignore errors`: the module's on top of the client's.
        // upstream: clientserver.c:rsync_module()
        if self.module.params.bool("ignore errors", false) {
            opts.ignore_errors = true;
        }
        // `ignore nonreadable`: the module's, never the client's.
        opts.ignore_nonreadable = self.module.params.bool("ignore nonreadable", false);
        let munge_default = !self.chrooted || self.root != Path::new("/");
        opts.munge_links = self.module.params.bool("munge symlinks", munge_default);
        if let Err(e) = engine::flist::check_munge_dir(&opts) {
            self.conn.log.line(&e.message);
            return self.fail_after_ok(
                Some(&opts),
                client_info,
                "rsync: daemon security issue -- contact admin",
                exit::RERR_UNSUPPORTED,
            );
        }
        let who = match &self.user {
            Some(u) => format!("{u}@{}", self.conn.peer.host_name()),
            None => self.conn.peer.host_name().to_string(),
        };
        self.conn.log.line(&format!(
            "rsync {} {} from {who} ({})",
            if opts.sender { "on" } else { "to" },
            paths.join(" "),
            self.conn.peer.addr
        ));
        let mut env = self.xfer_env(paths, tails);
        // Landlock: after chroot and the privilege drop, before pre-xfer
        // exec and the engine's threads, so that all of them inherit it.
        let engaged = sandbox::engage(
            &self.module,
            &self.root,
            !opts.sender && !self.read_only,
            self.module_root.as_ref(),
        );
        self.conn.log.line(&engaged.log);
        if !engaged.proceed {
            return self.fail_after_ok(
                Some(&opts),
                client_info,
                &format!("@ERROR: the sandbox of module {name} could not be engaged"),
                exit::RERR_STARTCLIENT,
            );
        }
        if let Some(line) = sandbox::test_unconfined_write() {
            self.conn.log.line(&line);
        }
        if let Some(early) = self.early.take() {
            let r = hooks::run_with_input(&early.cmd, &early.env, &early.input);
            if r.code != 0 {
                self.conn
                    .log
                    .line(&format!("early exec failed ({}) on module {name}", r.code));
                let msg = format!("early exec failed ({})", r.code);
                return self.fail_after_ok(Some(&opts), client_info, &msg, exit::RERR_STARTCLIENT);
            }
        }
        if let Some(cmd) = self.hooks[0].clone() {
            let r = hooks::run(&cmd, &env);
            if r.code != 0 {
                self.conn.log.line(&format!(
                    "pre-xfer exec returned failure ({}) on module {name}",
                    r.code
                ));
                let mut msg = format!("pre-xfer exec returned failure ({})", r.code);
                if !r.output.is_empty() {
                    msg.push_str(": ");
                    msg.push_str(&r.output);
                }
                return self.fail_after_ok(Some(&opts), client_info, &msg, exit::RERR_UNSUPPORTED);
            }
        }
        // `name converter`: started like the hooks, inside the sandbox, and
        // only when names are converted at all.
        if let (Some(cmd), false) = (self.hooks[2].clone(), self.numeric_ids()) {
            match crate::namecvt::install(&cmd, &env, self.conn.log.clone()) {
                Ok(c) => self.converter = Some(c),
                Err(e) => {
                    self.conn.log.line(&format!(
                        "name-converter exec preparation failed on module {name}: {e}"
                    ));
                    let msg = "@ERROR: name-converter exec preparation failed";
                    return self.fail_after_ok(
                        Some(&opts),
                        client_info,
                        msg,
                        exit::RERR_STARTCLIENT,
                    );
                }
            }
        }
        // A daemon sender skips the module's `dont compress` suffixes as
        // well as any the client named with --skip-compress.
        if let Some(list) = self
            .module
            .params
            .nonempty("dont compress")
            .and_then(dont_compress_list)
            .filter(|_| opts.sender)
        {
            opts.skip_compress = Some(match opts.skip_compress.take() {
                Some(client) if !client.is_empty() => format!("{client}/{list}"),
                _ => list,
            });
        }
        let code = self.transfer(&opts, tails);
        if let Some(cmd) = self.hooks[1].clone() {
            env.set("RSYNC_EXIT_STATUS", code.to_string());
            env.set("RSYNC_RAW_STATUS", (code << 8).to_string());
            let r = hooks::run(&cmd, &env);
            if r.code != 0 {
                self.conn.log.line(&format!(
                    "post-xfer exec returned {} on module {name}",
                    r.code
                ));
            }
        }
        code
    }

    /// Steps 3 and 4: opens the module root, then chroots and drops to
    /// the module's uid and gid (when the daemon runs as root), then sets
    /// no_new_privs. No thread exists yet.
    // upstream: clientserver.c:rsync_module() (chroot, setgid, setuid)
    fn confine_process(&mut self) -> Result<(), privs::PrivsError> {
        // The module path is the administrator's: a symlink on it owned
        // by another user is refused unless `insecure links = yes`.
        let links = self.module.links();
        let root = Root::open_operator(&self.root, links, AmbientAuthority::operator()).map_err(
            |source| privs::PrivsError::Module {
                module: self.module.name.clone(),
                source,
            },
        )?;
        self.module_root = Some(root);
        engine::ids::preload();
        let ids = if rustix::process::geteuid().is_root() {
            Some(privs::module_ids(&self.module)?)
        } else {
            None
        };
        self.dropped_to = ids.clone();
        let plan = privs::chroot_plan(&self.module, &self.raw_path, &self.root);
        let applied = privs::apply(plan.as_ref(), &self.root, ids)?;
        if let Some(w) = &applied.warning {
            self.conn.log.line(w);
        }
        self.root = applied.root;
        self.chrooted = applied.chrooted;
        self.module_root = self.module_root.take().map(|r| self.anchor(r));
        Ok(())
    }

    /// Why a push into the module was refused permission, when the daemon
    /// dropped its privileges for the session: the ids it writes as. The
    /// log line names the module's directory; the client's names the
    /// module only (a client is never told where it lies).
    fn denied_hint(&self, opts: &Options, message: &str) -> Option<(String, String)> {
        let ids = self.dropped_to.as_ref()?;
        if opts.sender || !message.contains("Permission denied") {
            return None;
        }
        let line = |place: &str| {
            format!(
                "rsync: module {} is written as uid {} gid {} (its \"uid\" and \"gid\", \
                 nobody unless set): make {place} writable by them, or set \"uid\" and \"gid\"",
                self.module.name, ids.uid, ids.gid,
            )
        };
        Some((
            line(&self.raw_path.display().to_string()),
            line("its directory"),
        ))
    }

    /// Whether this session's ids may create files in the module's own
    /// directory.
    fn module_writable(&self) -> bool {
        let Some(root) = self.module_root.as_ref() else {
            return true;
        };
        rustix::fs::accessat(
            root,
            ".",
            rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
            rustix::fs::AtFlags::EACCESS,
        )
        .is_ok()
    }

    /// `numeric ids`: the module's setting; unset, on for a chrooted
    /// session without a `name converter`.
    // upstream: clientserver.c:rsync_module()
    fn numeric_ids(&self) -> bool {
        let converter = self.module.params.nonempty("name converter").is_some();
        self.module
            .params
            .opt_bool("numeric ids")
            .unwrap_or(self.chrooted && !converter)
    }

    /// `transfer logging`: one `format` line per transferred file.
    // upstream: log.c:log_item()
    fn install_transfer_log(&self, out: &Out, opts: &Options, tails: &[Tail], format: String) {
        let fields = LogFields {
            addr: self.conn.peer.addr.to_string(),
            host: self.conn.peer.host_name().to_string(),
            module: self.module.name.clone(),
            module_path: self.root.display().to_string(),
            user: self.user.clone().unwrap_or_default(),
        };
        // The transfer root below the module (names are relative to it).
        let prefix = match tails.first() {
            Some(t) if t.trailing_slash || !opts.sender => t.rel.clone(),
            Some(t) => Path::new(&t.rel)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            None => String::new(),
        };
        let log = self.conn.log.clone();
        out.set_file_log(Box::new(move |ev| {
            let f = logfmt::file_fields(&ev, &prefix);
            log.line(&logfmt::expand(&format, &fields, &f));
        }));
    }

    /// A chmod parameter (a bad one is logged and ignored).
    fn chmod_param(&self, key: &str) -> Option<ChmodSpec> {
        let v = self.module.params.nonempty(key)?;
        match ChmodSpec::parse(v) {
            Ok(s) => Some(s),
            Err(e) => {
                self.conn
                    .log
                    .line(&format!("{key} of module {}: {e}", self.module.name));
                None
            }
        }
    }

    /// The hooks' environment once the request is known: `RSYNC_REQUEST`
    /// and the arguments as `RSYNC_ARG0`... (upstream's argv, module
    /// prefixes removed) on top of [`Requested::hook_env`].
    fn xfer_env(&self, paths: &[String], tails: &[Tail]) -> HookEnv {
        let mut env = self.hook_env();
        env.set("RSYNC_REQUEST", paths.join(" "));
        let mut argv = vec!["rsyncd".to_string()];
        argv.extend(self.args.iter().take_while(|a| *a != ".").cloned());
        argv.push(".".into());
        argv.extend(tails.iter().map(|t| t.rel.clone()));
        for (i, a) in argv.iter().enumerate() {
            env.set(&format!("RSYNC_ARG{i}"), a.clone());
        }
        env
    }

    fn hook_env(&self) -> HookEnv {
        let mut env = HookEnv::default();
        env.set("RSYNC_MODULE_NAME", self.module.name.clone());
        env.set("RSYNC_MODULE_PATH", self.root.display().to_string());
        env.set("RSYNC_HOST_ADDR", self.conn.peer.addr.to_string());
        env.set("RSYNC_HOST_NAME", self.conn.peer.host_name().to_string());
        env.set("RSYNC_USER_NAME", self.user.clone().unwrap_or_default());
        env.set("RSYNC_PID", std::process::id().to_string());
        env
    }

    /// Runs the engine role over the connection.
    fn transfer(&mut self, opts: &Options, tails: &[Tail]) -> i32 {
        self.adopt_client_limits(opts);
        let (r, w) = self.take_streams();
        let mut link = match self.session_link(opts) {
            Ok(link) => link,
            Err(refused) => return self.refuse_streams(r, w, opts, refused),
        };
        let out = self.session_out(&w, opts, tails);
        // Everything either role lists, reads, writes or removes is
        // resolved beneath the module's directory handle.
        let module_writable = self.module_writable();
        let module = match self.take_module_root() {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("rsync: cannot open module {}: {e}", self.module.name);
                return self.fail_streams(
                    r,
                    w,
                    Some(opts),
                    opts.rsh.as_deref(),
                    &msg,
                    exit::RERR_FILEIO,
                );
            }
        };
        // Messages name paths relative to the module, never its directory.
        engine::source::show_module(self.root.clone(), self.module.name.clone());
        let (role, res) = if opts.sender {
            let mut sources = match self.sender_sources(opts, tails) {
                Ok(sources) => sources,
                Err(refused) => return self.refuse_streams(r, w, opts, refused),
            };
            if sources.is_empty() {
                sources.push(format!("{}/", self.root.display()));
            }
            // Chrooted at the module itself, absolute links name places in
            // the module (the chroot resolves them there).
            let chroot = self.chrooted && self.root == Path::new("/");
            // With `insecure links = yes` the module root follows any
            // symlink on disk (Self::anchor); names still resolve beneath it.
            link.sources = engine::source::Sources::beneath(module, self.root.clone(), chroot);
            (
                "sender",
                run_sender(r, w.clone(), opts, &sources, &link, out.clone()),
            )
        } else {
            let dest = match self.receiver_dest(module, tails, &link) {
                Ok(dest) => dest,
                Err(refused) => return self.refuse_streams(r, w, opts, refused),
            };
            (
                "receiver",
                run_receiver_to(r, w.clone(), opts, dest, &link, out.clone()),
            )
        };
        self.finish_transfer(role, res, w, out, opts, module_writable)
    }

    /// Adopts the client's --bwlimit and --timeout where they are lower
    /// than the module's.
    fn adopt_client_limits(&mut self, opts: &Options) {
        // upstream: the daemon's --bwlimit caps the client's.
        let asked = opts.ctl.bwlimit;
        if asked > 0 && (self.conn.bwlimit == 0 || asked < self.conn.bwlimit) {
            self.conn.bwlimit = asked;
        }
        // upstream: the client's --timeout applies unless the module's
        // `timeout` is shorter.
        let asked = u64::from(opts.ctl.timeout);
        if asked > 0 && self.timeout.is_none_or(|t| asked < t.as_secs()) {
            let t = Duration::from_secs(asked);
            self.timeout = Some(t);
            (self.conn.set_timeout)(Some(t));
        }
    }

    /// How the engine reaches the module for this client: the module's
    /// filter and chmod rules, the ids, the timeout and the
    /// `--files-from` names read beneath the module.
    fn session_link(&mut self, opts: &Options) -> Result<Link, Refused> {
        let daemon_filter = match self.module_filter.clone() {
            Ok(f) => f.map(|rules| DaemonFilter {
                rules,
                module_root: self.root.clone(),
            }),
            Err(msg) => {
                self.conn.log.line(&msg.to_string());
                return Err(Refused {
                    msg: format!("rsync: {msg}"),
                    code: exit::RERR_SYNTAX,
                });
            }
        };
        let mut link = Link {
            side: Side::Server,
            client_info: opts.rsh.clone(),
            local: false,
            agreed_protocol: Some(self.protocol),
            daemon_filter,
            incoming_chmod: self.chmod_param("incoming chmod"),
            outgoing_chmod: self.chmod_param("outgoing chmod"),
            numeric_ids: self.numeric_ids(),
            // upstream: a module not chrooted at its own root sanitizes
            // paths, received symlink targets included unless munged.
            sanitize_symlinks: !opts.munge_links && (!self.chrooted || self.root != Path::new("/")),
            io_timeout: self
                .timeout
                .map(|t| u32::try_from(t.as_secs()).unwrap_or(u32::MAX)),
            files_from_data: None,
            sources: Default::default(),
            requested: None,
            batch: None,
        };
        match crate::treeshape::read_files_from(
            opts,
            &self.module.name,
            self.module_root.as_ref(),
            &self.root,
            link.daemon_filter.as_ref(),
        ) {
            Ok(data) => link.files_from_data = data,
            Err(msg) => {
                self.conn
                    .log
                    .line(&format!("refused on module {}: {msg}", self.module.name));
                return Err(Refused {
                    msg: format!("rsync: {msg}"),
                    code: exit::RERR_SYNTAX,
                });
            }
        }
        Ok(link)
    }

    /// Where the session's messages go: to the client over the wire, the
    /// peer's own messages and the log-only lines (and, with `transfer
    /// logging`, each file) to the daemon's log.
    fn session_out(&self, w: &SharedWriter, opts: &Options, tails: &[Tail]) -> Arc<Out> {
        let fmt = ItemFormat {
            itemize: 0,
            verbose: 0,
            sender: opts.sender,
            local: false,
            preserve_mtimes: opts.times,
        };
        let out = Out::wire(w.clone(), fmt);
        // The peer's messages and the log-only lines go to the daemon's
        // log (upstream log.c rwrite() in a daemon).
        let msg_log = self.conn.log.clone();
        out.set_msg_log(Box::new(move |text: &[u8]| {
            for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                msg_log.line(&String::from_utf8_lossy(line));
            }
        }));
        if let Some(c) = &self.converter {
            c.report_to(out.clone());
        }
        // upstream: clientserver.c rsync_module(): the daemon's
        // --log-file-format, else the module's `log format` when it has
        // `transfer logging`.
        let format = match &self.conn.log_format {
            Some(f) => Some(f.clone()),
            None => self.module.params.bool("transfer logging", false).then(|| {
                self.module
                    .params
                    .nonempty("log format")
                    .unwrap_or(logfmt::DEFAULT_FORMAT)
                    .to_string()
            }),
        };
        if let Some(format) = format.filter(|f| !f.is_empty()) {
            self.install_transfer_log(&out, opts, tails, format);
        }
        out
    }

    /// The sender's sources for the client's paths (all beneath the
    /// module).
    fn sender_sources(&self, opts: &Options, tails: &[Tail]) -> Result<Vec<String>, Refused> {
        let mut sources = Vec::new();
        let raws: Vec<&String> = opts.args.iter().skip(1).collect();
        for (k, t) in tails.iter().enumerate() {
            let checked: Result<String, crate::tail::TailError> = Ok(sender_source(&self.root, t));
            // -R: names start below the module root (or the client's
            // `/./`), not at the filesystem root.
            let checked = match (checked, raws.get(k)) {
                (Ok(_), Some(raw)) if opts.tree.relative() && opts.tree.files_from.is_none() => {
                    crate::treeshape::relative_source(
                        &self.module.name,
                        &self.root,
                        raw,
                        t.trailing_slash,
                    )
                }
                (other, _) => other,
            };
            match checked {
                Ok(s) => sources.push(s),
                Err(msg) => {
                    self.conn
                        .log
                        .line(&format!("refused on module {}: {msg}", self.module.name));
                    return Err(Refused {
                        msg: format!("rsync: {msg}"),
                        code: exit::RERR_SYNTAX,
                    });
                }
            }
        }
        Ok(sources)
    }

    /// The receiver's destination beneath the module root: one path, not
    /// excluded by the module's filter.
    fn receiver_dest(&self, module: Root, tails: &[Tail], link: &Link) -> Result<Dest, Refused> {
        if tails.len() > 1 {
            return Err(Refused {
                msg: "rsync: the daemon receives into one destination path".to_string(),
                code: exit::RERR_SYNTAX,
            });
        }
        let tail = tails.first().cloned().unwrap_or(Tail {
            rel: String::new(),
            trailing_slash: true,
        });
        if let Some(df) = &link.daemon_filter {
            // upstream: main.c:get_local_name() matches the cleaned
            // destination name as a file and as a directory (the
            // directories above it are not matched: `exclude = /d`
            // protects `d`, `/d/` the subtree).
            let dest = tail.rel.trim_end_matches('/');
            let dest = dest.strip_suffix("/.").unwrap_or(dest).as_bytes();
            if !dest.is_empty()
                && dest != b"."
                && (df.rules.is_excluded(dest, false) || df.rules.is_excluded(dest, true))
            {
                let msg = format!("ERROR: daemon has excluded destination \"{}\"", tail.rel);
                self.conn
                    .log
                    .line(&format!("{msg} on module {}", self.module.name));
                return Err(Refused {
                    msg,
                    code: exit::RERR_FILESELECT,
                });
            }
        }
        let root = module;
        let path = if tail.rel.is_empty() {
            RelPath::root()
        } else {
            RelPath::new(tail.rel.as_bytes()).unwrap_or_else(|_| RelPath::root())
        };
        let dest = Dest::Beneath {
            root,
            path,
            trailing_slash: tail.trailing_slash,
        };
        Ok(dest)
    }

    /// Logs how the transfer ended and gives its exit code (after
    /// upstream's courtesy wait for the client on an error).
    fn finish_transfer(
        &mut self,
        role: &str,
        res: Result<engine::stats::XferStats, Error>,
        w: SharedWriter,
        out: Arc<Out>,
        opts: &Options,
        module_writable: bool,
    ) -> i32 {
        match res {
            Ok(stats) => {
                if let Ok(mut g) = w.lock() {
                    let _ = g.flush();
                }
                self.conn.log.line(&format!(
                    "sent {} bytes  received {} bytes  total size {}",
                    stats.total_written, stats.total_read, stats.total_size
                ));
                let code = out.final_code();
                // Files refused one by one (exit 23): when the module's
                // own directory is not writable by the dropped ids, the
                // log says why.
                if code != 0 && !module_writable {
                    if let Some((hint, _)) = self.denied_hint(opts, "Permission denied") {
                        self.conn.log.line(&hint);
                    }
                }
                code
            }
            Err(e) => {
                // A read that hit the module's `timeout` ends the session
                // with upstream's message and code.
                let e = match self.timeout {
                    Some(t) if self.timed_out.load(Ordering::SeqCst) => Error::new(
                        exit::RERR_TIMEOUT,
                        format!(
                            "[{role}] io timeout after {} seconds -- exiting",
                            t.as_secs()
                        ),
                    ),
                    _ => e,
                };
                self.conn.log.line(&format!(
                    "{role} failed: {} (code {})",
                    e.message.trim_end(),
                    e.code
                ));
                let mut e = e;
                if let Some((hint, told)) = self.denied_hint(opts, &e.message) {
                    self.conn.log.line(&hint);
                    if !e.reported {
                        out.error(&e.message);
                    }
                    out.error(&told);
                    if !e.reported {
                        out.error(&e.closing_line(role));
                        e.reported = true;
                    }
                }
                server_fail(&w, &out, &e, role);
                // upstream: cleanup.c:_exit_cleanup() (not after a broken
                // connection, a signal or a timeout). Nor for a peer that
                // broke the protocol or sent more than `max alloc` allows:
                // the courtesy is for a client that was cooperating.
                if ![
                    exit::RERR_SOCKETIO,
                    exit::RERR_STREAMIO,
                    exit::RERR_SIGNAL1,
                    exit::RERR_TIMEOUT,
                    exit::RERR_PROTOCOL,
                    exit::RERR_MALLOC,
                ]
                .contains(&e.code)
                {
                    let limit = self.timeout.unwrap_or(Duration::from_secs(60));
                    self.conn.until_death(limit);
                }
                e.code
            }
        }
    }

    /// Fails the session with a request refused before the transfer.
    fn refuse_streams(
        &mut self,
        r: Input,
        w: SharedWriter,
        opts: &Options,
        refused: Refused,
    ) -> i32 {
        self.fail_streams(
            r,
            w,
            Some(opts),
            opts.rsh.as_deref(),
            &refused.msg,
            refused.code,
        )
    }

    fn take_streams(&mut self) -> (Input, SharedWriter) {
        let r = std::mem::replace(&mut self.conn.r, BufReader::new(Box::new(std::io::empty())));
        let w = std::mem::replace(&mut self.conn.w, Box::new(std::io::sink()));
        let r = TimeoutWatch {
            inner: r,
            flag: self.timed_out.clone(),
        };
        let w = engine::iolimit::BwLimitWrite::new(w, self.conn.bwlimit);
        (Box::new(r), shared(Box::new(w)))
    }

    /// A refusal after `@RSYNCD: OK`: set up the protocol (reading the
    /// client's part), start multiplexing, send the message as an error,
    /// then MSG_ERROR_EXIT.
    // upstream: clientserver.c:rsync_module() (option error path)
    /// [`Self::fail_after_ok`] as the [`Ended`] of a helper of `run`,
    /// recording where the session was ended.
    #[track_caller]
    fn ended_after_ok(
        &mut self,
        opts: Option<&Options>,
        client_info: Option<String>,
        msg: &str,
        code: i32,
    ) -> Ended {
        let location = std::panic::Location::caller();
        Ended {
            code: self.fail_after_ok(opts, client_info, msg, code),
            location,
        }
    }

    fn fail_after_ok(
        &mut self,
        opts: Option<&Options>,
        client_info: Option<String>,
        msg: &str,
        code: i32,
    ) -> i32 {
        let (r, w) = self.take_streams();
        self.fail_streams(r, w, opts, client_info.as_deref(), msg, code)
    }

    /// The module root opened before the privilege drop, or (when it was
    /// not held) the module path opened now as an operator path: a symlink
    /// on it owned by another user is refused unless `insecure links`.
    /// The sender's path arguments with their wildcards expanded beneath
    /// the module (names the module's rules exclude are not matched).
    // upstream: io.c:read_args() -> util1.c:glob_expand_module()
    fn expand_wildcards(&mut self, opts: &mut Options) {
        let name = self.module.name.clone();
        if !opts
            .args
            .iter()
            .skip(1)
            .any(|a| a.contains(['*', '?', '[']))
        {
            return;
        }
        if self.module_root.is_none() {
            match self.take_module_root() {
                Ok(r) => self.module_root = Some(r),
                // Left as they are: opening the module fails again later,
                // with its message.
                Err(_) => return,
            }
        }
        let Some(root) = self.module_root.as_ref() else {
            return;
        };
        let filter = self
            .module_filter
            .clone()
            .ok()
            .flatten()
            .map(|rules| DaemonFilter {
                rules,
                module_root: self.root.clone(),
            });
        let mut args = Vec::with_capacity(opts.args.len());
        for (k, a) in opts.args.iter().enumerate() {
            if k == 0 {
                args.push(a.clone());
            } else {
                args.extend(crate::glob::expand_arg(&name, a, root, filter.as_ref()));
            }
        }
        opts.args = args;
    }

    fn take_module_root(&mut self) -> Result<Root, confine::Error> {
        match self.module_root.take() {
            Some(r) => Ok(r),
            None => Root::open_operator(
                &self.root,
                self.module.links(),
                AmbientAuthority::operator(),
            )
            .map(|r| self.anchor(r)),
        }
    }

    /// `insecure links = yes`: the administrator's opt-out back to rsync's
    /// legacy following. The module root follows any symlink already on
    /// disk, wherever it points, for reading and writing alike (rsync 3.5.0
    /// restores its pre-confinement resolution there); the names a client
    /// sends still resolve beneath the root, a chroot still bounds it, and
    /// the session's Landlock domain is widened to match (sandbox::engage).
    /// See docs/daemon.md and docs/security.md.
    fn anchor(&self, root: Root) -> Root {
        if self.module.params.bool("insecure links", false) {
            root.any_link()
        } else {
            root
        }
    }

    fn fail_streams(
        &mut self,
        mut r: Input,
        w: SharedWriter,
        opts: Option<&Options>,
        client_info: Option<&str>,
        msg: &str,
        code: i32,
    ) -> i32 {
        self.conn.log.line(msg);
        let default = Options::default();
        let opts = opts.unwrap_or(&default);
        let fmt = ItemFormat {
            itemize: 0,
            verbose: 0,
            sender: opts.sender,
            local: false,
            preserve_mtimes: false,
        };
        let out = Out::wire(w.clone(), fmt);
        let setup = match lock_writer(&w) {
            Ok(mut g) => {
                esession::setup_with(
                    &mut r,
                    &mut *g,
                    opts,
                    Side::Server,
                    client_info,
                    Some(self.protocol),
                    false,
                )
                .is_ok()
                    && g.set_multiplexed(true).is_ok()
            }
            Err(_) => false,
        };
        if setup {
            out.set_protocol(self.protocol);
            server_fail(
                &w,
                &out,
                &Error::new(code, msg),
                if opts.sender { "sender" } else { "receiver" },
            );
        }
        // Let the client read the error before the socket closes.
        let mut sink = [0u8; 4096];
        let _ = r.read(&mut sink);
        code
    }
}

/// A module's `dont compress` patterns (space separated, `*.gz *.zip`) in
/// the engine's `--skip-compress` form (`gz/zip`). `*` alone means every
/// file; other patterns than `*.suffix` are ignored, as upstream does.
// upstream: token.c:init_set_compression()
fn dont_compress_list(patterns: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for word in patterns.split_ascii_whitespace() {
        if word == "*" {
            return Some("*".to_string());
        }
        if let Some(suffix) = word.strip_prefix("*.") {
            if !suffix.is_empty() && !suffix.contains(['.', '?', '*']) {
                out.push(suffix);
            }
        }
    }
    (!out.is_empty()).then(|| out.join("/"))
}

/// Notes when a read ends because the socket's read timeout expired.
struct TimeoutWatch<R> {
    inner: R,
    flag: Arc<AtomicBool>,
}

impl<R: Read> Read for TimeoutWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) {
                self.flag.store(true, Ordering::SeqCst);
            }
        })
    }
}

/// The client's first arguments ask for `-s` (a short bundle with `s`
/// before any value-taking letter, or a long spelling).
fn wants_protected_args(args: &[String]) -> bool {
    args.iter().take_while(|a| *a != ".").any(|a| {
        if a == "--secluded-args" || a == "--protect-args" {
            return true;
        }
        match a.strip_prefix('-') {
            Some(letters) if !letters.starts_with('-') => letters
                .chars()
                .take_while(|c| !matches!(c, 'e' | 'B' | 'T' | 'f' | 'M' | '@'))
                .any(|c| c == 's'),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn protected_args_are_recognised() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(super::wants_protected_args(&v(&[
            "--server",
            "-slogDtpre.iLsfxCIvu"
        ])));
        assert!(!super::wants_protected_args(&v(&[
            "--server",
            "-logDtpre.iLsfxCIvu",
            "."
        ])));
        assert!(!super::wants_protected_args(&v(&[
            "--server", "-r", ".", "-s"
        ])));
        assert!(super::wants_protected_args(&v(&[
            "--server",
            "--protect-args"
        ])));
    }

    use super::*;

    #[test]
    fn an_ended_session_records_where() {
        let (e, line) = (Ended::new(exit::RERR_STARTCLIENT), line!());
        assert_eq!(
            (e.code, e.location.file(), e.location.line()),
            (5, file!(), line)
        );
    }

    #[test]
    fn tails() {
        let t = |a: &str| module_tail("mod", a);
        assert_eq!(
            t("mod/").expect("t"),
            Tail {
                rel: "".into(),
                trailing_slash: true
            }
        );
        assert_eq!(
            t("mod").expect("t"),
            Tail {
                rel: "".into(),
                trailing_slash: true
            }
        );
        assert_eq!(
            t("mod/a/b").expect("t"),
            Tail {
                rel: "a/b".into(),
                trailing_slash: false
            }
        );
        assert_eq!(
            t("mod/a/b/").expect("t"),
            Tail {
                rel: "a/b".into(),
                trailing_slash: true
            }
        );
        assert_eq!(
            t("mod/./a//b/.").expect("t"),
            Tail {
                rel: "a/b".into(),
                trailing_slash: true
            }
        );
        assert_eq!(t("mod//etc/passwd").expect("t").rel, "etc/passwd");
        assert!(t("mod/../etc").is_err());
        assert!(t("mod/a/../../x").is_err());
        assert_eq!(t("module2/x").expect("t").rel, "module2/x");
    }

    #[test]
    fn sender_sources_join_the_module_path() {
        let root = Path::new("/srv/m");
        let tail = |rel: &str, ts: bool| Tail {
            rel: rel.into(),
            trailing_slash: ts,
        };
        assert_eq!(sender_source(root, &tail("", true)), "/srv/m/");
        assert_eq!(sender_source(root, &tail("sub/f", false)), "/srv/m/sub/f");
        assert_eq!(sender_source(root, &tail("out", true)), "/srv/m/out/");
        assert_eq!(sender_source(Path::new("/"), &tail("a", false)), "/a");
    }

    #[test]
    fn dont_compress_patterns() {
        assert_eq!(
            dont_compress_list("*.gz  *.ZIP foo *.a.b *.").as_deref(),
            Some("gz/ZIP")
        );
        assert_eq!(dont_compress_list("*.gz *").as_deref(), Some("*"));
        assert_eq!(dont_compress_list("foo"), None);
    }
}
