/**
 * The seeded generator. Random kernels are counter-based: element i of a draw is a hash of
 * (seed, offset + i), so results do not depend on the thread count, and the whole state of the
 * generator is two integers — saved in checkpoints for exact resume.
 */
import { invalidArg } from './errors';

export interface RngState {
  seed: number;
  offset: number;
}

const state: RngState = { seed: 0x5eed, offset: 0 };

/** Seed every random op (rand, randn, dropout, initialisers, data shuffling defaults). */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw invalidArg('a non-negative safe integer', 'manualSeed(seed)', seed, 'ERR_RN_RANGE');
  state.seed = seed;
  state.offset = 0;
}

/** Reserve `n` counters; returns [seed, offset] for a kernel. */
export function _take(n: number): [number, number] {
  const off = state.offset;
  // advance by a multiple of 4 so draws of different ops never share counters
  state.offset += Math.ceil(Math.max(n, 1) / 4) * 4;
  if (state.offset > Number.MAX_SAFE_INTEGER / 2) state.offset = 0;
  return [state.seed, off];
}

export function getRngState(): RngState {
  return { ...state };
}

export function setRngState(s: RngState): void {
  if (!s || !Number.isSafeInteger(s.seed) || !Number.isSafeInteger(s.offset) || s.seed < 0 || s.offset < 0)
    throw invalidArg('an RNG state {seed, offset} of non-negative integers', 'setRngState(state)', s);
  state.seed = s.seed;
  state.offset = s.offset;
}

/** A JS-side uniform [0,1) draw from the same generator (for shuffling etc.). */
export function _uniformJs(): number {
  const [seed, off] = _take(1);
  // splitmix-style hash in 32-bit pieces (JS has no fast u64)
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(off + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 4294967296;
}
