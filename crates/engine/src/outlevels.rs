//! `--info=FLAGS` and `--debug=FLAGS`: the output flags, their levels, the
//! levels each `-v` adds, the `help` text and the `--info=`/`--debug=`
//! words a client forwards to its server (upstream options.c output
//! flags).

/// Where a flag matters: client, server, sending side, receiving side.
pub const W_CLI: u8 = 1;
/// Server side.
pub const W_SRV: u8 = 2;
/// Sending side.
pub const W_SND: u8 = 4;
/// Receiving side.
pub const W_REC: u8 = 8;

/// The highest level a flag takes (`flagN`).
pub const MAX_LEVEL: u8 = 4;

/// The info flags: name, where, help (upstream's order, which the help
/// text and the forwarded option keep).
#[rustfmt::skip]
pub const INFO_WORDS: &[(&str, u8, &str)] = &[
    ("BACKUP", W_REC, "Mention files backed up"),
    ("COPY", W_REC, "Mention files copied locally on the receiving side"),
    ("DEL", W_REC, "Mention deletions on the receiving side"),
    ("FLIST", W_CLI, "Mention file-list receiving/sending (levels 1-2)"),
    ("MISC", W_SND | W_REC, "Mention miscellaneous information (levels 1-2)"),
    ("MOUNT", W_SND | W_REC, "Mention mounts that were found or skipped"),
    ("NAME", W_SND | W_REC, "Mention 1) updated file/dir names, 2) unchanged names"),
    ("NONREG", W_REC, "Mention skipped non-regular files (default 1, 0 disables)"),
    ("PROGRESS", W_CLI, "Mention 1) per-file progress or 2) total transfer progress"),
    ("REMOVE", W_SND, "Mention files removed on the sending side"),
    ("SKIP", W_REC, "Mention files skipped due to transfer overrides (levels 1-2)"),
    ("STATS", W_CLI | W_SRV, "Mention statistics at end of run (levels 1-3)"),
    ("SYMSAFE", W_SND | W_REC, "Mention symlinks that are unsafe"),
];

/// The debug flags (accepted and forwarded; oxsync prints little for them).
#[rustfmt::skip]
pub const DEBUG_WORDS: &[(&str, u8, &str)] = &[
    ("ACL", W_SND | W_REC, "Debug extra ACL info"),
    ("BACKUP", W_REC, "Debug backup actions (levels 1-2)"),
    ("BIND", W_CLI, "Debug socket bind actions"),
    ("CHDIR", W_CLI | W_SRV, "Debug when the current directory changes"),
    ("CONNECT", W_CLI, "Debug connection events (levels 1-2)"),
    ("CMD", W_CLI, "Debug commands+options that are issued (levels 1-2)"),
    ("DEL", W_REC, "Debug delete actions (levels 1-3)"),
    ("DELTASUM", W_SND | W_REC, "Debug delta-transfer checksumming (levels 1-4)"),
    ("DUP", W_REC, "Debug weeding of duplicate names"),
    ("EXIT", W_CLI | W_SRV, "Debug exit events (levels 1-3)"),
    ("FILTER", W_SND | W_REC, "Debug filter actions (levels 1-3)"),
    ("FLIST", W_SND | W_REC, "Debug file-list operations (levels 1-4)"),
    ("FUZZY", W_REC, "Debug fuzzy scoring (levels 1-2)"),
    ("GENR", W_REC, "Debug generator functions"),
    ("HASH", W_SND | W_REC, "Debug hashtable code"),
    ("HLINK", W_SND | W_REC, "Debug hard-link actions (levels 1-3)"),
    ("ICONV", W_CLI | W_SRV, "Debug iconv character conversions (levels 1-2)"),
    ("IO", W_CLI | W_SRV, "Debug I/O routines (levels 1-4)"),
    ("NSTR", W_CLI | W_SRV, "Debug negotiation strings"),
    ("OWN", W_REC, "Debug ownership changes in users & groups (levels 1-2)"),
    ("PROTO", W_CLI | W_SRV, "Debug protocol information"),
    ("RECV", W_REC, "Debug receiver functions"),
    ("SEND", W_SND, "Debug sender functions"),
    ("TIME", W_REC, "Debug setting of modified times (levels 1-2)"),
];

/// The info flags each `-v` level adds.
const INFO_VERBOSITY: [&str; 6] = [
    "NONREG",
    "COPY,DEL,FLIST,MISC,NAME,STATS,SYMSAFE",
    "BACKUP,MISC2,MOUNT,NAME2,REMOVE,SKIP",
    "",
    "",
    "",
];

