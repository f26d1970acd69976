import type { Page, Request } from '@playwright/test';
import { test, expect, open, uniqueName, signIn } from './fixtures';

// The route-split bundle as a browser sees it: a page's code arrives as a pack on a first visit,
// is fetched as soon as a link to it is pointed at, and a pack that cannot be had does not
// break the page (the modules come one by one).

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

async function application(page: Page): Promise<string> {
  const name = uniqueName('bundle');
  const res = await page.request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  expect(res.status(), await res.text()).toBe(200);
  return name;
}

/** The /pkg/ files the page requests from now on. */
function pkgRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (r: Request) => {
    const path = new URL(r.url()).pathname;
    // Files are served under the bundle's build id: /pkg/<id>/<file>.
    if (path.startsWith('/pkg/')) seen.push(path.replace(/^\/pkg\/([0-9a-f]{8,64}\/)?/, ''));
  });
  return seen;
}

test('pointing at a link fetches its page as one pack before the click', async ({ page }) => {
  const app = await application(page);
  await open(page, '/applications');
  const seen = pkgRequests(page);
  const link = page.locator(`a[href="/applications/${app}"]`).first();
  const pack = page.waitForResponse((r) => r.url().endsWith('/pack_infrastructure_route.wasm'));
  await link.hover();
  expect((await pack).status()).toBe(200);
  // The application page and its default tab came in that one file, not module by module.
  expect(seen.filter((f) => /^(chunk|split)_/.test(f)), seen.join(' ')).toEqual([]);
  await link.click();
  await expect(page.getByTestId('tab-infrastructure')).toBeVisible();
  await expect(page.locator('main[data-hydrated="true"]')).toBeAttached();

  // Switching tabs fetches only what the first visit did not bring (one by one: which modules
  // those are depends on the order of visits).
  const before = seen.length;
  await page.locator('nav[aria-label="Application"] a', { hasText: 'Executions' }).click();
  await expect(page.getByTestId('tab-executions')).toBeVisible();
  const wasm = seen.filter((f) => f.endsWith('.wasm'));
  expect(seen.length).toBeGreaterThan(before);
  expect(wasm, 'nothing fetched twice').toEqual([...new Set(wasm)]);
});

test('a page opened directly preloads its pack, and works when packs cannot be had', async ({ page }) => {
  const app = await application(page);
  const seen = pkgRequests(page);
  await open(page, `/applications/${app}/config`);
  expect(seen).toContain('pack_config_route.wasm');
  expect(seen.filter((f) => /^(chunk|split)_/.test(f)), seen.join(' ')).toEqual([]);

  // A proxy that refuses the packs: the loader falls back to the modules one by one.
  const fresh = await page.context().browser()!.newContext({ baseURL: new URL(page.url()).origin });
  const other = await fresh.newPage();
  await other.context().setExtraHTTPHeaders({ origin: new URL(page.url()).origin });
  const cookies = await page.context().cookies();
  await fresh.addCookies(cookies);
  await other.route('**/pack_*.wasm', (route) => route.fulfill({ status: 503, body: 'no packs here' }));
  const modules = pkgRequests(other);
  await open(other, '/applications');
  await other.locator(`a[href="/applications/${app}"]`).first().click();
  await expect(other.getByTestId('tab-infrastructure')).toBeVisible();
  await expect(other.locator('main[data-hydrated="true"]')).toBeAttached();
  await other.locator('nav[aria-label="Application"] a', { hasText: 'Pipelines' }).click();
  await expect(other.getByTestId('tab-pipelines')).toBeVisible();
  expect(modules.filter((f) => /^split_/.test(f)).length, modules.join(' ')).toBeGreaterThanOrEqual(2);
  await fresh.close();
});

test('the manifest editor is fetched when a deployManifest stage opens, not with the pipeline editor', async ({ page }) => {
  const app = await application(page);
  const pipeline = {
    application: app, name: 'Deploy', triggers: [],
    stages: [
      { refId: '1', type: 'wait', name: 'Wait', waitTime: 1, requisiteStageRefIds: [] },
      { refId: '2', type: 'deployManifest', name: 'Deploy', account: 'none', requisiteStageRefIds: ['1'],
        manifests: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { LEVEL: 'info' } }] },
    ],
  };
  expect((await page.request.post('/api/pipelines/save', { data: { pipeline } })).status()).toBe(200);
  const seen = pkgRequests(page);
  await open(page, `/applications/${app}/pipelines/edit/Deploy`);
  const graph = page.getByTestId('editor-graph');
  await graph.locator('g.node[data-stage="1"]').click();
  await expect(page.getByTestId('stage-form')).toHaveAttribute('data-stage', '1');
  expect(seen.filter((f) => f.startsWith('pack_manifest_editor')), seen.join(' ')).toEqual([]);

  // What the editor page has not loaded comes as one pack.
  const pack = page.waitForResponse((r) => r.url().endsWith('/pack_manifest_editor_in_pipeline_editor_route.wasm'));
  await graph.locator('g.node[data-stage="2"]').click();
  expect((await pack).status()).toBe(200);
  const editor = page.getByTestId('manifest-editor');
  await expect(editor.locator('.document-form')).toHaveAttribute('data-kind', 'ConfigMap');
  expect(seen.filter((f) => /^(chunk|split)_/.test(f)), seen.join(' ')).toEqual([]);
});

test('the environments board and the Delivery tab come as their own packs, loaded where they open', async ({ page }) => {
  const app = await application(page);
  const seen = pkgRequests(page);
  await open(page, '/applications');
  expect(seen.filter((f) => f.startsWith('pack_environments') || f.startsWith('pack_delivery')), seen.join(' ')).toEqual([]);
  const board = page.waitForResponse((r) => r.url().endsWith('/pack_environments_route.wasm'));
  await page.locator('nav[aria-label="Main"] a', { hasText: 'Environments' }).click();
  expect((await board).status()).toBe(200);
  await expect(page.getByTestId('environments')).toBeVisible();
  expect(seen.filter((f) => /^(chunk|split)_/.test(f)), seen.join(' ')).toEqual([]);
  expect(seen.filter((f) => f.startsWith('pack_delivery')), 'the Delivery tab is not on the board').toEqual([]);

  await open(page, `/applications/${app}/delivery`);
  expect(seen).toContain('pack_delivery_route.wasm');
  await expect(page.getByTestId('tab-delivery')).toBeVisible();
});
