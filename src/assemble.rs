//! The one place that turns a validated [`Config`] into running parts:
//! backends, logical units, target ports, the device server and the iSCSI
//! server configuration.

use crate::config::{format_size, BackendKind, Config, CopySettings, Lun, OdxSettings, Target};
use iscsi::{ServerConfig, TargetConfig};
use scsi::access::AccessPolicy;
use scsi::alua::{PortGroup, TargetAlua};
use scsi::backend::file::FileBackend;
use scsi::backend::memory::MemoryBackend;
use scsi::backend::Backend;
use scsi::copy::odx::{OdxConfig, OdxLimits};
use scsi::device::MediumConfig;
use scsi::{DeviceServer, LogicalUnit, LuConfig, TargetPort};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// T10 vendor identification (INQUIRY, 8 bytes).
pub const VENDOR: &str = "XTGT";
/// Product identification (INQUIRY, 16 bytes).
pub const PRODUCT: &str = "xtgt disk";

/// A failure to build a backend (the file cannot be created, ...).
#[derive(Debug)]
pub struct AssembleError {
    /// Key path of the LUN in the configuration.
    pub key: String,
    pub message: String,
}

impl fmt::Display for AssembleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for AssembleError {}

/// The wired device side plus what the fabric needs.
pub struct Assembly {
    pub device: Arc<DeviceServer>,
    pub targets: Vec<TargetConfig>,
    /// One human line per LUN, for the start banner.
    pub lun_descriptions: Vec<(String, Vec<String>)>,
}

/// 64-bit FNV-1a: a fixed, documented hash so identities are stable across
/// builds and restarts (unlike `RandomState`).
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The stable identity of LUN `lun` of target `iqn`: FNV-1a 64 of
/// `iqn || 0x00 || lun as 8 bytes big endian`.
pub fn naa_id(iqn: &str, lun: u64) -> u64 {
    let mut data = Vec::with_capacity(iqn.len() + 9);
    data.extend_from_slice(iqn.as_bytes());
    data.push(0);
    data.extend_from_slice(&lun.to_be_bytes());
    fnv1a64(&data)
}

/// Unit serial number (VPD 0x80) derived from the NAA id: 16 hex digits.
pub fn serial(naa_id: u64) -> String {
    format!("{naa_id:016X}")
}

/// INQUIRY product revision (4 bytes): the crate's major.minor.
fn revision() -> String {
    let v = env!("CARGO_PKG_VERSION");
    let mut parts = v.split('.');
    let major = parts.next().unwrap_or("0");
    let minor = parts.next().unwrap_or("0");
    let r = format!("{major}.{minor}");
    r.chars().take(4).collect()
}

pub fn lu_config(iqn: &str, lun: &Lun) -> LuConfig {
    let id = naa_id(iqn, lun.lun);
    LuConfig {
        block_size: lun.block_size,
        read_only: lun.read_only,
        serial: serial(id),
        naa_id: id,
        vendor: VENDOR.to_string(),
        product: PRODUCT.to_string(),
        revision: revision(),
    }
}

fn open_backend(key: &str, lun: &Lun) -> Result<(Arc<dyn Backend>, String), AssembleError> {
    let err = |message: String| AssembleError {
        key: key.to_string(),
        message,
    };
    let (backend, what): (Arc<dyn Backend>, String) = match &lun.backend {
        BackendKind::Memory { size } => (
            Arc::new(MemoryBackend::new(*size)),
            format!("memory, {}", format_size(*size)),
        ),
        BackendKind::File { path, size } => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !dir.exists() && size.is_some() && !lun.read_only {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        err(format!("cannot create the folder {}: {e}", dir.display()))
                    })?;
                }
            }
            let b = FileBackend::open_or_create(path, *size, lun.read_only)
                .map_err(|e| err(format!("cannot open the backing file: {e}")))?;
            let desc = format!("file {}, {}", path.display(), format_size(b.size()));
            (Arc::new(b), desc)
        }
    };
    let size = backend.size();
    let bs = u64::from(lun.block_size);
    if size == 0 || size % bs != 0 {
        return Err(err(format!(
            "the medium is {size} bytes, not a positive multiple of block_size {bs}; resize it or set size"
        )));
    }
    let what = format!(
        "{what}, {}-byte blocks ({} physical){}{}",
        lun.block_size,
        lun.physical_block_size,
        if lun.read_only { ", read-only" } else { "" },
        if lun.removable { ", removable" } else { "" }
    );
    Ok((backend, what))
}

