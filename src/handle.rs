//! Open handles on the control device: each is a netlink "socket" with a PID
//! assigned at open, the protocol userspace declares, and at most one dump in
//! progress.

use alloc::vec::Vec;

use crate::netlink::{MsgHeader, NETLINK_GENERIC};
use crate::status::NtStatus;

/// `OVS_MAX_OPEN_INSTANCES`.
pub const MAX_HANDLES: usize = 512;

/// Names an open handle: a slot and the generation it was opened in, so a
/// stale id never reaches a newer handle in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HandleId {
    slot: u16,
    generation: u32,
}

/// A dump in progress: the request head that started it (READ replays it)
/// and where the next READ resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpState {
    pub hdr: MsgHeader,
    pub cursor: u64,
    /// `OVS_FLOW_ATTR_UFID_FLAGS` of a flow dump.
    pub flags: u32,
}

#[derive(Debug)]
pub struct Handle {
    pub pid: u32,
    /// NETLINK_GENERIC or NETLINK_NETFILTER (SOCK_PROP).
    pub protocol: u32,
    pub dump: Option<DumpState>,
    /// IRP_MJ_CLEANUP ran: the handle takes no more requests, so nothing
    /// can subscribe or pend on it between cleanup and close.
    pub cleaned_up: bool,
}

#[derive(Debug, Default)]
pub struct Handles {
    slots: Vec<(u32, Option<Handle>)>,
    open: usize,
    dumps: usize,
    last_pid: u32,
}

impl Handles {
    pub fn get(&self, id: HandleId) -> Option<&Handle> {
        match self.slots.get(usize::from(id.slot)) {
            Some((generation, Some(h))) if *generation == id.generation => Some(h),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, id: HandleId) -> Option<&mut Handle> {
        match self.slots.get_mut(usize::from(id.slot)) {
            Some((generation, Some(h))) if *generation == id.generation => Some(h),
            _ => None,
        }
    }

    /// The next PID: from 1, increasing, never 0 nor one in use.
    fn next_pid(&mut self) -> u32 {
        loop {
            self.last_pid = self.last_pid.wrapping_add(1);
            let pid = self.last_pid;
            if pid != 0 && !self.iter().any(|h| h.pid == pid) {
                return pid;
            }
        }
    }

    /// IRP_MJ_CREATE.
    pub fn open(&mut self) -> Result<HandleId, NtStatus> {
        if self.open >= MAX_HANDLES {
            return Err(NtStatus::INSUFFICIENT_RESOURCES);
        }
        let slot = match self.slots.iter().position(|(_, h)| h.is_none()) {
            Some(i) => i,
            None => {
                self.slots
                    .try_reserve(1)
                    .map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
                self.slots.push((0, None));
                self.slots.len() - 1
            }
        };
        let pid = self.next_pid();
        let (generation, h) = self
            .slots
            .get_mut(slot)
            .ok_or(NtStatus::INSUFFICIENT_RESOURCES)?;
        *generation = generation.wrapping_add(1);
        *h = Some(Handle {
            pid,
            protocol: NETLINK_GENERIC,
            dump: None,
            cleaned_up: false,
        });
        self.open += 1;
        Ok(HandleId {
            slot: slot as u16,
            generation: *generation,
        })
    }

    /// IRP_MJ_CLOSE: the handle and whatever dump it held are freed.
    pub fn close(&mut self, id: HandleId) -> Option<Handle> {
        let (generation, h) = self.slots.get_mut(usize::from(id.slot))?;
        if *generation != id.generation {
            return None;
        }
        let h = h.take()?;
        self.open -= 1;
        if h.dump.is_some() {
            self.dumps -= 1;
        }
        Some(h)
    }

    /// Starts (or restarts) the handle's dump.
    pub fn set_dump(&mut self, id: HandleId, dump: DumpState) {
        if let Some(h) = self.get_mut(id) {
            let replaced = h.dump.replace(dump).is_some();
            if !replaced {
                self.dumps += 1;
            }
        }
    }

    /// Takes the dump out while a READ works on it.
    pub fn take_dump(&mut self, id: HandleId) -> Option<DumpState> {
        let d = self.get_mut(id)?.dump.take()?;
        self.dumps -= 1;
        Some(d)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Handle> {
        self.slots.iter().filter_map(|(_, h)| h.as_ref())
    }

    pub fn open_count(&self) -> usize {
        self.open
    }

    /// Dump states alive (the leak the C driver once had: they must go with
    /// their handle).
    pub fn dump_count(&self) -> usize {
        self.dumps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_limits_and_stale_ids() {
        let mut t = Handles::default();
        let a = t.open().unwrap();
        let b = t.open().unwrap();
        assert_eq!(t.get(a).unwrap().pid, 1);
        assert_eq!(t.get(b).unwrap().pid, 2);
        t.close(a).unwrap();
        let c = t.open().unwrap();
        assert_eq!(t.get(c).unwrap().pid, 3, "pids are not reused");
        assert!(t.get(a).is_none(), "stale id");
        assert!(t.close(a).is_none());
        for _ in 2..MAX_HANDLES {
            t.open().unwrap();
        }
        assert_eq!(t.open(), Err(NtStatus::INSUFFICIENT_RESOURCES));
    }

    #[test]
    fn dump_states_are_counted_and_freed() {
        let mut t = Handles::default();
        let a = t.open().unwrap();
        let d = DumpState {
            hdr: MsgHeader::default(),
            cursor: 0,
            flags: 0,
        };
        t.set_dump(a, d);
        t.set_dump(a, d);
        assert_eq!(t.dump_count(), 1);
        t.close(a);
        assert_eq!(t.dump_count(), 0);
    }
}
