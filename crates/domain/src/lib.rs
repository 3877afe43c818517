//! The coffee shop's domain, as plain Rust that builds natively and for wasm32-wasip2.
//!
//! The shared types come from `wit/coffeeshop.wit` (see [`types`]) and are re-exported here.

pub mod catalog;
pub mod clock;
pub mod delivery;
pub mod events;
pub mod inventory;
pub mod item_type;
pub mod json_body;
pub mod order;
pub mod order_request;
pub mod payments;
pub mod pricing;
pub mod problem;
pub mod shipping;
pub mod state;
#[cfg(test)]
mod test_orders;
pub mod types;
pub mod workflow;

pub use types::*;
