//! `-A/--acls`: POSIX access and default ACLs, read from and written to
//! the Linux `system.posix_acl_access` / `system.posix_acl_default`
//! attributes (or, under `--fake-super`, kept in `user.rsync.%aacl` /
//! `user.rsync.%dacl` as rsync keeps them), and reconciled with the mode
//! bits the way upstream acls.c does.
//!
//! The wire form is in [`protocol::acl`]; this module is the system side:
//! the kernel's attribute format, what a sender reads and strips, and what
//! a receiver compares and sets. Every destination item is reached beneath
//! the receiver's [`Root`] (its last component pinned with `O_PATH |
//! O_NOFOLLOW`, see `confine::Root::get_node_xattr`) or through the
//! descriptor of the file being received.
use crate::chmod::umask;
use crate::ctx::RecvCtx;
use crate::ids::{self, IdMap};
use crate::options::Options;
use crate::source::Sources;
use confine::{RelPath, Root};
use protocol::acl::{EntryAcl, IdAccess, RsyncAcl, NO_ENTRY};
use protocol::flist::{FileEntry, S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// The kernel's access ACL attribute.
pub const ACCESS_XATTR: &str = "system.posix_acl_access";
/// The kernel's default ACL attribute.
pub const DEFAULT_XATTR: &str = "system.posix_acl_default";
/// `--fake-super`: where the access ACL is kept (upstream XACC_ACL_ATTR).
pub const FAKE_ACCESS_XATTR: &str = "user.rsync.%aacl";
/// `--fake-super`: where the default ACL is kept (upstream XDEF_ACL_ATTR).
pub const FAKE_DEFAULT_XATTR: &str = "user.rsync.%dacl";
/// Largest attribute value read (the kernel's own limit).
const MAX_VALUE: usize = 65536;

const TAG_USER_OBJ: u16 = 0x01;
const TAG_USER: u16 = 0x02;
const TAG_GROUP_OBJ: u16 = 0x04;
const TAG_GROUP: u16 = 0x08;
const TAG_MASK: u16 = 0x10;
const TAG_OTHER: u16 = 0x20;
const XATTR_VERSION: u32 = 2;
const UNDEFINED_ID: u32 = u32::MAX;

/// Which ACL of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Access,
    Default,
}

impl Kind {
    fn attr(self, fake: bool) -> &'static str {
        match (self, fake) {
            (Kind::Access, false) => ACCESS_XATTR,
            (Kind::Default, false) => DEFAULT_XATTR,
            (Kind::Access, true) => FAKE_ACCESS_XATTR,
            (Kind::Default, true) => FAKE_DEFAULT_XATTR,
        }
    }
    fn upstream_name(self) -> &'static str {
        match self {
            Kind::Access => "ACL_TYPE_ACCESS",
            Kind::Default => "ACL_TYPE_DEFAULT",
        }
    }
}

/// Parses the kernel's `posix_acl_xattr` value (version 2, then 8-byte
/// entries `tag u16, perm u16, id u32`, little-endian).
// upstream: acls.c:unpack_smb_acl()
pub fn from_xattr(v: &[u8]) -> Option<RsyncAcl> {
    if v.len() < 4 || !(v.len() - 4).is_multiple_of(8) {
        return None;
    }
    if u32::from_le_bytes(v[..4].try_into().ok()?) != XATTR_VERSION {
        return None;
    }
    let mut acl = RsyncAcl::default();
    for ent in v[4..].chunks_exact(8) {
        let tag = u16::from_le_bytes([ent[0], ent[1]]);
        let perm = u32::from(u16::from_le_bytes([ent[2], ent[3]]) & 7);
        let id = u32::from_le_bytes([ent[4], ent[5], ent[6], ent[7]]);
        let slot = match tag {
            TAG_USER_OBJ => &mut acl.user_obj,
            TAG_GROUP_OBJ => &mut acl.group_obj,
            TAG_MASK => &mut acl.mask_obj,
            TAG_OTHER => &mut acl.other_obj,
            TAG_USER | TAG_GROUP => {
                acl.names.push(IdAccess {
                    id,
                    user: tag == TAG_USER,
                    perms: perm,
                });
                continue;
            }
            _ => continue,
        };
        if *slot == NO_ENTRY {
            *slot = perm as u8;
        }
    }
    Some(acl)
}

