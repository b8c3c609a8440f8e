/**
 * Stochastic depth (Huang et al. 2016; "DropPath" in timm): during training a residual branch
 * is dropped for a whole sample at random, leaving only the identity path. Survivors are scaled
 * by 1/(1-p) during training (inverted scaling, as timm does), which keeps the expected output
 * unchanged, so at evaluation the branch is simply kept. This is equivalent to the paper's
 * "keep the branch and scale it by its survival probability at test time".
 *
 * The survival probability usually decays linearly with depth (paper: p_l = 1 - l/L (1 - p_L),
 * p_L = 0.5); `linearDropPathRates` gives the drop rates for that rule.
 */
import { Tensor } from '../../tensor';
import * as F from '../../functional';
import { Module } from '../module';
import { invalidArg } from '../../errors';

export class DropPath extends Module {
  constructor(readonly p = 0, readonly scaleByKeep = true) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw invalidArg('a probability in [0, 1]', 'DropPath(p)', p, 'ERR_RN_RANGE');
  }
  forward(x: Tensor): Tensor {
    return F.dropPath(x, this.p, this.training, this.scaleByKeep);
  }
  extraRepr(): string {
    return `p=${this.p}`;
  }
}

/**
 * Drop rates for `numBlocks` blocks, rising linearly from 0 (first block) to `maxRate` (last),
 * like timm's `torch.linspace(0, drop_path_rate, depth)`. `maxRate` = 1 - p_L of the paper.
 */
export function linearDropPathRates(numBlocks: number, maxRate: number): number[] {
  if (!Number.isInteger(numBlocks) || numBlocks < 0) throw invalidArg('a non-negative integer', 'linearDropPathRates(numBlocks)', numBlocks, 'ERR_RN_RANGE');
  if (typeof maxRate !== 'number' || !(maxRate >= 0 && maxRate <= 1)) throw invalidArg('a probability in [0, 1]', 'linearDropPathRates(maxRate)', maxRate, 'ERR_RN_RANGE');
  if (numBlocks === 1) return [0];
  return Array.from({ length: numBlocks }, (_, i) => (maxRate * i) / (numBlocks - 1));
}

/**
 * Survival probabilities of the stochastic-depth paper, p_l = 1 - (l / L) (1 - pL) for the
 * blocks l = 1..L (the last block survives with probability pL, default 0.5).
 */
export function linearSurvivalProbabilities(numBlocks: number, pL = 0.5): number[] {
  if (!Number.isInteger(numBlocks) || numBlocks < 0) throw invalidArg('a non-negative integer', 'linearSurvivalProbabilities(numBlocks)', numBlocks, 'ERR_RN_RANGE');
  if (typeof pL !== 'number' || !(pL >= 0 && pL <= 1)) throw invalidArg('a probability in [0, 1]', 'linearSurvivalProbabilities(pL)', pL, 'ERR_RN_RANGE');
  return Array.from({ length: numBlocks }, (_, i) => 1 - ((i + 1) / numBlocks) * (1 - pL));
}

/** A DropPath module for rate p, or null when p is 0 (no module, no cost). */
export function maybeDropPath(p: number | undefined): DropPath | null {
  return p ? new DropPath(p) : null;
}
