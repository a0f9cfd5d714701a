//! Configuration: TOML (through the `config` crate) plus `XTGT_...`
//! environment overrides, validated into typed structs.
//!
//! Two stages: serde fills [`raw`] structs in which every key is optional
//! (so a missing key is reported by our own checks, with its full key path),
//! then [`validate`] turns them into [`Config`] or a [`ConfigError`] naming
//! the file, the key path (`targets[0].luns[1].block_size`) and what would
//! be valid. Nothing here panics on any input.

mod alua;
mod copy;
mod names;
mod odx;
mod raw;
mod size;

pub use alua::AluaSettings;
pub use copy::CopySettings;
pub use names::validate_iscsi_name;
pub use odx::OdxSettings;
pub use size::{format_size, parse_size};

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable prefix; nested keys are separated by `__`
/// (`XTGT_SERVER__LISTEN=127.0.0.1:3261,[::1]:3261`).
pub const ENV_PREFIX: &str = "XTGT";
/// Separator between key levels in environment variable names.
pub const ENV_SEPARATOR: &str = "__";

/// Name of the source in messages when no `--config` is given.
pub const BUILTIN_SOURCE: &str = "<built-in default configuration>";

/// The configuration used when xtgt starts without `--config`: one target
/// with two 1 GiB sparse file LUNs under `./xtgt-data/`.
pub const DEFAULT_CONFIG_TOML: &str = r#"
[server]
listen = ["127.0.0.1:3260"]
metrics_listen = "127.0.0.1:9260"

[[targets]]
iqn = "iqn.2026-11.org.xtgt:default"
alias = "xtgt default target"

[[targets.luns]]
lun = 0
backend = "file"
path = "xtgt-data/lun0.img"
size = "1GiB"
block_size = 512

[[targets.luns]]
lun = 1
backend = "file"
path = "xtgt-data/lun1.img"
size = "1GiB"
block_size = 512
"#;

/// Largest physical block length (64 KiB: 128 logical blocks of 512 bytes).
pub const MAX_PHYSICAL_BLOCK_SIZE: u32 = 65536;
/// Valid logical block lengths.
pub const BLOCK_SIZES: [u32; 2] = [512, 4096];
/// LUNs are encoded with the flat/peripheral addressing method: 14 bits.
pub const MAX_LUN: u64 = 16383;
/// CHAP secret length bounds in bytes. RFC 7143 12.1.3 wants at least 12
/// bytes (96 bits) for secrets that are not random binary; several
/// initiators (the Windows initiator, some HBAs) accept at most 16, so a
/// longer secret is accepted with a warning (up to 255 bytes).
pub const CHAP_SECRET_MIN: usize = 12;
pub const CHAP_SECRET_PORTABLE_MAX: usize = 16;
pub const CHAP_SECRET_MAX: usize = 255;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where it came from (a path or [`BUILTIN_SOURCE`]).
    pub source: String,
    pub server: ServerSettings,
    /// Default tracing filter when `RUST_LOG` is not set.
    pub log: String,
    pub targets: Vec<Target>,
    /// The `[odx]` section: ODX token limits and timeouts.
    pub odx: OdxSettings,
    /// `[reservations] dir`: the folder of the APTPL state files
    /// (`<serial>.pr`); `None`: next to each backing file
    /// (`<backing file>.pr`).
    pub reservations_dir: Option<PathBuf>,
    /// The `[copy]` section: copy scheduler and copy quotas.
    pub copy: CopySettings,
    /// Accepted but questionable settings, logged at start.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Portals (port 0 = any free port, reported on start).
    pub listen: Vec<SocketAddr>,
    /// Prometheus HTTP endpoint; `None` disables it.
    pub metrics_listen: Option<SocketAddr>,
    pub portal_group_tag: u16,
    pub nop_interval: Duration,
    pub nop_timeout: Duration,
    pub queue_depth: u32,
    pub max_recv_data_segment_length: u32,
}

