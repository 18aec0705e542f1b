"""A version loaded by TF Serving's own loader, in process, through TensorFlow's C API.

TF Serving loads a SavedModel with ``tensorflow::LoadSavedModel``
(tensorflow/serving: ``session_bundle/oss/session_bundle_util.cc``,
``LoadSessionBundleOrSavedModelBundle``). The TensorFlow wheel's
``libtensorflow_cc.so.2`` exports ``TF_LoadSessionFromSavedModel``, which calls
that same C++ function, so a version that loads and runs here loads and runs
with TF Serving's loader. Requests run by the SignatureDef's tensor names with
``TF_SessionRun``, as TF Serving's predict path does (``predict_util.cc``,
``RunPredict``): no Python graph code is involved.

    runtime = CApiRuntime(version_dir)
    images = runtime.generate(label, noise)        # validated first
    images = runtime.run_unchecked(label, noise)   # the graph's own asserts refuse
"""

import ctypes
import importlib.util
import os
import threading

import numpy as np

from model_pkg import contract
from model_pkg.export.manifest import verify_version
from model_pkg.validation import validate_inputs

# TF_DataType (tensorflow/c/tf_datatype.h) for the NumPy dtypes a caller may feed.
_TF_DTYPE = {np.dtype(np.float32): 1, np.dtype(np.float64): 2, np.dtype(np.int32): 3,
             np.dtype(np.uint8): 4, np.dtype(np.int16): 5, np.dtype(np.int8): 6,
             np.dtype(np.int64): 9, np.dtype(np.bool_): 10, np.dtype(np.uint16): 17,
             np.dtype(np.float16): 19, np.dtype(np.uint32): 22, np.dtype(np.uint64): 23}
_NP_DTYPE = {code: dtype for dtype, code in _TF_DTYPE.items()}
# absl::StatusCode names, as TF_GetCode returns them.
_CODES = ("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
          "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
          "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
          "UNAUTHENTICATED")


class CApiError(RuntimeError):
    """A non-OK TF_Status: ``code`` is its name (INVALID_ARGUMENT, NOT_FOUND, ...)."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class _Output(ctypes.Structure):
    _fields_ = [("oper", ctypes.c_void_p), ("index", ctypes.c_int)]


class _Buffer(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("length", ctypes.c_size_t),
                ("data_deallocator", ctypes.c_void_p)]


_lib = None
_lib_lock = threading.Lock()


def library():
    """libtensorflow_cc.so.2 of the installed TensorFlow, with the C API's signatures set."""
    global _lib
    with _lib_lock:
        if _lib is None:
            folder = importlib.util.find_spec("tensorflow").submodule_search_locations[0]
            ctypes.CDLL(os.path.join(folder, "libtensorflow_framework.so.2"),
                        mode=ctypes.RTLD_GLOBAL)
            _lib = _declare(ctypes.CDLL(os.path.join(folder, "libtensorflow_cc.so.2"),
                                        mode=ctypes.RTLD_GLOBAL))
    return _lib


