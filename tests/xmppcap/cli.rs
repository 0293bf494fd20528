//! The binary as a user runs it: exit codes, errors, output formats.

use std::process::{Command, Output};

pub fn xmppcap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xmppcap"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the xmppcap binary runs")
}

#[test]
fn missing_file_is_exit_2_with_one_clear_line() {
    let out = xmppcap(&["streams", "no/such/file.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no/such/file.pcap"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn not_a_capture_says_what_it_looks_like() {
    let out = xmppcap(&["streams", "Cargo.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a pcap or pcapng"), "{stderr}");
}

#[test]
fn bad_arguments_are_exit_2() {
    assert_eq!(xmppcap(&["streams"]).status.code(), Some(2));
    assert_eq!(
        xmppcap(&["streams", "--format", "xml", "x.pcap"])
            .status
            .code(),
        Some(2)
    );
}