/// The kernel's attribute value for `acl`, every permission object
/// present (an absent one as 0) and the mask only when it has one; named
/// users and groups in the kernel's order (by id).
// upstream: acls.c:pack_smb_acl() (libacl sorts the entries)
pub fn to_xattr(acl: &RsyncAcl) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 8 * (acl.names.len() + 4));
    out.extend_from_slice(&XATTR_VERSION.to_le_bytes());
    let mut put = |tag: u16, perm: u32, id: u32| {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&((perm & 7) as u16).to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    };
    let obj = |v: u8| u32::from(v & !NO_ENTRY);
    let mut users: Vec<&IdAccess> = acl.names.iter().filter(|n| n.user).collect();
    let mut groups: Vec<&IdAccess> = acl.names.iter().filter(|n| !n.user).collect();
    users.sort_by_key(|n| n.id);
    groups.sort_by_key(|n| n.id);
    put(TAG_USER_OBJ, obj(acl.user_obj), UNDEFINED_ID);
    for n in users {
        put(TAG_USER, n.perms, n.id);
    }
    put(TAG_GROUP_OBJ, obj(acl.group_obj), UNDEFINED_ID);
    for n in groups {
        put(TAG_GROUP, n.perms, n.id);
    }
    if acl.mask_obj != NO_ENTRY {
        put(TAG_MASK, u32::from(acl.mask_obj), UNDEFINED_ID);
    }
    put(TAG_OTHER, obj(acl.other_obj), UNDEFINED_ID);
    out
}

/// `--fake-super`'s form: the four objects, then `id, access` pairs
/// (access with bit 31 for a user), all 32-bit little-endian.
// upstream: acls.c:set_rsync_acl() (am_root < 0)
pub fn to_fake(acl: &RsyncAcl) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 8 * acl.names.len());
    for v in [acl.user_obj, acl.group_obj, acl.mask_obj, acl.other_obj] {
        out.extend_from_slice(&u32::from(v).to_le_bytes());
    }
    for n in &acl.names {
        out.extend_from_slice(&n.id.to_le_bytes());
        let access = n.perms | if n.user { 1 << 31 } else { 0 };
        out.extend_from_slice(&access.to_le_bytes());
    }
    out
}

/// Parses [`to_fake`]'s form; absent objects come from `mode`.
// upstream: acls.c:get_rsync_acl() (am_root < 0)
pub fn from_fake(v: &[u8], mode: u32) -> Option<RsyncAcl> {
    if v.len() < 16 || !(v.len() - 16).is_multiple_of(8) {
        return None;
    }
    let word = |i: usize| u32::from_le_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
    let or_mode = |x: u32, shift: u32| {
        // upstream keeps the objects in bytes.
        let b = x as u8;
        if b == NO_ENTRY {
            ((mode >> shift) & 7) as u8
        } else {
            b
        }
    };
    let mut acl = RsyncAcl {
        user_obj: or_mode(word(0), 6),
        group_obj: or_mode(word(4), 3),
        mask_obj: word(8) as u8,
        other_obj: or_mode(word(12), 0),
        names: Vec::new(),
    };
    for i in (16..v.len()).step_by(8) {
        let access = word(i + 4);
        acl.names.push(IdAccess {
            id: word(i),
            user: access & (1 << 31) != 0,
            perms: access & !(1 << 31),
        });
    }
    Some(acl)
}

/// The ACL the mode alone describes.
// upstream: acls.c:rsync_acl_fake_perms()
fn fake_perms(mode: u32) -> RsyncAcl {
    RsyncAcl {
        user_obj: ((mode >> 6) & 7) as u8,
        group_obj: ((mode >> 3) & 7) as u8,
        other_obj: (mode & 7) as u8,
        ..RsyncAcl::default()
    }
}

/// Leaves out of an access ACL what the mode already tells.
// upstream: acls.c:rsync_acl_strip_perms()
fn strip_perms(acl: &mut RsyncAcl, mode: u32) {
    acl.user_obj = NO_ENTRY;
    if acl.mask_obj == NO_ENTRY {
        acl.group_obj = NO_ENTRY;
    } else {
        let group = ((mode >> 3) & 7) as u8;
        if acl.group_obj == group {
            acl.group_obj = NO_ENTRY;
        }
        if !acl.names.is_empty() && acl.mask_obj == group {
            acl.mask_obj = NO_ENTRY;
        }
    }
    acl.other_obj = NO_ENTRY;
}

