//! User and group names for -o/-g: the id lists a sender attaches to its
//! file list, and the name-based mapping a receiver applies.
//!
//! Names come from /etc/passwd and /etc/group (no NSS modules): the engine
//! forbids unsafe code, and these files are what the tests and most servers
//! use. Read once per process. A daemon module's `name converter` replaces
//! them for the whole session ([`set_converter`]).
use std::borrow::Cow;
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

/// Maps names and ids in place of /etc/passwd and /etc/group: a daemon
/// module's `name converter` (upstream uidlist.c with namecvt_pid set).
pub trait NameConverter: Send + Sync {
    /// Our id for a user (`user`) or group name; None when the name is
    /// unknown or refused, and the sender's id then stands.
    fn id_of(&self, user: bool, name: &[u8]) -> Option<u32>;
    /// The name of one of our uids (`user`) or gids, if known.
    fn name_of(&self, user: bool, id: u32) -> Option<Vec<u8>>;
}

static CONVERTER: OnceLock<Box<dyn NameConverter>> = OnceLock::new();

/// Makes `c` the process's source of names and ids (a daemon session,
/// which is a process of its own). False when one is set already.
pub fn set_converter(c: Box<dyn NameConverter>) -> bool {
    CONVERTER.set(c).is_ok()
}

fn converter() -> Option<&'static dyn NameConverter> {
    CONVERTER.get().map(|c| &**c)
}

/// The name of a uid, if known.
pub fn user_name(uid: u32) -> Option<Cow<'static, [u8]>> {
    match converter() {
        Some(c) => c.name_of(true, uid).map(Cow::Owned),
        None => db().users.get(&uid).map(|v| Cow::Borrowed(v.as_slice())),
    }
}

/// The name of a gid, if known.
pub fn group_name(gid: u32) -> Option<Cow<'static, [u8]>> {
    match converter() {
        Some(c) => c.name_of(false, gid).map(Cow::Owned),
        None => db().groups.get(&gid).map(|v| Cow::Borrowed(v.as_slice())),
    }
}

/// Our uid (`user`) or gid for a name the sender sent, if known.
// upstream: uidlist.c:user_to_uid() / group_to_gid()
pub fn local_id(user: bool, name: &[u8]) -> Option<u32> {
    if let Some(c) = converter() {
        return c.id_of(user, name);
    }
    let table = if user {
        &db().user_ids
    } else {
        &db().group_ids
    };
    table.get(name).copied()
}

/// What one --usermap/--groupmap item matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum From {
    Wild(Vec<u8>),
    Name(Vec<u8>),
    Range(u32, u32),
}

/// Why a --usermap or --groupmap value does not parse (upstream's words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// An item without `FROM:`.
    #[error("No colon found in --{which}map: {item}")]
    NoColon {
        /// "user" or "group".
        which: &'static str,
        /// The item.
        item: String,
    },
    /// An item with nothing after its colon.
    #[error("No name found after colon --{which}map: {item}")]
    NoName {
        /// "user" or "group".
        which: &'static str,
        /// The item.
        item: String,
    },
    /// A FROM that starts with a digit but is no id or range.
    #[error("Invalid number in --{which}map: {from}")]
    Number {
        /// "user" or "group".
        which: &'static str,
        /// The FROM part.
        from: String,
    },
}

/// The parsed items of a --usermap or --groupmap value, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MapRules {
    rules: Vec<(From, Vec<u8>)>,
}

impl MapRules {
    /// Parses `FROM:TO,...` (FROM: a name, a wildcard, an id or a range
    /// `LOW-HIGH`); the message names the option on error.
    // upstream: uidlist.c:parse_name_map()
    pub fn parse(map: &str, user: bool) -> Result<MapRules, MapError> {
        let which = if user { "user" } else { "group" };
        let mut rules = Vec::new();
        for item in map.split(',') {
            let item_of = || (which, item.to_owned());
            let Some((from, to)) = item.split_once(':') else {
                let (which, item) = item_of();
                return Err(MapError::NoColon { which, item });
            };
            if to.is_empty() {
                let (which, item) = item_of();
                return Err(MapError::NoName { which, item });
            }
            let from = if from.starts_with(|c: char| c.is_ascii_digit()) {
                let bad = || MapError::Number {
                    which,
                    from: from.to_owned(),
                };
                let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
                match from.split_once('-') {
                    Some((lo, hi)) => From::Range(num(lo)?, num(hi)?),
                    None => {
                        let n = num(from)?;
                        From::Range(n, n)
                    }
                }
            } else if from.contains(['*', '[', '?']) {
                From::Wild(from.as_bytes().to_vec())
            } else {
                From::Name(from.as_bytes().to_vec())
            };
            rules.push((from, to.as_bytes().to_vec()));
        }
        Ok(MapRules { rules })
    }

