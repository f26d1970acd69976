import * as zlib from 'node:zlib';
import { test, expect, open, uniqueName, signIn } from '../tests/fixtures';

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

// The time from a stage's status changing in the engine (a judgment posted to the API) to the
// browser painting the graph node in its new colour, over the live event stream.
test('stage status change → graph repaint', async ({ page, request }) => {
  const runs = Number(process.env.BENCH_RUNS ?? 30);
  const name = uniqueName('latency');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  const pipeline = {
    application: name,
    name: 'Gate',
    stages: [
      { refId: 'gate', type: 'manualJudgment', name: 'Gate' },
      { refId: 'after', type: 'wait', name: 'After', waitTime: 0, requisiteStageRefIds: ['gate'] },
    ],
  };
  expect((await request.post('/api/pipelines/save', { data: { pipeline } })).status()).toBe(200);
  const latencies: number[] = [];
  for (let i = 0; i < runs; i++) {
    const id: string = await (await request.post('/api/executions/start', { data: { application: name, name: 'Gate' } })).json();
    await open(page, `/applications/${name}/executions/${id}`);
    await expect(page.locator('g.node[data-stage="gate"]')).toHaveAttribute('data-status', 'RUNNING');
    await expect(page.getByTestId('execution-page')).toHaveAttribute('data-live', 'true');
    const stageId: string = (await (await request.post('/api/executions/get', { data: { id } })).json()).stages[0].id;
    await page.evaluate(() => {
      const w = window as any;
      w.__painted = null;
      const observer = new MutationObserver(() => {
        const node = document.querySelector('g.node[data-stage="gate"]') as SVGGElement | null;
        if (node?.dataset.status === 'SUCCEEDED' && w.__painted === null) {
          w.__painted = 0;
          requestAnimationFrame(() => (w.__painted = Date.now()));
          observer.disconnect();
        }
      });
      observer.observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    const t0 = Date.now();
    await request.post('/api/executions/judge', { data: { id, stage_id: stageId, judgment: 'continue' } });
    await page.waitForFunction(() => (window as any).__painted > 0, undefined, { timeout: 10_000 });
    latencies.push((await page.evaluate(() => (window as any).__painted)) - t0);
  }
  const line = `graph repaint after a stage status change: runs ${runs} · p50 ${quantile(latencies, 0.5)} ms · p95 ${quantile(latencies, 0.95)} ms · max ${Math.max(...latencies)} ms`;
  console.log(line);
  expect(latencies.length).toBe(runs);
});

// What the pipelines and execution pages weigh: their HTML (rendered on the server) besides the
// shared bundle, raw and gzip.
test('page weight of the pipelines and execution pages', async ({ request }) => {
  const name = uniqueName('weight');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  const stages = Array.from({ length: 12 }, (_, i) => ({ refId: `${i + 1}`, type: 'wait', name: `Stage ${i + 1}`, waitTime: 0, requisiteStageRefIds: i ? [`${i}`] : [] }));
  await request.post('/api/pipelines/save', { data: { pipeline: { application: name, name: 'Twelve', stages } } });
  const id: string = await (await request.post('/api/executions/start', { data: { application: name, name: 'Twelve' } })).json();
  for (const [label, path] of [['pipelines page', `/applications/${name}/pipelines`], ['execution page (12 stages)', `/applications/${name}/executions/${id}`], ['pipeline editor', `/applications/${name}/pipelines/edit/Twelve`]]) {
    const html = await (await request.get(path)).body();
    console.log(`${label}: HTML ${html.length} B raw, ${zlib.gzipSync(html, { level: 9 }).length} B gzip -9`);
  }
});
