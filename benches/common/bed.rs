//! A switch for the benches that go through the datapath: VM ports bound to
//! vports, driven through the IOCTL path, and an egress that only counts.

use std::hint::black_box;

use ovsext::datapath::receive::Egress;
use ovsext::ioctl::{Device, Io, Outcome, code};
use ovsext::pend::{PendToken, Wakeups};
use ovsext::platform::time::Now;
use ovsext::sim::msg::Req;
use ovsext::switch::{NicIndex, PortId, PortKind};

/// Counts frames sent, as the NBL layer would add destinations.
#[derive(Default)]
pub struct Sent(pub u64);

impl<P> Egress<P> for Sent {
    fn send(&mut self, port: PortId, _: NicIndex, pkt: P) {
        self.0 += u64::from(port);
        black_box(pkt);
    }
}

pub struct Bed {
    pub dev: Device,
    h: ovsext::handle::HandleId,
    seq: u32,
}

impl Bed {
    /// A switch with `ports` VM ports bound to vports 1..=ports, and the
    /// datapath socket (PID 1) subscribed to its upcalls.
    pub fn new(ports: usize) -> Bed {
        let dev = Device::new();
        dev.attach(1).unwrap();
        let h = dev.open().unwrap();
        let mut bed = Bed { dev, h, seq: 0 };
        let mut w = Wakeups::new();
        for p in 1..=ports as u32 {
            bed.dev.with_datapath(|dp| {
                dp.nic_create(
                    p,
                    0,
                    PortKind::Vm,
                    &format!("vm{p}"),
                    [0, 0x15, 0x5d, 0, 0, p as u8],
                    1500,
                )
                .unwrap();
                dp.nic_connect(p, 0, &mut w).unwrap();
            });
            let r = Req::new(0x14, 1, 1, 0, 1)
                .u32(2, 1)
                .str(3, &format!("vm{p}"))
                .u32(5, 1);
            bed.transact(&r.bytes());
        }
        bed.write(&Req::new(0x11, 3, 1, 0, 1).u8(2, 1).u32(3, 1).bytes());
        bed
    }

    pub fn ioctl(&mut self, c: u32, input: &[u8]) -> Outcome {
        self.seq += 1;
        let mut out = vec![0u8; 4096];
        let mut egress = Sent::default();
        let mut io = Io {
            token: PendToken(u64::from(self.seq)),
            now: Now::default(),
            egress: &mut egress,
        };
        self.dev
            .ioctl(self.h, c, input, &mut out, &mut io, &mut Wakeups::new())
    }

    pub fn transact(&mut self, msg: &[u8]) {
        let r = self.ioctl(code::TRANSACT, msg);
        assert!(matches!(r, Outcome::Done { len, .. } if len > 36), "{r:?}");
    }

    pub fn write(&mut self, msg: &[u8]) {
        assert!(matches!(
            self.ioctl(code::WRITE, msg),
            Outcome::Done { len: 0, .. }
        ));
    }
}
