//! The `worker` command: drains the email queue until SIGTERM/SIGINT.

/// mimalloc instead of the system allocator, as in the api: every email is
/// a few hundred small allocations (the rendered parts, the MIME message,
/// SMTP and Redis buffers), which glibc's malloc served at about a tenth
/// of the worker's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    worker::cli::main()
}
