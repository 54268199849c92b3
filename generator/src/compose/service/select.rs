//! Which services run, and how many of each: profiles (`COMPOSE_PROFILES` in `.env`) and
//! `scale:`/`deploy.replicas:`.

use std::collections::HashMap;

use crate::compose::check::{shown, string_list, Fail};
use crate::compose::yaml::Node;
use crate::compose::Project;

/// The active services (file order), and the inactive ones with their profiles.
pub type Selection<'n> = (Vec<(&'n str, &'n Node)>, HashMap<&'n str, Vec<String>>);

/// Split `all` by profile: a service with profiles runs only when one of them is active.
pub fn by_profile<'n>(
    p: &Project,
    all: &[(&'n str, usize, &'n Node)],
) -> Result<Selection<'n>, String> {
    let active_profiles: Vec<String> = p
        .vars
        .get("COMPOSE_PROFILES")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut active: Vec<(&str, &Node)> = Vec::new();
    let mut inactive: HashMap<&str, Vec<String>> = HashMap::new();
    for (name, _, node) in all {
        match node.get("profiles") {
            None => active.push((name, node)),
            Some(pn) => {
                let list = string_list(p, pn, &format!("services.{name}.profiles"))?;
                let profiles: Vec<String> = list.iter().map(|(s, _)| s.to_string()).collect();
                if profiles.is_empty()
                    || profiles.iter().any(|pr| {
                        active_profiles.contains(pr) || active_profiles.iter().any(|a| a == "*")
                    })
                {
                    active.push((name, node));
                } else {
                    crate::log_debug!(
                        "{}: services.{name}: not generated: its profiles ({}) are not in COMPOSE_PROFILES",
                        p.at(pn),
                        profiles.join(", ")
                    );
                    inactive.insert(name, profiles);
                }
            }
        }
    }
    Ok((active, inactive))
}

/// How many containers a service runs (`scale:`, `deploy.replicas:`; 1 without them).
pub fn replica_count(p: &Project, name: &str, node: &Node) -> Result<u32, String> {
    let count = |n: &Node, path: &str| -> Result<u32, String> {
        n.as_str()
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|c| *c <= 1000)
            .ok_or_else(|| {
                Fail::at(
                    p,
                    n,
                    path,
                    format!("must be a number of containers (0..1000), not {}", shown(n)),
                )
                .plain()
            })
    };
    let scale = node
        .get("scale")
        .map(|n| count(n, &format!("services.{name}.scale")))
        .transpose()?;
    let replicas = node
        .get("deploy")
        .and_then(|d| d.get("replicas"))
        .map(|n| count(n, &format!("services.{name}.deploy.replicas")))
        .transpose()?;
    match (scale, replicas) {
        (Some(s), Some(r)) if s != r => {
            let n = node.get("scale").unwrap_or(node);
            Err(Fail::at(
                p,
                n,
                &format!("services.{name}.scale"),
                format!("{s} differs from deploy.replicas: {r}"),
            )
            .hint("the specification requires them to agree; keep one"))
        }
        (Some(s), _) => Ok(s),
        (_, Some(r)) => Ok(r),
        _ => Ok(1),
    }
}

#[cfg(test)]
mod tests {
    use crate::compose::testing::Project;

    /// The containers a project makes with `COMPOSE_PROFILES` from `.env` (none: no `.env`).
    fn made(test: &str, profiles: Option<&str>, services: &str) -> Result<Vec<String>, String> {
        let p = Project::new(test, &format!("services:\n{services}"));
        if let Some(v) = profiles {
            p.file(".env", &format!("COMPOSE_PROFILES={v}\n"));
        }
        let (units, _) = p.translate();
        let mut names = Vec::new();
        for (n, r) in units {
            if n.ends_with(".container") {
                r?;
                names.push(n);
            }
        }
        Ok(names)
    }

    /// A service with profiles runs when one of them is in `COMPOSE_PROFILES` (`*`: all).
    #[test]
    fn profiles() {
        let services = "  base:\n    image: x\n  empty:\n    image: x\n    profiles: []\n  dbg:\n    image: x\n    profiles: [debug, test]\n";
        let without = ["app-base.container", "app-empty.container"];
        let with = [
            "app-base.container",
            "app-empty.container",
            "app-dbg.container",
        ];
        assert_eq!(made("profiles-none", None, services).unwrap(), without);
        assert_eq!(
            made("profiles-other", Some("other"), services).unwrap(),
            without
        );
        assert_eq!(
            made("profiles-blank", Some(" , "), services).unwrap(),
            without
        );
        assert_eq!(
            made("profiles-test", Some("x, test"), services).unwrap(),
            with
        );
        assert_eq!(made("profiles-all", Some("*"), services).unwrap(), with);
    }

    /// `scale:` and `deploy.replicas:`, 0 to 1000, agreeing when both are given.
    #[test]
    fn replicas() {
        let count = |test: &str, keys: &str| -> Result<Vec<String>, String> {
            made(test, None, &format!("  web:\n    image: x\n{keys}"))
        };
        let one = ["app-web.container"];
        let template = ["app-web@.container"];
        assert_eq!(count("scale-none", "").unwrap(), one);
        assert_eq!(count("scale-one", "    scale: 1\n").unwrap(), one);
        assert_eq!(count("scale-two", "    scale: 2\n").unwrap(), template);
        assert_eq!(count("scale-max", "    scale: 1000\n").unwrap(), template);
        assert_eq!(
            count("replicas-two", "    deploy: {replicas: 2}\n").unwrap(),
            template
        );
        assert_eq!(
            count("scale-both", "    scale: 2\n    deploy: {replicas: 2}\n").unwrap(),
            template
        );
        for (test, keys, message) in [
            (
                "scale-over",
                "    scale: 1001\n",
                "services.web.scale: must be a number of containers (0..1000), not \"1001\"",
            ),
            (
                "scale-text",
                "    deploy: {replicas: x}\n",
                "services.web.deploy.replicas: must be a number",
            ),
            (
                "scale-differ",
                "    scale: 2\n    deploy: {replicas: 3}\n",
                "services.web.scale: 2 differs from deploy.replicas: 3",
            ),
        ] {
            let e = count(test, keys).unwrap_err();
            assert!(e.contains(message), "{test}: {e}");
        }
    }
}
