//! `--fuzzy` / `-yy`: a file missing from the destination gets, as its delta
//! basis, the destination-directory file (and with `-yy` the basis-directory
//! file) whose size and mtime equal it, or else whose name is closest (upstream
//! generator.c find_fuzzy, util1.c fuzzy_distance and find_filename_suffix).
//! Every listing and open goes through the destination's (or the basis
//! directory's) `Root`; a candidate is a plain regular file of the same
//! directory, named by one path component.
use super::Gen;
use crate::basis::FNAMECMP_FUZZY;
use crate::fuzzy::dir_count;
use confine::{FileType, RelPath};
use protocol::flist::FileEntry;

/// One Levenshtein unit (the low 16 bits weigh the byte values changed).
const UNIT: u32 = 1 << 16;

/// Distances above 25 units never make a basis.
const MAX_DIST: u32 = 25 << 16;

/// One regular file of a directory listed for the fuzzy search.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    name: Vec<u8>,
    st: confine::Stat,
    /// Being replaced in this run: never a basis (upstream FLAG_FILE_SENT).
    sent: bool,
}

/// The listings of one destination directory (index 0) and, for `-yy`, of
/// the same directory in each basis directory (1..).
#[derive(Debug, Default)]
pub(super) struct Listings {
    dir: Option<RelPath>,
    lists: Vec<Vec<Candidate>>,
}

/// The chosen basis: its basis type, its name (one component) and stat.
pub(super) struct Choice {
    pub(super) basis_type: u8,
    pub(super) name: Vec<u8>,
    pub(super) st: confine::Stat,
}

/// The suffix that weighs in the comparison: the last dot-suffix that is
/// not `.bak`, `.old`, `.orig` or `.~N~`, looking past all-digit ones.
// upstream: util1.c:find_filename_suffix()
pub fn filename_suffix(name: &[u8]) -> &[u8] {
    let start = name.iter().position(|&b| b != b'.').unwrap_or(name.len());
    let mut f = &name[start..];
    let had_tilde = f.len() > 1 && f.last() == Some(&b'~');
    if had_tilde {
        f = &f[..f.len() - 1];
    }
    let mut found: &[u8] = b"";
    let mut len = f.len();
    while len > 1 {
        let Some(dot) = f[..len].iter().rposition(|&b| b == b'.').filter(|&d| d > 0) else {
            break;
        };
        let suf = &f[dot..len];
        len = dot;
        let word = &suf[1..];
        if matches!(word, b"bak" | b"old" | b"orig")
            || (had_tilde && word.len() > 1 && word[0] == b'~' && word[1].is_ascii_digit())
        {
            continue;
        }
        found = suf;
        if suf.len() == 1 || !word.iter().all(u8::is_ascii_digit) {
            break;
        }
    }
    found
}

/// A Levenshtein distance in [`UNIT`]s, with the byte values of the
/// changed characters as the fraction; a length difference already above
/// `limit` gives "too far" (0xFFFF units and one).
// upstream: util1.c:fuzzy_distance()
pub fn fuzzy_distance(s1: &[u8], s2: &[u8], limit: u32) -> u32 {
    let diff = s1.len().abs_diff(s2.len()) as u64;
    if diff * u64::from(UNIT) > u64::from(limit) {
        return 0xFFFF * UNIT + 1;
    }
    if s1.is_empty() || s2.is_empty() {
        let s = if s1.is_empty() { s2 } else { s1 };
        // upstream sums the bytes as (signed) chars.
        let cost: i32 = s.iter().map(|&b| i32::from(b as i8)).sum();
        return (s.len() as u32)
            .wrapping_mul(UNIT)
            .wrapping_add(cost as u32);
    }
    let mut row: Vec<u32> = (1..=s2.len() as u32).map(|i| i * UNIT).collect();
    for (i1, &c1) in s1.iter().enumerate() {
        let mut diag = i1 as u32 * UNIT;
        let mut above = (i1 as u32 + 1) * UNIT;
        for (i2, &c2) in s2.iter().enumerate() {
            let left = row[i2];
            let cost = match i32::from(c1) - i32::from(c2) {
                0 => 0,
                d if d < 0 => UNIT.wrapping_add(d.unsigned_abs()),
                d => UNIT.wrapping_add(d as u32),
            };
            let diag_inc = diag.wrapping_add(cost);
            let left_inc = left.wrapping_add(UNIT).wrapping_add(u32::from(c1));
            let above_inc = above.wrapping_add(UNIT).wrapping_add(u32::from(c2));
            above = if left < above {
                left_inc.min(diag_inc)
            } else {
                above_inc.min(diag_inc)
            };
            row[i2] = above;
            diag = left;
        }
    }
    row[s2.len() - 1]
}

