//! One processor's share of the data path: its receive context, its
//! scratch buffer, the NBL whose frames are in the datapath right now, and
//! the lists of NBLs decided on, sent or completed once the datapath has
//! returned.
//!
//! A lane is used by its processor only, at DISPATCH_LEVEL (so nothing
//! else runs on that processor meanwhile), and only by a send handler that
//! claimed it (`claim`): a handler re-entered on the same processor (NDIS
//! may complete a send inline) finds it taken. Within a claim, the frames
//! handed to the datapath, the iterator producing them and the egress all
//! read and write the lane's cells; none of them outlives the claim.
#![cfg(windows)]

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::{Cell, UnsafeCell};
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use super::ndis::types::NetBufferList;
use super::packet::NblPacket;
use crate::datapath::receive::RxContext;
use crate::percpu::Cpu;
use crate::platform::buffer::SCRATCH;
use crate::platform::forward::Direction;

/// NBLs linked through `Next`, in the order they were added.
pub struct List {
    head: Cell<*mut NetBufferList>,
    tail: Cell<*mut NetBufferList>,
}

impl List {
    pub const fn new() -> List {
        List {
            head: Cell::new(ptr::null_mut()),
            tail: Cell::new(ptr::null_mut()),
        }
    }

    /// Appends `nbl` (its `Next` is overwritten).
    ///
    /// # Safety
    /// `nbl` is held by us and in no other list.
    pub unsafe fn push(&self, nbl: *mut NetBufferList) {
        // SAFETY: `nbl` and the current tail are NBLs we hold.
        unsafe {
            (*nbl).next = ptr::null_mut();
            match self.tail.get() {
                t if t.is_null() => self.head.set(nbl),
                t => (*t).next = nbl,
            }
        }
        self.tail.set(nbl);
    }

    /// Empties the list; its first NBL (null if none).
    pub fn take(&self) -> *mut NetBufferList {
        self.tail.set(ptr::null_mut());
        self.head.replace(ptr::null_mut())
    }
}

/// The NBL whose frames are in the datapath, and what became of them.
pub struct Item {
    /// Names the frame being looked at; frames of earlier ones are stale.
    frame_no: Cell<u32>,
    nbl: Cell<*mut NetBufferList>,
    /// The NBL has one frame: its destinations are that frame's.
    sole: Cell<bool>,
    /// Its out-of-band 802.1Q tag.
    tag: Cell<Option<u16>>,
    direction: Cell<Direction>,
    /// Destinations put on it.
    pub dests: Cell<u32>,
    /// Clones made of it, and the first (which keeps their count).
    pub clones: Cell<u32>,
    pub leader: Cell<*mut NetBufferList>,
    /// The last clone made, its tag and its destination count: a further
    /// output with that tag joins it.
    pub last_clone: Cell<(*mut NetBufferList, Option<u16>, u32)>,
    /// Frames of it that went out in copies of ours.
    pub copies: Cell<u32>,
    /// TCP payload bytes of it that went out segmented by us.
    pub lso_sent: Cell<usize>,
}

impl Item {
    const fn new() -> Item {
        Item {
            frame_no: Cell::new(0),
            nbl: Cell::new(ptr::null_mut()),
            sole: Cell::new(true),
            tag: Cell::new(None),
            direction: Cell::new(Direction::Transmit),
            dests: Cell::new(0),
            clones: Cell::new(0),
            leader: Cell::new(ptr::null_mut()),
            last_clone: Cell::new((ptr::null_mut(), None, 0)),
            copies: Cell::new(0),
            lso_sent: Cell::new(0),
        }
    }

    /// Starts on `nbl`.
    pub fn begin(&self, nbl: *mut NetBufferList, sole: bool, tag: Option<u16>, d: Direction) {
        self.nbl.set(nbl);
        self.sole.set(sole);
        self.tag.set(tag);
        self.direction.set(d);
        self.dests.set(0);
        self.clones.set(0);
        self.leader.set(ptr::null_mut());
        self.last_clone.set((ptr::null_mut(), None, 0));
        self.copies.set(0);
        self.lso_sent.set(0);
    }

    /// Ends the NBL (its fate is being decided); its frames go stale.
    pub fn end(&self) -> *mut NetBufferList {
        self.next_frame();
        self.nbl.replace(ptr::null_mut())
    }

    /// A new frame: the earlier ones go stale. Its number.
    pub fn next_frame(&self) -> u32 {
        let n = self.frame_no.get().wrapping_add(1);
        self.frame_no.set(n);
        n
    }

    /// The NBL, if frame `frame_no` is the current one.
    pub fn current(&self, frame_no: u32) -> Option<*mut NetBufferList> {
        let nbl = self.nbl.get();
        (frame_no == self.frame_no.get() && !nbl.is_null()).then_some(nbl)
    }

    pub fn sole(&self) -> bool {
        self.sole.get()
    }

    pub fn tag(&self) -> Option<u16> {
        self.tag.get()
    }

    pub fn direction(&self) -> Direction {
        self.direction.get()
    }
}

/// What the batch decided, for after the datapath returned.
pub struct Out {
    /// NBLs to send on: originals with destinations, clones, copies.
    pub forward: List,
    /// Originals nothing went out of: reported dropped, completed.
    pub dropped: List,
    /// Originals that went out in copies only: completed.
    pub consumed: List,
    /// Originals the switch forwards itself (hybrid forwarding).
    pub native: List,
}

pub struct Lane {
    busy: AtomicBool,
    rx: UnsafeCell<RxContext<NblPacket>>,
    scratch: UnsafeCell<Box<[u8]>>,
    pub item: Item,
    pub out: Out,
}

// SAFETY: a lane is only touched by the send handler that claimed it, on
// its own processor at DISPATCH_LEVEL (see the module comment); the claim
// is an atomic flag.
unsafe impl Sync for Lane {}
// SAFETY: built at attach and dropped at detach on arbitrary threads,
// while no handler uses it.
unsafe impl Send for Lane {}

impl Lane {
    /// The lane of processor `cpu`; `None` when out of memory.
    pub fn new(cpu: usize) -> Option<Lane> {
        let mut scratch = Vec::new();
        scratch.try_reserve_exact(SCRATCH).ok()?;
        scratch.resize(SCRATCH, 0);
        Some(Lane {
            busy: AtomicBool::new(false),
            rx: UnsafeCell::new(RxContext::try_new(Cpu::Pinned(cpu), cpu as u32)?),
            scratch: UnsafeCell::new(scratch.into_boxed_slice()),
            item: Item::new(),
            out: Out {
                forward: List::new(),
                dropped: List::new(),
                consumed: List::new(),
                native: List::new(),
            },
        })
    }

    /// Claims the lane for a send handler; false if it is taken.
    pub fn claim(&self) -> bool {
        !self.busy.swap(true, Ordering::Acquire)
    }

    pub fn release(&self) {
        self.busy.store(false, Ordering::Release);
    }

    /// The receive context.
    ///
    /// # Safety
    /// The caller claimed the lane and holds no other reference to the
    /// context.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn rx(&self) -> &mut RxContext<NblPacket> {
        // SAFETY: as the caller guarantees.
        unsafe { &mut *self.rx.get() }
    }

    /// The scratch buffer, for the frame about to be handed out.
    ///
    /// # Safety
    /// The caller claimed the lane; every frame read from the scratch
    /// buffer before is stale (`Item::next_frame` was called since).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn scratch(&self) -> &mut [u8] {
        // SAFETY: as the caller guarantees.
        unsafe { &mut *self.scratch.get() }
    }
}
