//! Why a unit is missing, failed or not what its input says: the pure part of `doctor`, also
//! used by `reload` to give the cause of every unit it cannot restart. Facts in, problems out.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "&'static str")]
pub enum Severity {
    /// The unit does not run as its input says.
    Error,
    /// It runs, but not from what its input says now (or something is likely a mistake).
    Warning,
    /// Worth knowing; nothing wrong.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// What kind of problem: stable names, used in `--json` and in the text output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "&'static str")]
pub enum Kind {
    /// The input could not be read, parsed or translated: the unit is a failure stub.
    Stub,
    /// A unit this one needs failed (to generate, or in systemd).
    DependencyFailed,
    /// unitsmith-generator is not in systemd's generator directories (or masked).
    GeneratorMissing,
    /// Podman's own Quadlet generator handles the directory the input is in.
    PodmanGenerator,
    /// A Quadlet-looking file in a directory unitsmith does not read.
    NotRead,
    /// A file that is not an input (wrong or misspelt extension, missing file).
    NotInput,
    /// The input's unit would have a name systemd refuses, and no valid name can be made of
    /// it: the generator writes no unit for it at all.
    BadName,
    /// Two inputs would write the same unit; this one lost.
    Collision,
    /// A file hidden by an earlier file of the same name in the search path.
    Shadowed,
    /// systemd has no such unit loaded.
    NotLoaded,
    Masked,
    /// systemd could not load the unit (bad setting, ...).
    LoadError,
    /// systemd loads another file of that name, not the generated one.
    Overridden,
    /// The input changed since the last daemon-reload.
    Stale,
    /// The unit still runs, but its input (or its unit file) is gone.
    InputRemoved,
    /// The unit failed in systemd.
    Failed,
    /// systemd could not be asked.
    Systemd,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Stub => "stub",
            Kind::DependencyFailed => "dependency-failed",
            Kind::GeneratorMissing => "generator-missing",
            Kind::PodmanGenerator => "podman-generator",
            Kind::NotRead => "not-read",
            Kind::NotInput => "not-an-input",
            Kind::BadName => "bad-name",
            Kind::Collision => "collision",
            Kind::Shadowed => "shadowed",
            Kind::NotLoaded => "not-loaded",
            Kind::Masked => "masked",
            Kind::LoadError => "load-error",
            Kind::Overridden => "overridden",
            Kind::Stale => "stale",
            Kind::InputRemoved => "input-removed",
            Kind::Failed => "failed",
            Kind::Systemd => "systemd",
        }
    }
}

// One spelling of each name, text and JSON alike.
impl From<Severity> for &'static str {
    fn from(s: Severity) -> &'static str {
        s.as_str()
    }
}

impl From<Kind> for &'static str {
    fn from(k: Kind) -> &'static str {
        k.as_str()
    }
}

/// One problem, as `--json` prints it too (fields in this order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: Kind,
    pub severity: Severity,
    /// May span lines (a failure stub's error carries its own `hint:` line).
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(kind: Kind, severity: Severity, message: impl Into<String>) -> Problem {
        Problem {
            kind,
            severity,
            message: message.into(),
            hint: None,
        }
    }

    pub fn error(kind: Kind, message: impl Into<String>) -> Problem {
        Problem::new(kind, Severity::Error, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    /// Counts toward a non-zero exit status.
    pub fn is_problem(&self) -> bool {
        self.severity != Severity::Info
    }

    /// `error (stub): message` and an indented hint line.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} ({}): {}",
            self.severity.as_str(),
            self.kind.as_str(),
            self.message
        );
        if let Some(h) = &self.hint {
            s.push_str(&format!("\n  hint: {h}"));
        }
        s
    }
}

/// `ok`, `warning` or `error`: the worst of `problems`.
pub fn status(problems: &[Problem]) -> &'static str {
    match problems
        .iter()
        .filter(|p| p.is_problem())
        .map(|p| p.severity)
        .min()
    {
        Some(Severity::Error) => "error",
        Some(_) => "warning",
        None => "ok",
    }
}

