//! Batch files (`--write-batch`, `--only-write-batch`, `--read-batch`):
//! the sender's data stream of one transfer, recorded so that the same
//! update can be applied again to other copies of the destination
//! (upstream batch.c, io.c's batch tee, main.c).
//!
//! The file is rsync's: an int of stream flags (the options that change
//! the stream's format), the protocol version, the compat flags (protocol
//! 30 and later), the checksum seed, then everything the sender sent after
//! the filter list (file list, transfer records, the sender's statistics
//! and the closing DONE). `FILE.sh` replays it with `--read-batch`.
//!
//! Both names are operator paths: opened with the operator-path rule (a
//! symlink another user planted is refused). The file read back is
//! untrusted input like a peer's stream: it is parsed by the same bounded
//! decoders, and its receiving side writes beneath the destination's
//! `Root` like any receiver.
use crate::error::{Error, Result};
use crate::options::Options;
use crate::session::Session;
use confine::Links;
use protocol::compat::CF_INC_RECURSE;
use protocol::exit;
use protocol::varint::{write_i32, write_varint, WireRead};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The stream flags in bit order (upstream batch.c flag_ptr[]), with the
/// name each is reported by.
const FLAG_NAMES: [&str; 15] = [
    "--recurse (-r)",
    "--owner (-o)",
    "--group (-g)",
    "--links (-l)",
    "--devices (-D)",
    "--hard-links (-H)",
    "--checksum (-c)",
    "--dirs (-d)",
    "--compress (-z)",
    "--iconv",
    "--acls (-A)",
    "--xattrs (-X)",
    "--inplace",
    "--append",
    "--append-verify",
];

/// Bit 9: --iconv.
const FLAG_ICONV: usize = 9;

fn flag_values(opts: &Options) -> [bool; 15] {
    [
        opts.recursive,
        opts.owner,
        opts.group,
        opts.links,
        opts.devices,
        opts.hard_links,
        opts.checksum,
        opts.dirs || opts.recursive,
        opts.compress,
        false,
        opts.acls,
        opts.xattrs > 0,
        opts.inplace || opts.append > 0,
        opts.append == 1,
        opts.append == 2,
    ]
}

/// The stream flags of these options.
// upstream: batch.c:write_stream_flags()
pub fn stream_flags(opts: &Options) -> i32 {
    flag_values(opts)
        .iter()
        .enumerate()
        .filter(|(_, on)| **on)
        .fold(0, |f, (i, _)| f | (1 << i))
}

