//! The stats of a sender's walk, shared with a helper thread.
//!
//! A walk stats every name it lists (getdents, then one
//! `fstatat(AT_SYMLINK_NOFOLLOW)` per name beneath the directory's
//! descriptor), and those stats are most of its time: on two cores a
//! helper thread stats some of a directory's names while the walking
//! thread stats the others. Each call is the same single-component
//! `*at` call beneath the same descriptor as [`Listing::lstat`]'s, so it
//! cannot leave the directory either.
//!
//! The helper belongs to the walking thread (a thread-local, started at
//! its first large directory): it is created by that thread, so it has
//! that thread's credentials and Landlock domain (both are per thread),
//! and it ends when that thread does. It allocates nothing itself (no
//! malloc arena of its own): the walking thread hands it the vector its
//! results go into.
use crate::listing::{is_component, Listing};
use crate::root::Stat;
use crate::Error;
use rustix::fs::AtFlags;
use rustix::io::Errno;
use std::cell::RefCell;
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// The names of a listing the stats are for, by index.
pub trait Names: Send + Sync {
    /// The `i`-th name (one component).
    fn name(&self, i: usize) -> &[u8];
}

/// What one stat found, its error kept as the bare errno (nothing
/// allocated on the helper).
type Raw = Result<Option<Stat>, Errno>;

/// A name's index and its stat.
type Found = (usize, Raw);

/// Fewest names whose stats are shared with the helper: below, the
/// wake-up costs more than the stats it would save.
const MIN_SHARED: usize = 16;

/// Names claimed at a time by either thread.
const CHUNK: usize = 8;

/// Longest the walking thread spins for the helper's last chunk before
/// it sleeps (see `Helper::wait`): several chunks of stats.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

impl Listing {
    /// [`Listing::lstat`] of each name `range` of `names`, in order,
    /// appended to `out`; shared with a helper thread when there are many
    /// (see the module doc).
    ///
    /// Both threads claim the names a chunk at a time from one counter,
    /// so the one that runs more stats more: a helper whose core is busy
    /// takes less (nothing, when it has not started when the walking
    /// thread is done: the walking thread then takes the job back instead
    /// of waiting for it).
    pub fn lstat_many(
        &self,
        names: &Arc<dyn Names>,
        range: Range<usize>,
        out: &mut Vec<Result<Option<Stat>, Error>>,
    ) {
        out.reserve(range.len());
        let shared = range.len() >= MIN_SHARED
            && HELPER.with(|h| {
                h.borrow_mut()
                    .submit(self.shared_fd(), names, range.clone())
            });
        if !shared {
            for i in range {
                let name = names.name(i);
                out.push(self.convert(name, lstat_raw(self.as_fd(), name)));
            }
            return;
        }
        let (next, mut mine) = HELPER.with(|h| h.borrow_mut().own_part());
        claim(&next, &range, &mut |i| {
            mine.push((i, lstat_raw(self.as_fd(), names.name(i))));
        });
        let theirs = HELPER.with(|h| h.borrow_mut().wait());
        // Two runs of increasing indexes, together the whole range.
        let (mut a, mut b) = (mine.iter().peekable(), theirs.iter().peekable());
        loop {
            let take_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x.0 < y.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let &(i, r) = if take_a { a.next() } else { b.next() }.expect("peeked");
            out.push(self.convert(names.name(i), r));
        }
        HELPER.with(|h| h.borrow_mut().give_back(mine, theirs));
    }

    /// A raw result as [`Listing::lstat`] returns it: an error is looked
    /// up again there, for its message (errors are rare).
    fn convert(&self, name: &[u8], r: Raw) -> Result<Option<Stat>, Error> {
        match r {
            Ok(st) => Ok(st),
            Err(_) => self.lstat(name),
        }
    }
}

/// Calls `f` with each index of `range` claimed from `next`, a chunk at
/// a time, until none is left.
fn claim(next: &AtomicUsize, range: &Range<usize>, f: &mut dyn FnMut(usize)) {
    loop {
        let k = next.fetch_add(CHUNK, Ordering::Relaxed);
        if k >= range.end {
            return;
        }
        for i in k..range.end.min(k + CHUNK) {
            f(i);
        }
    }
}

