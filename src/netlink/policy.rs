//! Attribute policies: one table per command says, for each attribute type,
//! its kind, its allowed payload length and whether it is required
//! (`NL_POLICY` / `NlAttrParse` semantics: unknown types are ignored, the
//! last duplicate wins, trailing garbage and missing required attributes fail).

use super::{Attr, Errno, attrs};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Not in the policy: ignored.
    Ignored,
    /// Any bytes within `min..=max`.
    Unspec,
    U8,
    U16,
    U32,
    U64,
    /// NUL-terminated, no embedded NUL, payload within `min..=max`.
    String,
    Flag,
    /// Contents checked by the handler.
    Nested,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttrPolicy {
    pub kind: Kind,
    pub min: u16,
    pub max: u16,
    pub required: bool,
}

impl AttrPolicy {
    const fn of(kind: Kind, min: u16, max: u16) -> AttrPolicy {
        AttrPolicy {
            kind,
            min,
            max,
            required: true,
        }
    }
    pub const IGNORED: AttrPolicy = AttrPolicy {
        kind: Kind::Ignored,
        min: 0,
        max: u16::MAX,
        required: false,
    };
    pub const U8: AttrPolicy = Self::of(Kind::U8, 1, 1);
    pub const U16: AttrPolicy = Self::of(Kind::U16, 2, 2);
    pub const U32: AttrPolicy = Self::of(Kind::U32, 4, 4);
    pub const U64: AttrPolicy = Self::of(Kind::U64, 8, 8);
    pub const FLAG: AttrPolicy = Self::of(Kind::Flag, 0, 0);
    pub const NESTED: AttrPolicy = Self::of(Kind::Nested, 0, u16::MAX);
    pub const UNSPEC: AttrPolicy = Self::of(Kind::Unspec, 0, u16::MAX);

    /// A string whose payload (terminator included) is `min..=max` bytes.
    pub const fn string(min: u16, max: u16) -> AttrPolicy {
        Self::of(Kind::String, min, max)
    }
    /// Opaque bytes of `min..=max` length.
    pub const fn bytes(min: u16, max: u16) -> AttrPolicy {
        Self::of(Kind::Unspec, min, max)
    }
    pub const fn optional(self) -> AttrPolicy {
        AttrPolicy {
            required: false,
            ..self
        }
    }

    /// `NlAttrValidate`.
    pub fn accepts(&self, a: &Attr<'_>) -> bool {
        let len = a.len();
        match self.kind {
            Kind::Ignored | Kind::Nested => true,
            Kind::String => {
                (usize::from(self.min)..=usize::from(self.max)).contains(&len) && a.str().is_some()
            }
            _ => (usize::from(self.min)..=usize::from(self.max)).contains(&len),
        }
    }
}

/// Attributes picked out by a policy, indexed by type.
#[derive(Clone, Copy, Debug)]
pub struct Parsed<'a, const N: usize>([Option<Attr<'a>>; N]);

impl<'a, const N: usize> Parsed<'a, N> {
    pub fn get(&self, ty: u16) -> Option<Attr<'a>> {
        self.0.get(usize::from(ty)).copied().flatten()
    }
    pub fn has(&self, ty: u16) -> bool {
        self.get(ty).is_some()
    }
    pub fn u8(&self, ty: u16) -> Option<u8> {
        self.get(ty).and_then(|a| a.u8())
    }
    pub fn u16(&self, ty: u16) -> Option<u16> {
        self.get(ty).and_then(|a| a.u16())
    }
    pub fn u32(&self, ty: u16) -> Option<u32> {
        self.get(ty).and_then(|a| a.u32())
    }
    pub fn u64(&self, ty: u16) -> Option<u64> {
        self.get(ty).and_then(|a| a.u64())
    }
    pub fn str(&self, ty: u16) -> Option<&'a str> {
        self.get(ty).and_then(|a| a.str())
    }
}

/// Picks the attributes `policy` names out of `stream` (unknown and ignored
/// types are skipped, the last duplicate wins), each first passing `check`.
fn pick<'a, const N: usize>(
    stream: &'a [u8],
    policy: &[AttrPolicy; N],
    check: impl Fn(&AttrPolicy, &Attr<'_>) -> Result<(), Errno>,
) -> Result<Parsed<'a, N>, Errno> {
    let mut out = [None; N];
    for a in attrs(stream) {
        let a = a?;
        let Some(p) = policy.get(usize::from(a.ty())) else {
            continue;
        };
        if p.kind == Kind::Ignored {
            continue;
        }
        check(p, &a)?;
        if let Some(slot) = out.get_mut(usize::from(a.ty())) {
            *slot = Some(a);
        }
    }
    Ok(Parsed(out))
}

