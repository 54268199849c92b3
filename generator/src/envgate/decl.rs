//! The `.envgate` declaration: keys, defaults and validation. Everything that can be checked
//! without running is checked here, so a bad declaration becomes a failure stub at boot (with
//! file:line:key) instead of a helper that misbehaves later.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::duration;
use crate::quadlet::ConvertError;
use crate::split::{self, SplitFlags};
use crate::unitfile::UnitFile;

pub const GROUP: &str = "EnvGate";
pub const UNIT: &str = "Unit";
pub const INSTALL: &str = "Install";

/// The `[EnvGate]` keys (documented in man/unitsmith.envgate.5).
pub const KEYS: &[&str] = &[
    "WaitFor",
    "WaitForCloudInit",
    "AllowUntrustedWaitFor",
    "Output",
    "OutputMode",
    "OutputFormat",
    "Import",
    "Exec",
    "ExecTimeout",
    "StubKeys",
    "Consumer",
    "HoldConsumers",
    "Timeout",
    "PollInterval",
    "SettleTime",
];
/// The keys that take lists (repeatable; an empty assignment resets them).
pub const LIST_KEYS: &[&str] = &["WaitFor", "Import", "StubKeys", "Consumer"];
/// `[Unit]` keys a declaration may carry. Ordering keys are refused on purpose: a gate ordered
/// after a late unit (`After=cloud-final.service`) makes an ordering cycle with
/// multi-user.target. Waiting is the wait unit's job.
pub const UNIT_KEYS: &[&str] = &["Description", "Documentation"];
pub const INSTALL_KEYS: &[&str] = &["WantedBy", "RequiredBy"];

/// cloud-init writes this when its last stage (cloud-final) has finished.
pub const CLOUD_INIT_RESULT: &str = "/run/cloud-init/result.json";

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
pub const DEFAULT_SETTLE_TIME: Duration = Duration::from_millis(500);
pub const DEFAULT_OUTPUT_MODE: u32 = 0o600;
/// On the boot path (populate), Exec= gets at most this long, whatever `ExecTimeout=` says:
/// the consumers, and the target that wants the gate, wait for populate.
pub const POPULATE_EXEC_TIMEOUT: Duration = Duration::from_secs(3);

/// Who reads the output, and so how its values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// systemd's `EnvironmentFile=` and `sh`: values quoted where they need it.
    #[default]
    Systemd,
    /// Podman's `--env-file` (Quadlet's `[Container] EnvironmentFile=`): values as they are,
    /// since Podman takes quotes literally; a value with a newline cannot be written.
    Podman,
}

/// A parsed, validated declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decl {
    /// `NAME` of `NAME.envgate`.
    pub name: String,
    /// The declaration file (drop-ins are merged).
    pub source: PathBuf,
    pub description: Option<String>,
    pub documentation: Vec<String>,
    /// The gate opens when any of these exists and is complete.
    pub wait_for: Vec<PathBuf>,
    /// Also require [`CLOUD_INIT_RESULT`].
    pub wait_for_cloud_init: bool,
    /// Take WaitFor= files that users other than root and the consumers' users could have
    /// written (by default the helper refuses them, as sshd's StrictModes does).
    pub allow_untrusted_wait_for: bool,
    pub output: PathBuf,
    pub output_mode: u32,
    /// Which reader the output is written for.
    pub output_format: OutputFormat,
    /// Keys copied from the file that arrived.
    pub import: Vec<String>,
    /// Command whose stdout (KEY=VALUE lines) is added to the output.
    pub exec: Option<Vec<String>>,
    pub exec_timeout: Duration,
    /// Keys defined empty in the stub.
    pub stub_keys: Vec<String>,
    /// Services ordered after the gate and restarted when it opens.
    pub consumers: Vec<String>,
    /// Skip (not fail) the consumers while the output is the stub.
    pub hold_consumers: bool,
    /// When the wait unit gives up.
    pub timeout: Duration,
    pub poll_interval: Duration,
    /// How long a file must stay unchanged to count as complete.
    pub settle_time: Duration,
    pub wanted_by: Vec<String>,
    pub required_by: Vec<String>,
}

impl Decl {
    /// `NAME.service`: the populate unit, the gate itself.
    pub fn service(&self) -> String {
        format!("{}.service", self.name)
    }

    /// `NAME-wait.service`.
    pub fn wait_service(&self) -> String {
        format!("{}-wait.service", self.name)
    }

