//! Negotiated operational parameters (RFC 7143 13), the result of login.

/// Everything the full feature phase needs from login. Lengths are bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    pub header_digest: bool,
    pub data_digest: bool,
    pub max_connections: u16,
    pub initial_r2t: bool,
    pub immediate_data: bool,
    /// MaxRecvDataSegmentLength declared by the initiator: the largest data
    /// segment the target may send.
    pub max_send_data_segment: u32,
    /// MaxRecvDataSegmentLength declared by the target: the largest data
    /// segment the target accepts.
    pub max_recv_data_segment: u32,
    pub max_burst_length: u32,
    pub first_burst_length: u32,
    pub default_time2wait: u16,
    pub default_time2retain: u16,
    pub max_outstanding_r2t: u16,
    pub data_pdu_in_order: bool,
    pub data_sequence_in_order: bool,
    pub error_recovery_level: u8,
}

impl Default for SessionParams {
    /// RFC 7143 defaults (13.x), target MaxRecvDataSegmentLength 8192.
    fn default() -> Self {
        Self {
            header_digest: false,
            data_digest: false,
            max_connections: 1,
            initial_r2t: true,
            immediate_data: true,
            max_send_data_segment: 8192,
            max_recv_data_segment: 8192,
            max_burst_length: 262_144,
            first_burst_length: 65_536,
            default_time2wait: 2,
            default_time2retain: 20,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
        }
    }
}
