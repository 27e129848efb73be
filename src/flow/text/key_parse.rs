//! Flow key text to attributes (`parse_odp_key_mask_attr`), with an
//! optional mask stream built alongside.

use super::field_scan::{Kind, scan};
use super::nl::{NlBuf, oversized};
use super::nsh;
use super::scan::{Error, Parsed, at, has_prefix, span};
use super::tunnel_parse;
use crate::ovs::key;

/// `MAX_ODP_NESTED`: attributes (and actions) may nest this deep, less one.
pub(crate) const MAX_NESTED: usize = 32;

/// Characters that may separate attributes or actions.
pub(crate) const DELIMITERS: &[u8] = b", \t\r\n";

/// How deep the parse is in nested attributes and actions.
#[derive(Default, Debug)]
pub(crate) struct Depth(usize);

impl Depth {
    /// One level deeper; returns the new depth.
    pub(crate) fn enter(&mut self) -> usize {
        self.0 += 1;
        self.0
    }

    pub(crate) fn leave(&mut self) {
        self.0 = self.0.saturating_sub(1);
    }
}

/// A field of a fixed-layout attribute: its name (with `=`), how it reads,
/// and where its bytes go.
struct Field(&'static str, Kind, usize, usize);

/// A fixed-layout attribute: `name(field=...,...)`.
struct Layout {
    prefix: &'static str,
    ty: u16,
    size: usize,
    fields: &'static [Field],
}

/// A `name(value[/mask])` attribute: how the value reads, its width, and
/// whether no mask is ever read (the mask is then all ones).
struct Single {
    prefix: &'static str,
    ty: u16,
    kind: Kind,
    width: usize,
    fully_masked: bool,
}

const fn single_attr(prefix: &'static str, ty: u16, kind: Kind, width: usize) -> Single {
    Single {
        prefix,
        ty,
        kind,
        width,
        fully_masked: false,
    }
}

const SINGLES: &[Single] = &[
    single_attr("skb_priority(", key::PRIORITY, Kind::U32, 4),
    single_attr("skb_mark(", key::SKB_MARK, Kind::U32, 4),
    Single {
        fully_masked: true,
        ..single_attr("recirc_id(", key::RECIRC_ID, Kind::U32, 4)
    },
    single_attr("dp_hash(", key::DP_HASH, Kind::U32, 4),
    single_attr("ct_state(", key::CT_STATE, Kind::CtState, 4),
    single_attr("ct_zone(", key::CT_ZONE, Kind::U16, 2),
    single_attr("ct_mark(", key::CT_MARK, Kind::U32, 4),
    single_attr("ct_label(", key::CT_LABELS, Kind::U128, 16),
    single_attr("in_port(", key::IN_PORT, Kind::U32, 4),
    single_attr("eth_type(", key::ETHERTYPE, Kind::Be16, 2),
    single_attr("tcp_flags(", key::TCP_FLAGS, Kind::TcpFlags, 2),
];

/// The transport ports shared by tcp, udp and sctp.
const PORTS: &[Field] = &[
    Field("src=", Kind::Be16, 0, 2),
    Field("dst=", Kind::Be16, 2, 2),
];
/// The type and code shared by icmp and icmpv6.
const TYPE_CODE: &[Field] = &[
    Field("type=", Kind::U8, 0, 1),
    Field("code=", Kind::U8, 1, 1),
];

const LAYOUTS: &[Layout] = &[
    Layout {
        prefix: "ct_tuple4(",
        ty: key::CT_ORIG_TUPLE_IPV4,
        size: 16,
        fields: &[
            Field("src=", Kind::Ipv4, 0, 4),
            Field("dst=", Kind::Ipv4, 4, 4),
            Field("proto=", Kind::U8, 12, 1),
            Field("tp_src=", Kind::Be16, 8, 2),
            Field("tp_dst=", Kind::Be16, 10, 2),
        ],
    },
    Layout {
        prefix: "ct_tuple6(",
        ty: key::CT_ORIG_TUPLE_IPV6,
        size: 40,
        fields: &[
            Field("src=", Kind::In6, 0, 16),
            Field("dst=", Kind::In6, 16, 16),
            Field("proto=", Kind::U8, 36, 1),
            Field("tp_src=", Kind::Be16, 32, 2),
            Field("tp_dst=", Kind::Be16, 34, 2),
        ],
    },
    Layout {
        prefix: "eth(",
        ty: key::ETHERNET,
        size: 12,
        fields: &[
            Field("src=", Kind::Eth, 0, 6),
            Field("dst=", Kind::Eth, 6, 6),
        ],
    },
    Layout {
        prefix: "vlan(",
        ty: key::VLAN,
        size: 2,
        fields: &[
            Field("vid=", Kind::Vid, 0, 2),
            Field("pcp=", Kind::Pcp, 0, 2),
            Field("cfi=", Kind::Cfi, 0, 2),
        ],
    },
    Layout {
        prefix: "ipv4(",
        ty: key::IPV4,
        size: 12,
        fields: &[
            Field("src=", Kind::Ipv4, 0, 4),
            Field("dst=", Kind::Ipv4, 4, 4),
            Field("proto=", Kind::U8, 8, 1),
            Field("tos=", Kind::U8, 9, 1),
            Field("ttl=", Kind::U8, 10, 1),
            Field("frag=", Kind::Frag, 11, 1),
        ],
    },
    Layout {
        prefix: "ipv6(",
        ty: key::IPV6,
        size: 40,
        fields: &[
            Field("src=", Kind::In6, 0, 16),
            Field("dst=", Kind::In6, 16, 16),
            Field("label=", Kind::Ipv6Label, 32, 4),
            Field("proto=", Kind::U8, 36, 1),
            Field("tclass=", Kind::U8, 37, 1),
            Field("hlimit=", Kind::U8, 38, 1),
            Field("frag=", Kind::Frag, 39, 1),
        ],
    },
    Layout {
        prefix: "tcp(",
        ty: key::TCP,
        size: 4,
        fields: PORTS,
    },
    Layout {
        prefix: "udp(",
        ty: key::UDP,
        size: 4,
        fields: PORTS,
    },
    Layout {
        prefix: "sctp(",
        ty: key::SCTP,
        size: 4,
        fields: PORTS,
    },
    Layout {
        prefix: "icmp(",
        ty: key::ICMP,
        size: 2,
        fields: TYPE_CODE,
    },
    Layout {
        prefix: "icmpv6(",
        ty: key::ICMPV6,
        size: 2,
        fields: TYPE_CODE,
    },
    Layout {
        prefix: "arp(",
        ty: key::ARP,
        size: 24,
        fields: &[
            Field("sip=", Kind::Ipv4, 0, 4),
            Field("tip=", Kind::Ipv4, 4, 4),
            Field("op=", Kind::Be16, 8, 2),
            Field("sha=", Kind::Eth, 10, 6),
            Field("tha=", Kind::Eth, 16, 6),
        ],
    },
    Layout {
        prefix: "nd(",
        ty: key::ND,
        size: 28,
        fields: &[
            Field("target=", Kind::In6, 0, 16),
            Field("sll=", Kind::Eth, 16, 6),
            Field("tll=", Kind::Eth, 22, 6),
        ],
    },
    Layout {
        prefix: "nd_ext(",
        ty: key::ND_EXTENSIONS,
        size: 8,
        fields: &[
            Field("nd_reserved=", Kind::Be32, 0, 4),
            Field("nd_options_type=", Kind::U8, 4, 1),
        ],
    },
    Layout {
        prefix: "packet_type(",
        ty: key::PACKET_TYPE,
        size: 4,
        fields: &[
            Field("ns=", Kind::Be16, 0, 2),
            Field("id=", Kind::Be16, 2, 2),
        ],
    },
];

/// One key attribute (with its mask when `mask` is given): bytes of text
/// used.
pub(crate) fn attr(
    d: &mut Depth,
    s: &[u8],
    i: usize,
    key: &mut NlBuf,
    mask: Option<&mut NlBuf>,
) -> Parsed<usize> {
    let r = if d.enter() == MAX_NESTED {
        Err(Error::Inval)
    } else {
        attr_at(d, s, i, key, mask)
    };
    d.leave();
    r
}

fn attr_at(
    d: &mut Depth,
    s: &[u8],
    i: usize,
    key: &mut NlBuf,
    mut mask: Option<&mut NlBuf>,
) -> Parsed<usize> {
    if let Some(single) = SINGLES.iter().find(|x| has_prefix(s, i, x.prefix)) {
        return value(s, i, single, key, mask);
    }
    if let Some(layout) = LAYOUTS.iter().find(|l| has_prefix(s, i, l.prefix)) {
        return fixed(s, i, layout, key, mask);
    }
    if has_prefix(s, i, "tunnel(") {
        return tunnel_parse::tunnel(s, i, key, mask);
    }
    if has_prefix(s, i, "mpls(") {
        return mpls(s, i, key, mask);
    }
    // A parsed `nsh(...)` must be followed directly by `encap(`, and only
    // the `encap(...)` counts as used.
    let i = i + nsh::parse_key(s, i, key, mask.as_deref_mut())?;
    if has_prefix(s, i, "encap(") {
        return encap(d, s, i, key, mask);
    }
    Err(Error::Inval)
}

fn value(
    s: &[u8],
    i: usize,
    a: &Single,
    key: &mut NlBuf,
    mask: Option<&mut NlBuf>,
) -> Parsed<usize> {
    let mut k = [0u8; 16];
    let mut m = [if a.fully_masked { 0xff } else { 0 }; 16];
    let (kf, mf) = (
        k.get_mut(..a.width).unwrap_or_default(),
        m.get_mut(..a.width).unwrap_or_default(),
    );
    let mut p = i + a.prefix.len();
    let n = scan(a.kind, s, p, kf, (!a.fully_masked).then_some(mf));
    if n == 0 {
        return Err(Error::Inval);
    }
    p += n;
    if at(s, p) != b')' {
        return Err(Error::Inval);
    }
    key.put(a.ty, k.get(..a.width).unwrap_or_default())?;
    if let Some(mb) = mask {
        mb.put(a.ty, m.get(..a.width).unwrap_or_default())?;
    }
    Ok(p + 1 - i)
}

/// The `do { ... } while (*s++ == ',' && len != 0)` loop of OVS's field
/// lists: calls `field` at each position until it reads nothing or no comma
/// follows, then requires `)` as the last character consumed. Returns the
/// position after it.
pub(crate) fn field_list(
    s: &[u8],
    mut p: usize,
    mut field: impl FnMut(usize) -> Parsed<usize>,
) -> Parsed<usize> {
    loop {
        let len = field(p)?;
        p += len;
        let c = at(s, p);
        p += 1;
        if c != b',' || len == 0 {
            break;
        }
    }
    if at(s, p - 1) == b')' {
        Ok(p)
    } else {
        Err(Error::Inval)
    }
}

fn fixed(
    s: &[u8],
    i: usize,
    layout: &Layout,
    key: &mut NlBuf,
    mask: Option<&mut NlBuf>,
) -> Parsed<usize> {
    let mut k = [0u8; 40];
    let mut m = [0u8; 40];
    if layout.ty == key::VLAN {
        // The CFI bit starts set in both key and mask.
        k[0] = 0x10;
        m[0] = 0x10;
    }
    let want = mask.is_some();
    let end = field_list(s, i + layout.prefix.len(), |p| {
        let Some(Field(name, kind, off, width)) =
            layout.fields.iter().find(|f| has_prefix(s, p, f.0))
        else {
            return Ok(0);
        };
        let q = p + name.len();
        let kf = k.get_mut(*off..off + width).unwrap_or_default();
        let mf = m.get_mut(*off..off + width).unwrap_or_default();
        match scan(*kind, s, q, kf, want.then_some(mf)) {
            0 => Err(Error::Inval),
            n => Ok(name.len() + n),
        }
    })?;
    key.put(layout.ty, k.get(..layout.size).unwrap_or_default())?;
    if let Some(mb) = mask {
        mb.put(layout.ty, m.get(..layout.size).unwrap_or_default())?;
    }
    Ok(end - i)
}

/// `mpls(label=..,tc=..,ttl=..,bos=..,label=..,...)`: a field seen twice
/// starts the next of at most three label stack entries.
fn mpls(s: &[u8], i: usize, key: &mut NlBuf, mask: Option<&mut NlBuf>) -> Parsed<usize> {
    const FIELDS: [(&str, Kind); 4] = [
        ("label=", Kind::MplsLabel),
        ("tc=", Kind::MplsTc),
        ("ttl=", Kind::MplsTtl),
        ("bos=", Kind::MplsBos),
    ];
    const MAX_LABELS: usize = 3;
    let want = mask.is_some();
    let mut k = [[0u8; 4]; MAX_LABELS];
    let mut m = [[0u8; 4]; MAX_LABELS];
    let (mut idx, mut seen) = (0usize, 0u32);
    let mut p = i + "mpls(".len();
    loop {
        let mut len = 0;
        if let Some((bit, (name, kind))) = FIELDS
            .iter()
            .enumerate()
            .find(|(_, f)| has_prefix(s, p, f.0))
        {
            if seen & (1 << bit) != 0 {
                seen = 0;
                idx += 1;
                if idx == MAX_LABELS {
                    break;
                }
            }
            let q = p + name.len();
            let (kf, mf) = (
                k.get_mut(idx).ok_or(Error::Inval)?,
                m.get_mut(idx).ok_or(Error::Inval)?,
            );
            len = scan(*kind, s, q, kf, want.then_some(mf));
            if len == 0 {
                return Err(Error::Inval);
            }
            p = q + len;
            seen |= 1 << bit;
        }
        let c = at(s, p);
        p += 1;
        if c != b',' || len == 0 {
            break;
        }
    }
    if at(s, p - 1) != b')' || idx == MAX_LABELS {
        return Err(Error::Inval);
    }
    let n = 4 * (idx + 1);
    key.put(key::MPLS, k.as_flattened().get(..n).unwrap_or_default())?;
    if let Some(mb) = mask {
        mb.put(key::MPLS, m.as_flattened().get(..n).unwrap_or_default())?;
    }
    Ok(p - i)
}

fn encap(
    d: &mut Depth,
    s: &[u8],
    i: usize,
    key: &mut NlBuf,
    mut mask: Option<&mut NlBuf>,
) -> Parsed<usize> {
    let kstart = key.begin(key::ENCAP)?;
    let mstart = match mask.as_deref_mut() {
        Some(mb) => Some(mb.begin(key::ENCAP)?),
        None => None,
    };
    let mut p = i + "encap(".len();
    loop {
        p += span(s, p, DELIMITERS);
        match at(s, p) {
            0 => return Err(Error::Inval),
            b')' => break,
            _ => {}
        }
        p += attr(d, s, p, key, mask.as_deref_mut())?;
        if oversized(key.len() - kstart - 4) {
            return Err(Error::TooBig);
        }
    }
    key.end(kstart);
    if let (Some(mb), Some(ms)) = (mask, mstart) {
        mb.end(ms);
    }
    Ok(p + 1 - i)
}
