//! A project's model from more than one file: `include:` (other projects' resources, with
//! their own directory and `.env`) and `extends:` (a service built on another, in the same
//! file or in `file:`), resolved as docker compose resolves them (compose-go's loader): each
//! file is interpolated, then its `include:`s imported, then its services' `extends:`
//! applied, before the override file is merged.
//!
//! Every file read here is read as the Compose file is (`super::read`: trusted, bounded) and
//! added to the project's files, so that an error in it names it and its line. Relative paths
//! of what comes from another directory (build contexts, env files, bind mounts, secret and
//! config files) are made absolute against that directory, as Compose resolves them.

use std::path::{Path, PathBuf};

use super::interpolate::Vars;
use super::yaml::{Key, Node, Value};
use super::{dotenv, merge, read, yaml};
use crate::budget::Budget;

/// How deep `include:` and `extends:` may nest (a cycle is found before, by name).
const MAX_DEPTH: usize = 16;

/// What reading more files needs, and where what they give goes.
pub struct Loader<'a> {
    pub files: &'a mut Vec<PathBuf>,
    pub vars: &'a Vars,
    pub budget: &'a Budget,
    pub broken: &'a mut std::collections::BTreeMap<String, String>,
    pub warnings: &'a mut Vec<String>,
}

impl Loader<'_> {
    /// Resolve the `include:` and `extends:` of `tree`, the (interpolated) file `file`.
    pub fn expand(&mut self, tree: &mut Node, file: usize) -> Result<(), String> {
        let mut chain = vec![self.files[file].clone()];
        self.include(tree, file, &mut chain)?;
        self.extends(tree, file, &mut Vec::new())
    }

    /// `file:line` of a node, for messages.
    fn at(&self, node: &Node) -> String {
        format!("{}:{}", self.files[node.file].display(), node.line)
    }

    /// Read, parse and interpolate another file (with `vars`); its index among the files.
    fn load(&mut self, path: &Path, vars: &Vars) -> Result<(Node, usize), String> {
        let text = read(path, false, self.budget)?;
        let index = self.files.len();
        self.files.push(path.to_path_buf());
        let mut tree = yaml::parse(&text, index)
            .map_err(|e| format!("{}:{}: {}", path.display(), e.line, e.message))?;
        if tree.as_map().is_none() {
            return Err(format!(
                "{}:{}: a Compose file is a mapping (services:, networks:, ...), not {}",
                path.display(),
                tree.line,
                tree.kind()
            ));
        }
        let mut unset = Vec::new();
        super::interpolate_tree(&mut tree, "", vars, self.broken, &mut unset, path);
        for (line, key, var) in unset {
            self.warnings.push(format!(
                "{}:{line}: {key}: variable {var} is not set; replaced by \"\"",
                path.display()
            ));
        }
        Ok((tree, index))
    }

    /// `include:` → the included projects' services, volumes, networks, secrets and configs
    /// (a name defined here too merges the included definition under this one).
    fn include(
        &mut self,
        tree: &mut Node,
        file: usize,
        chain: &mut Vec<PathBuf>,
    ) -> Result<(), String> {
        let Value::Map(entries) = &mut tree.value else {
            return Ok(());
        };
        let Some(pos) = entries.iter().position(|(k, _)| k.name == "include") else {
            return Ok(());
        };
        let (_, inc) = entries.remove(pos);
        let items: Vec<Node> = match inc.value {
            Value::Seq(items) => items,
            Value::Null => Vec::new(),
            _ => {
                return Err(format!(
                    "{}: include: must be a list of paths or of mappings with path:",
                    self.at(&inc)
                ))
            }
        };
        let base_dir = self.files[file]
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        for item in items {
            let at = self.at(&item);
            let (paths, project_dir, env_files) = include_entry(&item, &at)?;
            if paths.is_empty() {
                return Err(format!("{at}: include: no path"));
            }
            let main = absolute(&base_dir, &paths[0]);
            let cycle = chain.contains(&main);
            if cycle || chain.len() > MAX_DEPTH {
                // (A chain too deep is not a cycle: the message says which it is.)
                let what = if cycle {
                    "includes itself".to_string()
                } else {
                    format!("is included more than {MAX_DEPTH} files deep")
                };
                return Err(format!(
                    "{at}: include: {} {what}: {}",
                    main.display(),
                    chain
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ));
            }
            let dir = match &project_dir {
                Some(d) => absolute(&base_dir, d),
                None => main.parent().unwrap_or(Path::new("/")).to_path_buf(),
            };
            // Its variables: this project's, then those of its own .env (or env_file:).
            let mut vars = self.vars.clone();
            let env_paths: Vec<PathBuf> = if env_files.is_empty() {
                vec![dir.join(".env")]
            } else {
                env_files.iter().map(|f| absolute(&base_dir, f)).collect()
            };
            for env in env_paths {
                if std::fs::symlink_metadata(&env).is_err() {
                    if env_files.is_empty() {
                        continue;
                    }
                    return Err(format!("{at}: include: {} does not exist", env.display()));
                }
                let text = read(&env, false, self.budget)?;
                let (v, _) = dotenv::parse(&text)
                    .map_err(|e| format!("{}:{}: {}", env.display(), e.line, e.message))?;
                for (k, val) in v {
                    vars.entry(k).or_insert(val);
                }
            }
            chain.push(main.clone());
            let mut included: Option<Node> = None;
            for p in &paths {
                let path = absolute(&base_dir, p);
                if std::fs::symlink_metadata(&path).is_err() {
                    return Err(format!(
                        "{at}: include: {} does not exist\n  hint: a path relative to {}",
                        path.display(),
                        base_dir.display()
                    ));
                }
                let (mut t, index) = self.load(&path, &vars)?;
                self.include(&mut t, index, chain)?;
                self.extends(&mut t, index, &mut Vec::new())?;
                included = Some(match included {
                    None => t,
                    Some(b) => merge::merge(b, t, ""),
                });
            }
            chain.pop();
            let mut included = included.unwrap_or_else(|| Node::new(file, 1, Value::Null));
            rebase_project(&mut included, &dir);
            import(tree, included);
        }
        Ok(())
    }

    /// `extends:` of every service of `tree` (the file `file`), recursively.
    fn extends(
        &mut self,
        tree: &mut Node,
        file: usize,
        chain: &mut Vec<(PathBuf, String)>,
    ) -> Result<(), String> {
        let names: Vec<String> = match tree.get("services").and_then(Node::as_map) {
            Some(m) => m
                .iter()
                .filter(|(_, v)| v.get("extends").is_some())
                .map(|(k, _)| k.name.clone())
                .collect(),
            None => return Ok(()),
        };
        // A service whose extends: cannot be applied fails alone (its unit is a stub).
        for name in names {
            if let Err(e) = self.extend_service(tree, file, &name, chain) {
                chain.clear();
                self.broken.entry(format!("services.{name}")).or_insert(e);
            }
        }
        Ok(())
    }

    /// Apply one service's `extends:` (its base first, if that extends another).
    fn extend_service(
        &mut self,
        tree: &mut Node,
        file: usize,
        name: &str,
        chain: &mut Vec<(PathBuf, String)>,
    ) -> Result<(), String> {
        let link = (self.files[file].clone(), name.to_string());
        let cycle = chain.contains(&link);
        if cycle || chain.len() > MAX_DEPTH {
            // Every service of the cycle (or of the chain too deep) in this file fails, each
            // naming it.
            let what = if cycle {
                "a cycle".to_string()
            } else {
                format!("extends more than {MAX_DEPTH} services deep")
            };
            let shown: Vec<String> = chain
                .iter()
                .chain(std::iter::once(&link))
                .map(|(f, s)| format!("{s} ({})", f.display()))
                .collect();
            let at = tree
                .get("services")
                .and_then(|s| s.get(name))
                .map(|n| self.at(n))
                .unwrap_or_default();
            let message = format!(
                "{at}: services.{name}.extends: {what}: {}",
                shown.join(" -> ")
            );
            for (f, s) in chain.iter() {
                if *f == link.0 {
                    self.broken
                        .entry(format!("services.{s}"))
                        .or_insert_with(|| message.clone());
                }
            }
            return Err(message);
        }
        let Some(service) = services_mut(tree).and_then(|s| take_extends(s, name)) else {
            return Ok(());
        };
        let (service, ext) = service;
        let at = self.at(&ext);
        let (base_name, base_file) = match &ext.value {
            Value::Scalar { text, .. } => (text.clone(), None),
            Value::Map(_) => {
                for (k, _) in ext.as_map().unwrap_or_default() {
                    if k.name != "service" && k.name != "file" {
                        return Err(format!(
                            "{}: services.{name}.extends.{}: unknown key\n  hint: extends takes service: and file:",
                            self.at(&ext), k.name
                        ));
                    }
                }
                let s = ext.get("service").and_then(Node::as_str).ok_or_else(|| {
                    format!("{at}: services.{name}.extends: no service:\n  hint: extends: {{service: NAME}} (and file: PATH for another file)")
                })?;
                let f = match ext.get("file") {
                    Some(f) => Some(f.as_str().ok_or_else(|| {
                        format!(
                            "{}: services.{name}.extends.file: must be a path",
                            self.at(f)
                        )
                    })?),
                    None => None,
                };
                (s.to_string(), f.map(str::to_string))
            }
            _ => {
                return Err(format!(
                "{at}: services.{name}.extends: must be a service name or a mapping with service:"
            ))
            }
        };
        chain.push(link);
        let base = match base_file {
            None => {
                // Its base in this file, extended first.
                self.extend_service(tree, file, &base_name, chain)?;
                let Some(b) = tree
                    .get("services")
                    .and_then(|s| s.get(&base_name))
                    .cloned()
                else {
                    return Err(undefined(&at, name, &base_name, None));
                };
                b
            }
            Some(f) => {
                let dir = self.files[file]
                    .parent()
                    .unwrap_or(Path::new("/"))
                    .to_path_buf();
                let path = absolute(&dir, &f);
                let vars = self.vars;
                let (mut other, index) = self.load(&path, vars)?;
                self.extend_service(&mut other, index, &base_name, chain)?;
                let Some(mut b) = other
                    .get("services")
                    .and_then(|s| s.get(&base_name))
                    .cloned()
                else {
                    return Err(undefined(&at, name, &base_name, Some(&path)));
                };
                rebase_service(&mut b, path.parent().unwrap_or(Path::new("/")));
                b
            }
        };
        chain.pop();
        let merged = merge::merge(base, service, &format!("services.{name}"));
        if let Some(slot) =
            services_mut(tree).and_then(|s| s.iter_mut().find(|(k, _)| k.name == name))
        {
            slot.1 = merged;
        }
        Ok(())
    }
}

