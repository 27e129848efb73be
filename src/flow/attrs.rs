//! Netlink `OVS_KEY_ATTR_*` / `OVS_ACTION_ATTR_*` <-> flow key, mask and validated actions.
