//! The ordered filter list: building it from options and merge files,
//! checking paths against it, and per-directory merge files during a walk.

use crate::error::Error;
use crate::rule::{self, lossy, parse_tok, Rule, Side};

/// A caller-supplied reader: given a file name, returns its contents, or
/// `None` if it does not exist or cannot be read. Names are relative to the
/// transfer root, except absolute ones (`/...`) given by the user or produced
/// by a parent-directory scan for a dir-merge rule whose name starts with `/`.
pub type ReadFn<'a> = dyn FnMut(&[u8]) -> Option<Vec<u8>> + 'a;

/// The upstream default `--cvs-exclude` list (whitespace separated).
pub const DEFAULT_CVSIGNORE: &str = "RCS SCCS CVS CVS.adm RCSLOG cvslog.* tags TAGS .make.state .nse_depinfo \
*~ #* .#* ,* _$* *$ *.old *.bak *.BAK *.orig *.rej .del-* *.a *.olb *.o *.obj *.so *.exe *.Z *.elc *.ln \
core .svn/ .git/ .hg/ .bzr/";

/// Longest pattern kept; longer ones are discarded (upstream's MAXPATHLEN).
const MAX_PATTERN_LEN: usize = 4096;
/// How deeply merge files may include each other.
pub const MAX_MERGE_DEPTH: usize = 32;

/// The result of checking a name against a filter list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The first matching rule is an include (or show/risk).
    Include,
    /// The first matching rule is an exclude (or hide/protect).
    Exclude,
    /// No rule matched.
    None,
}

#[derive(Debug, Clone)]
pub(crate) enum Entry {
    Rule(Rule),
    /// A per-directory merge rule; the index into `FilterList::merges`.
    PerDir(usize),
    /// A `-C` rule: consult the CVS-ignore list here.
    Cvs(Rule),
}

#[derive(Debug, Clone)]
pub(crate) struct MergeList {
    /// The dir-merge rule itself (flags; pattern as written by the user).
    pub(crate) rule: Rule,
    /// File name looked for in each directory (set up on first use).
    name: Vec<u8>,
    setup: bool,
    /// Rules of the current directory first, then inherited ones.
    rules: Vec<Entry>,
    local: usize,
    /// The dir-merge rule was read from a file's contents: the files it
    /// names are not shown in messages (see [`Source`]).
    from_file: bool,
}

/// Where the rule text now being parsed came from, when it is a file's
/// contents (upstream exclude.c rule_src_where()). A bad rule from a file
/// is reported by its place, never by its text: a peer may choose which
/// file gets merged, and an echoed line would let it read the file.
#[derive(Debug, Clone)]
struct Source {
    /// The file's name, when an argument (not a file's contents) named it.
    shown: Option<String>,
    /// Where the rule naming this file was, when the name itself is hidden.
    named_at: Option<String>,
    /// The line being parsed (1-based).
    line: usize,
}

impl Source {
    fn describe(&self) -> String {
        match (&self.shown, &self.named_at) {
            (Some(name), _) => format!("{name} line {}", self.line),
            (None, Some(at)) => format!("a file named at {at}"),
            (None, None) => "a file read earlier".to_string(),
        }
    }
}

#[derive(Debug, Clone)]
struct Frame {
    saved: Vec<(Vec<Entry>, usize)>,
    count: usize,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Top,
    Merge(usize),
    Cvs,
}

/// How anchored (`/...`) patterns of a per-directory merge file are rooted.
#[derive(Debug, Clone, Copy)]
enum Anchor<'d> {
    None,
    /// The directory holding the merge file, relative to the transfer root.
    Rel(&'d [u8]),
    /// An absolute directory above the transfer root (parent scan).
    Abs(&'d [u8]),
}

#[derive(Debug, Clone, Copy)]
struct Ctx<'d> {
    tmpl: u32,
    old: bool,
    anchor: Anchor<'d>,
}

impl Ctx<'static> {
    fn plain(tmpl: u32, old: bool) -> Self {
        Ctx {
            tmpl,
            old,
            anchor: Anchor::None,
        }
    }
}

/// An ordered list of filter rules; the first matching rule wins.
///
/// Build it with [`FilterList::add_filter`], [`FilterList::add_include`],
/// [`FilterList::add_exclude`], the `*_from` variants and
/// [`FilterList::add_cvs_exclude`] in command-line order (or with
/// [`FilterList::from_wire`] on a server), then query it with
/// [`FilterList::is_excluded`] (sender walk) or [`FilterList::is_protected`]
/// (receiver deletion), calling [`FilterList::enter_dir`] /
/// [`FilterList::leave_dir`] around each directory so per-directory merge
/// files take effect.
#[derive(Debug, Default, Clone)]
pub struct FilterList {
    pub(crate) rules: Vec<Entry>,
    pub(crate) cvs: Vec<Entry>,
    cvs_built: bool,
    pub(crate) merges: Vec<MergeList>,
    frames: Vec<Frame>,
    abs_root: Vec<u8>,
    pub(crate) delete_excluded: bool,
    eol_nulls: bool,
    cvs_home: Option<Vec<u8>>,
    /// `$HOME/.cvsignore` as read already by its caller (a server's).
    cvs_home_text: Option<Vec<u8>>,
    cvs_env: Option<Vec<u8>>,
    depth: usize,
    /// The files being parsed, innermost last.
    sources: Vec<Source>,
    /// The FILTER debug level (add_rule traces) and who is parsing.
    debug: (u8, &'static str),
    /// Messages for the caller to print (see [`FilterList::take_notes`]).
    notes: Vec<Note>,
}

/// A message the list has for its user: a discarded rule, an unusable
/// merge-file name, a debug trace. Rule text read from a file never
/// appears in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// An error (else information).
    pub error: bool,
    /// The line, without a newline.
    pub text: String,
}

