//! The closing summary a client prints: the `--stats` block, the two
//! summary lines, and `--stats-json`.

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
