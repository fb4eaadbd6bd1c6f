"""Direct computation of tests/e2e/modes/norms.nn's losses for one norm:
prints `loss test_loss` (training data and test data, inference mode)."""
import math, sys

train = [[0.3, -1.2, 0.7, 0.1, 1.1, 0.4, -0.5, 0.9, -0.8, 0.9, 1.3, -0.3],
         [0.2, -0.6, -1.4, 0.8, 1.5, 0.1, 0.6, -0.7, 0.4, -1.1, 0.5, 1.2],
         [-0.9, 0.3, 0.8, -0.2, 0.6, 1.4, -1.0, 0.2, 0.7, -0.4, 0.1, 0.9]]
test = [[1.0, -0.3, 0.5, 0.6, -0.8, 0.2, 1.3, -0.6, 0.3, 0.8, -1.2, 0.4],
        [0.5, 0.5, -0.2, 0.1, 0.9, -0.9, 0.3, 0.2, -0.4, 0.6, 0.7, -1.0]]
C, L, EPS = 4, 3, 1e-5
T = lambda s: [[s[c * L + l] for l in range(L)] for c in range(C)]

def stats(vals):
    m = sum(vals) / len(vals)
    return m, sum((v - m) ** 2 for v in vals) / len(vals)

def normed(batch, kind, bn_stats):
    out = []
    for s in map(T, batch):
        y = [[0.0] * L for _ in range(C)]
        for c in range(C):
            for l in range(L):
                if kind == "BatchNorm1d":
                    m, v = bn_stats[c]
                elif kind == "LayerNorm1d":
                    m, v = stats([s[k][j] for k in range(C) for j in range(L)])
                elif kind == "InstanceNorm1d":
                    m, v = stats(s[c])
                else:  # GroupNorm1d(4, 2): channels {0,1} and {2,3}
                    g = c // 2
                    m, v = stats([s[k][j] for k in (2 * g, 2 * g + 1) for j in range(L)])
                y[c][l] = (s[c][l] - m) / math.sqrt(v + EPS)
        out.append(y)
    return out

def loss(batch, kind, bn_stats):
    ys = normed(batch, kind, bn_stats)
    tot = sum(ys[b][c][l] * T(batch[b])[c][l] for b in range(len(batch)) for c in range(C) for l in range(L))
    return tot / (len(batch) * C * L)

kind = sys.argv[1].split("(")[0]
# batch norm with momentum 1: running statistics = the training batch's
bn = [stats([T(s)[c][l] for s in train for l in range(L)]) for c in range(C)]
print("%.9g %.9g" % (loss(train, kind, bn), loss(test, kind, bn)))
