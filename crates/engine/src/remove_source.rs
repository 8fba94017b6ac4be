//! `--remove-source-files`: the sender removes each source file the
//! receiver reports placed (MSG_SUCCESS), if it is still the file that was
//! sent (upstream sender.c successful_send()).
use crate::flist::FileList;
use crate::out::Out;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The sending side's `--remove-source-files`: deletes a source once the
/// receiver reports it safely in place (MSG_SUCCESS), with an unlinkat
/// beneath the sender's source root (a daemon module's).
#[derive(Debug, Default)]
pub struct SourceRemover {
    /// The lists sent and not yet finished (one, whole, without
    /// incremental recursion), by their first wire index.
    lists: Mutex<Vec<Segment>>,
}

/// One list sent: its first wire index, its sources, the names for
/// "sender removed" (with `--info=remove`), and where it is read.
#[derive(Debug)]
struct Segment {
    start: usize,
    files: Vec<SentSource>,
    names: Vec<Vec<u8>>,
    source: crate::source::Sources,
}

impl SourceRemover {
    /// Arms the remover with the sent list.
    pub fn set(&self, list: &FileList) {
        let mut g = lock(&self.lists);
        g.clear();
        g.push(segment(0, list, 0));
    }

    /// Reports each removal at `--info=remove` level 1 and above.
    pub fn report(&self, list: &FileList, level: u8) {
        if level > 0 {
            if let Some(s) = lock(&self.lists).first_mut() {
                s.names = list.entries.iter().map(|e| e.name.to_vec()).collect();
            }
        }
    }

    /// Handles one MSG_SUCCESS payload.
    // upstream: sender.c:successful_send()
    pub fn success(&self, payload: &[u8], out: &Out) {
        let Some(ndx) = protocol::mplex::payload_i32(payload) else {
            return;
        };
        let Ok(ndx) = usize::try_from(ndx) else {
            return;
        };
        let g = lock(&self.lists);
        let Some(seg) = g
            .iter()
            .rev()
            .find(|s| s.start <= ndx && ndx - s.start < s.files.len())
        else {
            return;
        };
        let j = ndx - seg.start;
        let (path, size, mtime, removable, origin) = &seg.files[j];
        if !removable {
            return;
        }
        let shown = path.display();
        let mut source = seg.source.clone();
        if let Some(o) = origin {
            // Beneath the entry's transfer root, its last component
            // never followed.
            source = source.at(o.with_followed_leaf(false));
        }
        match source.lstat(path) {
            Ok(m) if m.is_file() && (m.size as i64 != *size || m.mtime != *mtime) => {
                out.error_xfer(&format!(
                    "ERROR: Skipping sender remove for changed file: {shown}"
                ));
            }
            Ok(_) => match source.remove_file(path) {
                // upstream: sender.c:successful_send() at INFO_GTE(REMOVE, 1)
                Ok(()) => {
                    if let Some(n) = seg.names.get(j) {
                        out.info(&format!("sender removed {}", crate::text::name_text(n)));
                    }
                }
                Err(e) => out.error_xfer(&format!(
                    "rsync: [sender] sender failed to remove {shown}: {}",
                    crate::error::os_err(&e)
                )),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                out.info(&format!("sender file already removed: {shown}"));
            }
            Err(e) => out.error_xfer(&format!(
                "rsync: [sender] sender failed to re-lstat {shown}: {}",
                crate::error::os_err(&e)
            )),
        }
    }
}

/// Incremental recursion: each list's sources are kept from when it is
/// sent until the receiving side finished it (its files' MSG_SUCCESS all
/// come before its NDX_DONE).
impl crate::flist::ListWatch for SourceRemover {
    fn sent(&self, start: usize, list: &FileList, opts: &crate::options::Options) {
        lock(&self.lists).push(segment(start, list, opts.ctl.info.remove));
    }

    fn done(&self, start: usize) {
        lock(&self.lists).retain(|s| s.start != start);
    }
}

/// The sources of a list sent from wire index `start`.
fn segment(start: usize, list: &FileList, level: u8) -> Segment {
    let files = list
        .entries
        .iter()
        .enumerate()
        .map_while(|(i, e)| {
            let p = list.path_of(i)?;
            let origin = list.origins.get(i);
            Some((p, e.size(), e.mtime(), !e.is_dir(), origin))
        })
        .collect();
    let names = match level {
        0 => Vec::new(),
        _ => list.entries.iter().map(|e| e.name.to_vec()).collect(),
    };
    Segment {
        start,
        files,
        names,
        source: list.source.clone(),
    }
}

/// One sent source: its path, size, mtime, whether it is a regular file,
/// and the transfer root it is read beneath.
type SentSource = (PathBuf, i64, i64, bool, Option<crate::source::Origin>);
