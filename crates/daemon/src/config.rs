//! rsyncd.conf(5): a global section, `[module]` sections, `key = value`
//! lines, comments, continuation lines and the `&include` / `&merge`
//! directives. Parameters are stored as text under a canonical key; typed
//! accessors read them with the documented defaults.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Deepest nesting of `&include` / `&merge` accepted (guards loops).
const MAX_INCLUDE_DEPTH: usize = 16;
/// Largest configuration file read, in bytes.
const MAX_CONFIG_SIZE: u64 = 4 << 20;

/// A configuration error that stops the daemon from using the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file (or an included one) cannot be read.
    #[error("failed to read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is neither a comment, a section header nor a parameter.
    #[error("{path}:{line}: cannot parse line: {text}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending text.
        text: String,
    },
    /// `&include` / `&merge` nested too deeply.
    #[error("{path}: includes nested more than {MAX_INCLUDE_DEPTH} deep")]
    TooDeep {
        /// The file that would have been read.
        path: PathBuf,
    },
}

/// Whether a parameter belongs to the global section only or can be set per
/// module (module parameters in the global section are module defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Global,
    Module,
}

/// How a parameter's value is checked when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Bool,
    Int,
}

/// Every parameter oxsync knows: canonical key, scope, kind.
#[rustfmt::skip]
const PARAMS: &[(&str, Scope, Kind)] = &[
    ("motdfile", Scope::Global, Kind::Str), ("pidfile", Scope::Global, Kind::Str),
    ("port", Scope::Global, Kind::Int), ("address", Scope::Global, Kind::Str),
    ("socketoptions", Scope::Global, Kind::Str), ("listenbacklog", Scope::Global, Kind::Int),
    ("daemonuid", Scope::Global, Kind::Str), ("daemongid", Scope::Global, Kind::Str),
    ("daemonchroot", Scope::Global, Kind::Str), ("proxyprotocol", Scope::Global, Kind::Bool),
    ("proxyprotocolhosts", Scope::Global, Kind::Str),
    ("handshaketimeout", Scope::Global, Kind::Int),
    ("comment", Scope::Module, Kind::Str), ("path", Scope::Module, Kind::Str),
    ("usechroot", Scope::Module, Kind::Bool), ("numericids", Scope::Module, Kind::Bool),
    ("munge symlinks", Scope::Module, Kind::Bool), ("charset", Scope::Module, Kind::Str),
    ("maxconnections", Scope::Module, Kind::Int), ("lockfile", Scope::Module, Kind::Str),
    ("logfile", Scope::Module, Kind::Str), ("syslogfacility", Scope::Module, Kind::Str),
    ("syslogtag", Scope::Module, Kind::Str), ("maxverbosity", Scope::Module, Kind::Int),
    ("readonly", Scope::Module, Kind::Bool), ("writeonly", Scope::Module, Kind::Bool),
    ("opennoatime", Scope::Module, Kind::Bool), ("list", Scope::Module, Kind::Bool),
    ("uid", Scope::Module, Kind::Str), ("gid", Scope::Module, Kind::Str),
    ("fakesuper", Scope::Module, Kind::Bool), ("filter", Scope::Module, Kind::Str),
    ("exclude", Scope::Module, Kind::Str), ("include", Scope::Module, Kind::Str),
    ("excludefrom", Scope::Module, Kind::Str), ("includefrom", Scope::Module, Kind::Str),
    ("incomingchmod", Scope::Module, Kind::Str), ("outgoingchmod", Scope::Module, Kind::Str),
    ("authusers", Scope::Module, Kind::Str), ("secretsfile", Scope::Module, Kind::Str),
    ("strictmodes", Scope::Module, Kind::Bool), ("authdigest", Scope::Module, Kind::Str),
    ("hostsallow", Scope::Module, Kind::Str), ("hostsdeny", Scope::Module, Kind::Str),
    ("reverselookup", Scope::Module, Kind::Bool), ("forwardlookup", Scope::Module, Kind::Bool),
    ("ignoreerrors", Scope::Module, Kind::Bool), ("ignorenonreadable", Scope::Module, Kind::Bool),
    ("transferlogging", Scope::Module, Kind::Bool), ("logformat", Scope::Module, Kind::Str),
    ("timeout", Scope::Module, Kind::Int), ("refuseoptions", Scope::Module, Kind::Str),
    ("dontcompress", Scope::Module, Kind::Str), ("earlyexec", Scope::Module, Kind::Str),
    ("pre-xfer exec", Scope::Module, Kind::Str), ("post-xfer exec", Scope::Module, Kind::Str),
    ("nameconverter", Scope::Module, Kind::Str), ("tempdir", Scope::Module, Kind::Str),
    ("landlock", Scope::Module, Kind::Str), ("landlockallow", Scope::Module, Kind::Str),
    ("clientpaths", Scope::Module, Kind::Str),
    ("insecurelinks", Scope::Module, Kind::Bool),
    ("maxalloc", Scope::Module, Kind::Str),
];

