//! `oxsync --help` and the OPTIONS section of `man/oxsync.1`, generated
//! from the option parser's own tables so that neither can drift from what
//! the parser accepts.
//!
//! [`LINES`] holds rsync 3.5.0's option summary in its order and wording
//! (upstream rsync.1.md "OPTION SUMMARY", help-rsync.h), plus the few lines
//! of options only oxsync has. A line is shown when the parser accepts one
//! of the names in its left column, so an option added to the parser's
//! table appears in `--help` by itself; an accepted option that no line
//! names is still listed, under "Other options", which a test forbids.
use crate::options::{accepted_long, accepted_short};

/// Options the parser accepts that are not for users: rsync's
/// "INTERNAL OPTIONS" (the far side's argv). The man page names them.
pub const INTERNAL: &[&str] = &["server", "sender"];

/// The summary lines: the left column (25 characters) names the option,
/// the rest says what it does. A line starting with spaces continues the
/// one above it.
#[rustfmt::skip]
pub const LINES: &[&str] = &[
    "--verbose, -v            increase verbosity",
    "--info=FLAGS             fine-grained informational verbosity",
    "--debug=FLAGS            fine-grained debug verbosity",
    "--stderr=e|a|c           change stderr output mode (default: errors)",
    "--msgs2stderr            output messages directly to stderr",
    "--quiet, -q              suppress non-error messages",
    "--no-motd                suppress daemon-mode MOTD",
    "--checksum, -c           skip based on checksum, not mod-time & size",
    "--archive, -a            archive mode is -rlptgoD (no -A,-X,-U,-N,-H)",
    "--no-OPTION              turn off an implied OPTION (e.g. --no-D)",
    "--recursive, -r          recurse into directories",
    "--inc-recursive, --i-r   enable incremental recursion",
    "--no-inc-recursive       disable incremental recursion",
    "--no-i-r                 same as --no-inc-recursive",
    "--relative, -R           use relative path names",
    "--no-implied-dirs        don't send implied directories with --relative",
    "--implied-dirs, --i-d    send implied directories with --relative (default)",
    "--backup, -b             make backups (see --suffix & --backup-dir)",
    "--backup-dir=DIR         make backups into hierarchy based in DIR",
    "--suffix=SUFFIX          backup suffix (default ~ w/o --backup-dir)",
    "--update, -u             skip files that are newer on the receiver",
    "--inplace                update destination files in-place",
    "--append                 append data onto shorter files",
    "--append-verify          --append w/old data in file checksum",
    "--dirs, -d               transfer directories without recursing",
    "--old-dirs               works like --dirs when talking to old rsync",
    "--old-d                  same as --old-dirs",
    "--mkpath                 create destination's missing path components",
    "--links, -l              copy symlinks as symlinks",
    "--copy-links, -L         transform symlink into referent file/directory",
    "--copy-unsafe-links      only \"unsafe\" symlinks are transformed",
    "--safe-links             ignore symlinks that point outside the tree",
    "--insecure-links         follow attacker-owned symlinks in operator paths",
    "--confine-root=DIR       refuse operator paths resolving outside DIR",
    "--munge-links            munge symlinks to make them safe & unusable",
    "--copy-dirlinks, -k      transform symlink to directory into referent directory",
    "--keep-dirlinks, -K      treat symlinked directory on receiver as directory",
    "--hard-links, -H         preserve hard links",
    "--perms, -p              preserve permissions",
    "--executability, -E      preserve executability",
    "--chmod=CHMOD            affect file and/or directory permissions",
    "--acls, -A               preserve ACLs (implies --perms)",
    "--xattrs, -X             preserve extended attributes",
    "--owner, -o              preserve owner (super-user only)",
    "--group, -g              preserve group",
    "--devices                preserve device files (super-user only)",
    "--copy-devices           copy device contents as a regular file",
    "--write-devices          write to devices as files (implies --inplace)",
    "--specials               preserve special files",
    "--drop-D                 receiver refuses to create devices/specials",
    "-D                       same as --devices --specials",
    "--times, -t              preserve modification times",
    "--atimes, -U             preserve access (use) times",
    "--open-noatime           avoid changing the atime on opened files",
    "--crtimes, -N            preserve create times (newness)",
    "--omit-dir-times, -O     omit directories from --times",
    "--omit-link-times, -J    omit symlinks from --times",
    "--super                  receiver attempts super-user activities",
    "--fake-super             store/recover privileged attrs using xattrs",
    "--sparse, -S             turn sequences of nulls into sparse blocks",
    "--preallocate            allocate dest files before writing them",
    "--dry-run, -n            perform a trial run with no changes made",
    "--whole-file, -W         copy files whole (w/o delta-xfer algorithm)",
    "--no-whole-file, --no-W  use the delta-xfer algorithm",
    "--checksum-choice=STR    choose the checksum algorithm (aka --cc)",
    "--one-file-system, -x    don't cross filesystem boundaries",
    "--block-size=SIZE, -B    force a fixed checksum block-size",
    "--rsh=COMMAND, -e        specify the remote shell to use",
    "--rsync-path=PROGRAM     specify the rsync to run on remote machine",
    "--existing               skip creating new files on receiver",
    "--ignore-non-existing    skip creating new files on receiver",
    "--ignore-existing        skip updating files that exist on receiver",
    "--remove-source-files    sender removes synchronized files (non-directory)",
    "--remove-sent-files      sender removes only the files it sent (deprecated)",
    "--del                    an alias for --delete-during",
    "--delete                 delete extraneous files from dest directories",
    "--delete-before          receiver deletes before xfer, not during",
    "--delete-during          receiver deletes during the transfer",
    "--delete-delay           find deletions during, delete after",
    "--delete-after           receiver deletes after transfer, not during",
    "--delete-excluded        also delete excluded files from dest directories",
    "--ignore-missing-args    ignore missing source arguments without error",
    "--delete-missing-args    delete missing source arguments from destination",
    "--ignore-errors          delete even if there are I/O errors",
    "--force                  force deletion of directories even if not empty",
    "--max-delete=NUM         don't delete more than NUM files",
    "--max-size=SIZE          don't transfer any file larger than SIZE",
    "--min-size=SIZE          don't transfer any file smaller than SIZE",
    "--max-alloc=SIZE         change a limit relating to memory alloc",
    "--partial                keep partially transferred files",
    "--partial-dir=DIR        put a partially transferred file into DIR",
    "--delay-updates          put all updated files into place at end",
    "--prune-empty-dirs, -m   prune empty directory chains from file-list",
    "--numeric-ids            don't map uid/gid values by user/group name",
    "--usermap=STRING         custom username mapping",
    "--groupmap=STRING        custom groupname mapping",
    "--chown=USER:GROUP       simple username/groupname mapping",
    "--timeout=SECONDS        set I/O timeout in seconds",
    "--contimeout=SECONDS     set daemon connection timeout in seconds",
    "--ignore-times, -I       don't skip files that match size and time",
    "--size-only              skip files that match in size",
    "--modify-window=NUM, -@  set the accuracy for mod-time comparisons",
    "--temp-dir=DIR, -T       create temporary files in directory DIR",
    "--fuzzy, -y              find similar file for basis if no dest file",
    "--compare-dest=DIR       also compare destination files relative to DIR",
    "--copy-dest=DIR          ... and include copies of unchanged files",
    "--link-dest=DIR          hardlink to files in DIR when unchanged",
    "--compress, -z           compress file data during the transfer",
    "--compress-choice=STR    choose the compression algorithm (aka --zc)",
    "--compress-level=NUM     explicitly set compression level (aka --zl)",
    "--compress-threads=NUM   explicitly set compression threads (aka --zt)",
    "--skip-compress=LIST     skip compressing files with suffix in LIST",
    "--old-compress           use the old zlib compression (as --zc=zlib)",
    "--new-compress           use the new zlib compression (as --zc=zlibx)",
    "--cvs-exclude, -C        auto-ignore files in the same way CVS does",
    "--filter=RULE, -f        add a file-filtering RULE",
    "-F                       same as --filter='dir-merge /.rsync-filter'",
    "                         repeated: --filter='- .rsync-filter'",
    "--exclude=PATTERN        exclude files matching PATTERN",
    "--exclude-from=FILE      read exclude patterns from FILE",
    "--include=PATTERN        don't exclude files matching PATTERN",
    "--include-from=FILE      read include patterns from FILE",
    "--files-from=FILE        read list of source-file names from FILE",
    "--from0, -0              all *-from/filter files are delimited by 0s",
    "--old-args               disable the modern argument-protection idiom",
    "--secluded-args, -s      use the protocol to safely send the arguments",
    "--protect-args           same as --secluded-args",
    "--trust-sender           trust the remote sender's file list",
    "--confine[=no]           Landlock a pull's receiver beneath DEST (default)",
    "--copy-as=USER[:GROUP]   specify user & optional group for the copy",
    "--address=ADDRESS        bind address for outgoing socket to daemon",
    "--port=PORT              specify double-colon alternate port number",
    "--sockopts=OPTIONS       specify custom TCP options",
    "--blocking-io            use blocking I/O for the remote shell",
    "--outbuf=N|L|B           set out buffering to None, Line, or Block",
    "--stats                  give some file-transfer stats",
    "--stats-json=FILE        write the --stats counters as JSON (- for stdout)",
    "--8-bit-output, -8       leave high-bit chars unescaped in output",
    "--human-readable, -h     output numbers in a human-readable format",
    "--progress               show progress during transfer",
    "-P                       same as --partial --progress",
    "--itemize-changes, -i    output a change-summary for all updates",
    "--remote-option=OPT, -M  send OPTION to the remote side only",
    "--out-format=FORMAT      output updates using the specified FORMAT",
    "--log-format=FORMAT      same as --out-format",
    "--log-file=FILE          log what we're doing to the specified FILE",
    "--log-file-format=FMT    log updates using the specified FMT",
    "--password-file=FILE     read daemon-access password from FILE",
    "--early-input=FILE       use FILE for daemon's early exec input",
    "--list-only              list the files instead of copying them",
    "--bwlimit=RATE           limit socket I/O bandwidth",
    "--stop-after=MINS        Stop rsync after MINS minutes have elapsed",
    "--time-limit=MINS        same as --stop-after",
    "--stop-at=y-m-dTh:m      Stop rsync at the specified point in time",
    "--fsync                  fsync every written file",
    "--write-batch=FILE       write a batched update to FILE",
    "--only-write-batch=FILE  like --write-batch but w/o updating dest",
    "--read-batch=FILE        read a batched update from FILE",
    "--protocol=NUM           force an older protocol version to be used",
    "--iconv=CONVERT_SPEC     request charset conversion of filenames",
    "--checksum-seed=NUM      set block/file checksum seed (advanced)",
    "--qsort                  sort file lists with qsort (aka --use-qsort)",
    "--ipv4, -4               prefer IPv4",
    "--ipv6, -6               prefer IPv6",
    "--daemon                 run as a daemon (see oxsync --daemon --help)",
    "--version, -V            print the version + other info and exit",
    "--help, -h (*)           show this help (* -h is help only on its own)",
];

