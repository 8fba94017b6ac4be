//! One `Options` struct for the command line, the server's argv and (later)
//! the daemon's checks, with one parser and the builder of the server argv
//! that the client sends (upstream options.c parse_arguments and
//! server_options).
//!
//! The parser follows popt as rsync uses it: short bundles (`-avz`), a
//! value-taking short option swallowing the rest of its bundle (`-e.LsfxCIvu`,
//! `-B1024`), `--opt=value` and `--opt value`, `--` ending the options, and
//! options and paths in any order. Every option of rsync 3.5.0 that oxsync
//! does not implement is refused with exit code 4, so that a transfer never
//! silently ignores a request.
pub mod batch;
pub mod refuse;
pub mod tree;

use crate::control::log_format_has;
use crate::error::OptionError;
use crate::options::tree::TreeAct;
use std::ffi::OsString;

/// The client-info letters sent after `e` in the server's short bundle
/// (mirrors `protocol::compat::CLIENT_INFO`; a pulling client puts `i`, for
/// incremental recursion, after the dot).
pub const CLIENT_INFO: &str = ".LsfxCIvu";

/// What `--munge-links` puts before a received symlink's target (upstream
/// SYMLINK_PREFIX), so that it leads nowhere.
pub const SYMLINK_PREFIX: &str = "/rsyncd-munged/";

/// The most zstd worker threads a daemon client may ask for (upstream
/// options.c MAX_DAEMON_COMPRESSION_THREADS).
pub const MAX_DAEMON_COMPRESSION_THREADS: u32 = 8;

/// The largest `--block-size` (upstream `MAX_BLOCK_SIZE`, protocol >= 30).
pub const MAX_BLOCK_SIZE: u32 = 1 << 17;

/// The lowest and highest protocol oxsync speaks.
pub const PROTOCOL_RANGE: std::ops::RangeInclusive<i32> = 30..=32;

/// How deletions are scheduled (`--delete` alone means `During` from
/// protocol 30 on, as upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteMode {
    /// No deletion.
    #[default]
    Off,
    /// `--delete` / `--delete-during`.
    During,
    /// `--delete-before`: one pass over the destination before the transfer.
    Before,
    /// `--delete-after`: one pass after the transfer.
    After,
    /// `--delete-delay`: found during the transfer, deleted after it.
    Delay,
}

/// Which of `--compare-dest`, `--copy-dest`, `--link-dest` the basis
/// directories came with (upstream alt_dest_type; they cannot be mixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AltDest {
    /// --compare-dest
    Compare,
    /// --copy-dest
    Copy,
    /// --link-dest
    Link,
}

impl AltDest {
    /// The option's spelling.
    pub fn option(self) -> &'static str {
        match self {
            AltDest::Compare => "--compare-dest",
            AltDest::Copy => "--copy-dest",
            AltDest::Link => "--link-dest",
        }
    }
}

/// Most basis directories (upstream MAX_BASIS_DIRS).
pub const MAX_BASIS_DIRS: usize = 20;

/// The partial directory `--delay-updates` uses when none is named.
pub const DELAY_UPDATES_DIR: &str = ".~tmp~";

/// One filter option, kept in command-line order because rule order
/// decides which rule matches first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterArg {
    /// --exclude=PATTERN
    Exclude(String),
    /// --include=PATTERN
    Include(String),
    /// --filter=RULE / -f RULE
    Filter(String),
    /// --exclude-from=FILE
    ExcludeFrom(String),
    /// --include-from=FILE
    IncludeFrom(String),
    /// -F (the first adds `dir-merge /.rsync-filter`, the second
    /// `- .rsync-filter`)
    RsyncFilter,
}

/// Every option oxsync understands, after parsing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// -r
    pub recursive: bool,
    /// -l
    pub links: bool,
    /// -p
    pub perms: bool,
    /// -t
    pub times: bool,
    /// -o
    pub owner: bool,
    /// -g
    pub group: bool,
    /// --devices (part of -D)
    pub devices: bool,
    /// --specials (part of -D)
    pub specials: bool,
    /// -v count
    pub verbose: u8,
    /// -q
    pub quiet: bool,
    /// -n
    pub dry_run: bool,
    /// -c
    pub checksum: bool,
    /// Some(true) for -W, Some(false) for --no-whole-file / --no-W, None if unset.
    pub whole_file: Option<bool>,
    /// -I
    pub ignore_times: bool,
    /// --size-only
    pub size_only: bool,
    /// --delete, --delete-during
    pub delete: DeleteMode,
    /// The timing was named (`--del` / `--delete-during`) rather than implied
    /// by a bare `--delete`; upstream then forwards `--delete-during` instead
    /// of `--delete` (same effect from protocol 30 on).
    pub delete_during_named: bool,
    /// -i count
    pub itemize: u8,
    /// --stats
    pub stats: bool,
    /// --progress
    pub progress: bool,
    /// -e / --rsh (client); on the server the `-e` value is the client info.
    pub rsh: Option<String>,
    /// --rsync-path
    pub rsync_path: Option<String>,
    /// --protocol
    pub protocol: Option<i32>,
    /// --checksum-choice (None for "auto" / "auto,auto", as upstream)
    pub checksum_choice: Option<String>,
    /// --numeric-ids
    pub numeric_ids: bool,
    /// -B / --block-size (None for 0, which means "pick per file")
    pub block_size: Option<u32>,
    /// --checksum-seed (None for 0, which means "use the time")
    pub checksum_seed: Option<i32>,
    /// -z / --compress (or implied by a compress choice or level)
    pub compress: bool,
    /// --compress-choice / --zc (--old-compress = "zlib", --new-compress =
    /// "zlibx")
    pub compress_choice: Option<String>,
    /// --compress-level / --zl
    pub compress_level: Option<i32>,
    /// --skip-compress list (suffixes separated by `/`)
    pub skip_compress: Option<String>,
    /// --log-format / --out-format value (the server learns from it whether
    /// the client itemizes: "%i", "%i%I", "%o" or "X").
    pub log_format: Option<String>,
    /// --port (daemon connections)
    pub port: Option<u16>,
    /// --password-file (daemon authentication)
    pub password_file: Option<String>,
    /// --contimeout in seconds (daemon connections; None = no limit)
    pub contimeout: Option<u64>,
    /// --address: the local address a daemon connection binds to
    pub bind_address: Option<String>,
    /// -4 / -6: the address family of daemon connections (4 or 6; 0 =
    /// either)
    pub ip_family: u8,
    /// --server
    pub server: bool,
    /// --sender (server side: this server sends)
    pub sender: bool,
    /// --help / -h alone
    pub help: bool,
    /// --version / -V count (two or more: the JSON form)
    pub version: u8,
    /// Filter options (`--exclude`, `--include`, `--filter`/`-f`,
    /// `--exclude-from`, `--include-from`, `-F`), in command-line order.
    pub filters: Vec<FilterArg>,
    /// -C / --cvs-exclude
    pub cvs_exclude: bool,
    /// --delete-excluded
    pub delete_excluded: bool,
    /// --partial (and -P)
    pub partial: bool,
    /// --partial-dir=DIR as given (see [`Options::partial_dir_eff`]).
    pub partial_dir: Option<String>,
    /// --temp-dir=DIR / -T
    pub temp_dir: Option<String>,
    /// --delay-updates
    pub delay_updates: bool,
    /// --inplace (also set by --append)
    pub inplace: bool,
    /// 0, 1 for --append, 2 for --append-verify (a server counts repeated
    /// `--append`s, as upstream).
    pub append: u8,
    /// -b / --backup (also set by --backup-dir)
    pub backup: bool,
    /// --backup-dir=DIR
    pub backup_dir: Option<String>,
    /// --suffix=SUFFIX as given (see [`Options::backup_suffix`]).
    pub suffix: Option<String>,
    /// --compare-dest / --copy-dest / --link-dest kind, if any.
    pub alt_dest: Option<AltDest>,
    /// The basis directories, in command-line order (at most 20).
    pub basis_dirs: Vec<String>,
    /// --remove-source-files (or the older --remove-sent-files)
    pub remove_source_files: bool,
    /// --remove-sent-files: only files sent are removed, not the ones
    /// already up to date on the receiver (upstream remove_source_files 2)
    pub remove_sent_only: bool,
    /// -u / --update: skip files that are newer on the receiver
    pub update_only: bool,
    /// --existing / --ignore-non-existing: skip creating new items
    pub ignore_non_existing: bool,
    /// --ignore-existing: skip updating items that exist on the receiver
    pub ignore_existing: bool,
    /// --trust-sender: a pulling client skips its checks of the received
    /// file-list names (never sent to the server)
    pub trust_sender: bool,
    /// --max-size in bytes (None: no limit)
    pub max_size: Option<u64>,
    /// --min-size in bytes (None: no limit)
    pub min_size: Option<u64>,
    /// --modify-window / -@ (None: not given, which means 0)
    pub modify_window: Option<i32>,
    /// --force: delete a non-empty directory that is in the way
    pub force: bool,
    /// --ignore-errors: delete even after I/O errors
    pub ignore_errors: bool,
    /// --inc-recursive / --no-inc-recursive (None: the default, on).
    pub inc_recursive: Option<bool>,
    /// --max-delete=N (None: no limit; negative values mean 0)
    pub max_delete: Option<u32>,
    /// -O: directory mtimes are not preserved.
    pub omit_dir_times: bool,
    /// -J: symlink mtimes are not preserved.
    pub omit_link_times: bool,
    /// -H: hard-linked files stay hard-linked.
    pub hard_links: bool,
    /// --chmod=SPEC values, in order (applied by the sender to its list).
    pub chmod: Vec<String>,
    /// -E: with -p off, the execute bits follow the source.
    pub executability: bool,
    /// -d: directories are transferred without recursing into them.
    pub dirs: bool,
    /// -L: the sender follows every symlink.
    pub copy_links: bool,
    /// --copy-unsafe-links: the sender follows symlinks leading out of the tree.
    pub copy_unsafe_links: bool,
    /// --safe-links: the receiver ignores symlinks leading out of the tree.
    pub safe_links: bool,
    /// --insecure-links: operator-named paths (destination, --log-file,
    /// --temp-dir, ...) follow symlinks whoever owns them. Off, a symlink
    /// owned by neither root nor this user is refused (ELOOP). Local only:
    /// never sent to the peer, and a daemon refuses it from a client.
    pub insecure_links: bool,
    /// --confine-root=DIR: every operator or peer path this process opens
    /// (sources, destination, merge and list files, the update
    /// directories) must resolve inside DIR, as rrsync asks of a server it
    /// starts. Absolute; ignored by a daemon, whose module is the bound.
    pub confine_root: Option<std::path::PathBuf>,
    /// --drop-D: the receiver creates no devices or special files (the
    /// file list keeps its -D framing), as rrsync asks of a restricted
    /// receiving server.
    pub drop_devices: bool,
    /// --sockopts=OPTIONS: socket options for a daemon connection
    /// (`SO_KEEPALIVE,SO_SNDBUF=8192`), set after it connects. Local only.
    pub sockopts: Option<String>,
    /// -k: the sender follows symlinks to directories.
    pub copy_dirlinks: bool,
    /// -K: the receiver treats a symlink to a directory (in the tree) as
    /// that directory.
    pub keep_dirlinks: bool,
    /// --early-input=FILE: up to 5 KiB a daemon client sends before the
    /// module name (a module's `early exec` reads it on its stdin).
    pub early_input: Option<String>,
    /// --stop-after / --time-limit / --stop-at: when the client gives up
    /// (seconds since the epoch; exit code 30).
    pub stop_at: Option<i64>,
    /// --mkpath: the destination path's missing directories are made.
    pub mkpath: bool,
    /// -y count: a missing file's basis is a similarly named file of its
    /// destination directory (2: also of the basis directories).
    pub fuzzy: u8,
    /// --usermap=FROM:TO,... (also set by --chown), applied by the receiver.
    pub usermap: Option<String>,
    /// --groupmap=FROM:TO,... (also set by --chown), applied by the receiver.
    pub groupmap: Option<String>,
    /// The maps came from --chown (so a later --usermap/--groupmap conflicts).
    pub maps_via_chown: (bool, bool),
    /// -S / --sparse: runs of zeros become holes in written files.
    pub sparse: bool,
    /// --preallocate: the receiver allocates each file's length first.
    pub preallocate: bool,
    /// --open-noatime: files are read without updating their atime.
    pub open_noatime: bool,
    /// -U count: access times are preserved (-UU also sets --open-noatime).
    pub atimes: u8,
    /// `--super` (Some(true)) or `--no-super` (Some(false)): the receiver
    /// acts as the super-user (ownership, devices) or not, whatever its
    /// real uid; None: as its uid says.
    pub super_user: Option<bool>,
    /// `--fake-super`: ownership, permissions and device numbers are kept
    /// in the `user.rsync.%stat` xattr instead of applied (a receiver), and
    /// read from it (a sender). Never passed to the server.
    pub fake_super: bool,
    /// -A: access and default ACLs (implies -p when given).
    pub acls: bool,
    /// `-X` count: extended attributes are preserved (`-XX` also copies
    /// rsync's own `user.rsync.%*` attributes).
    pub xattrs: u8,
    /// --munge-links: a receiver stores symlink targets behind
    /// [`SYMLINK_PREFIX`], a sender strips it (never passed to the server:
    /// each side has its own; a daemon module's `munge symlinks` decides
    /// there).
    pub munge_links: bool,
    /// A daemon module's `ignore nonreadable` (never from the command
    /// line): the sender leaves out what this process may not read
    /// (symlinks excepted), unseen, as upstream's make_file() does.
    pub ignore_nonreadable: bool,
    /// `--confine[=yes|no]`: Landlock on the receiving side of a pull
    /// (None: the default, see `confinement::wanted`).
    pub confine: Option<bool>,
    /// The tree-shape options (-R, --files-from, -x, -m, missing args).
    pub tree: crate::options::tree::TreeOpts,
    /// -M / --remote-option values, appended verbatim to the server's argv
    /// (upstream remote_options).
    pub remote_options: Vec<String>,
    /// Positional arguments (client: sources then destination; server: "."
    /// then paths).
    pub args: Vec<String>,
    /// `--write-batch`, `--only-write-batch` or `--read-batch` (client; a
    /// server keeps only `--only-write-batch`, which makes its receiving
    /// side a dry run that still asks for the data).
    pub batch: Option<crate::options::batch::Batch>,
    /// --fsync: the receiver fsyncs every file it finishes.
    pub fsync: bool,
    /// --copy-devices: the sender sends a device's content as a regular
    /// file.
    pub copy_devices: bool,
    /// --write-devices: the receiver writes into an existing device node in
    /// place (implies --inplace).
    pub write_devices: bool,
    /// --no-motd: a daemon's message of the day is not shown (client).
    pub no_motd: bool,
    /// --old-dirs / --old-d: -r with the filter `- /*/*`, as -d is done
    /// with an old rsync.
    pub old_dirs: bool,
    /// --outbuf=N|L|B: the buffering of the client's stdout ('N', 'L' or
    /// 'B').
    pub outbuf: Option<char>,
    /// --blocking-io / --no-blocking-io (the remote shell's pipes are always
    /// read and written blocking by oxsync's transfer threads).
    pub blocking_io: Option<bool>,
    /// --copy-as=USER[:GROUP]: the copy runs with this euid/egid (root
    /// only).
    pub copy_as: Option<String>,
    /// --compress-threads / --zt: zstd worker threads (0: compress on the
    /// transfer's thread; a daemon caps it at
    /// [`MAX_DAEMON_COMPRESSION_THREADS`]).
    pub compress_threads: u32,
    /// --iconv=LOCAL[,REMOTE] (`.` for the locale's charset; the server
    /// gets REMOTE): names are converted to and from UTF-8 on the wire.
    pub iconv: Option<String>,
    /// --no-iconv was given (RSYNC_ICONV then does not apply).
    pub no_iconv: bool,
    /// Transfer-control and output options (`--info`, `--debug`, `-h`, `-8`,
    /// `--list-only`, `-s`, `--bwlimit`, `--timeout`, `--max-alloc`,
    /// `--log-file`...).
    pub ctl: crate::control::Control,
}

