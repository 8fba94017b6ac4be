//! Strong checksums: block sums with the seed rules of each algorithm, and
//! whole-file sums (upstream checksum.c get_checksum2, sum_init/update/end,
//! file_checksum).
use md4::Md4;
use md5::{Digest, Md5};
use sha1::Sha1;
use xxhash_rust::xxh3::{xxh3_128_with_seed, xxh3_64_with_seed, Xxh3};
use xxhash_rust::xxh64::{xxh64, Xxh64};

/// The longest digest any [`ChecksumKind`] produces.
pub const MAX_DIGEST_LEN: usize = 20;

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
    /// SHA-1 (seed prefixed, as upstream's OpenSSL path feeds it).
    Sha1,
    /// No checksum: a 1-byte zero sum, and every file goes whole
    /// (upstream CSUM_NONE).
    None,
}

impl ChecksumKind {
    /// Our preference order for negotiation (upstream offers `none` only
    /// by name, never in the negotiation).
    pub const PREFERENCE: [&'static str; 6] = ["xxh128", "xxh3", "xxh64", "md5", "md4", "sha1"];
    /// Every name `--checksum-choice` accepts, as `-VV` lists them.
    pub const NAMES: [&'static str; 7] = ["xxh128", "xxh3", "xxh64", "md5", "md4", "sha1", "none"];
    /// Parses a negotiated name ("xxhash" is an alias of xxh64).
    pub fn from_name(name: &str) -> Option<ChecksumKind> {
        match name {
            "md4" => Some(ChecksumKind::Md4),
            "md5" => Some(ChecksumKind::Md5),
            "xxh64" | "xxhash" => Some(ChecksumKind::Xxh64),
            "xxh3" => Some(ChecksumKind::Xxh3),
            "xxh128" => Some(ChecksumKind::Xxh128),
            "sha1" => Some(ChecksumKind::Sha1),
            "none" => Some(ChecksumKind::None),
            _ => None,
        }
    }
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumKind::Md4 => "md4",
            ChecksumKind::Md5 => "md5",
            ChecksumKind::Xxh64 => "xxh64",
            ChecksumKind::Xxh3 => "xxh3",
            ChecksumKind::Xxh128 => "xxh128",
            ChecksumKind::Sha1 => "sha1",
            ChecksumKind::None => "none",
        }
    }
    /// Full digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumKind::Md4 | ChecksumKind::Md5 | ChecksumKind::Xxh128 => 16,
            ChecksumKind::Xxh64 | ChecksumKind::Xxh3 => 8,
            ChecksumKind::Sha1 => 20,
            ChecksumKind::None => 1,
        }
    }
    /// Strong sum of one block with the session seed. `seed_fix` is
    /// CF_CHKSUM_SEED_FIX (matters for MD5 only). Seed 0 means no seed for
    /// md4/md5. Returns the full digest (callers truncate to s2length).
    pub fn block_sum(self, data: &[u8], seed: i32, seed_fix: bool) -> Vec<u8> {
        let (buf, n) = self.block_sum_fixed(data, seed, seed_fix);
        buf[..n].to_vec()
    }

    /// [`ChecksumKind::block_sum`] without allocating: the digest in the
    /// first `digest_len()` bytes, the rest zero.
    // upstream: checksum.c:get_checksum2()
    pub fn block_sum_fixed(
        self,
        data: &[u8],
        seed: i32,
        seed_fix: bool,
    ) -> ([u8; MAX_DIGEST_LEN], usize) {
        let mut out = [0u8; MAX_DIGEST_LEN];
        let seed_bytes = seed.to_le_bytes();
        match self {
            ChecksumKind::Md4 => {
                let mut h = Md4::new();
                h.update(data);
                if seed != 0 {
                    h.update(seed_bytes);
                }
                out[..16].copy_from_slice(&h.finalize());
            }
            ChecksumKind::Md5 => {
                let mut h = Md5::new();
                if seed != 0 && seed_fix {
                    h.update(seed_bytes);
                }
                h.update(data);
                if seed != 0 && !seed_fix {
                    h.update(seed_bytes);
                }
                out[..16].copy_from_slice(&h.finalize());
            }
            ChecksumKind::Xxh64 => {
                let v = xxh64(data, seed as i64 as u64);
                out[..8].copy_from_slice(&v.to_le_bytes());
            }
            ChecksumKind::Xxh3 => {
                let v = xxh3_64_with_seed(data, seed as i64 as u64);
                out[..8].copy_from_slice(&v.to_le_bytes());
            }
            ChecksumKind::Xxh128 => {
                // low64 LE then high64 LE is exactly the u128 in LE.
                let v = xxh3_128_with_seed(data, seed as i64 as u64);
                out[..16].copy_from_slice(&v.to_le_bytes());
            }
            // upstream: checksum.c get_checksum2() (EVP: seed first)
            ChecksumKind::Sha1 => {
                let mut h = Sha1::new();
                if seed != 0 {
                    h.update(seed_bytes);
                }
                h.update(data);
                out.copy_from_slice(&h.finalize());
            }
            ChecksumKind::None => {}
        }
        (out, self.digest_len())
    }
}