/// Where the option names end and the description starts.
const COLUMN: usize = 25;

/// The option names a line documents: long names without `--` and the
/// value, short letters as one-character strings with their dash.
pub fn names_of(line: &str) -> Vec<String> {
    let left = line.get(..COLUMN).unwrap_or(line).trim();
    // "(aka --cc)" in the description names an alias.
    let aka = line
        .split_once("(aka ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(alias, _)| alias);
    left.split(", ")
        .chain(aka)
        .filter_map(|word| {
            let word = word.split(' ').next().unwrap_or(word);
            let word = word.split(['=', '[']).next().unwrap_or(word);
            if let Some(long) = word.strip_prefix("--") {
                Some(long.to_string())
            } else {
                word.strip_prefix('-').map(|s| format!("-{s}"))
            }
        })
        .collect()
}

/// Whether the parser (or the binary, for `--daemon`) takes this name: a
/// long name, or `-x` for a short letter.
fn accepted(name: &str) -> bool {
    match name.strip_prefix('-') {
        Some(letter) => {
            let mut chars = letter.chars();
            matches!((chars.next(), chars.next()), (Some(c), None) if accepted_short().contains(&c))
        }
        None => name == "daemon" || name == "no-OPTION" || accepted_long().contains(&name),
    }
}

/// The summary lines for the options the parser accepts, continuation
/// lines kept with their option.
pub fn shown_lines() -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut showing = false;
    for line in LINES {
        if !line.starts_with(' ') {
            showing = names_of(line).iter().any(|n| accepted(n));
        }
        if showing {
            out.push(*line);
        }
    }
    out
}

