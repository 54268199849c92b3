//! systemd's side, shared by `doctor` and `reload`: unit state through `systemctl show`
//! (batched: one call for many units), the generator output directories and the units our
//! generator wrote there, and whether our generator is installed at all.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::systemctl::{self, Scope};

/// The properties doctor and reload read for every unit.
pub const PROPS: &[&str] = &[
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "Result",
    "FragmentPath",
    "SourcePath",
    "NeedDaemonReload",
    "LoadError",
    "InvocationID",
    "Requires",
    "Requisite",
    "BindsTo",
];

/// Units per `systemctl show` call: keeps the command line short.
const BATCH: usize = 200;

/// `systemctl show -p PROPS UNIT...`: one map per unit, in the order given. A unit systemd
/// cannot show at all gets an empty map (LoadState missing), never an error for the others.
/// Templates (`app@.service`), which `systemctl show` refuses, get `LoadState` and
/// `UnitFileState` from `systemctl list-unit-files`.
pub fn show_many(scope: Scope, units: &[String], props: &[&str]) -> Vec<HashMap<String, String>> {
    let (templates, plain): (Vec<&String>, Vec<&String>) =
        units.iter().partition(|u| is_template(u));
    if templates.is_empty() {
        return show_plain(scope, units, props);
    }
    let plain: Vec<String> = plain.into_iter().cloned().collect();
    let templates: Vec<String> = templates.into_iter().cloned().collect();
    let mut shown = show_plain(scope, &plain, props).into_iter();
    let mut tpl = template_props(scope, &templates).into_iter();
    units
        .iter()
        .map(|u| {
            if is_template(u) {
                tpl.next()
            } else {
                shown.next()
            }
            .unwrap_or_default()
        })
        .collect()
}

/// `LoadState`, `ActiveState` and `SubState` of `units` from one `systemctl list-units` call
/// (one D-Bus call for all; `show` makes a few per unit, 1-2 ms each on a busy machine), and
/// `show` with `props` for the units it does not list (never loaded, templates). For callers
/// that need no more than those three properties of most units. When systemd does not answer
/// within the call timeout, every map is empty (no LoadState), as with `show_many`.
pub fn states(scope: Scope, units: &[String], props: &[&str]) -> Vec<HashMap<String, String>> {
    let plain: Vec<&str> = units
        .iter()
        .filter(|u| !is_template(u))
        .map(String::as_str)
        .collect();
    let mut listed: HashMap<String, HashMap<String, String>> = HashMap::new();
    if !plain.is_empty() {
        let out = list_units(scope, &plain);
        if out.unanswered {
            // systemd did not answer in time (or we are stopping): as `show_many` does, no
            // state for anyone; asking again with show would only wait as long again.
            log::warn!("{}", out.stderr.trim());
            return units.iter().map(|_| HashMap::new()).collect();
        }
        if out.success {
            listed = parse_list_units(&out.stdout);
        }
    }
    let rest: Vec<String> = units
        .iter()
        .filter(|u| !listed.contains_key(*u))
        .cloned()
        .collect();
    let mut shown = rest
        .iter()
        .cloned()
        .zip(show_many(scope, &rest, props))
        .collect::<HashMap<_, _>>();
    units
        .iter()
        .map(|u| {
            listed
                .remove(u)
                .or_else(|| shown.remove(u))
                .unwrap_or_default()
        })
        .collect()
}

/// `systemctl list-units` of the units (or glob patterns) given, loaded or not, one per line.
fn list_units(scope: Scope, patterns: &[&str]) -> systemctl::Output {
    let mut args = vec![
        "list-units",
        "--all",
        "--plain",
        "--no-legend",
        "--full",
        "--",
    ];
    args.extend_from_slice(patterns);
    systemctl::run(scope, &args)
}

