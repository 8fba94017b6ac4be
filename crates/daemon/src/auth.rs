//! Daemon authentication: digest negotiation, challenges, responses, the
//! secrets file, `strict modes` and `auth users` rules.
use crate::wild::wildmatch;
use md4::Md4;
use md5::Md5;
use sha1::Sha1;
use sha2::digest::Digest as _;
use sha2::{Sha256, Sha512};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The daemon-auth digests oxsync offers, strongest first (the greeting
/// lists them in this order).
pub const DAEMON_DIGESTS: [&str; 5] = ["sha512", "sha256", "sha1", "md5", "md4"];

/// The rank of a daemon-auth digest by name (0 = strongest), None for a
/// name this build does not have.
// upstream: checksum.c:auth_digest_rank()
pub fn digest_rank(name: &str) -> Option<usize> {
    DAEMON_DIGESTS
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name))
}

/// Checks the negotiated `digest` against a module's `auth digest` floor:
/// the reason for the log when it is weaker, or when the floor names a
/// digest this build does not have (then every login is refused).
// upstream: authenticate.c:auth_server() (auth digest floor)
pub fn check_floor(floor: &str, digest: AuthDigest) -> Result<(), FloorError> {
    let Some(min) = digest_rank(floor) else {
        return Err(FloorError::Unsupported(floor.to_owned()));
    };
    match digest_rank(digest.name()) {
        Some(got) if got <= min => Ok(()),
        _ => Err(FloorError::Weaker {
            got: digest.name(),
            floor: floor.to_owned(),
        }),
    }
}

/// Why [`check_floor`] refused a login (for the log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FloorError {
    /// The module's floor names a digest this build lacks.
    #[error("the configured 'auth digest = {0}' is not a supported digest on this build")]
    Unsupported(String),
    /// The negotiated digest ranks below the floor.
    #[error("negotiated auth digest {got} is weaker than the required 'auth digest = {floor}'")]
    Weaker {
        /// The negotiated digest.
        got: &'static str,
        /// The module's floor.
        floor: String,
    },
}

/// Largest secrets file read, in bytes.
const MAX_SECRETS_SIZE: u64 = 1 << 20;

/// A daemon-auth digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDigest {
    /// SHA-512.
    Sha512,
    /// SHA-256.
    Sha256,
    /// SHA-1.
    Sha1,
    /// MD5.
    Md5,
    /// MD4 (negotiated by name).
    Md4,
    /// MD4 over four zero bytes first: protocol < 30 without a list.
    Md4Old,
}

impl AuthDigest {
    /// The digest called `name` in a greeting list.
    pub fn from_name(name: &str) -> Option<AuthDigest> {
        Some(match name {
            "sha512" => AuthDigest::Sha512,
            "sha256" => AuthDigest::Sha256,
            "sha1" => AuthDigest::Sha1,
            "md5" => AuthDigest::Md5,
            "md4" => AuthDigest::Md4,
            _ => return None,
        })
    }

    /// Its greeting name.
    pub fn name(self) -> &'static str {
        match self {
            AuthDigest::Sha512 => "sha512",
            AuthDigest::Sha256 => "sha256",
            AuthDigest::Sha1 => "sha1",
            AuthDigest::Md5 => "md5",
            AuthDigest::Md4 | AuthDigest::Md4Old => "md4",
        }
    }

    /// The digest of the concatenated parts.
    pub fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: sha2::digest::Digest>(mut d: D, parts: &[&[u8]]) -> Vec<u8> {
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            AuthDigest::Sha512 => run(Sha512::new(), parts),
            AuthDigest::Sha256 => run(Sha256::new(), parts),
            AuthDigest::Sha1 => run(Sha1::new(), parts),
            AuthDigest::Md5 => run(Md5::new(), parts),
            AuthDigest::Md4 => run(Md4::new(), parts),
            AuthDigest::Md4Old => {
                let mut d = Md4::new();
                d.update([0u8; 4]);
                run(d, parts)
            }
        }
    }
}

/// Picks the digest for one connection: with the peer's greeting list, our
/// most preferred name that the peer also listed (rsync 3.5.0's rule);
/// without one, md5 for protocol 30 and later, old md4 before.
// upstream: compat.c:negotiate_daemon_auth()
pub fn negotiate(peer_list: Option<&[String]>, protocol: i32) -> Option<AuthDigest> {
    match peer_list {
        None if protocol >= 30 => Some(AuthDigest::Md5),
        None => Some(AuthDigest::Md4Old),
        Some(list) => DAEMON_DIGESTS
            .iter()
            .find(|n| list.iter().any(|p| p == *n))
            .and_then(|n| AuthDigest::from_name(n)),
    }
}

