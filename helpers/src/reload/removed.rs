//! Units whose input was removed since the last reload: found *before* the daemon-reload, so
//! that `--restart-changed` can stop them while systemd still has their unit file (a Quadlet
//! unit's `ExecStop=`/`ExecStopPost=` run `podman rm`; once the file is gone systemd only
//! knows a `not-found` unit and can merely signal its processes).
//!
//! A unit is *removed* when it is in the reload state (or, before the first reload of a boot,
//! among the files our generator wrote at the last daemon-reload), the inputs no longer give
//! it, and nothing else provides it. Never removed, so never touched: a unit systemd loads from
//! a file our generator did not write (an administrator's unit file, another generator's
//! output, Podman's generator after `takeover --undo`), a unit we only added a drop-in to (an
//! env gate's consumer), and a unit whose input still exists but is no longer read by us
//! (handed over to Podman's generator).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use std::time::Duration;

use super::state::Digests;
use crate::doctor::{sd, Env};
use crate::systemctl::{self, Scope};

/// What became of a removed unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was not running: nothing to stop.
    NotRunning,
    Stopped,
    StopFailed,
    /// Left running (`--keep-removed`, or no `--restart-changed`).
    KeptRunning,
}

/// A removed unit (a template stands for its running instances).
#[derive(Debug, Clone)]
pub struct Removed {
    pub unit: String,
    pub source: Option<PathBuf>,
    /// What a stop stops: the unit, or a template's running instances.
    pub targets: Vec<String>,
    pub outcome: Outcome,
    /// systemd's view after the reload (the unit's, or for a template its list-unit-files one).
    pub props: HashMap<String, String>,
    /// Why a stop failed, one line per unit.
    pub errors: Vec<String>,
}

impl Removed {
    pub fn running(&self) -> bool {
        !self.targets.is_empty()
    }
}

/// The properties read of removed units.
const PROPS: &[&str] = &[
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "Result",
    "FragmentPath",
];

/// The units of `baseline` whose input is gone, as [`candidates`] finds them in `env`, less
/// those a unit file of the same name elsewhere provides (an administrator's, which takes over
/// at the next daemon-reload). Shared by `reload` and `doctor`.
pub fn gone(scope: Scope, env: &Env, baseline: &Digests) -> Vec<Candidate> {
    let model_units: BTreeSet<String> = env.model.unit_names().into_iter().collect();
    let model_inputs: Vec<PathBuf> = env.model.inputs.iter().map(|i| i.path.clone()).collect();
    let cands = candidates(baseline, &model_units, &model_inputs, &env.disk, |p| {
        p.exists()
    });
    if cands.is_empty() {
        return cands;
    }
    let ours = our_files(env);
    let unit_path = sd::unit_path(scope);
    cands
        .into_iter()
        .filter(|c| match other_file(&c.unit, &unit_path, &ours) {
            Some(f) => {
                log::info!(
                    "{}: its input is gone, but {} provides it from the daemon-reload on: left alone",
                    c.unit,
                    f.display()
                );
                false
            }
            None => true,
        })
        .collect()
}

/// The paths of the files our generator wrote.
fn our_files(env: &Env) -> BTreeSet<PathBuf> {
    env.disk.values().map(|(p, _)| p.clone()).collect()
}

