//! Gives the shared library its SONAME, `libelasticjob.so.<major>`, so a
//! program linked against it loads a compatible version (the installed
//! `libelasticjob.so.0` symlink) and packagers can install versions side by
//! side. Only ELF platforms have SONAMEs.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(os.as_str(), "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" | "illumos" | "solaris") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the package version");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libelasticjob.so.{major}");
    }
}
