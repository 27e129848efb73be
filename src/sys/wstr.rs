//! UTF-16 string constants for the names the kernel wants as
//! `UNICODE_STRING`s, encoded at compile time.
#![cfg(windows)]

use super::ndis::types::UnicodeString;

/// Encodes an ASCII string as UTF-16 without a terminator. Meant for
/// `const`/`static` items: a non-ASCII byte or a length other than `N` fails
/// the build.
#[allow(clippy::indexing_slicing)] // i < N, and N is the string's length (asserted)
pub const fn ascii_utf16<const N: usize>(s: &str) -> [u16; N] {
    let bytes = s.as_bytes();
    assert!(bytes.len() == N, "length differs from the array");
    let mut out = [0u16; N];
    let mut i = 0;
    while i < N {
        assert!(bytes[i].is_ascii(), "not ASCII");
        out[i] = bytes[i] as u16;
        i += 1;
    }
    out
}

/// A `UNICODE_STRING` over a static UTF-16 string. The kernel reads it only,
/// although the C type's buffer is not `const`.
pub fn unicode_string<const N: usize>(s: &'static [u16; N]) -> UnicodeString {
    const { assert!(N * 2 <= u16::MAX as usize, "too long for a UNICODE_STRING") };
    let bytes = (N * 2) as u16;
    UnicodeString {
        length: bytes,
        maximum_length: bytes,
        buffer: s.as_ptr().cast_mut(),
    }
}

/// A `UNICODE_STRING` over a static UTF-16 string whose last unit is a NUL
/// the length leaves out, for callers that also read the buffer as a C
/// string (device names, SDDL).
pub fn unicode_string_nul<const N: usize>(s: &'static [u16; N]) -> UnicodeString {
    const {
        assert!(
            N >= 1 && N * 2 <= u16::MAX as usize,
            "too long for a UNICODE_STRING"
        )
    };
    UnicodeString {
        length: ((N - 1) * 2) as u16,
        maximum_length: (N * 2) as u16,
        buffer: s.as_ptr().cast_mut(),
    }
}
