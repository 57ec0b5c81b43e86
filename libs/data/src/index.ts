export { fileDigest, DataFileError, type FileDigest } from './file-digest.js';
