//! Implied includes: what a pulling client asked the remote sender for,
//! as include rules its received file list is checked against (a name no
//! rule matches was never requested).
// upstream: exclude.c:add_implied_include(), is_implied_parent_dir()

use crate::rule::{Rule, DIRECTORY, INCLUDE};
use std::collections::HashSet;

/// How the transfer shapes what one source argument requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArgShape {
    /// `-R`: the path after `/./` (or all of it) is kept.
    pub relative: bool,
    /// `-r`: everything beneath a requested directory.
    pub recurse: bool,
    /// `-d` (or a listing): the direct contents of a requested directory.
    pub dirs: bool,
}

/// The names a pulling client requested, as include rules. Rules without
/// wildcards (all of them for ordinary names, so a long `--files-from` list
/// costs a few lookups per received name, not a scan) are kept in sets by
/// what they match; the rest are matched one by one.
#[derive(Debug, Clone, Default)]
pub struct ImpliedIncludes {
    /// `/NAME`: exactly NAME.
    exact: HashSet<Vec<u8>>,
    /// `/NAME/` (directory only): a `-R` parent.
    parents: HashSet<Vec<u8>>,
    /// `/NAME/**` (`-r`); "" for `/**`.
    under_any: HashSet<Vec<u8>>,
    /// `/NAME/*` (`-d`); "" for `/*`.
    under_one: HashSet<Vec<u8>>,
    /// Rules from arguments with wildcards.
    wild: Vec<Rule>,
    /// Every main and parent pattern added (upstream looks a parent up by
    /// its pattern text before adding it again).
    seen: HashSet<Vec<u8>>,
}

/// The ancestors of `name` (`a`, `a/b` for `a/b/c`).
fn ancestors(name: &[u8]) -> impl Iterator<Item = &[u8]> {
    name.iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'/')
        .map(move |(i, _)| &name[..i])
}

/// The directory holding `name` ("" at the top).
fn parent_of(name: &[u8]) -> &[u8] {
    name.iter()
        .rposition(|&b| b == b'/')
        .map_or(&b""[..], |p| &name[..p])
}

impl ImpliedIncludes {
    /// An empty list (which checks nothing).
    pub fn new() -> ImpliedIncludes {
        ImpliedIncludes::default()
    }

