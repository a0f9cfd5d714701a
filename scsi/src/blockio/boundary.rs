//! The facade is the only way to the medium: outside `blockio/` and
//! `backend/`, production code of this crate never names a logical unit's
//! `.backend` field (so it cannot read, write, flush, unmap, zero, query
//! the mapping of or take the native file of a backend) and never calls
//! `native_file(`. Test code (test-only files and inline `#[cfg(test)]`
//! modules) may, to set up and inspect the medium independently of the
//! code under test.

use std::path::{Path, PathBuf};

/// Source directories (relative to `src/`) allowed to touch backends.
const ALLOWED_DIRS: [&str; 2] = ["backend", "blockio"];
/// Files that exist only under `#[cfg(test)]`.
const TEST_FILES: [&str; 4] = [
    "tests.rs",
    "testutil.rs",
    "wired_tests.rs",
    "lifecycle_tests.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The code of `text` without line comments, without whitespace and
/// without inline `#[cfg(test)] mod name { ... }` modules.
fn production_code(text: &str) -> String {
    let code: String = text
        .lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    strip_test_modules(&code)
}

fn strip_test_modules(code: &str) -> String {
    const CFG: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = code;
    while let Some(i) = rest.find(CFG) {
        out.push_str(&rest[..i]);
        let mut after = &rest[i + CFG.len()..];
        // Further attributes (`#[allow(...)]`) of the same item.
        while after.starts_with("#[") {
            match after.find(']') {
                Some(j) => after = &after[j + 1..],
                None => break,
            }
        }
        let item = after.strip_prefix("pub(crate)").unwrap_or(after);
        let inline_mod = item.strip_prefix("mod").and_then(|m| {
            let name_end = m.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
            m[name_end..].starts_with('{').then_some(&m[name_end..])
        });
        match inline_mod {
            Some(body) => {
                let mut depth = 0usize;
                let mut end = body.len();
                for (k, c) in body.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &body[end..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// What in `text` reaches a backend behind the facade's back.
fn violations(text: &str) -> Vec<&'static str> {
    let code = production_code(text);
    let mut found = Vec::new();
    if code.contains(".backend") {
        found.push(".backend");
    }
    if code.contains("native_file(") {
        found.push("native_file(");
    }
    found
}

#[test]
fn only_the_facade_and_the_backends_touch_the_medium() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut bad = Vec::new();
    let mut checked = 0;
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel.components().next().unwrap().as_os_str();
        if ALLOWED_DIRS.iter().any(|d| first == *d) {
            continue;
        }
        let name = rel.file_name().unwrap().to_string_lossy();
        let under_tests = rel.components().any(|c| c.as_os_str() == "tests");
        if under_tests || TEST_FILES.contains(&name.as_ref()) {
            continue;
        }
        checked += 1;
        let text = std::fs::read_to_string(f).unwrap();
        for v in violations(&text) {
            bad.push(format!("{}: {v}", rel.display()));
        }
    }
    // The walk really saw the handlers and the copy engine.
    assert!(checked > 40, "only {checked} files checked");
    assert!(
        bad.is_empty(),
        "medium access outside the block-I/O facade:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_through_layout_and_skips_comments_and_tests() {
    let split = "let d = ctx\n    .lu\n    .backend\n    .read(0, 512)\n    .await;";
    assert_eq!(violations(split), vec![".backend"]);
    let alias = "let b = &lu.backend;\nb.flush().await;";
    assert_eq!(violations(alias), vec![".backend"]);
    assert_eq!(violations("let f = b.native_file();"), vec!["native_file("]);
    assert!(violations("// lu.backend.write(0, d, false)\nlet x = 1;").is_empty());
    let tested = "fn f() {}\n#[cfg(test)]\n#[allow(clippy::unwrap_used)]\nmod tests {\n    fn g() { if x { lu.backend.write(0, d, false); } }\n}\n";
    assert!(violations(tested).is_empty());
    let after = format!("{tested}fn h() {{ lu.backend.unmap(0, 1); }}");
    assert_eq!(violations(&after), vec![".backend"]);
    // A `#[cfg(test)] mod x;` declaration is not an inline module.
    assert_eq!(
        violations("#[cfg(test)]\nmod tests;\nfn h() { lu.backend.unmap(0, 1); }"),
        vec![".backend"]
    );
}