/// What an option we implement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    Archive,
    Recursive(bool),
    Links(bool),
    Perms(bool),
    Times(bool),
    Owner(bool),
    Group(bool),
    DevicesAndSpecials(bool),
    Devices(bool),
    Specials(bool),
    Verbose,
    NoVerbose,
    Quiet,
    DryRun,
    Checksum(bool),
    WholeFile(bool),
    IgnoreTimes,
    SizeOnly,
    Delete,
    DeleteDuring,
    Itemize,
    NoItemize,
    Stats,
    Progress(bool),
    NumericIds(bool),
    Server,
    Sender,
    Help,
    Version,
    RsyncFilter,
    Cvs(bool),
    Compress(bool),
    OldCompress,
    NewCompress,
    DeleteExcluded,
    PartialProgress,
    Partial(bool),
    DelayUpdates(bool),
    Inplace(bool),
    Append,
    AppendVerify,
    NoAppend,
    Backup(bool),
    RemoveSourceFiles,
    RemoveSentFiles,
    Update,
    Existing,
    IgnoreExisting,
    TrustSender,
    DeleteWhen(DeleteMode),
    Force(bool),
    IgnoreErrors(bool),
    OmitDirTimes(bool),
    OmitLinkTimes(bool),
    HardLinks(bool),
    Executability,
    Dirs(bool),
    CopyLinks,
    CopyUnsafeLinks,
    SafeLinks,
    InsecureLinks(bool),
    CopyDirlinks,
    KeepDirlinks,
    Fuzzy(bool),
    Mkpath(bool),
    Tree(crate::options::tree::TreeAct),
    Sparse(bool),
    Preallocate,
    OpenNoatime(bool),
    Crtimes(bool),
    MungeLinks(bool),
    Atimes,
    NoAtimes,
    Super(bool),
    FakeSuper,
    Acls(bool),
    /// -X / --xattrs (counted), --no-xattrs / --no-X.
    Xattrs(bool),
    /// --inc-recursive / --i-r and their negations.
    IncRecursive(bool),
    // The ones below take a value.
    RemoteOption,
    /// --compress-threads / --zt: zstd worker threads (see
    /// `Options::compress_threads`).
    CompressThreads,
    Usermap,
    Groupmap,
    Chown,
    Chmod,
    Exclude,
    Include,
    Filter,
    ExcludeFrom,
    IncludeFrom,
    Rsh,
    RsyncPath,
    Protocol,
    ChecksumChoice,
    BlockSize,
    ChecksumSeed,
    LogFormat,
    CompressChoice,
    CompressLevel,
    SkipCompress,
    Port,
    PasswordFile,
    Contimeout,
    /// -4 / -6 (the family: 4 or 6).
    IpFamily(u8),
    Address,
    PartialDir,
    TempDir,
    ConfineRoot,
    DropDevices(bool),
    Sockopts,
    BackupDir,
    Suffix,
    BasisDir(AltDest),
    MaxSize,
    MinSize,
    ModifyWindow,
    MaxDelete,
    Batch(crate::options::batch::BatchMode),
    StopAfter,
    StopAt,
    EarlyInput,
    Fsync,
    CopyDevices,
    WriteDevices(bool),
    Motd(bool),
    OldDirs,
    BlockingIo(bool),
    OutBuf,
    CopyAs,
    Iconv,
    NoIconv,
}

impl Act {
    fn takes_value(self) -> bool {
        matches!(
            self,
            Act::Exclude
                | Act::Include
                | Act::Filter
                | Act::ExcludeFrom
                | Act::IncludeFrom
                | Act::Rsh
                | Act::RsyncPath
                | Act::Protocol
                | Act::ChecksumChoice
                | Act::BlockSize
                | Act::ChecksumSeed
                | Act::LogFormat
                | Act::CompressChoice
                | Act::CompressLevel
                | Act::SkipCompress
                | Act::Port
                | Act::PasswordFile
                | Act::Contimeout
                | Act::Address
                | Act::PartialDir
                | Act::TempDir
                | Act::ConfineRoot
                | Act::Sockopts
                | Act::BackupDir
                | Act::Suffix
                | Act::BasisDir(_)
                | Act::MaxSize
                | Act::MinSize
                | Act::ModifyWindow
                | Act::MaxDelete
                | Act::StopAfter
                | Act::StopAt
                | Act::EarlyInput
                | Act::OutBuf
                | Act::CopyAs
                | Act::Iconv
                | Act::Chmod
                | Act::Usermap
                | Act::Groupmap
                | Act::Chown
                | Act::Tree(crate::options::tree::TreeAct::FilesFrom)
                | Act::RemoteOption
                | Act::CompressThreads
                | Act::Batch(_)
        )
    }
}

