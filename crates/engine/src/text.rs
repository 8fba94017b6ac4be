//! Text helpers every layer uses: names as text without losing bytes, the
//! escaping of output lines, numbers as the summary and `--stats` print
//! them.

/// A number the way the summary and `--stats` print it at this
/// `human_readable` level: plain digits (0), digit groups (1), or units of
/// 1000 (2) or 1024 (3) above 1000 (upstream do_big_num with no fraction
/// digits; "1.23K" style with two).
// upstream: lib/compat.c:do_big_num()
pub fn big_num(n: u64, human: u8) -> String {
    if human > 1 {
        let mult = if human == 2 { 1000.0 } else { 1024.0 };
        let units = ['K', 'M', 'G', 'T', 'P'];
        if n as f64 >= mult {
            let mut v = n as f64 / mult;
            let mut u = 0;
            while v >= mult && u < units.len() - 1 {
                v /= mult;
                u += 1;
            }
            return format!("{v:.2}{}", units[u]);
        }
        return n.to_string();
    }
    if human == 0 {
        return n.to_string();
    }
    comma(n)
}

/// Whether the locale's character set is UTF-8 (LC_ALL, LC_CTYPE, LANG).
pub fn utf8_locale() -> bool {
    for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                let v = v.to_ascii_lowercase();
                return v.contains("utf-8") || v.contains("utf8");
            }
        }
    }
    false
}

/// A name as text without losing bytes: invalid UTF-8 bytes become the
/// private-use characters U+10FF00 + byte, which the output paths turn
/// back into the raw byte ([`unmask`]) before escaping or sending it.
pub fn name_text(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        s.push_str(chunk.valid());
        for &b in chunk.invalid() {
            s.push(char::from_u32(0x10_FF00 + u32::from(b)).unwrap_or('?'));
        }
    }
    s
}

/// Undoes [`name_text`]'s masking: the raw bytes of a line.
pub fn unmask(text: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !text.windows(2).any(|w| w == [0xf4, 0x8f]) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if i + 3 < text.len()
            && text[i] == 0xf4
            && text[i + 1] == 0x8f
            && (0xbc..=0xbf).contains(&text[i + 2])
            && (0x80..=0xbf).contains(&text[i + 3])
        {
            out.push(((text[i + 2] & 3) << 6) | (text[i + 3] & 0x3f));
            i += 4;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Escapes one output line as upstream does before writing it: control
/// characters (but tab) and a literal `\#ddd` become `\#ooo`; without `-8`
/// also high-bit bytes that are not a character of the locale (valid
/// UTF-8 in a UTF-8 locale passes).
// upstream: log.c:rwrite() and filtered_fwrite()
pub fn escape_line(line: &[u8], eight_bit: bool, utf8: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if !eight_bit && b >= 0x80 && utf8 {
            let len = match b {
                0xc2..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf4 => 4,
                _ => 0,
            };
            if len > 0 && i + len <= line.len() && std::str::from_utf8(&line[i..i + len]).is_ok() {
                out.extend_from_slice(&line[i..i + len]);
                i += len;
                continue;
            }
        }
        let literal_escape = b == b'\\'
            && line.len() >= i + 5
            && line[i + 1] == b'#'
            && line[i + 2..i + 5].iter().all(u8::is_ascii_digit);
        let bad = (b < b' ' && b != b'\t') || (!eight_bit && b >= 0x80);
        if literal_escape || bad {
            out.extend_from_slice(format!("\\#{b:03o}").as_bytes());
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// 1234567 -> "1,234,567" (rsync's default human-readable level 1).
pub fn comma(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(big_num(1234567, 0), "1234567");
        assert_eq!(big_num(1234567, 1), "1,234,567");
        assert_eq!(big_num(1234567, 2), "1.23M");
        assert_eq!(big_num(1234567, 3), "1.18M");
        assert_eq!(big_num(999, 2), "999");
    }

    #[test]
    fn masked_names() {
        let t = name_text(b"a\xffb\xc3");
        assert_eq!(unmask(t.as_bytes()).as_ref(), b"a\xffb\xc3");
        assert_eq!(name_text("é".as_bytes()), "é");
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_line(b"a\nb\tc", false, false), b"a\\#012b\tc");
        assert_eq!(escape_line("é".as_bytes(), false, true), "é".as_bytes());
        assert_eq!(escape_line("é".as_bytes(), false, false), b"\\#303\\#251");
        assert_eq!(escape_line("é".as_bytes(), true, false), "é".as_bytes());
        assert_eq!(escape_line(b"\xff", false, true), b"\\#377");
        assert_eq!(escape_line(b"x\\#123", true, false), b"x\\#134#123");
    }

    #[test]
    fn commas() {
        assert_eq!(comma(0), "0");
        assert_eq!(comma(999), "999");
        assert_eq!(comma(1000), "1,000");
        assert_eq!(comma(52428812), "52,428,812");
    }
}
