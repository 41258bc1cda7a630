//! The command's hosts against a 3-node cluster (written below).
