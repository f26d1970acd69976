//! Splits the browser bundle at its lazy routes (`#[lazy_route]` in `app`), as `./x build` asks:
//!
//! ```text
//! wasm-splitter <frontend.wasm as cargo built it> <pkg dir> <main module out> <bundle name>
//! ```
//!
//! Writes into `<pkg dir>` one `split_*.wasm` per lazy route, `chunk_*.wasm` for code several
//! of them share, the loader the main module imports, and `__wasm_split_manifest.json` (which
//! files each lazy route needs; the server reads it to preload a page's chunks). The main module
//! goes to `<main module out>` and still has to go through wasm-bindgen.
//!
//! The loader's name is the one Leptos' `HydrationScripts` looks for when files are not hashed.

use std::path::Path;
use std::process::ExitCode;

/// The loader module's name, as `leptos::HydrationScripts` expects it.
const LOADER: &str = "./__wasm_split.______________________.js";
const MANIFEST: &str = "__wasm_split_manifest.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, pkg_dir, main_out, name] = args.as_slice() else {
        eprintln!("usage: wasm-splitter <input.wasm> <pkg dir> <main module out> <bundle name>");
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