/// Find the removed units, before the daemon-reload: `pre` is what the inputs give and what our
/// generator wrote, `baseline` what the last reload left running.
pub fn find(scope: Scope, pre: &Env, baseline: &Digests) -> Vec<Removed> {
    let cands = gone(scope, pre, baseline);
    if cands.is_empty() {
        return Vec::new();
    }
    let ours = our_files(pre);
    let (templates, plain): (Vec<&Candidate>, Vec<&Candidate>) =
        cands.iter().partition(|c| sd::is_template(&c.unit));
    // A template stands for its running instances.
    let instances: Vec<(&Candidate, Vec<String>)> = templates
        .into_iter()
        .map(|c| (c, sd::running_instances(scope, &c.unit)))
        .collect();
    let mut ask: Vec<String> = plain.iter().map(|c| c.unit.clone()).collect();
    ask.extend(instances.iter().flat_map(|(_, i)| i.iter().cloned()));
    let shown: HashMap<String, HashMap<String, String>> = ask
        .iter()
        .cloned()
        .zip(sd::show_many(scope, &ask, PROPS))
        .collect();
    let mut out = Vec::new();
    let left_alone = |unit: &str, why: String| {
        log::info!("{unit}: its input is gone, but {why}: left alone");
    };
    for c in plain {
        let props = shown.get(&c.unit).cloned().unwrap_or_default();
        if let Some(why) = provided_by_other(&props, &ours, &pre.cx.output_dirs) {
            left_alone(&c.unit, why);
            continue;
        }
        out.push(Removed {
            unit: c.unit.clone(),
            source: c.source.clone(),
            targets: if is_running(&props) {
                vec![c.unit.clone()]
            } else {
                Vec::new()
            },
            outcome: Outcome::NotRunning,
            props,
            errors: Vec::new(),
        });
    }
    for (c, inst) in instances {
        let mut targets = Vec::new();
        for i in inst {
            let props = shown.get(&i).cloned().unwrap_or_default();
            match provided_by_other(&props, &ours, &pre.cx.output_dirs) {
                Some(why) => left_alone(&i, why),
                None => targets.push(i),
            }
        }
        out.push(Removed {
            unit: c.unit.clone(),
            source: c.source.clone(),
            targets,
            outcome: Outcome::NotRunning,
            props: HashMap::new(),
            errors: Vec::new(),
        });
    }
    out
}

/// Stop every running removed unit in one `systemctl stop`, bounded by `timeout`.
pub fn stop(scope: Scope, removed: &[Removed], timeout: Duration) -> Option<systemctl::Output> {
    let targets: Vec<&str> = removed
        .iter()
        .flat_map(|r| r.targets.iter().map(String::as_str))
        .collect();
    if targets.is_empty() {
        return None;
    }
    log::info!("stopping {} (their inputs are gone)", targets.join(" "));
    let mut args = vec!["stop", "--"];
    args.extend(targets);
    Some(systemctl::run_with_timeout(scope, &args, timeout))
}

/// After the daemon-reload: clear the failed state of what is down (systemd then forgets the
/// unit: its file is gone), and record what became of each unit. `stopped`: the output of
/// [`stop`], when it ran.
pub fn finish(scope: Scope, removed: &mut [Removed], stopped: Option<&systemctl::Output>) {
    let targets: Vec<String> = removed.iter().flat_map(|r| r.targets.clone()).collect();
    let after: HashMap<String, HashMap<String, String>> = targets
        .iter()
        .cloned()
        .zip(sd::show_many(scope, &targets, PROPS))
        .collect();
    for r in removed.iter_mut() {
        if !r.running() {
            // Not running: a failed one is still reset (systemd keeps it until then).
            if r.props.get("ActiveState").is_some_and(|s| s == "failed") {
                let _ = systemctl::reset_failed(scope, &r.unit);
            }
            continue;
        }
        if stopped.is_none() {
            r.outcome = Outcome::KeptRunning;
            continue;
        }
        let mut all_down = true;
        for t in &r.targets {
            let props = after.get(t).cloned().unwrap_or_default();
            if is_down(&props) {
                let _ = systemctl::reset_failed(scope, t);
            } else {
                all_down = false;
                let mut msg = format!(
                    "stop of {t} failed: ActiveState={}, SubState={}",
                    props.get("ActiveState").map_or("?", String::as_str),
                    props.get("SubState").map_or("?", String::as_str),
                );
                // systemctl's own words about this unit, else why the call failed at all.
                let stderr = stopped.map_or("", |o| o.stderr.as_str());
                let mut said: Vec<&str> =
                    stderr.lines().filter(|l| l.contains(t.as_str())).collect();
                if said.is_empty() && stopped.is_some_and(|o| !o.success) {
                    said.extend(stderr.lines().find(|l| !l.trim().is_empty()));
                }
                for l in said {
                    msg.push_str("\n  ");
                    msg.push_str(l.trim());
                }
                r.errors.push(msg);
            }
        }
        r.outcome = if all_down {
            Outcome::Stopped
        } else {
            Outcome::StopFailed
        };
    }
    // The state as it is now, for the report.
    let units: Vec<String> = removed.iter().map(|r| r.unit.clone()).collect();
    for (r, props) in removed.iter_mut().zip(sd::show_many(scope, &units, PROPS)) {
        r.props = props;
    }
}

