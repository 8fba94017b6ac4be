//! Shared helpers for the end-to-end tests: which binaries to run, scratch
//! directories, the source tree, running commands with a deadline, comparing
//! trees, and parsing rsync's itemize and stats output.
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::hash::Hasher;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Where stock rsync lives unless `OXSYNC_TEST_RSYNC` says otherwise.
pub const RSYNC_DEFAULT: &str = "/usr/bin/rsync";
/// Size of the big pseudo-random file.
pub const BIG_SIZE: usize = 50 << 20;
/// Name of the big file inside the source tree.
pub const BIG_NAME: &str = "big.bin";
/// Base mtime for the source tree (seconds since the epoch).
pub const T0: i64 = 1_600_000_000;
/// Longest a single transfer may take before it is killed and the test
/// fails: `OXSYNC_TEST_TIMEOUT` seconds, default 240.
pub fn run_timeout() -> Duration {
    let secs = std::env::var("OXSYNC_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(240);
    Duration::from_secs(secs)
}

/// The oxsync binary under test: `OXSYNC_TEST_BIN` if set (e.g.
/// `/usr/bin/rsync` to check the harness itself), else the cargo-built one.
pub fn oxsync_bin() -> PathBuf {
    match std::env::var_os("OXSYNC_TEST_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_oxsync")),
    }
}

/// rsync 3.5.0 built from the mirror (`../shared/peers/build-rsync-3.5.0.sh`),
/// where a development machine has it.
pub const RSYNC_350: &str = "/work/rsync-3.5.0/rsync";

/// The stock binaries to test against: Debian's (always), and 3.5.0 when
/// built.
pub fn stock_bins() -> Vec<PathBuf> {
    let mut v = vec![rsync_bin()];
    if Path::new(RSYNC_350).exists() {
        v.push(PathBuf::from(RSYNC_350));
    }
    v
}

/// A stock binary with `--debug=FLIST3` (for the list lines of a
/// receiving server), as script `name` in `s`.
pub fn debug_wrapper(s: &Scratch, bin: &Path, name: &str) -> PathBuf {
    let p = s.path(name);
    write_script(
        &p,
        &format!("#!/bin/sh\nexec {} --debug=FLIST3 \"$@\"\n", bin.display()),
    );
    p
}

/// Stock rsync. The interop tests never skip: a missing rsync is a failure.
pub fn rsync_bin() -> PathBuf {
    let p = std::env::var_os("OXSYNC_TEST_RSYNC")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(RSYNC_DEFAULT));
    assert!(
        p.is_file(),
        "stock rsync not found at {} (install it: apt-get install -y rsync); \
         the interop tests fail rather than skip without it",
        p.display()
    );
    p
}

/// Who is the client, who is the server, and which way the data flows in
/// the five-direction comparisons: a local copy, oxsync pushing/pulling
/// against stock `rsync --server`, stock rsync pushing/pulling against
/// `oxsync --server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Local,
    OxPush,
    OxPull,
    RsyncPush,
    RsyncPull,
}

/// Every direction.
pub const ALL: [Dir; 5] = [
    Dir::Local,
    Dir::OxPush,
    Dir::OxPull,
    Dir::RsyncPush,
    Dir::RsyncPull,
];

/// The directions over a remote shell.
pub const REMOTE: [Dir; 4] = [Dir::OxPush, Dir::OxPull, Dir::RsyncPush, Dir::RsyncPull];

impl Dir {
    /// (client, server) binaries: oxsync in its role for this direction,
    /// or stock rsync on both ends for the `reference` run.
    pub fn endpoints(self, reference: bool) -> (PathBuf, PathBuf) {
        let (ox, rs) = (oxsync_bin(), rsync_bin());
        match (reference, self) {
            (true, _) => (rs.clone(), rs),
            (false, Dir::Local) => (ox.clone(), ox),
            (false, Dir::OxPush | Dir::OxPull) => (ox, rs),
            (false, Dir::RsyncPush | Dir::RsyncPull) => (rs, ox),
        }
    }
}

