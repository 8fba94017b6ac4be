//! The batch options (`--write-batch`, `--only-write-batch`,
//! `--read-batch`) as the parser reads and checks them; the batch files
//! themselves are `crate::batch`.
use crate::error::OptionError;
use crate::options::Options;

/// Longest batch-file name (upstream MAX_BATCH_NAME_LEN).
pub const MAX_BATCH_NAME_LEN: usize = 256;

/// Which batch option was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchMode {
    /// `--write-batch`: transfer and record.
    Write,
    /// `--only-write-batch`: record only; the destination is not changed.
    OnlyWrite,
    /// `--read-batch`: apply a recorded batch.
    Read,
}

/// A batch option and its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The last batch option given.
    pub mode: BatchMode,
    /// The batch file's name (`-` reads standard input for `--read-batch`).
    pub name: String,
    /// Both a writing and a reading option were given (refused).
    pub conflict: bool,
}

/// Records one batch option (upstream: the last name wins; writing and
/// reading together is refused in [`finish_options`]).
pub(crate) fn apply_option(
    opts: &mut Options,
    mode: BatchMode,
    name: String,
) -> std::result::Result<(), OptionError> {
    let reads = |m: BatchMode| m == BatchMode::Read;
    let conflict = opts
        .batch
        .as_ref()
        .is_some_and(|b| b.conflict || reads(b.mode) != reads(mode));
    opts.batch = Some(Batch {
        mode,
        name,
        conflict,
    });
    Ok(())
}

/// The checks and implications of the batch options once the command line
/// is read.
// upstream: options.c:parse_arguments() (write_batch/read_batch checks)
pub(crate) fn finish_options(opts: &mut Options) -> std::result::Result<(), OptionError> {
    let Some(b) = opts.batch.clone() else {
        return Ok(());
    };
    if b.conflict {
        return Err(OptionError::syntax(
            "--write-batch and --read-batch can not be used together".to_string(),
        ));
    }
    if opts.server {
        // A client's --write-batch/--read-batch is its own business; its
        // --only-write-batch makes this receiving side change nothing while
        // still asking for the data (the client records it).
        if b.mode == BatchMode::OnlyWrite {
            opts.dry_run = true;
        } else {
            opts.batch = None;
        }
        return Ok(());
    }
    if b.mode != BatchMode::Read && opts.dry_run {
        opts.batch = None;
        return Ok(());
    }
    if b.mode == BatchMode::Read && opts.tree.files_from().is_some() {
        return Err(OptionError::syntax(
            "--read-batch cannot be used with --files-from".to_string(),
        ));
    }
    if b.mode == BatchMode::Read && opts.remove_source_files {
        return Err(OptionError::syntax(
            "--read-batch cannot be used with --remove-source-files".to_string(),
        ));
    }
    if b.name.len() > MAX_BATCH_NAME_LEN {
        return Err(OptionError::syntax(format!(
            "the batch-file name must be {MAX_BATCH_NAME_LEN} characters or less."
        )));
    }
    Ok(())
}

impl Options {
    /// `--read-batch` on the client.
    pub fn reads_batch(&self) -> bool {
        self.batch
            .as_ref()
            .is_some_and(|b| b.mode == BatchMode::Read)
    }
    /// `--only-write-batch` (client or server).
    pub fn only_writes_batch(&self) -> bool {
        self.batch
            .as_ref()
            .is_some_and(|b| b.mode == BatchMode::OnlyWrite)
    }
    /// `--write-batch` or `--only-write-batch` on the client.
    pub fn writes_batch(&self) -> bool {
        !self.server
            && self
                .batch
                .as_ref()
                .is_some_and(|b| b.mode != BatchMode::Read)
    }
}
