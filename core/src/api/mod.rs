//! The typed XenAPI, generated from the datamodel (placeholder until the generator lands).

/// The parameter names of a XenAPI error code, from `errors.json`.
pub fn error_param_names(_code: &str) -> Option<&'static [&'static str]> {
    None
}