/// One unit to remove (stop, reset-failed, forget).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub unit: String,
    /// The input it was generated from, when its generated file was still there to say.
    pub source: Option<PathBuf>,
}

/// Units of `baseline` the inputs no longer give. `model_units`: what the inputs give now;
/// `model_inputs`: the input files we read now; `disk`: the files our generator wrote at the
/// last daemon-reload (relative name → path, text).
pub fn candidates(
    baseline: &Digests,
    model_units: &BTreeSet<String>,
    model_inputs: &[PathBuf],
    disk: &BTreeMap<String, (PathBuf, String)>,
    source_exists: impl Fn(&Path) -> bool,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for unit in baseline.keys() {
        if model_units.contains(unit) {
            continue;
        }
        // Only drop-ins of ours for it (an env gate's consumer): not a unit we generated.
        let own_file = disk.get(unit);
        let drop_ins = disk
            .keys()
            .any(|rel| rel.starts_with(&format!("{unit}.d/")));
        if own_file.is_none() && drop_ins {
            continue;
        }
        let source = own_file.and_then(|(path, text)| crate::doctor::source_of(path, text));
        if let Some(src) = &source {
            // The input is still there but we no longer read it (Podman's generator owns its
            // directory again): not removed, and not ours to stop.
            if source_exists(src) && !model_inputs.iter().any(|i| i == src) {
                log::debug!(
                    "{unit}: its input {} is still there but not read by unitsmith any more; left alone",
                    src.display()
                );
                continue;
            }
        }
        out.push(Candidate {
            unit: unit.clone(),
            source,
        });
    }
    out
}

/// Why a candidate must be left alone, from systemd's view of it (`FragmentPath`): it is loaded
/// from a file that is not one our generator wrote. `ours`: the paths of our generated files.
pub fn provided_by_other(
    props: &HashMap<String, String>,
    ours: &BTreeSet<PathBuf>,
    output_dirs: &[PathBuf],
) -> Option<String> {
    let fragment = props.get("FragmentPath").map(String::as_str).unwrap_or("");
    if fragment.is_empty() {
        return None; // not-found: nothing provides it
    }
    let path = Path::new(fragment);
    if ours.contains(path) {
        return None;
    }
    let in_output = output_dirs.iter().any(|d| path.starts_with(d));
    if in_output && !path.exists() {
        return None; // our file, already gone: only systemd still remembers it
    }
    Some(format!(
        "systemd loads it from {fragment}, which unitsmith did not generate"
    ))
}

/// A unit file named `unit` in the search path that is not one of ours (a link to /dev/null, a
/// mask, provides nothing).
pub fn other_file(unit: &str, unit_path: &[PathBuf], ours: &BTreeSet<PathBuf>) -> Option<PathBuf> {
    unit_path
        .iter()
        .map(|d| d.join(unit))
        .filter(|p| !ours.contains(p))
        .find(|p| {
            std::fs::symlink_metadata(p).is_ok()
                && std::fs::canonicalize(p).map_or(true, |t| t != Path::new("/dev/null"))
        })
}

/// Is the unit running, in systemd's view (a stop would do something)?
pub fn is_running(props: &HashMap<String, String>) -> bool {
    matches!(
        props.get("ActiveState").map(String::as_str),
        Some("active" | "activating" | "reloading" | "deactivating" | "refreshing")
    )
}

