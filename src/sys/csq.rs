//! The cancel-safe queue of pended IOCTLs: the I/O manager's `IoCsq`
//! (initialized with `IoCsqInitializeEx`, so an insert can be refused) over
//! the book in `platform::pending`, which decides everything; this module
//! only translates between IRPs and the book's plain values.
//!
//! An IRP leaves the queue exactly once, through one of:
//! - a wakeup (`take_token`): the core hands back its token;
//! - cleanup of its file (`take_file`);
//! - cancellation: the CSQ removes it and calls `complete_canceled`, which
//!   tells the core and completes it with `STATUS_CANCELLED`.
//!
//! Whoever gets it out completes it; the CSQ guarantees only one does. A
//! wakeup that comes before its IRP is queued is kept by the book, which
//! then refuses the insert (see `platform::pending`). The queue lock is a
//! spin lock taken at DISPATCH_LEVEL; nothing under it calls the core.
#![cfg(windows)]

use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use super::device;
use super::ndis::ffi::{
    IoCsqInitializeEx, IoCsqInsertIrpEx, IoCsqRemoveNextIrp, KeLowerIrql,
    io_get_current_irp_stack_location, ke_raise_irql,
};
use super::ndis::types::*;
use crate::pend::PendToken;
use crate::platform::irp::Completion;
use crate::platform::pending::{Insert, NoMemory, Peek, Pending};

/// What the insert callback returns when the book refuses an IRP (any
/// failure leaves it unqueued; these two say why).
const REFUSED_WOKEN: NdisStatus = NdisStatus(0xC000_0240); // STATUS_REQUEST_ABORTED
const REFUSED_NO_ROOM: NdisStatus = NdisStatus::RESOURCES;

struct Queue {
    csq: UnsafeCell<IoCsq>,
    lock: AtomicBool,
    book: UnsafeCell<Pending>,
}

// SAFETY: `book` is only touched with `lock` held (by `locked` or between
// the CSQ's acquire/release callbacks); `csq` is written once by `init`
// before any IRP can reach the device, and afterwards only by the CSQ
// routines, which synchronize through the same lock.
unsafe impl Sync for Queue {}

static QUEUE: Queue = Queue {
    csq: UnsafeCell::new(IoCsq::new()),
    lock: AtomicBool::new(false),
    book: UnsafeCell::new(Pending::new()),
};

/// Takes the queue lock at DISPATCH_LEVEL; returns the IRQL to go back to.
fn acquire() -> Kirql {
    // SAFETY: every caller runs at IRQL <= DISPATCH_LEVEL (dispatch
    // routines, OID and receive paths, CSQ callbacks).
    let previous = unsafe { ke_raise_irql(DISPATCH_LEVEL) };
    while QUEUE
        .lock
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    previous
}

fn release(previous: Kirql) {
    QUEUE.lock.store(false, Ordering::Release);
    // SAFETY: goes back to the IRQL `acquire` raised from.
    unsafe { KeLowerIrql(previous) };
}

/// The book, for a caller holding the lock.
///
/// # Safety
/// The queue lock is held, and the reference is dropped before it is
/// released.
unsafe fn book() -> &'static mut Pending {
    // SAFETY: the lock makes this the only reference (see `impl Sync`).
    unsafe { &mut *QUEUE.book.get() }
}

fn locked<R>(f: impl FnOnce(&mut Pending) -> R) -> R {
    let previous = acquire();
    // SAFETY: the lock is held until `release`, after `f` is done.
    let r = f(unsafe { book() });
    release(previous);
    r
}

fn csq() -> *mut IoCsq {
    QUEUE.csq.get()
}

/// The token a dispatched IRP carries in `DriverContext[0]` (the CSQ uses
/// `[3]`).
///
/// # Safety
/// `irp` is live and owned by this driver.
pub unsafe fn set_token(irp: *mut Irp, token: PendToken) {
    // SAFETY: the driver context belongs to the IRP's current owner: us.
    unsafe { (*irp).tail_driver_context[0] = ptr::without_provenance_mut(token.0 as usize) };
}

/// # Safety
/// `irp` is live and its token was set by `set_token`.
pub unsafe fn token(irp: *mut Irp) -> PendToken {
    // SAFETY: as for `set_token`.
    PendToken(unsafe { (*irp).tail_driver_context[0] }.addr() as u64)
}

/// Sets the queue up (DriverEntry, before the device is registered).
pub fn init() -> NdisStatus {
    // SAFETY: no IRP can use the queue yet; the callbacks are statics.
    unsafe {
        IoCsqInitializeEx(
            csq(),
            insert_irp,
            remove_irp,
            peek_next_irp,
            acquire_lock,
            release_lock,
            complete_canceled_irp,
        )
    }
}

