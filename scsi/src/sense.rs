//! Sense data (SPC-5 4.4). Every SCSI error is a [`ScsiError`]; the mapping to
//! (sense key, ASC, ASCQ) lives in one table here ([`ScsiError::code`]).
//! Handlers never build sense bytes by hand.

use bytes::{BufMut, Bytes, BytesMut};

/// Sense keys (SPC-5 table 52).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SenseKey {
    NoSense = 0x0,
    RecoveredError = 0x1,
    NotReady = 0x2,
    MediumError = 0x3,
    HardwareError = 0x4,
    IllegalRequest = 0x5,
    UnitAttention = 0x6,
    DataProtect = 0x7,
    BlankCheck = 0x8,
    CopyAborted = 0xA,
    AbortedCommand = 0xB,
    VolumeOverflow = 0xD,
    Miscompare = 0xE,
}

impl SenseKey {
    /// Lower-case name for metrics labels and logs.
    pub fn name(self) -> &'static str {
        match self {
            SenseKey::NoSense => "no_sense",
            SenseKey::RecoveredError => "recovered_error",
            SenseKey::NotReady => "not_ready",
            SenseKey::MediumError => "medium_error",
            SenseKey::HardwareError => "hardware_error",
            SenseKey::IllegalRequest => "illegal_request",
            SenseKey::UnitAttention => "unit_attention",
            SenseKey::DataProtect => "data_protect",
            SenseKey::BlankCheck => "blank_check",
            SenseKey::CopyAborted => "copy_aborted",
            SenseKey::AbortedCommand => "aborted_command",
            SenseKey::VolumeOverflow => "volume_overflow",
            SenseKey::Miscompare => "miscompare",
        }
    }
}

/// A field pointer for the SENSE KEY SPECIFIC field (SPC-5 4.4.2.2.2): the
/// byte (and optionally bit) of the CDB or parameter list that is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldPointer {
    pub byte: u16,
    pub bit: Option<u8>,
}

impl FieldPointer {
    pub const fn byte(byte: u16) -> Self {
        Self { byte, bit: None }
    }
    pub const fn bit(byte: u16, bit: u8) -> Self {
        Self {
            byte,
            bit: Some(bit),
        }
    }
    /// The pointer to the most significant set bit of `bits`, the offending
    /// bits of `byte` (a reserved or unchangeable bit that was set); just
    /// the byte when `bits` is 0.
    pub fn top_bit(byte: u16, bits: u8) -> Self {
        match bits.checked_ilog2() {
            Some(b) => Self::bit(byte, u8::try_from(b).unwrap_or(7)),
            None => Self::byte(byte),
        }
    }
}

/// The end of a third-party copy whose error aborted it: the SENSE DATA
/// SOURCE of the forwarded sense data descriptor (SPC-5 table 41).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyEnd {
    /// The EXTENDED COPY source (a read failed): SENSE DATA SOURCE 1h.
    Source,
    /// The EXTENDED COPY destination (a write failed): SENSE DATA SOURCE 2h.
    Destination,
}

impl CopyEnd {
    /// The SENSE DATA SOURCE code (SPC-5 4.4.2.10).
    pub fn sense_data_source(self) -> u8 {
        match self {
            CopyEnd::Source => 0x1,
            CopyEnd::Destination => 0x2,
        }
    }
}

/// The sense of a copy source or destination carried in a forwarded sense
/// data descriptor (SPC-5 4.4.2.10), with the status it ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedSense {
    pub source: CopyEnd,
    /// FORWARDED STATUS (SAM-5 status code; 02h CHECK CONDITION).
    pub status: u8,
    pub sense: SenseData,
}

/// SAM-5 CHECK CONDITION status code.
const CHECK_CONDITION: u8 = 0x02;

/// The largest sense data SPC-5 allows (4.4.1): 252 bytes.
pub const MAX_SENSE_LENGTH: usize = 252;

