//! The steps a service's unit runs around `podman run`, each a `unitsmith compose` command
//! (helpers/src/compose.rs): what a unit file alone cannot say.
//!
//! - `pull` (`ExecStartPre=`): the image, as `pull_policy` says, bounded by its own time
//!   limit and in the unit's journal, before `podman run --pull never`.
//! - `volumes` (`ExecStartPre=`): the service's anonymous volumes and its image's `VOLUME`s
//!   named (see `anonymous`), created, and passed to `podman run` (`$UNITSMITH_VOLUMES`).
//! - `env-file` (`ExecStartPre=`): the `env_file:`s read as Compose reads them, written for
//!   `podman run --env-file` to a file only the unit's user reads (see `envfile`).
//! - `config` (`ExecStartPre=`): a config's `content:` written to a file the container
//!   mounts read-only.
//! - `restart-limit` (`ExecCondition=`): `restart: on-failure:N` counts automatic restarts only.
//! - `await` (`ExecCondition=`) and `release` (`ExecStartPost=` of the dependency): a service
//!   skipped because a dependency was down is started when the dependency comes up.
//!
//! Their files live in the manager's runtime directory, `%t/unitsmith/compose-run/PROJECT/`
//! (not under `compose/`, which in `/run/unitsmith` holds projects).

use super::values;

/// The variable `podman run` takes the kept volumes from (`-v NAME:PATH` words).
pub const VOLUMES_VAR: &str = "UNITSMITH_VOLUMES";

/// How long the pull step may take: an image of gigabytes over a slow link takes minutes, and
/// a registry that never answers must not hold the service (and the boot) for ever.
pub const PULL_TIMEOUT_SECS: u64 = 15 * 60;

/// Writes the command lines of one project's services.
pub struct Steps<'a> {
    pub helper: &'a str,
    pub project: &'a str,
    pub user: bool,
}

/// A literal argument (systemd's `%` and `$` doubled, quoted as needed).
pub fn lit(s: &str) -> String {
    values::word(s)
}

impl Steps<'_> {
    fn command(&self, sub: &str, args: &[String]) -> String {
        let mut s = format!("{} compose {sub}", lit(self.helper));
        if self.user && matches!(sub, "restart-limit" | "await" | "release") {
            s.push_str(" --user");
        }
        for a in args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// `%t/unitsmith/compose-run/PROJECT/NAME` (the specifiers of `name` kept: `%i`).
    pub fn runtime_file(&self, name: &str) -> String {
        let path = format!("/unitsmith/compose-run/{}/{name}", self.project);
        format!("%t{}", lit(&path).replace("%%i", "%i"))
    }

    /// The directory of the markers of services waiting for a dependency.
    fn waiting_dir(&self) -> String {
        self.runtime_file("waiting")
    }

    /// `pull`: the image, as the policy says (`missing`, `always`, or `refresh` after `every`
    /// seconds since the last pull, remembered in the manager's state directory, in
    /// `SERVICE.pulled`).
    pub fn pull(&self, image: &str, policy: &str, every: Option<u64>, service: &str) -> String {
        let mut args = vec![
            format!("--policy {policy}"),
            format!("--timeout {PULL_TIMEOUT_SECS}"),
        ];
        if let Some(secs) = every {
            let path = format!("/unitsmith/compose/{}/{service}.pulled", self.project);
            args.push(format!("--every {secs}"));
            args.push(format!("--stamp %S{}", lit(&path)));
        }
        args.push(lit(image));
        self.command("pull", &args)
    }

    /// `volumes`: for the container `prefix` (`PROJECT-SERVICE-N`), the image's `VOLUME`s not
    /// under `mounted` targets, and the anonymous volumes `create`, made and named.
    pub fn volumes(
        &self,
        image: &str,
        prefix: &str,
        service: &str,
        mounted: &[String],
        create: &[String],
    ) -> String {
        let spec = |s: &str| lit(s).replace("%%i", "%i");
        let mut args = vec![
            format!("--image {}", lit(image)),
            format!("--prefix {}", spec(prefix)),
            format!("--project {}", lit(self.project)),
            format!("--service {}", lit(service)),
        ];
        for m in mounted {
            args.push(format!("--mounted {}", lit(m)));
        }
        for c in create {
            args.push(format!("--create {}", spec(c)));
        }
        args.push(format!(
            "--out {}",
            self.runtime_file(&format!("{prefix}.volumes"))
        ));
        self.command("volumes", &args)
    }

    /// `env-file`: the files (`?` before an optional one), read with the project's `.env`.
    pub fn env_file(&self, out: &str, dotenv: Option<&str>, files: &[String]) -> String {
        let mut args = Vec::new();
        if let Some(d) = dotenv {
            args.push(format!("--dotenv {}", lit(d)));
        }
        args.push(format!("--out {out}"));
        args.extend(files.iter().map(|f| lit(f)));
        self.command("env-file", &args)
    }

    /// `config`: a config's `content:` written to `out` (mode 0444) before the start.
    pub fn config(&self, out: &str, content: &str) -> String {
        self.command("config", &[format!("--out {out}"), lit(content)])
    }

    /// `restart-limit`: skip the start once the unit restarted itself more than `n` times.
    pub fn restart_limit(&self, n: u32) -> String {
        self.command("restart-limit", &[n.to_string(), "%n".to_string()])
    }

    /// `await`: skip the start unless every dependency unit is active; remember the wait.
    pub fn await_units(&self, units: &[String]) -> String {
        let mut args = vec![
            format!("--waiting {}", self.waiting_dir()),
            "%n".to_string(),
        ];
        args.extend(units.iter().map(|u| lit(u)));
        self.command("await", &args)
    }

    /// `release`: start the dependent units that waited for this one.
    pub fn release(&self, units: &[String]) -> String {
        let mut args = vec![format!("--waiting {}", self.waiting_dir())];
        args.extend(units.iter().map(|u| lit(u)));
        format!("-{}", self.command("release", &args))
    }
}

#[cfg(test)]
mod tests {
    use crate::compose::testing::Project;

    /// The `env-file` step: the project's `.env` when there is one, where to write, and each
    /// file with its flags; the container reads what it wrote.
    #[test]
    fn the_env_file_step() {
        let text = "services:\n  web:\n    image: nginx\n    env_file:\n      - a.env\n      - {path: b.env, required: false}\n";
        let out = "%t/unitsmith/compose-run/app/app-web-1.env";
        for dotenv in [false, true] {
            let p = Project::new(&format!("env-file-step-{dotenv}"), text);
            p.file("a.env", "A=1\n");
            if dotenv {
                p.file(".env", "X=1\n");
            }
            let dir = p.dir().display().to_string();
            let u = p.service("web").unwrap();
            let steps: Vec<&str> = u
                .lookup_all("Service", "ExecStartPre")
                .into_iter()
                .filter(|s| s.contains(" compose env-file "))
                .collect();
            let flag = if dotenv {
                format!("--dotenv {dir}/.env ")
            } else {
                String::new()
            };
            assert_eq!(
                steps,
                [format!("/usr/bin/unitsmith compose env-file {flag}--out {out} {dir}/a.env optional:{dir}/b.env")],
                "{dotenv}"
            );
            assert_eq!(u.lookup_all("Container", "EnvironmentFile"), [out]);
        }
    }
}
