//! The receiving side's two roles, the generator and the receiver, each on
//! its own thread, and how they end together: the first fatal error of
//! either ends the side at once with that error, whatever the other one is
//! blocked on (upstream: the failing process's exit_cleanup() takes the
//! others down; here the caller returns, reports, and the process or the
//! connection ends).
use crate::ctx::{GenEvent, RecvCtx};
use crate::error::{Error, Result};
use crate::out::SharedWriter;
use crate::receiver::PeerStats;
use crate::{generator, receiver};
use protocol::exit;
use std::io::{self, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// How long a failed generator waits for the receiver's own error (a peer
/// that went away fails both; the receiver's "connection unexpectedly
/// closed" is the better message). Only spent when the generator fails.
const RECEIVER_GRACE: Duration = Duration::from_secs(1);

/// How a role thread ended.
enum End<R> {
    Generator(Result<()>),
    Receiver {
        result: Result<PeerStats>,
        /// The error only says that the generator failed first.
        induced: bool,
        /// The connection's read half, handed back after a success.
        reader: Option<R>,
    },
}

/// A reader that fails once the side is aborted, so that a receiver which
/// still gets data stops writing files.
struct AbortableRead<'a, R> {
    inner: &'a mut R,
    abort: &'a AtomicBool,
    tripped: bool,
}

impl<R: Read> Read for AbortableRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.abort.load(Ordering::SeqCst) {
            self.tripped = true;
            return Err(io::Error::other("the transfer was aborted"));
        }
        self.inner.read(buf)
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(|_| ())
        .map_err(|e| {
            Error::new(
                exit::RERR_IPC,
                format!("cannot start the {name} thread: {e}"),
            )
        })
}

#[track_caller]
fn panicked(role: &str) -> Error {
    Error::new(exit::RERR_CRASHED, format!("the {role} thread panicked"))
}

/// Runs the generator and the receiver of `ctx` over `reader` (from the
/// sender) and `w` (to it). Returns the sender's statistics and the reader
/// when both succeed; otherwise the first fatal error, as soon as it
/// happens: a role still blocked (on a peer that waits for the failed
/// one) is left behind, to end with the process or when the connection
/// closes.
pub(crate) fn run_receiving<R: Read + Send + 'static>(
    ctx: &Arc<RecvCtx>,
    w: &SharedWriter,
    reader: R,
    sender_is_server: bool,
    (tx, rx): (mpsc::Sender<GenEvent>, mpsc::Receiver<GenEvent>),
    inc: Option<crate::increc::IncReader>,
) -> Result<(PeerStats, R)> {
    crate::signals::register(ctx);
    let abort = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel::<End<R>>();
    {
        let (ctx, w, abort, done) = (ctx.clone(), w.clone(), abort.clone(), done_tx.clone());
        spawn("generator", move || {
            let res = catch_unwind(AssertUnwindSafe(|| generator::generate(&ctx, &w, rx)))
                .unwrap_or_else(|_| Err(panicked("generator")));
            if res.is_err() {
                abort.store(true, Ordering::SeqCst);
            }
            let _ = done.send(End::Generator(res));
        })?;
    }
    let ctx = ctx.clone();
    let done = done_tx;
    spawn("receiver", move || {
        let mut reader = reader;
        let mut input = AbortableRead {
            inner: &mut reader,
            abort: &abort,
            tripped: false,
        };
        let res = catch_unwind(AssertUnwindSafe(|| {
            receiver::receive_files(&ctx, &mut input, tx.clone(), sender_is_server, inc)
        }))
        .unwrap_or_else(|_| Err(panicked("receiver")));
        let induced = input.tripped;
        if res.is_ok() {
            let _ = done.send(End::Receiver {
                result: res,
                induced,
                reader: Some(reader),
            });
            return;
        }
        abort.store(true, Ordering::SeqCst);
        // The error goes out before the generator learns (from the closed
        // event channel) that the receiver is gone.
        let _ = done.send(End::Receiver {
            result: res,
            induced,
            reader: None,
        });
        drop(tx);
        // Keep taking what the sender still sends, so that a sender
        // blocked on a full connection gets to read our error.
        let mut sink = [0u8; 16 * 1024];
        while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
    })?;
    wait_for_roles(&done_rx)
}

/// The first error of either role, or both successes.
fn wait_for_roles<R>(done: &mpsc::Receiver<End<R>>) -> Result<(PeerStats, R)> {
    let mut generated = false;
    let mut received = None;
    let mut receiver_ended = false;
    while !generated || received.is_none() {
        match done.recv() {
            Ok(End::Generator(Ok(()))) => generated = true,
            Ok(End::Generator(Err(e))) => {
                if receiver_ended {
                    return Err(e);
                }
                return Err(match done.recv_timeout(RECEIVER_GRACE) {
                    Ok(End::Receiver {
                        result: Err(re),
                        induced: false,
                        ..
                    }) => re,
                    _ => e,
                });
            }
            Ok(End::Receiver {
                result: Ok(stats),
                reader: Some(r),
                ..
            }) => {
                receiver_ended = true;
                received = Some((stats, r));
            }
            // The generator's own error follows.
            Ok(End::Receiver { induced: true, .. }) => receiver_ended = true,
            Ok(End::Receiver { result, .. }) => {
                return Err(result.err().unwrap_or_else(|| panicked("receiver")))
            }
            Err(_) => return Err(panicked("generator")),
        }
    }
    match received {
        Some(r) => Ok(r),
        None => Err(panicked("receiver")),
    }
}
