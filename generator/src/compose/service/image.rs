//! The container's name and image: `container_name`, `image`, `build` (a `.build` unit, see
//! `resources::build`), `pull_policy`.

use super::{reference, Ctx};
use crate::compose::check::{text, Fail};
use crate::compose::resources;
use crate::compose::unit::Q;
use crate::compose::yaml::Node;
use crate::compose::{Made, Project};

/// The container's name, as Docker Compose names it (`PROJECT-SERVICE-N`).
pub fn container_name(q: &mut Q, ctx: &Ctx, name: &str, node: &Node) -> Result<(), String> {
    let p = q.p;
    let template = ctx.names.is_template(name);
    let kp = format!("services.{name}.container_name");
    match node.get("container_name") {
        Some(cn) if template => Err(Fail::at(
            p,
            cn,
            &kp,
            "a fixed container name with more than one replica",
        )
        .hint("remove container_name (replicas are named PROJECT-SERVICE-N) or scale to 1")),
        Some(cn) => q.single("Container", "ContainerName", cn, &kp),
        None if template => {
            q.raw(
                "Container",
                "ContainerName",
                &format!("{}-{name}-%i", p.name),
                node,
            );
            Ok(())
        }
        None => {
            q.raw(
                "Container",
                "ContainerName",
                &format!("{}-{name}-1", p.name),
                node,
            );
            Ok(())
        }
    }
}

/// The image a service runs, as its translation left it.
pub struct Image {
    /// The reference `podman run` and the steps before it use (`docker.io/library/nginx:1`).
    pub reference: String,
    /// The unit pulls it first (`pull` step), within its own time limit.
    pub pulled: bool,
}

/// The image, or the `.build` unit that makes it; with `pull_policy`, how it is pulled.
pub fn image(
    q: &mut Q,
    ctx: &Ctx,
    name: &str,
    node: &Node,
    made: &mut Vec<Made>,
) -> Result<Image, String> {
    let p = q.p;
    let path = format!("services.{name}");
    let image = node.get("image");
    let policy = match node.get("pull_policy") {
        Some(v) => Some((pull_policy(p, v, &format!("{path}.pull_policy"))?, v)),
        None => None,
    };
    if let Some(b) = node.get("build") {
        let tag = image
            .map(|i| image_text(p, i, &path).map(docker_name))
            .transpose()?;
        if let Some((Policy::Always | Policy::Refresh(_), v)) = &policy {
            return Err(Fail::at(
                p,
                v,
                &format!("{path}.pull_policy"),
                "with build:, the image is built here, never pulled",
            )
            .hint("use build, missing or never (build.pull: true pulls the base image)"));
        }
        let (build, tag) = resources::build(p, name, b, tag.as_deref(), made)?;
        q.raw("Container", "Image", &build, b);
        return Ok(Image {
            reference: tag,
            pulled: false,
        });
    }
    let Some(i) = image else {
        return Err(Fail::at(p, node, &path, "neither image: nor build:")
            .hint("add image: REGISTRY/NAME:TAG"));
    };
    let reference = docker_name(image_text(p, i, &path)?);
    q.set_at("Container", "Image", &reference, i)?;
    let (policy, at) = match policy {
        Some((Policy::Build, v)) => {
            return Err(Fail::at(
                p,
                v,
                &format!("{path}.pull_policy"),
                "build, without build:",
            )
            .hint("add build:, or use always, missing, never, daily, weekly or every_DURATION"));
        }
        Some((pol, v)) => (pol, v),
        None => (Policy::Missing, i),
    };
    // `podman run` never pulls: the pull step did, within its own time limit, in the journal.
    q.raw("Container", "Pull", "never", at);
    let (name_of, every) = match policy {
        Policy::Never => {
            return Ok(Image {
                reference,
                pulled: false,
            })
        }
        Policy::Missing => ("missing", None),
        Policy::Always => ("always", None),
        Policy::Refresh(secs) => ("refresh", Some(secs)),
        Policy::Build => unreachable!("refused above"),
    };
    let step = ctx.steps.pull(&reference, name_of, every, name);
    q.raw("Service", "ExecStartPre", &step, at);
    Ok(Image {
        reference,
        pulled: true,
    })
}

