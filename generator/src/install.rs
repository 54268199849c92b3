//! `[Install]` of a generated unit as symlinks in the output directory: what
//! `systemctl enable` would do, which cannot be run on generated units.

use std::path::{Component, Path};

use crate::split;
use crate::unitfile::UnitFile;

/// `(link, target)` pairs, links relative to the output directory. Values that would escape
/// it (absolute paths, `..`) are refused with a warning: a generator writes only where told.
pub fn symlinks(unit: &UnitFile, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let name = unit.filename.as_str();
    let mut links: Vec<(String, String)> = Vec::new();
    for alias in unit.lookup_all("Install", "Alias") {
        split::for_each_strv_word(alias, |alias| {
            let clean = crate::quadlet::clean_path(alias);
            if escapes(&clean) {
                warnings.push(format!(
                    "{name}: Alias={alias} points outside the generator directory; ignored"
                ));
            } else {
                links.push(with_target(clean, name));
            }
        });
    }

    // A template is installed only through DefaultInstance=; otherwise its [Install] is for
    // the instances made by symlinks.
    let (base, instance, is_template) = unit.template_parts();
    let default_instance;
    let target_name = if is_template && instance.is_empty() {
        let Some(i) = unit.lookup_str("Install", "DefaultInstance") else {
            return links;
        };
        default_instance = [base, "@", i, crate::unitfile::extension(name)].concat();
        default_instance.as_str()
    } else {
        name
    };
    for (key, dir) in [
        ("WantedBy", ".wants/"),
        ("RequiredBy", ".requires/"),
        ("UpheldBy", ".upholds/"),
    ] {
        for value in unit.lookup_all("Install", key) {
            split::for_each_strv_word(value, |by| {
                if by.contains('/') {
                    warnings.push(format!(
                        "{name}: {key}={by} is a path, not a unit name; ignored"
                    ));
                } else {
                    links.push(with_target([by, dir, target_name].concat(), name));
                }
            });
        }
    }
    links
}

/// `(link, target)`: the target is `name` beside the unit, reached from the link's directory.
fn with_target(link: String, name: &str) -> (String, String) {
    let depth = link.bytes().filter(|&b| b == b'/').count();
    let mut target = String::with_capacity(3 * depth + name.len());
    for _ in 0..depth {
        target.push_str("../");
    }
    target.push_str(name);
    (link, target)
}

fn escapes(p: &str) -> bool {
    p.starts_with('/')
        || Path::new(p)
            .components()
            .any(|c| matches!(c, Component::ParentDir))
        || p == "."
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, install: &str) -> UnitFile {
        UnitFile::parse(format!("[Install]\n{install}").as_bytes(), Path::new(name)).unwrap()
    }

    #[test]
    fn wanted_by_and_alias() {
        let mut w = Vec::new();
        let u = unit(
            "web.service",
            "WantedBy=multi-user.target default.target\nAlias=www.service",
        );
        let l = symlinks(&u, &mut w);
        assert_eq!(
            l,
            vec![
                ("www.service".to_string(), "web.service".to_string()),
                (
                    "multi-user.target.wants/web.service".to_string(),
                    "../web.service".to_string()
                ),
                (
                    "default.target.wants/web.service".to_string(),
                    "../web.service".to_string()
                ),
            ]
        );
        assert!(w.is_empty());
    }

    #[test]
    fn templates_need_a_default_instance() {
        let mut w = Vec::new();
        assert!(symlinks(&unit("app@.service", "WantedBy=multi-user.target"), &mut w).is_empty());
        let l = symlinks(
            &unit(
                "app@.service",
                "WantedBy=multi-user.target\nDefaultInstance=one",
            ),
            &mut w,
        );
        assert_eq!(
            l,
            vec![(
                "multi-user.target.wants/app@one.service".to_string(),
                "../app@.service".to_string()
            )]
        );
    }

    #[test]
    fn refuses_links_outside_the_output() {
        let mut w = Vec::new();
        assert!(symlinks(
            &unit("x.service", "Alias=../../etc/passwd\nWantedBy=a/b"),
            &mut w
        )
        .is_empty());
        assert_eq!(w.len(), 2);
    }
}
