//! POSIX ACLs on the wire (`-A`): the `rsync_acl` form each file-list
//! entry carries after its attributes (an access ACL, and for a directory
//! also a default ACL), with the per-kind cache that lets an ACL already
//! sent be referred to by its index.
//!
//! Wire form of one ACL (upstream acls.c send_rsync_acl/recv_rsync_acl):
//! `varint ndx+1` naming an ACL sent before, or `0` followed by a flags
//! byte (`XMIT_*`), a varint for each permission object present, and with
//! `XMIT_NAME_LIST` a varint count of named entries, each `varint id`,
//! `varint access<<2 | XFLAG_*` and, with `XFLAG_NAME_FOLLOWS` (only sent
//! under incremental recursion), a byte length and the user or group name.
use crate::error::{Error, Result};
use crate::varint::{write_varint, WireRead};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

/// The value of a permission object that is absent.
pub const NO_ENTRY: u8 = 0x80;
/// Most named entries one ACL may carry (upstream MAX_WIRE_ACL_COUNT).
pub const MAX_WIRE_ACL_COUNT: usize = 65536;

const XMIT_USER_OBJ: u8 = 1 << 0;
const XMIT_GROUP_OBJ: u8 = 1 << 1;
const XMIT_MASK_OBJ: u8 = 1 << 2;
const XMIT_OTHER_OBJ: u8 = 1 << 3;
const XMIT_NAME_LIST: u8 = 1 << 4;
const XFLAG_NAME_FOLLOWS: u32 = 1;
const XFLAG_NAME_IS_USER: u32 = 2;
/// The permission bits a real ACL entry may hold (rwx).
const VALID_BITS: u32 = 7;

/// One named entry: a user or group id and its permission bits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdAccess {
    /// The uid or gid (the sender's until mapped).
    pub id: u32,
    /// A named user (else a named group).
    pub user: bool,
    /// Permission bits (rwx; anything under `--fake-super`).
    pub perms: u32,
}

/// One ACL as rsync carries it: the permission objects (`NO_ENTRY` when
/// absent or left to the mode) and the named entries in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RsyncAcl {
    /// `user::` bits.
    pub user_obj: u8,
    /// `group::` bits.
    pub group_obj: u8,
    /// `mask::` bits.
    pub mask_obj: u8,
    /// `other::` bits.
    pub other_obj: u8,
    /// Named users and groups.
    pub names: Vec<IdAccess>,
}

impl Default for RsyncAcl {
    fn default() -> Self {
        RsyncAcl {
            user_obj: NO_ENTRY,
            group_obj: NO_ENTRY,
            mask_obj: NO_ENTRY,
            other_obj: NO_ENTRY,
            names: Vec::new(),
        }
    }
}

impl RsyncAcl {
    /// True when nothing at all is set (an absent default ACL).
    pub fn is_empty(&self) -> bool {
        *self == RsyncAcl::default()
    }
    /// Bytes this ACL holds on the heap and inline.
    pub fn cost(&self) -> usize {
        std::mem::size_of::<RsyncAcl>() + self.names.len() * std::mem::size_of::<IdAccess>()
    }
}

/// The ACLs of one file-list entry: its access ACL and, for a directory,
/// its default ACL. Shared between entries that reference one cache slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryAcl {
    /// The access ACL (permission objects stripped to what the mode
    /// cannot tell, as sent).
    pub access: Arc<RsyncAcl>,
    /// The default ACL of a directory.
    pub default: Option<Arc<RsyncAcl>>,
}

/// Which of the two caches an ACL belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclKind {
    /// An access ACL.
    Access,
    /// A directory's default ACL.
    Default,
}

/// The sending side's caches: each distinct ACL is sent once, then by index.
#[derive(Debug, Default)]
pub struct AclSender {
    access: HashMap<RsyncAcl, u32>,
    default: HashMap<RsyncAcl, u32>,
}

impl AclSender {
    /// Appends the ACLs of an entry (the default ACL only for a directory;
    /// a missing one is sent empty).
    // upstream: acls.c:send_acl()
    pub fn send_entry(&mut self, out: &mut Vec<u8>, acl: &EntryAcl, is_dir: bool) {
        self.send_entry_named(out, acl, is_dir, &mut |_, _| None);
    }

