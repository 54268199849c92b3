//! Which Podman's Quadlet the output follows: 5.8.2's, or its main branch's (6.0.0-dev),
//! which a host running Podman 6 expects (a takeover there must change nothing either).
//!
//! What main changed, read from its source and checked against its output on its own test
//! cases (tests/parity/main/): `.volume` takes `UID=`/`GID=` (`--uid`/`--gid`) and `Options=`
//! without `Device=`; a `.pod` keeps a `[Service] Restart=` the file sets, and writes its own
//! `Restart=` after `PIDFile=`; `Mount=type=volume` may have no source (anonymous volume);
//! a `.pod` no longer wants its template containers (`foo@.container`); user managers also
//! read `/usr/share/containers/systemd/users/` (see `dirs.rs`).

/// The Quadlet whose output a conversion produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// Podman 5.8.2's Quadlet.
    #[default]
    Podman5,
    /// Podman's main branch (6.0.0-dev), for hosts running Podman 6 or later.
    Podman6,
}

/// The variable that names the host's Podman version for now (e.g. `6.0.0`, `5.8.2`).
pub const VERSION_ENV: &str = "UNITSMITH_PODMAN_VERSION";

impl Flavor {
    /// The flavour for a host whose Podman is `version` (`MAJOR[.MINOR...][-suffix]`):
    /// main's from 6 on, 5.8.2's otherwise, and for a version that does not parse.
    pub fn for_podman_version(version: &str) -> Flavor {
        let major = version.trim().split(['.', '-', '+']).next().unwrap_or("");
        match major.parse::<u32>() {
            Ok(m) if m >= 6 => Flavor::Podman6,
            _ => Flavor::Podman5,
        }
    }

    /// The flavour this host wants. Selected only by `UNITSMITH_PODMAN_VERSION` for now (unset:
    /// 5.8.2's); the one place to connect to the detection of the host's Podman.
    pub fn selected() -> Flavor {
        std::env::var(VERSION_ENV)
            .map(|v| Flavor::for_podman_version(&v))
            .unwrap_or_default()
    }

