//! `--timeout` (a read that waits longer than the limit ends the transfer
//! with exit code 30), `--stop-after`/`--stop-at` (any read or write at or
//! after the stop time ends it the same way) and `--bwlimit` (writes are
//! paced to the rate) around the descriptors a side talks to its peer
//! through (upstream io.c check_timeout, perform_io's stop_at_utime check
//! and sleep_for_bwlimit).
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The stop time of this process's transfer (seconds since the epoch; 0:
/// none). Set once by a client or a remote-shell server, never by a daemon
/// (its sessions would share it).
static STOP_AT: AtomicI64 = AtomicI64::new(0);

/// Sets the stop time (`--stop-after`, `--stop-at`).
pub fn set_stop_at(at: Option<i64>) {
    STOP_AT.store(at.unwrap_or(0), Ordering::Relaxed);
}

/// The payload of the io::Error a read or write at the stop time returns.
#[derive(Debug)]
pub struct StopReached;

impl fmt::Display for StopReached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stopping at requested limit")
    }
}

impl std::error::Error for StopReached {}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Time left before the stop time: None without one, Err once reached.
fn stop_left() -> io::Result<Option<Duration>> {
    let at = STOP_AT.load(Ordering::Relaxed);
    if at == 0 {
        return Ok(None);
    }
    let now = now_secs();
    if now >= at {
        return Err(io::Error::new(io::ErrorKind::TimedOut, StopReached));
    }
    Ok(Some(Duration::from_secs((at - now) as u64)))
}

/// An error once the stop time is reached (for readers that wait
/// without a descriptor to poll).
pub(crate) fn check_stop() -> io::Result<()> {
    stop_left().map(|_| ())
}

/// The payload of the io::Error a read that timed out returns.
#[derive(Debug)]
pub struct IoTimeout {
    /// The limit in seconds.
    pub secs: u32,
    /// Which role was reading ("sender", "receiver", "server"...).
    pub who: &'static str,
}

impl fmt::Display for IoTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] io timeout after {} seconds -- exiting",
            self.who, self.secs
        )
    }
}

impl std::error::Error for IoTimeout {}

/// A reader whose every read waits at most `secs` for data.
pub struct TimeoutRead<R> {
    inner: R,
    secs: u32,
    who: &'static str,
}

impl<R: Read + AsFd> TimeoutRead<R> {
    /// Wraps `inner` (no limit when `secs` is 0).
    pub fn new(inner: R, secs: u32, who: &'static str) -> TimeoutRead<R> {
        TimeoutRead { inner, secs, who }
    }
    /// Changes the limit (a server learns it from `-s` arguments).
    pub fn set_secs(&mut self, secs: u32) {
        self.secs = secs;
    }
}

impl<R: Read + AsFd> Read for TimeoutRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let stop = stop_left()?;
        if self.secs > 0 || stop.is_some() {
            let limit = if self.secs > 0 {
                Duration::from_secs(u64::from(self.secs))
            } else {
                Duration::MAX
            };
            let deadline = Instant::now().checked_add(limit);
            loop {
                let left = deadline.map_or(Duration::MAX, |d| {
                    d.saturating_duration_since(Instant::now())
                });
                // A wait never outlasts the stop time (checked once a
                // second at most).
                let left = match stop_left()? {
                    Some(s) => left.min(s).min(Duration::from_secs(1)),
                    None => left,
                };
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        IoTimeout {
                            secs: self.secs,
                            who: self.who,
                        },
                    ));
                }
                let ts = rustix::event::Timespec {
                    tv_sec: left.as_secs() as i64,
                    tv_nsec: i64::from(left.subsec_nanos()),
                };
                let fd = self.inner.as_fd();
                let mut fds = [rustix::event::PollFd::new(
                    &fd,
                    rustix::event::PollFlags::IN,
                )];
                match rustix::event::poll(&mut fds, Some(&ts)) {
                    Ok(0) => continue,
                    Ok(_) => break,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.inner.read(buf)
    }
}

/// A writer paced to `kib_per_sec` KiB per second: writes go out in
/// pieces of at most rate * 128 bytes (at least 512), and after each the
/// writer sleeps as long as it got ahead of the rate.
// upstream: io.c:sleep_for_bwlimit() and options.c (bwlimit_writemax)
pub struct BwLimitWrite<W> {
    inner: W,
    rate: u64,
    max_piece: usize,
    started: Option<Instant>,
    sent: u64,
}

impl<W: Write> BwLimitWrite<W> {
    /// Wraps `inner` (unlimited when `kib_per_sec` is 0).
    pub fn new(inner: W, kib_per_sec: u64) -> BwLimitWrite<W> {
        BwLimitWrite {
            inner,
            rate: kib_per_sec.saturating_mul(1024),
            max_piece: usize::try_from(kib_per_sec.saturating_mul(128))
                .unwrap_or(usize::MAX)
                .max(512),
            started: None,
            sent: 0,
        }
    }
}

impl<W: Write> Write for BwLimitWrite<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        stop_left()?;
        if self.rate == 0 {
            return self.inner.write(buf);
        }
        let piece = &buf[..buf.len().min(self.max_piece)];
        let n = self.inner.write(piece)?;
        let start = *self.started.get_or_insert_with(Instant::now);
        self.sent += n as u64;
        let due = Duration::from_secs_f64(self.sent as f64 / self.rate as f64);
        let elapsed = start.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        } else if elapsed > due + Duration::from_secs(1) {
            // An idle stretch does not earn a burst later.
            self.started = Some(Instant::now());
            self.sent = 0;
        }
        Ok(n)
    }

    /// Unpaced, a gathered write goes through as one (a frame's header
    /// and data in one system call); paced, one piece as `write`.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        if self.rate == 0 {
            stop_left()?;
            return self.inner.write_vectored(bufs);
        }
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(b) => self.write(b),
            None => Ok(0),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_read_times_out_on_a_silent_pipe() {
        let (r, _w) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        let mut t = TimeoutRead::new(r, 1, "receiver");
        let t0 = Instant::now();
        let err = t.read(&mut [0u8; 4]).unwrap_err();
        assert!(t0.elapsed() >= Duration::from_millis(900));
        assert_eq!(
            err.get_ref().map(|e| e.to_string()).as_deref(),
            Some("[receiver] io timeout after 1 seconds -- exiting")
        );
    }

    #[test]
    fn bwlimit_paces_writes() {
        let mut w = BwLimitWrite::new(Vec::new(), 64);
        let t0 = Instant::now();
        w.write_all(&[0u8; 64 * 1024]).expect("write");
        // 64 KiB at 64 KiB/s: about a second (no upper bound asserted).
        assert!(t0.elapsed() >= Duration::from_millis(800));
        assert_eq!(w.inner.len(), 64 * 1024);
    }
}