/// Every SCSI error condition xtgt reports. Closed: add a variant (and its
/// row in [`ScsiError::code`]) rather than building sense elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScsiError {
    // ---- ILLEGAL REQUEST ----
    #[error("invalid command operation code")]
    InvalidOpcode,
    #[error("invalid field in CDB at {0:?}")]
    InvalidFieldInCdb(FieldPointer),
    #[error("invalid field in parameter list at {0:?}")]
    InvalidFieldInParameterList(FieldPointer),
    /// The Data-Out buffer is shorter than the CDB asks for and not a whole
    /// number of logical blocks (FCP-4 9.4.2 b), SAM-5 5.4.2).
    #[error("invalid field in command information unit")]
    InvalidFieldInCommandIu,
    #[error("parameter list length error")]
    ParameterListLengthError,
    /// The expected data transfer length is larger than the transport
    /// buffers for one command. INVALID FIELD IN CDB without a field
    /// pointer: the transport does not know where the CDB keeps its length.
    #[error("transfer length larger than the transport accepts")]
    TransferTooLarge,
    #[error("logical block address out of range")]
    LbaOutOfRange,
    #[error("logical unit not supported")]
    LunNotSupported,
    #[error("saving parameters not supported")]
    SavingParametersNotSupported,
    #[error("medium removal prevented")]
    MediumRemovalPrevented,
    #[error("invalid release of persistent reservation")]
    InvalidReleaseOfReservation,
    // third-party copy (SPC-5 6.4, 6.6)
    #[error("too many target descriptors")]
    TooManyTargetDescriptors,
    #[error("unsupported target descriptor type code")]
    UnsupportedTargetDescriptorType(FieldPointer),
    #[error("too many segment descriptors")]
    TooManySegmentDescriptors,
    #[error("unsupported segment descriptor type code")]
    UnsupportedSegmentDescriptorType(FieldPointer),
    #[error("unexpected inexact segment")]
    UnexpectedInexactSegment,
    #[error("inline data length exceeded")]
    InlineDataLengthExceeded,
    #[error("invalid operation for copy source or destination")]
    InvalidCopyOperation,
    #[error("copy segment granularity violation")]
    CopySegmentGranularityViolation,
    #[error("copy source or destination not authorized")]
    CopyNotAuthorized,
    #[error("operation in progress")]
    OperationInProgress,
    // ROD tokens (SBC-4 / SPC-5)
    #[error("invalid token operation, unsupported token type")]
    TokenUnsupportedType,
    #[error("invalid token operation, remote token usage not supported")]
    TokenRemoteNotSupported,
    #[error("invalid token operation, token unknown")]
    TokenUnknown,
    #[error("invalid token operation, token corrupt")]
    TokenCorrupt,
    #[error("invalid token operation, token revoked")]
    TokenRevoked,
    #[error("invalid token operation, token expired")]
    TokenExpired,
    #[error("invalid token operation, token cancelled")]
    TokenCancelled,
    #[error("invalid token operation, token deleted")]
    TokenDeleted,
    #[error("invalid token operation, invalid token length")]
    TokenInvalidLength,
    #[error("insufficient resources to create ROD token")]
    InsufficientResourcesRodToken,
    /// The point-in-time copy behind a ROD could not be made (0x55/0x0C).
    #[error("insufficient resources to create ROD")]
    InsufficientResourcesRod,
    /// The copy manager cannot take another copy now: the queue of copies
    /// waiting for a turn is full (SPC-5 55h/03h).
    #[error("insufficient resources")]
    InsufficientResources,
    // ---- NOT READY ----
    #[error("medium not present")]
    MediumNotPresent,
    #[error("logical unit not ready, initializing command required")]
    NotReadyInitializingCommandRequired,
    /// ALUA (SPC-5 5.16.2.4.4): the command came through a target port in
    /// the standby state.
    #[error("logical unit not accessible, target port in standby state")]
    TargetPortStandby,
    /// ALUA (SPC-5 5.16.2.4.5): the target port is in the unavailable state.
    #[error("logical unit not accessible, target port in unavailable state")]
    TargetPortUnavailable,
    // ---- MEDIUM ERROR ----
    #[error("unrecovered read error")]
    UnrecoveredReadError { lba: Option<u64> },
    #[error("write error")]
    WriteError { lba: Option<u64> },
    // ---- HARDWARE ERROR ----
    #[error("internal target failure")]
    InternalTargetFailure,
    // ---- DATA PROTECT ----
    #[error("write protected")]
    WriteProtected,
    // ---- MISCOMPARE ----
    /// `offset`: byte offset of the first miscompare in the compared data.
    #[error("miscompare during verify operation")]
    MiscompareDuringVerify { offset: u64 },
    // ---- UNIT ATTENTION ----
    #[error("power on, reset, or bus device reset occurred")]
    PowerOnReset,
    #[error("power on occurred")]
    PowerOnOccurred,
    #[error("bus device reset function occurred")]
    BusDeviceResetOccurred,
    #[error("reported luns data has changed")]
    ReportedLunsDataChanged,
    #[error("capacity data has changed")]
    CapacityDataChanged,
    /// A removable medium was loaded (SBC-4 5.25).
    #[error("not ready to ready change, medium may have changed")]
    NotReadyToReadyChange,
    #[error("mode parameters changed")]
    ModeParametersChanged,
    #[error("commands cleared by another initiator")]
    CommandsClearedByAnotherInitiator,
    /// PREEMPT/CLEAR removed the reservation (SPC-5 5.14.11.4/5).
    #[error("reservations preempted")]
    ReservationsPreempted,
    /// A Registrants Only or All Registrants reservation was released.
    #[error("reservations released")]
    ReservationsReleased,
    /// PREEMPT removed this I_T nexus' registration.
    #[error("registrations preempted")]
    RegistrationsPreempted,
    // ---- no sense: a status ----
    /// RESERVATION CONFLICT status (SAM-5 5.3.1): not CHECK CONDITION,
    /// no sense data. The dispatcher answers it as a status; its entry in
    /// [`ScsiError::code`] is never sent.
    #[error("reservation conflict")]
    ReservationConflict,
    /// SET TARGET PORT GROUPS through another I_T nexus changed a target
    /// port group's state (SPC-5 5.16.2.6).
    #[error("asymmetric access state changed")]
    AsymmetricAccessStateChanged,
    // ---- ABORTED COMMAND ----
    #[error("aborted command")]
    Aborted,
    /// The transport could not complete the data transfer of a command
    /// (an unrecoverable Data-Out sequence error).
    #[error("data phase error")]
    DataPhaseError,
    // ---- COPY ABORTED ----
    /// A third-party copy failed part way (SPC-5 6.6.4.3): `asc/ascq` say why,
    /// `segment` is the failing segment (COMMAND-SPECIFIC INFORMATION),
    /// `cause` is the underlying error and which end of the copy reported it
    /// (forwarded sense, SPC-5 4.4.2.10), `segment_pointer` the byte offset
    /// of the failing segment descriptor in the parameter list (segment
    /// pointer SENSE KEY SPECIFIC data, SD=0; SPC-5 4.4.2.2.6).
    #[error("copy aborted in segment {segment}: {asc:#04x}/{ascq:#04x}")]
    CopyAborted {
        asc: u8,
        ascq: u8,
        segment: u32,
        cause: Option<(CopyEnd, Box<ScsiError>)>,
        segment_pointer: Option<u16>,
    },
    /// A WRITE USING TOKEN stopped short (its work budget ran out, or it
    /// was aborted): COPY ABORTED, COPY TARGET DEVICE DATA UNDERRUN
    /// (0Dh/04h), VALID=1 and INFORMATION = the contiguous blocks written
    /// from the start of the destination ranges (SBC-4 5.59.1; what
    /// Windows continues from with OFFSET INTO ROD).
    #[error("copy target device data underrun after {blocks_written} blocks")]
    CopyDataUnderrun { blocks_written: u64 },
    /// A copy operation stopped by COPY OPERATION ABORT, a logical unit
    /// reset or shutdown while its command waited: COPY ABORTED, COMMAND
    /// CLEARED BY DEVICE SERVER (2Fh/02h) (SPC-5 5.17.4.7, table 109).
    /// How far it got: `information` (VALID=1) the contiguous blocks
    /// written (WRITE USING TOKEN), `segment` in COMMAND-SPECIFIC
    /// INFORMATION the segment it stopped in (EXTENDED COPY, as for a
    /// failure).
    #[error("copy operation aborted")]
    CopyCleared {
        information: Option<u64>,
        segment: Option<u32>,
    },
}

