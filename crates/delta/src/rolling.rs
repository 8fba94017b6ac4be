//! The rolling checksum (upstream checksum.c get_checksum1), over signed
//! bytes, as an incrementally updatable window.

/// A byte as upstream's `schar`, widened for mod-2³² arithmetic.
#[inline(always)]
pub(crate) fn sb(b: u8) -> u32 {
    b as i8 as i32 as u32
}

/// The two running sums of a buffer: `(s1, s2)`.
#[inline]
pub(crate) fn sums(data: &[u8]) -> (u32, u32) {
    let mut s1: u32 = 0;
    let mut s2: u32 = 0;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let (a, b, d, e) = (sb(c[0]), sb(c[1]), sb(c[2]), sb(c[3]));
        s2 = s2
            .wrapping_add(s1.wrapping_add(a).wrapping_mul(4))
            .wrapping_add(b.wrapping_mul(3))
            .wrapping_add(d.wrapping_mul(2))
            .wrapping_add(e);
        s1 = s1
            .wrapping_add(a)
            .wrapping_add(b)
            .wrapping_add(d)
            .wrapping_add(e);
    }
    for &x in chunks.remainder() {
        s1 = s1.wrapping_add(sb(x));
        s2 = s2.wrapping_add(s1);
    }
    (s1, s2)
}

/// Packs the two running sums into the wire value.
#[inline(always)]
pub(crate) fn pack(s1: u32, s2: u32) -> u32 {
    (s1 & 0xffff) | (s2 << 16)
}

/// sum1 of a whole buffer.
// upstream: checksum.c:get_checksum1()
pub fn checksum1(data: &[u8]) -> u32 {
    let (s1, s2) = sums(data);
    pack(s1, s2)
}

/// A rolling window state: `s1`, `s2` and the window length.
#[derive(Debug, Clone, Copy)]
pub struct Rolling {
    s1: u32,
    s2: u32,
    len: u32,
}

impl Rolling {
    /// State over `window`.
    pub fn new(window: &[u8]) -> Self {
        let (s1, s2) = sums(window);
        Rolling {
            s1,
            s2,
            len: window.len() as u32,
        }
    }
    /// Slides by one byte: `out` leaves the front, `inb` enters the back.
    // upstream: match.c:hash_search()
    #[inline]
    pub fn roll(&mut self, out: u8, inb: u8) {
        let o = sb(out);
        self.s1 = self.s1.wrapping_sub(o).wrapping_add(sb(inb));
        self.s2 = self
            .s2
            .wrapping_sub(self.len.wrapping_mul(o))
            .wrapping_add(self.s1);
    }
    /// Removes `out` from the front without adding (window shrinks by one).
    #[inline]
    pub fn shrink(&mut self, out: u8) {
        let o = sb(out);
        self.s1 = self.s1.wrapping_sub(o);
        self.s2 = self.s2.wrapping_sub(self.len.wrapping_mul(o));
        self.len = self.len.wrapping_sub(1);
    }
    /// The current sum1.
    #[inline]
    pub fn digest(&self) -> u32 {
        pack(self.s1, self.s2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(data: &[u8]) -> u32 {
        let mut s1: u32 = 0;
        let mut s2: u32 = 0;
        for &b in data {
            s1 = s1.wrapping_add(b as i8 as i32 as u32);
            s2 = s2.wrapping_add(s1);
        }
        (s1 & 0xffff) | (s2 << 16)
    }

    #[test]
    fn known_values() {
        assert_eq!(checksum1(b""), 0);
        // s1 = 1+2+3 = 6, s2 = 1+3+6 = 10
        assert_eq!(checksum1(&[1, 2, 3]), 6 | (10 << 16));
        // signed: 0xff counts as -1
        assert_eq!(checksum1(&[0xff]), 0xffff | (0xffff << 16));
    }

    proptest! {
        #[test]
        fn unrolled_matches_naive(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(checksum1(&data), naive(&data));
        }

        #[test]
        fn rolling_agrees(data in proptest::collection::vec(any::<u8>(), 1..400), w in 1usize..64) {
            let w = w.min(data.len());
            let mut r = Rolling::new(&data[..w]);
            prop_assert_eq!(r.digest(), checksum1(&data[..w]));
            for p in 1..=data.len() - w {
                r.roll(data[p - 1], data[p + w - 1]);
                prop_assert_eq!(r.digest(), checksum1(&data[p..p + w]));
            }
            // shrink the final window down to nothing
            let start = data.len() - w;
            for p in start..data.len() {
                r.shrink(data[p]);
                prop_assert_eq!(r.digest(), checksum1(&data[p + 1..]));
            }
        }
    }
}
