// Type declarations of polyprof's Node API (node/lib/index.js).

/**
 * 'cpu' (default): every thread of the process is sampled in proportion to
 * the CPU it uses, JavaScript frames merged with native ones (C++, OpenSSL,
 * zlib, the GC). 'wall': the same, sampling every thread on a wall-clock
 * tick whether it runs or waits. JavaScript frames come from the main thread
 * and from each worker that has loaded polyprof. 'v8': V8's CpuProfiler
 * samples the JavaScript thread that started the profile (wall time,
 * JavaScript frames only). 'alloc': V8's sampling heap profiler on this
 * thread's heap: inuse_objects, inuse_space, alloc_objects, alloc_space
 * (JavaScript frames only); alloc_space, last, is the value reports and
 * pprof show by default, as in Python's and the JVM agent's allocation
 * profiles (the endpoint's /debug/pprof/heap: inuse_space).
 */
export type Mode = 'cpu' | 'wall' | 'v8' | 'alloc';

export interface StartOptions {
  /** Sampling period in milliseconds (default 10; at least 0.1). */
  intervalMs?: number;
  /** Default 'cpu'. */
  mode?: Mode;
  /** Native frames (default true); only false is possible in mode 'v8'. */
  native?: boolean;
  /** Stop collecting after this long; stop() still returns the profile. 0 or absent: until stop(). */
  durationSeconds?: number;
  /** Mode 'alloc': mean bytes between samples, a number or a size such as '512k' (default 512k). */
  allocInterval?: number | string;
  /** Everything else in the core's option grammar, e.g. 'memory=32m,cpu_budget=1%'. */
  options?: string;
  /** Also serve the local HTTP endpoint there ('127.0.0.1:6060', ':0') until the session stops: see serve(). */
  endpoint?: string | number;
}

/** Output format names; by default the file suffix picks one. */
export type Format = 'pprof' | 'collapsed' | 'folded' | 'text' | 'top' | 'cpuprofile' | 'html' | 'flamegraph' | 'speedscope';

export interface ProfileOptions {
  /** Write the profile here when fn settles (the suffix picks the format). */
  output?: string;
  format?: Format;
  intervalMs?: number;
  mode?: Mode;
  native?: boolean;
  allocInterval?: number | string;
}

export interface EndpointOptions {
  /** How long after the first call samples are kept (default 10). */
  durationSeconds?: number;
  /** Where the report goes: stderr by default, or a path (appended to), a stream, or a function. */
  output?: string | { write(text: string): unknown } | ((text: string) => void);
  /** How many functions the report lists (default 20). */
  top?: number;
  intervalMs?: number;
}

export type FrameKind = 'js' | 'native' | 'special';

export interface Frame {
  name: string;
  /** Script URL or path, "" when unknown. */
  file: string;
  /** The line where the function starts (0 when unknown). */
  line: number;
  /** 'special': where time went outside any function, e.g. "(program)", "(idle)", "(garbage collector)". */
  kind: FrameKind;
}

export interface Sample {
  /** Leaf first. */
  frames: Frame[];
  /** One per value type, e.g. [sample count, wall nanoseconds]. */
  values: number[];
  /** e.g. { thread_id: 1234, thread_name: 'main', endpoint: '...' } */
  labels: Record<string, string | number>;
}

/** Chrome DevTools' CPU profile (.cpuprofile JSON). */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: {
      functionName: string;
      scriptId: string;
      url: string;
      lineNumber: number;
      columnNumber: number;
    };
    hitCount: number;
    children: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export class Profile {
  private constructor();
  /** Writes to path; the suffix picks the format (.pb.gz/.pprof, .folded/.collapsed/.txt, .top, .cpuprofile) unless format names one. */
  write(path: string, format?: Format): void;
  /** The encoded profile (a Buffer at run time). */
  toBuffer(format?: Format, top?: number): Uint8Array;
  /** The top functions by cumulative value, with flat and cumulative shares. */
  report(top?: number, valueIndex?: number): string;
  samples(): Sample[];
  readonly valueTypes: Array<[type: string, unit: string]>;
  readonly comments: string[];
  readonly metadata: Record<string, string | number>;
  readonly durationSeconds: number;
  total(index?: number): number;
  filterLabel(key: string, value: string): Profile;
  /** The samples through function `name` (in `file`), rooted there (pprof's show_from). */
  showFrom(name: string, file?: string, keepUnmatched?: boolean): Profile;
  toCpuprofile(): CpuProfile;
}

/** Misuse: double start, stop without start, bad options or formats, a second session in another mode. */
export class PolyprofError extends Error {}

/** What start() returns. */
export interface Session {
  readonly mode: Mode;
  /** The endpoint start({ endpoint }) serves until stop(), else null. */
  readonly endpoint: Endpoint | null;
  /** Stops this session and returns its profile. */
  stop(): Profile;
}

