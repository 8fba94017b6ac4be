//! One filter rule: its grammar (short and long prefixes, modifiers) and how
//! it matches a path.

use crate::error::Error;
use crate::wildmatch::{Anchor, Pattern};

// Rule flag bits (upstream's FILTRULE_*; the values are ours).
pub(crate) const INCLUDE: u32 = 1 << 0;
pub(crate) const DIRECTORY: u32 = 1 << 1;
pub(crate) const ABS_PATH: u32 = 1 << 2;
pub(crate) const NEGATE: u32 = 1 << 3;
pub(crate) const PERISHABLE: u32 = 1 << 4;
pub(crate) const SENDER_SIDE: u32 = 1 << 5;
pub(crate) const RECEIVER_SIDE: u32 = 1 << 6;
pub(crate) const MERGE_FILE: u32 = 1 << 7;
pub(crate) const PERDIR_MERGE: u32 = 1 << 8;
pub(crate) const NO_PREFIXES: u32 = 1 << 9;
pub(crate) const WORD_SPLIT: u32 = 1 << 10;
pub(crate) const NO_INHERIT: u32 = 1 << 11;
pub(crate) const CVS_IGNORE: u32 = 1 << 12;
pub(crate) const EXCLUDE_SELF: u32 = 1 << 13;
pub(crate) const XATTR: u32 = 1 << 14;
pub(crate) const CLEAR_LIST: u32 = 1 << 15;
/// Read from a file's contents (not an argument): its text is never shown.
pub(crate) const FROM_FILE: u32 = 1 << 20;
const WILD: u32 = 1 << 16;
const WILD2: u32 = 1 << 17;
const WILD2_PREFIX: u32 = 1 << 18;
const WILD3_SUFFIX: u32 = 1 << 19;

pub(crate) const SIDES: u32 = SENDER_SIDE | RECEIVER_SIDE;
/// Flags a rule inherits from the rule (template) that produced it.
const FROM_CONTAINER: u32 = ABS_PATH | INCLUDE | DIRECTORY | NEGATE | PERISHABLE;

/// Which process is asking: the sender's walk or the receiver's deletion pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The sending side building its file list (hide/show apply).
    Sender,
    /// The receiving side deciding what to delete (protect/risk apply).
    Receiver,
}

/// A parsed include or exclude rule, ready to match paths.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) flags: u32,
    /// The pattern as written (trailing `/` removed, anchoring prefix added
    /// for rules read from a per-directory merge file).
    pub(crate) pattern: Vec<u8>,
    slash_cnt: usize,
    compiled: Pattern,
}

impl Rule {
    /// Builds a rule from flags and a pattern, deriving the matching hints.
    // upstream: exclude.c:add_rule()
    pub(crate) fn build(mut flags: u32, pat: &[u8]) -> Rule {
        let mut pat = pat;
        if pat.len() > 1 && pat.ends_with(b"/") {
            pat = &pat[..pat.len() - 1];
            flags |= DIRECTORY;
        }
        let slash_cnt = pat.iter().filter(|&&b| b == b'/').count();
        if pat.iter().any(|b| matches!(b, b'*' | b'[' | b'?')) {
            flags |= WILD;
            if let Some(pos) = pat.windows(2).position(|w| w == b"**") {
                flags |= WILD2;
                if pos == 0 {
                    flags |= WILD2_PREFIX;
                }
                if pat.ends_with(b"***") {
                    flags |= WILD3_SUFFIX;
                }
            }
        }
        let body = pat.strip_prefix(b"/").unwrap_or(pat);
        let compiled = if flags & WILD != 0 {
            Pattern::new(body)
        } else {
            Pattern::literal(body)
        };
        Rule {
            flags,
            pattern: pat.to_vec(),
            slash_cnt,
            compiled,
        }
    }

