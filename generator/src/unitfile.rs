//! The systemd unit-file model: parse, query, edit and serialise.
//!
//! Follows systemd.syntax(7) and the semantics Podman's Quadlet gives its inputs:
//! `#`/`;` comments, trailing-backslash continuations, repeated keys kept in order, an empty
//! assignment resetting a list, sections kept in input order (a repeated section header
//! continues the earlier one), `%` specifiers left untouched. Continuations are read by one
//! of two rules (see [`Continuation`]): systemd's for unit files and `.envgate` declarations,
//! Podman's for Quadlet inputs, whose meaning is what Podman's parser makes of them.
//!
//! Every assignment remembers the file and line it came from, so that errors can name them
//! even after drop-ins were merged in.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::split::{self, SplitError};

/// What systemd treats as whitespace around keys, values and lines.
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_ws_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// `s` without leading and trailing whitespace, bytewise: the whitespace is ASCII, so the
/// cuts fall on character boundaries (and this skips decoding UTF-8 on every line).
fn trim_ws(s: &str) -> &str {
    trim_ws_end(trim_ws_start(s))
}

fn trim_ws_start(s: &str) -> &str {
    let skip = s.bytes().take_while(|&b| is_ws_byte(b)).count();
    s.get(skip..).unwrap_or_default()
}

fn trim_ws_end(s: &str) -> &str {
    let keep = s.len() - s.bytes().rev().take_while(|&b| is_ws_byte(b)).count();
    s.get(..keep).unwrap_or_default()
}

/// How a line ending in a backslash continues on the next one. The two readers of unit
/// files disagree, and a file means what its reader makes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Continuation {
    /// systemd.syntax(7): an odd run of trailing backslashes continues the line and the
    /// backslash becomes a space; a blank line ends the continuation.
    #[default]
    Systemd,
    /// Podman's Quadlet parser (pkg/systemd/parser): any trailing backslash continues the
    /// line and is dropped, the next line is appended with nothing between (`A=1\` + `B=2`
    /// is `A=1B=2`), and blank lines inside the continuation are skipped like comments.
    Podman,
}

/// A parse failure, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        } else {
            write!(f, "{}: {}", self.path.display(), self.message)
        }
    }
}

impl std::error::Error for ParseError {}

/// Where an assignment came from: index into `UnitFile::sources` and 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    pub source: usize,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Comment(String),
    Assign(Assign),
}

/// `KEY=VALUE` kept as that one string (one allocation per line; written back as is).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Assign {
    text: String,
    eq: usize,
    origin: Origin,
}

impl Assign {
    fn new(key: &str, value: &str, origin: Origin) -> Assign {
        let mut text = String::with_capacity(key.len() + value.len() + 1);
        text.push_str(key);
        text.push('=');
        text.push_str(value);
        Assign {
            text,
            eq: key.len(),
            origin,
        }
    }

    fn key(&self) -> &str {
        &self.text[..self.eq]
    }

    /// Cheaper than comparing `key()`: lengths first, bytes only when they match.
    fn is_key(&self, key: &str) -> bool {
        self.eq == key.len() && self.text.as_bytes()[..self.eq] == *key.as_bytes()
    }

    fn value(&self) -> &str {
        &self.text[self.eq + 1..]
    }

    fn set_value(&mut self, value: &str) {
        self.text.truncate(self.eq + 1);
        self.text.push_str(value);
    }
}

#[derive(Debug)]
struct Group {
    /// Borrowed for the usual names (see [`group_name`]): no allocation to make, copy or free.
    name: Cow<'static, str>,
    /// Comments written before the `[name]` header.
    comments: Vec<String>,
    /// Change only through the methods below, which keep `key_bits` up to date.
    lines: Vec<Line>,
    /// A one-word filter of the keys assigned in `lines` (the [`key_bit`] of each, and maybe
    /// of keys removed since): most lookups ask for keys a group does not have, and the
    /// filter answers those without scanning the lines.
    key_bits: u64,
}

/// A copy has room for a few more lines: copies are made to be edited (a service starts as
/// a copy of its Quadlet file), and growing an exactly-sized vector copies it again.
impl Clone for Group {
    fn clone(&self) -> Group {
        let mut lines = Vec::with_capacity(self.lines.len() + 4);
        lines.extend(self.lines.iter().cloned());
        Group {
            name: self.name.clone(),
            comments: self.comments.clone(),
            lines,
            key_bits: self.key_bits,
        }
    }
}

/// Two groups are equal by content; the filter is only a summary of it.
impl PartialEq for Group {
    fn eq(&self, other: &Group) -> bool {
        self.name == other.name && self.comments == other.comments && self.lines == other.lines
    }
}

impl Eq for Group {}

