import { clusterTest as test, expect, signIn } from '../tests/fixtures';

// The environments board's first render in the browser at the size: 1,000 applications ×
// 3 environments (test, staging, prod on the simulated cluster), each a Deployment of 4 pods —
// 3,000 Deployments, 12,000 pods. Measured per page load, from the navigation's start:
// the first paint (the server-rendered board), every row on screen, the page hydrated (its
// controls work), and the live stream connected.

const APPLICATIONS = 1000;
const PODS = 4;
const ENVIRONMENTS = ['test', 'staging', 'prod'];
const LOADS = Number(process.env.BENCH_RUNS ?? 5);

const name = (i: number) => `board-${String(i).padStart(4, '0')}`;

/** Runs `work` over `items`, `width` at a time. */
async function inBatches<T>(items: T[], width: number, work: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(work));
}

test('first render of the environments board at 1,000 applications × 3 environments', async ({ page, topsail, cluster }) => {
  test.setTimeout(900_000);
  await signIn(page, topsail);
  for (const ns of ENVIRONMENTS) {
    expect((await cluster.request('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
  }
  const indices = Array.from({ length: APPLICATIONS }, (_, i) => i);
  await inBatches(indices, 20, async (i) => {
    const res = await page.request.post('/api/applications/create', {
      data: { input: { name: name(i), ownerEmail: 'bench@example.com', team: `team-${i % 20}`, deployTargets: ENVIRONMENTS.map((ns) => `sim-1/${ns}`).join('\n') } },
    });
    expect(res.ok(), await res.text()).toBeTruthy();
  });
  const deployments = ENVIRONMENTS.flatMap((ns) => indices.map((i) => [ns, name(i)] as const));
  await inBatches(deployments, 20, async ([ns, app]) => {
    const manifest = {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: app, labels: { 'app.kubernetes.io/name': app } },
      spec: {
        replicas: PODS, selector: { matchLabels: { app } },
        template: { metadata: { labels: { app, 'app.kubernetes.io/name': app } }, spec: { containers: [{ name: 'main', image: `registry.local/${app}:1` }] } },
      },
    };
    const res = await cluster.request('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/${app}?fieldManager=bench`, manifest, 'application/apply-patch+yaml');
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  });
  // Every workload healthy on the board before measuring.
  await expect.poll(async () => {
    const board = await (await page.request.get('/api/environments')).json();
    return board.applications
      .flatMap((row: any) => row.environments)
      .flatMap((cell: any) => cell.workloads)
      .filter((w: any) => w.health === 'healthy').length;
  }, { timeout: 600_000, intervals: [1000] }).toBe(APPLICATIONS * ENVIRONMENTS.length);

  const marks: Record<'paint' | 'rows' | 'hydrated' | 'live', number[]> = { paint: [], rows: [], hydrated: [], live: [] };
  for (let load = 0; load < LOADS; load++) {
    await page.goto('about:blank');
    await page.goto('/environments', { waitUntil: 'commit' });
    // Polled every animation frame: each mark is the first frame it held in.
    const rows = await page.waitForFunction((n) => document.querySelectorAll('tr[data-app]').length >= n && performance.now(), APPLICATIONS, { polling: 'raf', timeout: 60_000 });
    marks.rows.push(Number(await rows.jsonValue()));
    const hydrated = await page.waitForFunction(() => document.querySelector('main[data-hydrated="true"]') && performance.now(), undefined, { polling: 'raf', timeout: 60_000 });
    marks.hydrated.push(Number(await hydrated.jsonValue()));
    const live = await page.waitForFunction(() => document.querySelector('[data-testid="environments"][data-live="true"]') && performance.now(), undefined, { polling: 'raf', timeout: 60_000 });
    marks.live.push(Number(await live.jsonValue()));
    marks.paint.push(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN));
    await expect(page.locator('tr[data-app]')).toHaveCount(APPLICATIONS);
  }
  const html = await (await page.request.get('/environments')).body();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const show = (xs: number[]) => `median ${Math.round(median(xs))} ms, max ${Math.round(Math.max(...xs))} ms`;
  console.log(`environments board in the browser (${APPLICATIONS} applications × ${ENVIRONMENTS.length} environments, ${LOADS} loads; page HTML ${html.length} B):`);
  console.log(`  first contentful paint: ${show(marks.paint)}`);
  console.log(`  all ${APPLICATIONS} rows on screen: ${show(marks.rows)}`);
  console.log(`  hydrated: ${show(marks.hydrated)}`);
  console.log(`  live stream connected: ${show(marks.live)}`);
  expect(marks.hydrated.length).toBe(LOADS);
});