/// How a rule read from a file is shown once parsing is over.
const HIDDEN_RULE: &str = "<rule from a file read earlier>";

/// Which list a deciding rule is in (upstream's debug_type).
#[derive(Debug, Clone, Copy)]
enum ListId {
    Top,
    Cvs,
    PerDir(usize),
}

impl FilterList {
    /// An empty list.
    pub fn new() -> FilterList {
        FilterList::default()
    }

    /// True if no rule is present.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// True if a per-directory merge rule (`dir-merge`, `:`) is present:
    /// its rules are read on the sending side only.
    pub fn has_per_dir_merge(&self) -> bool {
        !self.merges.is_empty()
    }

    /// Number of top-level entries (rules, dir-merge rules and `-C` rules).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Sets the absolute path of the transfer root (upstream's curr_dir):
    /// `/`-modifier rules match against it joined with the relative name, and
    /// dir-merge names starting with `/` scan its parents.
    pub fn set_root(&mut self, abs_root: &[u8]) {
        self.abs_root = abs_root.to_vec();
    }

    /// The FILTER debug level and the role name its traces start with
    /// (`client`, `sender`, ...): at 1 a rule with trailing whitespace is
    /// noted, at 2 every rule added.
    pub fn set_debug(&mut self, level: u8, who: &'static str) {
        self.debug = (level, who);
    }

    /// The messages gathered since the last call, oldest first.
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// `text` (rule text or a name taken from it) as it may be shown: a
    /// file's contents are replaced by where they came from.
    fn shown(&self, text: &[u8], from_file: bool) -> String {
        match self.sources.last() {
            Some(src) => format!("<rule from {}>", src.describe()),
            None if from_file => HIDDEN_RULE.to_string(),
            None => lossy(text),
        }
    }

    /// `--delete-excluded`: plain include/exclude rules (already added or
    /// added later) become sender-side only.
    pub fn set_delete_excluded(&mut self) {
        self.delete_excluded = true;
        // A `-C` rule given before the option, and the CVS list it built,
        // become sender-side too.
        for e in self.rules.iter_mut().chain(self.cvs.iter_mut()) {
            if let Entry::Rule(r) | Entry::Cvs(r) = e {
                if r.flags & (rule::SIDES | rule::MERGE_FILE) == 0 {
                    r.flags |= rule::SENDER_SIDE;
                }
            }
        }
    }

    /// `--from0`: rule files (`*-from`, `merge`) are NUL-separated, not lines.
    pub fn set_eol_nulls(&mut self, on: bool) {
        self.eol_nulls = on;
    }

    /// Where `-C` finds its extra patterns: the path of `$HOME/.cvsignore`
    /// (read through the reader) and the value of `$CVSIGNORE`. Unset, only
    /// the default list is used.
    pub fn set_cvs_sources(&mut self, home_file: Option<Vec<u8>>, env_value: Option<Vec<u8>>) {
        self.cvs_home = home_file;
        self.cvs_env = env_value;
    }

    /// The `$HOME/.cvsignore` path given to [`FilterList::set_cvs_sources`].
    pub fn cvs_home(&self) -> Option<&[u8]> {
        self.cvs_home.as_deref()
    }

    /// The text of the `$HOME/.cvsignore` given to
    /// [`FilterList::set_cvs_sources`], read by the caller: a list built
    /// from a peer's rules reads no file through its reader.
    pub fn set_cvs_home_text(&mut self, text: Vec<u8>) {
        self.cvs_home_text = Some(text);
    }

    /// [`FilterList::set_cvs_sources`] from this process's `HOME` and `CVSIGNORE`.
    pub fn set_cvs_sources_from_env(&mut self) {
        use std::os::unix::ffi::OsStrExt;
        let home = std::env::var_os("HOME").map(|h| {
            let mut p = h.as_bytes().to_vec();
            p.extend_from_slice(b"/.cvsignore");
            p
        });
        let env = std::env::var_os("CVSIGNORE").map(|v| v.as_bytes().to_vec());
        self.set_cvs_sources(home, env);
    }

    /// `--filter=RULE` (also the form of each line in a merge file).
    /// `merge` rules read their file through `read` now.
    // upstream: exclude.c:parse_filter_str()
    pub fn add_filter(&mut self, rule: &[u8], read: &mut ReadFn<'_>) -> Result<(), Error> {
        self.parse_str(Target::Top, rule, Ctx::plain(0, false), read)
    }

    /// `--include=PATTERN` (a `- ` or `+ ` prefix is honoured; `!` clears).
    pub fn add_include(&mut self, pattern: &[u8]) -> Result<(), Error> {
        self.parse_str(
            Target::Top,
            pattern,
            Ctx::plain(rule::INCLUDE, true),
            &mut |_| None,
        )
    }

    /// `--exclude=PATTERN` (a `- ` or `+ ` prefix is honoured; `!` clears).
    pub fn add_exclude(&mut self, pattern: &[u8]) -> Result<(), Error> {
        self.parse_str(Target::Top, pattern, Ctx::plain(0, true), &mut |_| None)
    }

    /// `--include-from=FILE`: one pattern per line, read through `read`.
    pub fn add_include_from(&mut self, file: &[u8], read: &mut ReadFn<'_>) -> Result<(), Error> {
        self.add_from(file, rule::INCLUDE, read)
    }

