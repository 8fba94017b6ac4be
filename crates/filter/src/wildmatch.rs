//! rsync's wildmatch: shell-style matching where `*` stops at `/`, `**`
//! crosses it, `?` and bracket classes never match `/`.
//!
//! Patterns are compiled once into tokens and matched by simulating the
//! equivalent NFA over the text, so every match costs at most
//! `pattern tokens × text bytes` steps, whatever the nesting of `**`.

/// How the text is anchored when matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The pattern must match the whole text.
    Whole,
    /// The pattern may match the whole text or any part that follows a `/`.
    AfterAnySlash,
}

#[derive(Debug, Clone)]
enum Tok {
    Lit(u8),
    Any,
    Class(Box<Class>),
    Star,
    StarStar,
}

#[derive(Debug, Clone)]
struct Class {
    negated: bool,
    items: Vec<Item>,
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Byte(u8),
    Range(u8, u8),
    Posix(fn(u8) -> bool),
}

impl Class {
    fn contains(&self, c: u8) -> bool {
        let hit = self.items.iter().any(|it| match *it {
            Item::Byte(b) => b == c,
            Item::Range(lo, hi) => c >= lo && c <= hi,
            Item::Posix(f) => f(c),
        });
        hit != self.negated && c != b'/'
    }
}

/// A compiled wildmatch pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    toks: Vec<Tok>,
    /// A malformed pattern (unterminated class, unknown `[:name:]`, trailing
    /// backslash) never matches anything, as upstream's ABORT_ALL.
    never: bool,
}

impl Pattern {
    /// Compiles `pat` with wildcard semantics (`*`, `**`, `?`, `[...]`, `\x`).
    // upstream: lib/wildmatch.c:dowild() (the pattern side)
    pub fn new(pat: &[u8]) -> Pattern {
        let mut toks = Vec::with_capacity(pat.len());
        let mut i = 0;
        while i < pat.len() {
            match pat[i] {
                b'\\' => {
                    if i + 1 >= pat.len() {
                        return Pattern { toks, never: true };
                    }
                    toks.push(Tok::Lit(pat[i + 1]));
                    i += 2;
                }
                b'?' => {
                    toks.push(Tok::Any);
                    i += 1;
                }
                b'*' => {
                    let start = i;
                    while i < pat.len() && pat[i] == b'*' {
                        i += 1;
                    }
                    toks.push(if i - start >= 2 {
                        Tok::StarStar
                    } else {
                        Tok::Star
                    });
                }
                b'[' => match parse_class(pat, i + 1) {
                    Some((class, next)) => {
                        toks.push(Tok::Class(Box::new(class)));
                        i = next;
                    }
                    None => return Pattern { toks, never: true },
                },
                c => {
                    toks.push(Tok::Lit(c));
                    i += 1;
                }
            }
        }
        Pattern { toks, never: false }
    }

    /// Compiles `pat` as a literal string (no wildcard is special, not even `\`).
    pub fn literal(pat: &[u8]) -> Pattern {
        Pattern {
            toks: pat.iter().map(|&b| Tok::Lit(b)).collect(),
            never: false,
        }
    }

    /// True if the pattern matches `text` under `anchor`.
    pub fn matches(&self, text: &[u8], anchor: Anchor) -> bool {
        let mut steps = 0;
        self.matches_counted(text, anchor, &mut steps)
    }

    /// As [`Pattern::matches`], adding the number of NFA steps taken to `steps`.
    // upstream: lib/wildmatch.c:wildmatch_array()
    pub fn matches_counted(&self, text: &[u8], anchor: Anchor, steps: &mut u64) -> bool {
        if self.never {
            return false;
        }
        let n = self.toks.len();
        let mut cur = vec![false; n + 1];
        let mut next = vec![false; n + 1];
        cur[0] = true;
        self.closure(&mut cur);
        for &c in text {
            next.iter_mut().for_each(|s| *s = false);
            let mut live = false;
            for (i, tok) in self.toks.iter().enumerate() {
                if !cur[i] {
                    continue;
                }
                *steps += 1;
                let (to, ok) = match tok {
                    Tok::Lit(b) => (i + 1, *b == c),
                    Tok::Any => (i + 1, c != b'/'),
                    Tok::Class(cl) => (i + 1, cl.contains(c)),
                    Tok::Star => (i, c != b'/'),
                    Tok::StarStar => (i, true),
                };
                if ok {
                    next[to] = true;
                    live = true;
                }
            }
            if anchor == Anchor::AfterAnySlash && c == b'/' {
                next[0] = true;
                live = true;
            }
            if !live && anchor == Anchor::Whole {
                return false;
            }
            self.closure(&mut next);
            std::mem::swap(&mut cur, &mut next);
        }
        cur[n]
    }