def _declare(lib):
    p, i, i64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
    signatures = {
        "TF_NewStatus": (p, []), "TF_DeleteStatus": (None, [p]), "TF_GetCode": (i, [p]),
        "TF_Message": (ctypes.c_char_p, [p]), "TF_NewGraph": (p, []),
        "TF_DeleteGraph": (None, [p]), "TF_NewSessionOptions": (p, []),
        "TF_DeleteSessionOptions": (None, [p]), "TF_NewBuffer": (ctypes.POINTER(_Buffer), []),
        "TF_DeleteBuffer": (None, [p]),
        "TF_LoadSessionFromSavedModel": (p, [p, p, ctypes.c_char_p, ctypes.POINTER(
            ctypes.c_char_p), i, p, p, p]),
        "TF_CloseSession": (None, [p, p]), "TF_DeleteSession": (None, [p, p]),
        "TF_GraphOperationByName": (p, [p, ctypes.c_char_p]),
        "TF_AllocateTensor": (p, [i, ctypes.POINTER(i64), i, ctypes.c_size_t]),
        "TF_DeleteTensor": (None, [p]), "TF_TensorData": (p, [p]),
        "TF_TensorByteSize": (ctypes.c_size_t, [p]), "TF_TensorType": (i, [p]),
        "TF_NumDims": (i, [p]), "TF_Dim": (i64, [p, i]),
        "TF_SessionRun": (None, [p, p, ctypes.POINTER(_Output), ctypes.POINTER(p), i,
                                 ctypes.POINTER(_Output), ctypes.POINTER(p), i, p, i, p, p]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


class _Status:
    """A TF_Status for one call; ``check()`` raises CApiError when it is not OK."""

    def __init__(self, lib):
        self.lib, self.ptr = lib, lib.TF_NewStatus()

    def check(self):
        code = self.lib.TF_GetCode(self.ptr)
        if code:
            message = self.lib.TF_Message(self.ptr).decode("utf-8", "replace")
            raise CApiError(_CODES[code] if code < len(_CODES) else str(code), message)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.lib.TF_DeleteStatus(self.ptr)


def load_meta_graph(lib, path, graph):
    """(TF_Session, MetaGraphDef) of ``path``'s "serve" MetaGraph (tensorflow::LoadSavedModel)."""
    from tensorflow.core.protobuf import meta_graph_pb2

    options, buffer = lib.TF_NewSessionOptions(), lib.TF_NewBuffer()
    tags = (ctypes.c_char_p * 1)(b"serve")
    try:
        with _Status(lib) as status:
            session = lib.TF_LoadSessionFromSavedModel(
                options, None, os.fsencode(path), tags, 1, graph, buffer, status.ptr)
            status.check()
        meta_graph = meta_graph_pb2.MetaGraphDef.FromString(
            ctypes.string_at(buffer.contents.data, buffer.contents.length))
    finally:
        lib.TF_DeleteBuffer(buffer)
        lib.TF_DeleteSessionOptions(options)
    return session, meta_graph


def _to_tensor(lib, name, value):
    """A TF_Tensor holding a copy of ``value`` (its own dtype and rank: the session judges
    them). Not np.ascontiguousarray: it turns a scalar into shape [1], which TF Serving
    never does (a JSON or TensorProto scalar reaches the graph as rank 0)."""
    value = np.asarray(value, order="C")
    if value.dtype not in _TF_DTYPE:   # strings, objects: TF would refuse them as well
        raise CApiError("INVALID_ARGUMENT", f"{name}: dtype {value.dtype} cannot be fed "
                        "through this C-API binding (numeric dtypes only)")
    dims = (ctypes.c_int64 * value.ndim)(*value.shape)
    tensor = lib.TF_AllocateTensor(_TF_DTYPE[value.dtype], dims, value.ndim, value.nbytes)
    if value.nbytes:
        ctypes.memmove(lib.TF_TensorData(tensor), value.ctypes.data, value.nbytes)
    return tensor


def _from_tensor(lib, tensor):
    shape = [lib.TF_Dim(tensor, d) for d in range(lib.TF_NumDims(tensor))]
    dtype = _NP_DTYPE[lib.TF_TensorType(tensor)]
    data = ctypes.string_at(lib.TF_TensorData(tensor), lib.TF_TensorByteSize(tensor))
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


class CApiRuntime:
    """serving_default of a version, loaded and run through TensorFlow's C API."""

    name = "savedmodel_c_api"

    def __init__(self, path, verify=True):
        if verify:
            verify_version(path)
        self._lib = lib = library()
        self._graph = lib.TF_NewGraph()
        self._session, meta_graph = load_meta_graph(lib, path, self._graph)
        self.signature_defs = dict(meta_graph.signature_def)
        self.signature_def = self.signature_defs[contract.SIGNATURE_NAME]
        self.input_names = tuple(sorted(self.signature_def.inputs))
        self._inputs = {k: self._endpoint(v.name) for k, v in self.signature_def.inputs.items()}
        self._output = self._endpoint(self.signature_def.outputs[contract.IMAGES_KEY].name)
        self._closed = False

    def _endpoint(self, tensor_name):
        """'op:index' -> TF_Output, as TF Serving resolves a TensorInfo's name."""
        op_name, _, index = tensor_name.partition(":")
        op = self._lib.TF_GraphOperationByName(self._graph, op_name.encode())
        if not op:
            raise CApiError("NOT_FOUND", f"signature tensor {tensor_name} is not in the graph")
        return _Output(op, int(index or 0))

    def run_tensors(self, feeds):
        """{input alias: array} -> images, by TF_SessionRun; CApiError as the session says."""
        lib, names = self._lib, list(feeds)
        inputs = (_Output * len(names))(*(self._inputs[n] for n in names))
        values = (ctypes.c_void_p * len(names))()
        output, result = (_Output * 1)(self._output), (ctypes.c_void_p * 1)()
        try:
            for i, name in enumerate(names):
                values[i] = _to_tensor(lib, name, feeds[name])
            with _Status(lib) as status:
                lib.TF_SessionRun(self._session, None, inputs, values, len(names), output,
                                  result, 1, None, 0, None, status.ptr)
                status.check()
            return _from_tensor(lib, result[0])
        finally:
            for tensor in (*values, result[0]):
                if tensor:
                    lib.TF_DeleteTensor(tensor)

    def run_unchecked(self, label, noise):
        return self.run_tensors({contract.LABEL_KEY: label, contract.NOISE_KEY: noise})

    def generate(self, label, noise):
        return self.run_unchecked(*validate_inputs(label, noise))

    def run_request(self, request):
        """A PredictRequest's inputs by alias, as TF Serving's RunPredict feeds them."""
        import tensorflow as tf

        return self.run_tensors({name: tf.make_ndarray(proto)
                                 for name, proto in request.inputs.items()})

    def close(self):
        if not self._closed:
            self._closed = True
            with _Status(self._lib) as status:
                self._lib.TF_CloseSession(self._session, status.ptr)
                self._lib.TF_DeleteSession(self._session, status.ptr)
            self._lib.TF_DeleteGraph(self._graph)


def replay_warmup(runtime, version_dir):
    """Runs every warmup record of ``version_dir`` as TF Serving does at load.

    A record that fails would fail TF Serving's load of the version
    (servables/tensorflow/saved_model_warmup.cc, ``RunWarmupRequest``), so
    this raises. Returns the batch size of each record.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    sizes = []
    path = os.path.join(version_dir, contract.WARMUP_RELPATH)
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
        images = runtime.run_request(request)
        n = images.shape[0]
        if images.shape != (n, *contract.IMAGE_SHAPE):
            raise CApiError("INTERNAL", f"warmup record {len(sizes)}: images {images.shape}")
        sizes.append(n)
    return sizes
