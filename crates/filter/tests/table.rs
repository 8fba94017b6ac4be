//! Table test: `FilterList` must agree with stock rsync on every case of
//! `tests/cases.txt`.
//!
//! The expectations were produced by running stock rsync (Debian's
//! 3.2.7), not written by hand: `tests/gen/gen_cases.py` builds a small tree
//! for each rule set and runs `rsync -r --dry-run --out-format=%n ARGS src/
//! nodst/` (send mode: was the path listed, i.e. transferred?) or the same
//! with `--delete` against a destination holding extra files (delete mode:
//! was the receiver-only path deleted?). Regenerate with
//! `python3 crates/filter/tests/gen/gen_cases.py > crates/filter/tests/cases.txt`.
//!
//! Send mode is modelled as rsync's walk: the root and then every directory
//! that is not excluded is entered (`enter_dir`, reading per-directory merge
//! files), and a path is transferred only if it and all its parents pass
//! `is_excluded`. Delete mode checks `is_protected` on each receiver-only path.

use std::collections::{BTreeMap, HashMap};

use filter::FilterList;

const BASE: &str = "/gen/case";
const ROOT: &str = "/gen/case/src";

#[derive(Default)]
struct Case {
    name: String,
    mode: String,
    args: Vec<String>,
    files: HashMap<Vec<u8>, Vec<u8>>,
    /// path -> (is_dir, expected)
    expect: BTreeMap<String, (bool, bool)>,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn subst(s: &str) -> String {
    s.replace("@ROOT@", ROOT).replace("@BASE@", BASE)
}

fn load() -> Vec<Case> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases.txt")).unwrap();
    let mut cases = Vec::new();
    let mut cur = Case::default();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "case" => cur.name = rest.to_string(),
            "mode" => cur.mode = rest.to_string(),
            "arg" => cur.args.push(subst(&unescape(rest))),
            "file" | "xfile" => {
                let (path, data) = rest.split_once(' ').unwrap();
                let path = if key == "xfile" {
                    format!("{BASE}/{path}")
                } else {
                    path.to_string()
                };
                cur.files
                    .insert(path.into_bytes(), unescape(data).into_bytes());
            }
            "expect" => {
                let f: Vec<&str> = rest.split(' ').collect();
                cur.expect
                    .insert(f[0].to_string(), (f[1] == "d", f[2] == "1"));
            }
            "end" => cases.push(std::mem::take(&mut cur)),
            other => panic!("bad table line {other}"),
        }
    }
    cases
}

fn build(case: &Case) -> FilterList {
    let mut read = |p: &[u8]| case.files.get(p).cloned();
    let mut l = FilterList::new();
    l.set_root(ROOT.as_bytes());
    let mut cvs = false;
    if case.args.iter().any(|a| a == "--delete-excluded") {
        l.set_delete_excluded();
    }
    for a in &case.args {
        let r = if let Some(v) = a.strip_prefix("--filter=") {
            l.add_filter(v.as_bytes(), &mut read)
        } else if let Some(v) = a.strip_prefix("--include=") {
            l.add_include(v.as_bytes())
        } else if let Some(v) = a.strip_prefix("--exclude=") {
            l.add_exclude(v.as_bytes())
        } else if let Some(v) = a.strip_prefix("--include-from=") {
            l.add_include_from(v.as_bytes(), &mut read)
        } else if let Some(v) = a.strip_prefix("--exclude-from=") {
            l.add_exclude_from(v.as_bytes(), &mut read)
        } else if a == "-F" {
            l.add_rsync_filter_shorthand(1, &mut read)
        } else if a == "-FF" {
            l.add_rsync_filter_shorthand(2, &mut read)
        } else if a == "-C" {
            cvs = true;
            Ok(())
        } else if a == "--delete-excluded" {
            Ok(())
        } else {
            panic!("{}: unsupported arg {a}", case.name)
        };
        r.unwrap_or_else(|e| panic!("{}: {a}: {e}", case.name));
    }
    if cvs {
        l.add_cvs_exclude(&mut read).unwrap();
    }
    l
}

/// Walks the tree like the sender and returns the transferred paths.
fn walk(
    l: &mut FilterList,
    dir: &str,
    children: &BTreeMap<String, Vec<(String, bool)>>,
    files: &HashMap<Vec<u8>, Vec<u8>>,
    out: &mut Vec<String>,
) {
    l.enter_dir(dir.as_bytes(), &mut |p| files.get(p).cloned())
        .unwrap();
    for (path, is_dir) in children.get(dir).cloned().unwrap_or_default() {
        if l.is_excluded(path.as_bytes(), is_dir) {
            continue;
        }
        out.push(path.clone());
        if is_dir {
            walk(l, &path, children, files, out);
        }
    }
    l.leave_dir();
}

#[test]
fn agrees_with_stock_rsync() {
    let cases = load();
    let total: usize = cases.iter().map(|c| c.expect.len()).sum();
    assert!(
        cases.len() >= 50 && total >= 150,
        "{} cases, {total} expectations",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let mut l = build(case);
        let got: Vec<String> = if case.mode == "send" {
            let mut children: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
            for (p, (is_dir, _)) in &case.expect {
                let parent = p.rsplit_once('/').map_or("", |(d, _)| d).to_string();
                children
                    .entry(parent)
                    .or_default()
                    .push((p.clone(), *is_dir));
            }
            let mut out = Vec::new();
            walk(&mut l, "", &children, &case.files, &mut out);
            assert_eq!(l.dir_depth(), 0);
            out
        } else {
            case.expect
                .iter()
                .filter(|(p, (d, _))| !l.is_protected(p.as_bytes(), *d))
                .map(|(p, _)| p.clone())
                .collect()
        };
        for (p, (is_dir, want)) in &case.expect {
            let have = got.contains(p);
            if have != *want {
                failures.push(format!(
                    "{}: {} {} ({}): rsync {}, we {}",
                    case.name,
                    if *is_dir { "dir" } else { "file" },
                    p,
                    case.args.join(" "),
                    want,
                    have
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
