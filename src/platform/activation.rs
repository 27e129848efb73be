//! The datapath's life with the switch, as `sys::hyperv` and `sys::filter`
//! see it: one activation at a time, "active" published last, and a detach
//! announced ahead of time.
//!
//! - `activate` runs once (a second call while one runs, or after one
//!   succeeded, does nothing): it imports the switch's ports and NICs and
//!   starts the upkeep, and only then publishes the datapath as active, so
//!   the packet path never runs frames against a half-built port table. A
//!   failure undoes the import and leaves the datapath inactive; a later
//!   restart or activation event may try again.
//! - `pre_detach` (`NetEventFilterPreDetach`): the extension stops
//!   originating anything (sends, executed packets) until the detach.
//! - `reset` (detach): back to the start.

use core::sync::atomic::{AtomicU8, Ordering};

use crate::ioctl::code;
use crate::netlink::MsgHeader;
use crate::ovs::{family as fam, packet as op};
use crate::status::NtStatus;

/// An activation is running.
const ACTIVATING: u8 = 1 << 0;
/// The switch's ports and NICs are imported and the upkeep runs.
const ACTIVE: u8 = 1 << 1;
/// A detach is announced.
const DETACHING: u8 = 1 << 2;

#[derive(Debug, Default)]
pub struct Activation(AtomicU8);

impl Activation {
    pub const fn new() -> Activation {
        Activation(AtomicU8::new(0))
    }

    /// Activates the datapath unless it is active or being activated:
    /// `import`, then `start`; on a failure `undo`, and the error.
    pub fn activate<E>(
        &self,
        import: impl FnOnce() -> Result<(), E>,
        start: impl FnOnce() -> Result<(), E>,
        undo: impl FnOnce(),
    ) -> Result<(), E> {
        if self
            .0
            .compare_exchange(0, ACTIVATING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Ok(());
        }
        match import().and_then(|()| start()) {
            Ok(()) => {
                // Published last (Release: whoever sees it sees the import).
                self.0.fetch_xor(ACTIVATING | ACTIVE, Ordering::AcqRel);
                Ok(())
            }
            Err(e) => {
                undo();
                self.0.fetch_and(!ACTIVATING, Ordering::AcqRel);
                Err(e)
            }
        }
    }

    /// Whether the datapath is active: the packet path runs frames through it.
    pub fn is_active(&self) -> bool {
        self.0.load(Ordering::Acquire) & ACTIVE != 0
    }

    /// `NetEventFilterPreDetach`: nothing new is originated from now on.
    pub fn pre_detach(&self) {
        self.0.fetch_or(DETACHING, Ordering::AcqRel);
    }

    /// Whether a detach is announced.
    pub fn is_detaching(&self) -> bool {
        self.0.load(Ordering::Acquire) & DETACHING != 0
    }

    /// The switch detached (or its activation is undone): inactive.
    pub fn reset(&self) {
        self.0.store(0, Ordering::Release);
    }

    /// The status an IOCTL is refused with while a detach is announced:
    /// `OVS_PACKET_CMD_EXECUTE`, the one request that makes the extension
    /// send, gets what every request gets once the switch is gone
    /// (`STATUS_NOT_FOUND`); the others run as usual.
    pub fn refuses(&self, ioctl: u32, input: &[u8]) -> Option<NtStatus> {
        (self.is_detaching() && is_packet_execute(ioctl, input)).then_some(NtStatus::NOT_FOUND)
    }
}

/// Whether an IOCTL carries `OVS_PACKET_CMD_EXECUTE` (only TRANSACT may).
fn is_packet_execute(ioctl: u32, input: &[u8]) -> bool {
    ioctl == code::TRANSACT
        && MsgHeader::read(input).is_some_and(|h| h.ty == fam::PACKET && h.cmd == op::CMD_EXECUTE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    #[test]
    fn active_is_published_after_the_import_and_the_upkeep() {
        let a = Activation::new();
        let seen = Cell::new(None);
        let nested = Cell::new(false);
        let r: Result<(), ()> = a.activate(
            || {
                seen.set(Some(a.is_active()));
                // Re-entered during the import (an activation event while
                // a restart imports): nothing runs twice.
                let again: Result<(), ()> = a.activate(
                    || {
                        nested.set(true);
                        Ok(())
                    },
                    || Ok(()),
                    || {},
                );
                assert_eq!(again, Ok(()));
                Ok(())
            },
            || {
                assert!(!a.is_active(), "not active before the upkeep started");
                Ok(())
            },
            || panic!("nothing to undo"),
        );
        assert_eq!(r, Ok(()));
        assert_eq!(seen.get(), Some(false), "not active during the import");
        assert!(!nested.get());
        assert!(a.is_active());
        // Once active, activation does nothing.
        let again: Result<(), ()> = a.activate(|| Err(()), || Err(()), || panic!());
        assert_eq!(again, Ok(()));
        assert!(a.is_active());
    }

    #[test]
    fn a_failed_activation_is_undone_and_may_be_retried() {
        let a = Activation::new();
        let undone = Cell::new(0);
        let r = a.activate(|| Ok(()), || Err("timer"), || undone.set(undone.get() + 1));
        assert_eq!(r, Err("timer"));
        assert_eq!(undone.get(), 1);
        assert!(!a.is_active());
        let r = a.activate(|| Err("import"), || Ok(()), || undone.set(undone.get() + 1));
        assert_eq!(r, Err("import"));
        assert_eq!(undone.get(), 2);
        let r: Result<(), &str> = a.activate(|| Ok(()), || Ok(()), || panic!());
        assert_eq!(r, Ok(()));
        assert!(a.is_active());
        a.reset();
        assert!(!a.is_active());
    }

    fn request(ty: u16, cmd: u8) -> [u8; 24] {
        MsgHeader {
            len: 24,
            ty,
            cmd,
            version: 1,
            ..MsgHeader::default()
        }
        .to_bytes()
    }

    #[test]
    fn a_detach_announced_refuses_packet_executes_only() {
        let a = Activation::new();
        let _ = a.activate(|| Ok::<(), ()>(()), || Ok(()), || {});
        let execute = request(fam::PACKET, op::CMD_EXECUTE);
        assert_eq!(a.refuses(code::TRANSACT, &execute), None);
        a.pre_detach();
        assert!(a.is_detaching());
        assert!(a.is_active());
        assert_eq!(
            a.refuses(code::TRANSACT, &execute),
            Some(NtStatus::NOT_FOUND)
        );
        // Everything else still runs: flow dumps, datapath gets, reads.
        assert_eq!(a.refuses(code::TRANSACT, &request(fam::FLOW, 1)), None);
        assert_eq!(a.refuses(code::TRANSACT, &request(fam::DATAPATH, 3)), None);
        assert_eq!(a.refuses(code::READ_PACKET, &execute), None);
        assert_eq!(a.refuses(code::TRANSACT, &execute[..10]), None);
        // No activation after the announcement; the detach resets.
        let again: Result<(), ()> = a.activate(|| panic!(), || Ok(()), || {});
        assert_eq!(again, Ok(()));
        a.reset();
        assert!(!a.is_detaching());
        assert_eq!(a.refuses(code::TRANSACT, &execute), None);
    }
}
