//! Cache prefetches: a hint that a line will be read soon, so that the
//! misses of a batch overlap. A prefetch never faults and changes nothing
//! the program can observe, whatever the address; it is not a load, so a
//! locked instruction after it does not wait for its line.

/// Bytes in a cache line.
const LINE: usize = 64;

/// Prefetches the line holding `addr`, which need not be valid (a
/// prefetch of an address freed meanwhile only wastes a fill).
#[inline(always)]
pub fn address(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 reads nothing the program sees and never faults,
    // whatever the address; SSE is part of x86-64.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            core::ptr::without_provenance(addr),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// Prefetches every line of `value`.
#[inline(always)]
pub fn value<T>(value: &T) {
    let start = core::ptr::from_ref(value).addr();
    let end = start + core::mem::size_of::<T>().max(1);
    let mut at = start & !(LINE - 1);
    while at < end {
        address(at);
        at += LINE;
    }
}
