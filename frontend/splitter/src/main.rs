//! Splits the browser bundle at its lazy routes (`#[lazy_route]` in `app`), as `./x build` asks:
//!
//! ```text
//! wasm-splitter <frontend.wasm as cargo built it> <pkg dir> <main module out> <bundle name>
//! wasm-splitter pack <pkg dir> <base route> <nested route>,... [<lazy fn>=<route>,... ...]
//! ```
//!
//! Writes into `<pkg dir>` one `split_*.wasm` per lazy route, `chunk_*.wasm` for code several
//! of them share, the loader the main module imports, and `__wasm_split_manifest.json` (which
//! files each lazy route needs; the server reads it to preload a page's chunks). The main module
//! goes to `<main module out>` and still has to go through wasm-bindgen.
//!
//! The loader's name is the one Leptos' `HydrationScripts` looks for when files are not hashed.
//!
//! `pack`, run once the modules are final (after wasm-opt), writes the packs of [`packs`] into
//! `<pkg dir>`, makes the loader fetch through them and the manifest name them.

mod packs;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

/// The loader module's name, as `leptos::HydrationScripts` expects it.
const LOADER: &str = "./__wasm_split.______________________.js";
const MANIFEST: &str = "__wasm_split_manifest.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, pkg_dir, base, nested, lazy @ ..] = args.as_slice()
        && command == "pack"
    {
        let list = |text: &'_ str| -> Vec<String> {
            text.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let nested = list(nested);
        let mut opened = Vec::new();
        for arg in lazy {
            let Some((function, routes)) = arg.split_once('=') else {
                eprintln!("wasm-splitter pack: '{arg}' is not <lazy fn>=<route>,...");
                return ExitCode::from(2);
            };
            opened.push((function.to_owned(), list(routes)));
        }
        return match pack(Path::new(pkg_dir), base, &nested, &opened) {
            Ok(count) => {
                println!("wasm-splitter: {count} pack(s) written into {pkg_dir}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("wasm-splitter pack: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let [input, pkg_dir, main_out, name] = args.as_slice() else {
        eprintln!("usage: wasm-splitter <input.wasm> <pkg dir> <main module out> <bundle name>");
        eprintln!(
            "       wasm-splitter pack <pkg dir> <base route> <nested route>,... [<lazy fn>=<route>,...]"
        );
        return ExitCode::from(2);
    };
    match split(
        Path::new(input),
        Path::new(pkg_dir),
        Path::new(main_out),
        name,
    ) {
        Ok(count) => {
            println!("wasm-splitter: {count} lazy route(s) split into {pkg_dir}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("wasm-splitter: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn split(
    input: &Path,
    pkg_dir: &Path,
    main_out: &Path,
    name: &str,
) -> Result<usize, Box<dyn std::error::Error>> {
    let wasm = std::fs::read(input).map_err(|e| format!("reading {}: {e}", input.display()))?;
    std::fs::create_dir_all(pkg_dir)?;
    let main_module = format!("./{name}.js");
    let mut options = wasm_split_cli_support::Options::new(&wasm);
    options.output_dir = pkg_dir;
    options.main_out_path = main_out;
    options.link_name = LOADER;
    options.main_module = &main_module;
    options.target.web();
    let result = wasm_split_cli_support::transform(options).map_err(|e| format!("{e:#}"))?;
    let manifest = serde_json::to_string_pretty(&result.prefetch_map)?;
    std::fs::write(pkg_dir.join(MANIFEST), manifest)?;
    Ok(result.prefetch_map.len())
}

fn pack(
    pkg_dir: &Path,
    base: &str,
    nested: &[String],
    opened: &[(String, Vec<String>)],
) -> Result<usize, String> {
    let read =
        |name: &str| std::fs::read(pkg_dir.join(name)).map_err(|e| format!("reading {name}: {e}"));
    let manifest: BTreeMap<String, Vec<String>> =
        serde_json::from_slice(&read(MANIFEST)?).map_err(|e| format!("{MANIFEST}: {e}"))?;
    let plan = packs::plan(&manifest, base, nested, opened)?;
    for pack in &plan.packs {
        let modules = pack
            .members
            .iter()
            .map(|stem| read(&format!("{stem}.wasm")))
            .collect::<Result<Vec<_>, _>>()?;
        let bytes = packs::encode(&modules)?;
        let name = format!("{}.wasm", pack.name);
        std::fs::write(pkg_dir.join(&name), bytes).map_err(|e| format!("writing {name}: {e}"))?;
    }
    let loader = String::from_utf8(read(LOADER)?).map_err(|e| format!("{LOADER}: {e}"))?;
    let loader = packs::patch_loader(&loader, &plan.packs)?;
    std::fs::write(pkg_dir.join(LOADER), loader).map_err(|e| format!("writing {LOADER}: {e}"))?;
    let manifest = serde_json::to_string_pretty(&plan.manifest).map_err(|e| e.to_string())?;
    std::fs::write(pkg_dir.join(MANIFEST), manifest)
        .map_err(|e| format!("writing {MANIFEST}: {e}"))?;
    Ok(plan.packs.len())
}
