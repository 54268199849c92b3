//! The environment `Exec=` runs with. It runs as root, and the file that arrived may have been
//! written by the consumers' user: so its environment is an allowlist — a fixed `PATH`, the
//! declared `Import=` keys and `UNITSMITH_ENVGATE`/`UNITSMITH_ENVGATE_FILE`, nothing inherited,
//! nothing else from the file. Of the `Import=` keys, a name that makes a program load code,
//! read a configuration, trust a certificate, open a file or directory, or talk through a proxy
//! of the writer's choosing is still withheld (it reaches the output, for the consumers, who
//! run as that writer): a declaration that imports `OPENSSL_CONF` or `https_proxy` for the
//! consumers must not hand them to root's `Exec=` too (issue 20). The rule is by name, in any
//! case (`http_proxy` is read in lower case): the loader, libc, shells and interpreters by
//! name and prefix, and whole families by shape (`*PATH`, `*_FILE`, `*_DIR`, `*CONF*`,
//! `*_PROXY` ...), so that a program's next such variable is likely covered too.

use std::path::Path;

use super::envfile::Env;

/// systemd's default `PATH` for services (systemd.exec(5)), plus /sbin and /bin.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Names withheld whole (compared in upper case). glibc's list of what it drops for setuid
/// programs (UNSECURE_ENVVARS), shell startup, interpreters' code-loading variables, programs'
/// configuration and trust, and what we set ourselves.
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
    "TZ",
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
    "ZDOTDIR",
    "INPUTRC",
    "SHELL",
    // interpreters and runtimes that load code named by a variable
    "PERL5DB",
    "NODE_OPTIONS",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    "LUA_INIT",
    // programs a tool may start, and where tools read their configuration and secrets
    "EDITOR",
    "VISUAL",
    "PAGER",
    "BROWSER",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "GNUPGHOME",
    "KRB5CCNAME",
    "NETRC",
    "WGETRC",
    "CURLOPT_NETRC",
    "SSLKEYLOGFILE",
    "NODE_EXTRA_CA_CERTS",
    "HOME",
    // ours
    "PATH",
];

/// Prefixes withheld: the dynamic loader (`LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`, ...),
/// malloc tuning, bash exported functions, interpreters' and tools' families, and ours.
const PREFIXES: &[&str] = &[
    "LD_",
    "MALLOC_",
    "BASH_FUNC_",
    "PYTHON",
    "PERL",
    "RUBY",
    "GEM_",
    "BUNDLE_",
    "NODE_",
    "NPM_CONFIG_",
    "LUA_",
    "JAVA",
    "DOTNET_",
    "GIT_",
    "OPENSSL_",
    "SSL_",
    "CURL_",
    "REQUESTS_",
    "XDG_",
    "KRB5",
    "UNITSMITH_",
];

/// Suffixes withheld: names that point a program at a file, a directory, a search path,
/// options or a proxy (`SSL_CERT_FILE`, `GEM_PATH`, `CONFIG_DIR`, `http_proxy`, ...).
const SUFFIXES: &[&str] = &[
    "PATH", "_FILE", "_DIR", "_DIRS", "_HOME", "_OPTIONS", "_OPTS", "_PROXY", "RC",
];

/// Whether `key` is never passed to Exec=.
pub fn withheld(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    NAMES.contains(&k.as_str())
        || PREFIXES.iter().any(|p| k.starts_with(p))
        || SUFFIXES.iter().any(|s| k.ends_with(s))
        || k.contains("CONF")
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

    /// Issue 20: these passed to root's Exec= when imported (a denylist of loader and
    /// shell variables only): OPENSSL_CONF made openssl load the writer's module.
    #[test]
    fn configuration_trust_and_proxy_variables_are_withheld() {
        for k in [
            "OPENSSL_CONF",
            "OPENSSL_MODULES",
            "GIT_CONFIG_GLOBAL",
            "GIT_CONFIG_COUNT",
            "GIT_CONFIG_KEY_0",
            "GIT_SSH_COMMAND",
            "ZDOTDIR",
            "PHPRC",
            "GEM_PATH",
            "GEM_HOME",
            "CLASSPATH",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "CURL_CA_BUNDLE",
            "REQUESTS_CA_BUNDLE",
            "http_proxy",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "no_proxy",
            "XDG_CONFIG_HOME",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "KUBECONFIG",
            "DOCKER_CONFIG",
            "CREDS_FILE",
            "WGETRC",
            "Ld_Preload",
        ] {
            assert!(withheld(k), "{k}");
        }
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
        for k in [
            "VAULT_NAME",
            "REGION",
            "ENVIRONMENT",
            "LDAP_URI",
            "PATHS",
            "ROLE",
            "ACCOUNT_ID",
            "CLUSTER",
            "SECRET_NAME",
            "SRC_REGION",
        ] {
            assert!(!withheld(k), "{k}");
        }
    }
}