/// CHAP credentials of a target: the one credential type the fabric and
/// the copy manager use too.
pub use scsi::access::ChapCredential;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub iqn: String,
    pub alias: Option<String>,
    pub allowed_initiators: Vec<String>,
    pub chap: Option<ChapCredential>,
    pub mutual_chap: Option<ChapCredential>,
    pub luns: Vec<Lun>,
    /// Its portals, target port groups and their states.
    pub alua: AluaSettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendKind {
    /// A file, resolved against the config file's folder. `size` is the size
    /// to create it with if it does not exist (sparse).
    File { path: PathBuf, size: Option<u64> },
    /// Memory, lost on exit.
    Memory { size: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lun {
    pub lun: u64,
    pub backend: BackendKind,
    pub block_size: u32,
    pub read_only: bool,
    /// Physical block length in bytes: a power of two multiple of
    /// `block_size`, at most [`MAX_PHYSICAL_BLOCK_SIZE`] (default: 4096 or
    /// `block_size` if larger). Reported by READ CAPACITY(16) and VPD 0xB0.
    pub physical_block_size: u32,
    /// Removable medium (INQUIRY RMB=1; START STOP UNIT can eject it).
    pub removable: bool,
}

/// A configuration error: `source: key: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub source: String,
    /// Key path such as `targets[0].luns[1].block_size`; empty for errors
    /// about the file as a whole.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}: {}: {}", self.source, self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Load a configuration file (or the built-in default when `path` is
/// `None`), apply `XTGT_*` overrides from `env`, and validate it.
///
/// `env` is passed in (rather than read here) so tests are hermetic; the
/// binary passes `std::env::vars()`. Only variables that name a nested key
/// (`XTGT_SECTION__KEY`) or `XTGT_LOG` are taken, so unrelated variables
/// such as `XTGT_BIN` in a test script do not break the config.
pub fn load(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let (source, base_dir, file_source) = match path {
        Some(p) => {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| ConfigError {
                source: name.clone(),
                key: String::new(),
                message: format!("cannot read the configuration file: {e}"),
            })?;
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            (name, dir, text)
        }
        None => (
            BUILTIN_SOURCE.to_string(),
            PathBuf::from("."),
            DEFAULT_CONFIG_TOML.to_string(),
        ),
    };
    load_str(&source, &file_source, &base_dir, env)
}

/// [`load`] from a string: `source` names it in messages, relative LUN
/// paths are resolved against `base_dir`.
pub fn load_str(
    source: &str,
    toml: &str,
    base_dir: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let env_map: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| env_key_is_ours(k))
        .collect();
    let env_source = config::Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("_")
        .separator(ENV_SEPARATOR)
        .list_separator(",")
        .with_list_parse_key("server.listen")
        .try_parsing(true)
        .source(Some(env_map));
    let built = config::Config::builder()
        .add_source(config::File::from_str(toml, config::FileFormat::Toml))
        .add_source(env_source)
        .build()
        .map_err(|e| from_config_error(source, e))?;
    let raw: raw::RawConfig = built
        .try_deserialize()
        .map_err(|e| from_config_error(source, e))?;
    validate(source, base_dir, raw)
}

fn env_key_is_ours(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("XTGT_") else {
        return false;
    };
    rest == "LOG" || rest.contains(ENV_SEPARATOR)
}

/// Map the `config` crate's error (which carries the key path for type
/// errors) to ours.
fn from_config_error(source: &str, e: config::ConfigError) -> ConfigError {
    let mut key = String::new();
    let message = match e {
        config::ConfigError::Type {
            unexpected,
            expected,
            key: k,
            ..
        } => {
            key = normalize_key(&k.unwrap_or_default());
            format!("invalid type: {unexpected}, expected {expected}")
        }
        config::ConfigError::At { error, key: k, .. } => {
            key = normalize_key(&k.unwrap_or_default());
            error.to_string()
        }
        config::ConfigError::FileParse { cause, .. } => format!("not valid TOML: {cause}"),
        other => other.to_string(),
    };
    ConfigError {
        source: source.to_string(),
        key,
        message: message.trim().to_string(),
    }
}

/// The `config` crate writes `targets[0]luns[1]size`; we write
/// `targets[0].luns[1].size`.
fn normalize_key(k: &str) -> String {
    let mut out = String::with_capacity(k.len() + 4);
    let mut after_bracket = false;
    for ch in k.chars() {
        if after_bracket && ch != '[' && ch != '.' {
            out.push('.');
        }
        after_bracket = ch == ']';
        out.push(ch);
    }
    out
}

/// Collects the first error with its key path.
struct Checker<'a> {
    source: &'a str,
}

