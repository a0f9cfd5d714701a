//! A model initiator drives the collector through every combination of
//! ImmediateData, InitialR2T, FirstBurstLength and MaxBurstLength.

use super::*;
use crate::pdu::{Itt, Lun};

const SEG: u32 = 8192; // the target's MaxRecvDataSegmentLength

fn pattern(len: u32) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn dout(ttt: Ttt, datasn: u32, off: u32, data: &[u8], f: bool) -> DataOut {
    DataOut {
        final_bit: f,
        lun: Lun::default(),
        itt: Itt(1),
        ttt,
        exp_statsn: Default::default(),
        datasn: DataSn(datasn),
        buffer_offset: off,
        data: Bytes::copy_from_slice(data),
    }
}

/// Send `[from, to)` of `src` as one sequence with tag `ttt`.
fn send_seq(c: &mut WriteCollector, src: &[u8], ttt: Ttt, from: u32, to: u32) {
    let mut off = from;
    let mut sn = 0;
    while off < to {
        let n = SEG.min(to - off);
        let f = off + n == to;
        c.data_out(&dout(
            ttt,
            sn,
            off,
            &src[off as usize..(off + n) as usize],
            f,
        ))
        .unwrap();
        off += n;
        sn += 1;
    }
}

/// Returns the R2Ts the target issued.
fn run(edtl: u32, p: WriteParams) -> Vec<R2tRequest> {
    let src = pattern(edtl);
    let imm = if p.immediate_data {
        p.first_burst_length.min(edtl).min(SEG)
    } else {
        0
    };
    let unsol_end = if p.initial_r2t {
        imm
    } else {
        p.first_burst_length.min(edtl)
    };
    let f = unsol_end == imm;
    let mut c = WriteCollector::new(edtl, &src[..imm as usize], f, p).unwrap();
    let mut ttt = 100;
    let mut alloc = || {
        ttt += 1;
        Ttt(ttt)
    };
    let mut r2ts = c.next_r2ts(&mut alloc);
    if !f {
        assert!(r2ts.is_empty(), "R2T before unsolicited data is complete");
        send_seq(&mut c, &src, Ttt::RESERVED, imm, unsol_end);
        r2ts = c.next_r2ts(&mut alloc);
    }
    let mut all = Vec::new();
    while !r2ts.is_empty() {
        assert!(r2ts.len() <= usize::from(p.max_outstanding_r2t));
        for r in &r2ts {
            assert!(r.desired_length <= p.max_burst_length);
            send_seq(
                &mut c,
                &src,
                r.ttt,
                r.buffer_offset,
                r.buffer_offset + r.desired_length,
            );
        }
        all.extend(r2ts);
        r2ts = c.next_r2ts(&mut alloc);
    }
    assert!(c.is_complete());
    assert_eq!(c.r2t_count() as usize, all.len());
    assert_eq!(&c.into_data()[..], &src[..]);
    all
}

#[test]
fn every_parameter_combination_assembles_the_data() {
    for immediate_data in [false, true] {
        for initial_r2t in [false, true] {
            for first_burst_length in [512u32, 8192, 65536] {
                for max_burst_length in [first_burst_length, 262_144] {
                    for max_outstanding_r2t in [1u16, 4] {
                        for edtl in [512u32, 4096, 65536, 1_000_000] {
                            let p = WriteParams {
                                immediate_data,
                                initial_r2t,
                                first_burst_length,
                                max_burst_length,
                                max_outstanding_r2t,
                                data_pdu_in_order: true,
                            };
                            let r2ts = run(edtl, p);
                            // R2Ts cover exactly the solicited tail, in order.
                            let mut off = r2ts.first().map_or(edtl, |r| r.buffer_offset);
                            for (i, r) in r2ts.iter().enumerate() {
                                assert_eq!(r.r2tsn, R2tSn(i as u32));
                                assert_eq!(r.buffer_offset, off);
                                off += r.desired_length;
                            }
                            assert_eq!(off, edtl, "{p:?} edtl {edtl}");
                        }
                    }
                }
            }
        }
    }
}

fn params() -> WriteParams {
    WriteParams {
        immediate_data: true,
        initial_r2t: true,
        first_burst_length: 65536,
        max_burst_length: 262_144,
        max_outstanding_r2t: 1,
        data_pdu_in_order: true,
    }
}

#[test]
fn r2t_chunks_for_initial_r2t_yes() {
    let mut c = WriteCollector::new(600_000, &[0; 8192], true, params()).unwrap();
    let r = c.next_r2ts(|| Ttt(7));
    assert_eq!(
        r,
        vec![R2tRequest {
            ttt: Ttt(7),
            r2tsn: R2tSn(0),
            buffer_offset: 8192,
            desired_length: 262_144
        }]
    );
    // Only one outstanding.
    assert!(c.next_r2ts(|| Ttt(8)).is_empty());
}

#[test]
fn immediate_data_rules() {
    let mut p = params();
    assert_eq!(
        WriteCollector::new(100, &[0; 200], true, p).unwrap_err(),
        WriteError::ImmediateDataTooLong
    );
    p.immediate_data = false;
    assert_eq!(
        WriteCollector::new(100, &[0; 10], true, p).unwrap_err(),
        WriteError::ImmediateDataNotAllowed
    );
}

