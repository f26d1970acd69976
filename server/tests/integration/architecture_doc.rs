//! ARCHITECTURE.md stays true: every backticked path and Rust symbol it names must exist in the
//! tree. On failure the test lists every missing name with its line, so the doc can be fixed in
//! one pass.
//!
//! What is checked (backticked spans in prose; fenced code blocks are skipped):
//! - **Paths**: spans containing `/` or ending in `.rs`, `.md`, `.toml`, `.css`, `.ts` or
//!   `.json`. A path is found if it exists relative to the repo root, to the directory of the
//!   `` ### `dir/` `` heading it appears under (or that directory's `src/`), or as the tail of
//!   any path in the tree, compared component by component (so `stages/` in a bullet about
//!   `orchestration/` is found). A trailing `/` asks for a directory. Skipped: see
//!   [`path_skip_reason`] and [`NOT_PATHS`].
//! - **Symbols**: identifiers joined by `::` (`Engine::subscribe`, `config::Secret`) or a plain
//!   identifier with a call (`hydrate()`), optionally ending in `(...)` or ` { ... }`. The last
//!   segment must be defined somewhere in the workspace's Rust sources: as an item (`fn`,
//!   `struct`, `enum`, `trait`, `type`, `const`, `static`, `mod`, `union`), an enum variant or
//!   field, or a `.rs` file or directory of that name.
//! - **Type names**: plain CamelCase identifiers (`WorkQueue`, `StageKind`): must be defined as a
//!   `struct`, `enum`, `trait`, `type` or `union`, or be an enum variant. Skipped:
//!   [`EXTERNAL_NAMES`].
//!
//! Everything else (JSON and config keys, table names, commands, stage types) is not checked.
//! Definitions are found by a plain text scan, not by parsing Rust.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Spans that look like paths but name something else.
const NOT_PATHS: &[&str] = &[
    "applications/create",    // a server function's endpoint (under `/api/`)
    "infrastructure/view",    // likewise
    "account/namespace",      // the form of a deploy target
    "docker/image",           // an artifact type
    "app.kubernetes.io/name", // a Kubernetes label key
];

/// CamelCase names of things defined outside the workspace.
const EXTERNAL_NAMES: &[&str] = &[
    "EventSource", // the browser's server-sent events API
    "Link",        // the HTTP header
];

/// Directories never searched, at any depth.
const EXCLUDED_DIRS: &[&str] = &["target", "node_modules", ".git"];

/// Top-level directories holding the workspace's Rust sources.
const RUST_ROOTS: &[&str] = &["app", "server", "migrations", "frontend", "end2end"];

/// This file: its fake sources in the unit tests must not count as definitions.
const THIS_FILE: &str = "server/tests/integration/architecture_doc.rs";

const PATH_ENDINGS: &[&str] = &[".rs", ".md", ".toml", ".css", ".ts", ".json"];

#[test]
fn architecture_doc_names_only_what_exists() {
    let root = repo_root();
    let doc = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    let tree = Tree::scan(&root);
    let definitions = Definitions::scan(&root, &tree);
    let report = check(&doc, &tree, &definitions);
    println!(
        "ARCHITECTURE.md: checked {} paths and {} symbols",
        report.paths, report.symbols
    );
    assert!(
        report.missing.is_empty(),
        "ARCHITECTURE.md names {} things that do not exist (checked {} paths and {} symbols):\n{}\n\
         Paths are looked up from the repo root, the section's directory (and its src/), or as \
         the tail of any path in the tree; symbols by the last `::` segment in the Rust sources. \
         Fix the doc, or add a deliberate exception to server/tests/integration/architecture_doc.rs.",
        report.missing.len(),
        report.paths,
        report.symbols,
        report.missing.join("\n"),
    );
}

#[test]
fn the_real_doc_has_plenty_to_check() {
    let root = repo_root();
    let doc = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    let tree = Tree::scan(&root);
    let definitions = Definitions::scan(&root, &tree);
    // The scans found the tree and the sources, and left out what they should.
    assert!(tree.exists("server/src/lib.rs", false) && tree.exists("app/src", true));
    assert!(
        !tree
            .entries
            .iter()
            .any(|e| e.rel.split('/').any(|c| EXCLUDED_DIRS.contains(&c)))
    );
    assert!(definitions.types.contains("Engine") && definitions.names.contains("serve"));
    assert!(
        !definitions.types.contains("Definitions"),
        "this file's own names must not count"
    );
    let report = check(&doc, &tree, &definitions);
    assert!(
        report.paths > 20,
        "only {} paths found in ARCHITECTURE.md",
        report.paths
    );
    assert!(
        report.symbols > 20,
        "only {} symbols found in ARCHITECTURE.md",
        report.symbols
    );
    assert!(
        report.paths + report.symbols > 50,
        "too few names found in ARCHITECTURE.md"
    );
}

