//! Property tests of the netlink wire layer: no input makes it panic, and
//! what the builder emits parses back to what was put in.

use ovsext::netlink::{AttrPolicy, MsgHeader, NlBuf, NlMsg, attrs, parse};
use proptest::prelude::*;

fn arb_header() -> impl Strategy<Value = MsgHeader> {
    (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<i32>(),
    )
        .prop_map(
            |(ty, flags, seq, pid, cmd, version, reserved, dp_ifindex)| MsgHeader {
                len: 0,
                ty,
                flags,
                seq,
                pid,
                cmd,
                version,
                reserved,
                dp_ifindex,
            },
        )
}

/// (type, payload) attributes, some nested one level.
fn arb_attrs() -> impl Strategy<Value = Vec<(u16, Vec<u8>)>> {
    prop::collection::vec(
        (0u16..0x3fff, prop::collection::vec(any::<u8>(), 0..40)),
        0..12,
    )
}

const POLICY: [AttrPolicy; 6] = [
    AttrPolicy::U32.optional(),
    AttrPolicy::U8.optional(),
    AttrPolicy::string(1, 16).optional(),
    AttrPolicy::NESTED.optional(),
    AttrPolicy::U64.optional(),
    AttrPolicy::bytes(2, 8).optional(),
];

proptest! {
    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Some(m) = NlMsg::new_checked(&bytes) {
            let _ = m.attrs().count();
            let _ = parse(m.attr_bytes(), &POLICY);
        }
        for a in attrs(&bytes).flatten() {
            let _ = (a.u8(), a.u16(), a.u32(), a.u64(), a.be16(), a.be32(), a.be64(), a.str());
            let _ = a.nested().count();
        }
        let _ = parse(&bytes, &POLICY);
    }

    #[test]
    fn emit_then_parse_round_trips(hdr in arb_header(), list in arb_attrs()) {
        let mut mem = vec![0u8; 4096];
        let mut b = NlBuf::new(&mut mem);
        let m = b.begin_msg(&hdr).unwrap();
        for (ty, payload) in &list {
            b.put_attr(*ty, payload).unwrap();
        }
        b.end_msg(m);
        let len = b.len();
        let msg = NlMsg::new_checked(&mem[..len]).unwrap();
        prop_assert_eq!(msg.hdr, MsgHeader { len: len as u32, ..hdr });
        let back: Vec<(u16, Vec<u8>)> = msg.attrs().map(|a| { let a = a.unwrap(); (a.raw_type(), a.payload().to_vec()) }).collect();
        prop_assert_eq!(back, list);
    }

    #[test]
    fn nested_round_trip(outer in 0u16..100, list in arb_attrs()) {
        let mut mem = vec![0u8; 4096];
        let mut b = NlBuf::new(&mut mem);
        let n = b.begin_nested(outer).unwrap();
        for (ty, payload) in &list {
            b.put_attr(*ty, payload).unwrap();
        }
        b.end_nested(n).unwrap();
        let len = b.len();
        let top: Vec<_> = attrs(&mem[..len]).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(top.len(), 1);
        let inner: Vec<(u16, Vec<u8>)> = top[0].nested().map(|a| { let a = a.unwrap(); (a.raw_type(), a.payload().to_vec()) }).collect();
        prop_assert_eq!(inner, list);
    }

    #[test]
    fn builder_never_overruns(cap in 0usize..64, list in arb_attrs()) {
        let mut mem = vec![0xEEu8; cap + 16];
        {
            let mut b = NlBuf::new(&mut mem[..cap]);
            for (ty, payload) in &list {
                if b.put_attr(*ty, payload).is_err() {
                    break;
                }
            }
            prop_assert!(b.len() <= cap);
        }
        prop_assert!(mem[cap..].iter().all(|&x| x == 0xEE));
    }
}