/// Base64 without `=` padding (the alphabet `A-Z a-z 0-9 + /`).
// upstream: authenticate.c:base64_encode()
pub fn base64_nopad(data: &[u8]) -> String {
    const ALPHA: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHA[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The response to a challenge: base64_nopad(H(password || challenge)).
// upstream: authenticate.c:generate_hash()
pub fn response(digest: AuthDigest, password: &[u8], challenge: &str) -> String {
    base64_nopad(&digest.hash(&[password, challenge.as_bytes()]))
}

/// A fresh challenge: the digest of random bytes, the time and our pid.
// upstream: authenticate.c:gen_challenge()
pub fn new_challenge(digest: AuthDigest) -> String {
    let mut seed = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut seed[..16]);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    seed[16..32].copy_from_slice(&(now ^ (u128::from(std::process::id()) << 96)).to_le_bytes());
    base64_nopad(&digest.hash(&[&seed]))
}

/// What an `auth users` rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// No suffix: the module's `read only` / `write only` apply.
    Default,
    /// `:ro`: read only for this user.
    ReadOnly,
    /// `:rw`: read and write for this user.
    ReadWrite,
    /// `:deny`: refused.
    Deny,
}

/// One `auth users` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRule {
    /// User-name pattern, or group-name pattern when `group`.
    pub pattern: String,
    /// Written as `@group`.
    pub group: bool,
    /// The suffix.
    pub grant: Grant,
}

/// Parses `auth users` (comma and/or space separated; commas alone when
/// the value starts with a comma).
pub fn parse_auth_users(list: &str) -> Vec<AuthRule> {
    crate::config::conf_tokens(list)
        .into_iter()
        .map(|tok| {
            let (name, suffix) = match tok.split_once(':') {
                Some((n, s)) => (n, Some(s.to_ascii_lowercase())),
                None => (tok, None),
            };
            let grant = match suffix.as_deref() {
                Some(s) if s.starts_with('d') => Grant::Deny,
                Some(s) if s.starts_with("ro") => Grant::ReadOnly,
                Some(s) if s.starts_with("rw") => Grant::ReadWrite,
                _ => Grant::Default,
            };
            match name.strip_prefix('@') {
                Some(g) => AuthRule {
                    pattern: g.to_string(),
                    group: true,
                    grant,
                },
                None => AuthRule {
                    pattern: name.to_string(),
                    group: false,
                    grant,
                },
            }
        })
        .collect()
}

/// The first rule that matches `user` (or one of `groups`), with the group
/// name that matched for a group rule.
// upstream: authenticate.c:auth_server() (rule scan)
pub fn match_rule<'a>(
    rules: &'a [AuthRule],
    user: &str,
    groups: &[String],
) -> Option<(&'a AuthRule, Option<String>)> {
    for r in rules {
        if r.group {
            if let Some(g) = groups.iter().find(|g| wildmatch(&r.pattern, g)) {
                return Some((r, Some(g.clone())));
            }
        } else if wildmatch(&r.pattern, user) {
            return Some((r, None));
        }
    }
    None
}

/// The groups `user` belongs to (primary group from /etc/passwd, others
/// from /etc/group), by name.
pub fn groups_of(user: &str) -> Vec<String> {
    groups_from(
        user,
        &std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
        &std::fs::read_to_string("/etc/group").unwrap_or_default(),
    )
}

fn groups_from(user: &str, passwd: &str, group: &str) -> Vec<String> {
    let primary = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == user)
        .map(|f| f[3].to_string());
    let mut out = Vec::new();
    for l in group.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 {
            continue;
        }
        let member = f[3].split(',').any(|m| m == user);
        if member || primary.as_deref() == Some(f[2]) {
            out.push(f[0].to_string());
        }
    }
    out
}

/// Why a secrets check failed (logged, never sent to the client).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// Unset, missing or unreadable.
    #[error("no secrets file")]
    NoFile,
    /// Other-accessible, or not root's while we run as root.
    #[error("ignoring secrets file: {reason}")]
    Rejected {
        /// The strict-modes rule it broke.
        reason: &'static str,
    },
    /// A name starting with `#` (would match a comment).
    #[error("invalid username")]
    InvalidUser,
    /// No line for the user (or group).
    #[error("secret not found")]
    NotFound,
    /// A line was found but the response differs.
    #[error("password mismatch")]
    Mismatch,
}

