//! Geneve (RFC 8926): the 8-byte header and its option TLVs.

/// Fixed header: version and option length, flags, protocol, VNI.
pub const HLEN: usize = 8;
/// Option length field unit and the largest option area (6 bits of words).
const OPT_UNIT: usize = 4;
pub const OPTS_MAX: usize = 63 * OPT_UNIT;
/// Header byte 1: an OAM frame; critical options present.
pub const F_OAM: u8 = 0x80;
pub const F_CRITICAL: u8 = 0x40;
/// Option type bit: the receiver must understand the option.
const CRITICAL_TYPE: u8 = 0x80;

/// Walks the option TLVs of `opts`: `Some(critical)` if they are whole
/// (each header and its data within the area), `critical` when any option
/// has the critical type bit (Linux's `validate_geneve_opts`).
pub fn options(opts: &[u8]) -> Option<bool> {
    let mut rest = opts;
    let mut critical = false;
    while !rest.is_empty() {
        let [_, _, ty, len] = *rest.first_chunk::<4>()?;
        let total = OPT_UNIT + usize::from(len & 0x1f) * OPT_UNIT;
        rest = rest.get(total..)?;
        critical |= ty & CRITICAL_TYPE != 0;
    }
    Some(critical)
}

/// A received header: its VNI, OAM bit and options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub vni: u32,
    pub oam: bool,
    pub opts: &'a [u8],
}

/// Parses a header and its options (version 0, Ethernet inside, options
/// within `b` and whole TLVs).
pub fn parse(b: &[u8]) -> Option<Header<'_>> {
    let [vl, flags, p0, p1, v0, v1, v2, _] = *b.first_chunk::<HLEN>()?;
    if vl >> 6 != 0 || u16::from_be_bytes([p0, p1]) != 0x6558 {
        return None;
    }
    let opts = b.get(HLEN..HLEN + usize::from(vl & 0x3f) * OPT_UNIT)?;
    options(opts)?;
    Some(Header {
        vni: u32::from_be_bytes([0, v0, v1, v2]),
        oam: flags & F_OAM != 0,
        opts,
    })
}

/// The header for `vni` (24 bits) carrying `opts_len` bytes of options.
pub fn header(vni: u32, opts_len: usize, oam: bool, critical: bool) -> [u8; HLEN] {
    let mut flags = 0;
    if oam {
        flags |= F_OAM;
    }
    if critical {
        flags |= F_CRITICAL;
    }
    let v = (vni << 8).to_be_bytes();
    [
        (opts_len / OPT_UNIT) as u8 & 0x3f,
        flags,
        0x65,
        0x58,
        v[0],
        v[1],
        v[2],
        0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_walk() {
        assert_eq!(options(&[]), Some(false));
        // class, type, length 1 word, then its word.
        assert_eq!(options(&[0, 1, 0x01, 1, 9, 9, 9, 9]), Some(false));
        assert_eq!(options(&[0, 1, 0x81, 0, 0, 2, 1, 0]), Some(true));
        // Data past the area; a header cut short.
        assert_eq!(options(&[0, 1, 1, 2, 9, 9, 9, 9]), None);
        assert_eq!(options(&[0, 1, 1, 0, 0, 1]), None);
        // The upper three bits of the length byte are reserved.
        assert_eq!(options(&[0, 1, 1, 0xe0]), Some(false));
    }

    #[test]
    fn parse_checks_version_protocol_and_options() {
        let h = header(7, 8, true, false);
        let pkt = [&h[..], &[0, 1, 2, 1, 9, 9, 9, 9], &[0xee; 14]].concat();
        assert_eq!(
            parse(&pkt),
            Some(Header {
                vni: 7,
                oam: true,
                opts: &pkt[8..16]
            })
        );
        let mut v1 = pkt.clone();
        v1[0] |= 0x40;
        assert_eq!(parse(&v1), None);
        let mut ipv4 = pkt.clone();
        ipv4[2..4].copy_from_slice(&[8, 0]);
        assert_eq!(parse(&ipv4), None);
        // Options longer than the packet; a TLV running past the options.
        assert_eq!(parse(&pkt[..12]), None);
        let mut tlv = pkt.clone();
        tlv[11] = 2;
        assert_eq!(parse(&tlv), None);
    }

    #[test]
    fn header_layout() {
        assert_eq!(
            header(0x12_3456, 8, true, true),
            [2, 0xc0, 0x65, 0x58, 0x12, 0x34, 0x56, 0]
        );
    }
}
