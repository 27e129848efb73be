//! Software offloads (`platform::offload`): checksum completion and the
//! segmentation of large TCP sends, checked against an independent
//! checksum verifier on frames built here (VLAN tags, IPv4 options, IPv6
//! extension headers), and never panicking on arbitrary bytes.

use ovsext::offload::{Checksums, Lso, MAX_SEGMENTS, Segments, Unfit, complete_checksums};
use proptest::collection::vec;
use proptest::prelude::*;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// How a test frame is shaped.
#[derive(Clone, Debug)]
struct Shape {
    tags: usize,
    v6: bool,
    /// IPv4 option words, or IPv6 extension headers (8 bytes each).
    ip_extra: usize,
    proto: u8,
    /// TCP option words.
    tcp_opts: usize,
    flags: u8,
    id: u16,
    seq: u32,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            tags: 0,
            v6: false,
            ip_extra: 0,
            proto: TCP,
            tcp_opts: 0,
            flags: 0x18,
            id: 0x1234,
            seq: 0x1000_0000,
        }
    }
}

/// (frame, offset of the IP header, offset of the transport header).
fn build(s: &Shape, payload: &[u8]) -> (Vec<u8>, usize, usize) {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    for t in 0..s.tags {
        f.extend_from_slice(&[
            if t == 0 { 0x88 } else { 0x81 },
            if t == 0 { 0xa8 } else { 0 },
        ]);
        f.extend_from_slice(&[0, 10 + t as u8]);
    }
    f.extend_from_slice(if s.v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
    let l3 = f.len();
    let l4_hdr = match s.proto {
        TCP => 20 + 4 * s.tcp_opts,
        _ => 8,
    };
    if s.v6 {
        f.extend_from_slice(&[0x60, 0, 0, 0, 0, 0]);
        f.push(if s.ip_extra > 0 { 60 } else { s.proto });
        f.push(64);
        f.extend((1..=32).map(|b| b as u8));
        for e in 0..s.ip_extra {
            let next = if e + 1 < s.ip_extra { 60 } else { s.proto };
            f.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
        }
    } else {
        let ihl = 5 + s.ip_extra;
        f.push(0x40 | ihl as u8);
        f.push(0);
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&s.id.to_be_bytes());
        f.extend_from_slice(&[0x40, 0, 64, s.proto, 0xde, 0xad]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend(std::iter::repeat_n(1u8, 4 * s.ip_extra));
    }
    let l4 = f.len();
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x50]);
    if s.proto == TCP {
        f.extend_from_slice(&s.seq.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 7]);
        f.push(((5 + s.tcp_opts) as u8) << 4);
        f.push(s.flags);
        f.extend_from_slice(&[0xff, 0xff, 0xbe, 0xef, 0, 0]);
        f.extend(std::iter::repeat_n(1u8, 4 * s.tcp_opts));
    } else {
        f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0xbe, 0xef]);
    }
    assert_eq!(f.len(), l4 + l4_hdr);
    f.extend_from_slice(payload);
    let ip_len = (f.len() - l3) as u16;
    if s.v6 {
        f[l3 + 4..l3 + 6].copy_from_slice(&(ip_len - 40).to_be_bytes());
    } else {
        f[l3 + 2..l3 + 4].copy_from_slice(&ip_len.to_be_bytes());
    }
    (f, l3, l4)
}