/// A module's default `max alloc`: what one connection may make the daemon
/// hold for the peer's data (docs/security.md, "Allocation bound").
pub const DAEMON_MAX_ALLOC: u64 = 256 << 20;

/// Turns a parameter name into its canonical key: lower case, without
/// spaces, tabs or underscores ("Read_Only", "read only" and "readonly"
/// are one parameter).
pub fn canonical_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Every parameter the parser knows, by canonical key (`readonly`), for
/// the manual's check.
pub fn known_params() -> Vec<String> {
    PARAMS.iter().map(|(k, _, _)| canonical_key(k)).collect()
}

fn lookup(key: &str) -> Option<(Scope, Kind)> {
    PARAMS
        .iter()
        .find(|(k, _, _)| canonical_key(k) == key)
        .map(|&(_, s, k)| (s, k))
}

/// Parses an rsyncd.conf boolean (yes/no, true/false, 1/0; any case).
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// A set of parameters (canonical key to raw value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// The raw value of `name` (any spelling), if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&canonical_key(name)).map(String::as_str)
    }
    /// A string parameter that is set and not empty.
    pub fn nonempty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
    /// A boolean parameter, or `default` when unset.
    pub fn bool(&self, name: &str, default: bool) -> bool {
        self.get(name).and_then(parse_bool).unwrap_or(default)
    }
    /// A boolean that distinguishes "unset".
    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(parse_bool)
    }
    /// An integer parameter, or `default` when unset.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }
    /// Sets a parameter (last value wins).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(canonical_key(name), value.to_string());
    }
}

/// One `[module]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module name (internal whitespace runs collapsed to one space).
    pub name: String,
    /// Its parameters, starting from the module defaults in force when its
    /// section began.
    pub params: Params,
}

impl Module {
    /// `path`, with `%VAR%` references expanded from `env`.
    pub fn path(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
        self.params
            .nonempty("path")
            .map(|p| PathBuf::from(expand_vars(p, env)))
    }
    /// `comment` (empty when unset).
    pub fn comment(&self) -> &str {
        self.params.get("comment").unwrap_or("")
    }
    /// `read only` (default yes).
    pub fn read_only(&self) -> bool {
        self.params.bool("read only", true)
    }
    /// `write only` (default no).
    pub fn write_only(&self) -> bool {
        self.params.bool("write only", false)
    }
    /// `list` (default yes).
    pub fn list(&self) -> bool {
        self.params.bool("list", true)
    }
    /// `max connections` (0 = unlimited).
    pub fn max_connections(&self) -> i64 {
        self.params.int("max connections", 0)
    }
    /// `lock file` (default /var/run/rsyncd.lock).
    pub fn lock_file(&self) -> &str {
        self.params
            .nonempty("lock file")
            .unwrap_or("/var/run/rsyncd.lock")
    }
    /// `strict modes` (default yes).
    pub fn strict_modes(&self) -> bool {
        self.params.bool("strict modes", true)
    }
    /// `insecure links` (default no): operator paths of this module (its
    /// `path`, `secrets file`, ...) follow symlinks whoever owns them.
    /// Only the administrator can set it; a client's `--insecure-links`
    /// is refused.
    pub fn links(&self) -> confine::Links {
        confine::Links::from_insecure(self.params.bool("insecure links", false))
    }
    /// `max alloc` in bytes (size suffixes as `--max-alloc`; default
    /// [`DAEMON_MAX_ALLOC`]), or why the value is bad.
    pub fn max_alloc(&self) -> Result<u64, MaxAllocError> {
        let Some(v) = self.params.nonempty("max alloc") else {
            return Ok(DAEMON_MAX_ALLOC);
        };
        engine::control::parse_size_arg(v, 'B', "max-alloc", 1 << 20, false).map_err(MaxAllocError)
    }
    /// `timeout` in seconds (0 = none).
    pub fn timeout(&self) -> i64 {
        self.params.int("timeout", 0)
    }
}

