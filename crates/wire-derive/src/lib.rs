//! `#[derive(Wire)]`: the JSON form of wit-bindgen generated types.
//!
//! wit-bindgen can add derives to the types it generates but no `#[serde(...)]` attributes, so
//! this derive carries the wire conventions itself:
//!
//! - structs: camelCase keys; `Option` fields are omitted when `None` and default to `None`
//!   when missing; a field named `type_` (a keyword escaped by wit-bindgen) is `"type"`.
//!   Implemented with a hidden shadow copy of the struct and `#[serde(remote = "...")]`.
//! - unit-only enums: SCREAMING_SNAKE_CASE names (`AWAITING_APPROVAL`), read back from that name
//!   (case-insensitive, `-` or `_`) or from the declaration index (`1` or `1.0`). Unknown input is a serde
//!   error that lists the allowed names. Also adds `ALL`, `WIRE_NAMES`, `wire_name`,
//!   `from_wire_name` and `from_wire_index`.
//!
//! The derived code refers to `::serde`, so the using crate depends on serde (with `derive`).

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::{parse_macro_input, Data, DeriveInput, Fields, LitStr};

mod names;

/// Derives `serde::Serialize` and `serde::Deserialize` with the coffee shop's wire conventions.
#[proc_macro_derive(Wire)]
pub fn derive_wire(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "Wire does not support generic types",
        ));
    }
    match &input.data {
        Data::Struct(data) => expand_struct(input, &data.fields),
        Data::Enum(data) => {
            let mut variants = Vec::new();
            for variant in &data.variants {
                if !matches!(variant.fields, Fields::Unit) {
                    return Err(syn::Error::new_spanned(
                        variant,
                        "Wire supports only unit-only enums (WIT enums)",
                    ));
                }
                variants.push(variant.ident.clone());
            }
            Ok(expand_unit_enum(input, &variants))
        }
        Data::Union(_) => Err(syn::Error::new_spanned(
            &input.ident,
            "Wire does not support unions",
        )),
    }
}

fn expand_struct(input: &DeriveInput, fields: &Fields) -> syn::Result<TokenStream2> {
    let Fields::Named(named) = fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "Wire supports only structs with named fields (WIT records)",
        ));
    };
    let ident = &input.ident;
    let shadow = format_ident!("__{}Wire", ident);
    let remote = LitStr::new(&ident.to_string(), ident.span());
    let shadow_fields = named.named.iter().map(|field| {
        let name = field.ident.as_ref().expect("named field");
        let ty = &field.ty;
        let mut attrs = Vec::new();
        if let Some(keyword) = name.to_string().strip_suffix('_') {
            // wit-bindgen escapes keywords (`type` -> `type_`); the wire keeps the WIT name.
            let renamed = LitStr::new(&names::camel_case(keyword), name.span());
            attrs.push(quote!(#[serde(rename = #renamed)]));
        }
        if names::is_option(ty) {
            attrs.push(quote!(#[serde(default, skip_serializing_if = "Option::is_none")]));
        }
        quote! { #(#attrs)* #name: #ty }
    });
    Ok(quote! {
        // A const block keeps the shadow type out of the caller's namespace.
        const _: () = {
            #[derive(::serde::Serialize, ::serde::Deserialize)]
            #[serde(remote = #remote, rename_all = "camelCase")]
            struct #shadow {
                #(#shadow_fields,)*
            }

            impl ::serde::Serialize for #ident {
                fn serialize<S: ::serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> ::core::result::Result<S::Ok, S::Error> {
                    #shadow::serialize(self, serializer)
                }
            }

            impl<'de> ::serde::Deserialize<'de> for #ident {
                fn deserialize<D: ::serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    #shadow::deserialize(deserializer)
                }
            }
        };
    })
}

