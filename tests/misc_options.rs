//! Options rsync accepts that oxsync used to refuse, each doing what rsync
//! 3.5.0 does: `--checksum-choice=sha1|none`, `--old-dirs`, `--no-motd`,
//! `--outbuf`, `--blocking-io`, `--fsync`, `--copy-as` and
//! `--compress-threads`, and `-VV` listing the checksums.
use super::daemon::{root, start, url};
use super::util::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// A 300 KB file at the destination that differs from the source by its
/// tail, so that a delta transfer matches most of it.
fn delta_pair(s: &Scratch, name: &str) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let src = s.path(&format!("{name}-src"));
    let dst = s.path(&format!("{name}-dst"));
    fs::create_dir_all(&src).expect("src");
    fs::create_dir_all(&dst).expect("dst");
    let data = Prng::new(5).bytes(300_000);
    write_file(&src.join("f"), &data, 0o644, T0);
    let mut old = data.clone();
    old.truncate(280_000);
    old.extend_from_slice(b"an older tail");
    write_file(&dst.join("f"), &old, 0o644, T0 - 100);
    (src, dst, data)
}

/// `--checksum-choice=sha1` is a working block checksum against stock
/// rsync both ways (most of the file matched), and `none` sends every file
/// whole (nothing matched), as upstream's CSUM_NONE forces --whole-file.
#[test]
fn checksum_choice_sha1_and_none_with_stock_rsync() {
    let s = Scratch::new();
    for (choice, dir) in [
        ("sha1", "push"),
        ("sha1", "pull"),
        ("none", "push"),
        ("none", "pull"),
        ("sha1", "rsync-push"),
    ] {
        let (src, dst, data) = delta_pair(&s, &format!("{choice}-{dir}"));
        let (client, server) = if dir == "rsync-push" {
            (rsync_bin(), oxsync_bin())
        } else {
            (oxsync_bin(), rsync_bin())
        };
        let mut cmd = Command::new(client);
        cmd.args(["-t", "--no-W", "--stats"])
            .arg(format!("--checksum-choice={choice}"))
            .arg("-e")
            .arg(s.rsh())
            .arg("--rsync-path")
            .arg(server);
        if dir == "pull" {
            cmd.arg(format!("lh:{}/f", src.display()))
                .arg(dst.join("f"));
        } else {
            cmd.arg(src.join("f"))
                .arg(format!("lh:{}/f", dst.display()));
        }
        let out = run(&mut cmd, &s.logs());
        out.assert_code(0);
        assert!(
            fs::read(dst.join("f")).expect("f") == data,
            "{choice} {dir}: content"
        );
        let matched = stat_bytes(&out.stdout, "Matched data").expect("matched");
        let literal = stat_bytes(&out.stdout, "Literal data").expect("literal");
        if choice == "none" {
            assert_eq!((matched, literal), (0, 300_000), "{choice} {dir}");
        } else {
            assert!(matched >= 270_000, "{choice} {dir}: matched {matched}");
        }
    }
}

/// `-VV` and `--version` list every checksum `--checksum-choice` takes,
/// sha1 and none included, in upstream's order.
#[test]
fn version_lists_sha1_and_none() {
    let s = Scratch::new();
    let out = run(Command::new(oxsync_bin()).arg("-VV"), &s.logs());
    out.assert_code(0);
    assert!(
        out.stdout.contains(
            "\"checksum_list\": [\n    \"xxh128\", \"xxh3\", \"xxh64\", \"md5\", \"md4\", \"sha1\", \"none\"\n  ]"
        ),
        "{}",
        out.stdout
    );
    let out = run(Command::new(oxsync_bin()).arg("--version"), &s.logs());
    assert!(
        out.stdout
            .contains("Checksum list:\n    xxh128 xxh3 xxh64 (xxhash) md5 md4 sha1 none\n"),
        "{}",
        out.stdout
    );
}