/// `systemctl list-units --plain --no-legend --full` lines: UNIT LOAD ACTIVE SUB DESCRIPTION.
pub fn parse_list_units(text: &str) -> HashMap<String, HashMap<String, String>> {
    text.lines()
        .filter_map(|l| {
            let mut c = l.split_whitespace();
            let (unit, load, active, sub) = (c.next()?, c.next()?, c.next()?, c.next()?);
            let m: HashMap<String, String> = [
                ("Id", unit),
                ("LoadState", load),
                ("ActiveState", active),
                ("SubState", sub),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            Some((unit.to_string(), m))
        })
        .collect()
}

/// What systemd knows of template unit files: `LoadState` is `loaded` when the file is in
/// its search path (generator directories included), `masked`, or `not-found`.
pub fn template_props(scope: Scope, templates: &[String]) -> Vec<HashMap<String, String>> {
    if templates.is_empty() {
        return Vec::new();
    }
    let mut args: Vec<&str> = vec!["list-unit-files", "--no-legend", "--no-pager", "--"];
    args.extend(templates.iter().map(String::as_str));
    let out = systemctl::run(scope, &args);
    let states: HashMap<&str, &str> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let mut c = l.split_whitespace();
            Some((c.next()?, c.next()?))
        })
        .collect();
    templates
        .iter()
        .map(|t| {
            let mut m = HashMap::new();
            m.insert("Id".to_string(), t.clone());
            let load = match states.get(t.as_str()) {
                Some(&"masked") | Some(&"masked-runtime") => "masked",
                Some(_) => "loaded",
                None if out.success || out.stderr.trim().is_empty() => "not-found",
                None => "",
            };
            if !load.is_empty() {
                m.insert("LoadState".to_string(), load.to_string());
            }
            if let Some(s) = states.get(t.as_str()) {
                m.insert("UnitFileState".to_string(), s.to_string());
            }
            m
        })
        .collect()
}

fn show_plain(scope: Scope, units: &[String], props: &[&str]) -> Vec<HashMap<String, String>> {
    let mut props: Vec<&str> = props.to_vec();
    if !props.contains(&"Id") {
        props.insert(0, "Id");
    }
    let p = props.join(",");
    let mut all = Vec::with_capacity(units.len());
    for chunk in units.chunks(BATCH) {
        let mut args: Vec<&str> = vec!["show", "-p", &p, "--"];
        args.extend(chunk.iter().map(String::as_str));
        let out = systemctl::run(scope, &args);
        let blocks = parse_show(&out.stdout);
        if out.success && blocks.len() == chunk.len() {
            all.extend(blocks);
        } else if out.unanswered {
            // systemd did not answer in time (or we are stopping): asking again per unit
            // would only wait as long again for each.
            log::warn!("{}", out.stderr.trim());
            all.extend(chunk.iter().map(|_| HashMap::new()));
        } else {
            // One bad name fails the whole call: ask one by one.
            log::debug!(
                "systemctl show of {} units failed ({}); asking one by one",
                chunk.len(),
                out.stderr.trim()
            );
            for u in chunk {
                all.push(systemctl::show(scope, u, &props));
            }
        }
    }
    all
}

/// `systemctl show` output of several units: blocks of `Key=Value` lines, separated by a blank
/// line.
pub fn parse_show(text: &str) -> Vec<HashMap<String, String>> {
    let mut blocks = Vec::new();
    let mut cur: HashMap<String, String> = HashMap::new();
    let mut any = false;
    for line in text.lines() {
        if line.is_empty() {
            if any {
                blocks.push(std::mem::take(&mut cur));
                any = false;
            }
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            cur.insert(k.to_string(), v.to_string());
            any = true;
        }
    }
    if any {
        blocks.push(cur);
    }
    blocks
}

/// The manager's unit search path (its `UnitPath` property), highest priority first; empty
/// when it cannot be asked.
pub fn unit_path(scope: Scope) -> Vec<PathBuf> {
    let out = systemctl::run(scope, &["show", "--value", "-p", "UnitPath"]);
    out.stdout.split_whitespace().map(PathBuf::from).collect()
}

/// Running instances of a template (`app@.service` → `app@one.service`, ...).
pub fn running_instances(scope: Scope, template: &str) -> Vec<String> {
    let Some((prefix, suffix)) = template.split_once("@.") else {
        return Vec::new();
    };
    let pattern = format!("{prefix}@*.{suffix}");
    let out = list_units(scope, &[&pattern]);
    let mut running: Vec<String> = parse_list_units(&out.stdout)
        .into_iter()
        .filter(|(_, props)| {
            matches!(
                props["ActiveState"].as_str(),
                "active" | "activating" | "reloading"
            )
        })
        .map(|(unit, _)| unit)
        .collect();
    running.sort(); // list-units' order, which the map lost
    running
}

/// `XDG_RUNTIME_DIR` for the user manager's files.
pub fn runtime_dir() -> Result<PathBuf, String> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| "XDG_RUNTIME_DIR is not set: needed with --user".to_string())
}

/// The directories systemd hands generators (normal, early, late), as systemd.generator(7).
pub fn generator_output_dirs(scope: Scope) -> Vec<PathBuf> {
    let base = match scope {
        Scope::System => PathBuf::from("/run/systemd"),
        Scope::User => match runtime_dir() {
            Ok(r) => r.join("systemd"),
            Err(_) => return Vec::new(),
        },
    };
    ["generator", "generator.early", "generator.late"]
        .iter()
        .map(|d| base.join(d))
        .collect()
}