/// Everything known about one unit.
#[derive(Debug, Default, Clone)]
pub struct UnitFacts {
    pub name: String,
    /// The input it comes from, when one does.
    pub source: Option<PathBuf>,
    /// Set when the unit is (or would be generated as) a failure stub: the error.
    pub stub_error: Option<String>,
    /// The unit's text as the generator library makes it from the inputs now.
    pub expected_text: Option<String>,
    /// The file our generator wrote for it at the last daemon-reload, with its text.
    pub on_disk: Option<(PathBuf, String)>,
    /// Set when Podman's own Quadlet generator handles the input's directory: its path.
    pub podman_generator: Option<PathBuf>,
    /// `systemctl show` properties; empty when systemd could not be asked.
    pub props: HashMap<String, String>,
    /// Units it requires that failed or are not loaded: (unit, how).
    pub failed_deps: Vec<(String, String)>,
    /// Set when unitsmith generated it and no input gives it any more: how we know.
    pub input_removed: Option<String>,
    /// systemd has it loaded from a `FragmentPath` that no longer exists.
    pub fragment_gone: bool,
    /// The generator makes it of an input root does not trust: a failure stub in the late
    /// generator directory, which every unit file of its name outranks.
    pub untrusted: bool,
}

impl UnitFacts {
    pub fn prop(&self, key: &str) -> &str {
        self.props.get(key).map(String::as_str).unwrap_or("")
    }

    /// Running, in systemd's view (a stop would do something).
    pub fn running(&self) -> bool {
        matches!(
            self.prop("ActiveState"),
            "active" | "activating" | "reloading" | "deactivating" | "refreshing"
        )
    }
}

/// What holds for every unit: is our generator installed, where do generators write.
#[derive(Debug, Clone)]
pub struct Context {
    pub generator: Result<PathBuf, String>,
    pub output_dirs: Vec<PathBuf>,
    /// `--user` or not, for hints.
    pub user: bool,
}

impl Context {
    fn systemctl(&self) -> &'static str {
        if self.user {
            "systemctl --user"
        } else {
            "systemctl"
        }
    }
    fn reload_cmd(&self) -> &'static str {
        if self.user {
            "unitsmith reload --user"
        } else {
            "unitsmith reload"
        }
    }
    /// The command that stops units whose input was removed.
    fn removal_cmd(&self) -> String {
        format!("{} --restart-changed", self.reload_cmd())
    }
}

/// A running unit whose input or unit file is gone, when `f` is one.
fn input_removed(f: &UnitFacts, cx: &Context) -> Option<Problem> {
    if !f.running() {
        return None;
    }
    let name = &f.name;
    let (message, hint) = if let Some(how) = &f.input_removed {
        (
            format!("{name} still runs, but {how}"),
            format!(
                "`{}` stops it (`--keep-removed` would keep it running)",
                cx.removal_cmd()
            ),
        )
    } else if f.fragment_gone {
        (
            format!(
                "{name} still runs, but its unit file {} is gone",
                f.prop("FragmentPath")
            ),
            format!(
                "`{}` generates it again, or stops it when its input is gone too",
                cx.removal_cmd()
            ),
        )
    } else if f.prop("LoadState") == "not-found" && f.source.is_none() {
        (
            format!("{name} still runs, but systemd has no unit file for it any more (LoadState=not-found): its file or input was removed"),
            format!(
                "when a Quadlet file gave it, `{}` stops it; otherwise `{} stop {name}`",
                cx.removal_cmd(),
                cx.systemctl()
            ),
        )
    } else {
        return None;
    };
    Some(Problem::new(Kind::InputRemoved, Severity::Warning, message).hint(hint))
}

/// A failure stub's error says whether it failed itself or because of a dependency.
pub fn stub_kind(error: &str) -> Kind {
    let first = error.lines().next().unwrap_or("");
    if first.contains(": depends on ") && first.contains("which failed") {
        Kind::DependencyFailed
    } else {
        Kind::Stub
    }
}