impl Gen<'_> {
    /// Lists `dir` of the destination (and of each basis dir for `-yy`)
    /// unless it is the directory listed last.
    fn fuzzy_lists(&mut self, dir: &RelPath) {
        if self.fuzzy.dir.as_ref() == Some(dir) {
            return;
        }
        let ctx = self.ctx;
        let mut lists = Vec::new();
        for k in 0..dir_count(ctx) {
            let listed = if k == 0 {
                Some((&ctx.root, dir.clone()))
            } else {
                let place = &ctx.dirs.basis[k - 1];
                place.dir_path(dir).ok().map(|p| (place.root(&ctx.root), p))
            };
            let list = listed.map_or_else(Vec::new, |(root, d)| self.fuzzy_list(root, &d, k));
            lists.push(list);
        }
        self.fuzzy = Listings {
            dir: Some(dir.clone()),
            lists,
        };
    }

    /// The non-empty regular files of one directory, in the file-list
    /// order upstream's dirlist has (later ones win ties).
    fn fuzzy_list(&self, root: &confine::Root, dir: &RelPath, k: usize) -> Vec<Candidate> {
        let Ok(mut names) = root.read_dir(dir) else {
            return Vec::new();
        };
        names.sort();
        let mut list = Vec::new();
        for name in names {
            let Ok(p) = dir.join(&name) else { continue };
            let Ok(Some(st)) = root.stat(&p) else {
                continue;
            };
            if st.file_type != FileType::File || st.size == 0 {
                continue;
            }
            // A name the daemon's rules hide is never read for a basis.
            if k == 0 && self.daemon_refuses(p.as_bytes(), false).is_some() {
                continue;
            }
            list.push(Candidate {
                name,
                st,
                sent: false,
            });
        }
        list
    }

    /// Marks the destination file `i` replaces as no longer a basis for
    /// the files after it (upstream FLAG_FILE_SENT in fuzzy_dirlist[0]).
    pub(super) fn fuzzy_mark_sent(&mut self, p: &RelPath) {
        let (dir, name) = p.split_last();
        if self.fuzzy.dir.as_ref() != Some(&dir) {
            return;
        }
        if let Some(c) = self
            .fuzzy
            .lists
            .first_mut()
            .and_then(|l| l.iter_mut().find(|c| c.name == name))
        {
            c.sent = true;
        }
    }

    /// The fuzzy basis for missing file `i`, if any.
    // upstream: generator.c:find_fuzzy() and its caller in recv_generator()
    pub(super) fn find_fuzzy(&mut self, i: usize) -> Option<Choice> {
        let ctx = self.ctx;
        let e: &FileEntry = &ctx.entries.at(i);
        let path = ctx.path(i);
        let (dir, fname) = path.split_last();
        self.fuzzy_lists(&dir);
        let debug = ctx.opts.ctl.debug.fuzzy;
        let shown = |k: usize, name: &[u8]| -> String {
            let mut s = String::new();
            if k > 0 {
                s.push_str(ctx.dirs.basis_args.get(k - 1).map_or("", String::as_str));
                s.push('/');
            }
            if !dir.is_root() {
                s.push_str(&dir.display_lossy());
                s.push('/');
            }
            s.push_str(&String::from_utf8_lossy(name));
            s
        };
        let usable = |c: &&Candidate| !c.sent;
        // An exact size and mtime match first.
        for (k, list) in self.fuzzy.lists.iter().enumerate() {
            for c in list.iter().filter(usable) {
                if c.st.size == e.size().max(0) as u64
                    && ctx.opts.same_time(c.st.mtime, 0, e.mtime(), 0)
                {
                    if debug >= 2 {
                        ctx.out.info(&format!(
                            "fuzzy size/modtime match for {}",
                            shown(k, &c.name)
                        ));
                    }
                    return Some(self.fuzzy_chosen(i, k, c, &shown(k, &c.name)));
                }
            }
        }
        let fsuf = filename_suffix(fname);
        let mut lowest = MAX_DIST;
        let mut best: Option<(usize, &Candidate)> = None;
        for (k, list) in self.fuzzy.lists.iter().enumerate() {
            for c in list.iter().filter(usable) {
                let mut dist = fuzzy_distance(&c.name, fname, lowest);
                if dist < 0xFFFF_0000 {
                    let suf = filename_suffix(&c.name);
                    dist =
                        dist.wrapping_add(fuzzy_distance(suf, fsuf, 0xFFFF_0000).wrapping_mul(10));
                }
                if debug >= 2 {
                    ctx.out.info(&format!(
                        "fuzzy distance for {} = {}.{:05}",
                        shown(k, &c.name),
                        dist >> 16,
                        dist & 0xFFFF
                    ));
                }
                if dist <= lowest {
                    lowest = dist;
                    best = Some((k, c));
                }
            }
        }
        let (k, c) = best?;
        let c = c.clone();
        Some(self.fuzzy_chosen(i, k, &c, &shown(k, &c.name)))
    }

    fn fuzzy_chosen(&self, i: usize, k: usize, c: &Candidate, shown: &str) -> Choice {
        let ctx = self.ctx;
        if ctx.opts.ctl.debug.fuzzy >= 1 {
            ctx.out.info(&format!(
                "fuzzy basis selected for {}: {shown}",
                ctx.name(i)
            ));
        }
        Choice {
            basis_type: FNAMECMP_FUZZY + k as u8,
            name: c.name.clone(),
            st: c.st,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_as_upstream() {
        assert_eq!(filename_suffix(b"rsync.c"), b".c");
        assert_eq!(filename_suffix(b"archive-v1.tar"), b".tar");
        assert_eq!(filename_suffix(b"a.tar.bak"), b".tar");
        assert_eq!(filename_suffix(b"a.c.orig"), b".c");
        assert_eq!(filename_suffix(b"a.c.~3~"), b".c");
        assert_eq!(filename_suffix(b"lib.so.1.2"), b".so");
        assert_eq!(filename_suffix(b"log.1"), b".1");
        assert_eq!(filename_suffix(b".bashrc"), b"");
        assert_eq!(filename_suffix(b"noext"), b"");
    }

    #[test]
    fn distances() {
        assert_eq!(fuzzy_distance(b"abc", b"abc", MAX_DIST), 0);
        // One substitution: a unit plus the byte difference.
        assert_eq!(fuzzy_distance(b"abc", b"abd", MAX_DIST), UNIT + 1);
        // Too different in length for the limit.
        assert_eq!(fuzzy_distance(b"a", b"abcdef", 2 * UNIT), 0xFFFF * UNIT + 1);
        // Closer names score lower.
        let v1 = fuzzy_distance(b"archive-v1.tar", b"archive-v2.tar", MAX_DIST);
        let old = fuzzy_distance(b"archive-old.tar", b"archive-v2.tar", MAX_DIST);
        assert!(v1 < old, "{v1} {old}");
        assert_eq!(fuzzy_distance(b"", b"ab", MAX_DIST), 2 * UNIT + 97 + 98);
    }
}