/// Where unitsmith keeps its runtime state: /run/unitsmith, or $XDG_RUNTIME_DIR/unitsmith.
pub fn state_dir(scope: Scope) -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("UNITSMITH_STATE_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    match scope {
        Scope::System => Ok(PathBuf::from("/run/unitsmith")),
        Scope::User => Ok(runtime_dir()?.join("unitsmith")),
    }
}

/// Is `text` a file our generator wrote (its header on the first line)?
pub fn is_ours(text: &str) -> bool {
    text.lines()
        .next()
        .is_some_and(|l| l.trim_start_matches('#').trim() == unitsmith_generator::generate::HEADER)
}

/// Every file our generator wrote under `dirs` (unit files at the top, drop-ins in `NAME.d/`),
/// by path relative to its directory, with its content. Symlinks are not files we wrote.
pub fn scan_generated(dirs: &[PathBuf]) -> BTreeMap<String, (PathBuf, String)> {
    let mut found = BTreeMap::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.filter_map(|e| e.ok()) {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_file() {
                add_if_ours(&mut found, name, e.path());
            } else if ft.is_dir() && name.ends_with(".d") {
                let Ok(sub) = std::fs::read_dir(e.path()) else {
                    continue;
                };
                for f in sub.filter_map(|f| f.ok()) {
                    let Ok(fname) = f.file_name().into_string() else {
                        continue;
                    };
                    if f.file_type().is_ok_and(|t| t.is_file()) {
                        add_if_ours(&mut found, format!("{name}/{fname}"), f.path());
                    }
                }
            }
        }
    }
    found
}

fn add_if_ours(found: &mut BTreeMap<String, (PathBuf, String)>, rel: String, path: PathBuf) {
    if found.contains_key(&rel) {
        return; // the first directory wins, as in systemd's search path
    }
    if let Ok(text) = std::fs::read_to_string(&path) {
        if is_ours(&text) {
            found.insert(rel, (path, text));
        }
    }
}

/// The unit a generated file belongs to: itself, or `NAME` for `NAME.d/x.conf`.
pub fn unit_of(rel: &str) -> &str {
    match rel.split_once('/') {
        Some((dir, _)) => dir.strip_suffix(".d").unwrap_or(dir),
        None => rel,
    }
}

/// systemd's generator directories, highest priority first: the library's one list.
pub fn generator_dirs(user: bool) -> Vec<PathBuf> {
    unitsmith_generator::dirs::generator_dirs(user)
}

/// The names our generator may be installed under.
pub fn generator_names(user: bool) -> &'static [&'static str] {
    if user {
        &["unitsmith-user-generator", "unitsmith-generator"]
    } else {
        &["unitsmith-generator"]
    }
}

