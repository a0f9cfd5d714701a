//! The per-connection login state machine (RFC 7143 6.3, 11.12, 11.13).
//!
//! Stages: SecurityNegotiation (CSG 0) -> LoginOperationalNegotiation
//! (CSG 1) -> FullFeaturePhase (NSG 3); the initiator may skip a stage by
//! transiting 0 -> 3 or starting at 1. The target transits only when the
//! initiator asks (T=1) and nothing is left to exchange (CHAP complete).
//!
//! Policy decisions documented here:
//! - Discovery sessions need no authentication: the target has no secret
//!   for them, so the initiator must offer AuthMethod None.
//! - Operational keys are accepted in the security stage too (RFC 7143
//!   6.3 allows operational negotiation to start with the first PDU when
//!   no security is offered); security keys outside it fail the login.

use super::keys::{lookup, Rule};
use super::negotiate::{NegotiationPolicy, Negotiator, Outcome};
use super::security::{Security, SecurityOutcome};
use super::status::LoginStatus;
use super::{LoginContext, LoginEvent, LoginInput, LoginOutput, LoginResult, SessionKind};
use crate::target::TargetConfig;
use crate::text::{self, KeyValue, TextWriter, MAX_TEXT_BYTES};
use scsi::access::AccessPolicy;

/// CSG/NSG values (RFC 7143 11.12.3).
pub const STAGE_SECURITY: u8 = 0;
pub const STAGE_OPERATIONAL: u8 = 1;
pub const STAGE_FULL_FEATURE: u8 = 3;
/// Longest iSCSI name (RFC 7143 4.2.7.1).
const MAX_NAME_LEN: usize = 223;

/// What the first request established about the session.
#[derive(Debug, Clone)]
struct Leading {
    isid: [u8; 6],
    tsih: u16,
    cid: u16,
    initiator_name: String,
    initiator_alias: Option<String>,
    kind: SessionKind,
    /// Declared values of TargetName and SessionType as received, to
    /// compare when the initiator repeats them.
    target_name: Option<String>,
    session_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Login,
    Done,
}

/// Per-connection login state machine.
pub struct LoginMachine {
    ctx: LoginContext,
    policy: NegotiationPolicy,
    phase: Phase,
    /// The CSG the next request must carry, once one was answered.
    expected_csg: Option<u8>,
    leading: Option<Leading>,
    security: Security,
    negotiator: Negotiator,
    /// Login data of a C-bit sequence not yet complete (bounded).
    pending: Vec<u8>,
    sent_tpgt: bool,
    declared_mrdsl: bool,
}

impl LoginMachine {
    pub fn new(ctx: LoginContext) -> Self {
        Self::with_policy(ctx, NegotiationPolicy::default())
    }

    /// A machine negotiating with `policy` as the target's values.
    pub fn with_policy(ctx: LoginContext, policy: NegotiationPolicy) -> Self {
        Self {
            ctx,
            negotiator: Negotiator::new(policy.clone(), false, true),
            policy,
            phase: Phase::Login,
            expected_csg: None,
            leading: None,
            security: Security::new(),
            pending: Vec::new(),
            sent_tpgt: false,
            declared_mrdsl: false,
        }
    }

    /// The InitiatorName once the first request was accepted.
    pub fn initiator_name(&self) -> Option<&str> {
        self.leading.as_ref().map(|l| l.initiator_name.as_str())
    }

    /// The session kind once the first request was accepted.
    pub fn session_kind(&self) -> Option<&SessionKind> {
        self.leading.as_ref().map(|l| &l.kind)
    }

    /// Handle one Login Request; see the module contract in `login/mod.rs`.
    pub fn step(&mut self, input: &LoginInput<'_>) -> (LoginOutput, LoginEvent) {
        match self.step_inner(input) {
            Ok(r) => r,
            Err(status) => {
                self.phase = Phase::Done;
                (fail_output(input.csg, status), LoginEvent::Fail)
            }
        }
    }