/// The options oxsync implements: long name ("" for short-only), short
/// letter, action. Names and negations follow upstream's long_options table.
#[rustfmt::skip]
pub(crate) const SUPPORTED: &[(&str, Option<char>, Act)] = &[
    ("help", None, Act::Help), ("version", Some('V'), Act::Version),
    ("verbose", Some('v'), Act::Verbose), ("no-verbose", None, Act::NoVerbose),
    ("no-v", None, Act::NoVerbose), ("quiet", Some('q'), Act::Quiet), ("stats", None, Act::Stats),
    ("dry-run", Some('n'), Act::DryRun), ("archive", Some('a'), Act::Archive),
    ("recursive", Some('r'), Act::Recursive(true)), ("no-recursive", None, Act::Recursive(false)),
    ("no-r", None, Act::Recursive(false)), ("perms", Some('p'), Act::Perms(true)),
    ("no-perms", None, Act::Perms(false)), ("no-p", None, Act::Perms(false)),
    ("times", Some('t'), Act::Times(true)), ("no-times", None, Act::Times(false)),
    ("no-t", None, Act::Times(false)), ("owner", Some('o'), Act::Owner(true)),
    ("no-owner", None, Act::Owner(false)), ("no-o", None, Act::Owner(false)),
    ("group", Some('g'), Act::Group(true)), ("no-group", None, Act::Group(false)),
    ("no-g", None, Act::Group(false)), ("", Some('D'), Act::DevicesAndSpecials(true)),
    ("no-D", None, Act::DevicesAndSpecials(false)), ("devices", None, Act::Devices(true)),
    ("no-devices", None, Act::Devices(false)), ("specials", None, Act::Specials(true)),
    ("no-specials", None, Act::Specials(false)), ("links", Some('l'), Act::Links(true)),
    ("no-links", None, Act::Links(false)), ("no-l", None, Act::Links(false)),
    ("ignore-times", Some('I'), Act::IgnoreTimes), ("size-only", None, Act::SizeOnly),
    ("del", None, Act::DeleteDuring), ("delete", None, Act::Delete),
    ("delete-during", None, Act::DeleteDuring), ("whole-file", Some('W'), Act::WholeFile(true)),
    ("no-whole-file", None, Act::WholeFile(false)), ("no-W", None, Act::WholeFile(false)),
    ("checksum", Some('c'), Act::Checksum(true)), ("no-checksum", None, Act::Checksum(false)),
    ("no-c", None, Act::Checksum(false)), ("checksum-choice", None, Act::ChecksumChoice),
    ("cc", None, Act::ChecksumChoice), ("block-size", Some('B'), Act::BlockSize),
    ("progress", None, Act::Progress(true)), ("no-progress", None, Act::Progress(false)),
    ("out-format", None, Act::LogFormat), ("log-format", None, Act::LogFormat),
    ("port", None, Act::Port), ("password-file", None, Act::PasswordFile),
    ("contimeout", None, Act::Contimeout), ("address", None, Act::Address),
    ("ipv4", Some('4'), Act::IpFamily(4)), ("ipv6", Some('6'), Act::IpFamily(6)),
    ("itemize-changes", Some('i'), Act::Itemize), ("no-itemize-changes", None, Act::NoItemize),
    ("no-i", None, Act::NoItemize), ("numeric-ids", None, Act::NumericIds(true)),
    ("no-numeric-ids", None, Act::NumericIds(false)), ("rsh", Some('e'), Act::Rsh),
    ("rsync-path", None, Act::RsyncPath), ("protocol", None, Act::Protocol),
    ("checksum-seed", None, Act::ChecksumSeed), ("server", None, Act::Server),
    ("sender", None, Act::Sender),
    ("compress", Some('z'), Act::Compress(true)), ("no-compress", None, Act::Compress(false)),
    ("no-z", None, Act::Compress(false)), ("old-compress", None, Act::OldCompress),
    ("new-compress", None, Act::NewCompress), ("compress-choice", None, Act::CompressChoice),
    ("zc", None, Act::CompressChoice), ("compress-level", None, Act::CompressLevel),
    ("zl", None, Act::CompressLevel), ("skip-compress", None, Act::SkipCompress),
    ("exclude", None, Act::Exclude), ("include", None, Act::Include),
    ("filter", Some('f'), Act::Filter), ("exclude-from", None, Act::ExcludeFrom),
    ("include-from", None, Act::IncludeFrom), ("", Some('F'), Act::RsyncFilter),
    ("cvs-exclude", Some('C'), Act::Cvs(true)), ("no-cvs-exclude", None, Act::Cvs(false)),
    ("delete-excluded", None, Act::DeleteExcluded),
    ("", Some('P'), Act::PartialProgress), ("partial", None, Act::Partial(true)),
    ("no-partial", None, Act::Partial(false)), ("partial-dir", None, Act::PartialDir),
    ("temp-dir", Some('T'), Act::TempDir), ("delay-updates", None, Act::DelayUpdates(true)),
    ("no-delay-updates", None, Act::DelayUpdates(false)), ("inplace", None, Act::Inplace(true)),
    ("no-inplace", None, Act::Inplace(false)), ("append", None, Act::Append),
    ("append-verify", None, Act::AppendVerify), ("no-append", None, Act::NoAppend),
    ("backup", Some('b'), Act::Backup(true)), ("no-backup", None, Act::Backup(false)),
    ("backup-dir", None, Act::BackupDir), ("suffix", None, Act::Suffix),
    ("compare-dest", None, Act::BasisDir(AltDest::Compare)),
    ("copy-dest", None, Act::BasisDir(AltDest::Copy)),
    ("link-dest", None, Act::BasisDir(AltDest::Link)),
    ("remove-source-files", None, Act::RemoveSourceFiles),
    ("remove-sent-files", None, Act::RemoveSentFiles),
    ("update", Some('u'), Act::Update), ("existing", None, Act::Existing),
    ("ignore-non-existing", None, Act::Existing), ("ignore-existing", None, Act::IgnoreExisting),
    ("trust-sender", None, Act::TrustSender),
    ("max-size", None, Act::MaxSize), ("min-size", None, Act::MinSize),
    ("modify-window", Some('@'), Act::ModifyWindow),
    ("delete-before", None, Act::DeleteWhen(DeleteMode::Before)),
    ("delete-after", None, Act::DeleteWhen(DeleteMode::After)),
    ("delete-delay", None, Act::DeleteWhen(DeleteMode::Delay)),
    ("force", None, Act::Force(true)), ("no-force", None, Act::Force(false)),
    ("ignore-errors", None, Act::IgnoreErrors(true)),
    ("no-ignore-errors", None, Act::IgnoreErrors(false)), ("max-delete", None, Act::MaxDelete),
    ("omit-dir-times", Some('O'), Act::OmitDirTimes(true)),
    ("no-omit-dir-times", None, Act::OmitDirTimes(false)), ("no-O", None, Act::OmitDirTimes(false)),
    ("omit-link-times", Some('J'), Act::OmitLinkTimes(true)),
    ("no-omit-link-times", None, Act::OmitLinkTimes(false)),
    ("no-J", None, Act::OmitLinkTimes(false)),
    ("hard-links", Some('H'), Act::HardLinks(true)),
    ("no-hard-links", None, Act::HardLinks(false)), ("no-H", None, Act::HardLinks(false)),
    ("executability", Some('E'), Act::Executability), ("chmod", None, Act::Chmod),
    ("dirs", Some('d'), Act::Dirs(true)), ("no-dirs", None, Act::Dirs(false)),
    ("no-d", None, Act::Dirs(false)),
    ("copy-links", Some('L'), Act::CopyLinks), ("copy-unsafe-links", None, Act::CopyUnsafeLinks),
    ("safe-links", None, Act::SafeLinks), ("copy-dirlinks", Some('k'), Act::CopyDirlinks),
    ("insecure-links", None, Act::InsecureLinks(true)),
    ("confine-root", None, Act::ConfineRoot),
    ("sockopts", None, Act::Sockopts),
    ("drop-D", None, Act::DropDevices(true)),
    ("no-drop-D", None, Act::DropDevices(false)),
    ("no-insecure-links", None, Act::InsecureLinks(false)),
    ("keep-dirlinks", Some('K'), Act::KeepDirlinks),
    ("fuzzy", Some('y'), Act::Fuzzy(true)), ("no-fuzzy", None, Act::Fuzzy(false)),
    ("no-y", None, Act::Fuzzy(false)),
    ("stop-after", None, Act::StopAfter), ("time-limit", None, Act::StopAfter),
    ("stop-at", None, Act::StopAt), ("early-input", None, Act::EarlyInput),
    ("mkpath", None, Act::Mkpath(true)), ("no-mkpath", None, Act::Mkpath(false)),
    ("usermap", None, Act::Usermap), ("groupmap", None, Act::Groupmap), ("chown", None, Act::Chown),
    ("relative", Some('R'), Act::Tree(TreeAct::Relative(true))),
    ("no-relative", None, Act::Tree(TreeAct::Relative(false))),
    ("no-R", None, Act::Tree(TreeAct::Relative(false))),
    ("implied-dirs", None, Act::Tree(TreeAct::ImpliedDirs(true))),
    ("no-implied-dirs", None, Act::Tree(TreeAct::ImpliedDirs(false))),
    ("i-d", None, Act::Tree(TreeAct::ImpliedDirs(true))),
    ("no-i-d", None, Act::Tree(TreeAct::ImpliedDirs(false))),
    ("files-from", None, Act::Tree(TreeAct::FilesFrom)),
    ("from0", Some('0'), Act::Tree(TreeAct::From0(true))),
    ("no-from0", None, Act::Tree(TreeAct::From0(false))),
    ("one-file-system", Some('x'), Act::Tree(TreeAct::OneFileSystem)),
    ("no-one-file-system", None, Act::Tree(TreeAct::NoOneFileSystem)),
    ("no-x", None, Act::Tree(TreeAct::NoOneFileSystem)),
    ("prune-empty-dirs", Some('m'), Act::Tree(TreeAct::PruneEmptyDirs(true))),
    ("no-prune-empty-dirs", None, Act::Tree(TreeAct::PruneEmptyDirs(false))),
    ("no-m", None, Act::Tree(TreeAct::PruneEmptyDirs(false))),
    ("delete-missing-args", None, Act::Tree(TreeAct::MissingArgs(2))),
    ("ignore-missing-args", None, Act::Tree(TreeAct::MissingArgs(1))),
    ("sparse", Some('S'), Act::Sparse(true)), ("no-sparse", None, Act::Sparse(false)),
    ("no-S", None, Act::Sparse(false)), ("preallocate", None, Act::Preallocate),
    ("open-noatime", None, Act::OpenNoatime(true)),
    ("no-open-noatime", None, Act::OpenNoatime(false)),
    ("crtimes", Some('N'), Act::Crtimes(true)), ("no-crtimes", None, Act::Crtimes(false)),
    ("no-N", None, Act::Crtimes(false)),
    ("atimes", Some('U'), Act::Atimes), ("no-atimes", None, Act::NoAtimes),
    ("no-U", None, Act::NoAtimes),
    ("super", None, Act::Super(true)), ("no-super", None, Act::Super(false)),
    ("fake-super", None, Act::FakeSuper),
    ("acls", Some('A'), Act::Acls(true)), ("no-acls", None, Act::Acls(false)),
    ("no-A", None, Act::Acls(false)),
    ("xattrs", Some('X'), Act::Xattrs(true)),
    ("no-xattrs", None, Act::Xattrs(false)), ("no-X", None, Act::Xattrs(false)),
    ("munge-links", None, Act::MungeLinks(true)), ("no-munge-links", None, Act::MungeLinks(false)),
    ("inc-recursive", None, Act::IncRecursive(true)), ("i-r", None, Act::IncRecursive(true)),
    ("no-inc-recursive", None, Act::IncRecursive(false)), ("no-i-r", None, Act::IncRecursive(false)),
    ("remote-option", Some('M'), Act::RemoteOption),
    ("compress-threads", None, Act::CompressThreads), ("zt", None, Act::CompressThreads),
    ("fsync", None, Act::Fsync), ("copy-devices", None, Act::CopyDevices),
    ("write-devices", None, Act::WriteDevices(true)),
    ("no-write-devices", None, Act::WriteDevices(false)),
    ("motd", None, Act::Motd(true)), ("no-motd", None, Act::Motd(false)),
    ("old-dirs", None, Act::OldDirs), ("old-d", None, Act::OldDirs),
    ("blocking-io", None, Act::BlockingIo(true)),
    ("no-blocking-io", None, Act::BlockingIo(false)),
    ("outbuf", None, Act::OutBuf), ("copy-as", None, Act::CopyAs),
    ("iconv", None, Act::Iconv), ("no-iconv", None, Act::NoIconv),
    ("write-batch", None, Act::Batch(crate::options::batch::BatchMode::Write)),
    ("only-write-batch", None, Act::Batch(crate::options::batch::BatchMode::OnlyWrite)),
    ("read-batch", None, Act::Batch(crate::options::batch::BatchMode::Read)),
];

/// Short letters of rsync 3.5.0 that oxsync does not implement, with the
/// long spelling named in the refusal.
#[rustfmt::skip]
pub(crate) const UNSUPPORTED_SHORT: &[(char, &str)] = &[];

/// Long names of rsync 3.5.0 (upstream long_options) that oxsync does not
/// implement yet.
#[rustfmt::skip]
pub(crate) const UNSUPPORTED_LONG: &[&str] = &[
    "confine-root",
    "no-contimeout",
    "qsort", "use-qsort",
    "config", "daemon", "dparam", "detach", "no-detach",
];

/// The checksum names upstream 3.5.0 accepts in `--checksum-choice`.
#[rustfmt::skip]
const CHECKSUM_NAMES: &[&str] = &[
    "auto", "xxh128", "xxh3", "xxh64", "xxhash", "md5", "md4", "sha1", "none",
];

/// Every long option name the parser accepts (its tables, `--confine`).
pub fn accepted_long() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = SUPPORTED.iter().map(|t| t.0).collect();
    names.extend(crate::control::TABLE.iter().map(|t| t.0));
    names.push("confine");
    names.retain(|n| !n.is_empty());
    names.sort_unstable();
    names.dedup();
    names
}

/// Every short option letter the parser accepts.
pub fn accepted_short() -> Vec<char> {
    let mut letters: Vec<char> = SUPPORTED.iter().filter_map(|t| t.1).collect();
    letters.extend(crate::control::TABLE.iter().filter_map(|t| t.1));
    letters.sort_unstable();
    letters.dedup();
    letters
}

fn supported_long(name: &str) -> Option<Act> {
    SUPPORTED
        .iter()
        .find(|(long, _, _)| !long.is_empty() && *long == name)
        .map(|&(_, _, act)| act)
}

fn supported_short(letter: char) -> Option<Act> {
    SUPPORTED
        .iter()
        .find(|(_, short, _)| *short == Some(letter))
        .map(|&(_, _, act)| act)
}

/// The refusal for an option rsync knows (exit 4) or the popt-style error
/// for one it does not know either (exit 1).
fn long_refusal(name: &str, word: &str, server: bool) -> OptionError {
    if UNSUPPORTED_LONG.contains(&name) {
        return OptionError::unsupported(format!("option --{name} is not supported by oxsync yet"));
    }
    unknown(word, server)
}

fn short_refusal(letter: char, word: &str, server: bool) -> OptionError {
    match UNSUPPORTED_SHORT.iter().find(|(c, _)| *c == letter) {
        Some((_, long)) => OptionError::unsupported(format!(
            "option -{letter} ({long}) is not supported by oxsync yet"
        )),
        None => unknown(word, server),
    }
}

fn unknown(word: &str, server: bool) -> OptionError {
    let prefix = if server { "on remote machine: " } else { "" };
    OptionError::syntax(format!("{prefix}{word}: unknown option"))
}

/// Backslash-escapes shell metacharacters in an option value (upstream
/// options.c safe_arg for option values: wildcards are escaped too).
pub fn shell_escape(value: &str) -> String {
    const SPECIAL: &str = " \t\r\n!#$&;|<>(){}\"'`\\*?[]~";
    let mut s = String::with_capacity(value.len());
    for ch in value.chars() {
        if SPECIAL.contains(ch) {
            s.push('\\');
        }
        s.push(ch);
    }
    s
}

/// Parses a `--block-size` value: digits (optionally with a fraction) and
/// an optional unit (b, k, m, g, t, p; "kb" = 1000, "k"/"kib" = 1024).
// upstream: options.c:parse_size_arg()
fn parse_block_size(value: &str) -> Result<Option<u32>, OptionError> {
    let invalid = || OptionError::syntax(format!("--block-size={value} is invalid"));
    let num_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (num, unit) = value.split_at(num_end);
    let number: f64 = num.parse().map_err(|_| invalid())?;
    let mut unit_chars = unit.chars();
    let reps = match unit_chars.next().map(|c| c.to_ascii_lowercase()) {
        None | Some('b') => 0,
        Some('k') => 1,
        Some('m') => 2,
        Some('g') => 3,
        Some('t') => 4,
        Some('p') => 5,
        Some(_) => return Err(invalid()),
    };
    let multiplier: f64 = match unit_chars.as_str() {
        "" => 1024.0,
        "b" | "B" => 1000.0,
        tail if tail.eq_ignore_ascii_case("ib") => 1024.0,
        _ => return Err(invalid()),
    };
    let size = number * multiplier.powi(reps);
    if size > f64::from(MAX_BLOCK_SIZE) {
        return Err(OptionError::syntax(format!(
            "--block-size={value} is too large (max: 128.00K)"
        )));
    }
    // Truncation is what upstream does with the double; the range is checked.
    let size = size as u32;
    Ok((size != 0).then_some(size))
}

/// Parses a `--max-size`/`--min-size` value: digits (optionally with a
/// fraction), an optional unit (b, k, m, g, t, p; bytes when absent; "kb" =
/// 1000, "k"/"kib" = 1024) and an optional "+1" or "-1" adjustment.
// upstream: options.c:parse_size_arg()
fn parse_size(value: &str, name: &str) -> Result<u64, OptionError> {
    let invalid = || {
        OptionError::syntax(format!(
            "--{name}={value} is invalid: use a number with an optional unit (K, M, G...)"
        ))
    };
    let num_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (num, mut rest) = value.split_at(num_end);
    let number: f64 = num.parse().map_err(|_| invalid())?;
    let mut reps = 0;
    if let Some(c) = rest.chars().next().filter(|c| *c != '+' && *c != '-') {
        reps = match c.to_ascii_lowercase() {
            'b' => 0,
            'k' => 1,
            'm' => 2,
            'g' => 3,
            't' => 4,
            'p' => 5,
            _ => return Err(invalid()),
        };
        rest = &rest[1..];
    }
    let multiplier: f64 = if let Some(r) = rest.strip_prefix(['b', 'B']) {
        rest = r;
        1000.0
    } else if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case("ib") {
        rest = &rest[2..];
        1024.0
    } else {
        1024.0
    };
    let size = number * multiplier.powi(reps);
    if size >= (u64::MAX / 2) as f64 {
        return Err(OptionError::syntax(format!(
            "--{name}={value} is too large"
        )));
    }
    // Truncation is what upstream does with the double; the range is checked.
    let mut size = size as u64;
    match rest {
        "" => {}
        "+1" if num_end > 0 => size += 1,
        "-1" if num_end > 0 => size = size.saturating_sub(1),
        _ => return Err(invalid()),
    }
    Ok(size)
}

