//! What a `no_std` Rust crate needs from the kernel: a global allocator and a
//! panic handler. The allocator is our own in every build (windows-drivers-rs'
//! imports `ExAllocatePool2`, which older kernels lack; see
//! `platform::pool`); the real build (feature `wdk`) takes the panic handler
//! from windows-drivers-rs, the others use our own over the same bug check.
#![cfg(windows)]

#[cfg(all(feature = "wdk", not(test)))]
extern crate wdk_panic;

#[cfg(not(test))]
#[global_allocator]
static GLOBAL_ALLOCATOR: pool::PoolAllocator = pool::PoolAllocator;

pub use pool::init as init_allocator;

mod pool {
    use core::alloc::{GlobalAlloc, Layout};
    use core::ffi::c_void;
    use core::ptr;
    use core::sync::atomic::{AtomicPtr, Ordering};

    use crate::platform::pool::{Call, Routine, aligned_offset, block_size, over_aligned};
    use crate::sys::ndis::ffi::{ExAllocatePoolWithTag, ExFreePool, MmGetSystemRoutineAddress};
    use crate::sys::wstr::{ascii_utf16, unicode_string};

    /// Pool tag of the extension's allocations ("OVSE" in pool dumps).
    const POOL_TAG: u32 = u32::from_le_bytes(*b"OVSE");

    static POOL2_NAME: [u16; 15] = ascii_utf16("ExAllocatePool2");

    /// `ExAllocatePool2`'s signature (wdm.h).
    type AllocatePool2 = unsafe extern "system" fn(u64, usize, u32) -> *mut c_void;

    /// `ExAllocatePool2`, if the kernel exports it (null: it does not, or
    /// `init` did not run yet).
    static POOL2: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

    /// Looks `ExAllocatePool2` up; `DriverEntry` calls it first, at
    /// PASSIVE_LEVEL, before anything allocates.
    pub fn init() {
        let name = unicode_string(&POOL2_NAME);
        // SAFETY: PASSIVE_LEVEL (DriverEntry); the name is a valid counted
        // string the kernel only reads.
        let routine = unsafe { MmGetSystemRoutineAddress(&name) };
        POOL2.store(routine, Ordering::Release);
    }

    fn routine() -> (Routine, *mut c_void) {
        let pool2 = POOL2.load(Ordering::Acquire);
        (Routine::resolved(!pool2.is_null()), pool2)
    }

    /// A pool block of `size` bytes (zeroed if asked), or null.
    fn block(size: usize, zeroed: bool) -> *mut u8 {
        let (routine, pool2) = routine();
        match routine.call(zeroed) {
            Call::Pool2 { flags } => {
                // SAFETY: `pool2` is the kernel's ExAllocatePool2 (found
                // by name, so non-null here), whose signature this is.
                let allocate: AllocatePool2 =
                    unsafe { core::mem::transmute::<*mut c_void, AllocatePool2>(pool2) };
                // SAFETY: non-paged pool may be asked for up to
                // DISPATCH_LEVEL, which holds for all our code.
                unsafe { allocate(flags, size, POOL_TAG) }.cast()
            }
            Call::PoolWithTag { pool_type, zero } => {
                // SAFETY: as above.
                let block: *mut u8 =
                    unsafe { ExAllocatePoolWithTag(pool_type, size, POOL_TAG) }.cast();
                if zero && !block.is_null() {
                    // SAFETY: the block is ours and `size` bytes long.
                    unsafe { block.write_bytes(0, size) };
                }
                block
            }
        }
    }

    /// Nonpaged pool (usable up to DISPATCH_LEVEL) that honours alignments
    /// above the pool's own by over-allocating (`platform::pool`).
    pub struct PoolAllocator;

    fn allocate(layout: Layout, zeroed: bool) -> *mut u8 {
        let Some(total) = block_size(layout.size(), layout.align()) else {
            return ptr::null_mut();
        };
        let block = block(total, zeroed);
        if block.is_null() || !over_aligned(layout.align()) {
            return block;
        }
        let skip = aligned_offset(block.addr(), layout.align());
        // SAFETY: HEADER <= skip and skip + size <= total, so `aligned`
        // and the pointer-sized slot below it are inside the block; the
        // slot is pointer-aligned because `aligned` is aligned to more.
        unsafe {
            let aligned = block.add(skip);
            aligned.cast::<*mut u8>().sub(1).write(block);
            aligned
        }
    }

    // SAFETY: blocks come from nonpaged pool, are at least `layout.size()`
    // bytes, aligned to `layout.align()`, zeroed when asked, and are freed
    // exactly once by `dealloc` with the layout they were allocated with.
    unsafe impl GlobalAlloc for PoolAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            allocate(layout, false)
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            allocate(layout, true)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let block = if over_aligned(layout.align()) {
                // SAFETY: `allocate` stored the block address in the slot
                // just below every over-aligned pointer it returned.
                unsafe { ptr.cast::<*mut u8>().sub(1).read() }
            } else {
                ptr
            };
            // SAFETY: `block` is the start of a pool block we allocated.
            unsafe { ExFreePool(block.cast()) }
        }
    }
}

#[cfg(all(not(feature = "wdk"), not(test)))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    /// Same bug-check code as windows-drivers-rs' handler ("RPNC").
    const RUST_PANIC: u32 = 0x5250_4E43;
    let (file, len, line, column) = info.location().map_or((0, 0, 0, 0), |l| {
        (
            l.file().as_ptr().addr(),
            l.file().len(),
            l.line() as usize,
            l.column() as usize,
        )
    });
    // SAFETY: KeBugCheckEx stops the system; the parameters are only shown
    // in the crash dump.
    unsafe { crate::sys::ndis::ffi::KeBugCheckEx(RUST_PANIC, file, len, line, column) }
}
