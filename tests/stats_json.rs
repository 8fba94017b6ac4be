//! `--stats-json=FILE`: the counters of `--stats` as one JSON object,
//! the same numbers as the text of the same run, plus what Landlock did.
use crate::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

/// A JSON value, as much of it as the stats object uses.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Obj(BTreeMap<String, Json>),
}

/// A small strict JSON parser (objects, strings, numbers, booleans,
/// null); panics on anything else.
struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(
            self.b.get(self.i),
            Some(&c),
            "expected {:?} at {}",
            c as char,
            self.i
        );
        self.i += 1;
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Json::Obj(m);
                }
                loop {
                    self.ws();
                    let Json::Str(k) = self.value() else {
                        panic!("key expected at {}", self.i)
                    };
                    self.eat(b':');
                    let v = self.value();
                    assert!(m.insert(k.clone(), v).is_none(), "duplicate key {k}");
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Json::Obj(m);
                        }
                        _ => panic!("bad object at {}", self.i),
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut s = Vec::new();
                loop {
                    match self.b[self.i] {
                        b'"' => break,
                        b'\\' => {
                            self.i += 1;
                            match self.b[self.i] {
                                b'u' => {
                                    let hex = std::str::from_utf8(&self.b[self.i + 1..self.i + 5])
                                        .expect("hex");
                                    let c = u32::from_str_radix(hex, 16).expect("hex");
                                    let mut buf = [0u8; 4];
                                    s.extend(
                                        char::from_u32(c)
                                            .expect("char")
                                            .encode_utf8(&mut buf)
                                            .bytes(),
                                    );
                                    self.i += 4;
                                }
                                c @ (b'"' | b'\\' | b'/') => s.push(c),
                                b'n' => s.push(b'\n'),
                                b't' => s.push(b'\t'),
                                c => panic!("bad escape {}", c as char),
                            }
                        }
                        c => {
                            assert!(c >= 0x20, "raw control character in a string");
                            s.push(c)
                        }
                    }
                    self.i += 1;
                }
                self.i += 1;
                Json::Str(String::from_utf8(s).expect("utf-8"))
            }
            Some(b't') if self.b[self.i..].starts_with(b"true") => {
                self.i += 4;
                Json::Bool(true)
            }
            Some(b'f') if self.b[self.i..].starts_with(b"false") => {
                self.i += 5;
                Json::Bool(false)
            }
            Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                Json::Null
            }
            _ => {
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || b"-+.eE".contains(c))
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.b[start..self.i]).expect("number");
                Json::Num(
                    t.parse()
                        .unwrap_or_else(|_| panic!("bad number {t:?} at {start}")),
                )
            }
        }
    }
}

fn parse_json(text: &str) -> Json {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
    };
    let v = p.value();
    p.ws();
    assert_eq!(p.i, text.len(), "trailing data in {text:?}");
    v
}

fn get<'a>(v: &'a Json, path: &str) -> &'a Json {
    let mut cur = v;
    for k in path.split('.') {
        match cur {
            Json::Obj(m) => cur = m.get(k).unwrap_or_else(|| panic!("no {path} in {v:?}")),
            _ => panic!("{path}: not an object"),
        }
    }
    cur
}

fn num(v: &Json, path: &str) -> u64 {
    match get(v, path) {
        Json::Num(n) => *n as u64,
        other => panic!("{path}: not a number: {other:?}"),
    }
}

/// The number after `label` in the --stats text (commas removed).
fn text_num(stdout: &str, label: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} in {stdout}"));
    let rest = line[label.len()..].trim_start();
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    digits.parse().unwrap_or_else(|_| panic!("{line:?}"))
}

