//! The FTP helper's parser (Linux's `nf_conntrack_ftp`): the data port a
//! control connection announces. As on Linux, only a segment that starts
//! a line is read, and one that starts with a command or reply cut short
//! or not well formed is dropped, for its sender to send it again whole
//! (a PORT split over two segments announces once sent again in one).
//!
//! - client to server: `PORT h1,h2,h3,h4,p1,p2` (IPv4) and
//!   `EPRT |af|address|port|`;
//! - server to client: `227 ... h1,h2,h3,h4,p1,p2` (the PASV reply,
//!   IPv4) and `229 ... (|||port|)` (EPSV: the server's own address).
//!
//! An address other than the sender's own expects nothing and is left as
//! it is (Linux's `loose` off). Under NAT the sender's own is rewritten to
//! the one the peer sees, and a port another control connection expects
//! to the next free one (the tracker then moves sequence numbers; see
//! `Conntrack::help`).
//!
//! Where this differs from Linux: before a line has ended in a direction,
//! its segments are taken to start lines (Linux reads none of them; the
//! stream's first segment does start one), and segments are read before
//! the connection is established (Linux waits for traffic both ways); IPv6
//! addresses are written in full, uncompressed.

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

/// A command or reply was there, cut short or not well formed (Linux's
/// partial match: its segment is dropped, for its sender to send it again
/// whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partial;

/// Reads the announcement in `payload` (a TCP segment's data that starts a
/// line) sent by the client (`from_server` false) or the server, on a
/// connection over IPv6 or not, by the rules of Linux's `find_pattern`,
/// `try_rfc959`, `try_rfc1123`, `try_eprt` and `try_epsv_response`: no
/// blanks among the numbers, each number in range, a port of 0 refused
/// where a port is written alone. `None`: no command or reply of the
/// helper's (or an IPv4 one on IPv6, which names no address of it).
pub fn announce(payload: &[u8], from_server: bool, v6: bool) -> Option<Result<Announce, Partial>> {
    let patterns: [(&[u8], Form); 2] = if from_server {
        [(b"227 ", Form::Rfc959), (b"229 ", Form::Epsv)]
    } else {
        [(b"PORT", Form::Rfc959), (b"EPRT", Form::Eprt)]
    };
    // Linux compares as much as there is: a segment shorter than the
    // pattern and the start of it is cut short.
    let n = payload.len().min(4);
    let (_, form) = patterns.into_iter().find(|(p, _)| {
        n > 0
            && p.get(..n)
                .is_some_and(|p| p.eq_ignore_ascii_case(payload.get(..n).unwrap_or_default()))
    })?;
    match read(payload, from_server, form, v6) {
        Some(_) if v6 && form == Form::Rfc959 => None,
        Some(a) => Some(Ok(a)),
        None => Some(Err(Partial)),
    }
}

/// The announcement of `form` in `payload`, which starts with its pattern.
fn read(payload: &[u8], from_server: bool, form: Form, v6: bool) -> Option<Announce> {
    let body = payload.get(4..)?;
    let after = |c: u8| body.get(body.iter().position(|&x| x == c)? + 1..);
    let text = match form {
        // RFC 1123: a 227 reply's numbers start at its first digit, in
        // parentheses or not.
        Form::Rfc959 if from_server => body.get(body.iter().position(u8::is_ascii_digit)?..)?,
        Form::Epsv => after(b'(')?,
        Form::Rfc959 | Form::Eprt => after(b' ')?,
    };
    let (addr, port, len) = match form {
        // A PORT command's numbers end the line; a reply's end anywhere.
        Form::Rfc959 => rfc959(text, (!from_server).then_some(b'\r'))?,
        Form::Eprt => eprt(text, v6)?,
        Form::Epsv => {
            let (port, len) = epsv(text)?;
            (None, port, len)
        }
    };
    // `text` lies within `payload`: its offset is the distance between them.
    let start = (text.as_ptr() as usize).checked_sub(payload.as_ptr() as usize)?;
    Some(Announce {
        addr,
        port,
        at: start..start + len,
        form,
    })
}

