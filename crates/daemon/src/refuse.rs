//! `refuse options`: which of the client's options the module refuses.
//! Patterns are option names (long or one letter) or wildcards, `!` negates,
//! the last matching pattern decides; a few vital options are never matched
//! by a wildcard; refusing `a`/`archive` by name refuses what it implies and
//! refusing `delete` refuses every delete mode (they imply it) and, on a
//! sending module, `--remove-source-files`.
use crate::wild::{has_wildcard, wildmatch};

/// Long option names with their short letter (upstream long_options).
#[rustfmt::skip]
const OPTIONS: &[(&str, Option<char>)] = &[
    ("verbose", Some('v')), ("quiet", Some('q')), ("archive", Some('a')), ("recursive", Some('r')),
    ("dirs", Some('d')), ("links", Some('l')), ("perms", Some('p')), ("times", Some('t')),
    ("group", Some('g')), ("owner", Some('o')), ("devices", None), ("specials", None),
    ("dry-run", Some('n')), ("checksum", Some('c')), ("whole-file", Some('W')),
    ("ignore-times", Some('I')), ("itemize-changes", Some('i')), ("compress", Some('z')),
    ("hard-links", Some('H')), ("acls", Some('A')), ("xattrs", Some('X')), ("executability", Some('E')),
    ("atimes", Some('U')), ("crtimes", Some('N')), ("omit-dir-times", Some('O')),
    ("omit-link-times", Some('J')), ("copy-links", Some('L')), ("copy-dirlinks", Some('k')),
    ("keep-dirlinks", Some('K')), ("relative", Some('R')), ("one-file-system", Some('x')),
    ("update", Some('u')), ("sparse", Some('S')), ("fuzzy", Some('y')), ("backup", Some('b')),
    ("prune-empty-dirs", Some('m')), ("block-size", Some('B')), ("rsh", Some('e')),
    ("temp-dir", Some('T')), ("secluded-args", Some('s')), ("protect-args", None), ("from0", Some('0')),
    ("delete", None), ("delete-before", None), ("delete-during", None), ("delete-delay", None),
    ("delete-after", None), ("delete-excluded", None), ("delete-missing-args", None), ("del", None),
    ("remove-source-files", None), ("size-only", None), ("stats", None), ("numeric-ids", None),
    ("checksum-choice", None), ("checksum-seed", None), ("log-format", None), ("server", None),
    ("sender", None), ("partial", None), ("partial-dir", None), ("inplace", None), ("append", None),
    ("existing", None), ("ignore-existing", None), ("max-delete", None), ("max-size", None),
    ("min-size", None), ("timeout", None), ("bwlimit", None), ("compare-dest", None),
    ("copy-dest", None), ("link-dest", None), ("files-from", None), ("iconv", None),
    ("no-iconv", None), ("force", None), ("ignore-errors", None), ("safe-links", None),
    ("copy-unsafe-links", None), ("munge-links", None), ("fake-super", None), ("super", None),
    ("chmod", None), ("delay-updates", None), ("compress-level", None), ("compress-choice", None),
    ("copy-devices", None), ("write-devices", None), ("log-file", None), ("log-file-format", None),
    ("backup-dir", None), ("suffix", None), ("filter", Some('f')), ("exclude", None), ("include", None),
    ("open-noatime", None), ("preallocate", None), ("fsync", None), ("mkpath", None),
    ("old-compress", None), ("new-compress", None), ("list-only", None), ("no-specials", None),
    ("no-devices", None), ("stop-at", None), ("time-limit", None), ("stop-after", None),
];

/// Options a wildcard never refuses (they must be named exactly).
const VITAL: &[&str] = &[
    "server",
    "sender",
    "rsh",
    "dry-run",
    "secluded-args",
    "protect-args",
    "from0",
    "log-format",
    "checksum-seed",
    "iconv",
    "no-iconv",
];

/// What `--archive` implies.
const ARCHIVE_IMPLIES: &[&str] = &[
    "recursive",
    "dirs",
    "links",
    "perms",
    "times",
    "group",
    "owner",
    "devices",
    "specials",
];

/// Option names that imply `--delete`.
const DELETE_FAMILY: &[&str] = &[
    "delete",
    "del",
    "delete-before",
    "delete-during",
    "delete-delay",
    "delete-after",
    "delete-excluded",
    "delete-missing-args",
];

/// The long name for a short letter.
fn long_of(letter: char) -> Option<&'static str> {
    OPTIONS
        .iter()
        .find(|(_, s)| *s == Some(letter))
        .map(|(l, _)| *l)
}

/// A module's compiled `refuse options`.
#[derive(Debug, Clone, Default)]
pub struct Refusals {
    patterns: Vec<(bool, String)>,
}

