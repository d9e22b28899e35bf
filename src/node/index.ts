/// <reference types="node" />
/**
 * adabelief-webgpu/node — a WebGPU device in Node.js from Dawn (the optional npm package `webgpu`), for
 * `AdaBelief` and the rest of the library, which take any GPUDevice. Never imported by the browser entry
 * point (src/index.ts), so browser bundles do not pull `webgpu` or Node built-ins.
 *
 *   import { requestNodeDevice } from 'adabelief-webgpu/node';
 *   const device = await requestNodeDevice();   // installs GPUBufferUsage & co. if missing
 *
 * Software fallback (Linux): a machine without a GPU has no Vulkan driver, and often no Vulkan loader
 * (libvulkan.so.1) either. Chromium ships both beside SwiftShader, a Vulkan implementation on the CPU.
 * With `swiftShader: 'auto'` (the default) the rule is:
 *   - The Vulkan loader: the system's (libvulkan.so.1 on the library path), else Chromium's, loaded into
 *     this process and kept there (Dawn's own dlopen then finds it by its soname).
 *   - The drivers: `VK_ICD_FILENAMES` / `VK_DRIVER_FILES` set in the environment are left alone (your
 *     choice). Otherwise Dawn first tries the installed drivers (skipped when the loader is Chromium's:
 *     a machine without a loader has no usable driver), and only if that finds no adapter,
 *     SwiftShader: `VK_ICD_FILENAMES` points at Chromium's vk_swiftshader_icd.json while Dawn discovers
 *     adapters, then is restored (child processes do not inherit it).
 * The Chromium directory comes from `swiftShader: '/dir'`, else `$CHROME_PATH`'s directory, else the
 * usual install paths. `swiftShader: 'off'` uses neither Chromium's loader nor its driver.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';

export interface NodeGPUOptions {
  /** Dawn switches passed to `create()` of the `webgpu` package, e.g. `['backend=vulkan']`. Default none. */
  dawnFlags?: string[];
  /**
   * The software fallback on Linux (see the file header): `'auto'` (default), `'off'`, or the directory
   * holding Chromium's `vk_swiftshader_icd.json` (and `libvulkan.so.1`).
   */
  swiftShader?: 'auto' | 'off' | (string & {});
}

export interface NodeDeviceOptions extends NodeGPUOptions {
  /** Passed to `requestAdapter()` (powerPreference, forceFallbackAdapter, …). */
  adapter?: GPURequestAdapterOptions;
  requiredFeatures?: GPUFeatureName[];
  /**
   * Limits to request. By default `maxStorageBufferBindingSize` and `maxBufferSize` are raised to the
   * adapter's own (WebGPU's defaults are 128 / 256 MiB); entries here replace those.
   */
  requiredLimits?: Record<string, number>;
  /** The device's label. Default 'adabelief-node-device'. */
  label?: string;
}

/** A Chromium directory with SwiftShader's Vulkan driver manifest and (possibly) a Vulkan loader. */
interface SwiftShaderDir {
  dir: string;
  /** `<dir>/vk_swiftshader_icd.json`. */
  icd: string;
  /** `<dir>/libvulkan.so.1`, or null when the directory has none. */
  loader: string | null;
}

/** Where Chromium and Chrome keep SwiftShader (Debian/Ubuntu packages, Fedora, Google's builds, snap). */
const CHROMIUM_DIRS = [
  '/usr/lib/chromium',
  '/usr/lib/chromium-browser',
  '/usr/lib64/chromium-browser',
  '/opt/google/chrome',
  '/opt/chromium.org/chromium',
  '/snap/chromium/current/usr/lib/chromium-browser',
];

const INSTALL_WEBGPU = 'npm install webgpu';

