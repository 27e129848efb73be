//! MPLS label stack: the first three entries go in the key.

use super::wire::view;
use super::{Layout, Network};
use crate::flow::key::FlowKey;
use zerocopy::network_endian::U32;

const BOTTOM_OF_STACK: u32 = 0x100;
/// Entries the key holds.
const MAX_LABELS: u8 = 3;

/// Entries are read up to the bottom of stack. `Layout::mpls_labels` counts
/// them up to three, and (as Linux's label mask) is 0 if the frame ends before
/// the bottom of stack, although the entries read stay in the key.
pub(super) fn parse(frame: &[u8], key: &mut FlowKey, layout: &mut Layout) {
    let mut at = layout.l3;
    let mut read: u8 = 0;
    let mut slots = key.mpls_lse.iter_mut();
    while let Some(lse) = view::<U32>(frame, at) {
        let lse = lse.get();
        if let Some(slot) = slots.next() {
            *slot = lse;
        }
        read = read.saturating_add(1);
        at += 4;
        layout.mpls_end = at;
        layout.network = Some(Network::Mpls);
        if lse & BOTTOM_OF_STACK != 0 {
            layout.mpls_labels = read.min(MAX_LABELS);
            key.mpls_labels = (1u32 << layout.mpls_labels) - 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::frames::*;
    use super::*;

    fn lse(label: u32, bos: bool) -> [u8; 4] {
        (label << 12 | u32::from(bos) << 8 | 64).to_be_bytes()
    }

    #[test]
    fn single_label() {
        let (k, l) = run(&cat(&[&eth(0x8847), &lse(100, true), &ipv4(6, 0)]));
        assert_eq!(k.mpls_lse, [0x0006_4140, 0, 0]);
        assert_eq!(
            (l.network, l.mpls_labels, l.l3, l.mpls_end),
            (Some(Network::Mpls), 1, 14, 18)
        );
        // The payload is not parsed.
        assert_eq!((k.ipv4_src, k.ip_proto), (0, 0));
    }

    #[test]
    fn multicast_ethertype_and_three_labels() {
        let f = cat(&[&eth(0x8848), &lse(1, false), &lse(2, false), &lse(3, true)]);
        let (k, l) = run(&f);
        assert_eq!(k.eth_type, 0x8848);
        assert_eq!(k.mpls_lse, [0x1040, 0x2040, 0x3140]);
        assert_eq!((l.mpls_labels, l.mpls_end), (3, 26));
    }

    #[test]
    fn deeper_stacks_keep_the_top_three() {
        let f = cat(&[
            &eth(0x8847),
            &lse(1, false),
            &lse(2, false),
            &lse(3, false),
            &lse(4, false),
            &lse(5, true),
        ]);
        let (k, l) = run(&f);
        assert_eq!(k.mpls_lse, [0x1040, 0x2040, 0x3040]);
        assert_eq!((l.mpls_labels, l.mpls_end), (3, 34));
    }

    #[test]
    fn stack_cut_before_bottom() {
        let f = cat(&[&eth(0x8847), &lse(1, false), &lse(2, false), &[0, 0, 0x31]]);
        let (k, l) = run(&f);
        assert_eq!(k.mpls_lse, [0x1040, 0x2040, 0]);
        assert_eq!(
            (l.network, l.mpls_labels, l.mpls_end),
            (Some(Network::Mpls), 0, 22)
        );
    }

    #[test]
    fn no_complete_label() {
        let (k, l) = run(&cat(&[&eth(0x8847), &[0, 0, 0x31]]));
        assert_eq!(k.mpls_lse, [0; 3]);
        assert_eq!((l.network, l.mpls_labels, l.mpls_end), (None, 0, 14));
    }

    #[test]
    fn behind_a_vlan_tag() {
        let (k, l) = run(&cat(&[&eth(0x8100), &tci_type(10, 0x8847), &lse(7, true)]));
        assert_eq!((k.vlan_tci, k.mpls_lse[0]), (0x100a, 0x7140));
        assert_eq!((l.l3, l.mpls_end), (18, 22));
    }
}
