//! Filter rules on the wire (protocol.md §10.2): what a client sends and how
//! a server reads what it receives.

use crate::error::Error;
use crate::list::{Entry, FilterList, ReadFn};
use crate::rule::{self, lossy, prefix_for, Rule};

/// Longest rule a receiver accepts (upstream's line buffer, BIGPATHBUFLEN - 1).
pub const MAX_WIRE_RULE_LEN: usize = 5119;

/// Whose side a rule text is sent from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireOptions {
    /// The negotiated protocol version.
    pub protocol: u32,
    /// True if the sending client is the file sender (push), false if it is
    /// the receiver (pull).
    pub am_sender: bool,
}

impl FilterList {
    /// The rule texts a client sends, in order (without length framing):
    /// side-specific rules meant for this side only are left out, `-C` is
    /// expanded to the CVS list when the client is the sender (or protocol
    /// < 29), dir-merge rules are sent as rules.
    // upstream: exclude.c:send_rules()
    pub fn wire_rules(&self, opts: WireOptions) -> Result<Vec<Vec<u8>>, Error> {
        let mut out = Vec::new();
        self.send_entries(&self.rules, opts, &mut out)?;
        Ok(out)
    }

    /// [`FilterList::wire_rules`] framed for the wire: each rule as `i32le`
    /// length plus bytes, then an `i32le` 0 terminator, appended to `out`.
    // upstream: exclude.c:send_filter_list()
    pub fn encode_wire(&self, opts: WireOptions, out: &mut Vec<u8>) -> Result<(), Error> {
        for r in self.wire_rules(opts)? {
            out.extend_from_slice(&(r.len() as i32).to_le_bytes());
            out.extend_from_slice(&r);
        }
        out.extend_from_slice(&0i32.to_le_bytes());
        Ok(())
    }

    /// Adds one rule received from the client (the bytes after its length).
    /// At protocol < 29 the old syntax applies (bare pattern = exclude).
    /// A `merge` rule reads its file through `read`.
    // upstream: exclude.c:recv_filter_list()
    pub fn add_wire_rule(
        &mut self,
        text: &[u8],
        protocol: u32,
        read: &mut ReadFn<'_>,
    ) -> Result<(), Error> {
        if text.len() > MAX_WIRE_RULE_LEN {
            return Err(Error::WireTooLong {
                len: text.len(),
                max: MAX_WIRE_RULE_LEN,
            });
        }
        if protocol >= 29 {
            self.add_filter(text, read)
        } else {
            self.add_exclude(text)
        }
    }

