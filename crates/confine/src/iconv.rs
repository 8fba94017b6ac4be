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
        self.run(input, max_out, false)
    }

    /// As [`Iconv::convert`], but a byte that does not convert (an invalid
    /// or incomplete sequence) is copied as it is and the conversion goes
    /// on after it (upstream iconvbufs() with ICB_INCLUDE_BAD |
    /// ICB_INCLUDE_INCOMPLETE): for text that is only shown or forwarded.
    pub fn convert_keeping_bad(&mut self, input: &[u8], max_out: usize) -> io::Result<Vec<u8>> {
        self.run(input, max_out, true)
    }

    fn run(&mut self, input: &[u8], max_out: usize, keep_bad: bool) -> io::Result<Vec<u8>> {
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
        let mut rest = input;
        let mut done = 0usize;
        loop {
            let mut in_ptr = rest.as_ptr() as *mut libc::c_char;
            let mut in_left = rest.len();
            let mut out_ptr = out[done..].as_mut_ptr() as *mut libc::c_char;
            let mut out_left = max_out - done;
            // SAFETY: the pointers and counts describe `rest` (only read)
            // and `out[done..]` (written within `out_left` bytes); iconv
            // advances both within their bounds.
            let r = unsafe {
                libc::iconv(
                    self.cd,
                    &mut in_ptr,
                    &mut in_left,
                    &mut out_ptr,
                    &mut out_left,
                )
            };
            let err = (r == usize::MAX).then(io::Error::last_os_error);
            rest = &rest[rest.len() - in_left..];
            done = max_out - out_left;
            let Some(err) = err else { break };
            let bad = matches!(err.raw_os_error(), Some(libc::EILSEQ | libc::EINVAL));
            if !keep_bad || !bad {
                return Err(err);
            }
            if done == max_out {
                return Err(io::Error::from_raw_os_error(libc::E2BIG));
            }
            out[done] = rest[0];
            done += 1;
            rest = &rest[1..];
        }
        let mut out_ptr = out[done..].as_mut_ptr() as *mut libc::c_char;
        let mut out_left = max_out - done;
        // Flush any shift sequence the output charset ends with.
        // SAFETY: a null input flushes into `out[done..]` within
        // `out_left` bytes.
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
        // Bad and incomplete bytes kept as they are, the rest converted.
        assert_eq!(
            to_latin1
                .convert_keeping_bad(b"\xffcaf\xc3\xa9 \xc3", 64)
                .unwrap(),
            b"\xffcaf\xe9 \xc3"
        );
        let e = to_latin1.convert_keeping_bad(b"\xff\xff", 1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::E2BIG));
    }
}
