//! Remote-shell transport: `[user@]host:path` parsing, the command line a
//! client runs (upstream main.c do_cmd) and the argument quoting it needs
//! (upstream options.c safe_arg).

/// A command-line path, local or on a remote-shell host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local path.
    Local(String),
    /// `[user@]host:path`.
    Remote {
        /// Optional login name.
        user: Option<String>,
        /// Host name.
        host: String,
        /// Path on the host ("" means the login directory).
        path: String,
    },
    /// `host::module` or `rsync://` (the daemon, not built yet).
    Daemon(String),
}

/// The pipe capacity asked for on the remote-shell pipes: a 2 GiB
/// transfer through the default 64 KiB pipe costs a context switch per
/// 64 KiB on each side.
pub const PIPE_SIZE: usize = 1024 * 1024;

/// Widens `fd` to [`PIPE_SIZE`] when it is a pipe (a socket or a file is
/// left alone). Best effort: the kernel caps unprivileged users at
/// /proc/sys/fs/pipe-max-size and per-user page limits, and a refusal only
/// leaves the default size.
pub fn widen_pipe(fd: std::os::fd::BorrowedFd<'_>) {
    let is_pipe = rustix::fs::fstat(fd).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    });
    if is_pipe {
        let _ = rustix::pipe::fcntl_setpipe_size(fd, PIPE_SIZE);
    }
}

/// Classifies an argument as rsync does (upstream main.c
/// check_for_hostspec): a colon before any slash makes a host spec.
pub fn parse_location(arg: &str) -> Location {
    if arg.starts_with("rsync://") {
        return Location::Daemon(arg.to_string());
    }
    let Some(colon) = arg.find(':') else {
        return Location::Local(arg.to_string());
    };
    if arg[..colon].contains('/') || colon == 0 {
        return Location::Local(arg.to_string());
    }
    if arg[colon + 1..].starts_with(':') {
        return Location::Daemon(arg.to_string());
    }
    let hostspec = &arg[..colon];
    let path = arg[colon + 1..].to_string();
    let (user, host) = match hostspec.rfind('@') {
        Some(at) => (
            Some(hostspec[..at].to_string()),
            hostspec[at + 1..].to_string(),
        ),
        None => (None, hostspec.to_string()),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Location::Remote { user, host, path }
}

/// Splits the `-e` value into words, honouring simple single and double
/// quotes (upstream main.c do_cmd).
pub fn split_command(cmd: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for ch in cmd.chars() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => cur.push(ch),
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                in_word = true;
            }
            None if ch == ' ' || ch == '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(ch);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Escapes a path argument for the remote shell: a leading `-` gets `./`,
/// and shell metacharacters get a backslash (wildcards are left for the
/// remote shell to expand).
pub fn safe_arg(arg: &str) -> String {
    const SPECIAL: &str = " \t\r\n!#$&;|<>(){}\"'`\\";
    let mut s = String::with_capacity(arg.len() + 2);
    if arg.starts_with('-') {
        s.push_str("./");
    }
    for ch in arg.chars() {
        if SPECIAL.contains(ch) {
            s.push('\\');
        }
        s.push(ch);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_pipe_is_widened_and_a_file_left_alone() {
        let (r, w) = rustix::pipe::pipe().expect("pipe");
        assert!(rustix::pipe::fcntl_getpipe_size(&r).expect("size") < PIPE_SIZE);
        widen_pipe(w.as_fd());
        // One pipe: either end reports the buffer's size.
        assert_eq!(
            rustix::pipe::fcntl_getpipe_size(&r).expect("size"),
            PIPE_SIZE
        );
        let f = tempfile::tempfile().expect("file");
        widen_pipe(f.as_fd());
        assert!(rustix::pipe::fcntl_getpipe_size(&f).is_err());
    }

    #[test]
    fn locations() {
        assert_eq!(parse_location("a/b:c"), Location::Local("a/b:c".into()));
        assert_eq!(parse_location("/x"), Location::Local("/x".into()));
        assert_eq!(
            parse_location("me@h:dir/"),
            Location::Remote {
                user: Some("me".into()),
                host: "h".into(),
                path: "dir/".into()
            }
        );
        assert!(matches!(parse_location("h::mod"), Location::Daemon(_)));
        assert!(matches!(
            parse_location("rsync://h/mod"),
            Location::Daemon(_)
        ));
    }

    #[test]
    fn words_and_quotes() {
        assert_eq!(split_command("ssh -p 22"), vec!["ssh", "-p", "22"]);
        assert_eq!(split_command("'/a b/sh' -x"), vec!["/a b/sh", "-x"]);
        assert_eq!(safe_arg("-x y"), "./-x\\ y");
    }
}
