//! The tree-shape options as the parser reads and checks them: `-R` and
//! its implied directories, `--files-from`, `--from0`, `-x`, `-m`,
//! `--delete-missing-args`, `--ignore-missing-args`; what they do to the
//! file list is `crate::treeshape`.
use crate::error::OptionError;
use crate::options::Options;
use protocol::exit;

/// What a tree-shape option does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeAct {
    /// -R / --no-relative
    Relative(bool),
    /// --implied-dirs / --no-implied-dirs
    ImpliedDirs(bool),
    /// --files-from=FILE
    FilesFrom,
    /// --from0 / --no-from0
    From0(bool),
    /// -x (counted)
    OneFileSystem,
    /// --no-one-file-system
    NoOneFileSystem,
    /// -m / --no-prune-empty-dirs
    PruneEmptyDirs(bool),
    /// 1: --ignore-missing-args, 2: --delete-missing-args (bits, as upstream)
    MissingArgs(u8),
}

/// The parsed tree-shape options.
#[derive(Debug, Clone, Default, Eq)]
pub struct TreeOpts {
    /// -R as given (None: not given, so --files-from decides).
    pub relative: Option<bool>,
    /// --no-implied-dirs
    pub no_implied_dirs: bool,
    /// --files-from value
    pub files_from: Option<String>,
    /// --from0
    pub from0: bool,
    /// -x count (2: skip mount points entirely)
    pub one_file_system: u8,
    /// -m
    pub prune_empty_dirs: bool,
    /// 0, 1 (--ignore-missing-args) or 2 (--delete-missing-args)
    pub missing_args: u8,
    /// -r was given itself (not only through -a): --files-from keeps it.
    pub recursive_explicit: bool,
    /// --files-from turned on -d (so it is not forwarded as an option).
    pub dirs_implied: bool,
}

/// Where a `--files-from` list is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilesFrom {
    /// A local file ("-": standard input).
    Local(String),
    /// A file on the remote host (`host:FILE`, `:FILE`); `host` may be "".
    Remote {
        /// The host named ("" for "the transfer's remote host").
        host: String,
        /// The path there.
        path: String,
    },
}

/// Equal when they ask for the same transfer: how -r or -d came about
/// (the client's -a, the server's explicit -r) does not matter.
impl PartialEq for TreeOpts {
    fn eq(&self, o: &TreeOpts) -> bool {
        self.relative() == o.relative()
            && self.no_implied_dirs == o.no_implied_dirs
            && self.files_from == o.files_from
            && self.from0 == o.from0
            && self.one_file_system == o.one_file_system
            && self.prune_empty_dirs == o.prune_empty_dirs
            && self.missing_args == o.missing_args
    }
}

impl TreeOpts {
    /// Records one option.
    pub(crate) fn apply(&mut self, act: TreeAct, value: String) {
        match act {
            TreeAct::Relative(on) => self.relative = Some(on),
            TreeAct::ImpliedDirs(on) => self.no_implied_dirs = !on,
            TreeAct::FilesFrom => self.files_from = Some(value),
            TreeAct::From0(on) => self.from0 = on,
            TreeAct::OneFileSystem => self.one_file_system = self.one_file_system.saturating_add(1),
            TreeAct::NoOneFileSystem => self.one_file_system = 0,
            TreeAct::PruneEmptyDirs(on) => self.prune_empty_dirs = on,
            TreeAct::MissingArgs(bit) => self.missing_args |= bit,
        }
    }

    /// -R in effect (--files-from implies it unless --no-relative).
    pub fn relative(&self) -> bool {
        self.relative.unwrap_or(self.files_from.is_some())
    }

    /// Implied directories are created (-R without --no-implied-dirs).
    pub fn implied_dirs(&self) -> bool {
        self.relative() && !self.no_implied_dirs
    }

