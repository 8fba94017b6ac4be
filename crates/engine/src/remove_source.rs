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
    files: Mutex<Option<Vec<SentSource>>>,
    source: Mutex<crate::source::Sources>,
    /// The list names and the `--info=remove` level, for "sender removed".
    names: Mutex<(Vec<Vec<u8>>, u8)>,
}

impl SourceRemover {
    /// Arms the remover with the sent list.
    pub fn set(&self, list: &FileList) {
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
        *lock(&self.files) = Some(files);
        *lock(&self.source) = list.source.clone();
    }

    /// Reports each removal at `--info=remove` level 1 and above.
    pub fn report(&self, list: &FileList, level: u8) {
        if level > 0 {
            let names = list.entries.iter().map(|e| e.name.to_vec()).collect();
            *lock(&self.names) = (names, level);
        }
    }

    /// Handles one MSG_SUCCESS payload.
    // upstream: sender.c:successful_send()
    pub fn success(&self, payload: &[u8], out: &Out) {
        let Some(ndx) = protocol::mplex::payload_i32(payload) else {
            return;
        };
        let g = lock(&self.files);
        let Some((path, size, mtime, removable, origin)) =
            g.as_ref().and_then(|f| f.get(usize::try_from(ndx).ok()?))
        else {
            return;
        };
        if !removable {
            return;
        }
        let shown = path.display();
        let mut source = lock(&self.source).clone();
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
                    let names = lock(&self.names);
                    if let Some(n) = names.0.get(usize::try_from(ndx).unwrap_or(usize::MAX)) {
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

/// One sent source: its path, size, mtime, whether it is a regular file,
/// and the transfer root it is read beneath.
type SentSource = (PathBuf, i64, i64, bool, Option<crate::source::Origin>);
