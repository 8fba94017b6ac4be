//! The generator's part of the tree-shape options: entries dropped on the
//! receiving side, implied directories under --no-implied-dirs,
//! --delete-missing-args entries and -x mount points (upstream
//! generator.c recv_generator(), delete_in_dir()).
use super::Gen;
use crate::error::{Error, Result};
use crate::treeshape::{is_implied_dir, is_inactive};
use confine::{FileType, RelPath, Stat};
use protocol::flist::XMIT_TOP_DIR;
use std::collections::HashSet;

/// -x on the receiving side: the device of the top directory being cleaned
/// and of every top directory seen (upstream filesystem_dev, dev_tbl).
#[derive(Debug, Default)]
pub(super) struct FsDevs {
    current: Option<u64>,
    tops: HashSet<u64>,
}

impl Gen<'_> {
    /// Handles entry `i` when a tree-shape option decides it; true when
    /// nothing else is to be done for it.
    pub(super) fn tree_shape_done(&mut self, i: usize) -> Result<bool> {
        let ctx = self.ctx;
        let e = &**self.entry(i);
        let tree = &ctx.opts.tree;
        if is_inactive(e) {
            return Ok(true);
        }
        if is_implied_dir(e) && !tree.implied_dirs() {
            return Ok(true);
        }
        if e.mode == 0 {
            self.delete_missing_arg(i)?;
            return Ok(true);
        }
        if tree.relative()
            && !tree.implied_dirs()
            && !ctx.opts.dry_run
            && self
                .daemon_refuses(self.path(i).as_bytes(), e.is_dir())
                .is_none()
        {
            self.make_parents(&ctx.path(i));
        }
        Ok(false)
    }

    /// Each entry's directory must be in the list as a directory: a
    /// sender naming `a/b` without `a` would have the receiver go through
    /// whatever `a` is in the destination (a symlink, say).
    // upstream: generator.c:recv_generator() ("Each parent dir must be in
    // the file list or the flist data is bad")
    pub(super) fn check_parent(&self, i: usize) -> Result<()> {
        let e = &**self.entry(i);
        let Some(cut) = e.name.iter().rposition(|&b| b == b'/') else {
            return Ok(());
        };
        let dir = &e.name[..cut];
        if dir.is_empty() || dir == b"." || self.dir_names.contains(dir) {
            return Ok(());
        }
        let shown = String::from_utf8_lossy(dir);
        if e.mode == 0 && self.ctx.opts.tree.missing_args == 2 {
            self.ctx.out.error(&format!(
                "WARNING: parent dir is absent in the file list: {shown}"
            ));
            return Ok(());
        }
        Err(Error::protocol(format!(
            "ABORTING due to invalid path from sender: {shown}/{}",
            String::from_utf8_lossy(&e.name[cut + 1..])
        )))
    }

    /// --delete-missing-args: the sender found no such item, so the
    /// receiver deletes it (unless its rules protect it).
    fn delete_missing_arg(&mut self, i: usize) -> Result<()> {
        let ctx = self.ctx;
        let p = &*self.path(i);
        // upstream: the module's rules come first (the generator refuses
        // the name before it looks at the mode).
        if let Some(refused) = self.daemon_refuses(p.as_bytes(), false) {
            if refused {
                ctx.out.error_xfer(&format!(
                    "ERROR: daemon refused to receive file \"{}\"",
                    ctx.name(i)
                ));
            }
            return Ok(());
        }
        let Some(st) = self.stat(p)? else {
            return Ok(());
        };
        let is_dir = st.file_type == FileType::Dir;
        if self.rules.is_protected(p.as_bytes(), is_dir) {
            return Ok(());
        }
        let recurse = ctx.opts.delete != crate::options::DeleteMode::Off || ctx.opts.force;
        // upstream: without --delete or --force a non-empty directory
        // stays, silently (delete_dir_contents without DEL_RECURSE).
        if is_dir && !recurse && ctx.root.read_dir(p).is_ok_and(|n| !n.is_empty()) {
            return Ok(());
        }
        if let Err(err) = self.delete_item(p, &st, true) {
            ctx.out.error_xfer(&err.message);
        }
        Ok(())
    }

    /// -R --no-implied-dirs: the directories above an item that are
    /// missing are created with default permissions.
    // upstream: util1.c:make_path(MKP_DROP_NAME)
    fn make_parents(&self, p: &RelPath) {
        self.forget_dir();
        let ctx = self.ctx;
        let name = p.as_bytes();
        let mut at = 0;
        while let Some(off) = name[at..].iter().position(|&b| b == b'/') {
            let end = at + off;
            at = end + 1;
            let Ok(dir) = RelPath::new(&name[..end]) else {
                return;
            };
            if ctx.root.stat(&dir).ok().flatten().is_some() {
                continue;
            }
            if let Err(err) = ctx.root.mkdir(&dir, 0o777) {
                if err.kind() != std::io::ErrorKind::AlreadyExists {
                    ctx.out.error_xfer(&format!(
                        "rsync: [generator] recv_generator: mkdir \"{}\" failed: {}",
                        String::from_utf8_lossy(&name[..end]),
                        crate::error::sys_err(&err)
                    ));
                    return;
                }
            }
        }
    }

    /// -x: a directory to clean that lies on another filesystem than the
    /// top directories is left alone.
    // upstream: generator.c:delete_in_dir() (one_file_system)
    pub(super) fn on_other_fs(&mut self, i: usize) -> bool {
        let ctx = self.ctx;
        if ctx.opts.tree.one_file_system == 0 {
            return false;
        }
        let Some(st) = ctx.root.stat(&ctx.path(i)).ok().flatten() else {
            return false;
        };
        if self.entry(i).xflags() & XMIT_TOP_DIR != 0 {
            self.fs_devs.tops.insert(st.dev);
            self.fs_devs.current = Some(st.dev);
            return false;
        }
        if self.fs_devs.current != Some(st.dev) {
            if !self.fs_devs.tops.contains(&st.dev) {
                return true;
            }
            self.fs_devs.current = Some(st.dev);
        }
        false
    }

    /// -x: a directory in the destination on another filesystem than the
    /// directory being cleaned is a mount point, never deleted.
    pub(super) fn is_mount_point(&self, dir: &RelPath, st: &Stat) -> bool {
        if self.ctx.opts.tree.one_file_system == 0 || st.file_type != FileType::Dir {
            return false;
        }
        self.ctx
            .root
            .stat(dir)
            .ok()
            .flatten()
            .is_some_and(|d| d.dev != st.dev)
    }
}
