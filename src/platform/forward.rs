//! What the switch data path decides about NBLs, kept apart from the NDIS
//! calls that carry the decisions out.
//!
//! - An output of a frame the actions left untouched becomes a destination
//!   of the NBL it came in (`route`, `place`): the switch delivers one NBL
//!   to all of them. A frame whose out-of-band 802.1Q tag changed goes out in a clone
//!   of its NBL (same data, its own out-of-band information); a frame whose
//!   bytes changed goes out in a copy of our own.
//! - Once every frame of an NBL went through the datapath, the NBL is sent
//!   on with its destinations, completed back to its source (dropped, or
//!   consumed by copies), or held until its clones complete (`fate`).
//! - A copy owes what the sender left to the NIC (`copy_offload`).
//! - NBLs go to NDIS in runs (`runs`): completions grouped by source port,
//!   so the single-source flag is only ever claimed for a run that has one
//!   source; sends grouped when they share their only destination.

use crate::offload::{Checksums, Lso, Request};

/// Destinations one NBL may carry; outputs beyond are dropped.
pub const MAX_DESTINATIONS: u32 = 4096;
/// Destination slots the first growth adds (later ones double).
const FIRST_GROWTH: u32 = 4;

/// How one more destination is put on an NBL, given how many it has
/// (`NumDestinations`) and how many free slots follow them
/// (`NumAvailableDestinations`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The first one: `AddNetBufferListDestination` commits it.
    Add,
    /// Write element `at` of the destination array, commit one.
    Write { at: u32 },
    /// `GrowNetBufferListDestinations` by `by` slots first, then write
    /// element `at`, commit one.
    Grow { by: u32, at: u32 },
    /// `MAX_DESTINATIONS` reached.
    Full,
}

pub fn place(destinations: u32, available: u16) -> Placement {
    if destinations >= MAX_DESTINATIONS {
        Placement::Full
    } else if available > 0 {
        Placement::Write { at: destinations }
    } else if destinations == 0 {
        Placement::Add
    } else {
        let by = destinations
            .max(FIRST_GROWTH)
            .min(MAX_DESTINATIONS - destinations);
        Placement::Grow {
            by,
            at: destinations,
        }
    }
}

/// How one output of a frame the switch gave us leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// A destination on the frame's own NBL.
    Destination,
    /// A destination on a clone of the NBL carrying the frame's
    /// out-of-band tag.
    Clone,
    /// A copy of ours with one destination.
    Copy,
}

/// The route of an output: `whole` (neither end of the frame was cut),
/// `sole` (the frame is its NBL's only one), its tag and its NBL's tag.
/// A destination applies to every frame of an NBL, with the NBL's tag.
pub fn route(whole: bool, sole: bool, tag: Option<u16>, nbl_tag: Option<u16>) -> Route {
    match (whole && sole, tag == nbl_tag) {
        (false, _) => Route::Copy,
        (true, true) => Route::Destination,
        (true, false) => Route::Clone,
    }
}

/// What happens to an NBL the switch gave us once its frames went through
/// the datapath.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Sent on to its destinations.
    Forward,
    /// Nothing goes out: completed back to its source, reported as dropped.
    Drop,
    /// Its frames went out in copies of ours only: completed back to its
    /// source (not a drop).
    Consumed,
    /// Clones of it are out: it is completed when the last one comes back.
    /// With `plain_clone`, its own destinations go out in one more clone
    /// (an NBL that is held cannot be sent itself).
    Hold { plain_clone: bool },
}

/// The fate of an NBL with `destinations` on it, `clones` made of it and
/// `copies` of its frames sent.
pub fn fate(destinations: u32, clones: u32, copies: u32) -> Fate {
    match (destinations, clones) {
        (0, 0) if copies > 0 => Fate::Consumed,
        (0, 0) => Fate::Drop,
        (_, 0) => Fate::Forward,
        (d, _) => Fate::Hold { plain_clone: d > 0 },
    }
}

/// Which way a frame crosses the switch, as far as its offload slots go:
/// frames from the external (physical) port carry what the NIC found on
/// receive; all others carry what their sender asks of the NIC on send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Transmit,
    Receive,
}

