//! A module's own filter rules (`filter`, `include from`, `include`,
//! `exclude from`, `exclude`, in upstream's order). They are matched
//! against paths relative to the module root and the client cannot
//! override them: the engine checks them apart from the client's rules.
use crate::config::Module;
use filter::FilterList;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Rule names and prefixes that take the next word as their pattern.
fn is_rule_prefix(tok: &str) -> bool {
    const LONG: &[&str] = &[
        "exclude",
        "include",
        "protect",
        "risk",
        "hide",
        "show",
        "merge",
        "dir-merge",
    ];
    let head = tok.split(',').next().unwrap_or(tok);
    if LONG.contains(&head) {
        return true;
    }
    let mut c = head.chars();
    matches!(
        c.next(),
        Some('+' | '-' | 'P' | 'R' | 'H' | 'S' | '.' | ':')
    ) && c.all(|m| "/!Csrpxne".contains(m))
}

/// Splits a `filter` value into rules: words, with a rule prefix joined to
/// the pattern after it.
// upstream: exclude.c:parse_filter_str() (FILTRULE_WORD_SPLIT)
pub fn split_rules(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = value.split_whitespace();
    while let Some(w) = words.next() {
        if w == "!" {
            out.push(w.to_string());
        } else if is_rule_prefix(w) {
            match words.next() {
                Some(p) => out.push(format!("{w} {p}")),
                None => out.push(w.to_string()),
            }
        } else {
            out.push(w.to_string());
        }
    }
    out
}

/// A pattern with an inner slash is anchored at the module root.
// upstream: exclude.c (XFLG_ABS_IF_SLASH)
fn anchor(pattern: &str) -> String {
    let inner = pattern.trim_end_matches('/');
    if inner.contains('/') && !inner.starts_with('/') {
        format!("/{pattern}")
    } else {
        pattern.to_string()
    }
}

/// The daemon reads a directory exclude (`secret/`) as the whole subtree
/// (`secret/***`): its rules are matched against each name, never against
/// the directories above it, so the trailing-slash form is what protects
/// everything beneath a directory (rsyncd.conf(5), `filter`).
// upstream: exclude.c (XFLG_DIR2WILD3)
fn dir2wild3(pattern: &str) -> String {
    if pattern.ends_with('/') {
        format!("{pattern}***")
    } else {
        pattern.to_string()
    }
}

/// As [`dir2wild3`] for a filter rule (`- secret/`, `exclude secret/`);
/// includes and other rules are kept.
fn rule_dir2wild3(rule: &str) -> String {
    match rule.split_once(' ') {
        Some((head, pat)) if head.starts_with('-') || head.split(',').next() == Some("exclude") => {
            format!("{head} {}", dir2wild3(pat))
        }
        _ => rule.to_string(),
    }
}

/// As [`dir2wild3`] for each line of an `exclude from` file (a line may
/// carry rsync's old `- ` prefix; `+ ` lines and comments are kept).
fn lines_dir2wild3(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for line in data.split_inclusive(|&b| b == b'\n') {
        let (body, nl) = match line.strip_suffix(b"\n") {
            Some(b) => (b, &b"\n"[..]),
            None => (line, &b""[..]),
        };
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let keep = body.starts_with(b"+ ") || body.starts_with(b"#") || body.starts_with(b";");
        out.extend_from_slice(body);
        if !keep && body.ends_with(b"/") {
            out.extend_from_slice(b"***");
        }
        out.extend_from_slice(nl);
    }
    out
}

/// A module rule parameter that does not parse (the session keeps it, and
/// refuses a transfer with it).
#[derive(Debug, Clone, thiserror::Error)]
#[error("bad {what} in module {module}: {source}")]
pub struct ModuleFilterError {
    /// The parameter: "filter", "include from", "exclude", ...
    pub what: &'static str,
    /// The module.
    pub module: String,
    /// The filter crate's reason.
    pub source: std::sync::Arc<filter::Error>,
}

