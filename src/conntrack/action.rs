//! The `OVS_ACTION_ATTR_CT` payload: parsed and checked as Linux's
//! `ovs_ct_copy_action` (`parse_ct`, `parse_nat`) does at flow install, with
//! the same errnos, and parsed again (it cannot fail then) when executed.
//!
//! Where this datapath differs: a HELPER other than "ftp" and "tftp" is
//! refused with EOPNOTSUPP (Linux answers ENOENT for a helper it does not
//! have); a TIMEOUT names a policy that is kept but, as on Linux
//! when no such policy exists, changes nothing (the Windows userspace never
//! installs timeout policies).

use crate::netlink::{Errno, attrs};
use crate::ovs::action as act;

/// `NF_CT_HELPER_NAME_LEN`.
const HELPER_NAME_MAX: usize = 16;
/// `CTNL_TIMEOUT_NAME_MAX`.
const TIMEOUT_NAME_MAX: usize = 32;

/// The address family a CT action works on (Linux's `key_to_nfproto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// From a flow's Ethertype; anything but IPv4 and IPv6 is EINVAL.
    pub fn of_eth_type(eth_type: u16) -> Result<Family, Errno> {
        match eth_type {
            0x0800 => Ok(Family::V4),
            0x86dd => Ok(Family::V6),
            _ => Err(Errno::Inval),
        }
    }

    fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
}

/// Which side of a connection NAT rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatKind {
    Src,
    Dst,
}

/// `OVS_CT_ATTR_NAT`. `kind: None` is `nat` alone: re-apply what the
/// connection already has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nat {
    pub kind: Option<NatKind>,
    /// Address range, wire bytes (IPv4 in the first four); `None` keeps the address.
    pub addrs: Option<([u8; 16], [u8; 16])>,
    /// Port range (host order); `None` keeps the port.
    pub ports: Option<(u16, u16)>,
    pub persistent: bool,
    pub proto_hash: bool,
    pub proto_random: bool,
}

/// An application helper (`OVS_CT_ATTR_HELPER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Helper {
    Ftp,
    Tftp,
}

impl Helper {
    /// Its name, as `OVS_CT_ATTR_HELPER` and `CTA_HELP_NAME` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Helper::Ftp => "ftp",
            Helper::Tftp => "tftp",
        }
    }
}

/// One CT action, as parsed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtAction {
    pub commit: bool,
    pub force: bool,
    pub zone: u16,
    /// (value, mask), mask non-zero.
    pub mark: Option<(u32, u32)>,
    /// (value, mask), mask non-zero.
    pub labels: Option<([u8; 16], [u8; 16])>,
    pub nat: Option<Nat>,
    pub eventmask: Option<u32>,
    /// A timeout policy is named (it stays in the flow's actions; none is
    /// applied, see the module note).
    pub timeout: bool,
    pub helper: Option<Helper>,
}

fn has_nul(name: &[u8]) -> bool {
    name.contains(&0)
}

/// The zone of the CT action an action list starts with, if it starts
/// with one.
pub fn leading_zone(actions: &[u8]) -> Option<u16> {
    let first = attrs(actions).next()?.ok()?;
    if first.ty() != act::CT {
        return None;
    }
    let zone = attrs(first.payload())
        .flatten()
        .find(|a| a.ty() == act::CT_ZONE);
    Some(zone.and_then(|a| a.u16()).unwrap_or(0))
}

