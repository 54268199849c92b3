//! An in-memory Quadlet unit being written from a Compose file: every assignment remembers
//! the Compose line it came from, and each way of writing a value carries it to `podman run`
//! literally (see `values`).

use super::check::{text, Fail};
use super::values;
use super::yaml::Node;
use super::Project;
use crate::unitfile::UnitFile;

/// An in-memory Quadlet unit being written, every line with its Compose line.
pub struct Q<'p> {
    pub p: &'p Project<'p>,
    pub unit: UnitFile,
    /// What the steps written after the keys need to know of them.
    pub notes: Notes,
}

/// What a service's keys tell the steps that run around `podman run` (see `runtime`).
#[derive(Default)]
pub struct Notes {
    /// Paths in the container that something is mounted on (an image's `VOLUME` there is
    /// not one to keep).
    pub mounted: Vec<String>,
    /// The anonymous volumes of the file, named (to create with their labels).
    pub anonymous: Vec<String>,
    /// `restart: on-failure:N`.
    pub restart_limit: Option<u32>,
}

impl<'p> Q<'p> {
    pub fn new(p: &'p Project<'p>, filename: &str) -> Q<'p> {
        Q {
            p,
            unit: p.unit(filename),
            notes: Notes::default(),
        }
    }

    /// A literal value taken as written (see [`values::single`]).
    pub fn set_at(&mut self, group: &str, key: &str, value: &str, at: &Node) -> Result<(), String> {
        let v = values::single(value).map_err(|e| Fail::at(self.p, at, key, e).plain())?;
        self.unit.add_from(group, key, &v, at.file, at.line);
        Ok(())
    }

    /// A scalar node's value taken as written.
    pub fn single(
        &mut self,
        group: &str,
        key: &str,
        node: &Node,
        path: &str,
    ) -> Result<(), String> {
        let t = text(self.p, node, path)?;
        let v = values::single(t).map_err(|e| Fail::at(self.p, node, path, e).plain())?;
        self.unit.add_from(group, key, &v, node.file, node.line);
        Ok(())
    }

    /// A literal value for a key Quadlet splits into words.
    pub fn add_word(&mut self, group: &str, key: &str, value: &str, at: &Node) {
        self.unit
            .add_from(group, key, &values::word(value), at.file, at.line);
    }

    /// A literal value for a key Quadlet splits as a list on blanks.
    pub fn list_item(
        &mut self,
        group: &str,
        key: &str,
        value: &str,
        at: &Node,
        path: &str,
    ) -> Result<(), String> {
        let v = values::list_item(value).map_err(|e| Fail::at(self.p, at, path, e).plain())?;
        self.unit.add_from(group, key, &v, at.file, at.line);
        Ok(())
    }

    /// Unit names and other values made here, with nothing to escape.
    pub fn raw(&mut self, group: &str, key: &str, value: &str, at: &Node) {
        self.unit.add_from(group, key, value, at.file, at.line);
    }

    pub fn warn(&self, node: &Node, path: &str, msg: &str) {
        self.p
            .warnings
            .borrow_mut()
            .push(format!("{}: {path}: {msg}", self.p.at(node)));
    }
}

#[cfg(test)]
mod tests {
    use crate::compose::testing::web;

    /// A value Quadlet splits as a list on blanks: written one a line, quoted when it has
    /// blanks; one it cannot carry is refused at its line.
    #[test]
    fn list_items() {
        let u = web(
            "unit-list",
            "services:\n  web:\n    image: nginx\n    cap_add: [NET_ADMIN, 'A B']\n    sysctls: {net.core.somaxconn: '1024'}\n",
        )
        .unwrap();
        assert_eq!(
            u.lookup_all("Container", "AddCapability"),
            ["NET_ADMIN", "\"A B\""]
        );
        assert_eq!(
            u.lookup_all("Container", "Sysctl"),
            ["net.core.somaxconn=1024"]
        );
        let e = web(
            "unit-list-bad",
            "services:\n  web:\n    image: nginx\n    cap_add: ['A\"B']\n",
        )
        .unwrap_err();
        assert!(
            e.ends_with(":4: services.web.cap_add: quotes, backslashes and line breaks cannot be carried in this value"),
            "{e}"
        );
    }
}
