//! A client's path argument, checked and stripped of the module's name.

use confine::RelPath;

/// A checked client path inside the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// The path below the module root ("" for the root).
    pub rel: String,
    /// Written with a trailing slash (or `/.`).
    pub trailing_slash: bool,
}

/// Why a client's path argument is refused (logged, and sent to the
/// client after "rsync: ").
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    /// A `..` component.
    #[error("path \"{0}\" leaves the module")]
    Leaves(String),
    /// The rest is no safe relative name.
    #[error("bad path \"{arg}\": {source}")]
    Bad {
        /// The argument as the client sent it.
        arg: String,
        /// Why its name was rejected.
        source: confine::Error,
    },
}

/// Strips the module prefix from a client path argument and checks the
/// rest: leading slashes and `.` components are dropped, `..` is refused.
// upstream: util1.c:glob_expand_module() / sanitize_path()
pub fn module_tail(module: &str, arg: &str) -> Result<Tail, TailError> {
    let rest = if arg == module {
        ""
    } else if let Some(r) = arg.strip_prefix(module).and_then(|r| r.strip_prefix('/')) {
        r
    } else {
        arg
    };
    let trailing_slash =
        rest.is_empty() || rest.ends_with('/') || rest.ends_with("/.") || rest == ".";
    let mut parts = Vec::new();
    for c in rest.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(TailError::Leaves(arg.to_owned())),
            c => parts.push(c),
        }
    }
    let rel = parts.join("/");
    if !rel.is_empty() {
        RelPath::new(rel.as_bytes()).map_err(|source| TailError::Bad {
            arg: arg.to_owned(),
            source,
        })?;
    }
    Ok(Tail {
        rel,
        trailing_slash,
    })
}
