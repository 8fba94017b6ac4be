//! The rolling checksum (upstream checksum.c get_checksum1), over signed
//! bytes, as an incrementally updatable window.

/// sum1 of a whole buffer.
pub fn checksum1(data: &[u8]) -> u32 {
    let _ = data;
    todo!()
}

/// A rolling window state: `s1`, `s2` and the window length.
#[derive(Debug, Clone, Copy)]
pub struct Rolling {
    _p: (),
}

impl Rolling {
    /// State over `window`.
    pub fn new(window: &[u8]) -> Self {
        let _ = window;
        todo!()
    }
    /// Slides by one byte: `out` leaves the front, `inb` enters the back.
    pub fn roll(&mut self, out: u8, inb: u8) {
        let _ = (out, inb);
        todo!()
    }
    /// Removes `out` from the front without adding (window shrinks by one).
    pub fn shrink(&mut self, out: u8) {
        let _ = out;
        todo!()
    }
    /// The current sum1.
    pub fn digest(&self) -> u32 {
        todo!()
    }
}
