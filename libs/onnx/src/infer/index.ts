// Importing this module registers every op's inference function.
import './elementwise.js';
import './linalg.js';
import './reduce.js';
import './layout.js';
import './contrib.js';
export * from './registry.js';
