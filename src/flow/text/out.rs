//! Text output for the formatters: a `String` that only grows fallibly, plus
//! the few C `printf` shapes OVS's text uses.

use alloc::string::String;
use core::fmt;

/// Formatter output. Every write reserves first, so running out of memory is
/// a `fmt::Error`, never an abort.
///
/// It also knows the whole buffers being formatted: OVS reads some
/// structures and nested headers without checking them against the
/// attribute that holds them, running on into whatever follows in the same
/// buffer. `ext` gives that view, so the text comes out the same whenever
/// those reads stay inside the buffer.
#[derive(Default)]
pub(crate) struct Out<'a> {
    s: String,
    around: [&'a [u8]; 2],
}

impl<'a> Out<'a> {
    pub(crate) fn new() -> Out<'a> {
        Out {
            s: String::new(),
            around: [&[], &[]],
        }
    }

    /// Output for formatting bytes that lie within `bufs`.
    pub(crate) fn over(bufs: [&'a [u8]; 2]) -> Out<'a> {
        Out {
            s: String::new(),
            around: bufs,
        }
    }

    pub(crate) fn into_string(self) -> String {
        self.s
    }

    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.s
    }

    /// `b` and everything after it in the buffer it lies in (just `b` if it
    /// lies in none of them).
    pub(crate) fn ext<'s>(&self, b: &'s [u8]) -> &'s [u8]
    where
        'a: 's,
    {
        let p = b.as_ptr() as usize;
        for top in self.around {
            let base = top.as_ptr() as usize;
            // `b` must lie wholly inside, so that a slice starting where
            // one buffer ends and the next begins is found in the next.
            if !top.is_empty() && p >= base && (p - base).saturating_add(b.len()) <= top.len() {
                return top.get(p - base..).unwrap_or(b);
            }
        }
        b
    }

    pub(crate) fn put(&mut self, s: &str) -> fmt::Result {
        self.s.try_reserve(s.len()).map_err(|_| fmt::Error)?;
        self.s.push_str(s);
        Ok(())
    }

    pub(crate) fn ch(&mut self, c: char) -> fmt::Result {
        self.s.try_reserve(c.len_utf8()).map_err(|_| fmt::Error)?;
        self.s.push(c);
        Ok(())
    }

    /// `ds_chomp`: drops the last character if it is `c`.
    pub(crate) fn chomp(&mut self, c: char) {
        if self.s.ends_with(c) {
            self.s.pop();
        }
    }
}

impl fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s)
    }
}

/// C's `%#x`: hexadecimal with a `0x` prefix, except that zero is plain `0`.
pub(crate) struct AltHex(pub(crate) u64);

impl fmt::Display for AltHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("0")
        } else {
            write!(f, "0x{:x}", self.0)
        }
    }
}

/// `ds_put_hex`: the bytes as one big-endian number, `0x` then the first
/// nonzero byte unpadded and the rest as two digits each; `0` if all zero.
pub(crate) fn put_hex(o: &mut Out, bytes: &[u8]) -> fmt::Result {
    use fmt::Write;
    let mut printed = false;
    for &b in bytes {
        if printed {
            write!(o, "{b:02x}")?;
        } else if b != 0 {
            write!(o, "0x{b:x}")?;
            printed = true;
        }
    }
    if printed { Ok(()) } else { o.ch('0') }
}

/// `,***N leftover bytes*** (hex)` after an attribute list (`<empty>` first
/// if nothing parsed): the bytes are those where OVS's iterator stopped,
/// which may lie past the list; past the whole buffer the list's own last
/// bytes are shown instead.
pub(crate) fn put_leftover(o: &mut Out, list: &[u8], left: usize, at: usize) -> fmt::Result {
    use fmt::Write;
    if left == 0 {
        return Ok(());
    }
    if left == list.len() {
        o.put("<empty>")?;
    }
    write!(o, ",***{left} leftover bytes*** (")?;
    let own = list
        .get(list.len().saturating_sub(left)..)
        .unwrap_or_default();
    let bytes = o.ext(list).get(at..at.saturating_add(left)).unwrap_or(own);
    put_bytes(o, bytes, None)?;
    o.ch(')')
}

/// Two hex digits per byte, separated by `sep` when it is given.
pub(crate) fn put_bytes(o: &mut Out, bytes: &[u8], sep: Option<char>) -> fmt::Result {
    use fmt::Write;
    for (i, b) in bytes.iter().enumerate() {
        if i > 0
            && let Some(c) = sep
        {
            o.ch(c)?;
        }
        write!(o, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn alt_hex_and_hex_dump() {
        let mut o = Out::new();
        write!(o, "{},{}", AltHex(0), AltHex(0x1f)).unwrap();
        put_hex(&mut o, &[0, 0, 1, 2]).unwrap();
        o.ch(' ').unwrap();
        put_hex(&mut o, &[0, 0]).unwrap();
        o.ch(' ').unwrap();
        put_bytes(&mut o, &[1, 0xab], Some(' ')).unwrap();
        let buf = [1u8, 2, 3, 4];
        let (a, b) = buf.split_at(2);
        let o2 = Out::over([a, b]);
        assert_eq!(o2.ext(&b[..1]), &[3, 4]);
        assert_eq!(o2.ext(&a[1..]), &[2]);
        assert_eq!(o2.ext(&[9][..]), &[9]);
        assert_eq!(o.as_str(), "0,0x1f0x102 0 01 ab");
        o.chomp('b');
        o.chomp('x');
        assert_eq!(o.as_str(), "0,0x1f0x102 0 01 a");
    }
}
