//! Quadlet inputs turned into the units the generator makes of them (its own library, so
//! findings point at the line of the input the author wrote). Inside `--root`, the generator
//! (which reads files itself) is only handed paths whose links stay in the image.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use unitsmith_generator::generate::{self, Options};
use unitsmith_generator::sources::{self, InputKind};
use unitsmith_generator::unitfile::UnitFile;

use super::root::Root;
use super::{Finding, Severity};

/// The units made of the inputs in `dirs` (paths on this machine, already resolved inside
/// `root`), by name; inputs the generator cannot translate, or cannot read inside the image,
/// become findings.
pub fn generate_units(
    dirs: &[PathBuf],
    root: &Root,
    findings: &mut Vec<Finding>,
) -> BTreeMap<String, UnitFile> {
    let mut units = BTreeMap::new();
    if dirs.is_empty() {
        return units;
    }
    let mut inputs = sources::find_inputs(dirs);
    // An input that is a link: hand the generator the file the image means.
    inputs.retain_mut(|input| {
        if !root.leaves_image(&input.path) {
            return true;
        }
        match root.resolve(&input.path) {
            Some(inside) => {
                input.path = inside;
                true
            }
            None => {
                findings.push(unreadable(&input.name, &input.path));
                false
            }
        }
    });
    let dropins: HashSet<PathBuf> = sources::dropin_index(dirs)
        .into_iter()
        .filter(|d| dropin_dir_stays_in_image(root, d))
        .collect();
    let opts = Options {
        user: false,
        podman: std::env::var("PODMAN")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/usr/bin/podman".into()),
        dirs: dirs.to_vec(),
        helper: unitsmith_generator::helper_path(),
        deadline: None,
        flavor: unitsmith_generator::quadlet::Flavor::selected(),
    };
    continuation_lines(&inputs, &dropins, root, findings);
    let outcome = generate::generate_with(&inputs, &dropins, &opts, None);
    // Inputs with no unit at all (no valid unit name can be made of theirs).
    for ng in &outcome.not_generated {
        findings.push(not_generated_finding(ng));
    }
    for g in outcome.units.into_iter().filter(|g| !g.name.contains('/')) {
        match &g.error {
            Some(e) => findings.push(generator_finding(&g.name, &g.source, e)),
            None => {
                units.insert(g.name.clone(), g.unit);
            }
        }
    }
    units
}

/// The `continuation-line` findings of each Quadlet input and of the drop-ins in Quadlet
/// drop-in directories (`.envgate` files are ours alone, read by systemd's rule: not these).
fn continuation_lines(
    inputs: &[sources::Input],
    dropins: &HashSet<PathBuf>,
    root: &Root,
    findings: &mut Vec<Finding>,
) {
    let mut files: Vec<(PathBuf, String)> = (inputs.iter())
        .filter(|i| matches!(i.kind, InputKind::Quadlet(_)))
        .map(|i| (i.path.clone(), unit_of(&i.name)))
        .collect();
    let mut dirs: Vec<&PathBuf> = dropins
        .iter()
        .filter(|d| is_quadlet_dropin_dir(d))
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut confs = root.list(dir).unwrap_or_default();
        confs.retain(|p| p.extension().is_some_and(|x| x == "conf") && root.is_file(p));
        confs.sort();
        // `web.container.d` is web.service's; `container.d` every container's.
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let unit = match name.strip_suffix(".d").map(unit_of) {
            Some(u) if u.ends_with(".service") => u,
            _ => name,
        };
        files.extend(confs.into_iter().map(|c| (c, unit.clone())));
    }
    for (path, unit) in files {
        if let Ok(data) = root.read(&path) {
            let text = String::from_utf8_lossy(&data);
            findings.extend(super::continuation::check(&path, &text, &unit));
        }
    }
}

/// The unit a Quadlet input makes, by its name (`web.container` → `web.service`).
fn unit_of(input: &str) -> String {
    match unitsmith_generator::quadlet::service_name_from_filename(input) {
        Some(s) => s + ".service",
        None => input.to_string(),
    }
}

/// `web.container.d`, `web-.container.d`, `container.d`: drop-ins of Quadlet inputs.
fn is_quadlet_dropin_dir(dir: &Path) -> bool {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let Some(base) = name.strip_suffix(".d") else {
        return false;
    };
    [base.to_string(), format!("x.{base}")]
        .iter()
        .any(|n| matches!(InputKind::from_filename(n), Some(InputKind::Quadlet(_))))
}

/// A drop-in directory the generator may read: neither it nor a file in it is a link the
/// kernel would follow out of the image (`--root`). Such a directory is left out, loudly.
fn dropin_dir_stays_in_image(root: &Root, dir: &Path) -> bool {
    let leaving = std::iter::once(dir.to_path_buf())
        .chain(root.list(dir).unwrap_or_default())
        .find(|p| root.leaves_image(p));
    match leaving {
        None => true,
        Some(p) => {
            log::warn!(
                "{}: not read: a link that leads out of the image (--root follows links inside it only); \
                 make it a relative link or a copy",
                p.display()
            );
            false
        }
    }
}

fn unreadable(unit: &str, path: &Path) -> Finding {
    Finding {
        rule: "parse-error",
        severity: Severity::Error,
        file: path.to_path_buf(),
        line: 0,
        unit: unit.to_string(),
        message: "a link that leads nowhere inside the image: the generator cannot read this input at boot".into(),
        fix: "point the link at a file inside the image (a relative link, or an absolute path as the booted image sees it)".into(),
    }
}

/// A Quadlet input the generator makes no unit of at all: no valid unit name can be made of
/// its name (`@.container`, over 255 bytes).
fn not_generated_finding(ng: &unitsmith_generator::generate::NotGenerated) -> Finding {
    let (message, fix) = match ng.error.split_once("\n  hint: ") {
        Some((m, h)) => (m, h),
        None => (ng.error.as_str(), "rename the file"),
    };
    // The message starts with the (escaped) path; the finding names the file already.
    let message = message
        .split_once(": cannot become a unit: ")
        .map_or(message, |(_, m)| m);
    Finding {
        rule: "generator-error",
        severity: Severity::Error,
        file: ng.source.clone(),
        line: 0,
        unit: ng.unit.clone(),
        message: format!(
            "the generator makes no unit of this input (not even a failure stub): {message}"
        ),
        fix: fix.to_string(),
    }
}

/// A Quadlet input the generator cannot translate: its unit is a failure stub.
fn generator_finding(unit: &str, source: &Path, error: &str) -> Finding {
    let first = error.lines().next().unwrap_or("");
    let hint = error
        .lines()
        .skip(1)
        .map(|l| l.trim().trim_start_matches("hint: ").to_string())
        .collect::<Vec<_>>()
        .join("; ");
    // Messages start with `PATH:LINE: ` when the generator knows the line.
    let (file, line, msg) = match first.strip_prefix(&format!("{}:", source.display())) {
        Some(rest) => match rest.split_once(':') {
            Some((n, m)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => (
                source.to_path_buf(),
                n.parse().unwrap_or(0),
                m.trim().to_string(),
            ),
            _ => (source.to_path_buf(), 0, rest.trim().to_string()),
        },
        None => (source.to_path_buf(), 0, first.to_string()),
    };
    Finding {
        rule: "generator-error",
        severity: Severity::Error,
        file,
        line,
        unit: unit.to_string(),
        message: format!("the generator cannot translate this input; {unit} becomes a failure stub that fails on start: {msg}"),
        fix: if hint.is_empty() { "fix the input (see `unitsmith doctor`)".into() } else { hint },
    }
}
