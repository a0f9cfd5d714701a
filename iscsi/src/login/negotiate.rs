//! Operational parameter negotiation (RFC 7143 6.2, 13) driven by the key
//! table in [`super::keys`]: the initiator offers, the target answers with
//! the negotiated value, and both apply the same result.

use super::keys::{lookup, Key, KeyDef, Rule, Usage};
use super::status::LoginStatus;
use crate::params::SessionParams;
use crate::text::{parse_number, MAX_KEYS};

/// The values the target brings to negotiation ("ours"). The result of a
/// key is computed from the initiator's offer and this (RFC 7143 6.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiationPolicy {
    /// Whether CRC32C header digests are supported (else only None).
    pub header_digest_crc32c: bool,
    /// Whether CRC32C data digests are supported (else only None).
    pub data_digest_crc32c: bool,
    pub max_connections: u16,
    /// Ours for InitialR2T (OR): `false` lets the initiator choose.
    pub initial_r2t: bool,
    /// Ours for ImmediateData (AND): `true` lets the initiator choose.
    pub immediate_data: bool,
    pub max_burst_length: u32,
    pub first_burst_length: u32,
    pub default_time2wait: u16,
    pub default_time2retain: u16,
    pub max_outstanding_r2t: u16,
    pub data_pdu_in_order: bool,
    pub data_sequence_in_order: bool,
    pub error_recovery_level: u8,
    /// iSCSIProtocolLevel (RFC 7144 2.1): 1 = RFC 7143.
    pub protocol_level: u8,
}

impl Default for NegotiationPolicy {
    fn default() -> Self {
        Self {
            header_digest_crc32c: true,
            data_digest_crc32c: true,
            max_connections: 1,
            initial_r2t: false,
            immediate_data: true,
            max_burst_length: 1_048_576,
            first_burst_length: 262_144,
            default_time2wait: 2,
            default_time2retain: 20,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
            protocol_level: 1,
        }
    }
}

/// What to do with one offered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answer `key=<value>`.
    Answer(String),
    /// Accepted declaration: nothing to answer.
    Silent,
    /// Fail the login with this status.
    Fail(LoginStatus),
}

fn answer(s: &str) -> Outcome {
    Outcome::Answer(s.to_owned())
}

const REJECT: &str = "Reject";
const IRRELEVANT: &str = "Irrelevant";
const NOT_UNDERSTOOD: &str = "NotUnderstood";

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "Yes" => Some(true),
        "No" => Some(false),
        _ => None,
    }
}

fn yes_no(b: bool) -> String {
    if b { "Yes" } else { "No" }.to_owned()
}

fn parse_ranged(v: &str, lo: u32, hi: u32) -> Option<u32> {
    let n = parse_number(v)?;
    let n = u32::try_from(n).ok()?;
    (lo..=hi).contains(&n).then_some(n)
}

/// Split a list value (RFC 7143 5.1 list-of-values): no empty element.
fn parse_list(v: &str) -> Option<Vec<&str>> {
    let items: Vec<&str> = v.split(',').collect();
    if items.iter().any(|i| i.is_empty()) {
        return None;
    }
    Some(items)
}

fn clamp_u16(n: u32) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Per-login negotiation state: the resulting parameters and every key
/// answered so far (a key may be negotiated once, RFC 7143 6.2).
#[derive(Debug, Clone)]
pub struct Negotiator {
    policy: NegotiationPolicy,
    pub params: SessionParams,
    discovery: bool,
    leading: bool,
    seen: Vec<(String, String, Outcome)>,
    /// The initiator's iSCSIProtocolLevel result, if negotiated.
    pub protocol_level: Option<u8>,
}

impl Negotiator {
    pub fn new(policy: NegotiationPolicy, discovery: bool, leading: bool) -> Self {
        Self {
            policy,
            params: SessionParams::default(),
            discovery,
            leading,
            seen: Vec::new(),
            protocol_level: None,
        }
    }

    pub fn set_discovery(&mut self, discovery: bool) {
        self.discovery = discovery;
    }