impl Checker<'_> {
    /// `KEY` (the whole key path, e.g. `odx.max_live_tokens`) must lie in
    /// `lo..=hi`; `unit` follows the range in the message.
    fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
        &self,
        key: String,
        value: T,
        lo: T,
        hi: T,
        unit: &str,
    ) -> Result<T, ConfigError> {
        if value < lo || value > hi {
            return Err(self.err(
                key,
                format!("{value} is out of range; expected {lo}..={hi}{unit}"),
            ));
        }
        Ok(value)
    }

    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            source: self.source.to_string(),
            key: key.into(),
            message: message.into(),
        }
    }
}

fn validate(source: &str, base_dir: &Path, raw: raw::RawConfig) -> Result<Config, ConfigError> {
    let c = Checker { source };
    let server = validate_server(&c, raw.server.unwrap_or_default())?;
    let odx = odx::validate_odx(&c, raw.odx.unwrap_or_default())?;
    let reservations_dir = match raw.reservations.and_then(|r| r.dir) {
        Some(d) if d.trim().is_empty() => {
            return Err(c.err(
                "reservations.dir",
                "empty; give a folder for the APTPL files (relative to the config file's folder), or leave the key out to keep them next to the backing files",
            ))
        }
        Some(d) => Some(base_dir.join(d)),
        None => None,
    };
    let copy = copy::validate_copy(&c, raw.copy.unwrap_or_default())?;
    let log =
        match raw.log {
            Some(l) if l.trim().is_empty() => return Err(c.err(
                "log",
                "empty; expected a tracing filter such as \"info\" or \"xtgt=debug,iscsi=trace\"",
            )),
            Some(l) => l,
            None => "info".to_string(),
        };
    let raw_targets = raw.targets.unwrap_or_default();
    if raw_targets.is_empty() {
        return Err(c.err(
            "targets",
            "no target configured; add at least one [[targets]] table with an iqn and one [[targets.luns]]",
        ));
    }
    let mut targets = Vec::with_capacity(raw_targets.len());
    let mut warnings = Vec::new();
    let mut seen_iqns: BTreeMap<String, usize> = BTreeMap::new();
    for (ti, rt) in raw_targets.into_iter().enumerate() {
        let t = validate_target(&c, base_dir, ti, rt, &server.listen, &mut warnings)?;
        if let Some(prev) = seen_iqns.insert(t.iqn.clone(), ti) {
            return Err(c.err(
                format!("targets[{ti}].iqn"),
                format!(
                    "{:?} is already the name of targets[{prev}]; every target needs a unique IQN",
                    t.iqn
                ),
            ));
        }
        targets.push(t);
    }
    // Two LUNs on one file would corrupt each other.
    let mut seen_paths: BTreeMap<PathBuf, String> = BTreeMap::new();
    for (ti, t) in targets.iter().enumerate() {
        for (li, l) in t.luns.iter().enumerate() {
            if let BackendKind::File { path, .. } = &l.backend {
                let here = format!("targets[{ti}].luns[{li}].path");
                if let Some(prev) = seen_paths.insert(path.clone(), here.clone()) {
                    return Err(c.err(
                        here,
                        format!(
                            "{} is already used by {prev}; each file backs one LUN",
                            path.display()
                        ),
                    ));
                }
            }
        }
    }
    Ok(Config {
        source: source.to_string(),
        server,
        log,
        targets,
        odx,
        reservations_dir,
        copy,
        warnings,
    })
}

