import { test, expect, open, uniqueName, signIn } from './fixtures';

test.beforeEach(({ page, topsail }) => signIn(page, topsail));

type Box = { x: number; y: number; width: number; height: number };
const overlap = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

test('the execution graph lays out parallel branches and a join, updates live, and opens stage details', async ({ page, request }) => {
  const name = uniqueName('graph');
  await request.post('/api/applications/create', { data: { input: { name, ownerEmail: 'ops@example.com' } } });
  const pipeline = {
    application: name,
    name: 'Fan out',
    stages: [
      { refId: 'build', type: 'wait', name: 'Build', waitTime: 0 },
      { refId: 'a', type: 'wait', name: 'Test A', waitTime: 1, requisiteStageRefIds: ['build'] },
      { refId: 'b', type: 'evaluateVariables', name: 'Test B', requisiteStageRefIds: ['build'], variables: [{ key: 'who', value: '${trigger.user}' }] },
      { refId: 'gate', type: 'manualJudgment', name: 'Approve', requisiteStageRefIds: ['a', 'b'], instructions: 'Both tests green?' },
      { refId: 'ship', type: 'wait', name: 'Ship', waitTime: 0, requisiteStageRefIds: ['gate'] },
    ],
  };
  expect((await request.post('/api/pipelines/save', { data: { pipeline } })).status()).toBe(200);
  const id: string = await (await request.post('/api/executions/start', { data: { application: name, name: 'Fan out' } })).json();

  await open(page, `/applications/${name}/executions/${id}`);
  await page.evaluate(() => ((window as any).__stayed = true));
  const graph = page.getByTestId('graph');
  const node = (ref: string) => graph.locator(`g.node[data-stage="${ref}"]`);
  await expect(graph.locator('g.node')).toHaveCount(5);

  // Layout: nothing overlaps; the parallel tests share a column; the join is to their right.
  const boxes: Record<string, Box> = {};
  for (const ref of ['build', 'a', 'b', 'gate', 'ship']) boxes[ref] = (await node(ref).locator('rect').boundingBox())!;
  const refs = Object.keys(boxes);
  for (let i = 0; i < refs.length; i++)
    for (let j = i + 1; j < refs.length; j++) expect(overlap(boxes[refs[i]], boxes[refs[j]]), `${refs[i]} / ${refs[j]}`).toBe(false);
  expect(boxes.a.x).toBe(boxes.b.x);
  expect(boxes.a.y).not.toBe(boxes.b.y);
  expect(boxes.gate.x).toBeGreaterThan(boxes.a.x);
  expect(boxes.build.x).toBeLessThan(boxes.a.x);
  // Edges connect the right nodes: one per requisite, from the right side to the left side.
  const edges = await graph.locator('path.edge').evaluateAll((paths) =>
    paths.map((p) => {
      const path = p as SVGPathElement;
      const start = path.getPointAtLength(0);
      const end = path.getPointAtLength(path.getTotalLength());
      const ctm = path.getScreenCTM()!;
      return {
        from: path.dataset.from, to: path.dataset.to,
        start: { x: start.x * ctm.a + ctm.e, y: start.y * ctm.d + ctm.f },
        end: { x: end.x * ctm.a + ctm.e, y: end.y * ctm.d + ctm.f },
      };
    }),
  );
  expect(edges.map((e) => `${e.from}->${e.to}`).sort()).toEqual(['a->gate', 'b->gate', 'build->a', 'build->b', 'gate->ship']);
  for (const e of edges) {
    const [from, to] = [boxes[e.from!], boxes[e.to!]];
    expect(Math.abs(e.start.x - (from.x + from.width))).toBeLessThan(3);
    expect(e.start.y).toBeGreaterThan(from.y);
    expect(e.start.y).toBeLessThan(from.y + from.height);
    expect(Math.abs(e.end.x - to.x)).toBeLessThan(3);
    expect(e.end.y).toBeGreaterThan(to.y);
    expect(e.end.y).toBeLessThan(to.y + to.height);
  }

  // The graph follows the run without a reload.
  await expect(node('gate')).toHaveAttribute('data-status', 'RUNNING', { timeout: 15_000 });
  await expect(node('a')).toHaveAttribute('data-status', 'SUCCEEDED');
  await expect(node('ship')).toHaveAttribute('data-status', 'NOT_STARTED');
  // A running stage shows its elapsed time, counting in the browser.
  await expect(node('gate').locator('text.node-meta')).toHaveText(/^manualJudgment [1-9]\d*s$/, { timeout: 5_000 });

  // A node is reachable by keyboard; Enter opens its details.
  await node('a').focus();
  await page.keyboard.press('Enter');
  const details = page.getByTestId('stage-details');
  await expect(details).toHaveAttribute('data-stage', 'a');
  // Clicking a node opens its details: tasks, outputs as a tree, context.
  await node('b').click();
  await expect(details).toHaveAttribute('data-stage', 'b');
  await expect(details.locator('tr[data-task="evaluateVariables"]')).toContainText('SUCCEEDED');
  await expect(details.locator('.tree-leaf', { hasText: 'who: "admin"' })).toBeVisible();
  await node('gate').click();
  await expect(details).toHaveAttribute('data-stage', 'gate');
  await expect(details).toContainText('Both tests green?');

  // Approve from the stage list; the details and the graph follow.
  await page.locator('tr[data-stage="gate"]').getByRole('button', { name: 'Continue' }).click();
  await expect(node('ship')).toHaveAttribute('data-status', 'SUCCEEDED', { timeout: 15_000 });
  await expect(details).toHaveAttribute('data-status', 'SUCCEEDED');
  await expect(details).toContainText('continue by');
  await expect(graph.locator('path.edge-done')).toHaveCount(5);
  expect(await page.evaluate(() => (window as any).__stayed)).toBe(true);
  await page.screenshot({ path: 'test-results/graph.png', fullPage: true });
});
