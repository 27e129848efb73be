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
//! An address other than the sender's own expects nothing and is left as
//! it is (Linux's `loose` off). Under NAT the sender's own is rewritten to
//! the one the peer sees (the tracker then moves sequence numbers; see
//! `Conntrack::help`).
//!
//! Where this differs from Linux: any segment that starts with a command
//! is read (Linux reads only one that starts where a line began, and only
//! once the connection is established); the announced port is kept (Linux
//! picks another when the translated one is taken); IPv6 addresses are
//! written in full, uncompressed.

/// A data port announced: where the data connection goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The address (IPv4 in the first four bytes); `None`: the sender's.
    pub addr: Option<[u8; 16]>,
    pub port: u16,
    /// Where its text is in the payload, and in which form.
    pub at: core::ops::Range<usize>,
    pub form: Form,
}

/// How an address and port are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `h1,h2,h3,h4,p1,p2` (PORT, 227).
    Rfc959,
    /// `|af|address|port|` (EPRT).
    Eprt,
    /// `|||port|` (229).
    Epsv,
}

/// Text of at most 64 bytes, written without allocating.
#[derive(Clone, Copy, Debug)]
pub struct Text {
    buf: [u8; 64],
    len: usize,
}

impl Text {
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl core::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Form {
    /// `addr` and `port` in this form (IPv6 addresses in full, uncompressed).
    pub fn render(self, addr: &[u8; 16], port: u16, v6: bool) -> Option<Text> {
        use core::fmt::Write;
        let mut t = Text {
            buf: [0; 64],
            len: 0,
        };
        let [p1, p2] = port.to_be_bytes();
        let [a, b, c, d, ..] = *addr;
        match (self, v6) {
            (Form::Rfc959, _) => write!(t, "{a},{b},{c},{d},{p1},{p2}"),
            (Form::Eprt, false) => write!(t, "|1|{a}.{b}.{c}.{d}|{port}|"),
            (Form::Eprt, true) => {
                let mut r = t.write_str("|2");
                for (i, g) in addr.chunks_exact(2).enumerate() {
                    let w = g.first_chunk::<2>().map_or(0, |&w| u16::from_be_bytes(w));
                    let sep = if i == 0 { '|' } else { ':' };
                    r = r.and_then(|()| write!(t, "{sep}{w:x}"));
                }
                r.and_then(|()| write!(t, "|{port}|"))
            }
            (Form::Epsv, _) => write!(t, "|||{port}|"),
        }
        .ok()?;
        Some(t)
    }
}

/// Reads the announcement in `payload` (a TCP segment's data) sent by the
/// client (`from_server` false) or the server, on a connection over IPv6
/// or not.
pub fn announce(payload: &[u8], from_server: bool, v6: bool) -> Option<Announce> {
    let (pattern, body) = payload.split_at_checked(4)?;
    let (text, form) = match (pattern.to_ascii_uppercase().as_slice(), from_server) {
        (b"PORT", false) if !v6 => (line(body.strip_prefix(b" ")?, b'\r')?, Form::Rfc959),
        (b"EPRT", false) => (line(body.strip_prefix(b" ")?, b'\r')?, Form::Eprt),
        (b"227 ", true) if !v6 => (within(body)?, Form::Rfc959),
        (b"229 ", true) => (within(body)?, Form::Epsv),
        _ => return None,
    };
    let (addr, port) = match form {
        Form::Rfc959 => rfc959(text)?,
        Form::Eprt => eprt(text, v6)?,
        Form::Epsv => (None, epsv(text)?),
    };
    // `text` lies within `payload`: its offset is the distance between them.
    let start = (text.as_ptr() as usize).checked_sub(payload.as_ptr() as usize)?;
    Some(Announce {
        addr,
        port,
        at: start..start + text.len(),
        form,
    })
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
fn rfc959(b: &[u8]) -> Option<(Option<[u8; 16]>, u16)> {
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
    Some((Some(addr), u16::from_be_bytes([p1, p2])))
}

/// `<d>af<d>address<d>port<d>`, the family that of the connection.
fn eprt(b: &[u8], v6: bool) -> Option<(Option<[u8; 16]>, u16)> {
    let (&d, rest) = b.split_first()?;
    let mut parts = rest.split(|&c| c == d);
    let af = number(parts.next()?, 2)?;
    let text = parts.next()?;
    let port = number(parts.next()?, 65535)? as u16;
    if parts.next() != Some(&[][..]) || (af == 2) != v6 || af == 0 {
        return None;
    }
    let addr = if v6 { ipv6(text)? } else { ipv4(text)? };
    Some((Some(addr), port))
}

/// `<d><d><d>port<d>`.
fn epsv(b: &[u8]) -> Option<u16> {
    let (&d, rest) = b.split_first()?;
    let rest = rest.strip_prefix(&[d, d][..])?;
    let port = rest.strip_suffix(&[d][..])?;
    Some(number(port, 65535)? as u16)
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

    /// The address and port announced.
    fn ap(p: &[u8], from_server: bool, v6: bool) -> Option<(Option<[u8; 16]>, u16)> {
        announce(p, from_server, v6).map(|a| (a.addr, a.port))
    }

    #[test]
    fn commands_and_replies() {
        let port = ap(b"PORT 10,0,0,1,7,208\r\n", false, false);
        assert_eq!(port, Some((v4([10, 0, 0, 1]), 2000)));
        assert_eq!(ap(b"port 10,0,0,1,7,208\r\n", false, false), port);
        let pasv = b"227 Entering Passive Mode (10,0,0,2,39,16).\r\n";
        assert_eq!(ap(pasv, true, false), Some((v4([10, 0, 0, 2]), 10000)));
        let a = announce(pasv, true, false).unwrap();
        assert_eq!(
            (&pasv[a.at.clone()], a.form),
            (&b"10,0,0,2,39,16"[..], Form::Rfc959)
        );
        assert_eq!(ap(b"EPRT |1|10.0.0.1|2000|\r\n", false, false), port);
        let mut six = [0u8; 16];
        six[0] = 0xfd;
        six[15] = 1;
        let eprt = b"EPRT |2|fd00::1|2000|\r\n";
        assert_eq!(ap(eprt, false, true), Some((Some(six), 2000)));
        let a = announce(eprt, false, true).unwrap();
        assert_eq!(&eprt[a.at.clone()], b"|2|fd00::1|2000|");
        // Rendered back, it reads the same.
        let mut again = b"EPRT ".to_vec();
        again.extend_from_slice(a.form.render(&six, 2000, true).unwrap().bytes());
        again.extend_from_slice(b"\r\n");
        assert_eq!(ap(&again, false, true), Some((Some(six), 2000)));
        let text = Form::Rfc959.render(&v4([10, 0, 0, 1]).unwrap(), 2000, false);
        assert_eq!(text.unwrap().bytes(), b"10,0,0,1,7,208");
        assert_eq!(
            ap(
                b"229 Entering Extended Passive Mode (|||6446|)\r\n",
                true,
                true
            ),
            Some((None, 6446))
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
            assert_eq!(ap(p, from_server, v6), None, "{p:?}");
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