/// Checks `resp` against the secrets file lines `user:pass` and (when the
/// rule matched through a group) `@group:pass`. `secrets` is the file and
/// which symlinks its path may pass through.
// upstream: authenticate.c:check_secret()
pub fn check_secret(
    secrets: Option<(&Path, confine::Links)>,
    strict: bool,
    user: &str,
    group: Option<&str>,
    digest: AuthDigest,
    challenge: &str,
    resp: &str,
) -> Result<(), SecretError> {
    let (path, links) = secrets.ok_or(SecretError::NoFile)?;
    // An operator path: a symlink on it another user owns is refused
    // (upstream open_no_attacker_symlinks), and the checks below look at
    // the file that was opened.
    let f = confine::operator::open_file(path, rustix::fs::OFlags::RDONLY, 0, links)
        .map_err(|_| SecretError::NoFile)?;
    let meta = f.metadata().map_err(|_| SecretError::NoFile)?;
    if strict {
        if meta.mode() & 0o006 != 0 {
            return Err(SecretError::Rejected {
                reason: "secrets file must not be other-accessible (see strict modes option)",
            });
        }
        if rustix::process::geteuid().is_root() && meta.uid() != 0 {
            return Err(SecretError::Rejected {
                reason:
                    "secrets file must be owned by root when running as root (see strict modes)",
            });
        }
    }
    if user.starts_with('#') {
        return Err(SecretError::InvalidUser);
    }
    let mut text = Vec::new();
    f.take(MAX_SECRETS_SIZE)
        .read_to_end(&mut text)
        .map_err(|_| SecretError::NoFile)?;
    check_secret_text(&text, user, group, digest, challenge, resp)
}

