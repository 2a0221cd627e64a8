#!/usr/bin/python3
"""One-off: src/io/testdata/legacy-torch.bin, a state dict written by torch.save in the legacy (pre-1.6, non-zip)
format, and legacy-torch.json with its values, for the safe reader's test (src/io/torch-pickle.test.ts). Outside CI:

    apt-get install -y python3-torch && /usr/bin/python3 scripts/make-legacy-torch-fixture.py
"""
import collections, json
from pathlib import Path

import torch

torch.manual_seed(7)
w = torch.randn(3, 4)
sd = collections.OrderedDict()
sd['encoder.weight'] = w
sd['encoder.bias'] = torch.randn(4)
sd['encoder.weight_t'] = w.t()  # a non-contiguous view sharing the storage of encoder.weight
sd['half'] = torch.randn(5).half()
sd['ids'] = torch.tensor([[1, -2], [3, 400000]], dtype=torch.int64)
sd['classifier.weight'] = torch.nn.Parameter(torch.randn(2, 3))
sd['row'] = torch.randn(4, 6)[1]  # a view with a storage offset
out = Path(__file__).resolve().parent.parent / 'src' / 'io' / 'testdata'
torch.save(sd, out / 'legacy-torch.bin', _use_new_zipfile_serialization=False)
values = {k: {'shape': list(v.shape), 'values': v.detach().float().reshape(-1).tolist()} for k, v in sd.items()}
(out / 'legacy-torch.json').write_text(json.dumps({'torch': torch.__version__, 'tensors': values}, indent=1) + '\n')
print('wrote', out / 'legacy-torch.bin')
