//! The triggers that start component instances.

pub mod http;
pub mod redis;