    /// As [`Rule::build`], but a `wild` pattern is matched with wildcards
    /// (and backslash escapes) even when it holds no `*`, `[` or `?`.
    // upstream: exclude.c:add_implied_include() sets FILTRULE_WILD itself
    pub(crate) fn build_wild(flags: u32, pat: &[u8], wild: bool) -> Rule {
        let mut r = Rule::build(flags, pat);
        if wild && r.flags & WILD == 0 {
            r.flags |= WILD;
            let body = r.pattern.strip_prefix(b"/").unwrap_or(&r.pattern);
            r.compiled = Pattern::new(body);
        }
        r
    }

    /// Parses a single rule in `--filter` syntax (e.g. `"- *.o"`,
    /// `"include /src/"`, `"-s,! foo"`). Merge, dir-merge and clear rules are
    /// refused here: add them to a [`crate::FilterList`] instead.
    pub fn parse(text: &[u8]) -> Result<Rule, Error> {
        let (tok, _) =
            parse_tok(text, 0, false, false)?.ok_or_else(|| Error::rule(text, "empty rule"))?;
        if tok.flags & (MERGE_FILE | CLEAR_LIST | CVS_IGNORE) != 0 {
            return Err(Error::rule(text, "not a plain include/exclude rule"));
        }
        Ok(Rule::build(tok.flags, tok.pat))
    }

    /// The pattern text (without the directory-only trailing slash).
    pub fn pattern(&self) -> &[u8] {
        &self.pattern
    }

    /// True for include (`+`, show, risk), false for exclude.
    pub fn is_include(&self) -> bool {
        self.flags & INCLUDE != 0
    }

    /// True if the rule only matches directories (written with a trailing `/`).
    pub fn is_dir_only(&self) -> bool {
        self.flags & DIRECTORY != 0
    }

    /// True if the rule is perishable (`p`).
    pub fn is_perishable(&self) -> bool {
        self.flags & PERISHABLE != 0
    }

    /// True if the rule takes part in checks made by `side`.
    pub fn applies_to(&self, side: Side) -> bool {
        match side {
            Side::Sender => self.flags & SIDES != RECEIVER_SIDE,
            Side::Receiver => self.flags & SIDES != SENDER_SIDE,
        }
    }

    /// True if this is an xattr-name rule (`x`).
    pub fn is_xattr(&self) -> bool {
        self.flags & XATTR != 0
    }

    /// Reports whether the rule fires for `name` (relative to the transfer
    /// root, no leading `/`). `abs_root` is the absolute transfer-root path,
    /// used by `/`-modifier rules. Negation (`!`) is applied.
    // upstream: exclude.c:rule_matches()
    pub fn matches(&self, name: &[u8], is_dir: bool, abs_root: &[u8]) -> bool {
        self.matches_name(name, is_dir, false, abs_root)
    }

    pub(crate) fn matches_name(
        &self,
        name: &[u8],
        is_dir: bool,
        is_xattr: bool,
        abs_root: &[u8],
    ) -> bool {
        let name = name.strip_prefix(b"/").unwrap_or(name);
        if name.is_empty() || is_xattr != self.is_xattr() {
            return false;
        }
        let hit = !self.flags & NEGATE != 0;
        let wild2 = self.flags & WILD2 != 0;
        let root = abs_root.strip_prefix(b"/").unwrap_or(abs_root);
        let root = root.strip_suffix(b"/").unwrap_or(root);
        let mut text: Vec<u8> = Vec::with_capacity(root.len() + name.len() + 2);
        if self.slash_cnt == 0 && !wild2 {
            let last = name
                .iter()
                .rposition(|&b| b == b'/')
                .map_or(name, |p| &name[p + 1..]);
            text.extend_from_slice(last);
        } else {
            if self.flags & ABS_PATH != 0 && !root.is_empty() {
                text.extend_from_slice(root);
                text.push(b'/');
            } else if self.flags & WILD2_PREFIX != 0 {
                text.push(b'/');
            }
            text.extend_from_slice(name);
        }
        if is_dir {
            if self.flags & WILD3_SUFFIX != 0 {
                text.push(b'/');
            }
        } else if self.flags & DIRECTORY != 0 {
            return !hit;
        }
        let anchored = self.pattern.starts_with(b"/");
        let matched = if !anchored && self.slash_cnt > 0 && !wild2 {
            // An unanchored pattern with inner slashes matches the last
            // slash_cnt+1 path elements.
            match trailing_elements(&text, self.slash_cnt + 1) {
                Some(t) => self.compiled.matches(t, Anchor::Whole),
                None => false,
            }
        } else if !anchored && wild2 && self.flags & WILD2_PREFIX == 0 {
            self.compiled.matches(&text, Anchor::AfterAnySlash)
        } else {
            self.compiled.matches(&text, Anchor::Whole)
        };
        if matched {
            hit
        } else {
            !hit
        }
    }

