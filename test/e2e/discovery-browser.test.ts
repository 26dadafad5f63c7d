// The discovery page in a real (headless) Chromium: discover a replica through the form and see its
// primary and the topology; see clear error alerts for a closed port and a bad host.
import { existsSync } from 'node:fs';
import fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryRoutes } from '../../src/discovery/routes.js';
import { DiscoveryService } from '../../src/discovery/service.js';
import { KvInstanceStore, MemoryKvRange } from '../../src/discovery/store.js';
import { startMariaDB, startReplica, waitForReplicaCatchUp, type MariaDBInstance } from '../helpers/mariadb.js';
import { closedPort } from '../unit/discovery/fake-mysql-server.js';

const CHROMIUM = '/usr/bin/chromium';
const H = '127.0.0.1';
const DISCOVERY_PASSWORD = 'browser-disc-pw';

let primary: MariaDBInstance;
let replica: MariaDBInstance;
let app: FastifyInstance;
let service: DiscoveryService;
let browser: Browser;
let page: Page;
let baseUrl = '';

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}; install it with: apt-get install -y chromium   (.ci/run does it)`);
  }
  primary = await startMariaDB();
  await primary.createReplicationUser('repl', 'repl-pw');
  await primary.query("CREATE USER 'orchestrator'@'%' IDENTIFIED BY ?", [DISCOVERY_PASSWORD]);
  await primary.query("GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR, REPLICATION MASTER ADMIN ON *.* TO 'orchestrator'@'%'");
  replica = await startReplica({ primary: { host: primary.host, port: primary.port }, user: 'repl', password: 'repl-pw', useGtid: 'slave_pos' });
  await waitForReplicaCatchUp(replica, await primary.gtidBinlogPos());

  service = new DiscoveryService({
    store: await KvInstanceStore.open(new MemoryKvRange()),
    logger: pino({ level: 'silent' }),
    settings: { user: 'orchestrator', password: DISCOVERY_PASSWORD, connectTimeoutMs: 1000, queryTimeoutMs: 3000, maxDepth: 5, maxInstances: 50 },
  });
  app = fastify({ logger: false });
  await app.register(discoveryRoutes, { discovery: service });
  await app.listen({ port: 0, host: H });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('admin server has no TCP address');
  baseUrl = `http://${H}:${addr.port}`;

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await service?.close();
  await app?.close();
  await replica?.destroy();
  await primary?.destroy();
});

async function submit(host: string, port: string): Promise<void> {
  await page.fill('#host', host);
  await page.fill('#port', port);
  await page.click('#discover-button');
}

describe('discovery web page', () => {
  it('discovers a replica through the form and shows its primary and the topology', async () => {
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${baseUrl}/web/discover`);
    await page.waitForSelector('body[data-ready="true"]');
    await submit(H, String(replica.port));

    const alert = page.locator('#alert.alert-success');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.textContent()).toBe(`Instance discovered: ${H}:${replica.port}`);
    expect(await page.textContent('[data-field="primary"]')).toBe(`${H}:${primary.port}`);
    expect(await page.textContent('[data-field="role"]')).toBe('replica');
    expect(await page.textContent('[data-field="replication"]')).toMatch(/IO thread Yes, SQL thread Yes/);
    expect(await page.textContent('[data-field="lag"]')).toBe('0 s');
    expect(await page.textContent('[data-field="problems"]')).toBe('none');

    // The topology: the primary at the top with the replica under it (the walk runs in the background).
    const replicaUnderPrimary = page.locator(`#topology-tree li[data-key="${H}:${primary.port}"] li[data-key="${H}:${replica.port}"]`);
    await replicaUnderPrimary.waitFor({ timeout: 15_000 });
    expect(await page.textContent('#cluster-name')).toBe(`${H}:${primary.port}`);
    // First drawn as 'not discovered' (known from the replica only); the page refreshes until the walk read it.
    await page
      .locator(`#topology-tree li[data-key="${H}:${primary.port}"] > .node-line`, { hasText: 'primary' })
      .waitFor({ timeout: 15_000 });
    expect(pageErrors).toEqual([]);
  });

  it('clicking the primary discovers it', async () => {
    await page.click(`[data-field="primary"] button`);
    await page.locator('#alert.alert-success', { hasText: `${H}:${primary.port}` }).waitFor({ timeout: 15_000 });
    expect(await page.textContent('[data-field="role"]')).toBe('primary');
    expect(await page.textContent('[data-field="replicas"]')).toContain(`${H}:${replica.port}`);
  });

  it('shows an error alert for a closed port', async () => {
    const port = String(await closedPort());
    await submit(H, port);
    const alert = page.locator('#alert.alert-error');
    await alert.waitFor({ timeout: 15_000 });
    const text = (await alert.textContent()) ?? '';
    expect(text).toContain(`Discovery of ${H}:${port} failed (HTTP 502`);
    expect(text).toMatch(/connection refused/);
    expect(await page.locator('#alert.alert-success').count()).toBe(0);
    // The earlier instance's details are gone: they would read as this instance's.
    expect(await page.locator('#instance').isHidden()).toBe(true);
  });

  it('shows the server’s 400 for a bad host, and checks the port before asking', async () => {
    await submit('bad host!', '3306');
    const alert = page.locator('#alert.alert-error', { hasText: 'HTTP 400' });
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.textContent()).toMatch(/invalid host/);
    await submit(H, '70000');
    await page.locator('#alert.alert-error', { hasText: 'Invalid port "70000"' }).waitFor({ timeout: 5_000 });
  });
});
