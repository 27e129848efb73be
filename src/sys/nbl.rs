//! NBLs as the data path handles them: the pools ours come from, the
//! bookkeeping in their context area, the switch's forwarding context
//! (source, destinations), and reading a frame out of an NBL the switch
//! gave us. Every function here is one NDIS step; the decisions are in
//! `platform::forward` and `platform::buffer`.
//!
//! Ours are recognised by their pool (`NdisPoolHandle`), and carry a
//! `Context` behind `NET_BUFFER_LIST_CONTEXT_DATA_START`:
//! - copies, from a data pool (`Pool::Small`/`Large`): NBL, NET_BUFFER, MDL
//!   and data in one allocation, the data all ours;
//! - clones, from the clone pool: the data is the parent's (an NBL the
//!   switch gave us), which is completed only once every clone of it came
//!   back. The first clone of a parent (the leader) keeps the count.
#![cfg(windows)]

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use super::driver::{FRIENDLY_NAME, UNIQUE_NAME};
use super::ndis::ffi::{
    NdisAdvanceNetBufferDataStart, NdisAllocateCloneNetBufferList, NdisAllocateNetBufferList,
    NdisAllocateNetBufferListContext, NdisAllocateNetBufferListPool, NdisFreeCloneNetBufferList,
    NdisFreeNetBufferList, NdisFreeNetBufferListContext, NdisFreeNetBufferListPool,
    NdisGetDataBuffer, NdisRetreatNetBufferDataStart, mm_get_system_address_for_mdl_safe,
};
use super::ndis::types::*;
use super::wstr::unicode_string;
use crate::offload::Request;
use crate::platform::buffer::Pool;
use crate::platform::forward::{self, Links, Placement};
use crate::switch::{NicIndex, PortId};

/// Bytes of context data in NBLs of ours (a multiple of
/// `MEMORY_ALLOCATION_ALIGNMENT`).
const CONTEXT_SIZE: u16 = 48;
const _: () = assert!(size_of::<Context>() <= CONTEXT_SIZE as usize);
/// Pool tags ("OVSs", "OVSl", "OVSc", "OVSx" in pool dumps).
const SMALL_TAG: u32 = u32::from_le_bytes(*b"OVSs");
const LARGE_TAG: u32 = u32::from_le_bytes(*b"OVSl");
const CLONE_TAG: u32 = u32::from_le_bytes(*b"OVSc");
const CONTEXT_TAG: u32 = u32::from_le_bytes(*b"OVSx");
/// Marks a context as ours.
const MAGIC: u32 = u32::from_le_bytes(*b"OVSn");

/// What an NBL of ours is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    Copy = 1,
    Clone = 2,
}

/// Our bookkeeping in an NBL of ours.
#[repr(C)]
pub struct Context {
    magic: u32,
    kind: Kind,
    /// Clone: the NBL it shares its data with.
    pub parent: AtomicPtr<NetBufferList>,
    /// Clone: the first clone of the same parent.
    pub leader: AtomicPtr<NetBufferList>,
    /// Leader: clones of the parent still out.
    pub pending: AtomicU32,
    /// Leader: the large-send slot of the last clone to come back (what
    /// the NIC reported), for the parent's completion.
    pub lso_done: AtomicU32,
    /// Copy: the data offset its NET_BUFFER had when NDIS handed it over,
    /// restored before it goes back to the pool.
    pristine: AtomicU32,
}

impl Context {
    pub fn kind(&self) -> Kind {
        self.kind
    }
}