    /// `--exclude-from=FILE`: one pattern per line, read through `read`.
    pub fn add_exclude_from(&mut self, file: &[u8], read: &mut ReadFn<'_>) -> Result<(), Error> {
        self.add_from(file, 0, read)
    }

    fn add_from(&mut self, file: &[u8], tmpl: u32, read: &mut ReadFn<'_>) -> Result<(), Error> {
        let kind = if tmpl & rule::INCLUDE != 0 {
            "include"
        } else {
            "exclude"
        };
        let data = read(file).ok_or_else(|| Error::MergeFile {
            path: lossy(file),
            kind,
        })?;
        self.parse_file(Target::Top, &data, file, Ctx::plain(tmpl, true), read)
    }

    /// `-C`/`--cvs-exclude`: appends `:C` (per-directory `.cvsignore`) and
    /// `-C` (the default list, `$HOME/.cvsignore`, `$CVSIGNORE`), after every
    /// other rule, as upstream does once all options are parsed.
    pub fn add_cvs_exclude(&mut self, read: &mut ReadFn<'_>) -> Result<(), Error> {
        self.add_filter(b":C", read)?;
        self.add_filter(b"-C", read)
    }

    /// `-F` given `count` times: the first adds `dir-merge /.rsync-filter`,
    /// the second `- .rsync-filter`.
    pub fn add_rsync_filter_shorthand(
        &mut self,
        count: usize,
        read: &mut ReadFn<'_>,
    ) -> Result<(), Error> {
        if count >= 1 {
            self.add_filter(b": /.rsync-filter", read)?;
        }
        if count >= 2 {
            self.add_filter(b"- .rsync-filter", read)?;
        }
        Ok(())
    }

    /// Checks `path` (relative to the transfer root, e.g. `a/b/c`) for the
    /// sender's walk: hide/show and plain rules apply, protect/risk do not.
    pub fn check(&self, path: &[u8], is_dir: bool) -> Match {
        self.check_side(path, is_dir, Side::Sender, false)
    }

    /// Checks `path` as seen by `side`. `ignore_perishable` skips `p` rules
    /// (the receiver sets it while deleting inside a directory that is itself
    /// being deleted).
    // upstream: exclude.c:check_filter()
    pub fn check_side(
        &self,
        path: &[u8],
        is_dir: bool,
        side: Side,
        ignore_perishable: bool,
    ) -> Match {
        self.check_entries(&self.rules, path, is_dir, false, side, ignore_perishable)
    }

    /// True if the sender must leave `path` out of the file list (and, for a
    /// directory, not descend into it).
    pub fn is_excluded(&self, path: &[u8], is_dir: bool) -> bool {
        self.check(path, is_dir) == Match::Exclude
    }

    /// True if the receiver must not delete `path` (protected or excluded).
    pub fn is_protected(&self, path: &[u8], is_dir: bool) -> bool {
        self.check_side(path, is_dir, Side::Receiver, false) == Match::Exclude
    }

    /// True if any rule is an xattr-name rule (`x`): upstream's
    /// saw_xattr_filter, which then replaces the namespace checks of `-X`.
    pub fn has_xattr_rules(&self) -> bool {
        self.rules
            .iter()
            .any(|e| matches!(e, Entry::Rule(r) if r.is_xattr()))
    }

    /// True if the extended attribute `name` is excluded by `x` rules for `side`.
    pub fn is_xattr_excluded(&self, name: &[u8], side: Side) -> bool {
        self.check_entries(&self.rules, name, false, true, side, false) == Match::Exclude
    }

    fn check_entries(
        &self,
        entries: &[Entry],
        path: &[u8],
        is_dir: bool,
        xattr: bool,
        side: Side,
        ignore_perishable: bool,
    ) -> Match {
        let how = (is_dir, xattr, side, ignore_perishable);
        match self.decide(entries, ListId::Top, path, how) {
            Some((r, _)) if r.is_include() => Match::Include,
            Some(_) => Match::Exclude,
            None => Match::None,
        }
    }

    /// As [`FilterList::check_side`], also describing the rule that decided
    /// for the FILTER debug trace: `PATTERN[/][ [LIST]]`, where a pattern
    /// (or per-directory file name) read from a file is replaced by
    /// `<rule from a file read earlier>`.
    // upstream: exclude.c:report_filter_result()
    pub fn check_traced(&self, path: &[u8], is_dir: bool, side: Side) -> (Match, Option<String>) {
        let Some((r, list)) =
            self.decide(&self.rules, ListId::Top, path, (is_dir, false, side, false))
        else {
            return (Match::None, None);
        };
        let m = if r.is_include() {
            Match::Include
        } else {
            Match::Exclude
        };
        let from_file = r.flags & rule::FROM_FILE != 0;
        let mut text = if from_file {
            HIDDEN_RULE.to_string()
        } else {
            let mut t = lossy(&r.pattern);
            if r.flags & rule::DIRECTORY != 0 {
                t.push('/');
            }
            t
        };
        match list {
            ListId::Top => {}
            ListId::Cvs => text.push_str(" [global CVS]"),
            ListId::PerDir(id) => {
                if let Some(m) = self.merges.get(id) {
                    let name = if m.from_file {
                        HIDDEN_RULE.to_string()
                    } else {
                        let p = &m.rule.pattern;
                        lossy(p.rsplit(|&b| b == b'/').next().unwrap_or(p))
                    };
                    text.push_str(&format!(" [per-dir {name}]"));
                }
            }
        }
        (m, Some(text))
    }