fn repo_root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .canonicalize()
        .expect("repo root")
}

/// A backticked span of the doc.
#[derive(Debug, PartialEq)]
struct Span {
    line: usize,
    text: String,
    /// The directory named by the `` ### `dir/` `` heading above, without its trailing `/`.
    section: Option<String>,
}

/// Every backticked span outside fenced code blocks, with its line and section.
fn spans(doc: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut section: Option<String> = None;
    let mut in_fence = false;
    // An open span: its first line, the length of its backtick run, its text so far.
    let mut open: Option<(usize, usize, String)> = None;
    for (index, line) in doc.lines().enumerate() {
        let number = index + 1;
        match &mut open {
            Some((_, _, text)) => text.push(' '),
            None => {
                let trimmed = line.trim_start();
                if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                    in_fence = !in_fence;
                    continue;
                }
                if in_fence {
                    continue;
                }
                if line.starts_with('#') {
                    section = heading_dir(line);
                }
            }
        }
        let mut chars = line.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            if c != '`' {
                if let Some((_, _, text)) = &mut open {
                    text.push(c);
                }
                continue;
            }
            let mut run = 1;
            while chars.next_if(|&(_, c)| c == '`').is_some() {
                run += 1;
            }
            match open.take() {
                None => open = Some((number, run, String::new())),
                Some((start, len, text)) if len == run => spans.push(Span {
                    line: start,
                    text: text.trim().to_string(),
                    section: section.clone(),
                }),
                Some((start, len, mut text)) => {
                    text.push_str(&"`".repeat(run));
                    open = Some((start, len, text));
                }
            }
        }
    }
    spans
}

/// The directory a heading like `` ### `server/` — ... `` is about.
fn heading_dir(line: &str) -> Option<String> {
    let first = line.split('`').nth(1)?;
    Some(first.strip_suffix('/')?.to_string()).filter(|dir| !dir.is_empty())
}

#[derive(Debug, PartialEq)]
enum Check {
    /// A file or directory, as written.
    Path(String),
    /// Any definition of this name.
    Symbol(String),
    /// A type or enum variant of this name.
    TypeName(String),
}

/// What a span must satisfy, or `None` if it is not checked.
fn classify(text: &str) -> Option<Check> {
    if text.contains('/') || PATH_ENDINGS.iter().any(|ending| text.ends_with(ending)) {
        return match path_skip_reason(text) {
            Some(_) => None,
            None => Some(Check::Path(text.to_string())),
        };
    }
    let mut name = text;
    let mut called = false;
    if let Some(open) = name.find('(') {
        if !name.ends_with(')') {
            return None;
        }
        name = &name[..open];
        called = true;
    } else if let Some(open) = name.find(" {") {
        if !name.ends_with('}') {
            return None;
        }
        name = &name[..open];
    }
    let segments: Vec<&str> = name.split("::").collect();
    if !segments.iter().all(|segment| is_identifier(segment)) {
        return None;
    }
    let last = segments[segments.len() - 1];
    if segments.len() > 1 || called {
        Some(Check::Symbol(last.to_string()))
    } else if is_camel_case(last) && !EXTERNAL_NAMES.contains(&last) {
        Some(Check::TypeName(last.to_string()))
    } else {
        None
    }
}