    /// True if no argument added a rule: the list then checks nothing.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
            && self.parents.is_empty()
            && self.under_any.is_empty()
            && self.under_one.is_empty()
            && self.wild.is_empty()
    }

    /// Adds the rules one source argument implies. `skip_module` drops the
    /// leading `module/` of a daemon path.
    pub fn add_arg(&mut self, arg: &[u8], skip_module: bool, shape: ArgShape) {
        let mut arg = arg;
        if skip_module {
            arg = match arg.iter().position(|&b| b == b'/') {
                Some(p) => &arg[p + 1..],
                None => b"",
            };
        }
        if shape.relative {
            if let Some(p) = arg.windows(3).position(|w| w == b"/./") {
                arg = &arg[p + 3..];
            }
        } else if let Some(p) = arg.iter().rposition(|&b| b == b'/') {
            arg = &arg[p + 1..];
        }
        if arg == b"." {
            arg = b"";
        }
        let saw_wild = arg.iter().any(|b| matches!(b, b'*' | b'[' | b'?'));
        let shaped = shape_pattern(arg, saw_wild);
        if !shaped.pat.is_empty() {
            self.seen.insert(shaped.pat.clone());
            if saw_wild {
                self.push(Rule::build_wild(INCLUDE, &shaped.pat, true), &shaped);
            } else {
                self.exact.insert(shaped.pat[1..].to_vec());
            }
            if shape.relative && shaped.slash_cnt > 0 {
                self.add_parents(&shaped, saw_wild);
            }
        }
        if (shape.recurse || shape.dirs) && !saw_wild {
            let base = shaped.pat.get(1..).unwrap_or_default().to_vec();
            if shape.recurse {
                self.under_any.insert(base);
            } else {
                self.under_one.insert(base);
            }
        } else if shape.recurse || shape.dirs {
            let mut pat = if !saw_wild && shaped.backslash_cnt > 0 {
                // A wildcard is appended: literal backslashes need escaping.
                let mut v = Vec::with_capacity(shaped.pat.len() + shaped.backslash_cnt);
                for &b in &shaped.pat {
                    if b == b'\\' {
                        v.push(b'\\');
                    }
                    v.push(b);
                }
                v
            } else {
                shaped.pat.clone()
            };
            pat.extend_from_slice(if shape.recurse { b"/**" } else { b"/*" });
            self.push(Rule::build_wild(INCLUDE, &pat, true), &shaped);
        }
    }

    /// The parent directories `-R` sends ahead of a requested path.
    fn add_parents(&mut self, shaped: &Shaped, saw_wild: bool) {
        let mut cur = shaped.pat.clone();
        while let Some(p) = cur.iter().rposition(|&b| b == b'/') {
            if p == 0 {
                break;
            }
            cur.truncate(p);
            if !self.seen.insert(cur.clone()) {
                break; // this parent and those above it are in already
            }
            let wild = saw_wild && cur.iter().any(|b| matches!(b, b'*' | b'[' | b'?' | b'\\'));
            if wild {
                self.push(Rule::build_wild(INCLUDE | DIRECTORY, &cur, true), shaped);
            } else {
                self.parents.insert(cur[1..].to_vec());
            }
        }
    }

    /// Adds `rule`, and when the argument held a live `[` the same pattern
    /// with every `[` escaped (a remote shell whose wildcard did not match
    /// passes the name through literally).
    fn push(&mut self, rule: Rule, shaped: &Shaped) {
        if shaped.live_bracket {
            let mut lit = Vec::with_capacity(rule.pattern.len() + 4);
            let mut i = 0;
            let p = &rule.pattern;
            while i < p.len() {
                if p[i] == b'\\' && i + 1 < p.len() {
                    lit.push(p[i]);
                    i += 1;
                } else if p[i] == b'[' {
                    lit.push(b'\\');
                }
                lit.push(p[i]);
                i += 1;
            }
            let flags = rule.flags & (INCLUDE | DIRECTORY);
            self.wild.push(Rule::build_wild(flags, &lit, true));
        }
        self.wild.push(rule);
    }

    /// True if some rule includes `name` (a file-list name relative to the
    /// transfer root; a leading `/` is ignored).
    pub fn permits(&self, name: &[u8], is_dir: bool) -> bool {
        let n = name.strip_prefix(b"/").unwrap_or(name);
        if n.is_empty() {
            return false;
        }
        self.leaf_match(n)
            || (is_dir && self.parents.contains(n))
            || self.wild.iter().any(|r| r.matches(n, is_dir, b""))
    }

    /// A literal rule other than a parent's matches `n` (no leading `/`).
    fn leaf_match(&self, n: &[u8]) -> bool {
        self.exact.contains(n)
            || self.under_any.contains(&b""[..])
            || ancestors(n).any(|a| self.under_any.contains(a))
            || self.under_one.contains(parent_of(n))
    }

    /// True if `name` was only requested as a parent of something else (a
    /// `-R` implied directory), never as content of its own: such a
    /// directory must not be treated as a transfer root by `--delete`.
    pub fn is_parent_only(&self, name: &[u8]) -> bool {
        if self.is_empty() {
            return false;
        }
        if name == b"." || name == b"/." {
            return !(self.under_any.contains(&b""[..])
                || self.under_one.contains(&b""[..])
                || self
                    .wild
                    .iter()
                    .any(|r| r.pattern == b"/**" || r.pattern == b"/*"));
        }
        let n = name.strip_prefix(b"/").unwrap_or(name);
        if n.is_empty() || self.leaf_match(n) {
            return false;
        }
        let mut parent = self.parents.contains(n);
        for r in &self.wild {
            if !r.matches(n, true, b"") {
                continue;
            }
            if r.is_dir_only() {
                parent = true;
            } else {
                return false;
            }
        }
        parent
    }
}

/// An argument turned into an anchored pattern (upstream's `new_pat`).
struct Shaped {
    pat: Vec<u8>,
    slash_cnt: i32,
    backslash_cnt: usize,
    live_bracket: bool,
}

