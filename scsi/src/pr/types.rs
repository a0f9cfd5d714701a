//! The reservation state of one logical unit (SPC-5 5.14), I/O-free:
//! registrations keyed by I_T nexus identity, the persistent reservation,
//! PRgeneration and APTPL.

/// Persistent reservation types (SPC-5 table 67).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrType {
    /// 1h Write Exclusive.
    WriteExclusive,
    /// 3h Exclusive Access.
    ExclusiveAccess,
    /// 5h Write Exclusive – Registrants Only.
    WriteExclusiveRegistrantsOnly,
    /// 6h Exclusive Access – Registrants Only.
    ExclusiveAccessRegistrantsOnly,
    /// 7h Write Exclusive – All Registrants.
    WriteExclusiveAllRegistrants,
    /// 8h Exclusive Access – All Registrants.
    ExclusiveAccessAllRegistrants,
}

impl PrType {
    /// Every supported type, in code order.
    pub const ALL: [PrType; 6] = [
        PrType::WriteExclusive,
        PrType::ExclusiveAccess,
        PrType::WriteExclusiveRegistrantsOnly,
        PrType::ExclusiveAccessRegistrantsOnly,
        PrType::WriteExclusiveAllRegistrants,
        PrType::ExclusiveAccessAllRegistrants,
    ];

    pub fn from_code(code: u8) -> Option<PrType> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The TYPE field value.
    pub fn code(self) -> u8 {
        match self {
            PrType::WriteExclusive => 0x1,
            PrType::ExclusiveAccess => 0x3,
            PrType::WriteExclusiveRegistrantsOnly => 0x5,
            PrType::ExclusiveAccessRegistrantsOnly => 0x6,
            PrType::WriteExclusiveAllRegistrants => 0x7,
            PrType::ExclusiveAccessAllRegistrants => 0x8,
        }
    }

    /// All Registrants: every registered I_T nexus is a holder.
    pub fn all_registrants(self) -> bool {
        matches!(
            self,
            PrType::WriteExclusiveAllRegistrants | PrType::ExclusiveAccessAllRegistrants
        )
    }

    /// Registrants Only or All Registrants: registered I_T nexuses get
    /// the access the holder has.
    pub fn registrants_have_access(self) -> bool {
        !matches!(self, PrType::WriteExclusive | PrType::ExclusiveAccess)
    }

    /// An Exclusive Access type: reads are excluded too.
    pub fn excludes_reads(self) -> bool {
        matches!(
            self,
            PrType::ExclusiveAccess
                | PrType::ExclusiveAccessRegistrantsOnly
                | PrType::ExclusiveAccessAllRegistrants
        )
    }
}

/// The identity of the I_T nexus a command came through: the SCSI
/// initiator port name (iSCSI name + ",i,0x" + ISID, RFC 7143 13.?/SAM-5)
/// split into its parts, and the target port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NexusIdent {
    /// iSCSI initiator name, lower case (iSCSI names compare
    /// case-insensitively, RFC 3722).
    pub initiator: String,
    /// ISID as 12 lower-case hex digits.
    pub isid: String,
    /// Target port name (the target's iSCSI name).
    pub target: String,
    /// RELATIVE TARGET PORT IDENTIFIER of the target port.
    pub rel_port: u16,
}

impl NexusIdent {
    /// From the transport's initiator name, initiator port name
    /// ("<name>,i,0x<isid>") and target port.
    pub fn new(initiator_name: &str, initiator_port: &str, target: &str, rel_port: u16) -> Self {
        let isid = split_port_name(initiator_port)
            .map(|(_, isid)| isid.to_ascii_lowercase())
            .unwrap_or_default();
        Self {
            initiator: initiator_name.to_ascii_lowercase(),
            isid,
            target: target.to_string(),
            rel_port,
        }
    }

    pub fn from_nexus(n: &crate::device::Nexus) -> Self {
        Self::new(
            &n.initiator_name,
            &n.initiator_port,
            &n.target.name,
            n.target.relative_port_id,
        )
    }
}

