//! Reading frames from and writing PDUs to one TCP connection.

use crate::framing::{decode_frame, encode_frame, Frame, FrameConfig, FrameError};
use crate::pdu::{CmdSn, StatSn, TargetPdu};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// Bytes asked from the socket per read.
const READ_CHUNK: usize = 64 * 1024;

/// A connection whose peer accepts no bytes for this long is dropped.
const SEND_STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Write coalescing buffer of the writer task.
const WRITE_BUFFER: usize = 256 * 1024;

/// PDUs queued for the writer task before the sender waits.
const WRITE_QUEUE: usize = 256;

/// Why a connection ends abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    #[error("connection writer closed")]
    WriterClosed,
    #[error("protocol error: {0}")]
    Protocol(&'static str),
}

/// The receiving side: a bounded buffer of at most one frame plus one read.
pub struct PduReader {
    rd: OwnedReadHalf,
    buf: BytesMut,
    pub cfg: FrameConfig,
}

impl PduReader {
    pub fn new(rd: OwnedReadHalf) -> Self {
        Self {
            rd,
            buf: BytesMut::with_capacity(READ_CHUNK),
            cfg: FrameConfig::login(),
        }
    }

    /// The next frame; `None` at end of stream. Cancel safe.
    pub async fn next(&mut self) -> Result<Option<Frame>, ConnError> {
        loop {
            if let Some(f) = decode_frame(&mut self.buf, &self.cfg)? {
                return Ok(Some(f));
            }
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
                self.buf.reserve(READ_CHUNK);
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }
}

/// The sending side: assigns StatSN in send order and hands encoded frames
/// to a writer task.
pub struct PduWriter {
    tx: Option<mpsc::Sender<Bytes>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub header_digest: bool,
    pub data_digest: bool,
    /// The next StatSN to assign (RFC 7143 4.2.2.2).
    pub statsn: StatSn,
}

impl PduWriter {
    pub fn new(mut wr: OwnedWriteHalf) -> Self {
        let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
        let task = tokio::spawn(async move {
            // Coalesce what is queued into few writes; flush when idle.
            let mut w = BufWriter::with_capacity(WRITE_BUFFER, &mut wr);
            while let Some(b) = rx.recv().await {
                if w.write_all(&b).await.is_err() {
                    return;
                }
                while let Ok(b) = rx.try_recv() {
                    if w.write_all(&b).await.is_err() {
                        return;
                    }
                }
                if w.flush().await.is_err() {
                    return;
                }
            }
            let _ = wr.shutdown().await;
        });
        Self {
            tx: Some(tx),
            task: Some(task),
            header_digest: false,
            data_digest: false,
            statsn: StatSn(0),
        }
    }

    /// Fill the sequence numbers and queue the PDU.
    pub async fn send(
        &mut self,
        mut pdu: TargetPdu,
        exp_cmdsn: CmdSn,
        max_cmdsn: CmdSn,
    ) -> Result<(), ConnError> {
        let statsn = self.statsn;
        if pdu.advances_statsn() {
            self.statsn = self.statsn.next();
        }
        pdu.set_sequence(statsn, exp_cmdsn, max_cmdsn);
        let frame = encode_frame(&pdu.to_raw(), self.header_digest, self.data_digest);
        let tx = self.tx.as_ref().ok_or(ConnError::WriterClosed)?;
        match tokio::time::timeout(SEND_STALL_TIMEOUT, tx.send(frame)).await {
            Ok(r) => r.map_err(|_| ConnError::WriterClosed),
            // Nothing written for that long: the peer does not read.
            Err(_) => Err(ConnError::Protocol("peer stopped reading")),
        }
    }

    /// Flush what is queued (bounded wait) and close the socket.
    pub async fn close(&mut self) {
        self.tx = None;
        if let Some(t) = self.task.take() {
            let abort = t.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(5), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}
