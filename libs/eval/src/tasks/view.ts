// A TaskDefinition with its defaults resolved and the per-document renderings every kind uses:
// context (preamble + seeded few-shot examples + doc_to_text, or chat turns), choices, targets.
import { DataSchema, TaskKind, type TaskDefinition } from '@juice/proto';
import type { ChatTurn, SamplingParamsInit } from '../model.js';
import { sampleIndices, seededRng } from '../stats.js';
import type { Doc, RowDoc, TaskData } from '../task-data.js';
import { parseChoices, renderText, resolveSpec, targetIndex } from '../template.js';

export interface DocContext {
  /** Plain-text context (lm-eval layout), also the fallback when `chat` is set. */
  context: string;
  /** The context as chat turns when task.apply_chat_template (or a chat-schema row). */
  chat?: ChatTurn[];
}

export class TaskView {
  readonly targetDelimiter: string;
  readonly fewshotDelimiter: string;
  readonly numFewshot: number;
  /** Prompt/response come from CHAT / PROMPT_COMPLETION rows rather than templates. */
  readonly usesRows: boolean;

  constructor(
    readonly def: TaskDefinition,
    readonly data: TaskData,
    readonly seed: bigint,
  ) {
    this.targetDelimiter = def.noTargetDelimiter ? '' : def.targetDelimiter || ' ';
    this.fewshotDelimiter = def.fewshotDelimiter || '\n\n';
    // Only PERPLEXITY and REWARD_WIN_RATE read schema rows without templates (evaluator.proto);
    // the other kinds always go through the templates.
    const schema = def.dataset?.schema ?? DataSchema.UNSPECIFIED;
    this.usesRows =
      (def.kind === TaskKind.PERPLEXITY || def.kind === TaskKind.REWARD_WIN_RATE) &&
      (schema === DataSchema.CHAT || schema === DataSchema.PROMPT_COMPLETION);
    // Rolling perplexity and schema rows have no place for examples.
    this.numFewshot = def.kind === TaskKind.PERPLEXITY || this.usesRows ? 0 : def.numFewshot;
    if (this.numFewshot > 32) throw new Error(`task.num_fewshot: must be 0..32, got ${this.numFewshot}`);
  }

  text(doc: Doc): string {
    if (!this.def.docToText) throw new Error(`task.doc_to_text: required for task "${this.def.name}"`);
    return renderText(this.def.docToText, doc, 'task.doc_to_text');
  }

  choices(doc: Doc): string[] {
    if (this.def.choices.length > 0) return [...this.def.choices];
    if (!this.def.docToChoice) throw new Error(`task.doc_to_choice: a MULTIPLE_CHOICE task needs doc_to_choice or choices`);
    return parseChoices(resolveSpec(this.def.docToChoice, doc, 'task.doc_to_choice'), 'task.doc_to_choice');
  }

  /** MULTIPLE_CHOICE: index of the correct choice. */
  goldIndex(doc: Doc, choices: readonly string[]): number {
    if (!this.def.docToTarget) throw new Error(`task.doc_to_target: required for task "${this.def.name}"`);
    return targetIndex(resolveSpec(this.def.docToTarget, doc, 'task.doc_to_target'), choices, 'task.doc_to_target');
  }

  /** Target text: the correct choice for MULTIPLE_CHOICE, else doc_to_target rendered. */
  target(doc: Doc): string {
    if (this.def.kind === TaskKind.MULTIPLE_CHOICE) {
      const choices = this.choices(doc);
      return choices[this.goldIndex(doc, choices)]!;
    }
    if (!this.def.docToTarget) throw new Error(`task.doc_to_target: required for task "${this.def.name}"`);
    return renderText(this.def.docToTarget, doc, 'task.doc_to_target');
  }

  /**
   * Few-shot examples for the document at file row `row`: num_fewshot + 1 drawn from the pool
   * with a stream keyed by (seed, task, row), the current row dropped, the first num_fewshot kept.
   * Keying by row makes a document's examples independent of limit and batching.
   */
  fewshot(row: number): RowDoc[] {
    const k = this.numFewshot;
    if (k === 0) return [];
    const pool = this.data.fewshotDocs ?? this.data.docs;
    const available = pool.filter((d) => d.row !== row).length;
    if (available < k)
      throw new Error(
        `task.num_fewshot: ${k} examples requested but the few-shot pool (${this.def.fewshotSplit ? `fewshot_split "${this.def.fewshotSplit}"` : 'the task documents'}) has only ${available} other documents`,
      );
    const rng = seededRng('fewshot', this.seed, this.def.name, row);
    return sampleIndices(pool.length, k + 1, rng)
      .map((i) => pool[i]!)
      .filter((d) => d.row !== row)
      .slice(0, k);
  }

  /**
   * lm-eval layout: preamble + examples joined by fewshot_delimiter + fewshot_delimiter + text.
   * The preamble is prepended as is (as lm-eval's description), so it carries its own separator.
   */
  context(rd: RowDoc): DocContext {
    const { doc, row } = rd;
    const preamble = this.def.preamble ? renderText(this.def.preamble, doc, 'task.preamble') : '';
    const examples = this.fewshot(row).map((ex) => ({ text: this.text(ex.doc), target: this.target(ex.doc) }));
    const text = this.text(doc);
    if (!text) throw new Error(`task.doc_to_text: rendered empty for document row ${row}; does ${JSON.stringify(this.def.docToText)} name fields of the data?`);
    const shots = examples.map((e) => e.text + this.targetDelimiter + e.target).join(this.fewshotDelimiter);
    const context = preamble + (shots ? shots + this.fewshotDelimiter : '') + text;
    if (!this.def.applyChatTemplate) return { context };
    const chat: ChatTurn[] = [];
    if (preamble) chat.push({ role: 'system', content: preamble });
    for (const e of examples) chat.push({ role: 'user', content: e.text }, { role: 'assistant', content: e.target });
    chat.push({ role: 'user', content: text });
    return { context, chat };
  }

  /** Decoding settings: the task's generation, or greedy with 256 new tokens; the run seed when unseeded. */
  sampling(): SamplingParamsInit {
    const g = this.def.generation;
    const base: SamplingParamsInit = g
      ? {
          temperature: g.temperature,
          topP: g.topP,
          topK: g.topK,
          minP: g.minP,
          repetitionPenalty: g.repetitionPenalty,
          frequencyPenalty: g.frequencyPenalty,
          presencePenalty: g.presencePenalty,
          maxNewTokens: g.maxNewTokens || 256,
          minNewTokens: g.minNewTokens,
          stopTokenIds: [...g.stopTokenIds],
          seed: g.seed,
          ignoreEos: g.ignoreEos,
        }
      : { temperature: 0, maxNewTokens: 256 };
    if (base.seed === undefined) base.seed = this.seed;
    return base;
  }

  /** Stop strings: task.until (default ["\n\n"] for GENERATE_MATCH, none otherwise) merged with generation.stop. */
  until(): string[] {
    const own = this.def.until.length > 0 ? [...this.def.until] : this.def.kind === TaskKind.GENERATE_MATCH ? ['\n\n'] : [];
    return [...new Set([...own, ...(this.def.generation?.stop ?? [])])];
  }
}
