//! `log format` and `transfer logging`: one line per transferred file,
//! built from rsync's `%` escapes (an optional width such as `%-50n` or
//! `%8l`; apostrophes for human-readable numbers are accepted and ignored).
use engine::itemize::ItemFormat;
use engine::out::FileEvent;

/// The default `log format`.
pub const DEFAULT_FORMAT: &str = "%o %h [%a] %m (%u) %f %l";

/// What a transfer log line can show.
#[derive(Debug, Clone, Default)]
pub struct LogFields {
    /// `%a`: the client's address.
    pub addr: String,
    /// `%h`: the client's host name.
    pub host: String,
    /// `%m`: the module name.
    pub module: String,
    /// `%P`: the module path.
    pub module_path: String,
    /// `%u`: the authenticated user (empty when none).
    pub user: String,
}

/// One file's values.
#[derive(Debug, Clone, Default)]
pub struct FileFields {
    /// `%o`: "send" or "recv".
    pub op: &'static str,
    /// `%n`: the name below the transfer root (a directory ends in `/`).
    pub name: String,
    /// `%f`: the name as the module sees it.
    pub full: String,
    /// `%l`: the file's length.
    pub length: i64,
    /// `%b` / `%c`: bytes transferred for it.
    pub bytes: i64,
    /// `%i`: the itemized changes.
    pub itemize: String,
    /// `%L`: ` -> TARGET` for a symlink.
    pub link: String,
    /// `%B`: permission bits as `rwxr-xr-x`.
    pub perms: String,
    /// `%M`: modification time.
    pub mtime: String,
    /// `%U` / `%G`: uid and gid.
    pub uid: u32,
    /// See `uid`.
    pub gid: u32,
    /// `%C`: a regular file's checksum from the file list (`-c`) in hex,
    /// else blanks of the same width (upstream's transfer sum is not kept).
    pub checksum: String,
}

/// The longest width spec of one escape (upstream: LOG_FMT_SIZE 32, less
/// the `%`, the conversion and room for a suffix).
const MAX_SPEC: usize = 23;

/// Expands `fmt` for one file.
// upstream: log.c:log_formatted()
pub fn expand(fmt: &str, s: &LogFields, f: &FileFields) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // At most MAX_SPEC width characters, as upstream's fixed buffer
        // (an over-wide escape is then an unknown one, kept literally).
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if spec.len() < MAX_SPEC && (d == '-' || d == '\'' || d.is_ascii_digit()) {
                spec.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let Some(letter) = chars.next() else {
            out.push('%');
            out.push_str(&spec);
            break;
        };
        let value = match letter {
            '%' => "%".to_string(),
            'a' => s.addr.clone(),
            'h' => s.host.clone(),
            'm' => s.module.clone(),
            'P' => s.module_path.clone(),
            'u' => s.user.clone(),
            'p' => std::process::id().to_string(),
            't' => crate::log::timestamp(now()),
            'o' => f.op.to_string(),
            'n' => f.name.clone(),
            'f' => f.full.clone(),
            // Each `'` raises the -h level of the number (upstream
            // do_big_num(): 1 separators, 2 and 3 units of 1000 / 1024).
            'l' => engine::text::big_num(f.length.max(0) as u64, humanize(&spec)),
            'b' | 'c' => engine::text::big_num(f.bytes.max(0) as u64, humanize(&spec)),
            'i' => f.itemize.clone(),
            'L' => f.link.clone(),
            'B' => f.perms.clone(),
            'M' => f.mtime.clone(),
            'U' => f.uid.to_string(),
            'G' => f.gid.to_string(),
            'C' => f.checksum.clone(),
            other => {
                out.push('%');
                out.push_str(&spec);
                out.push(other);
                continue;
            }
        };
        let width: String = spec.chars().filter(|c| *c != '-' && *c != '\'').collect();
        let width = width.as_str();
        let left = spec.contains('-');
        match width.parse::<usize>() {
            Ok(w) if left => out.push_str(&format!("{value:<w$}")),
            Ok(w) if width.starts_with('0') && value.parse::<i64>().is_ok() => {
                out.push_str(&format!("{value:0>w$}"))
            }
            Ok(w) => out.push_str(&format!("{value:>w$}")),
            Err(_) => out.push_str(&value),
        }
    }
    out
}

/// How many `'` an escape's spec has.
fn humanize(spec: &str) -> u8 {
    spec.chars().filter(|c| *c == '\'').count().min(3) as u8
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `hex` (two digits a byte) with its bytes in the opposite order.
pub fn reverse_hex(hex: &str) -> String {
    let b = hex.as_bytes();
    b.chunks(2)
        .rev()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

/// `rwxr-xr-x` for the permission bits of `mode`.
pub fn perms(mode: u32) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let b = (mode >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// The values of one engine event; `prefix` is the transfer root's path
/// below the module root.
pub fn file_fields(ev: &FileEvent<'_>, prefix: &str) -> FileFields {
    let e = ev.entry;
    let mut name = String::from_utf8_lossy(&e.name).into_owned();
    if e.is_dir() && !name.ends_with('/') {
        name.push('/');
    }
    let full = if prefix.is_empty() {
        name.clone()
    } else {
        format!("{}/{name}", prefix.trim_end_matches('/'))
    };
    let fmt = ItemFormat {
        itemize: 1,
        verbose: 0,
        sender: ev.sender,
        local: false,
        preserve_mtimes: true,
    };
    FileFields {
        op: if ev.sender { "send" } else { "recv" },
        name,
        full,
        length: e.size(),
        bytes: if e.is_file() { e.size() } else { 0 },
        itemize: fmt.change_string(ev.iflags, e),
        link: e
            .link_target()
            .map(|t| format!(" -> {}", String::from_utf8_lossy(t)))
            .unwrap_or_default(),
        perms: perms(e.mode),
        mtime: crate::log::timestamp(e.mtime()).replace(' ', "-"),
        uid: e.uid,
        gid: e.gid,
        checksum: match e.checksum() {
            Some(sum) if e.is_file() => sum.iter().map(|b| format!("{b:02x}")).collect(),
            _ => " ".repeat(32),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let s = LogFields {
            addr: "127.0.0.1".into(),
            host: "localhost".into(),
            module: "mod".into(),
            module_path: "/srv".into(),
            user: "".into(),
        };
        let f = FileFields {
            op: "recv",
            name: "a.txt".into(),
            full: "sub/a.txt".into(),
            length: 6,
            bytes: 6,
            ..FileFields::default()
        };
        assert_eq!(
            expand(DEFAULT_FORMAT, &s, &f),
            "recv localhost [127.0.0.1] mod () sub/a.txt 6"
        );
        assert_eq!(
            expand("%-6n|%4l|%05b|%P|%%|%z", &s, &f),
            "a.txt |   6|00006|/srv|%|%z"
        );
        assert_eq!(perms(0o100754), "rwxr-xr--");
    }
}