fn undefined(at: &str, name: &str, base: &str, file: Option<&Path>) -> String {
    let where_ = file.map_or("this file".to_string(), |f| f.display().to_string());
    format!("{at}: services.{name}.extends: no service \"{base}\" in {where_}")
}

fn services_mut(tree: &mut Node) -> Option<&mut Vec<(Key, Node)>> {
    let Value::Map(entries) = &mut tree.value else {
        return None;
    };
    let (_, services) = entries.iter_mut().find(|(k, _)| k.name == "services")?;
    match &mut services.value {
        Value::Map(m) => Some(m),
        _ => None,
    }
}

/// A service with its `extends:` taken out (the service, and the `extends` node).
fn take_extends(services: &mut [(Key, Node)], name: &str) -> Option<(Node, Node)> {
    let (_, service) = services.iter_mut().find(|(k, _)| k.name == name)?;
    let Value::Map(entries) = &mut service.value else {
        return None;
    };
    let pos = entries.iter().position(|(k, _)| k.name == "extends")?;
    let (_, ext) = entries.remove(pos);
    Some((service.clone(), ext))
}

/// An `include:` entry's paths, `project_directory` and `env_file`s.
type IncludeEntry = (Vec<String>, Option<String>, Vec<String>);

/// An `include:` entry: its paths, `project_directory`, `env_file`s.
fn include_entry(item: &Node, at: &str) -> Result<IncludeEntry, String> {
    let strings = |n: &Node, what: &str| -> Result<Vec<String>, String> {
        match &n.value {
            Value::Scalar { text, .. } => Ok(vec![text.clone()]),
            Value::Seq(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("{at}: include: {what} must be paths"))
                })
                .collect(),
            _ => Err(format!(
                "{at}: include: {what} must be a path or a list of paths"
            )),
        }
    };
    match &item.value {
        Value::Scalar { text, .. } => Ok((vec![text.clone()], None, Vec::new())),
        Value::Map(m) => {
            for (k, _) in m {
                if !matches!(k.name.as_str(), "path" | "project_directory" | "env_file") {
                    return Err(format!(
                        "{at}: include.{}: unknown key\n  hint: an include entry takes path:, project_directory: and env_file:",
                        k.name
                    ));
                }
            }
            let paths = match item.get("path") {
                Some(p) => strings(p, "path")?,
                None => Vec::new(),
            };
            let dir = item
                .get("project_directory")
                .and_then(Node::as_str)
                .map(str::to_string);
            let env = match item.get("env_file") {
                Some(e) => strings(e, "env_file")?,
                None => Vec::new(),
            };
            Ok((paths, dir, env))
        }
        _ => Err(format!(
            "{at}: include: an entry is a path or a mapping with path:"
        )),
    }
}

