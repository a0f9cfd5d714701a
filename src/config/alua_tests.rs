//! `explicit_alua` and `[[targets.port_groups]]`: defaults, a two-group
//! layout, and every error naming its key and the fix.

use super::*;
use crate::config::{load_str, Config};
use std::path::Path;

const TWO: &str = "[server]\nlisten = [\"127.0.0.1:3260\", \"127.0.0.2:3260\"]\n";

fn target(extra: &str) -> String {
    format!(
        "[[targets]]\niqn = \"iqn.2026-11.com.example:t\"\n{extra}\n[[targets.luns]]\nlun = 0\nbackend = \"memory\"\nsize = \"1MiB\"\n"
    )
}

fn load(toml: &str) -> Result<Config, crate::config::ConfigError> {
    load_str("t.toml", toml, Path::new("."), Vec::new())
}

fn err(toml: &str) -> (String, String) {
    match load(toml) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => (e.key, e.message),
    }
}

#[test]
fn default_is_one_active_optimized_group_on_every_portal() {
    let c = load(&format!("{TWO}{}", target(""))).unwrap();
    let a = &c.targets[0].alua;
    assert!(!a.explicit);
    assert_eq!(
        a.groups,
        [PortGroupConfig {
            id: DEFAULT_GROUP,
            state: AccessState::ActiveOptimized,
            portals: vec![0, 1]
        }]
    );
    assert_eq!(a.portals(), [0, 1]);
    // The built-in default: one portal, group 1.
    let c = crate::config::load(None, Vec::new()).unwrap();
    assert_eq!(c.targets[0].alua.portals(), [0]);
}

#[test]
fn two_groups_with_states_and_explicit_alua() {
    let groups = "explicit_alua = true\n\
        [[targets.port_groups]]\nid = 20\nstate = \"standby\"\nportals = [\"127.0.0.2:3260\"]\n\
        [[targets.port_groups]]\nid = 10\nportals = [\"127.0.0.1:3260\"]\n";
    let c = load(&format!("{TWO}{}", target(groups))).unwrap();
    let a = &c.targets[0].alua;
    assert!(a.explicit);
    assert_eq!(
        a.groups,
        [
            PortGroupConfig {
                id: 10,
                state: AccessState::ActiveOptimized,
                portals: vec![0]
            },
            PortGroupConfig {
                id: 20,
                state: AccessState::Standby,
                portals: vec![1]
            },
        ]
    );
    // A target on one of the two portals only.
    let one = "[[targets.port_groups]]\nid = 1\nstate = \"active/non-optimized\"\nportals = [\"127.0.0.2:3260\"]\n";
    let c = load(&format!("{TWO}{}", target(one))).unwrap();
    assert_eq!(c.targets[0].alua.portals(), [1]);
}

#[test]
fn errors_say_what_is_wrong_and_how_to_fix_it() {
    let g = |body: &str| {
        format!(
            "{TWO}{}",
            target(&format!("[[targets.port_groups]]\n{body}\n"))
        )
    };
    let cases: [(&str, &str, &str); 8] = [
        (
            "portals = [\"127.0.0.1:3260\"]",
            "targets[0].port_groups[0].id",
            "missing",
        ),
        (
            "id = 0\nportals = [\"127.0.0.1:3260\"]",
            "targets[0].port_groups[0].id",
            "1..=65535",
        ),
        (
            "id = 70000\nportals = [\"127.0.0.1:3260\"]",
            "targets[0].port_groups[0].id",
            "1..=65535",
        ),
        (
            "id = 1\nstate = \"offline\"\nportals = [\"127.0.0.1:3260\"]",
            "targets[0].port_groups[0].state",
            "\"standby\"",
        ),
        (
            "id = 1",
            "targets[0].port_groups[0].portals",
            "server.listen: 127.0.0.1:3260, 127.0.0.2:3260",
        ),
        (
            "id = 1\nportals = [\"127.0.0.9:3260\"]",
            "targets[0].port_groups[0].portals[0]",
            "not in server.listen",
        ),
        (
            "id = 1\nportals = [\"localhost\"]",
            "targets[0].port_groups[0].portals[0]",
            "not an address:port",
        ),
        (
            "id = 1\nportals = [\"127.0.0.1:3260\", \"127.0.0.1:3260\"]",
            "targets[0].port_groups[0].portals[1]",
            "already listed at targets[0].port_groups[0].portals[0]",
        ),
    ];
    for (body, key, words) in cases {
        let (k, m) = err(&g(body));
        assert_eq!(k, key, "{body}: {m}");
        assert!(m.contains(words), "{body}: {m}");
    }
    // The same group id twice; one portal in two groups.
    let twice = "[[targets.port_groups]]\nid = 1\nportals = [\"127.0.0.1:3260\"]\n\
        [[targets.port_groups]]\nid = 1\nportals = [\"127.0.0.2:3260\"]\n";
    let (k, m) = err(&format!("{TWO}{}", target(twice)));
    assert_eq!(k, "targets[0].port_groups[1].id");
    assert!(m.contains("already targets[0].port_groups[0]"), "{m}");
    let shared = "[[targets.port_groups]]\nid = 1\nportals = [\"127.0.0.1:3260\"]\n\
        [[targets.port_groups]]\nid = 2\nportals = [\"127.0.0.1:3260\"]\n";
    let (k, m) = err(&format!("{TWO}{}", target(shared)));
    assert_eq!(k, "targets[0].port_groups[1].portals[0]");
    assert!(m.contains("exactly one group"), "{m}");
    // port_groups = [] and an unknown key.
    let (k, _) = err(&format!("{TWO}{}", target("port_groups = []")));
    assert_eq!(k, "targets[0].port_groups");
    let (_, m) = err(&g(
        "id = 1\nportals = [\"127.0.0.1:3260\"]\npreferred = true",
    ));
    assert!(m.contains("preferred"), "{m}");
    // TPGTs past 65535.
    let (k, m) = err(&format!(
        "[server]\nportal_group_tag = 65535\nlisten = [\"127.0.0.1:3260\", \"127.0.0.2:3260\"]\n{}",
        target("")
    ));
    assert_eq!(k, "server.portal_group_tag");
    assert!(m.contains("use at most 65534"), "{m}");
}
