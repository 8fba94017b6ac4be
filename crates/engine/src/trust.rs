//! Trusting the sender, or not: a client pulling from a remote sender
//! checks every file-list name it receives against what it requested and
//! against its own filter rules, and stops before writing anything when
//! the sender added a name (`--trust-sender` turns the checks off).
// upstream: flist.c:recv_file_entry(), options.c trust_sender_args /
// trust_sender_filter, exclude.c:add_implied_include()
use crate::error::{Error, Result};
use crate::options::tree::FilesFrom;
use crate::options::Options;
use filter::{ArgShape, FilterList, ImpliedIncludes, WireOptions};
use protocol::exit;
use protocol::flist::{FileEntry, XMIT_NO_CONTENT_DIR, XMIT_TOP_DIR};

/// What a pulling client asked the remote sender for.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    /// The source arguments as the user gave them (after `host:`).
    pub args: Vec<String>,
    /// The arguments are daemon paths (`module/path`): the module part
    /// names no file-list entry.
    pub daemon: bool,
}

/// The checks a pulling client makes on each received name.
#[derive(Debug, Clone, Default)]
pub struct NameCheck {
    /// The requested names as include rules (empty: no check).
    implied: ImpliedIncludes,
    /// The rules the sender was given, as it applies them (None: the
    /// client cannot know what the sender excluded, so it does not check).
    excluded: Option<FilterList>,
}

impl NameCheck {
    /// The checks for a client receiving from a remote sender: `rules` are
    /// the client's own, `forwarded` the `--files-from` names it sent
    /// (NUL-separated, as on the wire).
    pub fn for_pull(
        opts: &Options,
        requested: &Requested,
        rules: &FilterList,
        forwarded: Option<&[u8]>,
        protocol: i32,
    ) -> Result<NameCheck> {
        let mut check = NameCheck::default();
        if opts.trust_sender {
            return Ok(check);
        }
        // upstream options.c: --old-args lets the remote shell reshape the
        // arguments, and a remote --files-from list is unknown here.
        let remote_list = matches!(opts.tree.files_from(), Some(FilesFrom::Remote { .. }));
        if opts.ctl.old_args == 0 && !remote_list {
            let shape = ArgShape {
                relative: opts.tree.relative(),
                recurse: opts.recursive,
                dirs: opts.recursive || opts.dirs || opts.ctl.list_only > 0,
            };
            // upstream main.c: with --files-from the first argument is the
            // base directory, not a requested name.
            let skip = usize::from(forwarded.is_some());
            for arg in requested.args.iter().skip(skip) {
                check
                    .implied
                    .add_arg(arg.as_bytes(), requested.daemon, shape);
            }
            for name in forwarded.unwrap_or_default().split(|&b| b == 0) {
                if !name.is_empty() {
                    check.implied.add_arg(name, false, shape);
                }
            }
        }
        // A per-directory merge file (and -C's .cvsignore) holds rules only
        // the sender reads: its exclusions cannot be checked here.
        if !rules.has_per_dir_merge() && !opts.cvs_exclude && !rules.is_empty() {
            let sent = rules
                .wire_rules(WireOptions {
                    protocol: protocol as u32,
                    am_sender: false,
                })
                .map_err(|e| Error::new(exit::RERR_SYNTAX, format!("rsync: {e}")))?;
            let list = FilterList::from_wire(&sent, protocol as u32, &mut |_| None)
                .map_err(|e| Error::new(exit::RERR_SYNTAX, format!("rsync: {e}")))?;
            if !list.is_empty() {
                check.excluded = Some(list);
            }
        }
        Ok(check)
    }

    /// Checks one received entry; a directory that was only requested as a
    /// `-R` parent is marked as such whatever the sender flagged, so that
    /// `--delete` does not treat it as a transfer root.
    pub fn check(&self, e: &mut FileEntry, protocol: i32) -> Result<()> {
        let name = e.name.as_slice();
        let is_dir = e.is_dir();
        if crate::trust::has_dotdot(name) {
            // Refused as an unsafe pathname once the list is in.
            return Ok(());
        }
        if name != b"." && name != b"/." {
            if self
                .excluded
                .as_ref()
                .is_some_and(|l| l.is_excluded(name, is_dir))
            {
                return Err(rejected("excluded", name));
            }
            if !self.implied.is_empty() && !self.implied.permits(name, is_dir) {
                return Err(rejected("unrequested", name));
            }
        }
        let both = XMIT_TOP_DIR | XMIT_NO_CONTENT_DIR;
        if protocol >= 30
            && is_dir
            && e.xflags() & both != both
            && self.implied.is_parent_only(name)
        {
            e.add_xflags(both);
        }
        Ok(())
    }
}

#[track_caller]
fn rejected(what: &str, name: &[u8]) -> Error {
    Error::new(
        exit::RERR_UNSUPPORTED,
        format!(
            "ERROR: rejecting {what} file-list name: {}",
            String::from_utf8_lossy(name)
        ),
    )
}

pub(crate) fn has_dotdot(name: &[u8]) -> bool {
    name.split(|&b| b == b'/').any(|c| c == b"..")
}
