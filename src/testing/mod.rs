//! Test support, hidden from the docs: the record generator, corpus loading, and the naive
//! oracle that the tests and the fuzz targets share. Production code (`core`, `protocol`,
//! `client`) never imports it; the simulator uses the generator and the corpus as its sources.

#[cfg(feature = "simulator")]
pub mod corpus;
pub mod generator;
#[cfg(feature = "jetstream")]
pub mod nats_cluster;
pub mod oracle;
