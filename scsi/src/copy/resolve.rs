//! Resolving CSCD designators to logical units, with authorization
//! (SPC-5 6.5.7.2; LIO CVE-2020-28374): a CSCD resolves only to a LU the
//! requesting initiator may use through some target of this process. The
//! rule lives behind [`CscdResolver`]: [`OwnTargetResolver`] (the target
//! the command came through) is the safe default, [`AclResolver`] adds the
//! other targets by a per-target "may this initiator log in" predicate;
//! [`AclResolver::from_port_access`] builds it from the targets'
//! [`crate::access::AccessPolicy`], the rule the iSCSI login applies.

use super::params::Designator;
use crate::access::AccessPolicy;
use crate::device::{LogicalUnit, TargetPort};
use std::collections::HashMap;
use std::sync::Arc;

/// A LU a CSCD resolved to, with what the plan needs to know of it.
#[derive(Clone)]
pub struct ResolvedLu {
    pub lu: Arc<LogicalUnit>,
    /// Logical block length in bytes.
    pub block_size: u32,
    /// Capacity in bytes (whole blocks only): the limit initiator I/O has.
    pub capacity_bytes: u64,
    pub read_only: bool,
}

impl ResolvedLu {
    /// Block size and capacity exactly as the block commands see them.
    pub fn from_lu(lu: &Arc<LogicalUnit>) -> Self {
        let block_size = lu.block_size();
        Self {
            lu: lu.clone(),
            block_size,
            capacity_bytes: lu.capacity_bytes(),
            read_only: lu.config.read_only,
        }
    }
}

impl std::fmt::Debug for ResolvedLu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedLu")
            .field("lu", &self.lu.config.serial)
            .field("block_size", &self.block_size)
            .field("capacity_bytes", &self.capacity_bytes)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// The answer of a [`CscdResolver`].
#[derive(Debug, Clone)]
pub enum Resolution {
    Found(ResolvedLu),
    /// No LU of this process carries the designator.
    NotFound,
    /// A LU carries it, but the initiator may not use it through any target.
    NotAuthorized,
}

/// Who asks: the initiator and the target port of the I_T nexus that
/// received the EXTENDED COPY.
#[derive(Clone, Copy)]
pub struct Requester<'a> {
    pub initiator_name: &'a str,
    pub target: &'a TargetPort,
}

/// Resolves a CSCD designator for one requester. Both failures are answered
/// the same way (0x26/0x15) so the answer is no oracle for LU existence;
/// the distinction is for logs.
pub trait CscdResolver: Send + Sync {
    fn resolve(&self, requester: &Requester<'_>, designator: &Designator) -> Resolution;
}

/// Finds the one LU among `luns` whose designators contain `designator`;
/// `Err(())` when several distinct LUs match (ambiguous).
fn unique_match<'l>(
    luns: impl Iterator<Item = (&'l TargetPort, &'l Arc<LogicalUnit>)>,
    designators: &DesignatorSource,
    designator: &Designator,
) -> Result<Option<&'l Arc<LogicalUnit>>, ()> {
    let mut found: Option<&Arc<LogicalUnit>> = None;
    for (t, lu) in luns {
        if !designators(t, lu).contains(designator) {
            continue;
        }
        match found {
            Some(f) if !Arc::ptr_eq(f, lu) => return Err(()),
            _ => found = Some(lu),
        }
    }
    Ok(found)
}

/// The safe default: only the LUs of the target port the command came
/// through (the initiator is logged in there, so it may use them). Copies
/// across targets need [`AclResolver`] with the iSCSI layer's access rules.
pub struct OwnTargetResolver {
    pub designators: DesignatorSource,
}

impl OwnTargetResolver {
    /// Match against what VPD 0x83 reports (`spc::vpd::device_identification`).
    pub fn with_vpd83_designators() -> Self {
        Self {
            designators: vpd83_designators(),
        }
    }
}

impl CscdResolver for OwnTargetResolver {
    fn resolve(&self, requester: &Requester<'_>, designator: &Designator) -> Resolution {
        let luns = requester
            .target
            .luns
            .values()
            .map(|l| (requester.target, l));
        match unique_match(luns, &self.designators, designator) {
            Ok(Some(lu)) => Resolution::Found(ResolvedLu::from_lu(lu)),
            Ok(None) | Err(()) => Resolution::NotFound,
        }
    }
}

/// ASSOCIATION 00b: the designator names the addressed logical unit
/// (SPC-5 7.7.6.1).
const ASSOCIATION_LU: u8 = 0;

