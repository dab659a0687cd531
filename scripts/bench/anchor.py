# The Python anchor for `npm run bench`: what a user would write with the onnx
# package. Loads the model with its external data, then for every Conv, Gemm and
# MatMul weight converts it to float32 and takes per-row L1 and L2 norms.
# Prints {"ms": wall time of that work, "peak": peak resident bytes, "cpu": seconds, "layers": n}.
# Needs Debian's python3-onnx and python3-numpy.
import json
import os
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

model = onnx.load(sys.argv[1])  # load_external_data=True by default
inits = {t.name: t for t in model.graph.initializer}
layers = 0
checksum = 0.0
for node in model.graph.node:
    if node.op_type not in ("Conv", "Gemm", "MatMul") or len(node.input) < 2 or node.input[1] not in inits:
        continue
    w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
    rows = w.reshape(w.shape[0], -1)
    l1 = np.abs(rows).sum(axis=1)
    l2 = np.sqrt((rows * rows).sum(axis=1))
    checksum += float(l1.sum() + l2.sum())
    layers += 1
ms = (time.perf_counter() - t0) * 1000
peak = 0
with open("/proc/self/status") as f:
    for line in f:
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
cpu = os.times().user + os.times().system
print(json.dumps({"ms": ms, "peak": peak, "cpu": cpu, "layers": layers, "checksum": checksum}))