/// A small tree with a file to update (literal and matched data), a
/// symlink, a directory and something to delete.
fn setup(s: &Scratch) -> (String, String) {
    let src = s.path("src");
    let dst = s.path("dst");
    fs::create_dir_all(src.join("sub")).expect("mkdir");
    fs::create_dir_all(&dst).expect("mkdir");
    write_big_file(&src.join("big.bin"), 300_000, 11);
    write_big_file(&dst.join("big.bin"), 300_000, 11);
    // Change the middle so that the delta has literal and matched data.
    let mut data = fs::read(src.join("big.bin")).expect("read");
    data[150_000..150_100].fill(7);
    write_file(&src.join("big.bin"), &data, 0o644, T0 + 5);
    write_file(&src.join("sub/a.txt"), b"alpha\n", 0o644, T0);
    std::os::unix::fs::symlink("a.txt", src.join("sub/lnk")).expect("symlink");
    write_file(&dst.join("gone.txt"), b"old\n", 0o644, T0);
    (format!("{}/", src.display()), format!("{}/", dst.display()))
}

fn check_against_text(json: &Json, stdout: &str) {
    for (label, key) in [
        ("Number of files:", "number_of_files.total"),
        ("Number of created files:", "created_files.total"),
        ("Number of deleted files:", "deleted_files.total"),
        ("Number of regular files transferred:", "transferred_files"),
        ("Total file size:", "total_file_size"),
        (
            "Total transferred file size:",
            "total_transferred_file_size",
        ),
        ("Literal data:", "literal_data"),
        ("Matched data:", "matched_data"),
        ("File list size:", "file_list_size"),
        ("Total bytes sent:", "total_bytes_sent"),
        ("Total bytes received:", "total_bytes_received"),
    ] {
        assert_eq!(
            num(json, key),
            text_num(stdout, label),
            "{key} vs {label:?}\n{stdout}"
        );
    }
    let speedup = stdout
        .lines()
        .find_map(|l| l.split("speedup is ").nth(1))
        .expect("speedup line");
    match get(json, "speedup") {
        Json::Num(n) => assert_eq!(format!("{n:.2}"), speedup.trim(), "speedup"),
        other => panic!("speedup: {other:?}"),
    }
}

#[test]
fn stats_json_matches_the_stats_text() {
    let s = Scratch::new();
    let (src, dst) = setup(&s);
    let json_path = s.path("stats.json");
    let r = run(
        Command::new(oxsync_bin())
            .args(["-a", "--delete", "--no-whole-file", "--stats"])
            .arg(format!("--stats-json={}", json_path.display()))
            .arg(&src)
            .arg(&dst),
        &s.logs(),
    );
    r.assert_code(0);
    let text = fs::read_to_string(&json_path).expect("the JSON file");
    let json = parse_json(text.trim_end());
    check_against_text(&json, &r.stdout);
    // The kinds: big.bin and a.txt, the root and sub/, the symlink.
    assert_eq!(num(&json, "number_of_files.reg"), 2);
    assert_eq!(num(&json, "number_of_files.dir"), 2);
    assert_eq!(num(&json, "number_of_files.link"), 1);
    assert_eq!(num(&json, "deleted_files.reg"), 1);
    assert_eq!(num(&json, "transferred_files"), 2);
    assert!(num(&json, "literal_data") > 0 && num(&json, "matched_data") > 0);
    // A local copy does not confine itself.
    assert_eq!(get(&json, "landlock"), &Json::Null);
    assert_eq!(get(&json, "dry_run"), &Json::Bool(false));
}

/// A pull confines its receiving side: the JSON says how; `-` writes the
/// object to stdout after the text.
#[test]
fn stats_json_of_a_pull_reports_landlock() {
    let s = Scratch::new();
    let (src, dst) = setup(&s);
    let r = run(
        Command::new(oxsync_bin())
            .args(["-a", "--delete", "--stats", "--stats-json=-", "-e"])
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", rsync_bin().display()))
            .arg(format!("localhost:{src}"))
            .arg(&dst),
        &s.logs(),
    );
    r.assert_code(0);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in {}", r.stdout));
    let json = parse_json(line);
    check_against_text(&json, &r.stdout);
    let state = match get(&json, "landlock.state") {
        Json::Str(s) => s.clone(),
        other => panic!("landlock.state: {other:?}"),
    };
    assert!(
        ["enforced", "unavailable", "error"].contains(&state.as_str()),
        "{state}"
    );
    match get(&json, "landlock.detail") {
        Json::Str(d) => assert!(!d.is_empty()),
        other => panic!("landlock.detail: {other:?}"),
    }
    assert_same_tree(&s.path("src"), &s.path("dst"));
}
