//! Docker's grammar of an image reference (distribution's `reference` package, which Podman's
//! containers/image shares): `[HOST[:PORT]/]PATH[:TAG][@DIGEST]`. A name docker compose and
//! Podman would refuse at pull time ("invalid reference format") is refused when the unit is
//! generated instead, naming the file, line and key, rather than failing at every start.

/// Why `image` is not a reference Docker or Podman can pull, or `None` when it is one.
pub fn problem(image: &str) -> Option<String> {
    let (name_and_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    // A tag follows the last ':' after the last '/' (a ':' before it is a registry's port).
    let path_start = name_and_tag.rfind('/').unwrap_or(0);
    let (name, tag) = match name_and_tag[path_start..].rfind(':') {
        Some(i) => (
            &name_and_tag[..path_start + i],
            Some(&name_and_tag[path_start + i + 1..]),
        ),
        None => (name_and_tag, None),
    };
    name_problem(name)
        .or_else(|| tag.and_then(tag_problem))
        .or_else(|| digest.and_then(digest_problem))
}

/// The longest name (registry and path) distribution accepts.
const NAME_MAX: usize = 255;
/// The longest tag: one word character, then up to 127 of `[A-Za-z0-9_.-]`.
const TAG_MAX: usize = 128;
/// The shortest encoded digest (hex digits) distribution accepts.
const DIGEST_MIN: usize = 32;

fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".into());
    }
    if name.len() > NAME_MAX {
        return Some(format!("the name is longer than {NAME_MAX} characters"));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    // As in docker_name: a first component with '.' or ':', or `localhost`, is a registry.
    if components.len() > 1 && (components[0].contains(['.', ':']) || components[0] == "localhost")
    {
        if let Some(why) = host_problem(components[0]) {
            return Some(why);
        }
        components.remove(0);
    }
    components.iter().find_map(|c| path_component_problem(c))
}

/// `HOST[:PORT]`: DNS-like labels joined by '.', or a bracketed IPv6 address; a port of digits.
fn host_problem(host: &str) -> Option<String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let bracketed = rest.split_once(']').filter(|(addr, _)| {
            !addr.is_empty() && addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':')
        });
        let Some((_, after)) = bracketed else {
            return Some(format!(
                "the registry '{host}' is not an IPv6 address in brackets"
            ));
        };
        // After the ']' only ":PORT"; anything else is judged as a port (and is not one).
        let port = (!after.is_empty()).then(|| after.strip_prefix(':').unwrap_or(after));
        (None, port)
    } else {
        match host.split_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(name) = name {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !name.split('.').all(label_ok) {
            return Some(format!(
                "the registry '{name}' is not a host name (letters, digits, '-' and '.')"
            ));
        }
    }
    match port {
        Some(p) if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) => {
            Some(format!("the registry's port '{p}' is not a number"))
        }
        _ => None,
    }
}

/// A path component: lowercase letters and digits, in runs joined by one '.', one or two '_',
/// or any number of '-'.
fn path_component_problem(component: &str) -> Option<String> {
    let bad = || {
        let upper = component.chars().any(|c| c.is_ascii_uppercase());
        Some(if upper {
            format!("'{component}' has capital letters: a repository name is lowercase")
        } else {
            format!(
                "'{component}' is not a repository name (lowercase letters and digits, joined by \
                 '.', '_', '__' or dashes)"
            )
        })
    };
    let b = component.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return bad();
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__' or a run of '-', always between two alphanumerics.
        let run = b[i..].iter().take_while(|&&c| c == b[i]).count();
        let ok = match b[i] {
            b'.' => run == 1,
            b'_' => run <= 2,
            b'-' => true,
            _ => false,
        };
        if !ok {
            return bad();
        }
        i += run;
    }
    None
}

fn tag_problem(tag: &str) -> Option<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok = tag.len() <= TAG_MAX
        && tag.chars().next().is_some_and(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-');
    (!ok).then(|| {
        if tag.is_empty() {
            "the tag after ':' is empty".to_string()
        } else {
            format!(
                "the tag '{tag}' is not a tag (at most {TAG_MAX} letters, digits, '_', '.' \
                 and '-', not starting with '.' or '-')"
            )
        }
    })
}

fn digest_problem(digest: &str) -> Option<String> {
    let ok = match digest.split_once(':') {
        Some((algorithm, encoded)) => {
            !algorithm.is_empty()
                && algorithm.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && algorithm
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                && encoded.len() >= DIGEST_MIN
                && encoded.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    };
    (!ok).then(|| {
        format!("the digest '{digest}' is not ALGORITHM:HEX (e.g. sha256: and 64 hex digits)")
    })
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn references_docker_pulls() {
        for ok in [
            "nginx",
            "nginx:1.27",
            "nginx:1.27-alpine",
            "docker.io/library/nginx:latest",
            "bitnami/redis:7",
            "ghcr.io/immich-app/immich-server:release",
            "registry.example.org:5000/tools/tool",
            "my-registry.example.org/x",
            "localhost/bb:e2e",
            "localhost:5000/x",
            "[::1]:5000/x:y",
            "a__b/c.d/e---f:_T.a-g",
            "postgres:16@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "postgres@sha256:0123456789abcdef0123456789abcdef",
            "my-registry/x", // no '.', ':' or localhost: a Docker Hub user
        ] {
            assert_eq!(problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn references_docker_refuses() {
        for (bad, why) in [
            ("apache/airflow:|version|", "the tag '|version|'"),
            ("redis:", "the tag after ':' is empty"),
            ("", "the name is empty"),
            (":1", "the name is empty"),
            ("Nginx", "capital letters"),
            ("user/My-App:1", "'My-App' has capital letters"),
            ("a..b", "'a..b' is not a repository name"),
            ("a___b", "'a___b'"),
            ("-a", "'-a'"),
            ("a-", "'a-'"),
            ("a//b", "'' is not"),
            ("a/", "'' is not"),
            ("nginx:.x", "the tag '.x'"),
            ("nginx:-x", "the tag '-x'"),
            ("x y", "'x y'"),
            ("reg.io:port/x", "the registry's port 'port'"),
            ("reg.io:/x", "the registry's port ''"),
            ("-reg.io/x", "the registry '-reg.io'"),
            ("reg..io/x", "the registry 'reg..io'"),
            ("reg_x.io/x", "the registry 'reg_x.io'"),
            ("[zz]:5000/x", "IPv6"),
            ("[zz]/x", "'[zz]' is not a repository name"),
            ("[::1]x/y", "the registry's port 'x'"),
            ("postgres@sha256:abc", "the digest 'sha256:abc'"),
            ("postgres@sha256", "the digest"),
            (
                "postgres@SHA256:0123456789abcdef0123456789abcdef",
                "the digest",
            ),
            ("postgres@:0123456789abcdef0123456789abcdef", "the digest"),
        ] {
            let got = problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(got.contains(why), "{bad:?}: {got}");
        }
        assert!(problem(&format!("x:{}", "t".repeat(128))).is_none());
        assert!(problem(&format!("x:{}", "t".repeat(129))).is_some());
        assert!(problem(&"a".repeat(255)).is_none());
        assert!(problem(&"a".repeat(256)).is_some());
    }
}