fn tree_names(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(root)
        .iter()
        .map(|p| p.strip_prefix(root).expect("under").display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        out.push(p.clone());
        if e.file_type().expect("type").is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

/// `--old-dirs` (`--old-d`) copies the top level and its directories
/// without their content (-r with `- /*/*`), as stock rsync does, pushed to
/// a stock rsync too.
#[test]
fn old_dirs_copies_like_dirs() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(src.join("sub/deep")).expect("tree");
    fs::write(src.join("top"), b"t").expect("top");
    fs::write(src.join("sub/inner"), b"i").expect("inner");
    for (opt, server) in [("--old-d", None), ("--old-dirs", Some(rsync_bin()))] {
        let ours = s.path(&format!("ours{opt}"));
        let theirs = s.path(&format!("theirs{opt}"));
        let mut cmd = Command::new(oxsync_bin());
        cmd.arg(opt).arg(format!("{}/", src.display()));
        match &server {
            Some(server) => {
                cmd.arg("-e")
                    .arg(s.rsh())
                    .arg("--rsync-path")
                    .arg(server)
                    .arg(format!("lh:{}", ours.display()));
            }
            None => {
                cmd.arg(&ours);
            }
        }
        run(&mut cmd, &s.logs()).assert_code(0);
        run(
            Command::new(rsync_bin())
                .arg(opt)
                .arg(format!("{}/", src.display()))
                .arg(&theirs),
            &s.logs(),
        )
        .assert_code(0);
        assert_eq!(tree_names(&ours), ["sub", "top"], "{opt}");
        assert_eq!(tree_names(&ours), tree_names(&theirs), "{opt}");
    }
}

/// `--no-motd` hides the daemon's message of the day (and, since the two
/// cannot be told apart, the module list), as stock rsync's client does.
#[test]
fn no_motd_hides_the_daemons_motd() {
    let s = Scratch::new();
    let d = start(
        &oxsync_bin(),
        "motd file = %ROOT%/motd\n[m]\npath = %ROOT%/mod\n",
    );
    fs::write(root(&d).join("motd"), "Welcome to the test daemon\n").expect("motd");
    fs::write(root(&d).join("mod/f"), b"f\n").expect("f");
    for client in [oxsync_bin(), rsync_bin()] {
        let shown = run(Command::new(&client).arg(url(&d, "m/")), &s.logs());
        shown.assert_code(0);
        assert!(
            shown.stdout.contains("Welcome to the test daemon"),
            "{}",
            shown.stdout
        );
        let hidden = run(
            Command::new(&client).arg("--no-motd").arg(url(&d, "m/")),
            &s.logs(),
        );
        hidden.assert_code(0);
        assert!(!hidden.stdout.contains("Welcome"), "{}", hidden.stdout);
        assert!(
            hidden.stdout.contains(" f\n"),
            "listing lost: {}",
            hidden.stdout
        );
        let list = run(
            Command::new(&client).arg("--no-motd").arg(url(&d, "")),
            &s.logs(),
        );
        list.assert_code(0);
        assert_eq!(list.stdout, "", "{}", client.display());
    }
}

/// `--outbuf=N|L|B` (any case, first letter) is accepted and every line
/// still comes out; another letter is rsync's syntax error.
#[test]
fn outbuf_modes_and_the_bad_one() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    for i in 0..300 {
        fs::write(src.join(format!("file{i:03}")), b"x").expect("file");
    }
    for mode in ["N", "l", "Block", "U", "F"] {
        let dst = s.path(&format!("dst-{mode}"));
        let out = run(
            Command::new(oxsync_bin())
                .args(["-r", "-i"])
                .arg(format!("--outbuf={mode}"))
                .arg(format!("{}/", src.display()))
                .arg(&dst),
            &s.logs(),
        );
        out.assert_code(0);
        assert_eq!(out.itemized().len(), 301, "{mode}: {}", out.stdout);
    }
    let out = run(
        Command::new(oxsync_bin())
            .args(["--outbuf=X"])
            .arg(&src)
            .arg(s.path("x")),
        &s.logs(),
    );
    out.assert_code(1);
    assert!(
        out.stderr
            .starts_with("rsync: Invalid --outbuf setting -- specify N, L, or B.\n"),
        "{}",
        out.stderr
    );
}

/// `--blocking-io`: the remote shell gets blocking pipes (its stdin has no
/// O_NONBLOCK), and the option stays local (not in the server's argv).
#[test]
fn blocking_io_gives_the_remote_shell_blocking_pipes() {
    let s = Scratch::new();
    let rec = s.path("seen");
    let rsh = s.path("rsh-record.sh");
    write_script(
        &rsh,
        &format!(
            "#!/bin/sh\nshift\ngrep flags /proc/self/fdinfo/0 > {0}\necho \"$@\" >> {0}\nexec \"$@\"\n",
            rec.display()
        ),
    );
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    fs::write(src.join("f"), b"blocking\n").expect("f");
    let dst = s.path("dst");
    run(
        Command::new(oxsync_bin())
            .args(["-r", "--blocking-io", "-e"])
            .arg(&rsh)
            .arg("--rsync-path")
            .arg(rsync_bin())
            .arg(format!("{}/", src.display()))
            .arg(format!("lh:{}", dst.display())),
        &s.logs(),
    )
    .assert_code(0);
    assert_eq!(fs::read(dst.join("f")).expect("f"), b"blocking\n");
    let seen = fs::read_to_string(&rec).expect("record");
    let flags = seen
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|f| u32::from_str_radix(f, 8).ok())
        .expect("flags line");
    assert_eq!(flags & 0o4000, 0, "O_NONBLOCK on the remote shell's stdin");
    assert!(!seen.contains("blocking-io"), "{seen}");
}