fn check_secret_text(
    text: &[u8],
    user: &str,
    group: Option<&str>,
    digest: AuthDigest,
    challenge: &str,
    resp: &str,
) -> Result<(), SecretError> {
    let (mut user, mut group) = (Some(user), group);
    let mut err = SecretError::NotFound;
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (slot, body) = match line.strip_prefix(b"@") {
            Some(rest) => (&mut group, rest),
            None => (&mut user, line),
        };
        let Some(name) = *slot else { continue };
        let Some(pass) = body
            .strip_prefix(name.as_bytes())
            .and_then(|r| r.strip_prefix(b":"))
        else {
            continue;
        };
        if constant_eq(
            response(digest, pass, challenge).as_bytes(),
            resp.as_bytes(),
        ) {
            return Ok(());
        }
        err = SecretError::Mismatch;
        *slot = None;
        if user.is_none() && group.is_none() {
            break;
        }
    }
    Err(err)
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(base64_nopad(b""), "");
        assert_eq!(base64_nopad(b"f"), "Zg");
        assert_eq!(base64_nopad(b"fo"), "Zm8");
        assert_eq!(base64_nopad(b"foo"), "Zm9v");
        assert_eq!(base64_nopad(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_nopad(&[0xff; 16]).len(), 22);
        for (d, len) in [
            (AuthDigest::Md4, 22),
            (AuthDigest::Md5, 22),
            (AuthDigest::Sha1, 27),
            (AuthDigest::Sha256, 43),
            (AuthDigest::Sha512, 86),
        ] {
            assert_eq!(response(d, b"pw", "chal").len(), len, "{d:?}");
            assert_eq!(new_challenge(d).len(), len);
        }
    }

    #[test]
    fn known_response() {
        // md5("secret" || "abc") = f8ab7c1d... checked with md5sum.
        assert_eq!(
            base64_nopad(&AuthDigest::Md5.hash(&[b"secretabc"])),
            response(AuthDigest::Md5, b"secret", "abc")
        );
        assert_ne!(
            response(AuthDigest::Md4, b"a", "b"),
            response(AuthDigest::Md4Old, b"a", "b")
        );
    }

    #[test]
    fn negotiation() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            negotiate(Some(&l(&["md5", "sha512"])), 32),
            Some(AuthDigest::Sha512)
        );
        assert_eq!(
            negotiate(Some(&l(&["md4", "md5"])), 32),
            Some(AuthDigest::Md5)
        );
        assert_eq!(negotiate(Some(&l(&["xxx"])), 32), None);
        assert_eq!(negotiate(None, 31), Some(AuthDigest::Md5));
        assert_eq!(negotiate(None, 29), Some(AuthDigest::Md4Old));
    }

    #[test]
    fn digest_floor() {
        assert_eq!(check_floor("sha256", AuthDigest::Sha512), Ok(()));
        assert_eq!(check_floor("SHA256", AuthDigest::Sha256), Ok(()));
        assert!(check_floor("sha256", AuthDigest::Sha1)
            .unwrap_err()
            .to_string()
            .contains("negotiated auth digest sha1 is weaker"));
        assert!(check_floor("md5", AuthDigest::Md4Old).is_err());
        assert_eq!(check_floor("md4", AuthDigest::Md4Old), Ok(()));
        let e = check_floor("no-such-digest", AuthDigest::Sha512)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'auth digest = no-such-digest' is not a supported"),
            "{e}"
        );
    }

    #[test]
    fn rules() {
        let r = parse_auth_users("alice, @staff:ro bob:deny,  guest*:rw");
        assert_eq!(r.len(), 4);
        assert_eq!(
            r[1],
            AuthRule {
                pattern: "staff".into(),
                group: true,
                grant: Grant::ReadOnly
            }
        );
        assert_eq!(r[2].grant, Grant::Deny);
        let none: Vec<String> = vec![];
        assert_eq!(
            match_rule(&r, "alice", &none).map(|(r, _)| r.grant),
            Some(Grant::Default)
        );
        assert_eq!(
            match_rule(&r, "bob", &none).map(|(r, _)| r.grant),
            Some(Grant::Deny)
        );
        assert_eq!(
            match_rule(&r, "guest7", &none).map(|(r, _)| r.grant),
            Some(Grant::ReadWrite)
        );
        let (rule, g) = match_rule(&r, "carol", &["staff".to_string()]).expect("group rule");
        assert_eq!((rule.grant, g.as_deref()), (Grant::ReadOnly, Some("staff")));
        assert!(match_rule(&r, "mallory", &none).is_none());
    }

    #[test]
    fn groups() {
        let passwd = "carol:x:1001:100::/home/carol:/bin/sh\n";
        let group = "users:x:100:\nstaff:x:50:dave,carol\nother:x:60:dave\n";
        assert_eq!(groups_from("carol", passwd, group), ["users", "staff"]);
    }

    #[test]
    fn secrets() {
        let d = AuthDigest::Md5;
        let text = b"# comment\nalice:wonder\n@staff:shared\nbob:builder\r\n";
        let ok = |u: &str, g: Option<&str>, pw: &[u8]| {
            check_secret_text(text, u, g, d, "CH", &response(d, pw, "CH"))
        };
        assert_eq!(ok("alice", None, b"wonder"), Ok(()));
        assert_eq!(ok("bob", None, b"builder"), Ok(()));
        assert_eq!(ok("alice", None, b"nope"), Err(SecretError::Mismatch));
        assert_eq!(ok("carol", None, b"shared"), Err(SecretError::NotFound));
        assert_eq!(ok("carol", Some("staff"), b"shared"), Ok(()));
        assert_eq!(ok("alice", Some("staff"), b"shared"), Ok(()));
        assert_eq!(ok("ali", None, b"wonder"), Err(SecretError::NotFound));
    }

    #[test]
    fn strict_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("s");
        std::fs::write(&p, "u:pw\n").expect("w");
        let d = AuthDigest::Sha256;
        let resp = response(d, b"pw", "c");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o604)).expect("chmod");
        assert!(matches!(
            check_secret(
                Some((p.as_path(), confine::Links::Trusted)),
                true,
                "u",
                None,
                d,
                "c",
                &resp
            ),
            Err(SecretError::Rejected { .. })
        ));
        assert_eq!(
            check_secret(
                Some((p.as_path(), confine::Links::Trusted)),
                false,
                "u",
                None,
                d,
                "c",
                &resp
            ),
            Ok(())
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(
            check_secret(
                Some((p.as_path(), confine::Links::Trusted)),
                true,
                "u",
                None,
                d,
                "c",
                &resp
            ),
            Ok(())
        );
        assert_eq!(
            check_secret(None, true, "u", None, d, "c", &resp),
            Err(SecretError::NoFile)
        );
        assert_eq!(
            check_secret(
                Some((p.as_path(), confine::Links::Trusted)),
                false,
                "#x",
                None,
                d,
                "c",
                &resp
            ),
            Err(SecretError::InvalidUser)
        );
    }
}
