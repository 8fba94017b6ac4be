//! Where a sender reads each entry of its list: the local path of every
//! entry, kept compact. A list of a million files would otherwise hold a
//! million `PathBuf`s of the whole path (each a heap block of the parent
//! directories' names again); here each distinct parent directory is kept
//! once and each entry holds its parent's index and the length of its last
//! component, which is the end of the entry's own name (so the name is not
//! kept twice). A path whose last component is not its entry's name's is
//! kept whole. The usual list, every path its transfer root joined with
//! its entry's name (`src/` and everything beneath), holds only that root
//! and a count: nothing per entry.
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// No last component: the whole path is the directory part.
const WHOLE: u32 = u32::MAX;
/// The whole name is the last part: `dirs[dir]` (less its trailing
/// slashes), a slash and the name; `dirs[dir]` itself for the name ".".
const NAME: u32 = u32::MAX - 1;

/// What [`NAME`] makes of `base` and `name`.
fn joined(base: &[u8], name: &[u8]) -> Vec<u8> {
    if name == b"." {
        return base.to_vec();
    }
    let base = trimmed(base);
    let mut v = Vec::with_capacity(base.len() + 1 + name.len());
    v.extend_from_slice(base);
    v.push(b'/');
    v.extend_from_slice(name);
    v
}

/// `base` without its trailing slashes.
fn trimmed(base: &[u8]) -> &[u8] {
    let end = base.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    &base[..end]
}

/// Whether `p` is [`joined`]`(base, name)` (without building it).
fn joins_to(base: &[u8], name: &[u8], p: &[u8]) -> bool {
    if name == b"." {
        return p == base;
    }
    let base = trimmed(base);
    p.len() == base.len() + 1 + name.len()
        && p.starts_with(base)
        && p[base.len()] == b'/'
        && p.ends_with(name)
}

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
    /// While `items` is empty: the first `same` paths are all [`SAME`]
    /// (`dirs` is then just their root), none held one by one.
    same: usize,
}

/// The item of every path while they are all their root and name.
const SAME: Item = Item { dir: 0, len: NAME };

/// `p` as (directory, last component) when it is exactly `dir/leaf` and
/// `name` (the entry's) ends in that component.
fn split<'a>(p: &'a [u8], name: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let slash = p.iter().rposition(|&b| b == b'/')?;
    let (dir, leaf) = (&p[..slash], &p[slash + 1..]);
    let ends = name.ends_with(leaf)
        && (name.len() == leaf.len() || name[name.len() - leaf.len() - 1] == b'/');
    (ends && !dir.is_empty() && !leaf.is_empty() && leaf.len() < NAME as usize)
        .then_some((dir, leaf))
}

