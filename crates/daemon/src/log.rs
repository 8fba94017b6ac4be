//! The daemon log: `YYYY/MM/DD HH:MM:SS [pid] message` lines appended to
//! the `log file` (times in UTC), or sent to syslog without one
//! (`crate::syslog`), and/or copied to stderr when the daemon runs in the
//! foreground.
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Where log lines go.
#[derive(Debug, Default)]
pub struct Log {
    file: Option<Mutex<File>>,
    syslog: Option<crate::syslog::Syslog>,
    stderr: bool,
}

impl Log {
    /// A log that discards everything.
    pub fn none() -> Log {
        Log::default()
    }
    /// A log appending to `path` (if given and openable) and, when
    /// `stderr`, copying each line to stderr.
    ///
    /// The path is the operator's: a symlink on it owned by neither root
    /// nor this user is refused (see [`confine::operator`]).
    pub fn open(path: Option<&Path>, stderr: bool) -> Log {
        let file = path.and_then(|p| open_append(p, confine::Links::Trusted).ok());
        Log {
            file: file.map(Mutex::new),
            syslog: None,
            stderr,
        }
    }
    /// The daemon's log: `--log-file` (`cli`), else the configuration's
    /// `log file`; without one (none set, or it could not be opened) the
    /// lines go to syslog with the `syslog facility` and `syslog tag` of
    /// `defaults`, as upstream falls back.
    pub fn open_daemon(cli: Option<&Path>, defaults: &crate::config::Params, stderr: bool) -> Log {
        let path = cli.or_else(|| defaults.nonempty("log file").map(Path::new));
        let mut log = Log::open(path, stderr);
        if log.file.is_none() {
            log.syslog = crate::syslog::Syslog::open(
                defaults.nonempty("syslog facility"),
                defaults.nonempty("syslog tag"),
            );
        }
        log
    }
    /// A log appending to the operator path `path`, following symlinks as
    /// `links` allows, or the error that kept it from opening.
    pub fn try_open(path: &Path, links: confine::Links) -> std::io::Result<Log> {
        Ok(Log {
            file: Some(Mutex::new(open_append(path, links)?)),
            syslog: None,
            stderr: false,
        })
    }
    /// Writes one line.
    ///
    /// Control characters in it (a peer's file name, say) are written as
    /// `\#ooo`, C0 and C1 alike, so that nobody can inject terminal escapes
    /// into a log an administrator later reads (upstream log.c logit()).
    pub fn line(&self, msg: &str) {
        let now = now_secs();
        let escaped = escape_controls(msg.trim_end_matches('\n').as_bytes());
        if let Some(s) = &self.syslog {
            s.send(now, &escaped);
        }
        let mut text = format!("{} [{}] ", timestamp(now), std::process::id()).into_bytes();
        text.extend(escaped);
        text.push(b'\n');
        if let Some(f) = &self.file {
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(&text);
            }
        }
        if self.stderr {
            let _ = std::io::stderr().write_all(&text);
        }
    }
}

/// Escapes C0 controls but tab, the C1 range 0x80-0x9f and a literal
/// `\#ddd` (so that it cannot pass for an escape) as `\#ooo`, byte by byte
/// as upstream's filtered_fwrite() does for the log file.
pub fn escape_controls(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    for (i, &b) in msg.iter().enumerate() {
        let literal = b == b'\\'
            && msg.get(i + 1) == Some(&b'#')
            && msg.len() >= i + 5
            && msg[i + 2..i + 5].iter().all(u8::is_ascii_digit);
        let control = b != b'\t' && (b < b' ' || (0x80..=0x9f).contains(&b));
        if literal || control {
            out.extend_from_slice(format!("\\#{b:03o}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

fn open_append(path: &Path, links: confine::Links) -> std::io::Result<std::fs::File> {
    use rustix::fs::OFlags;
    let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE;
    confine::operator::open_file(path, flags, 0o644, links)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Formats seconds since the epoch as `YYYY/MM/DD HH:MM:SS` (UTC).
pub fn timestamp(secs: i64) -> String {
    engine::listing::timestring(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls(b"c0_\x1b_esc"), b"c0_\\#033_esc");
        assert_eq!(escape_controls(b"c1_\x9b_csi"), b"c1_\\#233_csi");
        assert_eq!(escape_controls(b"a\tb\rc"), b"a\tb\\#015c");
        assert_eq!(escape_controls(b"x\\#033y"), b"x\\#134#033y");
        assert_eq!(
            escape_controls("caf\u{e9}".as_bytes()),
            "caf\u{e9}".as_bytes()
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "1970/01/01 00:00:00");
        assert_eq!(timestamp(1_600_000_000), "2020/09/13 12:26:40");
        assert_eq!(timestamp(951_782_400), "2000/02/29 00:00:00");
    }

    #[test]
    fn appends() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("log");
        let log = Log::open(Some(&p), false);
        log.line("one");
        log.line("two\n");
        let text = std::fs::read_to_string(&p).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with("] two"), "{text}");
    }
}