/** A time profile and an allocation profile at once (as Python's mode="cpu+alloc"). */
export type CombinedMode = 'cpu+alloc' | 'wall+alloc' | 'v8+alloc';

export interface CombinedSession {
  readonly mode: CombinedMode;
  /** Stops both: { cpu | wall | v8: Profile, alloc: Profile }. */
  stop(): { cpu?: Profile; wall?: Profile; v8?: Profile; alloc: Profile };
}

/** One time session (cpu, wall or v8) and one allocation session may run at once. */
export function start(options: Omit<StartOptions, 'mode'> & { mode: CombinedMode }): CombinedSession;
export function start(options?: StartOptions): Session;
/**
 * Stops the one session start() started (with two running, stop each
 * through its Session; a combined mode's profiles come from CombinedSession.stop()).
 */
export function stop(): Profile;
export function isRunning(): boolean;
/** Profiles one call of fn and resolves to its Profile (written to options.output if given). */
export function profile(fn: () => unknown, options?: ProfileOptions): Promise<Profile>;
/** Wraps a handler (plain, async or Express-style) so its first durationSeconds are profiled and reported. */
export function profileEndpoint<F extends (...args: any[]) => any>(handler: F, options?: EndpointOptions): F;

export interface ServeOptions {
  /** "127.0.0.1:6060" (default), ":0" (a free port), "[::1]:6060", a port number, or a unix socket path. */
  endpoint?: string | number;
  /** A non-loopback address needs remote: true and a token. */
  remote?: boolean;
  /** The bearer token's file (else $POLYPROF_ENDPOINT_TOKEN). */
  tokenFile?: string;
  /** /debug/pprof/allocs and /heap from this thread's heap (default true; starts V8's heap profiler). */
  heap?: boolean;
  /** Mean bytes between heap samples (default 512k). */
  allocInterval?: number | string;
  /** The core's grammar for the captures (interval, signal, store...). */
  options?: string;
}

export interface Endpoint {
  /** The bound address, e.g. "127.0.0.1:43817" or "unix:/path". */
  readonly address: string;
  /** The bound port (0 for a unix socket). */
  readonly port: number;
  /** http://host:port, null for a unix socket. */
  readonly url: string | null;
  readonly running: boolean;
  stop(): void;
  /** The same as stop(). */
  close(): void;
}

/** The local profiling endpoint in Go's net/http/pprof conventions (/debug/pprof/profile, allocs, heap), on the core's threads; one per process. */
export function serve(options?: ServeOptions): Endpoint;
/** serve({ endpoint, ...options }). */
export function serve(endpoint: string | number, options?: Omit<ServeOptions, 'endpoint'>): Endpoint;
/** The Endpoint this process serves, or null. */
export function serving(): Endpoint | null;

/** Reads a profile file back: pprof, collapsed, speedscope or .cpuprofile (by suffix unless format names one). */
export function load(path: string, format?: Format): Profile;
/** The differential profile of `current` against `base`: 'html' (a differential flame graph) or 'text'. */
export function diff(base: Profile, current: Profile, format?: 'html' | 'text', sampleType?: string, top?: number): Uint8Array;
export const version: string;

export interface WindowMetadata {
  trigger: 'continuous';
  /** 0, 1, 2, ... */
  window: number;
  /** Unix seconds. */
  start: number;
  end: number;
  /** 'alloc' for an allocation window (mode 'alloc', 'cpu+alloc', 'wall+alloc'); absent for CPU and wall windows. */
  type?: 'alloc';
}

export interface ContinuousOptions {
  /** Sampling period (default 100). */
  intervalMs?: number;
  /** One profile per window (default 60; 1 s to 24 h). */
  windowSeconds?: number;
  /** Gets each window on the event loop; without one, windows go to the local store. */
  exporter?: (profile: Profile, metadata: WindowMetadata) => unknown;
  /** Store directory or Store (default $POLYPROF_STORE or ./profiles). */
  store?: string | Store;
  /**
   * 'alloc': this thread's sampled allocations per window (stored with type
   * "alloc", alloc_space the default value); 'cpu+alloc' / 'wall+alloc': both
   * kinds of windows side by side, as Python's. With push, allocation windows
   * are pushed too (memory profiles in Pyroscope: alloc_objects, alloc_space,
   * inuse_objects, inuse_space).
   */
  mode?: 'cpu' | 'wall' | 'alloc' | 'cpu+alloc' | 'wall+alloc';
  native?: boolean;
  /** Modes with 'alloc': mean bytes between samples (default 512k). */
  allocInterval?: number | string;
  /** Names stored files (default: the program's name). */
  service?: string;
  /** Also push every window to a Grafana Pyroscope server (allocation windows too): its URL, or the details. */
  push?: string | PushOptions;
}

