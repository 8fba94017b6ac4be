//! What the two sides agree on before the file list: protocol version,
//! compat flags, checksum choice and seed (upstream compat.c
//! setup_protocol).
use crate::error::{Error, Result};
use crate::options::{client_offers_inc, Options};
use delta::ChecksumKind;
use protocol::compat::*;
use protocol::compress::Codec;
use protocol::exit;
use protocol::flist::FlistOptions;
use protocol::negotiate;
use protocol::varint::{write_i32, write_varint, WireRead};
use std::io::{Read, Write};

/// The agreed parameters of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Negotiated protocol version (30..=32).
    pub protocol: i32,
    /// Compat flags.
    pub compat: i32,
    /// Strong checksum for blocks, whole files and -c.
    pub checksum: ChecksumKind,
    /// Checksum seed.
    pub seed: i32,
    /// The token-stream compression, if any.
    pub compress: Option<Codec>,
}

impl Session {
    /// CF_CHKSUM_SEED_FIX.
    pub fn seed_fix(&self) -> bool {
        self.compat & CF_CHKSUM_SEED_FIX != 0
    }
    /// The file-list format for these options.
    pub fn flist_options(&self, opts: &Options) -> FlistOptions {
        FlistOptions {
            protocol: self.protocol,
            varint_flags: self.compat & CF_VARINT_FLIST_FLAGS != 0,
            preserve_uid: opts.owner,
            preserve_gid: opts.group,
            preserve_links: opts.links,
            preserve_devices: opts.devices,
            preserve_specials: opts.specials,
            checksum_len: if opts.checksum {
                Some(self.checksum.digest_len())
            } else {
                None
            },
            preserve_hard_links: opts.hard_links,
            preserve_atimes: opts.atimes > 0,
        }
    }
}

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Side {
    /// Started the connection; reads the compat flags and the seed.
    #[default]
    Client,
    /// `--server` (or the server half of a local copy): chooses the compat
    /// flags from the client's `-e` letters and the seed.
    Server,
}

/// Our protocol version for these options.
pub fn our_protocol(opts: &Options) -> i32 {
    opts.protocol.unwrap_or(protocol::PROTOCOL_VERSION)
}

/// Runs the raw (not multiplexed) setup on a fresh connection: the 4-byte
/// versions, then compat flags, checksum negotiation and seed. A server
/// passes the client's `-e` letters as `client_info`.
// upstream: compat.c:setup_protocol()
pub fn setup<R: Read, W: Write>(
    r: &mut R,
    w: &mut W,
    opts: &Options,
    side: Side,
    client_info: Option<&str>,
) -> Result<Session> {
    setup_with(r, w, opts, side, client_info, None, false)
}

