//! What each systemd release knows of unit files: the keys of each section, the parser of
//! each (it decides what a valid value is), and the values of the enum parsers lint checks.
//! The facts are data, `keys.txt`, read from systemd's sources at each release by
//! tests/lint-keys/regenerate.py (its header names the sources); this module only answers
//! questions about them for one release.

use std::sync::OnceLock;

const DATA: &str = include_str!("keys.txt");

/// One key's history: from each listed release on, its parser (`None`: gone).
#[derive(Debug)]
struct Key {
    section: &'static str,
    key: &'static str,
    changes: Vec<(u32, Option<&'static str>)>,
}

/// One value of an enum parser: from each listed release on, accepted or not.
#[derive(Debug)]
struct Value {
    parser: &'static str,
    value: &'static str,
    changes: Vec<(u32, bool)>,
}

/// Every release's knowledge, as read from `keys.txt`.
#[derive(Debug)]
pub struct Table {
    /// The oldest and the newest release the data covers.
    pub oldest: u32,
    pub newest: u32,
    /// Sorted by (section, key), for binary search.
    keys: Vec<Key>,
    values: Vec<Value>,
    /// Lines that could not be read (a unit test keeps this empty).
    bad_lines: Vec<String>,
}

/// The table, read once.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::parse(DATA))
}

/// The state a history is in at `version`: the last change at or before it.
fn state_at<T: Copy>(changes: &[(u32, T)], version: u32, before: T) -> T {
    changes
        .iter()
        .take_while(|(v, _)| *v <= version)
        .last()
        .map_or(before, |(_, s)| *s)
}

impl Table {
    fn parse(text: &'static str) -> Table {
        let mut t = Table {
            oldest: 0,
            newest: 0,
            keys: Vec::new(),
            values: Vec::new(),
            bad_lines: Vec::new(),
        };
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let Some(name) = words.next() else { continue };
            let changes: Vec<(u32, Option<&str>)> = words
                .map(|w| match w.split_once(':') {
                    Some((v, s)) => (v.parse().unwrap_or(0), Some(s)),
                    None => (w.parse().unwrap_or(0), None),
                })
                .collect();
            if changes.is_empty() || changes.iter().any(|(v, _)| *v == 0) {
                t.bad_lines.push(line.to_string());
                continue;
            }
            if name == "versions" {
                t.oldest = changes[0].0;
                t.newest = changes.last().map_or(0, |c| c.0);
            } else if let Some((parser, value)) = name.split_once('=') {
                let changes = changes.iter().map(|(v, s)| (*v, *s != Some("-")));
                t.values.push(Value {
                    parser,
                    value,
                    changes: changes.collect(),
                });
            } else if let Some((section, key)) = name.split_once('.') {
                let changes = changes.iter().map(|(v, s)| (*v, s.filter(|p| *p != "-")));
                t.keys.push(Key {
                    section,
                    key,
                    changes: changes.collect(),
                });
            } else {
                t.bad_lines.push(line.to_string());
            }
        }
        t.keys
            .sort_by(|a, b| (a.section, a.key).cmp(&(b.section, b.key)));
        t
    }

    fn key(&self, section: &str, key: &str) -> Option<&Key> {
        self.keys
            .binary_search_by(|k| (k.section, k.key).cmp(&(section, key)))
            .ok()
            .map(|i| &self.keys[i])
    }

    /// What release `version` knows, judged by the nearest table (the oldest for older
    /// releases, the newest for newer ones: see [`Release::version`]).
    pub fn release(&self, version: u32) -> Release<'_> {
        Release {
            table: self,
            version: version.clamp(self.oldest, self.newest),
        }
    }
}

/// Where a key stands in other releases than the one judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherRelease {
    /// Known from this release on (newer than the one judged by).
    AddedIn(u32),
    /// Known before, gone from this release on (at or before the one judged by).
    RemovedIn(u32),
}

/// How a release parses a key's value, as far as lint checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A boolean; `empty_resets`: an empty value is allowed (a tristate: "unset").
    Boolean { empty_resets: bool },
    /// A time span (systemd.time(7)); `empty_ok`: an empty value means infinity or unset.
    TimeSpan { empty_ok: bool },
    /// One of the values of an enum parser (see [`Release::enum_values`]).
    Enum(&'static str),
    /// Anything else: not checked.
    Other,
}

/// Time-span parsers that refuse an empty value, and those that take it.
const TIME_SPAN_PARSERS: &[&str] = &[
    "sec",
    "sec_fix_0",
    "service_timeout",
    "job_timeout_sec",
    "job_running_timeout_sec",
];
const TIME_SPAN_OR_EMPTY_PARSERS: &[&str] = &["sec_def_infinity", "service_timeout_abort"];

/// One release's knowledge.
#[derive(Clone, Copy)]
pub struct Release<'a> {
    table: &'a Table,
    /// The release whose table is used (within the data's range).
    pub version: u32,
}