/// Anchors `arg` with a leading `/`, drops `.` elements and repeated or
/// trailing slashes, and keeps backslashes as wildcard escapes when the
/// argument holds wildcards.
fn shape_pattern(arg: &[u8], saw_wild: bool) -> Shaped {
    let mut s = Shaped {
        pat: Vec::with_capacity(arg.len() + 2),
        slash_cnt: 0,
        backslash_cnt: 0,
        live_bracket: false,
    };
    if arg.is_empty() {
        return s;
    }
    let p = &mut s.pat;
    p.push(b'/');
    s.slash_cnt = 1;
    let mut i = 0;
    while i < arg.len() {
        let next = arg.get(i + 1).copied();
        match arg[i] {
            b'\\' => {
                if next == Some(b']') {
                    if !saw_wild {
                        i += 1; // a "\]" in a literal pattern is just "]"
                    }
                } else if next.is_none_or(|n| !b"*[?".contains(&n)) {
                    s.backslash_cnt += 1;
                    if saw_wild {
                        p.push(b'\\');
                    }
                }
                p.push(arg[i]);
                i += 1;
            }
            b'/' => {
                if p.last() == Some(&b'/') {
                    i += 1;
                    if i == arg.len() {
                        s.slash_cnt -= 1;
                        p.pop();
                    }
                } else if next.is_none() {
                    i += 1;
                } else {
                    s.slash_cnt += 1;
                    p.push(b'/');
                    i += 1;
                }
            }
            b'.' if p.last() == Some(&b'/') => {
                if next == Some(b'/') {
                    i += 2;
                    if i == arg.len() {
                        s.slash_cnt -= 1;
                        p.pop();
                    }
                } else if next.is_none() {
                    i += 1;
                    s.slash_cnt -= 1;
                    p.pop();
                } else {
                    p.push(b'.');
                    i += 1;
                }
            }
            c => {
                if c == b'[' {
                    s.live_bracket = true;
                }
                p.push(c);
                i += 1;
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(args: &[&str], relative: bool, recurse: bool, dirs: bool) -> ImpliedIncludes {
        let mut l = ImpliedIncludes::new();
        for a in args {
            l.add_arg(
                a.as_bytes(),
                false,
                ArgShape {
                    relative,
                    recurse,
                    dirs,
                },
            );
        }
        l
    }

    fn pats(l: &ImpliedIncludes) -> Vec<String> {
        let text = |b: &Vec<u8>| String::from_utf8_lossy(b).into_owned();
        let mut v: Vec<String> = l
            .wild
            .iter()
            .map(|r| {
                let mut s = text(&r.pattern);
                if r.is_dir_only() {
                    s.push('/');
                }
                s
            })
            .collect();
        v.extend(l.exact.iter().map(|b| format!("/{}", text(b))));
        v.extend(l.parents.iter().map(|b| format!("/{}/", text(b))));
        let under = |b: &Vec<u8>, tail: &str| {
            if b.is_empty() {
                format!("/{tail}")
            } else {
                format!("/{}/{tail}", text(b))
            }
        };
        v.extend(l.under_any.iter().map(|b| under(b, "**")));
        v.extend(l.under_one.iter().map(|b| under(b, "*")));
        v.sort();
        v
    }

    #[test]
    fn plain_file() {
        let l = list(&["notes.txt"], false, false, false);
        assert_eq!(pats(&l), ["/notes.txt"]);
        assert!(l.permits(b"notes.txt", false));
        assert!(!l.permits(b".ssh/authorized_keys", false));
        assert!(!l.permits(b".ssh", true));
    }

    #[test]
    fn trailing_slash_and_dot() {
        let l = list(&["dir/sub/"], false, true, false);
        assert_eq!(pats(&l), ["/**"]);
        assert!(l.permits(b"a/b/c", false));
        let l = list(&["dir/sub/"], false, false, true);
        assert_eq!(pats(&l), ["/*"]);
        assert!(l.permits(b"a", false));
        assert!(!l.permits(b"a/b", false));
        let l = list(&["."], false, false, false);
        assert!(l.is_empty());
        let l = list(&["dir/sub"], false, true, false);
        assert!(l.permits(b"sub/x", false));
        assert!(!l.permits(b"other/x", false));
    }

    #[test]
    fn relative_parents() {
        let l = list(&["dir/sub/"], true, true, false);
        assert_eq!(pats(&l), ["/dir/", "/dir/sub", "/dir/sub/**"]);
        assert!(l.permits(b"dir", true));
        assert!(!l.permits(b"dir", false));
        assert!(!l.permits(b"dir/other", false));
        assert!(l.permits(b"dir/sub/x/y", false));
        assert!(l.is_parent_only(b"dir"));
        assert!(!l.is_parent_only(b"dir/sub"));
        assert!(l.is_parent_only(b"."));
        let l = list(&["/abs/./a/b"], true, false, false);
        assert_eq!(pats(&l), ["/a/", "/a/b"]);
        let l = list(&["a/b", "a/c"], true, false, false);
        assert_eq!(pats(&l), ["/a/", "/a/b", "/a/c"]);
    }

    #[test]
    fn wildcards_and_brackets() {
        let l = list(&["src/*.txt"], false, false, false);
        assert!(l.permits(b"a.txt", false));
        assert!(!l.permits(b"a.sh", false));
        let l = list(&["f[1].txt"], false, false, false);
        assert!(l.permits(b"f1.txt", false));
        assert!(l.permits(b"f[1].txt", false));
        assert!(!l.permits(b"f2.txt", false));
        let l = list(&["a\\b"], false, true, false);
        assert!(l.permits(b"a\\b", true));
        assert!(l.permits(b"a\\b/c", false));
    }

    #[test]
    fn long_files_from_list() {
        // 100k requested names and 100k received ones: set lookups, not a
        // scan per name (which would take hours).
        let shape = ArgShape {
            relative: true,
            dirs: true,
            ..ArgShape::default()
        };
        let mut l = ImpliedIncludes::new();
        for i in 0..100_000 {
            l.add_arg(format!("d{}/f{i}", i % 100).as_bytes(), false, shape);
        }
        for i in 0..100_000 {
            assert!(l.permits(format!("d{}/f{i}", i % 100).as_bytes(), false));
        }
        assert!(l.permits(b"d7", true));
        assert!(l.is_parent_only(b"d7"));
        assert!(!l.permits(b"d7/f8", false));
        assert!(!l.permits(b"d7/g", false));
    }

    #[test]
    fn daemon_module() {
        let mut l = ImpliedIncludes::new();
        l.add_arg(b"mod/notes.txt", true, ArgShape::default());
        assert!(l.permits(b"notes.txt", false));
        assert!(!l.permits(b"mod", true));
        let mut l = ImpliedIncludes::new();
        let shape = ArgShape {
            recurse: true,
            ..ArgShape::default()
        };
        l.add_arg(b"mod/", true, shape);
        assert!(l.permits(b"x/y", false));
    }
}