/// Sums 16-bit words one at a time (deliberately not the library's way).
fn ones(words: impl IntoIterator<Item = u16>) -> u16 {
    let mut s: u32 = 0;
    for w in words {
        s += u32::from(w);
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

fn words(b: &[u8]) -> Vec<u16> {
    b.chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect()
}

fn ipv4_ok(f: &[u8], l3: usize) -> bool {
    let ihl = usize::from(f[l3] & 0xf) * 4;
    ones(words(&f[l3..l3 + ihl])) == 0xffff
}

/// Whether the transport checksum of the IP packet at `l3` (ending at the
/// frame's end) verifies.
fn l4_ok(f: &[u8], l3: usize, l4: usize, v6: bool, proto: u8) -> bool {
    let seg = &f[l4..];
    let mut w = words(seg);
    if v6 {
        w.extend(words(&f[l3 + 8..l3 + 40]));
        let len = seg.len() as u32;
        w.extend([(len >> 16) as u16, len as u16, 0, u16::from(proto)]);
    } else {
        w.extend(words(&f[l3 + 12..l3 + 20]));
        w.extend([u16::from(proto), seg.len() as u16]);
    }
    ones(w) == 0xffff
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

const ALL_L4: Checksums = Checksums {
    ip: false,
    tcp: true,
    udp: false,
};

#[test]
fn completes_tcp_over_ipv4_with_options_and_tags() {
    let s = Shape {
        tags: 2,
        ip_extra: 2,
        tcp_opts: 3,
        ..Shape::default()
    };
    let (mut f, l3, l4) = build(&s, &payload(1001));
    assert!(!ipv4_ok(&f, l3));
    let want = Checksums {
        ip: true,
        tcp: true,
        udp: false,
    };
    complete_checksums(&mut f, want).unwrap();
    assert!(ipv4_ok(&f, l3));
    assert!(l4_ok(&f, l3, l4, false, TCP));
    // Completing again changes nothing.
    let before = f.clone();
    complete_checksums(&mut f, want).unwrap();
    assert_eq!(f, before);
}

#[test]
fn completes_udp_over_ipv6_with_extension_headers() {
    let s = Shape {
        v6: true,
        ip_extra: 2,
        proto: UDP,
        tags: 1,
        ..Shape::default()
    };
    let (mut f, l3, l4) = build(&s, &payload(77));
    let want = Checksums {
        udp: true,
        ..Checksums::NONE
    };
    complete_checksums(&mut f, want).unwrap();
    assert!(l4_ok(&f, l3, l4, true, UDP));
}

#[test]
fn udp_checksum_of_zero_is_sent_as_all_ones() {
    // Find a payload whose UDP checksum computes to zero, then check that
    // it is written as 0xffff (which verifies the same).
    let s = Shape {
        proto: UDP,
        ..Shape::default()
    };
    for a in 0..=u16::MAX {
        let (mut f, l3, l4) = build(&s, &a.to_be_bytes());
        complete_checksums(
            &mut f,
            Checksums {
                udp: true,
                ..Checksums::NONE
            },
        )
        .unwrap();
        if f[l4 + 6..l4 + 8] == [0xff, 0xff] {
            assert!(l4_ok(&f, l3, l4, false, UDP));
            return;
        }
        assert_ne!(f[l4 + 6..l4 + 8], [0, 0]);
    }
    panic!("no payload gave a zero checksum");
}

#[test]
fn trailing_padding_is_not_summed() {
    let (mut f, l3, l4) = build(&Shape::default(), &payload(4));
    let ip_end = f.len();
    f.extend_from_slice(&[0xaa; 6]);
    complete_checksums(&mut f, ALL_L4).unwrap();
    assert!(l4_ok(&f[..ip_end], l3, l4, false, TCP));
}

#[test]
fn refusals_leave_the_frame_alone() {
    let (f, _, _) = build(&Shape::default(), &payload(10));
    let udp_want = Checksums {
        udp: true,
        ..Checksums::NONE
    };
    let mut g = f.clone();
    assert_eq!(
        complete_checksums(&mut g, udp_want),
        Err(Unfit::WrongProtocol)
    );
    assert_eq!(g, f);
    let both = Checksums {
        ip: true,
        tcp: true,
        udp: true,
    };
    assert_eq!(complete_checksums(&mut g, both), Err(Unfit::WrongProtocol));
    // IPv4 header checksum on IPv6.
    let (mut v6, _, _) = build(
        &Shape {
            v6: true,
            ..Shape::default()
        },
        &[],
    );
    let ip = Checksums {
        ip: true,
        ..Checksums::NONE
    };
    assert_eq!(complete_checksums(&mut v6, ip), Err(Unfit::WrongProtocol));
    // The IP length claims more than the frame holds.
    let mut cut = f[..f.len() - 3].to_vec();
    assert_eq!(complete_checksums(&mut cut, ALL_L4), Err(Unfit::Truncated));
    // Not IP.
    let mut arp = f.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(complete_checksums(&mut arp, ALL_L4), Err(Unfit::BadHeaders));
    // Nothing asked: nothing parsed, nothing refused.
    assert_eq!(complete_checksums(&mut arp, Checksums::NONE), Ok(()));
}

#[test]
fn non_first_fragments_get_only_their_ip_checksum() {
    let (mut f, l3, _) = build(&Shape::default(), &payload(16));
    f[l3 + 6..l3 + 8].copy_from_slice(&[0x00, 0x10]);
    assert_eq!(
        complete_checksums(&mut f, ALL_L4),
        Err(Unfit::WrongProtocol)
    );
    let ip = Checksums {
        ip: true,
        ..Checksums::NONE
    };
    complete_checksums(&mut f, ip).unwrap();
    assert!(ipv4_ok(&f, l3));
}

/// Checks every segment of `frame` cut at `mss`.
fn check_segments(s: &Shape, data: &[u8], mss: u32, v2: bool, zero_ip_len: bool) {
    let (mut f, l3, l4) = build(s, data);
    if zero_ip_len {
        let at = if s.v6 { l3 + 4 } else { l3 + 2 };
        f[at..at + 2].copy_from_slice(&[0, 0]);
    }
    let seg = Segments::new(&f, Lso { mss, v2 }).unwrap();
    let mss = mss as usize;
    let hdr = l4 + 20 + 4 * s.tcp_opts;
    let expect = data.len().div_ceil(mss).max(1);
    assert_eq!(seg.count(), expect);
    assert_eq!(seg.payload_len(), data.len());
    let mut joined = Vec::new();
    let mut out = vec![0u8; hdr + mss + 16];
    for i in 0..seg.count() {
        let n = seg.write(i, &mut out).unwrap();
        assert_eq!(n, seg.len_of(i));
        let g = &out[..n];
        let chunk = &g[hdr..];
        assert!(chunk.len() <= mss);
        if i + 1 < seg.count() {
            assert_eq!(chunk.len(), mss);
        }
        joined.extend_from_slice(chunk);
        // Headers other than the fixed-up fields are the template's.
        assert_eq!(g[..l3], f[..l3]);
        if s.v6 {
            assert_eq!(
                usize::from(u16::from_be_bytes([g[l3 + 4], g[l3 + 5]])),
                n - l3 - 40
            );
        } else {
            assert_eq!(
                usize::from(u16::from_be_bytes([g[l3 + 2], g[l3 + 3]])),
                n - l3
            );
            let id = s.id.wrapping_add(i as u16);
            let id = if v2 { id & 0x7fff } else { id };
            assert_eq!(u16::from_be_bytes([g[l3 + 4], g[l3 + 5]]), id);
            assert!(ipv4_ok(g, l3));
        }
        let seq = u32::from_be_bytes(g[l4 + 4..l4 + 8].try_into().unwrap());
        assert_eq!(seq, s.seq.wrapping_add((i * mss) as u32));
        let flags = g[l4 + 13];
        let last = i + 1 == seg.count();
        assert_eq!(flags & 0x01 != 0, last && s.flags & 0x01 != 0, "FIN");
        assert_eq!(flags & 0x08 != 0, last && s.flags & 0x08 != 0, "PSH");
        assert_eq!(flags & 0x80 != 0, i == 0 && s.flags & 0x80 != 0, "CWR");
        assert_eq!(flags & 0x10, s.flags & 0x10, "ACK");
        assert!(l4_ok(g, l3, l4, s.v6, TCP), "segment {i} checksum");
    }
    assert_eq!(joined, data);
}

#[test]
fn segments_ipv4_lsov1() {
    let s = Shape {
        flags: 0x99,
        ..Shape::default()
    };
    check_segments(&s, &payload(10_000), 1460, false, false);
}

#[test]
fn segments_ipv4_lsov2_with_zero_total_length_and_id_wrap() {
    let s = Shape {
        id: 0x7ffe,
        ip_extra: 1,
        tcp_opts: 3,
        tags: 1,
        ..Shape::default()
    };
    check_segments(&s, &payload(6000), 1448, true, true);
}

#[test]
fn segments_ipv6_with_extension_headers() {
    let s = Shape {
        v6: true,
        ip_extra: 1,
        tcp_opts: 2,
        ..Shape::default()
    };
    check_segments(&s, &payload(9001), 1220, true, false);
    check_segments(&s, &payload(9001), 1220, true, true);
}

#[test]
fn a_payload_shorter_than_the_mss_is_one_segment() {
    check_segments(&Shape::default(), &payload(100), 1460, false, false);
    check_segments(&Shape::default(), &[], 1460, false, false);
}

#[test]
fn segmentation_refusals() {
    let (f, _, _) = build(&Shape::default(), &payload(4000));
    assert_eq!(
        Segments::new(&f, Lso { mss: 0, v2: false }).err(),
        Some(Unfit::BadMss)
    );
    assert_eq!(
        Segments::new(&f, Lso { mss: 3, v2: false }).err(),
        Some(Unfit::BadMss)
    );
    let udp = build(
        &Shape {
            proto: UDP,
            ..Shape::default()
        },
        &payload(4000),
    )
    .0;
    assert_eq!(
        Segments::new(
            &udp,
            Lso {
                mss: 1000,
                v2: false
            }
        )
        .err(),
        Some(Unfit::WrongProtocol)
    );
    let seg = Segments::new(
        &f,
        Lso {
            mss: 1000,
            v2: false,
        },
    )
    .unwrap();
    let mut small = [0u8; 100];
    assert_eq!(seg.write(0, &mut small), Err(Unfit::NoRoom));
    let mut big = vec![0u8; 2000];
    assert_eq!(seg.write(seg.count(), &mut big), Err(Unfit::NoRoom));
    // The most segments allowed is still accepted.
    let (f, _, _) = build(&Shape::default(), &payload(MAX_SEGMENTS * 8));
    assert_eq!(
        Segments::new(&f, Lso { mss: 8, v2: false }).map(|s| s.count()),
        Ok(MAX_SEGMENTS)
    );
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        0usize..3,
        any::<bool>(),
        0usize..3,
        0usize..4,
        any::<u8>(),
        any::<u16>(),
        any::<u32>(),
    )
        .prop_map(|(tags, v6, ip_extra, tcp_opts, flags, id, seq)| Shape {
            tags,
            v6,
            ip_extra,
            proto: TCP,
            tcp_opts,
            // LSO senders never set SYN, RST or URG.
            flags: flags & !0x26,
            id,
            seq,
        })
}

proptest! {
    #[test]
    fn segments_verify(
        s in shape(),
        len in 0usize..6000,
        mss in 64u32..2000,
        v2 in any::<bool>(),
        zero in any::<bool>(),
    ) {
        check_segments(&s, &payload(len), mss, v2, zero);
    }

    #[test]
    fn completion_verifies(
        s in shape(),
        udp in any::<bool>(),
        len in 0usize..3000,
        junk in any::<[u8; 2]>(),
    ) {
        let s = Shape { proto: if udp { UDP } else { TCP }, ..s };
        let (mut f, l3, l4) = build(&s, &payload(len));
        let at = l4 + if udp { 6 } else { 16 };
        f[at..at + 2].copy_from_slice(&junk);
        let want = Checksums { ip: !s.v6, tcp: !udp, udp };
        complete_checksums(&mut f, want).unwrap();
        prop_assert!(l4_ok(&f, l3, l4, s.v6, s.proto));
        if !s.v6 {
            prop_assert!(ipv4_ok(&f, l3));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        mut f in vec(any::<u8>(), 0..200),
        ip in any::<bool>(),
        tcp in any::<bool>(),
        udp in any::<bool>(),
        mss in 0u32..100,
    ) {
        let _ = complete_checksums(&mut f, Checksums { ip, tcp, udp });
        if let Ok(seg) = Segments::new(&f, Lso { mss, v2: tcp }) {
            let mut out = vec![0u8; 400];
            for i in 0..seg.count() {
                let _ = seg.write(i, &mut out);
            }
        }
    }

    #[test]
    fn ip_looking_bytes_never_panic(
        v6 in any::<bool>(),
        tail in vec(any::<u8>(), 0..120),
        mss in 1u32..100,
    ) {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(if v6 { &[0x86, 0xdd, 0x60] } else { &[0x08, 0x00, 0x45] });
        f.extend_from_slice(&tail);
        let all = Checksums { ip: !v6, tcp: true, udp: false };
        let _ = complete_checksums(&mut f.clone(), all);
        if let Ok(seg) = Segments::new(&f, Lso { mss, v2: false }) {
            let mut out = vec![0u8; 400];
            for i in 0..seg.count() {
                let _ = seg.write(i, &mut out);
            }
        }
    }
}

/// A frame as a VM hands it over: what it left to the NIC rides along.
struct Offloaded {
    pkt: ovsext::packet::OwnedPacket,
    req: ovsext::offload::Request,
}

impl ovsext::packet::Packet for Offloaded {
    fn data(&self) -> &[u8] {
        self.pkt.data()
    }
    fn data_mut(&mut self) -> Option<&mut [u8]> {
        self.pkt.data_mut()
    }
    fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        self.pkt.push_front(n)
    }
    fn pull_front(&mut self, n: usize) -> bool {
        self.pkt.pull_front(n)
    }
    fn truncate(&mut self, len: usize) {
        self.pkt.truncate(len)
    }
    fn oob_vlan(&self) -> Option<u16> {
        self.pkt.oob_vlan()
    }
    fn set_oob_vlan(&mut self, tci: Option<u16>) {
        self.pkt.set_oob_vlan(tci)
    }
    fn offload(&self) -> ovsext::offload::Request {
        self.req
    }
    fn try_clone(&self) -> Option<Offloaded> {
        Some(Offloaded {
            pkt: self.pkt.try_clone()?,
            req: self.req,
        })
    }
}

/// Misses of offloaded frames: userspace gets them completed, as the C
/// driver did (checksums filled in, large sends cut at the MSS).
#[test]
fn upcalls_complete_what_the_sender_left_to_the_nic() {
    use ovsext::datapath::receive::{Effects, Egress, RxContext};
    use ovsext::ioctl::Device;
    use ovsext::offload::Request;
    use ovsext::pend::Wakeups;
    use ovsext::percpu::Cpu;
    use ovsext::switch::{NicIndex, PortId, PortKind};

    struct Nowhere;
    impl Egress<Offloaded> for Nowhere {
        fn send(&mut self, _: PortId, _: NicIndex, _: Offloaded) {}
    }
    let dev = Device::new();
    dev.attach(1).unwrap();
    let mut wake = Wakeups::new();
    dev.with_datapath(|dp| {
        dp.nic_create(1, 0, PortKind::Vm, "vm1", [2, 0, 0, 0, 0, 1], 1500)
            .unwrap();
        dp.nic_connect(1, 0, &mut wake).unwrap();
        let req = ovsext::datapath::NewVport {
            name: "vm1",
            ty: ovsext::vport::VportType::Netdev,
            port_no: None,
            upcall_pids: &7u32.to_ne_bytes(),
        };
        dp.vport_new(&req, &mut wake).unwrap();
        dp.queues.lock().upcalls.subscribe(7).unwrap();
    });
    let mut ctx = RxContext::<Offloaded>::try_new(Cpu::Pinned(0), 1).unwrap();
    let read_all = |dev: &Device| {
        let mut frames = Vec::new();
        dev.with_datapath(|dp| {
            while let Ok(ovsext::upcall::Read::Message(m)) =
                dp.queues.lock().upcalls.read(7, 1 << 20)
            {
                let msg = ovsext::netlink::NlMsg::new_checked(&m).unwrap();
                frames.push(msg.find(1).unwrap().payload().to_vec());
            }
        });
        frames
    };
    // A TCP frame whose checksum the VM left to the NIC.
    let (mut f, _, l4) = build(&Shape::default(), &[7; 100]);
    f[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
    let want = Checksums {
        ip: false,
        tcp: true,
        udp: false,
    };
    let pkt = Offloaded {
        pkt: ovsext::packet::OwnedPacket::from_frame(&f).unwrap(),
        req: Request {
            checksums: want,
            lso: None,
        },
    };
    dev.with_datapath(|dp| {
        dp.receive(
            &mut ctx,
            (1, 0),
            pkt,
            Default::default(),
            &mut Effects {
                egress: &mut Nowhere,
                wake: &mut wake,
            },
        )
    });
    let got = read_all(&dev);
    assert_eq!(got.len(), 1);
    let mut expect = f.clone();
    complete_checksums(&mut expect, want).unwrap();
    assert_ne!(expect, f);
    assert_eq!(got[0], expect, "the upcall's copy has its checksum");
    // A large send: one upcall per MSS-sized segment, each as `Segments` cuts it.
    let (big, _, _) = build(&Shape::default(), &[9; 2500]);
    let lso = Lso {
        mss: 1000,
        v2: true,
    };
    let pkt = Offloaded {
        pkt: ovsext::packet::OwnedPacket::from_frame(&big).unwrap(),
        req: Request {
            checksums: Checksums::NONE,
            lso: Some(lso),
        },
    };
    dev.with_datapath(|dp| {
        dp.receive(
            &mut ctx,
            (1, 0),
            pkt,
            Default::default(),
            &mut Effects {
                egress: &mut Nowhere,
                wake: &mut wake,
            },
        )
    });
    let got = read_all(&dev);
    let segs = Segments::new(&big, lso).unwrap();
    assert_eq!(got.len(), 3);
    for (i, g) in got.iter().enumerate() {
        let mut s = vec![0; segs.len_of(i)];
        segs.write(i, &mut s).unwrap();
        assert_eq!(g, &s, "segment {i}");
    }
}