/// The filter bit of a key, from its length and first and last bytes (cheap to compute, and
/// enough to tell the keys of one section apart).
fn key_bit(key: &str) -> u64 {
    let b = key.as_bytes();
    let first = u32::from(b.first().copied().unwrap_or(0));
    let last = u32::from(b.last().copied().unwrap_or(0));
    let h = (b.len() as u32).wrapping_mul(0x9e37_79b9)
        ^ first.wrapping_mul(0x85eb_ca6b)
        ^ last.wrapping_mul(0xc2b2_ae35);
    1 << (h >> 26)
}

/// The names of the groups Quadlet files and the services made of them use, so that a group
/// of one of these names needs no allocation for its name.
const USUAL_GROUP_NAMES: &[&str] = &[
    "Unit",
    "Service",
    "Install",
    "Container",
    "Quadlet",
    "Volume",
    "Network",
    "Image",
    "Build",
    "Pod",
    "Kube",
    "Artifact",
    "X-Container",
    "X-Quadlet",
    "X-Volume",
    "X-Network",
    "X-Image",
    "X-Build",
    "X-Pod",
    "X-Kube",
    "X-Artifact",
    "",
];

/// `name` as a group name: borrowed from [`USUAL_GROUP_NAMES`] when it is one of them.
fn group_name(name: &str) -> Cow<'static, str> {
    match USUAL_GROUP_NAMES
        .iter()
        .find(|n| n.len() == name.len() && **n == name)
    {
        Some(usual) => Cow::Borrowed(usual),
        None => Cow::Owned(name.to_string()),
    }
}

impl Group {
    fn new(name: &str) -> Group {
        Group {
            name: group_name(name),
            comments: Vec::new(),
            // Room for a typical section: the parser then does not regrow it line by line.
            lines: Vec::with_capacity(8),
            key_bits: 0,
        }
    }

    /// False when the group certainly has no assignment of `key`.
    fn may_have(&self, key: &str) -> bool {
        self.key_bits & key_bit(key) != 0
    }

    fn push_assign(&mut self, a: Assign) {
        self.key_bits |= key_bit(a.key());
        self.lines.push(Line::Assign(a));
    }

    fn insert_assign(&mut self, index: usize, a: Assign) {
        self.key_bits |= key_bit(a.key());
        self.lines.insert(index, Line::Assign(a));
    }

    /// Append another group's lines (and comments).
    fn append(&mut self, other: Group) {
        self.key_bits |= other.key_bits;
        self.comments.extend(other.comments);
        self.lines.extend(other.lines);
    }

    fn assignments(&self) -> impl DoubleEndedIterator<Item = (&str, &str, Origin)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Assign(a) => Some((a.key(), a.value(), a.origin)),
            Line::Comment(_) => None,
        })
    }
}

/// A parsed unit file (or a unit being built).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitFile {
    groups: Vec<Group>,
    /// The file name (no directory), e.g. `web.container`.
    pub filename: String,
    /// The path it was read from, or will be written to.
    pub path: PathBuf,
    /// Files whose assignments this unit holds: the main file first, then merged drop-ins.
    pub sources: Vec<PathBuf>,
}

impl UnitFile {
    pub fn new(filename: &str) -> UnitFile {
        UnitFile {
            filename: filename.to_string(),
            ..UnitFile::default()
        }
    }

    /// Read and parse a file, whatever it turns out to be: see [`crate::safe_read`] (only
    /// regular files up to 1 MiB are read, and nothing blocks).
    pub fn load(path: &Path) -> Result<UnitFile, ParseError> {
        UnitFile::load_listed(path, false)
    }

    /// [`UnitFile::load`] of a file its directory listing showed as a regular file (it is
    /// opened without a `stat` first; what was opened is still checked).
    pub fn load_listed(path: &Path, listed_regular: bool) -> Result<UnitFile, ParseError> {
        let budget = crate::budget::Budget::default();
        let owner = crate::trust::Owner::Anyone;
        UnitFile::load_within(path, listed_regular, &budget, owner, Continuation::Systemd)
    }

    /// [`UnitFile::load_listed`] within a run's limits (time and bytes: see `budget.rs`), with
    /// `owner` judged on the opened file (an input root acts on: see `trust.rs`), and its
    /// continuation lines read by `rule`.
    pub fn load_within(
        path: &Path,
        listed_regular: bool,
        budget: &crate::budget::Budget,
        owner: crate::trust::Owner,
        rule: Continuation,
    ) -> Result<UnitFile, ParseError> {
        let read = crate::safe_read::input_contents(path, listed_regular, budget, owner, |data| {
            UnitFile::parse_as(data, path, rule)
        });
        match read {
            Ok(parsed) => parsed,
            Err(refused) => {
                let (mut message, hint) = refused.describe(path);
                if let Some(h) = hint {
                    message.push_str("\n  hint: ");
                    message.push_str(&h);
                }
                Err(ParseError {
                    path: path.to_path_buf(),
                    line: 0,
                    message,
                })
            }
        }
    }

