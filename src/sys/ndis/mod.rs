//! Hand-written bindings to NDIS 6.30 and the parts of the I/O manager a
//! Hyper-V extensible-switch forwarding extension uses.
//!
//! The binding set covers the whole extension (filter, switch, packets,
//! control device); the glue binds to it piece by piece, so items not used
//! yet are expected here.
#![cfg(windows)]
#![allow(dead_code)]

pub mod ffi;
pub mod types;

/// Asserts, at compile time, each row of `layout.rs`.
macro_rules! layouts {
    ($($t:ident = $size:literal / $align:literal { $($($f:ident).+ : $off:literal),* $(,)? })*) => {
        $(const _: () = {
            assert!(::core::mem::size_of::<$t>() == $size);
            assert!(::core::mem::align_of::<$t>() == $align);
            $(assert!(::core::mem::offset_of!($t, $($f).+) == $off);)*
        };)*
    };
}

/// Asserts, at compile time, the header sizes listed in `layout.rs`.
macro_rules! constants {
    ($($name:ident = $val:literal),* $(,)?) => {
        $(const _: () = assert!($name as usize == $val);)*
    };
}

mod layout;
