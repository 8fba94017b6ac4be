//! Compression (`-z`, `--compress-choice`, `--compress-level`,
//! `--skip-compress`) against stock rsync in every transport:
//!
//! * remote shell, oxsync client (`--rsync-path=` stock rsync), push and pull;
//! * remote shell, stock rsync client (`--rsync-path=` oxsync), push and pull;
//! * daemon: the oxsync client against `rsync --daemon`, push and pull;
//! * daemon: the stock rsync client against `oxsync --daemon`, push and pull.
//!
//! Every transport runs, for each codec (zstd, lz4, zlibx, zlib), an initial
//! copy and a delta update of a large compressible text file; both levels 1
//! and 9 for zlib and zstd; plain `-z` (negotiated codec); and
//! `--skip-compress`. Destination trees are compared byte for byte, and the
//! `--stats` byte counts show that the data really was compressed.
use crate::daemon::{start_env, url, Daemon};
use crate::util::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Size of the compressible text file.
const TEXT_SIZE: usize = 10 << 20;
/// Its name inside the source tree.
const TEXT_NAME: &str = "words.txt";
/// Size of the compressible file named `.gz` in the skip-compress test.
const GZ_SIZE: usize = 4 << 20;
/// Its name.
const GZ_NAME: &str = "packed.gz";

/// Which program is the client, which is the server or daemon, and which
/// way the data flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `oxsync -e RSH --rsync-path=rsync SRC/ localhost:DST/`
    ShOxPush,
    /// `oxsync -e RSH --rsync-path=rsync localhost:SRC/ DST/`
    ShOxPull,
    /// `rsync -e RSH --rsync-path=oxsync SRC/ localhost:DST/`
    ShRsyncPush,
    /// `rsync -e RSH --rsync-path=oxsync localhost:SRC/ DST/`
    ShRsyncPull,
    /// `oxsync SRC/ rsync://HOST:PORT/dst/` against `rsync --daemon`
    DaemonOxPush,
    /// `oxsync rsync://HOST:PORT/src/ DST/` against `rsync --daemon`
    DaemonOxPull,
    /// `rsync SRC/ rsync://HOST:PORT/dst/` against `oxsync --daemon`
    DaemonRsyncPush,
    /// `rsync rsync://HOST:PORT/src/ DST/` against `oxsync --daemon`
    DaemonRsyncPull,
}

impl Transport {
    /// The client sends (the data flows from the client to the server).
    fn push(self) -> bool {
        matches!(
            self,
            Transport::ShOxPush
                | Transport::ShRsyncPush
                | Transport::DaemonOxPush
                | Transport::DaemonRsyncPush
        )
    }
    /// oxsync is the client (else stock rsync is).
    fn oxsync_client(self) -> bool {
        matches!(
            self,
            Transport::ShOxPush
                | Transport::ShOxPull
                | Transport::DaemonOxPush
                | Transport::DaemonOxPull
        )
    }
    /// oxsync is the sending side (the one that compresses).
    fn oxsync_sends(self) -> bool {
        self.push() == self.oxsync_client()
    }
    /// A daemon (rather than a remote shell) serves the client.
    fn daemon(self) -> bool {
        matches!(
            self,
            Transport::DaemonOxPush
                | Transport::DaemonOxPull
                | Transport::DaemonRsyncPush
                | Transport::DaemonRsyncPull
        )
    }
}

/// Starts `bin --daemon --no-detach` serving module `src` (read only, the
/// source tree) and module `dst` (writable, the destination).
fn start_daemon(bin: &Path, src: &Path, dst: &Path) -> Daemon {
    let modules = format!(
        "[src]\npath = {}\n[dst]\npath = {}\nread only = no\n",
        src.display(),
        dst.display()
    );
    start_env(bin, &modules, &[("LC_ALL", "C")])
}

/// Deterministic text of `size` bytes: lines of words drawn from a fixed
/// pseudo-random vocabulary (compresses to roughly a fifth to a half of its
/// size, depending on the codec).
fn word_text(size: usize, seed: u64) -> Vec<u8> {
    const VOCAB: usize = 1024;
    let mut rng = Prng::new(seed);
    let vocab: Vec<Vec<u8>> = (0..VOCAB)
        .map(|_| {
            let n = 2 + rng.next_u64() % 9;
            (0..n).map(|_| b'a' + (rng.next_u64() % 26) as u8).collect()
        })
        .collect();
    let mut out = Vec::with_capacity(size + 16);
    let mut col = 0;
    while out.len() < size {
        let w = &vocab[(rng.next_u64() % VOCAB as u64) as usize];
        out.extend_from_slice(w);
        col += w.len() + 1;
        if col > 72 {
            out.push(b'\n');
            col = 0;
        } else {
            out.push(b' ');
        }
    }
    out.truncate(size);
    out
}

