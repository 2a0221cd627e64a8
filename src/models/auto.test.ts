// HF checkpoints in and out: parity with PyTorch on every fixture (both backends), .bin == safetensors,
// mini-biobert shards and its load report, save -> load round trip, hostile files refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadClassifier, saveClassifier, type LoadedClassifier } from './auto.js';
import { AdamW, hfParamGroups } from '../train/adamw.js';
import { scope, tensor, noGrad } from '../tensor/tensor.js';
import { withBackend, nativeAvailable, type BackendName } from '../tensor/backend.js';
import { readSafetensors } from '../io/safetensors.js';
import { readTorchBin } from '../io/torch-pickle.js';
import { readWeights } from '../io/hf.js';
import { Tokenizer } from '../text/tokenizer.js';
import { assertClose, assertRelNorm } from '../tensor/testing.js';
import { fixturePath } from '../testing-fixtures.js';

const BACKENDS: BackendName[] = nativeAvailable() ? ['js', 'native'] : ['js'];
const FIXTURES = ['tiny-bert', 'tiny-bert-multilabel', 'tiny-distilbert', 'tiny-roberta'];
const quiet = { log: () => {} };

const rel = assertRelNorm;

function batchFrom(
  loaded: LoadedClassifier,
  exp: { inputs: Record<string, number[][]>; labels: number[] | number[][] },
) {
  const ids = exp.inputs.input_ids!;
  const B = ids.length;
  const T = ids[0]!.length;
  const multi = Array.isArray(exp.labels[0]);
  return {
    input_ids: tensor(ids.flat(), [B, T], 'int32').keep(),
    attention_mask: tensor(exp.inputs.attention_mask!.flat(), [B, T], 'int32').keep(),
    ...(exp.inputs.token_type_ids
      ? { token_type_ids: tensor(exp.inputs.token_type_ids.flat(), [B, T], 'int32').keep() }
      : {}),
    labels: multi
      ? tensor((exp.labels as number[][]).flat(), [B, loaded.labels.length]).keep()
      : tensor(exp.labels as number[], [B], 'int32').keep(),
  };
}

