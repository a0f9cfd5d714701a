//! Framing (RFC 7143 11.2): cut PDUs out of the received byte stream, check
//! the negotiated header and data digests (CRC32C, RFC 7143 13.1 and
//! Appendix B) and padding, and enforce MaxRecvDataSegmentLength. Encoding
//! appends padding and digests.
//!
//! Error planes: a header digest error or an over-long data segment cannot
//! be resynchronised and closes the connection ([`FrameError`]); a data
//! digest error leaves the stream in sync and is answered with a Reject
//! (reason Data digest error, RFC 7143 7.8) ([`Frame::DataDigestError`]).

use crate::pdu::{pad_len, Bhs, RawPdu, BHS_LEN};
use bytes::{BufMut, Bytes, BytesMut};

/// Digest length (CRC32C).
pub const DIGEST_LEN: usize = 4;

/// MaxRecvDataSegmentLength in force during login (RFC 7143 13.12).
pub const LOGIN_MAX_RECV_DATA_SEGMENT: u32 = 8192;

/// What framing needs from the negotiated parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameConfig {
    pub header_digest: bool,
    pub data_digest: bool,
    /// The largest data segment we accept (our MaxRecvDataSegmentLength).
    pub max_recv_data_segment: u32,
}

impl FrameConfig {
    /// Login phase: no digests, 8192-byte segments.
    pub fn login() -> Self {
        Self {
            header_digest: false,
            data_digest: false,
            max_recv_data_segment: LOGIN_MAX_RECV_DATA_SEGMENT,
        }
    }

    /// The largest frame this configuration accepts: the read buffer bound.
    pub fn max_frame_len(&self) -> usize {
        BHS_LEN + crate::pdu::MAX_AHS_LEN + 2 * DIGEST_LEN + self.max_recv_data_segment as usize + 3
    }
}

/// A received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Pdu(RawPdu),
    /// The data digest did not match; the PDU (header given) was dropped.
    DataDigestError(Bhs),
}

/// Connection-fatal framing errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("header digest mismatch")]
    HeaderDigest,
    #[error("data segment of {len} bytes exceeds MaxRecvDataSegmentLength {max}")]
    DataSegmentTooLarge { bhs: Bhs, len: usize, max: u32 },
}

/// CRC32C as carried on the wire (little-endian, RFC 7143 Appendix B.4).
pub fn digest(parts: &[&[u8]]) -> [u8; 4] {
    let mut crc = 0u32;
    for p in parts {
        crc = crc32c::crc32c_append(crc, p);
    }
    crc.to_le_bytes()
}

/// Try to take one frame from the front of `buf`. `Ok(None)` means more
/// bytes are needed; the bytes of a returned frame are consumed.
pub fn decode_frame(buf: &mut BytesMut, cfg: &FrameConfig) -> Result<Option<Frame>, FrameError> {
    let Ok(bhs) = Bhs::from_slice(buf) else {
        return Ok(None);
    };
    let ahs_len = bhs.total_ahs_len();
    let dlen = bhs.data_segment_len();
    if dlen > cfg.max_recv_data_segment as usize {
        return Err(FrameError::DataSegmentTooLarge {
            bhs,
            len: dlen,
            max: cfg.max_recv_data_segment,
        });
    }
    let hd = if cfg.header_digest { DIGEST_LEN } else { 0 };
    let header_end = BHS_LEN + ahs_len;
    let data_start = header_end + hd;
    let padded = dlen + pad_len(dlen);
    let dd = if cfg.data_digest && dlen > 0 {
        DIGEST_LEN
    } else {
        0
    };
    let total = data_start + padded + dd;
    if buf.len() < total {
        return Ok(None);
    }
    let frame = buf.split_to(total).freeze();
    if cfg.header_digest {
        let want = digest(&[frame.get(..header_end).unwrap_or(&[])]);
        if frame.get(header_end..data_start) != Some(&want[..]) {
            return Err(FrameError::HeaderDigest);
        }
    }
    if dd > 0 {
        let want = digest(&[frame.get(data_start..data_start + padded).unwrap_or(&[])]);
        if frame.get(data_start + padded..total) != Some(&want[..]) {
            return Ok(Some(Frame::DataDigestError(bhs)));
        }
    }
    Ok(Some(Frame::Pdu(RawPdu {
        bhs,
        ahs: frame.slice(BHS_LEN..header_end),
        data: frame.slice(data_start..data_start + dlen),
    })))
}