impl ScsiError {
    /// The one table from error to (sense key, ASC, ASCQ).
    pub fn code(&self) -> (SenseKey, u8, u8) {
        use ScsiError::*;
        use SenseKey as K;
        match self {
            InvalidOpcode => (K::IllegalRequest, 0x20, 0x00),
            InvalidFieldInCdb(_) => (K::IllegalRequest, 0x24, 0x00),
            InvalidFieldInParameterList(_) => (K::IllegalRequest, 0x26, 0x00),
            InvalidFieldInCommandIu => (K::IllegalRequest, 0x0E, 0x03),
            ParameterListLengthError => (K::IllegalRequest, 0x1A, 0x00),
            TransferTooLarge => (K::IllegalRequest, 0x24, 0x00),
            LbaOutOfRange => (K::IllegalRequest, 0x21, 0x00),
            LunNotSupported => (K::IllegalRequest, 0x25, 0x00),
            SavingParametersNotSupported => (K::IllegalRequest, 0x39, 0x00),
            MediumRemovalPrevented => (K::IllegalRequest, 0x53, 0x02),
            InvalidReleaseOfReservation => (K::IllegalRequest, 0x26, 0x04),
            TooManyTargetDescriptors => (K::IllegalRequest, 0x26, 0x06),
            UnsupportedTargetDescriptorType(_) => (K::IllegalRequest, 0x26, 0x07),
            TooManySegmentDescriptors => (K::IllegalRequest, 0x26, 0x08),
            UnsupportedSegmentDescriptorType(_) => (K::IllegalRequest, 0x26, 0x09),
            UnexpectedInexactSegment => (K::IllegalRequest, 0x26, 0x0A),
            InlineDataLengthExceeded => (K::IllegalRequest, 0x26, 0x0B),
            InvalidCopyOperation => (K::IllegalRequest, 0x26, 0x0C),
            CopySegmentGranularityViolation => (K::IllegalRequest, 0x26, 0x0D),
            CopyNotAuthorized => (K::IllegalRequest, 0x26, 0x15),
            OperationInProgress => (K::IllegalRequest, 0x00, 0x16),
            TokenUnsupportedType => (K::IllegalRequest, 0x23, 0x01),
            TokenRemoteNotSupported => (K::IllegalRequest, 0x23, 0x02),
            TokenUnknown => (K::IllegalRequest, 0x23, 0x04),
            TokenCorrupt => (K::IllegalRequest, 0x23, 0x05),
            TokenRevoked => (K::IllegalRequest, 0x23, 0x06),
            TokenExpired => (K::IllegalRequest, 0x23, 0x07),
            TokenCancelled => (K::IllegalRequest, 0x23, 0x08),
            TokenDeleted => (K::IllegalRequest, 0x23, 0x09),
            TokenInvalidLength => (K::IllegalRequest, 0x23, 0x0A),
            InsufficientResourcesRodToken => (K::IllegalRequest, 0x55, 0x0D),
            InsufficientResourcesRod => (K::IllegalRequest, 0x55, 0x0C),
            InsufficientResources => (K::IllegalRequest, 0x55, 0x03),
            MediumNotPresent => (K::NotReady, 0x3A, 0x00),
            NotReadyInitializingCommandRequired => (K::NotReady, 0x04, 0x02),
            TargetPortStandby => (K::NotReady, 0x04, 0x0B),
            TargetPortUnavailable => (K::NotReady, 0x04, 0x0C),
            UnrecoveredReadError { .. } => (K::MediumError, 0x11, 0x00),
            WriteError { .. } => (K::MediumError, 0x0C, 0x00),
            InternalTargetFailure => (K::HardwareError, 0x44, 0x00),
            WriteProtected => (K::DataProtect, 0x27, 0x00),
            MiscompareDuringVerify { .. } => (K::Miscompare, 0x1D, 0x00),
            PowerOnReset => (K::UnitAttention, 0x29, 0x00),
            PowerOnOccurred => (K::UnitAttention, 0x29, 0x01),
            BusDeviceResetOccurred => (K::UnitAttention, 0x29, 0x03),
            ReportedLunsDataChanged => (K::UnitAttention, 0x3F, 0x0E),
            CapacityDataChanged => (K::UnitAttention, 0x2A, 0x09),
            NotReadyToReadyChange => (K::UnitAttention, 0x28, 0x00),
            ModeParametersChanged => (K::UnitAttention, 0x2A, 0x01),
            CommandsClearedByAnotherInitiator => (K::UnitAttention, 0x2F, 0x00),
            ReservationsPreempted => (K::UnitAttention, 0x2A, 0x03),
            ReservationsReleased => (K::UnitAttention, 0x2A, 0x04),
            RegistrationsPreempted => (K::UnitAttention, 0x2A, 0x05),
            ReservationConflict => (K::NoSense, 0x00, 0x00),
            AsymmetricAccessStateChanged => (K::UnitAttention, 0x2A, 0x06),
            Aborted => (K::AbortedCommand, 0x00, 0x00),
            DataPhaseError => (K::AbortedCommand, 0x4B, 0x00),
            CopyAborted { asc, ascq, .. } => (K::CopyAborted, *asc, *ascq),
            CopyDataUnderrun { .. } => (K::CopyAborted, 0x0D, 0x04),
            CopyCleared { .. } => (K::CopyAborted, 0x2F, 0x02),
        }
    }

