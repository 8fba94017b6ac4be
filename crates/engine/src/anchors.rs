//! The transfer roots of an operator's sources (upstream flist.c
//! send_file_list() changes into each argument's directory; sender.c and
//! flist.c send_directory() then open every file and directory beneath
//! it, syscall.c secure_relative_open()).
//!
//! Each source argument names its items in a directory: the argument's
//! parent, the directory itself when it ends in a slash, or a `-R`
//! argument's directory below its `/./` mark. That directory is opened
//! once, as the operator spelled it (symlinks on the way followed, as
//! they always were), and becomes an anchor: everything the walk lists
//! below it is reached by `*at` calls beneath the held descriptor
//! ([`confine::Root`], openat2 `RESOLVE_BENEATH`). A directory of the
//! tree that someone swaps for a symlink between the scan and the read
//! then fails with EXDEV instead of leading out of the tree.
//!
//! A symlink the operator asked to follow (`-L`, `-k`,
//! `--copy-unsafe-links`) is followed wherever it leads, as rsync does:
//! a followed directory link becomes an anchor of its own (the link,
//! found beneath its parent's anchor, followed by the kernel), and a
//! followed file link is opened with its last component followed
//! ([`Origin::with_followed_leaf`]). Only what was a link when the list
//! was built is followed.
//!
//! Behind `--confine-root` the transfer roots are opened by the operator
//! path walk ([`confine::operator`]): inside that root, through no symlink
//! another user owns.
//!
//! At most [`MAX_OPEN`] anchors hold a descriptor at a time; one closed
//! to make room is opened again the same way when next used.
use crate::error::{io_of, outside};
use confine::{AmbientAuthority, RelPath, Root};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Most anchors holding an open directory descriptor at once.
pub const MAX_OPEN: usize = 64;

/// Longest path the walk builds (PATH_MAX).
const PATH_MAX: usize = 4096;

/// Most symlinks one path may pass through (Linux's MAXSYMLINKS): a `-L`
/// loop ends with ELOOP at the same depth as when the kernel resolves the
/// whole path.
pub const MAX_LINKS: u32 = 40;

/// Where a file-list entry is read from: its anchor, and whether its last
/// component is a symlink the scan followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin(u32);

impl Origin {
    /// An operator-named path, read as given (no anchor).
    pub const OPERATOR: Origin = Origin(NONE);
    const FOLLOW: u32 = 1 << 31;

    fn anchor(self) -> Option<u32> {
        let a = self.0 & !Self::FOLLOW;
        (a != NONE).then_some(a)
    }

    /// The same place, with the last component followed (a link `-L`
    /// followed when the list was built) or not.
    pub fn with_followed_leaf(self, yes: bool) -> Origin {
        if yes && self.anchor().is_some() {
            Origin(self.0 | Self::FOLLOW)
        } else {
            Origin(self.0 & !Self::FOLLOW)
        }
    }

    /// The last component is a link the scan followed.
    pub fn follows_leaf(self) -> bool {
        self.0 & Self::FOLLOW != 0
    }
}

/// The [`Origin`] of each entry of a sender's list (same index): one value
/// while all are the same (a single transfer root, the common case: no
/// 4 bytes an entry), a vector once they differ.
#[derive(Debug, Clone)]
pub enum Origins {
    /// `n` entries, all from the one origin.
    Same(Origin, usize),
    /// One origin an entry.
    Each(Vec<Origin>),
}

impl Default for Origins {
    fn default() -> Self {
        Origins::Each(Vec::new())
    }
}

