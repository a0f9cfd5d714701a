//! Text Requests of the full feature phase (RFC 7143 11.10, 11.11):
//! SendTargets (RFC 7143 13.3, Appendix C) and key renegotiation.

use super::machine::initiator_allowed;
use super::negotiate::full_feature_offer;
use super::{LoginContext, LoginResult, SessionKind};
use crate::text::{self, TextError, TextWriter};
use std::net::SocketAddr;

/// The answer to one (complete) Text Request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextReply {
    /// Data segment of the Text Response (may exceed one PDU: the net
    /// layer splits it with the C bit and a Target Transfer Tag).
    pub data: Vec<u8>,
    /// A new MaxRecvDataSegmentLength declared by the initiator: the
    /// largest data segment the target may send from now on.
    pub max_send_data_segment: Option<u32>,
}

/// Answer a Text Request. `local` is the connection's local address: it
/// replaces an unspecified portal address (0.0.0.0, [::]) in SendTargets.
/// A parse error should be answered with a Reject PDU (RFC 7143 11.17.1).
pub fn text_exchange(
    ctx: &LoginContext,
    session: &LoginResult,
    data: &[u8],
    local: Option<SocketAddr>,
) -> Result<TextReply, TextError> {
    let keys = text::parse(data)?;
    let mut w = TextWriter::new();
    let mut reply = TextReply::default();
    for kv in &keys {
        if kv.key == "SendTargets" {
            send_targets(ctx, session, &kv.value, local, &mut w);
            continue;
        }
        let (answer, mrdsl) = full_feature_offer(&kv.key, &kv.value);
        if let Some(a) = answer {
            w.push(&kv.key, &a);
        }
        if mrdsl.is_some() {
            reply.max_send_data_segment = mrdsl;
        }
    }
    reply.data = w.into_bytes();
    Ok(reply)
}

/// SendTargets (RFC 7143 13.3): `All` lists every target the initiator may
/// see (discovery sessions; in a normal session only the current target),
/// an iSCSI name lists that target, empty means the session's target.
fn send_targets(
    ctx: &LoginContext,
    session: &LoginResult,
    value: &str,
    local: Option<SocketAddr>,
    w: &mut TextWriter,
) {
    let current = match session.kind {
        SessionKind::Normal { target } => Some(target),
        SessionKind::Discovery => None,
    };
    let visible = |i: usize| initiator_allowed(ctx, i, &session.initiator_name);
    let selected: Vec<usize> = match (value, current) {
        ("All", None) => (0..ctx.targets.len()).filter(|&i| visible(i)).collect(),
        ("All", Some(t)) | ("", Some(t)) => vec![t],
        ("", None) => {
            w.push("SendTargets", "Reject");
            return;
        }
        (name, cur) => ctx
            .targets
            .iter()
            .position(|t| t.iqn == name)
            .filter(|&i| visible(i) && cur.is_none_or(|c| c == i))
            .into_iter()
            .collect(),
    };
    for i in selected {
        let Some(t) = ctx.targets.get(i) else {
            continue;
        };
        w.push("TargetName", &t.iqn);
        // Every portal of the target, each with its own TPGT (a target
        // port each; multipath initiators log in over several).
        for (i, p) in ctx.portals.iter().enumerate() {
            if !t.on_portal(i) {
                continue;
            }
            w.push("TargetAddress", &target_address(*p, local, ctx.tpgt(i)));
        }
    }
}

/// `<ip>:<port>,<tpgt>`, IPv6 in brackets (RFC 7143 13.8).
pub fn target_address(portal: SocketAddr, local: Option<SocketAddr>, tpgt: u16) -> String {
    let ip = match local {
        Some(l) if portal.ip().is_unspecified() => l.ip(),
        _ => portal.ip(),
    };
    let ip = match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{v6}]"),
        },
        std::net::IpAddr::V4(v4) => v4.to_string(),
    };
    format!("{ip}:{},{tpgt}", portal.port())
}
