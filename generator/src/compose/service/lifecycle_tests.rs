//! `restart` and `stop_grace_period` as the units show them (tests of `lifecycle.rs`, kept in
//! a file of their own).

use crate::compose::testing::{web, Project};

fn service(restart: &str) -> String {
    format!("services:\n  web:\n    image: nginx\n    restart: {restart}\n")
}

/// Each policy Docker knows, as systemd's `Restart=`; `on-failure:N` counts N restarts.
#[test]
fn restart_policies() {
    for (policy, want) in [
        ("no", "no"),
        ("always", "always"),
        ("unless-stopped", "always"),
        ("on-failure", "on-failure"),
        ("on-failure:3", "on-failure"),
    ] {
        let u = web(&format!("restart-{policy}"), &service(policy)).unwrap();
        assert_eq!(u.lookup_all("Service", "Restart"), [want], "{policy}");
        let limit = u.lookup_all("Unit", "StartLimitIntervalSec");
        if policy == "on-failure:3" {
            assert_eq!(limit, ["0"], "{policy}");
            assert!(
                u.lookup_all("Service", "ExecCondition")
                    .iter()
                    .any(|c| c.ends_with("compose restart-limit 3 %n")),
                "{policy}"
            );
        } else {
            assert!(limit.is_empty(), "{policy}");
        }
    }
}

#[test]
fn unknown_restart_policies_are_errors() {
    for (policy, message) in [
        ("sometimes", "unknown restart policy \"sometimes\""),
        ("on-failure:x", "\"x\" is not a number of retries"),
        ("no:1", "unknown restart policy \"no:1\""),
    ] {
        let e = web(&format!("restart-bad-{}", policy.len()), &service(policy)).unwrap_err();
        assert!(e.contains(message), "{policy}: {e}");
    }
}

/// A service others wait to complete cannot restart always; on failure it may.
#[test]
fn a_service_awaited_to_complete() {
    let project = |restart: &str| {
        format!("services:\n  web:\n    image: nginx\n    restart: {restart}\n  app:\n    image: app\n    depends_on:\n      web: {{condition: service_completed_successfully}}\n")
    };
    let e = Project::new("completed-always", &project("always"))
        .service("web")
        .unwrap_err();
    assert!(
        e.contains("restart: always on a service others wait to complete"),
        "{e}"
    );
    let u = Project::new("completed-on-failure", &project("on-failure"))
        .service("web")
        .unwrap();
    assert_eq!(u.lookup_all("Service", "Restart"), ["on-failure"]);
    assert_eq!(u.lookup_all("Service", "Type"), ["oneshot"]);
}

/// `stop_grace_period` → Podman's stop timeout, and systemd's 30 s longer once that passes
/// its default of 90 s.
#[test]
fn stop_grace_periods() {
    for (period, stop, systemd) in [
        ("10s", "10", None),
        ("60s", "60", None),
        ("61s", "61", Some("91")),
        ("1m30s", "90", Some("120")),
    ] {
        let text =
            format!("services:\n  web:\n    image: nginx\n    stop_grace_period: {period}\n");
        let u = web(&format!("grace-{period}"), &text).unwrap();
        assert_eq!(u.lookup_all("Container", "StopTimeout"), [stop], "{period}");
        assert_eq!(
            u.lookup_all("Service", "TimeoutStopSec").first().copied(),
            systemd,
            "{period}"
        );
    }
    let e = web(
        "grace-bad",
        "services:\n  web:\n    image: nginx\n    stop_grace_period: soon\n",
    )
    .unwrap_err();
    assert!(e.contains("services.web.stop_grace_period"), "{e}");
}