    /// Builds a server's list from received rule texts.
    pub fn from_wire<I, T>(
        rules: I,
        protocol: u32,
        read: &mut ReadFn<'_>,
    ) -> Result<FilterList, Error>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut l = FilterList::new();
        for r in rules {
            l.add_wire_rule(r.as_ref(), protocol, read)?;
        }
        Ok(l)
    }

    /// Decodes a complete framed rule section from `buf` (as written by
    /// [`FilterList::encode_wire`]). Returns the list and the bytes consumed,
    /// or `Ok(None)` if `buf` does not yet hold the whole section.
    pub fn decode_wire(
        buf: &[u8],
        protocol: u32,
        read: &mut ReadFn<'_>,
    ) -> Result<Option<(FilterList, usize)>, Error> {
        let mut l = FilterList::new();
        let mut pos = 0;
        loop {
            let Some(len) = buf.get(pos..pos + 4) else {
                return Ok(None);
            };
            let len = i32::from_le_bytes([len[0], len[1], len[2], len[3]]);
            pos += 4;
            if len == 0 {
                return Ok(Some((l, pos)));
            }
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > MAX_WIRE_RULE_LEN {
                return Err(Error::WireTooLong {
                    len,
                    max: MAX_WIRE_RULE_LEN,
                });
            }
            let Some(text) = buf.get(pos..pos + len) else {
                return Ok(None);
            };
            l.add_wire_rule(text, protocol, read)?;
            pos += len;
        }
    }

    fn send_entries(
        &self,
        entries: &[Entry],
        opts: WireOptions,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), Error> {
        for e in entries {
            let r: &Rule = match e {
                Entry::Rule(r) | Entry::Cvs(r) => r,
                Entry::PerDir(id) => match self.merges.get(*id) {
                    Some(m) => &m.rule,
                    None => continue,
                },
            };
            let f = r.flags;
            let sides = f & rule::SIDES;
            // true: the rule stays on this side only.
            let local_only = if sides == rule::SENDER_SIDE {
                opts.am_sender
            } else if sides == rule::RECEIVER_SIDE {
                !opts.am_sender
            } else if sides == 0
                && self.delete_excluded
                && (f & rule::PERDIR_MERGE == 0 || f & rule::NO_PREFIXES != 0)
            {
                opts.am_sender
            } else {
                false
            };
            if local_only {
                continue;
            }
            if matches!(e, Entry::Cvs(_)) && (opts.am_sender || opts.protocol < 29) {
                self.send_entries(&self.cvs, opts, out)?;
                continue;
            }
            let prefix = prefix_for(f, &r.pattern, Some(opts.protocol), opts.am_sender)
                .ok_or_else(|| Error::TooModern {
                    protocol: opts.protocol,
                    text: lossy(&r.to_text()),
                })?;
            let mut text = prefix;
            text.extend_from_slice(&r.pattern);
            if f & rule::DIRECTORY != 0 {
                text.push(b'/');
            }
            if !text.is_empty() {
                out.push(text);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Match;

    fn none(_: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn list(rules: &[&str]) -> FilterList {
        let mut l = FilterList::new();
        for r in rules {
            l.add_filter(r.as_bytes(), &mut none).unwrap();
        }
        l
    }

    fn texts(l: &FilterList, protocol: u32, am_sender: bool) -> Vec<String> {
        l.wire_rules(WireOptions {
            protocol,
            am_sender,
        })
        .unwrap()
        .iter()
        .map(|r| lossy(r))
        .collect()
    }

    #[test]
    fn prefixes_and_elision() {
        let l = list(&[
            "exclude *.o",
            "include /src/",
            "hide h",
            "show s",
            "protect p",
            "risk r",
            "dir-merge .rsync-filter",
            "-/! x",
            "-p core",
            "clear",
            "- a",
            "+ b/",
            "-!s c",
            ":n- .f",
        ]);
        assert_eq!(texts(&l, 31, false), ["- a", "+ b/", "-!s c", ":n- .f"]);
        assert_eq!(texts(&l, 31, true), ["- a", "+ b/", ":n- .f"]);
        let l = list(&[
            "exclude *.o",
            "include /src/",
            "H h",
            "S s",
            "P p",
            "R r",
            ": .rsync-filter",
            "-/! x",
            "-p core",
        ]);
        assert_eq!(
            texts(&l, 31, false),
            [
                "- *.o",
                "+ /src/",
                "-s h",
                "+s s",
                ": .rsync-filter",
                "-/! x",
                "-p core"
            ]
        );
        assert_eq!(
            texts(&l, 31, true),
            [
                "- *.o",
                "+ /src/",
                "-r p",
                "+r r",
                ": .rsync-filter",
                "-/! x",
                "-p core"
            ]
        );
        assert_eq!(texts(&l, 29, false)[6], "- core");
        assert!(matches!(
            l.wire_rules(WireOptions {
                protocol: 29,
                am_sender: true
            }),
            Err(Error::TooModern { protocol: 29, .. })
        ));
        assert_eq!(
            texts(&list(&["- x", "+ y", "- - z"]), 28, true),
            ["x", "+ y", "- - z"]
        );
        assert!(list(&[": .f"])
            .wire_rules(WireOptions {
                protocol: 28,
                am_sender: true
            })
            .is_err());
    }

    #[test]
    fn cvs_and_delete_excluded() {
        let mut l = FilterList::new();
        l.add_cvs_exclude(&mut none).unwrap();
        assert_eq!(texts(&l, 31, false), [":C .cvsignore", "-C "]);
        let sent = texts(&l, 31, true);
        assert_eq!(sent[0], ":C .cvsignore");
        assert_eq!(sent[1], "-p RCS");
        assert_eq!(sent.last().unwrap(), "-p .bzr/");
        let mut l = list(&["- a", ":- .f", ": .g"]);
        l.set_delete_excluded();
        assert_eq!(texts(&l, 31, true), [": .g"]);
        assert_eq!(texts(&l, 31, false), ["-s a", ":- .f", ": .g"]);
    }

    #[test]
    fn framing_round_trip() {
        let l = list(&["- *.o", "+ /src/", "-r keep", ": .rsync-filter", "-/! x"]);
        let opts = WireOptions {
            protocol: 31,
            am_sender: true,
        };
        let mut buf = Vec::new();
        l.encode_wire(opts, &mut buf).unwrap();
        assert_eq!(&buf[..4], &5i32.to_le_bytes());
        assert_eq!(&buf[4..9], b"- *.o");
        let (back, used) = FilterList::decode_wire(&buf, 31, &mut none)
            .unwrap()
            .unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(back.wire_rules(opts).unwrap(), l.wire_rules(opts).unwrap());
        assert!(
            FilterList::decode_wire(&buf[..buf.len() - 1], 31, &mut none)
                .unwrap()
                .is_none()
        );
        let mut bad = 6000i32.to_le_bytes().to_vec();
        bad.extend_from_slice(&[b'x'; 10]);
        assert!(matches!(
            FilterList::decode_wire(&bad, 31, &mut none),
            Err(Error::WireTooLong { .. })
        ));
        assert!(FilterList::decode_wire(&(-1i32).to_le_bytes(), 31, &mut none).is_err());
        assert!(matches!(
            FilterList::from_wire(["bogus"], 31, &mut none),
            Err(Error::Rule { .. })
        ));
    }

    #[test]
    fn old_protocol_receive() {
        let l = FilterList::from_wire(["x", "+ y", "- - z"], 28, &mut none).unwrap();
        assert_eq!(l.check(b"x", false), Match::Exclude);
        assert_eq!(l.check(b"y", false), Match::Include);
        assert_eq!(l.check(b"- z", false), Match::Exclude);
    }
}
