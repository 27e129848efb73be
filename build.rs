//! With feature `wdk` (a Windows host in an eWDK prompt), windows-drivers-rs
//! configures the kernel-driver link: `/DRIVER /SUBSYSTEM:NATIVE
//! /ENTRY:DriverEntry`, the WDK library paths, and the
//! `driver_model__driver_type` cfg the wdk crates are built with. Without
//! it nothing is configured, so the crate builds and tests on any host.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!(
        "cargo::rustc-check-cfg=cfg(driver_model__driver_type, values(\"WDM\", \"KMDF\", \"UMDF\"))"
    );
    #[cfg(feature = "wdk")]
    wdk_build::configure_wdk_binary_build()
        .expect("feature `wdk` needs a Windows host with the WDK (an eWDK prompt)");
}
