//! Which Podman release each Quadlet key needs, and the check of a file against the release
//! the units will run under (see `podman_version.rs`).
//!
//! A key works on a podman whose command line has every flag the generator emits for it,
//! whatever release added the key to Podman's own Quadlet: `Ulimit=` (Quadlet 4.7) is
//! `--ulimit`, which Podman 4.3 has. So a key is judged by its flags, and a key the podman here
//! cannot do becomes a failure stub that names the key, the release it needs and the release
//! here, instead of a unit that dies at start on podman's "unknown flag".
//!
//! The facts are data, `requirements.txt`, read from containers/podman at every release tag by
//! tests/podman-keys/regenerate.py (its header says how); this module answers questions about
//! them. A podman older than the oldest release read (4.3.0) is judged as that release.

use std::sync::OnceLock;

use super::{ConvertError, Kind, Result};
use crate::podman_version::{PodmanVersion, MATCHED};
use crate::unitfile::UnitFile;

const DATA: &str = include_str!("requirements.txt");

/// What one key needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNeeds {
    /// The first release whose Quadlet has the key (`None`: none read).
    pub quadlet: Option<PodmanVersion>,
    /// The first release whose podman has the type's command and every flag emitted for the
    /// key (`None`: none read).
    pub needs: Option<PodmanVersion>,
    /// What is emitted, `, `-separated: `run, run --health-log-destination` (split only when
    /// an error names them: [`KeyNeeds::items`]).
    items: &'static str,
}

impl KeyNeeds {
    /// What is emitted for the key: `run`, `run --health-log-destination` ...
    pub fn items(&self) -> Vec<&'static str> {
        self.items.split(", ").filter(|i| !i.is_empty()).collect()
    }
}

/// `(GROUP, KEY)`, a value of it, and what that value needs.
type ValueNeeds = ((&'static str, &'static str), &'static str, KeyNeeds);

/// The table, as read from `requirements.txt`.
#[derive(Debug, Default)]
pub struct Table {
    /// Every release read, oldest first (the last is Podman's main branch).
    pub releases: Vec<PodmanVersion>,
    /// `(command, flag)` (flag "" for the command) and the first release that has it, sorted.
    flags: Vec<((&'static str, &'static str), Option<PodmanVersion>)>,
    /// `(GROUP, KEY)` and what it needs, sorted for binary search.
    keys: Vec<((&'static str, &'static str), KeyNeeds)>,
    /// `(GROUP, KEY)`, a value that needs more than the key, and what it needs; sorted.
    values: Vec<ValueNeeds>,
    /// Lines that could not be read (a unit test keeps this empty).
    pub bad_lines: Vec<&'static str>,
}

/// The table, read once (only when a run needs it: not for a podman as new as [`MATCHED`]).
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::parse(DATA))
}

/// `4.3.0` → a release, `-` → none.
fn release(text: &str) -> Option<Option<PodmanVersion>> {
    match text {
        "-" => Some(None),
        t => PodmanVersion::parse_const(t)
            .or_else(|| PodmanVersion::parse(t))
            .map(Some),
    }
}

