//! The cached objects: per class, reference to record, as the server last described them (no
//! history), read through immutable [`Snapshot`]s.

use std::collections::HashMap;
use std::sync::Arc;

use crate::api::HasRecord;
use crate::{FromValue, Ref, Result, Value};

/// One class's objects.
pub(crate) type Objects = HashMap<String, Arc<Value>>;

/// Every cached class (its datamodel name) to its objects. Copy on write: a snapshot shares the
/// maps until the next change to them.
#[derive(Clone, Default)]
pub(crate) struct Store {
    pub classes: HashMap<&'static str, Arc<Objects>>,
}

impl Store {
    /// Sets `r`'s record; returns the record as stored.
    pub fn put(&mut self, class: &'static str, r: &str, record: Value) -> Arc<Value> {
        let record = Arc::new(record);
        let objects = Arc::make_mut(self.classes.entry(class).or_default());
        objects.insert(r.to_owned(), Arc::clone(&record));
        record
    }

    /// Removes `r`; returns its last record.
    pub fn remove(&mut self, class: &'static str, r: &str) -> Option<Arc<Value>> {
        let objects = self.classes.get_mut(class)?;
        if !objects.contains_key(r) {
            return None;
        }
        Arc::make_mut(objects).remove(r)
    }
}

/// The cache at one moment, consistent across classes; reading it makes no server call and
/// later changes do not alter it.
#[derive(Clone)]
pub struct Snapshot {
    pub(crate) store: Arc<Store>,
}

impl Snapshot {
    fn objects(&self, class: &str) -> Option<&Objects> {
        self.store
            .classes
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(class))
            .map(|(_, o)| &**o)
    }

    /// The record of `r` as the untyped struct `get_record` returns.
    pub fn value(&self, class: &str, r: &str) -> Option<Arc<Value>> {
        self.objects(class)?.get(r).cloned()
    }

    /// Every object of `class`: reference and untyped record.
    pub fn values(&self, class: &str) -> Vec<(String, Arc<Value>)> {
        self.objects(class)
            .map(|o| o.iter().map(|(r, v)| (r.clone(), Arc::clone(v))).collect())
            .unwrap_or_default()
    }

    /// The references of the cached objects of `class`, sorted.
    pub fn refs(&self, class: &str) -> Vec<String> {
        let mut refs: Vec<String> = self
            .objects(class)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        refs.sort();
        refs
    }

    /// How many objects of `class` are cached.
    pub fn len(&self, class: &str) -> usize {
        self.objects(class).map_or(0, |o| o.len())
    }

    /// Whether nothing at all is cached.
    pub fn is_empty(&self) -> bool {
        self.store.classes.values().all(|o| o.is_empty())
    }

    /// The classes the cache holds objects of (or follows), sorted.
    pub fn classes(&self) -> Vec<&'static str> {
        let mut c: Vec<&'static str> = self.store.classes.keys().copied().collect();
        c.sort_unstable();
        c
    }

    /// The typed record of `r`: `snapshot.get::<Vm>(&vm)` is a `VmRecord`. `Ok(None)` when not
    /// cached; an error when the record does not read as one (a wrong field type).
    pub fn get<C: HasRecord>(&self, r: &Ref<C>) -> Result<Option<C::Record>> {
        match self.value(C::NAME, r.as_str()) {
            None => Ok(None),
            Some(v) => decode::<C::Record>(&v).map(Some),
        }
    }

    /// Every cached object of class `C`, typed: `snapshot.records::<Vm>()`.
    pub fn records<C: HasRecord>(&self) -> Result<HashMap<Ref<C>, C::Record>> {
        let Some(objects) = self.objects(C::NAME) else {
            return Ok(HashMap::new());
        };
        let mut out = HashMap::with_capacity(objects.len());
        for (r, v) in objects {
            out.insert(Ref::new(r.clone()), decode::<C::Record>(v)?);
        }
        Ok(out)
    }
}

fn decode<R: FromValue>(v: &Value) -> Result<R> {
    crate::convert::from_value_in(v.clone(), "a cached record")
}
