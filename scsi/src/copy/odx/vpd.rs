//! The Third-party Copy VPD page (0x8F) descriptors of the ODX token
//! commands: Block Device ROD Token Limits (0x0000, SBC-4 6.6.9.3), ROD
//! Token Features (0x0106, SPC-5 7.8.17.8) and Supported ROD Types
//! (0x0108, SPC-5 7.8.17.9).
//!
//! Each function returns one whole descriptor (type, length, parameters).
//! SPC-5 7.8.17.1 orders the page's descriptors by ascending type, so the
//! page builder puts 0x0000 first (Windows enables ODX only when the first
//! descriptor is 0x0000 with length 0x20), then the EXTENDED COPY
//! descriptors 0x0001..0x000C, then 0x0106 and 0x0108, then 0x8001.

use super::limits::{rod_type, OdxLimits, RodTypeSupport};

pub const DESC_BLOCK_DEVICE_ROD_TOKEN_LIMITS: u16 = 0x0000;
pub const DESC_ROD_TOKEN_FEATURES: u16 = 0x0106;
pub const DESC_SUPPORTED_ROD_TYPES: u16 = 0x0108;

/// THIRD-PARTY COPY DESCRIPTOR LENGTH of Block Device ROD Token Limits.
pub const BLOCK_DEVICE_ROD_TOKEN_LIMITS_LEN: u16 = 0x20;
/// DESCRIPTOR LENGTH of the block ROD device type specific features
/// descriptor (SPC-5 table 653).
const BLOCK_ROD_FEATURES_LEN: u16 = 0x2C;
/// Length of one ROD type descriptor (SPC-5 table 657).
pub const ROD_TYPE_DESCRIPTOR_LEN: usize = 64;

/// Block Device ROD Token Limits for an LU of `block_size`-byte blocks:
/// 10-11 MAXIMUM RANGE DESCRIPTORS, 12-15 MAXIMUM INACTIVITY TIMEOUT, 16-19
/// DEFAULT INACTIVITY TIMEOUT, 20-27 MAXIMUM TOKEN TRANSFER SIZE and 28-35
/// OPTIMAL TRANSFER COUNT, both in logical blocks.
pub fn block_device_rod_token_limits(limits: &OdxLimits, block_size: u32) -> Vec<u8> {
    let mut d = Vec::with_capacity(36);
    d.extend_from_slice(&DESC_BLOCK_DEVICE_ROD_TOKEN_LIMITS.to_be_bytes());
    d.extend_from_slice(&BLOCK_DEVICE_ROD_TOKEN_LIMITS_LEN.to_be_bytes());
    d.extend_from_slice(&[0; 6]);
    d.extend_from_slice(&limits.max_range_descriptors.to_be_bytes());
    d.extend_from_slice(&limits.max_inactivity_timeout_secs.to_be_bytes());
    d.extend_from_slice(&limits.default_inactivity_timeout_secs.to_be_bytes());
    d.extend_from_slice(&limits.max_token_transfer_blocks(block_size).to_be_bytes());
    d.extend_from_slice(&limits.optimal_transfer_blocks(block_size).to_be_bytes());
    d
}