    /// Parse `data` as the contents of `path`, a systemd unit file (or `.envgate`).
    pub fn parse(data: &[u8], path: &Path) -> Result<UnitFile, ParseError> {
        UnitFile::parse_as(data, path, Continuation::Systemd)
    }

    /// Parse `data` as the contents of `path`, a Quadlet input or one of its drop-ins.
    pub fn parse_quadlet(data: &[u8], path: &Path) -> Result<UnitFile, ParseError> {
        UnitFile::parse_as(data, path, Continuation::Podman)
    }

    /// Parse `data` as the contents of `path`, continuation lines read by `rule`.
    pub fn parse_as(data: &[u8], path: &Path, rule: Continuation) -> Result<UnitFile, ParseError> {
        let mut unit = UnitFile {
            filename: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: path.to_path_buf(),
            sources: vec![path.to_path_buf()],
            groups: Vec::new(),
        };
        Parser {
            unit: &mut unit,
            current: None,
            pending_comments: Vec::new(),
            rule,
        }
        .run(data, path)?;
        Ok(unit)
    }

    // ------------------------------------------------------------------ groups

    fn group(&self, name: &str) -> Option<&Group> {
        self.groups
            .iter()
            .find(|g| g.name.len() == name.len() && g.name == name)
    }

    /// The group, when it may assign `key` (see [`Group::may_have`]).
    fn group_with(&self, name: &str, key: &str) -> Option<&Group> {
        self.group(name).filter(|g| g.may_have(key))
    }

    fn group_index(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    fn ensure_group(&mut self, name: &str) -> &mut Group {
        let i = match self.group_index(name) {
            Some(i) => i,
            None => {
                self.groups.push(Group::new(name));
                self.groups.len() - 1
            }
        };
        &mut self.groups[i]
    }

    pub fn has_group(&self, name: &str) -> bool {
        self.group(name).is_some()
    }

    pub fn list_groups(&self) -> Vec<&str> {
        self.groups.iter().map(|g| g.name.as_ref()).collect()
    }

    pub fn remove_group(&mut self, name: &str) {
        self.groups.retain(|g| g.name != name);
    }

    /// Rename a group; when `new` exists already the old group's lines are appended to it.
    pub fn rename_group(&mut self, old: &str, new: &str) {
        let Some(i) = self.group_index(old) else {
            return;
        };
        match self.group_index(new) {
            None => self.groups[i].name = group_name(new),
            Some(j) if j == i => {}
            Some(j) => {
                let g = self.groups.remove(i);
                let j = if j > i { j - 1 } else { j };
                self.groups[j].append(g);
            }
        }
    }

    /// Keys of a group, each once, in order of first appearance.
    pub fn list_keys(&self, group: &str) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        if let Some(g) = self.group(group) {
            for (k, _, _) in g.assignments() {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys
    }

    /// The key of every assignment of a group, in order, repeats included (no allocation).
    pub fn keys_in_order<'s>(&'s self, group: &str) -> impl Iterator<Item = &'s str> {
        self.group(group)
            .into_iter()
            .flat_map(|g| g.assignments().map(|(k, _, _)| k))
    }

    /// Where the last assignment of `key` came from, as (file, line).
    pub fn location(&self, group: &str, key: &str) -> Option<(&Path, usize)> {
        let g = self.group_with(group, key)?;
        let (_, _, o) = g.assignments().rev().find(|(k, _, _)| *k == key)?;
        Some((self.source_path(o), o.line))
    }

    /// Where the first assignment of `key` came from.
    pub fn first_location(&self, group: &str, key: &str) -> Option<(&Path, usize)> {
        let g = self.group_with(group, key)?;
        let (_, _, o) = g.assignments().find(|(k, _, _)| *k == key)?;
        Some((self.source_path(o), o.line))
    }

    /// Every assignment of `key`, with its location (for per-value diagnostics).
    pub fn located_values(&self, group: &str, key: &str) -> Vec<(&str, &Path, usize)> {
        let mut out = Vec::new();
        if let Some(g) = self.group_with(group, key) {
            for (k, v, o) in g.assignments() {
                if k == key {
                    if v.is_empty() {
                        out.clear();
                    } else {
                        out.push((v, self.source_path(o), o.line));
                    }
                }
            }
        }
        out
    }

    fn source_path(&self, o: Origin) -> &Path {
        self.sources
            .get(o.source)
            .map(|p| p.as_path())
            .unwrap_or(self.path.as_path())
    }

    // ----------------------------------------------------------------- lookups