/// Where a LU keeps its APTPL state (SPC-5 5.14.5): `<serial>.pr` in
/// `[reservations] dir`, else `<backing file>.pr`; a memory LU keeps none.
fn pr_file(dir: Option<&Path>, lu: &LogicalUnit, l: &Lun) -> Option<PathBuf> {
    let BackendKind::File { path, .. } = &l.backend else {
        return None;
    };
    Some(match dir {
        Some(d) => d.join(format!("{}.pr", lu.config.serial)),
        None => {
            let mut p = path.clone().into_os_string();
            p.push(".pr");
            PathBuf::from(p)
        }
    })
}

fn target_port(
    ti: usize,
    t: &Target,
    pr_dir: Option<&Path>,
) -> Result<(Arc<TargetPort>, Vec<String>), AssembleError> {
    let mut luns = BTreeMap::new();
    let mut lines = Vec::with_capacity(t.luns.len());
    for (li, l) in t.luns.iter().enumerate() {
        let key = format!("targets[{ti}].luns[{li}]");
        let (backend, what) = open_backend(&key, l)?;
        let lu = Arc::new(LogicalUnit::with_medium(
            lu_config(&t.iqn, l),
            MediumConfig {
                physical_block_size: l.physical_block_size,
                removable: l.removable,
            },
            backend,
        ));
        if let Some(file) = pr_file(pr_dir, &lu, l) {
            lu.pr.attach_store(&file).map_err(|e| AssembleError {
                key: key.clone(),
                message: format!(
                    "cannot restore the persistent reservations (APTPL): {e}; repair or remove the file to start without them"
                ),
            })?;
        }
        luns.insert(l.lun, lu);
        lines.push(format!("lun {}: {what}", l.lun));
    }
    // The target's first port: what the copy manager names it by (its LU
    // designators are the same through every port).
    let first = t
        .alua
        .groups
        .iter()
        .flat_map(|g| g.portals.iter().map(move |&p| (p, g.id)))
        .min();
    let (portal, port_group) = first.ok_or_else(|| AssembleError {
        key: format!("targets[{ti}].port_groups"),
        message: "the target is on no portal".to_string(),
    })?;
    Ok((
        Arc::new(TargetPort {
            name: t.iqn.clone(),
            relative_port_id: iscsi::target::relative_port_id(portal),
            port_group,
            luns,
        }),
        lines,
    ))
}

/// The target port groups of `t`: portal `i` of `server.listen` is the
/// target port with RELATIVE TARGET PORT IDENTIFIER `i + 1`.
pub fn target_alua(t: &Target) -> TargetAlua {
    TargetAlua::new(
        t.alua.explicit,
        t.alua
            .groups
            .iter()
            .map(|g| {
                let ports = g
                    .portals
                    .iter()
                    .map(|&p| iscsi::target::relative_port_id(p))
                    .collect();
                PortGroup::new(g.id, g.state, ports)
            })
            .collect(),
    )
}

/// Who may use a target: the one policy login, discovery and the copy
/// manager's CSCD authorization all apply.
fn access_policy(t: &Target) -> AccessPolicy {
    AccessPolicy {
        allowed_initiators: t.allowed_initiators.clone(),
        chap: t.chap.clone(),
        mutual_chap: t.mutual_chap.clone(),
    }
}

