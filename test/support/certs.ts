// The throwaway test PKI (CA, server certificate for 127.0.0.1/localhost, client certificates), made
// with openssl at test time; shared with service-kit's unit tests.
export { makeTestPki, type TestPki } from '../../libs/service-kit/test/fixtures/certs.js';