/// ROD Token Features with one block ROD device type specific features
/// descriptor. MAXIMUM BYTES IN BLOCK ROD is the MAXIMUM TOKEN TRANSFER
/// SIZE in bytes (the parsers' one size check enforces both); OPTIMAL BYTES
/// IN BLOCK ROD TRANSFER and OPTIMAL BYTES FROM TOKEN PER SEGMENT are the
/// OPTIMAL TRANSFER COUNT in bytes; OPTIMAL BYTES TO TOKEN PER SEGMENT is
/// unlimited (a POPULATE TOKEN range costs the same whatever its size).
pub fn rod_token_features(limits: &OdxLimits, block_size: u32) -> Vec<u8> {
    let bs = u64::from(block_size);
    let max_bytes = limits
        .max_token_transfer_blocks(block_size)
        .saturating_mul(bs);
    let optimal_bytes = limits
        .optimal_transfer_blocks(block_size)
        .saturating_mul(bs);

    let mut block = Vec::with_capacity(48);
    block.push(0x00); // DESCRIPTOR FORMAT 000b, PERIPHERAL DEVICE TYPE 00h
    block.push(0);
    block.extend_from_slice(&BLOCK_ROD_FEATURES_LEN.to_be_bytes());
    block.extend_from_slice(&[0; 2]);
    block.extend_from_slice(&0u16.to_be_bytes()); // OPTIMAL BLOCK ROD LENGTH GRANULARITY: not reported
    block.extend_from_slice(&max_bytes.to_be_bytes());
    block.extend_from_slice(&optimal_bytes.to_be_bytes());
    block.extend_from_slice(&u64::MAX.to_be_bytes()); // to token per segment: no limit
    block.extend_from_slice(&optimal_bytes.to_be_bytes()); // from token per segment
    block.extend_from_slice(&[0; 8]);

    let mut d = Vec::with_capacity(48 + block.len());
    d.extend_from_slice(&DESC_ROD_TOKEN_FEATURES.to_be_bytes());
    let len = 44 + block.len();
    d.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    d.push(limits.remote_tokens & 0x0F);
    d.extend_from_slice(&[0; 11]);
    d.extend_from_slice(&limits.min_token_lifetime_secs.to_be_bytes());
    d.extend_from_slice(&limits.max_token_lifetime_secs.to_be_bytes());
    d.extend_from_slice(&limits.max_inactivity_timeout_secs.to_be_bytes());
    d.extend_from_slice(&[0; 18]);
    d.extend_from_slice(&u16::try_from(block.len()).unwrap_or(0).to_be_bytes());
    d.extend_from_slice(&block);
    d
}

