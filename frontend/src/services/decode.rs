//! Reading the server's answers (JSON already parsed into a `Value`) into the dashboard's types.
//!
//! One small, hand-written path instead of serde's derived decoders: a derived `Deserialize`
//! is a visitor per type (field matching, error messages, sequence and map access), and each
//! one was copied into the wasm module once per deserializer it met — about a tenth of the
//! module. Here a type reads its fields by name from the object; a struct's reader is a
//! sequence of calls, written by [`from_json!`].

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::Value;

/// A type read from the server's JSON. `None`: the JSON does not have its shape.
pub trait FromJson: Sized {
    fn from_json(json: &Value) -> Option<Self>;
}

/// `json`'s member `snake_name` as the schema names it in camelCase (`license_key` reads
/// `licenseKey`), or `null` when it has none.
pub fn member<'a>(json: &'a Value, snake_name: &str) -> &'a Value {
    json.as_object()
        .and_then(|object| object.iter().find(|(key, _)| is_camel_case_of(key, snake_name)))
        .map_or(&Value::Null, |(_, value)| value)
}

fn is_camel_case_of(camel: &str, snake: &str) -> bool {
    let mut camel = camel.chars();
    let mut after_underscore = false;
    for c in snake.chars() {
        if c == '_' {
            after_underscore = true;
            continue;
        }
        let expected = if after_underscore { c.to_ascii_uppercase() } else { c };
        after_underscore = false;
        if camel.next() != Some(expected) {
            return false;
        }
    }
    camel.next().is_none()
}

/// Reads the member `snake_name` of `json` (see [`member`]).
pub fn field<T: FromJson>(json: &Value, snake_name: &str) -> Option<T> {
    T::from_json(member(json, snake_name))
}

/// The variant name a union's object carries in `__typename`.
pub fn typename(json: &Value) -> Option<&str> {
    json["__typename"].as_str()
}

/// Declares a struct whose fields are read from the JSON object's members of the same names in
/// camelCase (`FromJson`); a missing member reads as `null`, so an `Option` field may be absent.
macro_rules! from_json {
    ($(#[$attr:meta])* $vis:vis struct $name:ident {
        $($(#[$field_attr:meta])* $field_vis:vis $field:ident: $type:ty),* $(,)?
    }) => {
        $(#[$attr])*
        $vis struct $name {
            $($(#[$field_attr])* $field_vis $field: $type),*
        }

        impl $crate::services::decode::FromJson for $name {
            fn from_json(json: &serde_json::Value) -> Option<Self> {
                Some($name { $($field: $crate::services::decode::field(json, stringify!($field))?),* })
            }
        }
    };
}
pub(crate) use from_json;

/// `FromJson` for enums of the schema, read by their name (`as_str` and `ALL`).
macro_rules! enum_from_json {
    ($($name:ident),* $(,)?) => {
        $(impl $crate::services::decode::FromJson for $name {
            fn from_json(json: &serde_json::Value) -> Option<Self> {
                let name = json.as_str()?;
                $name::ALL.into_iter().find(|value| value.as_str() == name)
            }
        })*
    };
}
pub(crate) use enum_from_json;

impl FromJson for Value {
    fn from_json(json: &Value) -> Option<Self> {
        Some(json.clone())
    }
}

impl FromJson for String {
    fn from_json(json: &Value) -> Option<Self> {
        json.as_str().map(str::to_owned)
    }
}

impl FromJson for bool {
    fn from_json(json: &Value) -> Option<Self> {
        json.as_bool()
    }
}

impl FromJson for i64 {
    fn from_json(json: &Value) -> Option<Self> {
        json.as_i64()
    }
}

impl FromJson for i32 {
    fn from_json(json: &Value) -> Option<Self> {
        json.as_i64()?.try_into().ok()
    }
}

impl FromJson for u32 {
    fn from_json(json: &Value) -> Option<Self> {
        json.as_u64()?.try_into().ok()
    }
}

impl FromJson for usize {
    fn from_json(json: &Value) -> Option<Self> {
        json.as_u64()?.try_into().ok()
    }
}

impl FromJson for DateTime<Utc> {
    fn from_json(json: &Value) -> Option<Self> {
        json.as_str()?.parse().ok()
    }
}

impl FromJson for NaiveDate {
    fn from_json(json: &Value) -> Option<Self> {
        json.as_str()?.parse().ok()
    }
}

impl FromJson for NaiveTime {
    fn from_json(json: &Value) -> Option<Self> {
        json.as_str()?.parse().ok()
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(json: &Value) -> Option<Self> {
        if json.is_null() {
            Some(None)
        } else {
            T::from_json(json).map(Some)
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(json: &Value) -> Option<Self> {
        json.as_array()?.iter().map(T::from_json).collect()
    }
}
