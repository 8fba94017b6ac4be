//! What the tree-shape options do to the file list: `-R` implied
//! directories, `--files-from` names (local, remote, or forwarded over the
//! connection), `-m` pruning, inactive entries (upstream flist.c
//! send_file_list, io.c forward_filesfrom_data, generator.c). The options
//! themselves are parsed in `crate::options::tree`.
use crate::error::{Error, Result};
use crate::options::Options;
use protocol::exit;
use protocol::flist::{FileEntry, XMIT_NO_CONTENT_DIR, XMIT_TOP_DIR};
use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};

/// A receiver-side mark in [`FileEntry::xflags`] (never sent: the encoder
/// keeps only the directory bits): the entry was dropped as a duplicate or
/// pruned by `-m`, as upstream's clear_file().
pub const FLAG_INACTIVE: u32 = 1 << 24;

/// Longest name read from a files-from list (upstream MAXPATHLEN); longer
/// lines are cut, as upstream's read_line() does.
pub const MAX_FILES_FROM_NAME: usize = 4096;

/// Most names a files-from list may hold.
pub const MAX_FILES_FROM_NAMES: usize = 1 << 24;

/// Most bytes a files-from list sent by the peer may hold.
pub const MAX_PEER_LIST_BYTES: u64 = 1 << 30;

/// Reads a files-from list. `local` lists (a file or standard input read
/// by this side) end lines at CR or LF (NUL with `from0`) and skip empty
/// lines and `#`/`;` comments; a list from the peer is NUL-separated and
/// ends at the first empty name.
// upstream: io.c:read_line() with RL_DUMP_COMMENTS / RL_EOL_NULLS
pub fn read_names<R: Read>(r: &mut R, local: bool, from0: bool) -> io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut buf = [0u8; 1];
    let nul_eol = from0 || !local;
    let mut total: u64 = 0;
    loop {
        let n = loop {
            match r.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        total += n as u64;
        if !local && total > MAX_PEER_LIST_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("files-from list from the peer is longer than {MAX_PEER_LIST_BYTES} bytes"),
            ));
        }
        let end_of_line = n == 0
            || if nul_eol {
                buf[0] == 0
            } else {
                buf[0] == b'\n' || buf[0] == b'\r'
            };
        if !end_of_line {
            if cur.len() < MAX_FILES_FROM_NAME {
                cur.push(buf[0]);
            }
            continue;
        }
        if cur.is_empty() {
            if n == 0 || !local {
                break;
            }
            continue;
        }
        let line = std::mem::take(&mut cur);
        if !(local && (line[0] == b'#' || line[0] == b';')) {
            if names.len() >= MAX_FILES_FROM_NAMES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("files-from list has more than {MAX_FILES_FROM_NAMES} names"),
                ));
            }
            names.push(line);
        }
        if n == 0 {
            break;
        }
    }
    Ok(names)
}

/// The bytes a side that holds the files-from list sends to the peer that
/// builds the file list: each name NUL-terminated (newlines become NULs
/// without --from0), runs of NULs collapsed, an empty name at the end.
// upstream: io.c:forward_filesfrom_data()
pub fn forward_bytes(data: &[u8], from0: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2);
    for &b in data {
        let b = if !from0 && (b == b'\n' || b == b'\r') {
            0
        } else {
            b
        };
        if b == 0 && out.last().is_none_or(|&l| l == 0) {
            continue;
        }
        out.push(b);
    }
    if out.last().is_some_and(|&l| l != 0) {
        out.push(0);
    }
    out.push(0);
    out
}

/// Turns a NUL-delimited rule file (--from0) into lines.
pub fn nul_lines(data: &mut [u8]) {
    for b in data.iter_mut() {
        if *b == 0 {
            *b = b'\n';
        }
    }
}

