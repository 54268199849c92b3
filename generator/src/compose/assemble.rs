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
            if chain.contains(&main) || chain.len() > MAX_DEPTH {
                return Err(format!(
                    "{at}: include: {} includes itself: {}",
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
        if chain.contains(&link) || chain.len() > MAX_DEPTH {
            // Every service of the cycle in this file fails, each naming it.
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
                "{at}: services.{name}.extends: a cycle: {}",
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
