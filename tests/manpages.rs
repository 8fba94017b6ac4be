//! The manual pages kept in `man/`: `oxsync.1` lists every option the
//! parser accepts (its OPTIONS section is generated from the parser's
//! tables) and the daemon's options; `oxsyncd.conf.5` describes every
//! parameter the configuration parser knows and no other; both render
//! without a warning (`groff -ww`, `man -l`).
use crate::util::*;
use std::path::PathBuf;
use std::process::Command;

const BEGIN: &str = ".\\\" BEGIN OPTIONS\n";
const END: &str = ".\\\" END OPTIONS\n";

fn page(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("man")
        .join(name)
}

/// The OPTIONS section of oxsync.1 is what the parser's tables give
/// (`OXSYNC_UPDATE_MAN=1` rewrites it after the tables change).
#[test]
fn oxsync_1_options_are_generated_from_the_parser() {
    let path = page("oxsync.1");
    let text = std::fs::read_to_string(&path).unwrap();
    let (head, rest) = text.split_once(BEGIN).expect("BEGIN OPTIONS marker");
    let (current, tail) = rest.split_once(END).expect("END OPTIONS marker");
    let want = engine::usage::man_options();
    if current != want && std::env::var_os("OXSYNC_UPDATE_MAN").is_some() {
        std::fs::write(&path, format!("{head}{BEGIN}{want}{END}{tail}")).unwrap();
        return;
    }
    assert!(
        current == want,
        "man/oxsync.1 is out of date with the option table: run \
         OXSYNC_UPDATE_MAN=1 cargo test --test tests manpages::"
    );
    assert!(!want.contains("(undocumented)"), "{want}");
}

/// Every long option the parser accepts (negations through their option
/// and `--no-OPTION`), every short letter, the internal ones and the
/// daemon's options are in oxsync.1.
#[test]
fn oxsync_1_names_every_option() {
    let text = std::fs::read_to_string(page("oxsync.1")).unwrap();
    let has = |word: &str| {
        let roff = word.replace('-', "\\-");
        text.contains(&format!("{roff}\n"))
            || text.contains(&format!("{roff},"))
            || text.contains(&format!("{roff}="))
            || text.contains(&format!("{roff} "))
            || text.contains(&format!("{roff}["))
            || text.contains(&format!("{roff})"))
            || text.contains(&format!("{roff}\\fR"))
    };
    let mut missing = Vec::new();
    for name in engine::options::accepted_long() {
        let negation = name
            .strip_prefix("no-")
            .is_some_and(|b| has(&format!("--{b}")) || has(&format!("-{b}")));
        let covered = has(&format!("--{name}"))
            || (negation && has("--no-OPTION"))
            || has(&format!("--no-{name}"));
        if !covered {
            missing.push(format!("--{name}"));
        }
    }
    for c in engine::options::accepted_short() {
        if !has(&format!("-{c}")) {
            missing.push(format!("-{c}"));
        }
    }
    for (long, short, _, _) in daemon::listener::DAEMON_OPTIONS {
        if !has(&format!("--{long}")) {
            missing.push(format!("daemon --{long}"));
        }
        if let Some(c) = short {
            assert!(has(&format!("-{c}")), "daemon -{c}");
        }
    }
    for section in [
        ".SH EXIT VALUES",
        ".SH ENVIRONMENT",
        ".SH CONNECTING TO AN RSYNC DAEMON",
        ".SH DAEMON OPTIONS",
        ".SH INTERNAL OPTIONS",
    ] {
        assert!(text.contains(section), "{section}");
    }
    for code in [
        0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 20, 22, 23, 24, 25, 30, 35,
    ] {
        assert!(text.contains(&format!(".B {code}\n")), "exit value {code}");
    }
    for var in [
        "RSYNC_RSH",
        "RSYNC_PASSWORD",
        "RSYNC_PROXY",
        "RSYNC_CONNECT_PROG",
        "CVSIGNORE",
    ] {
        assert!(text.contains(&format!(".B {var}")), "{var}");
    }
    assert!(missing.is_empty(), "not in man/oxsync.1: {missing:?}");
}

/// Every parameter the configuration parser knows has a tagged paragraph
/// in oxsyncd.conf.5, and every paragraph is a parameter it knows.
#[test]
fn oxsyncd_conf_5_describes_every_parameter() {
    let text = std::fs::read_to_string(page("oxsyncd.conf.5")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut described = Vec::new();
    let mut in_params = false;
    for (i, line) in lines.iter().enumerate() {
        if let Some(title) = line.strip_prefix(".SH ") {
            in_params = title.ends_with("PARAMETERS");
        }
        if in_params && *line == ".TP" {
            let tag = lines[i + 1].strip_prefix(".B ").expect("a .B tag");
            described.push(daemon::config::canonical_key(&tag.replace("\\-", "-")));
        }
    }
    let known = daemon::config::known_params();
    let missing: Vec<&String> = known.iter().filter(|k| !described.contains(k)).collect();
    let unknown: Vec<&String> = described.iter().filter(|d| !known.contains(d)).collect();
    assert!(missing.is_empty(), "not in man/oxsyncd.conf.5: {missing:?}");
    assert!(unknown.is_empty(), "not parameters: {unknown:?}");
    for p in [
        "landlock",
        "landlockallow",
        "clientpaths",
        "proxyprotocolhosts",
    ] {
        assert!(described.iter().any(|d| d == p), "{p}");
    }
}

/// Both pages render without a warning: groff with every warning on, and
/// man(1) reading the file (scripts/test installs groff-base and man-db).
#[test]
fn pages_render_without_warnings() {
    let s = Scratch::new();
    for name in ["oxsync.1", "oxsyncd.conf.5"] {
        let r = run(
            Command::new("groff")
                .args(["-ww", "-z", "-t", "-man"])
                .arg(page(name)),
            &s.logs(),
        );
        r.assert_code(0);
        assert_eq!(r.stderr, "", "groff warnings in {name}");
        let r = run(
            Command::new("man")
                .args(["--warnings=w", "-E", "UTF-8", "-l"])
                .arg(page(name))
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "80"),
            &s.logs(),
        );
        r.assert_code(0);
        assert_eq!(r.stderr, "", "man warnings in {name}");
        assert!(r.stdout.len() > 2000, "{name}: {}", r.stdout);
    }
}
