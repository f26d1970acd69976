//! Typed ids: an execution's, a stage's and a pipeline's ids are different things, so they are
//! different types. Each is its text exactly (serialized as a plain string) and reads as `&str`
//! where text is wanted.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

/// An execution (a run of a pipeline).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionId(String);

/// A stage of one execution (unique within it; not the pipeline's `refId`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StageId(String);

/// A pipeline configuration (Front50's id; the same across its versions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PipelineId(String);

/// What every id type offers: construction, its text, display, comparison with text.
macro_rules! id_impls {
    ($name:ident) => {
        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

id_impls!(ExecutionId);
id_impls!(StageId);
id_impls!(PipelineId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_their_text_in_json_and_in_comparisons() {
        let id = ExecutionId::new("01J");
        assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!("01J"));
        let back: ExecutionId = serde_json::from_str("\"01J\"").unwrap();
        assert_eq!(back, id);
        assert_eq!(id, "01J");
        assert_eq!(format!("/executions/{id}"), "/executions/01J");
        let s: &str = &id;
        assert_eq!(s.len(), 3);
    }
}