    /// Stars may match nothing: propagate each live star state forward.
    fn closure(&self, states: &mut [bool]) {
        for i in 0..self.toks.len() {
            if states[i] && matches!(self.toks[i], Tok::Star | Tok::StarStar) {
                states[i + 1] = true;
            }
        }
    }
}

/// Parses a bracket class whose body starts at `j` (just after `[`).
/// Returns the class and the index just past its closing `]`, or `None` if
/// the class is malformed (such a pattern can never match).
fn parse_class(p: &[u8], mut j: usize) -> Option<(Class, usize)> {
    let mut negated = false;
    if matches!(p.get(j), Some(b'!') | Some(b'^')) {
        negated = true;
        j += 1;
    }
    let mut items = Vec::new();
    let mut prev: Option<u8> = None;
    let mut first = true;
    loop {
        let c = *p.get(j)?;
        if c == b']' && !first {
            return Some((Class { negated, items }, j + 1));
        }
        first = false;
        if c == b'\\' {
            j += 1;
            let e = *p.get(j)?;
            items.push(Item::Byte(e));
            prev = Some(e);
        } else if c == b'-' && prev.is_some() && p.get(j + 1).is_some_and(|&n| n != b']') {
            j += 1;
            let mut hi = p[j];
            if hi == b'\\' {
                j += 1;
                hi = *p.get(j)?;
            }
            items.push(Item::Range(prev.unwrap_or(0), hi));
            prev = None;
        } else if c == b'[' && p.get(j + 1) == Some(&b':') {
            let s = j + 2;
            let close = s + p[s..].iter().position(|&b| b == b']')?;
            if close == s || p[close - 1] != b':' {
                // Not a [:class:]: the `[` is an ordinary member.
                items.push(Item::Byte(b'['));
                prev = Some(b'[');
                j += 1;
                continue;
            }
            items.push(Item::Posix(posix_class(&p[s..close - 1])?));
            prev = None;
            j = close;
        } else {
            items.push(Item::Byte(c));
            prev = Some(c);
        }
        j += 1;
    }
}

fn posix_class(name: &[u8]) -> Option<fn(u8) -> bool> {
    Some(match name {
        b"alnum" => |c: u8| c.is_ascii_alphanumeric(),
        b"alpha" => |c: u8| c.is_ascii_alphabetic(),
        b"blank" => |c: u8| c == b' ' || c == b'\t',
        b"cntrl" => |c: u8| c.is_ascii_control(),
        b"digit" => |c: u8| c.is_ascii_digit(),
        b"graph" => |c: u8| c.is_ascii_graphic(),
        b"lower" => |c: u8| c.is_ascii_lowercase(),
        b"print" => |c: u8| c.is_ascii_graphic() || c == b' ',
        b"punct" => |c: u8| c.is_ascii_punctuation(),
        b"space" => |c: u8| c == b' ' || (b'\t'..=b'\r').contains(&c),
        b"upper" => |c: u8| c.is_ascii_uppercase(),
        b"xdigit" => |c: u8| c.is_ascii_hexdigit(),
        _ => return None,
    })
}

