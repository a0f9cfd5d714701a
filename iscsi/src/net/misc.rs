//! NOP-Out, Text Request and Logout Request in full feature phase
//! (RFC 7143 11.18, 11.10, 11.14).

use super::io::ConnError;
use super::session::{Flow, Session, TextOut};
use crate::pdu::consts::{
    REASON_CLOSE_CONNECTION, REASON_CLOSE_SESSION, RESPONSE_CLOSED, RESPONSE_RECOVERY_NOT_SUPPORTED,
};
use crate::pdu::{
    Bhs, Itt, LogoutRequest, LogoutResponse, NopIn, NopOut, RejectReason, TargetPdu, TextRequest,
    TextResponse, Ttt,
};
use bytes::Bytes;

/// Bound on a Text Request assembled from C-bit PDUs.
const MAX_TEXT_REQUEST: usize = 64 * 1024;

impl Session {
    /// NOP-Out with a valid ITT: echo it in a NOP-In (RFC 7143 11.19).
    pub(super) async fn on_nop_out(&mut self, n: NopOut) -> Result<(), ConnError> {
        let max = self.params.max_send_data_segment as usize;
        let data = n.data.slice(..n.data.len().min(max));
        self.send(TargetPdu::NopIn(NopIn {
            lun: n.lun,
            itt: n.itt,
            ttt: Ttt::RESERVED,
            data,
            ..Default::default()
        }))
        .await
    }

    pub(super) async fn on_text(&mut self, t: TextRequest, bhs: &Bhs) -> Result<(), ConnError> {
        if t.ttt != Ttt::RESERVED {
            // Continuation of our multi-PDU response, or of their request.
            if let Some(out) = self.text_out.take() {
                if out.ttt == t.ttt {
                    return self.send_text(t.itt, out.rest).await;
                }
            }
        } else {
            self.text_out = None;
        }
        if self.text_in.len() + t.data.len() > MAX_TEXT_REQUEST {
            self.text_in.clear();
            return self.reject(RejectReason::ProtocolError, bhs).await;
        }
        self.text_in.extend_from_slice(&t.data);
        if t.cont {
            // More request text follows: acknowledge with an empty response.
            let ttt = self.alloc_ttt();
            return self
                .send(TargetPdu::Text(TextResponse {
                    final_bit: false,
                    lun: t.lun,
                    itt: t.itt,
                    ttt,
                    ..Default::default()
                }))
                .await;
        }
        let data = std::mem::take(&mut self.text_in);
        let ctx = self.server.login_context(self.est.portal);
        match crate::login::text_exchange(&ctx, &self.est.result, &data, self.local) {
            Ok(reply) => {
                if let Some(m) = reply.max_send_data_segment {
                    self.params.max_send_data_segment = m;
                }
                self.send_text(t.itt, Bytes::from(reply.data)).await
            }
            Err(e) => {
                tracing::debug!(error = %e, "malformed Text Request");
                self.reject(RejectReason::ProtocolError, bhs).await
            }
        }
    }

    /// Send text, split by the initiator's MaxRecvDataSegmentLength with
    /// the C bit and a TTT for the rest (RFC 7143 11.11.2).
    async fn send_text(&mut self, itt: Itt, data: Bytes) -> Result<(), ConnError> {
        let max = (self.params.max_send_data_segment as usize).max(512);
        let (now, rest) = if data.len() > max {
            (data.slice(..max), Some(data.slice(max..)))
        } else {
            (data, None)
        };
        let ttt = match rest {
            Some(rest) => {
                let ttt = self.alloc_ttt();
                self.text_out = Some(TextOut { ttt, rest });
                ttt
            }
            None => Ttt::RESERVED,
        };
        self.send(TargetPdu::Text(TextResponse {
            final_bit: ttt == Ttt::RESERVED,
            cont: ttt != Ttt::RESERVED,
            itt,
            ttt,
            data: now,
            ..Default::default()
        }))
        .await
    }

    /// Logout (RFC 7143 11.14, 11.15). ERL 0: in-flight tasks are aborted.
    pub(super) async fn on_logout(&mut self, l: LogoutRequest) -> Result<Flow, ConnError> {
        let response = match l.reason {
            REASON_CLOSE_SESSION | REASON_CLOSE_CONNECTION => RESPONSE_CLOSED,
            _ => RESPONSE_RECOVERY_NOT_SUPPORTED,
        };
        let closing = response == RESPONSE_CLOSED;
        if closing {
            self.abort_all();
        }
        self.send(TargetPdu::Logout(LogoutResponse {
            response,
            itt: l.itt,
            time2wait: self.params.default_time2wait,
            time2retain: self.params.default_time2retain,
            ..Default::default()
        }))
        .await?;
        if closing {
            tracing::info!(
                initiator = %self.est.result.initiator_name,
                isid = %hex::encode(self.est.result.isid),
                tsih = self.est.handle.tsih,
                reason = l.reason,
                "logout"
            );
            return Ok(Flow::Close);
        }
        Ok(Flow::Continue)
    }
}
