import type { Page } from '@playwright/test';
import { test, expect, open, uniqueName, signIn } from '../tests/fixtures';

// What the browser downloads per route of the split bundle, on the wire (brotli, headers
// included, as Chromium's network log counts them), against the budgets of issue 18:
//   - first load of /applications (HTML + wasm + JS + CSS): ≤ 250 KB
//   - what any route adds when navigated to from there (its wasm chunks): ≤ 150 KB
//   - the first load of any route opened directly (a shared link): ≤ 400 KB
// and the time until /applications is interactive (hydrated) on a fresh browser context.

const KB = 1000;
const BUDGET = { first: 250 * KB, route: 150 * KB, total: 400 * KB };

/** Counts the bytes of finished requests (all, and those under /pkg/) from now on. */
async function meter(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  const urls = new Map<string, string>();
  const counted = { all: 0, pkg: 0, files: [] as string[] };
  cdp.on('Network.requestWillBeSent', (e: any) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', (e: any) => {
    const url = urls.get(e.requestId) ?? '';
    counted.all += e.encodedDataLength;
    if (new URL(url).pathname.startsWith('/pkg/')) {
      counted.pkg += e.encodedDataLength;
      counted.files.push(new URL(url).pathname);
    }
  });
  await cdp.send('Network.enable');
  return counted;
}

/** Follows a link inside the app (client-side navigation) and waits for `ready`. */
async function navigate(page: Page, href: string, ready: string) {
  await page.evaluate((h) => {
    const a = document.createElement('a');
    a.href = h;
    a.textContent = 'go';
    a.id = 'bench-link';
    document.querySelector('main')!.appendChild(a);
  }, href);
  await page.click('#bench-link');
  await expect(page.locator(ready).first()).toBeVisible({ timeout: 30_000 });
}

test('bundle weight per route and time to interactive', async ({ browser, topsail }) => {
  const setup = await browser.newPage();
  await signIn(setup, topsail);
  const app = uniqueName('routes');
  await setup.request.post('/api/applications/create', { data: { input: { name: app, ownerEmail: 'ops@example.com' } } });
  const stages = Array.from({ length: 6 }, (_, i) => ({ refId: `${i + 1}`, type: 'wait', name: `Stage ${i + 1}`, waitTime: 0, requisiteStageRefIds: i ? [`${i}`] : [] }));
  await setup.request.post('/api/pipelines/save', { data: { pipeline: { application: app, name: 'Six', stages } } });
  const id: string = await (await setup.request.post('/api/executions/start', { data: { application: app, name: 'Six' } })).json();

  const routes: [string, string, string][] = [
    ['infrastructure tab', `/applications/${app}/infrastructure`, '[data-testid="tab-infrastructure"]'],
    ['pipelines tab', `/applications/${app}/pipelines`, '[data-testid="tab-pipelines"]'],
    ['executions tab', `/applications/${app}/executions`, '[data-testid="tab-executions"]'],
    ['execution page', `/applications/${app}/executions/${id}`, '[data-testid="execution-page"]'],
    ['pipeline editor', `/applications/${app}/pipelines/edit/Six`, '[data-testid="pipeline-editor"]'],
    ['config tab', `/applications/${app}/config`, 'h2:text-is("Settings")'],
    ['integrations', '/integrations', '[data-testid="integrations"]'],
    ['API tokens', '/settings/tokens', 'h1:text-is("API tokens")'],
    ['users (admin)', '/admin/users', 'h1:text-is("Users")'],
    ['audit log (admin)', '/admin/audit', 'h1:text-is("Audit log")'],
  ];

  /** A fresh, signed-in context: nothing cached. */
  const fresh = async () => {
    const context = await browser.newContext({ baseURL: topsail.url });
    const page = await context.newPage();
    await signIn(page, topsail);
    return { context, page };
  };

  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const tti: number[] = [];
  let first = 0;
  for (let i = 0; i < runs; i++) {
    const { context, page } = await fresh();
    const counted = await meter(page);
    await open(page, '/applications');
    tti.push(await page.evaluate(() => Math.round(performance.now())));
    first = counted.all;
    await context.close();
  }
  const lines = [`first load of /applications: ${(first / KB).toFixed(1)} KB · interactive after ${tti.sort((a, b) => a - b).join(' / ')} ms (${runs} fresh contexts)`];
  const over: string[] = [];
  if (first > BUDGET.first) over.push(`first load of /applications: ${first} B > ${BUDGET.first} B`);

  for (const [label, href, ready] of routes) {
    const nav = await fresh();
    await open(nav.page, '/applications');
    const added = await meter(nav.page);
    await navigate(nav.page, href, ready);
    await expect(nav.page.locator('main[data-hydrated="true"]')).toBeAttached();
    await nav.context.close();

    const direct = await fresh();
    const whole = await meter(direct.page);
    await open(direct.page, href);
    await expect(direct.page.locator(ready).first()).toBeVisible();
    await direct.context.close();

    lines.push(`${label}: adds ${(added.pkg / KB).toFixed(1)} KB (${added.files.length} files) · opened directly ${(whole.all / KB).toFixed(1)} KB`);
    if (added.pkg > BUDGET.route) over.push(`${label}: its chunks ${added.pkg} B > ${BUDGET.route} B`);
    if (whole.all > BUDGET.total) over.push(`${label}: opened directly ${whole.all} B > ${BUDGET.total} B`);
  }
  // The manifest editor: its own code, fetched when a deployManifest stage is selected in the
  // pipeline editor (or an Infrastructure object is edited), never with the pages themselves.
  const manifests = [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } } } }];
  await setup.request.post('/api/pipelines/save', { data: { pipeline: { application: app, name: 'Deploy', stages: [
    { refId: '1', type: 'deployManifest', name: 'Deploy', account: 'none', manifests, requisiteStageRefIds: [] }] } } });
  {
    const { context, page } = await fresh();
    await open(page, `/applications/${app}/pipelines/edit/Deploy`);
    const added = await meter(page);
    await page.locator('g.node[data-stage="1"]').click();
    await expect(page.locator('[data-testid="manifest-editor"] .document-form')).toHaveAttribute('data-kind', 'Deployment');
    await context.close();
    lines.push(`manifest editor (a deployManifest stage opened in the pipeline editor): adds ${(added.pkg / KB).toFixed(1)} KB (${added.files.length} files)`);
    if (added.pkg > BUDGET.route) over.push(`manifest editor: its chunks ${added.pkg} B > ${BUDGET.route} B`);
  }
  console.log(lines.join('\n'));
  expect(over, 'routes over their budget').toEqual([]);
  await setup.close();
});
