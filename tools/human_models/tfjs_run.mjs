// The original runtime for convert.py's parity check: TF.js (wasm backend) in Node runs a graph model from disk.
//
//   node tfjs_run.mjs JOB.json
//
// JOB.json: {"model": "/abs/model.json", "threads": 2, "outputs": ["tower_0/detections", ...],
//            "cases": [{"id": "00_messi", "out": "/abs/prefix",
//                       "inputs": [{"name": "tower_0/images", "dtype": "float32", "shape": [1, 512, 512, 3],
//                                   "file": "/abs/x.bin"}]}]}
// Each input file is the raw little-endian tensor (float32 or int32). For every case and output i the script
// writes PREFIX.out<i>.bin (raw float32 or int32) and, once all cases ran, JOB.json's sibling JOB.result.json
// with the shapes, dtypes, backend, thread count and per-case run times.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);

/** The model.json and its weight shards read from disk into the artifacts tf.io.fromMemory takes. */
function loadArtifacts(modelJson) {
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const dir = path.dirname(modelJson);
  const weightSpecs = [];
  const shards = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) {
      const full = path.resolve(dir, p);
      if (path.dirname(full) !== path.resolve(dir)) throw new Error(`weight shard ${p} lies outside ${dir}`);
      shards.push(fs.readFileSync(full));
    }
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return {
    modelTopology: json.modelTopology, weightSpecs, weightData, format: json.format,
    generatedBy: json.generatedBy, convertedBy: json.convertedBy, signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata, modelInitializer: json.modelInitializer,
  };
}

/** A raw little-endian file as a tensor of the given dtype and shape (sizes checked, no silent truncation). */
function readTensor({ file, dtype, shape }) {
  const buf = fs.readFileSync(file);
  const Typed = { float32: Float32Array, int32: Int32Array }[dtype];
  if (!Typed) throw new Error(`unsupported input dtype ${dtype}`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (buf.byteLength !== n * 4) throw new Error(`${file}: ${buf.byteLength} bytes, expected ${n * 4} for ${shape}`);
  const copy = new Uint8Array(buf).buffer;  // an aligned, owned copy
  return tf.tensor(new Typed(copy), shape, dtype);
}

async function main() {
  const jobFile = process.argv[2];
  if (!jobFile) throw new Error('usage: node tfjs_run.mjs JOB.json');
  const job = JSON.parse(fs.readFileSync(jobFile, 'utf8'));
  const threads = Math.max(1, Number(job.threads ?? 1));
  // the wasm binaries sit in the installed package's dist/, next to its entry point
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  setWasmPaths(wasmDir + path.sep);
  if (threads > 1) setThreadsCount(threads);
  else tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend did not initialise');
  await tf.ready();
  const t0 = Date.now();
  const model = await tf.loadGraphModel(tf.io.fromMemory(loadArtifacts(job.model)));
  const loadMs = Date.now() - t0;
  const outputs = job.outputs?.length ? job.outputs : model.outputs.map((o) => o.name);
  const cases = [];
  for (const c of job.cases) {
    const feed = {};
    for (const spec of c.inputs) feed[spec.name] = readTensor(spec);
    const t = Date.now();
    let result;
    try {  // execute() where the graph has no control flow; executeAsync() for the ones that need it
      result = model.execute(feed, outputs);
    } catch (e) {
      result = await model.executeAsync(feed, outputs);
    }
    if (!Array.isArray(result)) result = [result];
    const record = { id: c.id, ms: 0, outputs: [] };
    for (let i = 0; i < result.length; i += 1) {
      const r = result[i];
      const data = await r.data();
      const file = `${c.out}.out${i}.bin`;
      fs.writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      record.outputs.push({ name: outputs[i], dtype: r.dtype, shape: r.shape, file });
    }
    record.ms = Date.now() - t;
    tf.dispose([...Object.values(feed), ...result]);
    cases.push(record);
  }
  const threadsUsed = tf.env().getAsync ? await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT') : null;
  const out = {
    tfjs: tf.version.tfjs, backend: tf.getBackend(), threads_requested: threads,
    multithread: Boolean(threadsUsed) && threads > 1, load_ms: loadMs, cases,
  };
  fs.writeFileSync(jobFile.replace(/\.json$/, '') + '.result.json', JSON.stringify(out, null, 1));
  model.dispose();
}

main().then(() => process.exit(0)).catch((e) => {
  console.error(`tfjs_run: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
