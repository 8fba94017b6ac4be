//! rsync's `--chmod` syntax (also the daemon's `incoming chmod` and
//! `outgoing chmod`): comma-separated items, each an optional `D` (dirs
//! only) or `F` (files only), then either an octal mode or chmod(1)'s
//! `[ugoa]*[-+=]` followed by `[rwxXst]*` or by one of `u`, `g`, `o` (a
//! copy of that class's bits, `g=u`). Without a who, the bits are all
//! three classes' less the umask, as chmod(1) and rsync do.

/// The permission bits a spec may change.
const CHMOD_BITS: u32 = 0o7777;

/// One item of a chmod spec, as upstream's `chmod_mode_struct`: the mode
/// is ANDed with `and`, ORed with `or` (less `x` for `X` on a
/// non-executable file), then the copied class bits are added (`+`, `=`)
/// or removed (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    dirs_only: bool,
    files_only: bool,
    and: u32,
    or: u32,
    /// `X`: the `x` of `or` only for directories and executables.
    x_keep: bool,
    /// The class copied from (0o100, 0o010 or 0o001; 0 for none), the
    /// classes it lands in, and the mask applied to it.
    copy_src: u32,
    copy_dst: u32,
    copy_and: u32,
    subtract: bool,
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
            let item = parse_item(raw).ok_or_else(|| ChmodError {
                item: raw.to_string(),
            })?;
            items.push(item);
        }
        Ok(ChmodSpec { items })
    }

    /// Applies the spec to `mode` (file-type bits kept).
    // upstream: chmod.c:tweak_mode()
    pub fn apply(&self, mode: u32) -> u32 {
        let is_dir = mode & 0o170000 == 0o040000;
        let was_x = mode & 0o111 != 0;
        let kind_bits = mode & !CHMOD_BITS;
        let mut m = mode & CHMOD_BITS;
        for it in &self.items {
            if (it.dirs_only && !is_dir) || (it.files_only && is_dir) {
                continue;
            }
            let copied = copy_bits(m, it.copy_src, it.copy_dst, it.copy_and);
            m &= it.and;
            m |= if it.x_keep && !was_x && !is_dir {
                it.or & !0o111
            } else {
                it.or
            };
            if it.subtract {
                m &= CHMOD_BITS - copied;
            } else {
                m |= copied;
            }
        }
        kind_bits | m
    }

    /// No items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The bits of class `src` of `mode`, placed in the classes `dst`.
fn copy_bits(mode: u32, src: u32, dst: u32, and: u32) -> u32 {
    let mut bits = 0;
    for (class, shift) in [(0o100, 6), (0o010, 3), (0o001, 0)] {
        if src & class != 0 {
            bits |= (mode >> shift) & 7;
        }
    }
    (dst * bits) & and
}

/// One comma-separated item; None when it is malformed.
fn parse_item(raw: &str) -> Option<Item> {
    let (dirs_only, files_only, rest) = match raw.as_bytes().first()? {
        b'D' => (true, false, &raw[1..]),
        b'F' => (false, true, &raw[1..]),
        _ => (false, false, raw),
    };
    let mut item = Item {
        dirs_only,
        files_only,
        and: CHMOD_BITS,
        or: 0,
        x_keep: false,
        copy_src: 0,
        copy_dst: 0,
        copy_and: CHMOD_BITS,
        subtract: false,
    };
    if !rest.is_empty() && rest.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        let m = u32::from_str_radix(rest, 8).ok()?;
        if m > CHMOD_BITS {
            return None;
        }
        item.and = 0;
        item.or = m;
        return Some(item);
    }
    let opi = rest.find(['+', '-', '='])?;
    let (mut who, mut top) = (0, 0);
    for c in rest[..opi].chars() {
        let (w, t) = match c {
            'u' => (0o100, 0o4000),
            'g' => (0o010, 0o2000),
            'o' => (0o001, 0),
            'a' => (0o111, 0o6000),
            _ => return None,
        };
        who |= w;
        top |= t;
    }
    let op = rest.as_bytes()[opi];
    let (mut what, mut special, mut copy) = (0, 0, 0);
    for c in rest[opi + 1..].chars() {
        if copy != 0 {
            return None;
        }
        match c {
            'r' => what |= 4,
            'w' => what |= 2,
            'x' => what |= 1,
            'X' => {
                item.x_keep = true;
                what |= 1;
            }
            's' => special |= if top != 0 { top } else { 0o4000 },
            't' => special |= 0o1000,
            'u' | 'g' | 'o' if what == 0 && special == 0 => {
                copy = match c {
                    'u' => 0o100,
                    'g' => 0o010,
                    _ => 0o001,
                };
            }
            _ => return None,
        }
    }
    let named = who != 0;
    let bits = if named {
        who * what
    } else {
        who = 0o111;
        (who * what) & !crate::chmod::umask()
    };
    item.copy_src = copy;
    item.copy_dst = who;
    item.copy_and = if named {
        CHMOD_BITS
    } else {
        !crate::chmod::umask()
    };
    match op {
        b'+' => item.or = bits | special,
        b'-' => {
            item.and = CHMOD_BITS - bits - special;
            item.subtract = true;
        }
        _ => {
            let clear_top = if special != 0 { top } else { 0 };
            let dest_special = if copy != 0 { dest_special_bits(who) } else { 0 };
            item.and = CHMOD_BITS - who * 7 - clear_top - dest_special;
            item.or = bits | special;
        }
    }
    Some(item)
}