/// Parses `stream` against `policy` (indexed by attribute type).
pub fn parse<'a, const N: usize>(
    stream: &'a [u8],
    policy: &[AttrPolicy; N],
) -> Result<Parsed<'a, N>, Errno> {
    let parsed = pick(stream, policy, |p, a| {
        if p.accepts(a) {
            Ok(())
        } else {
            crate::diag::bad_attr(a.ty(), a.len());
            Err(Errno::Inval)
        }
    })?;
    let missing = policy
        .iter()
        .zip(parsed.0.iter())
        .position(|(p, a)| p.required && p.kind != Kind::Ignored && a.is_none());
    if let Some(ty) = missing {
        crate::diag::missing_attr(ty);
        return Err(Errno::Inval);
    }
    Ok(parsed)
}

/// Parses `stream` as Linux's generic netlink does for a family that asks
/// for liberal validation (`GENL_DONT_VALIDATE_STRICT`, `nla_parse_deprecated`):
/// an attribute shorter than its policy's minimum, a flag with a payload or
/// a nest too short for an attribute header is ERANGE; a longer fixed-size
/// attribute is accepted (its leading bytes are its value); `required` is
/// the handler's to check.
pub fn parse_liberal<'a, const N: usize>(
    stream: &'a [u8],
    policy: &[AttrPolicy; N],
) -> Result<Parsed<'a, N>, Errno> {
    pick(stream, policy, |p, a| {
        let short = match p.kind {
            Kind::Flag => !a.is_empty(),
            Kind::Nested => !a.is_empty() && a.len() < super::NLA_HDRLEN,
            _ => a.len() < usize::from(p.min),
        };
        if short { Err(Errno::Range) } else { Ok(()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: [AttrPolicy; 4] = [
        AttrPolicy::U32,
        AttrPolicy::U8.optional(),
        AttrPolicy::string(2, 16).optional(),
        AttrPolicy::IGNORED,
    ];

    fn attr(ty: u16, payload: &[u8]) -> std::vec::Vec<u8> {
        let mut v = std::vec::Vec::new();
        v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn type_zero_is_a_real_attribute() {
        let s = attr(0, &5u32.to_ne_bytes());
        let p = parse(&s, &POLICY).unwrap();
        assert_eq!(p.u32(0), Some(5));
        assert!(parse(&[], &POLICY).is_err(), "missing required attr 0");
    }

    #[test]
    fn unknown_ignored_last_duplicate_wins() {
        let mut s = attr(0, &1u32.to_ne_bytes());
        s.extend(attr(9, &[1, 2, 3]));
        s.extend(attr(3, &[1]));
        s.extend(attr(0, &2u32.to_ne_bytes()));
        let p = parse(&s, &POLICY).unwrap();
        assert_eq!(p.u32(0), Some(2));
        assert!(!p.has(3));
    }

    #[test]
    fn length_and_string_rules() {
        let mut s = attr(0, &1u32.to_ne_bytes());
        s.extend(attr(1, &[1, 2]));
        assert_eq!(parse(&s, &POLICY).unwrap_err(), Errno::Inval);
        let mut s = attr(0, &1u32.to_ne_bytes());
        s.extend(attr(2, b"a\0"));
        assert_eq!(parse(&s, &POLICY).unwrap().str(2), Some("a"));
        let mut s = attr(0, &1u32.to_ne_bytes());
        s.extend(attr(2, b"\0"));
        assert!(parse(&s, &POLICY).is_err(), "below min length");
        let mut s = attr(0, &1u32.to_ne_bytes());
        s.extend(attr(2, b"ab"));
        assert!(parse(&s, &POLICY).is_err(), "no terminator");
    }

    #[test]
    fn liberal_lengths() {
        const LIB: [AttrPolicy; 4] = [
            AttrPolicy::IGNORED,
            AttrPolicy::U32.optional(),
            AttrPolicy::FLAG.optional(),
            AttrPolicy::NESTED.optional(),
        ];
        let long = attr(1, &[1, 0, 0, 0, 9]);
        assert_eq!(parse_liberal(&long, &LIB).unwrap().get(1).unwrap().len(), 5);
        for bad in [attr(1, &[1, 0]), attr(2, &[1]), attr(3, &[1, 2])] {
            assert_eq!(parse_liberal(&bad, &LIB).unwrap_err(), Errno::Range);
        }
        let ok = [attr(2, &[]), attr(3, &[]), attr(0, &[1])].concat();
        let p = parse_liberal(&ok, &LIB).unwrap();
        assert!(p.has(2) && p.has(3) && !p.has(0) && !p.has(1));
    }

    #[test]
    fn trailing_garbage_fails() {
        let mut s = attr(0, &1u32.to_ne_bytes());
        s.extend([1, 0]);
        assert!(parse(&s, &POLICY).is_err());
    }
}
