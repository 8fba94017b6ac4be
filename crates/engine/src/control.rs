//! The transfer-control and output options: `--info`, `--debug`,
//! `--msgs2stderr`/`--stderr`, `-h`, `-8`, `--list-only`, `-s`/
//! `--secluded-args`, `--old-args`, `--bwlimit`, `--timeout`,
//! `--max-alloc`, `--log-file`, `--log-file-format` (upstream options.c).
//! Kept apart from the main option table so that their parsing, their
//! derived levels and their server words live in one place.
use crate::options::OptionError;
use crate::outlevels::{Kind, Levels, WordsError, USER_PRIORITY, W_CLI, W_REC, W_SND, W_SRV};

/// upstream DEFAULT_MAX_ALLOC: 1 GiB.
pub const DEFAULT_MAX_ALLOC: u64 = 1 << 30;

/// The info levels in effect (after `-v`, `--stats`, `--progress`,
/// `--info`); each field is the level of the upper-case flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct InfoLevels {
    pub backup: u8,
    pub copy: u8,
    pub del: u8,
    pub flist: u8,
    pub misc: u8,
    pub mount: u8,
    pub name: u8,
    pub nonreg: u8,
    pub progress: u8,
    pub remove: u8,
    pub skip: u8,
    pub stats: u8,
    pub symsafe: u8,
}

impl InfoLevels {
    fn from_levels(l: &Levels) -> InfoLevels {
        InfoLevels {
            backup: l.get("BACKUP"),
            copy: l.get("COPY"),
            del: l.get("DEL"),
            flist: l.get("FLIST"),
            misc: l.get("MISC"),
            mount: l.get("MOUNT"),
            name: l.get("NAME"),
            nonreg: l.get("NONREG"),
            progress: l.get("PROGRESS"),
            remove: l.get("REMOVE"),
            skip: l.get("SKIP"),
            stats: l.get("STATS"),
            symsafe: l.get("SYMSAFE"),
        }
    }
}

/// The debug levels oxsync prints something for (after `-v` and
/// `--debug`); each field is the level of the upper-case flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DebugLevels {
    /// DELTASUM: the sender's delta-search counters.
    pub deltasum: u8,
    /// FUZZY: the fuzzy basis choice (2: each candidate's score).
    pub fuzzy: u8,
    /// NSTR: the negotiated checksum and compression names.
    pub nstr: u8,
}

/// The parsed control options. Equality ignores `info`, which is derived
/// from the options (and is filled in only at the end of parsing).
#[derive(Debug, Clone)]
pub struct Control {
    /// `--list-only`: 2 when given, 1 when implied by a single argument.
    pub list_only: u8,
    /// The `--info` values, in order.
    pub info_words: Vec<String>,
    /// The `--debug` values, in order.
    pub debug_words: Vec<String>,
    /// The info levels in effect (computed after parsing).
    pub info: InfoLevels,
    /// The FILTER debug level in effect (computed after parsing).
    pub debug_filter: u8,
    /// The debug levels in effect (computed after parsing).
    pub debug: DebugLevels,
    /// The text `--info=help` / `--debug=help` asks for (print it, exit 0).
    pub help_text: Option<String>,
    /// upstream human_readable: 0 plain digits, 1 (default) digit
    /// groups, 2 (-h) units of 1000, 3 (-hh) units of 1024.
    pub human_readable: u8,
    /// `-8`: high-bit characters are output as they are.
    pub eight_bit: bool,
    /// upstream msgs2stderr: 0 client, 1 all, 2 errors (the default).
    pub msgs2stderr: u8,
    /// `--bwlimit` in KiB per second (0: none).
    pub bwlimit: u64,
    /// `--timeout` in seconds (0: none).
    pub timeout: u32,
    /// `--max-alloc` as given and its value in bytes.
    pub max_alloc: Option<(String, u64)>,
    /// `--log-file=FILE`.
    pub log_file: Option<String>,
    /// `--log-file-format=FMT`.
    pub log_file_format: Option<String>,
    /// `--stats-json=FILE` (oxsync's own): the statistics as JSON, `-`
    /// for stdout.
    pub stats_json: Option<String>,
    /// `-s` / `--secluded-args` / `--protect-args` (None: not said).
    pub protect_args: Option<bool>,
    /// `--old-args` count (0: off).
    pub old_args: u8,
    /// `--old-args` or `--no-old-args` was given.
    pub old_args_set: bool,
}

