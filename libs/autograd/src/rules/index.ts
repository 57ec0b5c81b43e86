// Importing this module registers every built-in gradient rule.
import './elementwise.js';
import './linalg.js';
import './reduce.js';
import './layout.js';
import './contrib.js';
