//! Strong checksums: block sums with the seed rules of each algorithm, and
//! whole-file sums (upstream checksum.c get_checksum2, sum_init/update/end,
//! file_checksum).

/// A negotiated strong checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumKind {
    /// MD4 (negotiated form: seed appended to block data).
    Md4,
    /// MD5 (seed prefixed when the seed fix is on, else appended).
    Md5,
    /// XXH64, seed as 64-bit (sign-extended), 8 bytes LE.
    Xxh64,
    /// XXH3 64-bit.
    Xxh3,
    /// XXH3 128-bit, low64 LE then high64 LE.
    Xxh128,
}

impl ChecksumKind {
    /// Our preference order for negotiation.
    pub const PREFERENCE: [&'static str; 5] = ["xxh128", "xxh3", "xxh64", "md5", "md4"];
    /// Parses a negotiated name ("xxhash" is an alias of xxh64).
    pub fn from_name(name: &str) -> Option<ChecksumKind> {
        let _ = name;
        todo!()
    }
    /// The wire name.
    pub fn name(self) -> &'static str {
        todo!()
    }
    /// Full digest length in bytes.
    pub fn digest_len(self) -> usize {
        todo!()
    }
    /// Strong sum of one block with the session seed. `seed_fix` is
    /// CF_CHKSUM_SEED_FIX (matters for MD5 only). Seed 0 means no seed for
    /// md4/md5. Returns the full digest (callers truncate to s2length).
    pub fn block_sum(self, data: &[u8], seed: i32, seed_fix: bool) -> Vec<u8> {
        let _ = (data, seed, seed_fix);
        todo!()
    }
}

/// Streaming whole-file checksum (no seed, protocol >= 30 rules), used for
/// the post-transfer verification and for `-c`.
pub struct FileHasher {
    _p: (),
}

impl FileHasher {
    /// Starts a digest.
    pub fn new(kind: ChecksumKind) -> Self {
        let _ = kind;
        todo!()
    }
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        let _ = data;
        todo!()
    }
    /// The digest (full length).
    pub fn finish(self) -> Vec<u8> {
        todo!()
    }
}
