//! SIGINT, SIGTERM and SIGHUP: the run ends with rsync's "received SIGINT,
//! SIGTERM, or SIGHUP" (code 20), and the file being received is kept as
//! a partial file (`--partial`, `--partial-dir`) or its temp file removed.
//!
//! The handler itself only writes to a pipe (signal-hook's iterator); a
//! watcher thread reads it, puts the in-flight file of every receiving
//! side of this process in order (the same path a lost connection takes,
//! [`crate::partial::interrupted`]) and ends the process, and with it
//! every role, with code 20.
// upstream: main.c:sig_int(), cleanup.c:_exit_cleanup()
use crate::ctx::RecvCtx;
use protocol::exit;
use std::sync::{Arc, Mutex, Weak};

/// The receiving sides of this process whose in-flight file an interrupt
/// must keep or remove.
static RECEIVING: Mutex<Vec<Weak<RecvCtx>>> = Mutex::new(Vec::new());

/// Hands a receiving side to the interrupt watcher.
pub(crate) fn register(ctx: &Arc<RecvCtx>) {
    let mut g = RECEIVING.lock().unwrap_or_else(|p| p.into_inner());
    g.retain(|w| w.strong_count() > 0);
    g.push(Arc::downgrade(ctx));
}

/// Installs the watcher: on SIGINT, SIGTERM or SIGHUP the in-flight files
/// are cleaned up, `closing` (rsync's closing line for code 20, or none)
/// goes to stderr, and the process exits with 20. A failure to install is
/// not fatal: the signals then keep their default action.
pub fn install(closing: Option<String>) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                interrupted(closing.as_deref());
            }
        });
}

/// Keeps or removes every in-flight file, reports, and exits with 20. The
/// lock on the registry is never released: a side that starts receiving
/// now waits for the exit.
fn interrupted(closing: Option<&str>) -> ! {
    let g = RECEIVING.lock().unwrap_or_else(|p| p.into_inner());
    for ctx in g.iter().filter_map(Weak::upgrade) {
        crate::partial::interrupted(&ctx);
    }
    if let Some(line) = closing {
        eprintln!("{line}");
    }
    std::process::exit(exit::RERR_SIGNAL);
}
