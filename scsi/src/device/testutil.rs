//! Test doubles for the device server: a tiny backend with chosen
//! capabilities, and a server/nexus builder.

use super::{DeviceServer, LogicalUnit, LuConfig, Nexus, Request, Response, TargetPort, TaskAttr};
use crate::backend::{Backend, Capabilities};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

/// Reads zeroes, discards writes.
pub struct NullBackend {
    pub size: u64,
    pub caps: Capabilities,
}

#[async_trait]
impl Backend for NullBackend {
    fn describe(&self) -> String {
        "null".into()
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn capabilities(&self) -> Capabilities {
        self.caps
    }
    async fn read(&self, _offset: u64, len: usize) -> io::Result<Bytes> {
        Ok(Bytes::from(vec![0u8; len]))
    }
    async fn write(&self, _offset: u64, _data: Bytes, _fua: bool) -> io::Result<()> {
        Ok(())
    }
    async fn flush(&self) -> io::Result<()> {
        Ok(())
    }
    async fn unmap(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Ok(())
    }
}

pub fn config(read_only: bool) -> LuConfig {
    LuConfig {
        block_size: 512,
        read_only,
        serial: "SER0001".into(),
        naa_id: 0x0102_0304_0506_0708,
        vendor: "XTGT".into(),
        product: "disk".into(),
        revision: "0.1".into(),
    }
}

/// A 1 MiB LU with the given capabilities.
pub fn lu(read_only: bool, caps: Capabilities) -> Arc<LogicalUnit> {
    Arc::new(LogicalUnit::new(
        config(read_only),
        Arc::new(NullBackend {
            size: 1 << 20,
            caps,
        }),
    ))
}

/// A thin-provisioned capability set.
pub fn thin() -> Capabilities {
    Capabilities {
        unmap: true,
        unmapped_reads_zero: true,
        write_zeroes: true,
        mapping_status: true,
        rotational: false,
        point_in_time: false,
    }
}

pub fn port(luns: Vec<(u64, Arc<LogicalUnit>)>) -> Arc<TargetPort> {
    Arc::new(TargetPort {
        name: "iqn.2026-01.test:t".into(),
        relative_port_id: 1,
        port_group: 1,
        luns: luns.into_iter().collect::<BTreeMap<_, _>>(),
    })
}

/// A server with one target: LUN 0 read-write (thin), LUN 1 read-only.
pub fn server() -> (DeviceServer, Arc<TargetPort>) {
    let p = port(vec![
        (0, lu(false, thin())),
        (1, lu(true, Capabilities::default())),
    ]);
    (DeviceServer::new(vec![p.clone()]), p)
}

pub async fn exec(s: &DeviceServer, n: &Nexus, lun: u64, cdb: &[u8], data: &[u8]) -> Response {
    s.execute(
        n,
        Request {
            lun,
            cdb,
            attr: TaskAttr::Simple,
            tag: 1,
            data_out: Bytes::copy_from_slice(data),
            expected_in: 1 << 16,
        },
    )
    .await
}

/// A registered nexus whose power-on unit attentions are already consumed.
pub async fn nexus(s: &DeviceServer, p: &Arc<TargetPort>) -> Arc<Nexus> {
    let n = s.register_nexus("iqn.2026-01.test:i", "iqn.2026-01.test:i,i,0x1", p.clone());
    for &lun in p.luns.keys() {
        exec(s, &n, lun, &[0x03, 0, 0, 0, 252, 0], &[]).await;
    }
    n
}

/// (sense key, ASC, ASCQ) of a CHECK CONDITION response.
pub fn sense_of(r: &Response) -> Option<(u8, u8, u8)> {
    let s = r.sense.as_ref()?;
    Some((*s.get(2)? & 0x0F, *s.get(12)?, *s.get(13)?))
}

/// SENSE KEY SPECIFIC bytes of a CHECK CONDITION response.
pub fn sks_of(r: &Response) -> Option<[u8; 3]> {
    let s = r.sense.as_ref()?;
    Some([*s.get(15)?, *s.get(16)?, *s.get(17)?])
}
