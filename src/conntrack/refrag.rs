//! Cutting a reassembled packet back into fragments of at most its MRU
//! when it leaves by a port (Linux's `ovs_fragment` over `ip_do_fragment`
//! and `ip6_fragment`).
//!
//! Each fragment is a copy of the packet's headers and its piece of the
//! data: IPv4 repeats the whole header with its offset, MF and checksum,
//! every option too (Linux's `ovs_fragment` clears the control block, so
//! `ip_options_fragment` finds no options to blank in later fragments);
//! IPv6 repeats the unfragmentable part (the header, hop-by-hop and
//! routing headers) and adds a fragment header with a fresh id (keyed by
//! the addresses, as Linux's). DF does not stop the cut, and the fragments
//! leave without it (the cleared control block no longer asks for it).
//! Output to a tunnel
//! port cuts before encapsulating, each fragment in a tunnel packet of its
//! own, as Linux; userspace upcalls do not cut, they carry the MRU.

use super::frag::Reassembly;
use crate::actions::headers::{
    self, NEXTHDR_DEST, NEXTHDR_FRAGMENT, NEXTHDR_HOP, NEXTHDR_ROUTING, get, put,
};
use crate::packet::Packet;

/// Why a packet could not be cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not IP, cut short, or an MRU too small for 8 bytes of data.
    Unfit,
    /// A copy could not be had.
    NoMemory,
}

/// Whether `pkt` must be cut before it leaves: it carries an MRU and its IP
/// packet is longer.
pub fn needed<P: Packet>(pkt: &P) -> bool {
    let mru = usize::from(pkt.mru());
    mru != 0 && ip_of(pkt).is_some_and(|ip| ip.end - ip.l3 > mru)
}

fn ip_of<P: Packet>(pkt: &P) -> Option<headers::Ip> {
    let frame = pkt.data();
    let l2 = headers::l2(frame, pkt.oob_vlan())?;
    headers::ip_at(frame, l2.eth_type, l2.l3)
}

/// Cuts `pkt` into fragments of at most its MRU, handing each to `emit`
/// in order; IPv6 fragments carry an id `ids` draws. Returns how many were
/// emitted.
pub fn fragment<P: Packet>(
    pkt: &P,
    ids: &Reassembly,
    emit: &mut dyn FnMut(P),
) -> Result<usize, Refused> {
    let ip = ip_of(pkt).ok_or(Refused::Unfit)?;
    let frame = pkt.data();
    let mru = usize::from(pkt.mru());
    if ip.v6 {
        let src = get(frame, ip.l3 + 8).ok_or(Refused::Unfit)?;
        let dst = get(frame, ip.l3 + 24).ok_or(Refused::Unfit)?;
        let id = ids.next_id(src, dst);
        let (next_at, unfrag) = unfragmentable(frame, ip.l3).ok_or(Refused::Unfit)?;
        let next = *frame.get(next_at).ok_or(Refused::Unfit)?;
        let per = (mru.saturating_sub(unfrag - ip.l3 + 8)) & !7;
        let cut = Cut {
            start: unfrag,
            len: ip.end.checked_sub(unfrag).ok_or(Refused::Unfit)?,
            per,
            shift: 8,
        };
        cut.each(pkt, emit, |f, off, n, more| {
            let payload = u16::try_from(unfrag - ip.l3 - 40 + 8 + n).ok()?;
            put(f, ip.l3 + 4, payload.to_be_bytes())?;
            *f.get_mut(next_at)? = NEXTHDR_FRAGMENT;
            let field = u16::try_from(off).ok()? | u16::from(more);
            put(f, unfrag, [next, 0])?;
            put(f, unfrag + 2, field.to_be_bytes())?;
            put(f, unfrag + 4, id.to_be_bytes())
        })
    } else {
        let [ver_ihl] = get::<1>(frame, ip.l3).ok_or(Refused::Unfit)?;
        let hlen = usize::from(ver_ihl & 0x0f) * 4;
        let start = ip.l3 + hlen;
        let cut = Cut {
            start,
            len: ip.end.checked_sub(start).ok_or(Refused::Unfit)?,
            per: mru.saturating_sub(hlen) & !7,
            shift: 0,
        };
        cut.each(pkt, emit, |f, off, n, more| {
            let total = u16::try_from(hlen + n).ok()?;
            let field = u16::try_from(off / 8).ok()? | if more { 0x2000 } else { 0 };
            put(f, ip.l3 + 2, total.to_be_bytes())?;
            put(f, ip.l3 + 6, field.to_be_bytes())?;
            crate::offload::ipv4_checksum(f, ip.l3)
        })
    }
}

