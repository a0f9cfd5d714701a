//! Block commands (SBC-4): READ, WRITE, VERIFY, WRITE SAME, UNMAP, GET LBA
//! STATUS, COMPARE AND WRITE, SYNCHRONIZE CACHE, PRE-FETCH, READ CAPACITY.

/// Per-LU state owned by the block command set (e.g. the lock that makes
/// COMPARE AND WRITE atomic against other writers).
#[derive(Default)]
pub struct SbcState {}
