//! Whose files a gate relies on: root, the user the helper runs as, and the users its consumers
//! run as (their `User=`). A consumer's user already decides what that consumer sees, so an
//! `Output=` in its `StateDirectory=` or a `WaitFor=` file it writes is no escalation; any
//! other user's is (see `safepath`).
//!
//! The consumers' users come from the manager (`systemctl show -p User`), which has merged
//! every drop-in and knows generated units: reading unit files ourselves would miss both.
//! It is asked only when a path has an owner that is neither root nor us — on most systems
//! never, so the boot path pays nothing — once per run, with a short bound. A name is
//! resolved with the system's user database; a `DynamicUser=` consumer's user exists only
//! while it runs, so its directories are not trusted while it is stopped (use a root-owned
//! directory for those gates: systemd reads `EnvironmentFile=` as root anyway).

use std::cell::OnceCell;
use std::time::Duration;

use crate::systemctl::{self, Scope};

/// Bound on one `systemctl show`: populate is on the boot path.
const SHOW_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Consumers<'a> {
    scope: Scope,
    units: &'a [String],
    uids: OnceCell<Vec<u32>>,
}

impl<'a> Consumers<'a> {
    pub fn new(scope: Scope, units: &'a [String]) -> Consumers<'a> {
        Consumers {
            scope,
            units,
            uids: OnceCell::new(),
        }
    }

    /// Is `uid` the user one of the consumers runs as?
    pub fn contains(&self, uid: u32) -> bool {
        self.uids.get_or_init(|| self.resolve()).contains(&uid)
    }

    fn resolve(&self) -> Vec<u32> {
        // A user manager's services all run as its user: root or us, trusted already.
        if self.scope == Scope::User || !nix::unistd::geteuid().is_root() {
            return Vec::new();
        }
        let mut uids = Vec::new();
        for unit in self.units {
            let props = systemctl::show_bounded(self.scope, unit, &["User"], SHOW_TIMEOUT);
            let Some(user) = props
                .get("User")
                .map(|u| u.trim())
                .filter(|u| !u.is_empty())
            else {
                continue; // root
            };
            match uid_of(user) {
                Some(uid) => {
                    log::debug!("{unit} runs as {user} (uid {uid}): its files are trusted");
                    uids.push(uid);
                }
                None => log::warn!(
                    "{unit} runs as {user}, a user this system does not know now (DynamicUser=?): files it owns are not trusted"
                ),
            }
        }
        uids
    }
}

/// A `User=` value: a name or a numeric uid.
fn uid_of(user: &str) -> Option<u32> {
    if let Ok(n) = user.parse::<u32>() {
        return Some(n);
    }
    nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .map(|u| u.uid.as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_by_name_or_number() {
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(uid_of("1234"), Some(1234));
        assert_eq!(uid_of("no-such-user-unitsmith"), None);
    }
}
