//! `make install`: what it installs, the systemd units (`systemd-analyze
//! verify`, and socket activation with the service's own ExecStart), and
//! the shell completions, checked against the option parser's table.
use crate::util::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INSTALLED: &[&str] = &[
    "bin/oxsync",
    "share/man/man1/oxsync.1",
    "share/man/man5/oxsyncd.conf.5",
    "share/bash-completion/completions/oxsync",
    "share/zsh/site-functions/_oxsync",
    "share/fish/vendor_completions.d/oxsync.fish",
    "lib/systemd/system/oxsyncd.service",
    "lib/systemd/system/oxsyncd.socket",
    "share/doc/oxsync/rsyncd.conf.example",
];

/// Runs `make install PREFIX=<scratch>/prefix` with the binary under test
/// and returns the prefix.
fn install(s: &Scratch) -> PathBuf {
    let prefix = s.path("prefix");
    let r = run(
        Command::new("make")
            .arg("-C")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .arg("install")
            .arg(format!("PREFIX={}", prefix.display()))
            .arg(format!("OXSYNC_BIN={}", oxsync_bin().display())),
        &s.logs(),
    );
    r.assert_code(0);
    prefix
}

/// Kills and reaps a child however the test ends.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn make_install_puts_every_file_in_place() {
    let s = Scratch::new();
    let prefix = install(&s);
    for f in INSTALLED {
        assert!(prefix.join(f).is_file(), "{f} not installed");
    }
    let r = run(
        Command::new(prefix.join("bin/oxsync")).arg("--version"),
        &s.logs(),
    );
    r.assert_code(0);
    let unit = fs::read_to_string(prefix.join("lib/systemd/system/oxsyncd.service")).unwrap();
    let exec = format!("ExecStart={}/bin/oxsync --daemon", prefix.display());
    assert!(unit.contains(&exec), "{unit}");
    assert!(!unit.contains("@BINDIR@"), "{unit}");
    for want in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=",
        "CAP_SYS_CHROOT",
        "CAP_SETUID",
        "RestrictAddressFamilies=",
    ] {
        assert!(unit.contains(want), "{want}");
    }
    // The man pages installed are found by man(1) through MANPATH.
    let r = run(
        Command::new("man")
            .args(["-w", "oxsyncd.conf"])
            .env("MANPATH", prefix.join("share/man")),
        &s.logs(),
    );
    r.assert_code(0);
}

/// `systemd-analyze verify` accepts both units as installed (their
/// `Documentation=man:` pages resolved in the prefix).
#[test]
fn systemd_units_verify() {
    let s = Scratch::new();
    let prefix = install(&s);
    let dir = prefix.join("lib/systemd/system");
    let r = run(
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(dir.join("oxsyncd.service"))
            .arg(dir.join("oxsyncd.socket"))
            .env("MANPATH", prefix.join("share/man")),
        &s.logs(),
    );
    r.assert_code(0);
    assert_eq!(r.stderr.trim(), "", "{r:?}");
}

