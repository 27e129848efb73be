//! The datapath's life with the switch, as `sys::hyperv` sees it: one
//! activation at a time, "active" published last.
//!
//! - `activate` runs once (a second call while one runs, or after one
//!   succeeded, does nothing): it imports the switch's ports and NICs and
//!   starts the upkeep, and only then publishes the datapath as active, so
//!   the packet path never runs frames against a half-built port table. A
//!   failure undoes the import and leaves the datapath inactive; a later
//!   restart or activation event may try again.
//! - `reset` (detach): back to the start.

use core::sync::atomic::{AtomicU8, Ordering};

/// An activation is running.
const ACTIVATING: u8 = 1 << 0;
/// The switch's ports and NICs are imported and the upkeep runs.
const ACTIVE: u8 = 1 << 1;

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

    /// The switch detached (or its activation is undone): inactive.
    pub fn reset(&self) {
        self.0.store(0, Ordering::Release);
    }
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
}