/// Splits an iSCSI initiator port name "<name>,i,0x<isid>" (the separator
/// compared case-insensitively).
pub fn split_port_name(s: &str) -> Option<(&str, &str)> {
    const SEP: &str = ",i,0x";
    let lower = s.to_ascii_lowercase();
    let at = lower.find(SEP)?;
    Some((s.get(..at)?, s.get(at + SEP.len()..)?))
}

/// One registration: an I_T nexus (or, from a format 00b TransportID,
/// every initiator port of one iSCSI name) and its reservation key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Unique within the LU's state; names the holder.
    pub id: u64,
    pub key: u64,
    /// Initiator name, lower case.
    pub initiator: String,
    /// ISID (12 lower-case hex digits); `None` for a registration made
    /// from a TransportID without one (format 00b): it stands for every
    /// initiator port of that name.
    pub isid: Option<String>,
    /// Target port name.
    pub target: String,
    pub rel_port: u16,
    /// Registered through every target port (ALL_TG_PT=1).
    pub all_tg_pt: bool,
}

impl Registration {
    /// True when `n` is (one of) the I_T nexus(es) of this registration.
    pub fn matches(&self, n: &NexusIdent) -> bool {
        self.initiator == n.initiator
            && self.isid.as_deref().is_none_or(|i| i == n.isid)
            && (self.all_tg_pt || self.target == n.target)
    }

    /// Like [`Registration::matches`], for any target port (a copy
    /// manager reaching this LU on an initiator's behalf).
    pub fn matches_initiator_port(&self, initiator: &str, isid: &str) -> bool {
        self.initiator == initiator && self.isid.as_deref().is_none_or(|i| i == isid)
    }

    /// The same I_T nexus (or set of them) as `other`.
    pub fn same_nexus(&self, initiator: &str, isid: Option<&str>, target: &str) -> bool {
        self.initiator == initiator && self.isid.as_deref() == isid && self.target == target
    }
}

/// The persistent reservation, if one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub ty: PrType,
    /// The holder's registration id; `None` for an All Registrants type
    /// (every registrant holds it).
    pub holder: Option<u64>,
}

/// The whole persistent reservation state of one LU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrData {
    /// PRgeneration (SPC-5 6.15.2): incremented by every successful
    /// REGISTER, REGISTER AND IGNORE EXISTING KEY, CLEAR, PREEMPT, PREEMPT
    /// AND ABORT and REGISTER AND MOVE; not by RESERVE or RELEASE.
    pub generation: u32,
    /// Activate persist through power loss, as last set.
    pub aptpl: bool,
    /// In registration order (READ KEYS and READ FULL STATUS report it).
    pub registrations: Vec<Registration>,
    pub reservation: Option<Reservation>,
    pub next_id: u64,
}

impl PrData {
    /// The registration of the I_T nexus `n`, if any.
    pub fn registration_of(&self, n: &NexusIdent) -> Option<&Registration> {
        self.registrations.iter().find(|r| r.matches(n))
    }

    /// True when `reg` holds the persistent reservation.
    pub fn is_holder(&self, reg: &Registration) -> bool {
        match self.reservation {
            Some(Reservation { holder: None, .. }) => true,
            Some(Reservation {
                holder: Some(h), ..
            }) => h == reg.id,
            None => false,
        }
    }

    /// The key the reservation is held with (READ RESERVATION): the
    /// holder's, 0 for an All Registrants type (SPC-5 6.15.3.3).
    pub fn reservation_key(&self) -> u64 {
        match self.reservation {
            Some(Reservation {
                holder: Some(h), ..
            }) => self
                .registrations
                .iter()
                .find(|r| r.id == h)
                .map_or(0, |r| r.key),
            _ => 0,
        }
    }

    /// Adds a registration; returns its id.
    pub fn add(&mut self, mut reg: Registration) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        reg.id = self.next_id;
        self.registrations.push(reg);
        self.next_id
    }

    pub fn bump_generation(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }
}
