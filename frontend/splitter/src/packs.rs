//! Packs: several split modules in one file, so a route's first visit is a request or two
//! instead of a hundred (`wasm-splitter pack`, run by `./x build` after wasm-opt).
//!
//! The splitter gives every set of routes that shares code its own `chunk_*.wasm`; a heavy route
//! needs over a hundred of them. Each file pays its response headers and is compressed without
//! the others as context, which cost the execution page about 100 KB of its 268 KB. A pack holds
//! the modules a route needs, concatenated (each prefixed by its length as a little-endian
//! `u32`). The loader (`packed_fetch.js`, appended to the splitter's loader) gathers the modules
//! asked for together and fetches a pack when one holds only modules of that batch.
//!
//! Which packs exist:
//! - for each route nested in the base route (an application's tabs, its execution and editor
//!   pages, all inside the application page): the base's modules and the route's together — the
//!   first visit to any application page, from the list or from a link;
//! - for each other route: its modules — a first visit there;
//! - for a `#[lazy]` function (code a page loads when the user opens something, e.g. the manifest
//!   editor) and each route named as opening it (`--lazy manifest_editor=pipeline_editor_route`):
//!   the function's modules that route has not loaded — what opening it there fetches.
//!
//! Later visits ask only for the modules earlier routes did not load; those sets vary with the
//! order of visits (a tab shares dozens of modules with each other tab and not with the
//! application page), so they are fetched one by one, as before packs. The manifest the server
//! reads to preload a page's modules is rewritten to name the packs (so a page opened directly
//! preloads exactly what its loader will fetch).

use std::collections::{BTreeMap, BTreeSet};

/// The loader code that fetches packs; see the module docs.
const PACKED_FETCH_JS: &str = include_str!("packed_fetch.js");

/// What the generated loader calls to fetch one module.
const FETCH_CALL: &str = "fetch(new URL(\"./";

/// One pack: its file stem and the module stems it holds, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    pub name: String,
    pub members: Vec<String>,
}

/// The packs to write and the manifest that names them.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    pub packs: Vec<Pack>,
    /// Lazy route key → the files (stems) to preload for it.
    pub manifest: BTreeMap<String, Vec<String>>,
}

/// The manifest key of the route called `name` (`execution_route` for `ExecutionRoute`):
/// the splitter names them `__<name>_view_<hash>`.
fn key_of<'m>(manifest: &'m BTreeMap<String, Vec<String>>, name: &str) -> Result<&'m str, String> {
    let prefix = format!("__{name}_view_");
    let mut found = manifest.keys().filter(|k| k.starts_with(&prefix));
    match (found.next(), found.next()) {
        (Some(key), None) => Ok(key),
        (None, _) => Err(format!("no lazy route called {name} in the manifest")),
        (Some(_), Some(_)) => Err(format!("more than one lazy route called {name}")),
    }
}

/// The short name of a manifest key: a lazy route's (`__execution_route_view_123` →
/// `execution_route`) or a `#[lazy]` function's (`manifest_editor_123` → `manifest_editor`).
fn short_name(key: &str) -> &str {
    let trimmed = key.trim_start_matches("__");
    if let Some(at) = trimmed.rfind("_view_") {
        return &trimmed[..at];
    }
    match trimmed.rsplit_once('_') {
        Some((name, hash)) if !name.is_empty() && hash.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => trimmed,
    }
}

/// The manifest key of the `#[lazy]` function called `name` (`manifest_editor_<hash>`).
fn function_key<'m>(
    manifest: &'m BTreeMap<String, Vec<String>>,
    name: &str,
) -> Result<&'m str, String> {
    manifest
        .keys()
        .find(|k| !k.starts_with("__") && short_name(k) == name)
        .map(String::as_str)
        .ok_or_else(|| format!("no lazy function called {name} in the manifest"))
}