/// The switch handlers the data path calls (all are present in revision 1
/// of `NDIS_SWITCH_OPTIONAL_HANDLERS`, checked at attach).
#[derive(Clone, Copy)]
struct Handlers {
    allocate_context: unsafe extern "system" fn(NdisHandle, *mut NetBufferList) -> NdisStatus,
    free_context: unsafe extern "system" fn(NdisHandle, *mut NetBufferList),
    add_destination: unsafe extern "system" fn(
        NdisHandle,
        *mut NetBufferList,
        *mut NdisSwitchPortDestination,
    ) -> NdisStatus,
    grow_destinations: unsafe extern "system" fn(
        NdisHandle,
        *mut NetBufferList,
        u32,
        *mut *mut NdisSwitchForwardingDestinationArray,
    ) -> NdisStatus,
    get_destinations: unsafe extern "system" fn(
        NdisHandle,
        *mut NetBufferList,
        *mut *mut NdisSwitchForwardingDestinationArray,
    ),
    update_destinations: unsafe extern "system" fn(
        NdisHandle,
        *mut NetBufferList,
        u32,
        *mut NdisSwitchForwardingDestinationArray,
    ) -> NdisStatus,
    copy_info: unsafe extern "system" fn(
        NdisHandle,
        *mut NetBufferList,
        *mut NetBufferList,
        u32,
    ) -> NdisStatus,
    report_filtered: Option<
        unsafe extern "system" fn(
            NdisHandle,
            *const UnicodeString,
            *const UnicodeString,
            SwitchPortId,
            u32,
            u32,
            *mut NetBufferList,
            *const UnicodeString,
        ),
    >,
}

/// A buffer of ours: an NBL from a data pool and its data.
#[derive(Clone, Copy, Debug)]
pub struct Buf {
    pub nbl: NonNull<NetBufferList>,
    /// The data of the NBL's only MDL, `cap` bytes.
    pub base: NonNull<u8>,
    pub cap: usize,
}

/// The pools and handles of one switch's data path.
pub struct Nbls {
    filter: NdisHandle,
    switch: NdisHandle,
    handlers: Handlers,
    small: NdisHandle,
    large: NdisHandle,
    clones: NdisHandle,
}

// SAFETY: the handles are NDIS's, usable from any processor; the struct is
// only read after attach built it.
unsafe impl Sync for Nbls {}
// SAFETY: as above; detach drops it on whatever thread NDIS uses.
unsafe impl Send for Nbls {}

fn pool_parameters(data_size: usize, tag: u32) -> NetBufferListPoolParameters {
    NetBufferListPoolParameters {
        header: NdisObjectHeader::new(
            NDIS_OBJECT_TYPE_DEFAULT,
            NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
            NDIS_SIZEOF_NET_BUFFER_LIST_POOL_PARAMETERS_REVISION_1,
        ),
        protocol_id: NDIS_PROTOCOL_ID_DEFAULT,
        f_allocate_net_buffer: u8::from(data_size > 0),
        context_size: CONTEXT_SIZE,
        pool_tag: tag,
        data_size: data_size as u32,
    }
}

impl Nbls {
    /// The pools of a filter module bound in a switch, at attach.
    pub fn new(
        filter: NdisHandle,
        switch: NdisHandle,
        h: &NdisSwitchOptionalHandlers,
    ) -> Result<Nbls, NdisStatus> {
        let handlers = Handlers {
            allocate_context: h
                .allocate_net_buffer_list_forwarding_context
                .ok_or(NdisStatus::NOT_SUPPORTED)?,
            free_context: h
                .free_net_buffer_list_forwarding_context
                .ok_or(NdisStatus::NOT_SUPPORTED)?,
            add_destination: h
                .add_net_buffer_list_destination
                .ok_or(NdisStatus::NOT_SUPPORTED)?,
            grow_destinations: h
                .grow_net_buffer_list_destinations
                .ok_or(NdisStatus::NOT_SUPPORTED)?,
            get_destinations: h
                .get_net_buffer_list_destinations
                .ok_or(NdisStatus::NOT_SUPPORTED)?,
            update_destinations: h
                .update_net_buffer_list_destinations
                .ok_or(NdisStatus::NOT_SUPPORTED)?,
            copy_info: h
                .copy_net_buffer_list_info
                .ok_or(NdisStatus::NOT_SUPPORTED)?,
            report_filtered: h.report_filtered_net_buffer_lists,
        };
        let mut nbls = Nbls {
            filter,
            switch,
            handlers,
            small: ptr::null_mut(),
            large: ptr::null_mut(),
            clones: ptr::null_mut(),
        };
        for (slot, size, tag) in [
            (&mut nbls.small, Pool::Small.data_size(), SMALL_TAG),
            (&mut nbls.large, Pool::Large.data_size(), LARGE_TAG),
            (&mut nbls.clones, 0, CLONE_TAG),
        ] {
            let mut p = pool_parameters(size, tag);
            // SAFETY: the parameters are valid for the call; the pool is
            // freed by `drop`.
            *slot = unsafe { NdisAllocateNetBufferListPool(filter, &mut p) };
            if slot.is_null() {
                return Err(NdisStatus::RESOURCES);
            }
        }
        Ok(nbls)
    }