impl Origins {
    /// Entries counted.
    pub fn len(&self) -> usize {
        match self {
            Origins::Same(_, n) => *n,
            Origins::Each(v) => v.len(),
        }
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Entry `i`'s origin.
    pub fn get(&self, i: usize) -> Option<Origin> {
        match self {
            Origins::Same(o, n) => (i < *n).then_some(*o),
            Origins::Each(v) => v.get(i).copied(),
        }
    }
    /// The next entry's origin.
    pub fn push(&mut self, o: Origin) {
        match self {
            Origins::Same(same, n) if *same == o => *n += 1,
            Origins::Each(v) if v.is_empty() => *self = Origins::Same(o, 1),
            Origins::Each(v) => v.push(o),
            Origins::Same(same, n) => {
                let mut v = Vec::with_capacity(*n + 1);
                v.resize(*n, *same);
                v.push(o);
                *self = Origins::Each(v);
            }
        }
    }
    /// Moves `other`'s origins to the end.
    pub fn append(&mut self, other: &mut Origins) {
        let taken = std::mem::take(other);
        match taken {
            Origins::Same(o, n) => (0..n).for_each(|_| self.push(o)),
            Origins::Each(v) => v.into_iter().for_each(|o| self.push(o)),
        }
    }
    /// Swaps two entries' origins.
    pub fn swap(&mut self, a: usize, b: usize) {
        if let Origins::Each(v) = self {
            v.swap(a, b);
        }
    }
    /// Room for `n` more (only a vector needs it), grown by a quarter at a
    /// time as the list's entries are.
    pub fn reserve(&mut self, n: usize) {
        if let Origins::Each(v) = self {
            if !v.is_empty() && v.capacity() - v.len() < n {
                v.reserve_exact(n.max(v.len() / 4).max(16));
            }
        }
    }
    /// Gives back spare capacity.
    pub fn shrink_to_fit(&mut self) {
        if let Origins::Each(v) = self {
            v.shrink_to_fit();
        }
    }
}

const NONE: u32 = (1 << 31) - 1;

/// The anchors of one sender.
#[derive(Debug, Default)]
pub struct Anchors {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    anchors: Vec<Anchor>,
    /// Operator anchors by the path they were opened by.
    by_base: HashMap<PathBuf, u32>,
    /// Anchors holding a descriptor, least recently used first.
    open: VecDeque<u32>,
}

#[derive(Debug)]
struct Anchor {
    /// How the sender's paths below this anchor start.
    base: PathBuf,
    reach: Reach,
    root: Option<Arc<Root>>,
    /// How many followed links lead to it from its operator path.
    links: u32,
}

/// How an anchor is (re)opened.
#[derive(Debug, Clone)]
enum Reach {
    /// An operator's path, followed as given.
    Operator,
    /// A symlink the scan followed, beneath another anchor.
    Link { parent: u32, rel: RelPath },
}

/// The anchors and the one that calls go to.
#[derive(Debug, Clone)]
pub struct Bound {
    set: Arc<Anchors>,
    at: Origin,
}

impl Bound {
    /// Bound to no anchor: operator paths.
    pub fn new(set: Arc<Anchors>) -> Bound {
        Bound {
            set,
            at: Origin::OPERATOR,
        }
    }

    /// Bound to `o`.
    pub fn at(&self, o: Origin) -> Bound {
        Bound {
            set: self.set.clone(),
            at: o,
        }
    }

    /// Where calls go now.
    pub fn origin(&self) -> Origin {
        self.at
    }

    /// Whether `other` reaches the same files the same way.
    pub fn same(&self, other: &Bound) -> bool {
        Arc::ptr_eq(&self.set, &other.set) && self.at == other.at
    }

    /// Bound to the operator's directory `base`, opened now (or found
    /// among those opened already).
    pub fn anchor_at(&self, base: &Path) -> io::Result<Bound> {
        let mut g = self.set.lock();
        let idx = match g.by_base.get(base) {
            Some(&i) => i,
            None => {
                let i = g.add(base.to_path_buf(), Reach::Operator, 0)?;
                g.by_base.insert(base.to_path_buf(), i);
                i
            }
        };
        g.root(idx)?;
        Ok(self.at(Origin(idx)))
    }

    /// Bound to the directory the symlink `p` (beneath the current
    /// anchor) leads to, followed now.
    pub fn follow_dir(&self, p: &Path) -> io::Result<Bound> {
        let Some(parent) = self.at.anchor() else {
            return Ok(self.clone());
        };
        let mut g = self.set.lock();
        let rel = g.rel(parent, p)?;
        if rel.is_root() {
            return Ok(self.at(Origin(parent)));
        }
        let links = g.anchors[parent as usize].links + 1;
        if links > MAX_LINKS {
            return Err(loops());
        }
        let idx = g.add(p.to_path_buf(), Reach::Link { parent, rel }, links)?;
        g.root(idx)?;
        Ok(self.at(Origin(idx)))
    }

