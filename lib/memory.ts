/**
 * Tensor lifetime: `tidy` scopes (sync and async) free every tensor created inside them except
 * what the function returns or what was `keep()`-ed; `dispose()` frees at once; the native
 * handle's finalizer is the GC backstop. Scopes follow async continuations through
 * AsyncLocalStorage, so `await` inside `tidy` is safe and concurrent scopes do not mix.
 */
import { AsyncLocalStorage } from 'async_hooks';
import { binding, MemStats } from './binding';
import { invalidArg } from './errors';

/** Minimal view of a Tensor that scopes need (avoids a circular import). */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  _kept: boolean;
  _scope: Scope | null;
}

export class Scope {
  readonly tracked = new Set<Disposable>();
  constructor(readonly parent: Scope | null) {}
}

const als = new AsyncLocalStorage<Scope>();

export function currentScope(): Scope | null {
  return als.getStore() ?? null;
}

export function track(t: Disposable): void {
  const s = als.getStore();
  if (s && !t._kept) {
    s.tracked.add(t);
    t._scope = s;
  }
}

/** Exclude a tensor from every enclosing tidy scope (e.g. parameters, optimiser state, grads). */
export function keep<T extends Disposable>(t: T): T {
  t._kept = true;
  if (t._scope) {
    t._scope.tracked.delete(t);
    t._scope = null;
  }
  return t;
}

function collect(v: unknown, out: Set<Disposable>, depth = 0): void {
  if (v === null || v === undefined || depth > 4) return;
  if (typeof v !== 'object') return;
  if ('_scope' in (v as object) && '_kept' in (v as object)) {
    out.add(v as Disposable);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collect(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v as object)) collect(x, out, depth + 1);
}

/** Tensors saved for backward by the graph behind `t` (so a returned loss can still backward). */
function collectGraph(t: Disposable, out: Set<Disposable>, seen: Set<unknown>): void {
  const stack: unknown[] = [(t as unknown as { _node?: unknown })._node];
  while (stack.length) {
    const n = stack.pop() as { owned?: Disposable[]; inputs?: ({ _node?: unknown } | null)[] } | null | undefined;
    if (!n || seen.has(n)) continue;
    seen.add(n);
    for (const o of n.owned ?? []) out.add(o);
    for (const i of n.inputs ?? []) if (i && i._node) stack.push(i._node);
  }
}

function close(scope: Scope, result: unknown): void {
  const keepSet = new Set<Disposable>();
  collect(result, keepSet);
  const seen = new Set<unknown>();
  for (const t of [...keepSet]) collectGraph(t, keepSet, seen);
  for (const t of scope.tracked) {
    if (keepSet.has(t)) {
      // returned tensors move to the enclosing scope
      t._scope = null;
      if (scope.parent) {
        scope.parent.tracked.add(t);
        t._scope = scope.parent;
      }
    } else if (!t._kept) {
      t.dispose();
    }
  }
  scope.tracked.clear();
}

/**
 * Run `fn` in a scope. Tensors created inside are disposed when it ends, except those returned
 * (in a value, array, Map or plain object) and those kept. Async functions are awaited; the
 * scope closes when the returned promise settles.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw invalidArg('a function', 'tidy(fn)', fn);
  const scope = new Scope(als.getStore() ?? null);
  let result: T;
  try {
    result = als.run(scope, fn);
  } catch (e) {
    close(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        close(scope, v);
        return v;
      },
      (e) => {
        close(scope, undefined);
        throw e;
      },
    ) as unknown as T;
  }
  close(scope, result);
  return result;
}

export interface MemoryStats extends MemStats {
  /** JS Tensor handles currently alive and not disposed. */
  tensors: number;
}

let liveHandles = 0;
export function _handleCreated(): void {
  liveHandles++;
}
export function _handleReleased(): void {
  liveHandles--;
}

/** Native allocator statistics (bytes) for a device, plus the count of live tensor handles. */
export function stats(device: 'cpu' | 'cuda' = 'cpu'): MemoryStats {
  const s = binding().memoryStats(device === 'cuda' ? 1 : 0);
  return { ...s, tensors: liveHandles };
}

/**
 * Return cached (freed but reusable) blocks to the system. On the CPU the cache keeps freed blocks
 * for exact-size reuse up to the peak of live bytes (at least 2 GiB, at most half the RAM; the
 * least recently freed go back to the system first), so a training loop stops faulting in fresh
 * pages after its first step.
 */
export function emptyCache(): void {
  binding().emptyCache();
}

export function resetPeak(): void {
  binding().resetPeak();
}
