// Packaged corpora: R's lazy-load format (checked against a fixture R itself wrote), WordNet parsing,
// Austen chapters, the seeded split by headword, multiple-choice distractors, the written files, and
// the refusal naming the install command. The installed packages are read only when present.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  AUSTEN_SOURCE,
  CorpusNotInstalledError,
  corpusStream,
  definitionChoices,
  novelToDocuments,
  parseWordnetData,
  readAustenNovels,
  readLazyLoadDb,
  readWordnet,
  rNames,
  splitDefinitions,
  splitGloss,
  splitOf,
  writeCorpora,
  WORDNET_SOURCE,
  type Synset,
} from '../src/index.js';
import { tempDir } from './helpers.js';

const fixture = join(import.meta.dirname, 'fixtures', 'rdata', 'Rdata');

test('R lazy-load data base: the values R wrote (strings with NA and Latin-1, named integers with NA, a named list)', () => {
  const db = readLazyLoadDb(fixture);
  assert.deepEqual([...db.keys()].sort(), ['latin', 'mixed', 'novel', 'nums']);
  assert.deepEqual(db.get('novel'), { type: 'character', values: ['CHAPTER 1', '', 'It is a truth universally acknowledged,', null, 'café _italic_ text'] });
  assert.deepEqual(db.get('latin'), { type: 'character', values: ['naïve'] });
  const nums = db.get('nums')!;
  assert.equal(nums.type, 'integer');
  assert.deepEqual(nums.type === 'integer' && nums.values, [1, null, 3]);
  assert.deepEqual(rNames(nums), ['a', 'b', 'c']);
  const mixed = db.get('mixed')!;
  assert.deepEqual(rNames(mixed), ['x', 'y', 'z']);
  assert.deepEqual(mixed.type === 'list' && mixed.values, [{ type: 'double', values: [2.5] }, { type: 'logical', values: [1, 0, null] }, { type: 'null' }]);
});

test('missing package files are refused with the install command', () => {
  assert.throws(() => readWordnet('/nonexistent/wordnet'), (e: unknown) => e instanceof CorpusNotInstalledError && e.message.includes('apt-get install wordnet-base') && e.message.includes('/nonexistent/wordnet/data.noun'));
  assert.throws(() => readAustenNovels('/nonexistent/Rdata'), (e: unknown) => e instanceof CorpusNotInstalledError && e.message.includes(AUSTEN_SOURCE.install));
});

const WN = `  1 This software and database is being provided to you, the LICENSEE, by  
00002137 03 n 02 abstraction 0 abstract_entity 0 010 @ 00001740 n 0000 | a general concept formed by extracting common features from specific examples  
00014358 00 s 02 abounding 0 galore(ip) 0 001 & 00013887 a 0000 | existing in abundance; "abounding confidence"; "whiskey galore"  
00019731 00 s 02 handy 0 ready_to_hand(p) 0 002 & 00019131 a 0000 + 04718999 n 0101 | easy to reach; "found a handy spot for the can opener"  
`;

test('WordNet data lines: words (markers and underscores undone), definition and examples', () => {
  const s = parseWordnetData(WN, 'adj');
  assert.equal(s.length, 3);
  assert.deepEqual(s[0], { id: 'adj:00002137', pos: 'adj', words: ['abstraction', 'abstract entity'], definition: 'a general concept formed by extracting common features from specific examples', examples: [] });
  assert.deepEqual(s[1]!.words, ['abounding', 'galore']);
  assert.deepEqual(s[1]!.examples, ['abounding confidence', 'whiskey galore']);
  assert.deepEqual(s[2]!.words, ['handy', 'ready to hand']);
  assert.deepEqual(splitGloss('one sense; another sense; "an example"'), { definition: 'one sense; another sense', examples: ['an example'] });
});

test('Austen chapters: headings split documents, wrapped lines become paragraphs, italics marks go', () => {
  const docs = novelToDocuments({ key: 'p', title: 'P', lines: ['PRIDE', '', 'Chapter 1', '', 'It is a _truth_', 'universally known.', '', '"My dear."', 'VOLUME II', 'CHAPTER II.', 'Next.'] });
  assert.deepEqual(docs, [
    { id: 'p/front', text: 'PRIDE' },
    { id: 'p/chapter-1', text: 'It is a truth universally known.\n\n"My dear."' },
    { id: 'p/chapter-2', text: 'Next.' },
  ]);
});

function synsets(n: number): Synset[] {
  return Array.from({ length: n }, (_, i) => ({ id: `noun:${i}`, pos: 'noun' as const, words: [`word${i % (n / 2)}`, ...(i % 3 === 0 ? [`syn${i}`] : [])], definition: `meaning number ${i}`, examples: [`example ${i}`] }));
}

