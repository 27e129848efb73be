//! IOCTL requests as the I/O manager hands them to the control device: the
//! buffers each transfer method provides, how an outcome completes the
//! request, and the tokens pended requests are known by.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::ioctl::Outcome;
use crate::pend::PendToken;
use crate::status::NtStatus;

/// The transfer method in an IOCTL code's two low bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// One system buffer: the input is copied in, the output copied back.
    Buffered,
    /// Input in the system buffer; the MDL describes a second buffer the
    /// driver reads (the "output" buffer of the call).
    InDirect,
    /// Input in the system buffer; the output buffer is described by the MDL.
    OutDirect,
    /// Raw user addresses: not used by this device.
    Neither,
}

impl Method {
    pub const fn of(code: u32) -> Method {
        match code & 3 {
            0 => Method::Buffered,
            1 => Method::InDirect,
            2 => Method::OutDirect,
            _ => Method::Neither,
        }
    }
}

/// What the I/O manager supplied with an IOCTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub code: u32,
    /// `Parameters.DeviceIoControl.InputBufferLength`.
    pub input_len: u32,
    /// `Parameters.DeviceIoControl.OutputBufferLength`.
    pub output_len: u32,
    /// `AssociatedIrp.SystemBuffer` is not null.
    pub system_buffer: bool,
    /// The byte count of `MdlAddress`, if there is one.
    pub mdl_len: Option<u32>,
}

/// Where the core's output slice lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// No output: an empty slice.
    None,
    /// The system buffer (`METHOD_BUFFERED`).
    SystemBuffer,
    /// The MDL's pages, mapped into system space (`METHOD_OUT_DIRECT`).
    Mdl,
}

/// The buffers the core is called with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffers {
    /// Input bytes at the start of the system buffer.
    pub input_len: usize,
    /// The input shares the system buffer with the output: it must be
    /// copied out before the output slice is made.
    pub copy_input: bool,
    pub output: Output,
    pub output_len: usize,
}

/// Picks the buffers for `r`, or the status to fail it with.
pub fn buffers(r: &Request) -> Result<Buffers, NtStatus> {
    let input_len = r.input_len as usize;
    let output_len = r.output_len as usize;
    let method = Method::of(r.code);
    if method == Method::Neither {
        // No IOCTL of this device uses it; the core refuses the code.
        return Ok(Buffers {
            input_len: 0,
            copy_input: false,
            output: Output::None,
            output_len: 0,
        });
    }
    if input_len > 0 && !r.system_buffer {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let (output, output_len) = match method {
        _ if output_len == 0 => (Output::None, 0),
        Method::Buffered if r.system_buffer => (Output::SystemBuffer, output_len),
        Method::OutDirect => match r.mdl_len {
            Some(n) if n as usize >= output_len => (Output::Mdl, output_len),
            _ => return Err(NtStatus::INVALID_PARAMETER),
        },
        // WRITE sends nothing back; its MDL is never read either.
        Method::InDirect => (Output::None, 0),
        _ => return Err(NtStatus::INVALID_PARAMETER),
    };
    Ok(Buffers {
        input_len,
        copy_input: output == Output::SystemBuffer && input_len > 0,
        output,
        output_len,
    })
}

/// The status and `IoStatus.Information` an IRP completes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    pub status: NtStatus,
    pub information: usize,
}

impl Completion {
    /// A pended request the core woke, or one its file's cleanup took.
    pub const WOKEN: Completion = Completion {
        status: NtStatus::SUCCESS,
        information: 0,
    };
    /// A pended request the I/O manager cancelled.
    pub const CANCELLED: Completion = Completion {
        status: NtStatus::CANCELLED,
        information: 0,
    };

    pub const fn status(status: NtStatus) -> Completion {
        Completion {
            status,
            information: 0,
        }
    }

    /// A core answer, for an output buffer of `output_len` bytes (the
    /// length reported never exceeds the buffer).
    pub fn done(status: NtStatus, len: usize, output_len: usize) -> Completion {
        Completion {
            status,
            information: len.min(output_len),
        }
    }

    /// How an IOCTL the core answered at once completes; `None` when it
    /// pended.
    pub fn of(outcome: Outcome, output_len: usize) -> Option<Completion> {
        match outcome {
            Outcome::Done { status, len } => Some(Completion::done(status, len, output_len)),
            Outcome::Pending => None,
        }
    }
}

/// Hands out pend tokens: a counter from 1, so a token names one request
/// for the life of the driver and is never seen again after it completes.
#[derive(Debug)]
pub struct Tokens(AtomicU64);

impl Tokens {
    pub const fn new() -> Tokens {
        Tokens(AtomicU64::new(1))
    }

    pub fn next(&self) -> PendToken {
        PendToken(self.0.fetch_add(1, Ordering::Relaxed))
    }
}

impl Default for Tokens {
    fn default() -> Tokens {
        Tokens::new()
    }
}
