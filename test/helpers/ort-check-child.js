// onnxruntime session creation in a child process, for the pipeline fuzzer's
// differential check (test/helpers/fuzzPipeline.ts): onnxruntime itself can
// die on a malformed model (SIGFPE on a Conv with group 0), which must not take
// the fuzzer down with it. Answers { id, ok, error } for each { id, bytes }.
'use strict';
const ort = require('onnxruntime-node');

process.on('message', async ({ id, bytes }) => {
  try {
    const s = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'basic', logSeverityLevel: 4,
    });
    await s.release();
    process.send({ id, ok: true });
  } catch (e) {
    process.send({ id, ok: false, error: String((e && e.message) || e) });
  }
});
process.on('disconnect', () => process.exit(0));
// Loaded: the parent starts a case's clock only after this, so onnxruntime's start-up is no case's time.
process.send({ ready: true });