test('split by headword: fixed by the seed, every sense of a word in one split, repeated prompts left out', () => {
  const f = { validation: 0.2, test: 0.2 };
  const a = splitDefinitions(synsets(400), 7, f);
  assert.deepEqual(a, splitDefinitions(synsets(400), 7, f));
  assert.notDeepEqual(a.test, splitDefinitions(synsets(400), 8, f).test);
  const where = new Map<string, string>();
  for (const split of ['train', 'validation', 'test'] as const)
    for (const p of a[split]) {
      assert.equal(where.get(p.group) ?? split, split, `${p.group} in two splits`);
      where.set(p.group, split);
    }
  // word<k> appears twice; it repeats a prompt when neither occurrence has a synonym.
  const total = a.train.length + a.validation.length + a.test.length;
  assert.equal(total + a.skipped.repeatedPrompt, 400);
  assert.ok(a.skipped.repeatedPrompt > 0);
  assert.ok(a.test.length > 40 && a.test.length < 120 && a.validation.length > 40 && a.validation.length < 120, `${a.test.length} / ${a.validation.length}`);
  assert.equal(splitOf(7, 'word3', f), splitOf(7, 'word3', f));
  assert.throws(() => splitOf(7, 'x', { validation: 0.5, test: 0.5 }), /leave rows for training/);
});

test('multiple choice: the true response among distractors of other headwords, label right, seeded', () => {
  const rows = splitDefinitions(synsets(200), 1, { validation: 0, test: 0.5 }).test;
  const mc = definitionChoices(rows, 3, corpusStream(1, 5));
  assert.deepEqual(mc, definitionChoices(rows, 3, corpusStream(1, 5)));
  for (const [i, d] of mc.entries()) {
    assert.equal(d.choices.length, 4);
    assert.equal(d.choices[d.label], rows[i]!.response);
    assert.equal(new Set(d.choices).size, 4);
    for (const c of d.choices) if (c !== rows[i]!.response) assert.notEqual(rows.find((r) => r.response === c)!.group, rows[i]!.group);
  }
  assert.throws(() => definitionChoices(rows.slice(0, 2), 3, corpusStream(1, 5)), /distractors need rows of more than 3 headwords/);
});

test('written corpora: files, limits, task definitions per evaluation split, manifest', () => {
  const dir = tempDir('juice-corpora-');
  const documents = Array.from({ length: 40 }, (_, i) => ({ id: `n/chapter-${i}`, text: `Chapter text ${i}.` }));
  const r = writeCorpora(dir, {
    pretrain: { seed: 0, validationFraction: 0.2, documents },
    demonstrations: { seed: 0, fractions: { validation: 0.2, test: 0.2 }, trainLimit: 50, evalLimit: 20, distractors: 3, synsets: synsets(400) },
  });
  assert.equal(r.pretrain.documents.train + r.pretrain.documents.validation, 40);
  const lines = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines(r.pretrain.train).length, r.pretrain.documents.train);
  assert.deepEqual(r.demonstrations.rows, { train: 50, validation: 20, test: 20 });
  const test0 = lines(r.demonstrations.test)[0] as { messages: { role: string; content: string }[] };
  assert.deepEqual(test0.messages.map((m) => m.role), ['user', 'assistant']);
  assert.equal(lines(r.demonstrations.multipleChoice.test).length, 20);
  const names = r.demonstrations.tasks.test.map((f) => (JSON.parse(readFileSync(f, 'utf8')) as { name: string; dataset: { path: string } }));
  assert.deepEqual(names.map((t) => t.name), ['wordnet_mc_test', 'wordnet_ppl_test']);
  assert.equal(names[1]!.dataset.path, r.demonstrations.test);
  assert.ok(r.demonstrations.tasks.validation.every((f) => f.includes('validation')));
  const manifest = JSON.parse(readFileSync(r.manifest, 'utf8')) as { splits: string; demonstrations: { rows: unknown } };
  assert.match(manifest.splits, /test: the final table only/);
  assert.deepEqual(manifest.demonstrations.rows, r.demonstrations.rows);
});

test('the installed packages, when present: six novels of about 4 MB, over 100k WordNet synsets', { skip: !existsSync(`${AUSTEN_SOURCE.defaultPath}.rdb`) || !existsSync(join(WORDNET_SOURCE.defaultPath, 'data.noun')) }, () => {
  const novels = readAustenNovels();
  assert.equal(novels.length, 6);
  assert.equal(novels.find((n) => n.key === 'prideprejudice')!.lines[9], 'It is a truth universally acknowledged, that a single man in possession');
  const chars = novels.reduce((s, n) => s + n.lines.reduce((t, l) => t + l.length, 0), 0);
  assert.equal(chars, 866793 + 867930 + 425555 + 458526 + 671738 + 661064); // sum(nchar(.)) over the six vectors in R
  assert.equal(readWordnet().length, 117659);
});