/// Matches `pattern` against the whole of `text` with rsync's wildmatch rules.
// upstream: lib/wildmatch.c:wildmatch()
pub fn wildmatch(pattern: &[u8], text: &[u8]) -> bool {
    Pattern::new(pattern).matches(text, Anchor::Whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wm(p: &str, t: &str) -> bool {
        wildmatch(p.as_bytes(), t.as_bytes())
    }

    #[test]
    fn basics() {
        assert!(wm("foo", "foo"));
        assert!(!wm("foo", "bar"));
        assert!(wm("", ""));
        assert!(wm("???", "abc"));
        assert!(!wm("??", "a/"));
        assert!(wm("*", "foo"));
        assert!(!wm("*", "foo/bar"));
        assert!(wm("**", "foo/bar"));
        assert!(wm("f*", "foo"));
        assert!(wm("*o", "foo"));
        assert!(!wm("*f", "foo"));
        assert!(wm("foo/*", "foo/bar"));
        assert!(!wm("foo/*", "foo/bar/baz"));
        assert!(wm("foo/**", "foo/bar/baz"));
        assert!(wm("**/baz", "foo/bar/baz"));
        assert!(!wm("**/baz", "baz"));
        assert!(wm("a**z", "a/b/z"));
        assert!(wm("foo/***", "foo/"));
        assert!(wm("\\*", "*"));
        assert!(!wm("\\*", "x"));
        assert!(!wm("foo\\", "foo\\"));
        assert!(wm("*/*/*", "a/b/c"));
        assert!(!wm("*/*", "a/b/c"));
    }

    #[test]
    fn classes() {
        assert!(wm("[abc]", "b"));
        assert!(!wm("[abc]", "d"));
        assert!(wm("[a-c]x", "bx"));
        assert!(wm("[!a-c]", "d"));
        assert!(wm("[^a-c]", "d"));
        assert!(!wm("[^a-c]", "a"));
        assert!(!wm("[!a]", "/"));
        assert!(wm("[]]", "]"));
        assert!(wm("[!]]", "a"));
        assert!(!wm("[!]]", "]"));
        assert!(wm("[a-]", "-"));
        assert!(wm("[[:alpha:]]", "Q"));
        assert!(!wm("[[:alpha:]]", "1"));
        assert!(wm("[[:digit:][:upper:]]", "7"));
        assert!(wm("[[:digit:][:upper:]]", "Z"));
        assert!(!wm("[[:digit:][:upper:]]", "z"));
        assert!(wm("[[:space:]]", "\x0b"));
        assert!(wm("[[:xdigit:]]", "f"));
        assert!(wm("[[:punct:]]", "!"));
        assert!(!wm("[[:nope:]]", "a"));
        assert!(!wm("[abc", "a"));
        assert!(wm("[[:a]", "["));
        assert!(wm("[[:a]", ":"));
        assert!(wm("[\\]]", "]"));
        assert!(wm("[a\\-z]", "-"));
        assert!(!wm("[a\\-z]", "b"));
    }

    #[test]
    fn anchors() {
        let p = Pattern::new(b"b/**");
        assert!(p.matches(b"a/b/c", Anchor::AfterAnySlash));
        assert!(!p.matches(b"a/b/c", Anchor::Whole));
        assert!(!p.matches(b"ab/c", Anchor::AfterAnySlash));
        assert!(!Pattern::literal(b"a*").matches(b"ab", Anchor::Whole));
        assert!(Pattern::literal(b"a*").matches(b"a*", Anchor::Whole));
    }

    #[test]
    fn pathological_is_bounded() {
        let pat = "**/".repeat(20) + "nomatch";
        let text = "d/".repeat(300) + "file";
        let p = Pattern::new(pat.as_bytes());
        let mut steps = 0;
        assert!(!p.matches_counted(text.as_bytes(), Anchor::Whole, &mut steps));
        assert!(steps <= (p.toks.len() as u64 + 1) * text.len() as u64);
        let mut steps = 0;
        let long = "*a".repeat(500);
        let text = "a".repeat(2000) + "b";
        assert!(!Pattern::new(long.as_bytes()).matches_counted(
            text.as_bytes(),
            Anchor::AfterAnySlash,
            &mut steps
        ));
        assert!(steps <= 1001 * 2001);
    }
}

#[cfg(test)]
mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn literal_text_matches_itself(t in "[a-z./_-]{0,40}") {
            prop_assert!(wildmatch(t.as_bytes(), t.as_bytes()));
            prop_assert!(Pattern::literal(t.as_bytes()).matches(t.as_bytes(), Anchor::Whole));
        }

        #[test]
        fn star_and_double_star(t in "[a-z/]{0,40}") {
            prop_assert_eq!(wildmatch(b"*", t.as_bytes()), !t.contains('/'));
            prop_assert!(wildmatch(b"**", t.as_bytes()));
            let q = "?".repeat(t.len());
            prop_assert_eq!(wildmatch(q.as_bytes(), t.as_bytes()), !t.contains('/'));
        }
    }
}
