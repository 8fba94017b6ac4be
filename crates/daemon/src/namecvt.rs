//! `name converter`: a program the session starts (`sh -c COMMAND`, with
//! the hooks' `RSYNC_*` environment) that maps user and group names and ids
//! in place of the system's tables. It reads one request a line (`usr
//! NAME`, `grp NAME`, `uid ID`, `gid ID`) and answers each with one line:
//! the id or the name, empty when it knows none.
//!
//! As rsync 3.5.0: a name holding a control character (a newline would
//! forge a second request) is never written to it ("invalid name-converter
//! token"), and a name's answer counts only when it is all digits and fits
//! an id; anything else (an empty line above all, which would be uid 0)
//! leaves the sender's id in place. Each answer is bounded (1023 bytes);
//! a longer one, a NUL in it or a converter that has gone ends its use for
//! the session, and every later lookup finds nothing.
use crate::hooks::HookEnv;
use crate::log::Log;
use engine::ids::NameConverter;
use engine::out::Out;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

/// The longest answer line, without its newline (upstream's buffer).
const MAX_REPLY: usize = 1023;
/// Most answers remembered (beyond it, a lookup asks again).
const MAX_CACHED: usize = 1 << 16;

/// Answers by (user?, name) and by (user?, id).
type IdCache = HashMap<(bool, Vec<u8>), Option<u32>>;
type NameCache = HashMap<(bool, u32), Option<Vec<u8>>>;

struct Pipes {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
}

/// A running name converter.
pub struct Converter {
    /// None once it has failed.
    pipes: Mutex<Option<Pipes>>,
    ids: Mutex<IdCache>,
    names: Mutex<NameCache>,
    log: Arc<Log>,
    /// Where errors also go to the client, once the transfer has begun.
    out: OnceLock<Arc<Out>>,
}

/// The converter as the engine sees it.
pub struct Shared(pub Arc<Converter>);

impl NameConverter for Shared {
    fn id_of(&self, user: bool, name: &[u8]) -> Option<u32> {
        self.0.id_of(user, name)
    }
    fn name_of(&self, user: bool, id: u32) -> Option<Vec<u8>> {
        self.0.name_of(user, id)
    }
}

/// Starts `command` with `env`; its stderr is the daemon's.
// upstream: clientserver.c:rsync_module() (start_pre_exec of the converter)
pub fn start(command: &str, env: &HookEnv, log: Arc<Log>) -> io::Result<Arc<Converter>> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let (Some(to), Some(from)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(io::Error::other("no pipes to the name converter"));
    };
    Ok(Arc::new(Converter {
        pipes: Mutex::new(Some(Pipes {
            child,
            to,
            from: BufReader::new(from),
        })),
        ids: Mutex::default(),
        names: Mutex::default(),
        log,
        out: OnceLock::new(),
    }))
}

/// Starts the converter and makes it the session's source of names and
/// ids.
pub fn install(command: &str, env: &HookEnv, log: Arc<Log>) -> io::Result<Arc<Converter>> {
    let c = start(command, env, log)?;
    if !engine::ids::set_converter(Box::new(Shared(c.clone()))) {
        return Err(io::Error::other("a name converter is running already"));
    }
    Ok(c)
}

/// Whether a name may be written to the converter: no control character.
// upstream: clientserver.c:namecvt_safe_token()
pub fn safe_token(name: &[u8]) -> bool {
    !name.iter().any(|&b| b < b' ' || b == 0x7f)
}

/// A name for a message: control characters as `\#ooo`.
fn shown(name: &[u8]) -> String {
    let mut v = Vec::with_capacity(name.len());
    for &b in name {
        if b < b' ' || b == 0x7f {
            v.extend_from_slice(format!("\\#{b:03o}").as_bytes());
        } else {
            v.push(b);
        }
    }
    String::from_utf8_lossy(&v).into_owned()
}

/// An id answer: all digits, not empty, fits an id.
fn parse_id(line: &[u8]) -> Option<u32> {
    if line.is_empty() || !line.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(line).ok()?.parse().ok()
}

/// A converter answer that cannot be taken; the text follows "name
/// converter sent ".
#[derive(Debug, thiserror::Error)]
enum ReplyError {
    /// Reading the pipe failed.
    #[error("{0}")]
    Read(std::io::Error),
    /// A line over [`MAX_REPLY`].
    #[error("an answer longer than {MAX_REPLY} bytes")]
    TooLong,
    /// A NUL in a line.
    #[error("a NUL in an answer")]
    Nul,
}

/// Reads one answer line (`\r` dropped). None at end of file; an error
/// for a line over [`MAX_REPLY`] or holding a NUL.
// upstream: io.c:read_line_old()
fn read_reply<R: BufRead>(r: &mut R) -> Result<Option<Vec<u8>>, ReplyError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().map_err(ReplyError::Read)?;
        if buf.is_empty() {
            return Ok(None);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        line.extend(buf[..take].iter().filter(|&&b| b != b'\r'));
        r.consume(take + usize::from(done));
        if line.len() > MAX_REPLY {
            return Err(ReplyError::TooLong);
        }
        if line.contains(&0) {
            return Err(ReplyError::Nul);
        }
        if done {
            return Ok(Some(line));
        }
    }
}

impl Converter {
    /// Errors from now on also go to the client.
    pub fn report_to(&self, out: Arc<Out>) {
        let _ = self.out.set(out);
    }

    fn error(&self, msg: &str) {
        self.log.line(msg);
        if let Some(out) = self.out.get() {
            out.error(msg);
        }
    }