/// The logical-unit designators exactly as VPD 0x83 reports them through a
/// target port (NAA, T10 vendor ID). Port- and device-associated
/// designators (relative port, port group, SCSI name strings) name no LU
/// and never match a CSCD.
pub fn vpd83_designators() -> DesignatorSource {
    Arc::new(|t: &TargetPort, lu: &LogicalUnit| {
        let mut v = Designator::from_vpd83_page(&crate::spc::vpd::device_identification(lu, t));
        v.retain(|d| d.association == ASSOCIATION_LU);
        v
    })
}

/// A CHAP credential a target requires: the one credential type of
/// [`crate::access`], under the name the copy module has exported.
pub use crate::access::ChapCredential as ChapIdentity;

/// A target port and its access policy, as the iSCSI layer enforces it.
#[derive(Clone)]
pub struct PortAccess {
    pub target: Arc<TargetPort>,
    pub policy: AccessPolicy,
}

/// "May this requester use this target?" (ACLs and CHAP), from the iSCSI
/// layer's rules; see [`AclResolver::from_port_access`] for xtgt's.
pub type InitiatorFilter = Arc<dyn Fn(&Requester<'_>) -> bool + Send + Sync>;

/// The designators a LU reports in VPD 0x83 when seen through a target port;
/// the device server builds them from its own VPD 0x83 page (see
/// [`Designator::from_vpd83_page`]) so matching uses exactly what is reported.
pub type DesignatorSource = Arc<dyn Fn(&TargetPort, &LogicalUnit) -> Vec<Designator> + Send + Sync>;

/// One target port and who may use it.
#[derive(Clone)]
pub struct TargetAccess {
    pub target: Arc<TargetPort>,
    pub may_use: InitiatorFilter,
}

/// The authorization rule over all target ports of this process: a
/// designator resolves to a LU mapped in some target the initiator may use
/// (the requester's own target always qualifies), matched exactly (code
/// set, association, designator type and bytes).
pub struct AclResolver {
    pub targets: Vec<TargetAccess>,
    pub designators: DesignatorSource,
}

impl AclResolver {
    /// Match against exactly the designators VPD 0x83 reports for the LU
    /// through each target port (`spc::vpd::device_identification`).
    pub fn with_vpd83_designators(targets: Vec<TargetAccess>) -> Self {
        Self {
            targets,
            designators: vpd83_designators(),
        }
    }
}

impl AclResolver {
    /// xtgt's authorization rule over its targets (CVE-2020-28374): the
    /// initiator of the EXTENDED COPY may use a LU through target T when
    ///
    /// - T is the target the command came through (it is logged in there), or
    /// - T's ACL admits the initiator name, and, when T requires CHAP, the
    ///   requester's own target requires the very same CHAP credential (user
    ///   and secret): the login to its own target proved what a login to T
    ///   would have to prove. A target with CHAP is never reached from a
    ///   target without CHAP or with other credentials.
    ///
    /// Matching uses the LU designators VPD 0x83 reports.
    pub fn from_port_access(ports: Vec<PortAccess>) -> Self {
        // What the requester proved by logging in to its own target: that
        // target's CHAP credential, if it requires one.
        let proved_by_target: Arc<HashMap<String, Option<ChapIdentity>>> = Arc::new(
            ports
                .iter()
                .map(|p| (p.target.name.clone(), p.policy.chap.clone()))
                .collect(),
        );
        let targets = ports
            .into_iter()
            .map(|p| {
                let target = p.target.clone();
                let proved_by_target = proved_by_target.clone();
                let may_use: InitiatorFilter = Arc::new(move |r: &Requester<'_>| {
                    if r.target.name == p.target.name {
                        return true;
                    }
                    let proved = proved_by_target
                        .get(&r.target.name)
                        .and_then(Option::as_ref);
                    p.policy.permits(r.initiator_name, proved)
                });
                TargetAccess { target, may_use }
            })
            .collect();
        Self::with_vpd83_designators(targets)
    }
}

