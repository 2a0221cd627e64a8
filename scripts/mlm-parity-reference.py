#!/usr/bin/python3
"""One-off: the expected masked-LM loss of models/mini-biobert for src/models/testdata/mlm-parity.json.

BERT's forward written out in PyTorch ops (transformers is not packaged for Debian; this follows modeling_bert.py:
embeddings + LayerNorm, post-LN encoder layers with exact GELU, the MLM head transform + tied decoder + bias,
cross-entropy with ignore_index -100), from the same safetensors shards. Run once, by hand, never in tests:
    apt-get install -y python3-torch && /usr/bin/python3 scripts/mlm-parity-reference.py ../shared/models/mini-biobert
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    raw = Path(path).read_bytes()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        assert v['dtype'] == 'F32', (k, v['dtype'])
        a, b = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(raw[8 + n + a:8 + n + b], dtype='<f4').reshape(v['shape']).copy())
    return out


def main(model_dir, fixture):
    model_dir = Path(model_dir)
    cfg = json.loads((model_dir / 'config.json').read_text())
    index = json.loads((model_dir / 'model.safetensors.index.json').read_text())
    W = {}
    for shard in sorted(set(index['weight_map'].values())):
        W.update(read_safetensors(model_dir / shard))
    fx = json.loads(Path(fixture).read_text())
    ids = torch.tensor(fx['input_ids'])
    mask = torch.tensor(fx['attention_mask'])
    types = torch.tensor(fx['token_type_ids'])
    labels = torch.tensor(fx['labels'])
    H, nh, eps = cfg['hidden_size'], cfg['num_attention_heads'], cfg['layer_norm_eps']
    B, T = ids.shape
    ln = lambda x, p: F.layer_norm(x, (H,), W[p + '.weight'], W[p + '.bias'], eps)
    lin = lambda x, p: F.linear(x, W[p + '.weight'], W[p + '.bias'])
    e = 'bert.embeddings.'
    x = W[e + 'word_embeddings.weight'][ids] + W[e + 'position_embeddings.weight'][torch.arange(T)][None] \
        + W[e + 'token_type_embeddings.weight'][types]
    x = ln(x, e + 'LayerNorm')
    ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    heads = lambda t: t.view(B, T, nh, H // nh).transpose(1, 2)
    for i in range(cfg['num_hidden_layers']):
        p = f'bert.encoder.layer.{i}.'
        q, k, v = (heads(lin(x, p + 'attention.self.' + n)) for n in ('query', 'key', 'value'))
        att = torch.softmax(q @ k.transpose(-1, -2) / (H // nh) ** 0.5 + ext, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(B, T, H)
        a = ln(lin(ctx, p + 'attention.output.dense') + x, p + 'attention.output.LayerNorm')
        x = ln(lin(F.gelu(lin(a, p + 'intermediate.dense')), p + 'output.dense') + a, p + 'output.LayerNorm')
    h = ln(F.gelu(lin(x, 'cls.predictions.transform.dense')), 'cls.predictions.transform.LayerNorm')
    logits = h @ W[e + 'word_embeddings.weight'].T + W['cls.predictions.bias']
    loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
    fx['expected_loss'] = float(loss)
    sel = labels.view(-1) >= 0
    fx['expected_masked_logits_sum'] = float(logits.view(-1, logits.shape[-1])[sel].sum(dim=-1).sum())
    fx['torch_version'] = torch.__version__
    Path(fixture).write_text(json.dumps(fx))
    print('loss', fx['expected_loss'], 'masked tokens', int(sel.sum()))


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else '../shared/models/mini-biobert', 'src/models/testdata/mlm-parity.json')
