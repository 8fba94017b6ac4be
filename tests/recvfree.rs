//! The receiving side's memory under incremental recursion: each finished
//! sub-list is freed once its generator and receiver are done with it
//! (upstream flist_free() after the list's NDX_DONE) and what it held is
//! given back to `--max-alloc`, so a tree of many directories whose lists
//! each fit is received whole within a bound the whole list would exceed.
//! With `--no-inc-recursive` (one list) the same bound refuses the
//! transfer with exit 22. Locally, with `oxsync --server` receiving from a
//! stock rsync client, and with oxsync pulling from a stock rsync server.
//! A hostile sender naming an entry of a finished list is refused.
use crate::fakepeer::against_receiver_with;
use crate::util::*;
use protocol::flist::{FileEntry, FlistEncoder, S_IFDIR, S_IFREG, XMIT_TOP_DIR};
use protocol::ndx::{NdxWriter, NDX_DONE, NDX_FLIST_OFFSET};
use std::fs;
use std::path::Path;

const RERR_PROTOCOL: i32 = 2;
const RERR_MALLOC: i32 = 22;

/// Directories of the tree and files in each: some 2 MB of list entries
/// on the receiving side in all, 20 KB per directory's list. A stock
/// sender keeps 1000 entries of lists ahead of the file it is on
/// (upstream MIN_FILECNT_LOOKAHEAD), and the generator runs ahead of the
/// receiver: that many lists stay live, well within the bound.
const DIRS: usize = 100;
const FILES: usize = 90;

/// `DIRS` directories of `FILES` small files with 40-byte names.
fn many_dirs(src: &Path) {
    for d in 0..DIRS {
        let dir = src.join(format!("directory-{d:03}"));
        fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..FILES {
            let name = format!("a-file-with-a-longer-name-{f:05}.txt");
            write_file(&dir.join(name), format!("{d}/{f}\n").as_bytes(), 0o644, T0);
        }
        set_mtime(&dir, T0 - 10);
    }
    set_mtime(src, T0 - 20);
}

/// Receives the tree with `--max-alloc=1M` and `extra`.
fn transfer(s: &Scratch, dir: Dir, extra: &[&str], dst: &Path) -> Run {
    let src = format!("{}/", s.path("src").display());
    let mut c = dir.client(false, &s.rsh());
    c.args(["-a", "--max-alloc=1M"])
        .args(extra)
        .args(dir.operands(src, format!("{}/", dst.display())));
    run(&mut c, &s.logs())
}

#[test]
fn finished_lists_are_credited_back_to_max_alloc() {
    for dir in [Dir::Local, Dir::RsyncPush, Dir::OxPull] {
        let s = Scratch::new();
        many_dirs(&s.path("src"));
        let dst = s.path("dst");
        let r = transfer(&s, dir, &[], &dst);
        assert_eq!(r.code, Some(0), "{dir:?}: {}\n{}", r.stdout, r.stderr);
        assert!(!r.stderr.contains("max-alloc"), "{dir:?}: {}", r.stderr);
        assert_same_tree(&s.path("src"), &dst);
    }
}

#[test]
fn one_list_over_the_bound_is_refused() {
    for dir in [Dir::Local, Dir::RsyncPush, Dir::OxPull] {
        let s = Scratch::new();
        many_dirs(&s.path("src"));
        let dst = s.path("dst");
        let r = transfer(&s, dir, &["--no-inc-recursive"], &dst);
        assert_eq!(
            r.code,
            Some(RERR_MALLOC),
            "{dir:?}: {}\n{}",
            r.stdout,
            r.stderr
        );
        assert!(
            r.stderr.contains("exceeded --max-alloc=1048576 setting"),
            "{dir:?}: {}",
            r.stderr
        );
        let files = match dst.exists() {
            true => snapshot(&dst).values().filter(|e| e.kind == 'f').count(),
            false => 0,
        };
        assert_eq!(files, 0, "{dir:?}: files written past the refusal");
    }
}

/// After the sender's NDX_DONE for the top list (freed), a record naming
/// its file is refused as upstream's flist_for_ndx() refuses it: the
/// valid range starts at the first live list's slot.
// upstream: flist.c flist_for_ndx() ("File-list index 3 not in 4 - 5")
#[test]
fn hostile_index_into_a_finished_list() {
    let out = against_receiver_with("-re.iLsfxCIvu", |p| {
        assert_ne!(p.compat() & protocol::compat::CF_INC_RECURSE, 0);
        let o = protocol::flist::FlistOptions {
            preserve_uid: false,
            preserve_gid: false,
            ..p.flist_options()
        };
        let entry = |name: &str, mode: u32, xflags: u32| {
            FileEntry {
                name: name.into(),
                mode,
                ..FileEntry::default()
            }
            .with_mtime(T0)
            .with_xflags(xflags)
        };
        let mut enc = FlistEncoder::new(o);
        let mut data = Vec::new();
        // The top list: "d" (1), "e" (2), "f" (3).
        enc.encode(&mut data, &entry("d", S_IFDIR | 0o755, XMIT_TOP_DIR));
        enc.encode(&mut data, &entry("e", S_IFDIR | 0o755, XMIT_TOP_DIR));
        enc.encode(&mut data, &entry("f", S_IFREG | 0o644, 0));
        enc.encode_end(&mut data, 0);
        // d's list: slot 4, "d/x" (5).
        let mut ndx = NdxWriter::default();
        ndx.write(&mut data, NDX_FLIST_OFFSET);
        enc.encode(&mut data, &entry("d/x", S_IFREG | 0o644, 0));
        enc.encode_end(&mut data, 0);
        // The top list is done; then "f" again.
        ndx.write(&mut data, NDX_DONE);
        ndx.write(&mut data, 3);
        data.extend_from_slice(&[0, 0]);
        data
    });
    out.check(RERR_PROTOCOL, "index of a finished list", |l| {
        l.contains("file-list index 3 not in 4 - 5 (read_ndx_and_attrs) [receiver]")
    });
}