/// Why a path-like span is not a path in the repo, if it is not.
fn path_skip_reason(text: &str) -> Option<&'static str> {
    if text.chars().any(char::is_whitespace) {
        Some("several words (a command or a phrase)")
    } else if text.contains("://") {
        Some("a URL")
    } else if text.starts_with('/') {
        Some("an HTTP route")
    } else if text.contains(['<', '>']) {
        Some("a placeholder")
    } else if text.contains(['*', '{', '}', '[', ']', '?']) {
        Some("a pattern")
    } else if text.starts_with('~') || text.contains('$') {
        Some("outside the repo (home directory or environment variable)")
    } else if text.starts_with("target/") {
        Some("a build output")
    } else if text.starts_with('.') && !text[1..].contains(['.', '/']) {
        Some("a file extension")
    } else if NOT_PATHS.contains(&text) {
        Some("listed in NOT_PATHS")
    } else {
        None
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `Engine`, `WorkQueue`: an uppercase letter, then a lowercase one, then identifier characters.
fn is_camel_case(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 2
        && bytes[0].is_ascii_uppercase()
        && bytes[1].is_ascii_lowercase()
        && is_identifier(text)
}

/// The repo's files and directories, relative to its root with `/` separators.
struct Tree {
    entries: Vec<Entry>,
}

struct Entry {
    rel: String,
    is_dir: bool,
}

impl Tree {
    fn scan(root: &Path) -> Tree {
        let mut entries = Vec::new();
        let mut pending = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            let listing = fs::read_dir(&dir).unwrap_or_else(|e| panic!("list {dir:?}: {e}"));
            for item in listing {
                let item = item.expect("directory entry");
                let name = item.file_name().to_string_lossy().into_owned();
                if EXCLUDED_DIRS.contains(&name.as_str()) {
                    continue;
                }
                let rel = format!("{prefix}{name}");
                let is_dir = item.file_type().expect("file type").is_dir();
                if is_dir {
                    pending.push((item.path(), format!("{rel}/")));
                }
                entries.push(Entry { rel, is_dir });
            }
        }
        Tree { entries }
    }

    /// A tree of these files and their parent directories (for the unit tests).
    fn of_files(files: &[&str]) -> Tree {
        let mut entries: Vec<Entry> = Vec::new();
        for file in files {
            let parts: Vec<&str> = file.split('/').collect();
            for end in 1..=parts.len() {
                let rel = parts[..end].join("/");
                if !entries.iter().any(|e| e.rel == rel) {
                    entries.push(Entry {
                        rel,
                        is_dir: end < parts.len(),
                    });
                }
            }
        }
        Tree { entries }
    }

    fn exists(&self, rel: &str, want_dir: bool) -> bool {
        self.entries
            .iter()
            .any(|e| e.rel == rel && (e.is_dir || !want_dir))
    }

    /// Whether some path in the tree ends with `rel`, component by component.
    fn has_tail(&self, rel: &str, want_dir: bool) -> bool {
        let tail = format!("/{rel}");
        self.entries
            .iter()
            .any(|e| (e.rel == rel || e.rel.ends_with(&tail)) && (e.is_dir || !want_dir))
    }

    /// Whether a path written in the doc under `section` exists.
    fn resolves(&self, path: &str, section: Option<&str>) -> bool {
        let want_dir = path.ends_with('/');
        let rel = path.trim_start_matches("./").trim_end_matches('/');
        let mut candidates = vec![rel.to_string()];
        if let Some(dir) = section {
            candidates.push(format!("{dir}/{rel}"));
            candidates.push(format!("{dir}/src/{rel}"));
        }
        candidates.iter().any(|c| self.exists(c, want_dir)) || self.has_tail(rel, want_dir)
    }
}

/// Names defined in the workspace's Rust sources.
#[derive(Default)]
struct Definitions {
    /// Every item, variant, field, module, file stem and directory name.
    names: HashSet<String>,
    /// Structs, enums, traits, type aliases, unions and enum variants.
    types: HashSet<String>,
}

const ITEM_KEYWORDS: &[&str] = &[
    "fn", "struct", "enum", "trait", "type", "const", "static", "mod", "union",
];
const TYPE_KEYWORDS: &[&str] = &["struct", "enum", "trait", "type", "union"];
const QUALIFIERS: &[&str] = &["async", "unsafe", "extern", "default", "mut", "auto"];

impl Definitions {
    fn scan(root: &Path, tree: &Tree) -> Definitions {
        let mut definitions = Definitions::default();
        for entry in &tree.entries {
            let top = entry.rel.split('/').next().unwrap_or_default();
            if !RUST_ROOTS.contains(&top) || entry.rel == THIS_FILE {
                continue;
            }
            let name = entry.rel.rsplit('/').next().unwrap_or_default();
            if entry.is_dir {
                definitions.names.insert(name.to_string());
            } else if let Some(stem) = name.strip_suffix(".rs") {
                definitions.names.insert(stem.to_string());
                let source = fs::read_to_string(root.join(&entry.rel))
                    .unwrap_or_else(|e| panic!("read {}: {e}", entry.rel));
                definitions.add_source(&source);
            }
        }
        definitions
    }