fn port_access(t: &TargetConfig) -> scsi::copy::PortAccess {
    scsi::copy::PortAccess {
        target: t.port.clone(),
        policy: t.access.clone(),
    }
}

/// The copy manager's ODX configuration from the `[odx]` section: the
/// advertised inactivity timeouts (VPD 0x8F, also the token store's), the
/// store limits, the WRITE USING TOKEN work budget, the authorization
/// switch and the result retention; everything else keeps its default.
pub fn odx_config(s: &OdxSettings) -> OdxConfig {
    let d = OdxConfig::default();
    OdxConfig {
        limits: OdxLimits {
            default_inactivity_timeout_secs: s.default_inactivity_timeout_secs,
            max_inactivity_timeout_secs: s.max_inactivity_timeout_secs,
            ..d.limits.clone()
        },
        // The config bounds both far below usize::MAX on any 64-bit host.
        max_live_tokens: usize::try_from(s.max_live_tokens).unwrap_or(usize::MAX),
        max_tokens_per_initiator: usize::try_from(s.max_tokens_per_initiator).unwrap_or(usize::MAX),
        max_bytes_represented: u128::from(s.max_bytes_represented),
        max_wut_duration: s.write_using_token_budget,
        allow_any_token_holder: s.allow_any_token_holder,
        result_retention: s.result_retention,
        ..d
    }
}

/// The copy scheduler's rules from the `[copy]` section.
pub fn sched_config(s: &CopySettings) -> scsi::copy::sched::SchedConfig {
    let n = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
    scsi::copy::sched::SchedConfig {
        foreground_share: f64::from(s.foreground_share_ppm) / 1e6,
        foreground_window: s.foreground_window,
        chunk_idle: s.chunk_size,
        chunk_busy: s.chunk_size_foreground,
        native_piece: s.native_piece,
        max_copies: n(s.max_copies),
        max_copies_per_lu: n(s.max_copies_per_lu),
        max_copies_per_initiator: n(s.max_copies_per_initiator),
        max_queued: n(s.max_queued),
        max_bytes_per_copy: s.max_bytes_per_copy,
        max_bytes: s.max_bytes_in_flight,
        max_chunks: n(s.max_chunks_in_flight),
        aging: s.aging,
        odx_priority: s.odx_priority,
        ..scsi::copy::sched::SchedConfig::default()
    }
}

/// The copy manager's limits: the defaults with the `[copy]` chunk size
/// and concurrency (TOTAL CONCURRENT COPIES is what is enforced).
pub fn copy_limits(s: &CopySettings) -> scsi::copy::CopyLimits {
    scsi::copy::CopyLimits {
        chunk_size: u32::try_from(s.chunk_size).unwrap_or(u32::MAX),
        total_concurrent_copies: u16::try_from(s.max_copies).unwrap_or(u16::MAX),
        ..scsi::copy::CopyLimits::default()
    }
}