describe('HF checkpoints', () => {
  for (const name of FIXTURES) {
    const dir = fixturePath('fixtures', 'hf', name);
    it(
      `${name}: the tokenizer reproduces the fixture's input_ids (tokenizer.json and vocab.txt alone)`,
      { skip: !dir && 'needs ../shared' },
      () => {
        const exp = JSON.parse(readFileSync(path.join(dir!, 'expected.json'), 'utf8'));
        const enc = Tokenizer.fromDir(dir!).encode(exp.texts, null, { maxLength: exp.max_length });
        assert.deepEqual(enc.input_ids, exp.inputs.input_ids);
        assert.deepEqual(enc.attention_mask, exp.inputs.attention_mask);
        const vdir = mkdtempSync(path.join(os.tmpdir(), 'medtune-vocab-'));
        copyFileSync(path.join(dir!, 'vocab.txt'), path.join(vdir, 'vocab.txt'));
        copyFileSync(path.join(dir!, 'tokenizer_config.json'), path.join(vdir, 'tokenizer_config.json'));
        assert.deepEqual(
          Tokenizer.fromDir(vdir).encode(exp.texts, null, { maxLength: exp.max_length }).input_ids,
          exp.inputs.input_ids,
        );
        rmSync(vdir, { recursive: true });
      },
    );
    it(
      `${name}: pytorch_model.bin and model.safetensors load to identical tensors`,
      { skip: !dir && 'needs ../shared' },
      () => {
        const a = readTorchBin(path.join(dir!, 'pytorch_model.bin'));
        const b = readSafetensors(path.join(dir!, 'model.safetensors'));
        assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
        for (const [k, v] of b) assert.deepEqual(Array.from(a.get(k)!.data), Array.from(v.data), k);
      },
    );
    for (const be of BACKENDS) {
      it(
        `${name}: logits, loss, hidden states, gradients and 3 AdamW steps match PyTorch (${be})`,
        { skip: !dir && 'needs ../shared' },
        async () => {
          const loaded = await loadClassifier(dir!, quiet);
          const exp = JSON.parse(readFileSync(path.join(dir!, 'expected.json'), 'utf8'));
          const ref = readSafetensors(path.join(dir!, 'expected.safetensors'));
          const m = loaded.model;
          m.train(); // the fixture's mode: train() with every dropout probability 0
          withBackend(be, () => {
            const inputs = batchFrom(loaded, exp);
            scope(() => {
              const out = m.forward(inputs, { outputHiddenStates: true });
              rel(out.logits.toArray(), ref.get('logits')!.data, 'logits', 1e-4);
              rel([out.loss!.item()], ref.get('loss')!.data, 'loss', 1e-4);
              out.hidden_states!.forEach((h, i) =>
                rel(h.toArray(), ref.get(`hidden_states.${i}`)!.data, `hidden_states.${i}`, 1e-4),
              );
              out.loss!.backward();
              for (const [n, t] of m.namedParameters())
                rel(
                  t.grad!.toArray(),
                  ref.get(`grad.${n}`)!.data,
                  `grad.${n}`,
                  1e-4,
                  /(key|k_lin)\.bias$/.test(n) ? 1e-9 : 0,
                );
            });
            m.zeroGrad();
            const opt = new AdamW(hfParamGroups(m, 0.01), { lr: 1e-3 });
            const lrAt = (s: number) => 1e-3 * (s < 1 ? s : Math.max(0, (4 - s) / 3));
            const losses: number[] = [];
            for (let s = 0; s < 3; s++) {
              losses.push(
                scope(() => {
                  const out = m.forward(inputs);
                  out.loss!.backward();
                  opt.step({ maxGradNorm: 1, lr: lrAt(s) });
                  opt.zeroGrad();
                  return out.loss!.item();
                }),
              );
            }
            assertClose(losses, exp.train.losses, { rtol: 1e-4, atol: 1e-6, what: 'training losses' });
            for (const [n, t] of m.namedParameters())
              rel(t.toArray(), ref.get(`after3.${n}`)!.data, `after3.${n}`, 1e-5);
            opt.dispose();
          });
          m.dispose();
        },
      );
    }
  }

  const bio = fixturePath('models', 'mini-biobert');
  it(
    'mini-biobert loads from its shards; the report names pooler + classifier as new and cls.* as unused',
    { skip: !bio && 'needs ../shared' },
    async () => {
      const lines: string[] = [];
      const loaded = await loadClassifier(bio!, { numLabels: 5, log: (l) => lines.push(l) });
      assert.deepEqual(loaded.report.missing.sort(), [
        'bert.pooler.dense.bias',
        'bert.pooler.dense.weight',
        'classifier.bias',
        'classifier.weight',
      ]);
      assert.deepEqual(loaded.report.unexpected.sort(), [
        'cls.predictions.bias',
        'cls.predictions.transform.LayerNorm.bias',
        'cls.predictions.transform.LayerNorm.weight',
        'cls.predictions.transform.dense.bias',
        'cls.predictions.transform.dense.weight',
      ]);
      assert.equal(loaded.report.loaded, readWeights(bio!).tensors.size - 5);
      assert.match(
        lines.join('\n'),
        /newly initialised.*bert\.pooler\.dense\.\{(weight,bias|bias,weight)\}, classifier\./,
      );
      assert.match(lines.join('\n'), /unused.*cls\.predictions/);
      assert.equal(loaded.labels.length, 5);
      loaded.model.dispose();
    },
  );

  it(
    'save -> load round trip gives identical logits and a valid safetensors file with HF key names',
    { skip: !fixturePath('fixtures', 'hf', 'tiny-bert') && 'needs ../shared' },
    async () => {
      const src = fixturePath('fixtures', 'hf', 'tiny-bert')!;
      const a = await loadClassifier(src, { labels: ['flu', 'mi', 'psoriasis'], ...quiet });
      const out = mkdtempSync(path.join(os.tmpdir(), 'medtune-save-'));
      const target = path.join(out, 'model');
      saveClassifier(target, a.model, a.config, src);
      const b = await loadClassifier(target, quiet);
      assert.deepEqual(b.labels, ['flu', 'mi', 'psoriasis']);
      assert.equal(b.report.missing.length + b.report.unexpected.length, 0);
      const st = readSafetensors(path.join(target, 'model.safetensors'));
      assert.deepEqual([...st.keys()].sort(), [...readSafetensors(path.join(src, 'model.safetensors')).keys()].sort());
      const cfg = JSON.parse(readFileSync(path.join(target, 'config.json'), 'utf8'));
      assert.deepEqual(cfg.architectures, ['BertForSequenceClassification']);
      assert.equal(cfg.id2label['2'], 'psoriasis');
      assert.ok(existsSync(path.join(target, 'tokenizer.json')));
      const ids = tensor([2, 654, 4932, 3, 2, 473, 3, 0], [2, 4], 'int32');
      const la = noGrad(() => a.model.forward({ input_ids: ids }).logits.toArray());
      const lb = noGrad(() => b.model.forward({ input_ids: ids }).logits.toArray());
      assert.deepEqual(lb, la);
      rmSync(out, { recursive: true });
    },
  );

  it('a truncated safetensors file is an error naming the file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-bad-'));
    const f = path.join(dir, 'model.safetensors');
    const src = fixturePath('fixtures', 'hf', 'tiny-bert', 'model.safetensors');
    const bytes = src ? readFileSync(src) : Buffer.alloc(100);
    writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length / 2)));
    assert.throws(
      () => readSafetensors(f),
      (e: Error) => e.message.includes(f) && /truncated/.test(e.message),
    );
    writeFileSync(f, Buffer.from([1, 2, 3]));
    assert.throws(() => readSafetensors(f), /truncated/);
    rmSync(dir, { recursive: true });
  });

  it('a pickle that calls os.system is refused', async () => {
    const { zipSync } = await import('fflate');
    // protocol-2 pickle of posix.system('touch /tmp/pwned') — what an attacker's pytorch_model.bin contains
    const pkl = Buffer.concat([
      Buffer.from([0x80, 0x02]),
      Buffer.from('cposix\nsystem\nq\x00X\x10\x00\x00\x00touch /tmp/pwnedq\x01\x85q\x02Rq\x03.', 'latin1'),
    ]);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-evil-'));
    const f = path.join(dir, 'pytorch_model.bin');
    writeFileSync(
      f,
      zipSync({ 'archive/data.pkl': new Uint8Array(pkl), 'archive/version': new TextEncoder().encode('3\n') }),
    );
    assert.throws(() => readTorchBin(f), /refused to load: the pickle calls posix\.system/);
    assert.ok(!existsSync('/tmp/pwned'));
    // builtins.eval through STACK_GLOBAL is refused too
    const pkl2 = Buffer.concat([
      Buffer.from([0x80, 0x04]),
      Buffer.from('\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94.', 'latin1'),
    ]);
    writeFileSync(f, zipSync({ 'archive/data.pkl': new Uint8Array(pkl2) }));
    assert.throws(() => readTorchBin(f), /builtins\.eval/);
    rmSync(dir, { recursive: true });
  });

  it('a hub name that is not cached is a clear error offline', async () => {
    await assert.rejects(
      loadClassifier('dmis-lab/biobert-v1.1', { offline: true, ...quiet }),
      /not in the HF cache.*--model DIR/,
    );
    await assert.rejects(loadClassifier('/no/such/folder', quiet), /does not exist/);
  });
});