/// The text of `image:`, when Docker's grammar of a reference accepts it (a name docker
/// compose and Podman could not pull is refused here, with its line, not at every start).
fn image_text<'a>(p: &Project, i: &'a Node, service_path: &str) -> Result<&'a str, String> {
    let key = format!("{service_path}.image");
    let image = text(p, i, &key)?;
    match reference::problem(image.trim()) {
        None => Ok(image),
        Some(why) => Err(
            Fail::at(p, i, &key, format!("not an image reference: {why}")).hint(
                "write [REGISTRY[:PORT]/]NAME[:TAG][@DIGEST], e.g. docker.io/library/nginx:1.27",
            ),
        ),
    }
}

/// A `pull_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Always,
    Never,
    Missing,
    Build,
    /// `daily`, `weekly`, `every_DURATION`: pulled again when the last pull is older (seconds).
    Refresh(u64),
}

fn pull_policy(p: &Project, v: &Node, kp: &str) -> Result<Policy, String> {
    let t = text(p, v, kp)?;
    Ok(match t {
        "always" => Policy::Always,
        "never" => Policy::Never,
        "missing" | "if_not_present" => Policy::Missing,
        "build" => Policy::Build,
        "daily" => Policy::Refresh(24 * 3600),
        "weekly" => Policy::Refresh(7 * 24 * 3600),
        _ => match t.strip_prefix("every_").map(every) {
            Some(Some(secs)) if secs > 0 => Policy::Refresh(secs),
            _ => {
                return Err(Fail::at(p, v, kp, format!("\"{t}\" is not a pull policy")).hint(
                    "always, never, missing (if_not_present), build (with build:), daily, weekly or every_DURATION (every_12h, every_1w2d)",
                ))
            }
        },
    })
}

/// `every_`'s duration: numbers each with a unit `w`, `d`, `h`, `m` or `s` (`1w2d`, `90m`).
fn every(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            'w' => 7 * 24 * 3600,
            'd' => 24 * 3600,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = num.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        num.clear();
    }
    if !num.is_empty() || s.is_empty() {
        return None;
    }
    Some(total)
}