fn validate_server(c: &Checker<'_>, rs: raw::RawServer) -> Result<ServerSettings, ConfigError> {
    let listen_strs: Vec<String> = match rs.listen {
        None => vec!["127.0.0.1:3260".to_string()],
        Some(raw::OneOrMany::One(s)) => vec![s],
        Some(raw::OneOrMany::Many(v)) => v,
    };
    if listen_strs.is_empty() {
        return Err(c.err(
            "server.listen",
            "empty; expected at least one portal such as \"127.0.0.1:3260\" or \"[::1]:3260\"",
        ));
    }
    let mut listen = Vec::with_capacity(listen_strs.len());
    let mut seen = HashSet::new();
    for (i, s) in listen_strs.iter().enumerate() {
        let key = format!("server.listen[{i}]");
        let addr = parse_socket_addr(s.trim()).ok_or_else(|| {
            c.err(
                &key,
                format!("{s:?} is not an address:port; expected e.g. \"0.0.0.0:3260\", \"127.0.0.1:3260\" or \"[::1]:3260\""),
            )
        })?;
        if !seen.insert(addr) {
            return Err(c.err(key, format!("{addr} is listed twice")));
        }
        listen.push(addr);
    }
    let metrics_listen = match rs.metrics_listen.as_deref().map(str::trim) {
        None | Some("") | Some("off") | Some("none") => None,
        Some(s) => Some(parse_socket_addr(s).ok_or_else(|| {
            c.err(
                "server.metrics_listen",
                format!("{s:?} is not an address:port; expected e.g. \"127.0.0.1:9260\", or omit the key to disable metrics"),
            )
        })?),
    };
    let nop_interval_secs = rs.nop_interval_secs.unwrap_or(30);
    if !(1..=3600).contains(&nop_interval_secs) {
        return Err(c.err(
            "server.nop_interval_secs",
            format!("{nop_interval_secs} is out of range; expected 1..=3600 seconds"),
        ));
    }
    let nop_timeout_secs = rs.nop_timeout_secs.unwrap_or(30);
    if !(1..=3600).contains(&nop_timeout_secs) {
        return Err(c.err(
            "server.nop_timeout_secs",
            format!("{nop_timeout_secs} is out of range; expected 1..=3600 seconds"),
        ));
    }
    let queue_depth = rs.queue_depth.unwrap_or(128);
    if !(1..=4096).contains(&queue_depth) {
        return Err(c.err(
            "server.queue_depth",
            format!("{queue_depth} is out of range; expected 1..=4096 commands per session"),
        ));
    }
    // RFC 7143 13.12: MaxRecvDataSegmentLength is 512..=2^24-1, the range
    // the login negotiation enforces.
    let mrdsl = rs.max_recv_data_segment_length.unwrap_or(262_144);
    let (lo, hi) = (
        iscsi::login::keys::MIN_LENGTH_KEY,
        iscsi::login::keys::MAX_LENGTH_KEY,
    );
    if !(lo..=hi).contains(&mrdsl) {
        return Err(c.err(
            "server.max_recv_data_segment_length",
            format!("{mrdsl} is out of range; expected {lo}..={hi} bytes (RFC 7143 13.12)"),
        ));
    }
    let portal_group_tag = rs.portal_group_tag.unwrap_or(1);
    if portal_group_tag == 0 {
        return Err(c.err(
            "server.portal_group_tag",
            "0 is not valid; expected 1..=65535",
        ));
    }
    // Portal i has TPGT portal_group_tag + i: the last must fit.
    let last = usize::from(portal_group_tag) + listen.len() - 1;
    if last > usize::from(u16::MAX) {
        return Err(c.err(
            "server.portal_group_tag",
            format!(
                "{portal_group_tag} leaves no TPGT for the {} portals of server.listen (portal i gets portal_group_tag + i, at most 65535); use at most {}",
                listen.len(),
                usize::from(u16::MAX) + 1 - listen.len()
            ),
        ));
    }
    Ok(ServerSettings {
        listen,
        metrics_listen,
        portal_group_tag,
        nop_interval: Duration::from_secs(nop_interval_secs),
        nop_timeout: Duration::from_secs(nop_timeout_secs),
        queue_depth,
        max_recv_data_segment_length: mrdsl,
    })
}

/// `address:port` with IPv6 in brackets (`[::1]:3260`).
fn parse_socket_addr(s: &str) -> Option<SocketAddr> {
    s.parse().ok()
}