    fn step_inner(
        &mut self,
        input: &LoginInput<'_>,
    ) -> Result<(LoginOutput, LoginEvent), LoginStatus> {
        if self.phase == Phase::Done {
            return Err(LoginStatus::INITIATOR_ERROR);
        }
        // RFC 7143 11.12.4: we speak version 0x00 only.
        if input.version_min > 0 {
            return Err(LoginStatus::UNSUPPORTED_VERSION);
        }
        self.check_stages(input)?;
        if let Some(l) = &self.leading {
            // RFC 7143 11.12.5-11.12.7: ISID, TSIH and CID are fixed for
            // the whole login.
            if l.isid != input.isid || l.tsih != input.tsih || l.cid != input.cid {
                return Err(LoginStatus::INITIATOR_ERROR);
            }
        }
        if self
            .pending
            .len()
            .checked_add(input.data.len())
            .is_none_or(|n| n > MAX_TEXT_BYTES)
        {
            return Err(LoginStatus::OUT_OF_RESOURCES);
        }
        self.pending.extend_from_slice(input.data);
        if input.cont {
            // RFC 7143 11.12.2: the target answers each partial PDU with an
            // empty response and waits for the rest (C=0).
            self.expected_csg = Some(input.csg);
            return Ok((
                LoginOutput {
                    csg: input.csg,
                    ..Default::default()
                },
                LoginEvent::Continue,
            ));
        }
        let data = std::mem::take(&mut self.pending);
        let keys = text::parse(&data).map_err(|_| LoginStatus::INITIATOR_ERROR)?;

        if self.leading.is_none() {
            self.first_request(input, &keys)?;
        } else {
            self.check_repeated_declarations(&keys)?;
        }
        let discovery = self.is_discovery();
        let chap = self.chap_required();

        let mut w = TextWriter::new();
        // Security keys go to the security exchange, in the security stage
        // only (RFC 7143 6.3.1).
        let sec_keys: Vec<&KeyValue> = keys
            .iter()
            .filter(|kv| lookup(&kv.key).is_some_and(|d| d.rule == Rule::Security))
            .collect();
        if !sec_keys.is_empty() && input.csg != STAGE_SECURITY {
            return Err(LoginStatus::INITIATOR_ERROR);
        }
        let mut auth_done = self.security.is_done();
        if input.csg == STAGE_SECURITY {
            let access = match self.leading.as_ref().map(|l| &l.kind) {
                Some(SessionKind::Normal { target }) => {
                    self.ctx.targets.get(*target).map(|t| &t.access)
                }
                _ => None,
            };
            match self.security.exchange(&sec_keys, access, &mut w) {
                SecurityOutcome::Fail(s) => return Err(s),
                SecurityOutcome::Pending => auth_done = false,
                SecurityOutcome::Done => auth_done = true,
                SecurityOutcome::NotStarted => {
                    // No AuthMethod yet: None is implied only when the
                    // initiator leaves the stage and we need no CHAP.
                    auth_done = false;
                    if input.transit {
                        if chap {
                            return Err(LoginStatus::AUTHENTICATION_FAILURE);
                        }
                        self.security.accept_none();
                        auth_done = true;
                    }
                }
            }
        } else if !auth_done {
            // Operational stage without a security stage: only when the
            // target requires no authentication.
            if chap {
                return Err(LoginStatus::AUTHENTICATION_FAILURE);
            }
            self.security.accept_none();
            auth_done = true;
        }

        // Operational keys. FirstBurstLength after MaxBurstLength so that
        // its result can respect MaxBurstLength (RFC 7143 13.14).
        self.negotiator.set_discovery(discovery);
        let op_keys = keys.iter().filter(|kv| {
            !lookup(&kv.key)
                .is_some_and(|d| d.rule == Rule::Security || d.rule == Rule::InitiatorDeclared)
        });
        let (late, early): (Vec<&KeyValue>, Vec<&KeyValue>) =
            op_keys.partition(|kv| kv.key == "FirstBurstLength");
        for kv in early.into_iter().chain(late) {
            match self.negotiator.offer(&kv.key, &kv.value) {
                Outcome::Answer(v) => {
                    w.push(&kv.key, &v);
                }
                Outcome::Silent => {}
                Outcome::Fail(s) => return Err(s),
            }
        }

        // Target declarations: TargetPortalGroupTag in the first response
        // of a normal session (RFC 7143 13.9), with TargetAlias.
        if !discovery && !self.sent_tpgt {
            w.push(
                "TargetPortalGroupTag",
                &self.ctx.tpgt(self.ctx.portal).to_string(),
            );
            if let Some(alias) = self.target().and_then(|t| t.alias.clone()) {
                w.push("TargetAlias", &alias);
            }
            self.sent_tpgt = true;
        }
        if input.csg == STAGE_OPERATIONAL && !self.declared_mrdsl {
            let ours = self
                .ctx
                .max_recv_data_segment
                .clamp(super::keys::MIN_LENGTH_KEY, super::keys::MAX_LENGTH_KEY);
            w.push("MaxRecvDataSegmentLength", &ours.to_string());
            self.negotiator.params.max_recv_data_segment = ours;
            self.declared_mrdsl = true;
        }

        let transit = input.transit && (input.csg != STAGE_SECURITY || auth_done);
        let mut out = LoginOutput {
            transit,
            cont: false,
            csg: input.csg,
            nsg: if transit { input.nsg } else { 0 },
            status: LoginStatus::SUCCESS,
            data: w.into_bytes(),
        };
        if !transit {
            self.expected_csg = Some(input.csg);
            return Ok((out, LoginEvent::Continue));
        }
        self.expected_csg = Some(input.nsg);
        if input.nsg != STAGE_FULL_FEATURE {
            return Ok((out, LoginEvent::Continue));
        }
        // The whole access rule once more before full feature phase: the
        // ACL, and the CHAP credential proved if the target requires one.
        if let (Some(access), Some(l)) = (self.access(), self.leading.as_ref()) {
            if !access.permits(&l.initiator_name, self.security.proved()) {
                return Err(LoginStatus::AUTHORIZATION_FAILURE);
            }
        }
        self.phase = Phase::Done;
        let result = self.result()?;
        out.cont = false;
        Ok((out, LoginEvent::Complete(result)))
    }

