//! Frame -> flow key.
