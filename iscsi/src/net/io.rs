//! Reading frames from and writing PDUs to one TCP connection.

use crate::framing::{
    decode_frame, encode_frame_parts, EncodedFrame, Frame, FrameConfig, FrameError,
};
use crate::pdu::{CmdSn, StatSn, TargetPdu};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::IoSlice;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// Bytes asked from the socket per read.
const READ_CHUNK: usize = 64 * 1024;

/// A connection whose peer accepts no bytes for this long is dropped.
const SEND_STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The writer task gathers queued PDUs into one `writev` until this many
/// bytes are pending.
const WRITE_BATCH: usize = 1024 * 1024;

/// At most this many buffers per `writev` (below IOV_MAX = 1024).
const MAX_IOVECS: usize = 64;

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
    tx: Option<mpsc::Sender<EncodedFrame>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub header_digest: bool,
    pub data_digest: bool,
    /// The next StatSN to assign (RFC 7143 4.2.2.2).
    pub statsn: StatSn,
}

impl PduWriter {
    pub fn new(mut wr: OwnedWriteHalf) -> Self {
        let (tx, mut rx) = mpsc::channel::<EncodedFrame>(WRITE_QUEUE);
        let task = tokio::spawn(async move {
            // Gather what is queued into few vectored writes; payloads are
            // sent from their own buffers, never copied.
            let mut pending = Pending::default();
            while let Some(f) = rx.recv().await {
                pending.push(f);
                while pending.bytes < WRITE_BATCH {
                    match rx.try_recv() {
                        Ok(f) => pending.push(f),
                        Err(_) => break,
                    }
                }
                if pending.write_all(&mut wr).await.is_err() {
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
        let frame = encode_frame_parts(&pdu.to_raw(), self.header_digest, self.data_digest);
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

/// Encoded PDUs waiting to be written, as a queue of buffers.
#[derive(Default)]
struct Pending {
    bufs: VecDeque<Bytes>,
    bytes: usize,
}

impl Pending {
    fn push(&mut self, f: EncodedFrame) {
        for b in [f.header, f.data, f.trailer] {
            if !b.is_empty() {
                self.bytes += b.len();
                self.bufs.push_back(b);
            }
        }
    }

    /// Write everything with `writev`, continuing after partial writes.
    async fn write_all<W: AsyncWrite + Unpin>(&mut self, w: &mut W) -> std::io::Result<()> {
        while !self.bufs.is_empty() {
            let slices: Vec<IoSlice<'_>> = self
                .bufs
                .iter()
                .take(MAX_IOVECS)
                .map(|b| IoSlice::new(b))
                .collect();
            let mut n = w.write_vectored(&slices).await?;
            drop(slices);
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.bytes = self.bytes.saturating_sub(n);
            while n > 0 {
                let Some(front) = self.bufs.front_mut() else {
                    break;
                };
                if n >= front.len() {
                    n -= front.len();
                    self.bufs.pop_front();
                } else {
                    front.advance(n);
                    n = 0;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A writer that accepts at most `max` bytes per call, so every
    /// partial-write path is taken.
    struct Trickle {
        out: Vec<u8>,
        max: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let me = self.get_mut();
            let n = buf.len().min(me.max);
            me.out.extend_from_slice(&buf[..n]);
            std::task::Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let me = self.get_mut();
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(me.max - n);
                me.out.extend_from_slice(&b[..take]);
                n += take;
                if n == me.max {
                    break;
                }
            }
            std::task::Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn pending_frames_are_written_whole_and_in_order_across_partial_writes() {
        let mut frames = Vec::new();
        let mut want = Vec::new();
        for i in 0..100u8 {
            let f = EncodedFrame {
                header: Bytes::from(vec![i; 48]),
                data: Bytes::from(vec![i ^ 0xFF; usize::from(i) * 37]),
                trailer: Bytes::from(vec![0; usize::from(i % 4)]),
            };
            want.extend_from_slice(&f.to_bytes());
            frames.push(f);
        }
        for max in [1, 7, 48, 1000, usize::MAX] {
            let mut p = Pending::default();
            for f in &frames {
                p.push(f.clone());
            }
            assert_eq!(p.bytes, want.len());
            let mut w = Trickle {
                out: Vec::new(),
                max,
            };
            p.write_all(&mut w).await.unwrap();
            assert_eq!(w.out, want, "max {max}");
            assert_eq!(p.bytes, 0);
            assert!(p.bufs.is_empty());
        }
    }
}
