/**
 * The GPU bundle (`npm run bench:bundle`, scripts/bench-bundle.mjs): built into a temporary folder, copied to
 * another one, and run from a third working directory with a bare `node` (no NODE_PATH, no repository on the
 * module path): gpu-check.mjs must pass every check on this machine's adapter (SwiftShader through Dawn here),
 * and bench.mjs must write the benchmark's JSON with every mode in `modes`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../sessions/chromium.js';
import { MODES } from '../../bench/modes.js';

let dir: string;
let carried: string;
let cwd: string;

/** `node file args` from `cwd`, with an environment that cannot reach the repository's node_modules. */
function node(file: string, args: string[], timeoutMs: number) {
  const env = { ...process.env };
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, [file, ...args], { cwd, env, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, error: r.error };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'adabelief-bundle-'));
  const built = join(dir, 'built');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/bench-bundle.mjs'), '--out', built], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  console.log(`${r.stdout}${r.stderr}`.trim());
  expect(r.status, 'bench-bundle.mjs').toBe(0);
  carried = join(dir, 'carried');
  cpSync(built, carried, { recursive: true });
  rmSync(built, { recursive: true });
  cwd = join(dir, 'elsewhere');
  mkdirSync(cwd);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('dist-bench, copied away from the repository', () => {
  test('holds the two bundles and the webgpu package with its native addon', () => {
    for (const f of [
      'bench.mjs',
      'gpu-check.mjs',
      'README.txt',
      'node_modules/webgpu/package.json',
      'node_modules/webgpu/index.js',
      `node_modules/webgpu/dist/${process.platform}-${process.arch}/dawn.node`,
    ])
      expect(existsSync(join(carried, f)), f).toBe(true);
  });

  test('gpu-check.mjs: every check passes, exit status 0', () => {
    const r = node(join(carried, 'gpu-check.mjs'), [], 170_000);
    console.log(r.out);
    expect(r.error, 'ran to the end').toBeUndefined();
    expect(r.out).toMatch(/^WebGPU adapter: /m);
    expect(r.out).toMatch(/^gpu-check: PASS — all \d+ checks within their tolerances/m);
    expect(r.out).not.toMatch(/\] FAIL /);
    expect(r.status).toBe(0);
  }, 180_000);

  test('bench.mjs --json: the benchmark JSON, TF.js included, every mode in `modes`', () => {
    const json = join(dir, 'bench.json');
    const r = node(
      join(carried, 'bench.mjs'),
      [
        ...['--sizes', '2^12', '--mode-sizes', '2^12', '--no-cpu', '--no-model', '--no-html'],
        ...['--reps', '1', '--min-rep-ms', '5', '--json', json],
      ],
      170_000,
    );
    console.log(r.out.split('\n').slice(-30).join('\n'));
    expect(r.status, r.out).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      runtime: string;
      tfjs: { version: string } | null;
      rows: { impl: string }[];
      modes: Record<string, Record<string, number | null>>;
    };
    expect(report.runtime).toBe('node');
    expect(report.tfjs?.version).toMatch(/^4\./);
    expect(report.rows.map((r) => r.impl)).toEqual(
      expect.arrayContaining(['fused', 'copy', 'tfjs-adam', 'tfjs-adabelief']),
    );
    expect(Object.keys(report.modes)).toEqual([...MODES]);
    for (const [name, m] of Object.entries(report.modes)) {
      for (const k of ['bytesPerElement', 'fusedGBs', 'copyGBs', 'fusedVsCopy', 'vsF32'])
        expect(m[k], `${name}.${k}`).toBeGreaterThan(0);
    }
    expect(report.modes.f32!.vsF32).toBe(1);
  }, 180_000);
});