fn absolute(base: &Path, p: &str) -> PathBuf {
    if p.starts_with('/') {
        PathBuf::from(crate::quadlet::clean_path(p))
    } else {
        PathBuf::from(crate::quadlet::clean_path(&base.join(p).to_string_lossy()))
    }
}

/// Import the included model's resources into `tree` (a name defined in both: the
/// included definition merged under this one).
fn import(tree: &mut Node, included: Node) {
    let Value::Map(inc) = included.value else {
        return;
    };
    let Value::Map(entries) = &mut tree.value else {
        return;
    };
    for (key, from) in inc {
        if !matches!(
            key.name.as_str(),
            "services" | "volumes" | "networks" | "secrets" | "configs"
        ) {
            continue;
        }
        let Value::Map(from) = from.value else {
            continue;
        };
        let slot = match entries.iter().position(|(k, _)| k.name == key.name) {
            Some(i) => i,
            None => {
                let file = from.first().map_or(0, |(_, n)| n.file);
                let line = key.line;
                entries.push((key.clone(), Node::new(file, line, Value::Map(Vec::new()))));
                entries.len() - 1
            }
        };
        let target = &mut entries[slot].1;
        if target.is_null() {
            target.value = Value::Map(Vec::new());
        }
        let Value::Map(to) = &mut target.value else {
            continue;
        };
        for (name, def) in from {
            match to.iter().position(|(k, _)| k.name == name.name) {
                None => to.push((name, def)),
                Some(i) => {
                    let (k, local) = to.remove(i);
                    let merged = merge::merge(def, local, &format!("{}.{}", key.name, k.name));
                    to.insert(i, (k, merged));
                }
            }
        }
    }
}