    /// The wire/display prefix of this rule, e.g. `"- "`, `"+/ "`, `":n- "`.
    /// `None` if the rule cannot be expressed for `protocol` (too modern).
    // upstream: exclude.c:get_rule_prefix()
    pub(crate) fn prefix(&self, protocol: Option<u32>, am_sender: bool) -> Option<Vec<u8>> {
        prefix_for(self.flags, &self.pattern, protocol, am_sender)
    }

    /// The rule as text in `--filter` syntax (its prefix, pattern and a
    /// trailing `/` for directory-only rules).
    pub fn to_text(&self) -> Vec<u8> {
        let mut out = self.prefix(None, false).unwrap_or_default();
        out.extend_from_slice(&self.pattern);
        if self.flags & DIRECTORY != 0 {
            out.push(b'/');
        }
        out
    }
}

/// The last `count` slash-separated elements of `text`; the whole text if it
/// has exactly `count` elements, `None` if fewer.
// upstream: lib/wildmatch.c:trailing_N_elements()
fn trailing_elements(text: &[u8], count: usize) -> Option<&[u8]> {
    let mut left = count;
    for (i, &b) in text.iter().enumerate().rev() {
        if b == b'/' {
            left -= 1;
            if left == 0 {
                return Some(&text[i + 1..]);
            }
        }
    }
    (left == 1).then_some(text)
}

pub(crate) fn prefix_for(
    flags: u32,
    pat: &[u8],
    protocol: Option<u32>,
    am_sender: bool,
) -> Option<Vec<u8>> {
    let old = matches!(protocol, Some(p) if p < 29);
    let mut legal_len = if old { 1 } else { 15 };
    let mut op = Vec::with_capacity(8);
    if flags & PERDIR_MERGE != 0 {
        if old {
            return None;
        }
        op.push(b':');
    } else if flags & INCLUDE != 0 {
        op.push(b'+');
    } else if !old || (pat.len() > 1 && matches!(pat[0], b'-' | b'+') && pat[1] == b' ') {
        op.push(b'-');
    } else {
        legal_len = 0;
    }
    if flags & ABS_PATH != 0 {
        op.push(b'/');
    }
    if flags & NEGATE != 0 {
        op.push(b'!');
    }
    if flags & CVS_IGNORE != 0 {
        op.push(b'C');
    } else {
        if flags & NO_INHERIT != 0 {
            op.push(b'n');
        }
        if flags & WORD_SPLIT != 0 {
            op.push(b'w');
        }
        if flags & NO_PREFIXES != 0 {
            op.push(if flags & INCLUDE != 0 { b'+' } else { b'-' });
        }
    }
    if flags & EXCLUDE_SELF != 0 {
        op.push(b'e');
    }
    if flags & XATTR != 0 {
        op.push(b'x');
    }
    if flags & SENDER_SIDE != 0 && !old {
        op.push(b's');
    }
    if flags & RECEIVER_SIDE != 0 && !old {
        op.push(b'r');
    }
    if flags & PERISHABLE != 0 {
        match protocol {
            Some(p) if p < 30 => {
                if am_sender {
                    return None;
                }
            }
            _ => op.push(b'p'),
        }
    }
    if op.len() > legal_len {
        return None;
    }
    if legal_len > 0 {
        op.push(b' ');
    }
    Some(op)
}