/// The problems of one unit, most fundamental first.
pub fn classify(f: &UnitFacts, cx: &Context) -> Vec<Problem> {
    let mut out = Vec::new();
    if f.props.is_empty() || f.prop("LoadState").is_empty() {
        out.push(
            Problem::error(
                Kind::Systemd,
                format!("cannot ask systemd about {}", f.name),
            )
            .hint(format!(
                "is the manager running? try `{} status {}`",
                cx.systemctl(),
                f.name
            )),
        );
    }
    if let Some(err) = &f.stub_error {
        let kind = stub_kind(err);
        let mut p = Problem::error(kind, err.trim_end().to_string());
        // The error carries its own hint when one is obvious; otherwise say what to do.
        if !err.contains("hint:") {
            p = p.hint(format!(
                "{} is a failure stub: fix the file, then run `{}`",
                f.name,
                cx.reload_cmd()
            ));
        }
        out.push(p);
    }
    let removed = input_removed(f, cx);
    let load = f.prop("LoadState");
    match load {
        "" | "loaded" => {}
        // Its input is gone and it still runs: that is the problem, not the missing file.
        "not-found" if removed.is_some() => {}
        "masked" => out.push(
            Problem::error(Kind::Masked, format!("{} is masked", f.name)).hint(format!(
                "{} unmask {}",
                cx.systemctl(),
                f.name
            )),
        ),
        "not-found" => out.push(not_loaded_cause(f, cx)),
        other => {
            let why = match f.prop("LoadError") {
                "" => String::new(),
                e => format!(": {e}"),
            };
            let file = match f.prop("FragmentPath") {
                "" => f.name.clone(),
                p => p.to_string(),
            };
            out.push(
                Problem::error(
                    Kind::LoadError,
                    format!("systemd cannot load {} (LoadState={other}){why}", f.name),
                )
                .hint(format!(
                    "systemd-analyze{} verify {file}",
                    if cx.user { " --user" } else { "" }
                )),
            );
        }
    }
    if load == "loaded" {
        let fragment = f.prop("FragmentPath");
        let from_generator = cx
            .output_dirs
            .iter()
            .any(|d| Path::new(fragment).starts_with(d));
        if f.untrusted && !fragment.is_empty() && !from_generator {
            out.push(Problem::new(
                Kind::Overridden,
                Severity::Info,
                format!("systemd loads {fragment}, not this failure stub: the stub of an input root does not trust goes to the late generator directory, below every unit directory, so it never takes the place of a unit file"),
            ));
        } else if f.source.is_some()
            && f.podman_generator.is_none()
            && !fragment.is_empty()
            && !from_generator
        {
            out.push(
                Problem::new(
                    Kind::Overridden,
                    Severity::Warning,
                    format!("systemd loads {fragment}, not the generated unit: a unit file of the same name comes first in systemd's search path"),
                )
                .hint(format!("remove {fragment} (or rename the input) and run `{}`", cx.reload_cmd())),
            );
        } else if removed.is_some() || f.input_removed.is_some() {
            // Said below: the input (or the file) is gone, which is more than stale; or it is
            // gone and the unit does not run, which the next reload tidies up.
        } else if f.prop("NeedDaemonReload") == "yes" {
            out.push(
                Problem::new(
                    Kind::Stale,
                    Severity::Warning,
                    format!("{} changed on disk since systemd loaded it", f.name),
                )
                .hint(format!("run `{}`", cx.reload_cmd())),
            );
        } else if let (Some(want), Some((path, have))) = (&f.expected_text, &f.on_disk) {
            if want != have {
                out.push(
                    Problem::new(
                        Kind::Stale,
                        Severity::Warning,
                        format!("{} differs from what the inputs give now: an input changed since the last daemon-reload", path.display()),
                    )
                    .hint(format!("run `{}`", cx.reload_cmd())),
                );
            }
        }
    }
    out.extend(removed);
    let active = f.prop("ActiveState");
    let result = f.prop("Result");
    let failed =
        active == "failed" || (active == "inactive" && !result.is_empty() && result != "success");
    if failed && f.stub_error.is_none() {
        out.push(
            Problem::error(
                Kind::Failed,
                format!(
                    "{} failed (ActiveState={active}, SubState={}, Result={result})",
                    f.name,
                    f.prop("SubState")
                ),
            )
            .hint(format!(
                "journalctl{} -b -u {}",
                if cx.user { " --user" } else { "" },
                f.name
            )),
        );
    }
    if !matches!(active, "active" | "reloading" | "activating") {
        for (dep, how) in &f.failed_deps {
            out.push(
                Problem::error(
                    Kind::DependencyFailed,
                    format!("{} requires {dep}, which {how}", f.name),
                )
                .hint(format!("fix {dep} first (unitsmith doctor {dep})")),
            );
        }
    }
    out
}