/// Where lines start in one direction of a control connection (Linux's
/// `seq_aft_nl`): the sequence numbers after the last two segments that
/// ended a line. Before any, a segment is taken to start one (the
/// stream's first does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lines {
    after: [u32; 2],
    n: u8,
}

impl Lines {
    /// Whether the segment at `seq` starts a line.
    pub fn starts(&self, seq: u32) -> bool {
        self.n == 0 || self.known().contains(&seq)
    }

    fn known(&self) -> &[u32] {
        self.after.get(..usize::from(self.n)).unwrap_or_default()
    }

    /// A segment ended a line just before `seq`: remembered, in place of
    /// the older of two if it comes after that (Linux's `update_nl_seq`).
    /// False if nothing changed.
    pub fn ended(&mut self, seq: u32) -> bool {
        if self.known().contains(&seq) {
            return false;
        }
        if let Some(slot) = self.after.get_mut(usize::from(self.n)) {
            *slot = seq;
            self.n += 1;
            return true;
        }
        let [a, b] = self.after;
        let older = usize::from((a.wrapping_sub(b) as i32) >= 0);
        match self.after.get_mut(older) {
            Some(old) if (seq.wrapping_sub(*old) as i32) > 0 => {
                *old = seq;
                true
            }
            _ => false,
        }
    }
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

/// `h1,h2,h3,h4,p1,p2` followed by `term` (by any other character if
/// `None`); the address, the port and the length of the numbers.
fn rfc959(b: &[u8], term: Option<u8>) -> Option<(Option<[u8; 16]>, u16, usize)> {
    let end = b.iter().position(|&c| !c.is_ascii_digit() && c != b',')?;
    if term.is_some_and(|t| b.get(end) != Some(&t)) {
        return None;
    }
    let mut parts = b.get(..end)?.split(|&c| c == b',');
    let mut v = [0u8; 6];
    for slot in &mut v {
        *slot = number(parts.next()?, 255)? as u8;
    }
    if parts.next().is_some() {
        return None;
    }
    let [a, b, c, d, p1, p2] = v;
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&[a, b, c, d]);
    Some((Some(addr), u16::from_be_bytes([p1, p2]), end))
}

/// Whether `d` may delimit EPRT and EPSV fields: printable, not a digit.
fn delimiter(d: u8) -> bool {
    (33..=126).contains(&d) && !d.is_ascii_digit()
}

/// `<d>af<d>address<d>port<d>`, `af` that of the connection (1: IPv4,
/// 2: IPv6); the address, the port and the length of it all.
fn eprt(b: &[u8], v6: bool) -> Option<(Option<[u8; 16]>, u16, usize)> {
    let &[d, af, d2, ..] = b.first_chunk::<3>()?;
    if !delimiter(d) || d2 != d || af != if v6 { b'2' } else { b'1' } {
        return None;
    }
    let rest = b.get(3..)?;
    let end = rest.iter().position(|&c| c == d)?;
    let text = rest.get(..end)?;
    let addr = if v6 { ipv6(text)? } else { ipv4(text)? };
    let (port, len) = port_before(rest.get(end + 1..)?, d)?;
    Some((Some(addr), port, 3 + end + 1 + len))
}

/// `<d><d><d>port<d>`: the port and the length of it all.
fn epsv(b: &[u8]) -> Option<(u16, usize)> {
    let &[d, d2, d3, ..] = b.first_chunk::<3>()?;
    if !delimiter(d) || d2 != d || d3 != d {
        return None;
    }
    let (port, len) = port_before(b.get(3..)?, d)?;
    Some((port, 3 + len))
}