    pub fn sense_key(&self) -> SenseKey {
        self.code().0
    }

    /// The full sense description of this error.
    pub fn sense(&self) -> SenseData {
        let (key, asc, ascq) = self.code();
        let mut s = SenseData::new(key, asc, ascq);
        match self {
            ScsiError::InvalidFieldInCdb(fp) => s.sks = Some(field_pointer(true, *fp)),
            ScsiError::InvalidFieldInParameterList(fp)
            | ScsiError::UnsupportedTargetDescriptorType(fp)
            | ScsiError::UnsupportedSegmentDescriptorType(fp) => {
                s.sks = Some(field_pointer(false, *fp))
            }
            ScsiError::UnrecoveredReadError { lba: Some(l) }
            | ScsiError::WriteError { lba: Some(l) } => s.information = Some(*l),
            ScsiError::MiscompareDuringVerify { offset } => s.information = Some(*offset),
            ScsiError::CopyDataUnderrun { blocks_written } => s.information = Some(*blocks_written),
            ScsiError::CopyCleared {
                information,
                segment,
            } => {
                s.information = *information;
                s.command_specific = *segment;
            }
            ScsiError::CopyAborted {
                segment,
                cause,
                segment_pointer,
                ..
            } => {
                s.command_specific = Some(*segment);
                // Segment pointer SKS: SKSV=1, SD=0 (relative to the start
                // of the parameter list), BPV=0.
                s.sks = segment_pointer.map(|p| {
                    let [hi, lo] = p.to_be_bytes();
                    [0x80, hi, lo]
                });
                s.forwarded = cause.as_ref().map(|(end, c)| {
                    Box::new(ForwardedSense {
                        source: *end,
                        status: CHECK_CONDITION,
                        sense: c.sense(),
                    })
                });
            }
            _ => {}
        }
        s
    }
}

