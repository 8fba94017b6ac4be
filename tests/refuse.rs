//! `refuse options` decided by the one option parser (a hostile client
//! putting the option after the paths, the aliases `--del` and
//! `--delete-during` both ways through `-M`, `-z` refused before the
//! compress negotiation), `-M/--remote-option` in the client, and what the
//! binary says about itself (`-VV` JSON, `--version`, the accepted
//! `--inc-recursive` family).
use super::daemon::{root, start, url, Daemon};
use super::util::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::Command;

const MODULES: &str = "[nodel]\npath = %ROOT%/mod\nread only = no\nrefuse options = delete\n\
[canonical]\npath = %ROOT%/mod\nread only = no\nrefuse options = delete-during\n\
[alias]\npath = %ROOT%/mod\nread only = no\nrefuse options = del\n\
[open]\npath = %ROOT%/mod\nread only = no\n\
[nz]\npath = %ROOT%/ro\nrefuse options = compress\n\
[nzt]\npath = %ROOT%/ro\nrefuse options = compress-threads\n\
[ro]\npath = %ROOT%/ro\n";

/// The multiplexed frames (code, payload) a daemon sends after
/// `@RSYNCD: OK` to a hand-written protocol-31 client that sends `args`
/// and then closes its side.
fn hostile_exchange(d: &Daemon, module: &str, args: &[&str]) -> Vec<(u8, String)> {
    let s = TcpStream::connect(("127.0.0.1", d.port())).expect("connect");
    // The harness's deadline: a daemon that waits for more never passes.
    s.set_read_timeout(Some(run_timeout())).expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut w = s;
    let mut line = String::new();
    r.read_line(&mut line).expect("greeting");
    assert!(line.starts_with("@RSYNCD: "), "{line}");
    w.write_all(format!("@RSYNCD: 31.0\n{module}\n").as_bytes())
        .expect("send module");
    loop {
        line.clear();
        r.read_line(&mut line).expect("module reply");
        assert!(!line.is_empty(), "daemon closed before OK");
        if line == "@RSYNCD: OK\n" {
            break;
        }
        assert!(!line.starts_with("@ERROR"), "{line}");
    }
    let mut argv = Vec::new();
    for a in args {
        argv.extend_from_slice(a.as_bytes());
        argv.push(0);
    }
    argv.push(0);
    w.write_all(&argv).expect("send args");
    w.shutdown(Shutdown::Write).expect("shutdown");
    let mut rest = Vec::new();
    r.read_to_end(&mut rest)
        .expect("the daemon ends the session (read timed out: it waited)");
    // Compat flags (a one-byte varint without client info), the checksum
    // seed, then multiplexed frames.
    assert!(rest.len() >= 5, "no protocol setup: {rest:?}");
    assert!(rest[0] < 0x80, "compat flags {:#x}", rest[0]);
    let mut at = 5;
    let mut frames = Vec::new();
    while at + 4 <= rest.len() {
        let hdr = u32::from_le_bytes(rest[at..at + 4].try_into().expect("4"));
        let (tag, len) = ((hdr >> 24) as u8, (hdr & 0xFF_FFFF) as usize);
        assert!(tag >= 7, "not multiplexed at {at}: {rest:?}");
        let end = (at + 4 + len).min(rest.len());
        frames.push((
            tag - 7,
            String::from_utf8_lossy(&rest[at + 4..end]).into_owned(),
        ));
        at = end;
    }
    frames
}

/// The first MSG_ERROR (3) text among the frames.
fn first_error(frames: &[(u8, String)]) -> String {
    frames
        .iter()
        .find(|(code, _)| *code == 3)
        .map(|(_, text)| text.clone())
        .unwrap_or_else(|| panic!("no error message in {frames:?}"))
}

/// A client that sends `--delete` after the paths (`--server -r . nodel/
/// --delete`) is refused with the text stock rsync 3.2.7's daemon gives for
/// the usual order, and the module is left alone.
#[test]
fn option_after_the_paths_is_still_refused() {
    let want = "rsync: The server is configured to refuse --delete\n";
    let stock = start(&rsync_bin(), MODULES);
    let frames = hostile_exchange(
        &stock,
        "nodel",
        &["--server", "-r", "--delete", ".", "nodel/"],
    );
    assert_eq!(first_error(&frames), want, "stock rsync's refusal");

    let d = start(&oxsync_bin(), MODULES);
    let victim = root(&d).join("mod/victim");
    fs::write(&victim, b"keep me\n").expect("victim");
    for args in [
        &["--server", "-r", "--delete", ".", "nodel/"][..],
        &["--server", "-r", ".", "nodel/", "--delete"],
        &["--server", "-r", ".", "nodel/", "--delete-after"],
    ] {
        let frames = hostile_exchange(&d, "nodel", args);
        assert_eq!(first_error(&frames), want, "{args:?}");
    }
    assert_eq!(fs::read(&victim).expect("victim kept"), b"keep me\n");
    let log = fs::read_to_string(root(&d).join("daemon.log")).expect("log");
    assert!(
        log.contains("rsync: The server is configured to refuse --delete"),
        "{log}"
    );
}