    /// Sends one request and reads its answer.
    fn ask(&self, request: &[u8]) -> Option<Vec<u8>> {
        let mut guard = self.pipes.lock().unwrap_or_else(|e| e.into_inner());
        let pipes = guard.as_mut()?;
        if pipes
            .to
            .write_all(request)
            .and_then(|()| pipes.to.flush())
            .is_err()
        {
            self.error("Connection to name-converter failed.");
            *guard = None;
            return None;
        }
        match read_reply(&mut pipes.from) {
            Ok(Some(line)) => Some(line),
            Ok(None) => {
                self.error("name converter ended; names are no longer converted");
                *guard = None;
                None
            }
            Err(e) => {
                self.error(&format!("name converter sent {e}; it is no longer used"));
                *guard = None;
                None
            }
        }
    }

    /// `usr NAME` / `grp NAME`.
    // upstream: clientserver.c:namecvt_call() with a name
    pub fn id_of(&self, user: bool, name: &[u8]) -> Option<u32> {
        let key = (user, name.to_vec());
        if let Some(&known) = self.ids.lock().ok()?.get(&key) {
            return known;
        }
        let id = if safe_token(name) {
            let mut req = if user {
                b"usr ".to_vec()
            } else {
                b"grp ".to_vec()
            };
            req.extend_from_slice(name);
            req.push(b'\n');
            self.ask(&req).and_then(|line| parse_id(&line))
        } else {
            // The log escapes control characters itself; the client gets
            // them escaped here.
            let raw = String::from_utf8_lossy(name);
            self.log
                .line(&format!("invalid name-converter token: {raw}"));
            if let Some(out) = self.out.get() {
                out.error(&format!("invalid name-converter token: {}", shown(name)));
            }
            None
        };
        let mut ids = self.ids.lock().ok()?;
        if ids.len() < MAX_CACHED {
            ids.insert(key, id);
        }
        id
    }

    /// `uid ID` / `gid ID`: an empty answer is no name.
    // upstream: clientserver.c:namecvt_call() with an id
    pub fn name_of(&self, user: bool, id: u32) -> Option<Vec<u8>> {
        if let Some(known) = self.names.lock().ok()?.get(&(user, id)) {
            return known.clone();
        }
        let req = format!("{} {id}\n", if user { "uid" } else { "gid" });
        let name = self.ask(req.as_bytes()).filter(|n| !n.is_empty());
        let mut names = self.names.lock().ok()?;
        if names.len() < MAX_CACHED {
            names.insert((user, id), name.clone());
        }
        name
    }
}

impl Drop for Converter {
    fn drop(&mut self) {
        // Its stdin closes; one that does not end then is killed.
        if let Some(p) = self.pipes.get_mut().ok().and_then(Option::take) {
            let mut child = p.child;
            drop(p.to);
            for _ in 0..20 {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(script: &str) -> Arc<Converter> {
        start(
            script,
            &HookEnv::default(),
            Arc::new(Log::open(None, false)),
        )
        .expect("start")
    }

    #[test]
    fn tokens_and_answers() {
        assert!(safe_token(b"alice bob"));
        for bad in [&b"a\nb"[..], b"a\rb", b"\x7f", b"a\x01"] {
            assert!(!safe_token(bad), "{bad:?}");
        }
        assert_eq!(parse_id(b"123"), Some(123));
        assert_eq!(parse_id(b"4294967295"), Some(u32::MAX));
        for bad in [&b""[..], b"4294967296", b"-1", b"+1", b" 1", b"1x"] {
            assert_eq!(parse_id(bad), None, "{bad:?}");
        }
        assert_eq!(shown(b"bad\nname"), "bad\\#012name");
        let mut long = vec![b'1'; MAX_REPLY + 1];
        long.push(b'\n');
        assert!(matches!(
            read_reply(&mut &long[..]),
            Err(ReplyError::TooLong)
        ));
        assert_eq!(
            read_reply(&mut &b"12\r\n3"[..]).ok(),
            Some(Some(b"12".to_vec()))
        );
        assert_eq!(read_reply(&mut &b""[..]).ok(), Some(None));
        let nul = read_reply(&mut &b"1\x002\n"[..]).unwrap_err();
        assert_eq!(nul.to_string(), "a NUL in an answer");
    }

    #[test]
    fn maps_through_the_program() {
        let dir = tempfile::tempdir().expect("tmp");
        let seen = dir.path().join("seen");
        let c = conv(&format!(
            "while read -r what arg; do echo \"$what $arg\" >> '{}'; \
             case \"$what:$arg\" in usr:alice) echo 1234;; uid:7) echo seven;; \
             grp:*) echo;; *) echo nope;; esac; done",
            seen.display()
        ));
        assert_eq!(c.id_of(true, b"alice"), Some(1234));
        assert_eq!(c.id_of(true, b"alice"), Some(1234));
        assert_eq!(c.id_of(false, b"staff"), None);
        assert_eq!(c.id_of(true, b"bob"), None);
        assert_eq!(c.id_of(true, b"bad\nname"), None);
        assert_eq!(c.name_of(true, 7), Some(b"seven".to_vec()));
        assert_eq!(c.name_of(false, 8), Some(b"nope".to_vec()));
        drop(c);
        // Asked once each; the newline name never reached it.
        assert_eq!(
            std::fs::read_to_string(&seen).expect("seen"),
            "usr alice\ngrp staff\nusr bob\nuid 7\ngid 8\n"
        );
    }

    #[test]
    fn a_converter_that_fails_is_dropped() {
        let c = conv("read x; head -c 2000 /dev/zero | tr '\\0' 1; echo");
        assert_eq!(c.id_of(true, b"a"), None);
        assert_eq!(c.id_of(true, b"b"), None);
        let gone = conv("exit 0");
        assert_eq!(gone.name_of(true, 1), None);
        assert_eq!(gone.id_of(true, b"x"), None);
    }
}
