//! The protected-args list (`-s`): the client's arguments sent after the
//! handshake, so that no shell on the way splits or expands them.
use engine::Error;
use protocol::exit;

/// Sends the `-s` arguments: each NUL-terminated, then an empty one.
// upstream: rsync.c:send_protected_args()
pub(crate) fn send_protected_args(
    w: &mut impl std::io::Write,
    words: &[String],
) -> engine::Result<()> {
    let mut buf = Vec::new();
    for word in words {
        buf.extend_from_slice(word.as_bytes());
        buf.push(0);
    }
    buf.push(0);
    w.write_all(&buf).and_then(|()| w.flush()).map_err(|e| {
        Error::new(
            exit::RERR_STREAMIO,
            format!("rsync: writing the arguments: {e}"),
        )
    })
}
