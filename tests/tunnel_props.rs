//! Property tests of the tunnel parsers: any outer frame (random bytes, or
//! well-formed headers over random contents and lengths) is classified
//! without panicking and never points past its end; what encapsulation
//! builds, decapsulation reads back (key, options and inner frame).

use core::net::IpAddr;

use ovsext::flow::FlowKey;
use ovsext::flow::key::{
    TUN_F_CSUM, TUN_F_DONT_FRAGMENT, TUN_F_KEY, TUN_F_OAM, TUN_OPTS_GENEVE, TUN_OPTS_VXLAN,
};
use ovsext::packet::{OwnedPacket, Packet};
use ovsext::tunnel::decap::{Verdict, classify};
use ovsext::tunnel::encap::{Outer, encapsulate};
use ovsext::tunnel::underlay::{Path, Prefix, Underlay};
use ovsext::tunnel::{geneve, gre, vxlan};
use ovsext::vport::{Vport, VportStats, VportType, Vports};
use proptest::prelude::*;

const A4: [u8; 4] = [10, 0, 0, 1];
const B4: [u8; 4] = [10, 0, 0, 2];
const A6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn host(v4: [u8; 4], v6: [u8; 16]) -> Underlay {
    let mut u = Underlay::default();
    u.add_host(Prefix::new(IpAddr::from(v4), 24).unwrap())
        .unwrap();
    u.add_host(Prefix::new(IpAddr::from(v6), 64).unwrap())
        .unwrap();
    u
}

fn vports(gbp: bool) -> Vports {
    let mut t = Vports::default();
    let types = [
        VportType::Vxlan {
            dst_port: 4789,
            gbp,
        },
        VportType::Geneve { dst_port: 6081 },
        VportType::Gre,
    ];
    for (i, ty) in types.into_iter().enumerate() {
        t.insert(Vport {
            port_no: 1 + i as u32,
            name: format!("t{i}"),
            ty,
            upcall_pids: vec![1],
            binding: None,
            stats: VportStats::new(1).unwrap(),
        })
        .unwrap();
    }
    t
}

fn checked(frame: &[u8], u: &Underlay, v: &Vports) -> Verdict {
    let mut key = FlowKey::default();
    let verdict = classify(frame, u, v, &mut key);
    if let Verdict::Inner { start, len, .. } = verdict {
        assert!(len >= 14 && start + len <= frame.len());
    }
    verdict
}