/// One encoded PDU in three pieces, so that the data segment (often a
/// `Bytes` slice of a backend read) is sent as is, never copied: `header`
/// is BHS + AHS + header digest, `data` the data segment, `trailer` its
/// padding and data digest (RFC 7143 11.2). Their concatenation is the
/// frame. (Copying every Data-In payload into one buffer with its header
/// was 26 % of xtgt's samples in 1 MiB reads, conformance/bench/profile.md.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    pub header: Bytes,
    pub data: Bytes,
    pub trailer: Bytes,
}

impl EncodedFrame {
    /// Total length on the wire.
    pub fn len(&self) -> usize {
        self.header.len() + self.data.len() + self.trailer.len()
    }

    /// Never true: a frame has at least a BHS.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frame as one contiguous buffer (copies the data segment).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.len());
        out.put_slice(&self.header);
        out.put_slice(&self.data);
        out.put_slice(&self.trailer);
        out.freeze()
    }
}

/// Encode one PDU with padding and the configured digests, keeping the
/// data segment as a separate buffer (see [`EncodedFrame`]).
pub fn encode_frame_parts(raw: &RawPdu, header_digest: bool, data_digest: bool) -> EncodedFrame {
    let dlen = raw.data.len();
    let pad = pad_len(dlen);
    let header_len = BHS_LEN + raw.ahs.len() + if header_digest { DIGEST_LEN } else { 0 };
    // Header and trailer share one allocation.
    let mut out = BytesMut::with_capacity(header_len + pad + DIGEST_LEN);
    let mut bhs = raw.bhs;
    bhs.set_lengths(raw.ahs.len(), dlen);
    out.put_slice(&bhs.0);
    out.put_slice(&raw.ahs);
    if header_digest {
        let d = digest(&[&out]);
        out.put_slice(&d);
    }
    let header = out.split().freeze();
    if dlen > 0 {
        out.put_bytes(0, pad);
        if data_digest {
            let d = digest(&[&raw.data, &out]);
            out.put_slice(&d);
        }
    }
    EncodedFrame {
        header,
        data: raw.data.clone(),
        trailer: out.freeze(),
    }
}

