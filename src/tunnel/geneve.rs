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
    fn header_layout() {
        assert_eq!(
            header(0x12_3456, 8, true, true),
            [2, 0xc0, 0x65, 0x58, 0x12, 0x34, 0x56, 0]
        );
    }
}
