//! The stats of a sender's walk, shared with a helper thread.
//!
//! A walk stats every name it lists (getdents, then one
//! `fstatat(AT_SYMLINK_NOFOLLOW)` per name beneath the directory's
//! descriptor), and those stats are most of its time: on two cores half
//! a directory's names are stat'ed by a helper thread while the walking
//! thread stats the other half. Each call is the same single-component
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

/// Fewest names whose stats are shared with the helper: below, the two
/// wake-ups cost more than the stats they would save.
const MIN_SHARED: usize = 16;

impl Listing {
    /// [`Listing::lstat`] of each name `range` of `names`, in order,
    /// appended to `out`; with a helper thread when there are many (see
    /// the module doc).
    pub fn lstat_many(
        &self,
        names: &Arc<dyn Names>,
        range: Range<usize>,
        out: &mut Vec<Result<Option<Stat>, Error>>,
    ) {
        out.reserve(range.len());
        let shared = if range.len() >= MIN_SHARED {
            let mid = range.start + range.len() / 2;
            HELPER
                .with(|h| {
                    h.borrow_mut()
                        .submit(self.shared_fd(), names, mid..range.end)
                })
                .then_some(mid)
        } else {
            None
        };
        let own_end = shared.unwrap_or(range.end);
        for i in range.start..own_end {
            let name = names.name(i);
            out.push(self.convert(name, lstat_raw(self.as_fd(), name)));
        }
        if shared.is_some() {
            let done = HELPER.with(|h| h.borrow_mut().wait());
            for (k, r) in done.iter().enumerate() {
                let name = names.name(own_end + k);
                out.push(self.convert(name, *r));
            }
            HELPER.with(|h| h.borrow_mut().give_back(done));
        }
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

/// Stats for the helper to do.
struct Job {
    fd: Arc<OwnedFd>,
    names: Arc<dyn Names>,
    range: Range<usize>,
    out: Vec<Raw>,
}

#[derive(Default)]
struct State {
    job: Option<Job>,
    done: Option<Vec<Raw>>,
    quit: bool,
    /// The helper is gone (it panicked): nobody will answer.
    gone: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
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
    Running {
        shared: Arc<Shared>,
        thread: Option<JoinHandle<()>>,
        /// The vector the next job's results go into.
        spare: Vec<Raw>,
    },
}

thread_local! {
    static HELPER: RefCell<Helper> = const { RefCell::new(Helper::Unstarted) };
}

impl Helper {
    /// Hands `range` to the helper, starting it first if need be; false
    /// when there is none (the caller stats them itself).
    fn submit(&mut self, fd: Arc<OwnedFd>, names: &Arc<dyn Names>, range: Range<usize>) -> bool {
        if matches!(self, Helper::Unstarted) {
            *self = Helper::start();
        }
        let Helper::Running { shared, spare, .. } = self else {
            return false;
        };
        let mut out = std::mem::take(spare);
        out.clear();
        out.reserve(range.len());
        let job = Job {
            fd,
            names: Arc::clone(names),
            range,
            out,
        };
        lock(&shared.state).job = Some(job);
        shared.to_helper.notify_one();
        true
    }

    /// The results of the job submitted.
    fn wait(&mut self) -> Vec<Raw> {
        let Helper::Running { shared, .. } = self else {
            unreachable!("wait without a helper");
        };
        let mut st = lock(&shared.state);
        loop {
            if let Some(done) = st.done.take() {
                return done;
            }
            assert!(!st.gone, "the stat helper thread ended");
            st = shared.to_walker.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn give_back(&mut self, v: Vec<Raw>) {
        if let Helper::Running { spare, .. } = self {
            *spare = v;
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
            Ok(t) => Helper::Running {
                shared,
                thread: Some(t),
                spare: Vec::new(),
            },
            Err(_) => Helper::None,
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Helper::Running { shared, thread, .. } = self {
            lock(&shared.state).quit = true;
            shared.to_helper.notify_one();
            if let Some(t) = thread.take() {
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

/// The helper thread: each job's stats, until told to quit.
fn serve(shared: &Shared) {
    let _gone = Gone(shared);
    let mut st = lock(&shared.state);
    loop {
        if let Some(mut job) = st.job.take() {
            drop(st);
            for i in job.range.clone() {
                let r = lstat_raw(job.fd.as_fd(), job.names.name(i));
                // Within the capacity the walking thread reserved.
                job.out.push(r);
            }
            let Job { out, .. } = job;
            st = lock(&shared.state);
            st.done = Some(out);
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
