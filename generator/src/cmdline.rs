//! Building podman command lines.

use std::borrow::Cow;

/// A podman command line under construction. Arguments borrow where they can (static flags,
/// values read from the unit): most of a command line needs no allocation of its own.
#[derive(Debug, Clone)]
pub struct Cmdline<'a> {
    pub args: Vec<Cow<'a, str>>,
}

impl<'a> Cmdline<'a> {
    pub fn new(binary: &'a str) -> Cmdline<'a> {
        let mut args = Vec::with_capacity(32);
        args.push(Cow::Borrowed(binary));
        Cmdline { args }
    }

    pub fn add(&mut self, arg: impl Into<Cow<'a, str>>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    pub fn add_all<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Cow<'a, str>>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `flag` alone when true, `flag=false` when false (podman's boolean flags).
    pub fn add_bool(&mut self, flag: &'a str, value: bool) -> &mut Self {
        if value {
            self.add(flag)
        } else {
            self.add([flag, "=false"].concat())
        }
    }

    /// One `flag WORD` pair per word (`KEY=VALUE` words from `lookup_all_key_val`).
    pub fn add_keys(&mut self, flag: &'a str, words: Vec<String>) -> &mut Self {
        self.args.reserve(2 * words.len());
        for w in words {
            self.add(flag).add(w);
        }
        self
    }
}
