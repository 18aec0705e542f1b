# STAND-IN for tensorflow/serving (no registry here): a TEST FIXTURE, not TF Serving.
# The pipeline image (the package, TensorFlow and its C API loader) plus the stand-in
# server of tests/serving/standin, installed under TF Serving's binary name so that
# docker-compose.yml's services run it with their own entrypoint, flags and mounts.
# Debian, like the real image's Ubuntu, has bash and grep (the healthcheck uses both).
# Build context: the tests/ folder (tests/compose/__main__.py).
ARG PIPELINE_IMAGE=model-pkg:0.1.0
FROM ${PIPELINE_IMAGE}
LABEL org.opencontainers.image.description="model-pkg TF Serving STAND-IN (test fixture), not tensorflow/serving"
RUN pip install --no-cache-dir 'PyYAML==6.0.4'
COPY __init__.py /opt/standin/tests/__init__.py
COPY serving/__init__.py /opt/standin/tests/serving/__init__.py
COPY serving/standin /opt/standin/tests/serving/standin
RUN printf '#!/bin/sh\nexec python3 -m tests.serving.standin.model_server "$@"\n' \
        > /usr/bin/tensorflow_model_server \
    && chmod 0755 /usr/bin/tensorflow_model_server
ENV PYTHONPATH=/opt/standin MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /
ENTRYPOINT ["tensorflow_model_server"]