impl Dir {
    /// The client's command for this direction: its binary and, across
    /// the loopback remote shell `rsh`, `-e RSH --rsync-path=SERVER`.
    /// The caller adds the options, then [`Dir::operands`].
    pub fn client(self, reference: bool, rsh: &Path) -> Command {
        let (client, server) = self.endpoints(reference);
        self.client_of(&client, &server, rsh)
    }

    /// As [`Dir::client`], with `client` and `server` the binaries at
    /// the two ends.
    pub fn client_of(self, client: &Path, server: &Path, rsh: &Path) -> Command {
        let mut c = Command::new(client);
        if self != Dir::Local {
            c.arg("-e")
                .arg(rsh)
                .arg(format!("--rsync-path={}", server.display()));
        }
        c
    }

    /// `src` and `dst` as this direction names them: the remote side
    /// prefixed with `localhost:`.
    pub fn operands(self, src: String, dst: String) -> [String; 2] {
        match self {
            Dir::Local => [src, dst],
            Dir::OxPush | Dir::RsyncPush => [src, format!("localhost:{dst}")],
            Dir::OxPull | Dir::RsyncPull => [format!("localhost:{src}"), dst],
        }
    }
}

/// A per-test scratch directory (removed on drop).
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// Creates a fresh scratch directory.
    pub fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("oxsync-test-")
            .tempdir()
            .expect("create temp dir");
        Scratch { dir }
    }
    /// The scratch root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    /// A path inside the scratch root.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// Writes the tiny remote-shell stand-in (drops the host argument and
    /// runs the remote command locally) and returns its path.
    pub fn rsh(&self) -> PathBuf {
        let p = self.path("rsh.sh");
        if !p.exists() {
            write_script(
                &p,
                "#!/bin/sh\n# stand-in for ssh: drop the host, run the command\nshift\nexec \"$@\"\n",
            );
        }
        p
    }
    /// A remote-shell stand-in that, like ssh, hands the command line to a
    /// shell (so quoting and backslash escapes on the command line matter,
    /// as with a real ssh).
    pub fn shell_rsh(&self) -> PathBuf {
        let p = self.path("rsh_shell.sh");
        if !p.exists() {
            write_script(&p, "#!/bin/sh\nshift\nexec sh -c \"$*\"\n");
        }
        p
    }
    /// Directory for command output logs.
    pub fn logs(&self) -> PathBuf {
        let p = self.path("logs");
        fs::create_dir_all(&p).expect("create logs dir");
        p
    }
}

/// Writes an executable script. The file is written by a child process:
/// were it written here, a test thread forking meanwhile would inherit the
/// open descriptor, and exec'ing the script while that child has not yet
/// exec'd itself fails with ETXTBSY ("Text file busy").
pub fn write_script(path: &Path, text: &str) {
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("start sh to write a script");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write script text");
    let st = child.wait().expect("wait for sh");
    assert!(st.success(), "writing {} failed", path.display());
}

/// Result of one command.
#[derive(Debug)]
pub struct Run {
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    /// Everything the command wrote to stdout.
    pub stdout: String,
    /// Everything the command wrote to stderr.
    pub stderr: String,
    /// The command line, for messages.
    pub cmdline: String,
}

impl Run {
    /// Panics with the command's output unless it exited with `code`.
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit status of `{}`\n--- stdout\n{}\n--- stderr\n{}",
            self.cmdline,
            self.stdout,
            self.stderr
        );
        self
    }
    /// The itemize lines of stdout, sorted.
    pub fn itemized(&self) -> Vec<String> {
        itemize_lines(&self.stdout)
    }
}

