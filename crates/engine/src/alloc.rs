//! `--max-alloc`: the bound on what a peer may make this side allocate.

/// Refuses an allocation a peer asks for that is larger than
/// `--max-alloc` (1 GiB by default): exit 22 like upstream's allocator.
// upstream: util2.c:my_alloc()
pub fn check_alloc(opts: &crate::Options, bytes: u64, who: &str) -> crate::Result<()> {
    let limit = opts.ctl.max_alloc();
    if bytes > limit {
        return Err(crate::Error::new(
            protocol::exit::RERR_MALLOC,
            format!("[{who}] exceeded --max-alloc={limit} setting"),
        ));
    }
    Ok(())
}