/// Whether an item of this type has ACLs under these options.
// upstream: acls.c:get_acl_fdat()
fn carries(mode: u32, opts: &Options) -> bool {
    match mode & S_IFMT {
        S_IFREG | S_IFDIR => true,
        S_IFLNK => false,
        S_IFCHR | S_IFBLK => opts.devices,
        _ => opts.specials,
    }
}

/// The ACL read from an attribute value: the kernel's form, or
/// `--fake-super`'s. An absent access ACL is the mode's (an absent
/// `--fake-super` one and an absent default ACL are empty).
fn parse(v: Option<Vec<u8>>, kind: Kind, mode: u32, fake: bool) -> Option<RsyncAcl> {
    match (v, fake) {
        (Some(v), true) => from_fake(&v, mode),
        (Some(v), false) => from_xattr(&v),
        (None, false) if kind == Kind::Access => Some(fake_perms(mode)),
        (None, _) => Some(RsyncAcl::default()),
    }
}

/// A sender's ACLs for an entry of `mode` read from `path`, the access
/// ACL stripped of what the mode tells. The error (RERR_FILEIO) is
/// upstream's message.
// upstream: flist.c:send_file_name() get_acl(), acls.c:send_acl()
pub fn read_source(
    src: &Sources,
    path: &Path,
    mode: u32,
    opts: &Options,
) -> crate::error::Result<EntryAcl> {
    use crate::error::Error;
    let fake = opts.fake_super;
    let read = |kind: Kind| -> crate::error::Result<RsyncAcl> {
        let v = src
            .node_xattr(path, kind.attr(fake), MAX_VALUE)
            .map_err(|e| {
                Error::file_io(format!(
                    "get_acl: sys_acl_get_file({}, {}): {}",
                    path.display(),
                    kind.upstream_name(),
                    crate::error::os_err(&e)
                ))
            })?;
        parse(v, kind, mode, fake).ok_or_else(|| {
            Error::file_io(format!(
                "get_acl: unpack_smb_acl({}): malformed {}",
                path.display(),
                kind.attr(fake)
            ))
        })
    };
    let is_dir = mode & S_IFMT == S_IFDIR;
    if !carries(mode, opts) {
        return Ok(EntryAcl {
            access: Arc::new(RsyncAcl::default()),
            default: None,
        });
    }
    let mut access = read(Kind::Access)?;
    strip_perms(&mut access, mode);
    let default = if is_dir {
        Some(Arc::new(read(Kind::Default)?))
    } else {
        None
    };
    Ok(EntryAcl {
        access: Arc::new(access),
        default,
    })
}

/// Adds the named users and groups of the list's ACLs to the id lists a
/// sender sends; true in each slot when one of them is id 0.
// upstream: acls.c:send_ida_entries() add_uid()/add_gid()
pub fn add_ids(
    entries: &[FileEntry],
    users: &mut BTreeMap<u32, Vec<u8>>,
    groups: &mut BTreeMap<u32, Vec<u8>>,
) -> (bool, bool) {
    let mut zero = (false, false);
    let acls = entries.iter().filter_map(|e| e.acl());
    for a in acls.flat_map(|a| std::iter::once(&a.access).chain(a.default.as_ref())) {
        for n in &a.names {
            let (map, name, z) = if n.user {
                (&mut *users, ids::user_name(n.id), &mut zero.0)
            } else {
                (&mut *groups, ids::group_name(n.id), &mut zero.1)
            };
            if n.id == 0 {
                *z = true;
            } else if let Some(name) = name {
                map.entry(n.id).or_insert_with(|| name.to_vec());
            }
        }
    }
    zero
}

/// The ACL with the sender's ids turned into ours.
// upstream: acls.c:match_racl_ids()
fn mapped(acl: &RsyncAcl, ids: &IdMap) -> RsyncAcl {
    let mut out = acl.clone();
    for n in &mut out.names {
        n.id = if n.user { ids.uid(n.id) } else { ids.gid(n.id) };
    }
    out
}