    fn add_source(&mut self, source: &str) {
        // Inside a `use` spanning lines: its `Name,` lines import, they do not define.
        let mut in_use = false;
        for line in source.lines() {
            let rest = strip_visibility(line.trim_start());
            if in_use || rest.starts_with("use ") {
                in_use = !line.contains(';');
                continue;
            }
            if let Some((keyword, name)) = item(rest) {
                self.names.insert(name.to_string());
                if TYPE_KEYWORDS.contains(&keyword) {
                    self.types.insert(name.to_string());
                }
            } else if let Some((name, after)) = split_identifier(rest) {
                // A variant (`Name {`, `Name(`, `Name,`, `Name = 1,`) or a field (`name: T`).
                let after = after.trim_start();
                let variant = after.starts_with(['{', '(', ','])
                    || (after.starts_with('=')
                        && !after.starts_with("==")
                        && !after.starts_with("=>"));
                let field = after.starts_with(':') && !after.starts_with("::");
                if variant || field {
                    self.names.insert(name.to_string());
                }
                if variant {
                    self.types.insert(name.to_string());
                }
            }
        }
    }
}

/// `pub`, `pub(crate)`, `pub(in path)` removed from the start of a line.
fn strip_visibility(line: &str) -> &str {
    match line.strip_prefix("pub") {
        Some(rest) if rest.starts_with('(') => match rest.find(')') {
            Some(close) => rest[close + 1..].trim_start(),
            None => line,
        },
        Some(rest) if rest.starts_with(' ') => rest.trim_start(),
        _ => line,
    }
}

/// The identifier at the start of `text` and what follows it.
fn split_identifier(text: &str) -> Option<(&str, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let word = &text[..end];
    is_identifier(word).then(|| (word, &text[end..]))
}

/// The item a line declares (`async fn run`, `const fn f`, `static mut X`): its keyword and name.
fn item(line: &str) -> Option<(&str, &str)> {
    let mut rest = line;
    let mut keyword = None;
    loop {
        rest = rest.trim_start();
        if let Some(quoted) = rest.strip_prefix('"') {
            // `extern "C"`
            rest = &quoted[quoted.find('"')? + 1..];
            continue;
        }
        let (word, after) = split_identifier(rest)?;
        if ITEM_KEYWORDS.contains(&word) {
            keyword = Some(word);
        } else if !QUALIFIERS.contains(&word) {
            return keyword.map(|keyword| (keyword, word));
        }
        rest = after;
    }
}

struct Report {
    paths: usize,
    symbols: usize,
    missing: Vec<String>,
}

fn check(doc: &str, tree: &Tree, definitions: &Definitions) -> Report {
    let mut report = Report {
        paths: 0,
        symbols: 0,
        missing: Vec::new(),
    };
    for span in spans(doc) {
        let problem = match classify(&span.text) {
            None => continue,
            Some(Check::Path(path)) => {
                report.paths += 1;
                (!tree.resolves(&path, span.section.as_deref()))
                    .then(|| "path not found".to_string())
            }
            Some(Check::Symbol(name)) => {
                report.symbols += 1;
                (!definitions.names.contains(&name)).then(|| format!("`{name}` is not defined"))
            }
            Some(Check::TypeName(name)) => {
                report.symbols += 1;
                (!definitions.types.contains(&name))
                    .then(|| "no type or enum variant of that name".to_string())
            }
        };
        if let Some(problem) = problem {
            report
                .missing
                .push(format!("  line {}: `{}`: {problem}", span.line, span.text));
        }
    }
    report
}

#[test]
fn spans_have_lines_and_sections_and_skip_code_blocks() {
    let doc = "# T\n### `server/` — s\n- `http/` and `Engine::run()`, ``a `b` c``\n```\n`no`\n```\n\
               ## Other\n`lib.rs` spans\ntwo `lines\nhere` end\n";
    let found: Vec<(usize, String, Option<String>)> = spans(doc)
        .into_iter()
        .map(|s| (s.line, s.text, s.section))
        .collect();
    let server = Some("server".to_string());
    assert_eq!(
        found,
        [
            (2, "server/".to_string(), server.clone()),
            (3, "http/".to_string(), server.clone()),
            (3, "Engine::run()".to_string(), server.clone()),
            (3, "a `b` c".to_string(), server),
            (8, "lib.rs".to_string(), None),
            (9, "lines here".to_string(), None),
        ]
    );
}

