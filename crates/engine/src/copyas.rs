//! `--copy-as=USER[:GROUP]`: the copy runs as another user (and group),
//! set for the whole process once the remote shell, if any, is started
//! (upstream main.c become_copy_as_user). Names come from /etc/passwd and
//! /etc/group, numbers are taken as they are.
use crate::error::{Error, Result};
use protocol::exit;

/// A passwd or group line's fields, for the entry named (or numbered) `who`.
fn find_entry<'a>(table: &'a str, who: &str) -> Option<Vec<&'a str>> {
    table
        .lines()
        .map(|l| l.split(':').collect::<Vec<&str>>())
        .find(|f| f.len() > 3 && (f[0] == who || f[2] == who))
}

/// The ids `--copy-as=SPEC` asks for: uid, primary gid and the
/// supplementary groups (the user's groups without a GROUP, as
/// initgroups() gives them; just GROUP with one).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32, Vec<u32>)> {
    let (user, gname) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let syntax = |m: String| Error::new(exit::RERR_SYNTAX, m);
    let pw = find_entry(passwd, user);
    let uid = match user.parse::<u32>() {
        Ok(n) => n,
        Err(_) => pw
            .as_ref()
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| syntax(format!("Invalid copy-as user: {user}")))?,
    };
    if let Some(g) = gname {
        let gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => find_entry(group, g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| syntax(format!("Invalid copy-as group: {g}")))?,
        };
        return Ok((uid, gid, vec![gid]));
    }
    let pw = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<&str>>())
        .find(|f| f.len() > 3 && f[2].parse() == Ok(uid))
        .ok_or_else(|| syntax("getpwuid failed".to_string()))?;
    let gid: u32 = pw[3]
        .parse()
        .map_err(|_| syntax("getpwuid failed".to_string()))?;
    let mut groups = vec![gid];
    for f in group.lines().map(|l| l.split(':').collect::<Vec<&str>>()) {
        if f.len() > 3 && f[3].split(',').any(|m| m == pw[0]) {
            if let Ok(g) = f[2].parse::<u32>() {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
    }
    Ok((uid, gid, groups))
}

/// Becomes the `--copy-as` user, if one was given.
pub fn become_user(spec: Option<&str>) -> Result<()> {
    let Some(spec) = spec else { return Ok(()) };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let (uid, gid, groups) = resolve(spec, &passwd, &group)?;
    confine::become_copy_as(uid, gid, &groups)
        .map_err(|e| Error::new(exit::RERR_SYNTAX, format!("rsync: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/h:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nalice:x:1000:\nstaff:x:50:alice,bob\n";

    #[test]
    fn names_numbers_and_groups() {
        assert_eq!(
            resolve("alice", PASSWD, GROUP).unwrap(),
            (1000, 1000, vec![1000, 50])
        );
        assert_eq!(
            resolve("alice:staff", PASSWD, GROUP).unwrap(),
            (1000, 50, vec![50])
        );
        assert_eq!(
            resolve("1000:7", PASSWD, GROUP).unwrap(),
            (1000, 7, vec![7])
        );
        let e = resolve("nobody-here", PASSWD, GROUP).unwrap_err();
        assert_eq!(e.message, "Invalid copy-as user: nobody-here");
        assert_eq!(e.code, 1);
        let e = resolve("alice:nogrp", PASSWD, GROUP).unwrap_err();
        assert_eq!(e.message, "Invalid copy-as group: nogrp");
    }
}
