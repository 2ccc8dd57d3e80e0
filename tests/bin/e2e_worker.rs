//! The `worker` process for end-to-end tests: the very entry point of the
//! `worker` binary, built inside this package so that tests can start it
//! through `CARGO_BIN_EXE_e2e-worker`.

fn main() -> std::process::ExitCode {
    worker::cli::main()
}