/// The fsync calls a traced command makes (strace -f).
fn traced_fsyncs(s: &Scratch, args: &[&str], src: &Path, dst: &str) -> (Run, usize) {
    let trace = s.path(&format!("trace-{}", dst.len()));
    let out = run(
        Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=fsync,fdatasync", "-o"])
            .arg(&trace)
            .arg(oxsync_bin())
            .args(args)
            .arg(format!("{}/", src.display()))
            .arg(dst),
        &s.logs(),
    );
    let text = fs::read_to_string(&trace).unwrap_or_default();
    let n = text
        .lines()
        .filter(|l| l.contains("fsync(") && l.contains("= 0"))
        .count();
    (out, n)
}

/// `--fsync` makes the receiver fsync every file it writes, locally and
/// as an oxsync server told by the client (`--fsync` is forwarded).
#[test]
fn fsync_syncs_every_received_file() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    for i in 0..5 {
        fs::write(src.join(format!("f{i}")), format!("file {i}\n")).expect("f");
    }
    let local = s.path("local");
    let (out, n) = traced_fsyncs(&s, &["-r", "--fsync"], &src, &local.to_string_lossy());
    out.assert_code(0);
    assert!(n >= 5, "{n} fsync calls");
    assert_eq!(fs::read(local.join("f3")).expect("f3"), b"file 3\n");
    let plain = s.path("plain-copy");
    let (out, n) = traced_fsyncs(&s, &["-r"], &src, &plain.to_string_lossy());
    out.assert_code(0);
    assert_eq!(n, 0, "fsync without --fsync");
    // Pushed to an oxsync server (traced with the client through -f).
    let remote = s.path("remote");
    let rsh = s.rsh();
    let (out, n) = traced_fsyncs(
        &s,
        &[
            "-r",
            "--fsync",
            "-e",
            &rsh.to_string_lossy(),
            "--rsync-path",
            &oxsync_bin().to_string_lossy(),
        ],
        &src,
        &format!("lh:{}", remote.display()),
    );
    out.assert_code(0);
    assert!(n >= 5, "{n} fsync calls by the server");
    assert_eq!(fs::read(remote.join("f0")).expect("f0"), b"file 0\n");
}

/// `--copy-as=USER[:GROUP]` (run as root): the copy is made as that user,
/// so the files it creates are theirs; an unknown user is rsync's syntax
/// error; `-M--copy-as` does it on the server side.
#[test]
fn copy_as_switches_the_user_of_the_copy() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    fs::write(src.join("f"), b"as nobody\n").expect("f");
    let open_dir = |name: &str| {
        let d = s.path(name);
        fs::create_dir_all(&d).expect("dst");
        fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod");
        d
    };
    let local = open_dir("local");
    run(
        Command::new(oxsync_bin())
            .args(["-r", "--copy-as=nobody"])
            .arg(format!("{}/", src.display()))
            .arg(&local),
        &s.logs(),
    )
    .assert_code(0);
    let meta = fs::metadata(local.join("f")).expect("f");
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    let remote = open_dir("remote");
    run(
        Command::new(rsync_bin())
            .args(["-r", "-M--copy-as=nobody:root", "-e"])
            .arg(s.rsh())
            .arg("--rsync-path")
            .arg(oxsync_bin())
            .arg(format!("{}/", src.display()))
            .arg(format!("lh:{}", remote.display())),
        &s.logs(),
    )
    .assert_code(0);
    let meta = fs::metadata(remote.join("f")).expect("f");
    assert_eq!((meta.uid(), meta.gid()), (65534, 0));
    // Through a daemon whose module runs as root (the test's uid).
    let d = start(&oxsync_bin(), "[w]\npath = %ROOT%/dst\nread only = no\n");
    fs::set_permissions(
        root(&d).join("dst"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    run(
        Command::new(rsync_bin())
            .args(["-r", "-M--copy-as=nobody"])
            .arg(format!("{}/", src.display()))
            .arg(url(&d, "w/")),
        &s.logs(),
    )
    .assert_code(0);
    let meta = fs::metadata(root(&d).join("dst/f")).expect("f");
    assert_eq!(meta.uid(), 65534, "daemon copy not made as nobody");
    // A daemon's client pulling with --copy-as: connected as root, the
    // copy it receives is made as nobody. (Before, oxsync's daemon client
    // ignored the option and wrote as root.)
    let pulled = open_dir("pulled");
    run(
        Command::new(oxsync_bin())
            .args(["-r", "--copy-as=nobody"])
            .arg(url(&d, "w/"))
            .arg(format!("{}/", pulled.display())),
        &s.logs(),
    )
    .assert_code(0);
    let meta = fs::metadata(pulled.join("f")).expect("pulled f");
    assert_eq!(
        (meta.uid(), meta.gid()),
        (65534, 65534),
        "daemon client's copy not made as nobody"
    );
    let out = run(
        Command::new(oxsync_bin())
            .args(["-r", "--copy-as=no-such-user-here"])
            .arg(format!("{}/", src.display()))
            .arg(s.path("never")),
        &s.logs(),
    );
    out.assert_code(1);
    assert!(
        out.stderr
            .starts_with("Invalid copy-as user: no-such-user-here\n"),
        "{}",
        out.stderr
    );
    assert!(!s.path("never").exists());
}

/// The most threads any child process of `pid` has now.
fn children_threads(pid: u32) -> usize {
    let mut most = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let kids = fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for kid in kids.split_whitespace() {
            let status = fs::read_to_string(format!("/proc/{kid}/status")).unwrap_or_default();
            let n = status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            most = most.max(n);
        }
    }
    most
}