/// What a copy of a frame does about its offload slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyOffload {
    /// Keep the slots: the bytes the requests describe are unchanged (or
    /// they are receive results, which rewrites keep valid: header
    /// rewrites update checksums incrementally).
    Keep,
    /// Compute these checksums in software, then clear the slots.
    Complete(Checksums),
    /// Cut the super-frame into MSS-sized frames with complete checksums,
    /// then clear the slots.
    Segment(Lso),
}

/// The rule: a transmit request on a frame whose bytes were rewritten is
/// done in software, because offsets and partial sums the sender computed
/// for the NIC no longer describe the frame (a pushed tag moves the TCP
/// header; an LSO pseudo-header sum does not follow a port rewrite).
/// Everything else keeps its slots, and the NIC below does the work.
pub fn copy_offload(direction: Direction, request: Request, rewritten: bool) -> CopyOffload {
    match (direction, rewritten, request.lso) {
        (Direction::Receive, _, _) | (Direction::Transmit, false, _) => CopyOffload::Keep,
        (Direction::Transmit, true, Some(lso)) => CopyOffload::Segment(lso),
        (Direction::Transmit, true, None) if request.checksums.any() => {
            CopyOffload::Complete(request.checksums)
        }
        (Direction::Transmit, true, None) => CopyOffload::Keep,
    }
}

/// A singly linked list the platform keeps its NBLs in (NDIS chains them
/// through `Next`).
pub trait Links {
    type Node: Copy;
    fn next(&self, n: Self::Node) -> Option<Self::Node>;
    fn set_next(&mut self, n: Self::Node, next: Option<Self::Node>);
}

/// Cuts the list from `head` into runs of consecutive nodes with equal
/// `key`s (a `None` key never joins a run), and hands each run to `emit`
/// as (first node, node count, key) with its last link cut.
pub fn runs<L: Links, K: PartialEq + Copy>(
    list: &mut L,
    head: Option<L::Node>,
    key: impl Fn(&L, L::Node) -> Option<K>,
    mut emit: impl FnMut(&mut L, L::Node, usize, Option<K>),
) {
    let Some(mut first) = head else { return };
    let mut k = key(list, first);
    let mut last = first;
    let mut count = 1;
    loop {
        let next = list.next(last);
        let joins = next
            .map(|n| (n, key(list, n)))
            .filter(|&(_, nk)| nk.is_some() && nk == k);
        match (next, joins) {
            (Some(n), Some(_)) => {
                last = n;
                count += 1;
            }
            _ => {
                list.set_next(last, None);
                emit(list, first, count, k);
                let Some(n) = next else { return };
                first = n;
                k = key(list, n);
                last = n;
                count = 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_grows_by_doubling_up_to_the_limit() {
        assert_eq!(place(0, 0), Placement::Add);
        assert_eq!(place(0, 3), Placement::Write { at: 0 });
        assert_eq!(place(1, 0), Placement::Grow { by: 4, at: 1 });
        assert_eq!(place(5, 2), Placement::Write { at: 5 });
        assert_eq!(place(8, 0), Placement::Grow { by: 8, at: 8 });
        assert_eq!(
            place(MAX_DESTINATIONS - 3, 0),
            Placement::Grow {
                by: 3,
                at: MAX_DESTINATIONS - 3
            }
        );
        assert_eq!(place(MAX_DESTINATIONS, 7), Placement::Full);
    }

    #[test]
    fn fates() {
        assert_eq!(fate(0, 0, 0), Fate::Drop);
        assert_eq!(fate(0, 0, 2), Fate::Consumed);
        assert_eq!(fate(3, 0, 1), Fate::Forward);
        assert_eq!(fate(0, 2, 0), Fate::Hold { plain_clone: false });
        assert_eq!(fate(1, 1, 5), Fate::Hold { plain_clone: true });
    }

    #[test]
    fn routes() {
        assert_eq!(route(true, true, Some(5), Some(5)), Route::Destination);
        assert_eq!(route(true, true, None, Some(5)), Route::Clone);
        assert_eq!(route(true, false, Some(5), Some(5)), Route::Copy);
        assert_eq!(route(false, true, None, None), Route::Copy);
    }
}