    /// The first rule of `entries` (list `here`) matching `path`, with the
    /// list it is in.
    fn decide<'a>(
        &'a self,
        entries: &'a [Entry],
        here: ListId,
        path: &[u8],
        how: (bool, bool, Side, bool),
    ) -> Option<(&'a Rule, ListId)> {
        let (is_dir, xattr, side, ignore_perishable) = how;
        for e in entries {
            let found = match e {
                Entry::Rule(r) => {
                    if (ignore_perishable && r.is_perishable()) || !r.applies_to(side) {
                        continue;
                    }
                    if !r.matches_name(path, is_dir, xattr, &self.abs_root) {
                        continue;
                    }
                    Some((r, here))
                }
                Entry::PerDir(id) => match self.merges.get(*id) {
                    Some(m) if !(ignore_perishable && m.rule.is_perishable()) => {
                        self.decide(&m.rules, ListId::PerDir(*id), path, how)
                    }
                    _ => continue,
                },
                Entry::Cvs(r) => {
                    if (ignore_perishable && r.is_perishable()) || !r.applies_to(side) {
                        continue;
                    }
                    self.decide(&self.cvs, ListId::Cvs, path, how)
                }
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// Call when the walk enters directory `dir` (relative to the transfer
    /// root; empty for the root itself), before checking its entries. Reads
    /// each active per-directory merge file (`dir/NAME`) through `read`.
    /// Every successful call must be paired with one [`FilterList::leave_dir`];
    /// on error the list is left as it was.
    // upstream: exclude.c:push_local_filters()
    pub fn enter_dir(&mut self, dir: &[u8], read: &mut ReadFn<'_>) -> Result<(), Error> {
        let dir = trim_dir(dir);
        let frame = Frame {
            saved: self
                .merges
                .iter()
                .map(|m| (m.rules.clone(), m.local))
                .collect(),
            count: self.merges.len(),
        };
        let result = self.push_merges(dir, read);
        self.frames.push(frame);
        if result.is_err() {
            self.leave_dir();
        }
        result
    }

    fn push_merges(&mut self, dir: &[u8], read: &mut ReadFn<'_>) -> Result<(), Error> {
        let mut i = 0;
        while i < self.merges.len() {
            let m = &mut self.merges[i];
            m.local = 0;
            if m.rule.flags & rule::NO_INHERIT != 0 {
                m.rules.clear();
            }
            if !m.setup {
                self.setup_merge(i, dir, read)?;
            }
            let m = &self.merges[i];
            let tmpl = m.rule.flags;
            let mut path = dir.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&m.name);
            if let Some(data) = read(&path) {
                let ctx = Ctx {
                    tmpl,
                    old: false,
                    anchor: Anchor::Rel(dir),
                };
                self.parse_file(Target::Merge(i), &data, &path, ctx, read)?;
            }
            i += 1;
        }
        Ok(())
    }

    /// Call when the walk is done with the directory of the matching
    /// [`FilterList::enter_dir`]: drops the rules its merge files added.
    // upstream: exclude.c:pop_local_filters()
    pub fn leave_dir(&mut self) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        self.merges.truncate(frame.count);
        for (m, (rules, local)) in self.merges.iter_mut().zip(frame.saved) {
            m.rules = rules;
            m.local = local;
        }
    }

    /// How many [`FilterList::enter_dir`] calls are open.
    pub fn dir_depth(&self) -> usize {
        self.frames.len()
    }

    /// Finishes a dir-merge rule on first use, in directory `dir` (relative
    /// to the transfer root): its name becomes the base name, and if the
    /// name's directory (absolute, or relative to `dir`, `..` collapsed) is
    /// `dir` or one of its ancestors, that directory and every one below it
    /// down to `dir`'s parent are read first, by absolute name.
    // upstream: exclude.c:setup_merge_file(), parse_merge_name()
    fn setup_merge(&mut self, i: usize, dir: &[u8], read: &mut ReadFn<'_>) -> Result<(), Error> {
        let orig = self.merges[i].rule.pattern.clone();
        self.merges[i].setup = true;
        let Some(pos) = orig.iter().rposition(|&b| b == b'/') else {
            self.merges[i].name = orig;
            return Ok(());
        };
        let name = orig[pos + 1..].to_vec();
        self.merges[i].name = name.clone();
        if self.abs_root.is_empty() {
            return Ok(());
        }
        let here_path = [&self.abs_root[..], b"/", dir].concat();
        if !orig.starts_with(b"/") && here_path.len() + 1 + orig.len() >= MAX_PATTERN_LEN {
            // upstream parse_merge_name(): the name is unusable (and,
            // read from a file, not shown).
            let m = &self.merges[i];
            let text = format!(
                "merge-file name overflows: {}",
                self.shown(&orig, m.from_file)
            );
            self.notes.push(Note { error: true, text });
            self.merges[i].name = orig;
            return Ok(());
        }
        let here = clean_components(&here_path);
        let start = if orig.starts_with(b"/") {
            clean_components(&orig[..pos])
        } else {
            clean_components(&[&here_path[..], b"/", &orig[..pos]].concat())
        };
        if start.len() > here.len() || here[..start.len()] != start[..] {
            return Ok(());
        }
        let tmpl = self.merges[i].rule.flags;
        for depth in start.len()..here.len() {
            let mut dir = Vec::new();
            for c in &here[..depth] {
                dir.push(b'/');
                dir.extend_from_slice(c);
            }
            let mut path = dir.clone();
            path.push(b'/');
            path.extend_from_slice(&name);
            if let Some(data) = read(&path) {
                let ctx = Ctx {
                    tmpl,
                    old: false,
                    anchor: Anchor::Abs(&dir),
                };
                self.parse_file(Target::Merge(i), &data, &path, ctx, read)?;
            }
            let m = &mut self.merges[i];
            if tmpl & rule::NO_INHERIT != 0 {
                m.rules.clear();
            }
            m.local = 0;
        }
        Ok(())
    }

    /// Parses every rule of a merge file's contents into `target`.
    // upstream: exclude.c:parse_filter_file()
    fn parse_file(
        &mut self,
        target: Target,
        data: &[u8],
        name: &[u8],
        ctx: Ctx<'_>,
        read: &mut ReadFn<'_>,
    ) -> Result<(), Error> {
        if self.depth >= MAX_MERGE_DEPTH {
            return Err(Error::MergeDepth {
                path: lossy(name),
                limit: MAX_MERGE_DEPTH,
            });
        }
        let from_file_rule = matches!(target, Target::Merge(i) if self.merges[i].from_file);
        let source = Source {
            shown: (self.sources.is_empty() && !from_file_rule).then(|| lossy(name)),
            named_at: self.sources.last().map(Source::describe),
            line: 0,
        };
        self.sources.push(source);
        self.depth += 1;
        let result = self.parse_lines(target, data, ctx, read);
        self.depth -= 1;
        self.sources.pop();
        result
    }

    /// An error met on the current line of a file: the rule's text (or a
    /// file name it gave) is replaced by where it is.
    fn hide(&self, e: Error) -> Error {
        let Some(src) = self.sources.last() else {
            return e;
        };
        let at = || format!("<rule from {}>", src.describe());
        match e {
            Error::Rule { text, reason } if !text.starts_with('<') => {
                Error::Rule { text: at(), reason }
            }
            Error::Modifier { text, .. } if !text.starts_with('<') => Error::Rule {
                text: at(),
                reason: "invalid modifier",
            },
            Error::MergeFile { path, kind } if !path.starts_with('<') => Error::MergeFile {
                path: format!("<file named at {}>", src.describe()),
                kind,
            },
            Error::MergeDepth { path, limit } if !path.starts_with('<') => Error::MergeDepth {
                path: format!("<file named at {}>", src.describe()),
                limit,
            },
            other => other,
        }
    }

    fn parse_lines(
        &mut self,
        target: Target,
        data: &[u8],
        ctx: Ctx<'_>,
        read: &mut ReadFn<'_>,
    ) -> Result<(), Error> {
        let word_split = ctx.tmpl & rule::WORD_SPLIT != 0;
        let eol_nulls = self.eol_nulls;
        let is_sep = |c: u8| {
            (word_split && (c == b' ' || (b'\t'..=b'\r').contains(&c)))
                || if eol_nulls {
                    c == 0
                } else {
                    c == b'\n' || c == b'\r'
                }
        };
        let mut lineno = 1;
        let mut rest = data;
        while !rest.is_empty() {
            let end = rest.iter().position(|&c| is_sep(c)).unwrap_or(rest.len());
            let (line, sep) = (&rest[..end], rest.get(end).copied());
            rest = rest.get(end + 1..).unwrap_or_default();
            if let Some(src) = self.sources.last_mut() {
                src.line = lineno;
            }
            if sep == Some(if eol_nulls { 0 } else { b'\n' }) {
                lineno += 1;
            }
            if line.is_empty() || (!word_split && (line[0] == b';' || line[0] == b'#')) {
                continue;
            }
            if let Err(e) = self.parse_str(target, line, ctx, read) {
                return Err(self.hide(e));
            }
        }
        Ok(())
    }

    /// Parses a rule string (one rule, or several if word-split) into `target`.
    // upstream: exclude.c:parse_filter_str()
    fn parse_str(
        &mut self,
        target: Target,
        text: &[u8],
        ctx: Ctx<'_>,
        read: &mut ReadFn<'_>,
    ) -> Result<(), Error> {
        let mut rest = text;
        while let Some((tok, r)) = parse_tok(rest, ctx.tmpl, ctx.old, self.delete_excluded)? {
            rest = r;
            let in_file = !self.sources.is_empty();
            if tok.pat.len() >= MAX_PATTERN_LEN {
                let text = format!(
                    "discarding over-long filter: {}",
                    self.shown(tok.pat, false)
                );
                self.notes.push(Note { error: true, text });
                continue;
            }
            let mut flags = tok.flags | if in_file { rule::FROM_FILE } else { 0 };
            if flags & rule::CLEAR_LIST != 0 {
                self.clear(target);
                continue;
            }
            let mut pat = tok.pat;
            if flags & rule::MERGE_FILE != 0 {
                if pat.is_empty() {
                    pat = b".cvsignore";
                }
                if flags & rule::EXCLUDE_SELF != 0 {
                    let base = pat
                        .iter()
                        .rposition(|&b| b == b'/')
                        .map_or(pat, |p| &pat[p + 1..]);
                    // The merge rule's own text: its provenance too.
                    let r = Rule::build(flags & rule::FROM_FILE, base);
                    self.trace_add(target, &r);
                    self.push(target, Entry::Rule(r));
                    flags &= !rule::EXCLUDE_SELF;
                }
                if flags & rule::PERDIR_MERGE == 0 {
                    let kind = if flags & rule::INCLUDE != 0 {
                        "include"
                    } else {
                        "exclude"
                    };
                    let data = read(pat).ok_or_else(|| Error::MergeFile {
                        path: lossy(pat),
                        kind,
                    })?;
                    self.parse_file(target, &data, pat, Ctx::plain(flags, false), read)?;
                    continue;
                }
                let r = Rule::build(flags, pat);
                let base = |p: &[u8]| {
                    p.iter()
                        .rposition(|&b| b == b'/')
                        .map_or(p.to_vec(), |i| p[i + 1..].to_vec())
                };
                let new_base = base(&r.pattern);
                if self
                    .merges
                    .iter()
                    .any(|m| base(&m.rule.pattern) == new_base)
                {
                    continue;
                }
                self.trace_add(target, &r);
                self.merges.push(MergeList {
                    rule: r,
                    name: Vec::new(),
                    setup: false,
                    rules: Vec::new(),
                    local: 0,
                    from_file: in_file,
                });
                self.push(target, Entry::PerDir(self.merges.len() - 1));
                continue;
            }
            let anchored;
            let pat = match ctx.anchor {
                Anchor::Rel(dir)
                    if flags & rule::ABS_PATH == 0 && pat.starts_with(b"/") && !dir.is_empty() =>
                {
                    anchored = [b"/", dir, pat].concat();
                    &anchored[..]
                }
                Anchor::Abs(dir) if flags & rule::ABS_PATH == 0 && pat.starts_with(b"/") => {
                    flags |= rule::ABS_PATH;
                    anchored = [dir, pat].concat();
                    &anchored[..]
                }
                _ => pat,
            };
            let r = Rule::build(flags, pat);
            self.trace_add(target, &r);
            if flags & rule::CVS_IGNORE != 0 {
                self.push(target, Entry::Cvs(r));
                self.build_cvs(flags, read)?;
            } else {
                self.push(target, Entry::Rule(r));
            }
        }
        Ok(())
    }

    /// The FILTER debug trace of a rule being added: at level 1 only for
    /// a pattern ending in whitespace (a common mistake), at 2 for every
    /// one. Text read from a file is shown by where it came from, and
    /// nothing is said about it (not even its trailing whitespace).
    // upstream: exclude.c:add_rule() (mention_rule_suffix)
    fn trace_add(&mut self, target: Target, r: &Rule) {
        let (level, who) = self.debug;
        let from_file = r.flags & rule::FROM_FILE != 0;
        let trailing_ws = matches!(r.pattern.last(), Some(b' ' | b'\t'));
        let suffix = if level >= 1 && trailing_ws {
            " -- CAUTION: trailing whitespace!"
        } else if level >= 2 {
            ""
        } else {
            return;
        };
        let list = match target {
            Target::Top => String::new(),
            Target::Cvs => " [global CVS]".to_string(),
            Target::Merge(i) => {
                let m = &self.merges[i];
                let p = &m.rule.pattern;
                let base = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
                format!(" [per-dir {}]", self.shown(base, m.from_file))
            }
        };
        let text = if from_file {
            format!("[{who}] add_rule({}){list}", self.shown(&r.pattern, true))
        } else {
            let t = lossy(&r.to_text());
            format!("[{who}] add_rule({t}){list}{suffix}")
        };
        self.notes.push(Note { error: false, text });
    }

    /// Fills the CVS-ignore list once: defaults (perishable), then
    /// `$HOME/.cvsignore`, then `$CVSIGNORE`.
    // upstream: exclude.c:get_cvs_excludes()
    fn build_cvs(&mut self, flags: u32, read: &mut ReadFn<'_>) -> Result<(), Error> {
        if self.cvs_built {
            return Ok(());
        }
        self.cvs_built = true;
        let ctx = Ctx::plain(flags, false);
        let perishable = Ctx::plain(flags | rule::PERISHABLE, false);
        self.parse_str(Target::Cvs, DEFAULT_CVSIGNORE.as_bytes(), perishable, read)?;
        if let Some(home) = self.cvs_home.clone() {
            if let Some(data) = self.cvs_home_text.clone().or_else(|| read(&home)) {
                self.parse_file(Target::Cvs, &data, &home, ctx, read)?;
            }
        }
        if let Some(env) = self.cvs_env.clone() {
            self.parse_str(Target::Cvs, &env, ctx, read)?;
        }
        Ok(())
    }

    fn push(&mut self, target: Target, e: Entry) {
        match target {
            Target::Top => self.rules.push(e),
            Target::Cvs => self.cvs.push(e),
            Target::Merge(i) => {
                let m = &mut self.merges[i];
                m.rules.insert(m.local, e);
                m.local += 1;
            }
        }
    }

    fn clear(&mut self, target: Target) {
        match target {
            Target::Top => {
                self.rules.clear();
                if self.frames.is_empty() {
                    self.merges.clear();
                }
            }
            Target::Cvs => self.cvs.clear(),
            Target::Merge(i) => {
                self.merges[i].rules.clear();
                self.merges[i].local = 0;
            }
        }
    }

    /// The top-level rules in `--filter` syntax, for logging and debugging.
    pub fn to_texts(&self) -> Vec<Vec<u8>> {
        self.rules
            .iter()
            .map(|e| match e {
                Entry::Rule(r) | Entry::Cvs(r) => r.to_text(),
                Entry::PerDir(id) => self
                    .merges
                    .get(*id)
                    .map(|m| m.rule.to_text())
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// The components of the absolute path `path` with `.` and empty ones
/// dropped and each `..` taking the one before it away (none above `/`),
/// as upstream's clean_fname(CFN_COLLAPSE_DOT_DOT_DIRS).
fn clean_components(path: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            _ => out.push(c.to_vec()),
        }
    }
    out
}

fn trim_dir(dir: &[u8]) -> &[u8] {
    let mut d = dir;
    while let Some(r) = d.strip_prefix(b"./") {
        d = r;
    }
    while let Some(r) = d.strip_suffix(b"/") {
        d = r;
    }
    if d == b"." {
        b""
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn none(_: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn list(rules: &[&str]) -> FilterList {
        let mut l = FilterList::new();
        for r in rules {
            l.add_filter(r.as_bytes(), &mut none).unwrap();
        }
        l
    }

    #[test]
    fn first_match_wins() {
        let l = list(&["+ *.c", "- *"]);
        assert_eq!(l.check(b"a.c", false), Match::Include);
        assert_eq!(l.check(b"a.h", false), Match::Exclude);
        let l = list(&["- *", "+ *.c"]);
        assert_eq!(l.check(b"a.c", false), Match::Exclude);
        assert_eq!(list(&[]).check(b"x", false), Match::None);
    }

    #[test]
    fn clear_and_cli_forms() {
        let mut l = list(&["- a", "!", "- b"]);
        assert!(!l.is_excluded(b"a", false));
        assert!(l.is_excluded(b"b", false));
        l.add_include(b"c").unwrap();
        l.add_exclude(b"+ d").unwrap();
        l.add_exclude(b"!").unwrap();
        assert!(l.is_empty());
        assert!(list(&["!"]).is_empty());
    }

    #[test]
    fn sides() {
        let l = list(&["H h", "P p", "- both", "-s s", "-r r", "-sr sr"]);
        assert!(l.is_excluded(b"h", false));
        assert!(!l.is_protected(b"h", false));
        assert!(!l.is_excluded(b"p", false));
        assert!(l.is_protected(b"p", false));
        assert!(l.is_excluded(b"both", false) && l.is_protected(b"both", false));
        assert!(l.is_excluded(b"s", false) && !l.is_protected(b"s", false));
        assert!(!l.is_excluded(b"r", false) && l.is_protected(b"r", false));
        assert!(l.is_excluded(b"sr", false) && l.is_protected(b"sr", false));
        let l = list(&["-p core"]);
        assert!(l.is_protected(b"core", false));
        assert_eq!(
            l.check_side(b"core", false, Side::Receiver, true),
            Match::None
        );
    }

    #[test]
    fn cvs_defaults_and_sources() {
        let mut l = FilterList::new();
        l.set_cvs_sources(
            Some(b"/home/u/.cvsignore".to_vec()),
            Some(b"*.env ! keep".to_vec()),
        );
        let mut files: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        files.insert(b"/home/u/.cvsignore".to_vec(), b"*.home\n".to_vec());
        l.add_cvs_exclude(&mut |p| files.get(p).cloned()).unwrap();
        // `!` in $CVSIGNORE clears the list, so only later names remain.
        assert!(!l.is_excluded(b"x.o", false));
        assert!(l.is_excluded(b"keep", false));
        let mut l = FilterList::new();
        l.add_cvs_exclude(&mut none).unwrap();
        for n in ["x.o", "core", "a~", "#x", "RCS", "x.BAK"] {
            assert!(l.is_excluded(n.as_bytes(), false), "{n}");
        }
        assert!(l.is_excluded(b".git", true));
        assert!(!l.is_excluded(b".git", false));
        assert!(!l.is_excluded(b"x.c", false));
        assert_eq!(
            l.to_texts(),
            vec![b":C .cvsignore".to_vec(), b"-C ".to_vec()]
        );
    }

    #[test]
    fn merge_files() {
        let mut files: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        files.insert(
            b"rules".to_vec(),
            b"# comment\n; other\n+ keep.o\r\n- *.o\n\n".to_vec(),
        );
        files.insert(b"ex".to_vec(), b"a\n+ b\n- c".to_vec());
        files.insert(b"loop".to_vec(), b". loop\n".to_vec());
        let mut read = |p: &[u8]| files.get(p).cloned();
        let mut l = FilterList::new();
        l.add_filter(b"merge rules", &mut read).unwrap();
        l.add_include_from(b"ex", &mut read).unwrap();
        assert!(!l.is_excluded(b"keep.o", false));
        assert!(l.is_excluded(b"x.o", false));
        assert_eq!(l.check(b"a", false), Match::Include);
        assert_eq!(l.check(b"c", false), Match::Exclude);
        assert!(matches!(
            l.add_filter(b"merge missing", &mut read),
            Err(Error::MergeFile { .. })
        ));
        assert!(matches!(
            l.add_filter(b". loop", &mut read),
            Err(Error::MergeDepth { .. })
        ));
        let mut l = FilterList::new();
        l.add_filter(b".- ex", &mut read).unwrap();
        assert_eq!(l.check(b"+ b", false), Match::Exclude);
    }

    /// A bad line of a merge file is reported by its place, never by its
    /// text; a file named by a file is not named either (upstream 3.5.0
    /// exclude.c rule_text()). A rule from an argument is still echoed.
    #[test]
    fn bad_merge_lines_are_located_not_echoed() {
        let mut files: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        files.insert(b"rules".to_vec(), b"+ ok\r\n\nSECRET-1\n".to_vec());
        files.insert(b"outer".to_vec(), b"# c\n. inner\n".to_vec());
        files.insert(b"inner".to_vec(), b"SECRET-2\n".to_vec());
        files.insert(b"gone".to_vec(), b". missing-secret-name\n".to_vec());
        files.insert(b"mods".to_vec(), b"-Q SECRET-3\n".to_vec());
        let mut read = |p: &[u8]| files.get(p).cloned();
        let msg = |rule: &[u8], read: &mut ReadFn<'_>| {
            FilterList::new()
                .add_filter(rule, read)
                .unwrap_err()
                .to_string()
        };
        let m = msg(b". rules", &mut read);
        assert!(
            m.contains("<rule from rules line 3>") && !m.contains("SECRET"),
            "{m}"
        );
        let m = msg(b". outer", &mut read);
        assert!(
            m.contains("<rule from a file named at outer line 2>"),
            "{m}"
        );
        assert!(!m.contains("SECRET") && !m.contains("inner"), "{m}");
        let m = msg(b". gone", &mut read);
        assert!(
            m.contains("<file named at gone line 1>") && !m.contains("missing-secret"),
            "{m}"
        );
        let m = msg(b". mods", &mut read);
        assert!(
            m.contains("<rule from mods line 1>") && !m.contains("SECRET"),
            "{m}"
        );
        let m = msg(b"BAD-ARG", &mut read);
        assert!(
            m.contains("BAD-ARG"),
            "an argument's own text is shown: {m}"
        );
    }

    #[test]
    fn per_dir_merge() {
        let mut files: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        files.insert(b".f".to_vec(), b"- *.tmp\n- /top\n".to_vec());
        files.insert(b"a/.f".to_vec(), b"+ x.tmp\n- /sub\n".to_vec());
        files.insert(b"a/b/.f".to_vec(), b"!\n- y\n".to_vec());
        let mut read = |p: &[u8]| files.get(p).cloned();
        let mut l = FilterList::new();
        l.add_filter(b": .f", &mut read).unwrap();
        l.enter_dir(b"", &mut read).unwrap();
        assert!(l.is_excluded(b"top", false));
        assert!(l.is_excluded(b"q.tmp", false));
        l.enter_dir(b"a", &mut read).unwrap();
        assert!(!l.is_excluded(b"a/top", false));
        assert!(l.is_excluded(b"a/sub", false));
        assert!(!l.is_excluded(b"a/x.tmp", false));
        assert!(l.is_excluded(b"a/z.tmp", false));
        l.enter_dir(b"a/b", &mut read).unwrap();
        assert!(!l.is_excluded(b"a/b/z.tmp", false));
        assert!(l.is_excluded(b"a/b/y", false));
        l.leave_dir();
        assert!(l.is_excluded(b"a/z.tmp", false));
        l.leave_dir();
        assert!(!l.is_excluded(b"a/sub", false));
        l.leave_dir();
        assert_eq!(l.dir_depth(), 0);

        let mut l = FilterList::new();
        l.add_filter(b":n .f", &mut read).unwrap();
        l.enter_dir(b"", &mut read).unwrap();
        l.enter_dir(b"a", &mut read).unwrap();
        assert!(!l.is_excluded(b"a/z.tmp", false));
        assert_eq!(l.to_texts(), vec![b":n .f".to_vec()]);
    }

    #[test]
    fn dotdot_merge_name_scans_from_the_named_parent() {
        let mut files: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        files.insert(b".rsync-filter".to_vec(), b": ../rules\n".to_vec());
        files.insert(b"/srv/rules".to_vec(), b"- fromparent\n".to_vec());
        let mut seen = Vec::new();
        let mut read = |p: &[u8]| {
            seen.push(p.to_vec());
            files.get(p).cloned()
        };
        let mut l = FilterList::new();
        l.set_root(b"/srv/./data/");
        l.add_filter(b": .rsync-filter", &mut read).unwrap();
        l.enter_dir(b"", &mut read).unwrap();
        assert!(l.is_excluded(b"x/fromparent", false));
        let seen: Vec<String> = seen.iter().map(|s| lossy(s)).collect();
        // Read by absolute name, `..` collapsed; then `rules` in each dir.
        assert_eq!(seen, [".rsync-filter", "/srv/rules", "rules"]);
        assert!(l.take_notes().is_empty());
    }

    #[test]
    fn parent_scan_and_exclude_self() {
        let mut files: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        files.insert(
            b"/srv/.rsync-filter".to_vec(),
            b"- fromparent\n- /data/abs\n".to_vec(),
        );
        let mut seen = Vec::new();
        let mut read = |p: &[u8]| {
            seen.push(p.to_vec());
            files.get(p).cloned()
        };
        let mut l = FilterList::new();
        l.set_root(b"/srv/data");
        l.add_filter(b":e /.rsync-filter", &mut read).unwrap();
        l.enter_dir(b".", &mut read).unwrap();
        assert!(l.is_excluded(b"x/fromparent", false));
        assert!(l.is_excluded(b"abs", false));
        assert!(!l.is_excluded(b"x/abs", false));
        assert!(l.is_excluded(b".rsync-filter", false));
        let seen: Vec<String> = seen.iter().map(|s| lossy(s)).collect();
        assert_eq!(
            seen,
            ["/.rsync-filter", "/srv/.rsync-filter", ".rsync-filter"]
        );
    }

    #[test]
    fn delete_excluded_makes_plain_rules_sender_side() {
        let mut l = list(&["- a"]);
        l.set_delete_excluded();
        l.add_exclude(b"b").unwrap();
        l.add_filter(b"P c", &mut none).unwrap();
        assert!(l.is_excluded(b"a", false) && !l.is_protected(b"a", false));
        assert!(l.is_excluded(b"b", false) && !l.is_protected(b"b", false));
        assert!(l.is_protected(b"c", false));
    }
}
