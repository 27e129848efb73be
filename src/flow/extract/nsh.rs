//! NSH: base header, service path header and MD type 1 context.

use super::wire::{NshBase, NshMd1, view};
use super::{BadFrame, Layout, Network};
use crate::flow::key::FlowKey;

const MD_TYPE1: u8 = 1;
const MD_TYPE2: u8 = 2;
const MD_TYPE1_LEN: usize = 24;

/// Linux drops the frame when the header is cut short, is not version 0,
/// has an unknown MD type, or is MD type 1 with a length other than 24.
/// MD type 2 metadata is not part of the key.
pub(super) fn parse(frame: &[u8], key: &mut FlowKey, layout: &mut Layout) -> Result<(), BadFrame> {
    let l3 = layout.l3;
    let base: &NshBase = view(frame, l3).ok_or(BadFrame::Nsh)?;
    let word = base.ver_flags_ttl_len.get();
    let len = usize::from(word & 0x3f) * 4;
    if word >> 14 != 0 || frame.len() - l3 < len {
        return Err(BadFrame::Nsh);
    }
    key.nsh.flags = ((word >> 12) & 0x3) as u8;
    key.nsh.ttl = ((word >> 6) & 0x3f) as u8;
    key.nsh.mdtype = base.mdtype;
    key.nsh.np = base.np;
    key.nsh.path_hdr = base.path_hdr.get();
    match base.mdtype {
        MD_TYPE1 if len == MD_TYPE1_LEN => {
            let md1: &NshMd1 = view(frame, l3).ok_or(BadFrame::Nsh)?;
            key.nsh.context = md1.context.map(|c| c.get());
        }
        MD_TYPE2 => {}
        _ => return Err(BadFrame::Nsh),
    }
    layout.network = Some(Network::Nsh);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::extract;
    use super::super::frames::*;
    use super::*;

    const CONTEXT: [u8; 16] = [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff];

    /// Base header: O=1 U=0, TTL 63, `len` words, then SPI 0x123456 SI 0xfe.
    fn base(len: u8, mdtype: u8) -> Vec<u8> {
        let word: u16 = 0x2000 | 63 << 6 | u16::from(len);
        let w = word.to_be_bytes();
        vec![w[0], w[1], mdtype, 3, 0x12, 0x34, 0x56, 0xfe]
    }

    fn nsh_err(f: &[u8]) -> Result<(), BadFrame> {
        let mut k = FlowKey {
            in_port: 3,
            ..FlowKey::default()
        };
        let r = extract(f, None, &mut k).map(|_| ());
        if r.is_err() {
            assert_eq!(
                k,
                FlowKey {
                    in_port: 3,
                    ..FlowKey::default()
                }
            );
        }
        r
    }

    #[test]
    fn md_type1() {
        let f = cat(&[&eth(0x894f), &base(6, 1), &CONTEXT, &ipv4(6, 0)]);
        let (k, l) = run(&f);
        assert_eq!(
            (k.nsh.flags, k.nsh.ttl, k.nsh.mdtype, k.nsh.np),
            (2, 63, 1, 3)
        );
        assert_eq!(k.nsh.path_hdr, 0x1234_56fe);
        assert_eq!(k.nsh.context, [1, 2, 3, 0xffff_ffff]);
        assert_eq!((l.network, l.l3), (Some(Network::Nsh), 14));
        assert_eq!(k.ipv4_src, 0);
    }

    #[test]
    fn md_type2_has_no_context() {
        let f = cat(&[&eth(0x894f), &base(4, 2), &[0, 0, 0x01, 0x04, 9, 9, 9, 9]]);
        let (k, l) = run(&f);
        assert_eq!(
            (k.nsh.mdtype, k.nsh.path_hdr, k.nsh.context),
            (2, 0x1234_56fe, [0; 4])
        );
        assert_eq!(l.network, Some(Network::Nsh));
        // Even a length shorter than the base header is accepted.
        assert_eq!(run(&cat(&[&eth(0x894f), &base(0, 2)])).0.nsh.mdtype, 2);
    }

    #[test]
    fn truncated_base_header_drops() {
        let f = cat(&[&eth(0x894f), &base(2, 2)]);
        assert_eq!(nsh_err(&f[..f.len() - 1]), Err(BadFrame::Nsh));
    }

    #[test]
    fn header_shorter_than_its_length_drops() {
        let f = cat(&[&eth(0x894f), &base(6, 1), &CONTEXT]);
        assert_eq!(nsh_err(&f[..f.len() - 1]), Err(BadFrame::Nsh));
        let f = cat(&[&eth(0x894f), &base(3, 2), &[0; 3]]);
        assert_eq!(nsh_err(&f), Err(BadFrame::Nsh));
    }

    #[test]
    fn nonzero_version_drops() {
        let mut b = base(6, 1);
        b[0] |= 0x40;
        assert_eq!(
            nsh_err(&cat(&[&eth(0x894f), &b, &CONTEXT])),
            Err(BadFrame::Nsh)
        );
    }

    #[test]
    fn md_type1_with_wrong_length_drops() {
        let f = cat(&[&eth(0x894f), &base(7, 1), &CONTEXT, &[0; 4]]);
        assert_eq!(nsh_err(&f), Err(BadFrame::Nsh));
        let f = cat(&[&eth(0x894f), &base(2, 1)]);
        assert_eq!(nsh_err(&f), Err(BadFrame::Nsh));
    }

    #[test]
    fn unknown_md_type_drops() {
        for md in [0, 3, 0x11, 0xf2] {
            let f = cat(&[&eth(0x894f), &base(6, md), &CONTEXT]);
            assert_eq!(nsh_err(&f), Err(BadFrame::Nsh), "md type {md:#x}");
        }
    }
}
