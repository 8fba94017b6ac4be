//! `--read-batch`: a client's receiving side run over a batch file, as a
//! local transfer whose sender is the file (upstream main.c do_recv() with
//! read_batch). The file's format is `crate::batch`.
use crate::batch::{open_for_reading, read_header, LinkBatch};
use crate::error::{Error, Result};
use crate::options::Options;
use protocol::exit;
use std::io::{self, Read};
use std::sync::Arc;

/// `--read-batch`: runs a client's receiving side over the batch file into
/// `dest` (upstream: a local transfer whose sender is the file).
pub fn replay(
    opts: &Options,
    dest: &str,
    out: Arc<crate::out::Out>,
) -> Result<crate::stats::XferStats> {
    use crate::transfer::{run_receiver_to, Dest, Link};
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = Counted {
        inner: open_for_reading(opts)?,
        count: count.clone(),
    };
    let mut input = io::BufReader::with_capacity(256 * 1024, counted);
    let mut opts = opts.clone();
    let ended = |e: Error| {
        if e.code != exit::RERR_STREAMIO || e.reported {
            return e;
        }
        let n = count.load(std::sync::atomic::Ordering::Relaxed);
        Error::new(
            e.code,
            format!("rsync: connection unexpectedly closed ({n} bytes received so far) [Receiver]"),
        )
    };
    let session = read_header(&mut input, &mut opts, &|line| out.info(line)).map_err(ended)?;
    out.set_protocol(session.protocol);
    let link = Link {
        local: true,
        batch: Some(LinkBatch::Replay(session)),
        ..Link::client()
    };
    let w = crate::out::shared(Box::new(io::sink()));
    run_receiver_to(
        Box::new(input),
        w,
        &opts,
        Dest::Operator(dest.to_string()),
        &link,
        out,
    )
    .map_err(ended)
}

/// Counts the bytes read from the batch (for the message when it ends
/// early).
struct Counted {
    inner: Box<dyn Read + Send>,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}
