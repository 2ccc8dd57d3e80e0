//! The `worker` command: drains the email queue until SIGTERM/SIGINT.

fn main() -> std::process::ExitCode {
    worker::cli::main()
}