/// One rule token cut out of a rule string.
#[derive(Debug)]
pub(crate) struct Tok<'a> {
    pub(crate) flags: u32,
    pub(crate) pat: &'a [u8],
}

fn is_space(c: u8) -> bool {
    c == b' ' || (b'\t'..=b'\r').contains(&c)
}

/// Matches a long rule name at the start of `s`: returns the index of the
/// last byte consumed (so modifier scanning starts after it).
fn keyword(s: &[u8], word: &[u8]) -> Option<usize> {
    if !s.starts_with(word) {
        return None;
    }
    match s.get(word.len()) {
        None => Some(word.len() - 1),
        Some(&c) if is_space(c) || c == b'_' => Some(word.len() - 1),
        Some(b',') => Some(word.len()),
        Some(_) => None,
    }
}

/// Cuts the next rule from `s`. `tmpl` holds the flags of the rule (merge
/// file or CLI option) the text comes from; `old` selects the protocol < 29
/// and `--include`/`--exclude` syntax where only `- ` and `+ ` prefixes
/// exist. Returns the rule and the unparsed rest, or `None` at the end.
// upstream: exclude.c:parse_rule_tok()
pub(crate) fn parse_tok(
    full: &[u8],
    tmpl: u32,
    old: bool,
    delete_excluded: bool,
) -> Result<Option<(Tok<'_>, &[u8])>, Error> {
    let mut s = 0;
    if tmpl & WORD_SPLIT != 0 {
        while s < full.len() && is_space(full[s]) {
            s += 1;
        }
    }
    let start = s;
    let rule_text = &full[start..];
    if s >= full.len() {
        return Ok(None);
    }
    let at = |i: usize| full.get(i).copied().unwrap_or(0);
    let mut flags = tmpl & FROM_CONTAINER;
    if tmpl & NO_PREFIXES != 0 {
        if at(s) == b'!' && tmpl & CVS_IGNORE != 0 {
            flags |= CLEAR_LIST;
        }
    } else if old {
        if at(s) == b'-' && at(s + 1) == b' ' {
            flags &= !INCLUDE;
            s += 2;
        } else if at(s) == b'+' && at(s + 1) == b' ' {
            flags |= INCLUDE;
            s += 2;
        } else if at(s) == b'!' {
            flags |= CLEAR_LIST;
        }
    } else {
        let (ch, at_ch) = rule_char(full, s, rule_text)?;
        s = at_ch;
        let (prefix, side_from_prefix) = prefix_flags(ch, rule_text)?;
        flags |= prefix;
        if ch != b'!' {
            (flags, s) = modifiers(full, start, s, tmpl, flags, side_from_prefix)?;
        }
        if s < full.len() {
            s += 1;
        }
    }
    if tmpl & SIDES != 0 {
        if flags & SIDES != 0 {
            return Err(Error::rule(
                rule_text,
                "specified-side merge file contains specified-side filter",
            ));
        }
        flags |= tmpl & SIDES;
    }
    let s = s.min(full.len());
    let len = if tmpl & WORD_SPLIT != 0 {
        full[s..]
            .iter()
            .position(|&c| is_space(c))
            .unwrap_or(full.len() - s)
    } else {
        full.len() - s
    };
    if flags & CLEAR_LIST != 0 {
        if tmpl & NO_PREFIXES == 0 && !old && len > 0 {
            return Err(Error::rule(rule_text, "'!' rule has trailing characters"));
        }
        if len > 1 {
            flags &= !CLEAR_LIST;
        }
    } else if len == 0 && flags & CVS_IGNORE == 0 {
        return Err(Error::rule(rule_text, "unexpected end of filter rule"));
    }
    if delete_excluded && flags & (SIDES | MERGE_FILE | PERDIR_MERGE) == 0 {
        flags |= SENDER_SIDE;
    }
    Ok(Some((
        Tok {
            flags,
            pat: &full[s..s + len],
        },
        &full[s + len..],
    )))
}