/// Supported ROD Types: one 64-byte ROD type descriptor per entry, in
/// ascending ROD type order as SPC-5 requires (duplicates keep the first
/// entry). TOKEN_OUT is never set for the block device zero ROD token
/// (SPC-5 7.8.17.9.1 prohibits returning it). At most 1023 entries fit the
/// 16-bit descriptor length; more are left out.
pub fn supported_rod_types(types: &[RodTypeSupport]) -> Vec<u8> {
    let mut sorted: Vec<RodTypeSupport> = Vec::with_capacity(types.len());
    for t in types {
        if !sorted.iter().any(|s| s.rod_type == t.rod_type) {
            sorted.push(*t);
        }
    }
    sorted.sort_by_key(|t| t.rod_type);
    sorted.truncate((usize::from(u16::MAX) - 4) / ROD_TYPE_DESCRIPTOR_LEN);

    let list_len = sorted.len() * ROD_TYPE_DESCRIPTOR_LEN;
    let mut d = Vec::with_capacity(8 + list_len);
    d.extend_from_slice(&DESC_SUPPORTED_ROD_TYPES.to_be_bytes());
    d.extend_from_slice(
        &u16::try_from(4 + list_len)
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    d.extend_from_slice(&[0; 2]);
    d.extend_from_slice(&u16::try_from(list_len).unwrap_or(u16::MAX).to_be_bytes());
    for t in &sorted {
        let token_out = t.token_out && t.rod_type != rod_type::BLOCK_DEVICE_ZERO;
        let flags = (u8::from(t.ecpy_int) << 7) | (u8::from(t.token_in) << 1) | u8::from(token_out);
        d.extend_from_slice(&t.rod_type.to_be_bytes());
        d.push(flags);
        d.push(0);
        d.extend_from_slice(&t.preference.to_be_bytes());
        d.extend_from_slice(&[0; ROD_TYPE_DESCRIPTOR_LEN - 8]);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_device_rod_token_limits_byte_exact() {
        let d = block_device_rod_token_limits(&OdxLimits::default(), 512);
        #[rustfmt::skip]
        let want: [u8; 36] = [
            0x00, 0x00, 0x00, 0x20,
            0, 0, 0, 0, 0, 0,
            0x00, 64,                                  // max range descriptors
            0x00, 0x00, 0x02, 0x58,                    // 600 s
            0x00, 0x00, 0x00, 0x3C,                    // 60 s
            0, 0, 0, 0, 0x00, 0x80, 0x00, 0x00,        // 4 GiB / 512 = 8 Mi blocks
            0, 0, 0, 0, 0x00, 0x02, 0x00, 0x00,        // 64 MiB / 512 = 128 Ki blocks
        ];
        assert_eq!(d, want);
        // Windows: first descriptor 0x0000 with length 0x20.
        assert_eq!(&d[..4], &[0, 0, 0, 0x20]);
        // 4096-byte blocks: the same bytes, fewer blocks.
        let d = block_device_rod_token_limits(&OdxLimits::default(), 4096);
        assert_eq!(&d[20..28], &[0, 0, 0, 0, 0x00, 0x10, 0x00, 0x00]);
        assert_eq!(&d[28..36], &[0, 0, 0, 0, 0x00, 0x00, 0x40, 0x00]);
    }

    #[test]
    fn rod_token_features_byte_exact() {
        let d = rod_token_features(&OdxLimits::default(), 512);
        #[rustfmt::skip]
        let want: Vec<u8> = [
            &[0x01, 0x06, 0x00, 0x5C][..],             // type, length 92
            &[0x00], &[0; 11],                         // REMOTE TOKENS 0h
            &[0, 0, 0, 1],                             // min lifetime 1 s
            &[0xFF, 0xFF, 0xFF, 0xFF],                 // max lifetime
            &[0x00, 0x00, 0x02, 0x58],                 // max inactivity 600 s
            &[0; 18],
            &[0x00, 0x30],                             // 48 bytes of type specific descriptors
            // block ROD device type specific features descriptor
            &[0x00, 0x00, 0x00, 0x2C, 0, 0],
            &[0x00, 0x00],                             // granularity not reported
            &[0, 0, 0, 0x01, 0, 0, 0, 0],              // max bytes in block ROD: 4 GiB
            &[0, 0, 0, 0, 0x04, 0, 0, 0],              // optimal bytes in transfer: 64 MiB
            &[0xFF; 8],                                // to token per segment: no limit
            &[0, 0, 0, 0, 0x04, 0, 0, 0],              // from token per segment: 64 MiB
            &[0; 8],
        ]
        .concat();
        assert_eq!(d, want);
        assert_eq!(d.len(), 96);
        // Sizes that are not whole blocks are advertised in whole blocks.
        let odd = OdxLimits {
            max_token_transfer_bytes: 10_000,
            optimal_transfer_bytes: 5000,
            remote_tokens: 0x14,
            ..OdxLimits::default()
        };
        let d = rod_token_features(&odd, 4096);
        assert_eq!(d[4], 0x04);
        assert_eq!(&d[56..64], &8192u64.to_be_bytes());
        assert_eq!(&d[64..72], &4096u64.to_be_bytes());
        assert_eq!(&d[80..88], &4096u64.to_be_bytes());
    }

    #[test]
    fn supported_rod_types_byte_exact_sorted_zero_token_never_out() {
        let d = supported_rod_types(&[
            RodTypeSupport {
                rod_type: rod_type::BLOCK_DEVICE_ZERO,
                ecpy_int: false,
                token_in: true,
                token_out: true, // refused: never returned
                preference: 0,
            },
            RodTypeSupport {
                rod_type: rod_type::POINT_IN_TIME_CHANGE_VULNERABLE,
                ecpy_int: true,
                token_in: true,
                token_out: true,
                preference: 0xFFFF,
            },
            RodTypeSupport {
                rod_type: rod_type::BLOCK_DEVICE_ZERO,
                ecpy_int: true,
                token_in: false,
                token_out: false,
                preference: 7, // duplicate: dropped
            },
        ]);
        let mut want = vec![0x01, 0x08, 0x00, 0x84, 0, 0, 0x00, 0x80];
        let mut e1 = vec![0u8; 64];
        e1[..8].copy_from_slice(&[0x00, 0x80, 0x00, 0x01, 0x83, 0, 0xFF, 0xFF]);
        let mut e2 = vec![0u8; 64];
        e2[..8].copy_from_slice(&[0xFF, 0xFF, 0x00, 0x01, 0x02, 0, 0, 0]);
        want.extend_from_slice(&e1);
        want.extend_from_slice(&e2);
        assert_eq!(d, want);
        assert_eq!(supported_rod_types(&[]), vec![0x01, 0x08, 0, 4, 0, 0, 0, 0]);
    }
}