/// Reads a local files-from file ("-": standard input), with upstream's
/// error for a file that cannot be opened.
pub fn read_local_file(path: &str, links: confine::Links) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    let res = if path == "-" {
        io::stdin().lock().read_to_end(&mut data).map(|_| ())
    } else {
        // An operator path: a symlink on it another user owns is refused.
        confine::operator::read(std::path::Path::new(path), links).map(|d| data = d)
    };
    res.map_err(|e| {
        Error::new(
            exit::RERR_SYNTAX,
            format!(
                "rsync: failed to open files-from file {path}: {}",
                crate::error::os_err(&e)
            ),
        )
    })?;
    Ok(data)
}

/// Receives a forwarded list from the peer (raw for protocol 30, in the
/// multiplexed data stream from 31 on).
pub fn recv_forwarded<R: Read>(
    reader: &mut protocol::mplex::MplexReader<R>,
    protocol: i32,
) -> Result<Vec<Vec<u8>>> {
    if protocol < 31 {
        reader.set_multiplexed(false);
    }
    let names = read_names(reader, false, true);
    reader.set_multiplexed(true);
    names.map_err(|e| Error::new(exit::RERR_PROTOCOL, format!("rsync: files-from list: {e}")))
}

/// Sends a list to the peer that builds the file list.
pub fn send_forwarded(w: &crate::out::SharedWriter, bytes: &[u8], protocol: i32) -> Result<()> {
    let mut g = crate::out::lock(w)?;
    if protocol < 31 {
        g.set_multiplexed(false)?;
    }
    g.write_all(bytes)?;
    g.flush()?;
    if protocol < 31 {
        g.set_multiplexed(true)?;
    }
    Ok(())
}

/// Whether a received directory entry's contents were sent (deletion
/// happens only in such directories).
pub fn is_content_dir(e: &FileEntry) -> bool {
    e.is_dir() && e.xflags() & XMIT_NO_CONTENT_DIR == 0
}

/// Whether a received directory was only implied by a -R path.
pub fn is_implied_dir(e: &FileEntry) -> bool {
    e.is_dir()
        && e.xflags() & (XMIT_NO_CONTENT_DIR | XMIT_TOP_DIR) == XMIT_NO_CONTENT_DIR | XMIT_TOP_DIR
}

/// Whether an entry was dropped on the receiving side.
pub fn is_inactive(e: &FileEntry) -> bool {
    e.xflags() & FLAG_INACTIVE != 0
}

/// The wire bits of a directory that merges two entries of the same name:
/// contents when either has them, "implied" only when both are.
// upstream: flist.c:flist_sort_and_clean() (merging vital flags)
pub fn merge_dir_xflags(keep: u32, drop: u32) -> u32 {
    let content = |x: u32| x & XMIT_NO_CONTENT_DIR == 0;
    let implied =
        |x: u32| x & (XMIT_NO_CONTENT_DIR | XMIT_TOP_DIR) == XMIT_NO_CONTENT_DIR | XMIT_TOP_DIR;
    let other = keep & !(XMIT_NO_CONTENT_DIR | XMIT_TOP_DIR);
    if content(keep) || content(drop) {
        let top = (content(keep) && keep & XMIT_TOP_DIR != 0)
            || (content(drop) && drop & XMIT_TOP_DIR != 0);
        other | if top { XMIT_TOP_DIR } else { 0 }
    } else if implied(keep) && implied(drop) {
        other | XMIT_NO_CONTENT_DIR | XMIT_TOP_DIR
    } else {
        other | XMIT_NO_CONTENT_DIR
    }
}

