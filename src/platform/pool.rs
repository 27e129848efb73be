//! Which kernel routine allocates the driver's memory, and what a zeroed
//! allocation costs with it.
//!
//! `ExAllocatePool2` exists from Windows 10 2004 (build 19041) on, so the
//! driver does not import it: `DriverEntry` looks it up by name once
//! (`MmGetSystemRoutineAddress`) and, on older hosts (Server 2016/2019),
//! every allocation goes to `ExAllocatePoolWithTag(NonPagedPoolNx)`, which
//! never zeroes: a zeroed allocation is cleared by the driver itself.

/// `POOL_FLAG_UNINITIALIZED` (wdm.h): `ExAllocatePool2` leaves the block as
/// it finds it (without it, the block is zeroed).
pub const POOL_FLAG_UNINITIALIZED: u64 = 0x0000_0000_0000_0002;
/// `POOL_FLAG_NON_PAGED` (wdm.h): non-paged, no-execute pool.
pub const POOL_FLAG_NON_PAGED: u64 = 0x0000_0000_0000_0040;
/// `NonPagedPoolNx` (`POOL_TYPE`, wdm.h): non-paged, no-execute pool.
pub const NON_PAGED_POOL_NX: i32 = 512;

/// The allocation routine the running kernel offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routine {
    /// `ExAllocatePool2`.
    Pool2,
    /// `ExAllocatePoolWithTag`, on kernels older than Windows 10 2004.
    PoolWithTag,
}

/// One allocation, as the kernel is to be asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `ExAllocatePool2(flags, size, tag)`.
    Pool2 { flags: u64 },
    /// `ExAllocatePoolWithTag(pool_type, size, tag)`; then the driver
    /// clears the block if `zero`.
    PoolWithTag { pool_type: i32, zero: bool },
}

impl Routine {
    /// The routine to use, given whether the kernel exports `ExAllocatePool2`.
    pub fn resolved(pool2_found: bool) -> Routine {
        if pool2_found {
            Routine::Pool2
        } else {
            Routine::PoolWithTag
        }
    }

    /// How to allocate non-paged memory, `zeroed` or not.
    pub fn call(self, zeroed: bool) -> Call {
        match self {
            Routine::Pool2 if zeroed => Call::Pool2 {
                flags: POOL_FLAG_NON_PAGED,
            },
            Routine::Pool2 => Call::Pool2 {
                flags: POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED,
            },
            Routine::PoolWithTag => Call::PoolWithTag {
                pool_type: NON_PAGED_POOL_NX,
                zero: zeroed,
            },
        }
    }
}

/// `MEMORY_ALLOCATION_ALIGNMENT` on x64: every pool block starts on it.
pub const POOL_ALIGNMENT: usize = 16;
/// Room in front of an over-aligned block for the pool block's address.
pub const HEADER: usize = size_of::<usize>();

/// Whether an alignment is above the pool's own (the block is
/// over-allocated and the pointer handed out lies inside it).
pub fn over_aligned(align: usize) -> bool {
    align > POOL_ALIGNMENT
}

/// Where an allocation of `size` bytes aligned to `align` lives in a pool
/// block: the block's size, or `None` if it overflows. Alignments up to the
/// pool's own take the block as it is; larger ones over-allocate, keeping
/// the block's address in the `HEADER` bytes below the aligned pointer.
pub fn block_size(size: usize, align: usize) -> Option<usize> {
    if !over_aligned(align) {
        return Some(size);
    }
    size.checked_add(align)?.checked_add(HEADER)
}

/// For an over-aligned allocation in the block at `block`: the offset of
/// the pointer handed out, the first aligned address at least `HEADER`
/// bytes in (at most `HEADER + align - 1` in, so the allocation's `size`
/// bytes stay inside a block of `block_size`).
pub fn aligned_offset(block: usize, align: usize) -> usize {
    (block + HEADER).next_multiple_of(align) - block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool2_zeroes_unless_told_otherwise() {
        let r = Routine::resolved(true);
        assert_eq!(r, Routine::Pool2);
        assert_eq!(r.call(true), Call::Pool2 { flags: 0x40 });
        assert_eq!(r.call(false), Call::Pool2 { flags: 0x42 });
    }

    #[test]
    fn older_kernels_allocate_nx_pool_and_zero_it_themselves() {
        let r = Routine::resolved(false);
        assert_eq!(r, Routine::PoolWithTag);
        assert_eq!(
            r.call(true),
            Call::PoolWithTag {
                pool_type: 512,
                zero: true
            }
        );
        assert_eq!(
            r.call(false),
            Call::PoolWithTag {
                pool_type: 512,
                zero: false
            }
        );
    }

    #[test]
    fn over_aligned_allocations_fit_their_block() {
        for align in [1, 8, 16, 32, 64, 4096] {
            for size in [0, 1, 15, 16, 17, 100, 5000] {
                let total = block_size(size, align).unwrap();
                if align <= POOL_ALIGNMENT {
                    assert_eq!(total, size);
                    continue;
                }
                for block in (0..4 * align).step_by(POOL_ALIGNMENT) {
                    let at = aligned_offset(block, align);
                    assert_eq!((block + at) % align, 0);
                    assert!(at >= HEADER, "room for the block's address");
                    assert!(at + size <= total, "inside the block");
                }
            }
        }
        assert_eq!(block_size(usize::MAX - 8, 32), None);
    }
}