fn push(client: &Path, d: &Daemon, module: &str, extra: &[&str], src: &Path, logs: &Path) -> Run {
    run(
        Command::new(client)
            .arg("-r")
            .args(extra)
            .arg(format!("{}/", src.display()))
            .arg(url(d, &format!("{module}/"))),
        logs,
    )
}

/// `refuse options = delete-during` refuses `--del`, `refuse options = del`
/// refuses `--delete-during` (one capability, two spellings), sent by the
/// stock client's `-M` and by oxsync's; a module without the rule deletes.
#[test]
fn delete_during_and_del_refused_both_ways_through_remote_option() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    fs::write(src.join("keep"), b"KEEP\n").expect("keep");
    let d = start(&oxsync_bin(), MODULES);
    let extra = root(&d).join("mod/extra");
    for client in [rsync_bin(), oxsync_bin()] {
        for (module, opt, refused) in [
            ("canonical", "-M--del", Some("--del")),
            ("canonical", "-M--delete-during", Some("--delete-during")),
            ("alias", "-M--delete-during", Some("--delete-during")),
            ("alias", "-M--del", Some("--del")),
            ("open", "-M--del", None),
        ] {
            fs::write(&extra, b"extra\n").expect("extra");
            let out = push(&client, &d, module, &["--delete", opt], &src, &s.logs());
            let what = format!("{} {module} {opt}", client.display());
            match refused {
                Some(name) => {
                    out.assert_code(4);
                    let line = format!("The server is configured to refuse {name}\n");
                    assert!(out.stderr.contains(&line), "{what}: {}", out.stderr);
                    assert!(extra.exists(), "{what}: deleted despite the refusal");
                }
                None => {
                    out.assert_code(0);
                    assert!(!extra.exists(), "{what}: -M--del did not reach the daemon");
                }
            }
        }
    }
}

/// oxsync's `-M` reaches a stock daemon too (which refuses what it is
/// given), and a value the daemon rejects is echoed back.
#[test]
fn remote_option_reaches_stock_and_oxsync_daemons() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    fs::write(src.join("f"), b"data\n").expect("f");
    let stock = start(&rsync_bin(), MODULES);
    let out = push(
        &oxsync_bin(),
        &stock,
        "nodel",
        &["-M--delete-after"],
        &src,
        &s.logs(),
    );
    out.assert_code(4);
    assert!(
        out.stderr
            .contains("rsync: The server is configured to refuse --delete\n"),
        "{}",
        out.stderr
    );
    let d = start(&oxsync_bin(), MODULES);
    let big = "9".repeat(5000);
    let out = push(
        &oxsync_bin(),
        &d,
        "open",
        &[&format!("-M--max-size={big}")],
        &src,
        &s.logs(),
    );
    assert_ne!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("--max-size={big}")),
        "{}",
        out.stderr
    );
    assert!(
        !root(&d).join("mod/f").exists(),
        "transferred despite the error"
    );
    let out = run(
        Command::new(oxsync_bin()).args(["-M", "del", "a", "b"]),
        &s.logs(),
    );
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("Remote option must start with a dash: del"),
        "{}",
        out.stderr
    );
}