/// Plans the packs for `manifest` (lazy route key → module stems), where the routes named in
/// `nested` always load together with the route named `base`, and each `#[lazy]` function of
/// `opened` is opened from the routes listed with it.
pub fn plan(
    manifest: &BTreeMap<String, Vec<String>>,
    base: &str,
    nested: &[String],
    opened: &[(String, Vec<String>)],
) -> Result<Plan, String> {
    let base_key = key_of(manifest, base)?;
    let nested_keys = nested
        .iter()
        .map(|name| key_of(manifest, name))
        .collect::<Result<BTreeSet<_>, _>>()?;
    if nested_keys.contains(base_key) {
        return Err(format!("{base} cannot be nested in itself"));
    }
    let base_files = &manifest[base_key];
    let mut packs = Vec::new();
    let mut out = BTreeMap::new();
    for (key, files) in manifest {
        let key = key.as_str();
        if key == base_key {
            // Never shown alone: its modules come with a nested route's.
            out.insert(key.to_owned(), Vec::new());
            continue;
        }
        let name = short_name(key);
        if nested_keys.contains(key) {
            let mut members = base_files.clone();
            members.extend(files.iter().filter(|f| !base_files.contains(f)).cloned());
            out.insert(key.to_owned(), preload(&mut packs, name, members));
        } else {
            out.insert(key.to_owned(), preload(&mut packs, name, files.clone()));
        }
    }
    for (function, routes) in opened {
        let files = &manifest[function_key(manifest, function)?];
        for route in routes {
            let key = key_of(manifest, route)?;
            let mut loaded: BTreeSet<&String> = manifest[key].iter().collect();
            if nested_keys.contains(key) {
                loaded.extend(base_files);
            }
            let rest = files
                .iter()
                .filter(|f| !loaded.contains(f))
                .cloned()
                .collect();
            preload(&mut packs, &format!("{function}_in_{route}"), rest);
        }
    }
    Ok(Plan {
        packs,
        manifest: out,
    })
}

/// Adds a pack of `members` to `packs` when it holds more than one module, and answers what to
/// preload for them: the pack, or the lone module.
fn preload(packs: &mut Vec<Pack>, name: &str, members: Vec<String>) -> Vec<String> {
    if members.len() < 2 {
        return members;
    }
    let pack = Pack {
        name: format!("pack_{name}"),
        members,
    };
    let preload = vec![pack.name.clone()];
    packs.push(pack);
    preload
}

/// A pack's bytes: each module prefixed by its length (little-endian `u32`).
pub fn encode(modules: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(modules.iter().map(|m| m.len() + 4).sum());
    for module in modules {
        let length = u32::try_from(module.len()).map_err(|_| "a module over 4 GiB".to_owned())?;
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(module);
    }
    Ok(out)
}

