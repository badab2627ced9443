// The registry: op type -> rule. An op type with no rule stays float, untouched.
import type { OpRule } from '../plan.ts';
import { convRule } from './conv.ts';
import { matmulRule } from './matmul.ts';
import { binaryRule } from './binary.ts';
import { concatRule } from './concat.ts';
import { moveRule } from './move.ts';
import { clampRule } from './activation.ts';
import { ownRangeRule } from './own-range.ts';

const rules: OpRule[] = [convRule, matmulRule, binaryRule, concatRule, moveRule, clampRule, ownRangeRule];

export const ruleRegistry: ReadonlyMap<string, OpRule> = new Map(rules.flatMap((r) => r.opTypes.map((op) => [op, r] as const)));
