//! Wildcards in a daemon URL (`rsync://host/mod/f*`): the daemon's sender
//! expands them beneath the module as stock rsync's daemon does; a name
//! the module excludes is not matched, and a symlink out of the module is
//! not read through.
use crate::daemon::{start, url, Daemon};
use crate::util::{oxsync_bin, rsync_bin};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};

const MODULE: &str = "[m]\npath = %ROOT%/mod\nread only = yes\nexclude = fsecret\n";

/// The module: `foo/one`, `fx` (a file), `bar/two`, an excluded `fsecret`,
/// and `fout` -> a directory outside the module holding `leak`.
fn populate(d: &Daemon) {
    let m = d.root().join("mod");
    fs::create_dir_all(m.join("foo")).expect("mkdir");
    fs::create_dir_all(m.join("bar")).expect("mkdir");
    fs::write(m.join("foo/one"), "one\n").expect("w");
    fs::write(m.join("fx"), "x\n").expect("w");
    fs::write(m.join("bar/two"), "two\n").expect("w");
    fs::write(m.join("fsecret"), "excluded\n").expect("w");
    let outside = d.root().join("outside");
    fs::create_dir_all(&outside).expect("mkdir");
    fs::write(outside.join("leak"), "outside\n").expect("w");
    symlink(&outside, m.join("fout")).expect("symlink");
}

fn pull(d: &Daemon, path: &str, dst: &Path) -> Output {
    Command::new(rsync_bin())
        .arg("-r")
        .arg(url(d, path))
        .arg(format!("{}/", dst.display()))
        .output()
        .expect("run rsync")
}

/// Every path below `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd {
            let p = e.expect("entry").path();
            out.push(p.strip_prefix(dir).expect("below").display().to_string());
            if fs::symlink_metadata(&p).expect("lstat").is_dir() {
                todo.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn wildcards_expand_beneath_the_module() {
    let ours = start(&oxsync_bin(), MODULE);
    let stock = start(&rsync_bin(), MODULE);
    populate(&ours);
    populate(&stock);
    for (i, path) in ["m/f*", "m/f*/", "m/f?", "m/b*/t*", "m/q*"]
        .iter()
        .enumerate()
    {
        let a = ours.root().join(format!("dst/{i}"));
        let b = stock.root().join(format!("dst/{i}"));
        let ra = pull(&ours, path, &a);
        let rb = pull(&stock, path, &b);
        assert_eq!(
            ra.status.code(),
            rb.status.code(),
            "{path}: exit codes differ\nours: {ra:?}\nstock: {rb:?}"
        );
        assert_eq!(listing(&a), listing(&b), "{path}: trees differ\n{ra:?}");
        assert!(!listing(&a).iter().any(|p| p.contains("secret")), "{path}");
    }
    // Not vacuous: stock rsync expanded `f*` to foo and fx (and the link
    // fout, skipped without -l).
    let got = listing(&stock.root().join("dst/0"));
    assert_eq!(got, ["foo", "foo/one", "fx"], "{got:?}");
    // Through the link out of the module nothing is listed or read.
    let dst = ours.root().join("dst/out");
    let r = pull(&ours, "m/fout/*", &dst);
    assert_eq!(r.status.code(), Some(23), "{r:?}");
    assert!(listing(&dst).is_empty(), "{:?}", listing(&dst));
}