/// Make the relative paths of an included project absolute against its directory.
fn rebase_project(tree: &mut Node, dir: &Path) {
    let Value::Map(entries) = &mut tree.value else {
        return;
    };
    for (k, v) in entries.iter_mut() {
        match k.name.as_str() {
            "services" => {
                if let Value::Map(services) = &mut v.value {
                    for (_, s) in services.iter_mut() {
                        rebase_service(s, dir);
                    }
                }
            }
            "secrets" | "configs" => {
                if let Value::Map(defs) = &mut v.value {
                    for (_, d) in defs.iter_mut() {
                        if let Value::Map(fields) = &mut d.value {
                            for (fk, fv) in fields.iter_mut() {
                                if fk.name == "file" {
                                    rebase_scalar(fv, dir);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Make a service's relative paths absolute against `dir`: its build context, env files and
/// bind mounts (what Compose resolves against the file's directory).
pub fn rebase_service(service: &mut Node, dir: &Path) {
    let Value::Map(entries) = &mut service.value else {
        return;
    };
    for (k, v) in entries.iter_mut() {
        match k.name.as_str() {
            "build" => match &mut v.value {
                Value::Scalar { .. } => rebase_scalar(v, dir),
                Value::Map(b) => {
                    for (bk, bv) in b.iter_mut() {
                        if bk.name == "context" {
                            rebase_scalar(bv, dir);
                        }
                    }
                }
                _ => {}
            },
            "env_file" => match &mut v.value {
                Value::Scalar { .. } => rebase_scalar(v, dir),
                Value::Seq(items) => {
                    for it in items.iter_mut() {
                        match &mut it.value {
                            Value::Scalar { .. } => rebase_scalar(it, dir),
                            Value::Map(m) => {
                                for (ek, ev) in m.iter_mut() {
                                    if ek.name == "path" {
                                        rebase_scalar(ev, dir);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            },
            "volumes" => {
                if let Value::Seq(items) = &mut v.value {
                    for it in items.iter_mut() {
                        match &mut it.value {
                            Value::Scalar { text, .. } => {
                                if let Some((src, rest)) = text.split_once(':') {
                                    if src.starts_with('.') {
                                        *text = format!("{}:{rest}", absolute(dir, src).display());
                                    }
                                }
                            }
                            Value::Map(m) => {
                                let bind = m.iter().any(|(mk, mv)| {
                                    mk.name == "type" && mv.as_str() == Some("bind")
                                });
                                for (mk, mv) in m.iter_mut() {
                                    if bind && mk.name == "source" {
                                        rebase_scalar(mv, dir);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// A relative path (not a URL, not under `~`) made absolute against `dir`.
fn rebase_scalar(node: &mut Node, dir: &Path) {
    if let Value::Scalar { text, .. } = &mut node.value {
        let remote =
            text.contains("://") || text.starts_with("git@") || text.starts_with("github.com/");
        if !text.starts_with('/') && !text.starts_with('~') && !remote && !text.is_empty() {
            *text = absolute(dir, text).display().to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::compose::testing::{Project, Units};
    use crate::unitfile::UnitFile;

    /// A file of the project at `rel` (`sub/compose.yaml`), its directories made.
    fn write(p: &Project, rel: &str, text: &str) {
        let path = p.dir().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn get(units: &Units, name: &str) -> Result<UnitFile, String> {
        units
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no unit {name} in {:?}", names(units)))
            .1
            .clone()
    }

    fn names(units: &Units) -> Vec<&str> {
        units.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn values(u: &UnitFile, group: &str, key: &str) -> Vec<String> {
        u.lookup_all(group, key)
            .iter()
            .map(|v| v.to_string())
            .collect()
    }

    /// The error of the project's stub (`app.container`): what is wrong is the project's.
    fn project_error(p: &Project) -> String {
        get(&p.translate().0, "app.container").unwrap_err()
    }

    const INCLUDED: &str = "services:\n  db:\n    image: ${IMG}\n    env_file: [a.env, {path: ./b.env}]\n    volumes:\n      - ./data:/d\n      - /abs:/a\n      - named:/n\n      - {type: bind, source: ./b, target: /b}\n      - {type: bind, source: ~/h, target: /h}\n      - {type: bind, source: /abs2, target: /a2}\n      - {type: volume, source: v, target: /v}\n    secrets: [s]\n    configs: [c]\n    networks: [n]\n  builder:\n    build: ./ctx\n    env_file: c.env\n  builder2:\n    build: {context: ctx2}\n  remote1:\n    build: 'https://example.com/r.git'\n  remote2:\n    build: {context: 'git@github.com:a/r.git'}\n  remote3:\n    build: {context: 'github.com/a/r'}\nvolumes:\n  v: {name: data}\n  named:\nnetworks:\n  n:\nsecrets:\n  s: {file: ./s.txt}\nconfigs:\n  c: {file: c.txt}\nx-ignored:\n  a: 1\n";

    /// An included project's services, volumes, networks, secrets and configs, with its own
    /// `.env` and its relative paths made absolute against its directory (URLs, `~` and
    /// absolute paths as written); a volume declared in both is merged, this file's winning.
    #[test]
    fn include_imports_resources_with_their_paths() {
        let p = Project::new(
            "asm-include",
            "include:\n  - sub/compose.yaml\nservices:\n  web:\n    image: nginx\nvolumes:\n  v: {labels: [a=1]}\n",
        );
        write(&p, "sub/compose.yaml", INCLUDED);
        for f in [".env", "a.env", "b.env", "c.env"] {
            write(&p, &format!("sub/{f}"), "IMG=postgres\n");
        }
        let (units, warnings) = p.translate();
        assert!(warnings.is_empty(), "{warnings:?}");
        // (Each env_file: is found in the included project's directory, or its unit fails.)
        for (name, unit) in &units {
            assert!(unit.is_ok(), "{name}: {unit:?}");
        }
        let sub = p.dir().join("sub").display().to_string();
        let db = get(&units, "app-db.container").unwrap();
        assert_eq!(
            values(&db, "Container", "Image"),
            ["docker.io/library/postgres"]
        );
        assert_eq!(
            values(&db, "Container", "Volume"),
            [
                format!("{sub}/data:/d"),
                "/abs:/a".to_string(),
                "app-named.volume:/n".to_string(),
                format!("{sub}/b:/b"),
                "%h/h:/h".to_string(),
                "/abs2:/a2".to_string(),
                "app-v.volume:/v".to_string(),
                format!("{sub}/s.txt:/run/secrets/s:ro"),
                format!("{sub}/c.txt:/c:ro"),
            ]
        );
        assert_eq!(values(&db, "Container", "Network"), ["app-n.network"]);
        let context = |name: &str| {
            values(
                &get(&units, &format!("app-{name}.build")).unwrap(),
                "Build",
                "SetWorkingDirectory",
            )
        };
        assert_eq!(context("builder"), [format!("{sub}/ctx")]);
        assert_eq!(context("builder2"), [format!("{sub}/ctx2")]);
        assert_eq!(context("remote1"), ["https://example.com/r.git"]);
        assert_eq!(context("remote2"), ["git@github.com:a/r.git"]);
        assert_eq!(context("remote3"), ["github.com/a/r"]);
        let v = get(&units, "app-v.volume").unwrap();
        assert_eq!(values(&v, "Volume", "VolumeName"), ["data"]);
        assert_eq!(values(&v, "Volume", "Label")[0], "a=1");
        assert!(names(&units).contains(&"app-named.volume"));
        assert!(names(&units).contains(&"app-web.container"));
    }

    /// An include's `project_directory:` is where its paths and `.env` are; its `env_file:`
    /// replaces that `.env`; the including project's variables win.
    #[test]
    fn include_directory_and_variables() {
        let p = Project::new(
            "asm-include-dir",
            "include:\n  - path: [sub/compose.yaml, sub/more.yaml]\n    project_directory: other\n  - path: sub/env.yaml\n    env_file: [sub/x.env]\n",
        );
        p.file(".env", "MINE=mine\n");
        write(
            &p,
            "sub/compose.yaml",
            "services:\n  a:\n    image: ${IMG}-${MINE}\n    volumes: ['./d:/d']\n",
        );
        write(
            &p,
            "sub/more.yaml",
            "services:\n  a:\n    labels: [more=1]\n",
        );
        write(&p, "other/.env", "IMG=from-other\nMINE=theirs\n");
        write(&p, "sub/env.yaml", "services:\n  b:\n    image: ${IMG}\n");
        write(&p, "sub/x.env", "IMG=from-x\n");
        let (units, _) = p.translate();
        let a = get(&units, "app-a.container").unwrap();
        assert_eq!(
            values(&a, "Container", "Image"),
            ["docker.io/library/from-other-mine"]
        );
        let other = p.dir().join("other").display().to_string();
        assert_eq!(values(&a, "Container", "Volume"), [format!("{other}/d:/d")]);
        assert_eq!(values(&a, "Container", "Label"), ["more=1"]);
        let b = get(&units, "app-b.container").unwrap();
        assert_eq!(
            values(&b, "Container", "Image"),
            ["docker.io/library/from-x"]
        );
    }

    /// What `include:` refuses, each naming the file and line.
    #[test]
    fn include_errors() {
        let error = |test: &str, include: &str| {
            let p = Project::new(
                test,
                &format!("services:\n  web:\n    image: nginx\ninclude:{include}\n"),
            );
            write(&p, "sub/compose.yaml", "services:\n  db:\n    image: pg\n");
            (project_error(&p), p.dir().display().to_string())
        };
        let (e, dir) = error("asm-inc-scalar", " sub/compose.yaml");
        assert_eq!(
            e,
            format!(
                "{dir}/compose.yaml:4: include: must be a list of paths or of mappings with path:"
            )
        );
        let (e, _) = error("asm-inc-key", "\n  - {path: sub/compose.yaml, paths: x}");
        assert!(e.ends_with(":5: include.paths: unknown key\n  hint: an include entry takes path:, project_directory: and env_file:"), "{e}");
        let (e, _) = error("asm-inc-nopath", "\n  - {project_directory: sub}");
        assert!(e.ends_with(":5: include: no path"), "{e}");
        let (e, _) = error("asm-inc-paths", "\n  - {path: [[a]]}");
        assert!(e.ends_with(":5: include: path must be paths"), "{e}");
        let (e, _) = error("asm-inc-pathmap", "\n  - {path: {a: b}}");
        assert!(
            e.ends_with(":5: include: path must be a path or a list of paths"),
            "{e}"
        );
        let (e, _) = error(
            "asm-inc-envmap",
            "\n  - {path: sub/compose.yaml, env_file: {a: b}}",
        );
        assert!(
            e.ends_with(":5: include: env_file must be a path or a list of paths"),
            "{e}"
        );
        let (e, _) = error("asm-inc-entry", "\n  - [a]");
        assert!(
            e.ends_with(":5: include: an entry is a path or a mapping with path:"),
            "{e}"
        );
        let (e, dir) = error("asm-inc-none", "\n  - nope.yaml");
        assert_eq!(
            e,
            format!("{dir}/compose.yaml:5: include: {dir}/nope.yaml does not exist\n  hint: a path relative to {dir}")
        );
        let (e, dir) = error(
            "asm-inc-env",
            "\n  - {path: sub/compose.yaml, env_file: no.env}",
        );
        assert!(
            e.ends_with(&format!(":5: include: {dir}/no.env does not exist")),
            "{e}"
        );
        // include: with nothing in it includes nothing.
        let p = Project::new(
            "asm-inc-null",
            "include:\nservices:\n  web:\n    image: nginx\n",
        );
        assert!(p.service("web").is_ok());
    }

    /// A file that includes itself, directly or not, names the chain.
    #[test]
    fn include_cycles() {
        let p = Project::new(
            "asm-inc-cycle",
            "include: [sub/compose.yaml]\nservices:\n  web:\n    image: nginx\n",
        );
        write(&p, "sub/compose.yaml", "include: [../compose.yaml]\n");
        let dir = p.dir().display().to_string();
        assert_eq!(
            project_error(&p),
            format!("{dir}/sub/compose.yaml:1: include: {dir}/compose.yaml includes itself: {dir}/compose.yaml -> {dir}/sub/compose.yaml")
        );
    }

    /// `include:` nests 16 deep, no deeper.
    #[test]
    fn include_depth() {
        let nested = |test: &str, depth: usize| {
            let p = Project::new(test, "include: [f1.yaml]\n");
            for i in 1..depth {
                p.file(
                    &format!("f{i}.yaml"),
                    &format!("include: [f{}.yaml]\n", i + 1),
                );
            }
            p.file(
                &format!("f{depth}.yaml"),
                "services:\n  deep:\n    image: nginx\n",
            );
            p.translate().0
        };
        let units = nested("asm-inc-16", 16);
        assert!(get(&units, "app-deep.container").is_ok());
        let units = nested("asm-inc-17", 17);
        let e = get(&units, "app.container").unwrap_err();
        assert!(
            e.contains("f16.yaml:1: include: ")
                && e.contains("f17.yaml is included more than 16 files deep: "),
            "{e}"
        );
    }

    /// `extends:` in the same file (a name or a mapping, a base that extends another), and
    /// from another file, whose relative paths are made absolute against its directory.
    #[test]
    fn extends() {
        let p = Project::new(
            "asm-extends",
            "services:\n  web:\n    extends: mid\n    image: web\n  mid:\n    extends: {service: base}\n    labels: [mid=1]\n  base:\n    image: base\n    environment: [A=1]\n  far:\n    extends: {file: sub/common.yaml, service: remote}\n",
        );
        write(&p, "sub/common.yaml", "services:\n  remote:\n    extends: root\n    volumes: ['./d:/d']\n  root:\n    image: ${UNSET_ONE}root\n");
        let (units, warnings) = p.translate();
        let web = get(&units, "app-web.container").unwrap();
        assert_eq!(
            values(&web, "Container", "Image"),
            ["docker.io/library/web"]
        );
        assert_eq!(values(&web, "Container", "Label"), ["mid=1"]);
        assert_eq!(values(&web, "Container", "Environment"), ["A=1"]);
        let mid = get(&units, "app-mid.container").unwrap();
        assert_eq!(
            values(&mid, "Container", "Image"),
            ["docker.io/library/base"]
        );
        let base = get(&units, "app-base.container").unwrap();
        assert!(values(&base, "Container", "Label").is_empty());
        let far = get(&units, "app-far.container").unwrap();
        let sub = p.dir().join("sub").display().to_string();
        assert_eq!(
            values(&far, "Container", "Image"),
            ["docker.io/library/root"]
        );
        assert_eq!(values(&far, "Container", "Volume"), [format!("{sub}/d:/d")]);
        assert_eq!(
            warnings,
            [format!("{sub}/common.yaml:6: services.root.image: variable UNSET_ONE is not set; replaced by \"\"")]
        );
    }

    /// What `extends:` refuses: the service alone fails, naming the file and line.
    #[test]
    fn extends_errors() {
        let error = |test: &str, extends: &str| {
            let p = Project::new(
                test,
                &format!("services:\n  ok:\n    image: nginx\n  web:\n    extends:{extends}\n"),
            );
            p.file("list.yaml", "- a\n");
            p.file("other.yaml", "services:\n  x:\n    image: y\n");
            let (units, _) = p.translate();
            assert!(get(&units, "app-ok.container").is_ok());
            (
                get(&units, "app-web.container").unwrap_err(),
                p.dir().display().to_string(),
            )
        };
        let (e, dir) = error("asm-ext-key", " {service: ok, files: x}");
        assert_eq!(e, format!("{dir}/compose.yaml:5: services.web.extends.files: unknown key\n  hint: extends takes service: and file:"));
        let (e, _) = error("asm-ext-noservice", " {file: other.yaml}");
        assert!(e.ends_with(":5: services.web.extends: no service:\n  hint: extends: {service: NAME} (and file: PATH for another file)"), "{e}");
        let (e, _) = error("asm-ext-file", "\n      service: x\n      file: [a]");
        assert!(
            e.ends_with(":7: services.web.extends.file: must be a path"),
            "{e}"
        );
        let (e, _) = error("asm-ext-list", " [ok]");
        assert!(
            e.ends_with(
                ":5: services.web.extends: must be a service name or a mapping with service:"
            ),
            "{e}"
        );
        let (e, dir) = error("asm-ext-undefined", " nope");
        assert_eq!(
            e,
            format!("{dir}/compose.yaml:5: services.web.extends: no service \"nope\" in this file")
        );
        let (e, dir) = error(
            "asm-ext-undefined-file",
            " {file: other.yaml, service: nope}",
        );
        assert_eq!(e, format!("{dir}/compose.yaml:5: services.web.extends: no service \"nope\" in {dir}/other.yaml"));
        let (e, dir) = error("asm-ext-list-file", " {file: list.yaml, service: x}");
        assert_eq!(e, format!("{dir}/list.yaml:1: a Compose file is a mapping (services:, networks:, ...), not a list"));
    }

    /// A cycle of `extends:` fails every service in it, each naming the cycle.
    #[test]
    fn extends_cycles() {
        let p = Project::new(
            "asm-ext-cycle",
            "services:\n  a:\n    extends: b\n  b:\n    extends: a\n  c:\n    image: nginx\n",
        );
        let (units, _) = p.translate();
        let f = p.dir().join("compose.yaml").display().to_string();
        let cycle = format!("a ({f}) -> b ({f}) -> a ({f})");
        assert_eq!(
            get(&units, "app-a.container").unwrap_err(),
            format!("{f}:3: services.a.extends: a cycle: {cycle}")
        );
        assert!(
            get(&units, "app-b.container")
                .unwrap_err()
                .ends_with(&cycle),
            "b"
        );
        assert!(get(&units, "app-c.container").is_ok());
    }

    /// `extends:` nests 16 deep, no deeper.
    #[test]
    fn extends_depth() {
        let chain = |test: &str, depth: usize| {
            let mut text = String::from("services:\n");
            for i in 0..depth {
                text.push_str(&format!("  s{i}:\n    extends: s{}\n", i + 1));
            }
            text.push_str(&format!("  s{depth}:\n    image: nginx\n"));
            Project::new(test, &text).service("s0")
        };
        let ok = chain("asm-ext-16", 16);
        assert!(ok.is_ok(), "{ok:?}");
        let e = chain("asm-ext-17", 17).unwrap_err();
        assert!(
            e.contains("services.s17.extends: extends more than 16 services deep: s0 ("),
            "{e}"
        );
    }
}
