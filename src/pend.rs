//! Pended requests: the core keeps an opaque token for each IOCTL it left
//! pending and hands tokens back to the platform to complete, always after
//! releasing its locks.

use alloc::vec::Vec;

/// Names one pended IOCTL; chosen by the platform (the IRP on Windows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PendToken(pub u64);

/// Pended requests to complete with `STATUS_SUCCESS` and 0 bytes.
#[derive(Debug, Default, PartialEq, Eq)]
#[must_use = "pended requests must be completed"]
pub struct Wakeups(Vec<PendToken>);

impl Wakeups {
    pub fn new() -> Wakeups {
        Wakeups(Vec::new())
    }

    /// Records a token to complete; gives it back if memory is short so the
    /// caller can leave the request pended instead of losing it.
    pub fn try_push(&mut self, token: PendToken) -> Result<(), PendToken> {
        self.0.try_reserve(1).map_err(|_| token)?;
        self.0.push(token);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn into_tokens(self) -> Vec<PendToken> {
        self.0
    }
}

/// A request slot: at most one pended request per queue.
#[derive(Debug, Default)]
pub struct Slot(Option<PendToken>);

impl Slot {
    pub fn is_pending(&self) -> bool {
        self.0.is_some()
    }

    pub fn set(&mut self, token: PendToken) {
        self.0 = Some(token);
    }

    /// Moves the pended token (if any) into `wake`; if `wake` cannot take it,
    /// the request stays pended.
    pub fn wake_into(&mut self, wake: &mut Wakeups) {
        if let Some(Err(t)) = self.0.take().map(|t| wake.try_push(t)) {
            self.0 = Some(t);
        }
    }

    /// Forgets `token` if it is the one pended here (it was cancelled).
    pub fn cancel(&mut self, token: PendToken) -> bool {
        if self.0 == Some(token) {
            self.0 = None;
            return true;
        }
        false
    }
}
