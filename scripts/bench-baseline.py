#!/usr/bin/env python3
"""scikit-learn's baseline on the splits scripts/bench-baseline.mjs wrote (comparison only, never in CI):
TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True) + LogisticRegression(C=10, max_iter=2000) (lbfgs; one-vs-rest
with class_weight='balanced' for multi-label). usage: /usr/bin/python3 scripts/bench-baseline.py OUT [datasets]"""
import json, sys, time
from collections import OrderedDict
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

out = sys.argv[1]
for name in (sys.argv[2] if len(sys.argv) > 2 else 's2d,hoc,ma').split(','):
    d = json.load(open(f'{out}/{name}.json'))
    tr, te = d['train'], d['test']
    t0 = time.time()
    c0 = time.process_time()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    Xtr = vec.fit_transform([e['text'] for e in tr])
    Xte = vec.transform([e['text'] for e in te])
    res = {'impl': 'sklearn', 'dataset': name, 'features': Xtr.shape[1]}
    if not d['multi']:
        clf = LogisticRegression(C=10, max_iter=2000).fit(Xtr, [e['label'] for e in tr])
        pred = clf.predict(Xte)
        res['seconds'] = round(time.time() - t0, 1)
        res['cpu_seconds'] = round(time.process_time() - c0, 1)
        res['accuracy'] = float(np.mean(pred == np.array([e['label'] for e in te])))
    else:
        Y = np.array([e['label'] for e in tr])
        P = np.zeros((len(te), Y.shape[1]))
        for c in range(Y.shape[1]):
            clf = LogisticRegression(C=10, max_iter=2000, class_weight='balanced').fit(Xtr, Y[:, c])
            P[:, c] = clf.predict_proba(Xte)[:, 1]
        res['seconds'] = round(time.time() - t0, 1)
        res['cpu_seconds'] = round(time.process_time() - c0, 1)
        gold = np.array([e['label'] for e in te])
        groups = OrderedDict()
        for i, e in enumerate(te):
            g = groups.setdefault(e['group'], [np.zeros(Y.shape[1]), np.zeros(Y.shape[1])])
            g[0] = np.maximum(g[0], gold[i]); g[1] = np.maximum(g[1], P[i] >= 0.5)
        G = np.array([v[0] for v in groups.values()]); Q = np.array([v[1] for v in groups.values()])
        res['f1_micro_grouped'] = float(f1_score(G, Q, average='micro'))
        res['f1_micro'] = float(f1_score(gold, P >= 0.5, average='micro'))
    print(json.dumps(res), flush=True)
