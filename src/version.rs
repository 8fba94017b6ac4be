//! `--version` and `-VV`: what this oxsync is and what it supports, as text
//! or as upstream's JSON (upstream usage.c print_rsync_version /
//! print_info_flags / output_nno_list). Scripts, and rsync's own test
//! suite, decide from `-VV` what to try, so every entry must tell the truth:
//! when a feature lands, flip its entry in [`CAPABILITIES`] (e.g. `"no ACLs"`
//! to `"ACLs"`).

/// The capability items in upstream's order and words: `"NAME"` (has it),
/// `"no NAME"` (has not), `"WORD NAME"` (a value) or `"N-bit NAME"`.
pub const CAPABILITIES: &[&str] = &[
    "64-bit files",
    "64-bit inums",
    "64-bit timestamps",
    "64-bit long ints",
    "socketpairs",
    "symlinks",
    "symtimes",
    "hardlinks",
    "hardlink-specials",
    "hardlink-symlinks",
    "IPv6",
    "atimes",
    "batchfiles",
    "inplace",
    "append",
    "ACLs",
    // Received ACLs are set through a descriptor pinned beneath the
    // destination (race-safe), as upstream's "ACL-at".
    "ACL-at",
    "xattrs",
    "optional secluded-args",
    "iconv",
    "prealloc",
    "stop-at",
    "no crtimes",
    "no IDN",
];

/// Upstream's optimization items (none of them applies to oxsync).
pub const OPTIMIZATIONS: &[&str] = &[
    "no SIMD-roll",
    "no asm-roll",
    "no openssl-crypto",
    "no asm-MD5",
];

/// Checksums `--checksum-choice` accepts and the negotiation offers.
const CHECKSUMS: &[&str] = &delta::checksum::ChecksumKind::NAMES;

const COPYRIGHT: &str = "(C) the oxsync authors; the rsync protocol (C) 1996-2025 by Andrew \
                         Tridgell, Wayne Davison, and others.";
const URL: &str = "https://rsync.samba.org/";

/// The compressors, with `none` last as upstream lists it.
fn compressors() -> Vec<&'static str> {
    let mut v = protocol::compress::Codec::PREFERENCE.to_vec();
    v.push("none");
    v
}

/// The (list name, names) tables printed after the flags.
fn name_lists() -> [(&'static str, Vec<&'static str>); 3] {
    [
        ("Checksum list", CHECKSUMS.to_vec()),
        ("Compress list", compressors()),
        ("Daemon auth list", daemon::auth::DAEMON_DIGESTS.to_vec()),
    ]
}

/// One item as JSON (`"file_bits": 64`, `"ACLs": false`,
/// `"secluded_args": "optional"`), as upstream derives it from the words.
fn json_item(item: &str) -> String {
    let (key, value) = match item.split_once(' ') {
        None => (item.to_string(), "true".to_string()),
        Some(("no", name)) => (name.to_string(), "false".to_string()),
        Some((word, name)) if word.starts_with(|c: char| c.is_ascii_digit()) => {
            // "64-bit files" -> "file_bits": 64
            let bits = word.split('-').next().unwrap_or(word);
            let stem = name.strip_suffix('s').unwrap_or(name);
            (format!("{stem}_bits"), bits.to_string())
        }
        Some((word, name)) => (name.to_string(), format!("\"{word}\"")),
    };
    format!("\"{}\": {value}", key.replace([' ', '-'], "_"))
}

/// Items filled into lines the way upstream does (a 75-byte line buffer,
/// each item led by a space and followed by a comma unless last).
fn fill(items: &[String], out: &mut String) {
    let mut line = String::new();
    for (i, item) in items.iter().enumerate() {
        let comma = if i + 1 < items.len() { "," } else { "" };
        let piece = format!(" {item}{comma}");
        if !line.is_empty() && line.len() + piece.len() >= 75 {
            out.push_str(&format!("   {line}\n"));
            line.clear();
        }
        line.push_str(&piece);
    }
    if !line.is_empty() {
        out.push_str(&format!("   {line}\n"));
    }
}

/// `oxsync --version` (also the head of `--help`).
pub fn text() -> String {
    let mut out = format!(
        "oxsync  version {} (rsync-compatible)  protocol version {}\n\
         Copyright {COPYRIGHT}\nWeb site: {URL}\n",
        env!("CARGO_PKG_VERSION"),
        protocol::PROTOCOL_VERSION,
    );
    for (title, items) in [
        ("Capabilities", CAPABILITIES),
        ("Optimizations", OPTIMIZATIONS),
    ] {
        out.push_str(&format!("{title}:\n"));
        fill(
            &items.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &mut out,
        );
    }
    for (title, names) in name_lists() {
        // Aliases follow their name in parentheses, as upstream lists them
        // (the JSON leaves them out).
        let words: Vec<String> = names
            .iter()
            .map(|&n| match n {
                "xxh64" => "xxh64 (xxhash)".to_string(),
                n => n.to_string(),
            })
            .collect();
        out.push_str(&format!("{title}:\n    {}\n", words.join(" ")));
    }
    out.push_str(&format!(
        "Speaks rsync protocols {} to {}.\n\n\
         oxsync comes with ABSOLUTELY NO WARRANTY.  This is free software, and you\n\
         are welcome to redistribute it under certain conditions.  See the GNU\n\
         General Public Licence for details.\n",
        protocol::MIN_PROTOCOL_VERSION,
        protocol::PROTOCOL_VERSION
    ));
    out
}

/// `oxsync -VV`: upstream's JSON, key for key.
pub fn json() -> String {
    let quoted = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::from("{");
    let field = |out: &mut String, name: &str, value: &str| {
        out.push_str(&format!("\n  \"{name}\": \"{}\",", quoted(value)));
    };
    field(&mut out, "program", "oxsync");
    field(&mut out, "version", env!("CARGO_PKG_VERSION"));
    field(
        &mut out,
        "protocol",
        &format!("{}.0", protocol::PROTOCOL_VERSION),
    );
    field(&mut out, "copyright", COPYRIGHT);
    out.push_str(&format!("\n  \"url\": \"{URL}\""));
    for (title, items) in [
        ("capabilities", CAPABILITIES),
        ("optimizations", OPTIMIZATIONS),
    ] {
        out.push_str(&format!(",\n  \"{title}\": {{\n"));
        fill(
            &items.iter().map(|s| json_item(s)).collect::<Vec<_>>(),
            &mut out,
        );
        out.push_str("  }");
    }
    for (title, names) in name_lists() {
        let key = title.to_lowercase().replace(' ', "_");
        let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        out.push_str(&format!(",\n  \"{key}\": [\n    {}\n  ]", list.join(", ")));
    }
    out.push_str(",\n  \"license\": \"GPLv3\"");
    out.push_str(",\n  \"caveat\": \"oxsync comes with ABSOLUTELY NO WARRANTY\"\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_as_upstream_names_them() {
        assert_eq!(json_item("64-bit files"), "\"file_bits\": 64");
        assert_eq!(json_item("64-bit long ints"), "\"long_int_bits\": 64");
        assert_eq!(json_item("no ACLs"), "\"ACLs\": false");
        assert_eq!(
            json_item("hardlink-specials"),
            "\"hardlink_specials\": true"
        );
        assert_eq!(
            json_item("optional secluded-args"),
            "\"secluded_args\": \"optional\""
        );
        assert_eq!(json_item("no SIMD-roll"), "\"SIMD_roll\": false");
    }
}