/// Seconds since the epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn parse_int(value: &str, word: &str) -> Result<i32, OptionError> {
    value.parse::<i32>().map_err(|_| {
        OptionError::syntax(format!(
            "{}: invalid numeric value",
            with_value(word, value)
        ))
    })
}

/// The option as given with its value: `--port=N` (`word` may hold it
/// already).
fn with_value(word: &str, value: &str) -> String {
    if word.contains('=') {
        word.to_string()
    } else {
        format!("{word}={value}")
    }
}

/// Checks `--checksum-choice=A[,B]` against upstream's names; "auto" and
/// "auto,auto" mean no choice.
// upstream: checksum.c:parse_checksum_choice()
fn parse_checksum_choice(value: &str) -> Result<Option<String>, OptionError> {
    let parts: Vec<&str> = match value.split_once(',') {
        Some((a, b)) => vec![a, b],
        None => vec![value],
    };
    for part in &parts {
        let known = CHECKSUM_NAMES.iter().any(|n| n.eq_ignore_ascii_case(part));
        if !known {
            return Err(OptionError::unsupported(format!(
                "unknown checksum name: {part}"
            )));
        }
    }
    if parts.iter().all(|p| p.eq_ignore_ascii_case("auto")) {
        return Ok(None);
    }
    Ok(Some(value.to_string()))
}

impl Options {
    /// Parses argv (without argv\[0\]) for either the client or `--server`.
    // upstream: options.c:parse_arguments()
    pub fn parse(args: &[OsString]) -> Result<Options, OptionError> {
        Options::parse_with(args, None).map_err(|failed| failed.0)
    }

    /// Parses a daemon client's argv (`--server ...`) against the module's
    /// refusals: every option word the parser reads is checked, wherever it
    /// sits. On failure, also returns what was parsed before the error
    /// (upstream's state when popt stopped, which decides how the protocol
    /// is set up to deliver the error).
    // upstream: clientserver.c:rsync_module() -> options.c:parse_arguments()
    pub fn parse_for_module(
        args: &[OsString],
        refusals: &crate::options::refuse::Refusals,
    ) -> Result<Options, Box<(OptionError, Options)>> {
        Options::parse_with(args, Some(refusals))
    }

    fn parse_with(
        args: &[OsString],
        refusals: Option<&crate::options::refuse::Refusals>,
    ) -> Result<Options, Box<(OptionError, Options)>> {
        let words = args
            .iter()
            .map(|a| {
                a.to_str().map(str::to_string).ok_or_else(|| {
                    OptionError::unsupported(format!(
                        "non-UTF-8 argument {:?} is not supported by oxsync yet",
                        a.to_string_lossy()
                    ))
                })
            })
            .collect::<Result<Vec<String>, OptionError>>()
            .map_err(|e| Box::new((e, Options::default())))?;
        let mut opts = Options::default();
        // The old meaning of -h (help) survives when it is the only argument.
        if let [only] = words.as_slice() {
            if only.len() > 1 && only.starts_with('-') && only[1..].chars().all(|c| c == 'h') {
                opts.help = true;
                return Ok(opts);
            }
        }
        match opts.read_words(&words, refusals) {
            Ok(()) => Ok(opts),
            Err(e) => Err(Box::new((e, opts))),
        }
    }

    /// Reads every word into `self`, then finishes the options.
    fn read_words(
        &mut self,
        words: &[String],
        refusals: Option<&crate::options::refuse::Refusals>,
    ) -> Result<(), OptionError> {
        let opts = self;
        let refused = |e: Option<OptionError>| e.map_or(Ok(()), Err);
        let mut next = 0;
        let mut only_paths = false;
        while next < words.len() {
            let word = &words[next];
            next += 1;
            if only_paths || word == "-" || !word.starts_with('-') {
                opts.args.push(word.clone());
                continue;
            }
            if word == "--" {
                only_paths = true;
                continue;
            }
            if let Some(body) = word.strip_prefix("--") {
                let (name, inline) = match body.split_once('=') {
                    Some((name, value)) => (name, Some(value)),
                    None => (body, None),
                };
                if let Some(r) = refusals {
                    refused(r.long(name))?;
                }
                if name == "confine" {
                    opts.confine = Some(match inline {
                        None | Some("yes") => true,
                        Some("no") => false,
                        Some(_) => {
                            return Err(OptionError::syntax(format!(
                                "{word}: use --confine or --confine=no"
                            )))
                        }
                    });
                    continue;
                }
                if let Some(cact) = crate::control::long(name) {
                    let value = match (cact.takes_value(), inline) {
                        (true, Some(v)) => v.to_string(),
                        (true, None) => take_next(words, &mut next, word)?,
                        (false, None) => String::new(),
                        (false, Some(_)) => {
                            return Err(OptionError::syntax(format!(
                                "{word}: option does not take an argument"
                            )))
                        }
                    };
                    opts.ctl.apply(cact, value, opts.server)?;
                    continue;
                }
                let act =
                    supported_long(name).ok_or_else(|| long_refusal(name, word, opts.server))?;
                if let Some(r) = refusals {
                    refused(r.implied_by(act))?;
                }
                let value = if act.takes_value() {
                    match inline {
                        Some(v) => Some(v.to_string()),
                        None => Some(take_next(words, &mut next, word)?),
                    }
                } else if inline.is_some() {
                    return Err(OptionError::syntax(format!(
                        "{word}: option does not take an argument"
                    )));
                } else {
                    None
                };
                if opts.apply(act, value, word)? {
                    return Ok(());
                }
                continue;
            }
            let letters = &word[1..];
            for (at, letter) in letters.char_indices() {
                if let Some(r) = refusals {
                    refused(r.short(letter))?;
                }
                if let Some(cact) = crate::control::short(letter) {
                    opts.ctl.apply(cact, String::new(), opts.server)?;
                    continue;
                }
                let act = supported_short(letter)
                    .ok_or_else(|| short_refusal(letter, word, opts.server))?;
                if let Some(r) = refusals {
                    refused(r.implied_by(act))?;
                }
                if !act.takes_value() {
                    if opts.apply(act, None, word)? {
                        return Ok(());
                    }
                    continue;
                }
                // A value-taking letter swallows the rest of the bundle.
                let rest = &letters[at + letter.len_utf8()..];
                let value = if rest.is_empty() {
                    take_next(words, &mut next, word)?
                } else {
                    rest.strip_prefix('=').unwrap_or(rest).to_string()
                };
                if opts.apply(act, Some(value), &format!("-{letter}"))? {
                    return Ok(());
                }
                break;
            }
        }
        if opts.version > 0 {
            return Ok(());
        }
        // upstream: options.c parse_arguments() (xfer_dirs >= 4,
        // write_devices, MAX_DAEMON_COMPRESSION_THREADS)
        if opts.old_dirs {
            opts.filters.push(FilterArg::Filter("- /*/*".to_string()));
            opts.recursive = true;
        }
        if opts.write_devices {
            opts.inplace = true;
        }
        // upstream: options.c (RSYNC_ICONV unless -s was given or a daemon;
        // "-" on a client means none)
        if !opts.server && opts.iconv.is_none() && !opts.no_iconv && refusals.is_none() {
            if let Ok(v) = std::env::var("RSYNC_ICONV") {
                if !v.is_empty() && !opts.ctl.protect() {
                    opts.iconv = Some(v);
                }
            }
        }
        if !opts.server && opts.iconv.as_deref() == Some("-") {
            opts.iconv = None;
        }
        if let Some(r) = refusals {
            r.check_implied(opts)?;
            opts.compress_threads = opts.compress_threads.min(MAX_DAEMON_COMPRESSION_THREADS);
        }
        crate::options::batch::finish_options(opts)?;
        crate::options::tree::finish_options(opts)?;
        // upstream: options.c (SUPPORT_XATTRS)
        if opts.fake_super && opts.xattrs > 1 {
            return Err(OptionError::syntax(
                "--fake-super conflicts with -XX".to_string(),
            ));
        }
        if opts.delete != DeleteMode::Off && !opts.recursive && !opts.dirs {
            return Err(OptionError::syntax(
                "--delete does not work without --recursive (-r) or --dirs (-d).".to_string(),
            ));
        }
        if !opts.server && opts.args.len() == 1 && !opts.reads_batch() {
            // upstream: a single argument lists (and implies -d).
            opts.ctl.list_only |= 1;
        }
        if opts.ctl.list_only > 0 && !opts.recursive {
            opts.dirs = true;
        }
        opts.finish_update_options()?;
        opts.finish_confine_root()?;
        let has_out_format = opts.log_format.is_some() || opts.itemize > 0;
        let (server, verbose, stats, progress) =
            (opts.server, opts.verbose, opts.stats, opts.progress);
        opts.ctl
            .finish(server, verbose, stats, progress, has_out_format)?;
        Ok(())
    }

    /// Records a --usermap/--groupmap value (`via_chown`: made by --chown).
    // upstream: options.c:parse_arguments() OPT_USERMAP/OPT_GROUPMAP/OPT_CHOWN
    fn set_map(&mut self, user: bool, value: String, via_chown: bool) -> Result<(), OptionError> {
        let which = if user { "user" } else { "group" };
        let (slot, prior_chown) = if user {
            (&mut self.usermap, &mut self.maps_via_chown.0)
        } else {
            (&mut self.groupmap, &mut self.maps_via_chown.1)
        };
        if slot.is_some() {
            return Err(OptionError::syntax(match (via_chown, *prior_chown) {
                (false, true) => format!("--{which}map conflicts with prior --chown."),
                (true, false) => format!("--chown conflicts with prior --{which}map."),
                (false, false) => format!("You can only specify --{which}map once."),
                (true, true) => format!("You can only specify a {which}-affecting --chown once."),
            }));
        }
        crate::ids::MapRules::parse(&value, user)
            .map_err(|e| OptionError::syntax(e.to_string()))?;
        *slot = Some(value);
        *prior_chown = via_chown;
        Ok(())
    }

