
// ---- Added by `wasm-splitter pack` (frontend/splitter/src/packs.rs) ----
// A route needs its own module and the chunks it shares with other routes: often a hundred
// small files, each paying its own response headers and compressing without the others as
// context. The loader above asks for them all in one go; `packedFetch` gathers the files asked
// for in that go and, where a pack (several modules in one file, see PACKS) holds only files
// of the batch, fetches the pack instead and hands each module its part. The rest, and the
// modules of a pack that fails, are fetched one by one.
function packedFetch(url) {
    const stem = url.pathname.slice(url.pathname.lastIndexOf("/") + 1).replace(/\.wasm$/, "");
    if (packBatch === null) {
        packBatch = new Map();
        queueMicrotask(flushPackBatch);
    }
    let wanted = packBatch.get(stem);
    if (wanted === undefined) {
        wanted = { url };
        wanted.response = new Promise((resolve, reject) => {
            wanted.resolve = resolve;
            wanted.reject = reject;
        });
        packBatch.set(stem, wanted);
    }
    return wanted.response;
}
let packBatch = null;
function fetchOne(wanted) {
    fetch(wanted.url).then(wanted.resolve, wanted.reject);
}
function flushPackBatch() {
    const batch = packBatch;
    packBatch = null;
    const left = new Set(batch.keys());
    for (const [pack, members] of PACKS) {
        if (!members.every((m) => left.has(m))) continue;
        members.forEach((m) => left.delete(m));
        const wanted = members.map((m) => batch.get(m));
        fetch(new URL(`./${pack}.wasm`, import.meta.url))
            .then((r) => {
                if (!r.ok) throw new Error(`${pack}: ${r.status}`);
                return r.arrayBuffer();
            })
            .then((buffer) => {
                const view = new DataView(buffer);
                let at = 0;
                const parts = wanted.map(() => {
                    const length = view.getUint32(at, true);
                    const part = new Uint8Array(buffer, at + 4, length);
                    at += 4 + length;
                    return part;
                });
                if (at !== buffer.byteLength) throw new Error(`${pack}: not a pack of ${members.length}`);
                parts.forEach((part, i) =>
                    wanted[i].resolve(new Response(part, { headers: { "Content-Type": "application/wasm" } })));
            })
            .catch((e) => {
                console.warn("loading the modules one by one:", e);
                wanted.forEach(fetchOne);
            });
    }
    left.forEach((m) => fetchOne(batch.get(m)));
}