/// The stat of [`Listing::lstat`], its error as the errno.
fn lstat_raw(fd: BorrowedFd<'_>, name: &[u8]) -> Raw {
    if !is_component(name) {
        return Err(Errno::INVAL);
    }
    match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(Stat::from_raw(&st))),
        Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stats for the helper to share: the names `range` of `names`, claimed
/// from `next`; what it stats goes into `out`.
struct Job {
    fd: Arc<OwnedFd>,
    names: Arc<dyn Names>,
    range: Range<usize>,
    next: Arc<AtomicUsize>,
    out: Vec<Found>,
}

#[derive(Default)]
struct State {
    /// A job the helper has not taken yet.
    job: Option<Job>,
    /// What the helper stat'ed of the job it took.
    done: Option<Vec<Found>>,
    quit: bool,
    /// The helper is gone (it panicked): nobody will answer.
    gone: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Set with `State::done`: read without the lock while the walking
    /// thread spins for the results.
    done_hint: AtomicBool,
    /// The helper waits here for a job (or to quit).
    to_helper: Condvar,
    /// The walking thread waits here for the job's results.
    to_walker: Condvar,
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// A walking thread's helper: not started yet, started, or none (one
/// core, or it could not be started).
enum Helper {
    Unstarted,
    None,
    Running(Running),
}

struct Running {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The job's counter of names claimed.
    next: Arc<AtomicUsize>,
    /// The vectors the next job's results go into (the helper's, the
    /// walking thread's).
    spare: (Vec<Found>, Vec<Found>),
}

thread_local! {
    static HELPER: RefCell<Helper> = const { RefCell::new(Helper::Unstarted) };
}

impl Helper {
    /// Offers `range` to the helper, starting it first if need be; false
    /// when there is none (the caller stats them itself).
    fn submit(&mut self, fd: Arc<OwnedFd>, names: &Arc<dyn Names>, range: Range<usize>) -> bool {
        if matches!(self, Helper::Unstarted) {
            *self = Helper::start();
        }
        let Helper::Running(run) = self else {
            return false;
        };
        let mut out = std::mem::take(&mut run.spare.0);
        out.clear();
        // The helper may stat every name: it never grows this itself.
        out.reserve(range.len());
        run.next.store(range.start, Ordering::Relaxed);
        let job = Job {
            fd,
            names: Arc::clone(names),
            range,
            next: Arc::clone(&run.next),
            out,
        };
        lock(&run.shared.state).job = Some(job);
        run.shared.to_helper.notify_one();
        true
    }

    /// The counter to claim names from, and an empty vector for the
    /// walking thread's own stats.
    fn own_part(&mut self) -> (Arc<AtomicUsize>, Vec<Found>) {
        let Helper::Running(run) = self else {
            unreachable!("a job without a helper");
        };
        let mut mine = std::mem::take(&mut run.spare.1);
        mine.clear();
        (Arc::clone(&run.next), mine)
    }

