//! rsync's `--chmod` syntax (also the daemon's `incoming chmod` and
//! `outgoing chmod`): comma-separated items, each an optional `D` (dirs
//! only) or `F` (files only), then either an octal mode or chmod(1)'s
//! `[ugoa]*[-+=][rwxXst]*`.

/// One item of a chmod spec.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    /// Applies to directories / to non-directories.
    dirs: bool,
    files: bool,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Octal(u32),
    Symbolic {
        who: u32,
        op: u8,
        bits: u32,
        big_x: bool,
    },
}

/// A parsed chmod spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChmodSpec {
    items: Vec<Item>,
}

/// A spec that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid chmod item \"{item}\"")]
pub struct ChmodError {
    /// The offending item.
    pub item: String,
}

impl ChmodSpec {
    /// Parses `spec`.
    // upstream: chmod.c:parse_chmod()
    pub fn parse(spec: &str) -> Result<ChmodSpec, ChmodError> {
        let mut items = Vec::new();
        for raw in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = || ChmodError {
                item: raw.to_string(),
            };
            let (dirs, files, rest) = match raw.as_bytes()[0] {
                b'D' => (true, false, &raw[1..]),
                b'F' => (false, true, &raw[1..]),
                _ => (true, true, raw),
            };
            if !rest.is_empty() && rest.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                let m = u32::from_str_radix(rest, 8).map_err(|_| bad())?;
                if m > 0o7777 {
                    return Err(bad());
                }
                items.push(Item {
                    dirs,
                    files,
                    kind: Kind::Octal(m),
                });
                continue;
            }
            let opi = rest.find(['+', '-', '=']).ok_or_else(bad)?;
            let mut who = 0;
            for c in rest[..opi].chars() {
                who |= match c {
                    'u' => 0o4700,
                    'g' => 0o2070,
                    'o' => 0o1007,
                    'a' => 0o7777,
                    _ => return Err(bad()),
                };
            }
            let op = rest.as_bytes()[opi];
            let (mut bits, mut big_x) = (0, false);
            for c in rest[opi + 1..].chars() {
                bits |= match c {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' => {
                        big_x = true;
                        0
                    }
                    's' => 0o6000,
                    't' => 0o1000,
                    _ => return Err(bad()),
                };
            }
            items.push(Item {
                dirs,
                files,
                kind: Kind::Symbolic {
                    who,
                    op,
                    bits,
                    big_x,
                },
            });
        }
        Ok(ChmodSpec { items })
    }

    /// Applies the spec to `mode` (file-type bits kept).
    // upstream: chmod.c:tweak_mode()
    pub fn apply(&self, mode: u32) -> u32 {
        let is_dir = mode & 0o170000 == 0o040000;
        let kind_bits = mode & !0o7777;
        let mut m = mode & 0o7777;
        for it in &self.items {
            if (is_dir && !it.dirs) || (!is_dir && !it.files) {
                continue;
            }
            match &it.kind {
                Kind::Octal(v) => m = *v,
                Kind::Symbolic {
                    who,
                    op,
                    bits,
                    big_x,
                } => {
                    // No who: all, without the umask (rsync ignores it too).
                    let who = if *who == 0 { 0o7777 } else { *who };
                    let mut b = *bits;
                    if *big_x && (is_dir || m & 0o111 != 0) {
                        b |= 0o111;
                    }
                    let b = b & who;
                    match op {
                        b'+' => m |= b,
                        b'-' => m &= !b,
                        _ => m = (m & !who) | b,
                    }
                }
            }
        }
        kind_bits | m
    }

    /// No items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let f = 0o100644;
        let d = 0o040755;
        let s = ChmodSpec::parse("Dg+s,ug+w,Fo-w,+X").expect("parse");
        assert_eq!(s.apply(f), 0o100664);
        assert_eq!(s.apply(d), 0o042775);
        assert_eq!(ChmodSpec::parse("F600").expect("p").apply(f), 0o100600);
        assert_eq!(ChmodSpec::parse("F600").expect("p").apply(d), d);
        assert_eq!(
            ChmodSpec::parse("a=rX").expect("p").apply(0o100700),
            0o100555
        );
        assert_eq!(
            ChmodSpec::parse("a=rX").expect("p").apply(0o100600),
            0o100444
        );
        assert_eq!(ChmodSpec::parse("go=").expect("p").apply(f), 0o100600);
        assert!(ChmodSpec::parse("q+r").is_err());
        assert!(ChmodSpec::parse("u").is_err());
        assert!(ChmodSpec::parse("D77777").is_err());
    }
}