    /// RFC 7143 11.12.3: CSG 0 or 1; NSG 1 or 3 and after CSG when T=1;
    /// T and C never both set (11.12.2); each request continues where the
    /// previous response left.
    fn check_stages(&self, input: &LoginInput<'_>) -> Result<(), LoginStatus> {
        if input.csg != STAGE_SECURITY && input.csg != STAGE_OPERATIONAL {
            return Err(LoginStatus::INITIATOR_ERROR);
        }
        if input.transit {
            if input.cont {
                return Err(LoginStatus::INITIATOR_ERROR);
            }
            let ok = matches!(input.nsg, STAGE_OPERATIONAL | STAGE_FULL_FEATURE)
                && input.nsg > input.csg;
            if !ok {
                return Err(LoginStatus::INITIATOR_ERROR);
            }
        }
        if let Some(csg) = self.expected_csg {
            if csg != input.csg {
                return Err(LoginStatus::INITIATOR_ERROR);
            }
        }
        Ok(())
    }

    /// The leading request: InitiatorName, SessionType, TargetName, ACL.
    fn first_request(
        &mut self,
        input: &LoginInput<'_>,
        keys: &[KeyValue],
    ) -> Result<(), LoginStatus> {
        let get = |k: &str| {
            keys.iter()
                .find(|kv| kv.key == k)
                .map(|kv| kv.value.as_str())
        };
        // RFC 7143 13.6: InitiatorName MUST be in the first Login Request.
        let initiator_name = match get("InitiatorName") {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => return Err(LoginStatus::MISSING_PARAMETER),
        };
        // RFC 7143 4.2.7.1: iSCSI names are at most 223 bytes.
        if initiator_name.len() > MAX_NAME_LEN
            || get("TargetName").is_some_and(|t| t.len() > MAX_NAME_LEN)
        {
            return Err(LoginStatus::INITIATOR_ERROR);
        }
        let session_type = get("SessionType");
        // RFC 7143 13.21: default Normal.
        let kind = match session_type.unwrap_or("Normal") {
            "Normal" => {
                let Some(name) = get("TargetName").filter(|n| !n.is_empty()) else {
                    return Err(LoginStatus::MISSING_PARAMETER);
                };
                // A target not on this portal is not found here (it has no
                // target port behind it).
                let portal = self.ctx.portal;
                let Some(index) = self
                    .ctx
                    .targets
                    .iter()
                    .position(|t| t.iqn == name && t.on_portal(portal))
                else {
                    return Err(LoginStatus::NOT_FOUND);
                };
                if !initiator_allowed(&self.ctx, index, &initiator_name) {
                    return Err(LoginStatus::AUTHORIZATION_FAILURE);
                }
                SessionKind::Normal { target: index }
            }
            "Discovery" => SessionKind::Discovery,
            _ => return Err(LoginStatus::SESSION_TYPE_NOT_SUPPORTED),
        };
        let leading = input.tsih == 0;
        let discovery = kind == SessionKind::Discovery;
        self.negotiator = Negotiator::new(self.policy.clone(), discovery, leading);
        self.leading = Some(Leading {
            isid: input.isid,
            tsih: input.tsih,
            cid: input.cid,
            initiator_name,
            initiator_alias: get("InitiatorAlias").map(str::to_owned),
            kind,
            target_name: get("TargetName").map(str::to_owned),
            session_type: session_type.map(str::to_owned),
        });
        Ok(())
    }

