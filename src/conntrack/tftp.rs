//! The TFTP helper (Linux's `nf_conntrack_tftp`): a read or write request
//! from the client makes the server's answer, which comes from a port of
//! its own, RELATED to the request.

/// RRQ and WRQ opcodes (RFC 1350).
const RRQ: u16 = 1;
const WRQ: u16 = 2;

/// Whether `payload` (a UDP datagram's data) is a read or write request.
pub fn is_request(payload: &[u8]) -> bool {
    matches!(
        payload.first_chunk::<2>().map(|&op| u16::from_be_bytes(op)),
        Some(RRQ | WRQ)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert!(is_request(b"\x00\x01file\x00octet\x00"));
        assert!(is_request(b"\x00\x02file\x00octet\x00"));
        assert!(!is_request(b"\x00\x03\x00\x01data"));
        assert!(!is_request(b"\x00"));
    }
}
