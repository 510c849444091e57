// Compiled by types.test.js with `tsc --noEmit` against node/index.d.ts: the
// API as a TypeScript user writes it. Lines marked @ts-expect-error must NOT
// compile; if the declarations let them through, tsc fails on the marker.
import * as polyprof from 'polyprof';
import { PolyprofError, Profile, Sample } from 'polyprof';

declare function log(text: string): void; // no @types/node here: the declarations stand alone

polyprof.start({ intervalMs: 10, mode: 'v8', durationSeconds: 30 });
polyprof.start({ intervalMs: 10, mode: 'cpu', native: true });
polyprof.start({ mode: 'wall', native: false });
polyprof.start();
const allocSession: polyprof.Session = polyprof.start({ mode: 'alloc', allocInterval: '256k' });
const allocProfile: Profile = allocSession.stop();
polyprof.start({ mode: 'alloc', allocInterval: 65536, durationSeconds: 5 }).stop().write('heap.pb.gz');
new polyprof.ContinuousProfiler({ mode: 'alloc', allocInterval: '1m', windowSeconds: 60 });
new polyprof.ContinuousProfiler({ mode: 'cpu+alloc', allocInterval: '1m', exporter: (_p, md) => md.type === 'alloc' });
const both = polyprof.start({ mode: 'cpu+alloc', allocInterval: '64k' }).stop();
const heapOfBoth: Profile = both.alloc;
const cpuOfBoth: Profile | undefined = both.cpu;
// @ts-expect-error: two time modes cannot combine
polyprof.start({ mode: 'cpu+wall' });
const server: polyprof.Endpoint = polyprof.serve({ endpoint: ':0', allocInterval: '256k' });
const port: number = server.port;
const url: string | null = polyprof.serving()?.url ?? null;
server.stop();
polyprof.serve({ endpoint: 6060, heap: false }).stop();
// @ts-expect-error: heap is a boolean
polyprof.serve({ heap: 'yes' });
const running: boolean = polyprof.isRunning();
const profile: Profile = polyprof.stop();
profile.write('out.pb.gz');
profile.write('out.cpuprofile', 'cpuprofile');
const text: string = profile.report(20);
const bytes: Uint8Array = profile.toBuffer('pprof');
const samples: Sample[] = profile.samples();
for (const s of samples) {
  const leaf = s.frames[0];
  const where: string = `${leaf.name} ${leaf.file}:${leaf.line} ${leaf.kind}`;
  const wall: number = s.values[1];
  const thread = s.labels.thread_name;
  void where, wall, thread;
}
const [type, unit] = profile.valueTypes[0];
const seconds: number = profile.durationSeconds;
const inside: Profile = profile.showFrom('handler', 'app.js').filterLabel('endpoint', 'x');
const nodes: number = profile.toCpuprofile().nodes.length;
const loaded: Profile = polyprof.load('out.pb.gz');

async function main(): Promise<void> {
  const p: Profile = await polyprof.profile(async () => 42, { output: 'block.pb.gz', intervalMs: 5 });
  void p;
}

// Express-style and plain async handlers keep their own types.
type Req = { url: string };
type Res = { end(body: string): void };
const handler = polyprof.profileEndpoint((req: Req, res: Res, next: (err?: unknown) => void) => res.end(req.url), {
  durationSeconds: 10,
  top: 20,
});
handler({ url: '/' }, { end() {} }, () => {});
const checkout = polyprof.profileEndpoint(async (id: number) => `order ${id}`, { output: (t: string) => log(t) });
const order: Promise<string> = checkout(7);
polyprof.profileEndpoint(() => {}, { output: process_stderr_like() });
function process_stderr_like(): { write(text: string): boolean } {
  return { write: () => true };
}

try {
  polyprof.stop();
} catch (e) {
  if (e instanceof PolyprofError) log(e.message);
}

// @ts-expect-error: unknown mode
polyprof.start({ mode: 'fast' });
// @ts-expect-error: allocInterval is bytes or a size string
polyprof.start({ mode: 'alloc', allocInterval: true });
// @ts-expect-error: intervalMs is a number of milliseconds
polyprof.start({ intervalMs: '10ms' });
// @ts-expect-error: unknown option
polyprof.start({ interval: 10 });
// @ts-expect-error: not a format
profile.write('out.json', 'json');
// @ts-expect-error: the wrapper keeps the handler's parameters
checkout('seven');
// @ts-expect-error: Profiles come from stop(), profile() and load()
new Profile();

void allocProfile, heapOfBoth, cpuOfBoth, port, url, running, text, bytes, type, unit, seconds, inside, nodes, loaded, main, order;

const continuous = new polyprof.ContinuousProfiler({
  intervalMs: 100,
  windowSeconds: 60,
  exporter: (p: polyprof.Profile, md: polyprof.WindowMetadata) => p.write(`w${md.window}.pb.gz`),
}).start();
continuous.stop();
const pushing = new polyprof.ContinuousProfiler({
  push: { url: 'https://pyroscope:4040', tags: { env: 'prod' }, tenant: 't1', timeoutMs: 5000 },
});
const pushStats: polyprof.PushStats | null = pushing.pushStats();
void pushStats;
const entries: polyprof.StoreEntry[] = new polyprof.Store('profiles', { maxBytes: 1 << 30 }).list();
// @ts-expect-error: mode 'v8' has no continuous profiling
new polyprof.ContinuousProfiler({ mode: 'v8' });
void entries;

polyprof.configureRateLimit(1, 300);
const breaker = new polyprof.CircuitBreaker({ maxLatencyIncreasePct: 5, cooldownSeconds: 60 });
const triggered = new polyprof.TriggeredProfiler({ latencyThresholdMs: 500, breaker, exporter: (_p, md) => md.p95 });
const tripped: boolean = breaker.recordLatency(120);
triggered.recordLatency(700);
const mw = polyprof.latencyMiddleware({ breaker, triggered });
void mw;
void tripped;

const served: polyprof.Endpoint = polyprof.serve(':0', { tokenFile: '/run/secrets/pprof', heap: false });
const servedPort: number = served.port;
const servedUrl: string | null = served.url;
served.close();
const withEndpoint: polyprof.Endpoint | null = polyprof.start({ endpoint: '127.0.0.1:6060', mode: 'cpu' }).endpoint;
const current: polyprof.Endpoint | null = polyprof.serving();
// @ts-expect-error: remote is a boolean
polyprof.serve('0.0.0.0:6060', { remote: 'yes' });
void servedPort, servedUrl, current, withEndpoint;
