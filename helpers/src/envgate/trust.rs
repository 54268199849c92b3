//! Whose files a gate relies on: root, the user the helper runs as, and the user *every*
//! consumer runs as (their `User=`), when they all run as the same one. That user already
//! decides what those consumers see, so an `Output=` in its `StateDirectory=` or a `WaitFor=`
//! file it writes is no escalation; any other user's is (see `safepath`). A gate shared by a
//! user's consumer and root's (or another user's) trusts root alone: with the union of their
//! users, the one user could swap the output root's consumer reads (issue 20).
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
    /// The user each consumer runs as (0: root), `None` when it cannot be known.
    users: OnceCell<Vec<Option<u32>>>,
}

impl<'a> Consumers<'a> {
    pub fn new(scope: Scope, units: &'a [String]) -> Consumers<'a> {
        Consumers {
            scope,
            units,
            users: OnceCell::new(),
        }
    }

    /// Is `uid` the user every consumer runs as? Only then may its files decide what the
    /// consumers read: the strictest consumer decides (one running as root, or as another
    /// user, leaves root alone trusted).
    pub fn all_run_as(&self, uid: u32) -> bool {
        let users = self.users.get_or_init(|| self.resolve());
        let all = !users.is_empty() && users.iter().all(|u| *u == Some(uid));
        if !all && users.contains(&Some(uid)) {
            let others: Vec<&str> = self
                .units
                .iter()
                .zip(users)
                .filter(|(_, u)| **u != Some(uid))
                .map(|(n, _)| n.as_str())
                .collect();
            log::warn!(
                "{} is the user of some of this gate's consumers but not of {}: its files are not trusted (they would decide what those consumers read)",
                crate::safepath::user_name(uid),
                others.join(", ")
            );
        }
        all
    }

    fn resolve(&self) -> Vec<Option<u32>> {
        // A user manager's services all run as its user: root or us, trusted already.
        if self.scope == Scope::User || !nix::unistd::geteuid().is_root() {
            return Vec::new();
        }
        self.units.iter().map(|unit| self.user_of(unit)).collect()
    }

    fn user_of(&self, unit: &str) -> Option<u32> {
        let props = systemctl::show_bounded(self.scope, unit, &["User"], SHOW_TIMEOUT);
        let Some(user) = props.get("User").map(|u| u.trim()) else {
            log::warn!("cannot ask the manager whom {unit} runs as: files of users other than root are not trusted for it");
            return None;
        };
        if user.is_empty() {
            return Some(0); // no User=: root
        }
        let uid = uid_of(user);
        match uid {
            Some(uid) => log::debug!("{unit} runs as {user} (uid {uid})"),
            None => log::warn!(
                "{unit} runs as {user}, a user this system does not know now (DynamicUser=?): files it owns are not trusted"
            ),
        }
        uid
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