    /// One group, found once for several lookups (see [`Section`]).
    pub fn section(&self, group: &str) -> Section<'_> {
        Section {
            group: self.group(group),
        }
    }

    /// The last value of `key`, as written (whitespace trimmed, continuations joined).
    pub fn lookup_last(&self, group: &str, key: &str) -> Option<&str> {
        self.section(group).lookup_last(key)
    }

    pub fn has_key(&self, group: &str, key: &str) -> bool {
        self.section(group).has_key(key)
    }

    /// The last value of `key` with one pair of surrounding double quotes removed
    /// (Podman's `Lookup`: unmatched quotes are kept so embedded shell syntax survives).
    pub fn lookup(&self, group: &str, key: &str) -> Option<String> {
        self.lookup_str(group, key).map(str::to_string)
    }

    /// [`lookup`](Self::lookup) without copying.
    pub fn lookup_str(&self, group: &str, key: &str) -> Option<&str> {
        self.section(group).lookup_str(key)
    }

    /// A boolean: `1`, `yes`, `true`, `on` (any case) are true, anything else false.
    pub fn lookup_bool(&self, group: &str, key: &str) -> Option<bool> {
        self.section(group).lookup_bool(key)
    }

    pub fn lookup_bool_or(&self, group: &str, key: &str, default: bool) -> bool {
        self.section(group).lookup_bool_or(key, default)
    }

    /// An integer as strtol reads it (`0x` hex, leading `0` octal); `default` when absent or bad.
    pub fn lookup_int(&self, group: &str, key: &str, default: i64) -> i64 {
        self.lookup_str(group, key)
            .and_then(parse_c_integer)
            .unwrap_or(default)
    }

    pub fn lookup_u32(&self, group: &str, key: &str, default: u32) -> u32 {
        let v = self.lookup_int(group, key, default as i64);
        u32::try_from(v).unwrap_or(default)
    }

    /// Every value of `key` in order; an empty assignment drops the values before it.
    pub fn lookup_all(&self, group: &str, key: &str) -> Vec<&str> {
        self.section(group).lookup_all(key)
    }

    /// Every value split as a list (quotes removed, backslashes kept), e.g. `WantedBy=`.
    pub fn lookup_all_strv(&self, group: &str, key: &str) -> Vec<String> {
        self.section(group).lookup_all_strv(key)
    }

    /// Every value split as command-line words; values that do not split are skipped.
    pub fn lookup_all_args(&self, group: &str, key: &str) -> Vec<String> {
        self.section(group).lookup_all_args(key)
    }

    /// The last value split as command-line words.
    pub fn lookup_last_args(
        &self,
        group: &str,
        key: &str,
    ) -> Result<Option<Vec<String>>, SplitError> {
        self.section(group).lookup_last_args(key)
    }

    /// `KEY=VALUE` words from every value, sorted by key; the last assignment of a key wins.
    /// A word without `=` is a key alone. Values that do not split are reported and skipped.
    /// The words are returned as written (`KEY=VALUE` or `KEY`), so they need no rebuilding.
    pub fn lookup_all_key_val(&self, group: &str, key: &str) -> (Vec<String>, Vec<SplitError>) {
        self.section(group).lookup_all_key_val(key)
    }

    // ----------------------------------------------------------------- editing

    /// Replace the last value of `key`, or add it.
    pub fn set(&mut self, group: &str, key: &str, value: &str) {
        let g = self.ensure_group(group);
        for line in g.lines.iter_mut().rev() {
            if let Line::Assign(a) = line {
                if a.key() == key {
                    a.set_value(value);
                    return;
                }
            }
        }
        g.push_assign(assign(key, value));
    }

    pub fn add(&mut self, group: &str, key: &str, value: &str) {
        self.ensure_group(group).push_assign(assign(key, value));
    }

    /// Add an assignment that came from line `line` of `self.sources[source]`: a unit made
    /// from another format (a Compose file) keeps that file's lines for its errors.
    pub fn add_from(&mut self, group: &str, key: &str, value: &str, source: usize, line: usize) {
        // Built here rather than through `Assign::new`, which the parser's hot loop inlines.
        let mut text = String::with_capacity(key.len() + value.len() + 1);
        text.push_str(key);
        text.push('=');
        text.push_str(value);
        let line = Assign {
            text,
            eq: key.len(),
            origin: Origin { source, line },
        };
        self.ensure_group(group).push_assign(line);
    }

    /// Add a value that must reach systemd as one word (quoted when needed).
    pub fn add_escaped(&mut self, group: &str, key: &str, value: &str) {
        self.add_cmdline(group, key, &[value]);
    }

    /// Add a command line, each argument quoted as systemd needs.
    pub fn add_cmdline<S: AsRef<str>>(&mut self, group: &str, key: &str, args: &[S]) {
        // Escaped straight into the line's text: no intermediate string for the value. Room
        // for the words, their separators and some quoting: usually the only allocation.
        let words: usize = args.iter().map(|a| a.as_ref().len() + 1).sum();
        let mut text = String::with_capacity(key.len() + 1 + words + 16);
        text.push_str(key);
        text.push('=');
        split::push_escaped_words(&mut text, args);
        let line = Assign {
            text,
            eq: key.len(),
            origin: Origin::default(),
        };
        self.ensure_group(group).push_assign(line);
    }

    pub fn unset(&mut self, group: &str, key: &str) {
        if let Some(i) = self.group_index(group) {
            self.groups[i]
                .lines
                .retain(|l| !matches!(l, Line::Assign(a) if a.key() == key));
        }
    }

    /// Insert an assignment at the top of `group`.
    pub fn prepend(&mut self, group: &str, key: &str, value: &str) {
        self.ensure_group(group)
            .insert_assign(0, assign(key, value));
    }

    /// Append another file's groups (drop-ins, or a copy of a source file).
    pub fn merge(&mut self, other: &UnitFile) {
        let base = self.sources.len();
        self.sources.extend(other.sources.iter().cloned());
        for og in &other.groups {
            let g = self.ensure_group(&og.name);
            g.key_bits |= og.key_bits;
            g.comments.extend(og.comments.iter().cloned());
            g.lines.extend(og.lines.iter().map(|l| match l {
                Line::Assign(a) => Line::Assign(Assign {
                    origin: Origin {
                        source: a.origin.source + base,
                        line: a.origin.line,
                    },
                    ..a.clone()
                }),
                c => c.clone(),
            }));
        }
    }

    // --------------------------------------------------------------- names

    /// `(base, instance, is_template)` of the file name: `foo@bar.container` →
    /// `("foo", "bar", true)`, `foo@.container` → `("foo", "", true)`.
    pub fn template_parts(&self) -> (&str, &str, bool) {
        template_parts(&self.filename)
    }

    /// Drop-in directory names to search, most specific first, as Quadlet does:
    /// `name.ext.d`, then `base@.ext.d` for an instance, then the truncated-dash
    /// levels (`a-b-.ext.d`, `a-.ext.d`, with `@` variants for templates), then `ext.d`.
    pub fn dropin_dirs(&self) -> Vec<String> {
        let (base, instance, is_template) = self.template_parts();
        let ext = extension(&self.filename);
        let dext = format!("{ext}.d");
        let mut dirs = vec![dext.trim_start_matches('.').to_string()];
        let parts: Vec<&str> = base.split('-').collect();
        if parts.len() > 1 {
            for i in 1..parts.len() {
                let prefix = format!("{}-", parts[..i].join("-"));
                dirs.push(format!("{prefix}{dext}"));
                if is_template {
                    dirs.push(format!("{prefix}@{dext}"));
                }
            }
        }
        if !instance.is_empty() {
            dirs.push(format!("{base}@{dext}"));
        }
        dirs.push(format!("{}.d", self.filename));
        dirs.reverse();
        dirs
    }

    // ------------------------------------------------------------ serialise

    /// The unit as text systemd reads back the same way.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(2048);
        self.write_text(&mut out);
        out
    }

    /// Append the unit's text to `out`.
    pub fn write_text(&self, out: &mut String) {
        for (i, g) in self.groups.iter().enumerate() {
            if i != 0 {
                out.push('\n');
            }
            // Nothing written may end a line early (see `line_safe`): comments, names, keys
            // and values alike.
            for c in &g.comments {
                out.push_str(&line_safe::escape(c));
                out.push('\n');
            }
            if g.name.is_empty() {
                // Only comments can live outside a section (a file with no section at all).
                for l in &g.lines {
                    if let Line::Comment(c) = l {
                        out.push_str(&line_safe::escape(c));
                        out.push('\n');
                    }
                }
                continue;
            }
            out.push('[');
            out.push_str(&line_safe::escape(&g.name));
            out.push_str("]\n");
            for l in &g.lines {
                match l {
                    Line::Comment(c) => out.push_str(&line_safe::escape(c)),
                    Line::Assign(a) if !needs_protection(a) => out.push_str(&a.text),
                    Line::Assign(a) => {
                        out.push_str(&line_safe::escape(a.key()));
                        out.push('=');
                        out.push_str(&protect_value(a.value()));
                    }
                }
                out.push('\n');
            }
        }
    }
}

