"""TF Serving's own TLS for gRPC: the --ssl_config_file it reads, written and checked here.

TF Serving's REST port has no TLS; its gRPC port does, from a text SSLConfig
holding the PEM texts themselves (model_servers/server.cc,
``BuildServerCredentials``: ``server_key`` and ``server_cert`` are the key pair,
``custom_ca`` becomes the roots that client certificates are checked
against, ``client_verify`` demands one). ``model-pkg tls-config`` writes such a
file from PEM files; ``load_ssl_config`` refuses one TF Serving would fail on
(a CHECK in that function aborts the server on a bad file). REST over TLS
needs a proxy in front (docs/security.md).
"""

import os

from google.protobuf import text_format

from model_pkg.fileio import atomic_write_text
from model_pkg.serving import protos
from model_pkg.serving.config_files import ConfigError


def _pem(path, what):
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError as err:
        raise ConfigError(f"{what} {path}: {err}") from err
    if "-----BEGIN " not in text:
        raise ConfigError(f"{what} {path}: not a PEM file")
    return text


def build_ssl_config(key_file, cert_file, ca_file=None, client_verify=False):
    """The SSLConfig message from PEM files (checked: the key matches the certificate)."""
    config = protos.ssl_config()(server_key=_pem(key_file, "server key"),
                                 server_cert=_pem(cert_file, "server certificate"),
                                 custom_ca=_pem(ca_file, "CA") if ca_file else "",
                                 client_verify=client_verify)
    check_ssl_config(config, f"{key_file} + {cert_file}")
    return config


def check_ssl_config(config, where):
    """Raises ConfigError for a config TF Serving's gRPC server could not use."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(config.server_key.encode(), password=None)
        cert = x509.load_pem_x509_certificate(config.server_cert.encode())
    except ValueError as err:
        raise ConfigError(f"{where}: server_key or server_cert is not valid PEM ({err})") from err
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(serialization.Encoding.PEM, public)
            != cert.public_key().public_bytes(serialization.Encoding.PEM, public)):
        raise ConfigError(f"{where}: server_key does not belong to server_cert")
    if config.client_verify and not config.custom_ca:
        raise ConfigError(f"{where}: client_verify needs custom_ca (the CA of the clients)")


def write_ssl_config(path, config):
    """Writes the SSLConfig text, readable by its owner and group only (it holds a key)."""
    atomic_write_text(path, "# TF Serving --ssl_config_file (SSLConfig); holds a private key\n"
                      + text_format.MessageToString(config), mode=0o640)


def load_ssl_config(path):
    """The SSLConfig at ``path``, parsed with TF Serving's field table and checked."""
    try:
        with open(path) as handle:
            config = text_format.Parse(handle.read(), protos.ssl_config()())
    except (OSError, text_format.ParseError) as err:
        raise ConfigError(f"{path}: {err}") from err
    check_ssl_config(config, path)
    if os.stat(path).st_mode & 0o004:
        raise ConfigError(f"{path}: readable by everyone, and it holds a private key "
                          "(chmod 640; docs/security.md)")
    return config