/// Registers a dispatch that may pend under `token`.
pub fn begin(token: PendToken) -> Result<(), NoMemory> {
    locked(|b| b.begin(token))
}

/// The dispatch of `token` is over.
pub fn end(token: PendToken) {
    locked(|b| b.end(token));
}

/// Queues an IRP the core pended under the token `set_token` stored.
/// `Insert::Queued`: the queue owns it now (it may already be completed).
/// Otherwise the caller still owns it and completes it.
///
/// # Safety
/// `irp` is live, owned by the caller and marked pending.
pub unsafe fn queue(irp: *mut Irp) -> Insert {
    // SAFETY: the CSQ was initialized in DriverEntry; the IRP is ours to
    // hand over.
    match unsafe { IoCsqInsertIrpEx(csq(), irp, ptr::null_mut(), ptr::null_mut()) } {
        REFUSED_WOKEN => Insert::Woken,
        REFUSED_NO_ROOM => Insert::NoRoom,
        // Queued; or already cancelled, and completed by the CSQ through
        // `complete_canceled_irp`.
        _ => Insert::Queued,
    }
}

fn remove_next(which: Peek) -> Option<*mut Irp> {
    let mut which = which;
    // SAFETY: the peek context lives across the call and is read by
    // `peek_next_irp` only.
    let irp = unsafe { IoCsqRemoveNextIrp(csq(), (&raw mut which).cast()) };
    (!irp.is_null()).then_some(irp)
}

/// The IRP pended under `token`, now the caller's to complete.
pub fn take_token(token: PendToken) -> Option<*mut Irp> {
    remove_next(Peek::Token(token))
}

/// An IRP pended on `file`, now the caller's to complete.
pub fn take_file(file: *mut FileObject) -> Option<*mut Irp> {
    remove_next(Peek::File(file.expose_provenance()))
}

unsafe extern "system" fn insert_irp(
    _csq: *mut IoCsq,
    irp: *mut Irp,
    _context: *mut c_void,
) -> NdisStatus {
    // SAFETY: called by IoCsqInsertIrpEx under our lock with a live IRP
    // whose token the dispatcher set.
    let (token, file) = unsafe {
        (
            token(irp),
            (*io_get_current_irp_stack_location(irp)).file_object,
        )
    };
    // SAFETY: the CSQ holds our lock around this callback.
    match unsafe { book() }.insert(token, file.expose_provenance(), irp.expose_provenance()) {
        Insert::Queued => NdisStatus::SUCCESS,
        Insert::Woken => REFUSED_WOKEN,
        Insert::NoRoom => REFUSED_NO_ROOM,
    }
}

unsafe extern "system" fn remove_irp(_csq: *mut IoCsq, irp: *mut Irp) {
    // SAFETY: the CSQ holds our lock around this callback.
    unsafe { book() }.remove(irp.expose_provenance());
}

unsafe extern "system" fn peek_next_irp(
    _csq: *mut IoCsq,
    irp: *mut Irp,
    context: *mut c_void,
) -> *mut Irp {
    let which = if context.is_null() {
        Peek::Any
    } else {
        // SAFETY: every peek context is a `Peek` passed by `remove_next`.
        unsafe { context.cast::<Peek>().read() }
    };
    let after = (!irp.is_null()).then(|| irp.expose_provenance());
    // SAFETY: the CSQ holds our lock around this callback.
    match unsafe { book() }.peek(after, which) {
        Some(r) => ptr::with_exposed_provenance_mut(r),
        None => ptr::null_mut(),
    }
}

unsafe extern "system" fn acquire_lock(_csq: *mut IoCsq, irql: *mut Kirql) {
    let previous = acquire();
    // SAFETY: the CSQ passes storage for the IRQL to restore.
    unsafe { irql.write(previous) };
}

unsafe extern "system" fn release_lock(_csq: *mut IoCsq, irql: Kirql) {
    release(irql);
}

/// A queued IRP was cancelled (the CSQ already took it out): the core
/// forgets its token, and it completes with `STATUS_CANCELLED`.
unsafe extern "system" fn complete_canceled_irp(_csq: *mut IoCsq, irp: *mut Irp) {
    // SAFETY: the CSQ hands over a live IRP it removed; it is ours now.
    unsafe {
        device::forget(irp);
        device::complete(irp, Completion::CANCELLED);
    }
}