    /// The consumer drop-in, relative to the generator output directory.
    pub fn dropin(&self, consumer: &str) -> String {
        format!("{consumer}.d/50-unitsmith-envgate-{}.conf", self.name)
    }

    /// Every file the gate needs: the WaitFor files (any one) and, with WaitForCloudInit=,
    /// cloud-init's result file (required).
    pub fn required_files(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        if self.wait_for_cloud_init {
            v.push(PathBuf::from(CLOUD_INIT_RESULT));
        }
        v
    }
}

/// The gate's name for a declaration file name, when it is a usable one.
pub fn gate_name(filename: &str) -> Result<String, ConvertError> {
    let name = filename.strip_suffix(".envgate").unwrap_or(filename);
    if name.is_empty() {
        return Err(ConvertError::new("an env gate needs a name: NAME.envgate"));
    }
    if name.contains('@') {
        return Err(ConvertError::new(format!(
            "\"{filename}\": env gates cannot be templates ('@' in the name)"
        ))
        .hint("give each gate its own NAME.envgate; drop-ins (NAME.envgate.d/*.conf) can share settings"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-')))
    {
        return Err(ConvertError::new(format!(
            "\"{filename}\": '{c}' cannot be in a unit name (use letters, digits, ':', '_', '.', '-')"
        )));
    }
    if name.ends_with("-wait") {
        return Err(ConvertError::new(format!(
            "\"{filename}\": a gate's name must not end in \"-wait\": {name}.service would be the wait unit of gate {}",
            name.trim_end_matches("-wait")
        ))
        .hint("rename the file"));
    }
    Ok(name.to_string())
}

/// Parse and validate a declaration (drop-ins already merged).
pub fn parse(unit: &UnitFile) -> Result<Decl, ConvertError> {
    let name = gate_name(&unit.filename)?;
    check_groups(unit)?;
    check_keys(unit, GROUP, KEYS)?;
    check_keys(unit, UNIT, UNIT_KEYS)?;
    check_keys(unit, INSTALL, INSTALL_KEYS)?;
    check_no_inline_comments(unit)?;

    let wait_for = paths(unit, "WaitFor")?;
    let wait_for_cloud_init = boolean(unit, "WaitForCloudInit", false)?;
    let allow_untrusted_wait_for = boolean(unit, "AllowUntrustedWaitFor", false)?;
    if allow_untrusted_wait_for && wait_for.is_empty() {
        return Err(ConvertError::new(
            "AllowUntrustedWaitFor= relaxes the checks on WaitFor= files, and there is none",
        )
        .at(GROUP, "AllowUntrustedWaitFor")
        .hint("remove it, or add WaitFor="));
    }
    let output = match unit.lookup_last(GROUP, "Output").filter(|v| !v.is_empty()) {
        None => {
            return Err(
                ConvertError::new("Output= is required: the env file the consumers read")
                    .at(GROUP, "Output")
                    .hint("e.g. Output=/etc/vector/vector.env"),
            );
        }
        Some(v) => {
            let words = words("Output", v)?;
            if words.len() != 1 {
                return Err(ConvertError::new(format!(
                    "Output= takes one path, got {}",
                    words.len()
                ))
                .at(GROUP, "Output"));
            }
            absolute_path("Output", &words[0])?
        }
    };
    if let Some(w) = wait_for.iter().find(|w| **w == output) {
        return Err(ConvertError::new(format!(
            "Output={} is also a WaitFor= file: the gate would open on its own stub",
            w.display()
        ))
        .at(GROUP, "Output"));
    }
    let output_mode = match unit
        .lookup_last(GROUP, "OutputMode")
        .filter(|v| !v.is_empty())
    {
        None => DEFAULT_OUTPUT_MODE,
        Some(v) => parse_mode(v).map_err(|e| ConvertError::new(e).at(GROUP, "OutputMode"))?,
    };
    let output_format = match unit.lookup_last(GROUP, "OutputFormat") {
        None | Some("") | Some("systemd") => OutputFormat::Systemd,
        Some("podman") => OutputFormat::Podman,
        Some(v) => {
            return Err(ConvertError::new(format!(
                "OutputFormat={v}: not a format: systemd (EnvironmentFile= of a service, sh) or \
                 podman (EnvironmentFile= of a Quadlet [Container], podman --env-file)"
            ))
            .at(GROUP, "OutputFormat"))
        }
    };
    let import = env_names(unit, "Import")?;
    let exec = match unit.lookup_last(GROUP, "Exec").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => {
            let argv = split::split_exec(v).map_err(|e| {
                ConvertError::new(format!("Exec= does not split into words: {e}")).at(GROUP, "Exec")
            })?;
            match argv.first() {
                None => None,
                Some(bin) if !bin.starts_with('/') => {
                    return Err(ConvertError::new(format!(
                        "Exec= must start with an absolute path, not \"{bin}\""
                    ))
                    .at(GROUP, "Exec")
                    .hint(
                        "write the full path of the program, e.g. /usr/local/libexec/fetch-creds",
                    ));
                }
                Some(_) => Some(argv),
            }
        }
    };
    let exec_timeout = span(unit, "ExecTimeout", DEFAULT_EXEC_TIMEOUT)?;
    let stub_keys = env_names(unit, "StubKeys")?;
    let consumers = consumers(unit)?;
    let hold_consumers = boolean(unit, "HoldConsumers", true)?;
    let timeout = span(unit, "Timeout", DEFAULT_TIMEOUT)?;
    let poll_interval = span(unit, "PollInterval", DEFAULT_POLL_INTERVAL)?;
    if poll_interval < Duration::from_millis(100) {
        return Err(
            ConvertError::new("PollInterval= must be at least 100ms").at(GROUP, "PollInterval")
        );
    }
    let settle_time = span(unit, "SettleTime", DEFAULT_SETTLE_TIME)?;
    let wanted_by = unit.lookup_all_strv(INSTALL, "WantedBy");
    let required_by = unit.lookup_all_strv(INSTALL, "RequiredBy");

    if wait_for.is_empty() && !wait_for_cloud_init {
        return Err(ConvertError::new(
            "nothing to wait for: set WaitFor= (a file) and/or WaitForCloudInit=yes",
        )
        .at(GROUP, "WaitFor")
        .hint("e.g. WaitFor=/etc/app/worker.env"));
    }
    if import.is_empty() && exec.is_none() {
        return Err(ConvertError::new(
            "nothing to build Output from: set Import= (keys to copy from the file that arrived) and/or Exec= (a command printing KEY=VALUE lines)",
        )
        .at(GROUP, if unit.has_key(GROUP, "Import") { "Import" } else { "Output" }));
    }
    if !import.is_empty() && wait_for.is_empty() {
        return Err(ConvertError::new(
            "Import= copies keys from a WaitFor= file, and there is none",
        )
        .at(GROUP, "Import")
        .hint("add WaitFor=, or use Exec= to build the env file"));
    }
    if consumers.is_empty() && wanted_by.is_empty() && required_by.is_empty() {
        return Err(ConvertError::new(
            "nothing starts this gate and it restarts nothing: set Consumer= (the service that reads Output)",
        )
        .at(GROUP, "Output")
        .hint("e.g. Consumer=vector.service, or [Install] WantedBy=multi-user.target"));
    }
    if exec_timeout.is_zero() || timeout.is_zero() {
        let key = if timeout.is_zero() {
            "Timeout"
        } else {
            "ExecTimeout"
        };
        return Err(ConvertError::new(format!("{key}= must be more than 0")).at(GROUP, key));
    }

    Ok(Decl {
        name,
        source: unit.path.clone(),
        description: unit.lookup(UNIT, "Description").filter(|d| !d.is_empty()),
        documentation: unit.lookup_all_strv(UNIT, "Documentation"),
        wait_for,
        wait_for_cloud_init,
        allow_untrusted_wait_for,
        output,
        output_mode,
        output_format,
        import,
        exec,
        exec_timeout,
        stub_keys,
        consumers,
        hold_consumers,
        timeout,
        poll_interval,
        settle_time,
        wanted_by,
        required_by,
    })
}

fn check_groups(unit: &UnitFile) -> Result<(), ConvertError> {
    for g in unit.list_groups() {
        if g.is_empty() || [GROUP, UNIT, INSTALL].contains(&g) {
            continue;
        }
        let mut err = ConvertError::new(format!(
            "unsupported section [{g}] in an env gate: it has [Unit], [EnvGate] and [Install]"
        ));
        if let Some(k) = unit.list_keys(g).first() {
            err = err.at(g, k);
        }
        if let Some(s) = crate::spell::closest(g, &[GROUP, UNIT, INSTALL]) {
            err = err.hint(format!("did you mean [{s}]?"));
        } else if g == "Service" {
            err = err.hint("the gate's units are generated; configure them with [EnvGate] keys");
        }
        return Err(err);
    }
    if !unit.has_group(GROUP) {
        return Err(ConvertError::new("no [EnvGate] section").hint("see man unitsmith.envgate(5)"));
    }
    Ok(())
}

fn check_keys(unit: &UnitFile, group: &str, supported: &[&str]) -> Result<(), ConvertError> {
    for key in unit.list_keys(group) {
        if supported.contains(&key) {
            continue;
        }
        let mut err =
            ConvertError::new(format!("unsupported key '{key}' in group '{group}'")).at(group, key);
        if let Some(s) = crate::spell::closest(key, supported) {
            err = err.hint(format!("did you mean '{s}'?"));
        } else if group == UNIT {
            err = err.hint(
                "an env gate takes no ordering or dependencies: ordering it after a late unit (After=cloud-final.service) makes a cycle with multi-user.target; the wait unit waits instead (WaitFor=, WaitForCloudInit=)",
            );
        }
        return Err(err);
    }
    Ok(())
}

/// `WaitFor=/etc/app/worker.env   # comment` is a classic: unit files have no end-of-line
/// comments, so the comment would become part of the value.
fn check_no_inline_comments(unit: &UnitFile) -> Result<(), ConvertError> {
    for key in unit.list_keys(GROUP) {
        if key == "Exec" {
            continue; // '#' can be a real argument
        }
        for v in unit.lookup_all(GROUP, key) {
            if v.contains(" #") || v.contains("\t#") || v.contains(" ;") {
                return Err(ConvertError::new(format!("{key}= has a comment after its value"))
                    .at(GROUP, key)
                    .hint("unit files have no end-of-line comments: put the comment on a line of its own"));
            }
        }
    }
    Ok(())
}

/// A value split into words (quotes honoured), or an error naming the key.
fn words(key: &str, value: &str) -> Result<Vec<String>, ConvertError> {
    split::split_words(value, split::WHITESPACE, SplitFlags::STRV).map_err(|e| {
        ConvertError::new(format!("{key}= does not split into words: {e}")).at(GROUP, key)
    })
}

/// Every word of every value of `key`; an empty assignment resets the list.
fn all_words(unit: &UnitFile, key: &str) -> Result<Vec<String>, ConvertError> {
    let mut out = Vec::new();
    for v in unit.lookup_all(GROUP, key) {
        out.extend(words(key, v)?);
    }
    Ok(out)
}

fn paths(unit: &UnitFile, key: &str) -> Result<Vec<PathBuf>, ConvertError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for w in all_words(unit, key)? {
        let p = absolute_path(key, &w)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

fn absolute_path(key: &str, p: &str) -> Result<PathBuf, ConvertError> {
    let bad = |why: &str| ConvertError::new(format!("{key}={p}: {why}")).at(GROUP, key);
    if !p.starts_with('/') {
        return Err(
            bad("not an absolute path").hint("paths start with '/', e.g. /etc/app/worker.env")
        );
    }
    if p.ends_with('/') {
        return Err(bad("names a directory; give the file"));
    }
    if Path::new(p)
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || p.contains("//")
    {
        return Err(bad("not a normalised path ('.', '..' or '//')"));
    }
    if p == "/" {
        return Err(bad("names the root directory"));
    }
    Ok(PathBuf::from(p))
}

/// POSIX shell variable names: what EnvironmentFile= and sh both read.
pub fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn env_names(unit: &UnitFile, key: &str) -> Result<Vec<String>, ConvertError> {
    let mut out: Vec<String> = Vec::new();
    for w in all_words(unit, key)? {
        if !valid_env_name(&w) {
            let mut err = ConvertError::new(format!(
                "{key}=: \"{w}\" is not a variable name (letters, digits and '_', not starting with a digit)"
            ))
            .at(GROUP, key);
            if w.contains('=') {
                err = err.hint(format!(
                    "{key}= lists names only; values come from the file or Exec="
                ));
            } else if w.contains(',') {
                err = err.hint("separate names with spaces, not commas");
            }
            return Err(err);
        }
        if !out.contains(&w) {
            out.push(w);
        }
    }
    Ok(out)
}

fn consumers(unit: &UnitFile) -> Result<Vec<String>, ConvertError> {
    let mut out: Vec<String> = Vec::new();
    for c in all_words(unit, "Consumer")? {
        let bad =
            |why: String| ConvertError::new(format!("Consumer={c}: {why}")).at(GROUP, "Consumer");
        if c.contains('/') {
            return Err(bad("a unit name, not a path".into()));
        }
        let Some(stem) = c.strip_suffix(".service") else {
            let stem = c.rsplit_once('.').map_or(c.as_str(), |(s, _)| s);
            return Err(
                bad("a consumer is a service (it reads the env file)".into())
                    .hint(format!("did you mean '{stem}.service'?")),
            );
        };
        if stem.is_empty() || stem.ends_with('@') {
            return Err(bad(
                "a template needs an instance, e.g. app@one.service".into()
            ));
        }
        if let Some(ch) = stem.chars().find(|ch| {
            !(ch.is_ascii_alphanumeric() || matches!(ch, ':' | '_' | '.' | '-' | '@' | '\\'))
        }) {
            return Err(bad(format!("'{ch}' cannot be in a unit name")));
        }
        if let Err(p) = crate::unitname::check(&c) {
            return Err(bad(format!("not a valid unit name: {p}")));
        }
        // Its drop-in directory, CONSUMER.d, is a file name too.
        if c.len() + ".d".len() > crate::unitname::MAX_LEN {
            return Err(bad(format!(
                "{} bytes: too long for its drop-in directory {c}.d (at most {} bytes)",
                c.len(),
                crate::unitname::MAX_LEN - 2
            )));
        }
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// systemd's boolean words; anything else is an error (not silently false).
fn boolean(unit: &UnitFile, key: &str, default: bool) -> Result<bool, ConvertError> {
    let Some(v) = unit.lookup(GROUP, key).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Ok(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Ok(false),
        _ => Err(ConvertError::new(format!("{key}={v}: not a boolean (yes or no)")).at(GROUP, key)),
    }
}

fn span(unit: &UnitFile, key: &str, default: Duration) -> Result<Duration, ConvertError> {
    match unit.lookup(GROUP, key).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => duration::parse(&v).map_err(|e| {
            ConvertError::new(format!("{key}={v}: {e}"))
                .at(GROUP, key)
                .hint("a time span such as 90s, 30min or 1h 30min")
        }),
    }
}

/// An octal file mode such as 0600 or 640.
pub fn parse_mode(v: &str) -> Result<u32, String> {
    let t = v.trim();
    if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(format!(
            "OutputMode={v}: not an octal file mode such as 0600"
        ));
    }
    let m = u32::from_str_radix(t, 8).map_err(|e| format!("OutputMode={v}: {e}"))?;
    if m > 0o777 {
        return Err(format!(
            "OutputMode={v}: only permission bits (at most 0777)"
        ));
    }
    if m & 0o400 == 0 {
        return Err(format!(
            "OutputMode={v}: the owner must be able to read the file (0400)"
        ));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn unit(name: &str, text: &str) -> UnitFile {
        UnitFile::parse(
            text.as_bytes(),
            Path::new(&format!("/etc/unitsmith/{name}")),
        )
        .unwrap()
    }

    const GOOD: &str = "[Unit]
Description=Vector credentials
[EnvGate]
WaitFor=/etc/app/worker.env
WaitFor=/etc/app/server.env
Output=/etc/vector/vector.env
Import=VAULT_NAME REGION
Exec=/usr/local/libexec/fetch-creds --role \"a b\"
StubKeys=AXIOM_TOKEN AXIOM_DATASET
Consumer=vector.service
Timeout=30min
[Install]
WantedBy=multi-user.target
";

    #[test]
    fn parses_the_example_with_defaults() {
        let d = parse(&unit("vector-creds.envgate", GOOD)).unwrap();
        assert_eq!(d.name, "vector-creds");
        assert_eq!(d.service(), "vector-creds.service");
        assert_eq!(d.wait_service(), "vector-creds-wait.service");
        assert_eq!(
            d.dropin("vector.service"),
            "vector.service.d/50-unitsmith-envgate-vector-creds.conf"
        );
        assert_eq!(
            d.wait_for,
            [
                PathBuf::from("/etc/app/worker.env"),
                PathBuf::from("/etc/app/server.env")
            ]
        );
        assert_eq!(d.output, PathBuf::from("/etc/vector/vector.env"));
        assert_eq!(d.import, ["VAULT_NAME", "REGION"]);
        assert_eq!(
            d.exec.as_deref().unwrap(),
            ["/usr/local/libexec/fetch-creds", "--role", "a b"]
        );
        assert_eq!(d.stub_keys, ["AXIOM_TOKEN", "AXIOM_DATASET"]);
        assert_eq!(d.consumers, ["vector.service"]);
        assert_eq!(d.timeout, Duration::from_secs(1800));
        assert_eq!(d.output_mode, 0o600);
        assert!(d.hold_consumers);
        assert!(!d.wait_for_cloud_init);
        assert!(
            !d.allow_untrusted_wait_for,
            "untrusted WaitFor= files are refused by default"
        );
        assert_eq!(d.exec_timeout, DEFAULT_EXEC_TIMEOUT);
        assert_eq!(d.poll_interval, DEFAULT_POLL_INTERVAL);
        assert_eq!(d.settle_time, DEFAULT_SETTLE_TIME);
        assert_eq!(d.wanted_by, ["multi-user.target"]);
        assert_eq!(d.description.as_deref(), Some("Vector credentials"));
    }

    #[test]
    fn optional_keys() {
        let d = parse(&unit(
            "g.envgate",
            "[EnvGate]\nWaitForCloudInit=yes\nOutput=/etc/x.env\nExec=/bin/x\nConsumer=a.service b@one.service\nOutputMode=0640\nOutputFormat=podman\nHoldConsumers=no\nPollInterval=500ms\nSettleTime=0\nExecTimeout=1min\n",
        ))
        .unwrap();
        assert!(d.wait_for.is_empty());
        assert!(d.wait_for_cloud_init);
        assert_eq!(d.required_files(), [PathBuf::from(CLOUD_INIT_RESULT)]);
        assert_eq!(d.output_mode, 0o640);
        assert_eq!(d.output_format, OutputFormat::Podman);
        assert!(!d.hold_consumers);
        assert_eq!(d.consumers, ["a.service", "b@one.service"]);
        assert_eq!(d.poll_interval, Duration::from_millis(500));
        assert_eq!(d.settle_time, Duration::ZERO);
        assert_eq!(d.exec_timeout, Duration::from_secs(60));
    }

    fn err(name: &str, text: &str) -> ConvertError {
        parse(&unit(name, text)).unwrap_err()
    }

    const BASE: &str =
        "[EnvGate]\nWaitFor=/etc/a.env\nOutput=/etc/o.env\nImport=A\nConsumer=c.service\n";

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let e = err("g.envgate", &format!("{BASE}Consumers=d.service\n"));
        assert_eq!(e.at, Some(("EnvGate".into(), "Consumers".into())));
        assert_eq!(e.hint.as_deref(), Some("did you mean 'Consumer'?"));
        let e = err("g.envgate", &format!("{BASE}Waitfor=/x\n"));
        assert_eq!(e.hint.as_deref(), Some("did you mean 'WaitFor'?"));
        let e = err(
            "g.envgate",
            &format!("[Unit]\nAfter=cloud-final.service\n{BASE}"),
        );
        assert_eq!(e.at, Some(("Unit".into(), "After".into())));
        assert!(e.hint.unwrap().contains("cycle"));
        let e = err("g.envgate", &format!("{BASE}[Service]\nType=simple\n"));
        assert!(e.message.contains("[Service]"), "{}", e.message);
        let e = err("g.envgate", &format!("{BASE}[Envgate]\nX=1\n"));
        assert_eq!(e.hint.as_deref(), Some("did you mean [EnvGate]?"));
    }

    #[test]
    fn values_are_checked() {
        let cases: &[(&str, &str)] = &[
            ("WaitFor=etc/a.env\n", "not an absolute path"),
            ("Output=/etc/o/\n", "names a directory"),
            ("Output=/etc/../o.env\n", "not a normalised path"),
            ("Output=/etc/a.env\n", "also a WaitFor= file"),
            ("Import=A-B\n", "not a variable name"),
            ("StubKeys=1A\n", "not a variable name"),
            ("Consumer=vector\n", "a consumer is a service"),
            ("Consumer=app@.service\n", "needs an instance"),
            ("Timeout=forever\n", "Timeout=forever"),
            ("Timeout=infinity\n", "bounded"),
            ("Timeout=0\n", "more than 0"),
            ("OutputFormat=docker\n", "not a format: systemd"),
            ("OutputMode=0800\n", "octal"),
            ("OutputMode=0200\n", "owner must be able to read"),
            ("HoldConsumers=maybe\n", "not a boolean"),
            ("AllowUntrustedWaitFor=sure\n", "not a boolean"),
            ("Exec=fetch-creds\n", "absolute path"),
            ("Exec=/bin/x \\q\n", "does not split"),
            ("PollInterval=10ms\n", "at least 100ms"),
            (
                "WaitFor=/etc/b.env   # the role file\n",
                "comment after its value",
            ),
        ];
        for (extra, want) in cases {
            let e = err("g.envgate", &format!("{BASE}{extra}"));
            assert!(
                e.message.contains(want),
                "{extra:?}: {} (wanted {want:?})",
                e.message
            );
        }
        let e = err("g.envgate", &format!("{BASE}Consumer=web.container\n"));
        assert_eq!(e.hint.as_deref(), Some("did you mean 'web.service'?"));
        let e = err("g.envgate", &format!("{BASE}Import=A=1\n"));
        assert!(e.hint.unwrap().contains("names only"));
    }

    #[test]
    fn required_keys_and_combinations() {
        assert!(err(
            "g.envgate",
            "[EnvGate]\nWaitFor=/a\nImport=A\nConsumer=c.service\n"
        )
        .message
        .contains("Output= is required"));
        assert!(err(
            "g.envgate",
            "[EnvGate]\nOutput=/o\nImport=A\nConsumer=c.service\n"
        )
        .message
        .contains("nothing to wait for"));
        assert!(err(
            "g.envgate",
            "[EnvGate]\nWaitFor=/a\nOutput=/o\nConsumer=c.service\n"
        )
        .message
        .contains("nothing to build Output from"));
        assert!(err(
            "g.envgate",
            "[EnvGate]\nWaitForCloudInit=yes\nOutput=/o\nImport=A\nConsumer=c.service\n"
        )
        .message
        .contains("Import= copies keys"));
        assert!(
            err("g.envgate", "[EnvGate]\nWaitFor=/a\nOutput=/o\nImport=A\n")
                .message
                .contains("nothing starts this gate")
        );
        // ... but [Install] alone is enough to start it
        parse(&unit(
            "g.envgate",
            "[EnvGate]\nWaitFor=/a\nOutput=/o\nImport=A\n[Install]\nWantedBy=multi-user.target\n",
        ))
        .unwrap();
        let e = err(
            "g.envgate",
            "[EnvGate]\nWaitForCloudInit=yes\nAllowUntrustedWaitFor=yes\nOutput=/o\nExec=/x\nConsumer=c.service\n",
        );
        assert!(e.message.contains("there is none"), "{}", e.message);
        assert_eq!(
            e.at,
            Some(("EnvGate".into(), "AllowUntrustedWaitFor".into()))
        );
        let d = parse(&unit(
            "g.envgate",
            &format!("{BASE}AllowUntrustedWaitFor=yes\n"),
        ))
        .unwrap();
        assert!(d.allow_untrusted_wait_for);
        assert!(err("g.envgate", "[Unit]\nDescription=x\n")
            .message
            .contains("no [EnvGate]"));
    }

    #[test]
    fn names() {
        assert!(err("a@b.envgate", BASE).message.contains("templates"));
        assert!(err("x-wait.envgate", BASE).message.contains("-wait"));
        assert!(err("a b.envgate", BASE)
            .message
            .contains("cannot be in a unit name"));
        assert_eq!(gate_name("vector-creds.envgate").unwrap(), "vector-creds");
    }

    #[test]
    fn empty_assignment_resets_a_list() {
        let d = parse(&unit(
            "g.envgate",
            &format!("{BASE}WaitFor=\nWaitFor=/etc/z.env\nStubKeys=A B\nStubKeys=\n"),
        ))
        .unwrap();
        assert_eq!(d.wait_for, [PathBuf::from("/etc/z.env")]);
        assert!(d.stub_keys.is_empty());
    }

    #[test]
    fn env_names_and_modes() {
        assert!(valid_env_name("A"));
        assert!(valid_env_name("_a1"));
        assert!(!valid_env_name("1a"));
        assert!(!valid_env_name(""));
        assert!(!valid_env_name("A-B"));
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert_eq!(parse_mode("0644"), Ok(0o644));
        assert!(parse_mode("rw").is_err());
        assert!(parse_mode("04755").is_err());
    }
}
