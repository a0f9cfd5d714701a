//! Security negotiation stage (RFC 7143 6.3.1, 12.1): AuthMethod selection
//! and the CHAP exchange (RFC 7143 12.1.3, RFC 1994), target side.
//!
//! Exchange: I: AuthMethod=CHAP,None -> T: AuthMethod=CHAP;
//! I: CHAP_A=<list> -> T: CHAP_A=5 CHAP_I=<id> CHAP_C=<challenge>;
//! I: CHAP_N CHAP_R [CHAP_I CHAP_C] -> T: [CHAP_N CHAP_R] (mutual).

use super::status::LoginStatus;
use crate::auth::chap::{self, Challenge};
use crate::text::{KeyValue, TextWriter};
use scsi::access::{AccessPolicy, ChapCredential};

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// No AuthMethod agreed yet.
    Start,
    /// AuthMethod=CHAP answered; waiting for CHAP_A.
    ChapAlgorithm,
    /// Challenge sent; waiting for CHAP_N/CHAP_R.
    ChapResponse(Challenge),
    /// Authentication finished (None or CHAP).
    Done,
}

/// Result of the security keys of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOutcome {
    /// No AuthMethod negotiated yet.
    NotStarted,
    /// CHAP under way: the target must not transit yet.
    Pending,
    /// Authenticated: the stage may end.
    Done,
    Fail(LoginStatus),
}

#[derive(Debug, Clone)]
pub struct Security {
    state: State,
    /// The CHAP credential the initiator proved, once it has.
    proved: Option<ChapCredential>,
}

impl Default for Security {
    fn default() -> Self {
        Self::new()
    }
}

fn find<'a>(keys: &[&'a KeyValue], name: &str) -> Option<&'a str> {
    keys.iter()
        .find(|kv| kv.key == name)
        .map(|kv| kv.value.as_str())
}