    /// What the helper stat'ed of the job: nothing when it had not taken
    /// the job yet (taken back), else its results once it is done.
    ///
    /// The helper is then at most a chunk of stats from done: the walking
    /// thread spins that long before it sleeps, since being woken costs
    /// both threads more than that (an interrupt to another core, a VM
    /// exit in a guest: 10% of the walking thread's time on a
    /// million-name walk, with a sleep and a wake-up per directory).
    fn wait(&mut self) -> Vec<Found> {
        let Helper::Running(run) = self else {
            unreachable!("a job without a helper");
        };
        let mut st = lock(&run.shared.state);
        if let Some(job) = st.job.take() {
            let mut out = job.out;
            out.clear();
            return out;
        }
        if st.done.is_none() && !st.gone {
            drop(st);
            let start = std::time::Instant::now();
            while !run.shared.done_hint.load(Ordering::Acquire) && start.elapsed() < SPIN {
                std::hint::spin_loop();
            }
            st = lock(&run.shared.state);
        }
        run.shared.done_hint.store(false, Ordering::Relaxed);
        loop {
            if let Some(done) = st.done.take() {
                return done;
            }
            assert!(!st.gone, "the stat helper thread ended");
            st = run
                .shared
                .to_walker
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    fn give_back(&mut self, mine: Vec<Found>, theirs: Vec<Found>) {
        if let Helper::Running(run) = self {
            run.spare = (theirs, mine);
        }
    }

    fn start() -> Helper {
        let two = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        if !two {
            return Helper::None;
        }
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("stat-ahead".into())
            .stack_size(128 * 1024)
            .spawn(move || serve(&theirs));
        match spawned {
            Ok(t) => Helper::Running(Running {
                shared,
                thread: Some(t),
                next: Arc::new(AtomicUsize::new(0)),
                spare: (Vec::new(), Vec::new()),
            }),
            Err(_) => Helper::None,
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Helper::Running(run) = self {
            lock(&run.shared.state).quit = true;
            run.shared.to_helper.notify_one();
            if let Some(t) = run.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// Tells the walking thread when the helper ends, however it ends (a
/// panic must not leave it waiting).
struct Gone<'a>(&'a Shared);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).gone = true;
        self.0.to_walker.notify_one();
    }
}

/// The helper thread: its share of each job's stats, until told to quit.
fn serve(shared: &Shared) {
    let _gone = Gone(shared);
    let mut st = lock(&shared.state);
    loop {
        if let Some(job) = st.job.take() {
            drop(st);
            let Job {
                fd,
                names,
                range,
                next,
                mut out,
            } = job;
            // Within the capacity the walking thread reserved.
            claim(&next, &range, &mut |i| {
                out.push((i, lstat_raw(fd.as_fd(), names.name(i))));
            });
            // The walking thread holds the descriptor and the names until
            // it has the results: dropping these frees nothing here.
            drop((fd, names, next));
            st = lock(&shared.state);
            st.done = Some(out);
            shared.done_hint.store(true, Ordering::Release);
            shared.to_walker.notify_one();
            continue;
        }
        if st.quit {
            return;
        }
        st = shared.to_helper.wait(st).unwrap_or_else(|p| p.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AmbientAuthority, RelPath, Root};

    struct V(Vec<Vec<u8>>);
    impl Names for V {
        fn name(&self, i: usize) -> &[u8] {
            &self.0[i]
        }
    }

    /// Every name's stat, in order, whichever thread made it; a name gone
    /// is `None`, a bad one an error, as [`Listing::lstat`] says.
    #[test]
    fn stats_in_order_as_lstat() {
        let dir = tempfile::tempdir().expect("tmp");
        let base = dir.path();
        std::fs::create_dir(base.join("d")).expect("mkdir");
        let mut names = Vec::new();
        for i in 0..100u32 {
            let n = format!("f{i:03}");
            std::fs::write(base.join("d").join(&n), vec![b'x'; i as usize]).expect("write");
            names.push(n.into_bytes());
        }
        names.insert(40, b"gone".to_vec());
        names.insert(80, b"..".to_vec());
        let root = Root::open_ambient(base, AmbientAuthority::operator()).expect("root");
        let l = root
            .open_listing(&RelPath::new(b"d").expect("rel"))
            .expect("listing");
        let names: Arc<dyn Names> = Arc::new(V(names.clone()));
        for range in [0..102, 3..10, 30..90, 60..102] {
            let mut out = Vec::new();
            l.lstat_many(&names, range.clone(), &mut out);
            assert_eq!(out.len(), range.len());
            for (i, r) in range.zip(&out) {
                let name = names.name(i);
                match name {
                    b"gone" => assert!(matches!(r, Ok(None))),
                    b".." => assert!(r.is_err()),
                    _ => {
                        let st = r.as_ref().expect("stat").expect("exists");
                        let want: u64 = std::str::from_utf8(&name[1..])
                            .expect("utf8")
                            .parse()
                            .expect("num");
                        assert!(st.is_file() && st.size == want, "{i}");
                    }
                }
            }
        }
    }
}
