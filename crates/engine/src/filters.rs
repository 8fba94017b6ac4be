//! Building the filter list from options (client) or from the wire
//! (server), and the helpers the walk and the deletion pass use.
use crate::error::{Error, Result};
use crate::options::{FilterArg, Options};
use filter::FilterList;
use protocol::exit;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(crate) fn rule_error(e: filter::Error) -> Error {
    Error::new(exit::RERR_SYNTAX, format!("rsync: {e}"))
}

/// A rule file named on the command line that cannot be read: upstream
/// exclude.c's "failed to open exclude file NAME: ERRNO", exit 11.
#[track_caller]
fn local_rule_error(e: filter::Error, why: Option<String>) -> Error {
    match (&e, why) {
        (filter::Error::MergeFile { .. }, Some(why)) => {
            Error::new(exit::RERR_FILEIO, format!("rsync: {e}: {why}"))
        }
        (filter::Error::MergeFile { .. }, None) => {
            Error::new(exit::RERR_FILEIO, format!("rsync: {e}"))
        }
        _ => rule_error(e),
    }
}

/// Reads an operator-named rule file (`--exclude-from`, `--include-from`,
/// a merge file named by `--filter`) on the client; "-" is standard
/// input. A symlink on its path another user owns is refused (ELOOP)
/// unless `links` allows it.
fn read_local(path: &[u8], links: confine::Links) -> std::io::Result<Vec<u8>> {
    if path == b"-" {
        return stdin_rules();
    }
    confine::operator::read(
        std::path::Path::new(std::ffi::OsStr::from_bytes(path)),
        links,
    )
}

/// Standard input, read once: both sides of a local copy build their rules
/// from the options (upstream's forked child inherits the list its parent
/// read), so the second gets what the first read.
fn stdin_rules() -> std::io::Result<Vec<u8>> {
    static READ: std::sync::Mutex<Option<Vec<u8>>> = std::sync::Mutex::new(None);
    let mut read = READ.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = &*read {
        return Ok(v.clone());
    }
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)?;
    *read = Some(v.clone());
    Ok(v)
}

/// The client's rules, in command-line order (upstream options.c), with
/// `-C` appended after all of them.
pub fn from_options(opts: &Options) -> Result<FilterList> {
    let mut list = FilterList::new();
    list.set_debug(opts.ctl.debug_filter, "client");
    // upstream: --from0 makes every rule file NUL-delimited.
    let from0 = opts.tree.from0;
    let links = confine::Links::from_insecure(opts.insecure_links);
    // Why the last rule file could not be read, for the message.
    let why = std::cell::RefCell::new(None);
    let mut read = |p: &[u8]| match read_local(p, links) {
        Ok(mut d) => {
            if from0 {
                crate::treeshape::nul_lines(&mut d);
            }
            Some(d)
        }
        Err(e) => {
            *why.borrow_mut() = Some(crate::error::os_err(&e));
            None
        }
    };
    // upstream exclude.c get_cvs_excludes(): any `-C` rule (the option or
    // `-f-C`) adds $HOME/.cvsignore and $CVSIGNORE to the default list.
    list.set_cvs_sources_from_env();
    let mut f_count = 0;
    for arg in &opts.filters {
        match arg {
            FilterArg::Exclude(p) => list.add_exclude(p.as_bytes()),
            FilterArg::Include(p) => list.add_include(p.as_bytes()),
            FilterArg::Filter(r) => list.add_filter(r.as_bytes(), &mut read),
            FilterArg::ExcludeFrom(f) => list.add_exclude_from(f.as_bytes(), &mut read),
            FilterArg::IncludeFrom(f) => list.add_include_from(f.as_bytes(), &mut read),
            FilterArg::RsyncFilter => {
                f_count += 1;
                match f_count {
                    1 => list.add_filter(b": /.rsync-filter", &mut read),
                    2 => list.add_filter(b"- .rsync-filter", &mut read),
                    _ => Ok(()),
                }
            }
        }
        .map_err(|e| local_rule_error(e, why.borrow_mut().take()))?;
    }
    // upstream options.c: backups made beside the files (no --backup-dir)
    // are protected from --delete by a `P *SUFFIX` rule the client adds.
    if opts.backup
        && opts.backup_dir.is_none()
        && opts.delete != crate::options::DeleteMode::Off
        && !opts.delete_excluded
        && !opts.server
    {
        let rule = format!("P *{}", opts.backup_suffix());
        list.add_filter(rule.as_bytes(), &mut read)
            .map_err(|e| local_rule_error(e, None))?;
    }
    if opts.delete_excluded {
        list.set_delete_excluded();
    }
    if opts.cvs_exclude {
        list.add_cvs_exclude(&mut read)
            .map_err(|e| local_rule_error(e, why.borrow_mut().take()))?;
    }
    Ok(list)
}

/// Prints what the list has to say (discarded rules, unusable merge-file
/// names, FILTER debug traces).
pub fn print_notes(list: &mut FilterList, out: &crate::out::Out) {
    for n in list.take_notes() {
        if n.error {
            out.error(&n.text);
        } else {
            out.info(&n.text);
        }
    }
}