/// Are the entries the mode does not carry the same? `disk` is complete,
/// `want` as received (objects the mode tells are absent).
// upstream: acls.c:rsync_acl_equal_enough()
fn equal_enough(disk: &RsyncAcl, want: &RsyncAcl, mode: u32) -> bool {
    if (disk.mask_obj ^ want.mask_obj) & NO_ENTRY != 0 {
        return false;
    }
    if disk.mask_obj != NO_ENTRY {
        let group = if want.group_obj == NO_ENTRY {
            ((mode >> 3) & 7) as u8
        } else {
            want.group_obj
        };
        if disk.group_obj != group {
            return false;
        }
    }
    disk.names == want.names
}

/// Where a receiver's ACLs are read and written: an item beneath the
/// destination root, or the file being received.
enum Node<'a> {
    At(&'a Root, &'a RelPath),
    Fd(&'a File),
}

impl Node<'_> {
    fn get(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match self {
            Node::At(root, p) => root
                .get_node_xattr(p, name, MAX_VALUE)
                .map_err(|e| io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(5))),
            Node::Fd(f) => {
                let mut buf = vec![0u8; MAX_VALUE];
                match rustix::fs::fgetxattr(f, name, &mut buf[..]) {
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(Some(buf))
                    }
                    Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
    fn set(&self, name: &str, v: Option<&[u8]>) -> io::Result<()> {
        let res = match self {
            Node::At(root, p) => root.set_node_xattr(p, name, v),
            Node::Fd(f) => Root::set_fd_xattr(f, name, v),
        };
        res.map_err(|e| io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(5)))
    }
}

/// The ACLs an existing destination item has (`mode`: its type and bits).
fn read_dest(node: &Node<'_>, mode: u32, fake: bool) -> io::Result<(RsyncAcl, Option<RsyncAcl>)> {
    let read = |kind: Kind| -> io::Result<RsyncAcl> {
        let v = node.get(kind.attr(fake))?;
        // A value that is not ACL-shaped counts as none.
        Ok(parse(v, kind, mode, fake).unwrap_or_else(|| fake_perms(mode)))
    };
    let access = read(Kind::Access)?;
    let default = if mode & S_IFMT == S_IFDIR {
        Some(read(Kind::Default)?)
    } else {
        None
    };
    Ok((access, default))
}

/// What to write: for each kind that differs, the wanted ACL.
struct Changes {
    access: Option<RsyncAcl>,
    default: Option<RsyncAcl>,
}

// upstream: acls.c:set_acl_fdat() with fname NULL (the comparison only)
fn changes(ctx: &RecvCtx, e: &FileEntry, cur: &(RsyncAcl, Option<RsyncAcl>), mode: u32) -> Changes {
    let mut out = Changes {
        access: None,
        default: None,
    };
    let Some(want) = e.acl() else {
        return out;
    };
    let access = mapped(&want.access, &ctx.id_map());
    if !equal_enough(&cur.0, &access, mode) {
        out.access = Some(access);
    }
    if e.is_dir() {
        let want_def = want.default.as_deref().cloned().unwrap_or_default();
        let want_def = mapped(&want_def, &ctx.id_map());
        if cur.1.as_ref() != Some(&want_def) {
            out.default = Some(want_def);
        }
    }
    out
}

thread_local! {
    /// The entry whose ACLs [`apply`] just changed on this (the
    /// generator's) thread, and the mode bits the item had after: upstream
    /// itemizes an unchanged regular file after set_file_attrs(), with the
    /// ACL read before it and the mode as the ACL left it.
    static APPLIED: std::cell::Cell<Option<(usize, u32)>> = const { std::cell::Cell::new(None) };
}

/// For an itemized line of `e` (a member of `ctx.entries`) whose item is
/// `st`: whether its ACLs differ (the `a`), and the mode to compare the
/// entry's permissions with.
// upstream: generator.c:itemize() (set_acl() with no name)
pub fn itemize(ctx: &RecvCtx, e: &FileEntry, st: &confine::Stat) -> (bool, u32) {
    if !ctx.opts.acls {
        return (false, st.mode);
    }
    let key = e as *const FileEntry as usize;
    if let Some((k, mode)) = APPLIED.with(|a| a.take()) {
        if k == key {
            let mode = if e.is_file() { mode } else { st.mode };
            return (true, mode);
        }
    }
    // The entry's index from its place in the list.
    match ctx.entries.position_of(e).and_then(|i| ctx.path_of(i)) {
        Some(p) => (differs(ctx, &p, e, st.mode), st.mode),
        None => (false, st.mode),
    }
}