impl Security {
    pub fn new() -> Self {
        Self {
            state: State::Start,
            proved: None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The CHAP credential the initiator authenticated with (`None` after
    /// AuthMethod=None), for [`AccessPolicy::permits`].
    pub fn proved(&self) -> Option<&ChapCredential> {
        self.proved.as_ref()
    }

    /// AuthMethod=None implied (the initiator skipped or left the stage).
    pub fn accept_none(&mut self) {
        self.state = State::Done;
    }

    /// Process the security keys of one request of the security stage.
    /// `access` (the target's policy) is `None` for discovery sessions (no
    /// authentication).
    pub fn exchange(
        &mut self,
        keys: &[&KeyValue],
        access: Option<&AccessPolicy>,
        w: &mut TextWriter,
    ) -> SecurityOutcome {
        match self.exchange_inner(keys, access, w) {
            Ok(o) => o,
            Err(s) => SecurityOutcome::Fail(s),
        }
    }

    fn exchange_inner(
        &mut self,
        keys: &[&KeyValue],
        access: Option<&AccessPolicy>,
        w: &mut TextWriter,
    ) -> Result<SecurityOutcome, LoginStatus> {
        let chap_secret = access.and_then(|a| a.chap.as_ref());
        let has_chap_keys = keys.iter().any(|kv| kv.key.starts_with("CHAP_"));
        if self.state == State::Start {
            let Some(methods) = find(keys, "AuthMethod") else {
                if has_chap_keys {
                    return Err(LoginStatus::INITIATOR_ERROR);
                }
                return Ok(SecurityOutcome::NotStarted);
            };
            let list: Vec<&str> = methods.split(',').collect();
            if list.iter().any(|m| m.is_empty()) {
                return Err(LoginStatus::INITIATOR_ERROR);
            }
            // RFC 7143 12.1: the target picks from the initiator's list.
            // With a secret configured only CHAP is acceptable; without
            // one only None (we cannot verify a CHAP response).
            let wanted = if chap_secret.is_some() {
                "CHAP"
            } else {
                "None"
            };
            if !list.contains(&wanted) {
                return Err(LoginStatus::AUTHENTICATION_FAILURE);
            }
            w.push("AuthMethod", wanted);
            if chap_secret.is_none() {
                if has_chap_keys {
                    return Err(LoginStatus::INITIATOR_ERROR);
                }
                self.state = State::Done;
                return Ok(SecurityOutcome::Done);
            }
            self.state = State::ChapAlgorithm;
        } else if find(keys, "AuthMethod").is_some() {
            return Err(LoginStatus::INITIATOR_ERROR);
        }

        match std::mem::replace(&mut self.state, State::Done) {
            State::Start | State::Done => {
                self.state = State::Done;
                if has_chap_keys {
                    return Err(LoginStatus::INITIATOR_ERROR);
                }
                Ok(SecurityOutcome::Done)
            }
            State::ChapAlgorithm => {
                let Some(algs) = find(keys, "CHAP_A") else {
                    self.state = State::ChapAlgorithm;
                    if has_chap_keys {
                        return Err(LoginStatus::INITIATOR_ERROR);
                    }
                    return Ok(SecurityOutcome::Pending);
                };
                if keys
                    .iter()
                    .any(|kv| kv.key.starts_with("CHAP_") && kv.key != "CHAP_A")
                {
                    return Err(LoginStatus::INITIATOR_ERROR);
                }
                // RFC 7143 12.1.3: only MD5 (5); nothing else acceptable
                // means authentication cannot proceed.
                let Some(alg) = chap::select_algorithm(algs) else {
                    return Err(LoginStatus::AUTHENTICATION_FAILURE);
                };
                let ch = Challenge::random();
                w.push("CHAP_A", &alg.to_string());
                w.push("CHAP_I", &ch.identifier.to_string());
                w.push("CHAP_C", &chap::encode_hex(&ch.challenge));
                self.state = State::ChapResponse(ch);
                Ok(SecurityOutcome::Pending)
            }
            State::ChapResponse(ch) => {
                let secret = chap_secret.ok_or(LoginStatus::AUTHENTICATION_FAILURE)?;
                let (Some(name), Some(resp)) = (find(keys, "CHAP_N"), find(keys, "CHAP_R")) else {
                    return Err(LoginStatus::AUTHENTICATION_FAILURE);
                };
                if find(keys, "CHAP_A").is_some() {
                    return Err(LoginStatus::INITIATOR_ERROR);
                }
                let resp =
                    chap::decode_binary(resp).map_err(|_| LoginStatus::AUTHENTICATION_FAILURE)?;
                // Check the response before the name so both failures take
                // the same path and time.
                let response_ok = ch.check(secret.secret.as_bytes(), &resp);
                if !response_ok || name != secret.user {
                    return Err(LoginStatus::AUTHENTICATION_FAILURE);
                }
                match (find(keys, "CHAP_I"), find(keys, "CHAP_C")) {
                    (None, None) => {}
                    (Some(i), Some(c)) => {
                        // Mutual CHAP: the target proves itself.
                        let mutual = access
                            .and_then(|a| a.mutual_chap.as_ref())
                            .ok_or(LoginStatus::AUTHENTICATION_FAILURE)?;
                        let id = chap::parse_identifier(i)
                            .map_err(|_| LoginStatus::AUTHENTICATION_FAILURE)?;
                        let challenge = chap::decode_binary(c)
                            .map_err(|_| LoginStatus::AUTHENTICATION_FAILURE)?;
                        // RFC 7143 12.1.3: a challenge equal to ours is a
                        // reflection attack.
                        if challenge == ch.challenge {
                            return Err(LoginStatus::AUTHENTICATION_FAILURE);
                        }
                        let r = chap::response(id, mutual.secret.as_bytes(), &challenge);
                        w.push("CHAP_N", &mutual.user);
                        w.push("CHAP_R", &chap::encode_hex(&r));
                    }
                    _ => return Err(LoginStatus::AUTHENTICATION_FAILURE),
                }
                self.proved = Some(secret.clone());
                self.state = State::Done;
                Ok(SecurityOutcome::Done)
            }
        }
    }
}
