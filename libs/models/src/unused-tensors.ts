// Tensors a checkpoint holds that the model does not read. transformers drops them with a log line; juice
// refuses them, because a tensor nobody reads usually means the config and the weights disagree (a bias
// the config switched off, an adapter never merged, a head of another class). Three kinds are not weights
// and are accepted after checking them: an exact copy of the embedding as the LM head of a tied model, and
// the buffers older transformers versions saved (RoPE inv_freq, GPT-NeoX's causal mask and mask value),
// which juice recomputes from the config and which must therefore say the same as the config.
import type { StTensor } from '@juice/checkpoint';
import { architectureModule } from './architectures/registry.js';
import { embeddingNames, type ModelConfig } from './config.js';

/** How many unused names an error lists before "and N more". */
const LISTED = 6;

/** Relative agreement a stored inv_freq must show, by its on-disk precision. */
const INV_FREQ_TOLERANCE: Record<string, number> = { F64: 1e-6, F32: 1e-6, F16: 2e-3, BF16: 1.6e-2 };

/**
 * Problems (one string each) with the tensors of `tensors` that are not in `used`: none when every extra
 * tensor is a checked copy or buffer. `used` are the names the model reads.
 */
export function unusedTensorProblems(tensors: ReadonlyMap<string, StTensor>, used: ReadonlySet<string>, config: ModelConfig): string[] {
  const problems: string[] = [];
  const unused: string[] = [];
  for (const [name, t] of tensors) {
    if (used.has(name)) continue;
    const why = tiedHeadCopy(name, t, tensors, config) ?? derivedBuffer(name, t, config);
    if (why === undefined) unused.push(name);
    else if (why) problems.push(why);
  }
  if (unused.length) {
    const listed = unused.slice(0, LISTED).map((n) => `"${n}"`).join(', ');
    const more = unused.length > LISTED ? ` and ${unused.length - LISTED} more` : '';
    problems.push(`${unused.length} tensor(s) the model does not read, which juice refuses rather than drop: ${listed}${more}${hint(unused)}`);
  }
  return problems;
}

/** Why the name is commonly there, to make the refusal actionable. */
function hint(names: string[]): string {
  if (names.some((n) => /lora_[AB]|lora_embedding|base_model\.model\./.test(n))) return ' (LoRA/PEFT adapter tensors: merge the adapter into the base weights first)';
  if (names.some((n) => n.startsWith('v_head.'))) return ' (a value head: juice keeps RFT\'s value head in the trainer state, not in model weights)';
  if (names.includes('score.weight')) return ' (a sequence-classification head: this is a reward model, load it as one)';
  if (names.includes('lm_head.weight') || names.includes('embed_out.weight')) return ' (an LM head: a *ForSequenceClassification model has none; with tie_word_embeddings it must equal the embedding)';
  return '';
}

/**
 * With tie_word_embeddings the LM head is the embedding; transformers re-ties after loading, so a stored
 * head is discarded. Only an exact copy discards nothing. '' = accepted, a message = refused, undefined = not this case.
 */
function tiedHeadCopy(name: string, t: StTensor, tensors: ReadonlyMap<string, StTensor>, config: ModelConfig): string | undefined {
  if (!config.tieWordEmbeddings) return undefined;
  const { embed } = embeddingNames(config);
  const untiedHead = embeddingNames({ ...config, tieWordEmbeddings: false }).head;
  if (name !== untiedHead) return undefined;
  const e = tensors.get(embed);
  const same = e !== undefined && e.shape.join(',') === t.shape.join(',') && e.data.length === t.data.length && e.data.every((v, i) => v === t.data[i]);
  return same ? '' : `tensor "${name}" differs from "${embed}" although config.json ties them (tie_word_embeddings: true), so it would be dropped unread: set tie_word_embeddings to false, or remove the tensor`;
}

/** RoPE inv_freq and the architecture's other buffers: '' when they agree with what juice computes, a message when not. */
function derivedBuffer(name: string, t: StTensor, config: ModelConfig): string | undefined {
  const arch = architectureModule(config.architecture);
  if (arch.invFreqBuffer.test(name)) {
    const dims = arch.rotaryDims(config);
    const expected = Array.from({ length: dims / 2 }, (_, i) => 1 / config.ropeTheta ** ((2 * i) / dims));
    const tol = INV_FREQ_TOLERANCE[t.dtype];
    if (tol === undefined || t.shape.join(',') !== `${expected.length}`) return `tensor "${name}" (a RoPE inv_freq buffer) has shape [${t.shape}] ${t.dtype}, expected [${expected.length}] floats for ${dims} rotary dims`;
    const worst = expected.reduce((m, x, i) => Math.max(m, Math.abs(Number(t.data[i]) - x) / x), 0);
    return worst <= tol ? '' : `tensor "${name}" (a RoPE inv_freq buffer) differs from the frequencies of base ${config.ropeTheta} over ${dims} dims (relative difference ${worst.toPrecision(2)}): config.json and the weights disagree`;
  }
  return arch.derivedBuffer?.(name, t);
}
