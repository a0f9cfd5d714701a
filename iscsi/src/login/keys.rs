//! The declarative table of iSCSI text keys (RFC 7143 13, 12; RFC 7144
//! for iSCSIProtocolLevel; RFC 3720 12.18-12.19 for the obsolete markers;
//! RFC 7145 for RDMAExtensions). One row per key: how it is negotiated,
//! where it may appear, and whether it is irrelevant in a discovery session.

/// Which key a row describes; the negotiator applies results by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    HeaderDigest,
    DataDigest,
    MaxConnections,
    SendTargets,
    TargetName,
    InitiatorName,
    TargetAlias,
    InitiatorAlias,
    TargetAddress,
    TargetPortalGroupTag,
    InitialR2T,
    ImmediateData,
    MaxRecvDataSegmentLength,
    MaxBurstLength,
    FirstBurstLength,
    DefaultTime2Wait,
    DefaultTime2Retain,
    MaxOutstandingR2T,
    DataPduInOrder,
    DataSequenceInOrder,
    ErrorRecoveryLevel,
    SessionType,
    TaskReporting,
    IscsiProtocolLevel,
    IfMarker,
    OfMarker,
    IfMarkInt,
    OfMarkInt,
    RdmaExtensions,
    AuthMethod,
    ChapA,
    ChapI,
    ChapC,
    ChapN,
    ChapR,
}

/// How a key's value is settled (RFC 7143 6.2.1, 6.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Security keys (AuthMethod, CHAP_*): handled by the security stage.
    Security,
    /// Declared by the initiator (names, SessionType): recorded, no answer.
    InitiatorDeclared,
    /// Declared only by the target; an initiator sending it is in error.
    TargetDeclared,
    /// Only in Text requests of the full feature phase (SendTargets).
    FullFeatureOnly,
    /// List negotiation: the answer is the first value of the offer that is
    /// in `supported` (RFC 7143 6.2.1). Digests filter by policy.
    List(&'static [&'static str]),
    /// Boolean, result is offered OR ours (RFC 7143 6.2.2).
    Or,
    /// Boolean, result is offered AND ours.
    And,
    /// Numerical, result is the minimum of offered and ours.
    Min { lo: u32, hi: u32 },
    /// Numerical, result is the maximum of offered and ours.
    Max { lo: u32, hi: u32 },
    /// Declarative number, each side states its own (MaxRecvDataSegmentLength).
    DeclaredNumber { lo: u32, hi: u32 },
    /// Obsolete RFC 3720 marker keys: always answered with this value
    /// ("No" for IFMarker/OFMarker, "Reject" for the intervals).
    Fixed(&'static str),
}

/// Where a key may be sent (the "Use" line of RFC 7143 13.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// LO: leading connection only, during login.
    LeadingOnly,
    /// IO: during login only (any connection).
    InitializeOnly,
    /// ALL: login and full feature phase.
    All,
    /// FFPO: full feature phase only.
    FullFeatureOnly,
    /// Security negotiation stage only.
    Security,
}

#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub key: Key,
    pub name: &'static str,
    pub rule: Rule,
    pub usage: Usage,
    /// "Irrelevant when: SessionType=Discovery".
    pub irrelevant_in_discovery: bool,
}

const fn def(key: Key, name: &'static str, rule: Rule, usage: Usage, irr: bool) -> KeyDef {
    KeyDef {
        key,
        name,
        rule,
        usage,
        irrelevant_in_discovery: irr,
    }
}

/// 2^24 - 1: upper bound of the length keys (RFC 7143 13.12-13.14).
pub const MAX_LENGTH_KEY: u32 = 16_777_215;
/// Lower bound of the length keys (RFC 7143 13.12-13.14).
pub const MIN_LENGTH_KEY: u32 = 512;

use Rule::*;
use Usage::*;

