//! The `worker` command: drains the email queue until SIGTERM/SIGINT.

use common::Settings;

#[tokio::main]
async fn main() {
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(1);
        }
    };
    common::telemetry::init(settings.log_format);
    if settings.redis_url.is_none() {
        eprintln!(
            "REDIS_URL is not set. Without Redis there is no queue for a worker: the api sends emails itself \
             (in-process). Set REDIS_URL to run separate workers."
        );
        std::process::exit(worker::EXIT_NO_REDIS);
    }
    if let Err(err) = worker::run(settings, common::shutdown::signal()).await {
        eprintln!("worker failed: {err:#}");
        std::process::exit(1);
    }
}