/// Builds the module's rules; None when it has none.
pub fn module_filter(module: &Module) -> Result<Option<FilterList>, ModuleFilterError> {
    let p = &module.params;
    let mut list = FilterList::new();
    let mut any = false;
    let mut read = |f: &[u8]| {
        confine::operator::read(
            Path::new(std::ffi::OsStr::from_bytes(f)),
            confine::Links::Trusted,
        )
        .ok()
    };
    let err = |what: &'static str, e: filter::Error| ModuleFilterError {
        what,
        module: module.name.clone(),
        source: std::sync::Arc::new(e),
    };
    if let Some(v) = p.nonempty("filter") {
        for r in split_rules(v) {
            list.add_filter(rule_dir2wild3(&r).as_bytes(), &mut read)
                .map_err(|e| err("filter", e))?;
            any = true;
        }
    }
    if let Some(f) = p.nonempty("include from") {
        list.add_include_from(f.as_bytes(), &mut read)
            .map_err(|e| err("include from", e))?;
        any = true;
    }
    for w in p
        .nonempty("include")
        .map(str::split_whitespace)
        .into_iter()
        .flatten()
    {
        list.add_include(anchor(w).as_bytes())
            .map_err(|e| err("include", e))?;
        any = true;
    }
    if let Some(f) = p.nonempty("exclude from") {
        let mut read_dir2wild3 = |f: &[u8]| read(f).map(|d| lines_dir2wild3(&d));
        list.add_exclude_from(f.as_bytes(), &mut read_dir2wild3)
            .map_err(|e| err("exclude from", e))?;
        any = true;
    }
    for w in p
        .nonempty("exclude")
        .map(str::split_whitespace)
        .into_iter()
        .flatten()
    {
        list.add_exclude(dir2wild3(&anchor(w)).as_bytes())
            .map_err(|e| err("exclude", e))?;
        any = true;
    }
    Ok(any.then_some(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn module(text: &str) -> Module {
        Config::parse_str(text, Path::new("t"))
            .expect("parse")
            .module("m")
            .expect("m")
            .clone()
    }

    #[test]
    fn splitting() {
        assert_eq!(
            split_rules("- secret/ + *.txt exclude core -! x"),
            ["- secret/", "+ *.txt", "exclude core", "-! x"]
        );
        assert_eq!(split_rules("!"), ["!"]);
    }

    #[test]
    fn rules() {
        let m = module("[m]\nexclude = secret/ *.key a/b\ninclude = keep.key\n");
        let f = module_filter(&m).expect("ok").expect("some");
        assert!(f.is_excluded(b"secret", true));
        assert!(!f.is_excluded(b"secret", false));
        assert!(f.is_excluded(b"x/y.key", false));
        assert!(!f.is_excluded(b"keep.key", false));
        assert!(f.is_excluded(b"a/b", false));
        assert!(!f.is_excluded(b"z/a/b", false));
        let m = module("[m]\nfilter = - secret/ + *\n");
        let f = module_filter(&m).expect("ok").expect("some");
        assert!(f.is_excluded(b"d/secret", true));
        // A directory exclude is the subtree (upstream XFLG_DIR2WILD3).
        let m = module("[m]\nexclude = /d/ /bare e/\nfilter = - f/ + keep/\n");
        let f = module_filter(&m).expect("ok").expect("some");
        assert!(f.is_excluded(b"d", true));
        assert!(f.is_excluded(b"d/x", false));
        assert!(f.is_excluded(b"d/x/y", true));
        assert!(f.is_excluded(b"bare", false));
        assert!(!f.is_excluded(b"bare/x", false));
        assert!(f.is_excluded(b"z/e/x", false));
        assert!(f.is_excluded(b"f/x", false));
        assert!(f.is_excluded(b"z/f", true));
        assert!(!f.is_excluded(b"keep/x", false));
        assert_eq!(
            lines_dir2wild3(b"a/\n+ b/\n- c/\r\n# d/\ne"),
            b"a/***\n+ b/\n- c/***\n# d/\ne"
        );
        assert!(module_filter(&module("[m]\npath=/x\n"))
            .expect("ok")
            .is_none());
    }
}
