//! For unit tests of the service translation: a project `app` written to a directory of its
//! own and translated as the generator translates one, so that a test reads the Quadlet lines
//! (or the error) a key gives without a whole golden case.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::budget::Budget;
use crate::unitfile::UnitFile;

/// Each unit a project gives, by name (`app-web.container`): the unit or its error.
pub type Units = Vec<(String, Result<UnitFile, String>)>;

/// A project `app` (`ROOT/compose/app/compose.yaml`, and any other file), removed on drop.
pub struct Project {
    root: PathBuf,
}

impl Project {
    /// The project of `compose.yaml` `text`, under a root named after `test`.
    pub fn new(test: &str, text: &str) -> Project {
        let root = std::env::temp_dir().join(format!(
            "unitsmith-compose-unit-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("compose/app")).unwrap();
        let p = Project { root };
        p.file("compose.yaml", text);
        p
    }

    /// Another file of the project directory (`.env`, an `env_file:`, a secret).
    pub fn file(&self, name: &str, text: &str) -> &Project {
        std::fs::write(self.dir().join(name), text).unwrap();
        self
    }

    pub fn dir(&self) -> PathBuf {
        self.root.join("compose/app")
    }

    fn translated(&self) -> super::Translated {
        let input = super::input(self.dir().join("compose.yaml")).unwrap();
        super::translate(
            &[input],
            false,
            &HashSet::new(),
            &Budget::default(),
            "/usr/bin/unitsmith",
        )
    }

    /// Each unit the project gives, by name (`app-web.container`), and the warnings.
    pub fn translate(&self) -> (Units, Vec<String>) {
        let t = self.translated();
        let units = t
            .made
            .into_iter()
            .map(|m| (m.input.name, m.result))
            .collect();
        (units, t.warnings)
    }

    /// The units the project's target wants (`app-web.service`), and the target's
    /// `[Unit]` dependencies on a failed project (`Requires=app.service`).
    pub fn wants(&self) -> (Vec<String>, Vec<String>) {
        let t = self.translated();
        let target = &t.targets[0];
        let requires = target
            .unit
            .lookup_all("Unit", "Requires")
            .iter()
            .map(|s| s.to_string())
            .collect();
        (target.wants.clone(), requires)
    }

    /// The unit of service `service` (`app-SERVICE.container`), or its error.
    pub fn service(&self, service: &str) -> Result<UnitFile, String> {
        let name = format!("app-{service}.container");
        let (units, _) = self.translate();
        units
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no unit {name}"))
            .1
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The unit of the only service `web` of a project of `compose.yaml` `text`, or its error.
pub fn web(test: &str, text: &str) -> Result<UnitFile, String> {
    Project::new(test, text).service("web")
}

/// The unit of a service `web` (image `x`) with the keys `body` adds, or its error.
pub fn web_with(test: &str, body: &str) -> Result<UnitFile, String> {
    web(test, &format!("services:\n  web:\n    image: x\n{body}"))
}

/// The values of `[Container] key` (the volumes step's variable left out).
pub fn container_values(u: &UnitFile, key: &str) -> Vec<String> {
    u.lookup_all("Container", key)
        .iter()
        .filter(|s| !s.starts_with('$'))
        .map(|s| s.to_string())
        .collect()
}
