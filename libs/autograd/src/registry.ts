// Gradient rules, one per op type. A rule receives the forward node and the gradients flowing into
// its outputs, appends standard ai.onnx nodes computing the gradients of its inputs, and returns them
// (undefined for inputs without a gradient). Broadcasting is undone by the caller (sumToShape).
import type { Value } from '@juice/onnx';
import type { GradContext } from './context.js';

export type GradientRule = (ctx: GradContext) => readonly (Value | undefined)[];

const rules = new Map<string, GradientRule>();

export function registerGradient(opType: string | readonly string[], rule: GradientRule): void {
  for (const t of typeof opType === 'string' ? [opType] : opType) rules.set(t, rule);
}

export function gradientRule(opType: string): GradientRule | undefined {
  return rules.get(opType);
}

export function hasGradient(opType: string): boolean {
  return rules.has(opType);
}

export function registeredGradients(): string[] {
  return [...rules.keys()].sort();
}
