"""serving: TF Serving deployment files and the clients of every runtime.

    RestClient(url)            TF Serving's REST API
    GrpcClient(target)         TF Serving's gRPC PredictionService / ModelService
    OnnxClient(version_dir)    ONNX Runtime in-process (CPU or CUDA)
    SavedModelClient(version_dir)  TensorFlow in-process

Every client has ``generate(labels, noise) -> float32 [N,28,28,1] in [0, 1]``
and validates inputs with the shared validator before sending anything.
RestClient and GrpcClient share RemoteClient (remote.py): the reply checks and
one retry policy (retry.py: jittered backoff, a total ``deadline_s`` per call).
"""