/// One group of a unit, or none, for lookups in it: a conversion asks a group for dozens of
/// keys (mostly absent ones), and finding the group by name is most of the cost of asking
/// for an absent key. The lookups are [`UnitFile`]'s, without the group argument.
#[derive(Clone, Copy)]
pub struct Section<'u> {
    group: Option<&'u Group>,
}

impl<'u> Section<'u> {
    /// The group, when it may assign `key` (see [`Group::may_have`]).
    fn with(&self, key: &str) -> Option<&'u Group> {
        self.group.filter(|g| g.may_have(key))
    }

    pub fn lookup_last(&self, key: &str) -> Option<&'u str> {
        let g = self.with(key)?;
        g.lines.iter().rev().find_map(|l| match l {
            Line::Assign(a) if a.is_key(key) => Some(a.value()),
            _ => None,
        })
    }

    pub fn has_key(&self, key: &str) -> bool {
        self.lookup_last(key).is_some()
    }

    pub fn lookup_str(&self, key: &str) -> Option<&'u str> {
        let v = self.lookup_last(key)?;
        let v = v.trim_end_matches(is_ws);
        if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
            Some(&v[1..v.len() - 1])
        } else {
            Some(v)
        }
    }

    pub fn lookup_bool(&self, key: &str) -> Option<bool> {
        self.lookup_str(key).map(parse_bool_lenient)
    }

    pub fn lookup_bool_or(&self, key: &str, default: bool) -> bool {
        self.lookup_bool(key).unwrap_or(default)
    }

    pub fn lookup_all(&self, key: &str) -> Vec<&'u str> {
        let mut out = Vec::new();
        if let Some(g) = self.with(key) {
            for l in &g.lines {
                if let Line::Assign(a) = l {
                    if a.is_key(key) {
                        let v = a.value();
                        if v.is_empty() {
                            out.clear();
                        } else {
                            out.push(v);
                        }
                    }
                }
            }
        }
        out
    }

    pub fn lookup_all_strv(&self, key: &str) -> Vec<String> {
        self.lookup_all(key)
            .into_iter()
            .flat_map(split::split_strv)
            .collect()
    }

    pub fn lookup_all_args(&self, key: &str) -> Vec<String> {
        self.lookup_all(key)
            .into_iter()
            .filter_map(|v| split::split_exec(v).ok())
            .flatten()
            .collect()
    }

    pub fn lookup_last_args(&self, key: &str) -> Result<Option<Vec<String>>, SplitError> {
        match self.lookup_last(key) {
            None => Ok(None),
            Some(v) => split::split_exec(v).map(Some),
        }
    }

    pub fn lookup_all_key_val(&self, key: &str) -> (Vec<String>, Vec<SplitError>) {
        let mut words = Vec::new();
        let mut errors = Vec::new();
        for v in self.lookup_all(key) {
            match split::split_exec(v) {
                Ok(w) => words.extend(w),
                Err(e) => errors.push(e),
            }
        }
        (last_word_per_key(words), errors)
    }
}