impl Table {
    fn parse(text: &'static str) -> Table {
        let mut t = Table::default();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if t.parse_line(line).is_none() {
                t.bad_lines.push(line);
            }
        }
        t.flags.sort_by(|a, b| a.0.cmp(&b.0));
        t.keys.sort_by(|a, b| a.0.cmp(&b.0));
        t.values.sort_by(|a, b| a.0.cmp(&b.0));
        t
    }

    fn parse_line(&mut self, line: &'static str) -> Option<()> {
        let mut words = line.split(' ');
        match words.next()? {
            "releases" => {
                let releases = words.map(|w| release(w).flatten());
                self.releases = releases.collect::<Option<_>>()?;
            }
            "flag" => {
                // flag COMMAND [FLAG] RELEASE
                let (rest, first) = line.strip_prefix("flag ")?.rsplit_once(' ')?;
                let (command, flag) = rest.split_once(' ').unwrap_or((rest, ""));
                if flag.contains(' ') {
                    return None;
                }
                self.flags.push(((command, flag), release(first)?));
            }
            "base" => {} // what every unit of a type runs: see `has`
            kind @ ("key" | "value") => {
                // key NAME QUADLET NEEDS ITEM, ...   value NAME NEEDS ITEM, ...
                let fields = if kind == "key" { 5 } else { 4 };
                let mut f = line.splitn(fields, ' ').skip(1);
                let name = f.next()?;
                let quadlet = match kind {
                    "key" => release(f.next()?)?,
                    _ => None,
                };
                let needs = release(f.next()?)?;
                let items = f.next().unwrap_or("");
                let needs = KeyNeeds {
                    quadlet,
                    needs,
                    items,
                };
                let (name, value) = match kind {
                    "key" => (name, None),
                    _ => name.split_once('=').map(|(n, v)| (n, Some(v)))?,
                };
                let group_key = name.split_once('.')?;
                match value {
                    None => self.keys.push((group_key, needs)),
                    Some(v) => self.values.push((group_key, v, needs)),
                }
            }
            _ => return None,
        }
        Some(())
    }

    pub fn oldest(&self) -> Option<PodmanVersion> {
        self.releases.first().copied()
    }

    /// What `[group] key` needs, if the table knows the key.
    pub fn key(&self, group: &str, key: &str) -> Option<&KeyNeeds> {
        let i = self
            .keys
            .binary_search_by(|((g, k), _)| (*g, *k).cmp(&(group, key)))
            .ok()?;
        self.keys.get(i).map(|(_, needs)| needs)
    }

    /// Whether some value of `[group] key` needs more than the key.
    pub fn has_values(&self, group: &str, key: &str) -> bool {
        !self.values_of(group, key).is_empty()
    }

    /// What `[group] key=value` needs beyond the key (the value compared ignoring case and
    /// surrounding blanks), if that value needs more.
    pub fn value(&self, group: &str, key: &str, value: &str) -> Option<&KeyNeeds> {
        let value = value.trim();
        self.values_of(group, key)
            .iter()
            .find(|(_, v, _)| v.eq_ignore_ascii_case(value))
            .map(|(_, _, needs)| needs)
    }

    /// The values of `[group] key` that need more than the key.
    fn values_of(&self, group: &str, key: &str) -> &[ValueNeeds] {
        let at = |(g, k): &(&str, &str)| (*g, *k).cmp(&(group, key));
        let start = self.values.partition_point(|(gk, _, _)| at(gk).is_lt());
        let end = self.values.partition_point(|(gk, _, _)| at(gk).is_le());
        self.values.get(start..end).unwrap_or_default()
    }

    /// The first release whose `podman COMMAND` has `flag` ("" for the command itself):
    /// `None` when the table does not know the pair, `Some(None)` when no release read has it.
    pub fn first_with(&self, command: &str, flag: &str) -> Option<Option<PodmanVersion>> {
        let i = (self.flags)
            .binary_search_by(|((c, f), _)| (*c, *f).cmp(&(command, flag)))
            .ok()?;
        self.flags.get(i).map(|(_, first)| *first)
    }

    /// Whether a podman of release `host` has `podman COMMAND [flag]`. Unknown to the table:
    /// assumed present (the generator emits nothing the table lacks; a unit test checks).
    pub fn has(&self, host: PodmanVersion, command: &str, flag: &str) -> bool {
        match self.first_with(command, flag) {
            None => true,
            Some(first) => self.reaches(host, first),
        }
    }

    /// Whether `host` is at or past `first` (a host older than the oldest release read is
    /// judged as that release: its facts stand for the older ones too).
    fn reaches(&self, host: PodmanVersion, first: Option<PodmanVersion>) -> bool {
        let Some(first) = first else {
            return false;
        };
        let judged = match self.oldest() {
            Some(oldest) if host < oldest => oldest,
            _ => host,
        };
        judged >= first
    }
}

/// The release whose Quadlet added `[group] key`, when that is a release after [`MATCHED`]
/// (Podman's main branch): an unknown key that is no typo (read on an error only).
pub fn newer_quadlet_key(group: &str, key: &str) -> Option<PodmanVersion> {
    table()
        .key(group, key)
        .and_then(|needs| needs.quadlet)
        .filter(|q| *q > MATCHED)
}