/** Pushing windows to Pyroscope (docs/options.md, push* keys). Credentials:
 * POLYPROF_PUSH_TOKEN or POLYPROF_PUSH_BASIC_AUTH=user:password, or the *File keys. */
export interface PushOptions {
  url: string;
  /** Pyroscope application name (default: service, else "node"). */
  app?: string;
  /** Labels of every window. */
  tags?: Record<string, string | number>;
  /** X-Scope-OrgID. */
  tenant?: string;
  /** Windows waiting at most (default 8); the oldest is dropped when full. */
  queue?: number;
  timeoutMs?: number;
  /** At stop, how long queued windows may still be sent (default 3000). */
  flushMs?: number;
  caFile?: string;
  tokenFile?: string;
  basicAuthFile?: string;
}

export interface PushStats {
  pushed: number;
  failedAttempts: number;
  droppedQueueFull: number;
  droppedRejected: number;
  queued: number;
}

/** Always-on profiling at a low rate, one profile per window. */
export class ContinuousProfiler {
  constructor(options?: ContinuousOptions);
  start(): this;
  /** Hands over the last, partial window, then stops. */
  stop(): void;
  readonly running: boolean;
  /** Windows exported so far (with 'cpu+alloc' / 'wall+alloc': the time windows). */
  readonly windows: number;
  /**
   * Push counters (after stop(): as the last flush left them); null without
   * push. With 'cpu+alloc' / 'wall+alloc': both kinds of windows' counters, added up.
   */
  pushStats(): PushStats | null;
}

export interface StoreEntry {
  file: string;
  service: string;
  type: string;
  trigger: string;
  /** Unix seconds. */
  start: number;
  bytes: number;
  /** A .pb.gz.enc file (AES-256-GCM). */
  encrypted: boolean;
}

/** The local store: gzip pprof files with an index, retention by age and size. */
export class Store {
  /** keyFile (else $POLYPROF_STORE_KEY): encrypts what is stored, decrypts what is read. */
  constructor(directory?: string, limits?: { maxAgeSeconds?: number; maxBytes?: number; keyFile?: string });
  readonly directory: string;
  readonly keyFile?: string;
  /** The stored profile, decrypted when encrypted (an entry, a file name or a path). */
  read(entry: StoreEntry | string): Profile;
  /** Oldest first. */
  list(): StoreEntry[];
  /** Applies retention as of now (Unix seconds); returns the files removed. */
  prune(now?: number): number;
  path(entry: StoreEntry): string;
}

/** At most maxCaptures triggered captures per windowSeconds, shared by every trigger (default 1 per 300 s). */
export function configureRateLimit(maxCaptures?: number, windowSeconds?: number): void;

export interface BreakerState {
  open: boolean;
  trips: number;
  /** Clock seconds of the last trip, null if never. */
  lastTrip: number | null;
  violations: number;
  baselineMs: number;
}

/** Stops profiling when request latency rises while profiling. */
export class CircuitBreaker {
  constructor(options?: { maxLatencyIncreasePct?: number; violationThreshold?: number; cooldownSeconds?: number; clock?: () => number });
  guard<T extends { stop(): unknown }>(profiler: T): T;
  /** true when this call tripped the breaker. */
  recordLatency(currentMs: number, baselineMs?: number): boolean;
  canProfile(): boolean;
  readonly state: BreakerState;
  readonly isOpen: boolean;
  readonly trips: number;
}

export interface CaptureMetadata {
  trigger: string;
  p95: number | null;
  thresholdMs: number;
  /** Unix seconds. */
  start: number;
  end: number;
}

/** High-fidelity captures when the p95 latency exceeds a threshold, by hand or on a schedule. */
export class TriggeredProfiler {
  constructor(options?: {
    latencyThresholdMs?: number;
    cooldownSeconds?: number;
    profileDurationSeconds?: number;
    intervalMs?: number;
    exporter?: (profile: Profile, metadata: CaptureMetadata) => unknown;
    store?: string | Store;
    mode?: 'cpu' | 'wall';
    native?: boolean;
    service?: string;
    breaker?: CircuitBreaker;
    clock?: () => number;
    scheduleEveryMinutes?: number;
  });
  /** true when it started a capture. */
  recordLatency(ms: number): boolean;
  trigger(reason?: string): boolean;
  stop(): void;
  wait(): Promise<void>;
  readonly captures: CaptureMetadata[];
}

/** Express-style middleware reporting each response's latency. */
export function latencyMiddleware(options: {
  breaker?: CircuitBreaker;
  triggered?: { recordLatency(ms: number): unknown };
}): (req: unknown, res: { once(event: 'finish', fn: () => void): unknown }, next: () => void) => void;