/// `refuse options = compress`: a stock client's `-z` (in its short
/// bundle, before the client info) and `--zc=zlib` are refused with
/// upstream's words, not lost in a compress negotiation.
#[test]
fn compress_refused_before_the_negotiation() {
    let s = Scratch::new();
    let d = start(&oxsync_bin(), MODULES);
    fs::write(root(&d).join("ro/f"), b"payload\n").expect("f");
    for opt in ["-z", "--zc=zlib", "--compress-level=1"] {
        let dst = s.path(&format!("dst{opt}"));
        let out = run(
            Command::new(rsync_bin())
                .args(["-r", opt])
                .arg(url(&d, "nz/"))
                .arg(&dst),
            &s.logs(),
        );
        assert_ne!(out.code, Some(0), "{opt}");
        assert!(
            out.stderr
                .contains("rsync: The server is configured to refuse --compress (-z)\n"),
            "{opt}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("negotiat"), "{opt}: {}", out.stderr);
        assert!(!dst.join("f").exists(), "{opt}: transferred");
    }
    // Without compression the module serves.
    let dst = s.path("plain");
    run(
        Command::new(rsync_bin())
            .arg("-r")
            .arg(url(&d, "nz/"))
            .arg(&dst),
        &s.logs(),
    )
    .assert_code(0);
    assert_eq!(fs::read(dst.join("f")).expect("f"), b"payload\n");
}

/// `--compress-threads=N` / `--zt=N` from a daemon client are accepted
/// (capped at 8 zstd workers: tests/misc_options.rs) unless the module refuses them, by either spelling.
#[test]
fn compress_threads_accepted_or_refused_by_either_spelling() {
    let s = Scratch::new();
    let d = start(&oxsync_bin(), MODULES);
    fs::write(root(&d).join("ro/f"), b"zstd payload\n".repeat(1000)).expect("f");
    let pull = |module: &str, opt: &str, dst: &Path| {
        run(
            Command::new(oxsync_bin())
                .args(["-r", "--zc=zstd", opt])
                .arg(url(&d, &format!("{module}/")))
                .arg(dst),
            &s.logs(),
        )
    };
    let dst = s.path("ok");
    pull("ro", "-M--compress-threads=256", &dst).assert_code(0);
    assert_eq!(
        fs::read(dst.join("f")).expect("f"),
        b"zstd payload\n".repeat(1000)
    );
    for opt in ["--zt=4", "--compress-threads=4"] {
        let dst = s.path(&format!("no{opt}"));
        let out = pull("nzt", &format!("-M{opt}"), &dst);
        out.assert_code(4);
        let name = opt.split('=').next().expect("name");
        let line = format!("rsync: The server is configured to refuse {name}\n");
        assert!(out.stderr.contains(&line), "{opt}: {}", out.stderr);
        assert!(!dst.join("f").exists(), "{opt}: transferred");
    }
}

/// A parsed JSON value (enough of JSON for `-VV`).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    List(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

fn parse_json(text: &str) -> Json {
    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }
    fn string(b: &[u8], i: &mut usize) -> String {
        assert_eq!(b[*i], b'"', "string at {i}");
        *i += 1;
        let mut out = String::new();
        while b[*i] != b'"' {
            if b[*i] == b'\\' {
                *i += 1;
            }
            out.push(b[*i] as char);
            *i += 1;
        }
        *i += 1;
        out
    }
    fn value(b: &[u8], i: &mut usize) -> Json {
        ws(b, i);
        let v = match b[*i] {
            b'{' => {
                *i += 1;
                let mut m = BTreeMap::new();
                loop {
                    ws(b, i);
                    if b[*i] == b'}' {
                        *i += 1;
                        break;
                    }
                    let k = string(b, i);
                    ws(b, i);
                    assert_eq!(b[*i], b':', "colon at {i}");
                    *i += 1;
                    assert!(m.insert(k.clone(), value(b, i)).is_none(), "duplicate {k}");
                    ws(b, i);
                    match b[*i] {
                        b',' => *i += 1,
                        b'}' => {}
                        c => panic!("unexpected {:?} at {i}", c as char),
                    }
                }
                Json::Obj(m)
            }
            b'[' => {
                *i += 1;
                let mut l = Vec::new();
                loop {
                    ws(b, i);
                    if b[*i] == b']' {
                        *i += 1;
                        break;
                    }
                    l.push(value(b, i));
                    ws(b, i);
                    if b[*i] == b',' {
                        *i += 1;
                    }
                }
                Json::List(l)
            }
            b'"' => Json::Str(string(b, i)),
            _ => {
                let start = *i;
                while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'.') {
                    *i += 1;
                }
                match &text_of(b, start, *i)[..] {
                    "true" => Json::Bool(true),
                    "false" => Json::Bool(false),
                    "null" => Json::Null,
                    n if n.parse::<f64>().is_ok() => Json::Num(n.to_string()),
                    other => panic!("bad JSON token {other:?} at {start}"),
                }
            }
        };
        ws(b, i);
        v
    }
    fn text_of(b: &[u8], a: usize, z: usize) -> String {
        String::from_utf8_lossy(&b[a..z]).into_owned()
    }
    let b = text.as_bytes();
    let mut i = 0;
    let v = value(b, &mut i);
    assert_eq!(i, b.len(), "trailing text after the JSON");
    v
}

fn obj(v: &Json) -> &BTreeMap<String, Json> {
    match v {
        Json::Obj(m) => m,
        other => panic!("not an object: {other:?}"),
    }
}

fn names(v: &Json) -> Vec<String> {
    match v {
        Json::List(l) => l
            .iter()
            .map(|x| match x {
                Json::Str(s) => s.clone(),
                other => panic!("not a name: {other:?}"),
            })
            .collect(),
        other => panic!("not a list: {other:?}"),
    }
}

fn version_json(bin: &Path, logs: &Path) -> Json {
    let out = run(Command::new(bin).arg("-VV"), logs);
    out.assert_code(0);
    parse_json(&out.stdout)
}

