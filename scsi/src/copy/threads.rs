//! The threads copy work runs on: a blocking pool of its own, apart from
//! the one initiator READs and WRITEs use (so copies can never take the
//! threads foreground I/O needs), whose threads run at a lower CPU
//! priority (`copy.cpu_priority`): when a foreground I/O's thread wakes on
//! a CPU that a copy is using, the kernel gives it the CPU at once instead
//! of after the copy's time slice.
//!
//! Which CPU time a copy may take at all is the scheduler's business (its
//! share of a domain's time); this only decides who goes first on a CPU.

use std::io;
use std::sync::OnceLock;
use tokio::runtime::{Builder, Runtime};

/// The CPU priority of copy threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuPriority {
    /// As every other thread.
    Normal,
    /// `SCHED_OTHER` at this nice value (1..=19).
    Nice(i32),
    /// `SCHED_BATCH` at nice 0: the same share of CPU time, but a copy
    /// thread never preempts a running thread when it wakes.
    Batch,
    /// `SCHED_IDLE`: runs only on CPU time nothing else wants.
    Idle,
}

impl CpuPriority {
    /// The default of `copy.cpu_priority`: copies yield the CPU to
    /// everything else (a process that never sets one, e.g. a unit test,
    /// keeps its copy threads at `Normal`).
    pub const DEFAULT: Self = Self::Idle;

    /// Parse a config value: "normal", "batch", "idle" or a nice value 0..=19.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "normal" => Some(Self::Normal),
            "batch" => Some(Self::Batch),
            "idle" => Some(Self::Idle),
            n => match n.parse::<i32>() {
                Ok(0) => Some(Self::Normal),
                Ok(v @ 1..=19) => Some(Self::Nice(v)),
                _ => None,
            },
        }
    }
}

/// Copy threads this many at most (the scheduler's `max_chunks` bounds the
/// copy calls in flight well below it).
const MAX_THREADS: usize = 64;

static PRIORITY: OnceLock<CpuPriority> = OnceLock::new();
static POOL: OnceLock<Option<Runtime>> = OnceLock::new();

/// Set the copy threads' priority; only the first call counts, and only
/// before the first copy work (which fixes it at `Normal` if none was
/// set). Returns false when it was fixed already.
pub fn set_priority(p: CpuPriority) -> bool {
    PRIORITY.set(p).is_ok()
}

/// The priority copy threads run at.
pub fn priority() -> CpuPriority {
    *PRIORITY.get_or_init(|| CpuPriority::Normal)
}

fn pool() -> Option<&'static Runtime> {
    POOL.get_or_init(|| {
        let p = priority();
        match Builder::new_current_thread()
            .max_blocking_threads(MAX_THREADS)
            .thread_name("xtgt-copy")
            .on_thread_start(move || {
                if let Err(e) = apply(p) {
                    tracing::warn!(priority = ?p, error = %e, "copy thread keeps the normal CPU priority");
                }
            })
            .build()
        {
            Ok(rt) => Some(rt),
            Err(e) => {
                tracing::warn!(error = %e, "no copy thread pool: copies use the shared blocking pool");
                None
            }
        }
    })
    .as_ref()
}

/// Give the calling thread priority `p`.
fn apply(p: CpuPriority) -> io::Result<()> {
    let (policy, nice) = match p {
        CpuPriority::Normal => return Ok(()),
        CpuPriority::Nice(n) => (libc::SCHED_OTHER, n),
        CpuPriority::Batch => (libc::SCHED_BATCH, 0),
        CpuPriority::Idle => (libc::SCHED_IDLE, 0),
    };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a live sched_param
    // the kernel only reads.
    if unsafe { libc::sched_setscheduler(0, policy, &param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if nice != 0 {
        // SAFETY: plain syscall on the calling thread (its tid); no memory
        // is passed.
        let tid = unsafe { libc::gettid() };
        let who = libc::id_t::try_from(tid).unwrap_or(0);
        // SAFETY: as above; PRIO_PROCESS with a tid sets that thread's nice.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, who, nice) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Run blocking copy work `f` on a copy thread; `None` if it panicked.
pub async fn run<T, F>(f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match pool() {
        Some(rt) => rt.spawn_blocking(f).await.ok(),
        None => tokio::task::spawn_blocking(f).await.ok(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn priorities_parse() {
        assert_eq!(CpuPriority::parse("idle"), Some(CpuPriority::Idle));
        assert_eq!(CpuPriority::parse("batch"), Some(CpuPriority::Batch));
        assert_eq!(CpuPriority::parse("normal"), Some(CpuPriority::Normal));
        assert_eq!(CpuPriority::parse("0"), Some(CpuPriority::Normal));
        assert_eq!(CpuPriority::parse("19"), Some(CpuPriority::Nice(19)));
        assert_eq!(CpuPriority::parse("20"), None);
        assert_eq!(CpuPriority::parse("-1"), None);
        assert_eq!(CpuPriority::parse("fast"), None);
    }

    /// Copy work runs on a thread of its own pool (this test process
    /// never sets a priority: `Normal`).
    #[tokio::test]
    async fn copy_work_runs_on_copy_threads() {
        let name = run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("xtgt-copy"));
    }

    /// The policy and nice value `apply` gives a thread (each on a thread
    /// of its own: lowering a priority needs no privilege, raising it back
    /// would).
    #[test]
    fn apply_sets_the_policy_and_nice_value() {
        fn seen(p: CpuPriority) -> (i32, i32) {
            std::thread::spawn(move || {
                apply(p).unwrap();
                // SAFETY: queries of the calling thread; no memory passed.
                unsafe {
                    let tid = libc::id_t::try_from(libc::gettid()).unwrap();
                    (
                        libc::sched_getscheduler(0),
                        libc::getpriority(libc::PRIO_PROCESS, tid),
                    )
                }
            })
            .join()
            .unwrap()
        }
        let base = seen(CpuPriority::Normal);
        assert_eq!(base.0, libc::SCHED_OTHER);
        assert_eq!(seen(CpuPriority::Idle), (libc::SCHED_IDLE, base.1));
        assert_eq!(seen(CpuPriority::Batch), (libc::SCHED_BATCH, base.1));
        assert_eq!(seen(CpuPriority::Nice(7)), (libc::SCHED_OTHER, 7));
    }
}