/// Whether `name` (a long name) is covered by the shown lines: named on
/// one, a `no-` negation of a shown option (the `--no-OPTION` line), or
/// the positive form of a shown negation.
pub fn covered(name: &str, shown: &[&str]) -> bool {
    let named: Vec<String> = shown.iter().flat_map(|l| names_of(l)).collect();
    if named.iter().any(|n| n == name) {
        return true;
    }
    match name.strip_prefix("no-") {
        Some(base) => {
            let short = format!("-{base}");
            named.iter().any(|n| *n == base || *n == short)
        }
        // The positive form of a listed negation (`--motd` of `--no-motd`).
        None => named.iter().any(|n| *n == format!("no-{name}")),
    }
}

/// Accepted long names that no shown line covers (internal ones aside).
pub fn uncovered() -> Vec<&'static str> {
    let shown = shown_lines();
    accepted_long()
        .into_iter()
        .filter(|n| !INTERNAL.contains(n) && !covered(n, &shown))
        .collect()
}

/// Accepted short letters that no shown line names.
pub fn uncovered_short() -> Vec<char> {
    let named: Vec<String> = shown_lines().iter().flat_map(|l| names_of(l)).collect();
    accepted_short()
        .into_iter()
        .filter(|c| !named.contains(&format!("-{c}")))
        .collect()
}