/// The key of a `KEY=VALUE` word: up to the first `=`, or the whole word.
fn word_key(word: &str) -> &str {
    // A byte scan: keys are short, and this runs for every comparison of the sort.
    match word.bytes().position(|b| b == b'=') {
        Some(i) => word.get(..i).unwrap_or(word),
        None => word,
    }
}

/// Words sorted by key, keeping only the last word of each key (a map's insert order
/// semantics, without building the map: the sort is stable, so the last of a run of equal
/// keys is the one assigned last).
fn last_word_per_key(mut words: Vec<String>) -> Vec<String> {
    words.sort_by(|a, b| word_key(a).cmp(word_key(b)));
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    for w in words {
        match out.last_mut() {
            Some(prev) if word_key(prev) == word_key(&w) => *prev = w,
            _ => out.push(w),
        }
    }
    out
}

fn assign(key: &str, value: &str) -> Assign {
    Assign::new(key, value, Origin::default())
}

/// Whether an assignment must be written otherwise than as it is: a value ending in an odd
/// run of backslashes (systemd would read a continuation), or a control character anywhere
/// (a `\n` or `\r` would end the line, see `line_safe`).
fn needs_protection(a: &Assign) -> bool {
    ends_in_odd_backslashes(&a.text)
        || line_safe::may_need_escape(a.text.as_bytes())
            && a.text.chars().any(line_safe::is_escaped)
}

/// A value as it is written: control characters escaped, and a final odd backslash doubled.
fn protect_value(v: &str) -> Cow<'_, str> {
    let escaped = line_safe::escape(v);
    if !ends_in_odd_backslashes(&escaped) {
        return escaped;
    }
    let mut s = escaped.into_owned();
    s.push('\\');
    Cow::Owned(s)
}

/// `.container` of `web.container`; "" when there is no dot after the first character.
pub fn extension(filename: &str) -> &str {
    match filename.rfind('.') {
        Some(i) if i > 0 => &filename[i..],
        _ => "",
    }
}

pub fn template_parts(filename: &str) -> (&str, &str, bool) {
    let ext = extension(filename);
    let stem = &filename[..filename.len() - ext.len()];
    match stem.split_once('@') {
        Some((base, inst)) => (base, inst, true),
        None => (stem, "", false),
    }
}

/// Podman's boolean reading (also used for keys systemd would reject: anything else is false).
pub fn parse_bool_lenient(v: &str) -> bool {
    ["1", "yes", "true", "on"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
}

/// strtol-like: optional sign, `0x` hex, leading `0` octal, else decimal.
pub fn parse_c_integer(v: &str) -> Option<i64> {
    let (neg, rest) = match v.as_bytes().first() {
        Some(b'+') => (false, &v[1..]),
        Some(b'-') => (true, &v[1..]),
        _ => (false, v),
    };
    let n = if let Some(h) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if rest.len() > 1 && rest.starts_with('0') {
        i64::from_str_radix(&rest[1..], 8).ok()?
    } else {
        rest.parse::<i64>().ok()?
    };
    Some(if neg { -n } else { n })
}

// ------------------------------------------------------------------- parser

struct Parser<'a> {
    unit: &'a mut UnitFile,
    current: Option<usize>,
    pending_comments: Vec<String>,
    rule: Continuation,
}