/// The IPv6 headers every fragment repeats: where the next-header byte
/// that will name the fragment header is, and where the fragmentable part
/// starts.
fn unfragmentable(frame: &[u8], l3: usize) -> Option<(usize, usize)> {
    let mut next_at = l3 + 6;
    let mut off = l3 + 40;
    // Each step moves on by at least 8 bytes; it ends with the frame.
    loop {
        let next = *frame.get(next_at)?;
        let [after, len] = get(frame, off).unwrap_or([0, 0]);
        let routing_follows = next == NEXTHDR_DEST && after == NEXTHDR_ROUTING;
        if next != NEXTHDR_HOP && next != NEXTHDR_ROUTING && !routing_follows {
            return Some((next_at, off));
        }
        get::<2>(frame, off)?;
        next_at = off;
        off += (usize::from(len) + 1) * 8;
    }
}

/// How the data after `start` (`len` bytes) is cut: `per` bytes a
/// fragment, moved down to `start + shift`.
struct Cut {
    start: usize,
    len: usize,
    per: usize,
    shift: usize,
}

impl Cut {
    /// Makes each fragment from a copy of `pkt`, `header` writing its
    /// header fields (offset, length, more).
    fn each<P: Packet>(
        &self,
        pkt: &P,
        emit: &mut dyn FnMut(P),
        header: impl Fn(&mut [u8], usize, usize, bool) -> Option<()>,
    ) -> Result<usize, Refused> {
        if self.per < 8 {
            return Err(Refused::Unfit);
        }
        // Every fragment is copied from the headers and one fragment's room,
        // not from the whole packet: cutting costs what the packet is long.
        let to = self.start + self.shift;
        let mut base = pkt.try_clone().ok_or(Refused::NoMemory)?;
        base.truncate(to + self.per);
        let mut base = Some(base);
        let whole = pkt.data();
        let mut off = 0;
        let mut n_frags = 0;
        while off < self.len {
            let n = self.per.min(self.len - off);
            let more = off + n < self.len;
            // The last fragment takes the base itself.
            let copy = if more {
                base.as_ref().and_then(P::try_clone)
            } else {
                base.take()
            };
            let mut copy = copy.ok_or(Refused::NoMemory)?;
            let f = copy.data_mut().ok_or(Refused::NoMemory)?;
            let from = self.start + off;
            // Both ranges lie within their frames (the data is longer than
            // one fragment's, so the room was there to keep).
            let (Some(data), Some(room)) = (whole.get(from..from + n), f.get_mut(to..to + n))
            else {
                return Err(Refused::Unfit);
            };
            room.copy_from_slice(data);
            header(f, off, n, more).ok_or(Refused::Unfit)?;
            copy.truncate(to + n);
            copy.set_mru(0);
            emit(copy);
            n_frags += 1;
            off += n;
        }
        Ok(n_frags)
    }
}

#[cfg(test)]
mod tests {
    use super::super::frag::tests::{cut4, cut6, set_df, udp4, udp6};
    use super::super::frag::{Outcome, Reassembly, fragment as read};
    use super::*;
    use crate::packet::{OwnedPacket, Watched};
    use std::vec::Vec;

    fn cut(frame: &[u8], mru: u16) -> Result<Vec<Vec<u8>>, Refused> {
        let mut p = OwnedPacket::from_frame(frame).unwrap();
        p.set_mru(mru);
        let mut out = Vec::new();
        let ids = Reassembly::new(0).unwrap();
        fragment(&p, &ids, &mut |f: OwnedPacket| out.push(f.data().to_vec()))?;
        Ok(out)
    }

    #[test]
    fn ipv4_cuts_to_the_mru_and_back() {
        let whole = udp4(3000, 7);
        assert_eq!(cut(&whole, 1500).unwrap(), cut4(&whole, &[1480, 1480, 48]));
        let mut p = OwnedPacket::from_frame(&whole).unwrap();
        assert!(!needed(&p));
        p.set_mru(1500);
        assert!(needed(&p));
        p.set_mru(4000);
        assert!(!needed(&p));
        // DF set: cut all the same, and the fragments leave without it
        // (Linux's `ovs_fragment` clears the control block that would keep
        // it, and `ip_do_fragment` does not look at DF).
        let mut df = whole.clone();
        set_df(&mut df, true);
        assert_eq!(cut(&df, 1500).unwrap(), cut4(&whole, &[1480, 1480, 48]));
        assert_eq!(cut(&whole, 27), Err(Refused::Unfit));
    }