/// Makes the options match a batch's stream flags, telling (at
/// `--info=misc`) what changed. A batch that needs --iconv is refused.
// upstream: batch.c:check_batch_flags()
pub fn apply_stream_flags(opts: &mut Options, flags: i32, say: &dyn Fn(&str)) -> Result<()> {
    let have = flag_values(opts);
    for (i, name) in FLAG_NAMES.iter().enumerate() {
        let set = flags & (1 << i) != 0;
        if set == have[i] {
            continue;
        }
        if i == FLAG_ICONV {
            return Err(Error::new(
                exit::RERR_SYNTAX,
                "rsync: Please specify the --iconv option to use this batch file.",
            ));
        }
        if opts.ctl.info.misc > 0 {
            let verb = if set { "Setting" } else { "Clearing" };
            say(&format!("{verb} the {name} option to match the batchfile."));
        }
        match i {
            0 => opts.recursive = set,
            1 => opts.owner = set,
            2 => opts.group = set,
            3 => opts.links = set,
            4 => {
                opts.devices = set;
                opts.specials = set;
            }
            5 => opts.hard_links = set,
            6 => opts.checksum = set,
            7 => opts.dirs = set,
            8 => opts.compress = set,
            10 => opts.acls = set,
            // -XX stays -XX when the batch has xattrs.
            11 => opts.xattrs = u8::from(set),
            12 => opts.inplace = set,
            13 | 14 => {
                let level = if i == 13 { 1 } else { 2 };
                if set {
                    opts.append = level;
                } else if opts.append == level {
                    opts.append = 0;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// What a batch changes on one connection.
#[derive(Debug, Clone)]
pub enum LinkBatch {
    /// Record the sender's stream into this file.
    Record(Recorder),
    /// The connection is a batch file: no setup exchange, these agreed
    /// parameters.
    Replay(Session),
}

/// The open batch file being written (shared by the role that copies the
/// stream into it and the client that writes the header and closes it).
#[derive(Clone)]
pub struct Recorder {
    file: Arc<Mutex<BufWriter<File>>>,
    name: String,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recorder({})", self.name)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.lock().flush()
    }
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, BufWriter<File>> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[track_caller]
    fn write_err(&self, e: io::Error) -> Error {
        Error::new(
            exit::RERR_FILEIO,
            format!(
                "rsync: Batch file {} write error: {}",
                self.name,
                crate::error::os_err(&e)
            ),
        )
    }

    /// The header after the stream flags: protocol, compat flags, seed.
    // upstream: io.c:start_write_batch()
    pub fn start(&self, s: &Session) -> Result<()> {
        let mut b = Vec::new();
        write_i32(&mut b, s.protocol);
        if s.protocol >= 30 {
            write_varint(&mut b, s.compat);
        }
        write_i32(&mut b, s.seed);
        self.lock().write_all(&b).map_err(|e| self.write_err(e))
    }

    /// Writes out what is buffered; call once the transfer is over.
    pub fn finish(&self) -> Result<()> {
        let mut g = self.lock();
        g.flush().map_err(|e| self.write_err(e))?;
        g.get_ref().sync_data().map_err(|e| self.write_err(e))
    }
}

#[track_caller]
fn open_error(name: &str, e: &io::Error, code: i32) -> Error {
    Error::new(
        code,
        format!(
            "rsync: Batch file {name} open error: {}",
            crate::error::os_err(e)
        ),
    )
}

fn create(path: &Path, mode: u32, links: Links) -> io::Result<File> {
    use rustix::fs::OFlags;
    confine::operator::open_file(
        path,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC,
        mode,
        links,
    )
}

/// Opens the batch file and its `.sh` for `--write-batch`, writes the
/// stream flags and the script (upstream writes the script once the
/// protocol is agreed; its content does not depend on it).
// upstream: batch.c:open_batch_files(), write_batch_shell_file()
pub fn open_for_writing(opts: &Options, argv: &[String]) -> Result<Recorder> {
    let b = opts
        .batch
        .as_ref()
        .ok_or_else(|| Error::new(exit::RERR_SYNTAX, "no batch file"))?;
    let links = Links::from_insecure(opts.insecure_links);
    let script = crate::batch_script::script(opts, argv)?;
    let sh_name = format!("{}.sh", b.name);
    let mut sh = create(Path::new(&sh_name), 0o700, links)
        .map_err(|e| open_error(&sh_name, &e, exit::RERR_FILESELECT))?;
    let file = create(Path::new(&b.name), 0o600, links)
        .map_err(|e| open_error(&b.name, &e, exit::RERR_FILEIO))?;
    sh.write_all(&script).map_err(|e| {
        Error::new(
            exit::RERR_FILEIO,
            format!(
                "rsync: Batch file {sh_name} write error: {}",
                crate::error::os_err(&e)
            ),
        )
    })?;
    let rec = Recorder {
        file: Arc::new(Mutex::new(BufWriter::with_capacity(256 * 1024, file))),
        name: b.name.clone(),
    };
    let mut flags = Vec::new();
    write_i32(&mut flags, stream_flags(opts));
    rec.lock().write_all(&flags).map_err(|e| rec.write_err(e))?;
    Ok(rec)
}

/// Opens a batch for `--read-batch`: standard input for `-`, otherwise a
/// regular file reached by the operator-path rule.
pub fn open_for_reading(opts: &Options) -> Result<Box<dyn Read + Send>> {
    let name = opts.batch.as_ref().map(|b| b.name.as_str()).unwrap_or("-");
    if name == "-" {
        return Ok(Box::new(io::stdin()));
    }
    let f = confine::operator::open_file(
        Path::new(name),
        rustix::fs::OFlags::RDONLY,
        0,
        Links::from_insecure(opts.insecure_links),
    )
    .map_err(|e| open_error(name, &e, exit::RERR_FILEIO))?;
    let is_file = f.metadata().map(|m| m.is_file()).unwrap_or(false);
    if !is_file {
        return Err(Error::new(
            exit::RERR_FILEIO,
            format!("rsync: Batch file {name} is not a regular file"),
        ));
    }
    Ok(Box::new(f))
}

/// Reads a batch's header: applies its stream flags to `opts` and returns
/// the recorded protocol, compat flags and seed as the session.
// upstream: batch.c:read_stream_flags(), compat.c:setup_protocol()
pub fn read_header<R: Read>(r: &mut R, opts: &mut Options, say: &dyn Fn(&str)) -> Result<Session> {
    let flags = r.read_i32_field("batch stream flags")?;
    let protocol = r.read_i32_field("batch protocol version")?;
    let ours = crate::session::our_protocol(opts);
    if protocol > ours {
        return Err(Error::protocol(format!(
            "The protocol version in the batch file is too new ({protocol} > {ours})."
        )));
    }
    if protocol < protocol::MIN_PROTOCOL_VERSION {
        return Err(Error::protocol(format!(
            "the batch file has protocol {protocol}; oxsync reads {} to {}",
            protocol::MIN_PROTOCOL_VERSION,
            protocol::PROTOCOL_VERSION
        )));
    }
    apply_stream_flags(opts, flags, say)?;
    let compat = r.read_varint("batch compat flags")?;
    // A batch recorded with incremental recursion replays as one; the
    // options this side cannot receive incrementally refuse it.
    if compat & CF_INC_RECURSE != 0 && !crate::increc::replay_allows(opts) {
        return Err(Error::new(
            exit::RERR_SYNTAX,
            "Incompatible options specified for inc-recursive batch file.",
        ));
    }
    let seed = r.read_i32_field("batch checksum seed")?;
    let checksum = match &opts.checksum_choice {
        Some(c) => {
            let first = c.split(',').next().unwrap_or("");
            delta::ChecksumKind::from_name(first).ok_or_else(|| {
                Error::new(
                    exit::RERR_UNSUPPORTED,
                    format!("unknown checksum name: {first}"),
                )
            })?
        }
        None => delta::ChecksumKind::Md5,
    };
    let compress = if opts.compress {
        match &opts.compress_choice {
            Some(c) => protocol::compress::Codec::from_name(c),
            None => Some(protocol::compress::Codec::Zlib),
        }
        .filter(|c| c.effective_level(opts.compress_level).is_some())
    } else {
        None
    };
    Ok(Session {
        protocol,
        compat,
        checksum,
        seed,
        compress,
    })
}

/// The options a client's receiving side runs with: `--only-write-batch`
/// makes it a dry run that still asks for the data (upstream main.c sets
/// dry_run after the server's options are built, so the server is not
/// told).
pub fn receiving_options(opts: &Options) -> Options {
    let mut o = opts.clone();
    if o.only_writes_batch() {
        o.dry_run = true;
    }
    o
}