/// A module's `max alloc` that `--max-alloc` would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("module parameter max alloc: {0}")]
pub struct MaxAllocError(pub engine::error::OptionError);

/// A whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Global-only parameters (port, address, motd file, pid file, ...).
    pub globals: Params,
    /// Module defaults set in the global section of the top file (and of
    /// merged files).
    pub defaults: Params,
    /// The modules, in file order; a repeated name continues the first one.
    pub modules: Vec<Module>,
    /// Problems that did not stop parsing (unknown parameters, bad
    /// booleans), one line each.
    pub warnings: Vec<String>,
}

impl Config {
    /// The module called `name`.
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// Reads and parses `path`.
    // upstream: loadparm.c:lp_load()
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut st = State {
            section: Section::Global,
            defaults: Params::default(),
        };
        cfg.parse_file(path, &mut st, 0)?;
        cfg.defaults = st.defaults;
        Ok(cfg)
    }

    /// Parses configuration text (`origin` names it in messages; `&include`
    /// paths are taken as given).
    pub fn parse_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut st = State {
            section: Section::Global,
            defaults: Params::default(),
        };
        cfg.parse_text(text, origin, &mut st, 0)?;
        cfg.defaults = st.defaults;
        Ok(cfg)
    }

    fn parse_file(&mut self, path: &Path, st: &mut State, depth: usize) -> Result<(), ConfigError> {
        if depth > MAX_INCLUDE_DEPTH {
            return Err(ConfigError::TooDeep {
                path: path.to_path_buf(),
            });
        }
        let read_err = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let meta = fs::metadata(path).map_err(read_err)?;
        if meta.len() > MAX_CONFIG_SIZE {
            let e = std::io::Error::other(format!("larger than {MAX_CONFIG_SIZE} bytes"));
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source: e,
            });
        }
        // The configuration (and what it includes) is the operator's: a
        // symlink on its path another user owns is refused.
        let bytes = confine::operator::read(path, confine::Links::Trusted).map_err(read_err)?;
        let text = String::from_utf8_lossy(&bytes);
        self.parse_text(&text, path, st, depth)
    }

    fn parse_text(
        &mut self,
        text: &str,
        origin: &Path,
        st: &mut State,
        depth: usize,
    ) -> Result<(), ConfigError> {
        for (lineno, line) in logical_lines(text) {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
                continue;
            }
            if let Some(rest) = t.strip_prefix('&') {
                self.directive(rest, origin, lineno, st, depth)?;
                continue;
            }
            if let Some(inner) = t.strip_prefix('[') {
                let Some(name) = inner.strip_suffix(']') else {
                    return Err(syntax(origin, lineno, t));
                };
                let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                if name.is_empty() || name.contains('/') || name.contains(']') {
                    return Err(syntax(origin, lineno, t));
                }
                if name == "global" {
                    st.section = Section::Global;
                } else {
                    let idx = match self.modules.iter().position(|m| m.name == name) {
                        Some(i) => i,
                        None => {
                            self.modules.push(Module {
                                name,
                                params: st.defaults.clone(),
                            });
                            self.modules.len() - 1
                        }
                    };
                    st.section = Section::Module(idx);
                }
                continue;
            }
            let Some((key, value)) = t.split_once('=') else {
                return Err(syntax(origin, lineno, t));
            };
            let (name, value) = (key.trim(), value.trim());
            let canon = canonical_key(name);
            let Some((scope, kind)) = lookup(&canon) else {
                self.warnings.push(format!(
                    "{}:{lineno}: unknown parameter \"{name}\" ignored",
                    origin.display()
                ));
                continue;
            };
            if kind == Kind::Bool && parse_bool(value).is_none() {
                self.warnings.push(format!(
                    "{}:{lineno}: \"{name}\" needs a boolean, not \"{value}\"",
                    origin.display()
                ));
                continue;
            }
            if kind == Kind::Int && value.parse::<i64>().is_err() {
                self.warnings.push(format!(
                    "{}:{lineno}: \"{name}\" needs a number, not \"{value}\"",
                    origin.display()
                ));
                continue;
            }
            match (st.section, scope) {
                (Section::Global, Scope::Global) => self.globals.set(&canon, value),
                (Section::Global, Scope::Module) => st.defaults.set(&canon, value),
                (Section::Module(i), Scope::Module) => self.modules[i].params.set(&canon, value),
                (Section::Module(_), Scope::Global) => {
                    self.warnings.push(format!(
                        "{}:{lineno}: global parameter \"{name}\" inside a module ignored",
                        origin.display()
                    ));
                }
            }
        }
        Ok(())
    }

    /// `&include PATH` or `&merge PATH` (a file, or a directory of `*.conf`
    /// / `*.inc` files read in name order).
    fn directive(
        &mut self,
        rest: &str,
        origin: &Path,
        lineno: usize,
        st: &mut State,
        depth: usize,
    ) -> Result<(), ConfigError> {
        // `&include PATH` and, as upstream's params.c takes it too,
        // `&include = PATH`.
        let (word, arg) = match rest.find(|c: char| c.is_whitespace() || c == '=') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let arg = arg.trim_start();
        let arg = arg.strip_prefix('=').unwrap_or(arg).trim();
        let merge = match word {
            "include" => false,
            "merge" => true,
            _ => {
                self.warnings.push(format!(
                    "{}:{lineno}: unknown directive \"&{word}\" ignored",
                    origin.display()
                ));
                return Ok(());
            }
        };
        if arg.is_empty() {
            return Err(syntax(origin, lineno, rest));
        }
        let target = Path::new(arg);
        let files = if target.is_dir() {
            let want = if merge { "inc" } else { "conf" };
            let rd = fs::read_dir(target).map_err(|source| ConfigError::Read {
                path: target.to_path_buf(),
                source,
            })?;
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == want) && p.is_file())
                .collect();
            v.sort();
            v
        } else {
            vec![target.to_path_buf()]
        };
        for f in files {
            if merge {
                self.parse_file(&f, st, depth + 1)?;
            } else {
                // An included file starts in the global section with a copy
                // of the defaults, and leaves neither changed.
                let mut sub = State {
                    section: Section::Global,
                    defaults: st.defaults.clone(),
                };
                self.parse_file(&f, &mut sub, depth + 1)?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Global,
    Module(usize),
}

struct State {
    section: Section,
    defaults: Params,
}

fn syntax(origin: &Path, line: usize, text: &str) -> ConfigError {
    ConfigError::Syntax {
        path: origin.to_path_buf(),
        line,
        text: text.to_string(),
    }
}

/// Joins continuation lines (a trailing backslash), yielding each logical
/// line with the number of its first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if cur.is_empty() {
            start = i + 1;
        }
        match raw.strip_suffix('\\') {
            Some(head) => cur.push_str(head),
            None => {
                cur.push_str(raw);
                out.push((start, std::mem::take(&mut cur)));
            }
        }
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    out
}

