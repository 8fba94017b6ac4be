//! Harness for a fuzz target: filter rules as a peer sends them. Feeds
//! arbitrary bytes to the wire decoder and matches the rules it accepted
//! against names taken from the same bytes; must never panic or hang
//! (errors are fine). Kept in the crate so it builds and is tested with
//! every build.
use crate::{FilterList, Side};

/// The first byte picks the protocol (28..=31) and whether the section
/// is framed (`decode_wire`) or one rule text per line (`from_wire`); the
/// rest is split into the rule section and names to match.
pub fn wire_rules(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let protocol = 28 + u32::from(sel % 4);
    // A per-directory merge file's content comes from the same bytes.
    let merge_text = rest.get(..rest.len().min(256)).unwrap_or(&[]).to_vec();
    let mut read = |_: &[u8]| Some(merge_text.clone());
    let (list, names) = if sel & 4 != 0 {
        match FilterList::decode_wire(rest, protocol, &mut |_| None) {
            Ok(Some((l, used))) => (l, &rest[used..]),
            _ => return,
        }
    } else {
        let mut parts = rest.splitn(2, |&b| b == 0xFF);
        let rules = parts.next().unwrap_or(&[]);
        let names = parts.next().unwrap_or(&[]);
        match FilterList::from_wire(rules.split(|&b| b == b'\n'), protocol, &mut |_| None) {
            Ok(l) => (l, names),
            Err(_) => return,
        }
    };
    let mut list = list;
    for (i, name) in names.split(|&b| b == b'\n').take(16).enumerate() {
        let is_dir = i % 2 == 1;
        let _ = list.check(name, is_dir);
        let _ = list.check_side(name, is_dir, Side::Receiver, i % 3 == 0);
        let _ = list.is_xattr_excluded(name, Side::Sender);
        if is_dir && list.enter_dir(name, &mut read).is_ok() {
            let _ = list.check(b"x", false);
            list.leave_dir();
        }
    }
    let _ = list.to_texts();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edge_inputs() {
        for data in [
            &b""[..],
            &b"\x04\x05\x00\x00\x00- *.c\x00\x00\x00\x00a.c\nb"[..],
            &b"\x01+ a/**\n- *\n: .f\xFFa/b\nc\nd"[..],
            &b"\x00dir-merge /x\xFFa\nb"[..],
            &[0x04, 0xFF, 0xFF, 0xFF, 0x7F][..],
        ] {
            wire_rules(data);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn arbitrary_rule_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            wire_rules(&data);
        }

        #[test]
        fn rule_shaped_input_never_panics(
            sel in any::<u8>(),
            rules in proptest::collection::vec("[-+PRHSpx!:.,/* ?\\[\\]a-c]{0,12}", 0..6),
            names in proptest::collection::vec("[a-c/.*]{0,8}", 0..6),
        ) {
            let mut data = vec![sel & !4];
            data.extend_from_slice(rules.join("\n").as_bytes());
            data.push(0xFF);
            data.extend_from_slice(names.join("\n").as_bytes());
            wire_rules(&data);
        }
    }
}
