//! The `[copy]` section: the copy scheduler (foreground share, chunk
//! sizes) and the copy quotas (concurrency, queue, bytes in flight),
//! validated into [`CopySettings`].
//!
//! Every key is optional; the defaults are the scheduler's own
//! (`scsi::copy::sched::SchedConfig::default`: `assemble` tests that they
//! agree).

use super::{raw, size, Checker, ConfigError};
use std::time::Duration;

/// The validated `[copy]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySettings {
    /// `foreground_share` in parts per million (0 < share <= 1).
    pub foreground_share_ppm: u32,
    pub foreground_window: Duration,
    pub chunk_size: u64,
    pub chunk_size_foreground: u64,
    pub native_piece: u64,
    pub max_copies: u32,
    pub max_copies_per_lu: u32,
    pub max_copies_per_initiator: u32,
    pub max_queued: u32,
    pub max_bytes_per_copy: u64,
    pub max_bytes_in_flight: u64,
    pub max_chunks_in_flight: u32,
    pub aging: Duration,
    pub odx_priority: u8,
    pub cpu_priority: scsi::copy::threads::CpuPriority,
    /// CPUs reserved for copy threads (sorted); `None`: no partition.
    pub cpus: Option<Vec<usize>>,
}

pub const DEFAULT_FOREGROUND_SHARE: f64 = 0.75;
pub const DEFAULT_FOREGROUND_WINDOW_MS: u64 = 3;
pub const DEFAULT_CHUNK_SIZE: u64 = 1 << 20;
pub const DEFAULT_CHUNK_SIZE_FOREGROUND: u64 = 1 << 20;
pub const DEFAULT_NATIVE_PIECE: u64 = 64 << 20;
pub const DEFAULT_MAX_COPIES: u32 = 16;
pub const DEFAULT_MAX_COPIES_PER_LU: u32 = 4;
pub const DEFAULT_MAX_COPIES_PER_INITIATOR: u32 = 8;
pub const DEFAULT_MAX_QUEUED: u32 = 1024;
pub const DEFAULT_MAX_BYTES_PER_COPY: u64 = 8 << 20;
pub const DEFAULT_MAX_BYTES_IN_FLIGHT: u64 = 64 << 20;
pub const DEFAULT_MAX_CHUNKS_IN_FLIGHT: u32 = 32;
pub const DEFAULT_AGING_MS: u64 = 100;
pub const DEFAULT_CPU_PRIORITY: scsi::copy::threads::CpuPriority =
    scsi::copy::threads::CpuPriority::DEFAULT;

/// Bounds.
pub const MIN_CHUNK: u64 = 4096;
pub const MAX_CHUNK: u64 = 64 << 20;
pub const MAX_NATIVE_PIECE: u64 = 1 << 30;
/// TOTAL CONCURRENT COPIES is a 16-bit field (VPD 0x8F).
pub const MAX_COPIES_LIMIT: u32 = 65_535;
pub const MAX_QUEUED_LIMIT: u32 = 65_536;
pub const MAX_CHUNKS_LIMIT: u32 = 1024;

impl Default for CopySettings {
    fn default() -> Self {
        Self {
            foreground_share_ppm: (DEFAULT_FOREGROUND_SHARE * 1e6) as u32,
            foreground_window: Duration::from_millis(DEFAULT_FOREGROUND_WINDOW_MS),
            chunk_size: DEFAULT_CHUNK_SIZE,
            chunk_size_foreground: DEFAULT_CHUNK_SIZE_FOREGROUND,
            native_piece: DEFAULT_NATIVE_PIECE,
            max_copies: DEFAULT_MAX_COPIES,
            max_copies_per_lu: DEFAULT_MAX_COPIES_PER_LU,
            max_copies_per_initiator: DEFAULT_MAX_COPIES_PER_INITIATOR,
            max_queued: DEFAULT_MAX_QUEUED,
            max_bytes_per_copy: DEFAULT_MAX_BYTES_PER_COPY,
            max_bytes_in_flight: DEFAULT_MAX_BYTES_IN_FLIGHT,
            max_chunks_in_flight: DEFAULT_MAX_CHUNKS_IN_FLIGHT,
            aging: Duration::from_millis(DEFAULT_AGING_MS),
            odx_priority: 0,
            cpu_priority: DEFAULT_CPU_PRIORITY,
            cpus: None,
        }
    }
}

fn range<T: PartialOrd + std::fmt::Display + Copy>(
    c: &Checker<'_>,
    key: &str,
    value: T,
    lo: T,
    hi: T,
    unit: &str,
) -> Result<T, ConfigError> {
    c.in_range(format!("copy.{key}"), value, lo, hi, unit)
}

fn size_of(
    c: &Checker<'_>,
    key: &str,
    v: Option<raw::SizeValue>,
    default: u64,
    lo: u64,
    hi: u64,
    why: &str,
) -> Result<u64, ConfigError> {
    let n = match v {
        None => default,
        Some(raw::SizeValue::Bytes(n)) => n,
        Some(raw::SizeValue::Text(s)) => {
            size::parse_size(&s).map_err(|e| c.err(format!("copy.{key}"), format!("{s:?}: {e}")))?
        }
    };
    if n < lo || n > hi {
        return Err(c.err(
            format!("copy.{key}"),
            format!("{n} bytes is out of range; expected {lo}..={hi} bytes{why}"),
        ));
    }
    Ok(n)
}

