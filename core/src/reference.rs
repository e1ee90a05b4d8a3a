//! Typed object references.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

/// A reference to a XenAPI object of class `C`: `OpaqueRef:<uuid>` on xapi, the object's UUID on
/// xend. The class is a marker type from [`crate::api`], so a VM reference cannot be passed where
/// a host reference is wanted.
pub struct Ref<C> {
    raw: String,
    class: PhantomData<fn() -> C>,
}

/// The null reference xapi uses for "none".
pub const NULL_REF: &str = "OpaqueRef:NULL";

impl<C> Ref<C> {
    pub fn new(raw: impl Into<String>) -> Self {
        Ref {
            raw: raw.into(),
            class: PhantomData,
        }
    }

    pub fn null() -> Self {
        Ref::new(NULL_REF)
    }

    pub fn is_null(&self) -> bool {
        self.raw == NULL_REF || self.raw.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn into_string(self) -> String {
        self.raw
    }
}

impl<C> Clone for Ref<C> {
    fn clone(&self) -> Self {
        Ref::new(self.raw.clone())
    }
}
impl<C> PartialEq for Ref<C> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<C> Eq for Ref<C> {}
impl<C> PartialOrd for Ref<C> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<C> Ord for Ref<C> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
}
impl<C> Hash for Ref<C> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw.hash(state)
    }
}
impl<C> Default for Ref<C> {
    fn default() -> Self {
        Ref::null()
    }
}
impl<C> fmt::Debug for Ref<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ref({})", self.raw)
    }
}
impl<C> fmt::Display for Ref<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}
impl<C> From<&str> for Ref<C> {
    fn from(s: &str) -> Self {
        Ref::new(s)
    }
}
impl<C> From<String> for Ref<C> {
    fn from(s: String) -> Self {
        Ref::new(s)
    }
}
impl<C> From<Ref<C>> for crate::Value {
    fn from(r: Ref<C>) -> Self {
        crate::Value::String(r.raw)
    }
}
impl<C> From<&Ref<C>> for crate::Value {
    fn from(r: &Ref<C>) -> Self {
        crate::Value::String(r.raw.clone())
    }
}