/// Receiving side, after sorting: drops duplicates (keeping a directory
/// over a non-directory, merging directory flags) and strips the leading
/// slashes of -R names.
// upstream: flist.c:flist_sort_and_clean()
pub fn clean_received(entries: &mut [FileEntry], opts: &Options) {
    let mut prev: Option<usize> = None;
    for i in 0..entries.len() {
        if let Some(p) = prev {
            if entries[p].name == entries[i].name && entries[p].is_dir() == entries[i].is_dir() {
                if entries[i].is_dir() {
                    let f = merge_dir_xflags(entries[p].xflags(), entries[i].xflags());
                    entries[p].set_xflags(f);
                }
                entries[i].add_xflags(FLAG_INACTIVE);
                continue;
            }
        }
        prev = Some(i);
    }
    // A non-directory gives way to a later directory of the same name.
    // Only the (first, still active) directories are looked up by name,
    // borrowed from the list: no copy of every name.
    let shadowed: Vec<usize> = {
        let mut first_dir: HashMap<&[u8], usize> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            if e.is_dir() && !is_inactive(e) {
                first_dir.entry(&e.name).or_insert(i);
            }
        }
        // Same-named non-directories sort together, so at most one of
        // them is still active: the one a later directory replaces.
        (entries.iter().enumerate())
            .filter(|(i, e)| {
                !e.is_dir()
                    && !is_inactive(e)
                    && first_dir.get(e.name.as_slice()).is_some_and(|&d| d > *i)
            })
            .map(|(i, _)| i)
            .collect()
    };
    for i in shadowed {
        entries[i].add_xflags(FLAG_INACTIVE);
    }
    if opts.tree.relative() {
        for e in entries.iter_mut() {
            let start = e.name.iter().take_while(|&&b| b == b'/').count();
            if start > 0 {
                e.name = e.name[start..].into();
                if e.name.is_empty() {
                    e.name = b".".into();
                }
            }
        }
    }
}

