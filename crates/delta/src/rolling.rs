//! The rolling checksum (upstream checksum.c get_checksum1), over signed
//! bytes, as an incrementally updatable window.

/// A byte as upstream's `schar`, widened for mod-2³² arithmetic.
#[inline(always)]
pub(crate) fn sb(b: u8) -> u32 {
    b as i8 as i32 as u32
}

/// The two running sums of a buffer: `(s1, s2)`, each exact in its low 16
/// bits only (the high bits are zero).
///
/// Only those bits are ever observed: [`pack`] keeps the low 16 bits of
/// each, and rolling ([`Rolling::roll`], the matcher's scan) is addition,
/// subtraction and multiplication, whose low 16 bits depend on the low 16
/// bits of their operands alone.
///
/// With `n` bytes `x[i]`, s1 = Σ x[i] and s2 = Σ (n - i)·x[i] = n·s1 -
/// Σ i·x[i]: two sums with no dependence between bytes, which the compiler
/// turns into 16-bit vector instructions (eight or more bytes a step, on
/// plain x86-64 too), where the byte-at-a-time s2 += s1 cannot be.
// upstream: checksum.c:get_checksum1() (and its SSE2/AVX2 version in
// simd-checksum-x86_64.cpp)
#[inline]
pub(crate) fn sums(data: &[u8]) -> (u32, u32) {
    let mut s1: u16 = 0;
    let mut t: u16 = 0;
    for (i, &b) in data.iter().enumerate() {
        let x = b as i8 as i16 as u16;
        s1 = s1.wrapping_add(x);
        // i mod 2^16 is all the low 16 bits of the product need.
        t = t.wrapping_add((i as u16).wrapping_mul(x));
    }
    let s2 = (data.len() as u16).wrapping_mul(s1).wrapping_sub(t);
    (u32::from(s1), u32::from(s2))
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

    /// Every length from 0 to 160, with bytes at the signed extremes (0x7f,
    /// 0x80, 0xff) and a mix: the vectorized sums agree with the
    /// byte-at-a-time loop, also on lengths that are not a multiple of the
    /// vector width.
    #[test]
    fn lanes_match_naive_every_length() {
        let mixed: Vec<u8> = (0..160u32)
            .map(|i| (i.wrapping_mul(0x9e37_79b1) >> 13) as u8)
            .collect();
        for fill in [None, Some(0x7fu8), Some(0x80), Some(0xff), Some(0)] {
            let data: Vec<u8> = match fill {
                Some(b) => vec![b; mixed.len()],
                None => mixed.clone(),
            };
            for n in 0..=data.len() {
                assert_eq!(checksum1(&data[..n]), naive(&data[..n]), "{fill:?} len {n}");
            }
        }
    }

    /// Long runs where the 16-bit sums and the index wrap many times:
    /// still exact, at the largest block length (128 KiB), around it, and
    /// at 1 MiB.
    #[test]
    fn lanes_wrap_exactly() {
        for b in [0x80u8, 0xff, 0x7f] {
            for n in [(1 << 17) - 1, 1 << 17, (1 << 17) + 31, 1 << 20] {
                let data = vec![b; n];
                assert_eq!(checksum1(&data), naive(&data), "{b:#x} len {n}");
            }
        }
        let data: Vec<u8> = (0..(1u32 << 20) + 7)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        assert_eq!(checksum1(&data), naive(&data));
    }

    proptest! {
        #[test]
        fn lanes_match_naive(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            prop_assert_eq!(checksum1(&data), naive(&data));
        }

        #[test]
        fn lanes_match_naive_high_bytes(data in proptest::collection::vec(0x70u8..=0xff, 0..3000)) {
            prop_assert_eq!(checksum1(&data), naive(&data));
        }

        #[test]
        fn rolling_agrees(data in proptest::collection::vec(any::<u8>(), 1..400), w in 1usize..100) {
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
