//! Which of the two streams of a match is being parsed.

use super::attrset::{Fill, Pass, leaf};
use crate::flow::FlowKey;
use crate::netlink::Errno;

#[derive(Clone, Copy, Debug)]
pub(super) enum Side<'k> {
    /// The flow key itself.
    Key,
    /// The mask of `key`, which is already parsed (some mask rules look at it).
    Mask { key: &'k FlowKey, fill: Fill },
}

impl<'k> Side<'k> {
    pub(super) fn is_mask(&self) -> bool {
        matches!(self, Side::Mask { .. })
    }

    pub(super) fn pass(&self) -> Pass {
        match self {
            Side::Key => Pass::Key,
            Side::Mask { fill, .. } => Pass::Mask(*fill),
        }
    }

    pub(super) fn fill(&self) -> Fill {
        match self {
            Side::Key => Fill::Value,
            Side::Mask { fill, .. } => *fill,
        }
    }

    /// The bytes a leaf attribute contributes on this side.
    pub(super) fn leaf<'a>(&self, payload: &'a [u8]) -> Result<&'a [u8], Errno> {
        leaf(payload, self.fill())
    }
}