    /// libiscsi repeats InitiatorName, TargetName and SessionType at the
    /// start of the operational stage: allowed if unchanged.
    fn check_repeated_declarations(&mut self, keys: &[KeyValue]) -> Result<(), LoginStatus> {
        let Some(l) = self.leading.as_mut() else {
            return Ok(());
        };
        for kv in keys {
            let same = match kv.key.as_str() {
                "InitiatorName" => kv.value == l.initiator_name,
                "TargetName" => l.target_name.as_deref() == Some(kv.value.as_str()),
                "SessionType" => l.session_type.as_deref().unwrap_or("Normal") == kv.value.as_str(),
                "InitiatorAlias" => {
                    l.initiator_alias = Some(kv.value.clone());
                    true
                }
                _ => true,
            };
            if !same {
                return Err(LoginStatus::INITIATOR_ERROR);
            }
        }
        Ok(())
    }

    fn is_discovery(&self) -> bool {
        matches!(self.session_kind(), Some(SessionKind::Discovery))
    }

    /// The target of a normal session.
    fn target(&self) -> Option<&TargetConfig> {
        match self.session_kind() {
            Some(SessionKind::Normal { target }) => self.ctx.targets.get(*target),
            _ => None,
        }
    }

    /// The access policy of a normal session's target.
    fn access(&self) -> Option<&AccessPolicy> {
        self.target().map(|t| &t.access)
    }

    /// CHAP is required when the target of a normal session has a secret.
    fn chap_required(&self) -> bool {
        self.access().is_some_and(AccessPolicy::requires_chap)
    }

    fn result(&self) -> Result<LoginResult, LoginStatus> {
        let l = self.leading.as_ref().ok_or(LoginStatus::INITIATOR_ERROR)?;
        let mut params = self.negotiator.finish();
        if !self.declared_mrdsl {
            // Never declared: the initiator assumes the default 8192.
            params.max_recv_data_segment = 8192;
        }
        Ok(LoginResult {
            kind: l.kind.clone(),
            initiator_name: l.initiator_name.clone(),
            initiator_alias: l.initiator_alias.clone(),
            isid: l.isid,
            tsih: l.tsih,
            params,
        })
    }
}

/// Whether the ACL of target `index` admits `initiator` (login before
/// authentication, SendTargets visibility).
pub(crate) fn initiator_allowed(ctx: &LoginContext, index: usize, initiator: &str) -> bool {
    ctx.targets
        .get(index)
        .is_some_and(|t| t.access.admits(initiator))
}

/// A failing Login Response: status only, no data (RFC 7143 11.13.5).
pub fn fail_output(csg: u8, status: LoginStatus) -> LoginOutput {
    LoginOutput {
        transit: false,
        cont: false,
        csg: csg & 0x03,
        nsg: 0,
        status,
        data: Vec::new(),
    }
}
