//! User and group names for -o/-g: the id lists a sender attaches to its
//! file list, and the name-based mapping a receiver applies.
//!
//! Names come from /etc/passwd and /etc/group (no NSS modules): the engine
//! forbids unsafe code, and these files are what the tests and most servers
//! use. Read once per process.
use std::collections::HashMap;
use std::sync::OnceLock;

struct Db {
    users: HashMap<u32, Vec<u8>>,
    user_ids: HashMap<Vec<u8>, u32>,
    groups: HashMap<u32, Vec<u8>>,
    group_ids: HashMap<Vec<u8>, u32>,
}

fn parse(path: &str) -> (HashMap<u32, Vec<u8>>, HashMap<Vec<u8>, u32>) {
    let mut by_id = HashMap::new();
    let mut by_name = HashMap::new();
    if let Ok(text) = std::fs::read(path) {
        for line in text.split(|&b| b == b'\n') {
            let mut fields = line.split(|&b| b == b':');
            let (Some(name), Some(_), Some(id)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Some(id) = std::str::from_utf8(id)
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if name.is_empty() || name.len() > 255 {
                continue;
            }
            by_id.entry(id).or_insert_with(|| name.to_vec());
            by_name.entry(name.to_vec()).or_insert(id);
        }
    }
    (by_id, by_name)
}

fn db() -> &'static Db {
    static DB: OnceLock<Db> = OnceLock::new();
    DB.get_or_init(|| {
        let (users, user_ids) = parse("/etc/passwd");
        let (groups, group_ids) = parse("/etc/group");
        Db {
            users,
            user_ids,
            groups,
            group_ids,
        }
    })
}

/// Loads the user and group tables now (before a sandbox would hide them).
pub fn preload() {
    let _ = db();
}

/// The name of a uid, if known.
pub fn user_name(uid: u32) -> Option<&'static [u8]> {
    db().users.get(&uid).map(|v| v.as_slice())
}

/// The name of a gid, if known.
pub fn group_name(gid: u32) -> Option<&'static [u8]> {
    db().groups.get(&gid).map(|v| v.as_slice())
}

/// Maps the sender's ids to ours by name (upstream uidlist.c).
#[derive(Debug, Default, Clone)]
pub struct IdMap {
    uids: HashMap<u32, u32>,
    gids: HashMap<u32, u32>,
}

impl IdMap {
    /// Builds the map from the received lists. With `numeric` nothing is
    /// mapped.
    pub fn new(uid_list: &[(u32, Vec<u8>)], gid_list: &[(u32, Vec<u8>)], numeric: bool) -> IdMap {
        let mut map = IdMap::default();
        if numeric {
            return map;
        }
        for (id, name) in uid_list {
            if let Some(&local) = db().user_ids.get(name) {
                map.uids.insert(*id, local);
            }
        }
        for (id, name) in gid_list {
            if let Some(&local) = db().group_ids.get(name) {
                map.gids.insert(*id, local);
            }
        }
        map
    }
    /// Our uid for the sender's.
    pub fn uid(&self, remote: u32) -> u32 {
        self.uids.get(&remote).copied().unwrap_or(remote)
    }
    /// Our gid for the sender's.
    pub fn gid(&self, remote: u32) -> u32 {
        self.gids.get(&remote).copied().unwrap_or(remote)
    }
}