    /// Applies one option; returns true when parsing must stop (--help).
    fn apply(&mut self, act: Act, value: Option<String>, word: &str) -> Result<bool, OptionError> {
        let value = value.unwrap_or_default();
        match act {
            Act::Archive => self.set_archive(),
            Act::Recursive(on) => {
                self.recursive = on;
                self.tree.recursive_explicit = on;
            }
            Act::Links(on) => self.links = on,
            Act::CopyLinks => self.copy_links = true,
            Act::CopyUnsafeLinks => self.copy_unsafe_links = true,
            Act::SafeLinks => self.safe_links = true,
            Act::InsecureLinks(on) => self.insecure_links = on,
            Act::DropDevices(on) => self.drop_devices = on,
            Act::CopyDirlinks => self.copy_dirlinks = true,
            Act::KeepDirlinks => self.keep_dirlinks = true,
            Act::Fuzzy(true) => self.fuzzy = self.fuzzy.saturating_add(1).min(2),
            Act::Fuzzy(false) => self.fuzzy = 0,
            Act::Mkpath(on) => self.mkpath = on,
            Act::Tree(t) => self.tree.apply(t, value),
            Act::Sparse(on) => self.sparse = on,
            Act::Preallocate => self.preallocate = true,
            Act::OpenNoatime(on) => self.open_noatime = on,
            // upstream: options.c refuses it where it appears on a build
            // without SUPPORT_CRTIMES (Linux); the negations are accepted.
            Act::Crtimes(true) => {
                return Err(OptionError::syntax(
                    "This rsync does not support --crtimes (-N)".to_string(),
                ))
            }
            Act::Crtimes(false) => {}
            Act::MungeLinks(on) => self.munge_links = on,
            Act::Atimes => self.add_atimes(),
            Act::NoAtimes => self.atimes = 0,
            // One setting in upstream (am_root): the last one wins.
            Act::Super(on) => self.set_super(Some(on), false),
            Act::FakeSuper => self.set_super(None, true),
            Act::Xattrs(true) => self.xattrs = self.xattrs.saturating_add(1).min(2),
            Act::Xattrs(false) => self.xattrs = 0,
            // Nothing to forward: the client's `-e` letters carry it.
            Act::IncRecursive(on) => self.inc_recursive = Some(on),
            Act::CompressThreads => {
                self.compress_threads = parse_int(&value, word)?.max(0) as u32;
            }
            Act::Fsync => self.fsync = true,
            Act::CopyDevices => self.copy_devices = true,
            Act::WriteDevices(on) => self.write_devices = on,
            Act::Motd(on) => self.no_motd = !on,
            Act::OldDirs => self.old_dirs = true,
            Act::BlockingIo(on) => self.blocking_io = Some(on),
            Act::OutBuf => self.set_outbuf(&value)?,
            Act::CopyAs => self.copy_as = Some(value),
            Act::Iconv => self.set_iconv(Some(value)),
            Act::NoIconv => self.set_iconv(None),
            Act::RemoteOption => self.add_remote_option(value)?,
            Act::Usermap => self.set_map(true, value, false)?,
            Act::Groupmap => self.set_map(false, value, false)?,
            Act::Chown => self.set_chown(&value)?,
            Act::Perms(on) => self.perms = on,
            // upstream: -A turns on -p as well.
            Act::Acls(on) => self.set_acls(on),
            Act::Times(on) => self.times = on,
            Act::Owner(on) => self.owner = on,
            Act::Group(on) => self.group = on,
            Act::DevicesAndSpecials(on) => {
                self.devices = on;
                self.specials = on;
            }
            Act::Devices(on) => self.devices = on,
            Act::Specials(on) => self.specials = on,
            Act::Verbose => self.verbose = self.verbose.saturating_add(1),
            Act::NoVerbose => self.verbose = 0,
            Act::Quiet => self.quiet = true,
            Act::DryRun => self.dry_run = true,
            Act::Checksum(on) => self.checksum = on,
            Act::WholeFile(on) => self.whole_file = Some(on),
            Act::IgnoreTimes => self.ignore_times = true,
            Act::SizeOnly => self.size_only = true,
            Act::Delete if self.delete == DeleteMode::Off => self.delete = DeleteMode::During,
            Act::Delete => {}
            Act::DeleteDuring => self.set_delete_when(DeleteMode::During)?,
            Act::DeleteWhen(mode) => self.set_delete_when(mode)?,
            Act::Force(on) => self.force = on,
            Act::IgnoreErrors(on) => self.ignore_errors = on,
            Act::OmitDirTimes(on) => self.omit_dir_times = on,
            Act::OmitLinkTimes(on) => self.omit_link_times = on,
            Act::HardLinks(on) => self.hard_links = on,
            Act::Executability => self.executability = true,
            Act::Dirs(on) => self.dirs = on,
            Act::Chmod => self.add_chmod(value)?,
            Act::EarlyInput => self.early_input = Some(value),
            Act::StopAfter => self.stop_at = Some(crate::stoptime::stop_after(&value, now())?),
            Act::StopAt => self.stop_at = Some(crate::stoptime::stop_at(&value, now())?),
            Act::MaxDelete => {
                self.max_delete = Some(parse_int(&value, word)?.max(0) as u32);
            }
            Act::Batch(mode) => crate::options::batch::apply_option(self, mode, value)?,
            Act::Itemize => self.itemize = self.itemize.saturating_add(1),
            Act::NoItemize => self.itemize = 0,
            Act::Stats => self.stats = true,
            Act::Progress(on) => self.progress = on,
            Act::NumericIds(on) => self.numeric_ids = on,
            Act::Server => self.server = true,
            Act::Sender => self.set_sender()?,
            Act::Help => {
                self.help = true;
                return Ok(true);
            }
            Act::Version => self.version = self.version.saturating_add(1),
            Act::Rsh => self.rsh = Some(value),
            Act::RsyncPath => self.rsync_path = Some(value),
            Act::Protocol => self.set_protocol(&value, word)?,
            Act::ChecksumChoice => self.checksum_choice = parse_checksum_choice(&value)?,
            Act::BlockSize => self.block_size = parse_block_size(&value)?,
            Act::ChecksumSeed => {
                let seed = parse_int(&value, word)?;
                self.checksum_seed = (seed != 0).then_some(seed);
            }
            Act::LogFormat => self.log_format = Some(value),
            Act::Compress(on) => self.set_compress(on),
            Act::OldCompress => self.set_compress_codec("zlib"),
            Act::NewCompress => self.set_compress_codec("zlibx"),
            Act::CompressChoice => self.set_compress_choice(&value)?,
            Act::CompressLevel => {
                self.compress_level = Some(parse_int(&value, word)?);
                self.compress = true;
            }
            Act::SkipCompress => self.skip_compress = Some(value),
            Act::Port => self.set_port(&value, word)?,
            Act::PasswordFile => self.password_file = Some(value),
            Act::Contimeout => {
                let secs = parse_int(&value, word)?;
                self.contimeout = (secs > 0).then_some(secs as u64);
            }
            Act::Address => self.bind_address = Some(value),
            Act::IpFamily(f) => self.ip_family = f,
            Act::Exclude => self.filters.push(FilterArg::Exclude(value)),
            Act::Include => self.filters.push(FilterArg::Include(value)),
            Act::Filter => self.filters.push(FilterArg::Filter(value)),
            Act::ExcludeFrom => self.filters.push(FilterArg::ExcludeFrom(value)),
            Act::IncludeFrom => self.filters.push(FilterArg::IncludeFrom(value)),
            Act::RsyncFilter => self.filters.push(FilterArg::RsyncFilter),
            Act::Cvs(on) => self.cvs_exclude = on,
            Act::DeleteExcluded => self.set_delete_excluded(),
            Act::PartialProgress => {
                self.partial = true;
                self.progress = true;
            }
            Act::Partial(on) => self.partial = on,
            Act::DelayUpdates(on) => self.delay_updates = on,
            Act::Inplace(on) => self.inplace = on,
            Act::Append if self.server => self.append = self.append.saturating_add(1).min(2),
            Act::Append => self.append = 1,
            Act::AppendVerify => self.append = 2,
            Act::NoAppend => self.append = 0,
            Act::Backup(on) => self.backup = on,
            Act::RemoveSourceFiles => {
                self.remove_source_files = true;
                self.remove_sent_only = false;
            }
            Act::RemoveSentFiles => {
                self.remove_source_files = true;
                self.remove_sent_only = true;
            }
            Act::Update => self.update_only = true,
            Act::Existing => self.ignore_non_existing = true,
            Act::IgnoreExisting => self.ignore_existing = true,
            Act::TrustSender => self.trust_sender = true,
            Act::MaxSize => self.max_size = Some(parse_size(&value, "max-size")?),
            Act::MinSize => self.min_size = Some(parse_size(&value, "min-size")?),
            Act::ModifyWindow => self.modify_window = Some(parse_int(&value, word)?),
            Act::PartialDir => self.partial_dir = Some(value),
            Act::TempDir => self.temp_dir = Some(value),
            Act::ConfineRoot => self.confine_root = Some(value.into()),
            Act::Sockopts => self.sockopts = Some(value),
            Act::BackupDir => self.backup_dir = Some(value),
            Act::Suffix => self.suffix = Some(value),
            Act::BasisDir(kind) => self.add_basis_dir(kind, value)?,
        }
        Ok(false)
    }

    /// `-U`; given twice, atimes are kept with `--open-noatime`.
    fn add_atimes(&mut self) {
        self.atimes = self.atimes.saturating_add(1).min(2);
        if self.atimes > 1 {
            self.open_noatime = true;
        }
    }

    /// `--super`, `--no-super` or `--fake-super`: one setting.
    fn set_super(&mut self, super_user: Option<bool>, fake_super: bool) {
        self.super_user = super_user;
        self.fake_super = fake_super;
    }

    /// `--iconv=SPEC` or `--no-iconv`.
    fn set_iconv(&mut self, spec: Option<String>) {
        self.no_iconv = spec.is_none();
        self.iconv = spec;
    }

    /// `-A` (which turns on `-p` as well) or `--no-A`.
    fn set_acls(&mut self, on: bool) {
        self.acls = on;
        if on {
            self.perms = true;
        }
    }

    /// `--chmod=CHMOD`, checked as it is read.
    fn add_chmod(&mut self, value: String) -> Result<(), OptionError> {
        crate::chmod::ChmodSpec::parse(&value).map_err(|_| {
            OptionError::syntax(format!("Invalid argument passed to --chmod ({value})"))
        })?;
        self.chmod.push(value);
        Ok(())
    }

    /// `--sender`, which only a server takes.
    fn set_sender(&mut self) -> Result<(), OptionError> {
        if !self.server {
            return Err(OptionError::syntax(
                "--sender is only valid after --server".to_string(),
            ));
        }
        self.sender = true;
        Ok(())
    }

    /// `-z` or `--no-z` (which forgets the codec chosen).
    fn set_compress(&mut self, on: bool) {
        self.compress = on;
        if !on {
            self.compress_choice = None;
        }
    }

    /// `--old-compress` or `--new-compress`: compression with that codec.
    fn set_compress_codec(&mut self, codec: &str) {
        self.compress = true;
        self.compress_choice = Some(codec.into());
    }

    /// `--delete-excluded`, which implies `--delete`.
    fn set_delete_excluded(&mut self) {
        self.delete_excluded = true;
        if self.delete == DeleteMode::Off {
            self.delete = DeleteMode::During;
        }
    }

    /// `-a`: -rlptgoD.
    fn set_archive(&mut self) {
        self.recursive = true;
        self.links = true;
        self.perms = true;
        self.times = true;
        self.group = true;
        self.owner = true;
        self.devices = true;
        self.specials = true;
    }

    /// `--outbuf=N|L|B`.
    fn set_outbuf(&mut self, value: &str) -> Result<(), OptionError> {
        // upstream: only the first letter counts.
        let mode = match value.chars().next().map(|c| c.to_ascii_uppercase()) {
            Some('N' | 'U') => 'N',
            Some('L') => 'L',
            Some('B' | 'F') => 'B',
            _ => {
                return Err(OptionError::syntax(
                    "Invalid --outbuf setting -- specify N, L, or B.".to_string(),
                ))
            }
        };
        self.outbuf = Some(mode);
        Ok(())
    }

    /// `-M OPT`: an option for the remote side only.
    fn add_remote_option(&mut self, value: String) -> Result<(), OptionError> {
        if !value.starts_with('-') {
            return Err(OptionError::syntax(format!(
                "Remote option must start with a dash: {value}"
            )));
        }
        self.remote_options.push(value);
        Ok(())
    }

    /// `--chown=USER:GROUP`: a `--usermap`/`--groupmap` of `*`.
    fn set_chown(&mut self, value: &str) -> Result<(), OptionError> {
        let (user, group) = match value.split_once(':') {
            Some((u, g)) => (u.to_string(), g.to_string()),
            None => (value.to_string(), String::new()),
        };
        if !user.is_empty() {
            self.set_map(true, format!("*:{user}"), true)?;
        }
        if !group.is_empty() {
            self.set_map(false, format!("*:{group}"), true)?;
        }
        Ok(())
    }

    /// `--protocol=NUM`, within the protocols oxsync speaks.
    fn set_protocol(&mut self, value: &str, word: &str) -> Result<(), OptionError> {
        let protocol = parse_int(value, word)?;
        if protocol > *PROTOCOL_RANGE.end() {
            return Err(OptionError {
                message: format!("--protocol must be no more than {}", PROTOCOL_RANGE.end()),
                exit_code: 2,
            });
        }
        if protocol < *PROTOCOL_RANGE.start() {
            return Err(OptionError::unsupported(format!(
                "--protocol={protocol} is not supported (oxsync speaks protocols {} to {})",
                PROTOCOL_RANGE.start(),
                PROTOCOL_RANGE.end()
            )));
        }
        self.protocol = Some(protocol);
        Ok(())
    }

    /// `--compress-choice=NAME` (`auto`, `none` or a codec).
    fn set_compress_choice(&mut self, value: &str) -> Result<(), OptionError> {
        let v = value.to_ascii_lowercase();
        if v == "auto" {
            self.compress_choice = None;
        } else if v == "none" {
            self.compress = false;
            self.compress_choice = None;
        } else if ["zstd", "lz4", "zlibx", "zlib"].contains(&v.as_str()) {
            self.compress = true;
            self.compress_choice = Some(v);
        } else {
            return Err(OptionError::unsupported(format!(
                "unknown compress name: {value}"
            )));
        }
        Ok(())
    }

    /// `--port=PORT`.
    fn set_port(&mut self, value: &str, word: &str) -> Result<(), OptionError> {
        let port = parse_int(value, word)?;
        self.port = Some(u16::try_from(port).map_err(|_| {
            OptionError::syntax(format!("{}: invalid port", with_value(word, value)))
        })?);
        Ok(())
    }

    /// `--compare-dest`, `--copy-dest` or `--link-dest` DIR: one kind,
    /// at most [`MAX_BASIS_DIRS`] of them.
    fn add_basis_dir(&mut self, kind: AltDest, value: String) -> Result<(), OptionError> {
        if let Some(had) = self.alt_dest.filter(|&had| had != kind) {
            return Err(OptionError::syntax(format!(
                "ERROR: the {} option conflicts with the {} option",
                kind.option(),
                had.option()
            )));
        }
        if self.basis_dirs.len() >= MAX_BASIS_DIRS {
            return Err(OptionError::syntax(format!(
                "ERROR: at most {MAX_BASIS_DIRS} {} args may be specified",
                kind.option()
            )));
        }
        self.alt_dest = Some(kind);
        self.basis_dirs.push(value);
        Ok(())
    }