fn expand_unit_enum(input: &DeriveInput, variants: &[syn::Ident]) -> TokenStream2 {
    let ident = &input.ident;
    let wire_names: Vec<String> = variants
        .iter()
        .map(|v| names::screaming_snake_case(&v.to_string()))
        .collect();
    let indices: Vec<u64> = (0..variants.len() as u64).collect();
    let what = names::words(&ident.to_string());
    let allowed = format!(
        "{} (or 0..={})",
        wire_names.join(", "),
        variants.len().saturating_sub(1)
    );
    let expecting = format!("{what} as name or number: {allowed}");
    let visitor = format_ident!("__{}WireVisitor", ident);
    quote! {
        impl #ident {
            /// Every value, in declaration order (the order of the numeric codes).
            pub const ALL: &'static [Self] = &[#(Self::#variants),*];
            /// The wire names, in declaration order.
            pub const WIRE_NAMES: &'static [&'static str] = &[#(#wire_names),*];

            /// The SCREAMING_SNAKE_CASE name used in JSON.
            pub fn wire_name(&self) -> &'static str {
                match self {
                    #(Self::#variants => #wire_names,)*
                }
            }

            /// Looks a value up by wire name; case-insensitive, `-` and `_` are the same.
            pub fn from_wire_name(name: &str) -> ::core::option::Option<Self> {
                let wanted = name.trim();
                Self::ALL.iter().copied().find(|value| {
                    let known = value.wire_name();
                    known.len() == wanted.len()
                        && known
                            .bytes()
                            .zip(wanted.bytes())
                            .all(|(k, w)| k == w.to_ascii_uppercase() || (k == b'_' && w == b'-'))
                })
            }

            /// Looks a value up by its declaration index (its numeric code).
            pub fn from_wire_index(index: u64) -> ::core::option::Option<Self> {
                match index {
                    #(#indices => ::core::option::Option::Some(Self::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        const _: () = {
            impl ::serde::Serialize for #ident {
                fn serialize<S: ::serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> ::core::result::Result<S::Ok, S::Error> {
                    serializer.serialize_str(self.wire_name())
                }
            }

            struct #visitor;

            impl<'de> ::serde::de::Visitor<'de> for #visitor {
                type Value = #ident;

                fn expecting(
                    &self,
                    formatter: &mut ::core::fmt::Formatter<'_>,
                ) -> ::core::fmt::Result {
                    formatter.write_str(#expecting)
                }

                fn visit_str<E: ::serde::de::Error>(
                    self,
                    value: &str,
                ) -> ::core::result::Result<#ident, E> {
                    #ident::from_wire_name(value).ok_or_else(|| {
                        E::custom(::core::format_args!(
                            "unknown {} `{}`; allowed: {}", #what, value, #allowed
                        ))
                    })
                }

                fn visit_u64<E: ::serde::de::Error>(
                    self,
                    value: u64,
                ) -> ::core::result::Result<#ident, E> {
                    #ident::from_wire_index(value).ok_or_else(|| {
                        E::custom(::core::format_args!(
                            "unknown {} `{}`; allowed: {}", #what, value, #allowed
                        ))
                    })
                }

                // JSON does not tell `1` from `1.0` (nor does JSON Schema's `integer`).
                fn visit_f64<E: ::serde::de::Error>(
                    self,
                    value: f64,
                ) -> ::core::result::Result<#ident, E> {
                    if value.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&value) {
                        self.visit_u64(value as u64)
                    } else {
                        ::core::result::Result::Err(E::custom(::core::format_args!(
                            "unknown {} `{}`; allowed: {}", #what, value, #allowed
                        )))
                    }
                }

                fn visit_i64<E: ::serde::de::Error>(
                    self,
                    value: i64,
                ) -> ::core::result::Result<#ident, E> {
                    match u64::try_from(value) {
                        ::core::result::Result::Ok(index) => self.visit_u64(index),
                        ::core::result::Result::Err(_) => ::core::result::Result::Err(E::custom(
                            ::core::format_args!(
                                "unknown {} `{}`; allowed: {}", #what, value, #allowed
                            ),
                        )),
                    }
                }
            }

            impl<'de> ::serde::Deserialize<'de> for #ident {
                fn deserialize<D: ::serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    deserializer.deserialize_any(#visitor)
                }
            }
        };
    }
}
