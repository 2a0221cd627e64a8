#!/usr/bin/python3
"""PyTorch reference for `medtune train --task token-classification` on NCBI disease (docs/models.md).

The same recipe as medtune's automatic one for mini-biobert: BertForTokenClassification (bert.* from the checkpoint,
no pooler, a new classifier), AdamW (lr 2e-4, betas 0.9/0.999, eps 1e-8, weight decay 0.01 except biases and
LayerNorm weights), linear decay after 6 % warm-up, batch 32 windows bucketed by length, dropout 0.1, 3 epochs,
gradient clipping at 1.0, cross-entropy over first sub-tokens (-100 elsewhere); entity-level F1 (exact span and type,
seqeval's default decoding) on devel after every epoch, the best epoch's model on test. The data are medtune's own
windows (same tokenizer, alignment and windows: scripts/token-windows.mjs), so the comparison is of the training.
BERT is written out in PyTorch ops (transformers is not packaged for Debian). Outside tests and CI:

    apt-get install -y python3-torch
    npx tsc && node scripts/token-windows.mjs ../shared/models/mini-biobert ../shared/data/ncbi-disease/{train,devel,test}.tsv 64 /tmp/ncbi-windows.json
    /usr/bin/python3 scripts/ncbi-reference.py ../shared/models/mini-biobert /tmp/ncbi-windows.json [--seed 42] [--threads 2]
"""
import argparse, json, math, random, struct, time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    raw = Path(path).read_bytes()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(raw[8 + n + a:8 + n + b], dtype='<f4').reshape(v['shape']).copy())
    return out


class Layer(nn.Module):
    def __init__(s, C, H, Fd, p, eps):
        super().__init__()
        s.H, s.p = H, p
        s.q, s.k, s.v, s.o = nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C)
        s.ln1, s.ln2 = nn.LayerNorm(C, eps=eps), nn.LayerNorm(C, eps=eps)
        s.i, s.out = nn.Linear(C, Fd), nn.Linear(Fd, C)

    def forward(s, x, mask):
        B, T, C = x.shape
        D = C // s.H
        sh = lambda t: t.view(B, T, s.H, D).transpose(1, 2)
        q, k, v = sh(s.q(x)), sh(s.k(x)), sh(s.v(x))
        a = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D) + mask
        a = F.dropout(torch.softmax(a, -1), s.p, s.training)
        c = torch.matmul(a, v).transpose(1, 2).reshape(B, T, C)
        x = s.ln1(F.dropout(s.o(c), s.p, s.training) + x)
        return s.ln2(F.dropout(s.out(F.gelu(s.i(x))), s.p, s.training) + x)


