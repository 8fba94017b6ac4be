//! `refuse options`: which options a daemon module refuses, decided on the
//! one option table the parser reads (upstream options.c
//! set_refuse_options / parse_one_refuse_match / create_refuse_error).
//!
//! Each pattern of the module's list (space separated, `!` negates, the
//! last matching pattern decides) marks rows of the table by long name or
//! short letter, with wildcards. A pattern without wildcards stops at its
//! first row and also marks every row that spells the same capability
//! (`del` and `delete-during`, `zt` and `compress-threads`). `a`/`archive`
//! stands for the letters `-a` implies. A few vital rows are never marked by
//! a wildcard. The parser asks about every option word it reads, so an
//! option is refused wherever it sits in the argv; what an option implies
//! (`-a`, `-P`, compression, the delete modes, `--remove-source-files`
//! on a sending module) is checked on the parsed result.
use crate::control::{CAct, TABLE as CONTROL};
use crate::error::OptionError;
use crate::options::{Act, DeleteMode, Options, SUPPORTED, UNSUPPORTED_LONG, UNSUPPORTED_SHORT};
use std::sync::OnceLock;

/// What an option row does; rows with equal keys are one capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Act(Act),
    Control(CAct),
    /// An option oxsync does not implement, by its canonical name.
    Named(&'static str),
}

/// One spelling of an option.
#[derive(Debug, Clone, Copy)]
struct Row {
    long: &'static str,
    short: Option<char>,
    key: Key,
}

/// Unimplemented aliases of rsync 3.5.0, with the name they spell.
const UNSUPPORTED_ALIASES: &[(&str, &str)] = &[("no-A", "no-acls"), ("no-X", "no-xattrs")];

/// Rows a wildcard never marks (upstream's exact-match-only rows).
fn vital(row: &Row) -> bool {
    matches!(row.short, Some('e' | '0' | 's' | 'n'))
        || matches!(
            row.long,
            "iconv"
                | "no-iconv"
                | "checksum-seed"
                | "copy-devices"
                | "write-devices"
                | "log-format"
                | "sender"
                | "server"
        )
}

/// Every option the parser knows (what it implements, its control options
/// and rsync's options it refuses as not implemented yet).
fn rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut rows: Vec<Row> = SUPPORTED
            .iter()
            .map(|&(long, short, act)| Row {
                long,
                short,
                key: Key::Act(act),
            })
            .collect();
        rows.extend(CONTROL.iter().map(|&(long, short, cact)| Row {
            long,
            short,
            key: Key::Control(cact),
        }));
        rows.extend(UNSUPPORTED_LONG.iter().map(|&long| {
            let canonical = UNSUPPORTED_ALIASES
                .iter()
                .find(|(alias, _)| *alias == long)
                .map_or(long, |&(_, name)| name);
            let short = UNSUPPORTED_SHORT
                .iter()
                .find(|(_, spelled)| spelled.strip_prefix("--") == Some(long))
                .map(|&(c, _)| c);
            Row {
                long,
                short,
                key: Key::Named(canonical),
            }
        }));
        rows.push(Row {
            long: "confine",
            short: None,
            key: Key::Named("confine"),
        });
        rows
    })
}

fn wildmatch(pattern: &str, text: &str) -> bool {
    filter::wildmatch::wildmatch(pattern.as_bytes(), text.as_bytes())
}

/// A module's compiled `refuse options` (one flag per option row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    refused: Vec<bool>,
}

impl Refusals {
    /// Compiles a daemon module's `refuse options` list, with what a daemon
    /// always refuses: `copy-devices` and `write-devices` unless the list
    /// accepts them by name (`!copy-devices`), `log-file*`,
    /// `insecure-links` and `iconv` (for a module without `charset`).
    /// (`outbuf` stays accepted: oxsync can set its stdout buffering.)
    // upstream: options.c:set_refuse_options()
    pub fn for_module(list: &str) -> Refusals {
        Refusals::for_module_with_charset(list, false)
    }

    /// As [`Refusals::for_module`], for a module that may have a `charset`:
    /// then `--iconv` is not refused by default (upstream refuses it only
    /// for a module without one).
    pub fn for_module_with_charset(list: &str, charset: bool) -> Refusals {
        let mut r = Refusals {
            refused: vec![false; rows().len()],
        };
        r.mark(false, "copy-devices");
        r.mark(false, "write-devices");
        for word in list.split(' ').filter(|w| !w.is_empty()) {
            match word.strip_prefix('!') {
                Some(rest) if !rest.is_empty() => r.mark(true, rest),
                _ => r.mark(false, word),
            }
        }
        for always in ["log-file*", "insecure-links"] {
            r.mark(false, always);
        }
        if !charset {
            r.mark(false, "iconv");
        }
        r
    }