/// As [`setup`]; with `agreed` (a daemon connection, whose greeting already
/// settled the version) the 4-byte version exchange is skipped.
/// `receiving`: this side receives files (incremental recursion is granted
/// or accepted only then).
pub fn setup_with<R: Read, W: Write>(
    r: &mut R,
    w: &mut W,
    opts: &Options,
    side: Side,
    client_info: Option<&str>,
    agreed: Option<i32>,
    receiving: bool,
) -> Result<Session> {
    let ours = our_protocol(opts);
    let theirs = match agreed {
        Some(v) => v,
        None => {
            let mut out = Vec::new();
            write_i32(&mut out, ours);
            w.write_all(&out)?;
            w.flush()?;
            r.read_i32_field("protocol version")?
        }
    };
    if !(20..=40).contains(&theirs) {
        return Err(Error::protocol(format!(
            "protocol version mismatch -- is your shell clean? (remote sent {theirs})"
        )));
    }
    if theirs < protocol::MIN_PROTOCOL_VERSION {
        return Err(Error::protocol(format!(
            "the remote side speaks protocol {theirs}; oxsync speaks {} to {}",
            protocol::MIN_PROTOCOL_VERSION,
            protocol::PROTOCOL_VERSION
        )));
    }
    let proto = ours.min(theirs);

    let compat = match side {
        Side::Server => {
            let mut flags = client_info.map(server_flags_for).unwrap_or(0);
            // upstream: compat.c set_allow_inc_recurse(): the client must
            // offer 'i', and this side's options allow it.
            let offered = client_info.is_some_and(|i| i.contains('i'));
            if offered && proto >= 30 && crate::options::allows_inc(opts, receiving) {
                flags |= CF_INC_RECURSE;
            }
            let mut out = Vec::new();
            write_varint(&mut out, flags);
            w.write_all(&out)?;
            flags
        }
        Side::Client => {
            w.flush()?;
            r.read_varint("compat flags")?
        }
    };
    if compat & CF_INC_RECURSE != 0 && side == Side::Client && !client_offers_inc(opts, receiving) {
        return Err(Error::protocol(
            "the server enabled incremental recursion, which oxsync did not offer",
        ));
    }

    // Both sides write every list they send before reading any (upstream
    // compat.c negotiate_the_strings).
    let negotiating = compat & CF_VARINT_FLIST_FLAGS != 0;
    let send_csum = negotiating && opts.checksum_choice.is_none();
    let send_comp = negotiating && opts.compress && opts.compress_choice.is_none();
    // upstream: compat.c getenv_nstr(): a batch is always written with the
    // old choices (md5, zlib), which its reader assumes.
    let (csum_pref, comp_pref): (&[&str], &[&str]) = if opts.writes_batch() {
        (&["md5"], &["zlib"])
    } else {
        (&ChecksumKind::PREFERENCE, &Codec::PREFERENCE)
    };
    if send_csum || send_comp {
        let mut out = Vec::new();
        if send_csum {
            negotiate::write_name_list(&mut out, csum_pref);
        }
        if send_comp {
            negotiate::write_name_list(&mut out, comp_pref);
        }
        w.write_all(&out)?;
        w.flush()?;
    }
    let checksum = if let Some(choice) = &opts.checksum_choice {
        let first = choice.split(',').next().unwrap_or("");
        ChecksumKind::from_name(first).ok_or_else(|| {
            Error::new(
                exit::RERR_UNSUPPORTED,
                format!("unknown checksum name: {first}"),
            )
        })?
    } else if send_csum {
        let theirs = negotiate::read_name_list(r)?;
        let name = negotiate::choose(csum_pref, &theirs).ok_or_else(|| {
            Error::new(
                exit::RERR_UNSUPPORTED,
                format!(
                    "Failed to negotiate a checksum choice (peer offered: {})",
                    theirs.join(" ")
                ),
            )
        })?;
        ChecksumKind::from_name(name).unwrap_or(ChecksumKind::Md5)
    } else {
        ChecksumKind::Md5
    };
    let compress = if !opts.compress {
        None
    } else if let Some(choice) = &opts.compress_choice {
        Some(Codec::from_name(choice).ok_or_else(|| {
            Error::new(
                exit::RERR_UNSUPPORTED,
                format!("unknown compress name: {choice}"),
            )
        })?)
    } else if send_comp {
        let theirs = negotiate::read_name_list(r)?;
        let name = negotiate::choose(comp_pref, &theirs).ok_or_else(|| {
            Error::new(
                exit::RERR_UNSUPPORTED,
                format!(
                    "Failed to negotiate a compression choice (peer offered: {})",
                    theirs.join(" ")
                ),
            )
        })?;
        Codec::from_name(name)
    } else {
        Some(Codec::Zlib)
    };
    // upstream: token.c init_compression_level(): level 0 turns zlib off.
    let compress = compress.filter(|c| c.effective_level(opts.compress_level).is_some());

    let seed = match side {
        Side::Server => {
            let seed = opts.checksum_seed.unwrap_or_else(default_seed);
            let mut out = Vec::new();
            write_i32(&mut out, seed);
            w.write_all(&out)?;
            w.flush()?;
            seed
        }
        Side::Client => r.read_i32_field("checksum seed")?,
    };
    Ok(Session {
        compress,
        protocol: proto,
        compat,
        checksum,
        seed,
    })
}

fn default_seed() -> i32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i32;
    t ^ ((std::process::id() as i32) << 6)
}
