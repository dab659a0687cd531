#!/usr/bin/python3
"""A plain torch reference of least-squares recovery on digits_resnet_slim_s1e-2 (investigation only;
the test suite never runs Python). Debian: apt-get install python3-torch python3-onnx python3-numpy.

The prune is the engine's: 50% of channels by L1, local, fc ignored (`prune-lens prune MODEL --method l1
--amount 0.5 --structured --ignore fc`); its removed channels are listed below. Front to back, each layer
that lost input channels is refit by ridge regression (bias column unpenalised) on the first 256 training
images: inputs from the pruned model as refit so far, targets the original model's pre-BN outputs at the
kept channels. Prints held-out accuracy for each variant:

  ridge scale   the mean diagonal of XᵀX with or without the bias column of ones (its diagonal is the row
                count, ~50× the features' own here, so with it λ = 1e-3 acts like ~5e-2)
  relu passes   refits that leave out the outputs the following ReLU clips in the original and in the fit
                (through the BN, and through the residual Add with the original's other branch)

Run from the repository root: /usr/bin/python3 scripts/reference/least_squares_digits_resnet.py
"""
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

torch.set_default_dtype(torch.float64)
MODELS = '../shared/models/'
W0 = {i.name: torch.tensor(numpy_helper.to_array(i).astype(np.float64))
      for i in onnx.load(MODELS + 'digits_resnet_slim_s1e-2.onnx').graph.initializer}
W0['layer2.down.1.bias'] = W0['layer2.bn2.bias']  # the export shares it through an Identity
x_train = torch.tensor(np.load(MODELS + 'digits_train_x.npy').astype(np.float64))
x_val = torch.tensor(np.load(MODELS + 'digits_val_x.npy').astype(np.float64))
y_val = torch.tensor(np.load(MODELS + 'digits_val_y.npy'))

# The engine's prune report (removed output channels per layer).
REMOVED = {'stem': [2, 3, 4, 5, 8, 13, 14, 15], 'l1c1': [1, 2, 3, 4, 6, 7, 9, 14],
           'l2c1': [2, 5, 6, 7, 8, 10, 15, 16, 18, 20, 21, 22, 23, 26, 27, 30],
           'l2c2': [0, 1, 2, 4, 7, 12, 14, 15, 17, 19, 25, 26, 28, 29, 30, 31]}
CONV = {'stem': ('stem.0', 'stem.1', 1, 1), 'l1c1': ('layer1.conv1', 'layer1.bn1', 1, 1),
        'l1c2': ('layer1.conv2', 'layer1.bn2', 1, 1), 'l2c1': ('layer2.conv1', 'layer2.bn1', 2, 1),
        'l2c2': ('layer2.conv2', 'layer2.bn2', 1, 1), 'down': ('layer2.down.0', 'layer2.down.1', 2, 0)}
KEEP = {k: [i for i in range(16 if k in ('stem', 'l1c1') else 32) if i not in REMOVED[k]] for k in REMOVED}
KEEP['l1c2'], KEEP['down'] = KEEP['stem'], KEEP['l2c2']
KEEP_IN = {'stem': [0], 'l1c1': KEEP['stem'], 'l1c2': KEEP['l1c1'], 'l2c1': KEEP['stem'], 'l2c2': KEEP['l2c1'], 'down': KEEP['stem']}
# What is added to each layer's BN output before its ReLU (None: nothing; no entry: no ReLU follows).
ADDEND = {'l1c1': None, 'l2c1': None, 'l1c2': 'stem.out', 'l2c2': 'down.bn', 'down': 'l2c2.bn'}


