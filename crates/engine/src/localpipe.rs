//! The connection between a local copy's two halves, kept inside the
//! process (upstream: pipe.c local_child() joins a forked child through a
//! socket pair). Both halves are threads of one process, so the bytes
//! need not cross the kernel: each direction is a bounded queue of
//! buffers. A writer copies its bytes into a buffer and queues it; the
//! reader takes whole buffers and hands their bytes out, so a read that
//! asks for less than a buffer holds costs no lock and no system call.
//!
//! It behaves as the socket pair it replaces: a reader sees the end once
//! the other side's every handle is gone or either side ended the
//! connection, after what was queued; a writer then gets EPIPE. A side
//! blocked on the other sees the end instead of waiting forever.
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Bytes a direction holds before its writer waits.
const CAPACITY: usize = 512 * 1024;
/// A write of this much or more is cut into pieces of it, so that a
/// reader can start on a large write before all of it is queued.
const PIECE: usize = 128 * 1024;
/// Emptied buffers kept for reuse.
const SPARE: usize = 4;

#[derive(Default)]
struct State {
    queue: VecDeque<Vec<u8>>,
    queued: usize,
    ended: bool,
    spare: Vec<Vec<u8>>,
    reader_waits: bool,
    writer_waits: bool,
}

/// One direction.
#[derive(Default)]
struct Way {
    state: Mutex<State>,
    readable: Condvar,
    writable: Condvar,
}

impl Way {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A thread that panicked holding the lock left whole buffers:
        // the queue is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn end(&self) {
        let mut s = self.lock();
        s.ended = true;
        drop(s);
        self.readable.notify_all();
        self.writable.notify_all();
    }
}

/// The two directions.
struct Shared {
    ways: [Way; 2],
}

impl Shared {
    fn end(&self) {
        for w in &self.ways {
            w.end();
        }
    }
}

/// Held by every handle of one side: when the last goes, the connection
/// ends (as a socket whose every descriptor is closed).
struct SideGuard(Arc<Shared>);

impl Drop for SideGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// One side's handles: a reader, a writer and a way to end the
/// connection.
pub struct Side {
    /// What the other side wrote.
    pub read: Reader,
    /// What the other side reads.
    pub write: Writer,
    /// Ends the connection.
    pub end: Ender,
}

/// Makes a connected pair of sides.
pub fn pair() -> (Side, Side) {
    let shared = Arc::new(Shared {
        ways: [Way::default(), Way::default()],
    });
    let side = |inbound: usize| {
        let guard = Arc::new(SideGuard(shared.clone()));
        Side {
            read: Reader {
                shared: shared.clone(),
                way: inbound,
                cur: Vec::new(),
                pos: 0,
                stop: false,
                _guard: guard.clone(),
            },
            write: Writer {
                shared: shared.clone(),
                way: 1 - inbound,
                _guard: guard.clone(),
            },
            end: Ender {
                shared: shared.clone(),
                _guard: guard,
            },
        }
    };
    (side(0), side(1))
}

/// Ends the connection in both directions (as shutdown(2) of both).
pub struct Ender {
    shared: Arc<Shared>,
    _guard: Arc<SideGuard>,
}

impl Ender {
    /// Ends the connection: the readers see the end after what is
    /// queued, the writers get EPIPE.
    pub fn end(&self) {
        self.shared.end();
    }
}

fn epipe() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::PIPE.raw_os_error())
}

/// The reading half of a side.
pub struct Reader {
    shared: Arc<Shared>,
    way: usize,
    cur: Vec<u8>,
    pos: usize,
    stop: bool,
    _guard: Arc<SideGuard>,
}

impl Reader {
    /// Makes reads honour `--stop-after`/`--stop-at` (as the sender's
    /// reads of a socket do, through iolimit::TimeoutRead).
    pub fn checking_stop(mut self) -> Reader {
        self.stop = true;
        self
    }