/// After the stop: is it down (inactive, failed, or gone from systemd altogether)?
pub fn is_down(props: &HashMap<String, String>) -> bool {
    !props.is_empty() && !is_running(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests(units: &[&str]) -> Digests {
        units
            .iter()
            .map(|u| (u.to_string(), "d".to_string()))
            .collect()
    }

    fn generated(unit: &str, source: &str) -> (String, (PathBuf, String)) {
        (
            unit.to_string(),
            (
                PathBuf::from("/run/systemd/generator").join(unit),
                format!(
                    "# {}\n# \n[Unit]\nSourcePath={source}\n",
                    unitsmith_generator::generate::HEADER
                ),
            ),
        )
    }

    #[test]
    fn removed_means_no_input_gives_it_and_nothing_else_owns_it() {
        let baseline = digests(&[
            "kept.service",
            "gone.service",
            "gone-early.service",
            "consumer.service",
            "handed.service",
        ]);
        let model: BTreeSet<String> = ["kept.service".to_string()].into();
        let inputs = vec![PathBuf::from("/etc/containers/systemd/kept.container")];
        let disk: BTreeMap<String, (PathBuf, String)> = [
            generated("kept.service", "/etc/containers/systemd/kept.container"),
            generated("gone.service", "/etc/containers/systemd/gone.container"),
            generated("handed.service", "/etc/containers/systemd/handed.container"),
            generated(
                "consumer.service.d/50-unitsmith-envgate-g.conf",
                "/etc/unitsmith/g.envgate",
            ),
        ]
        .into();
        // handed.container still exists, but Podman's generator reads its directory now.
        let exists = |p: &Path| p.ends_with("handed.container");
        let c = candidates(&baseline, &model, &inputs, &disk, exists);
        let names: Vec<&str> = c.iter().map(|c| c.unit.as_str()).collect();
        assert_eq!(names, ["gone-early.service", "gone.service"]);
        assert_eq!(
            c[0].source, None,
            "its file was gone already: no source known"
        );
        assert_eq!(
            c[1].source.as_deref(),
            Some(Path::new("/etc/containers/systemd/gone.container"))
        );
    }

    #[test]
    fn another_file_providing_the_unit_keeps_it_out_of_reach() {
        let ours: BTreeSet<PathBuf> = [PathBuf::from("/run/systemd/generator/web.service")].into();
        let dirs = vec![PathBuf::from("/run/systemd/generator")];
        let props = |f: &str| -> HashMap<String, String> {
            [("FragmentPath".to_string(), f.to_string())].into()
        };
        assert_eq!(provided_by_other(&props(""), &ours, &dirs), None);
        assert_eq!(
            provided_by_other(&props("/run/systemd/generator/web.service"), &ours, &dirs),
            None
        );
        assert!(
            provided_by_other(&props("/etc/systemd/system/web.service"), &ours, &dirs)
                .unwrap()
                .contains("/etc/systemd/system/web.service")
        );
        // Podman's generator wrote it (a file in the output directory that is not ours).
        let tmp = std::env::temp_dir().join(format!("unitsmith-removed-{}", std::process::id()));
        std::fs::write(&tmp, "# podman\n").unwrap();
        let dirs_tmp = vec![std::env::temp_dir()];
        assert!(provided_by_other(&props(tmp.to_str().unwrap()), &ours, &dirs_tmp).is_some());
        std::fs::remove_file(&tmp).unwrap();
        // Our file, gone already: only systemd remembers it.
        assert_eq!(
            provided_by_other(&props(tmp.to_str().unwrap()), &ours, &dirs_tmp),
            None
        );
    }

    #[test]
    fn a_unit_file_of_the_same_name_elsewhere_takes_over() {
        let base = std::env::temp_dir().join(format!("unitsmith-other-{}", std::process::id()));
        let (etc, gen) = (base.join("etc"), base.join("generator"));
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::create_dir_all(&gen).unwrap();
        std::fs::write(gen.join("web.service"), "ours").unwrap();
        let ours: BTreeSet<PathBuf> = [gen.join("web.service")].into();
        let path = vec![etc.clone(), gen.clone()];
        assert_eq!(other_file("web.service", &path, &ours), None);
        std::os::unix::fs::symlink("/dev/null", etc.join("web.service")).unwrap();
        assert_eq!(
            other_file("web.service", &path, &ours),
            None,
            "a mask provides nothing"
        );
        std::fs::remove_file(etc.join("web.service")).unwrap();
        std::fs::write(etc.join("web.service"), "[Service]\n").unwrap();
        assert_eq!(
            other_file("web.service", &path, &ours),
            Some(etc.join("web.service"))
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn states() {
        let p = |a: &str| -> HashMap<String, String> {
            [("ActiveState".to_string(), a.to_string())].into()
        };
        assert!(is_running(&p("active")));
        assert!(is_running(&p("deactivating")));
        assert!(!is_running(&p("failed")));
        assert!(is_down(&p("inactive")));
        assert!(is_down(&p("failed")));
        assert!(!is_down(&HashMap::new()), "systemd could not be asked");
    }
}
