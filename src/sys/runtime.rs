//! What a `no_std` Rust crate needs from the kernel: a global allocator and a
//! panic handler. The real build (feature `wdk`) takes them from
//! windows-drivers-rs; otherwise they are our own, over the same pool and
//! bug-check routines, so the driver also type-checks and links without it.

#[cfg(all(feature = "wdk", not(test)))]
extern crate wdk_panic;

#[cfg(all(feature = "wdk", not(test)))]
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;

#[cfg(all(not(feature = "wdk"), not(test)))]
#[global_allocator]
static GLOBAL_ALLOCATOR: pool::PoolAllocator = pool::PoolAllocator;

#[cfg(all(not(feature = "wdk"), not(test)))]
mod pool {
    use core::alloc::{GlobalAlloc, Layout};
    use core::ptr;

    use crate::sys::ndis::ffi::{ExAllocatePool2, ExFreePool};
    use crate::sys::ndis::types::{POOL_FLAG_NON_PAGED, POOL_FLAG_UNINITIALIZED};

    /// Pool tag of the extension's allocations ("OVSE" in pool dumps).
    const POOL_TAG: u32 = u32::from_le_bytes(*b"OVSE");
    /// `MEMORY_ALLOCATION_ALIGNMENT` on x64: every pool block starts on it.
    const POOL_ALIGNMENT: usize = 16;
    /// Room in front of an over-aligned block for the pool block's address.
    const HEADER: usize = size_of::<*mut u8>();

    /// Nonpaged pool (usable up to DISPATCH_LEVEL) that honours alignments
    /// above the pool's own by over-allocating: the pool block's address is
    /// kept just below the aligned pointer handed out.
    pub struct PoolAllocator;

    fn allocate(layout: Layout, flags: u64) -> *mut u8 {
        if layout.align() <= POOL_ALIGNMENT {
            // SAFETY: ExAllocatePool2 has no preconditions beyond IRQL <=
            // DISPATCH_LEVEL for nonpaged pool, which holds for all our code.
            return unsafe { ExAllocatePool2(flags, layout.size(), POOL_TAG) }.cast();
        }
        let Some(total) = layout
            .size()
            .checked_add(layout.align())
            .and_then(|n| n.checked_add(HEADER))
        else {
            return ptr::null_mut();
        };
        // SAFETY: as above.
        let block: *mut u8 = unsafe { ExAllocatePool2(flags, total, POOL_TAG) }.cast();
        if block.is_null() {
            return block;
        }
        // The first aligned address at least HEADER bytes in: it is at most
        // HEADER + align - 1 bytes in, so `size` bytes from it stay inside.
        let skip = (block.addr() + HEADER).next_multiple_of(layout.align()) - block.addr();
        // SAFETY: HEADER <= skip <= HEADER + align - 1 < total, so `aligned`
        // and the pointer-sized slot below it are inside the block; the slot
        // is pointer-aligned because `aligned` is aligned to more than that.
        unsafe {
            let aligned = block.add(skip);
            aligned.cast::<*mut u8>().sub(1).write(block);
            aligned
        }
    }

    // SAFETY: blocks come from nonpaged pool, are at least `layout.size()`
    // bytes, aligned to `layout.align()`, and are freed exactly once by
    // `dealloc` with the layout they were allocated with.
    unsafe impl GlobalAlloc for PoolAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            allocate(layout, POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED)
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // ExAllocatePool2 zeroes unless told otherwise.
            allocate(layout, POOL_FLAG_NON_PAGED)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let block = if layout.align() <= POOL_ALIGNMENT {
                ptr
            } else {
                // SAFETY: `allocate` stored the block address in the slot
                // just below every over-aligned pointer it returned.
                unsafe { ptr.cast::<*mut u8>().sub(1).read() }
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