impl Refusals {
    /// Parses the space-separated list.
    // upstream: options.c:set_refuse_options()
    pub fn new(list: &str) -> Refusals {
        let patterns = list
            .split_whitespace()
            .map(|t| match t.strip_prefix('!') {
                Some(rest) => (true, rest.to_string()),
                None => (false, t.to_string()),
            })
            .collect();
        Refusals { patterns }
    }

    /// Whether the long option `name` is refused.
    pub fn refuses(&self, name: &str) -> bool {
        let short = OPTIONS
            .iter()
            .find(|(l, _)| *l == name)
            .and_then(|(_, s)| *s);
        let mut refused = false;
        for (negated, pat) in &self.patterns {
            let exact = pat == name
                || (pat.chars().count() == 1 && short.is_some_and(|s| pat.starts_with(s)));
            let implied_archive =
                (pat == "a" || pat == "archive") && ARCHIVE_IMPLIES.contains(&name);
            let implied_delete = pat == "delete" && DELETE_FAMILY.contains(&name);
            let wild = has_wildcard(pat) && !VITAL.contains(&name) && wildmatch(pat, name);
            if exact || implied_archive || implied_delete || wild {
                refused = !negated;
            }
        }
        refused
    }

    /// The first refused option among those the client sent (`args`, the
    /// argv after `@RSYNCD: OK`), as upstream's message names it
    /// (`--name`, or `-x` for a letter without a long name).
    // upstream: options.c:create_refuse_error()
    pub fn first_refused(&self, args: &[String], daemon_sends: bool) -> Option<String> {
        for name in sent_options(args) {
            let by_delete = daemon_sends && name == "remove-source-files" && self.refuses("delete");
            if self.refuses(&name) || by_delete {
                return Some(format!("--{name}"));
            }
        }
        None
    }
}

/// The long names of the options in a client's argv, up to the first
/// non-option (the `.`): bundled letters are expanded (`-D` is devices and
/// specials; a value-taking `e` or `B` ends its bundle).
pub fn sent_options(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        if a == "--" || !a.starts_with('-') || a == "-" {
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or(long);
            out.push(name.to_string());
            continue;
        }
        for c in a[1..].chars() {
            match c {
                'D' => {
                    out.push("devices".into());
                    out.push("specials".into());
                }
                'P' => {
                    out.push("partial".into());
                    out.push("progress".into());
                }
                _ => match long_of(c) {
                    Some(l) => out.push(l.to_string()),
                    None => out.push(c.to_string()),
                },
            }
            if c == 'e' || c == 'B' {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn table() {
        // (refuse options, option name, refused?)
        let cases = [
            ("delete", "delete", true),
            ("delete", "delete-during", true),
            ("delete", "delete-after", true),
            ("delete-*", "delete", false),
            ("delete-*", "delete-during", true),
            ("delete-* !delete-during", "delete-during", false),
            ("delete-* !delete-during", "delete-after", true),
            ("c", "checksum", true),
            ("checksum", "checksum", true),
            ("* !a !v", "verbose", false),
            ("* !a !v", "times", false),
            ("* !a !v", "compress", true),
            ("*", "server", false),
            ("*", "dry-run", false),
            ("* dry-run", "dry-run", true),
            ("a", "perms", true),
            ("archive*", "perms", false),
            ("* !a !delete* delete-after", "delete-after", true),
            ("* !a !delete* delete-after", "delete-during", false),
            ("", "delete", false),
        ];
        for (list, name, want) in cases {
            assert_eq!(Refusals::new(list).refuses(name), want, "{list:?} {name}");
        }
    }

    #[test]
    fn from_client_args() {
        assert_eq!(
            sent_options(&args("--server -logDtpre.iLsfxCIvu --delete-during . mod/")),
            [
                "server",
                "links",
                "owner",
                "group",
                "devices",
                "specials",
                "times",
                "perms",
                "recursive",
                "rsh",
                "delete-during"
            ]
        );
        let r = Refusals::new("delete");
        assert_eq!(
            r.first_refused(&args("--server -re.iLsfxCIvu --delete . m/"), false)
                .as_deref(),
            Some("--delete")
        );
        assert_eq!(
            r.first_refused(&args("--server -re.iLsfxCIvu . m/"), false),
            None
        );
        assert_eq!(
            r.first_refused(
                &args("--server --sender -re.i --remove-source-files . m/"),
                true
            )
            .as_deref(),
            Some("--remove-source-files")
        );
        assert_eq!(
            Refusals::new("t")
                .first_refused(&args("--server -rte.i . m/"), false)
                .as_deref(),
            Some("--times")
        );
    }
}
