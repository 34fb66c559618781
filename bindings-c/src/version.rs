//! The library's version, for programs that check at build time (the
//! `EJ_VERSION_*` macros of the header) and at run time (`ej_version()`),
//! e.g. to refuse a shared library older than the header they compiled
//! against. The constants are literals because cbindgen copies them into
//! the header; the assertions below fail the build when they drift from
//! the crate's version. `EJ_VERSION_STRING` is a macro of `cbindgen.toml`
//! that joins the three numbers (cbindgen copies no string constants).

use std::ffi::c_char;

/// Major version of the header (`EJ_VERSION_MAJOR`); the shared library's SONAME is `libelasticjob.so.<major>`.
pub const EJ_VERSION_MAJOR: u32 = 0;
/// Minor version of the header.
pub const EJ_VERSION_MINOR: u32 = 1;
/// Patch version of the header.
pub const EJ_VERSION_PATCH: u32 = 0;

/// A decimal number at compile time (cargo gives the version parts as text).
const fn number(text: &str) -> u32 {
    let digits = text.as_bytes();
    let mut value = 0;
    let mut i = 0;
    while i < digits.len() {
        value = value * 10 + (digits[i] - b'0') as u32;
        i += 1;
    }
    value
}

// `EJ_VERSION_STRING` (cbindgen.toml) joins the three numbers, so the
// version must be only those numbers.
const _: () = assert!(env!("CARGO_PKG_VERSION_PRE").is_empty(), "EJ_VERSION_STRING cannot carry a pre-release suffix");
const _: () = assert!(EJ_VERSION_MAJOR == number(env!("CARGO_PKG_VERSION_MAJOR")), "EJ_VERSION_MAJOR differs from the crate version");
const _: () = assert!(EJ_VERSION_MINOR == number(env!("CARGO_PKG_VERSION_MINOR")), "EJ_VERSION_MINOR differs from the crate version");
const _: () = assert!(EJ_VERSION_PATCH == number(env!("CARGO_PKG_VERSION_PATCH")), "EJ_VERSION_PATCH differs from the crate version");

/// The version of the library actually loaded, `"MAJOR.MINOR.PATCH"`
/// (static; do not free). Compare it with `EJ_VERSION_STRING` to detect a
/// shared library other than the one the program was built against.
#[no_mangle]
pub extern "C" fn ej_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