/// `parse_ct` of a CT action for a flow of `family`.
pub fn parse(payload: &[u8], family: Family) -> Result<CtAction, Errno> {
    let mut ct = CtAction::default();
    for a in attrs(payload) {
        let a = a.map_err(|_| Errno::Inval)?;
        let p = a.payload();
        // `ovs_ct_attr_lens`: types it leaves out (UNSPEC) must be empty,
        // and are then refused as unknown.
        let fits = match a.ty() {
            act::CT_COMMIT | act::CT_FORCE_COMMIT => p.is_empty(),
            act::CT_ZONE => p.len() == 2,
            act::CT_MARK => p.len() == 8,
            act::CT_LABELS => p.len() == 32,
            act::CT_HELPER => (1..=HELPER_NAME_MAX).contains(&p.len()),
            act::CT_NAT => true,
            act::CT_EVENTMASK => p.len() == 4,
            act::CT_TIMEOUT => (1..=TIMEOUT_NAME_MAX).contains(&p.len()),
            _ => p.is_empty(),
        };
        if !fits {
            return Err(Errno::Inval);
        }
        match a.ty() {
            act::CT_FORCE_COMMIT => {
                ct.force = true;
                ct.commit = true;
            }
            act::CT_COMMIT => ct.commit = true,
            act::CT_ZONE => ct.zone = a.u16().ok_or(Errno::Inval)?,
            act::CT_MARK => {
                let (v, m) = p.split_at(4);
                let value = u32::from_ne_bytes(v.try_into().map_err(|_| Errno::Inval)?);
                let mask = u32::from_ne_bytes(m.try_into().map_err(|_| Errno::Inval)?);
                if mask == 0 {
                    return Err(Errno::Inval);
                }
                ct.mark = Some((value, mask));
            }
            act::CT_LABELS => {
                let (v, m) = p.split_at(16);
                let value: [u8; 16] = v.try_into().map_err(|_| Errno::Inval)?;
                let mask: [u8; 16] = m.try_into().map_err(|_| Errno::Inval)?;
                if mask == [0; 16] {
                    return Err(Errno::Inval);
                }
                ct.labels = Some((value, mask));
            }
            act::CT_HELPER => {
                let name = p.split(|&c| c == 0).next();
                if !has_nul(p) {
                    return Err(Errno::Inval);
                }
                ct.helper = Some(match name {
                    Some(b"ftp") => Helper::Ftp,
                    Some(b"tftp") => Helper::Tftp,
                    _ => return Err(Errno::OpNotSupp),
                });
            }
            act::CT_NAT => ct.nat = Some(parse_nat(p, family, ct.commit)?),
            act::CT_EVENTMASK => ct.eventmask = a.u32(),
            act::CT_TIMEOUT => {
                if !has_nul(p) {
                    return Err(Errno::Inval);
                }
                ct.timeout = true;
            }
            _ => return Err(Errno::Inval),
        }
    }
    // Setting a mark or labels needs `commit`.
    if !ct.commit && (ct.mark.is_some() || ct.labels.is_some()) {
        return Err(Errno::Inval);
    }
    Ok(ct)
}

