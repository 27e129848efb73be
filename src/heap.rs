//! Fallible heap allocation of one value (`Box::try_new` is not stable).

use alloc::boxed::Box;
use alloc::vec::Vec;

/// `value` on the heap, as a one-element slice; `None` when out of memory.
pub fn boxed<T>(value: T) -> Option<Box<[T]>> {
    let mut v = Vec::new();
    v.try_reserve_exact(1).ok()?;
    v.push(value);
    Some(v.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_value() {
        assert_eq!(super::boxed(7u8).as_deref(), Some(&[7u8][..]));
    }
}
