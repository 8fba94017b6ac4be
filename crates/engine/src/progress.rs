//! `--progress` and `--info=progress2`: the client's running lines during a
//! transfer, at most one a second within a file, and the closing line of
//! each file with its `xfr#N, to-chk=M/T` counters.
// upstream: progress.c
use std::time::{Duration, Instant};

/// How many one-second readings the in-file rate is averaged over.
const HISTORY: usize = 5;

/// One reading: when, and how far the transfer had come.
#[derive(Debug, Clone, Copy)]
struct Mark {
    time: Instant,
    ofs: u64,
}

/// The progress state of one client.
#[derive(Debug, Default)]
pub struct Progress {
    /// Where the current reading period started (a file's start with
    /// `--progress`, the run's first data with progress2).
    start: Option<Mark>,
    /// The last readings, one a second at most.
    hist: Vec<Mark>,
    newest: usize,
    oldest: usize,
    /// progress2: the bytes of the files done so far.
    done: u64,
    /// progress2: the total size of the list.
    total: u64,
    /// A line without its newline is on the terminal.
    pub pending_newline: bool,
    /// progress2: the longest counter tail so far (shorter ones are padded).
    last_len: usize,
    /// The file list is still arriving (incremental recursion): the
    /// counter reads `ir-chk` instead of `to-chk`.
    pub flist_incomplete: bool,
}

/// What the closing line of a file counts.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    /// Files transferred so far (this one included).
    pub xfr: u64,
    /// Entries of the list after this one.
    pub to_check: usize,
    /// Entries of the list.
    pub total: usize,
}

impl Progress {
    /// Sets the list's total size (the 100% of progress2).
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
    }

    /// A reading during a file: `ofs` of `size` bytes done. Returns the
    /// line to print, or `None` when the last one is under a second old.
    // upstream: progress.c:show_progress()
    pub fn update(
        &mut self,
        now: Instant,
        (ofs, size): (u64, u64),
        level: u8,
        human: u8,
    ) -> Option<String> {
        let (ofs, size) = if level >= 2 {
            (self.done + ofs, self.total.max(self.done + ofs))
        } else {
            (ofs, size)
        };
        match self.start {
            None => {
                // A file that follows another closely started when the
                // last data of that one arrived.
                let start = match self.hist.get(self.newest) {
                    Some(m) if now.duration_since(m.time) <= Duration::from_millis(1500) => Mark {
                        time: m.time,
                        ofs: if level >= 2 { m.ofs } else { 0 },
                    },
                    _ => Mark { time: now, ofs },
                };
                self.start = Some(start);
                self.hist = vec![start; HISTORY];
                self.newest = 0;
                self.oldest = 0;
            }
            Some(_) => {
                if now.duration_since(self.hist[self.newest].time) < Duration::from_secs(1) {
                    return None;
                }
                self.newest = self.oldest;
                self.oldest = (self.oldest + 1) % HISTORY;
                self.hist[self.newest] = Mark { time: now, ofs };
            }
        }
        let base = self.hist[self.oldest];
        let rate = kib_per_sec(ofs.saturating_sub(base.ofs), now.duration_since(base.time));
        let remain = if rate > 0.0 {
            size.saturating_sub(ofs) as f64 / rate / 1000.0
        } else {
            0.0
        };
        self.pending_newline = true;
        Some(line_h(ofs, size, rate, remain, "  ", human))
    }

    /// The closing reading of a file of `size` bytes: its line (which ends
    /// with a newline at level 1; progress2 keeps rewriting one line).
    // upstream: progress.c:end_progress()
    pub fn end(&mut self, now: Instant, size: u64, level: u8, c: Counters, human: u8) -> String {
        let chk = if self.flist_incomplete { "ir" } else { "to" };
        let mut eol = format!(" (xfr#{}, {chk}-chk={}/{})", c.xfr, c.to_check, c.total);
        let (ofs, all) = if level >= 2 {
            self.done += size;
            (self.done, self.total.max(self.done))
        } else {
            (size, size)
        };
        let start = self.start.unwrap_or(Mark { time: now, ofs: 0 });
        let elapsed = now.duration_since(start.time);
        let rate = kib_per_sec(ofs.saturating_sub(start.ofs), elapsed);
        // The last line shows the time taken, not the time left.
        let taken = elapsed.as_millis().max(1) as f64 / 1000.0;
        if level >= 2 {
            // The line stays; a shorter tail is padded over the longer one.
            self.last_len = self.last_len.max(eol.len());
            while eol.len() < self.last_len {
                eol.push(' ');
            }
            self.pending_newline = true;
        } else {
            eol.push('\n');
            self.pending_newline = false;
            self.start = None;
        }
        // Remember when data last moved (the next file's start guess).
        if self.hist.is_empty() {
            self.hist = vec![Mark { time: now, ofs }; HISTORY];
        } else {
            self.hist[self.newest] = Mark { time: now, ofs };
        }
        line_h(ofs, all, rate, taken, &eol, human)
    }
}