/// An outer frame to B over IPv4 or IPv6 with protocol `proto`, its
/// lengths and checksums right or not.
fn outer(v6: bool, proto: u8, l4: &[u8], fix: bool) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    if v6 {
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        let len = if fix { l4.len() as u16 } else { 0xffff };
        f.extend_from_slice(&len.to_be_bytes());
        f.extend_from_slice(&[proto, 64]);
        f.extend_from_slice(&A6);
        f.extend_from_slice(&B6);
    } else {
        let total = (20 + l4.len()) as u16;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0, 0, 64, proto, 0, 0]);
        ip.extend_from_slice(&A4);
        ip.extend_from_slice(&B4);
        if fix {
            let s: u32 = ip
                .chunks(2)
                .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                .sum();
            let s = (s & 0xffff) + (s >> 16);
            let c = !((s & 0xffff) + (s >> 16)) as u16;
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
        f.extend_from_slice(&[0x08, 0]);
        f.extend(ip);
    }
    f.extend_from_slice(l4);
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn header_parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), gbp: bool) {
        let _ = vxlan::parse(&b, gbp);
        let _ = geneve::parse(&b);
        let _ = geneve::options(&b);
        let _ = gre::parse(&b);
    }

    #[test]
    fn random_bytes_classify(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        checked(&b, &host(B4, B6), &vports(true));
    }

    #[test]
    fn random_outer_headers_classify(
        v6: bool,
        kind in 0u8..3,
        dport_pick in 0u8..3,
        body in proptest::collection::vec(any::<u8>(), 0..120),
        hdr in proptest::collection::vec(any::<u8>(), 0..16),
        cut in 0usize..200,
        fix: bool,
        gbp: bool,
    ) {
        let l4 = if kind == 2 {
            [&hdr[..], &body].concat()
        } else {
            let dport: u16 = [4789, 6081, 53][usize::from(dport_pick)];
            let len = (8 + hdr.len() + body.len()) as u16;
            [&[0x12, 0x34][..], &dport.to_be_bytes(), &len.to_be_bytes(), &[0, 0], &hdr, &body].concat()
        };
        let proto = if kind == 2 { 47 } else { 17 };
        let mut f = outer(v6, proto, &l4, fix);
        f.truncate(f.len().saturating_sub(cut));
        checked(&f, &host(B4, B6), &vports(gbp));
    }

    #[test]
    fn encapsulation_round_trips(
        kind in 0u8..3,
        v6: bool,
        id: u32,
        tos: u8,
        ttl in 1u8..,
        df: bool,
        csum: bool,
        oam: bool,
        with_key: bool,
        gbp in proptest::option::of(any::<u16>()),
        opts in proptest::collection::vec((any::<u16>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..3)), 0..4),
        inner in proptest::collection::vec(any::<u8>(), 14..200),
        hash: u32,
    ) {
        let v6 = v6 && kind != 2;
        let ty = match kind {
            0 => VportType::Vxlan { dst_port: 4789, gbp: true },
            1 => VportType::Geneve { dst_port: 6081 },
            _ => VportType::Gre,
        };
        let mut tun = FlowKey::default();
        if v6 {
            tun.tun.ipv6_dst = B6;
        } else {
            tun.tun.ipv4_dst = u32::from_be_bytes(B4);
        }
        tun.tun.id = u64::from(id);
        tun.tun.tos = tos;
        tun.tun.ttl = ttl;
        tun.tun.flags = (if df { TUN_F_DONT_FRAGMENT } else { 0 })
            | (if csum { TUN_F_CSUM } else { 0 })
            | (if oam && kind == 1 { TUN_F_OAM } else { 0 })
            | (if with_key || kind != 2 { TUN_F_KEY } else { 0 });
        let mut tlvs = Vec::new();
        for (class, ty, data) in &opts {
            let words: Vec<u8> = data.iter().flat_map(|b| [*b; 4]).collect();
            tlvs.extend_from_slice(&class.to_be_bytes());
            tlvs.extend_from_slice(&[*ty, data.len() as u8]);
            tlvs.extend_from_slice(&words);
        }
        if kind == 1 && !tlvs.is_empty() {
            tun.set_tun_opts(&tlvs);
            tun.tun.opts_kind = TUN_OPTS_GENEVE;
        }
        if let (0, Some(g)) = (kind, gbp) {
            tun.set_tun_opts(&(u32::from(g) | 1 << 22).to_ne_bytes());
            tun.tun.opts_kind = TUN_OPTS_VXLAN;
        }
        let src = if v6 { IpAddr::from(A6) } else { IpAddr::from(A4) };
        let outer_info = Outer { src_mac: [2; 6], path: Path { src, next_hop_mac: [4; 6] }, hash, ip_id: 9 };
        let mut pkt = OwnedPacket::from_frame(&inner).unwrap();
        encapsulate(&mut pkt, ty, &tun, &outer_info).unwrap();
        let frame = pkt.data().to_vec();
        let mut key = FlowKey::default();
        let verdict = classify(&frame, &host(B4, B6), &vports(true), &mut key);
        let Verdict::Inner { port_no, start, len } = verdict else {
            panic!("{verdict:?}");
        };
        prop_assert_eq!(port_no, u32::from(kind) + 1);
        prop_assert_eq!(&frame[start..start + len], &inner[..]);
        let t = &key.tun;
        let want_id = match kind { 2 if !with_key => 0, 2 => u64::from(id), _ => u64::from(id & 0xff_ffff) };
        prop_assert_eq!(t.id, want_id);
        prop_assert_eq!(t.ttl, ttl);
        prop_assert_eq!(t.tos & !3, tos & !3);
        prop_assert_eq!(t.flags & TUN_F_DONT_FRAGMENT != 0, df && !v6);
        prop_assert_eq!(t.flags & TUN_F_CSUM != 0, csum || (v6 && kind != 2));
        if v6 {
            prop_assert_eq!((t.ipv6_src, t.ipv6_dst), (A6, B6));
        } else {
            prop_assert_eq!((t.ipv4_src, t.ipv4_dst), (u32::from_be_bytes(A4), u32::from_be_bytes(B4)));
        }
        match kind {
            0 => {
                prop_assert!((32768..60999).contains(&t.tp_src));
                prop_assert_eq!(key.tun_opts(), if gbp.is_some() { tun.tun_opts() } else { &[][..] });
            }
            1 => {
                prop_assert!(t.tp_src >= 1);
                prop_assert_eq!(key.tun_opts(), &tlvs[..]);
                prop_assert_eq!(t.flags & TUN_F_OAM != 0, oam);
            }
            _ => {}
        }
    }
}
