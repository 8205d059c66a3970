//! Loom models for `backpressure` live in `tests/`. Build them with
//! `RUSTFLAGS="--cfg backpressure_loom" cargo test -p loom-tests --release`; without the cfg
//! every model compiles to nothing so a plain `cargo test` of the workspace stays fast.