/// Encode one PDU with padding and the configured digests as one buffer.
pub fn encode_frame(raw: &RawPdu, header_digest: bool, data_digest: bool) -> Bytes {
    encode_frame_parts(raw, header_digest, data_digest).to_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::pdu::{CmdSn, Itt, NopOut, PduCodec, StatSn, Ttt};

    fn nop(data: &'static [u8]) -> RawPdu {
        NopOut {
            immediate: true,
            lun: Default::default(),
            itt: Itt(1),
            ttt: Ttt::RESERVED,
            cmdsn: CmdSn(1),
            exp_statsn: StatSn(1),
            data: Bytes::from_static(data),
        }
        .to_raw()
    }

    fn cfg(hd: bool, dd: bool) -> FrameConfig {
        FrameConfig {
            header_digest: hd,
            data_digest: dd,
            max_recv_data_segment: 8192,
        }
    }

    #[test]
    fn crc32c_reference_vector() {
        // RFC 7143 Appendix B.4: 32 bytes of zeroes -> aa 36 91 8a.
        assert_eq!(digest(&[&[0u8; 32]]), [0xaa, 0x36, 0x91, 0x8a]);
        // 32 bytes of 0xff -> 43 ab a8 62.
        assert_eq!(digest(&[&[0xffu8; 32]]), [0x43, 0xab, 0xa8, 0x62]);
    }

    #[test]
    fn every_digest_combination_round_trips_and_waits_on_prefix() {
        for (hd, dd) in [(false, false), (true, false), (false, true), (true, true)] {
            let raw = nop(b"hello");
            let enc = encode_frame(&raw, hd, dd);
            let want = 48 + 8 + if hd { 4 } else { 0 } + if dd { 4 } else { 0 };
            assert_eq!(enc.len(), want);
            for cut in 0..enc.len() {
                let mut b = BytesMut::from(&enc[..cut]);
                assert_eq!(decode_frame(&mut b, &cfg(hd, dd)), Ok(None));
                assert_eq!(b.len(), cut);
            }
            let mut b = BytesMut::from(&enc[..]);
            b.extend_from_slice(&enc);
            assert_eq!(
                decode_frame(&mut b, &cfg(hd, dd)),
                Ok(Some(Frame::Pdu(raw.clone())))
            );
            assert_eq!(b.len(), enc.len());
        }
    }

    /// The encoder as it was before the header/data split (one buffer):
    /// the reference the split encoding must match byte for byte.
    fn encode_contiguous(raw: &RawPdu, hd: bool, dd: bool) -> Vec<u8> {
        let mut bhs = raw.bhs;
        bhs.set_lengths(raw.ahs.len(), raw.data.len());
        let mut out = bhs.0.to_vec();
        out.extend_from_slice(&raw.ahs);
        if hd {
            let d = digest(&[&out]);
            out.extend_from_slice(&d);
        }
        if !raw.data.is_empty() {
            let start = out.len();
            out.extend_from_slice(&raw.data);
            out.resize(out.len() + pad_len(raw.data.len()), 0);
            if dd {
                let d = digest(&[&out[start..]]);
                out.extend_from_slice(&d);
            }
        }
        out
    }

    #[test]
    fn split_encoding_is_byte_identical_for_every_padding_and_digest() {
        let payload: Vec<u8> = (0..300u32).map(|i| (i * 7 % 256) as u8).collect();
        for len in (0..=9).chain([255, 256, 257, 299]) {
            for ahs in [Bytes::new(), Bytes::from_static(&[0, 4, 1, 0, 1, 2, 3, 4])] {
                let mut raw = nop(b"");
                raw.data = Bytes::copy_from_slice(&payload[..len]);
                raw.ahs = ahs.clone();
                raw.bhs.set_lengths(raw.ahs.len(), raw.data.len());
                for (hd, dd) in [(false, false), (true, false), (false, true), (true, true)] {
                    let want = encode_contiguous(&raw, hd, dd);
                    let parts = encode_frame_parts(&raw, hd, dd);
                    // The payload is the caller's buffer, not a copy.
                    assert_eq!(parts.data.as_ptr(), raw.data.as_ptr());
                    assert_eq!(parts.len(), want.len());
                    let header_len = 48 + ahs.len() + if hd { 4 } else { 0 };
                    assert_eq!(parts.header.len(), header_len);
                    let trailer = if len > 0 {
                        pad_len(len) + if dd { 4 } else { 0 }
                    } else {
                        0
                    };
                    assert_eq!(parts.trailer.len(), trailer, "len {len} hd {hd} dd {dd}");
                    assert_eq!(&parts.to_bytes()[..], &want[..]);
                    assert_eq!(&encode_frame(&raw, hd, dd)[..], &want[..]);
                    // And it decodes back to the PDU.
                    let mut b = BytesMut::from(&want[..]);
                    let cfg = cfg(hd, dd);
                    assert_eq!(
                        decode_frame(&mut b, &cfg),
                        Ok(Some(Frame::Pdu(raw.clone())))
                    );
                }
            }
        }
    }

    #[test]
    fn no_data_digest_without_data() {
        let raw = nop(b"");
        assert_eq!(encode_frame(&raw, true, true).len(), 52);
    }

    #[test]
    fn header_digest_error_is_fatal() {
        let mut enc = BytesMut::from(&encode_frame(&nop(b"x"), true, false)[..]);
        enc[20] ^= 1;
        assert_eq!(
            decode_frame(&mut enc, &cfg(true, false)),
            Err(FrameError::HeaderDigest)
        );
    }

    #[test]
    fn data_digest_error_drops_pdu_only() {
        let mut enc = BytesMut::from(&encode_frame(&nop(b"abcd"), false, true)[..]);
        enc[49] ^= 1;
        let r = decode_frame(&mut enc, &cfg(false, true));
        assert!(matches!(r, Ok(Some(Frame::DataDigestError(_)))));
        assert!(enc.is_empty());
    }

    #[test]
    fn oversized_segment_is_fatal_before_reading_it() {
        let mut b = BytesMut::from(&encode_frame(&nop(b""), false, false)[..]);
        b[5] = 0;
        b[6] = 0x20;
        b[7] = 1; // 8193 bytes
        assert!(matches!(
            decode_frame(&mut b, &cfg(false, false)),
            Err(FrameError::DataSegmentTooLarge { len: 8193, .. })
        ));
    }
}