impl<'a> Release<'a> {
    /// The parser of `section.key` (without `config_parse_`), `None` when this release does
    /// not know the key.
    pub fn parser(&self, section: &str, key: &str) -> Option<&'static str> {
        let k = self.table.key(section, key)?;
        state_at(&k.changes, self.version, None)
    }

    pub fn knows(&self, section: &str, key: &str) -> bool {
        self.parser(section, key).is_some()
    }

    /// Every key of `section` this release knows, sorted (for "did you mean").
    pub fn keys(&self, section: &str) -> Vec<&'static str> {
        self.table
            .keys
            .iter()
            .filter(|k| k.section == section && state_at(&k.changes, self.version, None).is_some())
            .map(|k| k.key)
            .collect()
    }

    /// For a key this release does not know: the release that added it after this one, or
    /// the one that removed it. `None` when no release in the data ever knew it.
    pub fn other_release(&self, section: &str, key: &str) -> Option<OtherRelease> {
        let k = self.table.key(section, key)?;
        if let Some((v, _)) = k
            .changes
            .iter()
            .find(|(v, p)| *v > self.version && p.is_some())
        {
            return Some(OtherRelease::AddedIn(*v));
        }
        k.changes
            .iter()
            .rev()
            .find(|(v, p)| *v <= self.version && p.is_none())
            .map(|(v, _)| OtherRelease::RemovedIn(*v))
    }

    /// The first release after this one that parses `section.key` differently, with its
    /// parser (a value this release refuses may be one a newer release takes).
    pub fn parser_changes_in(&self, section: &str, key: &str) -> Option<u32> {
        let k = self.table.key(section, key)?;
        let now = state_at(&k.changes, self.version, None);
        k.changes
            .iter()
            .find(|(v, p)| *v > self.version && p.is_some() && *p != now)
            .map(|(v, _)| *v)
    }

    pub fn value_kind(&self, section: &str, key: &str) -> ValueKind {
        match self.parser(section, key) {
            Some("bool") => ValueKind::Boolean {
                empty_resets: false,
            },
            Some("tristate") => ValueKind::Boolean { empty_resets: true },
            Some(p) if TIME_SPAN_PARSERS.contains(&p) => ValueKind::TimeSpan { empty_ok: false },
            Some(p) if TIME_SPAN_OR_EMPTY_PARSERS.contains(&p) => {
                ValueKind::TimeSpan { empty_ok: true }
            }
            Some(p) if self.table.values.iter().any(|v| v.parser == p) => ValueKind::Enum(p),
            _ => ValueKind::Other,
        }
    }

    /// The values an enum parser accepts in this release, in systemd's order.
    pub fn enum_values(&self, parser: &str) -> Vec<&'static str> {
        self.table
            .values
            .iter()
            .filter(|v| v.parser == parser && state_at(&v.changes, self.version, false))
            .map(|v| v.value)
            .collect()
    }

    /// The first release after this one that accepts `value` for an enum parser.
    pub fn enum_value_added_in(&self, parser: &str, value: &str) -> Option<u32> {
        let v = self
            .table
            .values
            .iter()
            .find(|v| v.parser == parser && v.value == value)?;
        v.changes
            .iter()
            .find(|(at, accepted)| *at > self.version && *accepted)
            .map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_reads_whole() {
        let t = table();
        assert!(
            t.bad_lines.is_empty(),
            "unreadable lines: {:?}",
            t.bad_lines
        );
        assert_eq!((t.oldest, t.newest), (252, 262));
        assert!(t.keys.len() > 1400, "{} keys", t.keys.len());
        assert!(
            t.keys
                .windows(2)
                .all(|w| (w[0].section, w[0].key) < (w[1].section, w[1].key)),
            "a key listed twice"
        );
        for k in &t.keys {
            assert!(
                k.changes.windows(2).all(|w| w[0].0 < w[1].0),
                "{}.{}: changes out of order",
                k.section,
                k.key
            );
        }
    }

    #[test]
    fn keys_every_release_knows() {
        for v in 252..=262 {
            let r = table().release(v);
            for (section, key) in [
                ("Unit", "After"),
                ("Service", "ExecStart"),
                ("Service", "KillMode"),
                ("Install", "WantedBy"),
                ("Socket", "ListenStream"),
                ("Timer", "OnCalendar"),
            ] {
                assert!(r.knows(section, key), "{v}: {section}.{key}");
            }
            assert!(!r.knows("Service", "Restrat"), "{v}: a typo");
            assert!(
                !r.knows("Unit", "ExecStart"),
                "{v}: ExecStart= is no [Unit] key"
            );
        }
    }

    #[test]
    fn a_key_a_release_added() {
        // systemd 262 added XAttrEntryPoint= to [Socket].
        let old = table().release(252);
        assert!(!old.knows("Socket", "XAttrEntryPoint"));
        assert_eq!(
            old.other_release("Socket", "XAttrEntryPoint"),
            Some(OtherRelease::AddedIn(262))
        );
        assert!(table().release(262).knows("Socket", "XAttrEntryPoint"));
        assert_eq!(old.other_release("Socket", "NoSuchKey"), None);
        // Releases newer or older than the data are judged by its newest or oldest table.
        assert_eq!(table().release(300).version, 262);
        assert_eq!(table().release(245).version, 252);
    }

    #[test]
    fn parsers_and_values_by_release() {
        let (v252, v262) = (table().release(252), table().release(262));
        assert_eq!(
            v252.value_kind("Service", "PrivateTmp"),
            ValueKind::Boolean {
                empty_resets: false
            }
        );
        assert_eq!(v262.value_kind("Service", "PrivateTmp"), ValueKind::Other);
        assert_eq!(v252.parser_changes_in("Service", "PrivateTmp"), Some(257));
        assert_eq!(
            v262.value_kind("Service", "TimeoutStopSec"),
            ValueKind::TimeSpan { empty_ok: false }
        );
        assert_eq!(
            v262.value_kind("Service", "Type"),
            ValueKind::Enum("service_type")
        );
        assert!(!v252.enum_values("service_type").contains(&"notify-reload"));
        assert!(v262.enum_values("service_type").contains(&"notify-reload"));
        assert_eq!(
            v252.enum_value_added_in("service_type", "notify-reload"),
            Some(253)
        );
        assert_eq!(
            v262.value_kind("Socket", "KillMode"),
            ValueKind::Enum("kill_mode")
        );
    }
}