/// SENSE KEY SPECIFIC bytes for a field pointer (SKSV=1, C/D, BPV, bit, field).
fn field_pointer(cdb: bool, fp: FieldPointer) -> [u8; 3] {
    let mut b0 = 0x80u8;
    if cdb {
        b0 |= 0x40;
    }
    if let Some(bit) = fp.bit {
        b0 |= 0x08 | (bit & 0x07);
    }
    let [hi, lo] = fp.byte.to_be_bytes();
    [b0, hi, lo]
}

/// Decoded sense fields, encodable in fixed format (SPC-5 4.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenseData {
    pub key: SenseKey,
    pub asc: u8,
    pub ascq: u8,
    /// INFORMATION field (VALID bit set when present); truncated to 32 bits
    /// in fixed format.
    pub information: Option<u64>,
    pub command_specific: Option<u32>,
    /// SENSE KEY SPECIFIC (3 bytes, SKSV in bit 7 of the first).
    pub sks: Option<[u8; 3]>,
    /// Sense of the copy source/destination whose failure aborted a
    /// third-party copy. SPC-5 carries it only in descriptor format (the
    /// forwarded sense data descriptor, 4.4.2.10); fixed format has no field
    /// for it, so [`SenseData::encode_fixed`] leaves it out and the copy's
    /// own sense (COPY ABORTED, segment, segment pointer) stands alone.
    pub forwarded: Option<Box<ForwardedSense>>,
}

