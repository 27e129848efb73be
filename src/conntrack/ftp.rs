//! The FTP helper's parser (Linux's `nf_conntrack_ftp`): the data port a
//! control connection announces. Like Linux, a segment is read only when
//! it starts with the command or reply and holds it whole: a PORT split
//! over two segments announces nothing.
//!
//! - client to server: `PORT h1,h2,h3,h4,p1,p2` (IPv4) and
//!   `EPRT |af|address|port|`;
//! - server to client: `227 ... (h1,h2,h3,h4,p1,p2)` (the PASV reply,
//!   IPv4) and `229 ... (|||port|)` (EPSV: the server's own address).
//!
//! Where this differs from Linux: any segment that starts with a command
//! is read (Linux reads only one that starts where a line began, and only
//! once the connection is established); NAT of the control connection does
//! not rewrite the announced address and port, nor adjust sequence numbers
//! (Linux's `nf_nat_ftp` and `nf_ct_seqadj`): FTP through SNAT or DNAT
//! needs userspace or an ALG elsewhere.

/// A data port announced: where the data connection goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The address (IPv4 in the first four bytes); `None`: the sender's.
    pub addr: Option<[u8; 16]>,
    pub port: u16,
}

/// Reads the announcement in `payload` (a TCP segment's data) sent by the
/// client (`from_server` false) or the server, on a connection over IPv6
/// or not.
pub fn announce(payload: &[u8], from_server: bool, v6: bool) -> Option<Announce> {
    let (pattern, body) = payload.split_at_checked(4)?;
    match (pattern.to_ascii_uppercase().as_slice(), from_server) {
        (b"PORT", false) if !v6 => rfc959(line(body.strip_prefix(b" ")?, b'\r')?),
        (b"EPRT", false) => eprt(line(body.strip_prefix(b" ")?, b'\r')?, v6),
        (b"227 ", true) if !v6 => rfc959(within(body)?),
        (b"229 ", true) => epsv(within(body)?),
        _ => None,
    }
}

/// The text before `term` (which must come: the command is whole).
fn line(b: &[u8], term: u8) -> Option<&[u8]> {
    b.get(..b.iter().position(|&c| c == term || c == b'\n')?)
}

/// The text between the first `(` and the `)` after it.
fn within(b: &[u8]) -> Option<&[u8]> {
    let rest = b.get(b.iter().position(|&c| c == b'(')? + 1..)?;
    rest.get(..rest.iter().position(|&c| c == b')')?)
}

/// A decimal number of at most `max`.
fn number(b: &[u8], max: u32) -> Option<u32> {
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = b.iter().try_fold(0u32, |n, &d| {
        n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })?;
    (n <= max).then_some(n)
}

/// `h1,h2,h3,h4,p1,p2`.
fn rfc959(b: &[u8]) -> Option<Announce> {
    let mut parts = b.split(|&c| c == b',');
    let mut v = [0u8; 6];
    for slot in &mut v {
        *slot = number(parts.next()?.trim_ascii(), 255)? as u8;
    }
    if parts.next().is_some() {
        return None;
    }
    let [a, b, c, d, p1, p2] = v;
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&[a, b, c, d]);
    Some(Announce {
        addr: Some(addr),
        port: u16::from_be_bytes([p1, p2]),
    })
}

/// `<d>af<d>address<d>port<d>`, the family that of the connection.
fn eprt(b: &[u8], v6: bool) -> Option<Announce> {
    let (&d, rest) = b.split_first()?;
    let mut parts = rest.split(|&c| c == d);
    let af = number(parts.next()?, 2)?;
    let text = parts.next()?;
    let port = number(parts.next()?, 65535)? as u16;
    if parts.next() != Some(&[][..]) || (af == 2) != v6 || af == 0 {
        return None;
    }
    let addr = if v6 { ipv6(text)? } else { ipv4(text)? };
    Some(Announce {
        addr: Some(addr),
        port,
    })
}

/// `<d><d><d>port<d>`.
fn epsv(b: &[u8]) -> Option<Announce> {
    let (&d, rest) = b.split_first()?;
    let rest = rest.strip_prefix(&[d, d][..])?;
    let port = rest.strip_suffix(&[d][..])?;
    Some(Announce {
        addr: None,
        port: number(port, 65535)? as u16,
    })
}

/// Dotted decimal.
fn ipv4(text: &[u8]) -> Option<[u8; 16]> {
    let mut addr = [0u8; 16];
    let mut parts = text.split(|&c| c == b'.');
    for slot in addr.iter_mut().take(4) {
        *slot = number(parts.next()?, 255)? as u8;
    }
    parts.next().is_none().then_some(addr)
}