    /// Negotiate one key offered during login. Security keys and the
    /// initiator's declarations are the caller's.
    pub fn offer(&mut self, name: &str, value: &str) -> Outcome {
        if let Some((_, v, out)) = self.seen.iter().find(|(k, _, _)| k == name) {
            // Repeating an offer with the same value (libiscsi repeats its
            // keys when a stage spans PDUs) gets the same answer; a change
            // is a renegotiation, an initiator error (RFC 7143 6.2).
            return if v == value {
                out.clone()
            } else {
                Outcome::Fail(LoginStatus::INITIATOR_ERROR)
            };
        }
        let out = self.offer_new(name, value);
        if self.seen.len() < MAX_KEYS {
            self.seen
                .push((name.to_owned(), value.to_owned(), out.clone()));
        }
        out
    }

    fn offer_new(&mut self, name: &str, value: &str) -> Outcome {
        let Some(def) = lookup(name) else {
            // Unknown keys, X- and X# extensions included (RFC 7143 6.2,
            // 13.5.2): "NotUnderstood".
            return answer(NOT_UNDERSTOOD);
        };
        match def.rule {
            Rule::Security | Rule::InitiatorDeclared => {
                return Outcome::Fail(LoginStatus::INITIATOR_ERROR)
            }
            Rule::TargetDeclared => return Outcome::Fail(LoginStatus::INITIATOR_ERROR),
            Rule::FullFeatureOnly => return answer(IRRELEVANT),
            _ => {}
        }
        if self.discovery && def.irrelevant_in_discovery {
            return answer(IRRELEVANT);
        }
        if !self.leading && def.usage == Usage::LeadingOnly {
            return answer(IRRELEVANT);
        }
        self.negotiate(def, value)
    }

    fn negotiate(&mut self, def: &KeyDef, value: &str) -> Outcome {
        let p = &self.policy;
        match def.rule {
            Rule::List(supported) => {
                let Some(items) = parse_list(value) else {
                    return answer(REJECT);
                };
                let allowed = |v: &str| match def.key {
                    Key::HeaderDigest => v == "None" || (v == "CRC32C" && p.header_digest_crc32c),
                    Key::DataDigest => v == "None" || (v == "CRC32C" && p.data_digest_crc32c),
                    _ => supported.contains(&v),
                };
                let Some(chosen) = items.into_iter().find(|v| allowed(v)) else {
                    return answer(REJECT);
                };
                match def.key {
                    Key::HeaderDigest => self.params.header_digest = chosen == "CRC32C",
                    Key::DataDigest => self.params.data_digest = chosen == "CRC32C",
                    _ => {}
                }
                answer(chosen)
            }
            Rule::Or | Rule::And => {
                let Some(offered) = parse_bool(value) else {
                    return answer(REJECT);
                };
                let ours = match def.key {
                    Key::InitialR2T => p.initial_r2t,
                    Key::ImmediateData => p.immediate_data,
                    Key::DataPduInOrder => p.data_pdu_in_order,
                    Key::DataSequenceInOrder => p.data_sequence_in_order,
                    _ => false, // RDMAExtensions: not an iSER target
                };
                let result = if def.rule == Rule::Or {
                    offered || ours
                } else {
                    offered && ours
                };
                match def.key {
                    Key::InitialR2T => self.params.initial_r2t = result,
                    Key::ImmediateData => self.params.immediate_data = result,
                    Key::DataPduInOrder => self.params.data_pdu_in_order = result,
                    Key::DataSequenceInOrder => self.params.data_sequence_in_order = result,
                    _ => {}
                }
                Outcome::Answer(yes_no(result))
            }
            Rule::Min { lo, hi } | Rule::Max { lo, hi } => {
                let Some(offered) = parse_ranged(value, lo, hi) else {
                    return answer(REJECT);
                };
                let ours = match def.key {
                    Key::MaxConnections => u32::from(p.max_connections),
                    Key::MaxBurstLength => p.max_burst_length,
                    // FirstBurstLength MUST NOT exceed MaxBurstLength (13.14).
                    Key::FirstBurstLength => p.first_burst_length.min(self.params.max_burst_length),
                    Key::DefaultTime2Wait => u32::from(p.default_time2wait),
                    Key::DefaultTime2Retain => u32::from(p.default_time2retain),
                    Key::MaxOutstandingR2T => u32::from(p.max_outstanding_r2t),
                    Key::ErrorRecoveryLevel => u32::from(p.error_recovery_level),
                    Key::IscsiProtocolLevel => u32::from(p.protocol_level),
                    _ => offered,
                };
                let ours = ours.clamp(lo, hi);
                let result = if matches!(def.rule, Rule::Min { .. }) {
                    offered.min(ours)
                } else {
                    offered.max(ours)
                };
                match def.key {
                    Key::MaxConnections => self.params.max_connections = clamp_u16(result),
                    Key::MaxBurstLength => self.params.max_burst_length = result,
                    Key::FirstBurstLength => self.params.first_burst_length = result,
                    Key::DefaultTime2Wait => self.params.default_time2wait = clamp_u16(result),
                    Key::DefaultTime2Retain => self.params.default_time2retain = clamp_u16(result),
                    Key::MaxOutstandingR2T => self.params.max_outstanding_r2t = clamp_u16(result),
                    Key::ErrorRecoveryLevel => {
                        self.params.error_recovery_level = u8::try_from(result).unwrap_or(0)
                    }
                    Key::IscsiProtocolLevel => self.protocol_level = u8::try_from(result).ok(),
                    _ => {}
                }
                Outcome::Answer(result.to_string())
            }
            Rule::DeclaredNumber { lo, hi } => match parse_ranged(value, lo, hi) {
                // MaxRecvDataSegmentLength of the initiator: what we may send.
                Some(n) => {
                    self.params.max_send_data_segment = n;
                    Outcome::Silent
                }
                None => Outcome::Fail(LoginStatus::INITIATOR_ERROR),
            },
            Rule::Fixed(v) => {
                if matches!(def.key, Key::IfMarker | Key::OfMarker) && parse_bool(value).is_none() {
                    return answer(REJECT);
                }
                answer(v)
            }
            Rule::Security
            | Rule::InitiatorDeclared
            | Rule::TargetDeclared
            | Rule::FullFeatureOnly => Outcome::Fail(LoginStatus::INITIATOR_ERROR),
        }
    }

