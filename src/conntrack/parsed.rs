//! The CT actions a processor parsed last, kept by their payload bytes: the
//! flows of a pipeline run the same few CT actions on every packet, which
//! Linux parses once, at install (`ovs_ct_copy_action`).

use alloc::vec::Vec;

use super::action::{self, CtAction, Family};
use crate::netlink::Errno;

/// Longest payload kept.
const MAX_PAYLOAD: usize = 128;
/// Actions kept.
const SLOTS: usize = 2;

struct Kept {
    /// Payload bytes (0: the slot is empty).
    len: usize,
    family: Family,
    payload: [u8; MAX_PAYLOAD],
    ct: CtAction,
}

const EMPTY: Kept = Kept {
    len: 0,
    family: Family::V4,
    payload: [0; MAX_PAYLOAD],
    ct: CtAction {
        commit: false,
        force: false,
        zone: 0,
        mark: None,
        labels: None,
        nat: None,
        eventmask: None,
        timeout: false,
        helper: None,
    },
};

/// The last `SLOTS` actions parsed, replaced in turn. The slots are on the
/// heap: the receive path's context, which holds this, is built on the
/// stack of an `OVS_PACKET_CMD_EXECUTE` (see `tests/stack.rs`).
pub struct Parsed {
    slots: Vec<Kept>,
    next: usize,
}

impl Parsed {
    /// Empty slots; `None` when out of memory.
    pub fn try_new() -> Option<Parsed> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(SLOTS).ok()?;
        slots.extend((0..SLOTS).map(|_| EMPTY));
        Some(Parsed { slots, next: 0 })
    }

    /// `action::parse(payload, family)`, from what was kept if it was parsed
    /// before.
    pub fn parse(&mut self, payload: &[u8], family: Family) -> Result<CtAction, Errno> {
        let kept = self
            .slots
            .iter()
            .find(|k| k.len != 0 && k.family == family && k.payload.get(..k.len) == Some(payload));
        if let Some(k) = kept {
            return Ok(k.ct);
        }
        let ct = action::parse(payload, family)?;
        // Written in place: a `Kept` is too big to build on the stack.
        if let Some(k) = self.slots.get_mut(self.next)
            && let Some(dst) = k.payload.get_mut(..payload.len())
        {
            dst.copy_from_slice(payload);
            (k.len, k.family, k.ct) = (payload.len(), family, ct);
            self.next = (self.next + 1) % SLOTS;
        }
        Ok(ct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::NlBuf;
    use crate::ovs::action as act;

    fn payload(zone: u16, commit: bool) -> std::vec::Vec<u8> {
        let mut buf = [0u8; 64];
        let mut b = NlBuf::new(&mut buf);
        if commit {
            b.put_attr(act::CT_COMMIT, &[]).unwrap();
        }
        b.put_u16(act::CT_ZONE, zone).unwrap();
        b.put_attr(act::CT_TIMEOUT, b"policy\0").unwrap();
        let n = b.len();
        buf[..n].to_vec()
    }

    #[test]
    fn kept_actions_are_what_parsing_gives() {
        let mut p = Parsed::try_new().unwrap();
        let (a, b, c) = (payload(1, false), payload(2, true), payload(3, false));
        let parse = |bytes: &[u8], family| action::parse(bytes, family);
        // Kept per family; two kept, replaced in turn; each read back as
        // parsing gives it.
        for (bytes, family) in [
            (&a, Family::V4),
            (&a, Family::V4),
            (&a, Family::V6),
            (&b, Family::V4),
            (&a, Family::V6),
            (&b, Family::V4),
            (&a, Family::V4),
            (&c, Family::V4),
        ] {
            assert_eq!(p.parse(bytes, family), parse(bytes, family));
        }
        // The last two distinct ones are kept: `c` took the slot of `b`.
        let kept: std::vec::Vec<_> = p
            .slots
            .iter()
            .map(|k| (k.payload[..k.len].to_vec(), k.family))
            .collect();
        assert_eq!(kept, [(c.clone(), Family::V4), (a.clone(), Family::V4)]);
        // What does not parse is refused.
        assert_eq!(p.parse(&[1, 0], Family::V4), Err(Errno::Inval));
    }
}
