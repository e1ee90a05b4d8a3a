//! The pinned numbers of the C enums (`ffi/abi/c-enums.json`), which C, C# and every program
//! built against `xenapi.h` share.
//!
//! The table maps each enum's name to its wire values; value `i` of the list has the C number
//! `i + 1` (0 is `..._UNKNOWN`). It only grows: a value new in the datamodel is appended (the
//! next free number); a value gone from the datamodel stays in the list, so its number is never
//! reused (the header keeps declaring it, marked as never produced). The last release's table
//! (`ffi/abi/release/c-enums.json`, written by `make ffi-abi-baseline`) must be a prefix of every
//! enum's list: a table that loses or renumbers a released value is refused.

use std::collections::BTreeMap;

use crate::model::{Enum, Model};

/// The committed table, relative to the repository root.
pub const TABLE: &str = "ffi/abi/c-enums.json";
/// The table of the last release, the baseline the table must extend.
pub const RELEASED: &str = "ffi/abi/release/c-enums.json";

/// Every enum's wire values in the order of their C numbers (number = position + 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumTable {
    enums: BTreeMap<String, Vec<String>>,
}

impl EnumTable {
    /// Parses a table file's text; `what` names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<Self, String> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        let obj = json
            .as_object()
            .ok_or_else(|| format!("{what}: expected an object of enum name to value list"))?;
        let mut enums = BTreeMap::new();
        for (name, values) in obj {
            let list = values
                .as_array()
                .ok_or_else(|| format!("{what}: {name} is not a list of wire values"))?;
            let mut out: Vec<String> = Vec::with_capacity(list.len());
            for v in list {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("{what}: {name} holds a value that is not a string"))?;
                if out.iter().any(|o| o == v) {
                    return Err(format!("{what}: {name} lists {v:?} twice"));
                }
                out.push(v.to_owned());
            }
            enums.insert(name.clone(), out);
        }
        Ok(EnumTable { enums })
    }

    /// The table as committed: one enum a line group, values in number order.
    pub fn to_json(&self) -> String {
        let mut o = String::from("{\n");
        let n = self.enums.len();
        for (i, (name, values)) in self.enums.iter().enumerate() {
            let vals: Vec<String> = values
                .iter()
                .map(|v| serde_json::Value::String(v.clone()).to_string())
                .collect();
            o.push_str(&format!(
                "  {}: [{}]{}\n",
                serde_json::Value::String(name.clone()),
                vals.join(", "),
                if i + 1 < n { "," } else { "" }
            ));
        }
        o.push_str("}\n");
        o
    }

    /// This table with every datamodel value it lacks appended (new enums take datamodel
    /// order); nothing is removed or moved.
    pub fn extended(&self, model: &Model) -> Self {
        let mut enums = self.enums.clone();
        for c in &model.classes {
            for e in &c.enums {
                let list = enums.entry(e.name.clone()).or_default();
                for v in &e.values {
                    if !list.contains(v) {
                        list.push(v.clone());
                    }
                }
            }
        }
        EnumTable { enums }
    }

    /// Refuses a table that loses or renumbers a value of `released`.
    pub fn check_extends(&self, released: &EnumTable) -> Result<(), String> {
        let mut broken = Vec::new();
        for (name, old) in &released.enums {
            let new = self.enums.get(name).map_or(&[][..], Vec::as_slice);
            for (i, v) in old.iter().enumerate() {
                match new.iter().position(|n| n == v) {
                    Some(j) if j == i => {}
                    Some(j) => broken.push(format!("{name}.{v} moved from {} to {}", i + 1, j + 1)),
                    None => broken.push(format!("{name}.{v} (number {}) was removed", i + 1)),
                }
            }
        }
        if broken.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{TABLE} breaks the released C enum numbers ({RELEASED}): {}. Released numbers \
                 never change; a deliberate break needs a new ABI major (ffi/abi/MAJOR) and \
                 `make ffi-abi-baseline` (ffi/README.md)",
                broken.join("; ")
            ))
        }
    }

    /// Every value ever given a number, in number order (removed ones too).
    pub fn pinned(&self, e: &Enum) -> &[String] {
        self.enums.get(&e.name).map_or(&[], Vec::as_slice)
    }

    /// The C number of a datamodel value.
    pub fn number(&self, e: &Enum, value: &str) -> usize {
        self.pinned(e)
            .iter()
            .position(|v| v == value)
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("{}.{value} has no number: extend the table", e.name))
    }

    /// The numbers of values no longer in the datamodel, reserved forever.
    pub fn reserved(&self, e: &Enum) -> Vec<usize> {
        self.pinned(e)
            .iter()
            .enumerate()
            .filter(|(_, v)| !e.values.contains(v))
            .map(|(i, _)| i + 1)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enumeration(values: &[&str]) -> Enum {
        Enum {
            name: "power".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn new_values_are_appended_and_gone_ones_keep_their_number() {
        let old = EnumTable::parse(r#"{"power": ["Halted", "Crashed", "Running"]}"#, "t").unwrap();
        let mut table = old.clone();
        table
            .enums
            .get_mut("power")
            .unwrap()
            .push("Suspended".into());
        let now = enumeration(&["Running", "Suspended", "Halted"]);
        assert_eq!(table.number(&now, "Halted"), 1);
        assert_eq!(table.number(&now, "Running"), 3);
        assert_eq!(table.number(&now, "Suspended"), 4);
        assert_eq!(table.reserved(&now), vec![2]);
        assert!(table.check_extends(&old).is_ok());
        let back = EnumTable::parse(&table.to_json(), "t").unwrap();
        assert_eq!(back, table);
    }

    #[test]
    fn a_renumbered_or_lost_value_is_refused() {
        let old = EnumTable::parse(r#"{"power": ["Halted", "Crashed", "Running"]}"#, "t").unwrap();
        let renumbered = EnumTable::parse(r#"{"power": ["Crashed", "Halted", "Running"]}"#, "t");
        let err = renumbered.unwrap().check_extends(&old).unwrap_err();
        assert!(err.contains("power.Halted moved from 1 to 2"), "{err}");
        let lost = EnumTable::parse(r#"{"power": ["Halted", "Running"]}"#, "t").unwrap();
        let err = lost.check_extends(&old).unwrap_err();
        assert!(
            err.contains("power.Crashed (number 2) was removed"),
            "{err}"
        );
    }

    /// A value gone from the datamodel (here `Crashed`, between `Halted` and `Paused`) keeps its
    /// number in C and C#, and the values after it keep theirs.
    #[test]
    fn a_removed_value_keeps_its_number_in_every_binding() {
        let model = Model::embedded().unwrap();
        let table = EnumTable::parse(
            r#"{"vm_power_state": ["Halted", "Crashed", "Paused", "Running", "Suspended"]}"#,
            "t",
        )
        .unwrap()
        .extended(&model);
        let file = |files: &[(String, String)], path: &str| -> String {
            files
                .iter()
                .find(|(p, _)| p == path)
                .unwrap_or_else(|| panic!("{path}"))
                .1
                .clone()
        };
        let c = crate::c::generate(&model, &table);
        let h = file(&c, "include/xenapi/types.h");
        assert!(h.contains("/** `Crashed`: no longer in the datamodel; never produced, its number stays reserved */\n    XENAPI_VM_POWER_STATE_CRASHED = 2,"), "types.h");
        assert!(h.contains("XENAPI_VM_POWER_STATE_PAUSED = 3,"), "types.h");
        let rs = file(&c, "ffi/src/api/types.rs");
        assert!(
            rs.contains(r#"&["Halted\0", "Crashed\0", "Paused\0", "Running\0", "Suspended\0"]"#)
        );
        assert!(rs.contains("Self::Paused => 3,") && !rs.contains("Self::Crashed"));
        let cs = file(
            &crate::csharp::generate(&model, &table),
            "dotnet/src/Generated/Enums.cs",
        );
        assert!(
            cs.contains("Paused = 3,") && !cs.contains("Crashed ="),
            "Enums.cs"
        );
        assert!(cs.contains(
            "internal static vm_power_state FromNative(int v) => v >= 1 && v <= 5 && v != 2 ?"
        ));
    }

    #[test]
    fn a_duplicate_value_is_refused() {
        let err = EnumTable::parse(r#"{"power": ["Halted", "Halted"]}"#, "t").unwrap_err();
        assert!(err.contains("lists \"Halted\" twice"), "{err}");
    }
}