/// RFC 4291 text: groups of hex digits, at most one `::`; no embedded
/// IPv4 form.
fn ipv6(text: &[u8]) -> Option<[u8; 16]> {
    let group = |g: &[u8]| -> Option<u16> {
        if g.is_empty() || g.len() > 4 {
            return None;
        }
        let s = core::str::from_utf8(g).ok()?;
        u16::from_str_radix(s, 16).ok()
    };
    let groups = |part: &[u8]| -> Option<([u16; 8], usize)> {
        let mut out = [0u16; 8];
        let mut n = 0;
        if part.is_empty() {
            return Some((out, 0));
        }
        for g in part.split(|&c| c == b':') {
            *out.get_mut(n)? = group(g)?;
            n += 1;
        }
        Some((out, n))
    };
    let mut words = [0u16; 8];
    match text.windows(2).position(|w| w == b"::") {
        Some(at) => {
            let (head, hn) = groups(text.get(..at)?)?;
            let (tail, tn) = groups(text.get(at + 2..)?)?;
            if hn + tn > 7 {
                return None;
            }
            words.get_mut(..hn)?.copy_from_slice(head.get(..hn)?);
            words.get_mut(8 - tn..)?.copy_from_slice(tail.get(..tn)?);
        }
        None => {
            let (all, n) = groups(text)?;
            if n != 8 {
                return None;
            }
            words = all;
        }
    }
    let mut addr = [0u8; 16];
    for (pair, w) in addr.chunks_exact_mut(2).zip(words) {
        pair.copy_from_slice(&w.to_be_bytes());
    }
    Some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(a: [u8; 4]) -> Option<[u8; 16]> {
        let mut x = [0u8; 16];
        x[..4].copy_from_slice(&a);
        Some(x)
    }

    #[test]
    fn commands_and_replies() {
        let port = announce(b"PORT 10,0,0,1,7,208\r\n", false, false);
        assert_eq!(
            port,
            Some(Announce {
                addr: v4([10, 0, 0, 1]),
                port: 2000
            })
        );
        assert_eq!(announce(b"port 10,0,0,1,7,208\r\n", false, false), port);
        let pasv = b"227 Entering Passive Mode (10,0,0,2,39,16).\r\n";
        assert_eq!(
            announce(pasv, true, false),
            Some(Announce {
                addr: v4([10, 0, 0, 2]),
                port: 10000
            })
        );
        assert_eq!(announce(b"EPRT |1|10.0.0.1|2000|\r\n", false, false), port);
        let mut six = [0u8; 16];
        six[0] = 0xfd;
        six[15] = 1;
        assert_eq!(
            announce(b"EPRT |2|fd00::1|2000|\r\n", false, true),
            Some(Announce {
                addr: Some(six),
                port: 2000
            })
        );
        assert_eq!(
            announce(
                b"229 Entering Extended Passive Mode (|||6446|)\r\n",
                true,
                true
            ),
            Some(Announce {
                addr: None,
                port: 6446
            })
        );
        // Cut short (split over segments), wrong family, wrong direction,
        // out of range, not at the start.
        for (p, from_server, v6) in [
            (&b"PORT 10,0,0,1,7"[..], false, false),
            (b"PORT 10,0,0,1,7,208\r\n", false, true),
            (b"PORT 10,0,0,1,7,208\r\n", true, false),
            (b"PORT 10,0,0,1,7,256\r\n", false, false),
            (b"PORT 10,0,0,1,7\r\n", false, false),
            (b"EPRT |2|10.0.0.1|2000|\r\n", false, false),
            (b"EPRT |1|10.0.0.1|70000|\r\n", false, false),
            (b"xPORT 10,0,0,1,7,208\r\n", false, false),
            (b"227 Entering Passive Mode 10,0,0,2,39,16\r\n", true, false),
            (b"229 (||6446|)\r\n", true, false),
        ] {
            assert_eq!(announce(p, from_server, v6), None, "{p:?}");
        }
        assert_eq!(ipv6(b"1:2:3:4:5:6:7:8").map(|a| a[15]), Some(8));
        assert_eq!(ipv6(b"::"), Some([0; 16]));
        assert_eq!(ipv6(b"1::2::3"), None);
        assert_eq!(ipv6(b"1:2:3:4:5:6:7:8:9"), None);
    }

    proptest! {
        #[test]
        fn never_panics(p in proptest::collection::vec(any::<u8>(), 0..80), s: bool, v6: bool) {
            let _ = announce(&p, s, v6);
            let mut cmd = b"EPRT |2|".to_vec();
            cmd.extend_from_slice(&p);
            let _ = announce(&cmd, false, true);
            let mut reply = b"229 (".to_vec();
            reply.extend_from_slice(&p);
            let _ = announce(&reply, true, v6);
        }
    }
}