    /// Sets the deletion timing named by `--delete-WHEN`; `--delete-during`
    /// and `--delete-delay` share upstream's variable (the last wins), the
    /// other timings cannot be combined.
    // upstream: options.c:parse_arguments() (delete_before/during/after)
    fn set_delete_when(&mut self, mode: DeleteMode) -> Result<(), OptionError> {
        let group = |m: DeleteMode| match m {
            DeleteMode::During | DeleteMode::Delay => 1,
            DeleteMode::Before => 2,
            DeleteMode::After => 3,
            DeleteMode::Off => 0,
        };
        let named = match self.delete {
            DeleteMode::During | DeleteMode::Delay if !self.delete_during_named => 0,
            had => group(had),
        };
        if named != 0 && named != group(mode) {
            return Err(OptionError::syntax(
                "You may not combine multiple --delete-WHEN options.".to_string(),
            ));
        }
        self.delete = mode;
        self.delete_during_named = group(mode) == 1;
        Ok(())
    }

    /// `--confine-root` must be absolute and cannot go with
    /// `--insecure-links` (which would follow every symlink, so nothing
    /// would be confined); it is kept lexically normalised.
    // upstream: options.c:parse_arguments() (confine_root)
    fn finish_confine_root(&mut self) -> Result<(), OptionError> {
        let Some(root) = &self.confine_root else {
            return Ok(());
        };
        if !root.is_absolute() {
            return Err(OptionError::syntax(
                "--confine-root must be an absolute path".to_string(),
            ));
        }
        if self.insecure_links {
            return Err(OptionError::syntax(
                "--insecure-links cannot be combined with --confine-root".to_string(),
            ));
        }
        self.confine_root = Some(confine::operator::normalize(root));
        Ok(())
    }

    /// The consistency rules upstream applies after parsing the update
    /// options (`--append` implies `--inplace`, which excludes a partial
    /// directory; `--backup-dir` implies `-b`; the suffix has no slash).
    // upstream: options.c:parse_arguments() (tail)
    fn finish_update_options(&mut self) -> Result<(), OptionError> {
        if self.append > 0 {
            if self.whole_file == Some(true) {
                return Err(OptionError::syntax(
                    "--append cannot be used with --whole-file".to_string(),
                ));
            }
            self.inplace = true;
        }
        if let Some(dir) = &self.partial_dir {
            let trimmed = dir.trim_end_matches('/');
            if trimmed.is_empty() && !dir.starts_with('/') || trimmed == "." {
                self.partial_dir = None;
            }
        }
        if self.inplace && (self.partial_dir.is_some() || self.delay_updates) {
            return Err(OptionError::syntax(format!(
                "--{} cannot be used with --{}",
                if self.append > 0 { "append" } else { "inplace" },
                if self.delay_updates {
                    "delay-updates"
                } else {
                    "partial-dir"
                }
            )));
        }
        if self.backup_dir.as_deref() == Some("") {
            self.backup_dir = None;
        }
        if self.backup_dir.is_some() {
            self.backup = true;
        }
        let suffix = self.backup_suffix();
        if suffix.contains('/') {
            return Err(OptionError::syntax(format!(
                "--suffix cannot contain slashes: {suffix}"
            )));
        }
        if self.backup
            && self.backup_dir.is_none()
            && suffix.is_empty()
            && !(self.server && self.sender)
        {
            return Err(OptionError::syntax(
                "--suffix cannot be empty without a --backup-dir".to_string(),
            ));
        }
        Ok(())
    }

    /// The partial directory in effect: `--partial-dir`, or `.~tmp~` for
    /// `--delay-updates` (upstream partial_dir).
    pub fn partial_dir_eff(&self) -> Option<&str> {
        match (&self.partial_dir, self.delay_updates) {
            (Some(dir), _) => Some(dir),
            (None, true) => Some(DELAY_UPDATES_DIR),
            (None, false) => None,
        }
    }

    /// Partial files are kept (upstream keep_partial after parsing: not with
    /// --inplace, always with a partial directory).
    pub fn keep_partial(&self) -> bool {
        !self.inplace && (self.partial || self.partial_dir_eff().is_some())
    }

    /// The backup suffix in effect: `--suffix`, else "" with a
    /// `--backup-dir` and "~" without.
    pub fn backup_suffix(&self) -> &str {
        match &self.suffix {
            Some(s) => s,
            None if self.backup_dir.is_some() => "",
            None => "~",
        }
    }

    /// How this side's output format itemizes (upstream
    /// stdout_format_has_i): 0 without `%i`, 2 for a server told `%i%I`,
    /// else the `-i` count (at least 1 when the format has `%i`).
    // upstream: options.c:parse_arguments() (stdout_format_has_i)
    pub fn stdout_has_i(&self) -> u8 {
        match &self.log_format {
            Some(f) if self.server && log_format_has(f, 'I') => 2,
            Some(f) if log_format_has(f, 'i') => self.itemize | 1,
            Some(_) => 0,
            None => self.itemize,
        }
    }

    /// The `--log-format` hint a sending client gives the server (which
    /// itemizes on the client's behalf), if any: "%i%I", "%i", "%o" or "X".
    // upstream: options.c:server_options() (stdout_format part)
    fn log_format_hint(&self) -> Option<&'static str> {
        let format: &str = match (&self.log_format, self.itemize) {
            (Some(format), _) => format,
            (None, 1..) => "%i %n%L",
            (None, 0) if self.verbose > 0 || self.progress => "%n%L",
            (None, 0) => return None,
        };
        let itemize_level = if log_format_has(format, 'i') {
            self.itemize.max(1)
        } else {
            0
        };
        if itemize_level > 1 {
            Some("%i%I")
        } else if itemize_level == 1 {
            Some("%i")
        } else if log_format_has(format, 'o') {
            Some("%o")
        } else if self.verbose == 0 {
            Some("X")
        } else {
            None
        }
    }

    /// An option value for the server's argv: shell-escaped, unless the
    /// arguments go over the protocol (`-s`), as upstream safe_arg().
    fn escape_value(&self, value: &str) -> String {
        if self.ctl.protect() {
            value.to_string()
        } else {
            shell_escape(value)
        }
    }

    /// Whether two modification times count as equal under
    /// `--modify-window` (0: whole seconds; negative: nanoseconds too;
    /// positive: within that many seconds).
    // upstream: util1.c:same_time()
    pub fn same_time(&self, a_sec: i64, a_nsec: u32, b_sec: i64, b_nsec: u32) -> bool {
        match self.modify_window.unwrap_or(0) {
            0 => a_sec == b_sec,
            w if w < 0 => a_sec == b_sec && a_nsec == b_nsec,
            w => a_sec.abs_diff(b_sec) <= w as u64,
        }
    }

    /// Directory times are left alone: upstream implies --omit-dir-times
    /// for -b without --backup-dir (backups land beside the files).
    pub fn omit_dir_times(&self) -> bool {
        self.omit_dir_times || self.backup && self.backup_dir.is_none()
    }

    /// Whether the receiving side acts as the super-user: `--super` or
    /// `--no-super`, else its effective uid (upstream am_root).
    pub fn am_root(&self) -> bool {
        self.fake_super
            || self
                .super_user
                .unwrap_or_else(|| rustix::process::geteuid().is_root())
    }

    /// The client's `--chmod` specs as one spec (the values were checked
    /// while parsing), or None without any.
    pub fn chmod_spec(&self) -> Option<crate::chmod::ChmodSpec> {
        if self.chmod.is_empty() {
            return None;
        }
        crate::chmod::ChmodSpec::parse(&self.chmod.join(",")).ok()
    }
}

/// Takes the next argv word as the value of `word`, or fails like popt.
fn take_next(words: &[String], next: &mut usize, word: &str) -> Result<String, OptionError> {
    let value = words
        .get(*next)
        .cloned()
        .ok_or_else(|| OptionError::syntax(format!("{word}: missing argument")))?;
    *next += 1;
    Ok(value)
}

mod server_args;

/// Whether this side, receiving, may use incremental recursion with these
/// options (the sending side's choice is its own).
// upstream: compat.c set_allow_inc_recurse() (!am_sender), plus what
// oxsync's receiving side does not yet do incrementally (batches it
// writes, --delete-missing-args, -m, --iconv)
pub fn receiver_allows(opts: &Options) -> bool {
    opts.recursive
        && opts.inc_recursive != Some(false)
        && !matches!(opts.delete, DeleteMode::Before | DeleteMode::After)
        && !opts.delay_updates
        && !opts.tree.prune_empty_dirs
        && opts.batch.is_none()
        && opts.tree.missing_args != 2
        && opts.ctl.list_only == 0
        // --iconv re-sorts each received list (wire_order): not per list yet.
        && (opts.iconv.is_none() || opts.no_iconv)
        && !crate::charset::active()
}

/// Whether this side, sending, may use incremental recursion with these
/// options.
// upstream: compat.c set_allow_inc_recurse() (recurse, --no-inc-recursive),
// plus what oxsync's sending side does not yet do incrementally (batches,
// --iconv)
pub fn sender_allows(opts: &Options) -> bool {
    opts.recursive
        && opts.inc_recursive != Some(false)
        && opts.batch.is_none()
        && (opts.iconv.is_none() || opts.no_iconv)
        && !crate::charset::active()
}

/// A client offers incremental recursion (the `i` of its `-e` letters)
/// when its options allow it for the side it takes.
pub fn client_offers_inc(opts: &Options, receiving: bool) -> bool {
    allows_inc(opts, receiving)
}