    /// As [`AclSender::send_entry`], under incremental recursion: `names`
    /// gives the name to send inline with a user or group id (the first
    /// time it is sent, as upstream's add_uid()/add_gid()).
    pub fn send_entry_named(
        &mut self,
        out: &mut Vec<u8>,
        acl: &EntryAcl,
        is_dir: bool,
        names: &mut dyn FnMut(bool, u32) -> Option<Vec<u8>>,
    ) {
        self.send_named(out, &acl.access, AclKind::Access, names);
        if is_dir {
            match &acl.default {
                Some(d) => self.send_named(out, d, AclKind::Default, names),
                None => self.send_named(out, &RsyncAcl::default(), AclKind::Default, names),
            }
        }
    }

    /// Appends one ACL: its index when sent before, else its literal form.
    // upstream: acls.c:send_rsync_acl(), send_ida_entries()
    pub fn send(&mut self, out: &mut Vec<u8>, acl: &RsyncAcl, kind: AclKind) {
        self.send_named(out, acl, kind, &mut |_, _| None);
    }

    /// As [`AclSender::send`], with names inline (see
    /// [`AclSender::send_entry_named`]).
    pub fn send_named(
        &mut self,
        out: &mut Vec<u8>,
        acl: &RsyncAcl,
        kind: AclKind,
        names: &mut dyn FnMut(bool, u32) -> Option<Vec<u8>>,
    ) {
        let cache = match kind {
            AclKind::Access => &mut self.access,
            AclKind::Default => &mut self.default,
        };
        if let Some(&ndx) = cache.get(acl) {
            write_varint(out, ndx as i32 + 1);
            return;
        }
        let ndx = cache.len() as u32;
        cache.insert(acl.clone(), ndx);
        write_varint(out, 0);
        let mut flags = 0u8;
        let objs = [
            (acl.user_obj, XMIT_USER_OBJ),
            (acl.group_obj, XMIT_GROUP_OBJ),
            (acl.mask_obj, XMIT_MASK_OBJ),
            (acl.other_obj, XMIT_OTHER_OBJ),
        ];
        for (v, bit) in objs {
            if v != NO_ENTRY {
                flags |= bit;
            }
        }
        if !acl.names.is_empty() {
            flags |= XMIT_NAME_LIST;
        }
        out.push(flags);
        for (v, _) in objs.iter().filter(|(v, _)| *v != NO_ENTRY) {
            write_varint(out, i32::from(*v));
        }
        if !acl.names.is_empty() {
            write_varint(out, acl.names.len() as i32);
            for ida in &acl.names {
                write_varint(out, ida.id as i32);
                let mut x = ida.perms << 2;
                if ida.user {
                    x |= XFLAG_NAME_IS_USER;
                }
                match names(ida.user, ida.id) {
                    Some(mut n) => {
                        n.truncate(255);
                        write_varint(out, (x | XFLAG_NAME_FOLLOWS) as i32);
                        out.push(n.len() as u8);
                        out.extend_from_slice(&n);
                    }
                    None => write_varint(out, x as i32),
                }
            }
        }
    }
}

/// A user or group name sent inline with an ACL entry (incremental
/// recursion only): the receiver adds it to its id lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineName {
    /// A user (else a group).
    pub user: bool,
    /// The sender's id.
    pub id: u32,
    /// Its name (empty when the sender had none).
    pub name: Vec<u8>,
}

/// The receiving side's caches, in the order the literal ACLs arrived.
#[derive(Debug, Default)]
pub struct AclReceiver {
    access: Vec<Arc<RsyncAcl>>,
    default: Vec<Arc<RsyncAcl>>,
    /// Permission values are checked to be rwx (a real super-user or a
    /// plain user; `--fake-super` keeps whatever arrives).
    pub check_bits: bool,
    /// Names that arrived inline.
    pub names: Vec<InlineName>,
    held: usize,
}

impl AclReceiver {
    /// A receiver; `check_bits` unless this side runs `--fake-super`.
    pub fn new(check_bits: bool) -> AclReceiver {
        AclReceiver {
            check_bits,
            ..Default::default()
        }
    }

    /// Bytes the caches hold (for the allocation bound).
    pub fn held(&self) -> usize {
        self.held
    }

