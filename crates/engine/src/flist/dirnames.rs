//! The names of one directory of the sender's walk, sorted: read once
//! from its open [`confine::Listing`] into one buffer (no allocation per
//! name), in byte order so that the walk (and what it reports) goes the
//! same way on every run.
use confine::Listing;

/// The sorted names of a directory.
#[derive(Debug, Default)]
pub(super) struct DirNames {
    bytes: Vec<u8>,
    /// (start, len) of each name in `bytes`, sorted by name.
    spans: Vec<(u32, u32)>,
}

impl DirNames {
    /// Reads and sorts the names of `dir`.
    pub(super) fn read(dir: &Listing) -> Result<DirNames, confine::Error> {
        let mut n = DirNames::default();
        dir.for_each_name(|name| n.add(name))?;
        n.sort();
        Ok(n)
    }

    fn add(&mut self, name: &[u8]) {
        // A directory's names fit in u32 offsets (getdents returns at most
        // what the filesystem holds; a name is at most 255 bytes).
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(name);
        self.spans.push((start, name.len() as u32));
    }

    fn sort(&mut self) {
        let bytes = &self.bytes;
        let name = |&(s, l): &(u32, u32)| &bytes[s as usize..(s + l) as usize];
        self.spans.sort_unstable_by(|a, b| name(a).cmp(name(b)));
    }

    /// Number of names.
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The names in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.spans
            .iter()
            .map(|&(s, l)| &self.bytes[s as usize..(s + l) as usize])
    }
}

impl confine::Names for DirNames {
    fn name(&self, i: usize) -> &[u8] {
        let (s, l) = self.spans[i];
        &self.bytes[s as usize..(s + l) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_by_bytes() {
        let mut n = DirNames::default();
        for name in [&b"b"[..], b"a\xff", b"B", b"a", b"ab"] {
            n.add(name);
        }
        n.sort();
        let got: Vec<&[u8]> = n.iter().collect();
        assert_eq!(got, vec![&b"B"[..], b"a", b"ab", b"a\xff", b"b"]);
        assert_eq!(n.len(), 5);
    }
}
