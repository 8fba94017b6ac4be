//! `--help`, `--daemon --help` and `--version`: every option the parser
//! accepts is listed, every option listed is accepted, in rsync's layout
//! (option column, description at column 25) and with rsync's version
//! items.
use crate::util::*;
use std::process::Command;

/// The option lines of a help text: those after the line `header` up to the
/// first blank line.
fn option_lines<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| !l.starts_with(header))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

/// The option names of an option line's left column: "--name" (value
/// dropped) and "-x"; the `(aka --cc)` alias of the description too.
fn names(line: &str) -> Vec<(String, bool)> {
    let left = line.get(..25).unwrap_or(line).trim();
    let takes = left.contains('=') && !left.contains("[=");
    let aka = line
        .split_once("(aka ")
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(a, _)| a);
    left.split(", ")
        .chain(aka)
        .map(|w| w.split([' ', '=', '[']).next().unwrap_or(w))
        .filter(|w| w.starts_with('-') && *w != "--no-OPTION")
        .map(|w| (w.to_string(), takes))
        .collect()
}

fn help_text() -> String {
    let s = Scratch::new();
    let r = run(Command::new(oxsync_bin()).arg("--help"), &s.logs());
    r.assert_code(0);
    r.stdout
}

/// Every long option the parser's tables accept is on a `--help` line (a
/// `--no-X` negation through the `--no-OPTION` line and X's own line); only
/// the internal `--server` and `--sender` are left out, as rsync leaves
/// them out.
#[test]
fn help_lists_every_accepted_option() {
    let help = help_text();
    let lines = option_lines(&help, "Options");
    assert!(lines.len() > 150, "{help}");
    let listed: Vec<String> = lines.iter().flat_map(|l| names(l)).map(|n| n.0).collect();
    let has = |n: &str| listed.iter().any(|l| l == n);
    let mut missing = Vec::new();
    for name in engine::options::accepted_long() {
        if engine::usage::INTERNAL.contains(&name) {
            assert!(!has(&format!("--{name}")), "internal --{name} listed");
            continue;
        }
        let negation = name.strip_prefix("no-").is_some_and(|base| {
            help.contains("--no-OPTION ") && (has(&format!("--{base}")) || has(&format!("-{base}")))
        });
        let positive = has(&format!("--no-{name}"));
        if !has(&format!("--{name}")) && !negation && !positive {
            missing.push(name);
        }
    }
    for letter in engine::options::accepted_short() {
        if !has(&format!("-{letter}")) {
            missing.push("(a short letter)");
            eprintln!("-{letter} missing");
        }
    }
    assert!(missing.is_empty(), "not in --help: {missing:?}\n{help}");
    assert!(!help.contains("\nOther options\n"), "{help}");
}

/// Every option `--help` lists is accepted: given to the binary with
/// `--version` (which stops before anything runs), none is refused as
/// unknown or unsupported.
#[test]
fn every_listed_option_is_accepted() {
    let s = Scratch::new();
    let help = help_text();
    let mut refused = Vec::new();
    let mut tried = 0;
    for line in option_lines(&help, "Options") {
        for (name, takes) in names(line) {
            let mut cmd = Command::new(oxsync_bin());
            if name == "--daemon" {
                cmd.args(["--daemon", "--help"]);
            } else if name == "--help" || name == "-h" {
                cmd.arg(&name);
            } else if takes && name.starts_with("--") {
                cmd.args([format!("{name}=1"), "--version".into()]);
            } else if takes {
                cmd.args([format!("{name}1"), "--version".into()]);
            } else {
                cmd.args([&name, "--version"]);
            }
            let r = run(&mut cmd, &s.logs());
            tried += 1;
            if r.stderr.contains("unknown option")
                || r.stderr.contains("not supported by oxsync")
                || r.stderr.contains("unknown daemon option")
            {
                refused.push(format!("{name}: {}", r.stderr.trim()));
            }
        }
    }
    assert!(tried > 150, "{tried}");
    assert!(refused.is_empty(), "{refused:#?}");
}

/// The help is rsync's layout: version text first, the usage lines, the
/// option lines with the description at column 25 and at most 80 columns.
#[test]
fn help_layout_is_rsyncs() {
    let help = help_text();
    assert!(help.starts_with("oxsync  version "), "{help}");
    assert!(help.contains("\nUsage: oxsync [OPTION]... SRC [SRC]... DEST\n"));
    assert!(help.contains("  or   oxsync [OPTION]... rsync://[USER@]HOST[:PORT]/SRC [DEST]\n"));
    assert!(help.contains("Use \"oxsync --daemon --help\" to see the daemon-mode"));
    for line in option_lines(&help, "Options") {
        assert!(line.len() <= 80, "{line}");
        let (left, right) = line.split_at(25);
        assert!(left.ends_with(' ') && !right.starts_with(' '), "{line}");
    }
    // The common options the issue found missing are there.
    for want in [
        "--compress, -z ",
        "--exclude=PATTERN ",
        "--include=PATTERN ",
        "--filter=RULE, -f ",
        "--hard-links, -H ",
        "--copy-links, -L ",
        "--chmod=CHMOD ",
        "--chown=USER:GROUP ",
        "--usermap=STRING ",
        "--port=PORT ",
        "--password-file=FILE ",
        "--daemon ",
        "--cvs-exclude, -C ",
        "\n-F ",
    ] {
        assert!(help.contains(want), "{want}: {help}");
    }
}

