//! Directories listed ahead of the walk. With incremental recursion the
//! directories still to list are known (the sender's queue of siblings):
//! while the walking thread builds, encodes and sends one directory's
//! list, a helper thread reads the next ones' names and stats each entry,
//! so that the walk finds them done. The helper makes the calls the walk
//! makes ([`Sources::open_listing`], then [`Listing::lstat`] of each name
//! beneath that one descriptor), so it reads nothing the walk could not.
//!
//! It is created by the walking thread when first needed, so it has that
//! thread's credentials and Landlock domain, and it ends with the walk. A
//! few directories at most are held ahead (their descriptors and stats).
//! A directory the walk reaches before the helper took it is listed by the
//! walk itself; one listed ahead and not walked (a directory listed twice,
//! a duplicate) is dropped once the walk passes it.
use super::dirnames::DirNames;
use crate::source::Sources;
use confine::{Listing, Stat};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Directories asked for and not yet taken, at most.
pub(super) const MAX_AHEAD: usize = 4;
/// Names held in directories listed ahead, beyond which no more is asked
/// for (one directory may hold more: the walk reads all of its names too).
const MAX_NAMES: usize = 64 * 1024;

/// A directory listed ahead: its descriptor, its sorted names and the
/// lstats of the first [`super::STAT_WINDOW`] (as the walk's own would
/// be; the walk stats the rest a window at a time as it goes).
pub(super) struct Listed {
    pub listing: Listing,
    pub names: DirNames,
    pub stats: Vec<Result<Option<Stat>, confine::Error>>,
}

/// A directory to list: its path and how the walk reaches it.
struct Job {
    path: PathBuf,
    src: Sources,
}

#[derive(Default)]
struct State {
    /// Not started yet, in walk order.
    queue: VecDeque<Job>,
    /// Being listed by the helper.
    running: Option<PathBuf>,
    /// Listed (None: it failed; the walk then lists it, and reports).
    done: VecDeque<(PathBuf, Sources, Option<Listed>)>,
    helper_waits: bool,
    walker_waits: bool,
    quit: bool,
    gone: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    to_helper: Condvar,
    to_walker: Condvar,
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// The walking thread's side.
pub(super) struct Ahead {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Ahead {
    /// A helper, when there is a second core to run it.
    pub(super) fn start() -> Option<Ahead> {
        if !std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
            return None;
        }
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("list-ahead".into())
            .stack_size(256 * 1024)
            .spawn(move || serve(&theirs))
            .ok()?;
        Some(Ahead {
            shared,
            thread: Some(thread),
        })
    }

    /// Asks for `path` (reached through `src`) to be listed ahead, unless
    /// it was asked for already; false when there is no room for it (nor
    /// for any after it).
    pub(super) fn offer(&self, path: &Path, src: &Sources) -> bool {
        let mut st = lock(&self.shared.state);
        let held = st.queue.len() + st.done.len() + usize::from(st.running.is_some());
        let names: usize = st.done.iter().map(|d| names_in(&d.2)).sum();
        if held >= MAX_AHEAD || names >= MAX_NAMES {
            return false;
        }
        let asked = st.queue.iter().any(|j| j.path == path)
            || st.running.as_deref() == Some(path)
            || st.done.iter().any(|d| d.0 == path);
        if !asked {
            st.queue.push_back(Job {
                path: path.to_path_buf(),
                src: src.clone(),
            });
            if st.helper_waits {
                st.helper_waits = false;
                self.shared.to_helper.notify_one();
            }
        }
        true
    }

    /// `path` listed ahead through `src`, waiting for the helper if it is
    /// at it; None when the walk lists it itself. What was asked for
    /// before it and not taken is dropped (the walk passed it).
    pub(super) fn take(&self, path: &Path, src: &Sources) -> Option<Listed> {
        let mut st = lock(&self.shared.state);
        if let Some(k) = st.queue.iter().position(|j| j.path == path) {
            st.queue.drain(..=k);
            st.done.clear();
            return None;
        }
        while st.running.as_deref() == Some(path) && !st.gone {
            st.walker_waits = true;
            st = self
                .shared
                .to_walker
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
        }
        let k = st.done.iter().position(|d| d.0 == path)?;
        let (_, by, listed) = st.done.drain(..=k).next_back()?;
        listed.filter(|_| by.same(src))
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        {
            let mut st = lock(&self.shared.state);
            st.quit = true;
            st.queue.clear();
        }
        self.shared.to_helper.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Lists one directory as the walk would.
fn list(job: &Job) -> Option<Listed> {
    let listing = job.src.open_listing(&job.path).ok()?;
    let names = DirNames::read(&listing).ok()?;
    let stats = names
        .iter()
        .take(super::STAT_WINDOW)
        .map(|n| listing.lstat(n))
        .collect();
    Some(Listed {
        listing,
        names,
        stats,
    })
}

fn names_in(l: &Option<Listed>) -> usize {
    l.as_ref().map_or(0, |l| l.names.len())
}

/// Tells the walking thread when the helper ends, however it ends.
struct Gone<'a>(&'a Shared);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).gone = true;
        self.0.to_walker.notify_all();
    }
}

/// The helper thread: lists what is asked for, in order, until told to
/// quit.
fn serve(shared: &Shared) {
    let _gone = Gone(shared);
    let mut st = lock(&shared.state);
    loop {
        if st.quit {
            return;
        }
        let Some(job) = st.queue.pop_front() else {
            st.helper_waits = true;
            st = shared.to_helper.wait(st).unwrap_or_else(|p| p.into_inner());
            continue;
        };
        st.running = Some(job.path.clone());
        drop(st);
        let listed = list(&job);
        st = lock(&shared.state);
        st.running = None;
        st.done.push_back((job.path, job.src, listed));
        if st.walker_waits {
            st.walker_waits = false;
            shared.to_walker.notify_one();
        }
    }
}