impl SenseData {
    pub fn new(key: SenseKey, asc: u8, ascq: u8) -> Self {
        Self {
            key,
            asc,
            ascq,
            information: None,
            command_specific: None,
            sks: None,
            forwarded: None,
        }
    }

    /// Fixed format sense data, response code 0x70 (current error), always
    /// 18 bytes (SPC-5 4.4.3). The INFORMATION field is 4 bytes: a larger
    /// value cannot be represented, so VALID is cleared (4.4.3) rather than
    /// reporting a truncated one. [`SenseData::forwarded`] has no place here.
    pub fn encode_fixed(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(18);
        let information = self.information.and_then(|i| u32::try_from(i).ok());
        let valid = if information.is_some() { 0x80 } else { 0 };
        b.put_u8(valid | 0x70);
        b.put_u8(0);
        b.put_u8(self.key as u8);
        b.put_u32(information.unwrap_or(0));
        b.put_u8(10); // ADDITIONAL SENSE LENGTH
        b.put_u32(self.command_specific.unwrap_or(0));
        b.put_u8(self.asc);
        b.put_u8(self.ascq);
        b.put_u8(0); // FIELD REPLACEABLE UNIT CODE
        b.put_slice(&self.sks.unwrap_or([0, 0, 0]));
        b.freeze()
    }

    /// Fixed (0x70) or descriptor (0x72) format: `descriptor` is the
    /// logical unit's D_SENSE (SPC-5 7.5.8) or REQUEST SENSE's DESC.
    pub fn encode(&self, descriptor: bool) -> Bytes {
        if descriptor {
            self.encode_descriptor()
        } else {
            self.encode_fixed()
        }
    }

