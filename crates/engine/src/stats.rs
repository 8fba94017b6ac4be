//! Counters for --stats and the closing summary (upstream main.c
//! output_summary).
use crate::text::comma;
use std::time::Duration;

/// What one side counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XferStats {
    /// Files in the list, by kind: regular, dir, symlink, device, special.
    pub num_files: [u64; 5],
    /// Created items by kind.
    pub created: [u64; 5],
    /// Deleted items by kind.
    pub deleted: [u64; 5],
    /// Regular files transferred.
    pub xferred_files: u64,
    /// Sum of file sizes in the list.
    pub total_size: u64,
    /// Sum of the sizes of transferred files.
    pub total_transferred_size: u64,
    /// Literal bytes.
    pub literal_data: u64,
    /// Matched bytes.
    pub matched_data: u64,
    /// Encoded file-list bytes.
    pub flist_size: u64,
    /// File-list build time in ms.
    pub flist_buildtime: u64,
    /// File-list transfer time in ms.
    pub flist_xfertime: u64,
    /// Bytes written to the peer.
    pub total_written: u64,
    /// Bytes read from the peer.
    pub total_read: u64,
}

/// Index of a file kind in the per-kind arrays.
pub fn kind_index(mode: u32) -> usize {
    use protocol::flist::*;
    match mode & S_IFMT {
        S_IFREG => 0,
        S_IFDIR => 1,
        S_IFLNK => 2,
        S_IFCHR | S_IFBLK => 3,
        _ => 4,
    }
}

fn counts(label: &str, c: &[u64; 5], human: u8) -> String {
    let comma = |n: u64| crate::text::big_num(n, human.min(1));
    let total: u64 = c.iter().sum();
    let labels = ["reg", "dir", "link", "dev", "special"];
    let mut parts = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        if c[i] > 0 {
            parts.push(format!("{l}: {}", comma(c[i])));
        }
    }
    if total > 0 {
        format!("{label}: {} ({})", comma(total), parts.join(", "))
    } else {
        format!("{label}: 0")
    }
}

impl XferStats {
    /// A client receiver's totals as the server sender counted them.
    pub fn take_peer(&mut self, ps: &protocol::stats::Stats) {
        self.total_written = ps.total_read.max(0) as u64;
        self.total_read = ps.total_written.max(0) as u64;
        self.total_size = ps.total_size.max(0) as u64;
        self.flist_buildtime = ps.flist_buildtime.max(0) as u64;
        self.flist_xfertime = ps.flist_xfertime.max(0) as u64;
    }
    /// The --stats block (upstream main.c output_summary with --stats).
    pub fn stats_lines(&self) -> Vec<String> {
        self.stats_lines_h(1)
    }

    /// The --stats block at a `-h` level (0: plain digits, 1: digit
    /// groups, 2 and 3: units of 1000 or 1024).
    pub fn stats_lines_h(&self, human: u8) -> Vec<String> {
        let comma = |n: u64| crate::text::big_num(n, human.min(1));
        let num = |n: u64| crate::text::big_num(n, human);
        vec![
            String::new(),
            counts("Number of files", &self.num_files, human),
            counts("Number of created files", &self.created, human),
            counts("Number of deleted files", &self.deleted, human),
            format!(
                "Number of regular files transferred: {}",
                comma(self.xferred_files)
            ),
            format!("Total file size: {} bytes", num(self.total_size)),
            format!(
                "Total transferred file size: {} bytes",
                num(self.total_transferred_size)
            ),
            format!("Literal data: {} bytes", num(self.literal_data)),
            format!("Matched data: {} bytes", num(self.matched_data)),
            format!("File list size: {}", num(self.flist_size)),
            format!(
                "File list generation time: {:.3} seconds",
                self.flist_buildtime as f64 / 1000.0
            ),
            format!(
                "File list transfer time: {:.3} seconds",
                self.flist_xfertime as f64 / 1000.0
            ),
            format!("Total bytes sent: {}", num(self.total_written)),
            format!("Total bytes received: {}", num(self.total_read)),
        ]
    }

    /// The two closing lines printed with -v or --stats.
    pub fn summary_lines(&self, elapsed: Duration, dry_run: bool) -> Vec<String> {
        self.summary_lines_h(elapsed, dry_run, 1)
    }

