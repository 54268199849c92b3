//! Which service keys are translated, and how, as data: each key of the Compose
//! specification's service is in [`SERVICE`] with what it becomes, or in [`UNSUPPORTED`]
//! (a service using it becomes a failure stub naming it). `man 5 unitsmith.compose` says the
//! same in prose.
//!
//! Most keys are one Quadlet key taking the value in one of a few shapes ([`Translation`]);
//! a key family with more to it (volumes, networks, health, limits...) has its own module,
//! whose function the table names.

use super::{environment, health, lifecycle, limits, networking, process, volumes};
use super::{Handler, Service};
use crate::compose::check::{flag, string_list, text, Fail};
use crate::compose::resources;
use crate::compose::unit::Q;
use crate::compose::values;
use crate::compose::yaml::{Node, Value};

/// What a service key becomes.
pub enum Translation {
    /// Read before the keys are walked: the container's name, image, networks and
    /// dependencies, which other keys and services build on (see `service::container`).
    Structural,
    /// A string taken as written → `[Container] KEY=`.
    Single(&'static str),
    /// A string → `PodmanArgs=FLAG=VALUE`.
    PodmanFlag(&'static str),
    /// A string or a list → one `[Container] KEY=` per item, each taken as written.
    Each(&'static str),
    /// A string or a list → one `[Container] KEY=` per item, a list item of Quadlet's.
    EachItem(&'static str),
    /// A mapping or `K=V` list → `[Container] KEY=K=V` per entry.
    Pairs(&'static str),
    /// A boolean → `[Container] KEY=yes|no`.
    YesNo(&'static str),
    /// A boolean → `PodmanArgs=FLAG` when true (false is Podman's default).
    PodmanSwitch(&'static str),
    /// A Compose byte size → `[Container] KEY=` in bytes' shorthand.
    Bytes(&'static str),
    /// An integer → `[Container] KEY=`.
    Integer(&'static str),
    /// A key family's own translation.
    By(Handler),
    /// A key that changes nothing a unit does: read and dropped (the table says why).
    NoEffect,
}

use Translation::*;

/// The service keys that are translated, in the specification's order of topics.
pub const SERVICE: &[(&str, Translation)] = &[
    // The container, its image and where it runs.
    ("image", Structural),
    ("build", Structural),
    ("container_name", Structural),
    ("profiles", Structural),
    ("scale", Structural),
    ("depends_on", Structural),
    ("networks", Structural),
    ("network_mode", Structural),
    ("pull_policy", Structural),
    ("platform", PodmanFlag("--platform")),
    ("runtime", PodmanFlag("--runtime")),
    ("extends", Structural),
    // The process.
    ("command", By(process::command)),
    ("entrypoint", By(process::entrypoint)),
    ("user", Single("User")),
    ("group_add", Each("GroupAdd")),
    ("working_dir", Single("WorkingDir")),
    ("environment", By(environment::environment)),
    ("env_file", By(environment::env_files)),
    ("tty", PodmanSwitch("--tty")),
    ("stdin_open", PodmanSwitch("--interactive")),
    ("init", YesNo("RunInit")),
    // Identity and metadata.
    ("hostname", Single("HostName")),
    ("domainname", PodmanFlag("--domainname")),
    ("labels", Pairs("Label")),
    ("annotations", Pairs("Annotation")),
    ("logging", By(process::logging)),
    // Which services' logs `docker compose up` shows; a unit's go to the journal.
    ("attach", NoEffect),
    // Networking.
    ("ports", By(networking::ports)),
    ("expose", By(networking::expose)),
    ("extra_hosts", By(networking::extra_hosts)),
    ("links", Structural),
    ("dns", Each("DNS")),
    ("dns_search", Each("DNSSearch")),
    ("dns_opt", Each("DNSOption")),
    // Storage.
    ("volumes", By(volumes::volumes)),
    ("tmpfs", By(volumes::tmpfs)),
    ("secrets", By(volumes::secrets)),
    ("configs", By(volumes::configs)),
    ("read_only", YesNo("ReadOnly")),
    // Lifecycle and health.
    ("restart", By(lifecycle::restart)),
    ("stop_signal", Single("StopSignal")),
    ("stop_grace_period", By(lifecycle::stop_grace_period)),
    ("healthcheck", By(health::healthcheck)),
    // Security.
    ("privileged", PodmanSwitch("--privileged")),
    ("cap_add", EachItem("AddCapability")),
    ("cap_drop", EachItem("DropCapability")),
    ("devices", EachItem("AddDevice")),
    ("security_opt", By(process::security_opt)),
    ("userns_mode", Single("UserNS")),
    ("ipc", By(process::namespace)),
    ("pid", By(process::namespace)),
    // Resources.
    ("shm_size", Bytes("ShmSize")),
    ("mem_limit", Bytes("Memory")),
    ("cpus", By(limits::cpus)),
    ("pids_limit", Integer("PidsLimit")),
    ("ulimits", By(limits::ulimits)),
    ("sysctls", By(limits::sysctls)),
    ("deploy", By(limits::deploy)),
];

/// Keys of the Compose specification that unitsmith does not translate: a service using one
/// becomes a failure stub naming it.
pub const UNSUPPORTED: &[&str] = &[
    "blkio_config",
    "cpu_count",
    "cpu_percent",
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_runtime",
    "cpu_rt_period",
    "cpuset",
    "cgroup",
    "cgroup_parent",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "external_links",
    "gpus",
    "isolation",
    "label_file",
    "mac_address",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "oom_kill_disable",
    "oom_score_adj",
    "post_start",
    "pre_start",
    "pre_stop",
    "provider",
    "storage_opt",
    "use_api_socket",
    "uts",
    "volumes_from",
];

/// Top-level keys.
pub const TOP: &[&str] = &[
    "version", "name", "include", "services", "networks", "volumes", "secrets", "configs",
];
pub const TOP_UNSUPPORTED: &[&str] = &["models"];

/// The names of the translated service keys.
pub fn supported() -> Vec<&'static str> {
    SERVICE.iter().map(|(k, _)| *k).collect()
}

/// How `key` is translated (`None`: not a translated key, e.g. an `x-` extension).
pub fn translation(key: &str) -> Option<&'static Translation> {
    SERVICE.iter().find(|(k, _)| *k == key).map(|(_, t)| t)
}

/// Translate one key of a service whose value is `v`, as the table says.
pub fn apply(q: &mut Q, s: &Service, t: &Translation, v: &Node, kp: &str) -> Result<(), String> {
    const C: &str = "Container";
    let p = q.p;
    if matches!(v.value, Value::Null) {
        // `KEY:` with nothing after it: docker compose takes it as not set (nginx-proxy's
        // `environment:` holding only a comment).
        return Ok(());
    }
    match t {
        Structural | NoEffect => {}
        Single(k) => q.single(C, k, v, kp)?,
        PodmanFlag(f) => q.add_word(C, "PodmanArgs", &format!("{f}={}", text(p, v, kp)?), v),
        Each(k) => {
            for (s, n) in string_list(p, v, kp)? {
                q.set_at(C, k, s, n)?;
            }
        }
        EachItem(k) => {
            for (s, n) in string_list(p, v, kp)? {
                q.list_item(C, k, s, n, kp)?;
            }
        }
        Pairs(k) => {
            for (lk, lv, n) in resources::string_map(p, v, kp)? {
                q.add_word(C, k, &format!("{lk}={lv}"), n);
            }
        }
        YesNo(k) => {
            let on = flag(p, v, kp)?;
            q.raw(C, k, if on { "yes" } else { "no" }, v);
        }
        PodmanSwitch(f) => {
            if flag(p, v, kp)? {
                q.add_word(C, "PodmanArgs", f, v);
            }
        }
        Bytes(k) => {
            let b = values::bytes(text(p, v, kp)?).map_err(|e| Fail::at(p, v, kp, e).plain())?;
            q.raw(C, k, &b, v);
        }
        Integer(k) => {
            let t = text(p, v, kp)?;
            if t.parse::<i64>().is_err() {
                return Err(Fail::at(p, v, kp, format!("\"{t}\" is not a number")).plain());
            }
            q.raw(C, k, t, v);
        }
        By(f) => f(q, s, v, kp)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key is translated or refused by name, never both, never twice.
    #[test]
    fn every_key_once() {
        let mut all: Vec<&str> = supported()
            .into_iter()
            .chain(UNSUPPORTED.iter().copied())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a key is listed twice");
    }
}