enum HasherState {
    Md4(Md4),
    Md5(Md5),
    Xxh64(Xxh64),
    Xxh3(Box<Xxh3>),
    Xxh128(Box<Xxh3>),
    Sha1(Sha1),
    None,
}

/// Streaming whole-file checksum (no seed, protocol >= 30 rules), used for
/// the post-transfer verification and for `-c`.
pub struct FileHasher {
    state: HasherState,
}

impl FileHasher {
    /// Starts a digest.
    // upstream: checksum.c:sum_init()
    pub fn new(kind: ChecksumKind) -> Self {
        let state = match kind {
            ChecksumKind::Md4 => HasherState::Md4(Md4::new()),
            ChecksumKind::Md5 => HasherState::Md5(Md5::new()),
            ChecksumKind::Xxh64 => HasherState::Xxh64(Xxh64::new(0)),
            ChecksumKind::Xxh3 => HasherState::Xxh3(Box::new(Xxh3::new())),
            ChecksumKind::Xxh128 => HasherState::Xxh128(Box::new(Xxh3::new())),
            ChecksumKind::Sha1 => HasherState::Sha1(Sha1::new()),
            ChecksumKind::None => HasherState::None,
        };
        FileHasher { state }
    }
    /// Feeds bytes.
    // upstream: checksum.c:sum_update()
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            HasherState::Md4(h) => h.update(data),
            HasherState::Md5(h) => h.update(data),
            HasherState::Xxh64(h) => h.update(data),
            HasherState::Xxh3(h) | HasherState::Xxh128(h) => h.update(data),
            HasherState::Sha1(h) => h.update(data),
            HasherState::None => {}
        }
    }
    /// The digest (full length).
    // upstream: checksum.c:sum_end()
    pub fn finish(self) -> Vec<u8> {
        match self.state {
            HasherState::Md4(h) => h.finalize().to_vec(),
            HasherState::Md5(h) => h.finalize().to_vec(),
            HasherState::Xxh64(h) => h.digest().to_le_bytes().to_vec(),
            HasherState::Xxh3(h) => h.digest().to_le_bytes().to_vec(),
            HasherState::Xxh128(h) => h.digest128().to_le_bytes().to_vec(),
            HasherState::Sha1(h) => h.finalize().to_vec(),
            // upstream: sum_end() writes one zero byte.
            HasherState::None => vec![0],
        }
    }
}

