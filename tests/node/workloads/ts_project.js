'use strict';
// Writes a TypeScript project of `count` modules into `dir`: each module
// imports two earlier ones and declares generic interfaces, classes and
// functions over them, so the compiler parses, binds, checks and emits
// cross-file types, as on an application's code base.
const fs = require('fs');
const path = require('path');

function moduleSource(i) {
  const imports = [];
  const deps = i === 0 ? [] : [...new Set([Math.floor(i / 2), i - 1])];
  for (const d of deps) imports.push(`import { Item${d}, Store${d}, transform${d} } from './m${d}';`);
  const depField = deps.map((d) => `  dep${d}: Item${d}<T>;`).join('\n');
  const depUse = deps.map((d) => `    const s${d} = new Store${d}<number>(); s${d}.put(transform${d}(v.length));`).join('\n');
  return `${imports.join('\n')}
export interface Item${i}<T> {
  id: number;
  name: string;
  payload: T;
  tags: ReadonlyArray<string>;
${depField}
}
export type Keyed${i}<T> = { [K in keyof Item${i}<T>]: Item${i}<T>[K] extends Function ? never : K };
export type Pick${i}<T> = Pick<Item${i}<T>, 'id' | 'name'> & Partial<Item${i}<T>>;
export class Store${i}<T> {
  private readonly items = new Map<number, T>();
  put(v: T): this { this.items.set(this.items.size, v); return this; }
  get(k: number): T | undefined { return this.items.get(k); }
  map<U>(f: (v: T, k: number) => U): Store${i}<U> {
    const out = new Store${i}<U>();
    for (const [k, v] of this.items) out.put(f(v, k));
    return out;
  }
  filter(p: (v: T) => boolean): T[] { return [...this.items.values()].filter(p); }
}
export function transform${i}(n: number): number {
  let acc = n;
  for (let k = 0; k < ${(i % 7) + 3}; k++) acc = (acc * 31 + k) % 1000003;
  return acc;
}
export function describe${i}<T extends { toString(): string }>(v: T[]): string {
${depUse}
    return v.map((x, k) => \`\${k}:\${x.toString()}\`).join(',');
}
export const registry${i}: Record<string, (x: number) => number> = {
  double: (x) => x * 2,
  square: (x) => x * x,
  shift: (x) => transform${i}(x) >>> 1,
};
export abstract class Shape${i} {
  abstract area(): number;
  describe(): Pick${i}<string> { return { id: ${i}, name: 'shape${i}' }; }
}
export class Square${i} extends Shape${i} {
  constructor(private side: number) { super(); }
  area(): number { return this.side ** 2; }
}
export function pickAll${i}<T, K extends keyof T>(objs: T[], key: K): Array<T[K]> {
  return objs.map((o) => o[key]);
}
`;
}

function generate(dir, count) {
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, 'src', `m${i}.ts`), moduleSource(i));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'es2020', module: 'commonjs', strict: true, outDir: 'out', declaration: true,
      types: [], lib: ['es2020'] },
    include: ['src'],
  }, null, 2));
}

module.exports = { generate };
if (require.main === module) generate(process.argv[2], Number(process.argv[3] || 300));