/// `parse_nat`. `commit`: whether COMMIT came before the NAT attribute
/// (Linux checks it at that point, so the order matters).
fn parse_nat(payload: &[u8], family: Family, commit: bool) -> Result<Nat, Errno> {
    let mut nat = Nat::default();
    let (mut ip_min, mut ip_max, mut port_min, mut port_max) = (None, None, None, None);
    let mut flags = false;
    for a in attrs(payload) {
        let a = a.map_err(|_| Errno::Inval)?;
        let p = a.payload();
        let expected = match a.ty() {
            act::NAT_IP_MIN | act::NAT_IP_MAX => family.addr_len(),
            act::NAT_PROTO_MIN | act::NAT_PROTO_MAX => 2,
            act::NAT_SRC..=act::NAT_PROTO_RANDOM => 0,
            // Beyond the NAT attributes, whatever the length.
            _ if a.ty() > act::NAT_PROTO_RANDOM => return Err(Errno::Inval),
            _ => 0,
        };
        if p.len() != expected {
            return Err(Errno::Inval);
        }
        match a.ty() {
            act::NAT_SRC | act::NAT_DST => {
                if nat.kind.is_some() {
                    return Err(Errno::Inval);
                }
                nat.kind = Some(if a.ty() == act::NAT_SRC {
                    NatKind::Src
                } else {
                    NatKind::Dst
                });
            }
            act::NAT_IP_MIN | act::NAT_IP_MAX => {
                let mut addr = [0u8; 16];
                if let Some(dst) = addr.get_mut(..p.len()) {
                    dst.copy_from_slice(p);
                }
                if a.ty() == act::NAT_IP_MIN {
                    ip_min = Some(addr);
                } else {
                    ip_max = Some(addr);
                }
                flags = true;
            }
            act::NAT_PROTO_MIN => {
                port_min = a.u16();
                flags = true;
            }
            act::NAT_PROTO_MAX => {
                port_max = a.u16();
                flags = true;
            }
            act::NAT_PERSISTENT => {
                nat.persistent = true;
                flags = true;
            }
            act::NAT_PROTO_HASH => {
                nat.proto_hash = true;
                flags = true;
            }
            act::NAT_PROTO_RANDOM => {
                nat.proto_random = true;
                flags = true;
            }
            _ => return Err(Errno::Inval),
        }
    }
    if nat.kind.is_none() {
        // Flags only with a NAT type.
        if flags {
            return Err(Errno::Inval);
        }
    } else if !commit {
        return Err(Errno::Inval);
    }
    // A missing maximum is the minimum (a maximum alone leaves the minimum zero).
    if ip_min.is_some() || ip_max.is_some() {
        let min = ip_min.unwrap_or_default();
        nat.addrs = Some((min, ip_max.unwrap_or(min)));
    }
    if port_min.is_some() || port_max.is_some() {
        let min = port_min.unwrap_or_default();
        nat.ports = Some((min, port_max.unwrap_or(min)));
    }
    Ok(nat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn a(ty: u16, p: &[u8]) -> Vec<u8> {
        let mut v = ((4 + p.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(p);
        v.resize(v.len().next_multiple_of(4), 0);
        v
    }

    fn ct(parts: &[Vec<u8>]) -> Result<CtAction, Errno> {
        let bytes: &'static [u8] = Vec::leak(parts.concat());
        parse(bytes, Family::V4)
    }

    fn mark(v: u32, m: u32) -> Vec<u8> {
        a(act::CT_MARK, &[v.to_ne_bytes(), m.to_ne_bytes()].concat())
    }

    #[test]
    fn the_zone_of_a_leading_ct_action() {
        let zone = a(act::CT_ZONE, &7u16.to_ne_bytes());
        let commit = a(act::CT_COMMIT, &[]);
        let out = a(act::OUTPUT, &2u32.to_ne_bytes());
        let lead = [a(act::CT, &[commit.clone(), zone].concat()), out.clone()].concat();
        assert_eq!(leading_zone(&lead), Some(7));
        assert_eq!(leading_zone(&a(act::CT, &commit)), Some(0));
        let later = [out, a(act::CT, &commit)].concat();
        assert_eq!(leading_zone(&later), None);
        assert_eq!(leading_zone(&[]), None);
        assert_eq!(leading_zone(&[4, 0]), None);
    }

    #[test]
    fn members_and_lengths() {
        assert_eq!(ct(&[]), Ok(CtAction::default()));
        let c = ct(&[
            a(act::CT_COMMIT, &[]),
            a(act::CT_ZONE, &5u16.to_ne_bytes()),
            mark(1, 0xff),
            a(act::CT_LABELS, &[[1; 16], [0xf0; 16]].concat()),
            a(act::CT_EVENTMASK, &u32::MAX.to_ne_bytes()),
            a(act::CT_TIMEOUT, b"tp\0"),
        ])
        .unwrap();
        assert!(c.commit && !c.force);
        assert_eq!((c.zone, c.mark), (5, Some((1, 0xff))));
        assert_eq!(c.labels, Some(([1; 16], [0xf0; 16])));
        assert_eq!(c.eventmask, Some(u32::MAX));
        assert!(c.timeout);
        assert!(ct(&[a(act::CT_FORCE_COMMIT, &[])]).unwrap().commit);
        for bad in [
            a(act::CT_COMMIT, &[0; 4]),
            a(act::CT_ZONE, &[0; 4]),
            a(act::CT_EVENTMASK, &[0; 2]),
            a(act::CT_TIMEOUT, b"no-nul"),
            a(act::CT_TIMEOUT, &[]),
            a(act::CT_TIMEOUT, &[b'x'; 33]),
            a(act::CT_HELPER, b"ftp"),
            a(act::CT_HELPER, &[b'x'; 17]),
            a(0, &[]),
            a(act::CT_TIMEOUT + 1, &[]),
        ] {
            assert_eq!(
                ct(core::slice::from_ref(&bad)),
                Err(Errno::Inval),
                "{bad:02x?}"
            );
        }
        // FTP and TFTP are known; other helpers are refused as not supported.
        let helper = |n: &[u8]| ct(&[a(act::CT_HELPER, n)]).map(|c| c.helper);
        assert_eq!(helper(b"ftp\0"), Ok(Some(Helper::Ftp)));
        assert_eq!(helper(b"tftp\0\0"), Ok(Some(Helper::Tftp)));
        assert_eq!(helper(b"sip\0"), Err(Errno::OpNotSupp));
        assert_eq!(helper(b"ftpx\0"), Err(Errno::OpNotSupp));
        // Trailing bytes.
        assert_eq!(
            ct(&[a(act::CT_COMMIT, &[]), std::vec![4, 0]]),
            Err(Errno::Inval)
        );
    }

    #[test]
    fn mark_and_labels_need_commit_and_a_mask() {
        assert_eq!(ct(&[mark(1, 1)]), Err(Errno::Inval));
        assert_eq!(ct(&[a(act::CT_COMMIT, &[]), mark(1, 0)]), Err(Errno::Inval));
        let labels = |m: u8| a(act::CT_LABELS, &[[0; 16], [m; 16]].concat());
        assert_eq!(ct(&[labels(1)]), Err(Errno::Inval));
        assert_eq!(ct(&[a(act::CT_COMMIT, &[]), labels(0)]), Err(Errno::Inval));
        // COMMIT may come after the mark: checked at the end.
        assert!(ct(&[mark(1, 1), a(act::CT_COMMIT, &[])]).is_ok());
    }

    fn nat(parts: &[Vec<u8>]) -> Vec<u8> {
        a(act::CT_NAT | 0x8000, &parts.concat())
    }

    #[test]
    fn nat_ranges_and_flags() {
        let commit = a(act::CT_COMMIT, &[]);
        // `nat` alone, with or without commit.
        assert_eq!(ct(&[nat(&[])]).unwrap().nat, Some(Nat::default()));
        let src = a(act::NAT_SRC, &[]);
        let min = a(act::NAT_IP_MIN, &[10, 0, 0, 1]);
        let pmin = a(act::NAT_PROTO_MIN, &1024u16.to_ne_bytes());
        let pmax = a(act::NAT_PROTO_MAX, &2048u16.to_ne_bytes());
        let c = ct(&[
            commit.clone(),
            nat(&[src.clone(), min.clone(), pmin.clone()]),
        ])
        .unwrap();
        let n = c.nat.unwrap();
        assert_eq!(n.kind, Some(NatKind::Src));
        let mut a1 = [0; 16];
        a1[..4].copy_from_slice(&[10, 0, 0, 1]);
        assert_eq!((n.addrs, n.ports), (Some((a1, a1)), Some((1024, 1024))));
        let n = ct(&[commit.clone(), nat(&[src.clone(), pmin.clone(), pmax])])
            .unwrap()
            .nat
            .unwrap();
        assert_eq!((n.addrs, n.ports), (None, Some((1024, 2048))));
        // NAT with a type needs COMMIT before it.
        assert_eq!(ct(&[nat(core::slice::from_ref(&src))]), Err(Errno::Inval));
        assert_eq!(
            ct(&[nat(core::slice::from_ref(&src)), commit.clone()]),
            Err(Errno::Inval)
        );
        // Flags without a type, two types, wrong address length, unknown.
        assert_eq!(
            ct(&[commit.clone(), nat(core::slice::from_ref(&min))]),
            Err(Errno::Inval)
        );
        let dst = a(act::NAT_DST, &[]);
        assert_eq!(
            ct(&[commit.clone(), nat(&[src.clone(), dst])]),
            Err(Errno::Inval)
        );
        let v6 = a(act::NAT_IP_MIN, &[0; 16]);
        assert_eq!(
            ct(&[commit.clone(), nat(&[src.clone(), v6.clone()])]),
            Err(Errno::Inval)
        );
        let bytes = [commit.clone(), nat(&[src.clone(), v6])].concat();
        assert!(parse(&bytes, Family::V6).is_ok());
        assert_eq!(
            ct(&[commit.clone(), nat(&[src.clone(), a(10, &[])])]),
            Err(Errno::Inval)
        );
        assert_eq!(
            ct(&[commit, nat(&[src, a(act::NAT_PERSISTENT, &[1, 0, 0, 0])])]),
            Err(Errno::Inval)
        );
    }
}