impl PartialEq for Control {
    fn eq(&self, o: &Control) -> bool {
        let key = |c: &Control| {
            (
                c.list_only,
                c.info_words.clone(),
                c.debug_words.clone(),
                c.help_text.clone(),
                (
                    c.human_readable,
                    c.eight_bit,
                    c.msgs2stderr,
                    c.bwlimit,
                    c.timeout,
                ),
                c.max_alloc.clone(),
                (c.log_file.clone(), c.log_file_format.clone()),
                (c.protect_args, c.old_args, c.old_args_set),
            )
        };
        key(self) == key(o)
    }
}

impl Eq for Control {}

impl Default for Control {
    fn default() -> Control {
        Control {
            list_only: 0,
            info_words: Vec::new(),
            debug_words: Vec::new(),
            info: InfoLevels::default(),
            debug_filter: 0,
            debug: DebugLevels::default(),
            help_text: None,
            human_readable: 1,
            eight_bit: false,
            msgs2stderr: 2,
            bwlimit: 0,
            timeout: 0,
            max_alloc: None,
            log_file: None,
            log_file_format: None,
            stats_json: None,
            protect_args: None,
            old_args: 0,
            old_args_set: false,
        }
    }
}

/// What a control option does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CAct {
    /// --list-only
    ListOnly,
    /// --info=
    Info,
    /// --debug=
    Debug,
    /// -h
    Human,
    /// --no-h
    NoHuman,
    /// -8 / --no-8
    EightBit(bool),
    /// --msgs2stderr / --no-msgs2stderr
    Msgs2Stderr(bool),
    /// --stderr=
    Stderr,
    /// --bwlimit=
    Bwlimit,
    /// --no-bwlimit
    NoBwlimit,
    /// --timeout=
    Timeout,
    /// --no-timeout
    NoTimeout,
    /// --max-alloc=
    MaxAlloc,
    /// --log-file=
    LogFile,
    /// --log-file-format=
    LogFileFormat,
    /// --stats-json=
    StatsJson,
    /// -s and its long names, and their negations
    Protect(bool),
    /// --old-args
    OldArgs,
    /// --no-old-args
    NoOldArgs,
}

impl CAct {
    /// The option takes a value.
    pub fn takes_value(self) -> bool {
        matches!(
            self,
            CAct::Info
                | CAct::Debug
                | CAct::Stderr
                | CAct::Bwlimit
                | CAct::Timeout
                | CAct::MaxAlloc
                | CAct::LogFile
                | CAct::LogFileFormat
                | CAct::StatsJson
        )
    }
}

#[rustfmt::skip]
pub(crate) const TABLE: &[(&str, Option<char>, CAct)] = &[
    ("list-only", None, CAct::ListOnly), ("info", None, CAct::Info), ("debug", None, CAct::Debug),
    ("human-readable", Some('h'), CAct::Human), ("no-human-readable", None, CAct::NoHuman),
    ("no-h", None, CAct::NoHuman), ("8-bit-output", Some('8'), CAct::EightBit(true)),
    ("no-8-bit-output", None, CAct::EightBit(false)), ("no-8", None, CAct::EightBit(false)),
    ("msgs2stderr", None, CAct::Msgs2Stderr(true)),
    ("no-msgs2stderr", None, CAct::Msgs2Stderr(false)), ("stderr", None, CAct::Stderr),
    ("bwlimit", None, CAct::Bwlimit), ("no-bwlimit", None, CAct::NoBwlimit),
    ("timeout", None, CAct::Timeout), ("no-timeout", None, CAct::NoTimeout),
    ("max-alloc", None, CAct::MaxAlloc), ("log-file", None, CAct::LogFile),
    ("log-file-format", None, CAct::LogFileFormat), ("stats-json", None, CAct::StatsJson),
    ("secluded-args", Some('s'), CAct::Protect(true)), ("protect-args", None, CAct::Protect(true)),
    ("no-secluded-args", None, CAct::Protect(false)), ("no-protect-args", None, CAct::Protect(false)),
    ("no-s", None, CAct::Protect(false)), ("old-args", None, CAct::OldArgs),
    ("no-old-args", None, CAct::NoOldArgs),
];