/// The body of `oxsync --help` (what follows the version text).
pub fn help_text() -> String {
    let mut out = String::from(
        "oxsync is a file transfer program capable of efficient remote update\n\
         via a fast differencing algorithm, compatible with rsync.\n\n\
         Usage: oxsync [OPTION]... SRC [SRC]... DEST\n  \
         or   oxsync [OPTION]... SRC [SRC]... [USER@]HOST:DEST\n  \
         or   oxsync [OPTION]... SRC [SRC]... [USER@]HOST::DEST\n  \
         or   oxsync [OPTION]... SRC [SRC]... rsync://[USER@]HOST[:PORT]/DEST\n  \
         or   oxsync [OPTION]... [USER@]HOST:SRC [DEST]\n  \
         or   oxsync [OPTION]... [USER@]HOST::SRC [DEST]\n  \
         or   oxsync [OPTION]... rsync://[USER@]HOST[:PORT]/SRC [DEST]\n\
         The ':' usages connect via remote shell, while '::' & 'rsync://' usages connect\n\
         to an rsync daemon, and require SRC or DEST to start with a module name.\n\n\
         Options\n",
    );
    for line in shown_lines() {
        out.push_str(line);
        out.push('\n');
    }
    let other = uncovered();
    if !other.is_empty() {
        out.push_str("\nOther options\n");
        for name in other {
            out.push_str(&format!("--{name}\n"));
        }
    }
    out.push_str(
        "\nUse \"oxsync --daemon --help\" to see the daemon-mode command-line options.\n\
         Please see the oxsync(1) and oxsyncd.conf(5) manpages for full documentation.\n\
         An rsync option not listed above is not built into oxsync yet: using one\n\
         exits with code 4 and names the option.\n",
    );
    out
}