/// Splits a list parameter (`auth users`, `gid`) on commas and whitespace;
/// a value whose first non-blank character is a comma splits on commas
/// alone, each item trimmed, so an item may hold spaces. Never yields an
/// empty item.
// upstream: util1.c:conf_strtok()
pub fn conf_tokens(s: &str) -> Vec<&str> {
    let s = s.trim_start();
    match s.strip_prefix(',') {
        Some(rest) => rest
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect(),
        None => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .collect(),
    }
}

/// Expands `%VAR%` references from `env`; `%%` is a literal `%`; unknown
/// variables and unpaired percent signs are kept as written.
pub fn expand_vars(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(p) = rest.find('%') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
            continue;
        }
        match after.find('%') {
            Some(q)
                if q > 0
                    && after[..q]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                match env(&after[..q]) {
                    Some(v) => {
                        out.push_str(&v);
                        rest = &after[q + 1..];
                    }
                    None => {
                        out.push('%');
                        rest = after;
                    }
                }
            }
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        Config::parse_str(text, Path::new("test.conf")).expect("parses")
    }

    #[test]
    fn table_of_snippets() {
        // (config text, module, key, expected value)
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            ("[m]\npath = /srv\n", "m", "path", Some("/srv")),
            ("[m]\n  Path=/srv  \n", "m", "path", Some("/srv")),
            ("[m]\nread only = no\n", "m", "read_only", Some("no")),
            ("[m]\nREAD_ONLY = no\n", "m", "readonly", Some("no")),
            ("[m]\ncomment = a  b c \n", "m", "comment", Some("a  b c")),
            ("[m]\ncomment = x\ncomment = y\n", "m", "comment", Some("y")),
            ("[m]\n# path = /x\n; path = /y\n", "m", "path", None),
            (
                "[m]\n   # indented comment\npath=/z\n",
                "m",
                "path",
                Some("/z"),
            ),
            ("[m]\npath = /a\\\n/b\n", "m", "path", Some("/a/b")),
            (
                "[m]\nhosts allow = 10.0.0.0/8 \\\n  192.168.1.1\n",
                "m",
                "hosts allow",
                Some("10.0.0.0/8   192.168.1.1"),
            ),
            ("timeout = 30\n[m]\npath=/x\n", "m", "timeout", Some("30")),
            (
                "[m]\npath=/x\n[global]\ntimeout = 30\n[n]\npath=/y\n",
                "m",
                "timeout",
                None,
            ),
            (
                "[m]\npath=/x\n[global]\ntimeout = 30\n[n]\npath=/y\n",
                "n",
                "timeout",
                Some("30"),
            ),
            ("[m]\npath = /x = y\n", "m", "path", Some("/x = y")),
            (
                "[m]\nlandlock = optional\nlandlock allow = /usr\n",
                "m",
                "landlock allow",
                Some("/usr"),
            ),
            (
                "[m]\nrefuse options = delete c\n",
                "m",
                "refuse options",
                Some("delete c"),
            ),
            ("[m]\nlist = maybe\n", "m", "list", None),
            ("[ my   mod ]\npath=/x\n", "my mod", "path", Some("/x")),
            ("[m]\npath=/x\n[m]\ncomment=c\n", "m", "path", Some("/x")),
        ];
        for (text, module, key, want) in cases {
            let cfg = parse(text);
            let m = cfg
                .module(module)
                .unwrap_or_else(|| panic!("module {module} in {text:?}"));
            assert_eq!(m.params.get(key), *want, "{text:?} {key}");
        }
    }

    #[test]
    fn booleans() {
        for (v, want) in [
            ("yes", Some(true)),
            ("TRUE", Some(true)),
            ("1", Some(true)),
            ("No", Some(false)),
            ("false", Some(false)),
            ("0", Some(false)),
            ("y", None),
            ("", None),
        ] {
            assert_eq!(parse_bool(v), want, "{v}");
        }
        let cfg = parse("[m]\nread only = false\nlist = 0\n");
        let m = cfg.module("m").expect("m");
        assert!(!m.read_only());
        assert!(!m.list());
        assert!(!m.write_only());
        assert!(m.strict_modes());
    }

    #[test]
    fn max_alloc() {
        let cfg = parse(
            "[d]\npath=/x\n[m]\nmax alloc = 64M\n[b]\nmax_alloc = lots\n[s]\nmax alloc = 10k\n",
        );
        assert_eq!(
            cfg.module("d").expect("d").max_alloc(),
            Ok(DAEMON_MAX_ALLOC)
        );
        assert_eq!(DAEMON_MAX_ALLOC, 256 << 20);
        assert_eq!(cfg.module("m").expect("m").max_alloc(), Ok(64 << 20));
        assert_eq!(
            cfg.module("b")
                .expect("b")
                .max_alloc()
                .unwrap_err()
                .to_string(),
            "module parameter max alloc: --max-alloc=lots is invalid"
        );
        assert!(cfg
            .module("s")
            .expect("s")
            .max_alloc()
            .unwrap_err()
            .to_string()
            .contains("too small"));
    }

    #[test]
    fn warnings_for_unknown_and_bad() {
        let cfg = parse("frobnicate = 1\n[m]\nlist = maybe\nport = 99\n");
        assert_eq!(cfg.warnings.len(), 3, "{:?}", cfg.warnings);
        assert!(cfg.warnings[0].contains("unknown parameter \"frobnicate\""));
        assert!(cfg.warnings[1].contains("needs a boolean"));
        assert!(cfg.warnings[2].contains("global parameter"));
    }

    #[test]
    fn globals() {
        let cfg =
            parse("port = 8873\naddress = 127.0.0.1\nmotd file = /etc/motd\npid file=/run/x.pid\n");
        assert_eq!(cfg.globals.int("port", 873), 8873);
        assert_eq!(cfg.globals.get("address"), Some("127.0.0.1"));
        assert_eq!(cfg.globals.get("motdfile"), Some("/etc/motd"));
        assert_eq!(cfg.globals.get("pid_file"), Some("/run/x.pid"));
    }

    #[test]
    fn syntax_errors() {
        for text in ["[m\n", "[]\n", "[a/b]\n", "no equals sign\n", "&include\n"] {
            assert!(Config::parse_str(text, Path::new("t")).is_err(), "{text:?}");
        }
    }

    #[test]
    fn include_and_merge() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::create_dir(d.join("conf.d")).expect("mkdir");
        fs::write(d.join("conf.d/b.conf"), "[b]\npath = /b\n").expect("w");
        fs::write(d.join("conf.d/a.conf"), "read only = no\n[a]\npath = /a\n").expect("w");
        fs::write(d.join("conf.d/g.inc"), "comment = merged default\n").expect("w");
        fs::write(d.join("conf.d/ignored.txt"), "[zzz]\n").expect("w");
        let top = format!(
            "&merge {0}/conf.d\n&include {0}/conf.d\n[c]\npath = /c\n",
            d.display()
        );
        fs::write(d.join("top.conf"), top).expect("w");
        let cfg = Config::load(&d.join("top.conf")).expect("load");
        let names: Vec<&str> = cfg.modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        // &include: a's "read only = no" default stays inside its file.
        assert!(!cfg.module("a").expect("a").read_only());
        assert!(cfg.module("b").expect("b").read_only());
        assert!(cfg.module("c").expect("c").read_only());
        // &merge: the default from g.inc reaches every later module.
        assert_eq!(cfg.module("c").expect("c").comment(), "merged default");
        assert_eq!(cfg.module("a").expect("a").comment(), "merged default");
        // The same with upstream's `&include = PATH` spelling.
        let eq = format!(
            "&merge = {0}/conf.d\n&include= {0}/conf.d\n[c]\npath = /c\n",
            d.display()
        );
        fs::write(d.join("eq.conf"), eq).expect("w");
        let cfg = Config::load(&d.join("eq.conf")).expect("load with =");
        let names: Vec<&str> = cfg.modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(cfg.module("c").expect("c").comment(), "merged default");
    }

    #[test]
    fn include_loop_is_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("self.conf");
        fs::write(&f, format!("&merge {}\n", f.display())).expect("w");
        assert!(matches!(Config::load(&f), Err(ConfigError::TooDeep { .. })));
    }

    #[test]
    fn vars() {
        let env = |k: &str| (k == "USER").then(|| "bob".to_string());
        assert_eq!(conf_tokens(" a, b\tc,,d "), ["a", "b", "c", "d"]);
        assert_eq!(
            conf_tokens(" ,@Group Name:deny, alice:rw ,,"),
            ["@Group Name:deny", "alice:rw"]
        );
        assert!(conf_tokens(" , ,").is_empty());
        assert_eq!(expand_vars("/home/%USER%/x", &env), "/home/bob/x");
        assert_eq!(expand_vars("/a/%NOPE%/b", &env), "/a/%NOPE%/b");
        assert_eq!(expand_vars("100%% sure %", &env), "100% sure %");
    }
}