impl CscdResolver for AclResolver {
    /// A designator must name exactly one LU among the targets the
    /// requester may use. Port- or device-associated designators (the same
    /// for every LU behind a port) therefore resolve only on a single-LU
    /// target; an ambiguous match is refused rather than guessed.
    fn resolve(&self, requester: &Requester<'_>, designator: &Designator) -> Resolution {
        let usable =
            |a: &TargetAccess| a.target.name == requester.target.name || (a.may_use)(requester);
        let allowed = self
            .targets
            .iter()
            .filter(|a| usable(a))
            .flat_map(|a| a.target.luns.values().map(move |l| (a.target.as_ref(), l)));
        match unique_match(allowed, &self.designators, designator) {
            Ok(Some(lu)) => return Resolution::Found(ResolvedLu::from_lu(lu)),
            Err(()) => {
                tracing::warn!(?designator, "CSCD designator matches several LUs");
                return Resolution::NotFound;
            }
            Ok(None) => {}
        }
        let all = self
            .targets
            .iter()
            .flat_map(|a| a.target.luns.values().map(move |l| (a.target.as_ref(), l)));
        match unique_match(all, &self.designators, designator) {
            Ok(None) => Resolution::NotFound,
            _ => Resolution::NotAuthorized,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::copy::testutil::*;

    /// The designators VPD 0x83 really reports resolve: the LU's NAA
    /// (what libiscsi, QEMU and sg_xcopy pick), and nothing of another LU.
    #[test]
    fn vpd83_naa_resolves() {
        let a = lu(0x1234, 512, 64, false);
        let b = lu(0x5678, 512, 64, false);
        let r = AclResolver::with_vpd83_designators(vec![TargetAccess {
            target: target("iqn.t", &[&a, &b]),
            may_use: Arc::new(|_| true),
        }]);
        let page = crate::spc::vpd::device_identification(&a, &r.targets[0].target);
        let ds = Designator::from_vpd83_page(&page);
        let naa = ds
            .iter()
            .find(|d| d.designator_type == 3 && d.association == 0)
            .unwrap();
        assert!(naa.value.len() <= 20);
        match r.resolve(&req("i", &outside()), naa) {
            Resolution::Found(f) => assert!(Arc::ptr_eq(&f.lu, &a)),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A designator every LU of a target reports (a port or device
    /// association) names no single LU: refused. The same LU mapped in two
    /// targets is not ambiguous.
    #[test]
    fn ambiguous_designators_are_refused() {
        let a = lu(1, 512, 64, false);
        let b = lu(2, 512, 64, false);
        let port_name = Designator {
            code_set: 3,
            association: 1,
            designator_type: 8,
            value: b"iqn.t,t,0x0001".to_vec(),
        };
        let pn = port_name.clone();
        let with_port = move |t: &TargetPort, l: &LogicalUnit| {
            let mut v = designators(t, l);
            v.push(pn.clone());
            v
        };
        let two = AclResolver {
            targets: vec![TargetAccess {
                target: target("a", &[&a, &b]),
                may_use: Arc::new(|_| true),
            }],
            designators: Arc::new(with_port.clone()),
        };
        assert!(matches!(
            two.resolve(&req("i", &outside()), &port_name),
            Resolution::NotFound
        ));
        let one = AclResolver {
            targets: vec![
                TargetAccess {
                    target: target("a", &[&a]),
                    may_use: Arc::new(|_| true),
                },
                TargetAccess {
                    target: target("b", &[&a]),
                    may_use: Arc::new(|_| true),
                },
            ],
            designators: Arc::new(with_port),
        };
        match one.resolve(&req("i", &outside()), &port_name) {
            Resolution::Found(r) => assert!(Arc::ptr_eq(&r.lu, &a)),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The requester's own target port is always usable (it is logged in
    /// there); OwnTargetResolver sees nothing else.
    #[test]
    fn own_target_rules() {
        let a = lu(1, 512, 64, false);
        let secret = lu(9, 512, 64, false);
        let r = resolver(&[&a], &[&secret]);
        let naa = |l: &LogicalUnit| Designator {
            code_set: 1,
            association: 0,
            designator_type: 3,
            value: naa_of(l).to_vec(),
        };
        let b = target("b", &[&secret]);
        assert!(matches!(
            r.resolve(&req("iqn.x", &outside()), &naa(&secret)),
            Resolution::NotAuthorized
        ));
        assert!(matches!(
            r.resolve(&req("iqn.x", &b), &naa(&secret)),
            Resolution::Found(_)
        ));
        let own = OwnTargetResolver {
            designators: Arc::new(designators),
        };
        let ta = target("a", &[&a]);
        assert!(matches!(
            own.resolve(&req("iqn.x", &ta), &naa(&a)),
            Resolution::Found(_)
        ));
        assert!(matches!(
            own.resolve(&req("iqn.x", &ta), &naa(&secret)),
            Resolution::NotFound
        ));
    }
}