    /// Reads the ACLs of an entry of type and permissions `mode`.
    // upstream: acls.c:receive_acl()
    pub fn recv_entry<R: Read + ?Sized>(&mut self, r: &mut R, mode: u32) -> Result<EntryAcl> {
        let access = self.recv(r, AclKind::Access, mode)?;
        let default = if mode & crate::mode::S_IFMT == crate::mode::S_IFDIR {
            Some(self.recv(r, AclKind::Default, 0)?)
        } else {
            None
        };
        Ok(EntryAcl { access, default })
    }

    /// Reads one ACL: a reference to one received before or a literal one.
    // upstream: acls.c:recv_rsync_acl()
    pub fn recv<R: Read + ?Sized>(
        &mut self,
        r: &mut R,
        kind: AclKind,
        mode: u32,
    ) -> Result<Arc<RsyncAcl>> {
        let ndx = r.read_varint("ACL index")?;
        let have = match kind {
            AclKind::Access => self.access.len(),
            AclKind::Default => self.default.len(),
        };
        if ndx < 0 || ndx as usize > have {
            let which = match kind {
                AclKind::Access => "ACL_TYPE_ACCESS",
                AclKind::Default => "ACL_TYPE_DEFAULT",
            };
            return Err(Error::invalid(
                "ACL index",
                format!("{which} ACL index {ndx} > {have}"),
            ));
        }
        if ndx != 0 {
            let cache = match kind {
                AclKind::Access => &self.access,
                AclKind::Default => &self.default,
            };
            return Ok(cache[ndx as usize - 1].clone());
        }
        let mut acl = RsyncAcl::default();
        let flags = r.read_u8_field("ACL flags")?;
        let slots = [
            (XMIT_USER_OBJ, &mut acl.user_obj),
            (XMIT_GROUP_OBJ, &mut acl.group_obj),
            (XMIT_MASK_OBJ, &mut acl.mask_obj),
            (XMIT_OTHER_OBJ, &mut acl.other_obj),
        ];
        for (bit, slot) in slots {
            if flags & bit != 0 {
                let v = r.read_varint("ACL access")? as u32;
                if self.check_bits && v & !VALID_BITS != 0 {
                    return Err(value_error(v));
                }
                // upstream keeps an object in a byte.
                *slot = v as u8;
            }
        }
        let mut computed: u32 = 0;
        if flags & XMIT_NAME_LIST != 0 {
            computed = self.recv_names(r, &mut acl.names)?;
        }
        if !acl.names.is_empty() && acl.mask_obj == NO_ENTRY {
            // A list needs a mask.
            acl.mask_obj = match kind {
                AclKind::Access => ((mode >> 3) & 7) as u8,
                AclKind::Default => ((computed | u32::from(acl.group_obj)) as u8) & !NO_ENTRY,
            };
        }
        self.held += acl.cost() + std::mem::size_of::<Arc<RsyncAcl>>();
        let acl = Arc::new(acl);
        match kind {
            AclKind::Access => self.access.push(acl.clone()),
            AclKind::Default => self.default.push(acl.clone()),
        }
        Ok(acl)
    }

    /// Reads the named entries; returns the union of their bits.
    // upstream: acls.c:recv_ida_entries()
    fn recv_names<R: Read + ?Sized>(
        &mut self,
        r: &mut R,
        names: &mut Vec<IdAccess>,
    ) -> Result<u32> {
        let count = r.read_varint("ACL count")?;
        if count < 0 || count as usize > MAX_WIRE_ACL_COUNT {
            return Err(Error::invalid(
                "ACL count",
                format!("out of range: {count} not in [0,{MAX_WIRE_ACL_COUNT}]"),
            ));
        }
        let mut bits = 0u32;
        // Grown as entries arrive: a count the stream does not back up
        // allocates nothing.
        for _ in 0..count {
            let id = r.read_varint("ACL id")? as u32;
            let x = r.read_varint("ACL access")? as u32;
            let perms = x >> 2;
            if self.check_bits && perms & !VALID_BITS != 0 {
                return Err(value_error(perms));
            }
            let user = x & XFLAG_NAME_IS_USER != 0;
            if x & XFLAG_NAME_FOLLOWS != 0 {
                let len = r.read_u8_field("ACL name length")?;
                let name = r.read_bytes(usize::from(len), 255, "ACL name")?;
                self.held += name.len() + std::mem::size_of::<InlineName>();
                self.names.push(InlineName { user, id, name });
            }
            names.push(IdAccess { id, user, perms });
            bits |= perms;
        }
        Ok(bits)
    }
}

