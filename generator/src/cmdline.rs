//! Building podman command lines.

use std::collections::BTreeMap;

/// A podman command line under construction.
#[derive(Debug, Clone)]
pub struct Cmdline {
    pub args: Vec<String>,
}

impl Cmdline {
    pub fn new(binary: &str) -> Cmdline {
        Cmdline {
            args: vec![binary.to_string()],
        }
    }

    pub fn add(&mut self, arg: impl Into<String>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    pub fn add_all<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `flag` alone when true, `flag=false` when false (podman's boolean flags).
    pub fn add_bool(&mut self, flag: &str, value: bool) -> &mut Self {
        if value {
            self.add(flag)
        } else {
            self.add(format!("{flag}=false"))
        }
    }

    /// One `flag KEY=VALUE` (or `flag KEY`) pair per entry, in key order.
    pub fn add_keys(&mut self, flag: &str, keys: &BTreeMap<String, Option<String>>) -> &mut Self {
        for (k, v) in keys {
            self.add(flag);
            match v {
                Some(v) => self.add(format!("{k}={v}")),
                None => self.add(k.clone()),
            };
        }
        self
    }
}