/// The big text file's contents (generated once per test process).
fn big_text() -> &'static [u8] {
    static TEXT: OnceLock<Vec<u8>> = OnceLock::new();
    TEXT.get_or_init(|| word_text(TEXT_SIZE, 0x7e47_0001))
}

/// Scattered changes to the text file: eight 64-byte regions overwritten
/// and three 100-byte insertions (which shift everything after them), then
/// a new mtime.
fn scatter_changes(path: &Path, new_mtime: i64) {
    let mut data = fs::read(path).expect("read text file");
    let len = data.len();
    for k in 0..8 {
        let off = len / 9 * (k + 1) + 777;
        for (i, b) in data[off..off + 64].iter_mut().enumerate() {
            *b = b"CHANGED "[i % 8];
        }
    }
    for k in (0..3).rev() {
        let off = len / 4 * (k + 1) + 333;
        let insert: Vec<u8> = (0..100).map(|i| b"INSERTED\n"[i % 9]).collect();
        data.splice(off..off, insert);
    }
    write_file(path, &data, 0o644, new_mtime);
}

/// One test's world: the source tree, the destination directory, the
/// daemon if the transport needs one.
struct Case {
    t: Transport,
    src: PathBuf,
    dst: PathBuf,
    daemon: Option<Daemon>,
    // Last: dropped after the daemon is stopped.
    scratch: Scratch,
}

impl Case {
    /// A scratch dir with the source tree (the text file and a small
    /// file), an empty destination and, for daemon transports, the daemon.
    fn new(t: Transport) -> Case {
        let scratch = Scratch::new();
        let src = scratch.path("src");
        let dst = scratch.path("dst");
        fs::create_dir(&src).expect("mkdir src");
        fs::create_dir(&dst).expect("mkdir dst");
        write_file(&src.join(TEXT_NAME), big_text(), 0o644, T0 + 1);
        write_file(
            &src.join("small.txt"),
            b"hello, compressed world\n",
            0o600,
            T0 + 2,
        );
        set_mtime(&src, T0 + 3);
        let daemon = t.daemon().then(|| {
            // The oxsync client talks to a stock daemon and vice versa.
            let bin = if t.oxsync_client() {
                rsync_bin()
            } else {
                oxsync_bin()
            };
            start_daemon(&bin, &src, &dst)
        });
        Case {
            t,
            src,
            dst,
            daemon,
            scratch,
        }
    }

    /// Runs one transfer from `src/` to `dst/` with `args`.
    fn run(&self, args: &[&str]) -> Run {
        let (client, server) = if self.t.oxsync_client() {
            (oxsync_bin(), rsync_bin())
        } else {
            (rsync_bin(), oxsync_bin())
        };
        let src_arg = format!("{}/", self.src.display());
        let dst_arg = format!("{}/", self.dst.display());
        let mut c = Command::new(client);
        c.args(args);
        match &self.daemon {
            Some(d) => {
                let url = |m: &str| url(d, &format!("{m}/"));
                if self.t.push() {
                    c.arg(src_arg).arg(url("dst"));
                } else {
                    c.arg(url("src")).arg(dst_arg);
                }
            }
            None => {
                c.arg("-e")
                    .arg(self.scratch.rsh())
                    .arg(format!("--rsync-path={}", server.display()));
                if self.t.push() {
                    c.arg(src_arg).arg(format!("localhost:{dst_arg}"));
                } else {
                    c.arg(format!("localhost:{src_arg}")).arg(dst_arg);
                }
            }
        }
        run(&mut c, &self.scratch.logs())
    }

    /// Runs a transfer that must succeed and leave `dst` equal to `src`.
    fn transfer(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        r.assert_code(0);
        assert_same_tree(&self.src, &self.dst);
        r
    }

    /// Empties the destination (keeping the directory: it may be a daemon
    /// module's path).
    fn clear_dst(&self) {
        for e in fs::read_dir(&self.dst).expect("read dst") {
            let p = e.expect("dst entry").path();
            if p.is_dir() {
                fs::remove_dir_all(&p).expect("remove dir");
            } else {
                fs::remove_file(&p).expect("remove file");
            }
        }
    }
}

/// The whole output of a run (the statistics go to stdout, but be lenient).
fn output(r: &Run) -> String {
    format!("{}\n{}", r.stdout, r.stderr)
}