pub(super) fn validate_copy(
    c: &Checker<'_>,
    rc: raw::RawCopy,
) -> Result<CopySettings, ConfigError> {
    let share = rc.foreground_share.unwrap_or(DEFAULT_FOREGROUND_SHARE);
    if !(share > 0.0 && share <= 1.0) {
        return Err(c.err(
            "copy.foreground_share",
            format!(
                "{share} is out of range; expected a fraction above 0 and at most 1 (0.25: copies may use a quarter of a busy backend's time)"
            ),
        ));
    }
    let window = range(
        c,
        "foreground_window_ms",
        rc.foreground_window_ms
            .unwrap_or(DEFAULT_FOREGROUND_WINDOW_MS),
        1,
        1000,
        " milliseconds",
    )?;
    let chunk_size = size_of(
        c,
        "chunk_size",
        rc.chunk_size,
        DEFAULT_CHUNK_SIZE,
        MIN_CHUNK,
        MAX_CHUNK,
        "",
    )?;
    let chunk_size_foreground = size_of(
        c,
        "chunk_size_foreground",
        rc.chunk_size_foreground,
        DEFAULT_CHUNK_SIZE_FOREGROUND.min(chunk_size),
        MIN_CHUNK,
        chunk_size,
        " (at most copy.chunk_size)",
    )?;
    let native_piece = size_of(
        c,
        "native_piece",
        rc.native_piece,
        DEFAULT_NATIVE_PIECE,
        chunk_size_foreground,
        MAX_NATIVE_PIECE,
        " (at least copy.chunk_size_foreground)",
    )?;
    let max_copies = range(
        c,
        "max_copies",
        rc.max_copies.unwrap_or(DEFAULT_MAX_COPIES),
        1,
        MAX_COPIES_LIMIT,
        " copies",
    )?;
    let max_copies_per_lu = range(
        c,
        "max_copies_per_lu",
        rc.max_copies_per_lu
            .unwrap_or(DEFAULT_MAX_COPIES_PER_LU.min(max_copies)),
        1,
        max_copies,
        " copies (at most copy.max_copies)",
    )?;
    let max_copies_per_initiator = range(
        c,
        "max_copies_per_initiator",
        rc.max_copies_per_initiator
            .unwrap_or(DEFAULT_MAX_COPIES_PER_INITIATOR.min(max_copies)),
        1,
        max_copies,
        " copies (at most copy.max_copies)",
    )?;
    let max_queued = range(
        c,
        "max_queued",
        rc.max_queued.unwrap_or(DEFAULT_MAX_QUEUED),
        0,
        MAX_QUEUED_LIMIT,
        " copies (0: refuse at once what cannot run)",
    )?;
    let max_bytes_per_copy = size_of(
        c,
        "max_bytes_per_copy",
        rc.max_bytes_per_copy,
        DEFAULT_MAX_BYTES_PER_COPY.max(chunk_size),
        chunk_size,
        u64::MAX,
        " (at least copy.chunk_size)",
    )?;
    let max_bytes_in_flight = size_of(
        c,
        "max_bytes_in_flight",
        rc.max_bytes_in_flight,
        DEFAULT_MAX_BYTES_IN_FLIGHT.max(max_bytes_per_copy),
        max_bytes_per_copy,
        u64::MAX,
        " (at least copy.max_bytes_per_copy)",
    )?;
    let max_chunks_in_flight = range(
        c,
        "max_chunks_in_flight",
        rc.max_chunks_in_flight
            .unwrap_or(DEFAULT_MAX_CHUNKS_IN_FLIGHT),
        1,
        MAX_CHUNKS_LIMIT,
        " chunks",
    )?;
    let aging = range(
        c,
        "aging_ms",
        rc.aging_ms.unwrap_or(DEFAULT_AGING_MS),
        1,
        60_000,
        " milliseconds",
    )?;
    let odx_priority = range(
        c,
        "odx_priority",
        rc.odx_priority.unwrap_or(0),
        0,
        7,
        " (0 highest, 7 lowest, as EXTENDED COPY's PRIORITY)",
    )?;
    let cpu_priority = match rc.cpu_priority {
        None => DEFAULT_CPU_PRIORITY,
        Some(v) => {
            let text = match v {
                raw::SizeValue::Bytes(n) => n.to_string(),
                raw::SizeValue::Text(s) => s,
            };
            scsi::copy::threads::CpuPriority::parse(&text).ok_or_else(|| {
                c.err(
                    "copy.cpu_priority",
                    format!("{text:?} is not a CPU priority; expected \"idle\" (copies use only CPU time nothing else wants), \"batch\", \"normal\" or a nice value 0..=19"),
                )
            })?
        }
    };
    let cpus = match rc.cpus {
        None => None,
        Some(v) => {
            let (text, list) = match v {
                raw::CpuListValue::One(n) => (n.to_string(), n.to_string()),
                raw::CpuListValue::List(l) => (
                    format!("{l:?}"),
                    l.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
                ),
                raw::CpuListValue::Text(s) => (format!("{s:?}"), s),
            };
            Some(scsi::copy::threads::parse_cpu_list(&list).ok_or_else(|| {
                c.err(
                    "copy.cpus",
                    format!(
                        "{text} is not a CPU list; expected CPU numbers below {} such as [2, 3] or \"2-3\" (the CPUs copy threads may use; xtgt's other threads then stay off them)",
                        scsi::copy::threads::MAX_CPUS
                    ),
                )
            })?)
        }
    };
    Ok(CopySettings {
        foreground_share_ppm: (share * 1e6).round() as u32,
        foreground_window: Duration::from_millis(window),
        chunk_size,
        chunk_size_foreground,
        native_piece,
        max_copies,
        max_copies_per_lu,
        max_copies_per_initiator,
        max_queued,
        max_bytes_per_copy,
        max_bytes_in_flight,
        max_chunks_in_flight,
        aging: Duration::from_millis(aging),
        odx_priority,
        cpu_priority,
        cpus,
    })
}
