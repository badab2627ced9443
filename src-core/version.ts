// srq's version, recorded in every model it writes (kept equal to package.json's by test/version.test.ts).
export const SRQ_VERSION = '0.1.0';