/// The special bit belonging to each class in `who` (setuid for `u`,
/// setgid for `g`, sticky for `o`): a copy into a class clears it.
fn dest_special_bits(who: u32) -> u32 {
    let mut bits = 0;
    if who & 0o100 != 0 {
        bits |= 0o4000;
    }
    if who & 0o010 != 0 {
        bits |= 0o2000;
    }
    if who & 0o001 != 0 {
        bits |= 0o1000;
    }
    bits
}

/// The process umask, read once (call [`preload_umask`] before threads
/// create files: reading it means setting it for a moment).
pub fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
        rustix::process::umask(old);
        old.bits()
    })
}

/// Reads the umask now, while this is the only thread.
pub fn preload_umask() {
    let _ = umask();
}

/// The permission bits an existing file keeps under `-E` without `-p`: its
/// own, with the execute bits dropped when the source has none, or granted
/// wherever it is readable when the source has some and it has none.
// upstream: rsync.c:dest_mode()
pub fn exec_mode(src_mode: u32, st_mode: u32) -> u32 {
    let mut mode = st_mode & 0o7777;
    if src_mode & 0o111 == 0 {
        mode &= !0o111;
    } else if st_mode & 0o111 == 0 {
        mode |= (mode & 0o444) >> 2;
    }
    mode
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
        // Without a who, the umask applies to rwx (as chmod(1) and rsync).
        let um = crate::chmod::umask();
        assert_eq!(
            ChmodSpec::parse("D+w").expect("p").apply(0o040555),
            0o040555 | (0o222 & !um)
        );
        assert_eq!(
            ChmodSpec::parse("=r").expect("p").apply(0o104700),
            0o104000 | (0o444 & !um)
        );
        assert_eq!(ChmodSpec::parse("u+t").expect("p").apply(f), 0o101644);
        assert_eq!(ChmodSpec::parse("o=r").expect("p").apply(0o41750), 0o41754);
        assert_eq!(
            ChmodSpec::parse("u=rs").expect("p").apply(0o102755),
            0o106455
        );
        // Copies of a class's bits (the upstream chmod-option cases).
        for (spec, from, to) in [
            ("g=o,o=", 0o100647, 0o100670),
            ("g=u", 0o100741, 0o100771),
            ("g-o", 0o100775, 0o100725),
            ("u=g", 0o104755, 0o100555),
            ("g=u", 0o102755, 0o100775),
            ("o=u", 0o041750, 0o040757),
        ] {
            assert_eq!(ChmodSpec::parse(spec).expect("p").apply(from), to, "{spec}");
        }
        assert!(ChmodSpec::parse("g=ur").is_err());
        assert!(ChmodSpec::parse("u").is_err());
        assert!(ChmodSpec::parse("D77777").is_err());
    }
}
