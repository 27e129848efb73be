//! GRE (RFC 2784, keys and sequence numbers of RFC 2890) carrying Ethernet
//! (transparent Ethernet bridging, as Linux's `gretap`).

use crate::offload::{fold, sum};

/// Flag bits of the first 16-bit word.
const F_CSUM: u16 = 0x8000;
const F_KEY: u16 = 0x2000;
const F_SEQ: u16 = 0x1000;
/// `ETH_P_TEB`: the payload is an Ethernet frame.
pub const PROTO_TEB: u16 = 0x6558;
/// Longest header: base, checksum, key, sequence number.
pub const HLEN_MAX: usize = 16;

/// A header to send: a checksum over the header and payload (its word left
/// zero here), a key. Returns its length.
pub fn header(key: Option<u32>, csum: bool, out: &mut [u8; HLEN_MAX]) -> usize {
    let mut flags = 0;
    if csum {
        flags |= F_CSUM;
    }
    if key.is_some() {
        flags |= F_KEY;
    }
    let [f0, f1] = flags.to_be_bytes();
    let [p0, p1] = PROTO_TEB.to_be_bytes();
    let csum_word: &[u8] = if csum { &[0; 4] } else { &[] };
    let key_bytes = key.map(u32::to_be_bytes);
    let key_word: &[u8] = key_bytes.as_ref().map_or(&[], |k| &k[..]);
    let bytes = [f0, f1, p0, p1];
    let mut len = 0;
    for (o, b) in out
        .iter_mut()
        .zip(bytes.iter().chain(csum_word).chain(key_word))
    {
        *o = *b;
        len += 1;
    }
    len
}

/// Writes the checksum of a GRE packet (`gre` from its header on) whose
/// header asks for one.
pub fn fill_checksum(gre: &mut [u8]) {
    if gre.first().is_some_and(|f| f & 0x80 != 0)
        && let Some(c) = gre.get_mut(4..6)
    {
        c.fill(0);
        let v = !fold(sum(gre));
        if let Some(c) = gre.get_mut(4..6) {
            c.copy_from_slice(&v.to_be_bytes());
        }
    }
}

/// A received header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub key: Option<u32>,
    pub csum: bool,
    pub len: usize,
}

/// Why a GRE packet is not one of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not Ethernet inside: another GRE user's.
    NotEthernet,
    /// Routing, unknown flags, a version, a bad checksum, cut short.
    Malformed,
}

/// Parses the GRE packet `gre` (header and payload, to the IP payload's end).
pub fn parse(gre: &[u8]) -> Result<Header, Refused> {
    let [f0, f1, p0, p1] = *gre.first_chunk::<4>().ok_or(Refused::Malformed)?;
    let flags = u16::from_be_bytes([f0, f1]);
    if u16::from_be_bytes([p0, p1]) != PROTO_TEB {
        return Err(Refused::NotEthernet);
    }
    if flags & !(F_CSUM | F_KEY | F_SEQ) != 0 {
        return Err(Refused::Malformed);
    }
    let csum = flags & F_CSUM != 0;
    let mut len = 4;
    if csum {
        len += 4;
    }
    let key = if flags & F_KEY != 0 {
        let k = gre
            .get(len..)
            .and_then(|k| k.first_chunk::<4>())
            .ok_or(Refused::Malformed)?;
        len += 4;
        Some(u32::from_be_bytes(*k))
    } else {
        None
    };
    if flags & F_SEQ != 0 {
        len += 4;
    }
    if gre.len() < len || (csum && fold(sum(gre)) != 0xffff) {
        return Err(Refused::Malformed);
    }
    Ok(Header { key, csum, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_parse() {
        let mut h = [0u8; HLEN_MAX];
        let n = header(Some(0x0102_0304), true, &mut h);
        assert_eq!(&h[..n], &[0xa0, 0, 0x65, 0x58, 0, 0, 0, 0, 1, 2, 3, 4]);
        let mut pkt = [&h[..n], &[0xde, 0xad, 0xbe]].concat();
        fill_checksum(&mut pkt);
        assert_eq!(
            parse(&pkt),
            Ok(Header {
                key: Some(0x0102_0304),
                csum: true,
                len: 12
            })
        );
        pkt[13] ^= 1;
        assert_eq!(parse(&pkt), Err(Refused::Malformed));
        let n = header(None, false, &mut h);
        assert_eq!(
            parse(&h[..n]),
            Ok(Header {
                key: None,
                csum: false,
                len: 4
            })
        );
    }

    #[test]
    fn refused() {
        // Routing; version 1; IPv4 inside; a key cut short.
        assert_eq!(parse(&[0x40, 0, 0x65, 0x58]), Err(Refused::Malformed));
        assert_eq!(parse(&[0, 1, 0x65, 0x58]), Err(Refused::Malformed));
        assert_eq!(parse(&[0, 0, 0x08, 0]), Err(Refused::NotEthernet));
        assert_eq!(parse(&[0x20, 0, 0x65, 0x58, 1]), Err(Refused::Malformed));
        // Sequence numbers are allowed (and skipped).
        assert_eq!(
            parse(&[0x10, 0, 0x65, 0x58, 0, 0, 0, 1]).map(|h| h.len),
            Ok(8)
        );
    }
}
