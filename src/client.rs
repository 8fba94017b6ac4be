//! The client: decides the direction from the command line, starts the
//! remote shell (or the in-process receiving side) and prints the summary.
use crate::output::{client_out, finish, format};
use crate::protect_args::send_protected_args;
use crate::remote::{parse_location, safe_arg, split_command, Location};
use engine::out::{shared, Out};
use engine::session::our_protocol;
use engine::stats::XferStats;
use engine::transfer::{closing_line, local_copy, run_receiver, run_sender, Link};
use engine::{Error, Options};
use protocol::exit;
use std::io::BufReader;
use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub fn run(opts: &Options, argv: &[String]) -> i32 {
    let started = Instant::now();
    if let Some(root) = &opts.confine_root {
        confine::operator::confine_within(root);
    }
    engine::iolimit::set_stop_at(opts.stop_at);
    if let Err(msg) = files_from_checks(opts) {
        return fail_usage(&msg, exit::RERR_SYNTAX);
    }
    if opts.reads_batch() {
        return read_batch(opts, started);
    }
    let batch = if opts.writes_batch() {
        match engine::batch::open_for_writing(opts, argv) {
            Ok(rec) => Some(rec),
            Err(e) => return fail_usage(e.message.trim_start_matches("rsync: "), e.code),
        }
    } else {
        None
    };
    let code = transfer(opts, started, batch.as_ref());
    match batch.map(|rec| rec.finish()) {
        Some(Err(e)) if code == 0 => fail_usage(e.message.trim_start_matches("rsync: "), e.code),
        _ => code,
    }
}

/// `--read-batch`: the receiving side over the batch file.
fn read_batch(opts: &Options, started: Instant) -> i32 {
    let Some(dest) = opts.args.last() else {
        return fail_usage("--read-batch needs a destination", exit::RERR_SYNTAX);
    };
    if !matches!(parse_location(dest), Location::Local(_)) {
        return fail_usage(
            "remote destination is not allowed with --read-batch",
            exit::RERR_SYNTAX,
        );
    }
    let out = client_out(opts, format(opts, false, false));
    let logf = crate::logfile::LogFile::start(opts, &out, false, false);
    let res = engine::replay::replay(opts, dest, out.clone()).map(|s| (s, 0));
    finish(opts, res, &out, logf.as_ref(), started)
}

fn transfer(opts: &Options, started: Instant, batch: Option<&engine::batch::Recorder>) -> i32 {
    let record = || batch.cloned().map(engine::batch::LinkBatch::Record);
    let mut args = opts.args.clone();
    // upstream: rsync.c setup_iconv(); a local copy converts on both sides.
    let local = args.len() > 1
        && args
            .iter()
            .all(|a| matches!(parse_location(a), Location::Local(_)));
    if let Err(e) = engine::charset::setup(opts.iconv.as_deref(), opts.server, local) {
        eprintln!("{}", e.message);
        eprintln!("{}", e.closing_line("client"));
        return e.code;
    }
    if args.len() == 1 && matches!(parse_location(&args[0]), Location::Daemon(_)) {
        return crate::daemon_client::run(opts, record());
    }
    // A single argument lists it (upstream: list_only with no destination).
    let dest = if args.len() == 1 {
        ".".to_string()
    } else {
        args.pop().unwrap_or_default()
    };
    let dest_loc = parse_location(&dest);
    let src_locs: Vec<Location> = args.iter().map(|a| parse_location(a)).collect();
    if matches!(dest_loc, Location::Daemon(_))
        || src_locs.iter().any(|l| matches!(l, Location::Daemon(_)))
    {
        return crate::daemon_client::run(opts, record());
    }
    let remote_srcs = src_locs
        .iter()
        .filter(|l| matches!(l, Location::Remote { .. }))
        .count();
    let logf;
    let (result, out): (engine::Result<(XferStats, i32)>, Arc<Out>) = match (&dest_loc, remote_srcs)
    {
        (Location::Remote { .. }, n) if n > 0 => {
            return fail_usage(
                "The source and destination cannot both be remote.",
                exit::RERR_SYNTAX,
            );
        }
        (Location::Remote { user, host, path }, _) => {
            let out = client_out(opts, format(opts, true, false));
            logf = crate::logfile::LogFile::start(opts, &out, true, false);
            let sources: Vec<String> = src_locs.iter().map(local_path).collect();
            let remote_path = if path.is_empty() {
                ".".to_string()
            } else {
                path.clone()
            };
            let res = with_remote(
                opts,
                user.as_deref(),
                host,
                false,
                &[remote_path],
                |r, w| {
                    let link = Link {
                        batch: record(),
                        ..Link::client()
                    };
                    run_sender(r, w, opts, &sources, &link, out.clone())
                },
            );
            (res, out)
        }
        (Location::Local(dest), 0) => {
            if let Err(e) = engine::copyas::become_user(opts.copy_as.as_deref()) {
                eprintln!("{}", e.message);
                eprintln!("{}", e.closing_line("client"));
                return e.code;
            }
            let out = client_out(opts, format(opts, true, true));
            logf = crate::logfile::LogFile::start(opts, &out, true, true);
            let sources: Vec<String> = src_locs.iter().map(local_path).collect();
            let res = local_copy(opts, &sources, dest, out.clone(), record());
            (res.map(|s| (s, 0)), out)
        }
        (Location::Local(dest), n) => {
            if n != src_locs.len() {
                return fail_usage(
                    "The source and destination cannot both be remote.",
                    exit::RERR_SYNTAX,
                );
            }
            let (user, host) = match &src_locs[0] {
                Location::Remote { user, host, .. } => (user.clone(), host.clone()),
                _ => unreachable!("every source is remote"),
            };
            let mut paths = Vec::new();
            for l in &src_locs {
                if let Location::Remote {
                    user: u,
                    host: h,
                    path,
                } = l
                {
                    if *h != host || *u != user {
                        return fail_usage(
                            "all remote sources must be on the same host",
                            exit::RERR_SYNTAX,
                        );
                    }
                    paths.push(if path.is_empty() {
                        ".".to_string()
                    } else {
                        path.clone()
                    });
                }
            }
            let out = client_out(opts, format(opts, false, false));
            logf = crate::logfile::LogFile::start(opts, &out, false, false);
            let link = Link {
                requested: Some(engine::trust::Requested {
                    args: paths.clone(),
                    daemon: false,
                }),
                batch: record(),
                ..Link::client()
            };
            let recv_opts = engine::batch::receiving_options(opts);
            let res = with_remote(opts, user.as_deref(), &host, true, &paths, |r, w| {
                run_receiver(r, w, &recv_opts, dest, &link, out.clone())
            });
            (res, out)
        }
        (Location::Daemon(_), _) => unreachable!("daemon refused above"),
    };
    finish(opts, result, &out, logf.as_ref(), started)
}