    pub fn filter(&self) -> NdisHandle {
        self.filter
    }

    /// Whether `nbl` came from one of our pools.
    ///
    /// # Safety
    /// `nbl` points to a live NBL.
    pub unsafe fn is_ours(&self, nbl: *mut NetBufferList) -> bool {
        // SAFETY: the caller guarantees `nbl` is live; NDIS sets the pool
        // handle of every NBL it allocates.
        let pool = unsafe { (*nbl).ndis_pool_handle };
        pool == self.small || pool == self.large || pool == self.clones
    }

    /// The context of an NBL of ours.
    ///
    /// # Safety
    /// `nbl` is live and `is_ours`; the context is not used after the NBL
    /// is freed.
    pub unsafe fn context<'a>(&self, nbl: *mut NetBufferList) -> Option<&'a Context> {
        // SAFETY: as the caller guarantees; a context area of ours holds
        // the `Context` written at allocation.
        let ctx = unsafe { context_ptr(nbl).as_ref() }?;
        (ctx.magic == MAGIC).then_some(ctx)
    }

    /// Writes a fresh context into an NBL of ours: a clone of `parent`
    /// whose family `leader` counts (null: it leads), or a copy keeping its
    /// `pristine` data offset.
    ///
    /// # Safety
    /// `nbl` was just allocated by us with its context area.
    unsafe fn init_context(
        &self,
        nbl: *mut NetBufferList,
        kind: Kind,
        parent: *mut NetBufferList,
        leader: *mut NetBufferList,
        pristine: u32,
    ) {
        let leader = if leader.is_null() { nbl } else { leader };
        // SAFETY: as for `context_ptr`; nobody else sees the NBL yet.
        unsafe {
            context_ptr(nbl).write(Context {
                magic: MAGIC,
                kind,
                parent: AtomicPtr::new(parent),
                leader: AtomicPtr::new(leader),
                pending: AtomicU32::new(0),
                lso_done: AtomicU32::new(0),
                pristine: AtomicU32::new(pristine),
            });
        }
    }

    /// A buffer of ours from `pool`, its data start at offset 0 (all `cap`
    /// bytes in use), with a forwarding context whose source is the
    /// switch's default port. `None` when out of resources.
    pub fn alloc_buf(&self, pool: Pool) -> Option<Buf> {
        let handle = match pool {
            Pool::Small => self.small,
            Pool::Large => self.large,
        };
        let cap = pool.data_size();
        // SAFETY: a data pool of ours; the NBL comes with its NET_BUFFER,
        // MDL, data and a context of CONTEXT_SIZE bytes.
        let nbl = NonNull::new(unsafe { NdisAllocateNetBufferList(handle, CONTEXT_SIZE, 0) })?;
        let n = nbl.as_ptr();
        // SAFETY: the NBL is ours alone.
        let base = unsafe {
            (*n).source_handle = self.filter;
            let nb = (*n).first_net_buffer;
            let pristine = if nb.is_null() {
                0
            } else {
                (*nb).header.data_offset
            };
            self.init_context(n, Kind::Copy, ptr::null_mut(), ptr::null_mut(), pristine);
            claim_data(n, cap)
        };
        // SAFETY: the NBL is ours and has no forwarding context yet.
        let ready = base.is_some()
            && unsafe { (self.handlers.allocate_context)(self.switch, n) }.is_success();
        match base {
            Some(base) if ready => Some(Buf { nbl, base, cap }),
            _ => {
                // SAFETY: never handed out, no forwarding context.
                unsafe { self.release_data(n, cap) };
                None
            }
        }
    }

