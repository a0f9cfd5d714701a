//! SCSI device server for xtgt (SPC-5, SBC-4): logical units, command sets,
//! sense data, backends. Knows nothing about iSCSI.
//!
//! The transport (the `iscsi` crate) talks to this crate only through
//! [`DeviceServer`], [`TargetPort`], [`Nexus`], [`Request`] and [`Response`].

pub mod access;
pub mod alua;
pub mod backend;
pub mod blockio;
pub mod cdb;
pub mod command;
pub mod copy;
pub mod device;
pub mod lun;
pub mod pr;
pub mod sbc;
pub mod sense;
pub mod spc;
mod wire;

pub use device::{
    DeviceServer, LogicalUnit, LuConfig, Nexus, Request, Response, Status, TargetPort, TaskAttr,
    TmfFunction, TmfResponse,
};
pub use sense::ScsiError;
