//! How the receiver writes a file's data: buffered, or with `--sparse`
//! turning runs of zero bytes into holes; plus `--preallocate` (upstream
//! fileio.c write_file/write_sparse/sparse_end, receiver.c receive_data).
//!
//! These work on a descriptor the receiver already holds (opened through
//! `confine::Root`); nothing here resolves a path.
use rustix::fs::FallocateFlags;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

/// Zero detection works on pieces of this many bytes (upstream
/// SPARSE_WRITE_SIZE): leading zeros of a piece are skipped, trailing ones
/// deferred until the next non-zero byte or the end.
const PIECE: usize = 1024;

/// Where the receiver's data goes.
pub enum Sink {
    /// Ordinary buffered writes.
    Plain(BufWriter<File>),
    /// `--sparse`.
    Sparse(SparseWriter),
}

impl Sink {
    /// A sink for `file`, whose position is where the data starts.
    /// `sparse` selects hole-making writes; `existing` is how many bytes
    /// of the file already hold data that zeros must overwrite (an
    /// in-place update) or are allocated (`--preallocate`): there a zero
    /// run is punched, not skipped.
    pub fn new(file: File, sparse: bool, existing: u64) -> io::Result<Sink> {
        if !sparse {
            return Ok(Sink::Plain(BufWriter::with_capacity(256 * 1024, file)));
        }
        let mut file = file;
        let pos = file.stream_position()?;
        Ok(Sink::Sparse(SparseWriter {
            file,
            pos,
            pending: 0,
            existing,
        }))
    }

    /// Writes `data` without copying it through the buffer (what is
    /// buffered goes first): for long runs the caller already holds, such
    /// as matched basis blocks.
    pub fn write_direct(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(w) => {
                w.flush()?;
                w.get_mut().write_all(data)
            }
            Sink::Sparse(_) => self.write_all(data),
        }
    }

    /// Writes out what is buffered or deferred (a trailing run of zeros
    /// sets the length) and hands back the file, positioned at the end of
    /// the data.
    pub fn finish(self) -> io::Result<File> {
        match self {
            Sink::Plain(w) => w.into_inner().map_err(|e| e.into_error()),
            Sink::Sparse(w) => w.finish(),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Sparse(w) => {
                for piece in buf.chunks(PIECE) {
                    w.piece(piece)?;
                }
                Ok(buf.len())
            }
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(buf),
            Sink::Sparse(w) => {
                for piece in buf.chunks(PIECE) {
                    w.piece(piece)?;
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Sparse(_) => Ok(()),
        }
    }
}

/// Writes non-zero data and leaves zero runs as holes. The file position
/// is always `pos - pending`.
pub struct SparseWriter {
    file: File,
    /// Logical position: the end of everything handed in so far.
    pos: u64,
    /// Zero bytes before `pos` not written yet.
    pending: u64,
    /// Bytes at the start of the file holding old data (in-place).
    existing: u64,
}

impl SparseWriter {
    /// One piece of at most [`PIECE`] bytes.
    fn piece(&mut self, buf: &[u8]) -> io::Result<()> {
        let lead = buf.iter().take_while(|&&b| b == 0).count();
        self.pending += lead as u64;
        self.pos += lead as u64;
        if lead == buf.len() {
            return Ok(());
        }
        let trail = buf.iter().rev().take_while(|&&b| b == 0).count();
        self.flush_hole()?;
        let data = &buf[lead..buf.len() - trail];
        self.file.write_all(data)?;
        self.pos += (data.len() + trail) as u64;
        self.pending = trail as u64;
        Ok(())
    }

    /// Turns the deferred zeros into a hole: skipped over fresh space,
    /// punched where the file holds old data. The file position ends at
    /// `pos`.
    fn flush_hole(&mut self) -> io::Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        let start = self.pos - self.pending;
        if start < self.existing {
            punch(&self.file, start, self.pending)?;
        }
        self.file.seek(SeekFrom::Start(self.pos))?;
        self.pending = 0;
        Ok(())
    }

    fn finish(mut self) -> io::Result<File> {
        if self.pending > 0 {
            let start = self.pos - self.pending;
            if start < self.existing {
                punch(&self.file, start, self.pending)?;
            }
            if self.file.metadata()?.len() < self.pos {
                self.file.set_len(self.pos)?;
            }
            self.pending = 0;
        }
        // A preallocation extended the file past the data (upstream
        // receive_data() cuts the over-preallocation off).
        if self.existing > self.pos && self.file.metadata()?.len() > self.pos {
            self.file.set_len(self.pos)?;
        }
        self.file.seek(SeekFrom::Start(self.pos))?;
        Ok(self.file)
    }
}

/// Deallocates `len` bytes at `at` (they read back as zeros), keeping the
/// length; where the filesystem cannot punch holes, writes zeros.
fn punch(file: &File, at: u64, len: u64) -> io::Result<()> {
    let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
    if rustix::fs::fallocate(file, flags, at, len).is_ok() {
        return Ok(());
    }
    let zeros = [0u8; 4096];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(zeros.len() as u64) as usize;
        std::os::unix::fs::FileExt::write_all_at(file, &zeros[..n], at + done)?;
        done += n as u64;
    }
    Ok(())
}

/// `--preallocate`: reserves space for `total` bytes (upstream
/// do_fallocate, whose length it nudges by one byte). With `keep_size`
/// the file's length stays (FALLOC_FL_KEEP_SIZE); without, the file is
/// extended over the reserved blocks, so that zero runs in them can be
/// punched (a punch beyond the end of a file frees nothing), and the
/// writer cuts it to the data's length at the end. Returns the length
/// reserved. A failure is only a warning upstream, so it is returned for
/// the caller to report.
pub fn preallocate(file: &File, total: u64, keep_size: bool) -> io::Result<u64> {
    if total == 0 {
        return Ok(0);
    }
    let len = if total & 1 == 1 { total + 1 } else { total - 1 };
    if len == 0 {
        return Ok(0);
    }
    let flags = match keep_size {
        true => FallocateFlags::KEEP_SIZE,
        false => FallocateFlags::empty(),
    };
    rustix::fs::fallocate(file, flags, 0, len).map_err(io::Error::from)?;
    Ok(len)
}