/// Open every backend and build the device server.
pub fn build(cfg: &Config) -> Result<Assembly, AssembleError> {
    let mut ports = Vec::with_capacity(cfg.targets.len());
    let mut targets = Vec::with_capacity(cfg.targets.len());
    let mut lun_descriptions = Vec::with_capacity(cfg.targets.len());
    if let Some(d) = &cfg.reservations_dir {
        std::fs::create_dir_all(d).map_err(|e| AssembleError {
            key: "reservations.dir".to_string(),
            message: format!("cannot create the folder {}: {e}", d.display()),
        })?;
    }
    for (ti, t) in cfg.targets.iter().enumerate() {
        let (port, lines) = target_port(ti, t, cfg.reservations_dir.as_deref())?;
        ports.push(port.clone());
        lun_descriptions.push((t.iqn.clone(), lines));
        targets.push(TargetConfig {
            iqn: t.iqn.clone(),
            alias: t.alias.clone(),
            access: access_policy(t),
            port,
            portals: t.alua.portals(),
        });
    }
    let mut device = DeviceServer::new(ports);
    for t in &cfg.targets {
        device.set_alua(&t.iqn, target_alua(t));
    }
    // EXTENDED COPY may name LUs of other targets, and WRITE USING TOKEN
    // may use a token of another target's LU, only where this initiator
    // could log in too (ACL, same CHAP credential): scsi::copy::AclResolver.
    device.copy = scsi::copy::CopyManager::with_odx(
        copy_limits(&cfg.copy),
        Arc::new(scsi::copy::AclResolver::from_port_access(
            targets.iter().map(port_access).collect(),
        )),
        odx_config(&cfg.odx),
    )
    .with_scheduler(sched_config(&cfg.copy));
    // Process-wide: the first assembly (the one xtgt runs) decides.
    let cpu = cfg.copy.cpu_priority;
    if !scsi::copy::threads::set_priority(cpu) && scsi::copy::threads::priority() != cpu {
        tracing::warn!(
            wanted = ?cpu,
            kept = ?scsi::copy::threads::priority(),
            "copy.cpu_priority is fixed for the process; this assembly keeps the first one"
        );
    }
    let device = Arc::new(device);
    Ok(Assembly {
        device,
        targets,
        lun_descriptions,
    })
}

