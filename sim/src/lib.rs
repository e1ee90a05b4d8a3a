//! The XenAPI simulator (work in progress).