use std::sync::Arc;

/// The client's --files-from checks before any connection (upstream
/// options.c opens a local list while parsing; main.c compares hosts).
fn files_from_checks(opts: &Options) -> Result<(), String> {
    use engine::options::tree::FilesFrom;
    let Some(ff) = opts.tree.files_from() else {
        return Ok(());
    };
    let hosts: Vec<String> = opts
        .args
        .iter()
        .filter_map(|a| match parse_location(a) {
            Location::Remote { host, .. } => Some(host),
            Location::Daemon(d) => Some(
                d.trim_start_matches("rsync://")
                    .split([':', '/'])
                    .next()
                    .unwrap_or("")
                    .rsplit('@')
                    .next()
                    .unwrap_or("")
                    .to_string(),
            ),
            Location::Local(_) => None,
        })
        .collect();
    match ff {
        FilesFrom::Local(p) if p != "-" => std::fs::File::open(&p).map(drop).map_err(|e| {
            format!(
                "failed to open files-from file {p}: {}",
                engine::error::os_err(&e)
            )
        }),
        FilesFrom::Local(_) => Ok(()),
        FilesFrom::Remote { .. } if hosts.is_empty() => {
            Err("--files-from cannot be remote when the transfer is local".to_string())
        }
        FilesFrom::Remote { host, .. } => {
            let host = host.rsplit('@').next().unwrap_or("");
            if !host.is_empty() && hosts.iter().any(|h| h != host) {
                Err("--files-from hostname is not the same as the transfer hostname".to_string())
            } else {
                Ok(())
            }
        }
    }
}

fn fail_usage(msg: &str, code: i32) -> i32 {
    eprintln!("rsync: {msg}");
    eprintln!("{}", closing_line(code, "client"));
    code
}

fn local_path(l: &Location) -> String {
    match l {
        Location::Local(p) => p.clone(),
        _ => String::new(),
    }
}

