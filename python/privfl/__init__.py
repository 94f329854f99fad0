"""privfl: take part in a privfl federation from Python (docs/PYTHON.md).

Your code trains; privfl does the rest in C (libprivfl, through the
standard library's ctypes): pinning the aggregator, the privacy policy,
clipping, noise, quantization, secure aggregation masks, signatures and
the network.

    import privfl

    def train(weights, round):          # dict name -> NumPy array
        ...                             # your PyTorch/NumPy training
        return new_weights, num_examples

    privfl.run_client(server="tcp://agg:7700", server_key="agg.pub",
                      identity_dir="keys/me", init_model="init.safetensors",
                      train=train, max_rounds=10)
"""

import ctypes
import math
import os
import sys
import threading
import traceback

__all__ = ["run_client", "Layout", "PrivflError", "library"]

# enum pfl_err (common/include/privfl/err.h)
_ERR_INVAL = 2
_ERR_STATE = 7
_ERR_ABORTED = 17


class PrivflError(Exception):
    """A privfl call failed; .code is the pfl_err value."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code = code


def _find_library():
    here = os.path.dirname(os.path.abspath(__file__))
    cands = []
    if os.environ.get("PRIVFL_LIBRARY"):
        cands.append(os.environ["PRIVFL_LIBRARY"])
    cands.append(os.path.join(here, "libprivfl.so.0"))  # the build tree
    try:  # installed: written by make install
        from . import _libdir
        cands.append(os.path.normpath(os.path.join(here, _libdir.LIBDIR,
                                                   "libprivfl.so.0")))
    except ImportError:
        pass
    cands.append("libprivfl.so.0")  # the loader's search path
    errors = []
    for c in cands:
        if os.path.sep in c and not os.path.exists(c):
            continue
        try:
            return ctypes.CDLL(c)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("privfl: libprivfl.so.0 not found (tried %s)%s"
                      % (", ".join(cands),
                         ": " + "; ".join(errors) if errors else ""))


_lib = _find_library()
library = _lib

_TRAIN_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                             ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                             ctypes.POINTER(ctypes.c_float),
                             ctypes.POINTER(ctypes.c_uint32),
                             ctypes.POINTER(ctypes.c_double))


class _EvalResult(ctypes.Structure):  # struct pfl_eval_result
    _fields_ = [("num_examples", ctypes.c_uint32), ("loss", ctypes.c_double),
                ("accuracy", ctypes.c_double)]


_EVAL_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                            ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                            ctypes.POINTER(_EvalResult))


class _Trainer(ctypes.Structure):  # struct pfl_trainer
    _fields_ = [("train", _TRAIN_FN), ("arg", ctypes.c_void_p),
                ("evaluate", _EVAL_FN)]


class _Task(ctypes.Structure):  # struct pfl_task
    _fields_ = [("round", ctypes.c_uint64), ("plan", ctypes.c_void_p),
                ("seed", ctypes.c_uint64), ("why", ctypes.c_void_p),
                ("whylen", ctypes.c_size_t)]


class _PlanHead(ctypes.Structure):  # the start of struct pfl_msg_plan
    _fields_ = [("task", ctypes.c_char * 16), ("model", ctypes.c_char * 48),
                ("num_params", ctypes.c_uint32)]


class _LayoutTensor(ctypes.Structure):  # struct pfl_layout_tensor
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_char * 8),
                ("ndim", ctypes.c_int), ("shape", ctypes.c_int64 * 8),
                ("count", ctypes.c_size_t), ("federated", ctypes.c_bool),
                ("offset", ctypes.c_size_t),
                ("raw", ctypes.POINTER(ctypes.c_uint8)),
                ("raw_len", ctypes.c_size_t)]


class _Layout(ctypes.Structure):  # struct pfl_layout
    _fields_ = [("n", ctypes.c_size_t), ("t", ctypes.POINTER(_LayoutTensor)),
                ("num_params", ctypes.c_size_t),
                ("num_carried", ctypes.c_size_t),
                ("digest", ctypes.c_uint8 * 32)]


class _RunOpts(ctypes.Structure):  # struct pfl_client_run_opts
    _fields_ = [("keys", ctypes.POINTER(ctypes.c_char_p)),
                ("values", ctypes.POINTER(ctypes.c_char_p)),
                ("nsettings", ctypes.c_size_t),
                ("trainer", ctypes.POINTER(_Trainer)),
                ("layout_digest", ctypes.POINTER(ctypes.c_uint8)),
                ("stop", ctypes.POINTER(ctypes.c_int)),
                ("err", ctypes.c_void_p), ("errlen", ctypes.c_size_t)]


_lib.pfl_strerror.restype = ctypes.c_char_p
_lib.pfl_strerror.argtypes = [ctypes.c_int]
_lib.pfl_layout_load.restype = ctypes.c_int
_lib.pfl_layout_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(_Layout),
                                 ctypes.c_void_p, ctypes.c_char_p,
                                 ctypes.c_size_t]
_lib.pfl_layout_fini.restype = None
_lib.pfl_layout_fini.argtypes = [ctypes.POINTER(_Layout)]
_lib.pfl_client_run_settings.restype = ctypes.c_int
_lib.pfl_client_run_settings.argtypes = [ctypes.POINTER(_RunOpts)]


def _strerror(code):
    return _lib.pfl_strerror(code).decode()


class Tensor:
    """One tensor of a layout: name, dtype (safetensors name), shape;
    federated (a float tensor, averaged) or carried (kept as in the
    init file, never averaged)."""

    def __init__(self, t):
        self.name = t.name.decode()
        self.dtype = t.dtype.decode()
        self.shape = tuple(t.shape[d] for d in range(t.ndim))
        self.count = t.count
        self.federated = bool(t.federated)
        self.offset = t.offset
        self.raw = ctypes.string_at(t.raw, t.raw_len) if t.raw else None

    def __repr__(self):
        return "Tensor(%r, %s, %s%s)" % (self.name, self.dtype, self.shape,
                                        "" if self.federated else ", carried")


class Layout:
    """The tensor layout of a model file (the init_model the aggregator
    federates), as privfl derives it: tensors in name order, F32/F16/BF16
    tensors federated, other dtypes carried."""

    def __init__(self, path):
        lay = _Layout()
        err = ctypes.create_string_buffer(256)
        rv = _lib.pfl_layout_load(os.fsencode(path), ctypes.byref(lay), None,
                                  err, len(err))
        if rv != 0:
            raise PrivflError(rv, "%s: %s" % (path, err.value.decode()
                                              or _strerror(rv)))
        try:
            self.tensors = [Tensor(lay.t[i]) for i in range(lay.n)]
            self.num_params = lay.num_params
            self.digest = bytes(lay.digest)
        finally:
            _lib.pfl_layout_fini(ctypes.byref(lay))

    def __repr__(self):
        return "Layout(%d tensors, %d parameters, digest %s)" % (
            len(self.tensors), self.num_params, self.digest[:8].hex())


def _carried_array(t):
    import numpy as np
    from .safetensors import DTYPES
    return np.frombuffer(t.raw, dtype=np.dtype(DTYPES[t.dtype])
                         .newbyteorder("<")).reshape(t.shape).copy()


def _to_numpy(v):
    import numpy as np
    if hasattr(v, "detach"):  # a torch.Tensor
        v = v.detach().cpu().float().numpy() if v.is_floating_point() \
            else v.detach().cpu().numpy()
    return np.asarray(v)


class _Bridge:
    """The C trainer callback: flat float arrays <-> named NumPy arrays."""

    def __init__(self, layout, train, evaluate, stop):
        self.layout = layout
        self.train = train
        self.evaluate = evaluate
        self.stop = stop
        self.carried = {t.name: _carried_array(t)
                        for t in layout.tensors if not t.federated}
        self.interrupted = False
        self.cfn = _TRAIN_FN(self._call)
        # a NULL function pointer: no evaluation
        self.efn = _EVAL_FN(self._eval) if evaluate is not None \
            else ctypes.cast(None, _EVAL_FN)

    def weights(self, g):
        import numpy as np
        out = {}
        for t in self.layout.tensors:
            if not t.federated:
                out[t.name] = self.carried[t.name].copy()
                continue
            a = np.ctypeslib.as_array(g, shape=(self.layout.num_params,))
            a = a[t.offset:t.offset + t.count].reshape(t.shape)
            out[t.name] = a.astype(np.float16 if t.dtype == "F16"
                                   else np.float32)
        return out

    def put(self, new, local):
        import numpy as np
        if not hasattr(new, "keys"):
            return _ERR_INVAL, "train returned no dict of tensors"
        known = {t.name for t in self.layout.tensors}
        for k in new.keys():
            if k not in known:
                return _ERR_INVAL, "unknown tensor '%s'" % k
        dst = np.ctypeslib.as_array(local, shape=(self.layout.num_params,))
        for t in self.layout.tensors:
            if not t.federated:
                continue
            if t.name not in new:
                return _ERR_INVAL, "tensor '%s' missing" % t.name
            a = _to_numpy(new[t.name])
            if tuple(a.shape) != t.shape:
                return _ERR_INVAL, "'%s' shape %s, not %s" % (
                    t.name, tuple(a.shape), t.shape)
            a = a.astype(np.float32).ravel()
            if not np.isfinite(a).all():
                return _ERR_STATE, "'%s' is not finite (NaN/inf)" % t.name
            dst[t.offset:t.offset + t.count] = a
        return 0, ""

    def _call(self, arg, data, task, glob, local, nex, loss):
        t = ctypes.cast(task, ctypes.POINTER(_Task)).contents
        plan = ctypes.cast(t.plan, ctypes.POINTER(_PlanHead)).contents
        try:
            if plan.num_params != self.layout.num_params:  # (the client
                # checked the layout digest already; never read past)
                rv, why = _ERR_INVAL, "plan has %d parameters, not %d" % (
                    plan.num_params, self.layout.num_params)
            else:
                rv, why = self._train(t.round, glob, local, nex, loss)
        except KeyboardInterrupt:
            self.interrupted = True
            self.stop.value = 1
            rv, why = _ERR_ABORTED, "interrupted"
        except BaseException as e:  # never across the C frame
            traceback.print_exc(file=sys.stderr)
            rv, why = _ERR_ABORTED, "train raised %s" % type(e).__name__
        if rv != 0 and t.why and t.whylen > 0:
            b = why.encode()[:t.whylen - 1] + b"\0"
            ctypes.memmove(t.why, b, len(b))
        return rv

    def _eval(self, arg, data, task, glob, out):
        t = ctypes.cast(task, ctypes.POINTER(_Task)).contents
        plan = ctypes.cast(t.plan, ctypes.POINTER(_PlanHead)).contents
        if plan.num_params != self.layout.num_params:
            return _ERR_INVAL
        try:
            r = self.evaluate(self.weights(glob), t.round)
            n, lv, acc = int(r[0]), float(r[1]), float(r[2])
        except KeyboardInterrupt:
            self.interrupted = True
            self.stop.value = 1
            return _ERR_ABORTED
        except BaseException:  # never across the C frame
            traceback.print_exc(file=sys.stderr)
            return _ERR_ABORTED
        if not (0 <= n < 2 ** 32 and math.isfinite(lv) and lv >= 0 and
                0 <= acc <= 1):
            print("privfl: evaluate returned (%r, %r, %r): not (examples, "
                  "loss >= 0, accuracy in [0, 1]); no evaluation this round"
                  % (r[0], r[1], r[2]), file=sys.stderr)
            return _ERR_INVAL
        out[0].num_examples, out[0].loss, out[0].accuracy = n, lv, acc
        return 0

    def _train(self, rnd, glob, local, nex, loss):
        out = self.train(self.weights(glob), rnd)
        if not isinstance(out, tuple) or len(out) not in (2, 3):
            return _ERR_INVAL, "train must return (weights, num_examples)"
        n = out[1]
        if isinstance(n, bool) or not isinstance(n, int) and not (
                hasattr(n, "__index__")):
            return _ERR_INVAL, "num_examples is not an integer"
        n = int(n)
        if n < 0 or n >= 2 ** 32:
            return _ERR_INVAL, "num_examples %d out of range" % n
        rv, why = self.put(out[0], local)
        if rv != 0:
            return rv, why
        nex[0] = n
        lv = float(out[2]) if len(out) == 3 else float("nan")
        loss[0] = lv if math.isfinite(lv) else float("nan")
        return 0, ""


def _setting(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def run_client(server, server_key=None, identity_dir=None, train=None,
               max_rounds=0, init_model=None, evaluate=None, **settings):
    """Take part in a federation until max_rounds rounds were released
    with this client's update (0: until interrupted).

    train(weights, round) -> (new_weights, num_examples[, train_loss]):
    weights is a dict tensor name -> NumPy array holding the global model
    (float32; float16 for F16 tensors; carried tensors such as BatchNorm's
    num_batches_tracked with init_model's values). Return the locally
    trained weights as the same kind of dict (NumPy arrays or CPU torch
    tensors; carried tensors may be left out and are ignored). A train
    that raises, returns a wrong shape, an unknown or missing tensor, or a
    non-finite value makes this client withdraw from that round with the
    reason (the round does not wait for it); the next round goes on.

    init_model: the safetensors file the aggregator federates
    (--model custom --init_model): the client trains that layout and
    refuses plans for any other. settings: any privfl-client setting by
    name (docs/CONFIG.md), e.g. log_level="warn", seed=1,
    require_secure_aggregation="secagg+". evaluate(weights, round) ->
    (num_examples, loss, accuracy): federated evaluation of the round's
    global model on this device's held-out data (called before train in
    rounds whose plan asks for it; the aggregator sums the scores, under
    secure aggregation when it is on). A failing evaluate reports no
    evaluation for that round; training goes on.
    Raises PrivflError when the client cannot run or stops on an error;
    KeyboardInterrupt (Ctrl-C) stops the client and is raised again. train
    runs on a thread of the client's, one call at a time."""
    if train is None or not callable(train):
        raise TypeError("run_client needs train=fn(weights, round)")
    if evaluate is not None and not callable(evaluate):
        raise TypeError("evaluate must be fn(weights, round)")
    if init_model is None:
        raise TypeError("run_client needs init_model=PATH, the "
                        "safetensors file the aggregator federates")
    layout = Layout(init_model)
    s = {"server": server, "max_rounds": max_rounds}
    if server_key is not None:
        s["server_key"] = os.fspath(server_key)
    if identity_dir is not None:
        s["identity_dir"] = os.fspath(identity_dir)
    s.update(settings)
    keys = [k.encode() for k in s]
    vals = [_setting(v).encode() for v in s.values()]
    stop = ctypes.c_int(0)
    bridge = _Bridge(layout, train, evaluate, stop)
    tr = _Trainer(bridge.cfn, None, bridge.efn)
    dig = (ctypes.c_uint8 * 32)(*layout.digest)
    err = ctypes.create_string_buffer(512)
    opts = _RunOpts((ctypes.c_char_p * len(keys))(*keys),
                    (ctypes.c_char_p * len(vals))(*vals), len(keys),
                    ctypes.pointer(tr), dig, ctypes.pointer(stop),
                    ctypes.addressof(err), len(err))
    # The client runs on a thread of its own (train is called there), so
    # that Ctrl-C reaches this one at once, also while the client waits
    # for the network: it sets stop, and the library ends the request.
    result = []
    th = threading.Thread(target=lambda: result.append(
        _lib.pfl_client_run_settings(ctypes.byref(opts))), daemon=True)
    th.start()
    try:
        while th.is_alive():
            th.join(0.2)
    except KeyboardInterrupt:
        stop.value = 1
        th.join()
        raise
    rv = result[0]
    if bridge.interrupted:
        raise KeyboardInterrupt
    if rv != 0:
        raise PrivflError(rv, err.value.decode() or _strerror(rv))