/// `-VV` is upstream's JSON with stock rsync's keys, and it tells the
/// truth: every checksum and compressor it lists works in a copy, and the
/// features oxsync lacks say false.
#[test]
fn version_json_has_upstream_keys_and_tells_the_truth() {
    let s = Scratch::new();
    let ours = version_json(&oxsync_bin(), &s.logs());
    let stock = version_json(&rsync_bin(), &s.logs());
    let (o, st) = (obj(&ours), obj(&stock));
    assert_eq!(
        o.keys().collect::<Vec<_>>(),
        st.keys().collect::<Vec<_>>(),
        "top-level keys"
    );
    for section in ["capabilities", "optimizations"] {
        let (oc, sc) = (obj(&o[section]), obj(&st[section]));
        for key in sc.keys() {
            assert!(oc.contains_key(key), "{section}.{key} missing");
        }
    }
    let caps = obj(&o["capabilities"]);
    for (key, want) in [
        ("ACLs", true),
        ("ACL_at", true),
        ("xattrs", true),
        ("stop_at", true),
        ("iconv", true),
        ("crtimes", false),
        ("batchfiles", true),
        ("hardlinks", true),
        ("atimes", true),
        ("symlinks", true),
    ] {
        assert_eq!(caps[key], Json::Bool(want), "{key}");
    }
    assert_eq!(caps["file_bits"], Json::Num("64".into()));
    assert_eq!(o["protocol"], Json::Str("32.0".into()));
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    fs::write(src.join("f"), b"some bytes to check\n".repeat(100)).expect("f");
    let checksums = names(&o["checksum_list"]);
    let compressors = names(&o["compress_list"]);
    assert!(checksums.contains(&"xxh128".to_string()) && checksums.contains(&"md5".to_string()));
    assert!(compressors.contains(&"zstd".to_string()) && compressors.contains(&"zlib".to_string()));
    for (opt, name) in checksums
        .iter()
        .map(|n| ("--cc", n))
        .chain(compressors.iter().map(|n| ("--zc", n)))
    {
        // Through stock rsync as the server, so the name is negotiable.
        let dst = s.path(&format!("dst-{name}"));
        run(
            Command::new(oxsync_bin())
                .args(["-a", &format!("{opt}={name}"), "-e"])
                .arg(s.rsh())
                .arg("--rsync-path")
                .arg(rsync_bin())
                .arg(format!("{}/", src.display()))
                .arg(format!("h:{}/", dst.display())),
            &s.logs(),
        )
        .assert_code(0);
        assert!(same_content(&src.join("f"), &dst.join("f")), "{opt}={name}");
    }
    assert_eq!(
        names(&o["daemon_auth_list"]),
        ["sha512", "sha256", "sha1", "md5", "md4"]
    );
    // `--version` shows the same items as text.
    let text = run(Command::new(oxsync_bin()).arg("--version"), &s.logs());
    text.assert_code(0);
    for line in [
        "Capabilities:\n",
        "Optimizations:\n",
        "Checksum list:\n",
        "Compress list:\n",
    ] {
        assert!(text.stdout.contains(line), "{line}: {}", text.stdout);
    }
    // The text names aliases after their checksum, "(xxhash)", as upstream.
    assert!(text
        .stdout
        .replace(" (xxhash)", "")
        .contains(&format!("    {}\n", checksums.join(" "))));
    assert!(text.stdout.contains(" ACLs,") && text.stdout.contains(" ACL-at,"));
    assert!(text.stdout.contains(" xattrs,") && text.stdout.contains(" stop-at,"));
    assert!(!text.stdout.contains("no ACLs") && !text.stdout.contains("no xattrs"));
}

/// `--inc-recursive`, `--i-r`, `--no-inc-recursive`, `--no-i-r` are
/// accepted (and change nothing), locally and against stock rsync.
#[test]
fn inc_recursive_options_are_accepted() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(src.join("sub")).expect("src");
    fs::write(src.join("sub/f"), b"data\n").expect("f");
    for (i, opt) in ["--inc-recursive", "--i-r", "--no-inc-recursive", "--no-i-r"]
        .iter()
        .enumerate()
    {
        let dst = s.path(&format!("dst{i}"));
        run(
            Command::new(oxsync_bin())
                .args(["-a", opt])
                .arg(format!("{}/", src.display()))
                .arg(&dst),
            &s.logs(),
        )
        .assert_code(0);
        assert_eq!(fs::read(dst.join("sub/f")).expect(opt), b"data\n");
        let dst = s.path(&format!("remote{i}"));
        run(
            Command::new(oxsync_bin())
                .args(["-a", opt, "-e"])
                .arg(s.rsh())
                .arg("--rsync-path")
                .arg(rsync_bin())
                .arg(format!("{}/", src.display()))
                .arg(format!("h:{}/", dst.display())),
            &s.logs(),
        )
        .assert_code(0);
        assert_eq!(fs::read(dst.join("sub/f")).expect(opt), b"data\n");
    }
}