/// The splitter's loader, fetching through packs: every module fetch goes through
/// `packedFetch`, and the packs' table and that function are appended.
pub fn patch_loader(loader: &str, packs: &[Pack]) -> Result<String, String> {
    let calls = loader.matches(FETCH_CALL).count();
    if calls == 0 {
        return Err("the loader fetches no module in the form this tool knows (wasm_split_cli_support changed?)".into());
    }
    if loader.contains("packedFetch") {
        return Err("the loader is already patched".into());
    }
    let table: Vec<(&str, &[String])> = packs
        .iter()
        .map(|p| (p.name.as_str(), p.members.as_slice()))
        .collect();
    let table = serde_json::to_string(&table).map_err(|e| e.to_string())?;
    let mut out = loader.replace(FETCH_CALL, "packedFetch(new URL(\"./");
    out.push_str(&format!("\nconst PACKS = {table};"));
    out.push_str(PACKED_FETCH_JS);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn manifest() -> BTreeMap<String, Vec<String>> {
        BTreeMap::from([
            (
                "__app_route_view_1".into(),
                files(&["chunk_1", "split_app"]),
            ),
            (
                "__tab_route_view_1".into(),
                files(&["chunk_1", "chunk_2", "split_tab"]),
            ),
            (
                "__tokens_route_view_1".into(),
                files(&["chunk_1", "chunk_3", "split_tokens"]),
            ),
            ("__login_route_view_1".into(), files(&["split_login"])),
        ])
    }

    #[test]
    fn short_names_drop_the_hash() {
        assert_eq!(short_name("__execution_route_view_17"), "execution_route");
        assert_eq!(short_name("manifest_editor_1709531006"), "manifest_editor");
        assert_eq!(short_name("odd_name_x1"), "odd_name_x1");
    }

    #[test]
    fn nested_routes_come_with_the_base() {
        let plan = plan(&manifest(), "app_route", &files(&["tab_route"]), &[]).unwrap();
        assert_eq!(
            plan.packs,
            vec![
                Pack {
                    name: "pack_tab_route".into(),
                    members: files(&["chunk_1", "split_app", "chunk_2", "split_tab"])
                },
                Pack {
                    name: "pack_tokens_route".into(),
                    members: files(&["chunk_1", "chunk_3", "split_tokens"])
                },
            ]
        );
        // What a page preloads is what its loader fetches: a nested page loads the base too,
        // which preloads nothing of its own; a lone module is preloaded as itself.
        assert_eq!(plan.manifest["__app_route_view_1"], Vec::<String>::new());
        assert_eq!(
            plan.manifest["__tab_route_view_1"],
            files(&["pack_tab_route"])
        );
        assert_eq!(
            plan.manifest["__tokens_route_view_1"],
            files(&["pack_tokens_route"])
        );
        assert_eq!(
            plan.manifest["__login_route_view_1"],
            files(&["split_login"])
        );
    }

    #[test]
    fn a_lazy_function_opened_in_a_route_packs_what_that_route_has_not_loaded() {
        let mut m = manifest();
        m.insert(
            "editor_42".into(),
            files(&["chunk_1", "chunk_2", "chunk_4", "split_editor"]),
        );
        let opened = [("editor".to_owned(), files(&["tab_route", "tokens_route"]))];
        let plan = plan(&m, "app_route", &files(&["tab_route"]), &opened).unwrap();
        let pack = |name: &str| {
            plan.packs
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.members.clone())
        };
        // Opened from the whole: its modules. From a tab (inside the application page): what
        // neither loaded. From tokens: what tokens did not load.
        assert_eq!(
            pack("pack_editor"),
            Some(files(&["chunk_1", "chunk_2", "chunk_4", "split_editor"]))
        );
        assert_eq!(
            pack("pack_editor_in_tab_route"),
            Some(files(&["chunk_4", "split_editor"]))
        );
        assert_eq!(
            pack("pack_editor_in_tokens_route"),
            Some(files(&["chunk_2", "chunk_4", "split_editor"]))
        );
    }

    #[test]
    fn unknown_routes_are_named() {
        assert_eq!(
            plan(&manifest(), "nope", &[], &[]).unwrap_err(),
            "no lazy route called nope in the manifest"
        );
        assert_eq!(
            plan(&manifest(), "app_route", &files(&["tab"]), &[]).unwrap_err(),
            "no lazy route called tab in the manifest"
        );
        assert!(plan(&manifest(), "app_route", &files(&["app_route"]), &[]).is_err());
        let opened = [("editor".to_owned(), files(&["tab_route"]))];
        assert_eq!(
            plan(&manifest(), "app_route", &[], &opened).unwrap_err(),
            "no lazy function called editor in the manifest"
        );
    }

    #[test]
    fn a_pack_is_its_modules_each_after_its_length() {
        let pack = encode(&[b"\0asm1".to_vec(), Vec::new(), b"xy".to_vec()]).unwrap();
        assert_eq!(
            pack,
            [
                &[5, 0, 0, 0][..],
                b"\0asm1",
                &[0, 0, 0, 0],
                &[2, 0, 0, 0],
                b"xy"
            ]
            .concat()
        );
    }

    #[test]
    fn the_loader_fetches_through_packs() {
        let loader = "const a = makeLoad(() => {\n    const src = fetch(new URL(\"./chunk_1.wasm\", import.meta.url));\n}, []);\n";
        let packs = [Pack {
            name: "pack_x".into(),
            members: files(&["chunk_1", "split_x"]),
        }];
        let patched = patch_loader(loader, &packs).unwrap();
        assert!(patched.contains("packedFetch(new URL(\"./chunk_1.wasm\", import.meta.url))"));
        assert!(!patched.contains(" fetch(new URL(\"./chunk"));
        assert!(patched.contains(r#"const PACKS = [["pack_x",["chunk_1","split_x"]]];"#));
        assert!(patched.contains("function packedFetch(url)"));
        assert!(patch_loader(&patched, &packs).is_err(), "patching twice");
        assert!(patch_loader("export const x = 1;", &packs).is_err());
    }
}
