//! Where the data path keeps frame bytes: in place in the NBL the switch
//! gave us when that is allowed, in a per-processor scratch buffer when the
//! frame must be gathered or copied out of memory a guest shares, and in
//! buffers of our own (NBLs from our pools) for frames we rewrite or send.

/// Room in front of a frame in our buffers, for tags pushed in band.
pub const HEADROOM: usize = 128;
/// Data bytes of the pool for ordinary frames (an Ethernet frame with two
/// tags and headroom fits).
pub const SMALL_DATA: usize = 2048;
/// Data bytes of the pool for everything longer: an IP packet of 64 KiB
/// with its Ethernet header and two tags, plus headroom.
pub const LARGE_DATA: usize = 65536 + 512;
/// Longest frame a buffer of ours or the scratch buffer holds.
pub const MAX_FRAME: usize = LARGE_DATA - HEADROOM;
/// The per-processor scratch buffer.
pub const SCRATCH: usize = MAX_FRAME;

// A 64 KiB IP packet with its Ethernet header and two tags fits.
const _: () = assert!(65535 + 14 + 8 <= MAX_FRAME);

/// Our two data pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    Small,
    Large,
}

impl Pool {
    pub const fn data_size(self) -> usize {
        match self {
            Pool::Small => SMALL_DATA,
            Pool::Large => LARGE_DATA,
        }
    }
}

/// The pool a frame of `len` bytes is copied into; `None` if it is too long.
pub fn pool_for(len: usize) -> Option<Pool> {
    match len.checked_add(HEADROOM)? {
        n if n <= SMALL_DATA => Some(Pool::Small),
        n if n <= LARGE_DATA => Some(Pool::Large),
        _ => None,
    }
}

/// Whether a frame of `len` bytes may be read in place: the switch says
/// which leading bytes (or all) sit in host memory a guest cannot write;
/// bytes past that must be copied before they are looked at, or a guest
/// could change them between two reads.
pub fn readable_in_place(all_safe: bool, safe_len: u16, len: usize) -> bool {
    all_safe || len <= usize::from(safe_len)
}

/// The frame's place in a buffer of ours: `cap` bytes, the frame at
/// `start..start + len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    cap: usize,
    start: usize,
    len: usize,
}

impl Window {
    /// A frame of `len` bytes after `HEADROOM` in a `cap`-byte buffer.
    pub fn new(cap: usize, len: usize) -> Option<Window> {
        (HEADROOM.checked_add(len)? <= cap).then_some(Window {
            cap,
            start: HEADROOM,
            len,
        })
    }

    pub fn start(&self) -> usize {
        self.start
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `n` more bytes in front; false when the headroom is short.
    pub fn push_front(&mut self, n: usize) -> bool {
        match self.start.checked_sub(n) {
            Some(start) => {
                self.start = start;
                self.len += n;
                true
            }
            None => false,
        }
    }

    /// `n` bytes fewer in front; false when the frame is shorter.
    pub fn pull_front(&mut self, n: usize) -> bool {
        match self.len.checked_sub(n) {
            Some(len) => {
                self.start += n;
                self.len = len;
                true
            }
            None => false,
        }
    }

    /// At most `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// The frame's byte range in the buffer (always within `cap`).
    pub fn range(&self) -> core::ops::Range<usize> {
        self.start..(self.start + self.len).min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_by_length() {
        assert_eq!(pool_for(0), Some(Pool::Small));
        assert_eq!(pool_for(SMALL_DATA - HEADROOM), Some(Pool::Small));
        assert_eq!(pool_for(SMALL_DATA - HEADROOM + 1), Some(Pool::Large));
        assert_eq!(pool_for(MAX_FRAME), Some(Pool::Large));
        assert_eq!(pool_for(MAX_FRAME + 1), None);
        assert_eq!(pool_for(usize::MAX), None);
    }

    #[test]
    fn window_moves_within_its_buffer() {
        let mut w = Window::new(SMALL_DATA, 100).unwrap();
        assert_eq!(w.range(), HEADROOM..HEADROOM + 100);
        assert!(w.push_front(4));
        assert_eq!(w.range(), HEADROOM - 4..HEADROOM + 100);
        assert!(!w.push_front(HEADROOM));
        assert!(w.pull_front(10));
        assert_eq!(w.len(), 94);
        assert!(!w.pull_front(95));
        w.truncate(1000);
        assert_eq!(w.len(), 94);
        w.truncate(14);
        assert_eq!(w.range(), HEADROOM + 6..HEADROOM + 20);
        assert!(Window::new(HEADROOM + 9, 10).is_none());
        assert!(Window::new(10, usize::MAX).is_none());
    }

    #[test]
    fn safe_bytes() {
        assert!(readable_in_place(true, 0, 9000));
        assert!(readable_in_place(false, 128, 128));
        assert!(!readable_in_place(false, 128, 129));
    }
}