    /// Where the --files-from list lives, if any.
    // upstream: options.c:check_for_hostspec() on files_from
    pub fn files_from(&self) -> Option<FilesFrom> {
        let v = self.files_from.as_deref()?;
        if v == "-" {
            return Some(FilesFrom::Local(v.to_string()));
        }
        let cut = v.find([':', '/']);
        match cut {
            Some(i) if v.as_bytes()[i] == b':' => {
                let host = v[..i].to_string();
                let rest = &v[i + 1..];
                let path = rest.strip_prefix(':').unwrap_or(rest).to_string();
                Some(FilesFrom::Remote { host, path })
            }
            _ => Some(FilesFrom::Local(v.to_string())),
        }
    }

    /// The filter list goes to the receiver (upstream receiver_wants_list)
    /// because of -m.
    pub fn receiver_wants_rules(&self) -> bool {
        self.prune_empty_dirs
    }

    /// The long options upstream's server_options() sends for these
    /// options (the letters go in the bundle).
    pub(crate) fn server_args_tail(
        &self,
        client_sender: bool,
        protocol: i32,
        args: &mut Vec<String>,
    ) {
        if self.missing_args == 2 {
            args.push("--delete-missing-args".into());
        } else if self.missing_args == 1 && !client_sender {
            args.push("--ignore-missing-args".into());
        }
        match self.files_from() {
            Some(FilesFrom::Remote { path, .. }) => {
                args.push("--files-from".into());
                args.push(crate::options::shell_escape(&path));
                if self.from0 {
                    args.push("--from0".into());
                }
            }
            Some(FilesFrom::Local(_)) if !client_sender => {
                args.push("--files-from=-".into());
                args.push("--from0".into());
            }
            _ => {}
        }
        if self.files_from.is_some()
            && (!client_sender || matches!(self.files_from(), Some(FilesFrom::Remote { .. })))
            && !self.relative()
        {
            args.push("--no-relative".into());
        }
        if self.relative() && self.no_implied_dirs && (!client_sender || protocol >= 30) {
            args.push("--no-implied-dirs".into());
        }
    }
}