/// Does the ACL of the existing item `p` (type and bits `st_mode`) differ
/// from the entry's? (The `a` of an itemized line.)
pub fn differs(ctx: &RecvCtx, p: &RelPath, e: &FileEntry, st_mode: u32) -> bool {
    if !ctx.opts.acls || !carries(e.mode, &ctx.opts) || st_mode & S_IFMT == S_IFLNK {
        return false;
    }
    match read_dest(&Node::At(&ctx.root, p), st_mode, ctx.opts.fake_super) {
        Ok(cur) => {
            let c = changes(ctx, e, &cur, e.mode);
            c.access.is_some() || c.default.is_some()
        }
        Err(_) => false,
    }
}

/// The access ACL to write with the permission objects from `mode`, and
/// the mode bits the item has once it is written.
// upstream: acls.c:change_sacl_perms()
fn with_mode(want: &RsyncAcl, old_mode: u32, new_mode: u32) -> (RsyncAcl, u32) {
    let mut mode = new_mode;
    if new_mode & S_IFMT == S_IFDIR {
        // The sticky bit going on: nobody else gets in before it is set.
        if mode & 0o1000 != 0 && old_mode & 0o1000 == 0 {
            mode &= !0o077;
        }
    } else if (old_mode & 0o4000 != 0 && mode & 0o4000 == 0)
        || (old_mode & 0o2000 != 0 && mode & 0o2000 == 0)
    {
        // setuid/setgid going off: not before they are cleared.
        mode &= !0o077;
    }
    let mut acl = want.clone();
    acl.user_obj = ((mode >> 6) & 7) as u8;
    if want.group_obj == NO_ENTRY {
        acl.group_obj = ((mode >> 3) & 7) as u8;
    }
    if want.mask_obj != NO_ENTRY {
        acl.mask_obj = ((mode >> 3) & 7) as u8;
    }
    acl.other_obj = (mode & 7) as u8;
    (acl, (old_mode & !0o777) | (mode & 0o777))
}

/// Writes the changed ACLs; returns the mode bits the item has after.
// upstream: acls.c:set_rsync_acl()
fn write(
    node: &Node<'_>,
    c: &Changes,
    old_mode: u32,
    new_mode: u32,
    fake: bool,
) -> Result<u32, (Kind, io::Error)> {
    let mut now = old_mode;
    if let Some(want) = &c.access {
        let value = if fake {
            to_fake(want)
        } else {
            let (full, after) = with_mode(want, old_mode, new_mode);
            now = after;
            to_xattr(&full)
        };
        node.set(Kind::Access.attr(fake), Some(&value))
            .map_err(|e| (Kind::Access, e))?;
    }
    if let Some(want) = &c.default {
        let value = if want.user_obj == NO_ENTRY {
            None
        } else if fake {
            Some(to_fake(want))
        } else {
            Some(to_xattr(want))
        };
        node.set(Kind::Default.attr(fake), value.as_deref())
            .map_err(|e| (Kind::Default, e))?;
    }
    Ok(now)
}

/// Gives the existing item `p` the entry's ACLs where they differ, its
/// permission objects from `new_mode` (upstream set_file_attrs() calls
/// set_acl() before its chmod). `st`: the item as it is now (looked up
/// when not known).
/// Errors are reported; the transfer goes on.
pub fn apply(ctx: &RecvCtx, p: &RelPath, e: &FileEntry, st: Option<&confine::Stat>, new_mode: u32) {
    if !ctx.opts.acls || ctx.opts.dry_run || !carries(e.mode, &ctx.opts) {
        return;
    }
    let st_mode = match st {
        Some(s) => s.mode,
        None => match ctx.root.stat(p) {
            Ok(Some(s)) => s.mode,
            _ => return,
        },
    };
    if st_mode & S_IFMT == S_IFLNK {
        return;
    }
    let name = String::from_utf8_lossy(&e.name);
    if let Some(after) = apply_to(ctx, &Node::At(&ctx.root, p), e, st_mode, new_mode, &name) {
        APPLIED.with(|a| a.set(Some((e as *const FileEntry as usize, after))));
    }
}