class BertForTokenClassification(nn.Module):
    def __init__(s, cfg, num_labels):
        super().__init__()
        C, p, eps = cfg['hidden_size'], cfg['hidden_dropout_prob'], cfg['layer_norm_eps']
        s.we = nn.Embedding(cfg['vocab_size'], C)
        s.pe = nn.Embedding(cfg['max_position_embeddings'], C)
        s.te = nn.Embedding(cfg['type_vocab_size'], C)
        s.ln = nn.LayerNorm(C, eps=eps)
        s.layers = nn.ModuleList([Layer(C, cfg['num_attention_heads'], cfg['intermediate_size'], p, eps)
                                  for _ in range(cfg['num_hidden_layers'])])
        s.classifier = nn.Linear(C, num_labels)
        nn.init.normal_(s.classifier.weight, std=cfg['initializer_range'])
        nn.init.zeros_(s.classifier.bias)
        s.p = p

    def load(s, W):
        e = 'bert.embeddings.'
        pairs = {s.we.weight: e + 'word_embeddings.weight', s.pe.weight: e + 'position_embeddings.weight',
                 s.te.weight: e + 'token_type_embeddings.weight', s.ln.weight: e + 'LayerNorm.weight',
                 s.ln.bias: e + 'LayerNorm.bias'}
        for i, l in enumerate(s.layers):
            b = f'bert.encoder.layer.{i}.'
            for mod, key in [(l.q, 'attention.self.query'), (l.k, 'attention.self.key'), (l.v, 'attention.self.value'),
                             (l.o, 'attention.output.dense'), (l.ln1, 'attention.output.LayerNorm'),
                             (l.i, 'intermediate.dense'), (l.out, 'output.dense'), (l.ln2, 'output.LayerNorm')]:
                pairs[mod.weight] = b + key + '.weight'
                pairs[mod.bias] = b + key + '.bias'
        with torch.no_grad():
            for p, k in pairs.items():
                p.copy_(W[k])

    def forward(s, ids, attn):
        B, T = ids.shape
        pos = torch.arange(T).unsqueeze(0).expand(B, T)
        x = F.dropout(s.ln(s.we(ids) + s.te(torch.zeros_like(ids)) + s.pe(pos)), s.p, s.training)
        mask = (1.0 - attn[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for l in s.layers:
            x = l(x, mask)
        return s.classifier(F.dropout(x, s.p, s.training))


def pad(ws, pad_id, key='ids', fill=None):
    T = max(len(w['ids']) for w in ws)
    f = pad_id if fill is None else fill
    return torch.tensor([w[key] + [f] * (T - len(w[key])) for w in ws])


def batches(lengths, bs, rng, shuffle):
    """Shuffled, then bucketed by length within chunks of 50 batches (as medtune's makeBatches)."""
    idx = list(range(len(lengths)))
    if shuffle:
        rng.shuffle(idx)
    out = []
    chunk = bs * 50
    for c in range(0, len(idx), chunk):
        part = sorted(idx[c:c + chunk], key=lambda i: lengths[i])
        out += [part[i:i + bs] for i in range(0, len(part), bs)]
    if shuffle:
        rng.shuffle(out)
    return out


def decode(tags):
    """Entities of IOB2 tags as seqeval's default mode: an I-X after O or another type begins an entity."""
    out, cur = [], None
    for i, t in enumerate(tags + ['O']):
        p, typ = (t.split('-', 1) + [''])[:2] if t != 'O' else ('O', '')
        if p == 'I' and cur and cur[2] == typ:
            cur[1] = i + 1
            continue
        if cur:
            out.append(tuple(cur))
        cur = None if p == 'O' else [i, i + 1, typ]
    return out


def evaluate(model, split, labels, pad_id):
    model.eval()
    ws = split['windows']
    logits = [None] * len(ws)
    with torch.no_grad():
        for b in batches([len(w['ids']) for w in ws], 64, None, False):
            part = [ws[i] for i in b]
            ids = pad(part, pad_id)
            out = model(ids, (ids != pad_id).long())
            for j, i in enumerate(b):
                logits[i] = out[j]
    tp = gold_n = pred_n = 0
    for t in split['texts']:
        pred = [labels[int(logits[wi][k].argmax())] if wi >= 0 else 'O' for wi, k in t['read']]
        g, p = set(decode(t['tags'])), set(decode(pred))
        tp += len(g & p); gold_n += len(g); pred_n += len(p)
    P = tp / pred_n if pred_n else 0
    R = tp / gold_n if gold_n else 0
    return {'entity_precision': P, 'entity_recall': R, 'entity_f1': 2 * P * R / (P + R) if P + R else 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('windows')
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--lr', type=float, default=2e-4)
    ap.add_argument('--warmup', type=float, default=0.06)
    ap.add_argument('--batch-size', type=int, default=32)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = random.Random(a.seed)
    cfg = json.loads((Path(a.model) / 'config.json').read_text())
    W = {}
    for shard in sorted(set(json.loads((Path(a.model) / 'model.safetensors.index.json').read_text())['weight_map'].values())):
        W.update(read_safetensors(Path(a.model) / shard))
    data = json.loads(Path(a.windows).read_text())
    labels, pad_id = data['labels'], data['pad_id']
    model = BertForTokenClassification(cfg, len(labels))
    model.load(W)
    no_decay = lambda n: n.endswith('bias') or 'ln' in n
    groups = [{'params': [p for n, p in model.named_parameters() if not no_decay(n)], 'weight_decay': 0.01},
              {'params': [p for n, p in model.named_parameters() if no_decay(n)], 'weight_decay': 0.0}]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    train = data['train']['windows']
    per_epoch = math.ceil(len(train) / a.batch_size)
    total = per_epoch * a.epochs
    warm = math.floor(a.warmup * total) if a.warmup < 1 else int(a.warmup)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / max(1, warm) if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    best, best_state, times = -1, None, []
    for epoch in range(a.epochs):
        model.train()
        t0 = time.time()
        for b in batches([len(w['ids']) for w in train], a.batch_size, rng, True):
            part = [train[i] for i in b]
            ids = pad(part, pad_id)
            attn = torch.tensor([[1] * len(w['ids']) + [0] * (ids.shape[1] - len(w['ids'])) for w in part])
            y = pad(part, pad_id, 'labels', -100)
            loss = F.cross_entropy(model(ids, attn).reshape(-1, len(labels)), y.reshape(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
        times.append(time.time() - t0)
        m = evaluate(model, data['validation'], labels, pad_id)
        print(f'epoch {epoch + 1}: {times[-1]:.0f} s, devel entity F1 {m["entity_f1"]:.4f}', flush=True)
        if m['entity_f1'] > best:
            best, best_state = m['entity_f1'], {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    m = evaluate(model, data['test'], labels, pad_id)
    print(json.dumps({'test': m, 'devel_best_f1': best, 'seconds_per_epoch': sum(times) / len(times),
                      'torch': torch.__version__, 'threads': a.threads, 'seed': a.seed}))


if __name__ == '__main__':
    main()
