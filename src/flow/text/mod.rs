//! OVS datapath flow and action text syntax, as `ovs-dpctl` prints and
//! parses it, straight between text and netlink attribute bytes. The
//! behaviour is that of Open vSwitch 3.7's `lib/odp-util.c`
//! (`odp_flow_from_string`, `odp_flow_format`, `odp_actions_from_string`,
//! `format_odp_actions`), down to its quirks, so that what ovs-vswitchd and
//! ovs-dpctl would print or accept, this prints or accepts too.

mod action_format;
mod action_parse;
mod addr;
mod ct;
mod field_scan;
mod fields;
mod flags;
mod key_format;
mod key_parse;
mod lens;
mod nl;
mod nsh;
mod out;
#[cfg(test)]
mod props;
mod scan;
mod tnl_push;
mod tunnel_format;
mod tunnel_parse;
mod userspace;

use action_parse::Failure;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use nl::{NlBuf, oversized};
use out::{Out, put_bytes};
use scan::{Error, at, has_prefix, hexits, span};

/// Text as OVS's C code sees it: it ends at the first NUL.
fn c_text(text: &str) -> &[u8] {
    let b = text.as_bytes();
    b.iter()
        .position(|&c| c == 0)
        .and_then(|n| b.get(..n))
        .unwrap_or(b)
}

/// `odp_flow_format`: a flow key, with its mask if it has one. Verbose
/// prints every field; otherwise fields whose mask is all zero are left out
/// (the `ovs-dpctl dump-flows` form). Returns an empty string only if
/// memory runs out.
pub fn format_flow(key: &[u8], mask: Option<&[u8]>, verbose: bool) -> String {
    let mut o = Out::over([key, mask.unwrap_or_default()]);
    match key_format::flow(&mut o, key, mask, verbose, 0) {
        Ok(()) => o.into_string(),
        Err(_) => String::new(),
    }
}

/// `format_odp_actions`. Returns an empty string only if memory runs out.
pub fn format_actions(actions: &[u8]) -> String {
    let mut o = Out::over([actions, &[]]);
    match action_format::actions(&mut o, actions, 0) {
        Ok(()) => o.into_string(),
        Err(_) => String::new(),
    }
}

/// `packet_format_tcp_flags`: tcpdump's letters (`S`, `F`, `P`, `R`, `U`,
/// `.` for ACK, `E`, `C`, `N`), `none` for no flag.
pub fn format_tcp_flags(flags: u16) -> String {
    if flags == 0 {
        return String::from("none");
    }
    let letters = [
        (0x002, "S"),
        (0x001, "F"),
        (0x008, "P"),
        (0x004, "R"),
        (0x020, "U"),
        (0x010, "."),
        (0x040, "E"),
        (0x080, "C"),
        (0x100, "N"),
        (0x200, "[200]"),
        (0x400, "[400]"),
        (0x800, "[800]"),
    ];
    letters
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, l)| *l)
        .collect()
}

/// `odp_flow_from_string`: key attributes, and mask attributes when
/// `mask` is given; on failure OVS's message (`syntax error at ...`).
fn flow_from_text(text: &str, mut mask: Option<&mut NlBuf>) -> Result<Vec<u8>, String> {
    let s = c_text(text);
    let mut key = NlBuf::new();
    let mut depth = key_parse::Depth::default();
    let mut p = 0usize;
    let syntax_error = |at: usize| {
        let rest = s.get(at..).unwrap_or_default();
        let mut m = String::new();
        let reserved = m.try_reserve(rest.len() + 16);
        if reserved.is_err() {
            return String::new();
        }
        m.push_str("syntax error at ");
        for chunk in rest.utf8_chunks() {
            m.push_str(chunk.valid());
        }
        m
    };
    loop {
        p += span(s, p, key_parse::DELIMITERS);
        if at(s, p) == 0 {
            return Ok(key.bytes);
        }
        if has_prefix(s, p, "ufid:") {
            if !ufid(s, p + 5) {
                return Err(syntax_error(p));
            }
            p += 5 + 36;
            p += usize::from(at(s, p) == b' ');
        }
        let r = key_parse::attr(&mut depth, s, p, &mut key, mask.as_deref_mut()).and_then(|n| {
            let too_big = oversized(key.len().saturating_sub(4))
                || mask
                    .as_deref()
                    .is_some_and(|m| oversized(m.len().saturating_sub(4)));
            if too_big { Err(Error::TooBig) } else { Ok(n) }
        });
        match r {
            Ok(n) => p += n,
            Err(_) => return Err(syntax_error(p)),
        }
    }
}

/// `uuid_from_string_prefix`: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
fn ufid(s: &[u8], i: usize) -> bool {
    [(0, 8), (9, 4), (14, 4), (19, 4), (24, 4), (28, 8)]
        .iter()
        .all(|&(o, n)| hexits(s, i + o, n).is_some())
        && [8, 13, 18, 23].iter().all(|&o| at(s, i + o) == b'-')
}

