//! `oxsync --server`: the far side of a remote-shell transfer, speaking the
//! protocol on stdin and stdout.
use engine::itemize::ItemFormat;
use engine::out::{shared, Out};
use engine::transfer::{run_receiver, run_sender, server_fail, Link};
use engine::Options;
use std::fs::File;
use std::io::{self, BufReader};
use std::os::fd::AsFd;

pub fn run(opts: &Options, argv: &[std::ffi::OsString]) -> i32 {
    engine::iolimit::set_stop_at(opts.stop_at);
    // A stock rsync client may hand us non-blocking descriptors (it sets its
    // own ends non-blocking, and a socketpair end can share that); our I/O
    // is blocking by design.
    for fd in [io::stdin().as_fd(), io::stdout().as_fd()] {
        if let Ok(flags) = rustix::fs::fcntl_getfl(fd) {
            if flags.contains(rustix::fs::OFlags::NONBLOCK) {
                let _ = rustix::fs::fcntl_setfl(fd, flags - rustix::fs::OFlags::NONBLOCK);
            }
        }
    }
    for fd in [io::stdin().as_fd(), io::stdout().as_fd()] {
        crate::remote::widen_pipe(fd);
    }
    // Our stdout is the protocol stream: nothing else may ever write to it.
    let (stdin, stdout) = match (dup(io::stdin().as_fd()), dup(io::stdout().as_fd())) {
        (Ok(i), Ok(o)) => (i, o),
        _ => {
            eprintln!("rsync: [server] cannot duplicate stdin/stdout");
            return protocol::exit::RERR_IPC;
        }
    };
    let who = if opts.sender { "sender" } else { "receiver" };
    let stdin = engine::iolimit::TimeoutRead::new(stdin, opts.ctl.timeout, who);
    let mut r = BufReader::with_capacity(256 * 1024, stdin);
    // With -s the client sends the rest of its arguments over the pipe.
    let protected;
    let opts = if opts.ctl.protect() {
        protected = match read_protected_args(&mut r, argv) {
            Ok(o) => o,
            Err((code, message)) => {
                eprintln!("rsync: {message}");
                eprintln!("{}", engine::transfer::closing_line(code, "server"));
                return code;
            }
        };
        &protected
    } else {
        opts
    };
    if let Some(root) = &opts.confine_root {
        confine::operator::confine_within(root);
    }
    if let Err(e) = engine::charset::setup(opts.iconv.as_deref(), opts.server, false) {
        eprintln!("{}", e.message);
        eprintln!("{}", e.closing_line("server"));
        return e.code;
    }
    // upstream: main.c do_server_sender()/do_server_recv() ->
    // become_copy_as_user()
    if let Err(e) = engine::copyas::become_user(opts.copy_as.as_deref()) {
        eprintln!("{}", e.message);
        eprintln!("{}", e.closing_line("server"));
        return e.code;
    }
    r.get_mut().set_secs(opts.ctl.timeout);
    let w = shared(Box::new(engine::iolimit::BwLimitWrite::new(
        stdout,
        opts.ctl.bwlimit,
    )));
    let fmt = ItemFormat {
        itemize: 0,
        verbose: 0,
        sender: opts.sender,
        local: false,
        preserve_mtimes: opts.times,
    };
    let out = Out::wire(w.clone(), fmt);
    let logf = crate::logfile::LogFile::start(opts, &out, opts.sender, false);
    let r = Box::new(r);
    let client_info = opts.rsh.as_deref();
    let args = &opts.args;
    let (role, res) = if opts.sender {
        let mut sources: Vec<String> = args.iter().skip(1).cloned().collect();
        if sources.is_empty() {
            sources.push(".".into());
        }
        (
            "sender",
            run_sender(
                r,
                w.clone(),
                opts,
                &sources,
                &Link::server(client_info),
                out.clone(),
            ),
        )
    } else {
        let dest = args.get(1).cloned().unwrap_or_else(|| ".".into());
        (
            "receiver",
            run_receiver(
                r,
                w.clone(),
                opts,
                &dest,
                &Link::server(client_info),
                out.clone(),
            ),
        )
    };
    match res {
        Ok(stats) => {
            if let Some(l) = &logf {
                l.finish(&stats);
            }
            if let Ok(mut g) = w.lock() {
                let _ = std::io::Write::flush(&mut *g);
            }
            out.final_code()
        }
        Err(e) => {
            if let Some(l) = &logf {
                l.error(&e.message);
            }
            server_fail(&w, &out, &e, role);
            e.code
        }
    }
}

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<File> {
    Ok(File::from(fd.try_clone_to_owned()?))
}