/// This side's options allow incremental recursion, receiving or sending.
pub fn allows_inc(opts: &Options, receiving: bool) -> bool {
    if receiving {
        receiver_allows(opts)
    } else {
        sender_allows(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Options, OptionError> {
        let args: Vec<OsString> = words.iter().map(OsString::from).collect();
        Options::parse(&args)
    }

    /// Parses a space-separated command line that must be accepted.
    fn ok(line: &str) -> Options {
        let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
        match parse(&words) {
            Ok(opts) => opts,
            Err(e) => panic!("{line:?} failed: {e}"),
        }
    }

    #[rustfmt::skip]
    fn archive() -> Options {
        let on = true;
        Options { recursive: on, links: on, perms: on, times: on, owner: on, group: on, devices: on, specials: on, ..Options::default() }
    }

    /// The fields a server must agree on with the client, as the server is
    /// expected to see them: whole_file=Some(false) is the remote default and
    /// is not sent; delete, size-only and stats reach only a receiving server;
    /// how the client reports (itemize, progress, format) is its own affair.
    fn transfer_view(o: &Options, server_sender: bool) -> Options {
        let mut v = Options {
            verbose: o.verbose.min(9),
            whole_file: o.whole_file.filter(|&w| w),
            ..Options::default()
        };
        (v.recursive, v.links, v.perms, v.times) = (o.recursive, o.links, o.perms, o.times);
        (v.owner, v.group, v.devices, v.specials) = (o.owner, o.group, o.devices, o.specials);
        (v.quiet, v.dry_run, v.checksum, v.ignore_times) =
            (o.quiet, o.dry_run, o.checksum, o.ignore_times);
        (v.numeric_ids, v.block_size, v.checksum_seed) =
            (o.numeric_ids, o.block_size, o.checksum_seed);
        v.checksum_choice = o.checksum_choice.clone();
        if !server_sender {
            (v.size_only, v.stats) = (o.size_only, o.stats);
            (v.delete, v.delete_during_named) = (o.delete, o.delete_during_named);
        }
        v
    }

    #[test]
    fn archive_and_bundles() {
        assert_eq!(
            ok("-a s d"),
            Options {
                args: vec!["s".into(), "d".into()],
                ..archive()
            }
        );
        let o = ok("-avvi -- -x y");
        assert_eq!(
            (o.verbose, o.itemize, o.args.clone()),
            (2, 1, vec!["-x".into(), "y".into()])
        );
        assert_eq!(
            Options {
                verbose: 0,
                itemize: 0,
                args: vec![],
                ..o
            },
            archive()
        );
        let o = ok("-rD --no-specials a --no-r - b -r");
        assert!(o.recursive && o.devices && !o.specials);
        assert_eq!(o.args, ["a", "-", "b"]);
        let o = ok("-a --no-D --no-o --no-g --no-l --no-times --no-perms --no-devices x");
        assert_eq!(
            o,
            Options {
                recursive: true,
                args: vec!["x".into()],
                // A single argument lists it.
                ctl: crate::control::Control {
                    list_only: 1,
                    ..Default::default()
                },
                ..Options::default()
            }
        );
        let o = ok("-a --no-t --no-p --no-recursive --no-group --no-owner --no-links");
        assert_eq!(
            o,
            Options {
                devices: true,
                specials: true,
                ..Options::default()
            }
        );
    }

    #[test]
    fn values() {
        assert_eq!(ok("-B1024 x").block_size, Some(1024));
        assert_eq!(ok("-B 2k x").block_size, Some(2048));
        assert_eq!(ok("--block-size=1kb x").block_size, Some(1000));
        assert_eq!(ok("--block-size 128K x").block_size, Some(MAX_BLOCK_SIZE));
        assert_eq!(ok("-B=700 x").block_size, Some(700));
        assert_eq!(ok("-B0 x").block_size, None);
        let o = parse(&[
            "-ave",
            "ssh -p 2222",
            "--rsync-path",
            "/opt/rsync",
            "s",
            "h:d",
        ]);
        let o = o.unwrap_or_default();
        assert_eq!(o.rsh.as_deref(), Some("ssh -p 2222"));
        assert_eq!(o.rsync_path.as_deref(), Some("/opt/rsync"));
        let o = ok("--rsh=ssh --protocol 30 --cc=xxh128 --checksum-seed=-5 x");
        assert_eq!((o.protocol, o.checksum_seed), (Some(30), Some(-5)));
        assert_eq!(o.checksum_choice.as_deref(), Some("xxh128"));
        assert_eq!(ok("--checksum-choice=auto,auto x").checksum_choice, None);
        assert_eq!(
            ok("--checksum-choice=XXH3,md5 x")
                .checksum_choice
                .as_deref(),
            Some("XXH3,md5")
        );
        assert_eq!(ok("--checksum-seed=0 x").checksum_seed, None);
        assert_eq!(
            ok("--out-format=%n%i --log-format %o x")
                .log_format
                .as_deref(),
            Some("%o")
        );
        let o = ok(
            "-r --del -W --no-whole-file -ncIi --size-only --stats --progress --numeric-ids s d",
        );
        assert_eq!(
            (o.delete, o.delete_during_named, o.whole_file),
            (DeleteMode::During, true, Some(false))
        );
        assert!(o.dry_run && o.checksum && o.ignore_times && o.size_only);
        assert!(o.stats && o.progress && o.numeric_ids && o.itemize == 1);
        let o = ok("-rW --no-W --delete-during -q -vv --no-v --no-i --no-c --no-numeric-ids s d");
        assert_eq!(
            (o.whole_file, o.delete_during_named, o.quiet, o.verbose),
            (Some(false), true, true, 0)
        );
        let o = ok("-r --delete --no-progress --progress --no-progress s d");
        assert_eq!(
            (o.delete, o.delete_during_named, o.progress),
            (DeleteMode::During, false, false)
        );
    }

    #[test]
    fn help_and_version() {
        assert!(ok("-h").help && ok("-hh").help && ok("--help --bogus").help);
        assert!(
            ok("-V").version == 1 && ok("--version").version == 1 && ok("-V --delete").version == 1
        );
        assert_eq!(ok("-VV").version, 2);
        assert_eq!(ok("-V --version").version, 2);
        assert_eq!(
            parse(&["-h", "a", "b"]).map(|o| o.ctl.human_readable),
            Ok(2)
        );
        assert!(crate::usage::help_text().contains("--whole-file"));
    }

    #[test]
    #[rustfmt::skip]
    fn errors() {
        let cases: &[(&str, &str, i32)] = &[
            ("--foo x", "--foo: unknown option", 1),
            ("-avQ x", "-avQ: unknown option", 1),
            ("--no-foo", "--no-foo: unknown option", 1),
            ("--verb", "--verb: unknown option", 1),
            ("--server -vQ . x", "on remote machine: -vQ: unknown option", 1),
            ("-aN x", "This rsync does not support --crtimes (-N)", 1),
            ("--crtimes x", "This rsync does not support --crtimes (-N)", 1),
            ("--dparam=x x", "option --dparam is not supported by oxsync yet", 4),
            ("--append -W s d", "--append cannot be used with --whole-file", 1),
            ("--inplace --delay-updates s d", "--inplace cannot be used with --delay-updates", 1),
            ("--link-dest=a --copy-dest=b s d", "ERROR: the --copy-dest option conflicts with the --link-dest option", 1),
            ("-b --suffix=a/b s d", "--suffix cannot contain slashes: a/b", 1),
            ("--qsort x", "option --qsort is not supported by oxsync yet", 4),
            ("--outbuf=Z s d", "Invalid --outbuf setting -- specify N, L, or B.", 1),
            ("-M foo s d", "Remote option must start with a dash: foo", 1),
            ("--zt=abc s d", "--zt=abc: invalid numeric value", 1),
            ("--server --dparam=x -r . x", "option --dparam is not supported by oxsync yet", 4),
            ("-e", "-e: missing argument", 1),
            ("--rsh", "--rsh: missing argument", 1),
            ("-aB", "-aB: missing argument", 1),
            ("--verbose=3", "--verbose=3: option does not take an argument", 1),
            ("--protocol=abc", "--protocol=abc: invalid numeric value", 1),
            ("--checksum-seed x", "--checksum-seed=x: invalid numeric value", 1),
            ("--protocol=29 s d", "--protocol=29 is not supported (oxsync speaks protocols 30 to 32)", 4),
            ("--protocol=33 s d", "--protocol must be no more than 32", 2),
            ("--block-size=200000 s d", "--block-size=200000 is too large (max: 128.00K)", 1),
            ("-Babc s", "--block-size=abc is invalid", 1),
            ("-B1x s", "--block-size=1x is invalid", 1),
            ("--cc=foo s d", "unknown checksum name: foo", 4),
            ("--cc=md5,md4,md5 s d", "unknown checksum name: md4,md5", 4),
            ("--delete s d", "--delete does not work without --recursive (-r) or --dirs (-d).", 1),
            ("--sender s", "--sender is only valid after --server", 1),
        ];
        for &(line, message, exit_code) in cases {
            let words: Vec<&str> = line.split(' ').collect();
            let expected = OptionError { message: message.to_string(), exit_code };
            assert_eq!(parse(&words).map(|_| ()), Err(expected), "{line}");
        }
        for name in ["dparam=x", "daemon", "qsort", "use-qsort"] {
            assert_eq!(parse(&["-a", &format!("--{name}"), "s", "d"]).map_err(|e| e.exit_code), Err(4), "{name}");
        }
        for letter in 'A'..='z' {
            let word = format!("-{letter}");
            if supported_short(letter).is_some() {
                continue;
            }
            let known = UNSUPPORTED_SHORT.iter().any(|(c, _)| *c == letter);
            if let Err(e) = parse(&[&word, "s", "d"]) {
                assert_eq!(e.exit_code, if known { 4 } else { 1 }, "{word}");
            }
        }
    }

    #[test]
    fn inc_recursive_and_remote_options() {
        // upstream: a pushing client offers the `i` too, unless told not to.
        for word in ["--inc-recursive", "--i-r", "--no-inc-recursive", "--no-i-r"] {
            let o = ok(&format!("-a {word} s d"));
            let e = if word.contains("no-") {
                "-logDtpre.LsfxCIvu"
            } else {
                "-logDtpre.iLsfxCIvu"
            };
            assert_eq!(o.to_server_args(false, 31), ["--server", e]);
        }
        let o = ok("-r -M--del --remote-option=--max-size=9 -M --zl=1 s d");
        assert_eq!(
            o.to_server_args(false, 31),
            [
                "--server",
                "-re.iLsfxCIvu",
                "--del",
                "--max-size=9",
                "--zl=1"
            ]
        );
    }

    #[test]
    fn client_info_matches_protocol_crate() {
        assert_eq!(CLIENT_INFO, protocol::compat::CLIENT_INFO);
    }

    #[test]
    fn server_args_match_upstream() {
        let mut a = archive();
        assert_eq!(
            a.to_server_args(false, 31),
            ["--server", "-logDtpre.iLsfxCIvu"]
        );
        // A pulling client offers incremental recursion (the `i`).
        assert_eq!(
            a.to_server_args(true, 30),
            ["--server", "--sender", "-logDtpre.iLsfxCIvu"]
        );
        assert_eq!(a.to_server_args(false, 29), ["--server", "-logDtpr"]);
        let h = parse(&["-aH", "s", "d"]).expect("-aH");
        assert!(h.hard_links);
        assert_eq!(
            h.to_server_args(true, 31),
            ["--server", "--sender", "-lHogDtpre.iLsfxCIvu"]
        );
        assert!(
            !parse(&["-aH", "--no-H", "s", "d"])
                .expect("--no-H")
                .hard_links
        );
        assert!(
            !parse(&["-aH", "--no-hard-links", "s", "d"])
                .expect("--no-hard-links")
                .hard_links
        );
        a.itemize = 2;
        assert_eq!(a.to_server_args(false, 32)[2], "--log-format=%i%I");
        assert_eq!(a.to_server_args(true, 32).len(), 3);
        a.itemize = 0;
        a.progress = true;
        assert_eq!(a.to_server_args(false, 32)[2], "--log-format=X");
        a.verbose = 1;
        assert_eq!(a.to_server_args(false, 32).len(), 2);
        a.log_format = Some("%o".into());
        assert_eq!(a.to_server_args(false, 32)[2], "--log-format=%o");
        let o = Options {
            recursive: true,
            ..Options::default()
        };
        assert_eq!(o.to_server_args(false, 32), ["--server", "-re.iLsfxCIvu"]);
        // -U/-UU, -S; --open-noatime only without -UU; --preallocate to a
        // receiving server only; --munge-links never.
        let p = |line: &str| {
            let a: Vec<OsString> = line.split(' ').map(OsString::from).collect();
            Options::parse(&a).unwrap_or_default()
        };
        let o = p("-rtUS --open-noatime --preallocate --munge-links s d");
        assert_eq!(
            o.to_server_args(false, 32),
            [
                "--server",
                "-tUrSe.iLsfxCIvu",
                "--preallocate",
                "--open-noatime"
            ]
        );
        assert_eq!(
            o.to_server_args(true, 32),
            ["--server", "--sender", "-tUrSe.iLsfxCIvu", "--open-noatime"]
        );
        let o = p("-tUU --inplace -S --no-W s d");
        assert!(o.open_noatime);
        assert_eq!(
            o.to_server_args(false, 32),
            ["--server", "-tUUSe.LsfxCIvu", "--inplace", "--no-W"]
        );
        assert_eq!(
            Options::default().to_server_args(true, 29),
            ["--server", "--sender"]
        );
        let o = Options {
            verbose: 12,
            ..Options::default()
        };
        assert_eq!(o.to_server_args(true, 32)[2], "-vvvvvvvvve.LsfxCIvu");
        let (block_size, checksum_seed, checksum_choice) =
            (Some(2048), Some(7), Some("md5".into()));
        let o = Options {
            specials: false,
            block_size,
            checksum_seed,
            checksum_choice,
            ..archive()
        };
        let tail = [
            "--no-specials",
            "-B2048",
            "--checksum-choice=md5",
            "--checksum-seed=7",
        ];
        assert_eq!(o.to_server_args(false, 31)[2..], tail);
        let o = Options {
            size_only: true,
            stats: true,
            numeric_ids: true,
            delete: DeleteMode::During,
            ..archive()
        };
        let tail = ["--delete", "--size-only", "--stats", "--numeric-ids"];
        assert_eq!(o.to_server_args(false, 31)[2..], tail);
        assert_eq!(o.to_server_args(true, 31)[3..], ["--numeric-ids"]);
    }

    #[test]
    fn round_trip() {
        #[rustfmt::skip]
        let cases: &[&str] = &[
            "-a", "-av", "-avc", "-ai", "-aii", "-a --delete", "-a --del", "-aW",
            "-a --no-whole-file", "-an", "-a --size-only", "-aI", "-a --cc=md5", "-a --stats",
            "-a --progress", "-a --numeric-ids", "-avvq", "-a --checksum-seed=7 -B2048",
            "-rltq", "-a --no-D --specials", "-a --no-specials", "-r --devices",
            "-a --out-format=%o", "-vvvvvvvvvvvv -lr", "-a --no-r", "",
            "-rlptgoDvvvqncWI --delete-during --size-only --stats --cc=xxh128,md5 -B700 --checksum-seed=-1 --numeric-ids",
        ];
        for case in cases {
            let client = ok(&format!("{case} src host:dst"));
            for server_sender in [false, true] {
                for protocol in [30, 31, 32] {
                    let mut argv = client.to_server_args(server_sender, protocol);
                    argv.extend([".".to_string(), "dst".to_string()]);
                    let server = ok(&argv.join(" "));
                    assert!(server.server);
                    assert_eq!(server.sender, server_sender);
                    let info = server.rsh.as_deref().map(|i| i.replace(".i", "."));
                    assert_eq!(info.as_deref(), Some(CLIENT_INFO));
                    assert_eq!(server.args, [".", "dst"]);
                    assert_eq!(
                        transfer_view(&server, server_sender),
                        transfer_view(&client, server_sender),
                        "{case:?} server_sender={server_sender}"
                    );
                }
            }
        }
    }

    /// Argv captured from stock rsync 3.2.7 (the /usr/bin/rsync on the
    /// build machine) with `-e /tmp/showargs`, after the host: (client
    /// options, server argv). Push cases end in "dst/", pulls in "src/".
    #[rustfmt::skip]
    const CAPTURED: &[(&str, &str)] = &[
        ("-a", "--server -logDtpre.iLsfxCIvu . dst/"),
        ("-a", "--server --sender -logDtpre.iLsfxCIvu . src/"),
        ("-av", "--server -vlogDtpre.iLsfxCIvu . dst/"),
        ("-av", "--server --sender -vlogDtpre.iLsfxCIvu . src/"),
        ("-avc", "--server -vlogDtprce.iLsfxCIvu . dst/"),
        ("-avc", "--server --sender -vlogDtprce.iLsfxCIvu . src/"),
        ("-ai", "--server -logDtpre.iLsfxCIvu --log-format=%i . dst/"),
        ("-ai", "--server --sender -logDtpre.iLsfxCIvu . src/"),
        ("-aii", "--server -logDtpre.iLsfxCIvu --log-format=%i%I . dst/"),
        ("-aii", "--server --sender -logDtpre.iLsfxCIvu . src/"),
        ("-a --delete", "--server -logDtpre.iLsfxCIvu --delete . dst/"),
        ("-a --delete", "--server --sender -logDtpre.iLsfxCIvu . src/"),
        ("-a --del", "--server -logDtpre.iLsfxCIvu --delete-during . dst/"),
        ("-aW", "--server -lWogDtpre.iLsfxCIvu . dst/"),
        ("-aW", "--server --sender -lWogDtpre.iLsfxCIvu . src/"),
        ("-a --no-whole-file", "--server -logDtpre.iLsfxCIvu . dst/"),
        ("-a --no-whole-file", "--server --sender -logDtpre.iLsfxCIvu . src/"),
        ("-an", "--server -nlogDtpre.iLsfxCIvu . dst/"),
        ("-an", "--server --sender -nlogDtpre.iLsfxCIvu . src/"),
        ("-a --size-only", "--server -logDtpre.iLsfxCIvu --size-only . dst/"),
        ("-a --size-only", "--server --sender -logDtpre.iLsfxCIvu . src/"),
        ("-aI", "--server -logDtprIe.iLsfxCIvu . dst/"),
        ("-aI", "--server --sender -logDtprIe.iLsfxCIvu . src/"),
        ("-a --checksum-choice=md5", "--server -logDtpre.iLsfxCIvu --checksum-choice=md5 . dst/"),
        ("-a --checksum-choice=md5", "--server --sender -logDtpre.iLsfxCIvu --checksum-choice=md5 . src/"),
        ("-a --stats", "--server -logDtpre.iLsfxCIvu --stats . dst/"),
        ("-a --stats", "--server --sender -logDtpre.iLsfxCIvu . src/"),
        ("-a --progress", "--server -logDtpre.iLsfxCIvu --log-format=X . dst/"),
        ("-a --numeric-ids", "--server --sender -logDtpre.iLsfxCIvu --numeric-ids . src/"),
        ("-a --checksum-seed=7 -B2048", "--server -logDtpre.iLsfxCIvu -B2048 --checksum-seed=7 . dst/"),
        ("-rltq", "--server -qltre.iLsfxCIvu . dst/"),
        ("-avq", "--server -vqlogDtpre.iLsfxCIvu . dst/"),
        ("-a --no-D --specials", "--server -logtpre.iLsfxCIvu --specials . dst/"),
        ("-a --no-specials", "--server --sender -logDtpre.iLsfxCIvu --no-specials . src/"),
        ("-a --out-format=%n", "--server -logDtpre.iLsfxCIvu --log-format=X . dst/"),
        ("-a -vi", "--server -vlogDtpre.iLsfxCIvu --log-format=%i . dst/"),
        ("-r --no-r", "--server -e.LsfxCIvu . dst/"),
        ("-aP", "--server -logDtpre.iLsfxCIvu --log-format=X --partial . dst/"),
        ("-aP", "--server --sender -logDtpre.iLsfxCIvu . src/"),
        ("-a --partial-dir=.pd", "--server -logDtpre.iLsfxCIvu --partial-dir .pd . dst/"),
        ("-a --delay-updates --partial-dir=pp", "--server -logDtpre.iLsfxCIvu --partial-dir pp --delay-updates . dst/"),
        ("-a --delay-updates", "--server -logDtpre.iLsfxCIvu --delay-updates . dst/"),
        ("-a -T /tmp/tt", "--server -logDtpre.iLsfxCIvu --temp-dir /tmp/tt . dst/"),
        ("-a --inplace --partial", "--server --sender -logDtpre.iLsfxCIvu --inplace . src/"),
        ("-a --append-verify", "--server -logDtpre.iLsfxCIvu --append --append . dst/"),
        ("-a --append", "--server --sender -logDtpre.iLsfxCIvu --append . src/"),
        ("-a --backup-dir=bk --suffix=.x", "--server -blogDtpre.iLsfxCIvu --backup-dir bk --suffix=.x . dst/"),
        ("-ab --suffix=.old", "--server --sender -blogDtpre.iLsfxCIvu --suffix=.old . src/"),
        ("-a --link-dest=../p --link-dest=/abs", "--server -logDtpre.iLsfxCIvu --link-dest ../p --link-dest /abs . dst/"),
        ("-a --compare-dest=c", "--server --sender -logDtpre.iLsfxCIvu . src/"),
        ("-a --remove-source-files", "--server --sender -logDtpre.iLsfxCIvu --remove-source-files . src/"),
    ];

    #[test]
    fn stock_client_argv() {
        for &(client_words, server_line) in CAPTURED {
            let pull = server_line.contains("--sender");
            let paths = if pull {
                "host:src/ dst/"
            } else {
                "src/ host:dst/"
            };
            let client = ok(&format!("{client_words} {paths}"));
            let server = ok(server_line);
            assert!(server.server);
            assert_eq!(server.sender, pull, "{server_line}");
            let info = server.rsh.as_deref().unwrap_or("");
            assert_eq!(info.replace(".i", "."), CLIENT_INFO, "{server_line}");
            assert_eq!(server.args, [".", if pull { "src/" } else { "dst/" }]);
            let expected = transfer_view(&client, pull);
            assert_eq!(transfer_view(&server, pull), expected, "{server_line}");
            // What we would send is the same, but for the `i` (incremental
            // recursion) that oxsync offers only when it receives.
            let ours = client.to_server_args(pull, 31).join(" ");
            let ours = ours.replace(".iL", ".L");
            let theirs = server_line.replace(".iL", ".L");
            assert_eq!(format!("{ours} . {}", server.args[1]), theirs);
        }
        // A few checked field by field.
        let s = ok("--server -logDtpre.iLsfxCIvu --log-format=%i%I . dst/");
        assert_eq!(s.log_format.as_deref(), Some("%i%I"));
        assert_eq!(s.rsh.as_deref(), Some(".iLsfxCIvu"));
        let (log_format, rsh, args) = (None, None, vec![]);
        assert_eq!(
            Options {
                log_format,
                rsh,
                server: false,
                args,
                ..s
            },
            archive()
        );
        let s = ok("--server --sender -vvlogDtprce.iLsfxCIvu --checksum-choice=xxh128 . src/");
        assert!(s.sender && s.checksum && s.verbose == 2 && s.recursive);
        assert_eq!(s.checksum_choice.as_deref(), Some("xxh128"));
        let s = ok("--server -qltre.iLsfxCIvu --delete-during --no-specials . dst/");
        assert!(s.quiet && s.links && s.times && s.recursive && s.delete_during_named);
        assert!(!s.perms && !s.owner && !s.devices && !s.specials);
    }

    #[test]
    fn skip_options() {
        let o = ok("-ru --existing --ignore-existing --max-size=1.5k --min-size=10+1 -@-1 a b");
        assert!(o.update_only && o.ignore_non_existing && o.ignore_existing);
        assert_eq!(
            (o.max_size, o.min_size, o.modify_window),
            (Some(1536), Some(11), Some(-1))
        );
        assert_eq!(
            o.to_server_args(false, 31),
            [
                "--server",
                "-ure.iLsfxCIvu",
                "--min-size=11",
                "--max-size=1536",
                "-@-1",
                "--ignore-existing",
                "--existing"
            ]
        );
        assert_eq!(
            o.to_server_args(true, 31),
            ["--server", "--sender", "-ure.iLsfxCIvu"]
        );
        let o = ok("-r --modify-window=2 --max-size=1kb-1 --ignore-non-existing a b");
        assert_eq!(
            o.to_server_args(false, 31),
            [
                "--server",
                "-re.iLsfxCIvu",
                "--max-size=999",
                "--modify-window=2",
                "--existing"
            ]
        );
        for (v, n) in [
            ("0", 0),
            ("7", 7),
            ("1M", 1 << 20),
            ("2g", 2 << 30),
            ("1KiB", 1024),
            ("3b", 3),
        ] {
            assert_eq!(parse_size(v, "max-size"), Ok(n), "{v}");
        }
        for v in ["", "x", "1q", "1k+2", "-1", "1e3"] {
            assert!(parse_size(v, "max-size").is_err(), "{v}");
        }
        assert!(o.same_time(5, 1, 7, 2) && !o.same_time(5, 0, 8, 0));
        let exact = Options {
            modify_window: Some(-1),
            ..Options::default()
        };
        assert!(!exact.same_time(5, 1, 5, 2) && Options::default().same_time(5, 1, 5, 2));
    }

    #[test]
    fn delete_options() {
        let o = ok("-r --delete-before --max-delete=0 --force --ignore-errors a b");
        assert_eq!(
            o.to_server_args(false, 31),
            [
                "--server",
                "-re.iLsfxCIvu",
                "--max-delete=-1",
                "--delete-before",
                "--force",
                "--ignore-errors"
            ]
        );
        assert_eq!(
            o.to_server_args(true, 31),
            ["--server", "--sender", "-re.LsfxCIvu", "--ignore-errors"]
        );
        let o = ok("-r --max-delete=-5 --del --delete-delay a b");
        assert_eq!((o.delete, o.max_delete), (DeleteMode::Delay, Some(0)));
        let o = ok("-r --delete-after --delete --max-delete=3 a b");
        assert_eq!(o.delete, DeleteMode::After);
        assert_eq!(
            o.to_server_args(false, 31)[2..],
            ["--max-delete=3", "--delete-after"]
        );
        let e = parse(&["-r", "--delete-before", "--delete-after", "a", "b"]).unwrap_err();
        assert_eq!(
            e.message,
            "You may not combine multiple --delete-WHEN options."
        );
        assert!(parse(&["-r", "--delete-during", "--delete-before", "a", "b"]).is_err());
        assert!(parse(&["--delete-after", "a", "b"]).is_err());
    }

    #[test]
    fn time_mode_and_dirs_options() {
        let o = ok("-tOJE --chmod=go-w --chmod=Fa-x a b");
        assert!(o.omit_dir_times && o.omit_link_times && o.executability);
        assert!(o.omit_dir_times());
        assert!(o.chmod_spec().is_some());
        // O, J and E go to the server only when the client sends.
        assert_eq!(o.to_server_args(false, 31)[1], "-OJtEe.LsfxCIvu");
        assert_eq!(o.to_server_args(true, 31)[2], "-te.LsfxCIvu");
        let o = ok("-O --no-O -J --no-J a b");
        assert!(!o.omit_dir_times && !o.omit_link_times);
        assert!(!ok("-pE a b").to_server_args(false, 31)[1].contains('E'));
        assert_eq!(
            parse(&["--chmod=q+z", "a", "b"]).map_err(|e| e.exit_code),
            Err(1)
        );
        let o = ok("-d a b");
        assert!(o.dirs && o.to_server_args(true, 31)[2].starts_with("-de"));
        assert!(!ok("-rd a b").to_server_args(false, 31)[1].contains('d'));
        assert!(!ok("-d --no-d a b").dirs);
        // -d --delete deletes in the directories whose contents are sent.
        let o = ok("-d --delete a b");
        assert!(o.to_server_args(false, 31)[1].starts_with("-de"));
        let o = ok("--list-only a");
        assert!(o.ctl.list_only > 1 && o.dirs);
    }

    #[test]
    fn link_and_map_options() {
        let o = ok("-Lk --safe-links --copy-unsafe-links --chown=bin:daemon a b");
        assert!(o.copy_links && o.copy_dirlinks && o.safe_links && o.copy_unsafe_links);
        assert_eq!(o.usermap.as_deref(), Some("*:bin"));
        assert_eq!(o.groupmap.as_deref(), Some("*:daemon"));
        let pull = o.to_server_args(true, 31);
        assert!(pull[2].contains("Lk"), "{pull:?}");
        assert!(pull.contains(&"--safe-links".to_string()));
        assert!(!pull.iter().any(|a| a.starts_with("--usermap")));
        let push = o.to_server_args(false, 31);
        assert!(push[1].starts_with("-e"), "{push:?}");
        assert!(push.contains(&"--usermap=\\*:bin".to_string()), "{push:?}");
        assert!(push.contains(&"--copy-unsafe-links".to_string()));
        let o = ok("--chown=:daemon a b");
        assert_eq!((o.usermap, o.groupmap.as_deref()), (None, Some("*:daemon")));
        for bad in [
            "--chown=a --usermap=x:y",
            "--usermap=x:y --chown=a",
            "--groupmap=x:y --groupmap=x:z",
            "--chown=a:b --chown=c",
            "--usermap=x",
        ] {
            let words: Vec<&str> = bad.split(' ').collect();
            assert_eq!(parse(&words).map_err(|e| e.exit_code), Err(1), "{bad}");
        }
        let o = ok("-K a b");
        assert!(o.keep_dirlinks && o.to_server_args(false, 31)[1].starts_with("-Ke"));
    }
}
