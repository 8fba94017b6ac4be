//! Wildcards in the paths a client asks a daemon's sender for
//! (`rsync://host/mod/f*`): no shell on the daemon's side expands them, so
//! the daemon does, beneath the module's directory handle. A name the
//! module's own rules exclude is never matched, a component that must be a
//! directory (one with more of the path after it) must be one, and an
//! argument that matches nothing is kept as it was (the sender then
//! reports it missing), as upstream.
// upstream: util1.c:glob_expand_module(), glob_expand(), glob_match()
use confine::{FileType, RelPath, Root};
use engine::filters::DaemonFilter;

/// Most paths one argument may expand to.
pub const MAX_GLOB: usize = 1 << 16;

/// Whether `s` holds a wildcard character.
fn is_wild(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The client's path argument `arg` (`MODULE/tail`) with the wildcards of
/// its tail expanded beneath `root`: each match as `MODULE/match` (sorted
/// by name in each directory), else `arg` itself.
pub fn expand_arg(
    module: &str,
    arg: &str,
    root: &Root,
    filter: Option<&DaemonFilter>,
) -> Vec<String> {
    let rest = if arg == module {
        ""
    } else if let Some(r) = arg.strip_prefix(module).and_then(|r| r.strip_prefix('/')) {
        r
    } else {
        arg
    };
    // `..` is refused by the caller whatever it would match.
    if !is_wild(rest) || rest.split('/').any(|c| c == "..") {
        return vec![arg.to_string()];
    }
    let comps: Vec<&str> = rest.split('/').collect();
    let mut found = Vec::new();
    matches(root, filter, &comps, String::new(), Vec::new(), &mut found);
    if found.is_empty() {
        return vec![arg.to_string()];
    }
    found.into_iter().map(|m| format!("{module}/{m}")).collect()
}

/// Matches `comps` below `text` (the path as written so far) whose
/// directory beneath the root is `rel` (components; `.` and empty ones
/// are kept in the text only).
fn matches(
    root: &Root,
    filter: Option<&DaemonFilter>,
    comps: &[&str],
    text: String,
    rel: Vec<String>,
    found: &mut Vec<String>,
) {
    let Some((&comp, more)) = comps.split_first() else {
        if found.len() < MAX_GLOB {
            found.push(text);
        }
        return;
    };
    let joined = |name: &str| {
        if text.is_empty() {
            name.to_string()
        } else {
            format!("{text}/{name}")
        }
    };
    if comp.is_empty() || comp == "." {
        matches(root, filter, more, joined(comp), rel, found);
        return;
    }
    let names: Vec<String> = if is_wild(comp) {
        let Some(dir) = rel_path(&rel) else { return };
        let Ok(list) = root.read_dir(&dir) else {
            return;
        };
        let mut names: Vec<String> = list
            .into_iter()
            .filter_map(|n| String::from_utf8(n).ok())
            .filter(|n| filter::wildmatch::wildmatch(comp.as_bytes(), n.as_bytes()))
            .collect();
        names.sort();
        names
    } else {
        vec![comp.to_string()]
    };
    // The last component may be anything; one with more after it (a
    // trailing slash included) must be a directory.
    let needs_dir = !more.is_empty();
    for name in names {
        if found.len() >= MAX_GLOB {
            return;
        }
        let mut sub = rel.clone();
        sub.push(name.clone());
        if is_wild(comp) || needs_dir {
            let Some(p) = rel_path(&sub) else { continue };
            let is_dir = match root.stat_follow(&p) {
                Ok(Some(st)) => st.file_type == FileType::Dir,
                Ok(None) => continue,
                // A symlink out of the module: matched by its name (the
                // sender then refuses it, as upstream's does), never
                // looked into.
                Err(_) if more.iter().all(|c| c.is_empty()) => true,
                Err(_) => continue,
            };
            if needs_dir && !is_dir {
                continue;
            }
            if filter.is_some_and(|f| f.excludes(p.as_bytes(), is_dir)) {
                continue;
            }
        }
        matches(root, filter, more, joined(&name), sub, found);
    }
}

fn rel_path(comps: &[String]) -> Option<RelPath> {
    if comps.is_empty() {
        return RelPath::new(b".").ok();
    }
    RelPath::new(comps.join("/").as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn expands_beneath_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["foo", "bar/baz", "fx"] {
            fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        fs::write(dir.path().join("foo/one"), b"1").expect("write");
        fs::write(dir.path().join("ffile"), b"1").expect("write");
        let root =
            Root::open_ambient(dir.path(), confine::AmbientAuthority::operator()).expect("root");
        let e = |a: &str| expand_arg("m", a, &root, None);
        assert_eq!(e("m/f*"), ["m/ffile", "m/foo", "m/fx"]);
        // A last literal component is not checked (upstream neither).
        assert_eq!(e("m/f*/one"), ["m/foo/one", "m/fx/one"]);
        assert_eq!(e("m/f*/one/x"), ["m/f*/one/x"]);
        assert_eq!(e("m/f*/"), ["m/foo/", "m/fx/"]);
        assert_eq!(e("m/./f?"), ["m/./fx"]);
        assert_eq!(e("m/q*"), ["m/q*"]);
        assert_eq!(e("m/../f*"), ["m/../f*"]);
        assert_eq!(e("m/bar"), ["m/bar"]);
    }
}