/// Fuzzing harness: ACLs of file-list entries as a receiver reads them
/// (the first byte: bit 0 turns the rwx check off as `--fake-super` does,
/// bits 1-2 choose file or directory entries). Never panics; what it holds
/// stays within what the input describes.
#[doc(hidden)]
pub fn fuzz_entries(data: &[u8]) {
    let Some((&sel, mut r)) = data.split_first() else {
        return;
    };
    let mut rcv = AclReceiver::new(sel & 1 == 0);
    let mut n = 0u32;
    // Each entry consumes at least one byte, so this ends.
    while !r.is_empty() {
        let dir = match (sel >> 1) & 3 {
            0 => false,
            1 => true,
            _ => n % 2 == 1,
        };
        let mode = if dir { 0o040755 } else { 0o100640 };
        if rcv.recv_entry(&mut r, mode).is_err() {
            break;
        }
        n += 1;
    }
    assert!(rcv.held() <= 64 * (data.len() + 1));
}

fn value_error(v: u32) -> Error {
    Error::invalid("ACL access", format!("value out of range: {v:x}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn named() -> RsyncAcl {
        RsyncAcl {
            user_obj: NO_ENTRY,
            group_obj: 5,
            mask_obj: 7,
            other_obj: NO_ENTRY,
            names: vec![
                IdAccess {
                    id: 0,
                    user: true,
                    perms: 7,
                },
                IdAccess {
                    id: 1,
                    user: false,
                    perms: 5,
                },
            ],
        }
    }

    #[test]
    fn literal_then_index() {
        let mut s = AclSender::default();
        let mut out = Vec::new();
        let e = EntryAcl {
            access: Arc::new(named()),
            default: None,
        };
        s.send_entry(&mut out, &e, false);
        s.send_entry(&mut out, &e, false);
        // 0 (literal), flags GROUP|MASK|NAME_LIST, 5, 7, count 2,
        // id 0, 7<<2|USER, id 1, 5<<2; then the index 1.
        assert_eq!(out, [0, 0x16, 5, 7, 2, 0, 30, 1, 20, 1]);
        let mut rcv = AclReceiver::new(true);
        let mut r = &out[..];
        let a = rcv.recv_entry(&mut r, 0o100644).expect("first");
        let b = rcv.recv_entry(&mut r, 0o100600).expect("second");
        assert_eq!(*a.access, named());
        assert!(Arc::ptr_eq(&a.access, &b.access));
        assert!(r.is_empty());
    }

    #[test]
    fn dir_sends_empty_default_and_mask_is_computed() {
        let mut s = AclSender::default();
        let mut out = Vec::new();
        let mut acl = named();
        acl.mask_obj = NO_ENTRY;
        acl.group_obj = NO_ENTRY;
        let e = EntryAcl {
            access: Arc::new(acl.clone()),
            default: None,
        };
        s.send_entry(&mut out, &e, true);
        let mut rcv = AclReceiver::new(true);
        let got = rcv.recv_entry(&mut &out[..], 0o040750).expect("dir");
        // The access mask comes from the mode's group bits.
        assert_eq!(got.access.mask_obj, 5);
        assert_eq!(got.default.as_deref(), Some(&RsyncAcl::default()));
    }

    #[test]
    fn refusals() {
        let mut rcv = AclReceiver::new(true);
        // An index beyond the cache.
        let err = rcv.recv(&mut &[3u8][..], AclKind::Access, 0).unwrap_err();
        assert!(
            err.to_string().contains("ACL_TYPE_ACCESS ACL index 3 > 0"),
            "{err}"
        );
        // A million entries.
        let mut v = vec![0u8, XMIT_NAME_LIST];
        write_varint(&mut v, 1_000_000);
        let err = rcv.recv(&mut &v[..], AclKind::Access, 0).unwrap_err();
        assert!(
            err.to_string().contains("1000000 not in [0,65536]"),
            "{err}"
        );
        // Permission bits beyond rwx.
        let v = [0u8, XMIT_USER_OBJ, 8];
        let err = rcv.recv(&mut &v[..], AclKind::Access, 0).unwrap_err();
        assert!(err.to_string().contains("value out of range: 8"), "{err}");
        // A count the stream does not back.
        let mut v = vec![0u8, XMIT_NAME_LIST];
        write_varint(&mut v, 65536);
        assert!(matches!(
            rcv.recv(&mut &v[..], AclKind::Access, 0),
            Err(Error::Eof { .. })
        ));
        // Under --fake-super any value passes.
        let mut fake = AclReceiver::new(false);
        let v = [0u8, XMIT_USER_OBJ, 8];
        assert_eq!(
            fake.recv(&mut &v[..], AclKind::Access, 0).unwrap().user_obj,
            8
        );
    }

    #[test]
    fn inline_names() {
        let mut v = vec![0u8, XMIT_NAME_LIST, 1];
        write_varint(&mut v, 1000);
        write_varint(&mut v, 6 << 2 | 3);
        v.push(3);
        v.extend_from_slice(b"bob");
        let mut rcv = AclReceiver::new(true);
        let acl = rcv.recv(&mut &v[..], AclKind::Access, 0o100640).unwrap();
        assert_eq!(acl.names[0].perms, 6);
        assert!(acl.names[0].user);
        assert_eq!(
            rcv.names,
            [InlineName {
                user: true,
                id: 1000,
                name: b"bob".to_vec()
            }]
        );
    }

    /// The fuzz target's hand-written seeds decode to their end.
    #[test]
    fn seeds_decode() {
        let seeds: [&[u8]; 3] = [
            include_bytes!("../../../fuzz/corpus/acl/seed-file"),
            include_bytes!("../../../fuzz/corpus/acl/seed-dir"),
            include_bytes!("../../../fuzz/corpus/acl/seed-inline-name"),
        ];
        for seed in seeds {
            let (&sel, mut r) = seed.split_first().expect("selector");
            let mut rcv = AclReceiver::new(sel & 1 == 0);
            let mode = if sel & 2 != 0 { 0o040755 } else { 0o100640 };
            while !r.is_empty() {
                rcv.recv_entry(&mut r, mode).expect("seed entry");
            }
        }
    }

    fn acl_strategy() -> impl Strategy<Value = RsyncAcl> {
        let obj = prop_oneof![Just(NO_ENTRY), 0u8..8];
        let ida = (any::<u32>(), any::<bool>(), 0u32..8).prop_map(|(id, user, perms)| IdAccess {
            id,
            user,
            perms,
        });
        (
            obj.clone(),
            obj.clone(),
            0u8..8,
            obj,
            proptest::collection::vec(ida, 0..6),
        )
            .prop_map(|(u, g, m, o, names)| RsyncAcl {
                user_obj: u,
                group_obj: g,
                mask_obj: m,
                other_obj: o,
                names,
            })
    }

    proptest! {
        #[test]
        fn round_trip(acls in proptest::collection::vec((acl_strategy(), proptest::option::of(acl_strategy())), 1..8)) {
            let mut s = AclSender::default();
            let mut out = Vec::new();
            for (a, d) in &acls {
                let e = EntryAcl { access: Arc::new(a.clone()), default: d.clone().map(Arc::new) };
                s.send_entry(&mut out, &e, d.is_some());
            }
            let mut rcv = AclReceiver::new(true);
            let mut r = &out[..];
            for (a, d) in &acls {
                let mode = if d.is_some() { 0o040755 } else { 0o100644 };
                let got = rcv.recv_entry(&mut r, mode).unwrap();
                prop_assert_eq!(&*got.access, a);
                prop_assert_eq!(got.default.as_deref(), d.as_ref());
            }
            prop_assert!(r.is_empty());
        }

        #[test]
        fn decoder_is_bounded(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut rcv = AclReceiver::new(data.first().is_some_and(|b| b & 1 == 0));
            let mut r = &data[..];
            while !r.is_empty() {
                if rcv.recv_entry(&mut r, 0o040755).is_err() {
                    break;
                }
            }
            // Nothing held beyond what the bytes describe.
            prop_assert!(rcv.held() <= 64 * (data.len() + 1));
            fuzz_entries(&data);
        }
    }
}