/// `-m`: a directory (other than ".") stays only when a non-directory or
/// a directory the receiver's rules exclude lies beneath it (or it is
/// excluded itself).
// upstream: flist.c:flist_sort_and_clean() (prune_empty_dirs)
pub fn prune_empty_dirs(entries: &mut [FileEntry], excluded_dir: &mut dyn FnMut(&[u8]) -> bool) {
    let mut keep: HashSet<Vec<u8>> = HashSet::new();
    let mark_parents = |name: &[u8], keep: &mut HashSet<Vec<u8>>| {
        let mut n = name;
        while let Some(slash) = n.iter().rposition(|&b| b == b'/') {
            n = &n[..slash];
            if !keep.insert(n.to_vec()) {
                break;
            }
        }
    };
    for e in entries.iter() {
        if is_inactive(e) {
            continue;
        }
        if !e.is_dir() {
            mark_parents(&e.name, &mut keep);
        } else if e.name != b"." && excluded_dir(&e.name) {
            keep.insert(e.name.to_vec());
            mark_parents(&e.name, &mut keep);
        }
    }
    for e in entries.iter_mut() {
        if e.is_dir() && e.name != b"." && !is_inactive(e) && !keep.contains(&e.name[..]) {
            e.add_xflags(FLAG_INACTIVE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sorted received list: duplicates give way to the first, a
    /// non-directory to a later directory of the same name (not adjacent
    /// when names sort between them), and a directory's flags merge.
    #[test]
    fn clean_received_keeps_one_of_each_name() {
        use protocol::flist::{S_IFDIR, S_IFREG};
        let words: Vec<std::ffi::OsString> = ["oxsync", "-r", "src/", "dst/"]
            .iter()
            .map(Into::into)
            .collect();
        let opts = Options::parse(&words).expect("options");
        let list = [
            ("a", S_IFREG, 0),
            ("a.txt", S_IFREG, 0),
            ("a", S_IFDIR, 0),
            ("a", S_IFDIR, XMIT_TOP_DIR),
            ("b", S_IFREG, 0),
            ("b", S_IFREG, 0),
            ("c", S_IFDIR, 0),
            ("c/x", S_IFREG, 0),
        ];
        let mut entries: Vec<FileEntry> = (list.iter())
            .map(|&(n, t, x)| {
                FileEntry {
                    name: n.as_bytes().into(),
                    mode: t | 0o755,
                    ..FileEntry::default()
                }
                .with_xflags(x)
            })
            .collect();
        clean_received(&mut entries, &opts);
        let active: Vec<bool> = entries.iter().map(|e| !is_inactive(e)).collect();
        assert_eq!(
            active,
            [false, true, true, false, true, false, true, true],
            "{entries:?}"
        );
        assert_ne!(entries[2].xflags() & XMIT_TOP_DIR, 0, "flags merged");
    }

    #[test]
    fn names_local_and_forwarded() {
        let data = b"a\n\n# c\n;d\r\nb/c\nlast";
        let names = read_names(&mut &data[..], true, false).unwrap();
        assert_eq!(
            names,
            vec![b"a".to_vec(), b"b/c".to_vec(), b"last".to_vec()]
        );
        let fwd = forward_bytes(data, false);
        assert_eq!(fwd, b"a\0# c\0;d\0b/c\0last\0\0".to_vec());
        let back = read_names(&mut &fwd[..], false, true).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(forward_bytes(b"x\0\0y\0", true), b"x\0y\0\0".to_vec());
        assert_eq!(forward_bytes(b"", false), b"\0".to_vec());
    }

    #[test]
    fn long_names_are_cut() {
        let mut data = vec![b'x'; MAX_FILES_FROM_NAME + 10];
        data.push(b'\n');
        let names = read_names(&mut &data[..], true, false).unwrap();
        assert_eq!(names[0].len(), MAX_FILES_FROM_NAME);
    }

    #[test]
    fn merged_dir_flags() {
        let implied = XMIT_TOP_DIR | XMIT_NO_CONTENT_DIR;
        assert_eq!(merge_dir_xflags(implied, 0), 0);
        assert_eq!(merge_dir_xflags(implied, XMIT_TOP_DIR), XMIT_TOP_DIR);
        assert_eq!(merge_dir_xflags(implied, implied), implied);
        assert_eq!(
            merge_dir_xflags(implied, XMIT_NO_CONTENT_DIR),
            XMIT_NO_CONTENT_DIR
        );
    }

    /// Encodes `entries` as a sender would and receives them with `args`.
    fn receive(args: &str, entries: &[(&str, u32)]) -> crate::Result<crate::flist::Received> {
        let session = crate::session::Session {
            protocol: 31,
            compat: protocol::compat::CF_VARINT_FLIST_FLAGS,
            checksum: delta::ChecksumKind::Md5,
            seed: 0,
            compress: None,
        };
        let words: Vec<std::ffi::OsString> = args.split(' ').map(Into::into).collect();
        let opts = Options::parse(&words).expect("options");
        let mut enc = protocol::flist::FlistEncoder::new(session.flist_options(&opts));
        let mut wire = Vec::new();
        for &(name, mode) in entries {
            let e = FileEntry {
                name: name.as_bytes().into(),
                mode,
                ..Default::default()
            }
            .with_xflags(if mode & 0o170000 == 0o040000 {
                XMIT_TOP_DIR
            } else {
                0
            });
            enc.encode(&mut wire, &e);
        }
        enc.encode_end(&mut wire, 0);
        crate::flist::receive(&mut wire.as_slice(), &opts, &session)
    }

    #[test]
    fn received_relative_names() {
        // Leading slashes go after sorting; duplicates are dropped.
        let r = receive(
            "-R --numeric-ids s d",
            &[("/t", 0o040755), ("/t/f", 0o100644), ("/t", 0o040755)],
        )
        .expect("list");
        let names: Vec<&[u8]> = r.list.entries.iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, [&b"t"[..], b"t", b"t/f"]);
        assert_eq!(r.list.entries.iter().filter(|e| is_inactive(e)).count(), 1);
        // Without -R a leading slash is refused; a name of slashes that is
        // not a directory is refused with -R.
        assert!(receive("--numeric-ids s d", &[("/t", 0o100644)]).is_err());
        assert!(receive("-R --numeric-ids s d", &[("//", 0o100644)]).is_err());
        // Mode 0 only with --delete-missing-args.
        assert!(receive("--numeric-ids s d", &[("gone", 0)]).is_err());
        let r = receive("--delete-missing-args --numeric-ids s d", &[("gone", 0)]).expect("ok");
        assert_eq!(r.list.entries[0].mode, 0);
    }
}
