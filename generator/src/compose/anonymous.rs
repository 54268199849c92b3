//! Names for the volumes Docker leaves anonymous, so that their data outlives the container.
//!
//! Docker Compose keeps a service's anonymous volumes (`volumes: [/var/lib/postgresql/data]`,
//! and those an image's `VOLUME` asks for) across `up`, `restart`, `stop`/`start` and an edit:
//! the container is kept, or a new one takes over the old one's volumes (`docker compose up`
//! recreating a container mounts the anonymous volumes of the one it replaces). A unit runs a
//! new container at each start (`podman run --rm --replace`), and `--rm` (as `podman rm -v`)
//! removes the anonymous volumes of the container it removes. So unitsmith names them: the
//! same service, replica and path give the same volume at every start, and a named volume is
//! never removed with a container.
//!
//! `PROJECT-SERVICE-N_PATH`: the container's default name (`shop-db-1`; `N` is the replica,
//! `%i` in a template), `_`, then the path without its leading `/`, each `/` written `.`,
//! letters and digits kept, and every other byte (`.`, `-`, `_` included) as `_XX` (its hex
//! value). Distinct paths give distinct names; `podman volume ls` shows which path a volume
//! keeps (`shop-db-1_var.lib.postgresql.data`). The `unitsmith compose volumes` step that
//! starts each container creates them with the labels [`LABEL_PROJECT`] and
//! [`LABEL_SERVICE`], which find them again (`podman volume ls --filter label=...`).

/// The label holding the project of a volume unitsmith made.
pub const LABEL_PROJECT: &str = "io.unitsmith.compose.project";
/// The label holding the service of an anonymous volume unitsmith named.
pub const LABEL_SERVICE: &str = "io.unitsmith.compose.service";

/// The name of the volume kept at `target` (an absolute path in the container) for the
/// container whose default name is `prefix` (`PROJECT-SERVICE-N`).
pub fn name(prefix: &str, target: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + target.len() + 8);
    out.push_str(prefix);
    out.push('_');
    let path = crate::quadlet::clean_path(target);
    for (i, part) in path.trim_start_matches('/').split('/').enumerate() {
        if i > 0 {
            out.push('.');
        }
        for b in part.bytes() {
            if b.is_ascii_alphanumeric() {
                out.push(b as char);
            } else {
                out.push_str(&format!("_{b:02x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            name("shop-db-1", "/var/lib/postgresql/data"),
            "shop-db-1_var.lib.postgresql.data"
        );
        assert_eq!(name("p-s-1", "/data/"), "p-s-1_data");
        assert_eq!(name("p-s-1", "//a//b/"), "p-s-1_a.b");
        assert_eq!(name("p-s-%i", "/x"), "p-s-%i_x");
        // Every byte that is not a letter or a digit is written in hex, so paths differing
        // only there differ in name too.
        assert_eq!(name("p-s-1", "/a.b"), "p-s-1_a_2eb");
        assert_eq!(name("p-s-1", "/a_b"), "p-s-1_a_5fb");
        assert_eq!(name("p-s-1", "/a-b"), "p-s-1_a_2db");
        assert_eq!(name("p-s-1", "/é"), "p-s-1__c3_a9");
        assert_ne!(name("p-s-1", "/a/b"), name("p-s-1", "/a.b"));
        assert_ne!(name("p-s-1", "/a_2eb"), name("p-s-1", "/a.b"));
    }

    /// What Podman accepts as a volume name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
    #[test]
    fn podman_accepts_them() {
        for t in ["/", "/data", "/a b/c\td", "/x:y", "/%h/$X", "/..."] {
            let n = name("p-s-1", t);
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')),
                "{t} -> {n}"
            );
        }
    }
}