    /// The parameters at the end of login, made consistent: FirstBurstLength
    /// never above MaxBurstLength (RFC 7143 13.14).
    pub fn finish(&self) -> SessionParams {
        let mut p = self.params.clone();
        if p.first_burst_length > p.max_burst_length {
            p.first_burst_length = p.max_burst_length;
        }
        p
    }
}

/// Answer to a key in a Text Request of the full feature phase (RFC 7143
/// 6.2, 11.10), other than SendTargets. Keys that may only be negotiated
/// during login (LO, IO) are rejected; MaxRecvDataSegmentLength may be
/// redeclared: returns the new value to apply to the data path.
pub fn full_feature_offer(name: &str, value: &str) -> (Option<String>, Option<u32>) {
    let Some(def) = lookup(name) else {
        return (Some(NOT_UNDERSTOOD.to_owned()), None);
    };
    match (def.rule, def.usage) {
        (Rule::DeclaredNumber { lo, hi }, Usage::All) => match parse_ranged(value, lo, hi) {
            Some(n) => (None, Some(n)),
            None => (Some(REJECT.to_owned()), None),
        },
        (Rule::InitiatorDeclared, Usage::All) => (None, None),
        _ => (Some(REJECT.to_owned()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neg() -> Negotiator {
        Negotiator::new(NegotiationPolicy::default(), false, true)
    }

    fn ans(n: &mut Negotiator, k: &str, v: &str) -> Outcome {
        n.offer(k, v)
    }

    fn a(s: &str) -> Outcome {
        Outcome::Answer(s.to_owned())
    }

    #[test]
    fn digests_pick_first_supported_of_initiator_list() {
        let mut n = neg();
        assert_eq!(ans(&mut n, "HeaderDigest", "CRC32C,None"), a("CRC32C"));
        assert_eq!(ans(&mut n, "DataDigest", "None,CRC32C"), a("None"));
        assert!(n.params.header_digest);
        assert!(!n.params.data_digest);
        let mut n = neg();
        assert_eq!(ans(&mut n, "HeaderDigest", "MD5,CRC32C"), a("CRC32C"));
        assert_eq!(ans(&mut n, "DataDigest", "MD5"), a("Reject"));
        let mut n = neg();
        assert_eq!(ans(&mut n, "HeaderDigest", "None,,CRC32C"), a("Reject"));
        let p = NegotiationPolicy {
            header_digest_crc32c: false,
            ..Default::default()
        };
        let mut n = Negotiator::new(p, false, true);
        assert_eq!(ans(&mut n, "HeaderDigest", "CRC32C,None"), a("None"));
        assert_eq!(ans(&mut n, "DataDigest", "CRC32C"), a("CRC32C"));
    }

    #[test]
    fn booleans() {
        let mut n = neg();
        assert_eq!(ans(&mut n, "InitialR2T", "No"), a("No"));
        assert_eq!(ans(&mut n, "ImmediateData", "Yes"), a("Yes"));
        assert_eq!(ans(&mut n, "DataPDUInOrder", "No"), a("Yes"));
        assert_eq!(ans(&mut n, "DataSequenceInOrder", "No"), a("Yes"));
        assert_eq!(ans(&mut n, "RDMAExtensions", "Yes"), a("No"));
        assert!(!n.params.initial_r2t);
        assert!(n.params.immediate_data);
        let mut n = neg();
        assert_eq!(ans(&mut n, "InitialR2T", "Yes"), a("Yes"));
        assert_eq!(ans(&mut n, "ImmediateData", "No"), a("No"));
        assert_eq!(ans(&mut n, "DataPDUInOrder", "yes"), a("Reject"));
        assert!(n.params.initial_r2t);
        assert!(!n.params.immediate_data);
        let p = NegotiationPolicy {
            initial_r2t: true,
            immediate_data: false,
            ..Default::default()
        };
        let mut n = Negotiator::new(p, false, true);
        assert_eq!(ans(&mut n, "InitialR2T", "No"), a("Yes"));
        assert_eq!(ans(&mut n, "ImmediateData", "Yes"), a("No"));
    }

    #[test]
    fn numbers() {
        let mut n = neg();
        assert_eq!(ans(&mut n, "MaxBurstLength", "16776192"), a("1048576"));
        assert_eq!(ans(&mut n, "FirstBurstLength", "16776192"), a("262144"));
        assert_eq!(ans(&mut n, "MaxConnections", "8"), a("1"));
        assert_eq!(ans(&mut n, "DefaultTime2Wait", "0"), a("2"));
        assert_eq!(ans(&mut n, "DefaultTime2Retain", "0"), a("0"));
        assert_eq!(ans(&mut n, "MaxOutstandingR2T", "16"), a("1"));
        assert_eq!(ans(&mut n, "ErrorRecoveryLevel", "2"), a("0"));
        assert_eq!(ans(&mut n, "iSCSIProtocolLevel", "2"), a("1"));
        let p = n.finish();
        assert_eq!(p.max_burst_length, 1_048_576);
        assert_eq!(p.first_burst_length, 262_144);
        assert_eq!(p.default_time2wait, 2);
        assert_eq!(p.default_time2retain, 0);
        let mut n = neg();
        assert_eq!(ans(&mut n, "MaxBurstLength", "0x2000"), a("8192"));
        assert_eq!(ans(&mut n, "FirstBurstLength", "65536"), a("8192"));
        assert_eq!(ans(&mut n, "DefaultTime2Wait", "10"), a("10"));
        assert_eq!(ans(&mut n, "DefaultTime2Retain", "5"), a("5"));
        assert_eq!(ans(&mut n, "MaxOutstandingR2T", "0"), a("Reject"));
        assert_eq!(ans(&mut n, "ErrorRecoveryLevel", "3"), a("Reject"));
        assert_eq!(ans(&mut n, "MaxConnections", "-1"), a("Reject"));
        assert_eq!(ans(&mut n, "DefaultTime2Retain", "5"), a("5"));
        let mut n = neg();
        assert_eq!(ans(&mut n, "MaxBurstLength", "511"), a("Reject"));
        assert_eq!(ans(&mut n, "FirstBurstLength", "16777216"), a("Reject"));
        // Only MaxBurstLength offered: FirstBurstLength default follows it.
        let mut n = neg();
        assert_eq!(ans(&mut n, "MaxBurstLength", "4096"), a("4096"));
        assert_eq!(n.finish().first_burst_length, 4096);
    }

    #[test]
    fn declarations_and_special_keys() {
        let mut n = neg();
        assert_eq!(
            ans(&mut n, "MaxRecvDataSegmentLength", "65536"),
            Outcome::Silent
        );
        assert_eq!(n.params.max_send_data_segment, 65536);
        assert_eq!(
            ans(&mut n, "MaxRecvDataSegmentLength", "100"),
            Outcome::Fail(LoginStatus::INITIATOR_ERROR)
        );
        let mut n = neg();
        assert_eq!(
            ans(&mut n, "MaxRecvDataSegmentLength", "511"),
            Outcome::Fail(LoginStatus::INITIATOR_ERROR)
        );
        assert_eq!(ans(&mut n, "IFMarker", "No"), a("No"));
        assert_eq!(ans(&mut n, "OFMarker", "Yes"), a("No"));
        assert_eq!(ans(&mut n, "OFMarkInt", "2048~8192"), a("Reject"));
        assert_eq!(ans(&mut n, "IFMarkInt", "2048"), a("Reject"));
        assert_eq!(
            ans(&mut n, "TaskReporting", "ResponseFence,RFC3720"),
            a("RFC3720")
        );
        assert_eq!(ans(&mut n, "X-com.example.foo", "1"), a("NotUnderstood"));
        assert_eq!(ans(&mut n, "X#NodeArchitecture", "x"), a("NotUnderstood"));
        assert_eq!(ans(&mut n, "Bogus", "1"), a("NotUnderstood"));
        assert_eq!(ans(&mut n, "SendTargets", "All"), a("Irrelevant"));
        assert_eq!(
            ans(&mut n, "TargetPortalGroupTag", "1"),
            Outcome::Fail(LoginStatus::INITIATOR_ERROR)
        );
        assert_eq!(
            ans(&mut n, "TargetAddress", "1.2.3.4"),
            Outcome::Fail(LoginStatus::INITIATOR_ERROR)
        );
    }

    #[test]
    fn repeats() {
        let mut n = neg();
        assert_eq!(ans(&mut n, "MaxBurstLength", "8192"), a("8192"));
        assert_eq!(ans(&mut n, "MaxBurstLength", "8192"), a("8192"));
        assert_eq!(
            ans(&mut n, "MaxBurstLength", "4096"),
            Outcome::Fail(LoginStatus::INITIATOR_ERROR)
        );
    }

    #[test]
    fn discovery_and_non_leading_irrelevant() {
        let mut n = Negotiator::new(NegotiationPolicy::default(), true, true);
        for k in [
            "InitialR2T",
            "ImmediateData",
            "MaxBurstLength",
            "FirstBurstLength",
            "MaxOutstandingR2T",
            "DataPDUInOrder",
            "DataSequenceInOrder",
            "MaxConnections",
        ] {
            assert_eq!(ans(&mut n, k, "1"), a("Irrelevant"), "{k}");
        }
        assert_eq!(ans(&mut n, "HeaderDigest", "None"), a("None"));
        assert_eq!(ans(&mut n, "ErrorRecoveryLevel", "0"), a("0"));
        assert_eq!(ans(&mut n, "DefaultTime2Wait", "2"), a("2"));
        let mut n = Negotiator::new(NegotiationPolicy::default(), false, false);
        assert_eq!(ans(&mut n, "MaxBurstLength", "8192"), a("Irrelevant"));
        assert_eq!(ans(&mut n, "HeaderDigest", "CRC32C"), a("CRC32C"));
    }

    #[test]
    fn full_feature_phase() {
        assert_eq!(
            full_feature_offer("MaxRecvDataSegmentLength", "16384"),
            (None, Some(16384))
        );
        assert_eq!(
            full_feature_offer("MaxRecvDataSegmentLength", "1"),
            (Some("Reject".into()), None)
        );
        assert_eq!(
            full_feature_offer("HeaderDigest", "None"),
            (Some("Reject".into()), None)
        );
        assert_eq!(
            full_feature_offer("MaxBurstLength", "512"),
            (Some("Reject".into()), None)
        );
        assert_eq!(
            full_feature_offer("X-foo", "1"),
            (Some("NotUnderstood".into()), None)
        );
        assert_eq!(full_feature_offer("InitiatorAlias", "a"), (None, None));
    }
}