/// The control option with this long name, if it is one.
pub fn long(name: &str) -> Option<CAct> {
    TABLE.iter().find(|t| t.0 == name).map(|t| t.2)
}

/// The control option with this short letter, if it is one.
pub fn short(letter: char) -> Option<CAct> {
    TABLE.iter().find(|t| t.1 == Some(letter)).map(|t| t.2)
}

/// upstream do_big_num(n, 3, ...) for the limits in size errors: "512",
/// "1.00M".
fn big_num_units(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2}{}", UNITS[u])
}

/// Parses a size with units (upstream parse_size_arg): digits with an
/// optional fraction, a unit (`def_unit` when absent: b, k, m, g, t, p),
/// "b" for powers of 1000 or "ib" for 1024, an optional "+1"/"-1".
// upstream: options.c:parse_size_arg()
pub fn parse_size_arg(
    value: &str,
    def_unit: char,
    name: &str,
    min: u64,
    unlimited_0: bool,
) -> Result<u64, OptionError> {
    let fail = |err: &str, limit: Option<u64>| {
        let mut m = format!("--{name}={value} is {err}");
        if let Some(l) = limit {
            m.push_str(&format!(
                " (min: {}{})",
                big_num_units(l),
                if unlimited_0 {
                    " or 0 for unlimited"
                } else {
                    ""
                }
            ));
        }
        OptionError {
            message: m,
            exit_code: 1,
        }
    };
    let bytes = value.as_bytes();
    let mut at = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        at += bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
    }
    let num = &value[..at];
    let mut rest = &value[at..];
    let unit = match rest.chars().next() {
        Some(c) if c != '+' && c != '-' => {
            rest = &rest[c.len_utf8()..];
            c
        }
        _ => def_unit,
    };
    let reps = match unit.to_ascii_lowercase() {
        'b' => 0,
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        _ => return Err(fail("invalid", None)),
    };
    let mult: f64 = if let Some(r) = rest.strip_prefix(['b', 'B']) {
        rest = r;
        1000.0
    } else if rest.is_empty() || rest.starts_with(['+', '-']) {
        1024.0
    } else if rest.get(..2).is_some_and(|u| u.eq_ignore_ascii_case("ib")) {
        rest = &rest[2..];
        1024.0
    } else {
        return Err(fail("invalid", None));
    };
    let number: f64 = if num.is_empty() || num == "." {
        0.0
    } else {
        num.parse().map_err(|_| fail("invalid", None))?
    };
    let size_f = number * mult.powi(reps);
    if size_f >= (u64::MAX / 2) as f64 {
        return Err(fail("too large", None));
    }
    // Truncation is upstream's; the range is checked above.
    let mut size = size_f as u64;
    match rest {
        "" => {}
        "+1" if at > 0 => size += 1,
        "-1" if at > 0 => size = size.saturating_sub(1),
        _ => return Err(fail("invalid", None)),
    }
    if size < min && !(unlimited_0 && size == 0) {
        return Err(fail("too small", Some(min)));
    }
    Ok(size)
}