/// A port other than 0 and the delimiter `d` after it; the length of both.
fn port_before(b: &[u8], d: u8) -> Option<(u16, usize)> {
    let end = b.iter().position(|&c| c == d)?;
    let port = number(b.get(..end)?, 65535)?;
    (port != 0).then_some((port as u16, end + 1))
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
        announce(p, from_server, v6)?.ok().map(|a| (a.addr, a.port))
    }

    #[test]
    fn commands_and_replies() {
        let port = ap(b"PORT 10,0,0,1,7,208\r\n", false, false);
        assert_eq!(port, Some((v4([10, 0, 0, 1]), 2000)));
        assert_eq!(ap(b"port 10,0,0,1,7,208\r\n", false, false), port);
        let pasv = b"227 Entering Passive Mode (10,0,0,2,39,16).\r\n";
        assert_eq!(ap(pasv, true, false), Some((v4([10, 0, 0, 2]), 10000)));
        let a = announce(pasv, true, false).unwrap().unwrap();
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
        let a = announce(eprt, false, true).unwrap().unwrap();
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
            (b"229 (||6446|)\r\n", true, false),
        ] {
            assert_eq!(ap(p, from_server, v6), None, "{p:?}");
        }
        assert_eq!(ipv6(b"1:2:3:4:5:6:7:8").map(|a| a[15]), Some(8));
        assert_eq!(ipv6(b"::"), Some([0; 16]));
        assert_eq!(ipv6(b"1::2::3"), None);
        assert_eq!(ipv6(b"1:2:3:4:5:6:7:8:9"), None);
    }

    /// Linux's rules: a 227 reply's numbers from its first digit (RFC
    /// 1123), with or without parentheses; no blanks among the numbers and
    /// a PORT ended by CR (`try_number`); EPRT and EPSV delimiters
    /// printable and not digits, the family one character, and a port
    /// of 0 refused (`try_eprt`, `get_port`).
    #[test]
    fn linux_rules_for_odd_text() {
        let bare = b"227 Entering Passive Mode 10,0,0,2,39,16\r\n";
        let a = announce(bare, true, false).unwrap().unwrap();
        assert_eq!((a.addr, a.port), (v4([10, 0, 0, 2]), 10000));
        assert_eq!(&bare[a.at], b"10,0,0,2,39,16");
        let a = announce(b"227 =10,0,0,2,39,16 ok\r\n", true, false)
            .unwrap()
            .unwrap();
        assert_eq!(a.at, 5..19);
        for (p, from_server, v6) in [
            (&b"PORT 10, 0, 0, 1, 7, 208\r\n"[..], false, false),
            (b"PORT 10,0,0,1,7,208 \r\n", false, false),
            (b"PORT 10,0,0,1,7,208\n", false, false),
            (b"PORT 10,0,0,1,7,208", false, false),
            (b"PORT 10,0,0,1,7,208,9\r\n", false, false),
            (
                b"227 Entering Passive Mode (10, 0,0,2,39,16)\r\n",
                true,
                false,
            ),
            (b"227 Entering Passive Mode (10,0,0,2,39,16", true, false),
            (b"227 Mode 2 (10,0,0,2,39,16)\r\n", true, false),
            (b"EPRT |1|10.0.0.1|0|\r\n", false, false),
            (b"EPRT 1110.0.0.11200011\r\n", false, false),
            (b"EPRT  1 10.0.0.1 2000 \r\n", false, false),
            (b"EPRT |01|10.0.0.1|2000|\r\n", false, false),
            (b"EPRT |1|10.0.0.1|2000\r\n", false, false),
            (b"229 Extended (|||0|)\r\n", true, true),
            (b"229 Extended (4446464)\r\n", true, true),
            (b"229 Extended (|||64 46|)\r\n", true, true),
        ] {
            assert_eq!(
                ap(p, from_server, v6),
                None,
                "{:?}",
                core::str::from_utf8(p)
            );
        }
        // The text stops at the last delimiter: what follows is not read.
        let a = announce(b"EPRT |1|10.0.0.1|2000|", false, false)
            .unwrap()
            .unwrap();
        assert_eq!((a.port, a.at), (2000, 5..22));
    }

    /// Linux's `find_pattern`: a segment that is the start of a pattern,
    /// or has the pattern without what follows it well formed, is cut
    /// short; one that is not the pattern is nothing; an IPv4 form on
    /// IPv6 is read but names nothing.
    #[test]
    fn cut_short_or_nothing() {
        for (p, from_server, v6) in [
            (&b"P"[..], false, false),
            (b"epr", false, true),
            (b"PORT", false, false),
            (b"PORT 10,0,0,1,", false, false),
            (b"PORT 10, 0,0,1,7,208\r\n", false, false),
            (b"EPRT |2|10.0.0.1|2000|\r\n", false, false),
            (b"22", true, false),
            (b"227 Entering Passive Mode\r\n", true, false),
            (
                b"229 Entering Extended Passive Mode |||6446|\r\n",
                true,
                false,
            ),
        ] {
            assert_eq!(announce(p, from_server, v6), Some(Err(Partial)), "{p:?}");
        }
        for (p, from_server, v6) in [
            (&b""[..], false, false),
            (b"xPORT 10,0,0,1,7,208\r\n", false, false),
            (b"PASV\r\n", false, false),
            (b"PORT 10,0,0,1,7,208\r\n", true, false),
            (b"PORT 10,0,0,1,7,208\r\n", false, true),
            (b"200 PORT command successful\r\n", true, false),
            (
                b"227 Entering Passive Mode (10,0,0,2,39,16)\r\n",
                true,
                true,
            ),
        ] {
            assert_eq!(announce(p, from_server, v6), None, "{p:?}");
        }
        // Linux skips to the first blank after the command.
        assert_eq!(
            ap(b"PORTX 10,0,0,1,7,208\r\n", false, false).map(|a| a.1),
            Some(2000)
        );
    }

    /// Lines start at the stream's first segment, then after segments
    /// that end one: the last two are remembered, an older one not taken
    /// in place of a newer (Linux's `update_nl_seq`), across the wrap.
    #[test]
    fn where_lines_start() {
        let mut l = Lines::default();
        assert!(l.starts(7));
        assert!(l.ended(u32::MAX - 2));
        assert!(!l.ended(u32::MAX - 2));
        assert!((l.starts(u32::MAX - 2), l.starts(7)) == (true, false));
        assert!(l.ended(5));
        assert!(l.starts(u32::MAX - 2) && l.starts(5));
        assert!(!l.ended(u32::MAX - 9), "older than both");
        assert!(l.ended(30));
        assert!(!l.starts(u32::MAX - 2) && l.starts(5) && l.starts(30));
    }

    proptest! {
        /// What `render` writes reads back as the same address and port,
        /// at the place it was written, in every form.
        #[test]
        fn rendered_text_reads_back(
            addr: [u8; 16],
            port in 1u16..,
            v6: bool,
            form in prop_oneof![Just(Form::Rfc959), Just(Form::Eprt), Just(Form::Epsv)],
            tail in "[ -~]{0,8}",
        ) {
            let v6 = v6 && form != Form::Rfc959;
            let addr = if v6 { addr } else { v4(addr[..4].try_into().unwrap()).unwrap() };
            let (head, end, from_server, want): (&[u8], &[u8], _, _) = match form {
                Form::Rfc959 => (b"227 Entering Passive Mode (", b").\r\n", true, Some(addr)),
                Form::Eprt => (b"EPRT ", b"\r\n", false, Some(addr)),
                Form::Epsv => (b"229 Extended (", b")\r\n", true, None),
            };
            let text = form.render(&addr, port, v6).unwrap();
            let mut p = head.to_vec();
            p.extend_from_slice(text.bytes());
            p.extend_from_slice(end);
            p.extend_from_slice(tail.as_bytes());
            let a = announce(&p, from_server, v6).unwrap().unwrap();
            prop_assert_eq!((a.addr, a.port, a.form), (want, port, form));
            prop_assert_eq!(&p[a.at], text.bytes());
        }


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