/// As [`apply`] for the file being received, through its descriptor.
pub fn apply_fd(ctx: &RecvCtx, file: &File, e: &FileEntry, new_mode: u32, name: &str) {
    if !ctx.opts.acls || ctx.opts.dry_run {
        return;
    }
    let st_mode = match rustix::fs::fstat(file) {
        Ok(st) => st.st_mode,
        Err(_) => e.mode,
    };
    let _ = apply_to(ctx, &Node::Fd(file), e, st_mode, new_mode, name);
}

fn apply_to(
    ctx: &RecvCtx,
    node: &Node<'_>,
    e: &FileEntry,
    st_mode: u32,
    new_mode: u32,
    name: &str,
) -> Option<u32> {
    let fake = ctx.opts.fake_super;
    let new_mode = (st_mode & S_IFMT) | (new_mode & 0o7777);
    let cur = match read_dest(node, st_mode, fake) {
        Ok(cur) => cur,
        Err(err) => {
            ctx.out.error_xfer(&format!(
                "rsync: [generator] get_acl: sys_acl_get_file({name}, ACL_TYPE_ACCESS): {}",
                crate::error::os_err(&err)
            ));
            return None;
        }
    };
    let c = changes(ctx, e, &cur, new_mode);
    if c.access.is_none() && c.default.is_none() {
        return None;
    }
    match write(node, &c, st_mode, new_mode, fake) {
        Ok(after) => Some(after),
        Err((kind, err)) => {
            ctx.out.error_xfer(&format!(
                "rsync: [generator] set_acl: sys_acl_set_file({name}, {}): {}",
                kind.upstream_name(),
                crate::error::os_err(&err)
            ));
            None
        }
    }
}

/// The permissions a new item gets in directory `dir` when the sender's
/// are not kept (no -p): its default ACL's (`user::`, the mask or
/// `group::`, `other::`), else 0777 less the umask.
// upstream: acls.c:default_perms_for_dir()
pub fn default_perms(root: &Root, dir: &RelPath) -> u32 {
    let fallback = 0o777 & !umask();
    let Ok(Some(v)) = root.get_node_xattr(dir, DEFAULT_XATTR, MAX_VALUE) else {
        return fallback;
    };
    match from_xattr(&v) {
        Some(acl) if acl.user_obj != NO_ENTRY => {
            let group = if acl.mask_obj != NO_ENTRY {
                acl.mask_obj
            } else {
                acl.group_obj
            };
            let bits = |b: u8| u32::from(b & 7);
            (bits(acl.user_obj) << 6) | (bits(group) << 3) | bits(acl.other_obj)
        }
        _ => fallback,
    }
}

/// Appends the ACLs of a list entry (none for a symlink).
// upstream: flist.c:send_file_name() send_acl()
pub fn send(tx: &mut protocol::acl::AclSender, out: &mut Vec<u8>, e: &FileEntry) {
    send_named(tx, out, e, &mut |_, _| None);
}

/// As [`send`], under incremental recursion: an id's name goes inline
/// the first time it is sent (`names`).
pub fn send_named(
    tx: &mut protocol::acl::AclSender,
    out: &mut Vec<u8>,
    e: &FileEntry,
    names: &mut dyn FnMut(bool, u32) -> Option<Vec<u8>>,
) {
    if e.is_symlink() {
        return;
    }
    match e.acl() {
        Some(a) => tx.send_entry_named(out, a, e.is_dir(), names),
        None => tx.send_entry_named(
            out,
            &EntryAcl {
                access: Arc::new(RsyncAcl::default()),
                default: None,
            },
            e.is_dir(),
            names,
        ),
    }
}

/// Reads the ACLs that follow a received entry (none for a symlink).
// upstream: flist.c:recv_file_entry() receive_acl()
pub fn receive<R: io::Read>(
    rx: &mut protocol::acl::AclReceiver,
    r: &mut R,
    e: &mut FileEntry,
) -> crate::error::Result<()> {
    if e.is_symlink() {
        return Ok(());
    }
    e.set_acl(Some(rx.recv_entry(r, e.mode).map_err(wire_error)?));
    Ok(())
}