/// Every key we know. Anything else is answered `NotUnderstood`.
pub static KEYS: &[KeyDef] = &[
    // RFC 7143 13.1
    def(
        Key::HeaderDigest,
        "HeaderDigest",
        List(&["None", "CRC32C"]),
        InitializeOnly,
        false,
    ),
    def(
        Key::DataDigest,
        "DataDigest",
        List(&["None", "CRC32C"]),
        InitializeOnly,
        false,
    ),
    // 13.2
    def(
        Key::MaxConnections,
        "MaxConnections",
        Min { lo: 1, hi: 65_535 },
        LeadingOnly,
        true,
    ),
    // 13.3
    def(
        Key::SendTargets,
        "SendTargets",
        Rule::FullFeatureOnly,
        Usage::FullFeatureOnly,
        false,
    ),
    // 13.4-13.9
    def(
        Key::TargetName,
        "TargetName",
        InitiatorDeclared,
        InitializeOnly,
        false,
    ),
    def(
        Key::InitiatorName,
        "InitiatorName",
        InitiatorDeclared,
        InitializeOnly,
        false,
    ),
    def(Key::TargetAlias, "TargetAlias", TargetDeclared, All, false),
    def(
        Key::InitiatorAlias,
        "InitiatorAlias",
        InitiatorDeclared,
        All,
        false,
    ),
    def(
        Key::TargetAddress,
        "TargetAddress",
        TargetDeclared,
        All,
        false,
    ),
    def(
        Key::TargetPortalGroupTag,
        "TargetPortalGroupTag",
        TargetDeclared,
        InitializeOnly,
        false,
    ),
    // 13.10-13.11
    def(Key::InitialR2T, "InitialR2T", Or, LeadingOnly, true),
    def(Key::ImmediateData, "ImmediateData", And, LeadingOnly, true),
    // 13.12-13.14
    def(
        Key::MaxRecvDataSegmentLength,
        "MaxRecvDataSegmentLength",
        DeclaredNumber {
            lo: MIN_LENGTH_KEY,
            hi: MAX_LENGTH_KEY,
        },
        All,
        false,
    ),
    def(
        Key::MaxBurstLength,
        "MaxBurstLength",
        Min {
            lo: MIN_LENGTH_KEY,
            hi: MAX_LENGTH_KEY,
        },
        LeadingOnly,
        true,
    ),
    def(
        Key::FirstBurstLength,
        "FirstBurstLength",
        Min {
            lo: MIN_LENGTH_KEY,
            hi: MAX_LENGTH_KEY,
        },
        LeadingOnly,
        true,
    ),
    // 13.15-13.16
    def(
        Key::DefaultTime2Wait,
        "DefaultTime2Wait",
        Max { lo: 0, hi: 3600 },
        LeadingOnly,
        false,
    ),
    def(
        Key::DefaultTime2Retain,
        "DefaultTime2Retain",
        Min { lo: 0, hi: 3600 },
        LeadingOnly,
        false,
    ),
    // 13.17-13.20
    def(
        Key::MaxOutstandingR2T,
        "MaxOutstandingR2T",
        Min { lo: 1, hi: 65_535 },
        LeadingOnly,
        true,
    ),
    def(Key::DataPduInOrder, "DataPDUInOrder", Or, LeadingOnly, true),
    def(
        Key::DataSequenceInOrder,
        "DataSequenceInOrder",
        Or,
        LeadingOnly,
        true,
    ),
    def(
        Key::ErrorRecoveryLevel,
        "ErrorRecoveryLevel",
        Min { lo: 0, hi: 2 },
        LeadingOnly,
        false,
    ),
    // 13.21
    def(
        Key::SessionType,
        "SessionType",
        InitiatorDeclared,
        LeadingOnly,
        false,
    ),
    // 13.23 (RFC 7143), 13.24 / RFC 7144
    def(
        Key::TaskReporting,
        "TaskReporting",
        List(&["RFC3720"]),
        LeadingOnly,
        true,
    ),
    def(
        Key::IscsiProtocolLevel,
        "iSCSIProtocolLevel",
        Min { lo: 0, hi: 31 },
        LeadingOnly,
        false,
    ),
    // RFC 3720 12.18-12.19, obsolete in RFC 7143: never use markers.
    def(
        Key::IfMarker,
        "IFMarker",
        Fixed("No"),
        InitializeOnly,
        false,
    ),
    def(
        Key::OfMarker,
        "OFMarker",
        Fixed("No"),
        InitializeOnly,
        false,
    ),
    def(
        Key::IfMarkInt,
        "IFMarkInt",
        Fixed("Reject"),
        InitializeOnly,
        false,
    ),
    def(
        Key::OfMarkInt,
        "OFMarkInt",
        Fixed("Reject"),
        InitializeOnly,
        false,
    ),
    // RFC 7145 6.1: we are not an iSER target.
    def(
        Key::RdmaExtensions,
        "RDMAExtensions",
        And,
        LeadingOnly,
        false,
    ),
    // RFC 7143 12.1
    def(
        Key::AuthMethod,
        "AuthMethod",
        Rule::Security,
        Usage::Security,
        false,
    ),
    def(Key::ChapA, "CHAP_A", Rule::Security, Usage::Security, false),
    def(Key::ChapI, "CHAP_I", Rule::Security, Usage::Security, false),
    def(Key::ChapC, "CHAP_C", Rule::Security, Usage::Security, false),
    def(Key::ChapN, "CHAP_N", Rule::Security, Usage::Security, false),
    def(Key::ChapR, "CHAP_R", Rule::Security, Usage::Security, false),
];

/// The row of a key name (names are case sensitive, RFC 7143 6.1).
pub fn lookup(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for (i, d) in KEYS.iter().enumerate() {
            assert!(KEYS[i + 1..].iter().all(|o| o.name != d.name), "{}", d.name);
            assert_eq!(lookup(d.name).map(|x| x.key), Some(d.key));
        }
        assert!(lookup("headerdigest").is_none());
        assert!(lookup("X-com.example.foo").is_none());
    }
}