impl Parser<'_> {
    fn run(mut self, data: &[u8], path: &Path) -> Result<(), ParseError> {
        let err = |line: usize, message: String| ParseError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
        // One logical line may span several physical ones: (start line, text so far).
        let mut continuation: Option<(usize, String)> = None;
        let mut physical = PhysicalLines::new(data).enumerate().peekable();
        while let Some((i, raw)) = physical.next() {
            let nr = i + 1;
            let text = match raw {
                Ok(text) => text,
                Err(BadLine::Nul) => {
                    return Err(err(
                        nr,
                        "contains a NUL byte; this is not a text file".into(),
                    ))
                }
                Err(BadLine::Utf8 { valid_up_to }) => {
                    return Err(err(
                        nr,
                        format!("is not valid UTF-8 (at byte {valid_up_to} of the line)"),
                    ))
                }
            };
            if text.is_empty() && physical.peek().is_none() {
                break; // the newline that ends the last line
            }
            let line = trim_ws(text);
            let skipped_inside = match self.rule {
                Continuation::Systemd => is_comment(line),
                // Podman reads an empty line as a comment, and skips it the same way.
                Continuation::Podman => is_comment(line) || line.is_empty(),
            };
            if skipped_inside && continuation.is_some() {
                continue; // comments inside a continuation are skipped, by both readers
            }
            if is_comment(line) {
                self.pending_comments.push(line.to_string());
                continue;
            }
            if let Some(part) = self.continued(line) {
                // The backslash is replaced: by a space (systemd), by nothing (Podman).
                let joint = match self.rule {
                    Continuation::Systemd => " ",
                    Continuation::Podman => "",
                };
                match &mut continuation {
                    Some((_, acc)) => {
                        acc.push_str(part);
                        acc.push_str(joint);
                    }
                    None => continuation = Some((nr, [part, joint].concat())),
                }
                continue;
            }
            match continuation.take() {
                Some((start, mut acc)) => {
                    acc.push_str(line);
                    self.line(&acc, start, &err)?;
                }
                None => self.line(line, nr, &err)?,
            }
        }
        if let Some((start, acc)) = continuation.take() {
            // a file that ends inside a continuation: systemd still reads what it has
            self.line(&acc, start, &err)?;
        }
        if self.current.is_none() {
            self.unit.ensure_group("");
        }
        // Comments at the end of the file stay at the end: they go to the group written last
        // (not the current one, which may be an earlier group continued by a repeated
        // header). Trailing blank lines are dropped: they only separate what is no longer there.
        while self.pending_comments.last().is_some_and(|c| c.is_empty()) {
            self.pending_comments.pop();
        }
        self.current = Some(self.unit.groups.len() - 1);
        self.flush_comments(false);
        Ok(())
    }

    /// The line without its continuation backslash, when it continues on the next line.
    fn continued<'l>(&self, line: &'l str) -> Option<&'l str> {
        let continues = match self.rule {
            Continuation::Systemd => ends_in_odd_backslashes(line),
            // Podman: any trailing backslash, even an escaped one (`\\` ends in `\`).
            Continuation::Podman => line.ends_with('\\'),
        };
        continues.then(|| &line[..line.len() - 1])
    }

    fn line(
        &mut self,
        line: &str,
        nr: usize,
        err: &dyn Fn(usize, String) -> ParseError,
    ) -> Result<(), ParseError> {
        let line = trim_ws(line);
        if line.is_empty() {
            self.pending_comments.push(String::new());
            return Ok(());
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(end) = rest.bytes().position(|b| b == b']') else {
                return Err(err(nr, NO_CLOSING_BRACKET.into()));
            };
            if !trim_ws(&rest[end + 1..]).is_empty() {
                return Err(err(nr, TEXT_AFTER_HEADER.into()));
            }
            let name = &rest[..end];
            if name.is_empty() || name.chars().any(|c| c == '[' || c == ']' || c.is_control()) {
                return Err(err(nr, BAD_SECTION_NAME.into()));
            }
            let idx = match self.unit.group_index(name) {
                Some(i) => i,
                None => {
                    self.unit.groups.push(Group::new(name));
                    self.unit.groups.len() - 1
                }
            };
            self.current = Some(idx);
            // Blank lines before a header only separate groups (the writer puts one back).
            let blanks = self
                .pending_comments
                .iter()
                .take_while(|c| c.is_empty())
                .count();
            self.pending_comments.drain(..blanks);
            self.flush_comments(true);
            return Ok(());
        }
        let Some(eq) = line.bytes().position(|b| b == b'=').filter(|&i| i > 0) else {
            return Err(err(nr, NOT_A_LINE.into()));
        };
        let Some(idx) = self.current else {
            return Err(err(nr, BEFORE_ANY_SECTION.into()));
        };
        let key = trim_ws_end(&line[..eq]);
        if key.is_empty() {
            return Err(err(nr, EMPTY_KEY.into()));
        }
        let value = trim_ws(&line[eq + 1..]);
        self.flush_comments(false);
        let origin = Origin {
            source: 0,
            line: nr,
        };
        self.unit.groups[idx].push_assign(Assign::new(key, value, origin));
        Ok(())
    }

    /// Comments before a header belong to that group's header; others are lines.
    fn flush_comments(&mut self, to_header: bool) {
        let Some(idx) = self.current else { return };
        let g = &mut self.unit.groups[idx];
        for c in self.pending_comments.drain(..) {
            if to_header {
                g.comments.push(c);
            } else {
                g.lines.push(Line::Comment(c));
            }
        }
    }
}