def params(pruned):
    p = {}
    for k, (conv, bn, stride, pad) in CONV.items():
        w = W0[conv + '.weight']
        g, b, mu, var = (W0[f'{bn}.{n}'] for n in ('weight', 'bias', 'running_mean', 'running_var'))
        bias = torch.zeros(w.shape[0])
        if pruned:
            o = KEEP[k]
            w, bias, g, b, mu, var = w[o][:, KEEP_IN[k]], bias[o], g[o], b[o], mu[o], var[o]
        p[k] = dict(w=w.clone(), b=bias.clone(), s=g / torch.sqrt(var + 1e-5), t=b - g / torch.sqrt(var + 1e-5) * mu,
                    stride=stride, pad=pad)
    fc = W0['fc.weight']
    p['fc'] = dict(w=(fc[:, KEEP['l2c2']] if pruned else fc).clone(), b=W0['fc.bias'].clone())
    return p


def forward(p, x):
    a = {}

    def conv_bn(k, x):
        q = p[k]
        a[k + '.in'] = x
        z = a[k] = F.conv2d(x, q['w'], q['b'], stride=q['stride'], padding=q['pad'])
        a[k + '.bn'] = z * q['s'][None, :, None, None] + q['t'][None, :, None, None]
        return a[k + '.bn']
    h = a['stem.out'] = F.relu(conv_bn('stem', x))
    h = F.relu(conv_bn('l1c2', F.relu(conv_bn('l1c1', h))) + h)
    d = conv_bn('down', h)
    h = F.relu(conv_bn('l2c2', F.relu(conv_bn('l2c1', h))) + d)
    a['fc.in'] = h.mean((2, 3))
    return a['fc.in'] @ p['fc']['w'].T + p['fc']['b'], a


def accuracy(p):
    return (forward(p, x_val)[0].argmax(1) == y_val).double().mean().item()


def rows(t):  # [N, C, H, W] → [N·H·W, C]
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def refit(lam=1e-3, bias_in_scale=True, relu_passes=0, n=256):
    p0, p = params(False), params(True)
    logits, ao = forward(p0, x_train[:n])
    for k in ('l1c1', 'l1c2', 'down', 'l2c1', 'l2c2', 'fc'):
        _, ap = forward(p, x_train[:n])
        if k == 'fc':
            x, y = ap['fc.in'], logits
        else:
            q = p[k]
            cols = F.unfold(ap[k + '.in'], q['w'].shape[2:], padding=q['pad'], stride=q['stride'])
            x, y = cols.transpose(1, 2).reshape(-1, cols.shape[1]), rows(ao[k][:, KEEP[k]])
        x = torch.cat([x, torch.ones(x.shape[0], 1)], 1)
        gram = x.T @ x
        diag = gram.diagonal() if bias_in_scale else gram.diagonal()[:-1]
        reg = torch.eye(x.shape[1]) * (lam * diag.mean() + 1e-12)
        reg[-1, -1] = 1e-9 * reg[0, 0]
        chol = torch.linalg.cholesky(gram + reg)
        w = torch.cholesky_solve(x.T @ y, chol)
        if k in ADDEND:
            q = p[k]
            other = 0 if ADDEND[k] is None else rows(ao[ADDEND[k]][:, KEEP[k]])
            for _ in range(relu_passes):
                pred = x @ w
                clipped = (q['s'] * y + q['t'] + other <= 0) & (q['s'] * pred + q['t'] + other <= 0)
                w = torch.cholesky_solve(x.T @ torch.where(clipped, pred, y), chol)
        p[k]['w'] = w[:-1].T.reshape(p[k]['w'].shape).clone()
        p[k]['b'] = w[-1].clone()
    return accuracy(p)


if __name__ == '__main__':
    print(f'unpruned {accuracy(params(False)):.3f}, pruned {accuracy(params(True)):.3f}')
    for lam in (0, 1e-4, 1e-3, 1e-2):
        print(f'ridge {lam:g}: plain, bias in the scale {refit(lam):.3f}; plain {refit(lam, False):.3f}; '
              f'ReLU passes 1/3/10 {refit(lam, False, 1):.3f}/{refit(lam, False, 3):.3f}/{refit(lam, False, 10):.3f}')
