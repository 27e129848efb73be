//! Next hops the data path found no neighbour entry for, waiting for the
//! platform to resolve them (on Windows `ResolveIpNetEntry2`, from the
//! underlay feed's PASSIVE_LEVEL work item; the simulator resolves nothing).
//! Recording happens on the data path at DISPATCH_LEVEL: a fixed set of
//! slots claimed with one compare-and-swap each, so it never waits and
//! never allocates; an address already waiting is not recorded twice, and
//! one that finds every slot taken is counted.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering::*};

/// Next hops that may wait at once.
pub const SLOTS: usize = 16;

const FREE: u8 = 0;
/// Being written or read by whoever claimed it.
const CLAIMED: u8 = 1;
const WAITING_V4: u8 = 2;
const WAITING_V6: u8 = 3;

#[derive(Debug, Default)]
struct Slot {
    state: AtomicU8,
    hi: AtomicU64,
    lo: AtomicU64,
}

impl Slot {
    /// The address in a slot that is waiting (read by its claimer, or to
    /// compare: a slot taken meanwhile reads as some other address).
    fn addr(&self, state: u8) -> Option<IpAddr> {
        let bits = u128::from(self.hi.load(Relaxed)) << 64 | u128::from(self.lo.load(Relaxed));
        match state {
            WAITING_V4 => Some(IpAddr::V4(Ipv4Addr::from_bits(bits as u32))),
            WAITING_V6 => Some(IpAddr::V6(Ipv6Addr::from_bits(bits))),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
pub struct Unresolved {
    slots: [Slot; SLOTS],
    /// Next hops not recorded because every slot was taken.
    pub turned_away: AtomicU64,
}

impl Unresolved {
    /// Asks for `ip` to be resolved.
    pub fn record(&self, ip: IpAddr) {
        let waiting = self.slots.iter().any(|s| {
            let state = s.state.load(Acquire);
            s.addr(state) == Some(ip)
        });
        if waiting {
            return;
        }
        let (state, bits) = match ip {
            IpAddr::V4(a) => (WAITING_V4, u128::from(a.to_bits())),
            IpAddr::V6(a) => (WAITING_V6, a.to_bits()),
        };
        let free = self.slots.iter().find(|s| {
            s.state
                .compare_exchange(FREE, CLAIMED, Acquire, Relaxed)
                .is_ok()
        });
        match free {
            Some(s) => {
                s.hi.store((bits >> 64) as u64, Relaxed);
                s.lo.store(bits as u64, Relaxed);
                s.state.store(state, Release);
            }
            None => {
                self.turned_away.fetch_add(1, Relaxed);
            }
        }
    }

    /// Some next hop waits.
    pub fn pending(&self) -> bool {
        self.slots
            .iter()
            .any(|s| matches!(s.state.load(Relaxed), WAITING_V4 | WAITING_V6))
    }

    /// Hands every waiting next hop to `f`, freeing its slot.
    pub fn take(&self, mut f: impl FnMut(IpAddr)) {
        for s in &self.slots {
            let state = s.state.load(Acquire);
            if !matches!(state, WAITING_V4 | WAITING_V6)
                || s.state
                    .compare_exchange(state, CLAIMED, Acquire, Relaxed)
                    .is_err()
            {
                continue;
            }
            let addr = s.addr(state);
            s.state.store(FREE, Release);
            if let Some(a) = addr {
                f(a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn taken(u: &Unresolved) -> Vec<IpAddr> {
        let mut v = Vec::new();
        u.take(|a| v.push(a));
        v
    }

    #[test]
    fn records_once_and_hands_over() {
        let u = Unresolved::default();
        assert!(!u.pending());
        let a: IpAddr = "192.168.1.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.168.1.1".parse().unwrap();
        for ip in [a, b, a, mapped, b] {
            u.record(ip);
        }
        assert!(u.pending());
        assert_eq!(taken(&u), [a, b, mapped]);
        assert!(!u.pending());
        assert!(taken(&u).is_empty());
    }

    #[test]
    fn a_full_set_counts_what_it_turns_away() {
        let u = Unresolved::default();
        for i in 0..SLOTS as u32 + 3 {
            u.record(IpAddr::V4(Ipv4Addr::from_bits(0x0a00_0000 + i)));
        }
        assert_eq!(u.turned_away.load(Relaxed), 3);
        assert_eq!(taken(&u).len(), SLOTS);
        u.record(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(taken(&u), [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    }
}
