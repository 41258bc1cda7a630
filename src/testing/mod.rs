//! Test support (feature `testing`, which the tests, benchmarks and fuzz targets turn on;
//! hidden from the docs): the naive oracle that the tests and the fuzz targets share, and a
//! real nats-server cluster on loopback. Production code never imports it. The record
//! generator and the corpus are the simulator's sources (`simulator::{generator, corpus}`).

#[cfg(feature = "jetstream")]
pub mod nats_cluster;
pub mod oracle;
