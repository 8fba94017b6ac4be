//! `--info=stats3`: each role (sender, receiver, generator; "server " on
//! the remote side) prints its allocator's counters at the end, a block
//! in upstream's layout (main.c show_malloc_stats()), as stock rsync on
//! glibc does; `--info=stats2` prints none. Compared with stock rsync
//! (3.2.7, and 3.5.0 where built) in every direction: the blocks'
//! headings (pid aside) and lines (the counts aside).
use crate::util::*;
use std::path::Path;
use std::process::Command;

/// `client ARGS SRC DST` in `dir`, `client` and `server` the binaries.
fn command(s: &Scratch, dir: Dir, (client, server): (&Path, &Path), args: &[&str]) -> Command {
    let mut c = dir.client_of(client, server, &s.rsh());
    c.args(args);
    c
}

/// A heap block's line with the pid and the count replaced; None for a
/// line that is not one.
fn shape(line: &str) -> Option<String> {
    if let Some(rest) = line.strip_prefix("rsync[") {
        let (pid, tail) = rest.split_once(']')?;
        pid.parse::<u32>().ok()?;
        return tail
            .ends_with(" heap statistics:")
            .then(|| format!("rsync[PID]{tail}"));
    }
    // "  %-11s%10d   (descr)"
    let (label, count, tail) = (line.get(..13)?, line.get(13..23)?, line.get(23..)?);
    let ok = label.starts_with("  ")
        && label.trim_end().ends_with(':')
        && count.trim_start().parse::<u64>().is_ok()
        && tail.starts_with("   (");
    ok.then(|| format!("{label}{:>10}{tail}", "N"))
}

/// The heap blocks' lines of `stdout` as [`shape`]s, sorted: the roles
/// print in an order that depends on timing, and stock's local and remote
/// blocks may even interleave line by line.
fn shapes(stdout: &str) -> Vec<String> {
    let mut v: Vec<String> = stdout.lines().filter_map(shape).collect();
    v.sort();
    v
}

#[test]
fn stats3_prints_each_roles_heap_block_as_stock() {
    let s = Scratch::new();
    for i in 0..3 {
        put(&s.path("src"), &format!("f{i}"), &vec![b'x'; 64 + i], T0);
    }
    let ox = oxsync_bin();
    for stock in stock_bins() {
        for dir in ALL {
            let ends = match dir {
                Dir::Local => (ox.as_path(), ox.as_path()),
                Dir::OxPush | Dir::OxPull => (ox.as_path(), stock.as_path()),
                Dir::RsyncPush | Dir::RsyncPull => (stock.as_path(), ox.as_path()),
            };
            for level in ["--info=stats3", "--info=stats2"] {
                let mut runs = Vec::new();
                for (name, ends) in [("d1", ends), ("d2", (stock.as_path(), stock.as_path()))] {
                    let dst = format!("{}/", s.path(name).display());
                    let src = format!("{}/", s.path("src").display());
                    let mut c = command(&s, dir, ends, &["-r", level]);
                    c.args(dir.operands(src, dst));
                    runs.push(run(&mut c, &s.logs()));
                    std::fs::remove_dir_all(s.path(name)).expect("clean");
                }
                let (ours, theirs) = (&runs[0], &runs[1]);
                let label = format!("{dir:?} {level} against {}", stock.display());
                let show = |w: &str| show_runs(&label, w, ours, theirs);
                assert_eq!(ours.code, Some(0), "{}", show("exit code"));
                assert_eq!(theirs.code, Some(0), "{}", show("exit code"));
                let (a, b) = (shapes(&ours.stdout), shapes(&theirs.stdout));
                let want = if level.ends_with('3') { 3 * 12 } else { 0 };
                assert_eq!(b.len(), want, "{}", show("stock's blocks"));
                assert_eq!(a, b, "{}", show("heap blocks differ"));
            }
        }
    }
}
