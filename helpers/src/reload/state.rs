//! What `reload --restart-changed` remembers between runs: for each unit our generator wrote,
//! a digest of the generated content (the unit file and its generated drop-ins) that the
//! running unit was last (re)started with. Kept in a small text file under /run (gone at
//! reboot, as is every generated unit).
//!
//! Baseline for a run: the stored digests, or — on the first run after boot — the digests of
//! what the generator wrote at the last daemon-reload (what systemd started the units with).
//! A unit is *new* when the baseline lacks it, *changed* when its digest differs. A unit keeps
//! its baseline digest until a restart of it succeeds, so a change is never lost: a unit that
//! failed to restart, was a failure stub or was not loaded is still "changed" next time.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::doctor::sd;
use crate::safepath::Dir;

/// Unit name → 16 hex digits.
pub type Digests = BTreeMap<String, String>;

const MAGIC: &str = "# unitsmith reload state v1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    New,
    Changed,
    Unchanged,
    /// No input gives it any more (see `removed`).
    Removed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Changed => "changed",
            Change::Unchanged => "unchanged",
            Change::Removed => "removed",
        }
    }

    pub fn needs_restart(self) -> bool {
        matches!(self, Change::New | Change::Changed)
    }
}

/// FNV-1a, 64 bits: a content fingerprint (not a defence against forgery: only root writes
/// the generator's output).
pub fn fnv1a64(chunks: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in chunks {
        for b in *c {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Per unit, a digest of all its generated files (by relative path and content).
pub fn digests(files: &BTreeMap<String, (PathBuf, String)>) -> Digests {
    let mut per_unit: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (rel, (_, text)) in files {
        per_unit
            .entry(sd::unit_of(rel))
            .or_default()
            .push((rel, text));
    }
    per_unit
        .into_iter()
        .map(|(unit, mut parts)| {
            parts.sort();
            let mut chunks: Vec<&[u8]> = Vec::new();
            for (rel, text) in &parts {
                chunks.extend([rel.as_bytes(), b"\0", text.as_bytes(), b"\0"]);
            }
            let len: usize = parts.iter().map(|(_, t)| t.len()).sum();
            (
                unit.to_string(),
                format!("{:016x}-{len:x}", fnv1a64(&chunks)),
            )
        })
        .collect()
}

pub fn change(baseline: &Digests, unit: &str, now: &str) -> Change {
    match baseline.get(unit) {
        None => Change::New,
        Some(d) if d == now => Change::Unchanged,
        Some(_) => Change::Changed,
    }
}

/// The digests to keep: a unit's new digest once it is applied (unchanged, or restarted
/// successfully), else its baseline one (absent for a new unit). A unit whose generated files
/// are gone is dropped, unless `still_running` says it runs on (left running, or its stop
/// failed): it stays, so that the next reload finds it removed again.
pub fn next_state(
    baseline: &Digests,
    now: &Digests,
    applied: impl Fn(&str) -> bool,
    still_running: impl Fn(&str) -> bool,
) -> Digests {
    let current = now.iter().filter_map(|(unit, d)| {
        if applied(unit) {
            Some((unit.clone(), d.clone()))
        } else {
            baseline.get(unit).map(|b| (unit.clone(), b.clone()))
        }
    });
    let gone = baseline
        .iter()
        .filter(|(unit, _)| !now.contains_key(*unit) && still_running(unit))
        .map(|(u, d)| (u.clone(), d.clone()));
    current.chain(gone).collect()
}

pub fn render(d: &Digests) -> String {
    let mut s =
        format!("{MAGIC}: digest of the generated content each unit was last (re)started with\n");
    for (unit, digest) in d {
        s.push_str(&format!("{digest} {unit}\n"));
    }
    s
}

/// None for a file of another format (then the caller starts from the generator's output).
pub fn parse(text: &str) -> Option<Digests> {
    let mut lines = text.lines();
    if !lines.next()?.starts_with(MAGIC) {
        return None;
    }
    let mut d = Digests::new();
    for l in lines.filter(|l| !l.trim().is_empty()) {
        let (digest, unit) = l.split_once(' ')?;
        d.insert(unit.to_string(), digest.to_string());
    }
    Some(d)
}

/// The state file's name in the state directory.
pub const FILE_NAME: &str = "reload.state";

/// The stored digests; None when there are none (or none this version can read).
pub fn load(dir: &Dir) -> Option<Digests> {
    let path = dir.path().join(FILE_NAME);
    let opened = match dir.open_file(std::ffi::OsStr::new(FILE_NAME)) {
        Ok(o) => o?,
        Err(e) => {
            log::warn!("{e}; starting from the generator's output");
            return None;
        }
    };
    let data = opened
        .read_all(&path, 64 << 20)
        .map_err(|e| log::warn!("{e}; starting from the generator's output"))
        .ok()?;
    let text = String::from_utf8_lossy(&data);
    let d = parse(&text);
    if d.is_none() {
        log::warn!(
            "{}: not a state file this version understands; starting from the generator's output",
            path.display()
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, (PathBuf, String)> {
        pairs
            .iter()
            .map(|(r, t)| (r.to_string(), (PathBuf::from("/x").join(r), t.to_string())))
            .collect()
    }

    #[test]
    fn digests_cover_unit_and_its_dropins() {
        let a = digests(&files(&[
            ("web.service", "A"),
            ("web.service.d/50-x.conf", "D"),
            ("db.service", "B"),
        ]));
        assert_eq!(a.len(), 2);
        let b = digests(&files(&[
            ("web.service", "A"),
            ("web.service.d/50-x.conf", "D2"),
            ("db.service", "B"),
        ]));
        assert_ne!(
            a["web.service"], b["web.service"],
            "a drop-in change is a change of its unit"
        );
        assert_eq!(a["db.service"], b["db.service"]);
        let c = digests(&files(&[("web.service", "A"), ("db.service", "B")]));
        assert_ne!(
            a["web.service"], c["web.service"],
            "a removed drop-in is a change"
        );
        // Moving bytes between path and content must not collide.
        let d1 = digests(&files(&[("a.service", "xy")]));
        let d2 = digests(&files(&[("a.service", "x"), ("a.service.d/y", "")]));
        assert_ne!(d1["a.service"], d2["a.service"]);
    }

    #[test]
    fn change_detection_and_state_carry_over() {
        let base: Digests = [
            ("a.service", "1"),
            ("b.service", "2"),
            ("gone.service", "9"),
        ]
        .iter()
        .map(|(u, d)| (u.to_string(), d.to_string()))
        .collect();
        let now: Digests = [("a.service", "1"), ("b.service", "3"), ("c.service", "4")]
            .iter()
            .map(|(u, d)| (u.to_string(), d.to_string()))
            .collect();
        assert_eq!(change(&base, "a.service", "1"), Change::Unchanged);
        assert_eq!(change(&base, "b.service", "3"), Change::Changed);
        assert_eq!(change(&base, "c.service", "4"), Change::New);

        // b restarted fine, c failed to start: c stays "new" for next time.
        let next = next_state(&base, &now, |u| u != "c.service", |_| false);
        assert_eq!(next.get("b.service").map(String::as_str), Some("3"));
        assert_eq!(next.get("c.service"), None);
        assert_eq!(
            next.get("gone.service"),
            None,
            "removed and stopped: forgotten"
        );
        // b failed: it keeps its old digest, so it is still "changed" next time.
        let next = next_state(&base, &now, |u| u == "a.service", |_| false);
        assert_eq!(change(&next, "b.service", "3"), Change::Changed);
        assert_eq!(change(&next, "c.service", "4"), Change::New);
        // A removed unit that still runs (its stop failed, or it was kept) is remembered, so
        // the next reload finds it removed again.
        let next = next_state(&base, &now, |_| true, |u| u == "gone.service");
        assert_eq!(next.get("gone.service").map(String::as_str), Some("9"));
    }

    #[test]
    fn state_file_round_trip() {
        let d: Digests = [("web.service", "00ff-1a"), ("app@.service", "abcd-2")]
            .iter()
            .map(|(u, d)| (u.to_string(), d.to_string()))
            .collect();
        assert_eq!(parse(&render(&d)), Some(d));
        assert_eq!(parse("something else\n"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse(&format!("{MAGIC}\n")), Some(Digests::new()));
    }

    #[test]
    fn fnv_known_values() {
        assert_eq!(fnv1a64(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"fo", b"obar"]), fnv1a64(&[b"foobar"]));
    }
}