    /// Puts a data-pool NBL's NET_BUFFER back the way NDIS handed it over
    /// and frees the NBL.
    ///
    /// # Safety
    /// `nbl` is a data-pool NBL of ours of `cap` bytes, without a
    /// forwarding context, not out and not used again.
    unsafe fn release_data(&self, nbl: *mut NetBufferList, cap: usize) {
        // SAFETY: as the caller guarantees; moving the data start within
        // the one MDL neither allocates nor frees.
        unsafe {
            let nb = (*nbl).first_net_buffer;
            if let (false, Some(ctx)) = (nb.is_null(), self.context(nbl)) {
                let pristine = ctx.pristine.load(Ordering::Relaxed);
                let now = (*nb).header.data_offset;
                (*nb).header.data_length = cap.saturating_sub(now as usize);
                if now < pristine {
                    NdisAdvanceNetBufferDataStart(nb, pristine - now, 0, ptr::null_mut());
                } else if now > pristine {
                    let _ = NdisRetreatNetBufferDataStart(nb, now - pristine, 0, ptr::null_mut());
                }
            }
            NdisFreeNetBufferList(nbl);
        }
    }

    /// The data size of the pool a buffer of ours came from.
    ///
    /// # Safety
    /// `nbl` is live.
    unsafe fn cap_of(&self, nbl: *mut NetBufferList) -> usize {
        // SAFETY: as the caller guarantees.
        if unsafe { (*nbl).ndis_pool_handle } == self.large {
            Pool::Large.data_size()
        } else {
            Pool::Small.data_size()
        }
    }

    /// Frees a buffer of ours.
    ///
    /// # Safety
    /// `nbl` came from `alloc_buf` and is neither out below nor used again.
    pub unsafe fn free_buf(&self, nbl: *mut NetBufferList) {
        // SAFETY: ours and not in flight: its forwarding context goes, then
        // the NBL with its data.
        unsafe {
            let cap = self.cap_of(nbl);
            (self.handlers.free_context)(self.switch, nbl);
            self.release_data(nbl, cap);
        }
    }

    /// Sets the bytes of a buffer of ours that go out: `start..start + len`.
    ///
    /// # Safety
    /// `buf` came from `alloc_buf` with its data start untouched since, and
    /// `start + len <= cap`.
    pub unsafe fn set_window(&self, buf: Buf, start: usize, len: usize) {
        // SAFETY: the one NET_BUFFER is ours; advancing within its one MDL
        // frees nothing; the length is set as NET_BUFFER_DATA_LENGTH is.
        unsafe {
            let nb = (*buf.nbl.as_ptr()).first_net_buffer;
            NdisAdvanceNetBufferDataStart(nb, start as u32, 0, ptr::null_mut());
            (*nb).header.data_length = len;
        }
    }

