//! `--log-file=FILE` and `--log-file-format=FMT` on a client or a
//! remote-shell server: `YYYY/MM/DD hh:mm:ss [pid] ...` lines with the
//! start of the file list, one line per itemized item (format "%i %n%L"
//! unless given) and the closing byte counts (upstream log.c with
//! logfile_name outside a daemon).
use daemon::log::Log;
use daemon::logfmt::{expand, file_fields, LogFields};
use engine::itemize::{ItemFormat, ITEM_DELETED, ITEM_TRANSFER};
use engine::out::{FileEvent, Out};
use engine::stats::XferStats;
use engine::Options;
use std::sync::Arc;

/// The open log of one run.
pub struct LogFile {
    log: Arc<Log>,
}

impl LogFile {
    /// Opens the log named by `--log-file` (None without it) and hooks it
    /// to `out`. `sender`: this side sends; `local`: a local copy.
    pub fn start(opts: &Options, out: &Out, sender: bool, local: bool) -> Option<LogFile> {
        let path = opts.ctl.log_file.as_deref()?;
        // upstream log.c logfile_open(): a log that cannot be opened (a
        // symlink on its path another user owns, say) is reported and
        // ignored; the transfer goes on.
        let links = confine::Links::from_insecure(opts.insecure_links);
        let log = match Log::try_open(std::path::Path::new(path), links) {
            Ok(log) => Arc::new(log),
            Err(e) => {
                out.error(&format!(
                    "rsync: failed to open log-file {path}: {}",
                    engine::error::os_err(&e)
                ));
                out.info("Ignoring \"log file\" setting.");
                return None;
            }
        };
        let format = opts
            .ctl
            .log_file_format
            .clone()
            .unwrap_or_else(|| "%i %n%L".to_string());
        let (times, dry_run) = (opts.times, opts.dry_run);
        let hook_log = log.clone();
        out.set_item_log(Box::new(move |ev: FileEvent<'_>| {
            // upstream log_item(FLOG): transfers, and other items whose
            // itemized changes are significant.
            let fmt = ItemFormat {
                itemize: 1,
                verbose: 0,
                sender: ev.sender,
                local,
                preserve_mtimes: times,
            };
            if ev.iflags & ITEM_DELETED != 0 {
                // upstream log_delete(): not in a dry run.
                if dry_run {
                    return;
                }
            } else if ev.iflags & ITEM_TRANSFER == 0 && !fmt.wants_item(ev.iflags, ev.entry) {
                return;
            }
            let mut fields = file_fields(&ev, "");
            fields.itemize = fmt.change_string(ev.iflags, ev.entry);
            if !ev.entry.is_symlink() {
                fields.link.clear();
            }
            hook_log.line(&expand(&format, &LogFields::default(), &fields));
        }));
        // Messages (warnings, errors, the peer's informational lines) are
        // logged too, as upstream's rwrite() does with a log file.
        let msg_log = log.clone();
        out.set_msg_log(Box::new(move |text: &[u8]| {
            for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                msg_log.line(&String::from_utf8_lossy(line));
            }
        }));
        // A receiving server logs "receiving file list" itself, as it
        // starts reading the list (engine::transfer, upstream's FLOG).
        if sender {
            log.line("building file list");
        } else if !opts.server {
            log.line("receiving file list");
        }
        Some(LogFile { log })
    }

    /// The closing line: plain digits, as upstream's log.c big_num()
    /// (the terminal's --stats keeps the `-h` formatting).
    pub fn finish(&self, stats: &XferStats) {
        self.log.line(&format!(
            "sent {} bytes  received {} bytes  total size {}",
            stats.total_written, stats.total_read, stats.total_size
        ));
    }

    /// A fatal error, as upstream logs it.
    pub fn error(&self, message: &str) {
        for line in message.lines().filter(|l| !l.is_empty()) {
            self.log.line(line);
        }
    }
}
