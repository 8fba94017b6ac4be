//! The closing `rsync error:` line names where the error arose, as rsync's
//! `at main.c(1347) [sender=3.5.0]` does: `at FILE.rs(LINE) [ROLE=VERSION]`,
//! FILE being the path below a crate's `src/` and LINE a line of it that
//! builds the error (or reports the exit).
use crate::fakepeer::{against_receiver_with, SERVER_FLAGS};
use crate::util::*;
use protocol::flist::XMIT_LONG_NAME;
use protocol::varint::write_varint;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// The `rsync error:` lines among `lines`.
fn closing_lines(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| l.starts_with("rsync error: ") || l.starts_with("rsync warning: "))
        .collect()
}

/// Splits `... (code N) at FILE(LINE) [ROLE=oxsync-VERSION]` into its code,
/// file, line and role; panics on any other shape.
fn parse(line: &str) -> (i32, String, usize, String) {
    fn shape<T>(line: &str) -> T {
        panic!("not rsync's closing-line shape: {line:?}")
    }
    let (head, tail) = line.rsplit_once(" at ").unwrap_or_else(|| shape(line));
    let code = head
        .rsplit_once("(code ")
        .and_then(|(_, c)| c.strip_suffix(')'))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| shape(line));
    let (place, tag) = tail.split_once(" [").unwrap_or_else(|| shape(line));
    let (file, num) = place
        .strip_suffix(')')
        .and_then(|p| p.split_once('('))
        .unwrap_or_else(|| shape(line));
    let num = num.parse().unwrap_or_else(|_| shape(line));
    let version = format!("=oxsync-{}]", env!("CARGO_PKG_VERSION"));
    let role = tag.strip_suffix(&version).unwrap_or_else(|| shape(line));
    (code, file.to_owned(), num, role.to_owned())
}

/// The source line `file`:`line` names (`file` below some crate's `src/`),
/// when the binary under test is ours and built from this tree.
fn source_line(file: &str, line: usize) -> String {
    let top = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![top.join("src")];
    for c in fs::read_dir(top.join("crates")).expect("crates/") {
        dirs.push(c.expect("crate").path().join("src"));
    }
    let hits: Vec<String> = dirs
        .iter()
        .map(|d| d.join(file))
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let text = fs::read_to_string(&p).ok()?;
            text.lines().nth(line.checked_sub(1)?).map(str::to_owned)
        })
        .collect();
    assert!(!hits.is_empty(), "no source file {file} with a line {line}");
    hits.join("\n")
}

/// The line the error names is one that builds an error or reports an
/// exit (a constructor, a `?`, or the closing-line call).
fn names_an_error_site(file: &str, line: usize) {
    let text = source_line(file, line);
    assert!(
        ["Error", "Err(", "?", "closing_line", "exit::"]
            .iter()
            .any(|w| text.contains(w)),
        "{file}({line}) is not where an error arises: {text:?}"
    );
}

#[test]
fn a_server_protocol_error_names_its_file_and_line() {
    // A name suffix of 5000 bytes (more than MAXPATHLEN) in the file list:
    // upstream exits with RERR_MALLOC from flist.c; oxsync from the place
    // that bounds the length.
    let out = against_receiver_with(SERVER_FLAGS, |_| {
        let mut out = Vec::new();
        write_varint(&mut out, XMIT_LONG_NAME as i32);
        write_varint(&mut out, 5000);
        out.extend(std::iter::repeat_n(b'a', 5000));
        out
    });
    let diags = out.diagnostics();
    assert_eq!(out.code, Some(22), "{}", diags.join("\n"));
    let lines = closing_lines(&diags);
    assert_eq!(lines.len(), 1, "one closing line:\n{}", diags.join("\n"));
    let (code, file, line, role) = parse(lines[0]);
    assert_eq!((code, role.as_str()), (22, "receiver"), "{}", lines[0]);
    assert!(
        lines[0].starts_with("rsync error: error allocating core memory buffers (code 22) at "),
        "{}",
        lines[0]
    );
    assert!(file.ends_with(".rs") && line > 0, "{}", lines[0]);
    names_an_error_site(&file, line);
}

#[test]
fn a_client_exit_names_its_file_and_line() {
    let s = Scratch::new();
    fs::create_dir(s.path("d")).expect("mkdir d");
    let r = run(
        Command::new(oxsync_bin())
            .env("LC_ALL", "C")
            .arg("-a")
            .arg(s.path("nope"))
            .arg(s.path("d")),
        &s.logs(),
    );
    r.assert_code(23);
    let all: Vec<String> = r.stderr.lines().map(str::to_owned).collect();
    let lines = closing_lines(&all);
    assert_eq!(lines.len(), 1, "one closing line:\n{}", r.stderr);
    let (code, file, line, role) = parse(lines[0]);
    assert_eq!((code, role.as_str()), (23, "client"), "{}", lines[0]);
    names_an_error_site(&file, line);
}
