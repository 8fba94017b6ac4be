//! `--list-only` (and a single source argument): the receiving side prints
//! one line per file-list entry instead of transferring
//! (`drwxr-xr-x          4,096 2026/11/28 19:00:00 name`).
use crate::text::big_num;
use protocol::flist::{FileEntry, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFSOCK};

/// `drwxr-xr-x` for a mode (upstream permstring).
// upstream: lib/permstring.c:permstring()
pub fn permstring(mode: u32) -> String {
    let mut p = [b'-'; 10];
    p[0] = match mode & S_IFMT {
        S_IFDIR => b'd',
        S_IFLNK => b'l',
        S_IFCHR => b'c',
        S_IFBLK => b'b',
        S_IFIFO => b'p',
        S_IFSOCK => b's',
        _ => b'-',
    };
    let bits = [
        (0o400, b'r'),
        (0o200, b'w'),
        (0o100, b'x'),
        (0o040, b'r'),
        (0o020, b'w'),
        (0o010, b'x'),
        (0o004, b'r'),
        (0o002, b'w'),
        (0o001, b'x'),
    ];
    for (i, (bit, c)) in bits.iter().enumerate() {
        if mode & bit != 0 {
            p[i + 1] = *c;
        }
    }
    let special = |p: &mut [u8; 10], at: usize, set: bool, lower: u8, upper: u8| {
        if set {
            p[at] = if p[at] == b'x' { lower } else { upper };
        }
    };
    special(&mut p, 3, mode & 0o4000 != 0, b's', b'S');
    special(&mut p, 6, mode & 0o2000 != 0, b's', b'S');
    special(&mut p, 9, mode & 0o1000 != 0, b't', b'T');
    String::from_utf8_lossy(&p).into_owned()
}

/// `YYYY/MM/DD hh:mm:ss` of a time in UTC (upstream timestring uses the
/// local zone; oxsync prints UTC).
pub fn timestring(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::stoptime::civil_from_days(days);
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The listing line for an entry (`links`: -l is on, so a symlink shows
/// its target; `human`: the -h level).
// upstream: generator.c:list_file_entry()
pub fn line(e: &FileEntry, links: bool, human: u8) -> String {
    let width = if human > 0 { 14 } else { 11 };
    let mut s = format!(
        "{} {:>width$} {} {}",
        permstring(e.mode),
        big_num(e.size().max(0) as u64, human),
        timestring(e.mtime()),
        crate::text::name_text(&e.name)
    );
    if links && e.mode & S_IFMT == S_IFLNK {
        if let Some(t) = e.link_target() {
            s.push_str(" -> ");
            s.push_str(&crate::text::name_text(t));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(permstring(0o40755), "drwxr-xr-x");
        assert_eq!(permstring(0o104755), "-rwsr-xr-x");
        assert_eq!(permstring(0o41777), "drwxrwxrwt");
        assert_eq!(permstring(0o102644), "-rw-r-Sr--");
        assert_eq!(timestring(0), "1970/01/01 00:00:00");
        assert_eq!(timestring(951_782_400), "2000/02/29 00:00:00");
        let e = FileEntry {
            name: b"dir".into(),
            mode: 0o40755,
            ..Default::default()
        }
        .with_size(4096)
        .with_mtime(1_600_000_000);
        assert_eq!(
            line(&e, false, 1),
            "drwxr-xr-x          4,096 2020/09/13 12:26:40 dir"
        );
        assert_eq!(
            line(&e, false, 0),
            "drwxr-xr-x        4096 2020/09/13 12:26:40 dir"
        );
        let l = FileEntry {
            name: b"l".into(),
            mode: 0o120777,
            ..Default::default()
        }
        .with_size(1)
        .with_link_target(b"a".to_vec());
        assert!(line(&l, true, 1).ends_with(" l -> a"));
        assert!(line(&l, false, 1).ends_with(" l"));
    }
}
