//! SCSI Command, Data-Out and completion handling (RFC 7143 11.3, 11.7,
//! 11.8, 11.4): the wire side of `crate::task`.

use super::io::ConnError;
use super::session::{Done, Session, Task, TaskState};
use crate::pdu::{Bhs, DataOut, Itt, R2t, RejectReason, ScsiCommand, TargetPdu, Ttt};
use crate::task::{
    build_completion, Completion, CompletionParams, WriteCollector, WriteParams,
    MAX_SESSION_WRITE_BUFFER, MAX_TRANSFER_LEN,
};
use bytes::Bytes;
use scsi::{LogicalUnit, Request, Response, ScsiError, Status, TaskAttr};
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use tokio::sync::oneshot;

/// Task attribute from the ATTR field (RFC 7143 11.3.1, SAM-5 8.6).
fn task_attr(attr: u8) -> TaskAttr {
    match attr {
        0 => TaskAttr::Untagged,
        2 => TaskAttr::Ordered,
        3 => TaskAttr::HeadOfQueue,
        4 => TaskAttr::Aca,
        _ => TaskAttr::Simple,
    }
}

impl Session {
    pub(super) async fn on_command(
        &mut self,
        cmd: ScsiCommand,
        bhs: &Bhs,
    ) -> Result<(), ConnError> {
        let Some(_) = self.nexus else {
            // No SCSI commands in a discovery session (RFC 7143 4.3).
            return self.reject(RejectReason::ProtocolError, bhs).await;
        };
        if self.tasks.contains_key(&cmd.itt) {
            return self.reject(RejectReason::TaskInProgress, bhs).await;
        }
        let completion = Completion {
            itt: cmd.itt,
            lun: cmd.lun,
            read: cmd.read,
            write: cmd.write,
            edtl: cmd.edtl,
            bidi_read_length: cmd.bidi_read_length,
            r2t_count: 0,
        };
        let lun = cmd.lun.to_index();
        let attr = task_attr(cmd.attr);
        self.next_task_id += 1;
        let id = self.next_task_id;
        if !(cmd.write && cmd.edtl > 0) {
            self.window.task_started();
            self.tasks.insert(
                cmd.itt,
                Task {
                    id,
                    lun,
                    completion,
                    buffered: 0,
                    state: TaskState::Pending,
                },
            );
            self.launch(cmd.itt, cmd.cdb, attr, Bytes::new());
            return Ok(());
        }
        if cmd.edtl > MAX_TRANSFER_LEN {
            // Larger than we buffer: refuse without reading the data.
            let resp = Response::check_condition_for(
                &ScsiError::TransferTooLarge,
                cmd.edtl,
                self.logical_unit(lun).as_deref(),
            );
            return self.complete(&completion, &resp).await;
        }
        let edtl = cmd.edtl as usize;
        if self.write_buffered + edtl > MAX_SESSION_WRITE_BUFFER {
            let resp = Response {
                status: Status::Busy,
                sense: None,
                data_in: Bytes::new(),
                data_out_wanted: cmd.edtl,
            };
            return self.complete(&completion, &resp).await;
        }
        let collector =
            match WriteCollector::new(cmd.edtl, &cmd.data, cmd.final_bit, self.write_params()) {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(itt = cmd.itt.0, error = %e, "write command rejected");
                    return self.reject(RejectReason::ProtocolError, bhs).await;
                }
            };
        self.window.task_started();
        self.write_buffered += edtl;
        self.tasks.insert(
            cmd.itt,
            Task {
                id,
                lun,
                completion,
                buffered: edtl,
                state: TaskState::Collecting {
                    collector,
                    cdb: cmd.cdb,
                    attr,
                },
            },
        );
        self.advance_write(cmd.itt).await
    }

    fn write_params(&self) -> WriteParams {
        WriteParams::from_session(&self.params)
    }

    /// After new data: launch when complete, else send the R2Ts now due.
    async fn advance_write(&mut self, itt: Itt) -> Result<(), ConnError> {
        let Some(task) = self.tasks.get_mut(&itt) else {
            return Ok(());
        };
        let complete = matches!(&task.state, TaskState::Collecting { collector, .. } if collector.is_complete());
        if complete {
            if let TaskState::Collecting {
                collector,
                cdb,
                attr,
            } = std::mem::replace(&mut task.state, TaskState::Pending)
            {
                self.launch(itt, cdb, attr, collector.into_data());
            }
            return Ok(());
        }
        // Tags for the R2Ts that may be due (at most MaxOutstandingR2T).
        let max = usize::from(self.params.max_outstanding_r2t.max(1));
        let ttts: Vec<Ttt> = (0..max).map(|_| self.alloc_ttt()).collect();
        let mut it = ttts.into_iter();
        let Some(task) = self.tasks.get_mut(&itt) else {
            return Ok(());
        };
        let r2ts = match &mut task.state {
            TaskState::Collecting { collector, .. } => {
                collector.next_r2ts(|| it.next().unwrap_or(Ttt(0)))
            }
            _ => Vec::new(),
        };
        task.completion.r2t_count += r2ts.len() as u32;
        let lun = task.completion.lun;
        for r in r2ts {
            self.send(TargetPdu::R2t(R2t {
                lun,
                itt,
                ttt: r.ttt,
                r2tsn: r.r2tsn,
                buffer_offset: r.buffer_offset,
                desired_length: r.desired_length,
                ..Default::default()
            }))
            .await?;
        }
        Ok(())
    }

    pub(super) async fn on_data_out(&mut self, d: &DataOut, bhs: &Bhs) -> Result<(), ConnError> {
        let res = match self.tasks.get_mut(&d.itt).map(|t| &mut t.state) {
            Some(TaskState::Collecting { collector, .. }) => collector.data_out(d),
            _ => {
                // Data for an aborted, completed or unknown task: dropped.
                tracing::debug!(itt = d.itt.0, "Data-Out for no collecting task");
                return Ok(());
            }
        };
        match res {
            Ok(()) => self.advance_write(d.itt).await,
            Err(e) => {
                // ERL 0 cannot recover the sequence (RFC 7143 7.1.4): reject
                // the PDU and end the task with CHECK CONDITION so that its
                // buffer and window slot are freed; later Data-Out for it
                // is dropped.
                tracing::debug!(itt = d.itt.0, error = %e, "Data-Out rejected");
                self.reject(RejectReason::ProtocolError, bhs).await?;
                self.fail_task(d.itt, &ScsiError::DataPhaseError).await
            }
        }
    }

    /// Hand a task to the device server; it runs concurrently and reports
    /// through `done_tx`.
    fn launch(&mut self, itt: Itt, cdb: Bytes, attr: TaskAttr, data_out: Bytes) {
        let Some(nexus) = self.nexus.clone() else {
            return;
        };
        let Some(task) = self.tasks.get_mut(&itt) else {
            return;
        };
        let c = task.completion;
        let expected_in = if c.read && c.write {
            c.bidi_read_length.unwrap_or(0)
        } else if c.read {
            c.edtl
        } else {
            0
        };
        let lun = task.lun;
        let id = task.id;
        let device = self.server.device.clone();
        let lu = nexus.target.luns.get(&lun).cloned();
        let tx = self.done_tx.clone();
        // Hand-off order: this task enters the device server only after the
        // previously launched one has (the runtime may poll spawned tasks
        // in any order); after that they run concurrently.
        let previous = self.last_entered.take();
        let (entered_tx, entered_rx) = oneshot::channel();
        self.last_entered = Some(entered_rx);
        // Copy commands run on the copy CPUs when there are some.
        let copy = scsi::copy::threads::is_copy_command(&cdb);
        let run = async move {
            let mut guard = DoneGuard {
                tx: Some(tx),
                id,
                itt,
                lu,
            };
            if let Some(p) = previous {
                // An aborted predecessor drops its sender: proceed as well.
                let _ = p.await;
            }
            let req = Request {
                lun,
                cdb: &cdb,
                attr,
                tag: itt.0,
                data_out,
                expected_in,
            };
            let mut exec = std::pin::pin!(device.execute(&nexus, req));
            let first = std::future::poll_fn(|cx| Poll::Ready(exec.as_mut().poll(cx))).await;
            let _ = entered_tx.send(());
            let resp = match first {
                Poll::Ready(r) => r,
                Poll::Pending => exec.await,
            };
            guard.finish(resp);
        };
        let handle = if copy {
            scsi::copy::threads::spawn_command(run)
        } else {
            tokio::spawn(run)
        };
        task.state = TaskState::Running {
            abort: handle.abort_handle(),
        };
    }

    /// Terminate a task that is still collecting data with CHECK CONDITION.
    async fn fail_task(&mut self, itt: Itt, err: &ScsiError) -> Result<(), ConnError> {
        let Some(task) = self.tasks.remove(&itt) else {
            return Ok(());
        };
        self.window.task_finished();
        self.write_buffered = self.write_buffered.saturating_sub(task.buffered);
        let lu = self.logical_unit(task.lun);
        let resp = Response::check_condition_for(err, task.completion.edtl, lu.as_deref());
        self.complete(&task.completion, &resp).await
    }

    /// The logical unit a command of this session addresses, if mapped:
    /// the sense format of errors found here follows its D_SENSE.
    fn logical_unit(&self, lun: u64) -> Option<Arc<LogicalUnit>> {
        self.nexus.as_ref()?.target.luns.get(&lun).cloned()
    }

    pub(super) async fn on_done(&mut self, d: Done) -> Result<(), ConnError> {
        if self.tasks.get(&d.itt).map(|t| t.id) != Some(d.id) {
            return Ok(()); // aborted meanwhile
        }
        let Some(task) = self.tasks.remove(&d.itt) else {
            return Ok(());
        };
        self.window.task_finished();
        self.write_buffered = self.write_buffered.saturating_sub(task.buffered);
        self.complete(&task.completion, &d.resp).await
    }

    /// Send Data-In / SCSI Response for a completed command.
    async fn complete(&mut self, c: &Completion, resp: &Response) -> Result<(), ConnError> {
        let p = CompletionParams {
            max_send_data_segment: self.params.max_send_data_segment,
            max_burst_length: self.params.max_burst_length,
        };
        for pdu in build_completion(c, resp, p) {
            self.send(pdu).await?;
        }
        Ok(())
    }
}

/// Reports a task's completion exactly once: with the device server's
/// response, or, if the future is dropped without one (a panic in the
/// device server, or an abort), with INTERNAL TARGET FAILURE. A report for
/// an aborted task finds no task and is ignored, so a panicking command
/// never leaves its task and CmdSN window slot behind.
struct DoneGuard {
    tx: Option<tokio::sync::mpsc::UnboundedSender<Done>>,
    id: u64,
    itt: Itt,
    /// The addressed logical unit (its D_SENSE picks the sense format).
    lu: Option<Arc<LogicalUnit>>,
}

impl DoneGuard {
    fn finish(&mut self, resp: Response) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Done {
                id: self.id,
                itt: self.itt,
                resp,
            });
        }
    }
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let resp =
            Response::check_condition_for(&ScsiError::InternalTargetFailure, 0, self.lu.as_deref());
        self.finish(resp);
    }
}
