//! What a traced run did on the wire, read from `strace -ff` (one file per
//! thread): the bytes each thread wrote to pipes and sockets, its largest
//! single write and the sleeps it asked for. `--bwlimit` is checked on
//! these, the pieces it cuts the stream into and the sleeps that pace them,
//! rather than on wall time (which a loaded machine stretches anyway).
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The system calls a trace records: writes, and the sleeps of oxsync
/// (`clock_nanosleep`) and of stock rsync (a `select` with no descriptors).
const TRACED: &str = "trace=write,writev,sendto,sendmsg,clock_nanosleep,nanosleep,pselect6,select";

/// `cmd` run under `strace -ff`, each thread traced to `prefix.TID`
/// (the threads and processes it starts included).
pub fn traced(prefix: &Path, cmd: &Command) -> Command {
    let mut t = Command::new("strace");
    t.args(["-ff", "-qq", "-y", "-s", "0", "-e", TRACED, "-o"])
        .arg(prefix)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        t.current_dir(dir);
    }
    t
}

/// One traced thread's wire writes and sleeps.
#[derive(Debug, Default, Clone)]
pub struct WireThread {
    pub file: String,
    /// Bytes written to pipes and sockets.
    pub bytes: u64,
    /// The largest of those writes.
    pub largest: u64,
    pub writes: usize,
    pub sleeps: usize,
    /// The sleeps' requested time, added up.
    pub slept: Duration,
}

/// Every thread traced to `prefix.TID`.
pub fn threads(prefix: &Path) -> Vec<WireThread> {
    let dir = prefix.parent().expect("trace dir");
    let stem = format!(
        "{}.",
        prefix.file_name().expect("trace name").to_string_lossy()
    );
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("read trace dir") {
        let name = entry.expect("trace entry").file_name();
        let name = name.to_string_lossy();
        if !name.starts_with(&stem) {
            continue;
        }
        let text = fs::read_to_string(dir.join(&*name)).expect("read trace");
        let mut t = WireThread {
            file: name.into_owned(),
            ..WireThread::default()
        };
        for line in text.lines() {
            if let Some(n) = wire_write(line) {
                t.bytes += n;
                t.largest = t.largest.max(n);
                t.writes += 1;
            } else if let Some(d) = sleep_request(line) {
                t.sleeps += 1;
                t.slept += d;
            }
        }
        out.push(t);
    }
    out
}

/// The thread that wrote the most to the wire: the sender of a transfer.
pub fn sender(prefix: &Path) -> WireThread {
    let all = threads(prefix);
    all.iter()
        .max_by_key(|t| t.bytes)
        .cloned()
        .unwrap_or_else(|| panic!("no trace at {}.*", prefix.display()))
}

/// Checks that the sender of a `--bwlimit=kib` transfer of `bytes` (traced
/// at `prefix`) wrote it in pieces of at most `kib` * 128 bytes (upstream's
/// bwlimit_writemax) and slept to pace them, for at least a quarter of the
/// time the rate asks (its own work and waits make up the rest).
pub fn assert_paced(label: &str, prefix: &Path, kib: u64, bytes: u64) {
    let all = threads(prefix);
    let s = sender(prefix);
    let show = || {
        format!(
            "{label}: sender (trace file {}) {s:?}\nall threads: {all:#?}",
            s.file
        )
    };
    assert!(s.bytes >= bytes, "the data went elsewhere: {}", show());
    let piece = (kib * 128).max(512);
    assert!(
        s.largest <= piece,
        "a write of more than {piece} bytes: {}",
        show()
    );
    let asked = Duration::from_secs_f64(bytes as f64 / (kib * 1024) as f64);
    assert!(s.slept >= asked / 4, "no pacing sleeps: {}", show());
}

/// The byte count of a write to a pipe or socket (`-y` names the kind of
/// each descriptor), or `None`.
fn wire_write(line: &str) -> Option<u64> {
    let (call, rest) = line.split_once('(')?;
    if !["write", "writev", "sendto", "sendmsg"].contains(&call) {
        return None;
    }
    let fd = rest.split(',').next()?;
    if !["<pipe:", "<socket:", "<UNIX", "<TCP"]
        .iter()
        .any(|k| fd.contains(k))
    {
        return None;
    }
    line.rsplit_once(" = ")?.1.trim().parse().ok()
}

/// The time a sleeping call asks for: `nanosleep`, `clock_nanosleep`, or
/// a `select` that watches no descriptor.
fn sleep_request(line: &str) -> Option<Duration> {
    let (call, rest) = line.split_once('(')?;
    let sleeps = match call {
        "nanosleep" | "clock_nanosleep" => true,
        "select" | "pselect6" => rest.starts_with("0, NULL, NULL, NULL, {"),
        _ => false,
    };
    if !sleeps {
        return None;
    }
    let field = |name: &str| -> Option<u64> {
        let at = rest.find(name)? + name.len();
        let digits: String = rest[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let secs = field("tv_sec=")?;
    let nanos = field("tv_nsec=").or_else(|| field("tv_usec=").map(|u| u * 1000))?;
    Some(Duration::from_secs(secs) + Duration::from_nanos(nanos))
}
