//! The shared WIT types (`wit/coffeeshop.wit`) as Rust, with their JSON form.
//!
//! `Wire` gives every record camelCase JSON and every enum its SCREAMING_SNAKE_CASE name.
//! `item-type` is left out of the extra derives because its wire form is its number; its serde
//! and helpers are written by hand in [`crate::item_type`].

wit_bindgen::generate!({
    world: "shared-types",
    path: "../../wit",
    additional_derives: [PartialEq, Eq, Hash, coffeeshop_wire_derive::Wire],
    additional_derives_ignore: ["item-type"],
    // The world has no functions; without this wit-bindgen would emit no types at all.
    generate_unused_types: true,
});

pub use coffeeshop::orders::types::*;
