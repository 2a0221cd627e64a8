#!/usr/bin/env python3
"""Side-by-side reference for `medtune bench`: the same BERT shapes in PyTorch (HF's eager BERT, written out so
that no transformers install is needed). For docs/benchmarks.md only; never run in tests or CI.

  apt-get install -y python3-torch
  /usr/bin/python3 scripts/bench-pytorch.py --task train --shape mini --threads 2 [--precision bf16] [--json]

--precision bf16 runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16) (AdamW stays fp32), the
reference for medtune's --precision bf16.
"""
import contextlib
import argparse, json, math, resource, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {"mini": dict(L=4, C=256, H=4, F=1024, V=30522, B=32), "base": dict(L=12, C=768, H=12, F=3072, V=30522, B=8)}


class Layer(nn.Module):
    def __init__(s, C, H, Fd, p):
        super().__init__()
        s.H, s.p = H, p
        s.q, s.k, s.v, s.o = nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C)
        s.ln1, s.ln2 = nn.LayerNorm(C, eps=1e-12), nn.LayerNorm(C, eps=1e-12)
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


class Bert(nn.Module):
    def __init__(s, L, C, H, F_, V, p=0.1):
        super().__init__()
        s.we, s.pe, s.te = nn.Embedding(V, C), nn.Embedding(512, C), nn.Embedding(2, C)
        s.ln = nn.LayerNorm(C, eps=1e-12)
        s.layers = nn.ModuleList([Layer(C, H, F_, p) for _ in range(L)])
        s.pool, s.cls, s.p = nn.Linear(C, C), nn.Linear(C, 2), p

    def forward(s, ids, attn):
        B, T = ids.shape
        pos = torch.arange(T).unsqueeze(0).expand(B, T)
        x = F.dropout(s.ln(s.we(ids) + s.te(torch.zeros_like(ids)) + s.pe(pos)), s.p, s.training)
        mask = (1.0 - attn[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for l in s.layers:
            x = l(x, mask)
        return s.cls(F.dropout(torch.tanh(s.pool(x[:, 0])), s.p, s.training))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=["train", "infer"], default="train")
    ap.add_argument("--shape", choices=list(SHAPES), default="mini")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time in process CPU time (run with --threads 1 and OPENBLAS_NUM_THREADS=1): per-core speed")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    s = SHAPES[a.shape]
    B, T = s["B"], 128
    m = Bert(s["L"], s["C"], s["H"], s["F"], s["V"])
    ids = torch.randint(1, s["V"], (B, T))
    attn = torch.ones(B, T, dtype=torch.long)
    y = torch.arange(B) % 2
    steps = a.steps or (5 if a.shape == "mini" else 2)
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.precision == "bf16" else contextlib.nullcontext
    if a.task == "train":
        m.train()
        decay = [p for n, p in m.named_parameters() if "ln" not in n and not n.endswith("bias")]
        nodecay = [p for n, p in m.named_parameters() if "ln" in n or n.endswith("bias")]
        groups = [{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=2e-5)

        def step():
            with cast():
                loss = F.cross_entropy(m(ids, attn), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
    else:
        m.eval()

        def step():
            with torch.no_grad(), cast():
                m(ids, attn).float().numpy()
    step()
    clock = time.process_time if a.cpu_time else time.perf_counter
    runs = []
    for _ in range(a.repeat):
        t0 = clock()
        for _ in range(steps):
            step()
        runs.append(B * steps / (clock() - t0))
    r = dict(task=a.task, shape=a.shape, backend="pytorch-" + torch.__version__, precision=a.precision,
             threads=a.threads, batch=B, seq=T, timing="cpu" if a.cpu_time else "wall",
             ex_per_s=round(statistics.median(runs), 2), runs=[round(x, 2) for x in runs],
             peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    print(json.dumps(r) if a.json else r)


if __name__ == "__main__":
    main()
