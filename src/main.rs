//! oxsync: rsync re-implemented in Rust. One binary: the client, and the
//! remote-shell server (`--server`) that a client starts on the far side.
#![forbid(unsafe_code)]

mod client;
mod connect_prog;
mod daemon_client;
mod logfile;
mod output;
mod protect_args;
mod proxy;
mod remote;
mod server;
mod socket;
mod version;

use engine::transfer::closing_line;
use engine::Options;
use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // New items without -p take 0777 less the umask (or a default ACL).
    engine::chmod::preload_umask();
    // Debug builds under test: every Root walks as without openat2.
    daemon::sandbox::test_force_walk();
    let code = run(&args);
    engine::out::flush_stdout();
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// Writes `text` to stdout. A reader that went away (`oxsync --help | head
/// -1`) ends the output quietly, as rsync's does, instead of a panic.
pub(crate) fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn run(args: &[OsString]) -> i32 {
    if args.iter().any(|a| a == "--daemon") {
        if daemon::listener::parse_args(args).is_ok_and(|d| d.help) {
            say(&format!(
                "{}\n{}",
                version::text(),
                daemon::listener::daemon_usage()
            ));
            return 0;
        }
        return daemon::run(args);
    }
    let opts = match Options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rsync: {}", e.message);
            eprintln!("{}", closing_line(e.exit_code, "client"));
            return e.exit_code;
        }
    };
    // SIGINT, SIGTERM, SIGHUP: keep or remove the file being received,
    // then exit 20 with rsync's closing line.
    let role = if opts.server { "server" } else { "client" };
    engine::signals::install(Some(closing_line(protocol::exit::RERR_SIGNAL, role)));
    if let Some(text) = &opts.ctl.help_text {
        say(text);
        return 0;
    }
    if let Err(e) = engine::flist::check_munge_dir(&opts) {
        eprintln!("rsync: {}", e.message);
        eprintln!("{}", e.closing_line("client"));
        return e.code;
    }
    if opts.server {
        return server::run(&opts, args);
    }
    if let Some(mode) = opts.outbuf {
        engine::out::set_stdout_buffering(mode);
    }
    if opts.version > 0 {
        say(&if opts.version > 1 {
            version::json()
        } else {
            version::text()
        });
        return 0;
    }
    if opts.help || opts.args.is_empty() {
        let text = format!("{}\n{}", version::text(), engine::usage::help_text());
        if opts.help || args.is_empty() {
            say(&text);
        } else {
            // upstream main(): options without a path are a usage error,
            // the usage on stderr.
            eprint!("{text}");
            eprintln!(
                "{}",
                engine::transfer::closing_line(protocol::exit::RERR_SYNTAX, "client")
            );
        }
        return if opts.help {
            0
        } else {
            protocol::exit::RERR_SYNTAX
        };
    }
    let argv: Vec<String> = std::env::args_os()
        .take(1)
        .chain(args.iter().cloned())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    client::run(&opts, &argv)
}
