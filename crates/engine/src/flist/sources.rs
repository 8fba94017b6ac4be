//! Where a sender reads each entry of its list: the local path of every
//! entry, kept compact. A list of a million files would otherwise hold a
//! million `PathBuf`s of the whole path (each a heap block of the parent
//! directories' names again); here each distinct parent directory is kept
//! once and each entry holds its parent's index and the length of its last
//! component, which is the end of the entry's own name (so the name is not
//! kept twice). A path whose last component is not its entry's name's is
//! kept whole.
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// No last component: the whole path is the directory part.
const WHOLE: u32 = u32::MAX;

/// One entry's path: `dirs[dir]`, then (unless `len` is [`WHOLE`]) a
/// slash and the last `len` bytes of the entry's name.
#[derive(Debug, Clone, Copy)]
struct Item {
    dir: u32,
    len: u32,
}

/// The local path of each entry of a sender's list (same index), read
/// with the entry's name.
#[derive(Debug, Default, Clone)]
pub struct SourcePaths {
    dirs: Vec<Box<[u8]>>,
    items: Vec<Item>,
}

/// `p` as (directory, last component) when it is exactly `dir/leaf` and
/// `name` (the entry's) ends in that component.
fn split<'a>(p: &'a [u8], name: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let slash = p.iter().rposition(|&b| b == b'/')?;
    let (dir, leaf) = (&p[..slash], &p[slash + 1..]);
    let ends = name.ends_with(leaf)
        && (name.len() == leaf.len() || name[name.len() - leaf.len() - 1] == b'/');
    (ends && !dir.is_empty() && !leaf.is_empty() && leaf.len() < WHOLE as usize)
        .then_some((dir, leaf))
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
        self.items.shrink_to_fit();
    }

    /// Adds the path of the next entry, whose name is `name`.
    pub fn push(&mut self, path: &Path, name: &[u8]) {
        let p = path.as_os_str().as_bytes();
        let item = match split(p, name) {
            Some((dir, leaf)) => Item {
                dir: self.dir_index(dir),
                len: leaf.len() as u32,
            },
            None => Item {
                dir: self.dir_index(p),
                len: WHOLE,
            },
        };
        self.items.push(item);
    }

    /// The path of entry `i`, whose name is `name`.
    pub fn get(&self, i: usize, name: &[u8]) -> Option<PathBuf> {
        let it = self.items.get(i)?;
        let dir = &self.dirs[it.dir as usize];
        if it.len == WHOLE {
            return Some(PathBuf::from(OsStr::from_bytes(dir)));
        }
        let leaf = &name[name.len().saturating_sub(it.len as usize)..];
        let mut v = Vec::with_capacity(dir.len() + 1 + leaf.len());
        v.extend_from_slice(dir);
        v.push(b'/');
        v.extend_from_slice(leaf);
        Some(PathBuf::from(std::ffi::OsString::from_vec(v)))
    }

    /// Keeps every path whole, so that the entries' names may change
    /// (`--iconv` converts them to the wire's charset).
    pub(super) fn detach<'a>(&mut self, names: impl Iterator<Item = &'a [u8]>) {
        for (i, name) in names.enumerate() {
            let Some(&it) = self.items.get(i) else { break };
            if it.len == WHOLE {
                continue;
            }
            if let Some(p) = self.get(i, name) {
                self.dirs
                    .push(p.into_os_string().into_vec().into_boxed_slice());
                self.items[i] = Item {
                    dir: (self.dirs.len() - 1) as u32,
                    len: WHOLE,
                };
            }
        }
    }

    /// Swaps the paths of entries `a` and `b`.
    pub fn swap(&mut self, a: usize, b: usize) {
        self.items.swap(a, b);
    }

    /// Keeps the paths for which `keep` (called in order) says true. The
    /// directories of the dropped ones stay until the list goes.
    pub fn retain(&mut self, mut keep: impl FnMut() -> bool) {
        self.items.retain(|_| keep());
    }

    /// Moves the paths of `other` to the end.
    pub fn append(&mut self, other: &mut SourcePaths) {
        let dirs = self.dirs.len() as u32;
        self.dirs.append(&mut other.dirs);
        self.items.extend(other.items.drain(..).map(|it| Item {
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
        // (path, entry name)
        let given: [(&str, &str); 13] = [
            ("/tmp/src/a", "a"),
            ("/tmp/src/b", "b"),
            ("/tmp/src/sub", "sub"),
            ("/tmp/src/sub/x", "sub/x"),
            ("/tmp/src/c", "c"),
            ("/", "."),
            ("rel", "rel"),
            ("/top", "other"),
            ("a//b", "b"),
            ("d/", "."),
            (".", "."),
            ("./x", "xx"),
            ("x/.", "."),
        ];
        let mut names: Vec<Vec<u8>> = given.iter().map(|g| g.1.as_bytes().to_vec()).collect();
        let mut s = SourcePaths::default();
        for (p, n) in &given[..7] {
            s.push(Path::new(p), n.as_bytes());
        }
        let mut t = SourcePaths::default();
        for (p, n) in &given[7..] {
            t.push(Path::new(p), n.as_bytes());
        }
        s.append(&mut t);
        let path = |s: &SourcePaths, names: &[Vec<u8>], i: usize| s.get(i, &names[i]).unwrap();
        for (i, (p, _)) in given.iter().enumerate() {
            assert_eq!(path(&s, &names, i), Path::new(p), "{i}");
        }
        // `/tmp/src` is kept once for the first two, and no name twice.
        assert_eq!(s.dirs.iter().filter(|d| &***d == b"/tmp/src").count(), 2);
        assert!(s
            .dirs
            .iter()
            .all(|d| !d.ends_with(b"/a") && &**d != b"/tmp/src/c"));
        s.swap(0, 5);
        names.swap(0, 5);
        assert_eq!(path(&s, &names, 0), Path::new("/"));
        assert_eq!(path(&s, &names, 5), Path::new("/tmp/src/a"));
        let mut n = 0;
        s.retain(|| {
            n += 1;
            n % 2 == 1
        });
        let mut k = 0;
        names.retain(|_| {
            k += 1;
            k % 2 == 1
        });
        assert_eq!(s.len(), 7);
        assert_eq!(path(&s, &names, 1), Path::new("/tmp/src/sub"));
        assert_eq!(s.get(7, b"x"), None);
        // Detached, the paths stay as they were when the names change.
        s.detach(names.iter().map(Vec::as_slice));
        for name in names.iter_mut() {
            name.push(b'~');
        }
        assert_eq!(path(&s, &names, 1), Path::new("/tmp/src/sub"));
        assert_eq!(path(&s, &names, 2), Path::new("/tmp/src/c"));
    }
}