/// A `--stats` figure of the client's output; panics if absent.
fn stat(r: &Run, label: &str) -> u64 {
    let all = output(r);
    stat_bytes(&all, label)
        .unwrap_or_else(|| panic!("no `{label}` in the stats of `{}`:\n{all}", r.cmdline))
}

/// Bytes written by the sending side, as the client reports them: "Total
/// bytes sent" when the client sends, "Total bytes received" when it
/// receives.
fn sender_bytes(t: Transport, r: &Run) -> u64 {
    stat(
        r,
        if t.push() {
            "Total bytes sent"
        } else {
            "Total bytes received"
        },
    )
}

/// Largest acceptable sender bytes, in percent of the text size, for an
/// initial copy with `codec`. The text compresses to about a quarter with
/// zlib and zstd; lz4 trades ratio for speed.
fn max_percent(codec: &str) -> u64 {
    if codec == "lz4" {
        75
    } else {
        50
    }
}

fn assert_compressed(t: Transport, r: &Run, size: u64, percent: u64) -> u64 {
    let sent = sender_bytes(t, r);
    assert!(
        sent * 100 < size * percent,
        "the sender wrote {sent} bytes for {size} bytes of text (not < {percent}%): \
         `{}`\n{}",
        r.cmdline,
        output(r)
    );
    sent
}

/// Initial copy then delta update with `--zc=codec`.
pub fn copy_and_delta(t: Transport, codec: &str) {
    let c = Case::new(t);
    let zc = format!("--zc={codec}");
    let size = TEXT_SIZE as u64;
    let r = c.transfer(&["-a", "--stats", &zc]);
    assert_compressed(t, &r, size, max_percent(codec));

    scatter_changes(&c.src.join(TEXT_NAME), T0 + 5000);
    let r = c.transfer(&["-a", "--stats", &zc]);
    let all = output(&r);
    let literal = stat(&r, "Literal data");
    let matched = stat(&r, "Matched data");
    assert!(
        literal < size / 20,
        "literal data {literal} is not < 5% of {size} (the delta path did not run?): `{}`\n{all}",
        r.cmdline
    );
    assert!(
        matched > size / 10 * 9,
        "matched data {matched} is not > 90% of {size}: `{}`\n{all}",
        r.cmdline
    );
    // The literal data itself goes compressed: the sender writes less than
    // the literal bytes plus the file list (the match tokens are tiny).
    let sent = sender_bytes(t, &r);
    assert!(
        sent < literal,
        "the sender wrote {sent} bytes for {literal} bytes of literal text: `{}`\n{all}",
        r.cmdline
    );
}

/// `--compress-level` 1 and 9 (fresh destination each time): both copies
/// are exact and compressed, and level 9 compresses better than level 1
/// (so the level reached the sender, whichever program it is).
pub fn levels(t: Transport, codec: &str) {
    let c = Case::new(t);
    let zc = format!("--zc={codec}");
    let size = TEXT_SIZE as u64;
    let mut sent = Vec::new();
    for level in ["1", "9"] {
        c.clear_dst();
        let zl = format!("--compress-level={level}");
        let r = c.transfer(&["-a", "--stats", &zc, &zl]);
        eprintln!(
            "{codec} level {level}: the sender wrote {} bytes",
            sender_bytes(t, &r)
        );
        sent.push(assert_compressed(t, &r, size, 50));
    }
    assert!(
        sent[1] < sent[0],
        "--compress-level=9 sent {} bytes, not fewer than level 1's {}",
        sent[1],
        sent[0]
    );
}

/// Plain `-z`: the codec is negotiated (zstd between 3.2.7 and oxsync).
pub fn negotiated(t: Transport) {
    let c = Case::new(t);
    let r = c.transfer(&["-a", "-z", "--stats"]);
    assert_compressed(t, &r, TEXT_SIZE as u64, 50);
}