static RUN_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Runs `cmd` with stdout/stderr captured in files under `log_dir`, killing
/// its whole process group if it takes longer than [`run_timeout`].
pub fn run(cmd: &mut Command, log_dir: &Path) -> Run {
    let n = RUN_COUNTER.fetch_add(1, Ordering::Relaxed);
    let out_path = log_dir.join(format!("{n}.out"));
    let err_path = log_dir.join(format!("{n}.err"));
    let cmdline = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("create stdout log"))
        .stderr(File::create(&err_path).expect("create stderr log"))
        .env("LC_ALL", "C")
        .env_remove("RSYNC_RSH")
        .env_remove("RSYNC_PROTECT_ARGS")
        .env_remove("RSYNC_OLD_ARGS")
        .env_remove("RSYNC_CHECKSUM_LIST")
        .env_remove("RSYNC_COMPRESS_LIST")
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{cmdline}`: {e}"));
    let start = Instant::now();
    let timeout = run_timeout();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for child") {
            break st;
        }
        if start.elapsed() > timeout {
            kill_group(child.id());
            let _ = child.wait();
            panic!(
                "`{cmdline}` did not finish within {:?}\n--- stdout\n{}\n--- stderr\n{}",
                timeout,
                fs::read_to_string(&out_path).unwrap_or_default(),
                fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&fs::read(&out_path).unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&fs::read(&err_path).unwrap_or_default()).into_owned(),
        cmdline,
    }
}

/// Kills the process group led by `pid` (a child we started with its own group).
pub fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

// ---------------------------------------------------------------------------
// Output parsing

/// True for a line of itemize output: an 11-character change string
/// (`YXcstpoguax`) then a space then a name, or a `*deleting` line.
pub fn is_itemize_line(line: &str) -> bool {
    if line.starts_with("*deleting ") {
        return true;
    }
    let b = line.as_bytes();
    if b.len() < 13 || b[11] != b' ' {
        return false;
    }
    let update_types = b"<>ch.*";
    let file_types = b"fdLDS";
    update_types.contains(&b[0])
        && file_types.contains(&b[1])
        && b[2..11]
            .iter()
            .all(|c| c.is_ascii_alphabetic() || b".+? ".contains(c))
}

/// The itemize lines of `stdout`, sorted. Sorting is needed because the
/// relative order of the lines printed by the generator (directories,
/// symlinks, deletions, attribute-only changes) and by the receiver/sender
/// (transferred files) is not deterministic in upstream rsync either: they
/// come from different processes and are interleaved by timing.
pub fn itemize_lines(stdout: &str) -> Vec<String> {
    let mut v: Vec<String> = stdout
        .lines()
        .filter(|l| is_itemize_line(l))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// Parses a stats line such as `Literal data: 1,234 bytes` (any thousands
/// separator) and returns the number.
pub fn stat_bytes(output: &str, label: &str) -> Option<u64> {
    output.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix(label)?.strip_prefix(':')?;
        let num = rest.split_whitespace().next()?;
        let digits: String = num.chars().filter(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

// ---------------------------------------------------------------------------
// Building trees

/// A fast deterministic PRNG (xorshift64*).
pub struct Prng(u64);

impl Prng {
    /// Seeded generator (seed 0 is remapped).
    pub fn new(seed: u64) -> Prng {
        Prng(seed.max(1))
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }
}

/// Sets the mtime (whole seconds) of a file or directory (follows symlinks).
pub fn set_mtime(path: &Path, secs: i64) {
    let t = UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).expect("positive mtime"));
    File::open(path)
        .and_then(|f| f.set_modified(t))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

/// Writes `data` to `path` with permission bits `mode` and mtime `mtime`.
pub fn write_file(path: &Path, data: &[u8], mode: u32, mtime: i64) {
    fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    set_mtime(path, mtime);
}

/// Writes `root/rel` (parents created) with mode 0644 and mtime `mtime`.
pub fn put(root: &Path, rel: &str, data: &[u8], mtime: i64) {
    put_mode(root, rel, data, 0o644, mtime);
}

/// As [`put`], with permission bits `mode`.
pub fn put_mode(root: &Path, rel: &str, data: &[u8], mode: u32, mtime: i64) {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).expect("mkdir parents");
    }
    write_file(&p, data, mode, mtime);
}

/// Gives `root` and every directory below it mode 0755 and mtime `mtime`
/// (deepest first), so that prepared trees start identical.
pub fn fix_dirs(root: &Path, mtime: i64) {
    let mut dirs = vec![root.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        for e in fs::read_dir(&dirs[i]).expect("read_dir") {
            let e = e.expect("dir entry");
            if e.file_type().expect("file type").is_dir() {
                dirs.push(e.path());
            }
        }
        i += 1;
    }
    for d in dirs.iter().rev() {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).expect("chmod dir");
        set_mtime(d, mtime);
    }
}

/// When the itemize lines of the two runs differ: the lines only each
/// side printed.
pub fn itemize_diff(ours: &Run, theirs: &Run) -> Option<String> {
    let (mine, refs) = (ours.itemized(), theirs.itemized());
    if mine == refs {
        return None;
    }
    let only = |a: &[String], b: &[String]| {
        a.iter()
            .filter(|l| !b.contains(l))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    };
    Some(format!(
        "itemize lines differ\nonly from oxsync:\n  {}\nonly from stock rsync:\n  {}",
        only(&mine, &refs),
        only(&refs, &mine)
    ))
}

/// Asserts that oxsync's run and stock rsync's agree on the exit code and
/// the itemize lines (sorted).
pub fn assert_runs_agree(label: &str, ours: &Run, theirs: &Run) {
    let show = |what: &str| show_runs(label, what, ours, theirs);
    assert_eq!(ours.code, theirs.code, "{}", show("exit codes differ"));
    assert_eq!(
        ours.itemized(),
        theirs.itemized(),
        "{}",
        show("itemize lines differ")
    );
}

/// Writes the big pseudo-random file (in 1 MiB chunks).
pub fn write_big_file(path: &Path, size: usize, seed: u64) {
    let mut rng = Prng::new(seed);
    let mut f = File::create(path).expect("create big file");
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len());
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n]).expect("write big file");
        left -= n;
    }
}

/// Creates the standard source tree under `src` (which must not exist):
/// three levels of nested directories, empty files, several small files
/// with various permissions, one 50 MiB pseudo-random file, and symlinks
/// (relative to a file, to a directory, dangling). All mtimes are explicit
/// whole seconds in the past.
pub fn make_source_tree(src: &Path) {
    let mut rng = Prng::new(0x5eed_0001);
    fs::create_dir(src).expect("mkdir src");
    let d1 = src.join("d1");
    let d2 = d1.join("d2");
    let d3 = d2.join("d3");
    fs::create_dir_all(&d3).expect("mkdir nested");

    write_file(&src.join("empty_a"), b"", 0o644, T0 + 1);
    let sizes = [1usize, 100, 700, 1000, 4095, 9000];
    let modes = [0o644u32, 0o600, 0o755, 0o640, 0o444, 0o664];
    for (i, (size, mode)) in sizes.iter().zip(modes).enumerate() {
        let name = format!("small_{i}");
        write_file(&src.join(name), &rng.bytes(*size), mode, T0 + 10 + i as i64);
    }
    let big = src.join(BIG_NAME);
    write_big_file(&big, BIG_SIZE, 0xb16_f11e);
    fs::set_permissions(&big, fs::Permissions::from_mode(0o644)).expect("chmod big");
    set_mtime(&big, T0 + 20);

    write_file(&d1.join("a.txt"), &rng.bytes(333), 0o644, T0 + 30);
    write_file(&d1.join("empty_b"), b"", 0o600, T0 + 31);
    write_file(&d2.join("b.txt"), &rng.bytes(2048), 0o640, T0 + 32);
    write_file(&d3.join("c.txt"), &rng.bytes(5), 0o755, T0 + 33);
    write_file(&d3.join("empty_c"), b"", 0o644, T0 + 34);

    symlink("small_0", src.join("link_file")).expect("symlink");
    symlink("d1", src.join("link_dir")).expect("symlink");
    symlink("no/such/target", src.join("dangling")).expect("symlink");
    symlink("../a.txt", d2.join("up_link")).expect("symlink");

    fs::set_permissions(&d3, fs::Permissions::from_mode(0o700)).expect("chmod");
    fs::set_permissions(&d2, fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::set_permissions(&d1, fs::Permissions::from_mode(0o750)).expect("chmod");
    fs::set_permissions(src, fs::Permissions::from_mode(0o755)).expect("chmod");
    set_mtime(&d3, T0 + 40);
    set_mtime(&d2, T0 + 41);
    set_mtime(&d1, T0 + 42);
    set_mtime(src, T0 + 43);
}

/// Changes the big file in three places (a few bytes at 1 MiB, 20 MiB and
/// 45 MiB, each byte inverted) and gives it a new mtime.
pub fn modify_big_file(path: &Path, new_mtime: i64) {
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open big file");
    for off in [1u64 << 20, 20 << 20, 45 << 20] {
        let mut buf = [0u8; 16];
        f.seek(SeekFrom::Start(off)).expect("seek");
        f.read_exact(&mut buf).expect("read");
        for b in &mut buf {
            *b = !*b;
        }
        f.seek(SeekFrom::Start(off)).expect("seek");
        f.write_all(&buf).expect("write");
    }
    drop(f);
    set_mtime(path, new_mtime);
}

// ---------------------------------------------------------------------------
// Comparing trees

/// What a snapshot records about one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryState {
    /// 'f', 'd', 'l' or 'o' (other).
    pub kind: char,
    /// Permission bits (0 for symlinks).
    pub perm: u32,
    /// mtime seconds (0 for symlinks).
    pub mtime: i64,
    /// mtime nanoseconds (0 for symlinks).
    pub mtime_nsec: i64,
    /// Size of regular files.
    pub size: u64,
    /// Content digest of regular files.
    pub digest: u64,
    /// Symlink target.
    pub link: Option<PathBuf>,
}

fn file_digest(path: &Path) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.write(&buf[..n]);
    }
    h.finish()
}

/// Every entry under `root` (the root itself as ""), with its state.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, EntryState> {
    fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, EntryState>) {
        let full = root.join(rel);
        let md =
            fs::symlink_metadata(&full).unwrap_or_else(|e| panic!("lstat {}: {e}", full.display()));
        let ft = md.file_type();
        let kind = if ft.is_symlink() {
            'l'
        } else if ft.is_dir() {
            'd'
        } else if ft.is_file() {
            'f'
        } else {
            'o'
        };
        let link = ft
            .is_symlink()
            .then(|| fs::read_link(&full).expect("readlink"));
        let st = EntryState {
            kind,
            perm: if kind == 'l' { 0 } else { md.mode() & 0o7777 },
            // Symlink mtimes are not compared (not required of oxsync).
            mtime: if kind == 'l' { 0 } else { md.mtime() },
            mtime_nsec: if kind == 'l' { 0 } else { md.mtime_nsec() },
            size: if kind == 'f' { md.len() } else { 0 },
            digest: if kind == 'f' { file_digest(&full) } else { 0 },
            link,
        };
        out.insert(rel.to_path_buf(), st);
        if kind == 'd' {
            let mut names: Vec<_> = fs::read_dir(&full)
                .expect("read_dir")
                .map(|e| e.expect("dir entry").file_name())
                .collect();
            names.sort();
            for n in names {
                walk(root, &rel.join(n), out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

/// Asserts that `dst` mirrors `src`: same entries (nothing missing, nothing
/// extra), same file types, bytes, permission bits, mtimes (whole seconds;
/// not for symlinks) and symlink targets.
pub fn assert_same_tree(src: &Path, dst: &Path) {
    let a = snapshot(src);
    let b = snapshot(dst);
    let mut problems = Vec::new();
    for (p, sa) in &a {
        match b.get(p) {
            None => problems.push(format!("missing in destination: {}", p.display())),
            Some(sb) => {
                if sa.kind != sb.kind {
                    problems.push(format!("{}: type {} vs {}", p.display(), sa.kind, sb.kind));
                    continue;
                }
                if sa.perm != sb.perm {
                    problems.push(format!(
                        "{}: perms {:o} vs {:o}",
                        p.display(),
                        sa.perm,
                        sb.perm
                    ));
                }
                if sa.mtime != sb.mtime {
                    problems.push(format!(
                        "{}: mtime {} vs {}",
                        p.display(),
                        sa.mtime,
                        sb.mtime
                    ));
                }
                if sa.size != sb.size || sa.digest != sb.digest {
                    problems.push(format!(
                        "{}: contents differ (size {} vs {})",
                        p.display(),
                        sa.size,
                        sb.size
                    ));
                }
                if sa.link != sb.link {
                    problems.push(format!(
                        "{}: link {:?} vs {:?}",
                        p.display(),
                        sa.link,
                        sb.link
                    ));
                }
            }
        }
    }
    for p in b.keys() {
        if !a.contains_key(p) {
            problems.push(format!("extra in destination: {}", p.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "{} differs from {}:\n  {}",
        dst.display(),
        src.display(),
        problems.join("\n  ")
    );
}

/// True if two regular files have the same bytes.
pub fn same_content(a: &Path, b: &Path) -> bool {
    fs::read(a).expect("read") == fs::read(b).expect("read")
}

/// Both runs of a comparison, for an assertion message: `label: what`,
/// then each command line, exit code, stdout and stderr.
pub fn show_runs(label: &str, what: &str, ours: &Run, theirs: &Run) -> String {
    format!(
        "{label}: {what}\n--- ours: `{}` (exit {:?})\n{}\n{}\n--- stock rsync: `{}` (exit {:?})\n{}\n{}",
        ours.cmdline,
        ours.code,
        ours.stdout,
        ours.stderr,
        theirs.cmdline,
        theirs.code,
        theirs.stdout,
        theirs.stderr
    )
}

/// One line per difference between two path-keyed snapshots (oxsync's
/// first, stock rsync's second); empty when they are equal.
pub fn map_diff<T: PartialEq + std::fmt::Debug>(
    ours: &BTreeMap<PathBuf, T>,
    theirs: &BTreeMap<PathBuf, T>,
) -> Vec<String> {
    let mut diff = Vec::new();
    for (p, a) in ours {
        match theirs.get(p) {
            None => diff.push(format!("only in oxsync's: {}", p.display())),
            Some(b) if a != b => diff.push(format!("{}: {a:?} vs {b:?}", p.display())),
            Some(_) => {}
        }
    }
    for p in theirs.keys().filter(|p| !ours.contains_key(*p)) {
        diff.push(format!("only in stock rsync's: {}", p.display()));
    }
    diff
}

#[cfg(test)]
mod self_tests {
    use super::*;

    #[test]
    fn itemize_line_recognition() {
        assert!(is_itemize_line(">f+++++++++ d1/a.txt"));
        assert!(is_itemize_line("cd+++++++++ d1/"));
        assert!(is_itemize_line(".d..t...... ./"));
        assert!(is_itemize_line("cL+++++++++ link -> target"));
        assert!(is_itemize_line("*deleting   extra"));
        assert!(is_itemize_line("<f.st...... big.bin"));
        assert!(!is_itemize_line("Number of files: 3 (reg: 2, dir: 1)"));
        assert!(!is_itemize_line("sent 1,234 bytes  received 35 bytes"));
        assert!(!is_itemize_line("total size is 10  speedup is 1.00"));
    }

    #[test]
    fn stats_parsing() {
        let s = "Number of files: 3\nLiteral data: 1,234,567 bytes\nMatched data: 0 bytes\n";
        assert_eq!(stat_bytes(s, "Literal data"), Some(1_234_567));
        assert_eq!(stat_bytes(s, "Matched data"), Some(0));
        assert_eq!(stat_bytes(s, "Total bytes sent"), None);
    }
}

/// Who sends and how, in the tests that race the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Local,
    Push,
    Pull,
    /// Stock rsync pulling from `oxsync --server --sender`.
    StockPull,
}

impl Way {
    /// Every way.
    pub const ALL: [Way; 4] = [Way::Local, Way::Push, Way::Pull, Way::StockPull];

    /// The command line of this way: `opts`, then (but locally) the
    /// loopback remote shell of `s` with oxsync as the far side, then
    /// `srcs` and `dest`, the far one of them as `localhost:PATH`.
    pub fn command(self, s: &Scratch, opts: &[&str], srcs: &[String], dest: &str) -> Command {
        let ox = oxsync_bin();
        let mut cmd = match self {
            Way::StockPull => Command::new(rsync_bin()),
            _ => Command::new(&ox),
        };
        cmd.args(opts);
        if self != Way::Local {
            cmd.arg("-e")
                .arg(s.rsh())
                .arg(format!("--rsync-path={}", ox.display()));
        }
        let remote = |p: &String| format!("localhost:{p}");
        match self {
            Way::Local => cmd.args(srcs).arg(dest),
            Way::Push => cmd.args(srcs).arg(format!("localhost:{dest}")),
            Way::Pull | Way::StockPull => cmd.args(srcs.iter().map(remote)).arg(dest),
        };
        cmd
    }
}

/// The size of the largest regular file beneath `root` that a process
/// holds open: a new file written without a name (O_TMPFILE) shows only
/// there, as `DIR/#INODE (deleted)`.
pub fn largest_open_file(root: &Path) -> u64 {
    let mut best = 0;
    let Ok(procs) = fs::read_dir("/proc") else {
        return 0;
    };
    for p in procs.flatten() {
        let Ok(fds) = fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let beneath = fs::read_link(fd.path()).is_ok_and(|t| t.starts_with(root));
            match fs::metadata(fd.path()) {
                Ok(md) if beneath && md.is_file() => best = best.max(md.len()),
                _ => {}
            }
        }
    }
    best
}

