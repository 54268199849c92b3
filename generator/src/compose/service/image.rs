//! The container's name and image: `container_name`, `image`, `build` (a `.build` unit, see
//! `resources::build`), `pull_policy`.

use super::{Ctx, Service};
use crate::compose::check::{text, Fail};
use crate::compose::resources;
use crate::compose::unit::Q;
use crate::compose::yaml::Node;
use crate::compose::Made;

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

/// The image, or the `.build` unit that makes it.
pub fn image(q: &mut Q, name: &str, node: &Node, made: &mut Vec<Made>) -> Result<(), String> {
    let p = q.p;
    let path = format!("services.{name}");
    let image = node.get("image");
    match (node.get("build"), image) {
        (Some(b), _) => {
            let tag = image
                .map(|i| text(p, i, &format!("{path}.image")))
                .transpose()?;
            let build = resources::build(p, name, b, tag, made)?;
            q.raw("Container", "Image", &build, b);
        }
        (None, Some(i)) => q.single("Container", "Image", i, &format!("{path}.image"))?,
        (None, None) => {
            return Err(Fail::at(p, node, &path, "neither image: nor build:")
                .hint("add image: REGISTRY/NAME:TAG"));
        }
    }
    Ok(())
}

/// `pull_policy` → `Pull=`.
pub fn pull_policy(q: &mut Q, s: &Service, v: &Node, kp: &str) -> Result<(), String> {
    let pol = match text(q.p, v, kp)? {
        "always" => Some("always"),
        "never" => Some("never"),
        "missing" | "if_not_present" => Some("missing"),
        "build" if s.node.get("build").is_some() => None,
        other => {
            return Err(
                Fail::at(q.p, v, kp, format!("\"{other}\" is not supported"))
                    .hint("always, never, missing (if_not_present), or build with build:"),
            );
        }
    };
    if let Some(pol) = pol {
        q.raw("Container", "Pull", pol, v);
    }
    Ok(())
}