/// The debug flags each `-v` level adds.
const DEBUG_VERBOSITY: [&str; 6] = [
    "",
    "",
    "BIND,CMD,CONNECT,DEL,DELTASUM,DUP,FILTER,FLIST,ICONV",
    "ACL,BACKUP,CONNECT2,DELTASUM2,DEL2,EXIT,FILTER2,FLIST2,FUZZY,GENR,OWN,RECV,SEND,TIME",
    "CMD2,DELTASUM3,DEL3,EXIT2,FLIST3,ICONV2,OWN2,PROTO,TIME2",
    "CHDIR,DELTASUM4,FLIST4,FUZZY2,HASH,HLINK",
];

/// Implied (by -v, --stats, --progress) rather than asked for.
const DEFAULT_PRIORITY: u8 = 0;
const HELP_PRIORITY: u8 = 1;
/// Asked for with --info / --debug.
pub const USER_PRIORITY: u8 = 2;

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// --info
    Info,
    /// --debug
    Debug,
}

impl Kind {
    fn words(self) -> &'static [(&'static str, u8, &'static str)] {
        match self {
            Kind::Info => INFO_WORDS,
            Kind::Debug => DEBUG_WORDS,
        }
    }
    fn option(self) -> &'static str {
        match self {
            Kind::Info => "--info",
            Kind::Debug => "--debug",
        }
    }
}

/// The levels of one table, with the priority that set each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    kind: Kind,
    levels: Vec<u8>,
    priority: Vec<u8>,
}

/// What parsing a flag list asks for besides levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WordsError {
    /// `help`: print this text and exit 0.
    Help(String),
    /// An unknown word (the message upstream prints; exit 1).
    Unknown(String),
}

impl Levels {
    /// All levels 0.
    pub fn new(kind: Kind) -> Levels {
        let n = kind.words().len();
        Levels {
            kind,
            levels: vec![0; n],
            priority: vec![DEFAULT_PRIORITY; n],
        }
    }

    /// The level of `name` (upper case).
    pub fn get(&self, name: &str) -> u8 {
        self.kind
            .words()
            .iter()
            .position(|w| w.0 == name)
            .map_or(0, |j| self.levels[j])
    }

    /// Sets `name` to `level` when nothing with a higher priority set it.
    pub fn set_default(&mut self, name: &str, level: u8) {
        let _ = self.parse(&format!("{name}{level}"), DEFAULT_PRIORITY, true);
    }

    /// Parses a comma-separated list (`name`, `nameN`, `all`, `allN`,
    /// `none`, `help`). `server`: unknown words are ignored, as upstream.
    // upstream: options.c:parse_output_words()
    pub fn parse(&mut self, list: &str, priority: u8, server: bool) -> Result<(), WordsError> {
        let words = self.kind.words();
        for item in list.split(',').filter(|s| !s.is_empty()) {
            let digits_at = if item.starts_with(|c: char| c.is_ascii_digit()) {
                item.len()
            } else {
                item.trim_end_matches(|c: char| c.is_ascii_digit()).len()
            };
            let (mut name, num) = item.split_at(digits_at);
            let mut level = if num.is_empty() {
                1
            } else {
                num.parse::<u32>()
                    .map_or(MAX_LEVEL, |n| n.min(u32::from(MAX_LEVEL)) as u8)
            };
            if name.eq_ignore_ascii_case("help") {
                return Err(WordsError::Help(self.help_text()));
            }
            if name.eq_ignore_ascii_case("none") {
                name = "";
                level = 0;
            } else if name.eq_ignore_ascii_case("all") {
                name = "";
            }
            let mut found = false;
            for (j, w) in words.iter().enumerate() {
                if name.is_empty() || w.0.eq_ignore_ascii_case(name) {
                    if priority >= self.priority[j] {
                        self.priority[j] = priority;
                        self.levels[j] = level;
                    }
                    found = true;
                    if !name.is_empty() {
                        break;
                    }
                }
            }
            if !found && !server {
                let help = self.kind.option();
                return Err(WordsError::Unknown(format!(
                    "Unknown {help} item: \"{name}\""
                )));
            }
        }
        Ok(())
    }

    /// Adds the flags the `-v` count implies (at default priority).
    // upstream: options.c:set_output_verbosity()
    pub fn set_verbosity(&mut self, verbose: u8) {
        let table = match self.kind {
            Kind::Info => INFO_VERBOSITY,
            Kind::Debug => DEBUG_VERBOSITY,
        };
        for list in table.iter().take(usize::from(verbose.min(5)) + 1) {
            let _ = self.parse(list, DEFAULT_PRIORITY, true);
        }
    }

    /// The `--info=`/`--debug=` word the client forwards for the flags the
    /// user set that matter in `place` (W_* bits), or None.
    // upstream: options.c:make_output_option()
    pub fn server_option(&self, place: u8) -> Option<String> {
        self.make_option(place, USER_PRIORITY)
    }

