export { readLazyLoadDb, unserializeR, rNames, RDataError, type RValue, type RAttributes } from './r-data.js';
export { CorpusNotInstalledError, requireFiles, type PackagedSource } from './packaged-source.js';
export { AUSTEN_SOURCE, AUSTEN_NOVELS, readAustenNovels, novelToDocuments, type Novel, type TextDocument } from './austen.js';
export { WORDNET_SOURCE, WORDNET_POS, readWordnet, parseWordnetData, splitGloss, type Synset, type WordnetPos } from './wordnet.js';
export { splitOf, keyUniform, type SplitName, type SplitFractions } from './splits.js';
export { synsetToPair, splitDefinitions, definitionChoices, sampleRows, corpusStream, type DefinitionPair, type DefinitionOptions, type SplitDefinitions, type MultipleChoiceDoc } from './definitions.js';
export {
  writeCorpora,
  writePretrainCorpus,
  writeDemonstrations,
  demonstrationTasks,
  CORPORA_VERSION,
  type CorporaOptions,
  type PretrainCorpus,
  type PretrainCorpusOptions,
  type DemonstrationOptions,
  type DemonstrationFiles,
} from './write-corpora.js';
