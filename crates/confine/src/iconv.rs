//! The C library's iconv (glibc), for `--iconv`: a thin wrapper around
//! iconv_open / iconv / iconv_close and the locale's charset
//! (nl_langinfo(CODESET)). The only unsafe code of the charset conversion.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;

/// One conversion descriptor (upstream's ic_send or ic_recv).
#[derive(Debug)]
pub struct Iconv {
    cd: libc::iconv_t,
}

// SAFETY: an iconv descriptor has no thread affinity; `Iconv` is only used
// through `&mut self`, so one thread at a time.
unsafe impl Send for Iconv {}

impl Iconv {
    /// Opens a conversion from charset `from` to charset `to`.
    pub fn open(to: &str, from: &str) -> io::Result<Iconv> {
        let to = CString::new(to).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let from = CString::new(from).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: both arguments are NUL-terminated strings that live
        // across the call.
        let cd = unsafe { libc::iconv_open(to.as_ptr(), from.as_ptr()) };
        if cd as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(Iconv { cd })
    }

    /// Converts all of `input` (from the initial shift state), producing at
    /// most `max_out` bytes: E2BIG beyond that, EILSEQ for an invalid
    /// sequence, EINVAL for an incomplete one at the end.
    pub fn convert(&mut self, input: &[u8], max_out: usize) -> io::Result<Vec<u8>> {
        let mut out = vec![0u8; max_out];
        // SAFETY: null pointers reset the descriptor's shift state.
        unsafe {
            libc::iconv(
                self.cd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        let mut in_ptr = input.as_ptr() as *mut libc::c_char;
        let mut in_left = input.len();
        let mut out_ptr = out.as_mut_ptr() as *mut libc::c_char;
        let mut out_left = out.len();
        // SAFETY: the pointers and counts describe `input` (only read) and
        // `out` (written within `out_left` bytes); iconv advances both
        // within their bounds.
        let r = unsafe {
            libc::iconv(
                self.cd,
                &mut in_ptr,
                &mut in_left,
                &mut out_ptr,
                &mut out_left,
            )
        };
        if r == usize::MAX {
            return Err(io::Error::last_os_error());
        }
        // Flush any shift sequence the output charset ends with.
        // SAFETY: a null input flushes into `out` within `out_left` bytes.
        let r = unsafe {
            libc::iconv(
                self.cd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut out_ptr,
                &mut out_left,
            )
        };
        if r == usize::MAX {
            return Err(io::Error::last_os_error());
        }
        out.truncate(max_out - out_left);
        Ok(out)
    }
}

impl Drop for Iconv {
    fn drop(&mut self) {
        // SAFETY: `cd` came from a successful iconv_open and is closed once.
        unsafe { libc::iconv_close(self.cd) };
    }
}

/// The charset of the environment's locale (upstream default_charset():
/// setlocale(LC_CTYPE, "") then nl_langinfo(CODESET)).
pub fn locale_charset() -> String {
    // SAFETY: setlocale with a static empty string; called before the
    // transfer starts its threads.
    unsafe { libc::setlocale(libc::LC_CTYPE, c"".as_ptr()) };
    // SAFETY: nl_langinfo returns a pointer to a NUL-terminated string
    // owned by the C library, copied at once.
    let p = unsafe { libc::nl_langinfo(libc::CODESET) };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated (see above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_round_trip_and_errors() {
        let mut to_utf8 = Iconv::open("UTF-8", "ISO-8859-1").unwrap();
        assert_eq!(to_utf8.convert(b"caf\xe9", 64).unwrap(), "café".as_bytes());
        let mut to_latin1 = Iconv::open("ISO-8859-1", "UTF-8").unwrap();
        assert_eq!(
            to_latin1.convert("café".as_bytes(), 64).unwrap(),
            b"caf\xe9"
        );
        let e = to_latin1.convert(b"\xffcaf", 64).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EILSEQ));
        let e = to_latin1.convert(b"caf\xe9", 64).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let e = to_utf8.convert(&[0xe9; 10], 8).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::E2BIG));
        assert!(Iconv::open("UTF-8", "NO-SUCH-CHARSET").is_err());
    }
}