/// The sink for one received file (upstream receive_data's start):
/// `--preallocate` reserves `total` bytes first; an in-place file keeps
/// its old bytes as the region zeros must overwrite, except that a sparse
/// whole-file update empties it first. Returns the sink and, when the
/// preallocation failed, the warning to print.
pub fn open_sink(
    opts: &crate::options::Options,
    file: File,
    inplace: bool,
    whole_file: bool,
    total: u64,
    name: &str,
) -> io::Result<(Sink, Option<String>)> {
    let mut warning = None;
    let mut existing = 0;
    if inplace {
        existing = file.metadata()?.len();
        // (An --append file keeps what lies before its position.)
        if opts.sparse && whole_file && (&file).stream_position()? == 0 {
            file.set_len(0)?;
            existing = 0;
        }
    }
    // The reserved extent is allocated: with -S a zero run in it is
    // punched, not skipped (upstream 3.5.0 write_sparse() punches below
    // the preallocated length), or the file stays fully allocated.
    let mut allocated = existing;
    if opts.preallocate && total > 0 && (!inplace || total > existing) {
        match preallocate(&file, total, !opts.sparse) {
            Ok(len) => allocated = allocated.max(len),
            Err(e) => {
                warning = Some(format!(
                    "rsync: [receiver] do_fallocate \"{name}\": {}",
                    crate::error::os_err(&e)
                ))
            }
        }
    }
    Ok((Sink::new(file, opts.sparse, allocated)?, warning))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;

    fn write_through(sparse: bool, existing: &[u8], pieces: &[&[u8]]) -> (Vec<u8>, u64) {
        write_mixed(sparse, existing, pieces, |_| false)
    }

    /// As `write_through`, piece `i` written with `write_direct` when
    /// `direct(i)`.
    fn write_mixed(
        sparse: bool,
        existing: &[u8],
        pieces: &[&[u8]],
        direct: impl Fn(usize) -> bool,
    ) -> (Vec<u8>, u64) {
        let mut f = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
        f.write_all(existing).unwrap_or_else(|e| panic!("{e}"));
        f.seek(SeekFrom::Start(0)).unwrap_or_else(|e| panic!("{e}"));
        let mut s = Sink::new(f, sparse, existing.len() as u64).unwrap_or_else(|e| panic!("{e}"));
        for (i, p) in pieces.iter().enumerate() {
            let r = if direct(i) {
                s.write_direct(p)
            } else {
                s.write_all(p)
            };
            r.unwrap_or_else(|e| panic!("{e}"));
        }
        let mut f = s.finish().unwrap_or_else(|e| panic!("{e}"));
        let end = f.stream_position().unwrap_or_else(|e| panic!("{e}"));
        f.set_len(end).unwrap_or_else(|e| panic!("{e}"));
        let blocks = f.metadata().map(|m| m.blocks()).unwrap_or(0);
        f.seek(SeekFrom::Start(0)).unwrap_or_else(|e| panic!("{e}"));
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap_or_else(|e| panic!("{e}"));
        (v, blocks)
    }

    #[test]
    fn holes_read_back_as_zeros() {
        let data: Vec<u8> = [
            vec![7u8; 5000],
            vec![0u8; 1 << 20],
            vec![9u8; 3000],
            vec![0; 9000],
        ]
        .concat();
        for chunking in [1usize, 1000, 32 * 1024, data.len()] {
            let pieces: Vec<&[u8]> = data.chunks(chunking.max(1)).collect();
            let (got, blocks) = write_through(true, b"", &pieces);
            assert_eq!(got, data, "chunks of {chunking}");
            // About 16 KiB of data: far fewer blocks than the 1 MiB hole.
            assert!(blocks * 512 < 256 * 1024, "{blocks} blocks");
            let (plain, _) = write_through(false, b"", &pieces);
            assert_eq!(plain, data);
        }
    }

    /// Direct writes between buffered ones land in order, after what was
    /// buffered; a sparse sink still makes holes of their zeros.
    #[test]
    fn direct_writes_keep_the_order() {
        let data: Vec<u8> = (0..600_000u32)
            .map(|i| {
                if (i / 50_000) % 3 == 1 {
                    0
                } else {
                    (i % 251) as u8 + 1
                }
            })
            .collect();
        for chunking in [1000usize, 46_336, 300_000] {
            let pieces: Vec<&[u8]> = data.chunks(chunking).collect();
            for every in [2usize, 3] {
                let (plain, _) = write_mixed(false, b"", &pieces, |i| i % every == 0);
                assert!(plain == data, "plain, chunks of {chunking}, every {every}");
                let (sparse, blocks) = write_mixed(true, b"", &pieces, |i| i % every != 0);
                assert!(
                    sparse == data,
                    "sparse, chunks of {chunking}, every {every}"
                );
                assert!(blocks * 512 < 500_000, "{blocks} blocks");
            }
        }
    }

    #[test]
    fn in_place_zeros_overwrite_old_data() {
        let old = vec![0xAAu8; 200_000];
        let new: Vec<u8> = [
            vec![1u8; 10],
            vec![0u8; 100_000],
            vec![2u8; 10],
            vec![0u8; 50_000],
        ]
        .concat();
        let (got, _) = write_through(true, &old, &[&new]);
        assert_eq!(got, new);
    }
}