/** SwiftShader in `dir`, else in `$CHROME_PATH`'s directory, else in the usual Chromium directories. */
function findSwiftShader(dir?: string): SwiftShaderDir | null {
  const at = (d: string): SwiftShaderDir | null => {
    const icd = join(d, 'vk_swiftshader_icd.json');
    if (!existsSync(icd)) return null;
    const loader = join(d, 'libvulkan.so.1');
    return { dir: d, icd, loader: existsSync(loader) ? loader : null };
  };
  if (dir !== undefined) return at(dir);
  const chrome = process.env.CHROME_PATH;
  const dirs =
    chrome && existsSync(chrome) ? [dirname(realpathSync(chrome)), ...CHROMIUM_DIRS] : CHROMIUM_DIRS;
  for (const d of dirs) {
    const found = at(d);
    if (found) return found;
  }
  return null;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/**
 * Imports the `webgpu` package (`importer` only differs in tests). Throws an Error naming the install
 * line when it is missing or cannot load on this platform.
 */
export async function loadDawn(
  importer: () => Promise<unknown> = () => import('webgpu'),
): Promise<DawnModule> {
  let mod: Partial<DawnModule>;
  try {
    mod = (await importer()) as Partial<DawnModule>;
  } catch (cause) {
    throw new Error(
      `adabelief-webgpu/node needs the optional package 'webgpu' (Dawn for Node.js), which could not be loaded: ` +
        `${(cause as Error)?.message ?? cause}. Install it with: ${INSTALL_WEBGPU}`,
      { cause },
    );
  }
  if (typeof mod.create !== 'function' || typeof mod.globals !== 'object' || !mod.globals) {
    throw new Error(
      `the 'webgpu' package has no create() / globals: not Dawn for Node.js? (${INSTALL_WEBGPU})`,
    );
  }
  return mod as DawnModule;
}

/** The installed `webgpu` package's version, or '?' when its package.json cannot be read. */
function dawnVersion(): string {
  try {
    const file = createRequire(import.meta.url).resolve('webgpu/package.json');
    return String((JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version ?? '?');
  } catch {
    return '?';
  }
}

/** Defines `GPUBufferUsage`, `GPUMapMode`, `GPUShaderStage`, … on globalThis where they are missing. */
function installGlobals(globals: Record<string, unknown>): void {
  const g = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(globals)) if (!(name in g)) g[name] = value;
}

/** The memory map of this process mentions `fragment` (a loaded shared library). */
function mapped(fragment: string): boolean {
  try {
    return readFileSync('/proc/self/maps', 'utf8').includes(fragment);
  } catch {
    return false;
  }
}

/**
 * Loads the shared library `file` (a path, or a name the dynamic linker looks up) into this process and
 * keeps it there. `process.dlopen` maps it, then throws because it is not a Node addon, and unmaps it —
 * except that RTLD_NODELETE (0x1000 in glibc and musl) keeps it. Returns whether a Vulkan loader is loaded.
 */
function preloadVulkanLoader(file: string): boolean {
  const RTLD_NODELETE = 0x1000;
  try {
    process.dlopen({ exports: {} }, file, (constants.dlopen.RTLD_NOW ?? 2) | RTLD_NODELETE);
  } catch {
    // Expected: "Module did not self-register" (loaded) or "cannot open shared object file" (absent).
  }
  return mapped('libvulkan.so');
}

/** How each GPU object from `getNodeGPU` was set up (for reports: `nodeGPUSetup`). */
const setups = new WeakMap<GPU, string>();
/** One GPU per distinct options, kept for the process's lifetime: Dawn crashes if it is collected while in use. */
const instances = new Map<string, Promise<GPU>>();
/** Adapter discovery runs one at a time: it may set VK_ICD_FILENAMES for a moment. */
let discovery: Promise<unknown> = Promise.resolve();

/**
 * Dawn's `GPU` object (what `navigator.gpu` is in a browser), with the software fallback applied where
 * needed (see the file header). One per distinct options, reused. Throws a clear Error when `webgpu` is
 * not installed or no adapter can be found, saying what was tried and what to install.
 */
export function getNodeGPU(options: NodeGPUOptions = {}): Promise<GPU> {
  const key = JSON.stringify([options.dawnFlags ?? [], options.swiftShader ?? 'auto']);
  let gpu = instances.get(key);
  if (!gpu) {
    gpu = discovery.then(() => discover(options));
    discovery = gpu.catch(() => undefined);
    instances.set(key, gpu);
    gpu.catch(() => instances.delete(key));
  }
  return gpu;
}

async function discover(options: NodeGPUOptions): Promise<GPU> {
  const dawn = await loadDawn();
  installGlobals(dawn.globals);
  const flags = options.dawnFlags ?? [];
  const mode = options.swiftShader ?? 'auto';
  const base = `Dawn (webgpu ${dawnVersion()}${flags.length ? `, ${flags.join(' ')}` : ''})`;
  const tried: string[] = [];

  const attempt = async (setup: string, icd?: string): Promise<GPU | null> => {
    const saved = process.env.VK_ICD_FILENAMES;
    if (icd) process.env.VK_ICD_FILENAMES = icd;
    try {
      const gpu = dawn.create(flags);
      const adapter = await gpu.requestAdapter();
      tried.push(`${setup}: ${adapter ? 'adapter found' : 'no adapter'}`);
      if (!adapter) return null;
      setups.set(gpu, `${base}; ${setup}`);
      return gpu;
    } finally {
      if (icd) {
        if (saved === undefined) delete process.env.VK_ICD_FILENAMES;
        else process.env.VK_ICD_FILENAMES = saved;
      }
    }
  };

  const linux = process.platform === 'linux';
  const swiftShader = linux && mode !== 'off' ? findSwiftShader(mode === 'auto' ? undefined : mode) : null;
  if (linux && mode !== 'off' && mode !== 'auto' && !swiftShader) {
    throw new Error(`swiftShader: '${mode}' has no vk_swiftshader_icd.json (expected a Chromium directory)`);
  }

  // A Vulkan loader for Dawn: the system's (or one already loaded), else Chromium's (unless 'off').
  let loader = '';
  let chromiumLoader = false;
  if (linux) {
    if (preloadVulkanLoader('libvulkan.so.1'))
      loader = 'the Vulkan loader libvulkan.so.1 found by the dynamic linker';
    else if (swiftShader?.loader && preloadVulkanLoader(swiftShader.loader)) {
      loader = `Chromium's Vulkan loader from ${swiftShader.dir}`;
      chromiumLoader = true;
    } else tried.push('no Vulkan loader (libvulkan.so.1) on the library path');
  }

  // Vulkan drivers: the environment's (left alone), else the installed ones, else SwiftShader.
  const userDrivers = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES'].find((v) => process.env[v]);
  const drivers = userDrivers
    ? `the Vulkan drivers of ${userDrivers}=${process.env[userDrivers]}`
    : `the installed drivers${mode === 'off' ? " (swiftShader: 'off')" : ''}`;
  const useSwiftShader = !userDrivers && swiftShader !== null && loader !== '';
  let gpu: GPU | null = null;
  // Without a system loader, installed drivers are unlikely: straight to SwiftShader (and no Dawn warnings).
  if (!(useSwiftShader && chromiumLoader)) gpu = await attempt(loader ? `${loader}, ${drivers}` : drivers);
  if (!gpu && useSwiftShader) {
    gpu = await attempt(
      `SwiftShader (Vulkan on the CPU) from ${swiftShader.dir}, ${loader}`,
      swiftShader.icd,
    );
  }
  if (gpu) return gpu;

  const hint =
    process.platform === 'linux'
      ? ' On Linux without a GPU, install Chromium (sudo apt-get install -y chromium), whose SwiftShader ' +
        "is then used automatically (swiftShader: 'auto'), or run with " +
        'LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json; ' +
        'with a GPU, install its Vulkan driver and the loader (libvulkan1).'
      : '';
  throw new Error(`${base} found no WebGPU adapter (tried: ${tried.join('; ')}).${hint}`);
}

/** How `gpu` (from `getNodeGPU`) was set up, in words, e.g. "Dawn (webgpu 0.6.2); SwiftShader … from /usr/lib/chromium". */
export function nodeGPUSetup(gpu: GPU): string {
  return setups.get(gpu) ?? 'not from getNodeGPU()';
}

/**
 * A GPUDevice from Dawn in Node.js, ready for `AdaBelief`: the adapter's storage-buffer limits (so large
 * models fit one binding), `GPUBufferUsage` & co. defined globally. Throws a clear Error when `webgpu` is
 * missing or no adapter is found (see `getNodeGPU`).
 */
export async function requestNodeDevice(options: NodeDeviceOptions = {}): Promise<GPUDevice> {
  const gpu = await getNodeGPU(options);
  const adapter = await gpu.requestAdapter(options.adapter);
  if (!adapter) {
    throw new Error(
      `${nodeGPUSetup(gpu)}: requestAdapter(${JSON.stringify(options.adapter ?? {})}) returned null`,
    );
  }
  return adapter.requestDevice({
    label: options.label ?? 'adabelief-node-device',
    requiredFeatures: options.requiredFeatures ?? [],
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      ...options.requiredLimits,
    },
  });
}