/// Socket activation as oxsyncd.socket does it: systemd-socket-activate
/// listens, then starts the service's ExecStart (config moved to the
/// scratch directory) with the socket; stock rsync lists the module,
/// pushes into it and pulls from it, through more than one connection.
#[test]
fn socket_activation_with_the_units_exec_start() {
    let s = Scratch::new();
    let prefix = install(&s);
    let unit = fs::read_to_string(prefix.join("lib/systemd/system/oxsyncd.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let conf = s.path("rsyncd.conf");
    fs::create_dir(s.path("mod")).unwrap();
    let me = rustix::process::geteuid().as_raw();
    fs::write(
        &conf,
        format!(
            "uid = {me}\ngid = {me}\nuse chroot = no\n[mod]\n    path = {}\n    read only = no\n",
            s.path("mod").display()
        ),
    )
    .unwrap();
    let argv: Vec<String> = exec
        .replace("/etc/rsyncd.conf", &conf.to_string_lossy())
        .split(' ')
        .map(str::to_string)
        .collect();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listener = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(format!("127.0.0.1:{port}"))
        .args(&argv)
        .stdout(Stdio::null())
        .stderr(fs::File::create(s.path("activate.err")).unwrap())
        .spawn()
        .expect("systemd-socket-activate");
    let listener = Reap(listener);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "not listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    let src = s.path("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a"), b"activated\n").unwrap();
    let url = format!("rsync://127.0.0.1:{port}/mod/");
    let list = run(
        Command::new(rsync_bin()).arg(format!("rsync://127.0.0.1:{port}/")),
        &s.logs(),
    );
    list.assert_code(0);
    assert!(list.stdout.starts_with("mod"), "{list:?}");
    let push = run(
        Command::new(rsync_bin()).args(["-r", &format!("{}/", src.display()), &url]),
        &s.logs(),
    );
    push.assert_code(0);
    assert_eq!(fs::read(s.path("mod/a")).unwrap(), b"activated\n");
    let back = s.path("back");
    let pull = run(
        Command::new(rsync_bin()).args(["-r", &url, &back.to_string_lossy()]),
        &s.logs(),
    );
    pull.assert_code(0);
    assert_eq!(fs::read(back.join("a")).unwrap(), b"activated\n");
    // The daemon runs in the process systemd started (no child left
    // behind when that one is stopped).
    drop(listener);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_naming(&conf.to_string_lossy());
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "daemon left running: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pids whose command line has `needle` as one of its words.
fn processes_naming(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if cmd.split(|&b| b == 0).any(|w| w == needle.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// The option list the installed bash completion offers (its helper run
/// in bash), for the client or the daemon.
fn bash_options(prefix: &Path, daemon: bool) -> Vec<String> {
    let s = Scratch::new();
    let (header, extra) = if daemon {
        ("Usage: oxsync --daemon [OPTION]...", " --daemon")
    } else {
        ("Options", "")
    };
    let script = format!(
        "source '{}'\n_oxsync_options '{header}' '{}'{extra}\n",
        prefix
            .join("share/bash-completion/completions/oxsync")
            .display(),
        prefix.join("bin/oxsync").display()
    );
    let r = run(Command::new("bash").args(["-c", &script]), &s.logs());
    r.assert_code(0);
    r.stdout
        .lines()
        .map(|l| l.trim_end_matches('=').to_string())
        .collect()
}

/// The completions offer every option the parser accepts (internal ones
/// and `--no-X` negations aside), every short letter, and the daemon's
/// options after `--daemon`; completing `--del` in bash offers the delete
/// options. zsh and fish run the same extraction as bash.
#[test]
fn completions_follow_the_option_table() {
    let s = Scratch::new();
    let prefix = install(&s);
    let client = bash_options(&prefix, false);
    let mut missing = Vec::new();
    for name in engine::options::accepted_long() {
        let negation = name.strip_prefix("no-").is_some_and(|b| {
            client.contains(&format!("--{b}")) || client.contains(&format!("-{b}"))
        });
        if !engine::usage::INTERNAL.contains(&name)
            && !negation
            && !client.contains(&format!("--{name}"))
            && !client.contains(&format!("--no-{name}"))
        {
            missing.push(format!("--{name}"));
        }
    }
    for c in engine::options::accepted_short() {
        if !client.contains(&format!("-{c}")) {
            missing.push(format!("-{c}"));
        }
    }
    assert!(missing.is_empty(), "not completed: {missing:?}");
    let daemon = bash_options(&prefix, true);
    for (long, _, _, _) in daemon::listener::DAEMON_OPTIONS {
        assert!(
            daemon.contains(&format!("--{long}")),
            "daemon --{long}: {daemon:?}"
        );
    }
    let script = format!(
        "source '{}'\nCOMP_WORDS=('{}' --del)\nCOMP_CWORD=1\n_oxsync\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        prefix.join("share/bash-completion/completions/oxsync").display(),
        prefix.join("bin/oxsync").display()
    );
    let r = run(Command::new("bash").args(["-c", &script]), &s.logs());
    r.assert_code(0);
    let offered: Vec<&str> = r.stdout.lines().collect();
    for want in ["--del", "--delete", "--delete-after", "--delete-excluded"] {
        assert!(offered.contains(&want), "{want}: {offered:?}");
    }
    // zsh and fish use the very pipeline bash runs.
    let bash = fs::read_to_string(prefix.join("share/bash-completion/completions/oxsync")).unwrap();
    let pipeline: Vec<&str> = bash
        .lines()
        .filter(|l| l.contains("| awk") || l.contains("| grep"))
        .map(str::trim)
        .collect();
    assert_eq!(pipeline.len(), 3, "{bash}");
    for f in [
        "share/zsh/site-functions/_oxsync",
        "share/fish/vendor_completions.d/oxsync.fish",
    ] {
        let text = fs::read_to_string(prefix.join(f)).unwrap();
        for line in &pipeline {
            assert!(text.contains(line), "{f} lacks {line}");
        }
    }
}
