//! The X API v2 enterprise streams as data (`x-api-v2.md`): products and their paths,
//! partitions and limits; what a line is and how records are keyed; error bodies and what each
//! refusal means. The [`Dialect::V2`](super::dialect::Dialect::V2) arms read these.

pub mod connections;
pub mod problems;
pub mod products;
pub mod records;
pub mod rules;
