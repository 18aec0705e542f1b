# STAND-IN for python:3.11-slim (no registry here): Debian bookworm's CPython 3.11 with
# pip, from tests/compose/images.sh's debootstrap root. Not the Docker Official Image.
FROM model-pkg/debian-standin-base:bookworm
LABEL org.opencontainers.image.description="model-pkg STAND-IN for python:3.11-slim (Debian bookworm CPython 3.11)"
CMD ["python3"]