impl Control {
    /// Applies one control option.
    pub fn apply(&mut self, act: CAct, value: String, server: bool) -> Result<(), OptionError> {
        let syntax = |message: String| OptionError {
            message,
            exit_code: 1,
        };
        match act {
            CAct::ListOnly => self.list_only = 2,
            CAct::Info | CAct::Debug => {
                // Checked now (unknown words, help); applied in `finish`.
                let kind = if act == CAct::Info {
                    Kind::Info
                } else {
                    Kind::Debug
                };
                match Levels::new(kind).parse(&value, USER_PRIORITY, server) {
                    Ok(()) => {}
                    Err(WordsError::Help(text)) => {
                        if !server {
                            self.help_text = Some(text);
                        }
                    }
                    Err(WordsError::Unknown(m)) => return Err(syntax(m)),
                }
                if act == CAct::Info {
                    self.info_words.push(value);
                } else {
                    self.debug_words.push(value);
                }
            }
            CAct::Human => self.human_readable = self.human_readable.saturating_add(1).min(3),
            CAct::NoHuman => self.human_readable = 0,
            CAct::EightBit(on) => self.eight_bit = on,
            CAct::Msgs2Stderr(on) => self.msgs2stderr = u8::from(on),
            CAct::Stderr => {
                let is = |word: &str| !value.is_empty() && word.starts_with(value.as_str());
                self.msgs2stderr = if is("errors") {
                    2
                } else if is("all") {
                    1
                } else if is("client") {
                    0
                } else {
                    return Err(syntax(format!(
                        "--stderr mode \"{value}\" is not one of errors, all, or client"
                    )));
                };
            }
            CAct::Bwlimit => {
                let size = parse_size_arg(&value, 'K', "bwlimit", 512, true)?;
                self.bwlimit = size.saturating_add(512) / 1024;
            }
            CAct::NoBwlimit => self.bwlimit = 0,
            CAct::Timeout => {
                let secs: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| syntax(format!("--timeout={value}: invalid numeric value")))?;
                self.timeout = u32::try_from(secs.max(0)).unwrap_or(u32::MAX);
            }
            CAct::NoTimeout => self.timeout = 0,
            CAct::MaxAlloc => {
                let size = parse_size_arg(&value, 'B', "max-alloc", 1 << 20, true)?;
                if size == 0 {
                    return Err(syntax("max-alloc must be greater than zero".into()));
                }
                self.max_alloc = Some((value, size));
            }
            CAct::LogFile => self.log_file = Some(value),
            CAct::LogFileFormat => self.log_file_format = Some(value),
            CAct::StatsJson => self.stats_json = Some(value),
            CAct::Protect(on) => self.protect_args = Some(on),
            CAct::OldArgs => {
                self.old_args = self.old_args.saturating_add(1);
                self.old_args_set = true;
            }
            CAct::NoOldArgs => {
                self.old_args = 0;
                self.old_args_set = true;
            }
        }
        Ok(())
    }

    /// The closing checks and the derived info levels (`verbose`,
    /// `stats`, `progress`, whether names are logged before the transfer
    /// and whether the format itemizes).
    // upstream: options.c:parse_arguments() (tail)
    pub fn finish(
        &mut self,
        server: bool,
        verbose: u8,
        stats: bool,
        progress: bool,
        has_out_format: bool,
    ) -> Result<(), OptionError> {
        if !server {
            if !self.old_args_set {
                if let Some(v) = std::env::var("RSYNC_OLD_ARGS")
                    .ok()
                    .filter(|v| !v.is_empty())
                {
                    if self.protect_args != Some(true) {
                        self.old_args = v.trim().parse::<u8>().unwrap_or(0);
                        self.protect_args = Some(false);
                    }
                }
            } else if self.old_args > 0 && self.protect_args == Some(true) {
                return Err(OptionError {
                    message: "--secluded-args conflicts with --old-args.".into(),
                    exit_code: 1,
                });
            }
            if self.protect_args.is_none() {
                if let Some(v) = std::env::var("RSYNC_PROTECT_ARGS")
                    .ok()
                    .filter(|v| !v.is_empty())
                {
                    self.protect_args = Some(v.trim().parse::<i64>().unwrap_or(0) != 0);
                }
            }
            if self.max_alloc.is_none() {
                if let Some(v) = std::env::var("RSYNC_MAX_ALLOC")
                    .ok()
                    .filter(|v| !v.is_empty())
                {
                    self.apply(CAct::MaxAlloc, v, server)?;
                }
            }
        }
        let mut levels = Levels::new(Kind::Info);
        for w in &self.info_words {
            let _ = levels.parse(w, USER_PRIORITY, true);
        }
        levels.set_verbosity(verbose);
        if stats {
            levels.set_default("STATS", if verbose > 1 { 3 } else { 2 });
        }
        if progress && !server {
            // upstream: with --progress names come with the progress lines
            // unless an out-format already logs them.
            if !has_out_format && levels.get("NAME") == 0 {
                levels.set_default("NAME", 1);
            }
            levels.set_default("FLIST", 2);
            levels.set_default("PROGRESS", 1);
        }
        self.info = InfoLevels::from_levels(&levels);
        let mut debug = Levels::new(Kind::Debug);
        for w in &self.debug_words {
            let _ = debug.parse(w, USER_PRIORITY, true);
        }
        debug.set_verbosity(verbose);
        self.debug_filter = debug.get("FILTER");
        self.debug = DebugLevels {
            deltasum: debug.get("DELTASUM"),
            fuzzy: debug.get("FUZZY"),
            nstr: debug.get("NSTR"),
        };
        Ok(())
    }

    /// `--secluded-args` is in effect.
    pub fn protect(&self) -> bool {
        self.protect_args == Some(true)
    }

    /// The largest allocation a peer may drive (`--max-alloc`, else 1 GiB).
    pub fn max_alloc(&self) -> u64 {
        self.max_alloc.as_ref().map_or(DEFAULT_MAX_ALLOC, |m| m.1)
    }

    /// Lowers the `--max-alloc` bound to `limit` when it is higher (a
    /// daemon module's `max alloc`: a client may ask for less, not more).
    pub fn cap_max_alloc(&mut self, limit: u64) {
        if self.max_alloc() > limit {
            self.max_alloc = Some((limit.to_string(), limit));
        }
    }

    /// The control words for the server's argv, in upstream's order
    /// relative to each other (`--list-only`, `--msgs2stderr`, `--timeout`,
    /// `--bwlimit`, `--max-alloc`, `--info`, `--debug`).
    // upstream: options.c:server_options()
    pub fn server_args(&self, client_sender: bool, escape: impl Fn(&str) -> String) -> Vec<String> {
        let mut args = Vec::new();
        if self.list_only > 1 {
            args.push("--list-only".to_string());
        }
        match self.msgs2stderr {
            1 => args.push("--msgs2stderr".to_string()),
            0 => args.push("--no-msgs2stderr".to_string()),
            _ => {}
        }
        if self.timeout > 0 {
            args.push(format!("--timeout={}", self.timeout));
        }
        if self.bwlimit > 0 {
            args.push(format!("--bwlimit={}", self.bwlimit));
        }
        if let Some((arg, size)) = &self.max_alloc {
            if *size != DEFAULT_MAX_ALLOC {
                args.push(format!("--max-alloc={}", escape(arg)));
            }
        }
        let place = W_SRV | if client_sender { W_REC } else { W_SND };
        for (kind, words) in [
            (Kind::Info, &self.info_words),
            (Kind::Debug, &self.debug_words),
        ] {
            let mut l = Levels::new(kind);
            for w in words {
                let _ = l.parse(w, USER_PRIORITY, true);
            }
            if let Some(o) = l.server_option(place) {
                args.push(o);
            }
        }
        let _ = W_CLI | W_SND;
        args
    }
}