/// A flow key written without masks, as OVS builds it when no mask is
/// asked for.
pub fn parse_key(text: &str) -> Result<Vec<u8>, String> {
    flow_from_text(text, None)
}

/// A flow as `ovs-dpctl add-flow` takes it: key and mask attributes.
/// Fields written without `/mask` are exact; attributes left out are absent
/// from both.
pub fn parse_flow(text: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut mask = NlBuf::new();
    let key = flow_from_text(text, Some(&mut mask))?;
    Ok((key, mask.bytes))
}

/// `odp_actions_from_string`; on failure the `strerror` text of the errno
/// OVS returns.
pub fn parse_actions(text: &str) -> Result<Vec<u8>, String> {
    match action_parse::actions(c_text(text)) {
        Ok(b) => Ok(b.bytes),
        Err(Failure::Errno(Error::Inval)) => Err(String::from("Invalid argument")),
        Err(Failure::Errno(Error::TooBig)) => Err(String::from("Argument list too long")),
        Err(Failure::Errno(Error::NoMem)) => Err(String::from("Cannot allocate memory")),
        Err(Failure::Trailing(n)) => Err(format!("Unknown error -{n}")),
    }
}

/// Contiguous hex (either case), `-` for none.
fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    let t = text.as_bytes();
    if t == b"-" {
        return Ok(Vec::new());
    }
    if !t.len().is_multiple_of(2) {
        return Err(String::from("odd number of hex digits"));
    }
    let mut v = Vec::new();
    v.try_reserve(t.len() / 2)
        .map_err(|_| String::from("out of memory"))?;
    for i in (0..t.len()).step_by(2) {
        let b = hexits(t, i, 2).ok_or_else(|| String::from("bad hex digit"))?;
        v.push(b as u8);
    }
    Ok(v)
}

/// Contiguous lowercase hex, `-` for none.
fn put_hex_or_dash(o: &mut Out, b: &[u8]) -> fmt::Result {
    if b.is_empty() {
        o.ch('-')
    } else {
        put_bytes(o, b, None)
    }
}

/// Runs one `ovsext-sim odp <verb>` line; `None` if the verb is unknown.
///
/// - `encode-key`: key text without masks → `<key-hex>\t-`
/// - `encode-flow`: flow text with masks → `<key-hex>\t<mask-hex>`
/// - `decode-key`: `<key-hex>[\t<mask-hex>]` → every field without a mask,
///   the `dump-flows` form with one (`-` means no mask)
/// - `encode-actions`: action text → `<actions-hex>`
/// - `decode-actions`: `<actions-hex>` (`-` = empty) → action text
///
/// Input OVS would reject gives `error: <message>`.
pub fn odp_line(verb: &str, line: &str) -> Option<String> {
    let mut o = Out::new();
    let error = |o: &mut Out, msg: &str| o.put("error: ").and_then(|_| o.put(msg));
    let written = match verb {
        "encode-key" => match parse_key(line) {
            Ok(k) => put_hex_or_dash(&mut o, &k).and_then(|_| o.put("\t-")),
            Err(e) => error(&mut o, &e),
        },
        "encode-flow" => match parse_flow(line) {
            Ok((k, m)) => put_hex_or_dash(&mut o, &k)
                .and_then(|_| o.ch('\t'))
                .and_then(|_| put_hex_or_dash(&mut o, &m)),
            Err(e) => error(&mut o, &e),
        },
        "decode-key" => {
            let (k, m) = match line.split_once('\t') {
                Some((k, m)) => (k, Some(m).filter(|m| *m != "-")),
                None => (line, None),
            };
            match (from_hex(k), m.map(from_hex).transpose()) {
                (Ok(k), Ok(None)) => return Some(format_flow(&k, None, true)),
                (Ok(k), Ok(Some(m))) => return Some(format_flow(&k, Some(&m), false)),
                (Err(e), _) | (_, Err(e)) => error(&mut o, &e),
            }
        }
        "encode-actions" => match parse_actions(line) {
            Ok(a) => put_hex_or_dash(&mut o, &a),
            Err(e) => error(&mut o, &e),
        },
        "decode-actions" => match from_hex(line) {
            Ok(a) => return Some(format_actions(&a)),
            Err(e) => error(&mut o, &e),
        },
        _ => return None,
    };
    Some(match written {
        Ok(()) => o.into_string(),
        Err(_) => String::from("error: out of memory"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn tcp_flags_read_as_tcpdump_writes_them() {
        assert_eq!(super::format_tcp_flags(0), "none");
        assert_eq!(super::format_tcp_flags(0x002), "S");
        assert_eq!(super::format_tcp_flags(0x019), "FP.");
        assert_eq!(super::format_tcp_flags(0x812), "S.[800]");
    }
}
