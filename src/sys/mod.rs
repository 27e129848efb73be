//! Windows kernel glue (NDIS filter, control device). Only this module may use `unsafe`.
#![allow(unsafe_code)]

#[cfg(not(target_arch = "x86_64"))]
compile_error!("the NDIS bindings are laid out and checked for x64 only");

mod driver;
mod filter;
pub(crate) mod irql;
mod ndis;
mod oid;
mod runtime;
mod wstr;
