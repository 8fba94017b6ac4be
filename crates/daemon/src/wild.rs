//! Shell-style wildcard matching (`*`, `?`, `[...]` with ranges and `!`/`^`
//! negation), as rsyncd.conf uses for host names, user names and refused
//! options.

/// Whether `text` matches `pattern`.
// upstream: lib/wildmatch.c:wildmatch()
pub fn wildmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches(&p, &t)
}

/// Case-insensitive [`wildmatch`] (host names).
pub fn iwildmatch(pattern: &str, text: &str) -> bool {
    wildmatch(&pattern.to_lowercase(), &text.to_lowercase())
}

/// Whether the pattern uses any wildcard character.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

fn matches(p: &[char], t: &[char]) -> bool {
    // Iterative matcher with one backtrack point for the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, next)) = class(&p[pi..], t[ti]) {
                        if ok {
                            pi += next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == t[ti] => {
                    pi += 2;
                    ti += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() => {}
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches one character against a `[...]` class at the start of `p`;
/// returns (matched, pattern length) or None when the class is unclosed.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    while i < p.len() {
        let ch = p[i];
        if ch == ']' && !first {
            return Some((found != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                found = true;
            }
            i += 3;
        } else {
            if ch == c {
                found = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("*", "anything", true),
            ("*", "", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbb", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("delete-*", "delete-during", true),
            ("delete-*", "delete", false),
            ("*.example.com", "host.example.com", true),
            ("*.example.com", "example.com", false),
            ("[a-c]x", "bx", true),
            ("[!a-c]x", "bx", false),
            ("[!a-c]x", "dx", true),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("*a*b*", "xxaxxbxx", true),
            ("[unclosed", "[unclosed", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(wildmatch(p, t), want, "{p} ~ {t}");
        }
        assert!(iwildmatch("*.EXAMPLE.com", "Host.example.COM"));
        assert!(has_wildcard("a*") && !has_wildcard("abc"));
    }
}