/// Our generator as systemd would run it: the first file of its name in the generator
/// directories decides (a link to /dev/null or an empty file masks it). Err says what is wrong.
pub fn generator_installed(dirs: &[PathBuf], names: &[&str]) -> Result<PathBuf, String> {
    for name in names {
        for dir in dirs {
            let path = dir.join(name);
            if std::fs::symlink_metadata(&path).is_err() {
                continue;
            }
            return match std::fs::metadata(&path) {
                Err(_) => Err(format!(
                    "{} is a dangling link: systemd skips it",
                    path.display()
                )),
                Ok(m)
                    if m.len() == 0
                        || std::fs::canonicalize(&path)
                            .is_ok_and(|p| p == Path::new("/dev/null")) =>
                {
                    Err(format!(
                        "{} masks it (a link to /dev/null or an empty file)",
                        path.display()
                    ))
                }
                Ok(m) if m.permissions().mode() & 0o111 == 0 => Err(format!(
                    "{} is not executable: systemd skips it",
                    path.display()
                )),
                Ok(_) => Ok(path),
            };
        }
    }
    Err(format!(
        "unitsmith-generator is not installed in systemd's generator directories ({})",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Unit types systemd knows; a name without one of them means NAME.service.
const UNIT_SUFFIXES: &[&str] = &[
    ".service",
    ".socket",
    ".target",
    ".timer",
    ".mount",
    ".automount",
    ".swap",
    ".path",
    ".slice",
    ".scope",
    ".device",
];

pub fn has_unit_suffix(name: &str) -> bool {
    UNIT_SUFFIXES
        .iter()
        .any(|s| name.ends_with(s) && name.len() > s.len())
}

/// `web` → `web.service`; names with a unit type are kept.
pub fn normalize_unit(name: &str) -> String {
    if has_unit_suffix(name) {
        name.to_string()
    } else {
        format!("{name}.service")
    }
}

/// `app@.service` for `app@one.service`; None for a name that is not an instance.
pub fn template_of(unit: &str) -> Option<String> {
    let (prefix, rest) = unit.split_once('@')?;
    let dot = rest.rfind('.')?;
    if dot == 0 {
        return None; // already a template
    }
    Some(format!("{prefix}@{}", &rest[dot..]))
}

pub fn is_template(unit: &str) -> bool {
    unit.split_once('@')
        .is_some_and(|(_, rest)| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn parses_show_blocks_in_order() {
        let text =
            "Id=a.service\nLoadState=loaded\n\nId=b.service\nLoadState=not-found\nFragmentPath=\n";
        let b = parse_show(text);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0]["LoadState"], "loaded");
        assert_eq!(b[1]["Id"], "b.service");
        assert_eq!(b[1]["FragmentPath"], "");
        assert_eq!(
            parse_show("Id=x\nDescription=a=b\n")[0]["Description"],
            "a=b"
        );
        assert!(parse_show("").is_empty());
    }

    #[test]
    fn parses_list_units_lines() {
        let m = parse_list_units(
            "web.service  loaded    active running Web server\ngone.service not-found active running gone.service\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m["web.service"]["SubState"], "running");
        assert_eq!(m["gone.service"]["LoadState"], "not-found");
        assert!(parse_list_units("").is_empty());
    }

    #[test]
    fn names() {
        assert_eq!(normalize_unit("web"), "web.service");
        assert_eq!(normalize_unit("web.socket"), "web.socket");
        assert_eq!(normalize_unit("a.b"), "a.b.service");
        assert_eq!(
            template_of("app@one.service").as_deref(),
            Some("app@.service")
        );
        assert_eq!(template_of("app@.service"), None);
        assert_eq!(template_of("web.service"), None);
        assert!(is_template("app@.service"));
        assert!(!is_template("app@x.service"));
        assert_eq!(unit_of("web.service"), "web.service");
        assert_eq!(unit_of("web.service.d/50-x.conf"), "web.service");
    }

    #[test]
    fn finds_only_our_generated_files_and_the_generator() {
        let base = std::env::temp_dir().join(format!("unitsmith-sd-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let (gen, early) = (base.join("generator"), base.join("generator.early"));
        fs::create_dir_all(gen.join("web.service.d")).unwrap();
        fs::create_dir_all(gen.join("multi-user.target.wants")).unwrap();
        fs::create_dir_all(&early).unwrap();
        let ours = format!("# {}\n# \n[Unit]\n", unitsmith_generator::generate::HEADER);
        fs::write(gen.join("web.service"), &ours).unwrap();
        fs::write(gen.join("web.service.d/50-x.conf"), &ours).unwrap();
        fs::write(
            gen.join("other.service"),
            "# Automatically generated by podman\n",
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "../web.service",
            gen.join("multi-user.target.wants/web.service"),
        )
        .unwrap();
        fs::write(early.join("web.service"), &ours).unwrap();
        let found = scan_generated(&[gen.clone(), early.clone()]);
        let keys: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(keys, ["web.service", "web.service.d/50-x.conf"]);
        assert_eq!(found["web.service"].0, gen.join("web.service"));

        let (d1, d2) = (base.join("etc"), base.join("usr"));
        fs::create_dir_all(&d1).unwrap();
        fs::create_dir_all(&d2).unwrap();
        assert!(
            generator_installed(&[d1.clone(), d2.clone()], &["unitsmith-generator"])
                .unwrap_err()
                .contains("not installed")
        );
        let g = d2.join("unitsmith-generator");
        fs::write(&g, "#!/bin/sh\n").unwrap();
        assert!(
            generator_installed(&[d1.clone(), d2.clone()], &["unitsmith-generator"])
                .unwrap_err()
                .contains("not executable")
        );
        fs::set_permissions(&g, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            generator_installed(&[d1.clone(), d2.clone()], &["unitsmith-generator"]).unwrap(),
            g
        );
        std::os::unix::fs::symlink("/dev/null", d1.join("unitsmith-generator")).unwrap();
        assert!(generator_installed(&[d1, d2], &["unitsmith-generator"])
            .unwrap_err()
            .contains("masks"));
        fs::remove_dir_all(&base).unwrap();
    }
}
