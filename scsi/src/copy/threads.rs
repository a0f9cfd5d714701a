//! The threads copy work runs on: a blocking pool of its own, apart from
//! the one initiator READs and WRITEs use (so copies can never take the
//! threads foreground I/O needs), whose threads run at a lower CPU
//! priority (`copy.cpu_priority`): when a foreground I/O's thread wakes on
//! a CPU that a copy is using, the kernel gives it the CPU at once instead
//! of after the copy's time slice.
//!
//! With `copy.cpus` the copy threads also run only on the CPUs listed, and
//! the binary keeps every other thread off them ([`partition`]): a copy
//! then never holds a CPU a foreground I/O's thread wakes on (the kernel
//! preempts a copy only when its current call returns, on a kernel built
//! without preemption), and the copy's CPUs are not the ones whose wake-up
//! latency the foreground pays.
//!
//! Which CPU time a copy may take at all is the scheduler's business (its
//! share of a domain's time); this only decides who goes first on a CPU
//! and which CPUs copies may use.

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
static CPUS: OnceLock<Vec<usize>> = OnceLock::new();
static CONTROL: OnceLock<Option<Runtime>> = OnceLock::new();
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

/// Pin the copy threads (and the copy commands' runtime) to `cpus`
/// (sorted, not empty), which the caller keeps every other thread off; as
/// [`set_priority`], only the first call before the first copy work
/// counts. Returns false when the copy threads' CPUs were fixed already.
pub fn set_cpus(cpus: Vec<usize>) -> bool {
    !cpus.is_empty() && POOL.get().is_none() && CPUS.set(cpus).is_ok()
}

/// The CPUs copy threads are pinned to, which no other xtgt thread uses
/// (`None`: wherever the kernel puts them).
pub fn cpus() -> Option<&'static [usize]> {
    CPUS.get().map(Vec::as_slice)
}