    /// Keys this flavour accepts beyond 5.8.2's table for `kind` (see `keys.rs`).
    pub fn extra_keys(self, kind: super::Kind) -> &'static [&'static str] {
        match (self, kind) {
            (Flavor::Podman6, super::Kind::Volume) => super::keys::VOLUME_PODMAN6,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_6_and_later_get_mains_output() {
        for v in ["6", "6.0.0", "6.0.0-dev", " 6.1.2\n", "7.0", "10.0.0+ds1"] {
            assert_eq!(Flavor::for_podman_version(v), Flavor::Podman6, "{v:?}");
        }
        for v in ["5.8.2", "5", "4.3.1", "", "six", "-6", "0.6"] {
            assert_eq!(Flavor::for_podman_version(v), Flavor::Podman5, "{v:?}");
        }
    }

    use crate::quadlet::{convert, Ctx, Kind, UnitsInfo};
    use crate::unitfile::UnitFile;

    /// The service `text` (a file named `name`) converts to under `flavor`, or the error.
    fn convert_as(flavor: Flavor, name: &str, text: &str) -> Result<String, String> {
        let path = std::path::PathBuf::from("/etc/containers/systemd").join(name);
        let unit = UnitFile::parse_quadlet(text.as_bytes(), &path).unwrap();
        let kind = Kind::from_filename(name).unwrap();
        let infos = UnitsInfo::new();
        let mut ctx = Ctx::new(&infos, false, "/usr/bin/podman", flavor);
        convert(&unit, kind, &mut ctx)
            .map(|c| c.service.to_text())
            .map_err(|e| e.message)
    }

    #[test]
    fn a_volumes_uid_gid_and_options_without_device_are_podman_6s() {
        let text = "[Volume]\nUID=1000\nGID=100\nUser=1\nOptions=size=10m\n";
        let v6 = convert_as(Flavor::Podman6, "v.volume", text).unwrap();
        assert!(
            v6.contains(
                "volume create --ignore --uid 1000 --gid 100 --opt o=uid=1,size=10m systemd-v\n"
            ),
            "{v6}"
        );
        let v5 = convert_as(Flavor::Podman5, "v.volume", text).unwrap_err();
        assert!(
            v5.starts_with("unsupported key 'UID' in group 'Volume'"),
            "{v5}"
        );
        let v5 = convert_as(Flavor::Podman5, "v.volume", "[Volume]\nOptions=size=10m\n");
        assert_eq!(v5.unwrap_err(), "key Options can't be used without Device");
    }

    #[test]
    fn a_pod_keeps_its_restart_under_podman_6() {
        let order = |text: &str| {
            (text.lines())
                .filter(|l| l.starts_with("Restart=") || l.starts_with("PIDFile="))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let plain = "[Pod]\n";
        let own = "[Pod]\n[Service]\nRestart=always\n";
        let pod = |flavor, text| order(&convert_as(flavor, "p.pod", text).unwrap());
        assert_eq!(
            pod(Flavor::Podman5, plain),
            "Restart=on-failure PIDFile=%t/%N.pid"
        );
        assert_eq!(
            pod(Flavor::Podman6, plain),
            "PIDFile=%t/%N.pid Restart=on-failure"
        );
        assert_eq!(
            pod(Flavor::Podman5, own),
            "Restart=on-failure PIDFile=%t/%N.pid"
        );
        assert_eq!(
            pod(Flavor::Podman6, own),
            "Restart=always PIDFile=%t/%N.pid"
        );
    }

    #[test]
    fn a_volume_mount_needs_no_source_under_podman_6() {
        let anon = "[Container]\nImage=localhost/i\nMount=type=volume,destination=/d\n";
        let c6 = convert_as(Flavor::Podman6, "c.container", anon).unwrap();
        assert!(c6.contains(" --mount type=volume,destination=/d "), "{c6}");
        let c5 = convert_as(Flavor::Podman5, "c.container", anon).unwrap_err();
        assert_eq!(c5, "source cannot be empty");
        let image = "[Container]\nImage=localhost/i\nMount=type=image,destination=/d\n";
        let c6 = convert_as(Flavor::Podman6, "c.container", image).unwrap_err();
        assert_eq!(c6, "source parameter is required for mount type image");
    }

    #[test]
    fn a_pod_does_not_want_a_template_under_podman_6() {
        let pod_of = |flavor, name| {
            let mut infos = UnitsInfo::new();
            infos.insert("p.pod".into(), Default::default());
            let text = "[Container]\nImage=localhost/i\nPod=p.pod\n";
            let path = std::path::PathBuf::from("/etc/containers/systemd").join(name);
            let unit = UnitFile::parse_quadlet(text.as_bytes(), &path).unwrap();
            let mut ctx = Ctx::new(&infos, false, "/usr/bin/podman", flavor);
            let c = convert(&unit, Kind::Container, &mut ctx).unwrap();
            c.join_pod
        };
        assert_eq!(
            pod_of(Flavor::Podman5, "t@.container").as_deref(),
            Some("p.pod")
        );
        assert_eq!(pod_of(Flavor::Podman6, "t@.container"), None);
        for flavor in [Flavor::Podman5, Flavor::Podman6] {
            assert_eq!(pod_of(flavor, "t@i.container").as_deref(), Some("p.pod"));
            assert_eq!(pod_of(flavor, "t.container").as_deref(), Some("p.pod"));
        }
    }

    #[test]
    fn only_a_podman_6_volume_takes_more_keys() {
        assert_eq!(
            Flavor::Podman6.extra_keys(super::super::Kind::Volume),
            ["GID", "UID"]
        );
        for kind in super::super::Kind::ALL {
            assert!(Flavor::Podman5.extra_keys(kind).is_empty());
        }
    }
}