/// The fabric configuration, given the addresses actually bound.
pub fn server_config(
    cfg: &Config,
    targets: Vec<TargetConfig>,
    portals: Vec<SocketAddr>,
) -> ServerConfig {
    ServerConfig {
        targets,
        portals,
        portal_group_tag: cfg.server.portal_group_tag,
        nop_interval: cfg.server.nop_interval,
        nop_timeout: cfg.server.nop_timeout,
        max_recv_data_segment: cfg.server.max_recv_data_segment_length,
        queue_depth: cfg.server.queue_depth,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn identity_is_stable_and_distinct() {
        let a = naa_id("iqn.2026-11.org.xtgt:default", 0);
        assert_eq!(a, naa_id("iqn.2026-11.org.xtgt:default", 0));
        assert_ne!(a, naa_id("iqn.2026-11.org.xtgt:default", 1));
        assert_ne!(a, naa_id("iqn.2026-11.org.xtgt:other", 0));
        assert_eq!(serial(0xab), "00000000000000AB");
        assert_eq!(serial(a).len(), 16);
    }

    #[test]
    fn builds_memory_luns_with_port_ids_in_order() {
        let toml = "[[targets]]\niqn = \"iqn.2026-11.com.example:a\"\n[[targets.luns]]\nlun = 3\nbackend = \"memory\"\nsize = \"1MiB\"\nblock_size = 4096\nread_only = true\n\
                    [[targets]]\niqn = \"iqn.2026-11.com.example:b\"\n[[targets.luns]]\nlun = 0\nbackend = \"memory\"\nsize = 4096\n";
        let cfg =
            crate::config::load_str("t", toml, std::path::Path::new("."), Vec::new()).unwrap();
        let a = build(&cfg).unwrap();
        assert_eq!(a.targets.len(), 2);
        // Both on the one default portal: relative port 1, group 1.
        for t in &a.targets {
            assert_eq!(t.port.relative_port_id, 1);
            assert_eq!(t.port.port_group, 1);
            assert_eq!(t.portals, [0]);
        }
        let lu = &a.targets[0].port.luns[&3];
        assert_eq!(lu.config.block_size, 4096);
        assert!(lu.config.read_only);
        assert_eq!(lu.config.vendor, "XTGT");
        assert_eq!(lu.config.naa_id, naa_id("iqn.2026-11.com.example:a", 3));
        assert_eq!(lu.backend.size(), 1 << 20);
        assert_eq!(a.device.targets.len(), 2);
    }

    #[test]
    fn copy_defaults_agree_with_the_scheduler() {
        // No [copy] section: exactly the scheduler's and the copy
        // manager's own defaults.
        assert_eq!(
            sched_config(&CopySettings::default()),
            scsi::copy::sched::SchedConfig::default()
        );
        assert_eq!(
            copy_limits(&CopySettings::default()),
            scsi::copy::CopyLimits::default()
        );
    }

    #[test]
    fn port_groups_reach_the_device_server_and_the_fabric() {
        let toml = "[server]\nlisten = [\"127.0.0.1:3260\", \"127.0.0.1:3261\", \"127.0.0.1:3262\"]\n\
                    [[targets]]\niqn = \"iqn.2026-11.com.example:a\"\nexplicit_alua = true\n\
                    [[targets.port_groups]]\nid = 2\nstate = \"standby\"\nportals = [\"127.0.0.1:3262\"]\n\
                    [[targets.port_groups]]\nid = 1\nportals = [\"127.0.0.1:3261\"]\n\
                    [[targets.luns]]\nlun = 0\nbackend = \"memory\"\nsize = \"1MiB\"\n";
        let cfg =
            crate::config::load_str("t", toml, std::path::Path::new("."), Vec::new()).unwrap();
        let a = build(&cfg).unwrap();
        let t = &a.targets[0];
        // Not on portal 0; ports 2 and 3 (portals 1 and 2).
        assert_eq!(t.portals, [1, 2]);
        assert!(!t.on_portal(0));
        assert_eq!((t.port.relative_port_id, t.port.port_group), (2, 1));
        let alua = a.device.alua(&t.port);
        assert!(alua.explicit);
        assert_eq!(alua.group_of(2).unwrap().id, 1);
        assert_eq!(alua.group_of(3).unwrap().id, 2);
        assert_eq!(
            alua.group(2).unwrap().state(),
            scsi::alua::AccessState::Standby
        );
        assert!(alua.group_of(1).is_none());
    }

    #[test]
    fn odx_defaults_agree_with_the_copy_manager() {
        // No [odx] section: exactly what a copy manager without
        // configuration uses, so the README's defaults are both.
        assert_eq!(odx_config(&OdxSettings::default()), OdxConfig::default());
    }

    #[test]
    fn odx_section_reaches_the_copy_manager() {
        let toml = "[odx]\nmax_live_tokens = 1000\nmax_tokens_per_initiator = 10\nmax_bytes_represented = \"1GiB\"\n\
                    default_inactivity_timeout_secs = 5\nmax_inactivity_timeout_secs = 30\n\
                    write_using_token_budget_ms = 20\nallow_any_token_holder = true\nresult_retention_secs = 7\n\
                    [[targets]]\niqn = \"iqn.2026-11.com.example:a\"\n[[targets.luns]]\nlun = 0\nbackend = \"memory\"\nsize = \"1MiB\"\n";
        let cfg =
            crate::config::load_str("t", toml, std::path::Path::new("."), Vec::new()).unwrap();
        let a = build(&cfg).unwrap();
        let c = &a.device.copy.odx().unwrap().config;
        assert_eq!(c.max_live_tokens, 1000);
        assert_eq!(c.max_tokens_per_initiator, 10);
        assert_eq!(c.max_bytes_represented, 1 << 30);
        assert_eq!(c.limits.default_inactivity_timeout_secs, 5);
        assert_eq!(c.limits.max_inactivity_timeout_secs, 30);
        assert_eq!(c.max_wut_duration, std::time::Duration::from_millis(20));
        assert!(c.allow_any_token_holder);
        assert_eq!(c.result_retention, std::time::Duration::from_secs(7));
        // The advertised limits are the configured ones (VPD 0x8F).
        let lu = &a.targets[0].port.luns[&0];
        let vpd = a.device.copy.third_party_copy_descriptors(lu);
        assert_eq!(&vpd[..4], &[0x00, 0x00, 0x00, 0x20]);
        assert_eq!(&vpd[12..20], &[0, 0, 0, 30, 0, 0, 0, 5]);
    }

    #[test]
    fn creates_sparse_files_and_their_folder() {
        let dir = tempfile::tempdir().unwrap();
        let toml = "[[targets]]\niqn = \"iqn.2026-11.com.example:a\"\n[[targets.luns]]\nlun = 0\npath = \"sub/l0.img\"\nsize = \"1GiB\"\n";
        let cfg = crate::config::load_str("t", toml, dir.path(), Vec::new()).unwrap();
        let a = build(&cfg).unwrap();
        let meta = std::fs::metadata(dir.path().join("sub/l0.img")).unwrap();
        assert_eq!(meta.len(), 1 << 30);
        assert_eq!(a.targets[0].port.luns[&0].backend.size(), 1 << 30);
        // A missing file without a size cannot be created.
        let toml = "[[targets]]\niqn = \"iqn.2026-11.com.example:a\"\n[[targets.luns]]\nlun = 0\npath = \"none.img\"\n";
        let cfg = crate::config::load_str("t", toml, dir.path(), Vec::new()).unwrap();
        let e = build(&cfg).err().unwrap();
        assert_eq!(e.key, "targets[0].luns[0]");
    }

    #[test]
    fn aptpl_file_next_to_the_backing_file_or_in_the_dir_and_restored() {
        let dir = tempfile::tempdir().unwrap();
        let toml = "[[targets]]\niqn = \"iqn.2026-11.com.example:a\"\n[[targets.luns]]\nlun = 0\npath = \"l0.img\"\nsize = \"1MiB\"\n[[targets.luns]]\nlun = 1\nbackend = \"memory\"\nsize = \"1MiB\"\n";
        let cfg = crate::config::load_str("t", toml, dir.path(), Vec::new()).unwrap();
        let a = build(&cfg).unwrap();
        let port = &a.targets[0].port;
        assert!(port.luns[&0].pr.ptpl_capable());
        assert!(
            !port.luns[&1].pr.ptpl_capable(),
            "memory LUs do not persist"
        );
        drop(a);
        // A saved state is restored at start.
        std::fs::write(
            dir.path().join("l0.img.pr"),
            "xtgt-pr 1\ngeneration 7\nreg 00000000000000ab 0 1 iqn.2026-11.com.example:a iqn.i 000000000001\nreservation 1 0\n",
        )
        .unwrap();
        let a = build(&cfg).unwrap();
        let d = a.targets[0].port.luns[&0].pr.snapshot();
        // PRgeneration starts at zero again (SPC-5 6.15.2).
        assert_eq!((d.generation, d.aptpl, d.registrations.len()), (0, true, 1));
        assert!(d.reservation.is_some());
        drop(a);
        // A damaged file stops the start, naming the LUN and the file.
        std::fs::write(dir.path().join("l0.img.pr"), "junk").unwrap();
        let e = build(&cfg).err().unwrap().to_string();
        assert!(
            e.contains("targets[0].luns[0]") && e.contains("l0.img.pr"),
            "{e}"
        );
        // [reservations] dir: <serial>.pr there.
        let toml2 = format!("[reservations]\ndir = \"prs\"\n{toml}");
        let cfg2 = crate::config::load_str("t", &toml2, dir.path(), Vec::new()).unwrap();
        let a = build(&cfg2).unwrap();
        let lu = &a.targets[0].port.luns[&0];
        assert!(dir.path().join("prs").is_dir());
        assert_eq!(
            pr_file(
                cfg2.reservations_dir.as_deref(),
                lu,
                &cfg2.targets[0].luns[0]
            ),
            Some(
                dir.path()
                    .join("prs")
                    .join(format!("{}.pr", lu.config.serial))
            )
        );
        let bad = "[reservations]\ndir = \" \"\n".to_string() + toml;
        let e = crate::config::load_str("t", &bad, dir.path(), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("reservations.dir"), "{e}");
    }
}