/// Longest protected argument (upstream reads them into a MAXPATHLEN
/// buffer).
const MAX_PROTECTED_ARG: usize = 4096;
/// Most protected arguments accepted.
const MAX_PROTECTED_ARGS: usize = 1 << 16;

/// Reads the NUL-terminated arguments a `-s` client sends (the first is a
/// stand-in for argv\[0\], an empty one ends them) and parses them after
/// the ones from the command line.
// upstream: main.c:main() (protect_args) and io.c:read_args()
fn read_protected_args(
    r: &mut impl io::BufRead,
    argv: &[std::ffi::OsString],
) -> Result<Options, (i32, String)> {
    use std::io::BufRead;
    use std::os::unix::ffi::OsStringExt;
    let mut all: Vec<std::ffi::OsString> = argv.to_vec();
    let mut first = true;
    let mut seen_dot = false;
    loop {
        let mut arg = Vec::new();
        let n = io::Read::take(&mut *r, MAX_PROTECTED_ARG as u64 + 1)
            .read_until(0, &mut arg)
            .map_err(|e| {
                (
                    protocol::exit::RERR_STREAMIO,
                    format!("reading the arguments: {e}"),
                )
            })?;
        if n == 0 || arg.last() != Some(&0) {
            let why = if n > MAX_PROTECTED_ARG {
                "an argument from the client is too long"
            } else {
                "connection closed while reading the arguments"
            };
            return Err((protocol::exit::RERR_PROTOCOL, why.to_string()));
        }
        arg.pop();
        if arg.is_empty() {
            break;
        }
        if all.len() - argv.len() >= MAX_PROTECTED_ARGS {
            return Err((
                protocol::exit::RERR_PROTOCOL,
                "too many arguments from the client".to_string(),
            ));
        }
        if std::mem::take(&mut first) {
            continue;
        }
        if seen_dot {
            // upstream: the server expands wildcards in protected paths
            // (no remote shell did it).
            for p in glob_expand(&arg) {
                all.push(std::ffi::OsString::from_vec(p));
            }
            continue;
        }
        seen_dot = arg == b".";
        all.push(std::ffi::OsString::from_vec(arg));
    }
    Options::parse(&all).map_err(|e| (e.exit_code, e.message))
}

/// Most names one wildcard argument may expand to.
const MAX_GLOB: usize = 1 << 16;

/// Expands `*`, `?` and `[...]` in each component of a path the way
/// upstream's glob_expand() does for protected arguments: matching names
/// (not `.` or `..`), sorted; the argument itself when nothing matches.
// upstream: util1.c:glob_expand()
fn glob_expand(arg: &[u8]) -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    if !arg.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
        return vec![arg.to_vec()];
    }
    let mut found: Vec<Vec<u8>> = vec![Vec::new()];
    for (i, comp) in arg.split(|&b| b == b'/').enumerate() {
        let join = |base: &[u8], name: &[u8]| {
            let mut p = base.to_vec();
            if i > 0 {
                p.push(b'/');
            }
            p.extend_from_slice(name);
            p
        };
        let wild = comp.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
        let mut next = Vec::new();
        for base in &found {
            if !wild {
                next.push(join(base, comp));
                continue;
            }
            let dir: &[u8] = match (i, base.is_empty()) {
                (0, _) => b".",
                (_, true) => b"/",
                _ => base,
            };
            let Ok(rd) = std::fs::read_dir(std::ffi::OsStr::from_bytes(dir)) else {
                continue;
            };
            let mut names: Vec<Vec<u8>> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().as_bytes().to_vec())
                .filter(|n| filter::wildmatch::wildmatch(comp, n))
                .collect();
            names.sort();
            next.extend(names.iter().map(|n| join(base, n)));
            if next.len() > MAX_GLOB {
                break;
            }
        }
        found = next;
        if found.is_empty() {
            break;
        }
    }
    if found.is_empty() {
        vec![arg.to_vec()]
    } else {
        found
    }
}