    /// Descriptor format sense data, response code 0x72 (SPC-5 4.4.2), with
    /// an information descriptor (type 00h), a command-specific information
    /// descriptor (01h), a sense key specific descriptor (02h) and a
    /// forwarded sense data descriptor (0Ch, 4.4.2.10) when those fields are
    /// present. The forwarded sense is the copy target's sense in fixed
    /// format, cut (FSDT=1) if the whole would pass 252 bytes.
    pub fn encode_descriptor(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(8 + 12 + 12 + 8 + 22);
        b.put_u8(0x72);
        b.put_u8(self.key as u8);
        b.put_u8(self.asc);
        b.put_u8(self.ascq);
        b.put_slice(&[0, 0, 0, 0]);
        if let Some(info) = self.information {
            b.put_slice(&[0x00, 0x0A, 0x80, 0x00]);
            b.put_u64(info);
        }
        if let Some(csi) = self.command_specific {
            b.put_slice(&[0x01, 0x0A, 0x00, 0x00]);
            b.put_u64(u64::from(csi));
        }
        if let Some(sks) = self.sks {
            b.put_slice(&[0x02, 0x06, 0x00, 0x00]);
            b.put_slice(&sks);
            b.put_u8(0);
        }
        if let Some(f) = &self.forwarded {
            let inner = f.sense.encode_fixed();
            // Room left for the forwarded sense after its 4-byte header.
            let room = MAX_SENSE_LENGTH.saturating_sub(b.len() + 4);
            let len = inner.len().min(room);
            let fsdt = if len < inner.len() { 0x80 } else { 0 };
            b.put_u8(0x0C);
            b.put_u8(u8::try_from(len + 2).unwrap_or(u8::MAX));
            b.put_u8(fsdt | f.source.sense_data_source());
            b.put_u8(f.status);
            b.put_slice(inner.get(..len).unwrap_or_default());
        }
        let add_len = u8::try_from(b.len() - 8).unwrap_or(u8::MAX);
        b[7] = add_len;
        b.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_bit_points_at_the_most_significant_offending_bit() {
        assert_eq!(FieldPointer::top_bit(3, 0x80), FieldPointer::bit(3, 7));
        assert_eq!(FieldPointer::top_bit(3, 0x19), FieldPointer::bit(3, 4));
        assert_eq!(FieldPointer::top_bit(3, 0x01), FieldPointer::bit(3, 0));
        assert_eq!(FieldPointer::top_bit(3, 0), FieldPointer::byte(3));
    }

    #[test]
    fn invalid_field_in_cdb_has_field_pointer() {
        let s = ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 3))
            .sense()
            .encode_fixed();
        assert_eq!(
            &s[..],
            &[0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0xCB, 0, 1]
        );
    }

    #[test]
    fn descriptor_format_with_field_pointer() {
        let s = ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 3))
            .sense()
            .encode_descriptor();
        assert_eq!(
            &s[..],
            &[0x72, 0x05, 0x24, 0, 0, 0, 0, 8, 0x02, 0x06, 0, 0, 0xCB, 0, 1, 0]
        );
        let s = SenseData::new(SenseKey::NoSense, 0, 0).encode_descriptor();
        assert_eq!(&s[..], &[0x72, 0, 0, 0, 0, 0, 0, 0]);
    }

    /// COPY ABORTED: segment number in COMMAND-SPECIFIC INFORMATION, segment
    /// pointer in SENSE KEY SPECIFIC; the forwarded cause stays out of fixed
    /// format (SPC-5 has no field for it there), so the sense is 18 bytes
    /// with ADDITIONAL SENSE LENGTH 10. Descriptor format carries it in a
    /// forwarded sense data descriptor (0Ch): SENSE DATA SOURCE 1h (copy
    /// source), FORWARDED STATUS CHECK CONDITION, the source's fixed sense.
    #[test]
    fn copy_aborted_fixed_is_18_bytes_descriptor_forwards_the_cause() {
        let e = ScsiError::CopyAborted {
            asc: 0x0D,
            ascq: 0x01,
            segment: 3,
            cause: Some((
                CopyEnd::Source,
                Box::new(ScsiError::UnrecoveredReadError { lba: Some(64) }),
            )),
            segment_pointer: Some(108),
        };
        let sense = e.sense();
        assert_eq!(
            &sense.encode_fixed()[..],
            &[0x70, 0, 0x0A, 0, 0, 0, 0, 10, 0, 0, 0, 3, 0x0D, 0x01, 0, 0x80, 0, 108]
        );
        assert_eq!(
            &sense.encode_descriptor()[..],
            &[
                0x72, 0x0A, 0x0D, 0x01, 0, 0, 0, 42, //
                0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, //
                0x02, 0x06, 0, 0, 0x80, 0, 108, 0, //
                0x0C, 20, 0x01, 0x02, //
                0xF0, 0, 0x03, 0, 0, 0, 64, 10, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0,
            ]
        );
        assert_eq!(sense.encode(false), sense.encode_fixed());
        assert_eq!(sense.encode(true), sense.encode_descriptor());
    }

    /// A destination's error is forwarded with SENSE DATA SOURCE 2h.
    #[test]
    fn forwarded_destination_sense_has_source_2() {
        let e = ScsiError::CopyAborted {
            asc: 0x0D,
            ascq: 0x01,
            segment: 0,
            cause: Some((
                CopyEnd::Destination,
                Box::new(ScsiError::WriteError { lba: None }),
            )),
            segment_pointer: None,
        };
        let d = e.sense().encode_descriptor();
        assert_eq!(&d[20..24], &[0x0C, 20, 0x02, 0x02]);
        assert_eq!(
            &d[24..],
            &ScsiError::WriteError { lba: None }.sense().encode_fixed()[..]
        );
    }

    /// An INFORMATION value past 32 bits cannot be put in fixed format: VALID
    /// is cleared instead of reporting a truncated LBA.
    #[test]
    fn fixed_format_information_past_32_bits_is_not_valid() {
        let e = ScsiError::UnrecoveredReadError {
            lba: Some(0x1_0000_0002),
        };
        let s = e.sense().encode_fixed();
        assert_eq!(s[0], 0x70);
        assert_eq!(&s[3..7], &[0, 0, 0, 0]);
        let d = e.sense().encode_descriptor();
        assert_eq!(&d[8..20], &[0, 0x0A, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
    }

    #[test]
    fn miscompare_reports_offset_in_information() {
        let s = ScsiError::MiscompareDuringVerify { offset: 513 }
            .sense()
            .encode_fixed();
        assert_eq!(s[0], 0xF0);
        assert_eq!(&s[3..7], &[0, 0, 2, 1]);
        assert_eq!((s[2], s[12], s[13]), (0x0E, 0x1D, 0x00));
    }
}