/// The consistency rules upstream applies after parsing.
// upstream: options.c:parse_arguments() (files_from, missing_args)
pub(crate) fn finish_options(opts: &mut Options) -> std::result::Result<(), OptionError> {
    if opts.tree.missing_args == 3 {
        opts.tree.missing_args = 2;
    }
    if opts.tree.files_from.is_none() {
        return Ok(());
    }
    if opts.recursive && !opts.tree.recursive_explicit {
        opts.recursive = false;
    }
    if !opts.dirs {
        opts.dirs = true;
        opts.tree.dirs_implied = true;
    }
    if opts.help || opts.version > 0 {
        return Ok(());
    }
    let n = opts.args.len();
    if n > 2 || (!opts.server && n == 1) {
        return Err(OptionError {
            message: "--files-from takes exactly one source directory and one destination"
                .to_string(),
            exit_code: exit::RERR_SYNTAX,
        });
    }
    if opts.server && matches!(opts.tree.files_from(), Some(FilesFrom::Remote { .. })) {
        return Err(OptionError {
            message: "The --files-from sent to the server cannot specify a host.".to_string(),
            exit_code: exit::RERR_SYNTAX,
        });
    }
    if matches!(opts.tree.files_from(), Some(FilesFrom::Remote { ref path, .. }) if path == "-") {
        return Err(OptionError {
            message: "Invalid --files-from remote filename".to_string(),
            exit_code: exit::RERR_SYNTAX,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_argv_like_stock() {
        let words = |s: &str| -> Vec<std::ffi::OsString> { s.split(' ').map(Into::into).collect() };
        for &(client, server_line) in CAPTURED {
            let pull = server_line.contains("--sender");
            let paths = if pull { "h:src/ dst/" } else { "src/ h:dst/" };
            let c = Options::parse(&words(&format!("{client} {paths}"))).expect(client);
            let ours = c.to_server_args(pull, 31).join(" ").replace(".iL", ".L");
            assert_eq!(
                format!("{ours} . {}", if pull { "src/" } else { "dst/" }),
                server_line.replace(".iL", ".L"),
                "{client}"
            );
            let s = Options::parse(&words(server_line)).expect(server_line);
            assert_eq!(s.tree.relative(), c.tree.relative(), "{server_line}");
            assert_eq!(
                s.tree.one_file_system, c.tree.one_file_system,
                "{server_line}"
            );
        }
    }

    #[test]
    fn files_from_rules() {
        let p = |s: &str| {
            Options::parse(
                &s.split(' ')
                    .map(Into::into)
                    .collect::<Vec<std::ffi::OsString>>(),
            )
        };
        let o = p("-a --files-from=l s d").expect("ok");
        assert!(!o.recursive && o.dirs && o.tree.relative() && o.tree.implied_dirs());
        let o = p("-ar --files-from=l --no-R s d").expect("ok");
        assert!(o.recursive && !o.tree.relative());
        assert_eq!(p("--files-from=l a b c").map_err(|e| e.exit_code), Err(1));
        assert_eq!(p("--files-from=l a").map_err(|e| e.exit_code), Err(1));
        assert_eq!(
            p("--server --files-from=h:l . s").map_err(|e| e.exit_code),
            Err(1)
        );
        assert_eq!(p("--files-from=h:- s d").map_err(|e| e.exit_code), Err(1));
        let o = p("--delete-missing-args --ignore-missing-args s d").expect("ok");
        assert_eq!(o.tree.missing_args, 2);
        let o = p("-xx --no-x -x s d").expect("ok");
        assert_eq!(o.tree.one_file_system, 1);
    }

    #[test]
    fn files_from_hosts() {
        let t = |v: &str| {
            TreeOpts {
                files_from: Some(v.into()),
                ..Default::default()
            }
            .files_from()
        };
        assert_eq!(t("-"), Some(FilesFrom::Local("-".into())));
        assert_eq!(t("a/b:c"), Some(FilesFrom::Local("a/b:c".into())));
        assert_eq!(
            t(":list"),
            Some(FilesFrom::Remote {
                host: "".into(),
                path: "list".into()
            })
        );
        assert_eq!(
            t("h::mod/list"),
            Some(FilesFrom::Remote {
                host: "h".into(),
                path: "mod/list".into()
            })
        );
    }

    /// What stock rsync 3.2.7's client runs on the server (captured with a
    /// logging remote shell), against what oxsync builds.
    const CAPTURED: &[(&str, &str)] = &[
        ("-aR", "--server -logDtprRe.iLsfxCIvu . dst/"),
        (
            "-aR --no-implied-dirs",
            "--server -logDtprRe.iLsfxCIvu --no-implied-dirs . dst/",
        ),
        (
            "-aR --no-implied-dirs",
            "--server --sender -logDtprRe.iLsfxCIvu --no-implied-dirs . src/",
        ),
        ("-a --files-from=list", "--server -logDtpRe.LsfxCIvu . dst/"),
        (
            "-a --files-from=list",
            "--server --sender -logDtpRe.LsfxCIvu --files-from=- --from0 . src/",
        ),
        (
            "-a --files-from=:list -0",
            "--server -logDtpRe.LsfxCIvu --files-from list --from0 . dst/",
        ),
        (
            "-a --files-from=h:list --no-relative",
            "--server --sender -logDtpe.LsfxCIvu --files-from list --no-relative . src/",
        ),
        ("-axx", "--server --sender -logDtprxxe.iLsfxCIvu . src/"),
        ("-am", "--server -lmogDtpre.iLsfxCIvu . dst/"),
        ("-am", "--server --sender -logDtpre.LsfxCIvu . src/"),
        (
            "-a --delete-missing-args",
            "--server -logDtpre.iLsfxCIvu --delete-missing-args . dst/",
        ),
        (
            "-a --ignore-missing-args",
            "--server -logDtpre.iLsfxCIvu . dst/",
        ),
        (
            "-a --ignore-missing-args",
            "--server --sender -logDtpre.iLsfxCIvu --ignore-missing-args . src/",
        ),
        (
            "-d --delete",
            "--server -de.LsfxCIvu --no-r --delete . dst/",
        ),
        (
            "-a --files-from=list --delete",
            "--server -ldogDtpRe.LsfxCIvu --no-r --delete . dst/",
        ),
    ];
}