    /// Resolves the TO names locally (ids pass as numbers); unknown names
    /// drop their item.
    fn resolve(&self, user: bool) -> Vec<(From, u32)> {
        let table = if user {
            &db().user_ids
        } else {
            &db().group_ids
        };
        self.rules
            .iter()
            .filter_map(|(from, to)| {
                let id = std::str::from_utf8(to)
                    .ok()
                    .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse::<u32>().ok())
                    .or_else(|| table.get(to).copied())?;
                Some((from.clone(), id))
            })
            .collect()
    }
}

fn map_match(rules: &[(From, u32)], id: u32, name: &[u8]) -> Option<u32> {
    rules
        .iter()
        .find(|(from, _)| match from {
            From::Wild(p) => filter::wildmatch::wildmatch(p, name),
            From::Name(n) => n == name,
            From::Range(lo, hi) => (*lo..=*hi).contains(&id),
        })
        .map(|&(_, to)| to)
}

/// Maps the sender's ids to ours by name (upstream uidlist.c).
#[derive(Debug, Default, Clone)]
pub struct IdMap {
    uids: HashMap<u32, u32>,
    gids: HashMap<u32, u32>,
    user_rules: Vec<(From, u32)>,
    group_rules: Vec<(From, u32)>,
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
            if let Some(local) = local_id(true, name) {
                map.uids.insert(*id, local);
            }
        }
        for (id, name) in gid_list {
            if let Some(local) = local_id(false, name) {
                map.gids.insert(*id, local);
            }
        }
        map
    }
    /// Applies --usermap/--groupmap ahead of the name mapping: an id of
    /// the lists matching an item (by name, wildcard or id range) maps to
    /// its target; ids outside the lists match by id or with an empty name.
    // upstream: uidlist.c:recv_add_id()
    pub fn with_maps(
        mut self,
        uid_list: &[(u32, Vec<u8>)],
        gid_list: &[(u32, Vec<u8>)],
        usermap: Option<&MapRules>,
        groupmap: Option<&MapRules>,
    ) -> IdMap {
        if let Some(m) = usermap {
            self.user_rules = m.resolve(true);
            for (id, name) in uid_list {
                if let Some(to) = map_match(&self.user_rules, *id, name) {
                    self.uids.insert(*id, to);
                }
            }
        }
        if let Some(m) = groupmap {
            self.group_rules = m.resolve(false);
            for (id, name) in gid_list {
                if let Some(to) = map_match(&self.group_rules, *id, name) {
                    self.gids.insert(*id, to);
                }
            }
        }
        self
    }
    /// Our uid for the sender's.
    pub fn uid(&self, remote: u32) -> u32 {
        self.uids
            .get(&remote)
            .copied()
            .or_else(|| map_match(&self.user_rules, remote, b""))
            .unwrap_or(remote)
    }
    /// Our gid for the sender's.
    pub fn gid(&self, remote: u32) -> u32 {
        self.gids
            .get(&remote)
            .copied()
            .or_else(|| map_match(&self.group_rules, remote, b""))
            .unwrap_or(remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_maps() {
        assert!(MapRules::parse("a:b,1-5:c,*:d,x[yz]:0", true).is_ok());
        assert_eq!(
            MapRules::parse("nocolon", true).unwrap_err().to_string(),
            "No colon found in --usermap: nocolon"
        );
        assert_eq!(
            MapRules::parse("a:", false).unwrap_err().to_string(),
            "No name found after colon --groupmap: a:"
        );
        assert_eq!(
            MapRules::parse("1-x:a", true).unwrap_err().to_string(),
            "Invalid number in --usermap: 1-x"
        );
        assert!(MapRules::parse("a:", false).is_err());
        assert!(MapRules::parse("1x:a", false).is_err());
        assert!(MapRules::parse("1-2-3:a", false).is_err());
    }

    #[test]
    fn maps_before_names() {
        let rules = MapRules::parse("5-9:77,bob:0,*:12", true).expect("parse");
        let list = vec![(6, b"someone".to_vec()), (1000, b"bob".to_vec())];
        let map = IdMap::new(&list, &[], false).with_maps(&list, &[], Some(&rules), None);
        assert_eq!(map.uid(6), 77);
        assert_eq!(map.uid(1000), 0);
        // Not in the list: matches "*" with an empty name.
        assert_eq!(map.uid(4242), 12);
        assert_eq!(map.gid(4242), 4242);
    }
}
