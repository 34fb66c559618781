//! The panic boundary as a checked rule, not a habit: every exported
//! function's body goes through `guard`/`guard_value` (which catch panics
//! and map failures to a status and `ej_last_error()`), or catches unwinds
//! itself, or is on the list below of functions that cannot panic, each
//! with the reason. A new export that does none of these fails this test.

use std::path::Path;

/// Exports without a guard, and why they cannot panic.
const PANIC_FREE: &[(&str, &str)] = &[
    ("ej_last_error", "reads a thread-local pointer"),
    ("ej_set_failure_message", "copies a C string into a thread-local"),
    ("ej_string_free", "frees a CString the library made"),
    ("ej_status_str", "returns a static string"),
    ("ej_version", "returns a static string"),
    ("ej_scheduler_instance_id", "returns a pointer the scheduler owns"),
    ("ej_event_clear", "frees the event's CString"),
    ("ej_job_config_free", "drops plain data"),
    ("ej_registry_free", "drops a reference to the registry"),
    ("ej_operator_free", "drops a reference to the operator"),
    ("ej_listeners_free", "drops plain data"),
    ("ej_registry_zookeeper_new", "calls the guarded ej_registry_zookeeper_new_with"),
    ("ej_registry_zookeeper_new_digest", "calls the guarded ej_registry_zookeeper_new_with"),
];

/// `(name, body)` of every `#[no_mangle]` function in `source`.
fn exports(source: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (at, _) in source.match_indices("#[no_mangle]") {
        let rest = &source[at..];
        let name_at = rest.find("fn ").expect("an exported fn") + 3;
        let name: String = rest[name_at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let open = rest.find('{').expect("a body");
        let mut depth = 0;
        let end = rest[open..]
            .char_indices()
            .find_map(|(i, c)| {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                (depth == 0).then_some(open + i)
            })
            .expect("a closed body");
        found.push((name, rest[open..=end].to_string()));
    }
    found
}

#[test]
fn every_export_is_behind_the_panic_boundary() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    let mut unguarded = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for (name, body) in exports(&source) {
            checked += 1;
            let guarded = ["guard(", "guard_value(", "catch_unwind("].iter().any(|g| body.contains(g));
            let listed = PANIC_FREE.iter().any(|(n, _)| *n == name);
            if !guarded && !listed {
                unguarded.push(format!("{name} ({})", path.display()));
            }
            assert!(!(guarded && listed), "{name} is guarded: take it off PANIC_FREE");
        }
    }
    assert!(checked > 40, "only {checked} exports found: is the parser still right?");
    assert!(unguarded.is_empty(), "exports outside the panic boundary: {unguarded:?}");
}
