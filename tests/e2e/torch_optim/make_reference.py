#!/usr/bin/python3
"""make_reference.py — writes reference.json for torch_optim.sh, once, with
Debian's python3-torch (the test itself needs only Python's standard
library): the starting weights of optim.nn's model, and for each optimizer
setting the weights after STEPS full-batch steps of torch.optim's optimizer
of the same name and options, in float64.
usage: /usr/bin/python3 make_reference.py > reference.json"""
import json, torch

STEPS = 6
X = [[0.1, 0.9, -0.3], [0.4, 0.2, 0.5], [0.8, -0.5, 0.1], [0.3, 0.7, -0.9],
     [-0.6, 0.1, 0.4], [0.9, 0.3, 0.2], [0.2, -0.4, 0.6], [0.7, 0.8, -0.1]]
Y = [[1.0, 0.2], [0.6, -0.3], [1.3, 0.5], [1.0, 0.1], [0.7, -0.8], [1.2, 0.9], [0.6, 0.0], [1.5, -0.4]]
O = torch.optim
# (the optimizer as optim.nn writes it, torch's constructor and options)
SETTINGS = [
    ("sgd(lr = 0.05, momentum = 0.9, dampening = 0.3)", O.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("sgd(lr = 0.05, momentum = 0.8, dampening = 0.5, weight_decay = 0.01)", O.SGD,
     dict(lr=0.05, momentum=0.8, dampening=0.5, weight_decay=0.01)),
    ("nesterov(lr = 0.05, momentum = 0.9)", O.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("adagrad(lr = 0.1, lr_decay = 0.05, initial_accumulator_value = 0.1)", O.Adagrad,
     dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1, eps=1e-10)),
    ("rmsprop(lr = 0.01, rho = 0.99, centered = 1)", O.RMSprop, dict(lr=0.01, alpha=0.99, centered=True, eps=1e-8)),
    ("rmsprop(lr = 0.01, rho = 0.9, centered = 1, weight_decay = 0.01)", O.RMSprop,
     dict(lr=0.01, alpha=0.9, centered=True, eps=1e-8, weight_decay=0.01)),
    ("adam(lr = 0.05, beta2 = 0.5, amsgrad = 1)", O.Adam, dict(lr=0.05, betas=(0.9, 0.5), eps=1e-8, amsgrad=True)),
    ("adamw(lr = 0.05, beta2 = 0.5, weight_decay = 0.1, amsgrad = 1)", O.AdamW,
     dict(lr=0.05, betas=(0.9, 0.5), eps=1e-8, weight_decay=0.1, amsgrad=True)),
]


def start():
    g = torch.Generator().manual_seed(3)
    shapes = {"W1": (3, 4), "b1": (4,), "W2": (4, 2), "b2": (2,)}
    return {k: (torch.rand(s, generator=g, dtype=torch.float64) - 0.5) for k, s in shapes.items()}


def run(w0, make, opts):
    w = {k: v.clone().requires_grad_(True) for k, v in w0.items()}
    x, y = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    opt = make(list(w.values()), **opts)
    for _ in range(STEPS):
        opt.zero_grad()
        out = torch.tanh(x @ w["W1"] + w["b1"]) @ w["W2"] + w["b2"]
        ((out - y) * (out - y)).mean().backward()
        opt.step()
    return {k: v.detach().flatten().tolist() for k, v in w.items()}


w0 = start()
print(json.dumps({"torch": torch.__version__, "steps": STEPS,
                  "start": {k: v.flatten().tolist() for k, v in w0.items()},
                  "settings": [{"optimizer": s, "weights": run(w0, m, o)} for s, m, o in SETTINGS]}, indent=1))