/// Reads the rule's name at `s` (a long word such as `exclude`, or its
/// one-character prefix): the rule character and the index of its last
/// byte (modifiers follow it).
fn rule_char(full: &[u8], mut s: usize, rule_text: &[u8]) -> Result<(u8, usize), Error> {
    let at = |i: usize| full.get(i).copied().unwrap_or(0);
    let rest = &full[s..];
    let long: &[(&[u8], u8)] = &[
        (b"clear", b'!'),
        (b"dir-merge", b':'),
        (b"exclude", b'-'),
        (b"hide", b'H'),
        (b"include", b'+'),
        (b"merge", b'.'),
        (b"protect", b'P'),
        (b"risk", b'R'),
        (b"show", b'S'),
    ];
    let mut ch = 0u8;
    let mut matched_long = false;
    for (word, c) in long {
        if rest.first() == word.first() {
            if let Some(k) = keyword(rest, word) {
                ch = *c;
                s += k;
                matched_long = true;
            }
            break;
        }
    }
    if !matched_long {
        if rest.first().is_some_and(|c| b"cdehimprs".contains(c)) {
            return Err(Error::rule(rule_text, "unknown filter rule"));
        }
        ch = at(s);
        if at(s + 1) == b',' {
            s += 1;
        }
    }
    Ok((ch, s))
}

/// The flags a rule character sets, and whether it names a side (`S`,
/// `H`, `R`, `P`: the `s`/`r` modifiers may not name one again).
fn prefix_flags(ch: u8, rule_text: &[u8]) -> Result<(u32, bool), Error> {
    let mut flags = 0;
    let mut side_from_prefix = false;
    match ch {
        b':' => flags |= PERDIR_MERGE | MERGE_FILE,
        b'.' => flags |= MERGE_FILE,
        b'+' => flags |= INCLUDE,
        b'-' => {}
        b'S' => {
            flags |= INCLUDE | SENDER_SIDE;
            side_from_prefix = true;
        }
        b'H' => {
            flags |= SENDER_SIDE;
            side_from_prefix = true;
        }
        b'R' => {
            flags |= INCLUDE | RECEIVER_SIDE;
            side_from_prefix = true;
        }
        b'P' => {
            flags |= RECEIVER_SIDE;
            side_from_prefix = true;
        }
        b'!' => flags |= CLEAR_LIST,
        _ => return Err(Error::rule(rule_text, "unknown filter rule")),
    }
    Ok((flags, side_from_prefix))
}

