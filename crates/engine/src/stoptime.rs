//! `--stop-after=MINS` (also `--time-limit`) and `--stop-at=WHEN`: the
//! moment the client gives up, as seconds since the epoch (upstream
//! options.c OPT_STOP_AFTER / OPT_STOP_AT and parse_time). The I/O layer
//! ([`crate::iolimit`]) ends the transfer there with "stopping at requested
//! limit" and exit code 30. oxsync reads and prints times in UTC, so
//! `--stop-at` is a UTC time.
use crate::error::OptionError;

fn syntax(message: String) -> OptionError {
    OptionError {
        message,
        exit_code: 1,
    }
}

/// The leading integer of `arg` as C's `atol` reads it (spaces, a sign,
/// digits; anything else ends it; nothing gives 0).
fn atol(arg: &str) -> i64 {
    let s = arg.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// `--stop-after=MINS` from `now`.
pub fn stop_after(arg: &str, now: i64) -> Result<i64, OptionError> {
    let secs = atol(arg).saturating_mul(60);
    if secs <= 0 || secs >= i64::MAX / 2 - now {
        return Err(syntax(format!("invalid --stop-after value: {arg}")));
    }
    Ok(now + secs)
}

/// `--stop-at=WHEN`: `[[[YYYY-]MM-]DD]Thh:mm`, `hh:mm`, `:mm` or a date
/// alone (`-` or `/` between its numbers); what is left out is taken from
/// now and moved forward until the time is in the future.
pub fn stop_at(arg: &str, now: i64) -> Result<i64, OptionError> {
    let val =
        parse_time(arg, now).ok_or_else(|| syntax(format!("invalid --stop-at format: {arg}")))?;
    if val <= now {
        return Err(syntax(format!(
            "--stop-at time is not in the future: {arg}"
        )));
    }
    Ok(val)
}

/// A broken-down time as upstream's `struct tm` holds it (year since
/// 1900, month 0-11), -1 for "not given".
#[derive(Debug, Clone, Copy)]
struct Tm {
    year: i64,
    mon: i64,
    mday: i64,
    hour: i64,
    min: i64,
}

/// Days since 1970-01-01 of a civil date (month 1-12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month 1-12, day) of days since 1970-01-01
/// (Howard Hinnant's algorithm); also the listing's timestring.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `mktime` in UTC: the seconds of `t`, with `t` normalized as mktime
/// leaves it (a day past the month's end rolls into the next month).
fn mktime(t: &mut Tm) -> i64 {
    let year = 1900 + t.year + t.mon.div_euclid(12);
    let mon = t.mon.rem_euclid(12);
    let days = days_from_civil(year, mon + 1, 1) + t.mday - 1;
    let (y, m, d) = civil_from_days(days);
    (t.year, t.mon, t.mday) = (y - 1900, m - 1, d);
    days * 86_400 + t.hour * 3600 + t.min * 60
}

/// The numbers of `arg` into `t` (upstream parse_time's first loop).
fn read_fields(arg: &str) -> Option<(Tm, i32)> {
    let b = arg.as_bytes();
    let mut t = Tm {
        year: -1,
        mon: -1,
        mday: -1,
        hour: -1,
        min: -1,
    };
    let mut at = 0;
    let mut in_date: i32 = match b.first() {
        Some(b'T' | b't') => {
            at = 1;
            -1
        }
        Some(b':') => {
            at = 1;
            0
        }
        _ => 1,
    };
    loop {
        if !b.get(at).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let mut n: i64 = 0;
        while let Some(&c) = b.get(at).filter(|c| c.is_ascii_digit()) {
            n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
            at += 1;
        }
        let next = b.get(at).copied();
        if next == Some(b':') {
            in_date = 0;
        }
        if in_date > 0 {
            if t.year != -1 {
                return None;
            }
            (t.year, t.mon, t.mday) = (t.mon, t.mday, n);
            match next {
                None => break,
                Some(b'T' | b't') => {
                    if at + 1 == b.len() {
                        break;
                    }
                    in_date = -1;
                }
                Some(b'-' | b'/') => {}
                Some(_) => return None,
            }
            at += 1;
            continue;
        }
        if t.hour != -1 {
            return None;
        }
        (t.hour, t.min) = (t.min, n);
        match next {
            None if in_date < 0 => return None,
            None => break,
            Some(b':') => {}
            Some(_) => return None,
        }
        in_date = 0;
        at += 1;
    }
    Some((t, in_date))
}

// upstream: options.c:parse_time()
fn parse_time(arg: &str, now: i64) -> Option<i64> {
    let (mut t, _) = read_fields(arg)?;
    let today = {
        let mut z = Tm {
            year: 70,
            mon: 0,
            mday: 1 + now.div_euclid(86_400),
            hour: 0,
            min: 0,
        };
        mktime(&mut z);
        z.hour = now.rem_euclid(86_400) / 3600;
        z
    };
    let mut in_date = 0;
    if t.year < 0 {
        t.year = today.year;
        in_date = 1;
    } else if t.year < 100 {
        while t.year < today.year {
            t.year += 100;
        }
    } else {
        t.year -= 1900;
    }
    if t.mon < 0 {
        t.mon = today.mon;
        in_date = 2;
    } else {
        t.mon -= 1;
    }
    if t.mday < 0 {
        t.mday = today.mday;
        in_date = 3;
    }
    let mut step = 0;
    if t.min < 0 {
        (t.hour, t.min) = (0, 0);
    } else if t.hour < 0 {
        if in_date != 3 {
            return None;
        }
        in_date = 0;
        t.hour = today.hour;
        step = 3600;
    }
    if t.hour > 23 || t.min > 59 || !(0..12).contains(&t.mon) || !(1..=31).contains(&t.mday) {
        return None;
    }
    let mut old_mday = t.mday;
    let mut val = mktime(&mut t);
    while in_date != 0 && (val <= now || t.mday < old_mday) {
        match in_date {
            3 => {
                t.mday += 1;
                old_mday = t.mday;
            }
            2 => {
                if t.mday < old_mday {
                    t.mday = old_mday;
                } else {
                    t.mon += 1;
                    if t.mon == 12 {
                        t.mon = 0;
                        t.year += 1;
                    }
                }
            }
            _ => {
                if t.mday < old_mday {
                    if t.mon != 2 || old_mday != 29 {
                        return None;
                    }
                    (t.mon, t.mday) = (1, 29);
                }
                t.year += 1;
            }
        }
        val = mktime(&mut t);
    }
    if step > 0 {
        while val <= now {
            val += step;
        }
    }
    Some(val)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-06 21:30:00 UTC.
    const NOW: i64 = 1_796_592_600;

    #[test]
    fn stop_after_counts_minutes() {
        assert_eq!(stop_after("60", NOW), Ok(NOW + 3600));
        assert_eq!(stop_after("5x", NOW), Ok(NOW + 300));
        for bad in ["0", "-3", "abc", ""] {
            assert!(stop_after(bad, NOW).is_err(), "{bad}");
        }
        assert_eq!(
            stop_after("abc", NOW).unwrap_err().message,
            "invalid --stop-after value: abc"
        );
    }

    #[test]
    fn stop_at_forms() {
        let day = |y, m, d| days_from_civil(y, m, d) * 86_400;
        assert_eq!(day(2026, 12, 6) + 21 * 3600 + 1800, NOW);
        assert_eq!(
            stop_at("2026-12-07T20:40", NOW),
            Ok(day(2026, 12, 7) + 20 * 3600 + 2400)
        );
        assert_eq!(stop_at("2027/01/02", NOW), Ok(day(2027, 1, 2)));
        // A time alone: today, or tomorrow once it has passed.
        assert_eq!(
            stop_at("22:15", NOW),
            Ok(day(2026, 12, 6) + 22 * 3600 + 900)
        );
        assert_eq!(stop_at("T08:00", NOW), Ok(day(2026, 12, 7) + 8 * 3600));
        // Minutes alone: the next such minute.
        assert_eq!(stop_at(":10", NOW), Ok(day(2026, 12, 6) + 22 * 3600 + 600));
        // A day alone: this month, or the next.
        assert_eq!(stop_at("3", NOW), Ok(day(2027, 1, 3)));
        assert_eq!(
            stop_at("26-12-31T23:59", NOW),
            Ok(day(2026, 12, 31) + 86_340)
        );
        assert_eq!(
            stop_at("2000-01-01T00:00", NOW).unwrap_err().message,
            "--stop-at time is not in the future: 2000-01-01T00:00"
        );
        for bad in [
            "",
            "x",
            "T5",
            "25:00",
            "12:60",
            "2026-13-01",
            "1-2-3-4",
            "10:20:30",
        ] {
            assert_eq!(
                stop_at(bad, NOW).map_err(|e| e.message),
                Err(format!("invalid --stop-at format: {bad}")),
                "{bad}"
            );
        }
    }
}