    /// Each fragment copies its own bytes, not the whole packet: cutting
    /// costs in proportion to the packet, not to the packet times the
    /// number of fragments.
    #[test]
    fn cutting_copies_each_byte_a_bounded_number_of_times() {
        for (whole, mru) in [(udp4(65_000, 9), 296), (udp6(65_000), 296)] {
            let mut p = Watched::new(OwnedPacket::from_frame(&whole).unwrap());
            p.set_mru(mru);
            let mut out = Vec::new();
            let ids = Reassembly::new(0).unwrap();
            let n = fragment(&p, &ids, &mut |f: Watched| out.push(f.pkt.data().to_vec())).unwrap();
            assert!(n > 200, "{n}");
            let sent: usize = out.iter().map(Vec::len).sum();
            assert!(
                p.copied.get() <= whole.len() + sent + usize::from(mru),
                "{} bytes copied for {} sent",
                p.copied.get(),
                sent
            );
        }
    }

    use proptest::prelude::*;

    proptest! {
        /// Any datagram cut to any MRU comes back whole from the
        /// reassembler (IPv4 without DF), every fragment within the MRU;
        /// any bytes at all, cut, never panic.
        #[test]
        fn cut_and_put_back(
            n in 1usize..9000,
            mru in 0u16..3000,
            v6 in any::<bool>(),
            df in any::<bool>(),
            junk in proptest::collection::vec(any::<u8>(), 0..200),
            exts in proptest::collection::vec(
                prop_oneof![Just(NEXTHDR_HOP), Just(NEXTHDR_ROUTING), Just(NEXTHDR_DEST)],
                0..4,
            ),
        ) {
            let mut whole = if v6 { udp6(n) } else { udp4(n, 5) };
            if v6 {
                // Extension headers of 8 bytes each before UDP.
                for &ext in exts.iter().rev() {
                    let next = whole[20];
                    whole.splice(54..54, [next, 0, 1, 4, 0, 0, 0, 0]);
                    whole[20] = ext;
                    let len = u16::from_be_bytes([whole[18], whole[19]]) + 8;
                    whole[18..20].copy_from_slice(&len.to_be_bytes());
                }
            }
            if df && !v6 {
                set_df(&mut whole, true);
            }
            let mut p = OwnedPacket::from_frame(&whole).unwrap();
            p.set_mru(mru);
            let mut out = Vec::new();
            let r = Reassembly::new(0).unwrap();
            let cut = fragment(&p, &r, &mut |f: OwnedPacket| out.push(f.data().to_vec()));
            // The reassembler takes at most MAX_FRAGS of them, and an IPv6
            // first fragment only with every header through UDP's (RFC 8200
            // 4.5): an MRU that leaves no room for them is userspace's to
            // give, never a reassembled packet's.
            let headers = whole.len() - 14 - n + 8 + 8;
            let fits = !v6 || usize::from(mru) >= headers;
            if needed(&p) && cut.is_ok() && fits && out.len() <= super::super::frag::MAX_FRAGS {
                let mut done = None;
                for f in &out {
                    prop_assert!(f.len() - 14 <= usize::from(mru));
                    if let Outcome::Complete(d) = r.add(&read(f, None, 0).unwrap(), 0) {
                        done = Some(d.frame);
                    }
                }
                let mut expect = whole.clone();
                if !v6 {
                    set_df(&mut expect, false);
                }
                prop_assert_eq!(done, Some(expect));
            }
            let mut j = OwnedPacket::from_frame(&[&whole[..14], &junk[..]].concat()).unwrap();
            j.set_mru(mru);
            let _ = fragment(&j, &r, &mut |_| {});
        }
    }

    #[test]
    fn ipv6_cuts_with_fragment_headers() {
        let whole = udp6(3000);
        let frags = cut(&whole, 1496).unwrap();
        // The id a table of the same seed draws first for the addresses.
        let addr = |at: usize| whole[at..at + 16].try_into().unwrap();
        let id = Reassembly::new(0).unwrap().next_id(addr(22), addr(38));
        assert_eq!(frags, cut6(&whole, &[1448, 1448, 112], id));
        let r = Reassembly::new(0).unwrap();
        let outs: Vec<Outcome> = frags
            .iter()
            .map(|f| r.add(&read(f, None, 0).unwrap(), 0))
            .collect();
        assert!(matches!(&outs[2], Outcome::Complete(d) if d.frame == whole));
    }
}
