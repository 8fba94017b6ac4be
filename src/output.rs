//! The client's terminal output: the itemize format its options ask for
//! and its message sink (`--out-format` applied).
use engine::itemize::ItemFormat;
use engine::out::Out;
use engine::Options;
use std::sync::Arc;

/// The itemize format of a client: `sender` when it sends, `local` for a
/// local copy.
pub(crate) fn format(opts: &Options, sender: bool, local: bool) -> ItemFormat {
    let mut f = ItemFormat {
        itemize: opts.itemize,
        verbose: opts.ctl.info.name,
        sender,
        local,
        preserve_mtimes: opts.times,
    };
    // upstream: options.c: --out-format prints names (--info=name) and
    // itemizes when it has %i.
    if let Some(custom) = &opts.log_format {
        f.verbose = f.verbose.max(1);
        f.itemize = if engine::control::log_format_has(custom, 'i') {
            f.itemize.max(1)
        } else {
            0
        };
    }
    f
}

/// The client's message sink, with its control options applied.
pub(crate) fn client_out(opts: &Options, fmt: ItemFormat) -> Arc<Out> {
    let out = Out::terminal_with_progress(fmt, opts.quiet, opts.progress);
    out.set_control(engine::out::out_ctl(opts));
    if let Some(custom) = opts.log_format.clone() {
        out.set_line_format(Box::new(move |ev, xname, sum_reverse| {
            let mut fields = daemon::logfmt::file_fields(&ev, "");
            // Names keep their bytes (the terminal escapes them as
            // upstream does, `\#377`), not replaced by U+FFFD.
            let e = ev.entry;
            let name = engine::text::name_text(&e.name);
            fields.full = full_name(&name);
            fields.name = name;
            if e.is_dir() && !fields.name.ends_with('/') {
                fields.name.push('/');
            }
            if let Some(t) = e.link_target() {
                fields.link = format!(" -> {}", engine::text::name_text(t));
            }
            if sum_reverse && !fields.checksum.starts_with(' ') {
                fields.checksum = daemon::logfmt::reverse_hex(&fields.checksum);
            }
            // upstream: a local copy's lines are the sending side's.
            if fmt.local {
                fields.op = "send";
            }
            fields.itemize = fmt.change_string(ev.iflags, ev.entry);
            if !xname.is_empty() {
                fields.link = format!(" => {}", String::from_utf8_lossy(xname));
            } else if !ev.entry.is_symlink() {
                fields.link.clear();
            }
            daemon::logfmt::expand(&custom, &daemon::logfmt::LogFields::default(), &fields)
        }));
    }
    out
}

/// `%f`: the name without a trailing slash, `.` for the transfer root
/// (upstream log.c: f_name(), then clean_fname(); a sending side's
/// upstream also puts the transfer root's path before it, oxsync not yet).
fn full_name(name: &str) -> String {
    match name.trim_end_matches('/') {
        "" => ".".to_string(),
        trimmed => trimmed.to_string(),
    }
}

/// Prints the summary or the error of a finished transfer; its exit code.
/// A transfer that ended well carries the remote shell's exit status
/// (0 locally): a server that exited non-zero (its sender's or
/// receiver's errors, reported already) gives the code, after the
/// summary, as upstream's client_run() takes it from
/// wait_process_with_flush().
pub(crate) fn finish(
    opts: &Options,
    result: engine::Result<(engine::stats::XferStats, i32)>,
    out: &Arc<Out>,
    logf: Option<&crate::logfile::LogFile>,
    started: std::time::Instant,
) -> i32 {
    match result {
        Ok((stats, child_code)) => {
            engine::summary::print_summary(out, opts, &stats, started.elapsed());
            if let Some(l) = logf {
                l.finish(&stats);
            }
            let code = match child_code {
                0 => out.final_code(),
                c => c,
            };
            if code != 0 {
                eprintln!("{}", engine::transfer::closing_line(code, "client"));
            }
            code
        }
        Err(e) => {
            if !e.reported && !e.message.is_empty() {
                eprintln!("{}", e.message);
            }
            if let Some(l) = logf {
                l.error(&e.message);
            }
            // upstream io.c: after the peer's error exit (its own closing
            // line already printed) no second one.
            if !e.reported {
                eprintln!("{}", e.closing_line("client"));
            }
            e.code
        }
    }
}
