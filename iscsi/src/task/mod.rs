//! Task-level protocol logic, I/O free (RFC 7143 4.2.3, 11.7, 11.8):
//! collecting write data ([`write::WriteCollector`]: immediate data,
//! unsolicited Data-Out, R2T), segmenting read data into Data-In PDUs and
//! computing residuals ([`complete`]), task management decisions ([`tmf`]).

pub mod complete;
pub mod residual;
pub mod tmf;
pub mod write;

pub use complete::{build_completion, Completion, CompletionParams};
pub use residual::Residual;
pub use tmf::{abort_task_response, tmf_action, TmfAction};
pub use write::{R2tRequest, WriteCollector, WriteError, WriteParams};

/// Largest Expected Data Transfer Length accepted for one command: bounds
/// the write buffer and the Data-In of a single task.
pub const MAX_TRANSFER_LEN: u32 = 32 * 1024 * 1024;

/// Largest total of write buffers held by one session at a time.
pub const MAX_SESSION_WRITE_BUFFER: usize = 256 * 1024 * 1024;