/// Applies the modifiers that follow the rule character at `s` (the rule
/// text starts at `start`): the rule's flags and the index of the last
/// modifier.
fn modifiers(
    full: &[u8],
    start: usize,
    mut s: usize,
    tmpl: u32,
    mut flags: u32,
    side_from_prefix: bool,
) -> Result<(u32, usize), Error> {
    let at = |i: usize| full.get(i).copied().unwrap_or(0);
    let rule_text = &full[start..];
    loop {
        s += 1;
        let c = at(s);
        if c == 0 || c == b' ' || c == b'_' {
            break;
        }
        if tmpl & WORD_SPLIT != 0 && is_space(c) {
            s -= 1;
            break;
        }
        let ok = match c {
            b'-' | b'+' => {
                let ok = flags & MERGE_FILE != 0 && flags & NO_PREFIXES == 0;
                flags |= NO_PREFIXES | if c == b'+' { INCLUDE } else { 0 };
                ok
            }
            b'/' => {
                flags |= ABS_PATH;
                true
            }
            b'!' => {
                flags |= NEGATE;
                flags & MERGE_FILE == 0
            }
            b'C' => {
                let ok = flags & NO_PREFIXES == 0 && !side_from_prefix;
                flags |= NO_PREFIXES | WORD_SPLIT | NO_INHERIT | CVS_IGNORE;
                ok
            }
            b'e' => {
                flags |= EXCLUDE_SELF;
                flags & MERGE_FILE != 0
            }
            b'n' => {
                flags |= NO_INHERIT;
                flags & MERGE_FILE != 0
            }
            b'p' => {
                flags |= PERISHABLE;
                true
            }
            b'r' => {
                flags |= RECEIVER_SIDE;
                !side_from_prefix
            }
            b's' => {
                flags |= SENDER_SIDE;
                !side_from_prefix
            }
            b'w' => {
                flags |= WORD_SPLIT;
                flags & MERGE_FILE != 0
            }
            b'x' => {
                flags |= XATTR;
                true
            }
            _ => false,
        };
        if !ok {
            return Err(Error::Modifier {
                text: lossy(rule_text),
                modifier: c as char,
                position: s - start,
            });
        }
    }
    Ok((flags, s))
}

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(s: &str) -> (u32, String) {
        let (t, _) = parse_tok(s.as_bytes(), 0, false, false).unwrap().unwrap();
        (t.flags, lossy(t.pat))
    }

    fn m(rule: &str, path: &str, is_dir: bool) -> bool {
        Rule::parse(rule.as_bytes())
            .unwrap()
            .matches(path.as_bytes(), is_dir, b"/root/dir")
    }

    #[test]
    fn prefixes_and_names() {
        assert_eq!(tok("- foo"), (0, "foo".into()));
        assert_eq!(tok("+ foo"), (INCLUDE, "foo".into()));
        assert_eq!(tok("exclude foo"), (0, "foo".into()));
        assert_eq!(tok("include foo"), (INCLUDE, "foo".into()));
        assert_eq!(tok("include_foo"), (INCLUDE, "foo".into()));
        assert_eq!(tok("hide foo"), (SENDER_SIDE, "foo".into()));
        assert_eq!(tok("show foo"), (SENDER_SIDE | INCLUDE, "foo".into()));
        assert_eq!(tok("protect foo"), (RECEIVER_SIDE, "foo".into()));
        assert_eq!(tok("risk foo"), (RECEIVER_SIDE | INCLUDE, "foo".into()));
        assert_eq!(tok("H foo"), (SENDER_SIDE, "foo".into()));
        assert_eq!(tok("P foo"), (RECEIVER_SIDE, "foo".into()));
        assert_eq!(tok("-s foo"), (SENDER_SIDE, "foo".into()));
        assert_eq!(tok("-,s foo"), (SENDER_SIDE, "foo".into()));
        assert_eq!(tok("exclude,s foo"), (SENDER_SIDE, "foo".into()));
        assert_eq!(tok("+/! foo"), (INCLUDE | ABS_PATH | NEGATE, "foo".into()));
        assert_eq!(tok("-p core"), (PERISHABLE, "core".into()));
        assert_eq!(tok("-x user.*"), (XATTR, "user.*".into()));
        assert_eq!(
            tok(": .rsync-filter"),
            (MERGE_FILE | PERDIR_MERGE, ".rsync-filter".into())
        );
        assert_eq!(
            tok("dir-merge .f"),
            (MERGE_FILE | PERDIR_MERGE, ".f".into())
        );
        assert_eq!(
            tok(":n- .f").0,
            MERGE_FILE | PERDIR_MERGE | NO_INHERIT | NO_PREFIXES
        );
        assert_eq!(tok(".+ f").0, MERGE_FILE | NO_PREFIXES | INCLUDE);
        assert_eq!(tok(":e .f").0, MERGE_FILE | PERDIR_MERGE | EXCLUDE_SELF);
        assert_eq!(tok("!").0, CLEAR_LIST);
        assert_eq!(tok("clear").0, CLEAR_LIST);
        assert_eq!(
            tok("-C").0,
            NO_PREFIXES | WORD_SPLIT | NO_INHERIT | CVS_IGNORE
        );
        assert_eq!(tok(":C").1, "");
    }

    #[test]
    fn parse_errors() {
        let bad = |s: &str| parse_tok(s.as_bytes(), 0, false, false).is_err();
        assert!(bad("x foo"));
        assert!(bad("-"));
        assert!(bad("- "));
        assert!(bad("-q foo"));
        assert!(bad("-n foo"));
        assert!(bad(".! f"));
        assert!(bad("Hs foo"));
        assert!(bad("! x"));
        assert!(bad("includes foo"));
        assert!(matches!(
            parse_tok(b"-q foo", 0, false, false),
            Err(Error::Modifier {
                modifier: 'q',
                position: 1,
                ..
            })
        ));
    }

    #[test]
    fn old_prefixes() {
        let t = |s: &str, tmpl| {
            let (t, _) = parse_tok(s.as_bytes(), tmpl, true, false).unwrap().unwrap();
            (t.flags, lossy(t.pat))
        };
        assert_eq!(t("foo", 0), (0, "foo".into()));
        assert_eq!(t("+ foo", 0), (INCLUDE, "foo".into()));
        assert_eq!(t("- foo", INCLUDE), (0, "foo".into()));
        assert_eq!(t("foo", INCLUDE), (INCLUDE, "foo".into()));
        assert_eq!(t("!", 0).0, CLEAR_LIST);
        assert_eq!(t("!x", 0), (0, "!x".into()));
        assert_eq!(t("-x", 0), (0, "-x".into()));
    }

    #[test]
    fn matching() {
        assert!(m("- foo", "a/foo", false));
        assert!(!m("- foo", "a/foo/x", false));
        assert!(m("- /foo", "foo", false));
        assert!(!m("- /foo", "a/foo", false));
        assert!(m("- foo/", "a/foo", true));
        assert!(!m("- foo/", "a/foo", false));
        assert!(m("- a/b", "x/a/b", false));
        assert!(!m("- a/b", "xa/b", false));
        assert!(m("- a/*", "a/b", false));
        assert!(m("- a/**", "x/a/b/c", false));
        assert!(m("- **/c", "c", false));
        assert!(m("- **/c", "a/b/c", false));
        assert!(m("- d/***", "d", true));
        assert!(!m("- d/***", "d", false));
        assert!(m("- d/***", "d/e/f", false));
        assert!(m("-! *.c", "x.h", false));
        assert!(!m("-! *.c", "x.c", false));
        assert!(m("-/ /root/dir/x", "x", false));
        assert!(!m("-/ /root/dir/x", "y/x", false));
        assert!(m("-/ dir/x", "x", false));
    }

    #[test]
    fn prefixes_round_trip() {
        for s in [
            "- foo",
            "+ foo",
            "-s foo",
            "+r foo/",
            "-/! x",
            ":n- .f",
            "-p core",
            "-x user.a",
        ] {
            let (t, _) = parse_tok(s.as_bytes(), 0, false, false).unwrap().unwrap();
            let r = Rule::build(t.flags, t.pat);
            assert_eq!(lossy(&r.to_text()), s);
        }
        let r = Rule::build(PERISHABLE, b"core");
        assert_eq!(r.prefix(Some(29), true), None);
        assert_eq!(r.prefix(Some(29), false).unwrap(), b"- ");
        assert_eq!(Rule::build(0, b"x").prefix(Some(28), true).unwrap(), b"");
        assert_eq!(
            Rule::build(0, b"- x").prefix(Some(28), true).unwrap(),
            b"- "
        );
        assert_eq!(
            Rule::build(SENDER_SIDE, b"x")
                .prefix(Some(28), true)
                .unwrap(),
            b""
        );
    }
}