/// `--compress-threads=N` compresses with zstd worker threads (the file
/// arrives intact through them), and a daemon's sender takes at most 8 of
/// them whatever its client asks (upstream MAX_DAEMON_COMPRESSION_THREADS:
/// 8 workers and the main thread).
#[test]
fn compress_threads_are_used_and_capped_on_a_daemon() {
    let s = Scratch::new();
    let src = s.path("src");
    fs::create_dir_all(&src).expect("src");
    let data = Prng::new(9).bytes(3_000_000);
    fs::write(src.join("f"), &data).expect("f");
    let dst = s.path("dst");
    run(
        Command::new(oxsync_bin())
            .args(["-r", "--zc=zstd", "--compress-threads=3", "-e"])
            .arg(s.rsh())
            .arg("--rsync-path")
            .arg(rsync_bin())
            .arg(format!("{}/", src.display()))
            .arg(format!("lh:{}", dst.display())),
        &s.logs(),
    )
    .assert_code(0);
    assert!(fs::read(dst.join("f")).expect("f") == data);
    let out = run(
        Command::new(oxsync_bin()).args(["--zt=x", "a", "b"]),
        &s.logs(),
    );
    out.assert_code(1);
    assert!(
        out.stderr.contains("--zt=x: invalid numeric value"),
        "{}",
        out.stderr
    );
    // A slow stock client keeps the daemon's sender alive while its
    // threads are counted.
    let d = start(
        &oxsync_bin(),
        "pid file = %ROOT%/daemon.pid\n[m]\npath = %ROOT%/mod\n",
    );
    fs::write(root(&d).join("mod/f"), &data).expect("f");
    let mut client = Command::new(rsync_bin())
        .args([
            "-r",
            "--zc=zstd",
            "--bwlimit=100",
            "-M--compress-threads=256",
        ])
        .arg(url(&d, "m/"))
        .arg(s.path("pulled"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("client");
    let pid: u32 = fs::read_to_string(root(&d).join("daemon.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut most = 0;
    while std::time::Instant::now() < until && most < 9 {
        most = most.max(children_threads(pid));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Keep sampling a little: the bound must hold after the pool is up.
    for _ in 0..10 {
        most = most.max(children_threads(pid));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = client.kill();
    let _ = client.wait();
    assert!(most >= 2, "no zstd worker thread seen ({most})");
    assert!(most <= 9, "{most} threads in the daemon's sender");
}

/// The daemon sends its message of the day as the file has it, then an
/// empty line (upstream exchange_protocols()), so that a client shows
/// the same text before the module list from oxsync's daemon as from
/// stock rsync's, whether or not the file ends in a newline.
#[test]
fn the_motd_is_followed_by_an_empty_line() {
    let s = Scratch::new();
    for text in ["Hello\nthere\n", "no newline at the end"] {
        let conf = "motd file = %ROOT%/motd\n[m]\npath = %ROOT%/mod\ncomment = the module\n";
        let shown: Vec<String> = [oxsync_bin(), rsync_bin()]
            .iter()
            .map(|daemon| {
                let d = start(daemon, conf);
                fs::write(root(&d).join("motd"), text).expect("motd");
                let r = run(Command::new(rsync_bin()).arg(url(&d, "")), &s.logs());
                r.assert_code(0);
                r.stdout
            })
            .collect();
        assert_eq!(shown[0], shown[1], "{text:?}");
        assert!(
            shown[0].starts_with(&format!("{}\n", text.trim_end())),
            "{}",
            shown[0]
        );
    }
}
