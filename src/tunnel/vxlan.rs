//! VXLAN (RFC 7348) and its Group Based Policy extension: the 8-byte header.

pub const HLEN: usize = 8;
/// Flag byte: the VNI is valid; a GBP header.
const F_VNI: u8 = 0x08;
const F_GBP: u8 = 0x80;
/// The GBP bits as OVS's `OVS_VXLAN_EXT_GBP` value carries them (Linux's
/// `VXLAN_GBP_*`): don't learn, policy applied, and the 16-bit policy ID.
const GBP_DONT_LEARN: u32 = 1 << 22;
const GBP_POLICY_APPLIED: u32 = 1 << 19;
const GBP_ID: u32 = 0xffff;
/// Header byte 1 bits of GBP.
const GBP_D: u8 = 0x40;
const GBP_A: u8 = 0x08;

/// The header for `vni` (24 bits), with a GBP value if given.
pub fn header(vni: u32, gbp: Option<u32>) -> [u8; HLEN] {
    let v = (vni << 8).to_be_bytes();
    let (flags, bits, id) = match gbp {
        Some(g) => {
            let mut bits = 0;
            if g & GBP_DONT_LEARN != 0 {
                bits |= GBP_D;
            }
            if g & GBP_POLICY_APPLIED != 0 {
                bits |= GBP_A;
            }
            (F_VNI | F_GBP, bits, ((g & GBP_ID) as u16).to_be_bytes())
        }
        None => (F_VNI, 0, [0, 0]),
    };
    [flags, bits, id[0], id[1], v[0], v[1], v[2], 0]
}

/// A received header: its VNI and, on a GBP port, the GBP value if the
/// header has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub vni: u32,
    pub gbp: Option<u32>,
}

/// Parses a header as Linux's `vxlan_rcv` does: the VNI flag must be set,
/// and no bit may be left that the port does not understand (GBP's only on
/// a GBP port).
pub fn parse(b: &[u8], gbp_port: bool) -> Option<Header> {
    let [flags, bits, id0, id1, v0, v1, v2, reserved] = *b.first_chunk::<HLEN>()?;
    if flags & F_VNI == 0 || reserved != 0 {
        return None;
    }
    let vni = u32::from_be_bytes([0, v0, v1, v2]);
    let gbp = if gbp_port && flags & F_GBP != 0 {
        if flags & !(F_VNI | F_GBP) != 0 || bits & !(GBP_D | GBP_A) != 0 {
            return None;
        }
        let mut g = u32::from(u16::from_be_bytes([id0, id1]));
        if bits & GBP_D != 0 {
            g |= GBP_DONT_LEARN;
        }
        if bits & GBP_A != 0 {
            g |= GBP_POLICY_APPLIED;
        }
        Some(g)
    } else {
        if flags != F_VNI || bits != 0 || id0 != 0 || id1 != 0 {
            return None;
        }
        None
    };
    Some(Header { vni, gbp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let h = header(0xabcdef, None);
        assert_eq!(h, [0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0]);
        assert_eq!(
            parse(&h, false),
            Some(Header {
                vni: 0xabcdef,
                gbp: None
            })
        );
        let g = GBP_DONT_LEARN | GBP_POLICY_APPLIED | 0x1234;
        let h = header(5, Some(g));
        assert_eq!(h, [0x88, 0x48, 0x12, 0x34, 0, 0, 5, 0]);
        assert_eq!(
            parse(&h, true),
            Some(Header {
                vni: 5,
                gbp: Some(g)
            })
        );
        // A GBP header on a port without GBP has bits it does not know.
        assert_eq!(parse(&h, false), None);
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(&[0, 0, 0, 0, 0, 0, 1, 0], false), None);
        assert_eq!(parse(&[0x08, 0, 0, 0, 0, 0, 1, 1], false), None);
        assert_eq!(parse(&[0x0c, 0, 0, 0, 0, 0, 1, 0], false), None);
        assert_eq!(parse(&[0x88, 0x01, 0, 0, 0, 0, 1, 0], true), None);
        assert_eq!(parse(&[0x08, 0, 0], false), None);
    }
}
