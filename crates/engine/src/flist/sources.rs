//! Where a sender reads each entry of its list: the local path of every
//! entry, kept compact. A list of a million files would otherwise hold a
//! million `PathBuf`s of the whole path (each a heap block of the parent
//! directories' names again); here each distinct parent directory is kept
//! once and each entry holds its parent's index and its last component.
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// No last component: the whole path is the directory part.
const WHOLE: u32 = u32::MAX;

/// One entry's path: `dirs[dir]`, then (unless `len` is [`WHOLE`]) a
/// slash and `leaves[start..start + len]`.
#[derive(Debug, Clone, Copy)]
struct Item {
    start: u64,
    dir: u32,
    len: u32,
}

/// The local path of each entry of a sender's list (same index).
#[derive(Debug, Default, Clone)]
pub struct SourcePaths {
    dirs: Vec<Box<[u8]>>,
    leaves: Vec<u8>,
    items: Vec<Item>,
}

/// `p` as (directory, last component) when it is exactly `dir/leaf`.
fn split(p: &[u8]) -> Option<(&[u8], &[u8])> {
    let slash = p.iter().rposition(|&b| b == b'/')?;
    let (dir, leaf) = (&p[..slash], &p[slash + 1..]);
    (!dir.is_empty() && !leaf.is_empty() && leaf.len() < WHOLE as usize).then_some((dir, leaf))
}

impl SourcePaths {
    /// Number of paths.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The index of directory `dir`, reusing the last one added when it
    /// is the same (a walk adds the entries of one directory in a row).
    fn dir_index(&mut self, dir: &[u8]) -> u32 {
        match self.dirs.last() {
            Some(d) if **d == *dir => (self.dirs.len() - 1) as u32,
            _ => {
                self.dirs.push(dir.into());
                (self.dirs.len() - 1) as u32
            }
        }
    }

    /// Room for `n` more paths (see [`super::grow`]).
    pub(super) fn reserve(&mut self, n: usize) {
        super::grow(&mut self.items, n);
    }

    /// Gives back spare capacity.
    pub(super) fn shrink_to_fit(&mut self) {
        self.dirs.shrink_to_fit();
        self.leaves.shrink_to_fit();
        self.items.shrink_to_fit();
    }

    /// Adds the path of the next entry.
    pub fn push(&mut self, path: &Path) {
        let p = path.as_os_str().as_bytes();
        let item = match split(p) {
            Some((dir, leaf)) => {
                let start = self.leaves.len() as u64;
                self.leaves.extend_from_slice(leaf);
                Item {
                    start,
                    dir: self.dir_index(dir),
                    len: leaf.len() as u32,
                }
            }
            None => Item {
                start: 0,
                dir: self.dir_index(p),
                len: WHOLE,
            },
        };
        self.items.push(item);
    }

    /// The path of entry `i`.
    pub fn get(&self, i: usize) -> Option<PathBuf> {
        let it = self.items.get(i)?;
        let dir = &self.dirs[it.dir as usize];
        if it.len == WHOLE {
            return Some(PathBuf::from(OsStr::from_bytes(dir)));
        }
        let start = it.start as usize;
        let leaf = &self.leaves[start..start + it.len as usize];
        let mut v = Vec::with_capacity(dir.len() + 1 + leaf.len());
        v.extend_from_slice(dir);
        v.push(b'/');
        v.extend_from_slice(leaf);
        Some(PathBuf::from(std::ffi::OsString::from_vec(v)))
    }

    /// The path of entry `i`; panics past the end, as indexing does.
    pub fn path(&self, i: usize) -> PathBuf {
        match self.get(i) {
            Some(p) => p,
            None => panic!("source path {i} of {}", self.len()),
        }
    }

    /// The paths in order.
    pub fn iter(&self) -> impl Iterator<Item = PathBuf> + '_ {
        (0..self.len()).map(|i| self.path(i))
    }

    /// Swaps the paths of entries `a` and `b`.
    pub fn swap(&mut self, a: usize, b: usize) {
        self.items.swap(a, b);
    }

    /// Keeps the paths for which `keep` (called in order) says true. The
    /// bytes of the dropped ones stay until the list goes.
    pub fn retain(&mut self, mut keep: impl FnMut() -> bool) {
        self.items.retain(|_| keep());
    }

    /// Moves the paths of `other` to the end.
    pub fn append(&mut self, other: &mut SourcePaths) {
        let (dirs, start) = (self.dirs.len() as u32, self.leaves.len() as u64);
        self.dirs.append(&mut other.dirs);
        self.leaves.append(&mut other.leaves);
        self.items.extend(other.items.drain(..).map(|it| Item {
            start: it.start + start,
            dir: it.dir + dirs,
            len: it.len,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_back_as_pushed() {
        let given = [
            "/tmp/src/a",
            "/tmp/src/b",
            "/tmp/src/sub",
            "/tmp/src/sub/x",
            "/tmp/src/c",
            "/",
            "rel",
            "/top",
            "a//b",
            "d/",
            ".",
            "./x",
            "x/.",
        ];
        let mut s = SourcePaths::default();
        for p in &given[..7] {
            s.push(Path::new(p));
        }
        let mut t = SourcePaths::default();
        for p in &given[7..] {
            t.push(Path::new(p));
        }
        s.append(&mut t);
        let got: Vec<std::ffi::OsString> = s.iter().map(PathBuf::into_os_string).collect();
        let want: Vec<std::ffi::OsString> = given.iter().map(Into::into).collect();
        assert_eq!(got, want);
        // `/tmp/src` is kept once for the first two.
        assert_eq!(s.dirs.iter().filter(|d| &***d == b"/tmp/src").count(), 2);
        s.swap(0, 5);
        assert_eq!(s.path(0), Path::new("/"));
        assert_eq!(s.path(5), Path::new("/tmp/src/a"));
        let mut n = 0;
        s.retain(|| {
            n += 1;
            n % 2 == 1
        });
        assert_eq!(s.len(), 7);
        assert_eq!(s.path(1), Path::new("/tmp/src/sub"));
        assert_eq!(s.get(7), None);
    }
}
