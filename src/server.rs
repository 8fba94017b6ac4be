//! `oxsync --server`: the far side of a remote-shell transfer, speaking the
//! protocol on stdin and stdout.
use engine::itemize::ItemFormat;
use engine::out::{shared, Out};
use engine::transfer::{run_receiver, run_sender, server_fail, Link};
use engine::Options;
use std::fs::File;
use std::io::{self, BufReader};
use std::os::fd::AsFd;

pub fn run(opts: &Options) -> i32 {
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
    // Our stdout is the protocol stream: nothing else may ever write to it.
    let (stdin, stdout) = match (dup(io::stdin().as_fd()), dup(io::stdout().as_fd())) {
        (Ok(i), Ok(o)) => (i, o),
        _ => {
            eprintln!("rsync: [server] cannot duplicate stdin/stdout");
            return protocol::exit::RERR_IPC;
        }
    };
    let w = shared(Box::new(stdout));
    let fmt = ItemFormat {
        itemize: 0,
        verbose: 0,
        sender: opts.sender,
        local: false,
        preserve_mtimes: opts.times,
    };
    let out = Out::wire(w.clone(), fmt);
    let r = Box::new(BufReader::with_capacity(256 * 1024, stdin));
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
        Ok(_) => {
            if let Ok(mut g) = w.lock() {
                let _ = std::io::Write::flush(&mut *g);
            }
            out.final_code()
        }
        Err(e) => {
            server_fail(&w, &out, &e, role);
            e.code
        }
    }
}

fn dup(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<File> {
    Ok(File::from(fd.try_clone_to_owned()?))
}