    fn make_option(&self, place: u8, min_priority: u8) -> Option<String> {
        let words = self.kind.words();
        let mut counts = [0usize; MAX_LEVEL as usize + 1];
        let (mut skipped, mut any) = (false, false);
        let (mut max, mut lev) = (0, 0usize);
        for (j, w) in words.iter().enumerate() {
            if w.1 & place == 0 {
                continue;
            }
            if self.priority[j] < min_priority {
                skipped = true;
                continue;
            }
            any = true;
            if self.priority[j] == HELP_PRIORITY {
                continue;
            }
            let l = usize::from(self.levels[j]);
            counts[l] += 1;
            if counts[l] > max {
                lev = l;
                max = counts[l];
            }
        }
        if !any {
            return None;
        }
        let mut parts: Vec<String> = Vec::new();
        let collapse = !(skipped || max < 5);
        if collapse {
            parts.push(match lev {
                0 => "NONE".to_string(),
                1 => "ALL".to_string(),
                l => format!("ALL{l}"),
            });
        }
        for (j, w) in words.iter().enumerate() {
            if self.priority[j] < min_priority
                || w.1 & place == 0
                || (collapse && usize::from(self.levels[j]) == lev)
            {
                continue;
            }
            if self.levels[j] == 1 {
                parts.push(w.0.to_string());
            } else {
                parts.push(format!("{}{}", w.0, self.levels[j]));
            }
        }
        if parts.is_empty() {
            return None;
        }
        Some(format!("{}={}", self.kind.option(), parts.join(",")))
    }

    /// The text `--info=help` / `--debug=help` prints.
    // upstream: options.c:output_item_help()
    pub fn help_text(&self) -> String {
        let words = self.kind.words();
        let opt = self.kind.option();
        let mut s = String::from(
            "Use OPT or OPT1 for level 1 output, OPT2 for level 2, etc.; OPT0 silences.\n\n",
        );
        for w in words {
            s.push_str(&format!("{:<10} {}\n", w.0, w.2));
        }
        s.push('\n');
        s.push_str(&format!(
            "{:<10} Set all {opt} options (e.g. all{MAX_LEVEL})\n",
            "ALL"
        ));
        s.push_str(&format!(
            "{:<10} Silence all {opt} options (same as all0)\n",
            "NONE"
        ));
        s.push_str(&format!("{:<10} Output this help message\n\n", "HELP"));
        s.push_str("Options added at each level of verbosity:\n");
        let table = match self.kind {
            Kind::Info => INFO_VERBOSITY,
            Kind::Debug => DEBUG_VERBOSITY,
        };
        for (v, list) in table.iter().enumerate() {
            let mut l = Levels::new(self.kind);
            let _ = l.parse(list, HELP_PRIORITY, true);
            if let Some(o) = l.make_option(W_CLI | W_SRV | W_SND | W_REC, HELP_PRIORITY) {
                s.push_str(&format!("{v}) {}\n", &o[opt.len() + 1..]));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_verbosity() {
        let mut l = Levels::new(Kind::Info);
        l.set_verbosity(1);
        assert_eq!(l.get("NAME"), 1);
        assert_eq!(l.get("NONREG"), 1);
        assert_eq!(l.get("SKIP"), 0);
        l.parse("name0,progress2", USER_PRIORITY, false).unwrap();
        l.set_verbosity(2);
        assert_eq!(l.get("NAME"), 0, "the user's word wins over -v");
        assert_eq!(l.get("PROGRESS"), 2);
        assert_eq!(l.get("SKIP"), 1);
        assert!(matches!(
            l.parse("bogus", USER_PRIORITY, false),
            Err(WordsError::Unknown(m)) if m == "Unknown --info item: \"bogus\""
        ));
        assert!(l.parse("bogus", USER_PRIORITY, true).is_ok());
    }

    #[test]
    fn forwarded_words() {
        let mut l = Levels::new(Kind::Info);
        l.set_verbosity(1);
        assert_eq!(l.server_option(W_SRV | W_SND), None);
        l.parse("del2,name0,stats", USER_PRIORITY, false).unwrap();
        assert_eq!(
            l.server_option(W_SRV | W_REC).as_deref(),
            Some("--info=DEL2,NAME0,STATS")
        );
        let mut all = Levels::new(Kind::Debug);
        all.parse("all2", USER_PRIORITY, false).unwrap();
        assert!(all
            .server_option(W_SRV | W_REC)
            .unwrap()
            .starts_with("--debug=ALL2"));
    }

    #[test]
    fn help_matches_upstream_shape() {
        let h = Levels::new(Kind::Debug).help_text();
        assert!(h.contains("\n2) BIND,CONNECT,CMD,DEL,DELTASUM,DUP,FILTER,FLIST,ICONV\n"));
        let i = Levels::new(Kind::Info).help_text();
        assert!(i.contains("\n0) NONREG\n1) COPY,DEL,FLIST,MISC,NAME,STATS,SYMSAFE\n"));
        assert!(i.contains("PROGRESS   Mention 1) per-file progress"));
    }
}
