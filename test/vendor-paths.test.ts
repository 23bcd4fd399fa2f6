/**
 * The 3C / VCC script paths: a page written for the vendor keeps its six `<script>` tags and only
 * changes their host, so each path answers JavaScript (the SDK, a built jQuery, or a no-op).
 */
import type { RunningGateway } from '../apps/gateway/src/app.js';
import { startGateway } from './support/gateway.js';

describe('GET /js/embed/<vendor file>', () => {
  let gw: RunningGateway;

  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => {
    await gw.close();
  });

  const get = async (path: string) => {
    const res = await fetch(`${gw.url}${path}`);
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      cache: res.headers.get('cache-control') ?? '',
      text: await res.text(),
    };
  };

  it('serves the SDK at cs_voice.js, the same bytes as /embed/callgate.js', async () => {
    const vendor = await get('/js/embed/cs_voice.js');
    const own = await get('/embed/callgate.js');
    expect(vendor.status).toBe(200);
    expect(vendor.type).toMatch(/^text\/javascript/);
    expect(vendor.text).toBe(own.text);
    expect(vendor.text).toContain('csInit');
  });

  it('serves jQuery 3 with jQuery Migrate at jquery.min.js, cacheable', async () => {
    const res = await get('/js/embed/jquery.min.js');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/javascript/);
    expect(res.cache).toMatch(/max-age=\d+/);
    expect(res.text).toMatch(/jQuery JavaScript Library v3\.\d+\.\d+/);
    expect(res.text).toMatch(/jQuery Migrate - v3\.\d+\.\d+/);
  });

  it.each([
    '/js/embed/jssip-3.0.7.js',
    '/js/embed/jssip-3.2.10.js',
    '/js/embed/init-3.0.7.js',
    '/js/embed/init-4.1.0.js',
    '/js/embed/web.push.js',
    '/js/embed/cs_const.js',
  ])('answers %s with a cacheable no-op script', async (path) => {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/javascript/);
    expect(res.cache).toMatch(/max-age=\d+/);
    // a comment only: it defines nothing and runs nothing
    expect(res.text.trim()).toMatch(/^\/\*[^]*\*\/$/);
  });

  it('answers 404 for other files under /js/embed', async () => {
    expect((await get('/js/embed/other.js')).status).toBe(404);
    expect((await get('/js/embed/jssip-.js')).status).toBe(404);
  });
});