    /// The root, path beneath it and leaf-following of `p`; `None` for an
    /// operator path (no anchor). A path that is not below the anchor
    /// fails as an escape would (EXDEV). `follow`: the call follows the
    /// last component itself (a stat), which counts against
    /// [`MAX_LINKS`] as a followed leaf does.
    pub fn resolve(
        &self,
        p: &Path,
        follow: bool,
    ) -> io::Result<Option<(Arc<Root>, RelPath, bool)>> {
        let Some(a) = self.at.anchor() else {
            return Ok(None);
        };
        let leaf = self.at.follows_leaf();
        let mut g = self.set.lock();
        if g.anchors[a as usize].links + u32::from(leaf || follow) > MAX_LINKS {
            return Err(loops());
        }
        let rel = g.rel(a, p)?;
        let root = g.root(a)?;
        Ok(Some((root, rel, leaf)))
    }
}

fn loops() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::LOOP.raw_os_error())
}

impl Anchors {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn add(&mut self, base: PathBuf, reach: Reach, links: u32) -> io::Result<u32> {
        let idx = u32::try_from(self.anchors.len())
            .ok()
            .filter(|&i| i < NONE)
            .ok_or_else(|| io::Error::from_raw_os_error(rustix::io::Errno::NOMEM.raw_os_error()))?;
        self.anchors.push(Anchor {
            base,
            reach,
            root: None,
            links,
        });
        Ok(idx)
    }

    /// `p` below anchor `a`'s base, component by component ("." ignored).
    fn rel(&self, a: u32, p: &Path) -> io::Result<RelPath> {
        if p.as_os_str().len() >= PATH_MAX {
            return Err(io::Error::from_raw_os_error(
                rustix::io::Errno::NAMETOOLONG.raw_os_error(),
            ));
        }
        let base = &self.anchors[a as usize].base;
        let mut pc = p.components().filter(|c| *c != Component::CurDir);
        for bc in base.components().filter(|c| *c != Component::CurDir) {
            if pc.next() != Some(bc) {
                return Err(outside());
            }
        }
        let rest: Vec<&[u8]> = pc.map(|c| c.as_os_str().as_bytes()).collect();
        RelPath::new(&rest.join(&b'/')).map_err(|_| outside())
    }

    /// Anchor `a`'s root, opened again if it was closed.
    fn root(&mut self, a: u32) -> io::Result<Arc<Root>> {
        if let Some(r) = self.anchors[a as usize].root.clone() {
            if let Some(pos) = self.open.iter().position(|&i| i == a) {
                self.open.remove(pos);
            }
            self.open.push_back(a);
            return Ok(r);
        }
        let root = match self.anchors[a as usize].reach.clone() {
            Reach::Operator => {
                let base = &self.anchors[a as usize].base;
                let auth = AmbientAuthority::operator();
                // Behind `--confine-root` (a server under rrsync) the
                // operator's path is walked as other operator paths are:
                // inside that root, through no one else's symlink.
                let r = if confine::operator::confinement().is_some() {
                    Root::open_operator(base, confine::Links::Trusted, auth)
                } else {
                    Root::open_ambient(base, auth)
                }
                .map_err(io_of)?;
                // The filesystem root holds every absolute link's target:
                // resolve as a process would.
                if base.components().all(|c| c == Component::RootDir) {
                    r.as_chroot()
                } else {
                    r.following()
                }
            }
            Reach::Link { parent, rel } => {
                let up = self.root(parent)?;
                up.open_dir_leaf_follow(&rel).map_err(io_of)?
            }
        };
        let root = Arc::new(root);
        self.anchors[a as usize].root = Some(root.clone());
        self.open.push_back(a);
        while self.open.len() > MAX_OPEN {
            if let Some(old) = self.open.pop_front() {
                self.anchors[old as usize].root = None;
            }
        }
        Ok(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_stay_one_value_until_they_differ() {
        let (a, b) = (Origin(1), Origin(2));
        let mut o = Origins::default();
        assert!(o.is_empty());
        for _ in 0..3 {
            o.push(a);
        }
        assert!(matches!(o, Origins::Same(x, 3) if x == a));
        o.swap(0, 2);
        assert_eq!((o.get(2), o.get(3)), (Some(a), None));
        let mut more = Origins::default();
        more.push(b);
        more.push(a);
        o.append(&mut more);
        assert!(more.is_empty());
        assert_eq!(o.len(), 5);
        let got: Vec<_> = (0..5).map(|i| o.get(i)).collect();
        assert_eq!(got, [Some(a), Some(a), Some(a), Some(b), Some(a)]);
        o.swap(0, 3);
        assert_eq!((o.get(0), o.get(3)), (Some(b), Some(a)));
    }
}