    /// The two closing lines at a `-h` level.
    pub fn summary_lines_h(&self, elapsed: Duration, dry_run: bool, human: u8) -> Vec<String> {
        let num = |n: u64| crate::text::big_num(n, human);
        let secs = elapsed.as_secs_f64().max(0.000_001);
        let rate = (self.total_written + self.total_read) as f64 / secs;
        let xfer = self.total_written + self.total_read;
        let speedup = if xfer > 0 {
            self.total_size as f64 / xfer as f64
        } else {
            0.0
        };
        vec![
            String::new(),
            format!(
                "sent {} bytes  received {} bytes  {} bytes/sec",
                num(self.total_written),
                num(self.total_read),
                rate_h(rate, human)
            ),
            format!(
                "total size is {}  speedup is {:.2}{}",
                num(self.total_size),
                speedup,
                if dry_run { " (DRY RUN)" } else { "" }
            ),
        ]
    }
}

/// upstream do_big_dnum(rate, human_readable, 2).
/// What Landlock did for this run, for `--stats-json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandlockNote {
    /// `enforced`, `unavailable` or `error`.
    pub state: &'static str,
    /// The outcome in words (ABI, level, missing rights).
    pub detail: String,
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl XferStats {
    /// The counters of `--stats` as one JSON object (`--stats-json`):
    /// plain numbers (bytes, seconds), files by kind, the rate and speedup
    /// of the summary lines and what Landlock did (`null` when the run
    /// did not confine itself).
    pub fn to_json(
        &self,
        elapsed: Duration,
        dry_run: bool,
        landlock: Option<&LandlockNote>,
    ) -> String {
        let kinds = |c: &[u64; 5]| {
            format!(
                "{{\"total\": {}, \"reg\": {}, \"dir\": {}, \"link\": {}, \"dev\": {}, \"special\": {}}}",
                c.iter().sum::<u64>(),
                c[0],
                c[1],
                c[2],
                c[3],
                c[4]
            )
        };
        let secs = elapsed.as_secs_f64().max(0.000_001);
        let xfer = self.total_written + self.total_read;
        let speedup = if xfer > 0 {
            self.total_size as f64 / xfer as f64
        } else {
            0.0
        };
        let landlock = match landlock {
            Some(l) => format!(
                "{{\"state\": {}, \"detail\": {}}}",
                json_str(l.state),
                json_str(&l.detail)
            ),
            None => "null".to_string(),
        };
        let fields = [
            ("number_of_files", kinds(&self.num_files)),
            ("created_files", kinds(&self.created)),
            ("deleted_files", kinds(&self.deleted)),
            ("transferred_files", self.xferred_files.to_string()),
            ("total_file_size", self.total_size.to_string()),
            (
                "total_transferred_file_size",
                self.total_transferred_size.to_string(),
            ),
            ("literal_data", self.literal_data.to_string()),
            ("matched_data", self.matched_data.to_string()),
            ("file_list_size", self.flist_size.to_string()),
            (
                "file_list_generation_time",
                format!("{:.3}", self.flist_buildtime as f64 / 1000.0),
            ),
            (
                "file_list_transfer_time",
                format!("{:.3}", self.flist_xfertime as f64 / 1000.0),
            ),
            ("total_bytes_sent", self.total_written.to_string()),
            ("total_bytes_received", self.total_read.to_string()),
            ("bytes_per_sec", format!("{:.2}", xfer as f64 / secs)),
            ("speedup", format!("{speedup:.2}")),
            ("elapsed_seconds", format!("{:.3}", elapsed.as_secs_f64())),
            ("dry_run", dry_run.to_string()),
            ("landlock", landlock),
        ];
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}: {v}", json_str(k)))
            .collect();
        format!("{{{}}}", body.join(", "))
    }
}

fn rate_h(r: f64, human: u8) -> String {
    let mult = if human == 2 { 1000.0 } else { 1024.0 };
    match human {
        0 => format!("{r:.2}"),
        1 => format_rate(r),
        _ if r >= mult => crate::text::big_num(r as u64, human),
        _ => format!("{r:.2}"),
    }
}

fn format_rate(r: f64) -> String {
    let whole = r.trunc() as u64;
    let frac = ((r - r.trunc()) * 100.0).round() as u64 % 100;
    format!("{}.{:02}", comma(whole), frac)
}