/// A number the way the summary and `--stats` print it at this
/// `human_readable` level: plain digits (0), digit groups (1), or units of
/// 1000 (2) or 1024 (3) above 1000 (upstream do_big_num with no fraction
/// digits; "1.23K" style with two).
// upstream: lib/compat.c:do_big_num()
pub fn big_num(n: u64, human: u8) -> String {
    if human > 1 {
        let mult = if human == 2 { 1000.0 } else { 1024.0 };
        let units = ['K', 'M', 'G', 'T', 'P'];
        if n as f64 >= mult {
            let mut v = n as f64 / mult;
            let mut u = 0;
            while v >= mult && u < units.len() - 1 {
                v /= mult;
                u += 1;
            }
            return format!("{v:.2}{}", units[u]);
        }
        return n.to_string();
    }
    if human == 0 {
        return n.to_string();
    }
    crate::stats::comma(n)
}

/// Whether the locale's character set is UTF-8 (LC_ALL, LC_CTYPE, LANG).
pub fn utf8_locale() -> bool {
    for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                let v = v.to_ascii_lowercase();
                return v.contains("utf-8") || v.contains("utf8");
            }
        }
    }
    false
}

/// A name as text without losing bytes: invalid UTF-8 bytes become the
/// private-use characters U+10FF00 + byte, which the output paths turn
/// back into the raw byte ([`unmask`]) before escaping or sending it.
pub fn name_text(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        s.push_str(chunk.valid());
        for &b in chunk.invalid() {
            s.push(char::from_u32(0x10_FF00 + u32::from(b)).unwrap_or('?'));
        }
    }
    s
}

