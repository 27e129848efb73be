//! The README states what the driver enforces: who may open the control
//! device, and so which tools need an elevated prompt.

const README: &str = include_str!("../README.md");
const DEVICE: &str = include_str!("../src/sys/device.rs");

/// The README as one line of words (its paragraphs wrap anywhere).
fn readme_words() -> String {
    README.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn control_device_admits_system_and_administrators_only() {
    // Generic all to Local System and Builtin Administrators, nobody else.
    assert!(DEVICE.contains(r#"ascii_utf16("D:P(A;;GA;;;SY)(A;;GA;;;BA)\0")"#));
    assert!(readme_words().contains("only SYSTEM and Administrators may open it"));
}

#[test]
fn readme_says_the_tools_need_an_elevated_prompt() {
    let words = readme_words();
    let at = words
        .find("Run `ovs-dpctl` and `ovs-appctl` from an elevated prompt")
        .expect("the README names the tools that need elevation");
    // Said where the device's access is described.
    let access = words
        .find("only SYSTEM and Administrators may open it")
        .expect("the README describes the device's access");
    assert!(at > access && at - access < 200);
}
