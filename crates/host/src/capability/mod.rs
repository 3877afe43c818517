//! The capabilities a guest imports, each self-contained as Spin's factors are: an app-wide
//! part built from the config, a per-instance state that implements the host traits, and
//! an `add_to_linker` that reaches that state through a getter. None knows of another or
//! of the instance state that holds them all (`crate::state`).

pub mod key_value;
pub mod outbound_http;
pub mod redis;
pub mod table;
pub mod variables;
