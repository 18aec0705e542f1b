# STAND-IN for nginx:1.22.1 (no registry here): Debian bookworm's nginx-light 1.22.1, the
# same nginx the balancer tests run (tests/serving/balancer.py). Not the official image.
FROM model-pkg/debian-standin-base:bookworm
LABEL org.opencontainers.image.description="model-pkg STAND-IN for nginx:1.22.1 (Debian nginx-light)"
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