/// Starts the remote shell with `--server ...` and runs `f` over its pipes;
/// then waits for it and folds its exit status into the result.
fn with_remote(
    opts: &Options,
    user: Option<&str>,
    host: &str,
    server_sender: bool,
    paths: &[String],
    f: impl FnOnce(engine::transfer::Input, engine::out::SharedWriter) -> engine::Result<XferStats>,
) -> engine::Result<(XferStats, i32)> {
    let rsh = opts
        .rsh
        .clone()
        .or_else(|| std::env::var("RSYNC_RSH").ok())
        .unwrap_or_else(|| "ssh".into());
    let mut words = split_command(&rsh);
    if words.is_empty() {
        return Err(Error::new(
            exit::RERR_SYNTAX,
            "rsync: the remote shell command is empty",
        ));
    }
    let program = words.remove(0);
    let mut cmd = Command::new(&program);
    cmd.args(&words);
    if let Some(u) = user {
        cmd.arg("-l").arg(u);
    }
    cmd.args(crate::socket::ssh_family_arg(&program, opts.ip_family));
    cmd.arg(host);
    cmd.arg(opts.rsync_path.clone().unwrap_or_else(|| "rsync".into()));
    let protected = push_server_args(&mut cmd, opts, server_sender, paths);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // upstream pipe.c: the forked child fails to exec the remote shell and
    // exits with "error in IPC code" (14), the code the client ends with.
    let mut child: Child = cmd.spawn().map_err(|e| {
        Error::new(
            exit::RERR_IPC,
            format!(
                "rsync: [{}] Failed to exec {program}: {}",
                if server_sender { "Receiver" } else { "sender" },
                engine::error::os_err(&e)
            ),
        )
    })?;
    // upstream: main.c client_run() -> become_copy_as_user(): the remote
    // shell keeps the invoking user, the copy runs as the other.
    if let Err(e) = engine::copyas::become_user(opts.copy_as.as_deref()) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(Error::new(
            exit::RERR_IPC,
            "rsync: cannot talk to the remote shell",
        ));
    };
    crate::remote::widen_pipe(stdin.as_fd());
    crate::remote::widen_pipe(stdout.as_fd());
    let mut stdin = stdin;
    if let Some(words) = protected {
        send_protected_args(&mut stdin, &words)?;
    }
    // upstream who_am_i(): the client receiver is "Receiver" before it forks.
    let who = if server_sender { "Receiver" } else { "sender" };
    let stdout = engine::iolimit::TimeoutRead::new(stdout, opts.ctl.timeout, who);
    let r: engine::transfer::Input = Box::new(BufReader::with_capacity(256 * 1024, stdout));
    let w = shared(Box::new(engine::iolimit::BwLimitWrite::new(
        stdin,
        opts.ctl.bwlimit,
    )));
    let res = f(r, w);
    // A pulling client confined by Landlock (ABI 6 scopes signals) may not
    // signal the server it started: then it does not wait for it either;
    // its exit closes the pipes, and the server ends on that.
    let mut unkillable = false;
    if res.as_ref().is_err_and(|e| e.code == exit::RERR_TIMEOUT) {
        // The peer went silent: do not wait for it.
        unkillable = child.kill().is_err();
    } else if res.is_err() {
        // A role here failed while the server may still wait for it (the
        // failed side's other role keeps our ends of the pipes open, also
        // after a stream error of ours): give it a moment to finish on the
        // error we sent, then end it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        unkillable = child.kill().is_err();
    }
    let child_code = if unkillable {
        0
    } else {
        match child.wait() {
            Ok(s) => s.code().unwrap_or(exit::RERR_CMD_KILLED),
            Err(_) => exit::RERR_WAITCHILD,
        }
    };
    match res {
        Ok(s) => Ok((s, child_code)),
        Err(mut e) => {
            if e.code == exit::RERR_STREAMIO && child_code != 0 && !e.reported {
                e.message = format!(
                    "rsync: connection unexpectedly closed [{}]",
                    if server_sender { "receiver" } else { "sender" }
                );
                // upstream cleanup.c: the remote shell's exit status
                // replaces the code when it is larger (127 not found, 126
                // not runnable, ssh's 255 "unexplained error").
                e.code = e.code.max(child_code);
            }
            Err(e)
        }
    }
}

/// Adds the server's argv to the remote-shell command. With `-s` only the
/// options up to the short bundle go on the command line; the rest (and
/// the paths) are returned, to go over the pipe. With `--old-args` paths
/// are not escaped, so the remote shell splits them at spaces.
// upstream: main.c:do_cmd() and options.c:server_options()/safe_arg()
fn push_server_args(
    cmd: &mut Command,
    opts: &Options,
    server_sender: bool,
    paths: &[String],
) -> Option<Vec<String>> {
    let args = opts.to_server_args(server_sender, our_protocol(opts));
    if opts.ctl.protect() {
        let at = args
            .iter()
            .position(|a| a.starts_with("-s"))
            .map_or(args.len(), |i| i + 1);
        cmd.args(&args[..at]);
        let mut rest = vec!["rsync".to_string()];
        rest.extend_from_slice(&args[at..]);
        rest.push(".".to_string());
        rest.extend(paths.iter().map(|p| {
            if p.is_empty() {
                ".".to_string()
            } else {
                p.clone()
            }
        }));
        return Some(rest);
    }
    cmd.args(args);
    cmd.arg(".");
    for p in paths {
        if opts.ctl.old_args > 0 {
            cmd.arg(p);
        } else {
            cmd.arg(safe_arg(p));
        }
    }
    None
}