/// Why a physical line cannot be read.
enum BadLine {
    Nul,
    Utf8 { valid_up_to: usize },
}

/// The physical lines of a file as text. A file that is valid UTF-8 without NUL (all but
/// broken ones) is checked once as a whole instead of line by line; otherwise each line is
/// checked, so the first bad line is the one reported.
enum PhysicalLines<'a> {
    /// The text not returned yet; `None` once the last line (after the last newline) is out.
    Valid(Option<&'a str>),
    Unchecked(std::slice::Split<'a, u8, fn(&u8) -> bool>),
}

impl<'a> PhysicalLines<'a> {
    fn new(data: &'a [u8]) -> PhysicalLines<'a> {
        match std::str::from_utf8(data) {
            Ok(text) if !data.contains(&0) => PhysicalLines::Valid(Some(text)),
            _ => PhysicalLines::Unchecked(data.split(|&b| b == b'\n')),
        }
    }
}

impl<'a> Iterator for PhysicalLines<'a> {
    type Item = Result<&'a str, BadLine>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            // A plain byte scan: lines are short, and str::split's searcher costs more.
            PhysicalLines::Valid(rest) => {
                let text = (*rest)?;
                match find_newline(text.as_bytes()) {
                    Some(i) => {
                        *rest = text.get(i + 1..);
                        text.get(..i).map(Ok)
                    }
                    None => rest.take().map(Ok),
                }
            }
            PhysicalLines::Unchecked(lines) => lines.next().map(|raw| {
                if raw.contains(&0) {
                    return Err(BadLine::Nul);
                }
                std::str::from_utf8(raw).map_err(|e| BadLine::Utf8 {
                    valid_up_to: e.valid_up_to(),
                })
            }),
        }
    }
}

/// The index of the first `\n` in `bytes`. Eight bytes at a time: a byte-by-byte scan is a
/// good part of parsing, since every byte of every file goes through it.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // A zero byte in `x` (a newline in the chunk) sets its high bit in `zeros`; bytes
        // above the first zero may be set wrongly, which the lowest set bit never is.
        let x = u64::from_le_bytes(word) ^ NEWLINES;
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(offset + (zeros.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| offset + i)
}

fn is_comment(line: &str) -> bool {
    line.starts_with('#') || line.starts_with(';')
}

fn ends_in_odd_backslashes(s: &str) -> bool {
    let n = s.len() - s.trim_end_matches('\\').len();
    n % 2 == 1
}

// A line that does not parse is never quoted, not even in part: the file may not be one the
// author meant to write here (a link to /etc/shadow, a 0600 `KEY=secret` file), and the
// message goes into a stub every user can read, the kernel log and the journal. The location
// (file:line) says where to look; the hint says what the line should be.
const NO_CLOSING_BRACKET: &str =
    "a [section] header without its closing ']' (the line is not shown: it could hold a secret)\n  hint: a header is [Name] alone on its line";
const TEXT_AFTER_HEADER: &str =
    "text after the ']' of a [section] header (the line is not shown: it could hold a secret)\n  hint: a header is [Name] alone on its line; comments go on lines of their own";
const BAD_SECTION_NAME: &str =
    "a [section] name that is empty or holds '[', ']' or a control character (the line is not shown: it could hold a secret)";
const NOT_A_LINE: &str =
    "not a KEY=VALUE assignment, a [section] header or a comment (the line is not shown: it could hold a secret)\n  hint: is this the file you meant? each line is KEY=VALUE, [Section], or starts with # or ;";
const BEFORE_ANY_SECTION: &str =
    "an assignment before any [section] header (the line is not shown: it could hold a secret)\n  hint: is this the file you meant? assignments go under a header such as [Unit] or [Container]";
const EMPTY_KEY: &str =
    "an assignment with an empty key (the line is not shown: it could hold a secret)";

pub mod line_safe;

#[cfg(test)]
mod tests;
