//! The `FILE.sh` written beside a batch file: the command line that
//! replays it (upstream batch.c write_batch_shell_file()). Every argument
//! is single-quoted (an option's `--name=` prefix stays bare only when it
//! is a plain option word), so no shell metacharacter in a path runs when
//! the script does; filter rules go into a here-document, and a rule with
//! a newline (which could forge its terminator) is refused.
use crate::error::{Error, Result};
use crate::options::Options;
use filter::WireOptions;
use protocol::exit;

/// The here-document terminator.
const HEREDOC_END: &[u8] = b"#E#";

/// Appends `arg` single-quoted; a leading `--plain-option=` stays bare.
// upstream: batch.c:write_arg()
pub fn write_arg(out: &mut Vec<u8>, arg: &str) {
    let mut rest = arg;
    if arg.starts_with('-') {
        if let Some(eq) = arg.find('=') {
            let plain = arg[..eq]
                .bytes()
                .all(|c| c == b'-' || c == b'_' || c.is_ascii_alphanumeric());
            if plain {
                out.extend_from_slice(&arg.as_bytes()[..=eq]);
                rest = &arg[eq + 1..];
            }
        }
    }
    out.push(b'\'');
    for (i, part) in rest.split('\'').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"'\\''");
        }
        out.extend_from_slice(part.as_bytes());
    }
    out.push(b'\'');
}

/// Appends ` OPT` or ` OPT=ARG` (the argument quoted).
// upstream: batch.c:write_opt()
fn write_opt(out: &mut Vec<u8>, opt: &str, arg: Option<&str>) {
    out.push(b' ');
    out.extend_from_slice(opt.as_bytes());
    if let Some(a) = arg {
        out.push(b'=');
        write_arg(out, a);
    }
}

/// The path part of a destination argument (`host:path`,
/// `host::module/path`, `rsync://host/module/path`).
// upstream: main.c:check_for_hostspec()
fn local_part(arg: &str) -> &str {
    if let Some(rest) = arg.strip_prefix("rsync://") {
        return rest.split_once('/').map_or("", |(_, p)| p);
    }
    let colon = arg.find(':');
    let slash = arg.find('/');
    match colon {
        Some(c) if slash.is_none_or(|s| c < s) => {
            let after = &arg[c + 1..];
            after.strip_prefix(':').unwrap_or(after)
        }
        _ => arg,
    }
}

/// The rules the replaying receiver needs, one text per rule.
fn rule_lines(opts: &Options) -> Result<Vec<Vec<u8>>> {
    let list = crate::filters::from_options(opts)?;
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let lines = list
        .wire_rules(WireOptions {
            protocol: protocol::PROTOCOL_VERSION as u32,
            am_sender: true,
        })
        .map_err(|e| Error::new(exit::RERR_SYNTAX, format!("rsync: {e}")))?;
    if lines.iter().any(|l| l.contains(&b'\n')) {
        return Err(Error::new(
            exit::RERR_SYNTAX,
            "rsync: cannot write a filter rule containing a newline to the batch replay script",
        ));
    }
    Ok(lines)
}

/// Whether a raw argument is a filter or --files-from option (left out of
/// the script: the rules follow in the here-document).
fn is_filter_option(p: &str) -> bool {
    ["--files-from", "--filter", "--include", "--exclude"]
        .iter()
        .any(|o| p.starts_with(o))
}

/// The script for this command line (`argv` with the program name first).
pub fn script(opts: &Options, argv: &[String]) -> Result<Vec<u8>> {
    let rules = rule_lines(opts)?;
    let mut out = Vec::new();
    write_arg(&mut out, argv.first().map_or("rsync", String::as_str));
    if !rules.is_empty() {
        write_opt(&mut out, "--filter", Some("._-"));
    }
    // The file arguments are left out: found from the end, as upstream.
    let mut raw: Vec<Option<&str>> = argv.iter().map(|a| Some(a.as_str())).collect();
    let mut j = opts.args.len();
    let mut i = raw.len();
    while i > 1 && j > 0 {
        i -= 1;
        if raw[i] == Some(opts.args[j - 1].as_str()) {
            raw[i] = None;
            j -= 1;
        }
    }
    let mut i = 1;
    while i < raw.len() {
        let Some(p) = raw[i] else {
            i += 1;
            continue;
        };
        i += 1;
        if is_filter_option(p) {
            if !p.contains('=') {
                i += 1;
            }
            continue;
        }
        if p == "-f" {
            i += 1;
            continue;
        }
        let batch_value = p
            .strip_prefix("--write-batch")
            .or_else(|| p.strip_prefix("--only-write-batch"));
        match batch_value {
            Some(v) => write_opt(&mut out, "--read-batch", v.strip_prefix('=')),
            None => {
                out.push(b' ');
                write_arg(&mut out, p);
            }
        }
    }
    let dest = opts.args.last().map_or("", |d| local_part(d));
    write_opt(&mut out, "${1:-", None);
    write_arg(&mut out, dest);
    out.push(b'}');
    if !rules.is_empty() {
        out.extend_from_slice(b" <<'#E#'\n");
        for r in &rules {
            out.extend_from_slice(r);
            out.push(if opts.tree.from0 { 0 } else { b'\n' });
        }
        if opts.tree.from0 {
            out.extend_from_slice(b";\n");
        }
        out.extend_from_slice(HEREDOC_END);
    }
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(a: &str) -> String {
        let mut v = Vec::new();
        write_arg(&mut v, a);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn quoting_follows_upstream() {
        assert_eq!(quoted("-a"), "'-a'");
        assert_eq!(quoted("--rsh=ssh -p 2"), "--rsh='ssh -p 2'");
        assert_eq!(quoted("d`>PWNED`x/"), "'d`>PWNED`x/'");
        assert_eq!(quoted("-x$(>PWNED2)=y/"), "'-x$(>PWNED2)=y/'");
        assert_eq!(quoted("it's"), "'it'\\''s'");
    }

    #[test]
    fn hostspecs_lose_their_host() {
        assert_eq!(local_part("host:dir/x"), "dir/x");
        assert_eq!(local_part("host::mod/x"), "mod/x");
        assert_eq!(local_part("rsync://h:873/mod/x"), "mod/x");
        assert_eq!(local_part("./a:b"), "./a:b");
        assert_eq!(local_part("dst/"), "dst/");
    }
}
