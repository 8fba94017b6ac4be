//! The closing summary a client prints: the `--stats` block, the two
//! summary lines, and `--stats-json`; and the heap block each role prints
//! at `--info=stats3`.

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

/// `--info=stats3`: the allocator's counters as a role prints them when
/// it ends, each role its own block (upstream: every process); nothing
/// where the allocator is not glibc's. `role` is "sender", "receiver" or
/// "generator".
// upstream: main.c:handle_stats(), show_malloc_stats()
pub fn report_heap(out: &crate::out::Out, opts: &crate::Options, role: &str, am_server: bool) {
    if opts.ctl.info.stats < 3 {
        return;
    }
    for line in heap_lines(role, am_server) {
        out.info(&line);
    }
}

/// The lines of [`report_heap`]: a blank line, the heading, one line per
/// counter.
fn heap_lines(role: &str, am_server: bool) -> Vec<String> {
    let Some(m) = confine::heap::stats() else {
        return Vec::new();
    };
    let who = if am_server { "server " } else { "" };
    let mut lines = vec![
        String::new(),
        format!(
            "rsync[{}] ({who}{role}) heap statistics:",
            std::process::id()
        ),
    ];
    let rows = [
        ("arena", m.arena, "bytes from sbrk"),
        ("ordblks", m.ordblks, "chunks not in use"),
        ("smblks", m.smblks, "free fastbin blocks"),
        ("hblks", m.hblks, "chunks from mmap"),
        ("hblkhd", m.hblkhd, "bytes from mmap"),
        ("allmem", m.arena + m.hblkhd, "bytes from sbrk + mmap"),
        ("usmblks", m.usmblks, "always 0"),
        ("fsmblks", m.fsmblks, "bytes in freed fastbin blocks"),
        ("uordblks", m.uordblks, "bytes used"),
        ("fordblks", m.fordblks, "bytes free"),
        ("keepcost", m.keepcost, "bytes in releasable chunk"),
    ];
    for (title, n, descr) in rows {
        lines.push(format!("  {:<11}{n:>10}   ({descr})", format!("{title}:")));
    }
    lines
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

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn heap_block_has_upstreams_layout() {
        let lines = super::heap_lines("generator", true);
        assert_eq!(lines.len(), 13);
        assert_eq!(lines[0], "");
        let head = format!(
            "rsync[{}] (server generator) heap statistics:",
            std::process::id()
        );
        assert_eq!(lines[1], head);
        // "  %-11s%10d   (descr)"
        let arena = &lines[2];
        assert!(arena.starts_with("  arena:     "), "{arena:?}");
        assert!(arena.ends_with("   (bytes from sbrk)"), "{arena:?}");
        assert_eq!(arena.len(), 2 + 11 + 10 + "   (bytes from sbrk)".len());
        assert!(lines[12].starts_with("  keepcost:  "));
    }
}