/// Escapes text for a roff line (backslashes and leading dots, dashes as
/// `\-` so that they stay ASCII minus signs).
pub fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// The OPTIONS section of `man/oxsync.1`: one tagged paragraph per shown
/// summary line, with the longer word on oxsync's own behaviour where
/// [`MAN_NOTES`] has one.
pub fn man_options() -> String {
    let mut out = String::new();
    let lines = shown_lines();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let (left, right) = line.split_at(COLUMN.min(line.len()));
        out.push_str(&format!(
            ".TP\n.B {}\n{}\n",
            roff(left.trim()),
            roff(right.trim())
        ));
        while let Some(more) = lines.get(i + 1).filter(|l| l.starts_with(' ')) {
            out.push_str(&format!(".br\n{}\n", roff(more.trim())));
            i += 1;
        }
        for name in names_of(line) {
            if let Some((_, note)) = MAN_NOTES.iter().find(|(n, _)| *n == name) {
                out.push_str(&format!(".IP\n{}\n", roff(note)));
            }
        }
        i += 1;
    }
    for name in uncovered() {
        out.push_str(&format!(".TP\n.B \\-\\-{}\n(undocumented)\n", roff(name)));
    }
    out
}

/// What oxsync does differently from rsync, or only oxsync does, for the
/// manual.
#[rustfmt::skip]
pub const MAN_NOTES: &[(&str, &str)] = &[
    ("debug", "Accepted for rsync's flags; oxsync prints little debug output."),
    ("inc-recursive", "Accepted; oxsync sends the whole file list first (no incremental recursion yet)."),
    ("compress-threads", "Accepted and checked; oxsync compresses on the transfer's own thread."),
    ("insecure-links", "Operator paths (the destination, --files-from, --backup-dir, the --*-dest directories) are opened without following a symlink owned by another user than the one running oxsync. This option allows such links, as rsync did before 3.5.0."),
    ("confine-root", "Every operator path must resolve beneath DIR; others are refused. rsync 3.5.0's rrsync passes this to a restricted server."),
    ("drop-D", "The receiver skips devices and special files the sender sends instead of creating them."),
    ("trust-sender", "Skips the receiver's checks of the sender's file list against the arguments (rsync's --trust-sender). oxsync still resolves every name beneath the destination."),
    ("confine", "A pulling client puts its receiver under a Landlock ruleset that allows writes beneath the destination only (and the --temp-dir, --partial-dir, --backup-dir and --*-dest directories). --confine=no turns this off. Where the kernel has no Landlock the pull goes on unconfined."),
    ("crtimes", "Refused on Linux, as Debian's rsync refuses it: \"This rsync does not support --crtimes (-N)\", exit 1."),
    ("daemon", "Runs the daemon; \"oxsync --daemon --help\" lists its options and oxsyncd.conf(5) its configuration."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_option_has_a_line() {
        assert_eq!(uncovered(), Vec::<&str>::new());
        assert_eq!(uncovered_short(), Vec::<char>::new());
    }

    #[test]
    fn names_of_reads_the_left_column_and_aliases() {
        assert_eq!(names_of(LINES[0]), ["verbose", "-v"]);
        let cc = "--checksum-choice=STR    choose the checksum algorithm (aka --cc)";
        assert_eq!(names_of(cc), ["checksum-choice", "cc"]);
        assert_eq!(names_of("--help, -h (*)           show"), ["help", "-h"]);
        assert_eq!(names_of("--confine[=no]           x"), ["confine"]);
    }

    #[test]
    fn lines_fit_rsyncs_width() {
        for line in LINES {
            assert!(line.len() <= 80, "{line}");
            assert!(
                line.starts_with(' ') || line.as_bytes()[COLUMN - 1] == b' ',
                "{line}"
            );
        }
    }
}
