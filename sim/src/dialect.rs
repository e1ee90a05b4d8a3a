//! The two server dialects: xapi (XenServer, XCP-ng) and xend (Xen 3.x).

use xenapi::codec::Encoder;

/// Which server the simulator imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// xapi: `OpaqueRef:` refs, untyped strings, error counts without the session.
    #[default]
    Xapi,
    /// xend 3.x: UUID refs, `<string>`, counts with the session, 3-argument `VM.start`.
    Xend,
}

impl Dialect {
    pub(crate) fn encoder(self) -> Encoder {
        Encoder {
            untyped_strings: self == Dialect::Xapi,
            i8_for_wide_ints: false,
        }
    }

    /// A reference to an object with `uuid`.
    pub(crate) fn make_ref(self, uuid: &str) -> String {
        match self {
            Dialect::Xapi => format!("OpaqueRef:{uuid}"),
            Dialect::Xend => uuid.to_owned(),
        }
    }

    pub(crate) fn null_ref(self) -> &'static str {
        match self {
            Dialect::Xapi => "OpaqueRef:NULL",
            Dialect::Xend => "",
        }
    }

    /// A power state as `VM_BAD_POWER_STATE` names it: `running` on xapi, `Running` on xend.
    pub(crate) fn state_name(self, state: &str) -> String {
        match self {
            Dialect::Xapi => state.to_ascii_lowercase(),
            Dialect::Xend => state.to_owned(),
        }
    }

    /// The parameter names of `class.message` in this dialect, when they differ from the
    /// datamodel (xend's `VM.start`/`VM.resume` have no `force`; its login takes 2 arguments).
    pub(crate) fn param_override(
        self,
        class: &str,
        message: &str,
    ) -> Option<&'static [&'static str]> {
        if self != Dialect::Xend {
            return None;
        }
        match (class, message) {
            ("VM", "start") | ("VM", "resume") => Some(&["session_id", "vm", "start_paused"]),
            ("session", "login_with_password") => Some(&["uname", "pwd"]),
            _ => None,
        }
    }

    /// `xapi` or `xend`.
    pub fn parse(s: &str) -> Option<Dialect> {
        match s {
            "xapi" => Some(Dialect::Xapi),
            "xend" => Some(Dialect::Xend),
            _ => None,
        }
    }
}