/// Why systemd has no unit that an input should give.
fn not_loaded_cause(f: &UnitFacts, cx: &Context) -> Problem {
    let name = &f.name;
    if let Some(pg) = &f.podman_generator {
        return Problem::error(
            Kind::PodmanGenerator,
            format!(
                "{name} is not loaded; its input is in a directory that Podman's Quadlet generator {} handles, so unitsmith-generator leaves it alone",
                pg.display()
            ),
        )
        .hint(format!("check `{} -dryrun`, or move the file to unitsmith's own directory", pg.display()));
    }
    if f.source.is_none() {
        return Problem::error(
            Kind::NotLoaded,
            format!("{name} is not loaded (LoadState=not-found) and no input file gives it"),
        )
        .hint(format!(
            "`unitsmith doctor{} {name}` also looks for its file in the usual wrong places",
            if cx.user { " --user" } else { "" }
        ));
    }
    if let Err(why) = &cx.generator {
        return Problem::error(
            Kind::GeneratorMissing,
            format!("{name} is not generated: {why}"),
        )
        .hint(generator_hint(cx.user));
    }
    match &f.on_disk {
        Some((path, _)) => Problem::error(
            Kind::NotLoaded,
            format!("{name} is not loaded although the generator wrote {}", path.display()),
        )
        .hint(format!("run `{}`", cx.reload_cmd())),
        None => Problem::error(
            Kind::NotLoaded,
            format!(
                "{name} is not loaded and the generator has not written it: its input {} is newer than the last daemon-reload, or the generator failed",
                f.source.as_ref().map(|s| s.display().to_string()).unwrap_or_default()
            ),
        )
        .hint(format!("run `{}`; see also `journalctl -b | grep unitsmith-generator`", cx.reload_cmd())),
    }
}

/// What to do when the generator is not installed.
pub fn generator_hint(user: bool) -> String {
    if user {
        "`make install` links it into /usr/local/lib/systemd/user-generators; then `systemctl --user daemon-reload`".into()
    } else {
        "`make install` puts it in /usr/local/lib/systemd/system-generators; then `systemctl daemon-reload`".into()
    }
}