fn pool() -> Option<&'static Runtime> {
    POOL.get_or_init(|| {
        let p = priority();
        let cpus = cpus();
        match Builder::new_current_thread()
            .max_blocking_threads(MAX_THREADS)
            .thread_name("xtgt-copy")
            .on_thread_start(move || {
                if let Err(e) = apply(p) {
                    tracing::warn!(priority = ?p, error = %e, "copy thread keeps the normal CPU priority");
                }
                if let Some(set) = cpus {
                    if let Err(e) = pin_current_thread(set) {
                        tracing::warn!(cpus = %cpu_list(set), error = %e, "copy thread not pinned to copy.cpus");
                    }
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

/// With `copy.cpus`, the runtime copy commands run on: worker threads
/// ("xtgt-copy-ctl", at normal priority) pinned to the copy CPUs, so a
/// copy command's own work (its parameter list, plan, scheduler grants,
/// the hand-offs of every chunk, its emulated reads and writes) stays off
/// the CPUs that serve I/O as well. `None` without `copy.cpus`.
fn control() -> Option<&'static Runtime> {
    let cpus = cpus()?;
    CONTROL
        .get_or_init(|| {
            match Builder::new_multi_thread()
                .worker_threads(cpus.len().clamp(1, 4))
                .thread_name("xtgt-copy-ctl")
                .enable_all()
                .on_thread_start(move || {
                    if let Err(e) = pin_current_thread(cpus) {
                        tracing::warn!(cpus = %cpu_list(cpus), error = %e, "copy command thread not pinned to copy.cpus");
                    }
                })
                .build()
            {
                Ok(rt) => Some(rt),
                Err(e) => {
                    tracing::warn!(error = %e, "no copy command runtime: copy commands run with the others");
                    None
                }
            }
        })
        .as_ref()
}

/// THIRD-PARTY COPY OUT (83h): EXTENDED COPY, POPULATE TOKEN, WRITE USING
/// TOKEN, COPY OPERATION ABORT: the commands [`spawn_command`] is for.
pub fn is_copy_command(cdb: &[u8]) -> bool {
    cdb.first() == Some(&0x83)
}

/// Start the task of a copy command: on the copy CPUs with `copy.cpus`,
/// on the calling runtime otherwise. (Its abort handle works either way.)
pub fn spawn_command<F>(f: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    match control() {
        Some(rt) => rt.spawn(f),
        None => tokio::spawn(f),
    }
}

/// The CPUs the calling thread may run on (its affinity mask: taskset,
/// the cgroup's cpuset).
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain bits; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; the kernel writes at most
    // size_of::<cpu_set_t>() bytes into `set`.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CPU_ISSET reads a bit of the live set; i < CPU_SETSIZE.
    Ok((0..MAX_CPUS)
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect())
}

/// CPU numbers a `cpu_set_t` holds (CPU_SETSIZE).
pub const MAX_CPUS: usize = 1024;

/// Let the calling thread run only on `cpus` (each below [`MAX_CPUS`]);
/// threads it starts afterwards inherit the mask.
pub fn pin_current_thread(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: as in allowed_cpus.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus.iter().filter(|&&c| c < MAX_CPUS) {
        // SAFETY: c < CPU_SETSIZE, the set is live.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; the kernel reads `set`.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Split the CPUs a process may use (`allowed`) between copy work
/// (`copy`) and everything else: the other threads' CPUs, or `Err(cpu)`
/// with a copy CPU the process may not use. When the copy CPUs are all
/// of `allowed`, nothing is left to the others: then `Ok(allowed)` (all
/// threads share every CPU, as without `copy.cpus`).
pub fn partition(allowed: &[usize], copy: &[usize]) -> Result<Vec<usize>, usize> {
    if let Some(&bad) = copy.iter().find(|c| !allowed.contains(c)) {
        return Err(bad);
    }
    let rest: Vec<usize> = allowed
        .iter()
        .copied()
        .filter(|c| !copy.contains(c))
        .collect();
    Ok(if rest.is_empty() {
        allowed.to_vec()
    } else {
        rest
    })
}

/// `cpus` (sorted) as a CPU list, as taskset and /sys write it: "0-3,6".
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(&first) = cpus.get(i) {
        let mut last = first;
        while cpus.get(i + 1) == Some(&(last + 1)) {
            last += 1;
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&if last == first {
            first.to_string()
        } else {
            format!("{first}-{last}")
        });
        i += 1;
    }
    out
}

/// Parse a CPU list ("1", "0-3,6"): sorted, without repeats; `None` when
/// it is empty, malformed, or names a CPU beyond [`MAX_CPUS`].
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ),
            None => {
                let a = part.parse::<usize>().ok()?;
                (a, a)
            }
        };
        if a > b || b >= MAX_CPUS {
            return None;
        }
        cpus.extend(a..=b);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Some(cpus)
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

    #[test]
    fn cpu_lists_parse_and_print() {
        assert_eq!(parse_cpu_list("1"), Some(vec![1]));
        assert_eq!(parse_cpu_list("0-3, 6,2"), Some(vec![0, 1, 2, 3, 6]));
        assert_eq!(parse_cpu_list("1023"), Some(vec![1023]));
        for bad in ["", "1,", "3-1", "a", "1024", "0-1024", "-1", "1--2"] {
            assert_eq!(parse_cpu_list(bad), None, "{bad:?}");
        }
        assert_eq!(cpu_list(&[0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9");
        assert_eq!(cpu_list(&[5]), "5");
        assert_eq!(cpu_list(&[]), "");
    }

    #[test]
    fn partition_gives_the_other_threads_the_rest() {
        assert_eq!(partition(&[0, 1], &[1]), Ok(vec![0]));
        assert_eq!(partition(&[0, 1, 2, 3], &[2, 3]), Ok(vec![0, 1]));
        // copies on every CPU: the others share them
        assert_eq!(partition(&[0, 1], &[0, 1]), Ok(vec![0, 1]));
        // a CPU the process may not use (taskset, cpuset)
        assert_eq!(partition(&[0, 1], &[1, 4]), Err(4));
    }

    /// A pinned thread runs only where it was pinned; its children inherit it.
    #[test]
    fn pinning_sets_the_thread_affinity() {
        let all = allowed_cpus().unwrap();
        assert!(!all.is_empty());
        let one = *all.last().unwrap();
        let (mine, child) = std::thread::spawn(move || {
            pin_current_thread(&[one]).unwrap();
            let child = std::thread::spawn(|| allowed_cpus().unwrap())
                .join()
                .unwrap();
            (allowed_cpus().unwrap(), child)
        })
        .join()
        .unwrap();
        assert_eq!(mine, vec![one]);
        assert_eq!(child, vec![one]);
        // other threads keep theirs
        assert_eq!(allowed_cpus().unwrap(), all);
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
