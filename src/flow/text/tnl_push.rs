//! The userspace datapath's `tnl_push(...)` action.

use super::nl::NlBuf;
use super::out::Out;
use super::scan::{Error, Parsed};
use core::fmt;

pub(crate) fn format(o: &mut Out, _p: &[u8]) -> fmt::Result {
    o.put("tnl_push()")
}

pub(crate) fn parse(_s: &[u8], _i: usize, _out: &mut NlBuf) -> Parsed<usize> {
    Err(Error::Inval)
}
