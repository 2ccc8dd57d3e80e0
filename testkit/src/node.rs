//! The npm packages the end-to-end tests run with Node (pinned by
//! `tests/js/package-lock.json`) and the browser they drive (Debian's
//! `chromium`): installed on first use (`npm ci`, `apt-get install`), so
//! that `cargo test` sets itself up on a fresh machine.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

/// Serialises installs between the tests of one process.
static INSTALL: Mutex<()> = Mutex::new(());

/// `tests/js` of this repository.
#[must_use]
pub fn packages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/js")
}

/// Makes sure `tests/js/node_modules` matches the lock file, running
/// `npm ci` (and saying so) when it is missing or older than the lock file;
/// returns the packages' directory.
///
/// # Panics
/// When Node or npm is missing, or the install fails: the tests that need
/// the packages cannot run, and say why instead of skipping.
pub fn ensure_packages() -> PathBuf {
    ensure_packages_in(packages_dir(), "the test tools'")
}

/// The same for the npm project in `dir` (`whose` names it in the message
/// saying what is installed, e.g. "the deploy validator's").
///
/// # Panics
/// As [`ensure_packages`].
pub fn ensure_packages_in(dir: PathBuf, whose: &str) -> PathBuf {
    let _guard = INSTALL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/.package-lock.json");
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let fresh = match (modified(&installed), modified(&lock)) {
        (Some(installed), Some(lock)) => installed >= lock,
        _ => false,
    };
    if !fresh {
        eprintln!(
            "installing {whose} npm packages into {} (npm ci, pinned by package-lock.json)",
            dir.join("node_modules").display()
        );
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .unwrap_or_else(|e| panic!("running npm (install Node.js 20 and npm): {e}"));
        assert!(status.success(), "npm ci in {} failed: {status}", dir.display());
    }
    dir
}

/// Where the browser tests expect Chromium (Debian's package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Serialises Chromium installs between the tests of one process.
static CHROMIUM_INSTALL: Mutex<()> = Mutex::new(());

/// Makes sure Debian's `chromium` is installed, running `apt-get install
/// chromium` (and saying so) when [`CHROMIUM`] is missing; returns its path.
///
/// # Panics
/// When it is missing and cannot be installed (apt-get needs root): the
/// browser tests cannot run, and say why instead of skipping.
pub fn ensure_chromium() -> &'static Path {
    let path = Path::new(CHROMIUM);
    let _guard = CHROMIUM_INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !path.exists() {
        eprintln!("installing Debian's chromium for the browser tests (apt-get install chromium)");
        let apt = |args: &[&str]| {
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .unwrap_or_else(|e| panic!("running apt-get to install chromium (or install it yourself): {e}"))
        };
        let install = ["install", "-y", "-q", "--no-install-recommends", "chromium"];
        let mut status = apt(&install);
        if !status.success() {
            eprintln!("apt-get install failed: refreshing the package lists (apt-get update) and trying again");
            apt(&["update", "-q"]);
            status = apt(&install);
        }
        assert!(
            status.success() && path.exists(),
            "apt-get install chromium failed ({status}); install Debian's chromium (needs root)"
        );
    }
    path
}