/// Names that came inline with ACL entries join the received id lists.
pub fn inline_names(
    rx: &mut protocol::acl::AclReceiver,
    uids: &mut Vec<(u32, Vec<u8>)>,
    gids: &mut Vec<(u32, Vec<u8>)>,
) {
    for n in rx.names.drain(..) {
        let list = if n.user { &mut *uids } else { &mut *gids };
        if !n.name.is_empty() && !list.iter().any(|(id, _)| *id == n.id) {
            list.push((n.id, n.name));
        }
    }
}

/// The receiver's bound for the ACLs the sender's list makes it hold.
pub fn receiver(opts: &Options) -> Option<protocol::acl::AclReceiver> {
    opts.acls
        .then(|| protocol::acl::AclReceiver::new(!opts.fake_super))
}

/// A wire error in an ACL, in upstream's words.
pub fn wire_error(e: protocol::Error) -> crate::error::Error {
    use protocol::exit;
    match e {
        protocol::Error::Invalid { field, detail } => {
            let (code, text) = match field {
                "ACL count" => (
                    exit::RERR_PROTOCOL,
                    format!("wire value ACL count {detail} [receiver]"),
                ),
                "ACL index" => (exit::RERR_STREAMIO, format!("recv_acl_index: {detail}")),
                _ => (exit::RERR_STREAMIO, format!("recv_acl_access: {detail}")),
            };
            crate::error::Error::new(code, text)
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ida(id: u32, user: bool, perms: u32) -> IdAccess {
        IdAccess { id, user, perms }
    }

    #[test]
    fn xattr_round_trip_sorts_names() {
        let acl = RsyncAcl {
            user_obj: 7,
            group_obj: 5,
            mask_obj: 7,
            other_obj: 0,
            names: vec![ida(2, true, 1), ida(1, true, 5), ida(0, false, 7)],
        };
        let v = to_xattr(&acl);
        assert_eq!(v.len(), 4 + 8 * 7);
        let back = from_xattr(&v).expect("parse");
        assert_eq!(
            back.names,
            vec![ida(1, true, 5), ida(2, true, 1), ida(0, false, 7)]
        );
        assert_eq!(
            (back.user_obj, back.group_obj, back.mask_obj, back.other_obj),
            (7, 5, 7, 0)
        );
        assert!(from_xattr(&v[..v.len() - 1]).is_none());
        assert!(from_xattr(&[1, 0, 0, 0]).is_none());
    }

    #[test]
    fn fake_form_round_trip() {
        let acl = RsyncAcl {
            names: vec![ida(1000, true, 6), ida(5, false, 4)],
            mask_obj: 6,
            ..RsyncAcl::default()
        };
        let v = to_fake(&acl);
        assert_eq!(v.len(), 32);
        assert_eq!(&v[..4], &[0x80, 0, 0, 0]);
        let back = from_fake(&v, 0o100640).expect("parse");
        assert_eq!((back.user_obj, back.group_obj, back.other_obj), (6, 4, 0));
        assert_eq!(back.names, acl.names);
    }

    #[test]
    fn strip_and_compare_like_upstream() {
        // getfacl: user::rw-, user:0:r-x, group::r--, mask::r-x, other::---
        let disk = RsyncAcl {
            user_obj: 6,
            group_obj: 4,
            mask_obj: 5,
            other_obj: 0,
            names: vec![ida(0, true, 5)],
        };
        let mode = 0o100650;
        let mut sent = disk.clone();
        strip_perms(&mut sent, mode);
        // The mask equals the mode's group bits: left to the mode.
        assert_eq!(
            (sent.user_obj, sent.group_obj, sent.mask_obj, sent.other_obj),
            (NO_ENTRY, 4, NO_ENTRY, NO_ENTRY)
        );
        // The receiver computes the mask back from the mode.
        let mut got = sent.clone();
        got.mask_obj = ((mode >> 3) & 7) as u8;
        assert!(equal_enough(&disk, &got, mode));
        let (full, after) = with_mode(&got, 0o100600, mode);
        assert_eq!(full, disk);
        assert_eq!(after, mode);
        // A plain mode-only ACL has nothing to send.
        let mut plain = fake_perms(0o644);
        strip_perms(&mut plain, 0o644);
        assert!(plain.is_empty());
        // setuid going off: group and other wait for the chmod.
        let (full, after) = with_mode(&got, 0o104650, mode);
        assert_eq!((full.mask_obj, full.other_obj), (0, 0));
        assert_eq!(after & 0o777, 0o600);
    }
}