/// `oxsync --daemon --help`: the version, then every daemon option, each
/// one accepted by the daemon's parser (given with `--help`, it prints the
/// usage instead of starting).
#[test]
fn daemon_help_lists_accepted_options() {
    let s = Scratch::new();
    let r = run(
        Command::new(oxsync_bin()).args(["--daemon", "--help"]),
        &s.logs(),
    );
    r.assert_code(0);
    assert!(r.stdout.starts_with("oxsync  version "), "{}", r.stdout);
    let lines = option_lines(&r.stdout, "Usage: oxsync --daemon [OPTION]...");
    let mut listed = Vec::new();
    for line in &lines {
        for (name, takes) in names(line) {
            let word = match (takes, name.starts_with("--")) {
                (false, _) => name.clone(),
                (true, true) if name == "--dparam" => format!("{name}=motdfile=x"),
                (true, true) => format!("{name}=1"),
                (true, false) => format!("{name}motdfile=x"),
            };
            let d = run(
                Command::new(oxsync_bin()).args(["--daemon", &word, "--help"]),
                &s.logs(),
            );
            assert_eq!(d.code, Some(0), "{word}: {d:?}");
            listed.push(name);
        }
    }
    for (long, short, _, _) in daemon::listener::DAEMON_OPTIONS {
        assert!(listed.contains(&format!("--{long}")), "--{long}: {lines:?}");
        if let Some(c) = short {
            assert!(listed.contains(&format!("-{c}")), "-{c}: {lines:?}");
        }
    }
    for want in [
        "--config=FILE",
        "--no-detach",
        "--port=PORT",
        "--dparam=OVERRIDE, -M",
    ] {
        assert!(r.stdout.contains(want), "{want}: {}", r.stdout);
    }
}

/// `--version` as rsync 3.5.0 prints it: the version line, copyright and
/// web address, the capability and optimization items, the checksum,
/// compression and daemon-auth lists (aliases in parentheses), and the
/// licence; `-VV` stays upstream's JSON.
#[test]
fn version_text_and_json() {
    let s = Scratch::new();
    let r = run(Command::new(oxsync_bin()).arg("--version"), &s.logs());
    r.assert_code(0);
    let text = &r.stdout;
    let first: Vec<&str> = text.lines().take(3).collect();
    assert!(first[0].starts_with("oxsync  version ") && first[0].ends_with("protocol version 32"));
    assert!(first[1].starts_with("Copyright (C) "), "{text}");
    assert!(first[2].starts_with("Web site: https://"), "{text}");
    for want in [
        "\nCapabilities:\n    64-bit files, 64-bit inums, 64-bit timestamps, 64-bit long ints,\n",
        "\nOptimizations:\n",
        "\nChecksum list:\n    xxh128 xxh3 xxh64 (xxhash) md5 md4 sha1 none\n",
        "\nCompress list:\n    zstd lz4 zlibx zlib none\n",
        "\nDaemon auth list:\n    sha512 sha256 sha1 md5 md4\n",
        "oxsync comes with ABSOLUTELY NO WARRANTY.  This is free software, and you\n",
        "General Public Licence for details.\n",
    ] {
        assert!(text.contains(want), "{want:?}: {text}");
    }
    let j = run(Command::new(oxsync_bin()).arg("-VV"), &s.logs());
    j.assert_code(0);
    for want in [
        "\"program\": \"oxsync\"",
        "\"capabilities\": {",
        "\"checksum_list\": [\n    \"xxh128\", \"xxh3\", \"xxh64\", \"md5\", \"md4\", \"sha1\", \"none\"\n  ]",
        "\"compress_list\": [",
        "\"license\": \"GPLv3\"",
    ] {
        assert!(j.stdout.contains(want), "{want}: {}", j.stdout);
    }
    assert!(!j.stdout.contains("xxhash"), "aliases stay out of the JSON");
}

/// Options without a path are a usage error: the usage goes to stderr with
/// the closing line (exit 1), as upstream's main(); with no argument at
/// all, exit 1 too (rsync 3.5.0 prints the usage to stdout then, as
/// oxsync, 3.2.7 to stderr). (Before, oxsync printed both to stdout.)
#[test]
fn options_without_a_path_are_a_usage_error() {
    let s = Scratch::new();
    for bin in [oxsync_bin(), rsync_bin()] {
        let r = run(Command::new(&bin).arg("-a"), &s.logs());
        r.assert_code(1);
        assert!(r.stdout.is_empty(), "{r:?}");
        assert!(r.stderr.contains(" version "), "{r:?}");
        assert!(
            r.stderr
                .contains("rsync error: syntax or usage error (code 1)"),
            "{r:?}"
        );
        let bare = run(&mut Command::new(&bin), &s.logs());
        bare.assert_code(1);
        assert!(
            bare.stdout.contains(" version ") || bare.stderr.contains(" version "),
            "{bare:?}"
        );
    }
}