fn validate_chap(
    c: &Checker<'_>,
    key: &str,
    rc: raw::RawChap,
    warnings: &mut Vec<String>,
) -> Result<ChapCredential, ConfigError> {
    let user = rc.user.ok_or_else(|| {
        c.err(
            format!("{key}.user"),
            "missing; expected the CHAP name, e.g. { user = \"alice\", secret = \"12-to-16-bytes\" }",
        )
    })?;
    // The name travels as the CHAP_N text value (RFC 7143 5.1: 255 bytes).
    let max = iscsi::text::MAX_VALUE_LEN;
    if user.is_empty() || user.len() > max || user.chars().any(char::is_control) {
        return Err(c.err(
            format!("{key}.user"),
            format!("expected 1 to {max} printable characters"),
        ));
    }
    let secret = rc.secret.ok_or_else(|| {
        c.err(
            format!("{key}.secret"),
            format!("missing; expected a secret of {CHAP_SECRET_MIN} to {CHAP_SECRET_PORTABLE_MAX} bytes"),
        )
    })?;
    if !(CHAP_SECRET_MIN..=CHAP_SECRET_MAX).contains(&secret.len()) {
        return Err(c.err(
            format!("{key}.secret"),
            format!(
                "is {} bytes long; expected {CHAP_SECRET_MIN} to {CHAP_SECRET_PORTABLE_MAX} bytes (RFC 7143 12.1.3 asks for at least 12; some initiators, e.g. Windows, accept at most 16; up to {CHAP_SECRET_MAX} is accepted with a warning)",
                secret.len()
            ),
        ));
    }
    if secret.chars().any(char::is_control) {
        return Err(c.err(
            format!("{key}.secret"),
            "contains control characters; expected printable characters",
        ));
    }
    if secret.len() > CHAP_SECRET_PORTABLE_MAX {
        warnings.push(format!(
            "{key}.secret is {} bytes long; some initiators (e.g. Windows) accept at most {CHAP_SECRET_PORTABLE_MAX}",
            secret.len()
        ));
    }
    Ok(ChapCredential { user, secret })
}

fn validate_target(
    c: &Checker<'_>,
    base_dir: &Path,
    ti: usize,
    rt: raw::RawTarget,
    listen: &[SocketAddr],
    warnings: &mut Vec<String>,
) -> Result<Target, ConfigError> {
    let tkey = format!("targets[{ti}]");
    let alua = alua::validate_alua(c, &tkey, listen, rt.explicit_alua, rt.port_groups)?;
    let iqn = rt.iqn.ok_or_else(|| {
        c.err(
            format!("{tkey}.iqn"),
            "missing; expected an iSCSI name such as \"iqn.2026-11.com.example:store1\" (RFC 3720 3.2.6)",
        )
    })?;
    validate_iscsi_name(&iqn).map_err(|e| {
        c.err(
            format!("{tkey}.iqn"),
            format!("{iqn:?} is not a valid iSCSI name: {e}"),
        )
    })?;
    if let Some(a) = &rt.alias {
        // RFC 7143 13.6: TargetAlias is a UTF-8 text value, at most 255 bytes.
        if a.len() > 255 || a.chars().any(char::is_control) {
            return Err(c.err(
                format!("{tkey}.alias"),
                "expected at most 255 bytes of printable text",
            ));
        }
    }
    let mut allowed_initiators = Vec::new();
    for (i, name) in rt
        .allowed_initiators
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        validate_iscsi_name(&name).map_err(|e| {
            c.err(
                format!("{tkey}.allowed_initiators[{i}]"),
                format!("{name:?} is not a valid iSCSI initiator name: {e}"),
            )
        })?;
        allowed_initiators.push(name);
    }
    let chap = rt
        .chap
        .map(|rc| validate_chap(c, &format!("{tkey}.chap"), rc, warnings))
        .transpose()?;
    let mutual_chap = rt
        .mutual_chap
        .map(|rc| validate_chap(c, &format!("{tkey}.mutual_chap"), rc, warnings))
        .transpose()?;
    if let Some(m) = &mutual_chap {
        match &chap {
            None => {
                return Err(c.err(
                    format!("{tkey}.mutual_chap"),
                    "mutual CHAP needs one-way CHAP too; add chap = { user = ..., secret = ... } to this target",
                ))
            }
            Some(one) if one.secret == m.secret => {
                return Err(c.err(
                    format!("{tkey}.mutual_chap.secret"),
                    "is the same as chap.secret; the two directions must use different secrets (RFC 7143 12.1.3)",
                ))
            }
            Some(_) => {}
        }
    }
    let raw_luns = rt.luns.unwrap_or_default();
    if raw_luns.is_empty() {
        return Err(c.err(
            format!("{tkey}.luns"),
            "no LUN configured; add at least one [[targets.luns]] table (lun, backend, size/path, block_size)",
        ));
    }
    let mut luns: Vec<Lun> = Vec::with_capacity(raw_luns.len());
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for (li, rl) in raw_luns.into_iter().enumerate() {
        let lkey = format!("{tkey}.luns[{li}]");
        let lun = validate_lun(c, base_dir, &lkey, rl)?;
        if let Some(prev) = seen.insert(lun.lun, li) {
            return Err(c.err(
                format!("{lkey}.lun"),
                format!(
                    "LUN {} is already used by {tkey}.luns[{prev}]; LUN numbers must be unique within a target",
                    lun.lun
                ),
            ));
        }
        luns.push(lun);
    }
    Ok(Target {
        iqn,
        alias: rt.alias,
        allowed_initiators,
        chap,
        mutual_chap,
        luns,
        alua,
    })
}

