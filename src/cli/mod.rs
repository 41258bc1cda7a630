//! The command's parts: arguments, signals, and running each command.

pub mod args;
pub mod run;
pub mod signal;
