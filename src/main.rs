//! The `xmppcap` binary: parses the command line and runs the library.

fn main() -> std::process::ExitCode {
    xmppcap::cli::main()
}
