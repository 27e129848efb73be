//! OVS datapath flow and action text syntax (as `ovs-dpctl` prints and parses it).

use alloc::string::String;

/// Runs one `ovsext-sim odp <verb>` line; `None` if the verb is unknown.
pub fn odp_line(verb: &str, line: &str) -> Option<String> {
    let _ = (verb, line);
    None
}
