//! The inputs and the units they become, computed with the generator's own library exactly as
//! `unitsmith-generator` does at every daemon-reload (same search paths, same code).

use std::path::{Path, PathBuf};

use unitsmith_generator::dirs::{self, SearchPaths};
use unitsmith_generator::generate::{self, Generated, Options, Outcome};
use unitsmith_generator::sources::{self, Input, InputKind};
use unitsmith_generator::{compose, envgate, quadlet};

/// What the generator makes of the inputs now.
pub struct Model {
    pub user: bool,
    pub search: SearchPaths,
    pub inputs: Vec<Input>,
    pub outcome: Outcome,
    /// For each input (same index): the unit it is meant to give (`web.service`).
    pub unit_names: Vec<String>,
    /// What could not be searched (directories not listed, inputs over the limit), as the
    /// generator reports it.
    pub problems: Vec<String>,
}

impl Model {
    /// Read the inputs as the generator would, now.
    pub fn build(user: bool) -> Model {
        let search = dirs::search_paths(user);
        Model::from_search(user, search)
    }

    pub fn from_search(user: bool, search: SearchPaths) -> Model {
        let scan = sources::scan(&search.dirs);
        let mut problems = search.problems.clone();
        for p in scan.problems {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
        let inputs = scan.inputs;
        let opts = Options {
            user,
            podman: std::env::var("PODMAN")
                .ok()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/usr/bin/podman".into()),
            dirs: search.dirs.clone(),
            helper: unitsmith_generator::helper_path(),
            deadline: None,
            flavor: unitsmith_generator::quadlet::Flavor::selected(),
        };
        let outcome = generate::generate(&inputs, &opts);
        let unit_names = (inputs.iter())
            .map(|i| generated_name(i, unit_name(i, &search.dirs), &outcome))
            .collect();
        Model {
            user,
            search,
            inputs,
            outcome,
            unit_names,
            problems,
        }
    }

    /// The generated unit (or stub) of that name.
    pub fn unit(&self, name: &str) -> Option<&Generated> {
        self.outcome.units.iter().find(|u| u.name == name)
    }

    /// The units (not drop-ins) the generator makes, in its order.
    pub fn unit_names(&self) -> Vec<String> {
        self.outcome
            .units
            .iter()
            .filter(|u| !u.name.contains('/'))
            .map(|u| u.name.clone())
            .collect()
    }

    /// The input index whose path is `path` (compared resolved).
    pub fn input_at(&self, path: &Path) -> Option<usize> {
        let want = canon(path);
        self.inputs.iter().position(|i| canon(&i.path) == want)
    }

    /// The inputs meant to give `unit` (several when they collide), in search order.
    pub fn inputs_for(&self, unit: &str) -> Vec<usize> {
        (0..self.inputs.len())
            .filter(|&i| self.unit_names[i] == unit)
            .collect()
    }

    /// For an input that lost a name collision: the file whose unit was generated instead.
    pub fn collision_winner(&self, i: usize) -> Option<&Path> {
        let g = self.unit(&self.unit_names[i])?;
        (canon(&g.source) != canon(&self.inputs[i].path)).then_some(g.source.as_path())
    }

    /// Every input that lost a collision, with the winner's path.
    pub fn collisions(&self) -> Vec<(usize, PathBuf)> {
        (0..self.inputs.len())
            .filter_map(|i| self.collision_winner(i).map(|w| (i, w.to_path_buf())))
            .collect()
    }

    /// Files hidden by an earlier file of the same name: (hidden, winner).
    pub fn shadows(&self) -> Vec<(PathBuf, PathBuf)> {
        self.inputs
            .iter()
            .flat_map(|i| i.shadows.iter().map(move |s| (s.clone(), i.path.clone())))
            .collect()
    }
}

/// The unit an input is meant to give, whether or not it converts.
pub fn unit_name(input: &Input, dirs: &[PathBuf]) -> String {
    match input.kind {
        InputKind::EnvGate => envgate::service_name(&input.name),
        InputKind::Compose => compose::target_name(input, false),
        InputKind::Quadlet(kind) => match sources::load(input, dirs) {
            Ok(u) => quadlet::service_name(&u, kind) + ".service",
            Err(_) => unit_name_from_filename(&input.name).unwrap_or_default(),
        },
    }
}

/// A name systemd refuses gets its failure stub under the name `systemctl` makes of it
/// (`sp\x20ace.service`): that is the unit to examine, when there is one.
fn generated_name(input: &Input, name: String, outcome: &Outcome) -> String {
    if !input.name_not_utf8 && unitsmith_generator::unitname::check(&name).is_ok() {
        return name;
    }
    (outcome.units.iter())
        .find(|u| u.source == input.path && !u.name.contains('/'))
        .map_or(name, |u| u.name.clone())
}

/// The unit a file of that name gives (its content unread): None for a name that is no input.
pub fn unit_name_from_filename(name: &str) -> Option<String> {
    match InputKind::from_filename(name)? {
        InputKind::EnvGate => Some(envgate::service_name(name)),
        InputKind::Compose => None,
        InputKind::Quadlet(_) => quadlet::service_name_from_filename(name).map(|s| s + ".service"),
    }
}

pub fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn maps_inputs_to_units_and_finds_collisions_and_shadows() {
        let base = std::env::temp_dir().join(format!("unitsmith-model-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let (a, b) = (base.join("a"), base.join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        fs::write(
            a.join("web.container"),
            "[Container]\nImage=docker.io/library/busybox:latest\n",
        )
        .unwrap();
        fs::write(
            b.join("web.container"),
            "[Container]\nImage=docker.io/library/alpine:latest\n",
        )
        .unwrap();
        fs::write(
            a.join("typo.container"),
            "[Container]\nImag=docker.io/library/busybox:latest\n",
        )
        .unwrap();
        // Two inputs that both want web2.service.
        fs::write(
            a.join("one.container"),
            "[Container]\nImage=docker.io/x/y:1\nServiceName=web2\n",
        )
        .unwrap();
        fs::write(
            a.join("two.container"),
            "[Container]\nImage=docker.io/x/y:1\nServiceName=web2\n",
        )
        .unwrap();
        let search = SearchPaths {
            dirs: vec![a.clone(), b.clone()],
            from_env: true,
            podman_generator: None,
            problems: Vec::new(),
        };
        let m = Model::from_search(false, search);

        let web = m.input_at(&a.join("web.container")).unwrap();
        assert_eq!(m.unit_names[web], "web.service");
        assert_eq!(
            m.shadows(),
            vec![(b.join("web.container"), a.join("web.container"))]
        );
        assert!(m
            .unit("typo.service")
            .unwrap()
            .error
            .as_ref()
            .unwrap()
            .contains("did you mean 'Image'?"));
        assert_eq!(m.inputs_for("web2.service").len(), 2);
        let coll = m.collisions();
        assert_eq!(coll.len(), 1);
        assert_eq!(coll[0].1, a.join("one.container"));
        assert_eq!(m.inputs[coll[0].0].path, a.join("two.container"));
        assert_eq!(
            unit_name_from_filename("db.volume").as_deref(),
            Some("db-volume.service")
        );
        assert_eq!(
            unit_name_from_filename("app@.container").as_deref(),
            Some("app@.service")
        );
        assert_eq!(unit_name_from_filename("notes.txt"), None);
        fs::remove_dir_all(&base).unwrap();
    }
}
