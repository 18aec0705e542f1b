"""Signed versions: refused unsigned, tampered or by an untrusted key once keys are configured."""

import json
import os
import shutil

import pytest

from model_pkg import contract
from model_pkg.export import signing
from model_pkg.export.exporter import export_from_workdir
from model_pkg.export.manifest import IntegrityError, manifest_digest, verify_version
from model_pkg.export.runtimes import CApiRuntime, OnnxRuntime, SavedModelRuntime


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """{"private", "public", "other_public"} key files."""
    folder = tmp_path_factory.mktemp("keys")
    signing.generate_key_pair(str(folder / "key.pem"), str(folder / "key.pub.pem"))
    signing.generate_key_pair(str(folder / "other.pem"), str(folder / "other.pub.pem"))
    return {"private": str(folder / "key.pem"), "public": str(folder / "key.pub.pem"),
            "other_public": str(folder / "other.pub.pem")}


@pytest.fixture(scope="module")
def signed(trained_workdir, keys, tmp_path_factory):
    models = str(tmp_path_factory.mktemp("signed"))
    return export_from_workdir(trained_workdir, models, log=lambda *_: None, quality=False,
                               signing_key=keys["private"])


def test_the_private_key_is_written_for_its_owner_only(keys):
    assert os.stat(keys["private"]).st_mode & 0o777 == 0o600


def test_a_signed_version_verifies_with_its_key(signed, keys):
    manifest = verify_version(signed, signing.load_trusted_keys(keys["public"]))
    assert manifest["signing"]["algorithm"] == "ed25519"
    assert manifest["signing"]["key_id"] in signing.load_trusted_keys(keys["public"])


def test_an_unsigned_version_is_refused_when_keys_are_configured(published, keys):
    with pytest.raises(IntegrityError, match="version 1 is not signed"):
        verify_version(published[1], signing.load_trusted_keys(keys["public"]))
    assert verify_version(published[1])["version"] == 1   # no keys configured: not required


def test_a_wrong_key_is_refused(signed, keys):
    with pytest.raises(signing.SignatureError, match="which is not trusted"):
        verify_version(signed, signing.load_trusted_keys(keys["other_public"]))


def test_a_tampered_manifest_is_refused(signed, keys, tmp_path):
    copy = tmp_path / "cgan" / "1"
    shutil.copytree(signed, copy)
    path = copy / contract.MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest["training"]["step"] = 10_000        # a claim changed after signing,
    manifest["digest"] = manifest_digest(manifest)   # and the digest made consistent
    path.write_text(json.dumps(manifest))
    with pytest.raises(signing.SignatureError, match="has a bad signature"):
        verify_version(str(copy), signing.load_trusted_keys(keys["public"]))


@pytest.mark.parametrize("loader", [OnnxRuntime, SavedModelRuntime, CApiRuntime])
def test_every_loader_requires_the_signature_from_the_environment(published, signed, keys,
                                                                  monkeypatch, loader):
    monkeypatch.setenv(signing.TRUSTED_KEYS_ENV, keys["public"])
    loader(signed)
    with pytest.raises(IntegrityError, match="is not signed"):
        loader(published[1])


def test_several_trusted_keys_for_rotation(signed, keys, tmp_path):
    both = tmp_path / "trusted.pem"
    both.write_bytes(open(keys["other_public"], "rb").read() + open(keys["public"], "rb").read())
    assert len(signing.load_trusted_keys(str(both))) == 2
    verify_version(signed, signing.load_trusted_keys(str(both)))


@pytest.mark.parametrize("planted", ["key.pem", "key.pub.pem"])
def test_keygen_refuses_a_planted_symlink_and_leaves_its_target_alone(tmp_path, planted):
    target = tmp_path / "victim.txt"
    target.write_text("precious\n")
    (tmp_path / planted).symlink_to(target)
    with pytest.raises(signing.SignatureError, match=f"{planted}: exists"):
        signing.generate_key_pair(str(tmp_path / "key.pem"), str(tmp_path / "key.pub.pem"))
    assert target.read_text() == "precious\n"
    # Nothing half-made: the other key file was not written either.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([planted, "victim.txt"])


def test_keygen_refuses_to_overwrite_an_existing_key(tmp_path):
    signing.generate_key_pair(str(tmp_path / "k.pem"), str(tmp_path / "k.pub.pem"))
    before = (tmp_path / "k.pub.pem").read_bytes()
    with pytest.raises(signing.SignatureError, match="k.pem: exists"):
        signing.generate_key_pair(str(tmp_path / "k.pem"), str(tmp_path / "k.pub.pem"))
    assert (tmp_path / "k.pub.pem").read_bytes() == before


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_trusted_keys_variable_is_an_error_not_checks_off(monkeypatch, value):
    monkeypatch.setenv(signing.TRUSTED_KEYS_ENV, value)
    with pytest.raises(signing.SignatureError, match="MODEL_PKG_TRUSTED_KEYS is set but empty"):
        signing.check({"version": 1}, "somewhere/manifest.json")
    monkeypatch.delenv(signing.TRUSTED_KEYS_ENV)
    signing.check({"version": 1}, "somewhere/manifest.json")   # unset: checks off, as documented