fn validate_lun(
    c: &Checker<'_>,
    base_dir: &Path,
    lkey: &str,
    rl: raw::RawLun,
) -> Result<Lun, ConfigError> {
    let lun = rl.lun.ok_or_else(|| {
        c.err(
            format!("{lkey}.lun"),
            format!("missing; expected a LUN number 0..={MAX_LUN}"),
        )
    })?;
    if lun > MAX_LUN {
        return Err(c.err(
            format!("{lkey}.lun"),
            format!("{lun} is out of range; expected 0..={MAX_LUN}"),
        ));
    }
    let block_size = rl.block_size.unwrap_or(512);
    if !BLOCK_SIZES.contains(&block_size) {
        return Err(c.err(
            format!("{lkey}.block_size"),
            format!("{block_size} is not supported; expected 512 or 4096"),
        ));
    }
    let default_pbs = block_size.max(scsi::device::DEFAULT_PHYSICAL_BLOCK_SIZE);
    let physical_block_size = rl.physical_block_size.unwrap_or(default_pbs);
    if physical_block_size > MAX_PHYSICAL_BLOCK_SIZE
        || !scsi::device::physical_block_size_valid(block_size, physical_block_size)
    {
        return Err(c.err(
            format!("{lkey}.physical_block_size"),
            format!(
                "{physical_block_size} is not supported; expected a power of two multiple of block_size {block_size} up to {MAX_PHYSICAL_BLOCK_SIZE}, e.g. {default_pbs}"
            ),
        ));
    }
    let size = match &rl.size {
        None => None,
        Some(v) => {
            let bytes = match v {
                raw::SizeValue::Bytes(n) => *n,
                raw::SizeValue::Text(s) => parse_size(s)
                    .map_err(|e| c.err(format!("{lkey}.size"), format!("{s:?}: {e}")))?,
            };
            if bytes == 0 {
                return Err(c.err(
                    format!("{lkey}.size"),
                    "0 bytes; expected a positive size such as \"1GiB\"",
                ));
            }
            if bytes % u64::from(block_size) != 0 {
                return Err(c.err(
                    format!("{lkey}.size"),
                    format!(
                        "{bytes} bytes is not a multiple of block_size {block_size}; e.g. {} would be",
                        format_size(bytes.div_ceil(u64::from(block_size)) * u64::from(block_size))
                    ),
                ));
            }
            Some(bytes)
        }
    };
    let kind = rl.backend.as_deref().unwrap_or("file");
    let backend = match kind {
        "file" => {
            let p = rl.path.ok_or_else(|| {
                c.err(
                    format!("{lkey}.path"),
                    "missing; the file backend needs path = \"lun0.img\" (relative to the config file's folder)",
                )
            })?;
            if p.is_empty() {
                return Err(c.err(
                    format!("{lkey}.path"),
                    "empty; expected a file name such as \"lun0.img\"",
                ));
            }
            let p = PathBuf::from(p);
            let path = if p.is_absolute() { p } else { base_dir.join(p) };
            BackendKind::File { path, size }
        }
        "memory" => {
            if rl.path.is_some() {
                return Err(c.err(
                    format!("{lkey}.path"),
                    "the memory backend has no path; remove it or use backend = \"file\"",
                ));
            }
            let size = size.ok_or_else(|| {
                c.err(
                    format!("{lkey}.size"),
                    "missing; the memory backend needs a size such as \"64MiB\"",
                )
            })?;
            BackendKind::Memory { size }
        }
        other => {
            return Err(c.err(
                format!("{lkey}.backend"),
                format!("{other:?} is not a backend; expected \"file\" or \"memory\""),
            ))
        }
    };
    Ok(Lun {
        lun,
        backend,
        block_size,
        read_only: rl.read_only.unwrap_or(false),
        physical_block_size,
        removable: rl.removable.unwrap_or(false),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
