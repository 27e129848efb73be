//! Text output for the formatters: a `String` that only grows fallibly, plus
//! the few C `printf` shapes OVS's text uses.

use alloc::string::String;
use core::fmt;

/// Formatter output. Every write reserves first, so running out of memory is
/// a `fmt::Error`, never an abort.
#[derive(Default)]
pub(crate) struct Out {
    s: String,
}

impl Out {
    pub(crate) fn new() -> Out {
        Out { s: String::new() }
    }

    pub(crate) fn into_string(self) -> String {
        self.s
    }

    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.s
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

impl fmt::Write for Out {
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
        assert_eq!(o.as_str(), "0,0x1f0x102 0 01 ab");
        o.chomp('b');
        o.chomp('x');
        assert_eq!(o.as_str(), "0,0x1f0x102 0 01 a");
    }
}