impl SourcePaths {
    /// Number of paths.
    pub fn len(&self) -> usize {
        self.items.len() + self.same
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every path is still [`SAME`] (none held one by one).
    fn all_same(&self) -> bool {
        self.items.is_empty() && self.dirs.len() <= 1
    }

    /// Holds the paths one by one from now on.
    fn materialize(&mut self) {
        if self.same > 0 {
            self.items = vec![SAME; self.same];
            self.same = 0;
        }
    }

    /// Counts the next path, of the entry named `name`, when it is its
    /// list's root and name like all before it.
    fn push_same(&mut self, p: &[u8], name: &[u8]) -> bool {
        if !self.all_same() {
            return false;
        }
        if let Some(base) = self.dirs.first() {
            if !joins_to(base, name, p) {
                return false;
            }
        } else {
            // The first path: its root is what comes before the name.
            let base = if name == b"." {
                p
            } else {
                match p.strip_suffix(name).and_then(|d| d.strip_suffix(b"/")) {
                    Some(d) => d,
                    None => return false,
                }
            };
            if !joins_to(base, name, p) {
                return false;
            }
            self.dirs.push(base.into());
        }
        self.same += 1;
        true
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

    /// Room for `n` more paths (see [`super::grow`]), once they are held
    /// one by one.
    pub(super) fn reserve(&mut self, n: usize) {
        if !self.items.is_empty() {
            super::grow(&mut self.items, n);
        }
    }

    /// Gives back spare capacity.
    pub(super) fn shrink_to_fit(&mut self) {
        self.dirs.shrink_to_fit();
        self.items.shrink_to_fit();
    }

    /// Adds the path of the next entry, whose name is `name`.
    pub fn push(&mut self, path: &Path, name: &[u8]) {
        let p = path.as_os_str().as_bytes();
        if self.push_same(p, name) {
            return;
        }
        self.materialize();
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
        let it = match self.items.get(i) {
            Some(it) => it,
            None if i < self.same => &SAME,
            None => return None,
        };
        let dir = &self.dirs[it.dir as usize];
        if it.len == WHOLE {
            return Some(PathBuf::from(OsStr::from_bytes(dir)));
        }
        if it.len == NAME {
            return Some(PathBuf::from(std::ffi::OsString::from_vec(joined(
                dir, name,
            ))));
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
        self.materialize();
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
        if self.items.is_empty() {
            // All the same (or none).
            assert!(a < self.same && b < self.same, "swap out of bounds");
        } else {
            self.items.swap(a, b);
        }
    }

    /// Keeps the paths for which `keep` (called in order) says true. The
    /// directories of the dropped ones stay until the list goes.
    pub fn retain(&mut self, mut keep: impl FnMut() -> bool) {
        if self.items.is_empty() {
            self.same = (0..self.same).filter(|_| keep()).count();
        } else {
            self.items.retain(|_| keep());
        }
    }

    /// Moves the paths of `other` to the end.
    pub fn append(&mut self, other: &mut SourcePaths) {
        if self.is_empty() && self.dirs.is_empty() {
            *self = std::mem::take(other);
            return;
        }
        self.materialize();
        other.materialize();
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
        // `/tmp/src` is kept once for the five paths beneath it, and no
        // name twice.
        assert_eq!(s.dirs.iter().filter(|d| &***d == b"/tmp/src").count(), 1);
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

    /// A list whose every path is its root and its name (a walk of `src/`)
    /// holds nothing per entry, through the sort's swaps and a filter's
    /// retain; the first path of another shape makes it hold each path,
    /// and every path comes back as pushed either way.
    #[test]
    fn a_walk_of_one_root_holds_nothing_per_entry() {
        let mut given: Vec<(String, String)> = vec![("/tmp/src/".into(), ".".into())];
        for d in 0..20 {
            given.push((format!("/tmp/src/d{d}"), format!("d{d}")));
            for f in 0..50 {
                given.push((format!("/tmp/src/d{d}/f{f}"), format!("d{d}/f{f}")));
            }
        }
        let mut names: Vec<Vec<u8>> = given.iter().map(|g| g.1.as_bytes().to_vec()).collect();
        let mut s = SourcePaths::default();
        s.reserve(given.len());
        for (p, n) in &given {
            s.push(Path::new(p), n.as_bytes());
        }
        assert_eq!(s.len(), given.len());
        assert!(s.items.capacity() == 0 && s.dirs.len() == 1, "{:?}", s.dirs);
        let check = |s: &SourcePaths, names: &[Vec<u8>], want: &[&str]| {
            assert_eq!(s.len(), want.len());
            for (i, w) in want.iter().enumerate() {
                assert_eq!(s.get(i, &names[i]).unwrap(), Path::new(w), "{i}");
            }
            assert_eq!(s.get(want.len(), b"x"), None);
        };
        let mut want: Vec<String> = given.iter().map(|g| g.0.clone()).collect();
        // The root "." is the root's path as given (its trailing slash too).
        assert_eq!(want[0], "/tmp/src/");
        s.swap(0, 7);
        names.swap(0, 7);
        want.swap(0, 7);
        let mut k = 0;
        s.retain(|| {
            k += 1;
            k % 3 != 0
        });
        let mut k = 0;
        names.retain(|_| {
            k += 1;
            k % 3 != 0
        });
        let mut k = 0;
        want.retain(|_| {
            k += 1;
            k % 3 != 0
        });
        let w: Vec<&str> = want.iter().map(String::as_str).collect();
        check(&s, &names, &w);
        assert!(s.items.is_empty());
        // Another shape: from here on each path is held.
        s.push(Path::new("/elsewhere/x"), b"d0/x");
        names.push(b"d0/x".to_vec());
        want.push("/elsewhere/x".into());
        s.push(Path::new("/tmp/src/d1/g"), b"d1/g");
        names.push(b"d1/g".to_vec());
        want.push("/tmp/src/d1/g".into());
        assert_eq!(s.items.len(), want.len());
        let w: Vec<&str> = want.iter().map(String::as_str).collect();
        check(&s, &names, &w);
        // Appended to an empty one, a list stays as it is.
        let mut e = SourcePaths::default();
        let mut u = SourcePaths::default();
        u.push(Path::new("/r/a"), b"a");
        u.push(Path::new("/r/b/c"), b"b/c");
        e.append(&mut u);
        assert!(e.items.is_empty() && e.same == 2);
        check(&e, &[b"a".to_vec(), b"b/c".to_vec()], &["/r/a", "/r/b/c"]);
        // Shapes that are not root and name: a relative root, slashes.
        for (p, n) in [("rel", "rel"), ("a//b", "b"), ("//x", "x"), ("x/.", ".")] {
            let mut s = SourcePaths::default();
            s.push(Path::new(p), n.as_bytes());
            s.push(Path::new("/q/z"), b"z");
            check(&s, &[n.as_bytes().to_vec(), b"z".to_vec()], &[p, "/q/z"]);
        }
    }
}
