//! The daemon's syslog: where its log lines go when no `log file` is set
//! or it cannot be opened (upstream log.c syslog_init() and logit()).
//! Each line is one datagram to `/dev/log` in the traditional format,
//! `<PRI>Mmm dd hh:mm:ss TAG[PID]: message`, at level info, with the
//! `syslog facility` (default `daemon`) and `syslog tag` (default
//! `rsyncd`) parameters. The socket is connected when the log is opened,
//! before any chroot or Landlock ruleset, so a confined session still
//! logs through it.
use std::os::unix::net::UnixDatagram;

/// The system logger's socket.
const DEV_LOG: &str = "/dev/log";
/// LOG_INFO.
const INFO: u8 = 6;

/// A connected syslog socket, with the priority and tag of every line.
#[derive(Debug)]
pub struct Syslog {
    sock: UnixDatagram,
    pri: u8,
    tag: String,
}

impl Syslog {
    /// Connects to `/dev/log`; None when there is no system logger (or
    /// `facility` names none).
    pub fn open(facility: Option<&str>, tag: Option<&str>) -> Option<Syslog> {
        let code = facility_code(facility.unwrap_or("daemon"))?;
        let sock = UnixDatagram::unbound().ok()?;
        sock.connect(DEV_LOG).ok()?;
        Some(Syslog {
            sock,
            pri: code * 8 + INFO,
            tag: tag.unwrap_or("rsyncd").to_owned(),
        })
    }

    /// Sends one line (its control characters already escaped).
    pub fn send(&self, secs: i64, line: &[u8]) {
        let mut msg = format!(
            "<{}>{} {}[{}]: ",
            self.pri,
            stamp(secs),
            self.tag,
            std::process::id()
        )
        .into_bytes();
        msg.extend_from_slice(line);
        let _ = self.sock.send(&msg);
    }
}

/// A facility's code, by the names syslog.h gives them (`security` is
/// `auth`).
pub fn facility_code(name: &str) -> Option<u8> {
    const NAMES: [(&str, u8); 13] = [
        ("kern", 0),
        ("user", 1),
        ("mail", 2),
        ("daemon", 3),
        ("auth", 4),
        ("security", 4),
        ("syslog", 5),
        ("lpr", 6),
        ("news", 7),
        ("uucp", 8),
        ("cron", 9),
        ("authpriv", 10),
        ("ftp", 11),
    ];
    let name = name.trim().to_ascii_lowercase();
    if let Some(n) = name.strip_prefix("local") {
        return n.parse::<u8>().ok().filter(|&n| n < 8).map(|n| 16 + n);
    }
    NAMES.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
}

/// `Mmm dd hh:mm:ss` of `secs` (UTC, as the log file's times are).
fn stamp(secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // "YYYY/MM/DD HH:MM:SS"
    let t = engine::listing::timestring(secs);
    let month = t
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1);
    let day = t
        .get(8..10)
        .and_then(|d| d.parse::<u32>().ok())
        .unwrap_or(1);
    format!(
        "{} {day:>2} {}",
        MONTHS[month.clamp(1, 12) - 1],
        t.get(11..).unwrap_or("00:00:00")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_and_stamps() {
        assert_eq!(facility_code("daemon"), Some(3));
        assert_eq!(facility_code("LOCAL5"), Some(21));
        assert_eq!(facility_code("security"), Some(4));
        assert_eq!(facility_code("local8"), None);
        assert_eq!(facility_code("nonsense"), None);
        assert_eq!(stamp(0), "Jan  1 00:00:00");
        assert_eq!(stamp(1_600_000_000), "Sep 13 12:26:40");
    }
}