impl std::fmt::Debug for FileHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.state {
            HasherState::Md4(_) => "md4",
            HasherState::Md5(_) => "md5",
            HasherState::Xxh64(_) => "xxh64",
            HasherState::Xxh3(_) => "xxh3",
            HasherState::Xxh128(_) => "xxh128",
            HasherState::Sha1(_) => "sha1",
            HasherState::None => "none",
        };
        f.debug_struct("FileHasher").field("kind", &name).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ChecksumKind; 5] = [
        ChecksumKind::Md4,
        ChecksumKind::Md5,
        ChecksumKind::Xxh64,
        ChecksumKind::Xxh3,
        ChecksumKind::Xxh128,
    ];

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn whole(kind: ChecksumKind, data: &[u8]) -> Vec<u8> {
        let mut h = FileHasher::new(kind);
        h.update(data);
        h.finish()
    }

    #[test]
    fn names_round_trip() {
        for k in ALL {
            assert_eq!(ChecksumKind::from_name(k.name()), Some(k));
        }
        for n in ChecksumKind::PREFERENCE {
            assert!(ChecksumKind::from_name(n).is_some());
        }
        assert_eq!(ChecksumKind::from_name("xxhash"), Some(ChecksumKind::Xxh64));
        assert_eq!(ChecksumKind::from_name("sha1"), Some(ChecksumKind::Sha1));
        assert_eq!(ChecksumKind::from_name("blake2"), None);
    }

    #[test]
    fn whole_file_known_vectors() {
        assert_eq!(
            hex(&whole(ChecksumKind::Md5, b"hi\n")),
            "764efa883dda1e11db47671c4a3bbd9e"
        );
        // RFC 1320 test vector.
        assert_eq!(
            hex(&whole(ChecksumKind::Md4, b"abc")),
            "a448017aaf21d8525fc10ae87aa6729d"
        );
        // XXH64("", 0) = 0xef46db3751d8e999, written little-endian.
        assert_eq!(hex(&whole(ChecksumKind::Xxh64, b"")), "99e9d85137db46ef");
        // XXH3_64("", 0) = 0x2d06800538d394c2, little-endian.
        assert_eq!(hex(&whole(ChecksumKind::Xxh3, b"")), "c294d3380580062d");
        // XXH3_128("") = 0x99aa06d3014798d86001c324468d497f: low64 LE then high64 LE.
        assert_eq!(
            hex(&whole(ChecksumKind::Xxh128, b"")),
            "7f498d4624c30160d8984701d306aa99"
        );
    }

    /// Values printed by stock rsync 3.x `--out-format=%C` for a file
    /// holding "hi\n" (it prints xxhash sums reversed, i.e. canonical).
    #[test]
    fn whole_file_matches_stock_rsync() {
        let rev = |s: &str| -> String {
            let b: Vec<String> = (0..s.len() / 2)
                .map(|i| s[2 * i..2 * i + 2].to_string())
                .collect();
            b.into_iter().rev().collect()
        };
        let d = b"hi\n";
        assert_eq!(
            hex(&whole(ChecksumKind::Md4, d)),
            "7291db6af45a90d1f945751cb095f193"
        );
        assert_eq!(hex(&whole(ChecksumKind::Xxh64, d)), rev("d50463dd92503d34"));
        assert_eq!(hex(&whole(ChecksumKind::Xxh3, d)), rev("b34d1a3ab2bece70"));
        assert_eq!(
            hex(&whole(ChecksumKind::Xxh128, d)),
            rev("f4d0497cf9394caab34d1a3ab2bece70")
        );
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for k in ALL {
            let mut h = FileHasher::new(k);
            for c in data.chunks(777) {
                h.update(c);
            }
            let streamed = h.finish();
            assert_eq!(streamed, whole(k, &data), "{}", k.name());
            assert_eq!(streamed.len(), k.digest_len());
            // Whole-file sums are the unseeded block sums.
            assert_eq!(streamed, k.block_sum(&data, 0, true), "{}", k.name());
        }
    }

    #[test]
    fn seed_rules() {
        let data = b"some block data";
        let seed: i32 = 0x1234_5678;
        let sb = seed.to_le_bytes();
        let cat = |a: &[u8], b: &[u8]| [a, b].concat();

        let md4_app = whole(ChecksumKind::Md4, &cat(data, &sb));
        assert_eq!(ChecksumKind::Md4.block_sum(data, seed, true), md4_app);
        assert_eq!(ChecksumKind::Md4.block_sum(data, seed, false), md4_app);
        assert_eq!(
            ChecksumKind::Md4.block_sum(data, 0, false),
            whole(ChecksumKind::Md4, data)
        );

        assert_eq!(
            ChecksumKind::Md5.block_sum(data, seed, true),
            whole(ChecksumKind::Md5, &cat(&sb, data))
        );
        assert_eq!(
            ChecksumKind::Md5.block_sum(data, seed, false),
            whole(ChecksumKind::Md5, &cat(data, &sb))
        );
        assert_eq!(
            ChecksumKind::Md5.block_sum(data, 0, true),
            whole(ChecksumKind::Md5, data)
        );

        // Negative seeds are sign-extended for xxhash.
        let neg: i32 = -2;
        assert_eq!(
            ChecksumKind::Xxh64.block_sum(data, neg, true),
            xxh64(data, u64::MAX - 1).to_le_bytes().to_vec()
        );
        assert_eq!(
            ChecksumKind::Xxh3.block_sum(data, neg, true),
            xxh3_64_with_seed(data, u64::MAX - 1).to_le_bytes().to_vec()
        );
        let v = xxh3_128_with_seed(data, seed as u64);
        let mut want = (v as u64).to_le_bytes().to_vec();
        want.extend_from_slice(&((v >> 64) as u64).to_le_bytes());
        assert_eq!(ChecksumKind::Xxh128.block_sum(data, seed, false), want);
    }
}
