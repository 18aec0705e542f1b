"""The clients over real TLS, with certificates made here (trustme).

gRPC: the stand-in with TF Serving's --ssl_config_file (an SSLConfig written by
``model-pkg tls-config``), with and without client certificates. REST: TF
Serving's REST has no TLS, so Debian's nginx terminates TLS in front of the
stand-in and demands a bearer token, as a deployment's proxy would.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from model_pkg.serving import tls
from model_pkg.serving.config_files import ConfigError
from model_pkg.serving.errors import ServerUnavailable, TLSError, Unauthorized
from model_pkg.serving.grpc_client import GrpcClient
from model_pkg.serving.local_clients import OnnxClient
from model_pkg.serving.rest_client import RestClient
from tests.serving.nginx import NginxProxy
from tests.serving.standin import StandIn, shipped_compose
from tests.serving.standin.flags import compose_service

LABELS, NOISE = [3, 8], np.random.default_rng(1).standard_normal((2, 100)).astype(np.float32)
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """PEM files: our CA, a server certificate for 127.0.0.1, a client one, another CA."""
    trustme = pytest.importorskip("trustme")
    folder = tmp_path_factory.mktemp("pki")
    ca, other = trustme.CA(), trustme.CA()
    server, client = ca.issue_cert("127.0.0.1", "localhost"), ca.issue_cert("client.example")
    files = {"ca": ca.cert_pem, "other_ca": other.cert_pem,
             "server_cert": server.cert_chain_pems[0], "server_key": server.private_key_pem,
             "client_cert": client.cert_chain_pems[0], "client_key": client.private_key_pem}
    for name, blob in files.items():
        blob.write_to_path(str(folder / f"{name}.pem"))
    return {name: str(folder / f"{name}.pem") for name in files}


def _tls_standin(published, config_dir, pki, client_verify):
    config = tls.build_ssl_config(pki["server_key"], pki["server_cert"], pki["ca"],
                                  client_verify=client_verify)
    tls.write_ssl_config(str(config_dir / "ssl.config"), config)
    spec = compose_service(shipped_compose(), "serving", env={
        "MODELS_DIR": published[0], "TF_SERVING_CONFIG_DIR": str(config_dir)})
    return StandIn(spec["flags"] + ["--ssl_config_file=/config/ssl.config"], spec["mounts"])


@pytest.fixture
def expected(published):
    return OnnxClient(published[1], device="cpu").generate(LABELS, NOISE)


def test_grpc_over_tls_with_the_right_ca(published, config_dir, pki, expected):
    server = _tls_standin(published, config_dir, pki, client_verify=False)
    try:
        images = GrpcClient(server.grpc_target, ca_file=pki["ca"]).generate(LABELS, NOISE)
        np.testing.assert_allclose(images, expected, rtol=0, atol=1e-5)
        with pytest.raises(TLSError, match="check the CA file"):
            GrpcClient(server.grpc_target, ca_file=pki["other_ca"], retries=0).generate(
                LABELS, NOISE)
        with pytest.raises(ServerUnavailable):   # a plaintext client cannot talk to it
            GrpcClient(server.grpc_target, retries=0, timeout_s=5).generate(LABELS, NOISE)
    finally:
        server.close()


def test_grpc_client_certificates_when_the_server_verifies_them(published, config_dir, pki,
                                                                 expected):
    server = _tls_standin(published, config_dir, pki, client_verify=True)
    try:
        client = GrpcClient(server.grpc_target, ca_file=pki["ca"], cert_file=pki["client_cert"],
                            key_file=pki["client_key"])
        np.testing.assert_allclose(client.generate(LABELS, NOISE), expected, rtol=0, atol=1e-5)
        with pytest.raises((TLSError, ServerUnavailable)):
            GrpcClient(server.grpc_target, ca_file=pki["ca"], retries=0, timeout_s=5).generate(
                LABELS, NOISE)
    finally:
        server.close()


def test_the_ssl_config_is_checked_as_tf_serving_needs_it(pki, tmp_path):
    with pytest.raises(ConfigError, match="does not belong to server_cert"):
        tls.build_ssl_config(pki["client_key"], pki["server_cert"])
    with pytest.raises(ConfigError, match="client_verify needs custom_ca"):
        tls.build_ssl_config(pki["server_key"], pki["server_cert"], client_verify=True)
    path = tmp_path / "ssl.config"
    tls.write_ssl_config(str(path), tls.build_ssl_config(pki["server_key"], pki["server_cert"]))
    assert path.stat().st_mode & 0o777 == 0o640 and tls.load_ssl_config(str(path)).server_cert
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by everyone"):
        tls.load_ssl_config(str(path))


@pytest.fixture(scope="module")
def proxy(standin, pki, tmp_path_factory):
    upstream = standin.rest_url.replace("http://", "")
    with NginxProxy(upstream, pki["server_cert"], pki["server_key"], TOKEN,
                    tmp_path_factory.mktemp("nginx")) as running:
        yield running


def test_rest_over_https_with_a_token(proxy, pki, expected):
    client = RestClient(proxy.url, ca_file=pki["ca"], headers={"Authorization": f"Bearer {TOKEN}"})
    np.testing.assert_allclose(client.generate(LABELS, NOISE), expected, rtol=0, atol=1e-5)


def test_rest_without_the_token_gets_the_proxys_401(proxy, pki):
    with pytest.raises(Unauthorized, match="HTTP 401"):
        RestClient(proxy.url, ca_file=pki["ca"]).generate(LABELS, NOISE)


def test_rest_with_the_wrong_ca_is_refused_and_not_retried(proxy, pki):
    with pytest.raises(TLSError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        RestClient(proxy.url, ca_file=pki["other_ca"],
                   headers={"Authorization": f"Bearer {TOKEN}"}).generate(LABELS, NOISE)


def test_generate_on_the_command_line_over_https(proxy, pki, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", SERVING_TOKEN=TOKEN)
    base = [sys.executable, "-m", "model_pkg", "generate", "--runtime", "rest", "--url", proxy.url,
            "--ca-file", pki["ca"], "--labels", "1", "--out", str(tmp_path / "d.png")]
    out = subprocess.run(base + ["--token-env", "SERVING_TOKEN"], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    out = subprocess.run(base, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2 and "HTTP 401" in out.stderr


def test_the_shipped_template_has_tf_servings_ssl_config_fields():
    from google.protobuf import text_format

    from model_pkg.serving import protos

    path = os.path.join(os.path.dirname(tls.__file__), "ssl.config.template")
    config = text_format.Parse(open(path).read(), protos.ssl_config()())
    assert config.server_key.startswith("-----BEGIN PRIVATE KEY-----")
    assert config.server_cert.startswith("-----BEGIN CERTIFICATE-----")
    assert not config.client_verify
    with pytest.raises(ConfigError, match="not valid PEM"):   # a template, not a config
        tls.check_ssl_config(config, path)