    /// A clone of `parent` (its data, none of its out-of-band information)
    /// in the family `leader` counts (null: the clone leads), with a
    /// context and a forwarding context. `None` when out of resources.
    ///
    /// # Safety
    /// `parent` is an NBL the switch gave us, held until the clone is freed;
    /// `leader` is null or a live clone of it.
    pub unsafe fn alloc_clone(
        &self,
        parent: *mut NetBufferList,
        leader: *mut NetBufferList,
    ) -> Option<NonNull<NetBufferList>> {
        // SAFETY: the clone pool is ours; the clone shares the parent's
        // MDLs, which the caller keeps alive.
        let clone = NonNull::new(unsafe {
            NdisAllocateCloneNetBufferList(parent, self.clones, ptr::null_mut(), 0)
        })?;
        let c = clone.as_ptr();
        // SAFETY: the clone is ours alone.
        let with_context =
            unsafe { NdisAllocateNetBufferListContext(c, CONTEXT_SIZE, 0, CONTEXT_TAG) };
        if !with_context.is_success() {
            // SAFETY: never handed out.
            unsafe { NdisFreeCloneNetBufferList(c, 0) };
            return None;
        }
        // SAFETY: the clone is ours alone and has its context now.
        let forwarding = unsafe {
            (*c).source_handle = self.filter;
            self.init_context(c, Kind::Clone, parent, leader, 0);
            (self.handlers.allocate_context)(self.switch, c)
        };
        if !forwarding.is_success() {
            // SAFETY: never handed out; the context goes first.
            unsafe {
                NdisFreeNetBufferListContext(c, CONTEXT_SIZE);
                NdisFreeCloneNetBufferList(c, 0);
            }
            return None;
        }
        Some(clone)
    }

    /// Frees a clone of ours.
    ///
    /// # Safety
    /// `clone` came from `alloc_clone` and is neither out below nor used
    /// again.
    pub unsafe fn free_clone(&self, clone: *mut NetBufferList) {
        // SAFETY: ours and not in flight; forwarding context, context and
        // NBL go in the reverse order they came.
        unsafe {
            (self.handlers.free_context)(self.switch, clone);
            NdisFreeNetBufferListContext(clone, CONTEXT_SIZE);
            NdisFreeCloneNetBufferList(clone, 0);
        }
    }

    /// Copies the out-of-band information and the forwarding detail (source
    /// port and NIC; with `destinations`, the destinations too) of `src`
    /// into `dst`. False on failure.
    ///
    /// # Safety
    /// Both are live; `dst` is ours, with a forwarding context, not out.
    pub unsafe fn copy_info(
        &self,
        dst: *mut NetBufferList,
        src: *mut NetBufferList,
        destinations: bool,
    ) -> bool {
        let flags = if destinations {
            NDIS_SWITCH_COPY_NBL_INFO_FLAGS_PRESERVE_DESTINATIONS
        } else {
            0
        };
        // SAFETY: as the caller guarantees; the handler reads `src` only.
        unsafe { (self.handlers.copy_info)(self.switch, dst, src, flags) }.is_success()
    }

    /// Marks the data of a buffer of ours as trusted (a guest cannot
    /// reach it).
    ///
    /// # Safety
    /// `nbl` is ours, with a forwarding context, not out.
    pub unsafe fn mark_safe(&self, nbl: *mut NetBufferList) {
        // SAFETY: as the caller guarantees.
        unsafe {
            let detail = (*nbl).switch_forwarding_detail();
            (*nbl).set_switch_forwarding_detail(detail.with_packet_data_safe());
        }
    }