/// Every line of the traces `strace -ff -o PREFIX` wrote (one file
/// `PREFIX.PID` per thread and process).
pub fn trace_lines(prefix: &Path) -> Vec<String> {
    let dir = prefix.parent().expect("trace dir");
    let stem = format!("{}.", prefix.file_name().expect("name").to_string_lossy());
    let mut lines = Vec::new();
    for entry in fs::read_dir(dir).expect("read trace dir") {
        let entry = entry.expect("entry");
        if entry.file_name().to_string_lossy().starts_with(&stem) {
            let text = fs::read_to_string(entry.path()).expect("read trace");
            lines.extend(text.lines().map(str::to_string));
        }
    }
    lines
}

/// Runs `bin` with `args` in the scratch dir (relative paths are its).
pub fn run_in(s: &Scratch, bin: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(bin);
    c.args(args).current_dir(s.root());
    run(&mut c, &s.logs())
}

/// `client ARGS SRCS... DST` run in `s`'s root, SRCS as given (relative
/// to it), DST its `dst/`: locally, or through the remote-shell
/// stand-in to `server` (`--rsync-path`) as `localhost:ROOT/dst/`.
pub fn into_dst(
    s: &Scratch,
    client: &Path,
    server: Option<&Path>,
    args: &[&str],
    srcs: &[&str],
) -> Run {
    run(&mut into_dst_cmd(s, client, server, args, srcs), &s.logs())
}

/// The command [`into_dst`] runs, for a caller that sets more on it.
pub fn into_dst_cmd(
    s: &Scratch,
    client: &Path,
    server: Option<&Path>,
    args: &[&str],
    srcs: &[&str],
) -> Command {
    let mut c = Command::new(client);
    c.current_dir(s.root()).args(args).args(srcs);
    match server {
        Some(server) => c
            .arg("-e")
            .arg(s.rsh())
            .arg(format!("--rsync-path={}", server.display()))
            .arg(format!("localhost:{}/dst/", s.root().display())),
        None => c.arg("dst/"),
    };
    c
}

/// The four ways a client and a remote-shell server pair up for a
/// comparison with stock rsync: stock rsync alone, oxsync alone, and
/// oxsync on either side of stock rsync (`None`: a local transfer).
pub fn each_side() -> [(PathBuf, Option<PathBuf>); 4] {
    let (ox, stock) = (oxsync_bin(), rsync_bin());
    [
        (stock.clone(), None),
        (ox.clone(), None),
        (ox.clone(), Some(stock.clone())),
        (stock, Some(ox)),
    ]
}
