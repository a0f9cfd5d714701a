//! Target ports and ALUA of a target: which portals of `server.listen` the
//! target is on, in which target port groups, in which asymmetric access
//! state, and whether SET TARGET PORT GROUPS may change them.
//!
//! Every portal of `server.listen` is its own iSCSI target portal group
//! (TPGT `server.portal_group_tag + index`), so a target on two portals
//! has two SCSI target ports (relative target port identifiers `index + 1`)
//! and one LU is seen over two paths. Without `port_groups` a target is on
//! every portal, all in group 1, active/optimized.

use super::{raw, Checker, ConfigError};
use scsi::alua::AccessState;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// The id of the one group of a target without `port_groups`.
pub const DEFAULT_GROUP: u16 = 1;

/// One target port group of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortGroupConfig {
    /// TARGET PORT GROUP, 1..=65535.
    pub id: u16,
    pub state: AccessState,
    /// Indexes into `server.listen`, ascending.
    pub portals: Vec<usize>,
}

/// The ALUA settings of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AluaSettings {
    /// SET TARGET PORT GROUPS allowed (`explicit_alua`).
    pub explicit: bool,
    /// Ascending by id; every portal of the target in exactly one.
    pub groups: Vec<PortGroupConfig>,
}

impl AluaSettings {
    /// The portals of the target (indexes into `server.listen`), ascending.
    pub fn portals(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.groups.iter().flat_map(|g| g.portals.clone()).collect();
        v.sort_unstable();
        v
    }
}

const STATES: &str =
    "\"active/optimized\", \"active/non-optimized\", \"standby\" or \"unavailable\"";

/// Validate `explicit_alua` and `port_groups` of `targets[ti]` against the
/// portals of `server.listen`.
pub(super) fn validate_alua(
    c: &Checker<'_>,
    tkey: &str,
    listen: &[SocketAddr],
    explicit: Option<bool>,
    raw_groups: Option<Vec<raw::RawPortGroup>>,
) -> Result<AluaSettings, ConfigError> {
    let explicit = explicit.unwrap_or(false);
    let Some(raw_groups) = raw_groups else {
        return Ok(AluaSettings {
            explicit,
            groups: vec![PortGroupConfig {
                id: DEFAULT_GROUP,
                state: AccessState::ActiveOptimized,
                portals: (0..listen.len()).collect(),
            }],
        });
    };
    if raw_groups.is_empty() {
        return Err(c.err(
            format!("{tkey}.port_groups"),
            "empty; list at least one [[targets.port_groups]] with id, state and portals, or remove the key (one active/optimized group on every portal)",
        ));
    }
    let listed = listen
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut groups: Vec<PortGroupConfig> = Vec::with_capacity(raw_groups.len());
    let mut group_keys: BTreeMap<u16, usize> = BTreeMap::new();
    let mut portal_owner: BTreeMap<usize, String> = BTreeMap::new();
    for (gi, rg) in raw_groups.into_iter().enumerate() {
        let gkey = format!("{tkey}.port_groups[{gi}]");
        let id = rg.id.ok_or_else(|| {
            c.err(
                format!("{gkey}.id"),
                "missing; expected a target port group id 1..=65535",
            )
        })?;
        let id = u16::try_from(id)
            .ok()
            .filter(|&id| id != 0)
            .ok_or_else(|| {
                c.err(
                    format!("{gkey}.id"),
                    format!("{id} is out of range; expected 1..=65535"),
                )
            })?;
        if let Some(prev) = group_keys.insert(id, gi) {
            return Err(c.err(
                format!("{gkey}.id"),
                format!(
                    "group {id} is already {tkey}.port_groups[{prev}]; give every group its own id"
                ),
            ));
        }
        let state = match rg.state.as_deref() {
            None => AccessState::ActiveOptimized,
            Some(s) => AccessState::parse(s.trim()).ok_or_else(|| {
                c.err(
                    format!("{gkey}.state"),
                    format!("{s:?} is not an asymmetric access state; expected {STATES}"),
                )
            })?,
        };
        let raw_portals = rg.portals.unwrap_or_default();
        if raw_portals.is_empty() {
            return Err(c.err(
                format!("{gkey}.portals"),
                format!("missing or empty; list the addresses of server.listen this group's target ports are on (server.listen: {listed})"),
            ));
        }
        let mut portals = Vec::with_capacity(raw_portals.len());
        for (pi, s) in raw_portals.iter().enumerate() {
            let pkey = format!("{gkey}.portals[{pi}]");
            let addr: SocketAddr = s.trim().parse().map_err(|_| {
                c.err(
                    &pkey,
                    format!(
                        "{s:?} is not an address:port; expected one of server.listen ({listed})"
                    ),
                )
            })?;
            let index = listen.iter().position(|l| *l == addr).ok_or_else(|| {
                c.err(
                    &pkey,
                    format!("{addr} is not in server.listen ({listed}); add it there or use one of those"),
                )
            })?;
            if let Some(prev) = portal_owner.insert(index, pkey.clone()) {
                return Err(c.err(
                    &pkey,
                    format!("{addr} is already listed at {prev}; a portal is one target port, in exactly one group"),
                ));
            }
            portals.push(index);
        }
        portals.sort_unstable();
        groups.push(PortGroupConfig { id, state, portals });
    }
    groups.sort_by_key(|g| g.id);
    Ok(AluaSettings { explicit, groups })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "alua_tests.rs"]
mod tests;