#[test]
fn data_out_checks() {
    let mut c = WriteCollector::new(16384, &[], true, params()).unwrap();
    assert_eq!(
        c.data_out(&dout(Ttt::RESERVED, 0, 0, &[0; 512], false)),
        Err(WriteError::UnsolicitedNotAllowed)
    );
    let r = c.next_r2ts(|| Ttt(9));
    assert_eq!(r.len(), 1);
    assert_eq!(
        c.data_out(&dout(Ttt(10), 0, 0, &[0; 512], false)),
        Err(WriteError::UnknownTtt)
    );
    assert_eq!(
        c.data_out(&dout(Ttt(9), 1, 0, &[0; 512], false)),
        Err(WriteError::DataSn)
    );
    assert_eq!(
        c.data_out(&dout(Ttt(9), 0, 512, &[0; 512], false)),
        Err(WriteError::BufferOffset)
    );
    assert_eq!(
        c.data_out(&dout(Ttt(9), 0, 16000, &[0; 512], false)),
        Err(WriteError::BufferOffset)
    );
    c.data_out(&dout(Ttt(9), 0, 0, &[0; 512], false)).unwrap();
    assert_eq!(
        c.data_out(&dout(Ttt(9), 1, 512, &[0; 512], true)),
        Err(WriteError::ShortSequence)
    );
}

#[test]
fn unsolicited_overrun_of_first_burst_is_rejected() {
    let mut p = params();
    p.initial_r2t = false;
    p.first_burst_length = 1024;
    let mut c = WriteCollector::new(4096, &[0; 512], false, p).unwrap();
    assert_eq!(
        c.data_out(&dout(Ttt::RESERVED, 0, 512, &[0; 1024], true)),
        Err(WriteError::BufferOffset)
    );
}

/// With DataPDUInOrder=No, PDUs of a sequence may come in any order: each is
/// placed at its buffer offset (the gap before a PDU that arrives early is
/// filled later), and the result is the initiator's data byte for byte.
#[test]
fn out_of_order_data_out_is_placed_by_offset() {
    let mut p = params();
    p.data_pdu_in_order = false;
    let src = pattern(4096);
    let mut c = WriteCollector::new(4096, &src[..512], true, p).unwrap();
    let r = c.next_r2ts(|| Ttt(9));
    assert_eq!(r.len(), 1);
    // Last piece first (the buffer is grown over the gap), then the middle
    // pieces backwards.
    c.data_out(&dout(Ttt(9), 0, 3072, &src[3072..], false))
        .unwrap();
    c.data_out(&dout(Ttt(9), 1, 2048, &src[2048..3072], false))
        .unwrap();
    assert!(!c.is_complete());
    c.data_out(&dout(Ttt(9), 2, 512, &src[512..2048], true))
        .unwrap();
    assert!(c.is_complete());
    assert_eq!(&c.into_data()[..], &src[..]);
}

/// With DataPDUInOrder=Yes a PDU that skips ahead or goes back is rejected
/// and leaves the collected data untouched; in-order PDUs are appended.
#[test]
fn in_order_data_out_rejects_other_offsets_and_keeps_the_data() {
    let src = pattern(8192);
    let mut c = WriteCollector::new(8192, &src[..1024], true, params()).unwrap();
    assert_eq!(c.next_r2ts(|| Ttt(9)).len(), 1);
    for off in [0u32, 512, 2048, 8191] {
        assert_eq!(
            c.data_out(&dout(Ttt(9), 0, off, &[0xEE; 1], false)),
            Err(WriteError::BufferOffset),
            "offset {off}"
        );
    }
    c.data_out(&dout(Ttt(9), 0, 1024, &src[1024..4096], false))
        .unwrap();
    assert_eq!(
        c.data_out(&dout(Ttt(9), 1, 1024, &[0xEE; 512], false)),
        Err(WriteError::BufferOffset)
    );
    c.data_out(&dout(Ttt(9), 1, 4096, &src[4096..], true))
        .unwrap();
    assert!(c.is_complete());
    assert_eq!(&c.into_data()[..], &src[..]);
}

/// Two outstanding R2Ts answered second-first (allowed with several R2Ts
/// outstanding) still assemble the right data.
#[test]
fn sequences_answered_out_of_order_are_placed_by_offset() {
    let mut p = params();
    p.max_burst_length = 4096;
    p.max_outstanding_r2t = 2;
    let src = pattern(8192);
    let mut c = WriteCollector::new(8192, &[], true, p).unwrap();
    let mut t = 0;
    let r = c.next_r2ts(|| {
        t += 1;
        Ttt(t)
    });
    assert_eq!(r.len(), 2);
    send_seq(&mut c, &src, r[1].ttt, 4096, 8192);
    assert!(!c.is_complete());
    send_seq(&mut c, &src, r[0].ttt, 0, 4096);
    assert!(c.is_complete());
    assert_eq!(&c.into_data()[..], &src[..]);
}
