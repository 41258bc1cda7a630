//! Test support (feature `testing`, which the tests, benchmarks and fuzz targets turn on;
//! hidden from the docs): the naive oracle that the tests and the fuzz targets share, and a
//! real nats-server cluster on loopback, and the fixtures every test sets up (a scratch
//! directory, a free port). Production code never imports it. The record
//! generator and the corpus are the simulator's sources (`simulator::{generator, corpus}`).

mod fixtures;
#[cfg(feature = "jetstream")]
pub mod nats_cluster;
pub mod oracle;

pub use fixtures::{free_port, scratch_dir};