    /// Adds destination (`port`, `nic`) to an NBL carrying `count`
    /// destinations so far (what `place` needs and what NDIS keeps); false
    /// when it cannot (out of resources, or `MAX_DESTINATIONS` reached).
    ///
    /// # Safety
    /// `nbl` has a forwarding context and is not out below; `count` is the
    /// number of destinations committed on it.
    pub unsafe fn add_destination(
        &self,
        nbl: *mut NetBufferList,
        count: u32,
        port: PortId,
        nic: NicIndex,
    ) -> bool {
        let mut dest = NdisSwitchPortDestination {
            port_id: port,
            nic_index: nic,
            // The datapath decides tags: the switch strips nothing.
            flags: NdisSwitchPortDestination::PRESERVE_VLAN
                | NdisSwitchPortDestination::PRESERVE_PRIORITY,
        };
        let h = &self.handlers;
        // SAFETY: the NBL is live with a forwarding context (caller);
        // reading its detail is a load of one info slot.
        let available = unsafe { (*nbl).switch_forwarding_detail() }.num_available_destinations();
        let mut array: *mut NdisSwitchForwardingDestinationArray = ptr::null_mut();
        let at = match forward::place(count, available) {
            Placement::Full => return false,
            Placement::Add => {
                // SAFETY: `dest` is valid for the call; the handler copies it.
                return unsafe { (h.add_destination)(self.switch, nbl, &mut dest) }.is_success();
            }
            Placement::Write { at } => {
                // SAFETY: the handler returns the NBL's destination array.
                unsafe { (h.get_destinations)(self.switch, nbl, &mut array) };
                at
            }
            Placement::Grow { by, at } => {
                // SAFETY: as above; on success the array has `by` more slots.
                if !unsafe { (h.grow_destinations)(self.switch, nbl, by, &mut array) }.is_success()
                {
                    return false;
                }
                at
            }
        };
        if array.is_null() {
            return false;
        }
        // SAFETY: `array` is the NBL's destination array, which has a free
        // element at `at` (= its NumDestinations, below NumElements, as
        // NumAvailableDestinations or the growth says); elements are
        // `element_size` bytes apart from `first_element`.
        unsafe {
            if (*array).num_elements <= at {
                return false;
            }
            let element = (*array)
                .first_element
                .cast::<u8>()
                .add(at as usize * (*array).element_size as usize)
                .cast::<NdisSwitchPortDestination>();
            element.write_unaligned(dest);
            (h.update_destinations)(self.switch, nbl, 1, array).is_success()
        }
    }

    /// The only destination of an NBL, if it has exactly one.
    ///
    /// # Safety
    /// `nbl` has a forwarding context.
    pub unsafe fn single_destination(
        &self,
        nbl: *mut NetBufferList,
    ) -> Option<NdisSwitchPortDestination> {
        let mut array: *mut NdisSwitchForwardingDestinationArray = ptr::null_mut();
        // SAFETY: the handler returns the NBL's destination array (or null).
        unsafe {
            (self.handlers.get_destinations)(self.switch, nbl, &mut array);
            if array.is_null() || (*array).num_destinations != 1 || (*array).first_element.is_null()
            {
                return None;
            }
            Some(
                (*array)
                    .first_element
                    .cast::<NdisSwitchPortDestination>()
                    .read_unaligned(),
            )
        }
    }

    /// Tells the switch that the `count` NBLs from `head` (all from
    /// `source`) were dropped on ingress by the extension, and why.
    ///
    /// # Safety
    /// The chain is live and ours to complete.
    pub unsafe fn report_dropped(
        &self,
        head: *mut NetBufferList,
        count: u32,
        source: SwitchPortId,
        reason: &UnicodeString,
    ) {
        if let Some(report) = self.handlers.report_filtered {
            let guid = unicode_string(&UNIQUE_NAME);
            let name = unicode_string(&FRIENDLY_NAME);
            // SAFETY: the handler reads the chain and the strings.
            unsafe {
                report(
                    self.switch,
                    &guid,
                    &name,
                    source,
                    NDIS_SWITCH_REPORT_FILTERED_NBL_FLAGS_IS_INCOMING,
                    count,
                    head,
                    reason,
                )
            };
        }
    }
}

impl Drop for Nbls {
    fn drop(&mut self) {
        for pool in [self.small, self.large, self.clones] {
            if !pool.is_null() {
                // SAFETY: every NBL of the pool came back (the pause before
                // detach waited for them) and the pool is freed once.
                unsafe { NdisFreeNetBufferListPool(pool) };
            }
        }
    }
}

/// Where the context data of an NBL of ours lies; null when it has no
/// context area.
///
/// # Safety
/// `nbl` is live and `is_ours`.
unsafe fn context_ptr(nbl: *mut NetBufferList) -> *mut Context {
    // SAFETY: NBLs of ours got a context of `CONTEXT_SIZE` bytes at
    // allocation; its data starts `offset` bytes after the 16-byte
    // header (NET_BUFFER_LIST_CONTEXT_DATA_START), 16-byte aligned.
    unsafe {
        let header = (*nbl).context;
        if header.is_null() {
            return ptr::null_mut();
        }
        header
            .cast::<u8>()
            .add(size_of::<NetBufferListContext>() + usize::from((*header).offset))
            .cast::<Context>()
    }
}