/// A remote-shell server's own CVS-ignore sources (`$HOME/.cvsignore`,
/// read here by the operator's process, and `$CVSIGNORE`) for a `-C` rule
/// the client sends.
pub fn server_cvs_sources(list: &mut FilterList) {
    list.set_cvs_sources_from_env();
    let text = list
        .cvs_home()
        .and_then(|p| read_local(p, confine::Links::from_insecure(false)).ok());
    if let Some(text) = text {
        list.set_cvs_home_text(text);
    }
}

/// Rules received from a client: `-C` (sent as a bundle letter) is added
/// after them, as upstream's server does.
pub fn finish_received(list: &mut FilterList, opts: &Options) -> Result<()> {
    if opts.delete_excluded {
        list.set_delete_excluded();
    }
    if opts.cvs_exclude {
        list.add_cvs_exclude(&mut |_| None).map_err(rule_error)?;
    }
    Ok(())
}

/// Keeps a filter list's per-directory merge state in step with a walk
/// that visits directories in file-list order: leaves the directories that
/// are not ancestors of `dir`, then enters the missing ones.
#[derive(Debug, Default)]
pub struct DirStack {
    stack: Vec<Vec<u8>>,
}

impl DirStack {
    /// Leaves every directory entered so far.
    pub fn clear(&mut self, list: &mut FilterList) {
        while self.stack.pop().is_some() {
            list.leave_dir();
        }
    }

    /// Moves the list to `dir` ("" for the transfer root).
    pub fn enter(
        &mut self,
        list: &mut FilterList,
        dir: &[u8],
        read: &mut filter::ReadFn<'_>,
    ) -> Result<()> {
        while let Some(top) = self.stack.last() {
            let is_ancestor = top.is_empty()
                || dir == top.as_slice()
                || (dir.starts_with(top) && dir.get(top.len()) == Some(&b'/'));
            if is_ancestor {
                break;
            }
            self.stack.pop();
            list.leave_dir();
        }
        let mut targets: Vec<Vec<u8>> = Vec::new();
        let mut cur = dir.to_vec();
        loop {
            if self.stack.last().is_some_and(|t| *t == cur) {
                break;
            }
            targets.push(cur.clone());
            if cur.is_empty() {
                break;
            }
            match cur.iter().rposition(|&b| b == b'/') {
                Some(p) => cur.truncate(p),
                None => cur.clear(),
            }
        }
        for t in targets.into_iter().rev() {
            list.enter_dir(&t, read).map_err(rule_error)?;
            self.stack.push(t);
        }
        Ok(())
    }
}

/// A daemon module's filter rules, matched against paths relative to the
/// module root: a sender never lists what they exclude, a receiver refuses
/// to write it.
#[derive(Debug, Clone, Default)]
pub struct DaemonFilter {
    /// The module's rules.
    pub rules: FilterList,
    /// The module root as the sender's paths spell it (`/` after chroot).
    pub module_root: std::path::PathBuf,
}

impl DaemonFilter {
    /// Whether `path` (relative to the module root) or one of the
    /// directories above it is excluded.
    // upstream: util1.c:path_is_daemon_excluded()
    pub fn excludes(&self, path: &[u8], is_dir: bool) -> bool {
        self.excluded_at(path, is_dir).is_some()
    }

    /// As [`DaemonFilter::excludes`], telling whether the excluded name is
    /// the path itself (`Some(true)`) or a directory above it.
    pub fn excluded_at(&self, path: &[u8], is_dir: bool) -> Option<bool> {
        self.excluded_below(path, 0, is_dir)
    }

    /// As [`DaemonFilter::excluded_at`], checking only the directories
    /// above `path` that lie beyond its first `from` bytes: a receiver
    /// matches each received name (and the received directories above
    /// it), never the destination directories it was sent into, which
    /// were checked as the destination (upstream matches names, so
    /// `exclude = /d` protects `d` itself and `/d/` its subtree).
    // upstream: generator.c:recv_generator() (check_filter on fname)
    pub fn excluded_below(&self, path: &[u8], from: usize, is_dir: bool) -> Option<bool> {
        let (path, from) = match path.strip_prefix(b"./") {
            Some(p) => (p, from.saturating_sub(2)),
            None => (path, from),
        };
        if path.is_empty() || path == b"." {
            return None;
        }
        for (i, &c) in path.iter().enumerate() {
            if c == b'/' && i > from && self.rules.is_excluded(&path[..i], true) {
                return Some(false);
            }
        }
        self.rules.is_excluded(path, is_dir).then_some(true)
    }

    /// `rel` (below the sender's transfer root `root`) relative to the
    /// module root; None when `root` is outside it.
    pub fn module_path(&self, root: &Path, rel: &[u8]) -> Option<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        let under = root.strip_prefix(&self.module_root).ok()?;
        let mut v = under.as_os_str().as_bytes().to_vec();
        let rel = if rel == b"." { &b""[..] } else { rel };
        if !v.is_empty() && !rel.is_empty() {
            v.push(b'/');
        }
        v.extend_from_slice(rel);
        Some(v)
    }
}