/// The podman command every unit of `kind` runs (`run`, `volume-create` ...).
fn command_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Container => "run",
        Kind::Volume => "volume-create",
        Kind::Network => "network-create",
        Kind::Kube => "kube-play",
        Kind::Image => "pull",
        Kind::Build => "build",
        Kind::Artifact => "artifact-pull",
        Kind::Pod => "pod-create",
    }
}

/// `run --health-log-destination` → `podman run --health-log-destination`; `volume-create`
/// → `podman volume create`; `podman --module` (a global option) stays.
fn spelled(items: &[&str]) -> String {
    let spell = |item: &&str| match item.split_once(' ') {
        Some(("podman", flag)) => format!("podman {flag}"),
        Some((command, flag)) => format!("podman {} {flag}", command.replacen('-', " ", 1)),
        None => format!("podman {}", item.replacen('-', " ", 1)),
    };
    items.iter().map(spell).collect::<Vec<_>>().join(", ")
}

/// Fails on the first thing in `unit` (a `kind` file) that a podman of release `host` cannot
/// do: the type's command itself, else the first key (in the file's order) or value whose
/// flags it lacks. Nothing to check for a podman as new as [`MATCHED`].
pub fn check(unit: &UnitFile, kind: Kind, host: PodmanVersion) -> Result<()> {
    if host >= MATCHED {
        return Ok(());
    }
    let table = table();
    let group = kind.group();
    let command = command_of(kind);
    if let Some(first) = table.first_with(command, "") {
        if !table.reaches(host, first) {
            return Err(ConvertError::new(format!(
                "{} files need Podman {} or later (for `{}`); the Podman here is {host}",
                kind.extension(),
                first.map_or("newer than any release known".into(), |v| v.to_string()),
                spelled(&[command]),
            ))
            .hint(upgrade_hint()));
        }
    }
    for key in unit.keys_in_order(group) {
        if let Some(needs) = table.key(group, key) {
            if !table.reaches(host, needs.needs) {
                return Err(too_new(group, key, None, needs, host));
            }
        }
        if !table.has_values(group, key) {
            continue;
        }
        if let Some(value) = unit.lookup_last(group, key) {
            if let Some(needs) = table.value(group, key, value) {
                if !table.reaches(host, needs.needs) {
                    return Err(too_new(group, key, Some(value), needs, host));
                }
            }
        }
    }
    Ok(())
}

fn too_new(
    group: &str,
    key: &str,
    value: Option<&str>,
    needs: &KeyNeeds,
    host: PodmanVersion,
) -> ConvertError {
    let what = match value {
        Some(v) => format!("{key}={}", v.trim()),
        None => key.to_string(),
    };
    // The items the host lacks (the command is there: checked first).
    let table = table();
    let items = needs.items();
    let lacking: Vec<&str> = items
        .iter()
        .copied()
        .filter(|i| {
            let (c, f) = i.split_once(' ').unwrap_or((i, ""));
            !table.has(host, c, f)
        })
        .collect();
    let release = needs
        .needs
        .map_or("newer than any release known".into(), |v| v.to_string());
    ConvertError::new(format!(
        "{what} needs Podman {release} or later (for `{}`); the Podman here is {host}",
        spelled(if lacking.is_empty() { &items } else { &lacking })
    ))
    .at(group, key)
    .hint(format!(
        "remove {what} from [{group}], or {}",
        upgrade_hint()
    ))
}

