#!/usr/bin/python3
"""onnx_eval.py — check an ONNX file nnc export wrote, and run it.

    onnx_eval.py MODEL.onnx INPUT.npy... -o OUT.npy
    onnx_eval.py --check MODEL.onnx

First onnx.checker.check_model(model, full_check=True) (Debian's
python3-onnx: the schema, the opset, every node's attributes and types, and
shape inference over the whole graph).  Then the model is run on the inputs
(one .npy per graph input, in the graph's order) and the output written.

THIS IS A TEST INTERPRETER, NOT AN ONNX RUNTIME.  Debian 12 has neither
onnxruntime nor onnx.reference (python3-onnx is 1.12), so this file
evaluates exactly the operators nnc's exporter emits (compiler/onnx.c), each
written from the ONNX operator specification (opset 13) in plain numpy,
independently of nnc's kernels: floats are computed in double precision, so
the comparison with `OUT predict` (float32) measures nnc's rounding alone.
An operator it does not know is an error, never a guess.
"""
import math
import sys

import numpy as np
import onnx
from onnx import numpy_helper

F64 = {onnx.TensorProto.FLOAT: np.float64, onnx.TensorProto.DOUBLE: np.float64,
       onnx.TensorProto.INT32: np.int32, onnx.TensorProto.INT64: np.int64, onnx.TensorProto.BOOL: np.bool_}


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def widen(x):
    return x.astype(np.float64) if x.dtype == np.float32 else x


def pad_hw(x, pads, value):
    """x [N, C, H, W] with pads [top, left, bottom, right] of value."""
    t, l, b, r = pads
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def windows(x, k, strides, dil=(1, 1)):
    """(i, j, view) for each kernel tap: view[n, c, oh, ow] = x[n, c, oh*s + i*d, ow*s + j*d]."""
    kh, kw = k
    sh, sw = strides
    oh = (x.shape[2] - dil[0] * (kh - 1) - 1) // sh + 1
    ow = (x.shape[3] - dil[1] * (kw - 1) - 1) // sw + 1
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dil[0], j * dil[1]
            yield i, j, x[:, :, y0:y0 + sh * (oh - 1) + 1:sh, x0:x0 + sw * (ow - 1) + 1:sw]


def conv(x, w, a):
    g = a.get("group", 1)
    pads = a.get("pads", [0, 0, 0, 0])
    pads = [pads[0], pads[1], pads[2], pads[3]]
    x = pad_hw(x, pads, 0)
    strides, dil = a.get("strides", [1, 1]), a.get("dilations", [1, 1])
    o, cg = w.shape[0], w.shape[1]
    og = o // g
    out = None
    for i, j, v in windows(x, w.shape[2:], strides, dil):
        parts = [np.einsum("nchw,oc->nohw", v[:, gi * cg:(gi + 1) * cg], w[gi * og:(gi + 1) * og, :, i, j])
                 for gi in range(g)]
        t = np.concatenate(parts, axis=1)
        out = t if out is None else out + t
    return out


