//! The token stream of one connection: plain (upstream token.c
//! simple_send_token) or compressed with the negotiated codec.
use crate::error::Result;
use crate::options::Options;
use crate::session::Session;
use protocol::compress::{Codec, Compressor, Decompressor};
use protocol::token::{self, Token};
use std::io::Read;

/// The sending side's token writer.
pub struct TokenOut {
    codec: Option<Codec>,
    level: Option<i32>,
    protocol: i32,
    comp: Option<Compressor>,
    skip: SkipList,
}

impl TokenOut {
    /// A writer for this session (plain when nothing was negotiated).
    pub fn new(session: &Session, opts: &Options) -> Result<TokenOut> {
        let codec = session.compress;
        let level = codec.and_then(|c| c.effective_level(opts.compress_level));
        let skip = SkipList::parse(opts.skip_compress.as_deref().unwrap_or(""));
        // A skip list of "*" lowers the level for the whole session, the
        // only form upstream honours (token.c init_set_compression).
        let level = if skip.all {
            codec.map(minimal_level)
        } else {
            level
        };
        let comp = match codec {
            Some(c @ (Codec::Zstd | Codec::Lz4)) => {
                let mut comp = Compressor::new(c, level, session.protocol)?;
                comp.set_workers(opts.compress_threads)?;
                Some(comp)
            }
            _ => None,
        };
        Ok(TokenOut {
            codec,
            level,
            protocol: session.protocol,
            comp,
            skip,
        })
    }

    /// Prepares for the next file. zlib and zlibx restart their stream for
    /// every file, so a name on the --skip-compress list gets level 0
    /// (stored blocks) without any change to the wire format; zstd keeps one
    /// stream for the session and cannot change level.
    pub fn start_file(&mut self, name: &[u8]) -> Result<()> {
        if let Some(c @ (Codec::Zlib | Codec::Zlibx)) = self.codec {
            let level = if self.skip.matches(name) {
                Some(0)
            } else {
                self.level
            };
            self.comp = Some(Compressor::new(c, level, self.protocol)?);
        }
        Ok(())
    }

    /// True when [`TokenOut::matched`] needs the matched bytes (zlib feeds
    /// them into its window).
    pub fn wants_block_data(&self) -> bool {
        self.codec == Some(Codec::Zlib)
    }

    /// True when literal data goes out as it is (no compression): the
    /// caller may then write it with [`TokenOut::literal_header`] itself.
    pub fn plain(&self) -> bool {
        self.codec.is_none()
    }

    /// The token before `len` (at most CHUNK_SIZE) plain literal bytes.
    pub fn literal_header(&self, len: usize, out: &mut Vec<u8>) {
        protocol::varint::write_i32(out, len as i32);
    }

    /// Literal data.
    pub fn literal(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match &mut self.comp {
            Some(c) => Ok(c.literal(data, out)?),
            None => {
                token::write_literal(out, data);
                Ok(())
            }
        }
    }

    /// A block match.
    pub fn matched(&mut self, index: u32, block: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match &mut self.comp {
            Some(c) => Ok(c.matched(index, block, out)?),
            None => {
                token::write_match(out, index);
                Ok(())
            }
        }
    }

    /// The end of a file's tokens.
    pub fn end(&mut self, out: &mut Vec<u8>) -> Result<()> {
        match &mut self.comp {
            Some(c) => Ok(c.end(out)?),
            None => {
                token::write_end(out);
                Ok(())
            }
        }
    }
}

fn minimal_level(c: Codec) -> i32 {
    match c {
        Codec::Zlib | Codec::Zlibx => 1,
        Codec::Zstd => 1,
        Codec::Lz4 => 0,
    }
}

/// The receiving side's token reader.
pub struct TokenIn {
    dec: Option<Decompressor>,
}

impl TokenIn {
    /// A reader for this session.
    pub fn new(session: &Session) -> Result<TokenIn> {
        let dec = match session.compress {
            Some(c) => Some(Decompressor::new(c, session.protocol)?),
            None => None,
        };
        Ok(TokenIn { dec })
    }

    /// Whether literal runs can be gathered after earlier ones
    /// ([`TokenIn::read_at`]): without compression.
    pub fn gathers(&self) -> bool {
        self.dec.is_none()
    }

    /// The next token; literal data is left in `buf` after its first `at`
    /// bytes (`at` must be 0 unless [`TokenIn::gathers`]).
    pub fn read_at<R: Read>(&mut self, r: &mut R, buf: &mut Vec<u8>, at: usize) -> Result<Token> {
        match &mut self.dec {
            Some(d) => Ok(d.read_token(r, buf)?),
            None => Ok(token::read_token_at(r, buf, at)?),
        }
    }

    /// The next token; literal data is left in `buf`.
    pub fn read<R: Read>(&mut self, r: &mut R, buf: &mut Vec<u8>) -> Result<Token> {
        match &mut self.dec {
            Some(d) => Ok(d.read_token(r, buf)?),
            None => Ok(token::read_token(r, buf)?),
        }
    }

    /// Tells the decompressor which bytes a match produced (zlib keeps its
    /// window in step with the sender's).
    pub fn see_match(&mut self, block: &[u8]) -> Result<()> {
        match &mut self.dec {
            Some(d) => Ok(d.see_match(block)?),
            None => Ok(()),
        }
    }
}

/// `--skip-compress` suffixes (`gz/jpg/mp[34]` style, case-insensitive).
#[derive(Debug, Default, Clone)]
pub struct SkipList {
    all: bool,
    suffixes: Vec<Vec<u8>>,
}

impl SkipList {
    /// Parses a slash-separated list; "*" means every file.
    pub fn parse(list: &str) -> SkipList {
        let mut s = SkipList::default();
        for part in list.split('/').filter(|p| !p.is_empty()) {
            if part == "*" {
                s.all = true;
            } else {
                s.suffixes.push(
                    part.trim_start_matches("*.")
                        .to_ascii_lowercase()
                        .into_bytes(),
                );
            }
        }
        s
    }

    /// True if `name` ends in a listed suffix.
    pub fn matches(&self, name: &[u8]) -> bool {
        if self.all {
            return true;
        }
        let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
        let Some(dot) = base.iter().rposition(|&b| b == b'.') else {
            return false;
        };
        let suffix = base[dot + 1..].to_ascii_lowercase();
        self.suffixes
            .iter()
            .any(|s| filter::wildmatch::wildmatch(s, &suffix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_list() {
        let s = SkipList::parse("gz/JPG/mp[34]");
        assert!(s.matches(b"a/b.gz"));
        assert!(s.matches(b"x.jpg"));
        assert!(s.matches(b"song.mp3"));
        assert!(!s.matches(b"song.mp5"));
        assert!(!s.matches(b"gz"));
        assert!(SkipList::parse("*").matches(b"anything"));
    }
}