/// The rate in KiB/s of `bytes` over `took` (a zero span counts as 1 ms,
/// as upstream's).
fn kib_per_sec(bytes: u64, took: Duration) -> f64 {
    let ms = took.as_millis().max(1) as f64;
    bytes as f64 * 1000.0 / ms / 1024.0
}

/// One progress line: `\r`, the bytes (15 wide), the percentage, the rate
/// and the time in rsync's columns, then `eol`.
// upstream: progress.c:rprint_progress()
fn line_h(ofs: u64, size: u64, rate: f64, secs: f64, eol: &str, human: u8) -> String {
    let (rate, unit) = if rate > 1024.0 * 1024.0 {
        (rate / (1024.0 * 1024.0), "GB/s")
    } else if rate > 1024.0 {
        (rate / 1024.0, "MB/s")
    } else {
        (rate, "kB/s")
    };
    let time = if !(0.0..=9999.0 * 3600.0).contains(&secs) {
        "  ??:??:??".to_string()
    } else {
        let s = secs as u64;
        format!("{:4}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    };
    let pct = if ofs == size || size == 0 {
        100
    } else {
        (100.0 * ofs as f64 / size as f64) as u32
    };
    format!(
        "\r{:>15} {pct:>3}% {rate:>7.2}{unit} {time}{eol}",
        crate::text::big_num(ofs, human)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_and_a_closing_line() {
        let t0 = Instant::now();
        let mut p = Progress::default();
        let first = p.update(t0, (0, 4 << 20), 1, 1).unwrap();
        assert_eq!(first, "\r              0   0%    0.00kB/s    0:00:00  ");
        assert!(p
            .update(t0 + Duration::from_millis(500), (1 << 20, 4 << 20), 1, 1)
            .is_none());
        let l = p
            .update(t0 + Duration::from_secs(1), (1 << 20, 4 << 20), 1, 1)
            .unwrap();
        assert_eq!(l, "\r      1,048,576  25% 1024.00kB/s    0:00:03  ");
        let c = Counters {
            xfr: 1,
            to_check: 2,
            total: 4,
        };
        let end = p.end(t0 + Duration::from_secs(4), 4 << 20, 1, c, 1);
        assert_eq!(
            end,
            "\r      4,194,304 100% 1024.00kB/s    0:00:04 (xfr#1, to-chk=2/4)\n"
        );
        assert!(!p.pending_newline);
    }

    #[test]
    fn progress2_counts_the_run() {
        let t0 = Instant::now();
        let mut p = Progress::default();
        p.set_total(3000);
        let l = p.update(t0, (0, 1000), 2, 1).unwrap();
        assert!(l.contains("   0%    0.00kB/s"), "{l}");
        let c = Counters {
            xfr: 1,
            to_check: 1,
            total: 2,
        };
        let end = p.end(t0 + Duration::from_secs(1), 1000, 2, c, 1);
        assert_eq!(
            end,
            "\r          1,000  33%    0.98kB/s    0:00:01 (xfr#1, to-chk=1/2)"
        );
        assert!(p.pending_newline);
        p.flist_incomplete = true;
        let c = Counters {
            xfr: 2,
            to_check: 0,
            total: 2,
        };
        let end = p.end(t0 + Duration::from_secs(2), 2000, 2, c, 1);
        assert!(end.ends_with("(xfr#2, ir-chk=0/2)"), "{end}");
    }
}