/// Undoes [`name_text`]'s masking: the raw bytes of a line.
pub fn unmask(text: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !text.windows(2).any(|w| w == [0xf4, 0x8f]) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if i + 3 < text.len()
            && text[i] == 0xf4
            && text[i + 1] == 0x8f
            && (0xbc..=0xbf).contains(&text[i + 2])
            && (0x80..=0xbf).contains(&text[i + 3])
        {
            out.push(((text[i + 2] & 3) << 6) | (text[i + 3] & 0x3f));
            i += 4;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Escapes one output line as upstream does before writing it: control
/// characters (but tab) and a literal `\#ddd` become `\#ooo`; without `-8`
/// also high-bit bytes that are not a character of the locale (valid
/// UTF-8 in a UTF-8 locale passes).
// upstream: log.c:rwrite() and filtered_fwrite()
pub fn escape_line(line: &[u8], eight_bit: bool, utf8: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if !eight_bit && b >= 0x80 && utf8 {
            let len = match b {
                0xc2..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf4 => 4,
                _ => 0,
            };
            if len > 0 && i + len <= line.len() && std::str::from_utf8(&line[i..i + len]).is_ok() {
                out.extend_from_slice(&line[i..i + len]);
                i += len;
                continue;
            }
        }
        let literal_escape = b == b'\\'
            && line.len() >= i + 5
            && line[i + 1] == b'#'
            && line[i + 2..i + 5].iter().all(u8::is_ascii_digit);
        let bad = (b < b' ' && b != b'\t') || (!eight_bit && b >= 0x80);
        if literal_escape || bad {
            out.extend_from_slice(format!("\\#{b:03o}").as_bytes());
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// The client's terminal settings for [`crate::out::Out::set_control`].
pub fn out_ctl(opts: &crate::Options) -> crate::out::OutCtl {
    let c = &opts.ctl;
    crate::out::OutCtl {
        eight_bit: c.eight_bit,
        utf8: utf8_locale(),
        del: c.info.del,
        progress: c.info.progress,
        name: c.info.name,
        human: c.human_readable,
        all_to_stderr: c.msgs2stderr == 1,
        log_before: !opts.log_format.as_deref().is_some_and(|f| {
            ['b', 'c', 'C']
                .iter()
                .any(|&e| crate::options::log_format_has(f, e))
        }),
    }
}

/// The closing `--stats` block and summary a client prints (by the
/// `--info=stats` level: 1 the two summary lines, 2 the block too).
// upstream: main.c:output_summary()
pub fn print_summary(
    out: &crate::out::Out,
    opts: &crate::Options,
    stats: &crate::stats::XferStats,
    elapsed: std::time::Duration,
) {
    out.finish_progress();
    let level = opts.ctl.info.stats;
    let human = opts.ctl.human_readable;
    if level >= 2 {
        for l in stats.stats_lines_h(human) {
            out.info(&l);
        }
    }
    if level >= 1 {
        let mut lines = stats.summary_lines_h(elapsed, opts.dry_run, human);
        // upstream main.c: a batch-only run says so instead.
        if opts.only_writes_batch() {
            if let Some(last) = lines.last_mut() {
                *last = format!("{} (BATCH ONLY)", last.trim_end_matches(" (DRY RUN)"));
            }
        }
        for l in lines {
            out.info(&l);
        }
    }
    if let Some(dest) = &opts.ctl.stats_json {
        let json = stats.to_json(elapsed, opts.dry_run, out.landlock().as_ref());
        if dest == "-" {
            out.client_text(format!("{json}\n").as_bytes());
        } else if let Err(e) = write_operator_file(opts, dest, format!("{json}\n").as_bytes()) {
            out.error(&format!(
                "rsync: --stats-json: cannot write \"{dest}\": {}",
                crate::error::sys_err(&e)
            ));
        }
    }
}

/// Writes an operator-named file (`--stats-json`) as `--log-file` opens
/// its own: through `confine::operator`, planted symlinks refused unless
/// `--insecure-links`.
fn write_operator_file(opts: &crate::Options, path: &str, data: &[u8]) -> std::io::Result<()> {
    use rustix::fs::OFlags;
    use std::io::Write;
    let links = confine::Links::from_insecure(opts.insecure_links);
    let flags = OFlags::WRONLY | OFlags::TRUNC | OFlags::CREATE;
    let mut f = confine::operator::open_file(std::path::Path::new(path), flags, 0o644, links)?;
    f.write_all(data)
}

/// The client's "building file list ... done" / "receiving file list ...
/// done" (upstream's non-incremental form, `--info=flist`; level 2 counts
/// the files), or a receiver's "receiving incremental file list".
// upstream: flist.c:start_filelist_progress() / finish_filelist_progress()
pub struct FlistProgress<'a> {
    out: Option<&'a crate::out::Out>,
    level: u8,
}

impl<'a> FlistProgress<'a> {
    /// Starts it when this side is the client and the options ask for it.
    pub fn start(
        opts: &crate::Options,
        client: bool,
        out: &'a crate::out::Out,
    ) -> FlistProgress<'a> {
        let level = opts.ctl.info.flist;
        let on = client && level > 0 && !opts.quiet && (opts.recursive || opts.dirs);
        FlistProgress {
            out: on.then_some(out),
            level,
        }
    }

    /// A receiver with incremental recursion says so instead.
    // upstream: flist.c recv_file_list()
    pub fn incremental(&self) {
        if let Some(out) = self.out {
            out.client_text(b"receiving incremental file list\n");
        }
    }

    /// A sender with incremental recursion says so instead.
    // upstream: flist.c send_file_list()
    pub fn sending_incremental(&self) {
        if let Some(out) = self.out {
            out.client_text(b"sending incremental file list\n");
        }
    }

    /// Prints the line once the list of `count` entries is complete
    /// (`kind`: "building" or "receiving").
    pub fn finish(&self, count: usize, kind: &str) {
        let Some(out) = self.out else {
            return;
        };
        if self.level < 2 {
            out.client_text(format!("{kind} file list ... done\n").as_bytes());
            return;
        }
        // The running count at every hundredth entry: the sender counts
        // before adding an entry (0, 100, ...), the receiver after (100,
        // 200, ...); the first one starts a new line.
        let counts: Vec<usize> = if kind == "receiving" {
            (100..=count).step_by(100).collect()
        } else {
            (0..count).step_by(100).collect()
        };
        let nl = if counts.is_empty() { "" } else { "\n" };
        out.client_text(format!("{kind} file list ... {nl}").as_bytes());
        for c in counts {
            out.client_text(format!(" {c} files...\r").as_bytes());
        }
        out.client_text(
            format!(
                "{count} file{}to consider\n",
                if count == 1 { " " } else { "s " }
            )
            .as_bytes(),
        );
    }
}

/// Refuses an allocation a peer asks for that is larger than
/// `--max-alloc` (1 GiB by default): exit 22 like upstream's allocator.
// upstream: util2.c:my_alloc()
pub fn check_alloc(opts: &crate::Options, bytes: u64, who: &str) -> crate::Result<()> {
    let limit = opts.ctl.max_alloc();
    if bytes > limit {
        return Err(crate::Error::new(
            protocol::exit::RERR_MALLOC,
            format!("[{who}] exceeded --max-alloc={limit} setting"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(
            parse_size_arg("256", 'K', "bwlimit", 512, true),
            Ok(256 * 1024)
        );
        assert_eq!(parse_size_arg("1m", 'K', "bwlimit", 512, true), Ok(1 << 20));
        assert_eq!(
            parse_size_arg("1mb", 'K', "bwlimit", 512, true),
            Ok(1_000_000)
        );
        assert_eq!(parse_size_arg("0", 'K', "bwlimit", 512, true), Ok(0));
        assert_eq!(
            parse_size_arg("10b", 'K', "bwlimit", 512, true)
                .unwrap_err()
                .message,
            "--bwlimit=10b is too small (min: 512 or 0 for unlimited)"
        );
        assert_eq!(
            parse_size_arg("10", 'B', "max-alloc", 1 << 20, true)
                .unwrap_err()
                .message,
            "--max-alloc=10 is too small (min: 1.00M or 0 for unlimited)"
        );
        assert!(parse_size_arg("1x", 'K', "bwlimit", 512, true).is_err());
    }

    /// A size whose unit is followed by a multi-byte character (a peer's
    /// `--max-alloc=0M?\xff...` after lossy decoding) is invalid, not a
    /// panic. Found by the `daemon_handshake` fuzz target.
    #[test]
    fn size_with_multibyte_suffix_is_invalid() {
        for v in [
            "0M?\u{FFFD}\u{FFFD}",
            "1k\u{FFFD}",
            "2Mi\u{e9}",
            "3\u{FFFD}",
        ] {
            let e = parse_size_arg(v, 'B', "max-alloc", 1 << 20, true).unwrap_err();
            assert_eq!(e.message, format!("--max-alloc={v} is invalid"), "{v}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(big_num(1234567, 0), "1234567");
        assert_eq!(big_num(1234567, 1), "1,234,567");
        assert_eq!(big_num(1234567, 2), "1.23M");
        assert_eq!(big_num(1234567, 3), "1.18M");
        assert_eq!(big_num(999, 2), "999");
    }

    #[test]
    fn server_words() {
        let args: Vec<std::ffi::OsString> = [
            "-rs",
            "--timeout=5",
            "--bwlimit=1m",
            "--max-alloc=2G",
            "--info=del2,name0",
            "--debug=all",
            "--list-only",
            "--msgs2stderr",
            "--usermap=a b:c",
            "a",
            "b",
        ]
        .iter()
        .map(std::ffi::OsString::from)
        .collect();
        let o = crate::Options::parse(&args).expect("parses");
        let a = o.to_server_args(false, 31);
        assert!(a[1].starts_with("-sr"), "{a:?}");
        for want in [
            "--list-only",
            "--msgs2stderr",
            "--timeout=5",
            "--bwlimit=1024",
            "--max-alloc=2G",
            "--info=DEL2,NAME0",
            "--usermap=a b:c",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} missing from {a:?}");
        }
        assert!(a.iter().any(|x| x.starts_with("--debug=ALL")), "{a:?}");
        // Without -s values are escaped for the remote shell.
        let plain: Vec<std::ffi::OsString> = ["--usermap=a b:c", "-r", "x", "y"]
            .iter()
            .map(std::ffi::OsString::from)
            .collect();
        let a = crate::Options::parse(&plain)
            .expect("parses")
            .to_server_args(false, 31);
        assert!(a.iter().any(|x| x == "--usermap=a\\ b:c"), "{a:?}");
        // A server accepts what a stock client sends.
        let srv: Vec<std::ffi::OsString> = [
            "--server",
            "-vvslogDtpre.iLsfxCIvu",
            "--info=DEL2",
            "--timeout=9",
            ".",
        ]
        .iter()
        .map(std::ffi::OsString::from)
        .collect();
        let o = crate::Options::parse(&srv).expect("parses");
        assert!(
            o.ctl.protect() && o.ctl.timeout == 9 && o.ctl.info.del == 2 && o.ctl.info.name == 2
        );
    }

    #[test]
    fn masked_names() {
        let t = name_text(b"a\xffb\xc3");
        assert_eq!(unmask(t.as_bytes()).as_ref(), b"a\xffb\xc3");
        assert_eq!(name_text("é".as_bytes()), "é");
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_line(b"a\nb\tc", false, false), b"a\\#012b\tc");
        assert_eq!(escape_line("é".as_bytes(), false, true), "é".as_bytes());
        assert_eq!(escape_line("é".as_bytes(), false, false), b"\\#303\\#251");
        assert_eq!(escape_line("é".as_bytes(), true, false), "é".as_bytes());
        assert_eq!(escape_line(b"\xff", false, true), b"\\#377");
        assert_eq!(escape_line(b"x\\#123", true, false), b"x\\#134#123");
    }
}