def conv_transpose(x, w, a):
    """Each input pixel scatters x * w into the (strided, dilated) output, then the pads are cut."""
    g = a.get("group", 1)
    s, d = a.get("strides", [1, 1]), a.get("dilations", [1, 1])
    p, op = a.get("pads", [0, 0, 0, 0]), a.get("output_padding", [0, 0])
    n, c, h, wd = x.shape
    cg, og, kh, kw = c // g, w.shape[1], w.shape[2], w.shape[3]
    full_h = s[0] * (h - 1) + d[0] * (kh - 1) + 1 + op[0]
    full_w = s[1] * (wd - 1) + d[1] * (kw - 1) + 1 + op[1]
    y = np.zeros((n, og * g, full_h, full_w), dtype=x.dtype)
    for gi in range(g):
        xs = x[:, gi * cg:(gi + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                t = np.einsum("nchw,co->nohw", xs, w[gi * cg:(gi + 1) * cg, :, i, j])
                y[:, gi * og:(gi + 1) * og, i * d[0]:i * d[0] + s[0] * (h - 1) + 1:s[0],
                  j * d[1]:j * d[1] + s[1] * (wd - 1) + 1:s[1]] += t
    return y[:, :, p[0]:full_h - p[2], p[1]:full_w - p[3]]


def max_pool(x, a):
    xp = pad_hw(x, a.get("pads", [0, 0, 0, 0]), -np.inf)
    best = idx = None
    n, c, h, w = x.shape
    p = a.get("pads", [0, 0, 0, 0])
    s = a.get("strides", [1, 1])
    for i, j, v in windows(xp, a["kernel_shape"], s):
        oh, ow = v.shape[2], v.shape[3]
        # the flat index (over N, C, H, W of the unpadded input) of this tap
        rows = np.arange(oh)[:, None] * s[0] + i - p[0]
        cols = np.arange(ow)[None, :] * s[1] + j - p[1]
        flat = (np.arange(n)[:, None, None, None] * c + np.arange(c)[None, :, None, None]) * h * w + rows * w + cols
        if best is None:
            best, idx = v.copy(), np.broadcast_to(flat, v.shape).copy()
        else:
            take = v > best  # the first maximum in window order wins
            best = np.where(take, v, best)
            idx = np.where(take, flat, idx)
    return best, idx.astype(np.int64)


def avg_pool(x, a):
    assert a.get("count_include_pad", 0) == 1, "only count_include_pad=1 is emitted"
    kh, kw = a["kernel_shape"]
    xp = pad_hw(x, a.get("pads", [0, 0, 0, 0]), 0)
    return sum(v for _, _, v in windows(xp, a["kernel_shape"], a.get("strides", [1, 1]))) / (kh * kw)


def max_unpool(x, i, shape):
    y = np.zeros(int(np.prod(shape)), dtype=x.dtype)
    y[i.reshape(-1)] = x.reshape(-1)
    return y.reshape([int(d) for d in shape])


def slice_(x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    sl = [slice(None)] * x.ndim
    for s, e, ax in zip(starts, ends, axes):
        sl[int(ax)] = slice(int(s), int(min(e, x.shape[int(ax)])))
    return x[tuple(sl)]


def reshape(x, shape):
    shape = [int(d) if d != 0 else x.shape[k] for k, d in enumerate(shape)]
    return x.reshape(shape)


def softmax(x, axis):
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))  # = ln(exp(x) + 1), without overflow


def one_hot(ind, depth, values, axis):
    depth = int(depth)
    ind = np.where(ind < 0, ind + depth, ind)
    y = np.where(np.arange(depth) == ind[..., None], values[1], values[0])
    return np.moveaxis(y, -1, axis) if axis != -1 else y


def run_node(node, v):
    a = attrs(node)
    x = [v[name] for name in node.input]
    op = node.op_type
    unary = {"Neg": np.negative, "Exp": np.exp, "Log": np.log, "Sqrt": np.sqrt, "Abs": np.abs, "Tanh": np.tanh,
             "Sigmoid": lambda t: 1 / (1 + np.exp(-t)), "Relu": lambda t: np.maximum(t, 0), "Softplus": softplus,
             "Erf": np.vectorize(math.erf, otypes=[np.float64]), "Sign": np.sign, "Cos": np.cos, "Sin": np.sin,
             "Floor": np.floor, "Identity": lambda t: t, "Not": np.logical_not}
    binary = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power, "Max": np.maximum,
              "Min": np.minimum, "Equal": np.equal, "Less": np.less, "LessOrEqual": np.less_equal,
              "Greater": np.greater, "GreaterOrEqual": np.greater_equal, "MatMul": np.matmul}
    if op in unary:
        return [unary[op](x[0])]
    if op in binary:
        return [binary[op](x[0], x[1])]
    if op == "Div":  # integers truncate toward zero (C), floats divide
        if np.issubdtype(x[0].dtype, np.integer):
            return [(np.trunc(x[0] / x[1])).astype(x[0].dtype)]
        return [x[0] / x[1]]
    if op == "Cast":
        return [x[0].astype(F64[a["to"]])]
    if op == "LeakyRelu":
        return [np.where(x[0] > 0, x[0], a.get("alpha", 0.01) * x[0])]
    if op == "Elu":
        return [np.where(x[0] > 0, x[0], a.get("alpha", 1.0) * (np.exp(x[0]) - 1))]
    if op == "Where":
        return [np.where(x[0], x[1], x[2])]
    if op == "Transpose":
        return [np.transpose(x[0], a["perm"])]
    if op == "ReduceSum":
        return [x[0].sum(axis=tuple(int(t) for t in x[1]), keepdims=bool(a.get("keepdims", 1)))]
    if op == "ReduceMax":
        return [x[0].max(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))]
    if op == "Softmax":
        return [softmax(x[0], a.get("axis", -1))]
    if op == "LogSoftmax":
        return [log_softmax(x[0], a.get("axis", -1))]
    if op == "Reshape":
        return [reshape(x[0], x[1])]
    if op == "Expand":
        return [x[0] * np.ones([int(d) for d in x[1]], dtype=x[0].dtype)]
    if op == "Slice":
        return [slice_(*x)]
    if op == "Pad":
        r = x[0].ndim
        p = [int(t) for t in x[1]]
        return [np.pad(x[0], [(p[k], p[r + k]) for k in range(r)], constant_values=x[2] if len(x) > 2 else 0)]
    if op == "Concat":
        return [np.concatenate(x, axis=a["axis"])]
    if op == "OneHot":
        return [one_hot(x[0], x[1], x[2], a.get("axis", -1))]
    if op == "Conv":
        return [conv(x[0], x[1], a)]
    if op == "ConvTranspose":
        return [conv_transpose(x[0], x[1], a)]
    if op == "MaxPool":
        y, i = max_pool(x[0], a)
        return [y, i]
    if op == "AveragePool":
        return [avg_pool(x[0], a)]
    if op == "MaxUnpool":
        return [max_unpool(x[0], x[1], x[2])]
    if op == "ArgMax":
        axis = a.get("axis", 0)
        r = np.argmax(x[0], axis=axis)  # the first maximum (select_last_index = 0)
        return [np.expand_dims(r, axis) if a.get("keepdims", 1) else r]
    if op == "Shape":
        return [np.array(x[0].shape, dtype=np.int64)]
    if op == "Gather":
        return [np.take(x[0], x[1], axis=a.get("axis", 0))]
    raise SystemExit(f"onnx_eval.py: operator {op} is not in this test interpreter")


def main(argv):
    if len(argv) >= 2 and argv[0] == "--check":
        onnx.checker.check_model(onnx.load(argv[1]), full_check=True)
        return 0
    if "-o" not in argv:
        raise SystemExit(__doc__)
    k = argv.index("-o")
    out, args = argv[k + 1], argv[:k] + argv[k + 2:]
    model = onnx.load(args[0])
    onnx.checker.check_model(model, full_check=True)
    g = model.graph
    assert [o.domain for o in model.opset_import] == [""] and model.opset_import[0].version >= 13
    v = {t.name: widen(numpy_helper.to_array(t)) for t in g.initializer}
    inits = set(v)
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != len(args) - 1:
        raise SystemExit(f"onnx_eval.py: the model takes {len(inputs)} inputs, {len(args) - 1} given")
    for i, path in zip(inputs, args[1:]):
        x = np.load(path)
        want = F64[i.type.tensor_type.elem_type]
        v[i.name] = x.astype(want)
    for node in g.node:
        for name, val in zip(node.output, run_node(node, v)):
            v[name] = np.asarray(val)
    np.save(out, v[g.output[0].name])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