    /// Applies one pattern.
    // upstream: options.c:parse_one_refuse_match()
    fn mark(&mut self, negated: bool, pattern: &str) {
        let (pattern, wild) = match pattern {
            "a" | "archive" => ("[ardlptgoD]", true),
            p => (p, p.contains(['*', '?', '['])),
        };
        let mut matched = None;
        for (i, row) in rows().iter().enumerate() {
            let hit = (!row.long.is_empty() && wildmatch(pattern, row.long))
                || row
                    .short
                    .is_some_and(|c| wildmatch(pattern, c.encode_utf8(&mut [0; 4])));
            if !hit {
                continue;
            }
            if !wild || !vital(row) {
                self.refused[i] = !negated;
            }
            if !wild {
                matched = Some(row.key);
                break;
            }
        }
        if let Some(key) = matched {
            for (i, row) in rows().iter().enumerate() {
                if row.key == key {
                    self.refused[i] = !negated;
                }
            }
        }
    }

    fn row_refused(&self, pred: impl Fn(&Row) -> bool) -> Option<&'static Row> {
        rows()
            .iter()
            .zip(&self.refused)
            .find(|(row, refused)| **refused && pred(row))
            .map(|(row, _)| row)
    }

    /// The refusal of the long option `name`, if refused.
    pub fn long(&self, name: &str) -> Option<OptionError> {
        self.row_refused(|r| r.long == name).map(refusal)
    }

    /// The refusal of the short option `letter`, if refused.
    pub fn short(&self, letter: char) -> Option<OptionError> {
        self.row_refused(|r| r.short == Some(letter)).map(refusal)
    }

    /// The refusal of an option for what it implies: `-a` when a letter it
    /// stands for is refused, `-P` when `--partial` or `--progress` is.
    pub(crate) fn implied_by(&self, act: Act) -> Option<OptionError> {
        match act {
            Act::Archive => "rdlptgoD".chars().find_map(|c| self.short(c)),
            Act::PartialProgress => self.long("partial").or_else(|| self.long("progress")),
            _ => None,
        }
    }

    /// Checks what the parsed options imply, and picks `--delete-before`
    /// for a bare `--delete` when `--delete-during` is refused.
    // upstream: options.c:parse_arguments() (refused_compress,
    // refused_delete*, refused_inplace)
    pub fn check_implied(&self, opts: &mut Options) -> Result<(), OptionError> {
        if opts.compress || opts.compress_level.is_some() {
            if let Some(e) = self.short('z') {
                return Err(e);
            }
        }
        if opts.append > 0 || opts.write_devices {
            if let Some(e) = self.long("inplace") {
                return Err(e);
            }
        }
        let bare_delete = opts.delete == DeleteMode::During && !opts.delete_during_named;
        if bare_delete && self.long("delete-during").is_some() {
            if let Some(before) = self.long("delete-before") {
                return Err(before);
            }
            opts.delete = DeleteMode::Before;
        }
        let deleting =
            opts.delete != DeleteMode::Off || opts.delete_excluded || opts.tree.missing_args == 2;
        if deleting || (opts.remove_source_files && opts.sender) {
            if let Some(e) = self.long("delete") {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// upstream create_refuse_error(): "--name (-x)", or the letter alone for
/// a row without a long name.
fn refusal(row: &Row) -> OptionError {
    let name = match (row.long, row.short) {
        ("", Some(c)) => format!("-{c}"),
        (long, Some(c)) => format!("--{long} (-{c})"),
        (long, None) => format!("--{long}"),
    };
    OptionError {
        message: format!("The server is configured to refuse {name}"),
        exit_code: protocol::exit::RERR_UNSUPPORTED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn refused(list: &str, argv: &str) -> Option<String> {
        let args: Vec<OsString> = argv.split_whitespace().map(OsString::from).collect();
        match Options::parse_for_module(&args, &Refusals::for_module(list)) {
            Ok(_) => None,
            Err(e) if e.0.exit_code == 4 => Some(e.0.message),
            Err(e) => panic!("{list:?} {argv:?}: {}", e.0.message),
        }
    }

    #[test]
    fn table() {
        // (refuse options, server argv, the refusal named)
        let r = "The server is configured to refuse ";
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("delete", "--server -r --delete . m/", Some("--delete")),
            ("delete", "--server -r . m/ --delete", Some("--delete")),
            (
                "delete",
                "--server -r --delete-during . m/",
                Some("--delete"),
            ),
            (
                "delete",
                "--server -r . m/ --delete-after",
                Some("--delete"),
            ),
            (
                "delete",
                "--server -r --delete-excluded . m/",
                Some("--delete"),
            ),
            (
                "delete",
                "--server -r --delete-missing-args . m/",
                Some("--delete"),
            ),
            ("delete", "--server -r . m/", None),
            (
                "delete-*",
                "--server -r --delete . m/",
                Some("--delete-before"),
            ),
            (
                "delete-*",
                "--server -r --delete-during . m/",
                Some("--delete-during"),
            ),
            (
                "delete-* !delete-during",
                "--server -r --delete-during . m/",
                None,
            ),
            (
                "delete-* !delete-during",
                "--server -r --delete-after . m/",
                Some("--delete-after"),
            ),
            ("delete-during", "--server -r . m/ --del", Some("--del")),
            (
                "del",
                "--server -r . m/ --delete-during",
                Some("--delete-during"),
            ),
            ("c", "--server -rce.iLsfxCIvu . m/", Some("--checksum (-c)")),
            ("checksum", "--server -r . m/ -c", Some("--checksum (-c)")),
            (
                "checksum*",
                "--server -r . m/ --checksum-choice=md5",
                Some("--checksum-choice"),
            ),
            ("* !a !v", "--server -vlogDtpre.iLsfxCIvu . m/", None),
            (
                "* !a !v",
                "--server -vlogDtprze.iLsfxCIvu . m/",
                Some("--compress (-z)"),
            ),
            ("*", "--server --sender -ne.iLsfxCIvu . m/", None),
            (
                "* dry-run",
                "--server --sender -ne.iLsfxCIvu . m/",
                Some("--dry-run (-n)"),
            ),
            (
                "t",
                "--server -logDtpre.iLsfxCIvu . m/",
                Some("--times (-t)"),
            ),
            ("a", "--server -re.iLsfxCIvu . m/", Some("--recursive (-r)")),
            (
                "compress",
                "--server -r . m/ --zc=zlib",
                Some("--compress (-z)"),
            ),
            (
                "compress",
                "--server -r . m/ --compress-level=1",
                Some("--compress (-z)"),
            ),
            ("compress-threads", "--server -r . m/ --zt=4", Some("--zt")),
            (
                "zt",
                "--server -r . m/ --compress-threads=4",
                Some("--compress-threads"),
            ),
            ("", "--server -r . m/ --log-file=/tmp/x", Some("--log-file")),
            (
                "",
                "--server -r . m/ --copy-devices",
                Some("--copy-devices"),
            ),
            (
                "delete",
                "--server --sender -r . m/ --remove-source-files",
                Some("--delete"),
            ),
            ("delete", "--server -r . m/ --remove-source-files", None),
            ("partial", "--server -rP . m/", Some("--partial")),
            ("inplace", "--server -r --append . m/", Some("--inplace")),
            (
                "no-i-r",
                "--server -r --no-inc-recursive . m/",
                Some("--no-inc-recursive"),
            ),
            (
                "",
                "--server --sender -e.LsfxCIu --zc=zstd --compress-threads=256 . m/",
                None,
            ),
        ];
        for (list, argv, want) in cases {
            let want = want.map(|w| format!("{r}{w}"));
            assert_eq!(refused(list, argv), want, "{list:?} {argv:?}");
        }
    }

    #[test]
    fn bare_delete_moves_to_before_when_during_is_refused() {
        let args: Vec<OsString> = "--server -r --delete . m/"
            .split_whitespace()
            .map(OsString::from)
            .collect();
        let o = Options::parse_for_module(&args, &Refusals::for_module("delete-during"))
            .expect("accepted");
        assert_eq!(o.delete, DeleteMode::Before);
        let both = Refusals::for_module("delete-during delete-before");
        let e = Options::parse_for_module(&args, &both).expect_err("refused");
        assert!(
            e.0.message.ends_with("refuse --delete-before"),
            "{}",
            e.0.message
        );
    }

    #[test]
    fn what_was_parsed_before_the_refusal_comes_back() {
        // The client info after `e` was never read (upstream's popt stops
        // at the refused letter), so no negotiation strings are exchanged.
        let args: Vec<OsString> = "--server --sender -vlogDtprze.iLsfxCIvu . m/"
            .split_whitespace()
            .map(OsString::from)
            .collect();
        let failed = Options::parse_for_module(&args, &Refusals::for_module("compress"))
            .expect_err("refused");
        let partial = &failed.1;
        assert!(partial.sender && partial.recursive && !partial.compress);
        assert_eq!(partial.rsh, None);
    }
}
