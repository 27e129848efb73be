//! Windows kernel glue (NDIS filter, control device). Only this module may use `unsafe`.