#[test]
fn classification_and_skip_rules() {
    let path = |t: &str| Some(Check::Path(t.to_string()));
    let symbol = |t: &str| Some(Check::Symbol(t.to_string()));
    let type_name = |t: &str| Some(Check::TypeName(t.to_string()));
    assert_eq!(
        classify("server/src/http/gate.rs"),
        path("server/src/http/gate.rs")
    );
    assert_eq!(classify("queue/"), path("queue/"));
    assert_eq!(classify("engine.rs"), path("engine.rs"));
    assert_eq!(classify("fixtures.ts"), path("fixtures.ts"));
    assert_eq!(classify("Engine::subscribe"), symbol("subscribe"));
    assert_eq!(
        classify("StageRegistry::with_jenkins(masters)"),
        symbol("with_jenkins")
    );
    assert_eq!(
        classify("AppError::Internal { request_id }"),
        symbol("Internal")
    );
    assert_eq!(classify("hydrate()"), symbol("hydrate"));
    assert_eq!(classify("WorkQueue"), type_name("WorkQueue"));
    assert_eq!(classify("Live"), type_name("Live"));
    for not_checked in [
        "/api/executions/stream",
        "/gate/v2/builds…",
        "/webhooks/registry/{account}",
        "https://example.com/x",
        "target/<profile>/site",
        "tests/*.spec.ts",
        "app.kubernetes.io/*",
        "~/.kube/config",
        "$HOME/x.toml",
        "POST /api/...",
        ".json",
        "docker/image",
        "refId",
        "STAGE_TYPES",
        "TOPSAIL_*",
        "queue_outbox",
        "deployManifest",
        "HEAD",
        "EventSource",
        "NAME=value",
        "${…}",
        "x",
    ] {
        assert_eq!(classify(not_checked), None, "{not_checked}");
    }
}

#[test]
fn one_existing_and_one_missing_path() {
    let tree = Tree::of_files(&[
        "server/src/http/gate.rs",
        "server/src/orchestration/outbox.rs",
    ]);
    let doc = "### `server/` — s\n- `http/gate.rs` and `http/gone.rs`, `http/` `/api/x` `a/*.ts`\n\
               - `orchestration/`: `outbox.rs`, `stages/`\n## End\n`server/src/http/gate.rs/`\n";
    let report = check(doc, &tree, &Definitions::default());
    assert_eq!(
        report.missing,
        [
            "  line 2: `http/gone.rs`: path not found",
            "  line 3: `stages/`: path not found",
            "  line 5: `server/src/http/gate.rs/`: path not found", // a file, not a directory
        ]
    );
    assert_eq!(report.paths, 8);
    assert!(tree.resolves("src/http/", None) && !tree.resolves("rc/http/", None));
}

#[test]
fn symbols_must_be_defined() {
    let mut definitions = Definitions::default();
    definitions.add_source(
        "pub struct Engine;\nimpl Engine {\n    pub(crate) async fn subscribe(&self) {}\n}\n\
         pub enum AppError {\n    NotFound,\n    Internal { request_id: String },\n}\n\
         pub const fn helper() {}\nfn Lonely() {}\n// struct Commented;\n\
         use sea_orm::{\n    Imported,\n};\npub struct AfterUse;\n",
    );
    let doc = "`Engine`, `Engine::subscribe`, `AppError::Internal { request_id }`, `NotFound`,\n\
               `helper()`, `Engine::gone()`, `Missing`, `Lonely`, `Commented`, `refId`\n\
               `Imported`, `AfterUse`\n";
    let report = check(doc, &Tree::of_files(&[]), &definitions);
    assert_eq!(
        report.missing,
        [
            "  line 2: `Engine::gone()`: `gone` is not defined",
            "  line 2: `Missing`: no type or enum variant of that name",
            "  line 2: `Lonely`: no type or enum variant of that name",
            "  line 2: `Commented`: no type or enum variant of that name",
            "  line 3: `Imported`: no type or enum variant of that name",
        ]
    );
    assert_eq!(report.symbols, 11);
}