/// Makes all `cap` bytes of a fresh data-pool NBL's one MDL the NBL's data
/// (NDIS hands it over with the data start somewhere in them: the bytes in
/// front are unused); their address. Nothing is allocated: the data start
/// only moves back over unused bytes of the MDL.
///
/// # Safety
/// `nbl` was just allocated from a data pool of `cap` bytes.
unsafe fn claim_data(nbl: *mut NetBufferList, cap: usize) -> Option<NonNull<u8>> {
    // SAFETY: the NBL and its one NET_BUFFER are ours; the pool's MDL maps
    // nonpaged pool, so mapping it cannot fail for want of PTEs.
    unsafe {
        let nb = (*nbl).first_net_buffer;
        if nb.is_null() {
            return None;
        }
        let unused = (*nb).header.data_offset;
        if unused > 0 && !NdisRetreatNetBufferDataStart(nb, unused, 0, ptr::null_mut()).is_success()
        {
            return None;
        }
        let mdl = (*nb).header.current_mdl;
        let at = (*nb).header.current_mdl_offset as usize;
        let whole = !mdl.is_null()
            && (*nb).header.data_offset == 0
            && (*nb).header.data_length() as usize == cap
            && ((*mdl).byte_count as usize).saturating_sub(at) >= cap;
        if !whole {
            return None;
        }
        let va =
            mm_get_system_address_for_mdl_safe(mdl, NORMAL_PAGE_PRIORITY | MDL_MAPPING_NO_EXECUTE);
        if va.is_null() {
            return None;
        }
        NonNull::new(va.cast::<u8>().wrapping_add(at))
    }
}

/// NBL chains as `platform::forward::runs` walks them.
pub struct Chain(());

impl Chain {
    /// # Safety
    /// Every NBL reached through it is one we hold (ours, or given to us
    /// and not yet sent on or completed).
    pub unsafe fn held() -> Chain {
        Chain(())
    }
}

impl Links for Chain {
    type Node = NonNull<NetBufferList>;

    fn next(&self, n: Self::Node) -> Option<Self::Node> {
        // SAFETY: `n` is held (see `held`).
        NonNull::new(unsafe { (*n.as_ptr()).next })
    }

    fn set_next(&mut self, n: Self::Node, next: Option<Self::Node>) {
        // SAFETY: as above.
        unsafe { (*n.as_ptr()).next = next.map_or(ptr::null_mut(), NonNull::as_ptr) };
    }
}

/// The switch port an NBL came from.
///
/// # Safety
/// `nbl` is live.
pub unsafe fn source_of(nbl: *mut NetBufferList) -> SwitchPortId {
    // SAFETY: reads one info slot.
    unsafe { (*nbl).switch_forwarding_detail() }.source_port_id()
}

/// The 802.1Q tag of an NBL's out-of-band slot as a TCI (priority, VLAN
/// id; an all-zero slot is no tag).
///
/// # Safety
/// `nbl` is live.
pub unsafe fn tag_of(nbl: *mut NetBufferList) -> Option<u16> {
    // SAFETY: reads one info slot.
    let info = unsafe { (*nbl).ieee_8021q_info() };
    (info.0 != 0).then(|| (u16::from(info.user_priority()) << 13) | info.vlan_id())
}

/// Sets the 802.1Q slot from a TCI (the DEI bit has no place in it).
///
/// # Safety
/// `nbl` is ours (or held by us) and not out below.
pub unsafe fn set_tag(nbl: *mut NetBufferList, tci: Option<u16>) {
    let info = tci.map_or(Ieee8021QInfo(0), |t| {
        Ieee8021QInfo::new((t >> 13) as u8, t & 0xfff)
    });
    // SAFETY: as the caller guarantees.
    unsafe { (*nbl).set_ieee_8021q_info(info) };
}