fn upgrade_hint() -> String {
    "upgrade Podman (`unitsmith podman-version` says how the release here was found)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(s: &str) -> PodmanVersion {
        PodmanVersion::parse(s).unwrap()
    }

    #[test]
    fn the_data_reads_without_a_bad_line() {
        let t = table();
        assert!(t.bad_lines.is_empty(), "{:?}", t.bad_lines);
        assert_eq!(t.oldest(), Some(pv("4.3.0")));
        assert!(t.releases.contains(&MATCHED), "the data covers {MATCHED}");
        assert!(t.releases.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn every_key_the_generator_knows_has_a_line() {
        for kind in Kind::ALL {
            for key in kind.keys() {
                let needs = table().key(kind.group(), key);
                let needs = needs.unwrap_or_else(|| panic!("[{}] {key}: no line", kind.group()));
                assert!(
                    needs.items().first() == Some(&command_of(kind)),
                    "[{}] {key}: {:?}",
                    kind.group(),
                    needs.items()
                );
                // Every key of the generator's tables is in 5.8.2's Quadlet and works there.
                assert!(needs.quadlet.is_some_and(|q| q <= MATCHED), "{key}");
                assert!(needs.needs.is_some_and(|n| n <= MATCHED), "{key}");
            }
        }
        assert!(table().key("Quadlet", "DefaultDependencies").is_some());
    }

    #[test]
    fn keys_are_judged_by_their_flags_not_by_their_quadlet_release() {
        let t = table();
        // Ulimit= came to Quadlet in 4.7, --ulimit is older than 4.3.
        let ulimit = t.key("Container", "Ulimit").unwrap();
        assert_eq!(ulimit.quadlet, Some(pv("4.7.0")));
        assert_eq!(ulimit.needs, Some(pv("4.3.0")));
        assert_eq!(ulimit.items(), vec!["run", "run --ulimit"]);
        let health = t.key("Container", "HealthLogDestination").unwrap();
        assert_eq!(health.needs, Some(pv("5.3.0")));
        assert_eq!(
            t.first_with("volume-create", "--ignore"),
            Some(Some(pv("4.4.0")))
        );
        assert_eq!(
            t.first_with("network-create", "--ignore"),
            Some(Some(pv("4.4.0")))
        );
        assert_eq!(t.first_with("artifact-pull", ""), Some(Some(pv("5.4.0"))));
        assert!(t.value("Container", "Notify", " Healthy").is_some());
        assert!(t.value("Container", "Notify", "yes").is_none());
        assert_eq!(t.first_with("run", "--no-such-flag"), None);
    }

    #[test]
    fn a_podman_older_than_the_data_is_judged_as_the_oldest() {
        let t = table();
        assert!(t.has(pv("4.3.1"), "run", "--replace"));
        assert!(t.has(pv("4.2.0"), "run", "--replace"));
        assert!(!t.has(pv("4.2.0"), "volume-create", "--ignore"));
        assert!(!t.has(pv("4.3.1"), "volume-create", "--ignore"));
        assert!(t.has(pv("4.4.0"), "volume-create", "--ignore"));
        assert!(t.has(pv("4.3.1"), "run", "--unknown-to-the-table"));
        assert!(!t.reaches(pv("99.0.0"), None));
    }

    /// Flags every unit of a type runs with must work on the oldest release read, except
    /// those the converters replace on an older podman (`--ignore` of volume and network
    /// create) and the command of `.artifact` files (none before 5.4: a stub says so).
    #[test]
    fn what_every_unit_runs_works_on_the_oldest_release() {
        let oldest = table().oldest().unwrap();
        let replaced = [
            "volume-create --ignore",
            "network-create --ignore",
            "artifact-pull",
        ];
        let mut seen = 0;
        for line in DATA.lines().filter(|l| l.starts_with("base ")) {
            let words: Vec<&str> = line.split(' ').collect();
            let mut i = 3;
            while i < words.len() {
                let (c, f) = match words.get(i + 1) {
                    Some(f) if f.starts_with("--") => (words[i], *f),
                    _ => (words[i], ""),
                };
                i += if f.is_empty() { 1 } else { 2 };
                let item = format!("{c} {f}");
                if replaced.contains(&item.trim()) {
                    continue;
                }
                seen += 1;
                assert!(table().has(oldest, c, f), "{item} needs more than {oldest}");
            }
        }
        assert!(seen > 20, "{seen}");
    }

    #[test]
    fn keys_of_a_later_quadlet_are_named_so() {
        assert_eq!(newer_quadlet_key("Volume", "UID"), Some(pv("6.0.0")));
        assert_eq!(newer_quadlet_key("Volume", "User"), None);
        assert_eq!(newer_quadlet_key("Volume", "Nope"), None);
    }

    #[test]
    fn spells_commands_as_typed() {
        assert_eq!(
            spelled(&["volume-create --ignore", "run --ulimit", "pull"]),
            "podman volume create --ignore, podman run --ulimit, podman pull"
        );
        assert_eq!(spelled(&["podman --module"]), "podman --module");
    }
}