    /// Takes the next queued buffer into `cur`; false at the end.
    fn refill(&mut self) -> io::Result<bool> {
        let way = &self.shared.ways[self.way];
        let mut s = way.lock();
        loop {
            if let Some(next) = s.queue.pop_front() {
                s.queued -= next.len();
                let done = std::mem::replace(&mut self.cur, next);
                self.pos = 0;
                if s.spare.len() < SPARE && done.capacity() > 0 {
                    s.spare.push(done);
                }
                // A waiting writer is woken once half the room is free
                // (as a socket's is), not for every buffer taken: the two
                // threads would take turns buffer by buffer.
                if s.writer_waits && s.queued <= CAPACITY / 2 {
                    s.writer_waits = false;
                    way.writable.notify_one();
                }
                return Ok(true);
            }
            if s.ended {
                return Ok(false);
            }
            s.reader_waits = true;
            s = if self.stop {
                crate::iolimit::check_stop()?;
                way.readable
                    .wait_timeout(s, Duration::from_secs(1))
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            } else {
                way.readable.wait(s).unwrap_or_else(|p| p.into_inner())
            };
        }
    }
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.stop {
            crate::iolimit::check_stop()?;
        }
        if self.pos == self.cur.len() && !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The writing half of a side.
pub struct Writer {
    shared: Arc<Shared>,
    way: usize,
    _guard: Arc<SideGuard>,
}

impl Writer {
    /// Waits for room for `len` bytes and returns an empty buffer to fill
    /// (an error once the connection ended).
    fn buffer(&self, len: usize) -> io::Result<Vec<u8>> {
        let way = &self.shared.ways[self.way];
        let mut s = way.lock();
        loop {
            if s.ended {
                return Err(epipe());
            }
            if s.queued == 0 || s.queued + len <= CAPACITY {
                let mut b = s.spare.pop().unwrap_or_default();
                b.clear();
                return Ok(b);
            }
            s.writer_waits = true;
            s = way.writable.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn queue(&self, b: Vec<u8>) -> io::Result<()> {
        let way = &self.shared.ways[self.way];
        let mut s = way.lock();
        if s.ended {
            return Err(epipe());
        }
        s.queued += b.len();
        s.queue.push_back(b);
        if s.reader_waits {
            s.reader_waits = false;
            way.readable.notify_one();
        }
        Ok(())
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    /// Gathers the slices (up to a piece) into one buffer, as writev(2)
    /// makes one write of them.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(0);
        }
        let len = total.min(PIECE);
        let mut b = self.buffer(len)?;
        b.reserve(len);
        for s in bufs {
            let room = len - b.len();
            if room == 0 {
                break;
            }
            b.extend_from_slice(&s[..s.len().min(room)]);
        }
        self.queue(b)?;
        Ok(len)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_cross_in_order_both_ways() {
        let (mut a, mut b) = pair();
        let data: Vec<u8> = (0..3 * CAPACITY as u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let t = std::thread::spawn(move || {
            for chunk in sent.chunks(70_001) {
                a.write.write_all(chunk).expect("write");
            }
            let mut back = [0u8; 5];
            a.read.read_exact(&mut back).expect("reply");
            back
        });
        let mut got = vec![0u8; data.len()];
        b.read.read_exact(&mut got).expect("read");
        assert!(got == data);
        b.write.write_all(b"done!").expect("reply");
        assert_eq!(&t.join().expect("join"), b"done!");
    }

    #[test]
    fn the_end_reaches_a_blocked_reader_after_the_queued_bytes() {
        let (a, mut b) = pair();
        let mut w = a.write;
        w.write_all(b"last").expect("write");
        let t = std::thread::spawn(move || {
            let mut all = Vec::new();
            b.read.read_to_end(&mut all).expect("read");
            all
        });
        std::thread::sleep(Duration::from_millis(50));
        a.end.end();
        assert_eq!(t.join().expect("join"), b"last");
        assert_eq!(
            w.write(b"x").expect_err("ended").raw_os_error(),
            Some(rustix::io::Errno::PIPE.raw_os_error())
        );
    }

    #[test]
    fn a_side_whose_handles_are_gone_ends_the_connection() {
        let (a, mut b) = pair();
        drop(a.read);
        drop(a.end);
        // A handle of side a is left: nothing ended yet.
        let mut w = a.write;
        w.write_all(b"x").expect("write");
        drop(w);
        let mut all = Vec::new();
        b.read.read_to_end(&mut all).expect("read");
        assert_eq!(all, b"x");
        assert!(b.write.write(b"y").is_err());
    }

    #[test]
    fn a_full_direction_blocks_its_writer_until_read() {
        let (mut a, mut b) = pair();
        a.write.write_all(&vec![1u8; CAPACITY]).expect("fill");
        let t = std::thread::spawn(move || {
            a.write.write_all(&[2u8; 10]).expect("write after room");
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!t.is_finished(), "the writer waits while the queue is full");
        let mut got = vec![0u8; CAPACITY + 10];
        b.read.read_exact(&mut got).expect("read");
        t.join().expect("join");
        assert_eq!(&got[CAPACITY..], &[2u8; 10]);
    }
}
