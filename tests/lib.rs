//! End-to-end tests live in `e2e/`; this empty library only gives the package a target.
