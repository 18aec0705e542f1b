"""export: from a training checkpoint to a published, verified model version.

    checkpoint -> SavedModel (+ TF Serving warmup) + ONNX -> parity -> manifest
               -> atomic rename into <models-dir>/cgan/<version>/

Entry point: ``export.exporter.export_from_workdir``. Everything that loads a
version verifies its manifest first (``export.manifest.verify_version``).
"""