/// An image reference as Docker reads it: a name without a registry is Docker Hub's
/// (`nginx` → `docker.io/library/nginx`, `user/app` → `docker.io/user/app`); a first
/// component with a `.` or a `:`, or `localhost`, is a registry and is kept.
pub fn docker_name(image: &str) -> String {
    let image = image.trim();
    if image.is_empty() {
        return String::new();
    }
    match image.split_once('/') {
        None => format!("docker.io/library/{image}"),
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            if first == "docker.io" && !rest.contains('/') {
                format!("docker.io/library/{rest}")
            } else {
                image.to_string()
            }
        }
        Some(_) => format!("docker.io/{image}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names() {
        for (short, full) in [
            ("nginx", "docker.io/library/nginx"),
            ("nginx:1.27", "docker.io/library/nginx:1.27"),
            ("kong:latest", "docker.io/library/kong:latest"),
            (
                "postgres@sha256:abc",
                "docker.io/library/postgres@sha256:abc",
            ),
            ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
            ("docker.io/nginx", "docker.io/library/nginx"),
            ("docker.io/library/nginx", "docker.io/library/nginx"),
            (
                "quay.io/prometheus/prometheus",
                "quay.io/prometheus/prometheus",
            ),
            ("ghcr.io/a/b/c:1", "ghcr.io/a/b/c:1"),
            ("localhost/bb:e2e", "localhost/bb:e2e"),
            ("localhost:5000/app", "localhost:5000/app"),
            ("registry:5000/app", "registry:5000/app"),
            ("my.registry/app", "my.registry/app"),
        ] {
            assert_eq!(docker_name(short), full, "{short}");
        }
    }

    #[test]
    fn every_durations() {
        assert_eq!(every("12h"), Some(12 * 3600));
        assert_eq!(every("1w2d"), Some(9 * 24 * 3600));
        assert_eq!(every("90m"), Some(5400));
        assert_eq!(every("30s"), Some(30));
        for bad in ["", "12", "h", "1x", "1h2", "99999999999999999999w"] {
            assert_eq!(every(bad), None, "{bad}");
        }
    }

    fn unit(test: &str, text: &str) -> Result<crate::unitfile::UnitFile, String> {
        crate::compose::testing::web(test, text)
    }

    /// A service's container is named as Docker Compose names it, a replica by its number.
    #[test]
    fn container_names() {
        let name = |test: &str, extra: &str| {
            let text = format!("services:\n  web:\n    image: nginx\n{extra}");
            let p = crate::compose::testing::Project::new(test, &text);
            let (units, _) = p.translate();
            let (n, u) = units
                .into_iter()
                .find(|(n, _)| n.starts_with("app-web"))
                .unwrap();
            (
                n,
                u.map(|u| u.lookup_all("Container", "ContainerName").join(" ")),
            )
        };
        assert_eq!(
            name("name-default", ""),
            ("app-web.container".into(), Ok("app-web-1".into()))
        );
        assert_eq!(
            name("name-fixed", "    container_name: fixed\n"),
            ("app-web.container".into(), Ok("fixed".into()))
        );
        assert_eq!(
            name("name-replicas", "    scale: 2\n"),
            ("app-web@.container".into(), Ok("app-web-%i".into()))
        );
        let (_, e) = name(
            "name-fixed-replicas",
            "    scale: 2\n    container_name: fixed\n",
        );
        let e = e.unwrap_err();
        assert!(
            e.contains("a fixed container name with more than one replica"),
            "{e}"
        );
    }

    /// Each `pull_policy`, as the unit's pull step takes it (`podman run` itself never pulls).
    #[test]
    fn pull_policies() {
        for (policy, step) in [
            ("", Some("--policy missing --timeout 900 docker.io")),
            ("always", Some("--policy always --timeout 900 docker.io")),
            ("missing", Some("--policy missing --timeout 900 docker.io")),
            (
                "if_not_present",
                Some("--policy missing --timeout 900 docker.io"),
            ),
            ("never", None),
            (
                "daily",
                Some("--policy refresh --timeout 900 --every 86400 --stamp"),
            ),
            (
                "weekly",
                Some("--policy refresh --timeout 900 --every 604800 --stamp"),
            ),
            (
                "every_1s",
                Some("--policy refresh --timeout 900 --every 1 --stamp"),
            ),
            (
                "every_1h30m",
                Some("--policy refresh --timeout 900 --every 5400 --stamp"),
            ),
        ] {
            let text = match policy {
                "" => "services:\n  web:\n    image: nginx\n".to_string(),
                p => format!("services:\n  web:\n    image: nginx\n    pull_policy: {p}\n"),
            };
            let u = unit(&format!("pull-{policy}"), &text).unwrap();
            assert_eq!(u.lookup_all("Container", "Pull"), ["never"], "{policy}");
            assert_eq!(
                u.lookup_all("Container", "Image"),
                ["docker.io/library/nginx"]
            );
            let pulls: Vec<&str> = u
                .lookup_all("Service", "ExecStartPre")
                .into_iter()
                .filter(|s| s.contains(" compose pull "))
                .collect();
            match step {
                None => assert!(pulls.is_empty(), "{policy}: {pulls:?}"),
                Some(s) => {
                    assert_eq!(pulls.len(), 1, "{policy}: {pulls:?}");
                    assert!(pulls[0].contains(s), "{policy}: {}", pulls[0]);
                }
            }
        }
    }

    #[test]
    fn pull_policies_refused() {
        for (test, policy, message) in [
            ("zero", "every_0s", "\"every_0s\" is not a pull policy"),
            ("bad", "every_1x", "\"every_1x\" is not a pull policy"),
            (
                "sometimes",
                "sometimes",
                "\"sometimes\" is not a pull policy",
            ),
            ("build", "build", "build, without build:"),
        ] {
            let text = format!("services:\n  web:\n    image: nginx\n    pull_policy: {policy}\n");
            let e = unit(&format!("pull-refused-{test}"), &text).unwrap_err();
            assert!(e.contains(message), "{policy}: {e}");
        }
        let e = unit("pull-none", "services:\n  web:\n    command: x\n").unwrap_err();
        assert!(e.contains("neither image: nor build:"), "{e}");
    }
}