/// The frame of `nb` (`len` bytes), read in place when `in_place` allows
/// and NDIS finds it contiguous, else gathered into `scratch`. Returns the
/// bytes' address; `None` when the MDLs cannot be mapped or `scratch` is
/// too short.
///
/// # Safety
/// `nb` belongs to an NBL we hold; its bytes stay put while we use them.
pub unsafe fn read_frame(
    nb: *mut NetBuffer,
    len: usize,
    in_place: bool,
    scratch: &mut [u8],
) -> Option<NonNull<u8>> {
    if in_place {
        // SAFETY: without storage NDIS only maps and returns the bytes in
        // place, or null when they are split.
        let p = unsafe { NdisGetDataBuffer(nb, len as u32, ptr::null_mut(), 1, 0) };
        if let Some(p) = NonNull::new(p.cast::<u8>()) {
            return Some(p);
        }
    }
    let dst = scratch.get_mut(..len)?;
    // SAFETY: as the caller guarantees.
    unsafe { gather(nb, dst) }.then(|| NonNull::from(&mut *dst).cast::<u8>())
}

/// Copies the first `dst.len()` data bytes of `nb` into `dst`, MDL by MDL.
///
/// # Safety
/// As for `read_frame`.
unsafe fn gather(nb: *mut NetBuffer, dst: &mut [u8]) -> bool {
    // SAFETY: the NET_BUFFER's current MDL and offset locate its data; each
    // MDL describes locked pages, mapped here (DISPATCH_LEVEL allows it).
    // Bytes a guest may be changing are read once, into `dst`, and only
    // that copy is looked at afterwards.
    unsafe {
        let mut mdl = (*nb).header.current_mdl;
        let mut offset = (*nb).header.current_mdl_offset as usize;
        let mut done = 0;
        while done < dst.len() {
            if mdl.is_null() {
                return false;
            }
            let count = (*mdl).byte_count as usize;
            let take = count.saturating_sub(offset).min(dst.len() - done);
            if take > 0 {
                let va = mm_get_system_address_for_mdl_safe(
                    mdl,
                    NORMAL_PAGE_PRIORITY | MDL_MAPPING_NO_EXECUTE,
                );
                if va.is_null() {
                    return false;
                }
                let Some(out) = dst.get_mut(done..done + take) else {
                    return false;
                };
                ptr::copy_nonoverlapping(va.cast::<u8>().add(offset), out.as_mut_ptr(), take);
                done += take;
            }
            offset = 0;
            mdl = (*mdl).next;
        }
        true
    }
}

/// The checksum and large-send requests in an NBL's offload slots.
///
/// # Safety
/// `nbl` is live.
pub unsafe fn offload_request(nbl: *mut NetBufferList) -> Request {
    // SAFETY: reads two info slots.
    let (checksum, lso) = unsafe { ((*nbl).checksum_info(), (*nbl).large_send_info()) };
    Request::from_ndis(checksum.0, lso.0)
}

/// Clears the checksum and large-send requests (their work was done in
/// software).
///
/// # Safety
/// `nbl` is ours and not out below.
pub unsafe fn clear_offload_request(nbl: *mut NetBufferList) {
    // SAFETY: as the caller guarantees.
    unsafe {
        (*nbl).set_checksum_info(ChecksumInfo(0));
        (*nbl).set_large_send_info(LargeSendInfo(0));
    }
}

/// Records what the NIC reported in a returning clone's large-send slot.
///
/// # Safety
/// `clone` is ours and came back.
pub unsafe fn note_lso_done(leader: &Context, clone: *mut NetBufferList) {
    // SAFETY: as the caller guarantees.
    let v = unsafe { (*clone).large_send_info() }.0;
    leader.lso_done.store(v as u32, Ordering::Relaxed);
}
