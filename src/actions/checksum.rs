//! Checksum maintenance for header rewrites: incremental updates of the
//! Internet checksum (RFC 1624, eqn. 3) and the SCTP CRC32c (RFC 9260).

/// Folds a 32-bit one's-complement sum to 16 bits (end-around carry).
fn fold(sum: u32) -> u16 {
    let once = (sum & 0xffff) + (sum >> 16);
    ((once & 0xffff) + (once >> 16)) as u16
}

/// What changing the 16-bit-aligned bytes `old` into `new` (of the same
/// even length) adds to a one's-complement sum covering them: `~m + m'`
/// summed over their words (RFC 1624, eqn. 3), not yet folded. The deltas
/// of several changes add up (a few dozen words at most here, far from
/// overflowing), and `adjust` applies their sum at once.
///
/// Words are taken in the machine's byte order: swapping the bytes of
/// every word swaps those of the one's-complement sum (RFC 1071, 2(B)), so
/// a checksum field read the same way (`u16::from_ne_bytes`) and written
/// back so is updated without swapping anything.
#[inline(always)]
pub fn delta(old: &[u8], new: &[u8]) -> u32 {
    let (old, new) = (old.as_chunks::<2>().0, new.as_chunks::<2>().0);
    old.iter()
        .zip(new)
        .map(|(o, n)| u32::from(!u16::from_ne_bytes(*o)) + u32::from(u16::from_ne_bytes(*n)))
        .sum()
}

/// The checksum field `check` (in the machine's byte order, as `delta`
/// takes words) after changes whose `delta`s add up to `sum`:
/// `HC' = ~(~HC + sum)`. A `sum` of 0 leaves `check` as it is.
#[inline]
pub fn adjust(check: u16, sum: u32) -> u16 {
    !fold(u32::from(!check) + sum)
}

/// The checksum `check` (its value, as the field holds it in network
/// order) after the bytes `old` (covered by it) became `new`.
pub fn replace(check: u16, old: &[u8], new: &[u8]) -> u16 {
    let field = u16::from_ne_bytes(check.to_be_bytes());
    u16::from_be_bytes(adjust(field, delta(old, new)).to_ne_bytes())
}

/// CRC32c (Castagnoli, reflected polynomial 0x82f63b78) lookup table.
const CRC32C_TABLE: [u32; 256] = crc32c_table();

// Runs at compile time: an out-of-range index would fail the build.
#[allow(clippy::indexing_slicing)]
const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

fn crc32c_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        let idx = usize::from((crc as u8) ^ b);
        crc = (crc >> 8) ^ CRC32C_TABLE.get(idx).copied().unwrap_or(0);
    }
    crc
}

/// The checksum an SCTP packet (common header and chunks) should carry,
/// computed with its checksum field (bytes 8..12) taken as zero, in the
/// form the field stores it: `u32::from_le_bytes(field)`.
pub fn sctp(packet: &[u8]) -> u32 {
    let head = packet.get(..8).unwrap_or(packet);
    let rest = packet.get(12..).unwrap_or_default();
    let crc = crc32c_update(!0, head);
    let crc = crc32c_update(crc, &[0; 4]);
    !crc32c_update(crc, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc32c(bytes: &[u8]) -> u32 {
        !crc32c_update(!0, bytes)
    }

    /// The Internet checksum of `data`, from scratch.
    fn internet(data: &[u8]) -> u16 {
        let mut sum: u64 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            sum += u64::from(w);
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn incremental_matches_recomputation() {
        // An IPv4 header (checksum field zero), its address changed.
        let mut h = [
            0x45, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let c = internet(&h);
        let old = [10, 0, 0, 1];
        let new = [192, 168, 200, 254];
        h[12..16].copy_from_slice(&new);
        assert_eq!(replace(c, &old, &new), internet(&h));
        // A 16-bit word, and a 16-byte one.
        let before = h;
        h[8..10].copy_from_slice(&[1, 6]);
        assert_eq!(
            replace(internet(&before), &before[8..10], &h[8..10]),
            internet(&h)
        );
        let mut v6 = [0xffu8; 40];
        let c = internet(&v6);
        let old: [u8; 16] = v6[8..24].try_into().unwrap();
        let new = [0u8; 16];
        v6[8..24].copy_from_slice(&new);
        assert_eq!(replace(c, &old, &new), internet(&v6));
    }

    #[test]
    fn rfc1624_negative_zero_case() {
        // RFC 1624 section 3's example: eqn. 3 gives 0x0000 where the
        // older formula gave 0xffff.
        assert_eq!(replace(0xdd2f, &[0x55, 0x55], &[0x32, 0x85]), 0x0000);
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn sctp_ignores_the_checksum_field() {
        let mut p = [7u8; 32];
        let a = sctp(&p);
        p[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(sctp(&p), a);
        let mut z = p;
        z[8..12].fill(0);
        assert_eq!(a, crc32c(&z));
    }

    proptest::proptest! {
        /// Any changes to 16-bit-aligned fields of some data, their deltas
        /// summed and applied once, give the checksum a recomputation gives
        /// (as a one's-complement value: 0 and 0xffff are both zero), and
        /// exactly what replacing field by field gives.
        #[test]
        fn summed_deltas_match_recomputation(
            data in proptest::collection::vec(proptest::num::u8::ANY, 40),
            changes in proptest::collection::vec(
                (0usize..20, proptest::sample::select(&[1usize, 2, 8][..]), proptest::array::uniform16(proptest::num::u8::ANY)),
                0..5,
            ),
        ) {
            let start = internet(&data);
            let mut now = data.clone();
            let (mut sum, mut chained) = (0, start);
            for (word, words, bytes) in changes {
                let (at, end) = (word * 2, (word * 2 + words * 2).min(now.len()));
                let (old, new) = (now[at..end].to_vec(), &bytes[..end - at]);
                if old != new {
                    sum += delta(&old, new);
                    chained = replace(chained, &old, new);
                }
                now[at..end].copy_from_slice(new);
            }
            let field = u16::from_ne_bytes(start.to_be_bytes());
            let once = u16::from_be_bytes(adjust(field, sum).to_ne_bytes());
            proptest::prop_assert_eq!(once, chained);
            let full = internet(&now);
            proptest::prop_assert!(once == full || once ^ full == 0xffff && once & full == 0);
        }
    }
}