/// `--skip-compress=gz` with zlib or zlibx: the `.gz` file goes
/// uncompressed, the text file still compressed.
///
/// The `.gz` file holds compressible text on purpose: random data would be
/// counted in full whether or not it was skipped (deflate cannot shrink
/// it), so only compressible contents tell "skipped" from "compressed".
///
/// Only oxsync as the sender is held to this. Upstream rsync 3.2.7 does not
/// honour per-suffix `--skip-compress` at all: its per-file level change
/// (token.c set_compression()) is compiled out, and only a list of `*`
/// lowers the level for the whole session. With stock rsync sending, the
/// test checks only that the option is accepted and the copy exact. zstd
/// and lz4 are not tested here: they keep one stream for the session and
/// cannot change level per file, in oxsync as in upstream.
pub fn skip_compress(t: Transport, codec: &str) {
    let c = Case::new(t);
    write_file(
        &c.src.join(GZ_NAME),
        &word_text(GZ_SIZE, 0x6a_0002),
        0o644,
        T0 + 4,
    );
    set_mtime(&c.src, T0 + 3);
    let zc = format!("--zc={codec}");
    let (text, gz) = (TEXT_SIZE as u64, GZ_SIZE as u64);

    // Control: without the skip list everything is compressed.
    let r = c.transfer(&["-a", "--stats", &zc]);
    let control = assert_compressed(t, &r, text + gz, 50);

    c.clear_dst();
    let r = c.transfer(&["-a", "--stats", &zc, "--skip-compress=gz"]);
    if t.oxsync_sends() {
        let sent = sender_bytes(t, &r);
        assert!(
            sent >= gz,
            "the sender wrote {sent} bytes, less than the {gz} bytes of {GZ_NAME}: \
             --skip-compress=gz was not honoured: `{}`\n{}",
            r.cmdline,
            output(&r)
        );
        assert!(
            sent >= control + gz / 2,
            "the sender wrote {sent} bytes, not much more than the {control} bytes without \
             --skip-compress: {GZ_NAME} ({gz} bytes) was compressed: `{}`\n{}",
            r.cmdline,
            output(&r)
        );
        assert!(
            sent < gz + text / 2,
            "the sender wrote {sent} bytes: {TEXT_NAME} ({text} bytes) was not compressed \
             beside the skipped {GZ_NAME} ({gz} bytes): `{}`\n{}",
            r.cmdline,
            output(&r)
        );
    }
}

/// One test function per scenario for a transport. The attributes after
/// `zlib_levels:` and `skip:` go on the zlib level test and the two
/// skip-compress tests (an `#[ignore]` where oxsync, as the sender, has a
/// known bug).
macro_rules! compress_tests {
    ($t:expr; zlib_levels: $(#[$lv:meta])*; skip: $(#[$sk:meta])*) => {
        #[test]
        fn zstd() {
            $crate::compress::copy_and_delta($t, "zstd");
        }
        #[test]
        fn lz4() {
            $crate::compress::copy_and_delta($t, "lz4");
        }
        #[test]
        fn zlibx() {
            $crate::compress::copy_and_delta($t, "zlibx");
        }
        #[test]
        fn zlib() {
            $crate::compress::copy_and_delta($t, "zlib");
        }
        #[test]
        fn zstd_levels() {
            $crate::compress::levels($t, "zstd");
        }
        #[test]
        $(#[$lv])*
        fn zlib_levels() {
            $crate::compress::levels($t, "zlib");
        }
        #[test]
        fn negotiated() {
            $crate::compress::negotiated($t);
        }
        #[test]
        $(#[$sk])*
        fn skip_compress_zlib() {
            $crate::compress::skip_compress($t, "zlib");
        }
        #[test]
        $(#[$sk])*
        fn skip_compress_zlibx() {
            $crate::compress::skip_compress($t, "zlibx");
        }
    };
}

/// The tests for a transport where stock rsync sends.
macro_rules! stock_sends {
    ($t:expr) => {
        compress_tests!($t; zlib_levels: ; skip: );
    };
}

/// The tests for a transport where oxsync sends.
macro_rules! oxsync_sends {
    ($t:expr) => {
        compress_tests!($t; zlib_levels: ; skip: );
    };
}

/// oxsync client pushing to `rsync --server` over a remote shell.
mod sh_ox_push {
    oxsync_sends!(super::Transport::ShOxPush);
}

/// oxsync client pulling from `rsync --server --sender`.
mod sh_ox_pull {
    stock_sends!(super::Transport::ShOxPull);
}

/// Stock rsync pushing to `oxsync --server`.
mod sh_rsync_push {
    stock_sends!(super::Transport::ShRsyncPush);
}

/// Stock rsync pulling from `oxsync --server --sender`.
mod sh_rsync_pull {
    oxsync_sends!(super::Transport::ShRsyncPull);
}

/// oxsync client pushing to `rsync --daemon`.
mod daemon_ox_push {
    oxsync_sends!(super::Transport::DaemonOxPush);
}

/// oxsync client pulling from `rsync --daemon`.
mod daemon_ox_pull {
    stock_sends!(super::Transport::DaemonOxPull);
}

/// Stock rsync pushing to `oxsync --daemon`.
mod daemon_rsync_push {
    stock_sends!(super::Transport::DaemonRsyncPush);
}

/// Stock rsync pulling from `oxsync --daemon`.
mod daemon_rsync_pull {
    oxsync_sends!(super::Transport::DaemonRsyncPull);
}
