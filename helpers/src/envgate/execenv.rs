//! The environment `Exec=` runs with. It runs as root, and the file that arrived may have been
//! written by the consumer's user: so it gets a fixed `PATH`, the declared `Import=` keys and
//! `UNITSMITH_ENVGATE`/`UNITSMITH_ENVGATE_FILE` — nothing inherited, nothing else from the file
//! — and never a variable that makes the loader, libc, a shell or an interpreter run or load
//! code of the writer's choosing, even when `Import=` names it.

use std::path::Path;

use super::envfile::Env;

/// systemd's default `PATH` for services (systemd.exec(5)), plus /sbin and /bin.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Names withheld whole. glibc's list of what it drops for setuid programs (UNSECURE_ENVVARS),
/// shell startup, interpreters' code-loading variables, and what we set ourselves.
const NAMES: &[&str] = &[
    // glibc (sysdeps/generic/unsecvars.h)
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "MALLOC_TRACE",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TMPDIR",
    "TZDIR",
    // shells
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "CDPATH",
    "GLOBIGNORE",
    "PROMPT_COMMAND",
    // interpreters and runtimes that load code named by a variable
    "PERL5LIB",
    "PERL5OPT",
    "PERLLIB",
    "PERL5DB",
    "RUBYLIB",
    "RUBYOPT",
    "NODE_OPTIONS",
    "NODE_PATH",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "LUA_INIT",
    "LUA_PATH",
    "LUA_CPATH",
    // ours
    "PATH",
    "HOME",
];

/// Prefixes withheld: the dynamic loader (`LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`, ...),
/// malloc tuning, bash exported functions, Python's startup variables.
const PREFIXES: &[&str] = &["LD_", "MALLOC_", "BASH_FUNC_", "PYTHON", "UNITSMITH_"];

/// Whether `key` is never passed to Exec=.
pub fn withheld(key: &str) -> bool {
    NAMES.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The whole environment of Exec=, and the Import= keys withheld from it (names only).
pub fn build(
    gate: &str,
    import: &[String],
    file_env: &Env,
    arrived: Option<&Path>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut env = vec![("PATH".to_string(), PATH.to_string())];
    let mut kept_back = Vec::new();
    for key in import {
        let Some(value) = file_env.get(key) else {
            continue;
        };
        if withheld(key) {
            kept_back.push(key.clone());
        } else {
            env.push((key.clone(), value.to_string()));
        }
    }
    env.push(("UNITSMITH_ENVGATE".into(), gate.to_string()));
    if let Some(p) = arrived {
        env.push((
            "UNITSMITH_ENVGATE_FILE".into(),
            p.to_string_lossy().into_owned(),
        ));
    }
    (env, kept_back)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_imported_keys_and_ours() {
        let mut f = Env::new();
        for (k, v) in [
            ("ROLE", "worker"),
            ("LD_PRELOAD", "/tmp/x.so"),
            ("BASH_ENV", "/tmp/x.sh"),
            ("OTHER", "not imported"),
            ("PYTHONPATH", "/tmp"),
        ] {
            f.set(k, v);
        }
        let import: Vec<String> = ["ROLE", "LD_PRELOAD", "PYTHONPATH", "MISSING"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (env, kept) = build("g", &import, &f, Some(Path::new("/etc/app/w.env")));
        let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "PATH",
                "ROLE",
                "UNITSMITH_ENVGATE",
                "UNITSMITH_ENVGATE_FILE"
            ]
        );
        assert_eq!(kept, ["LD_PRELOAD", "PYTHONPATH"]);
        assert_eq!(env[0].1, PATH);
    }

    #[test]
    fn loader_shell_and_interpreter_variables_are_withheld() {
        for k in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "GLIBC_TUNABLES",
            "BASH_ENV",
            "ENV",
            "BASH_FUNC_x%%",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "NODE_OPTIONS",
            "PATH",
            "UNITSMITH_ENVGATE",
        ] {
            assert!(withheld(k), "{k}");
        }
        for k in ["VAULT_NAME", "REGION", "ENVIRONMENT", "LDAP_URI", "PATHS"] {
            assert!(!withheld(k), "{k}");
        }
    }
}
