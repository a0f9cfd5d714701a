//! Completion of a command on the wire (RFC 7143 11.4, 11.7): Data-In
//! segmentation by the initiator's MaxRecvDataSegmentLength, Data-In
//! sequences of at most MaxBurstLength, status phase collapsed into the final
//! Data-In (S bit) when there is no sense data, residuals.

use super::Residual;
use crate::pdu::{
    consts::RESPONSE_COMPLETED, DataIn, DataSn, Itt, Lun, ScsiResponse, TargetPdu, Ttt,
};
use scsi::{Response, Status};

/// What shaping the completion needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletionParams {
    /// The initiator's MaxRecvDataSegmentLength.
    pub max_send_data_segment: u32,
    pub max_burst_length: u32,
}

/// The command being completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    pub itt: Itt,
    pub lun: Lun,
    pub read: bool,
    pub write: bool,
    pub edtl: u32,
    /// Bidirectional expected read length (AHS type 2), if any.
    pub bidi_read_length: Option<u32>,
    /// R2Ts sent for this command (ExpDataSN for writes).
    pub r2t_count: u32,
}

/// Build the PDUs completing `cmd` with `resp` (StatSN, ExpCmdSN and
/// MaxCmdSN are filled by the connection when sending).
pub fn build_completion(cmd: &Completion, resp: &Response, p: CompletionParams) -> Vec<TargetPdu> {
    let bidi = cmd.read && cmd.write;
    // Expected read length: EDTL for reads, the AHS value for bidi.
    let read_expected = if bidi {
        cmd.bidi_read_length.unwrap_or(0)
    } else if cmd.read {
        cmd.edtl
    } else {
        0
    };
    let data_in_len = resp.data_in.len() as u64;
    let send_len = data_in_len.min(u64::from(read_expected)) as u32;
    let data = resp.data_in.slice(..send_len as usize);
    let read_residual = Residual::compute(read_expected, data_in_len);
    let write_residual = Residual::compute(cmd.edtl, u64::from(resp.data_out_wanted));
    // The main residual: the write side for writes and bidi, else the read side.
    let main = if cmd.write {
        write_residual
    } else if cmd.read {
        read_residual
    } else {
        Residual::compute(0, data_in_len.max(u64::from(resp.data_out_wanted)))
    };
    let collapse_status =
        !bidi && resp.sense.is_none() && send_len > 0 && resp.status != Status::CheckCondition;

    let mut pdus = Vec::new();
    let seg = p.max_send_data_segment.max(512);
    let burst = p.max_burst_length.max(seg);
    let mut off = 0u32;
    let mut burst_used = 0u32;
    let mut datasn = 0u32;
    while off < send_len {
        let n = seg.min(send_len - off).min(burst - burst_used);
        let last = off + n == send_len;
        burst_used += n;
        let end_of_burst = last || burst_used == burst;
        if end_of_burst {
            burst_used = 0;
        }
        let mut d = DataIn {
            final_bit: end_of_burst,
            lun: cmd.lun,
            itt: cmd.itt,
            ttt: Ttt::RESERVED,
            datasn: DataSn(datasn),
            buffer_offset: off,
            data: data.slice(off as usize..(off + n) as usize),
            ..Default::default()
        };
        if last && collapse_status {
            d.status = Some(resp.status as u8);
            d.overflow = main.overflow;
            d.underflow = main.underflow;
            d.residual = main.count;
        }
        pdus.push(TargetPdu::DataIn(d));
        off += n;
        datasn += 1;
    }
    if collapse_status {
        return pdus;
    }
    let mut r = ScsiResponse {
        response: RESPONSE_COMPLETED,
        status: resp.status as u8,
        itt: cmd.itt,
        exp_datasn: DataSn(datasn + cmd.r2t_count),
        overflow: main.overflow,
        underflow: main.underflow,
        residual: main.count,
        data: resp
            .sense
            .as_ref()
            .map(|s| ScsiResponse::sense_segment(s))
            .unwrap_or_default(),
        ..Default::default()
    };
    if bidi {
        r.bidi_overflow = read_residual.overflow;
        r.bidi_underflow = read_residual.underflow;
        r.bidi_residual = read_residual.count;
    }
    pdus.push(TargetPdu::ScsiResponse(r));
    pdus
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn read_cmd(edtl: u32) -> Completion {
        Completion {
            itt: Itt(5),
            lun: Lun::from_index(0),
            read: true,
            write: false,
            edtl,
            bidi_read_length: None,
            r2t_count: 0,
        }
    }

    fn good(data: usize, wanted: u32) -> Response {
        Response {
            status: Status::Good,
            sense: None,
            data_in: Bytes::from((0..data).map(|i| i as u8).collect::<Vec<_>>()),
            data_out_wanted: wanted,
        }
    }

    const P: CompletionParams = CompletionParams {
        max_send_data_segment: 8192,
        max_burst_length: 16384,
    };

    fn data_ins(v: &[TargetPdu]) -> Vec<&DataIn> {
        v.iter()
            .filter_map(|p| match p {
                TargetPdu::DataIn(d) => Some(d),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn segments_by_mrdsl_and_bursts_with_status_on_last() {
        let v = build_completion(&read_cmd(40000), &good(40000, 0), P);
        let d = data_ins(&v);
        assert_eq!(v.len(), 5);
        let shape: Vec<_> = d
            .iter()
            .map(|d| {
                (
                    d.datasn.0,
                    d.buffer_offset,
                    d.data.len(),
                    d.final_bit,
                    d.status,
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (0, 0, 8192, false, None),
                (1, 8192, 8192, true, None),
                (2, 16384, 8192, false, None),
                (3, 24576, 8192, true, None),
                (4, 32768, 7232, true, Some(0)),
            ]
        );
        assert_eq!(d[4].data[0], (32768 % 256) as u8);
        assert!(!d[4].underflow && !d[4].overflow);
    }

    #[test]
    fn read_underflow_on_final_data_in() {
        let v = build_completion(&read_cmd(255), &good(36, 0), P);
        let d = data_ins(&v);
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].underflow, d[0].overflow, d[0].residual, d[0].status),
            (true, false, 219, Some(0))
        );
        let raw = d[0].to_raw_bytes();
        assert_eq!(raw[1], 0x83);
        assert_eq!(&raw[44..48], &[0, 0, 0, 219]);
    }

    #[test]
    fn read_overflow_truncates_to_edtl() {
        let v = build_completion(&read_cmd(512), &good(1024, 0), P);
        let d = data_ins(&v);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].data.len(), 512);
        assert_eq!((d[0].overflow, d[0].residual), (true, 512));
    }

    #[test]
    fn edtl_zero_read_gets_response_with_overflow() {
        let v = build_completion(&read_cmd(0), &good(512, 0), P);
        assert_eq!(v.len(), 1);
        let TargetPdu::ScsiResponse(r) = &v[0] else {
            panic!("{v:?}")
        };
        assert_eq!((r.overflow, r.underflow, r.residual), (true, false, 512));
    }

    #[test]
    fn check_condition_goes_in_scsi_response_with_sense() {
        let resp = Response {
            status: Status::CheckCondition,
            sense: Some(Bytes::from_static(&[0x70, 0, 5])),
            data_in: Bytes::new(),
            data_out_wanted: 0,
        };
        let v = build_completion(&read_cmd(512), &resp, P);
        assert_eq!(v.len(), 1);
        let TargetPdu::ScsiResponse(r) = &v[0] else {
            panic!()
        };
        assert_eq!(r.status, 2);
        assert_eq!(&r.data[..], &[0, 3, 0x70, 0, 5]);
        assert_eq!((r.underflow, r.residual), (true, 512));
    }

    #[test]
    fn write_residuals() {
        let mut c = read_cmd(1024);
        c.read = false;
        c.write = true;
        c.r2t_count = 2;
        let v = build_completion(&c, &good(0, 512), P);
        let TargetPdu::ScsiResponse(r) = &v[0] else {
            panic!()
        };
        assert_eq!((r.underflow, r.overflow, r.residual), (true, false, 512));
        assert_eq!(r.exp_datasn, DataSn(2));
        let v = build_completion(&c, &good(0, 2048), P);
        let TargetPdu::ScsiResponse(r) = &v[0] else {
            panic!()
        };
        assert_eq!((r.underflow, r.overflow, r.residual), (false, true, 1024));
    }

    impl DataIn {
        fn to_raw_bytes(&self) -> Vec<u8> {
            use crate::pdu::PduCodec;
            self.to_raw().encode()
        }
    }
}