/// How a dependency is failing, or None when it is fine.
pub fn dep_failure(props: &HashMap<String, String>) -> Option<String> {
    let get = |k: &str| props.get(k).map(String::as_str).unwrap_or("");
    match get("LoadState") {
        "loaded" | "" => {}
        "not-found" => return Some("does not exist (LoadState=not-found)".to_string()),
        other => return Some(format!("cannot be loaded (LoadState={other})")),
    }
    if get("ActiveState") == "failed" {
        return Some(format!("failed (Result={})", get("Result")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn cx() -> Context {
        Context {
            generator: Ok("/usr/local/lib/systemd/system-generators/unitsmith-generator".into()),
            output_dirs: vec!["/run/systemd/generator".into()],
            user: false,
        }
    }

    fn running(name: &str) -> UnitFacts {
        UnitFacts {
            name: name.into(),
            source: Some("/etc/containers/systemd/web.container".into()),
            props: props(&[
                ("LoadState", "loaded"),
                ("ActiveState", "active"),
                ("SubState", "running"),
                ("Result", "success"),
                ("FragmentPath", "/run/systemd/generator/web.service"),
                ("NeedDaemonReload", "no"),
            ]),
            ..UnitFacts::default()
        }
    }

    fn kinds(p: &[Problem]) -> Vec<Kind> {
        p.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn a_running_generated_unit_is_fine() {
        let p = classify(&running("web.service"), &cx());
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(status(&p), "ok");
    }

    #[test]
    fn stubs_say_their_error_and_dependency_failures_are_told_apart() {
        let mut f = running("bad.service");
        f.props.insert("ActiveState".into(), "failed".into());
        f.props.insert("Result".into(), "exit-code".into());
        f.stub_error = Some(
            "/e/bad.container:2: [Container] Imag: unsupported key\n  hint: did you mean 'Image'?"
                .into(),
        );
        let p = classify(&f, &cx());
        assert_eq!(
            kinds(&p),
            [Kind::Stub],
            "a stub's failure is its error, told once"
        );
        assert!(p[0].message.contains("bad.container:2"));
        assert!(p[0].message.contains("did you mean 'Image'?"));
        assert_eq!(status(&p), "error");

        f.stub_error = Some("/e/app.container: converting \"app.container\": depends on data.volume (data-volume.service), which failed: x".into());
        assert_eq!(kinds(&classify(&f, &cx())), [Kind::DependencyFailed]);
    }

    #[test]
    fn not_loaded_gets_the_right_cause() {
        let mut f = running("web.service");
        f.props = props(&[
            ("LoadState", "not-found"),
            ("ActiveState", "inactive"),
            ("Result", "success"),
        ]);

        let mut c = cx();
        c.generator = Err(
            "unitsmith-generator is not installed in systemd's generator directories (...)".into(),
        );
        let p = classify(&f, &c);
        assert_eq!(kinds(&p), [Kind::GeneratorMissing]);
        assert!(p[0].message.contains("not installed"));

        let p = classify(&f, &cx());
        assert_eq!(kinds(&p), [Kind::NotLoaded]);
        assert!(p[0].message.contains("has not written it"));

        f.on_disk = Some(("/run/systemd/generator/web.service".into(), "x".into()));
        assert!(classify(&f, &cx())[0]
            .message
            .contains("although the generator wrote"));

        f.podman_generator =
            Some("/usr/lib/systemd/system-generators/podman-system-generator".into());
        assert_eq!(kinds(&classify(&f, &cx())), [Kind::PodmanGenerator]);

        let orphan = UnitFacts {
            name: "x.service".into(),
            props: f.props.clone(),
            ..UnitFacts::default()
        };
        let p = classify(&orphan, &cx());
        assert_eq!(kinds(&p), [Kind::NotLoaded]);
        assert!(p[0].message.contains("no input file gives it"));
    }

    #[test]
    fn overridden_stale_masked_bad_setting() {
        let mut f = running("web.service");
        f.props.insert(
            "FragmentPath".into(),
            "/etc/systemd/system/web.service".into(),
        );
        let p = classify(&f, &cx());
        assert_eq!(kinds(&p), [Kind::Overridden]);
        assert_eq!(status(&p), "warning");

        let mut f = running("web.service");
        f.props.insert("NeedDaemonReload".into(), "yes".into());
        assert_eq!(kinds(&classify(&f, &cx())), [Kind::Stale]);

        let mut f = running("web.service");
        f.expected_text = Some("new".into());
        f.on_disk = Some(("/run/systemd/generator/web.service".into(), "old".into()));
        assert_eq!(kinds(&classify(&f, &cx())), [Kind::Stale]);
        f.on_disk = Some(("/run/systemd/generator/web.service".into(), "new".into()));
        assert!(classify(&f, &cx()).is_empty());

        let mut f = running("web.service");
        f.props.insert("LoadState".into(), "masked".into());
        assert_eq!(kinds(&classify(&f, &cx())), [Kind::Masked]);
        f.props.insert("LoadState".into(), "bad-setting".into());
        f.props.insert(
            "LoadError".into(),
            "org.freedesktop.systemd1.BadUnitSetting \"Unit has a bad setting\"".into(),
        );
        let p = classify(&f, &cx());
        assert_eq!(kinds(&p), [Kind::LoadError]);
        assert!(p[0].message.contains("BadUnitSetting"));
    }

    /// The stub of an input root does not trust, outranked by the vendor's unit of its name
    /// (as the generator means it to be): said, as information, and never "remove" the
    /// vendor's file.
    #[test]
    fn an_untrusted_inputs_stub_under_a_vendor_unit() {
        let mut f = running("ssh.service");
        f.source = Some("/etc/containers/systemd/team/ssh.container".into());
        f.stub_error = Some("/etc/containers/systemd/team/ssh.container: not used: /etc/containers/systemd/team is owned by uid 1000, mode 0755".into());
        f.untrusted = true;
        f.props.insert(
            "FragmentPath".into(),
            "/usr/lib/systemd/system/ssh.service".into(),
        );
        let p = classify(&f, &cx());
        assert_eq!(kinds(&p), [Kind::Stub, Kind::Overridden]);
        assert_eq!(p[1].severity, Severity::Info);
        assert!(p[1].message.contains("late generator directory"), "{p:?}");
        assert_eq!(p[1].hint, None);
        // Where no unit file has its name, systemd loads the stub: nothing more to say.
        f.props.insert(
            "FragmentPath".into(),
            "/run/systemd/generator/ssh.service".into(),
        );
        assert_eq!(kinds(&classify(&f, &cx())), [Kind::Stub]);
        // Root's own input under a unit file of its name is a mistake to fix.
        f.untrusted = false;
        f.props.insert(
            "FragmentPath".into(),
            "/usr/lib/systemd/system/ssh.service".into(),
        );
        let p = classify(&f, &cx());
        assert_eq!(p[1].severity, Severity::Warning);
        assert!(p[1].hint.as_deref().unwrap_or("").starts_with("remove "));
    }

    #[test]
    fn failed_units_and_failed_dependencies() {
        let mut f = running("web.service");
        f.props.insert("ActiveState".into(), "failed".into());
        f.props.insert("SubState".into(), "failed".into());
        f.props.insert("Result".into(), "exit-code".into());
        let p = classify(&f, &cx());
        assert_eq!(kinds(&p), [Kind::Failed]);
        assert!(p[0].message.contains("Result=exit-code"));

        let mut f = running("web.service");
        f.props.insert("ActiveState".into(), "inactive".into());
        f.failed_deps = vec![(
            "data-volume.service".into(),
            "failed (Result=exit-code)".into(),
        )];
        let p = classify(&f, &cx());
        assert_eq!(kinds(&p), [Kind::DependencyFailed]);
        assert!(p[0]
            .message
            .contains("requires data-volume.service, which failed"));

        // A running unit is not blamed for a dependency that failed later.
        let mut f = running("web.service");
        f.failed_deps = vec![(
            "data-volume.service".into(),
            "failed (Result=exit-code)".into(),
        )];
        assert!(classify(&f, &cx()).is_empty());
    }

    #[test]
    fn a_running_unit_whose_input_is_gone_is_named() {
        // Its input removed, then daemon-reload: systemd knows it only as not-found, running.
        let mut f = UnitFacts {
            name: "gone.service".into(),
            props: props(&[
                ("LoadState", "not-found"),
                ("ActiveState", "active"),
                ("SubState", "running"),
            ]),
            input_removed: Some("no input gives it any more".into()),
            ..UnitFacts::default()
        };
        let p = classify(&f, &cx());
        assert_eq!(kinds(&p), [Kind::InputRemoved], "{p:?}");
        assert_eq!(status(&p), "warning");
        assert!(p[0]
            .message
            .contains("gone.service still runs, but no input"));
        assert_eq!(
            p[0].hint.as_deref(),
            Some("`unitsmith reload --restart-changed` stops it (`--keep-removed` would keep it running)")
        );
        // Stopped: nothing to say about it.
        f.props.insert("ActiveState".into(), "inactive".into());
        assert_eq!(kinds(&classify(&f, &cx())), [Kind::NotLoaded]);

        // Not ours as far as we know, but running without a unit file: still named.
        let orphan = UnitFacts {
            name: "orphan.service".into(),
            props: props(&[("LoadState", "not-found"), ("ActiveState", "active")]),
            ..UnitFacts::default()
        };
        let p = classify(&orphan, &cx());
        assert_eq!(kinds(&p), [Kind::InputRemoved]);
        assert!(p[0]
            .hint
            .as_ref()
            .unwrap()
            .contains("systemctl stop orphan.service"));

        // Loaded from a file that is gone (no daemon-reload since).
        let mut f = running("web.service");
        f.fragment_gone = true;
        f.props.insert("NeedDaemonReload".into(), "yes".into());
        let p = classify(&f, &cx());
        assert_eq!(kinds(&p), [Kind::InputRemoved], "not also stale");
        assert!(p[0]
            .message
            .contains("its unit file /run/systemd/generator/web.service is gone"));
    }

    #[test]
    fn unreachable_systemd_is_reported() {
        let f = UnitFacts {
            name: "web.service".into(),
            source: Some("/x".into()),
            ..UnitFacts::default()
        };
        assert_eq!(kinds(&classify(&f, &cx())), [Kind::Systemd]);
    }

    #[test]
    fn dependency_states() {
        assert_eq!(
            dep_failure(&props(&[
                ("LoadState", "loaded"),
                ("ActiveState", "active")
            ])),
            None
        );
        assert!(dep_failure(&props(&[("LoadState", "not-found")]))
            .unwrap()
            .contains("does not exist"));
        assert!(dep_failure(&props(&[
            ("LoadState", "loaded"),
            ("ActiveState", "failed"),
            ("Result", "timeout")
        ]))
        .unwrap()
        .contains("Result=timeout"));
    }
}
