"""Where the Ed25519 signing key comes from (file, environment, generated on first use), and that key
material never leaks into errors."""

from __future__ import annotations

import base64
import multiprocessing
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jitpim.audit.signing import (
    KEY_FILENAME,
    PublicKey,
    Signature,
    Signer,
    load_public_key,
    load_signer,
)
from jitpim.cli import cli
from jitpim.errors import AuditError, ConfigError


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _raw_b64(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return base64.b64encode(raw).decode()


def test_key_from_a_file_pem_or_base64(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    expected = PublicKey.from_key(key.public_key()).key_id
    (tmp_path / "keys").mkdir()
    for text in (_pem(key), _raw_b64(key) + "\n"):
        path = tmp_path / "keys" / "key"
        path.write_text(text)
        path.chmod(0o600)
        environ = {"JITPIM_SIGNING_KEY_FILE": str(path), "HOME": str(tmp_path)}
        signer = load_signer(environ=environ, ledger_path=tmp_path / "l.sqlite3")
        assert signer is not None and signer.key_id == expected and signer.source == str(path)
    assert not (tmp_path / ".config" / "jitpim" / KEY_FILENAME).exists()  # a configured key: nothing generated


def test_a_key_file_beside_the_ledger_or_readable_by_others_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text(_pem(Ed25519PrivateKey.generate()))
    key.chmod(0o600)
    with pytest.raises(ConfigError, match="ledger's directory") as beside:
        load_signer(environ={"JITPIM_SIGNING_KEY_FILE": str(key)}, ledger_path=tmp_path / "l.sqlite3")
    assert "mv " in (beside.value.hint or "")
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="group or others") as loose:
        load_signer(environ={"JITPIM_SIGNING_KEY_FILE": str(key)}, ledger_path=tmp_path / "state" / "l.sqlite3")
    assert "chmod 600" in (loose.value.hint or "")
    # A key an older jitpim generated beside the ledger is refused with the command that moves it away.
    legacy = tmp_path / "state" / KEY_FILENAME
    legacy.parent.mkdir()
    legacy.write_text(_pem(Ed25519PrivateKey.generate()))
    legacy.chmod(0o600)
    with pytest.raises(ConfigError, match="ledger's directory"):
        load_signer(environ={"HOME": str(tmp_path)}, ledger_path=tmp_path / "state" / "l.sqlite3")


def test_key_from_the_environment_wins_over_a_generated_one(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    for text in (_pem(key), _raw_b64(key)):
        signer = load_signer(environ={"JITPIM_SIGNING_KEY": text}, ledger_path=tmp_path / "l.sqlite3")
        assert signer is not None and signer.key_id == PublicKey.from_key(key.public_key()).key_id
        assert signer.source == "$JITPIM_SIGNING_KEY"


def test_generated_on_first_use_apart_from_the_ledger_privately(tmp_path: Path) -> None:
    ledger = tmp_path / "state" / "jitpim" / "ledger.sqlite3"
    environ = {"HOME": str(tmp_path)}
    assert load_signer(environ=environ, ledger_path=ledger, create=False) is None
    first = load_signer(environ=environ, ledger_path=ledger)
    assert first is not None
    path = tmp_path / ".config" / "jitpim" / KEY_FILENAME
    assert not (ledger.parent / KEY_FILENAME).exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    xdg = load_signer(environ={"XDG_CONFIG_HOME": str(tmp_path / "cfg")}, ledger_path=ledger)
    assert xdg is not None and xdg.source == str(tmp_path / "cfg" / "jitpim" / KEY_FILENAME)
    again = load_signer(environ=environ, ledger_path=ledger, create=False)
    assert again is not None and again.key_id == first.key_id
    assert list(path.parent.glob(".*")) == []  # no temporary files left behind


def _race(ledger: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    signer = load_signer(environ={"HOME": str(Path(ledger).parent)}, ledger_path=Path(ledger))
    queue.put(signer.key_id if signer else None)


def test_processes_racing_to_generate_agree_on_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=_race, args=(str(tmp_path / "l.sqlite3"), queue)) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    ids = {queue.get(timeout=10) for _ in processes}
    assert len(ids) == 1 and None not in ids


def test_bad_keys_are_refused_without_showing_them(tmp_path: Path) -> None:
    for text in (
        "not a key at all",
        base64.b64encode(b"short").decode(),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    ):
        with pytest.raises(ConfigError) as caught:
            load_signer(environ={"JITPIM_SIGNING_KEY": text}, ledger_path=tmp_path / "l")
        assert text not in str(caught.value) and caught.value.hint
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

    other = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ConfigError, match="not an Ed25519 key"):
        load_signer(environ={"JITPIM_SIGNING_KEY": other.decode()}, ledger_path=tmp_path / "l")
    with pytest.raises(ConfigError, match="cannot read"):
        load_signer(environ={"JITPIM_SIGNING_KEY_FILE": str(tmp_path / "missing.pem")})


def test_signatures_and_public_key_export_round_trip(tmp_path: Path) -> None:
    signer = Signer.generate()
    signature = signer.sign_json({"b": 1, "a": "ü"})
    assert Signature.from_text(signature.to_text()) == signature
    assert signer.public.verify(signature, '{"a":"ü","b":1}'.encode())
    assert not signer.public.verify(signature, b'{"a":"u","b":1}')
    for text in (signer.public.to_pem(), signer.public.to_base64(), signer.private_pem().decode()):
        path = tmp_path / "pub"
        path.write_text(text)
        assert load_public_key(path).key_id == signer.key_id
    with pytest.raises(AuditError, match="algorithm"):
        Signature.from_json({"alg": "RS256", "key_id": "x", "sig": "AAAA"})
    with pytest.raises(AuditError, match="base64"):
        Signature.from_json({"alg": "Ed25519", "key_id": "x", "sig": "***"})
    assert "PRIVATE" not in repr(signer) and signer.key_id in repr(signer)


def test_public_key_command_creates_the_key_once_and_prints_it(tmp_path: Path) -> None:
    env = {"JITPIM_LEDGER": str(tmp_path / "ledger.sqlite3"), "HOME": str(tmp_path), "XDG_CONFIG_HOME": ""}
    pem = CliRunner().invoke(cli, ["audit", "public-key"], env=env)
    assert pem.exit_code == 0 and pem.output.startswith("-----BEGIN PUBLIC KEY-----")
    assert (tmp_path / ".config" / "jitpim" / KEY_FILENAME).is_file()
    again = CliRunner().invoke(cli, ["audit", "public-key", "--format", "base64", "-o", "json"], env=env)
    import json

    data = json.loads(again.output)
    assert PublicKey.from_text(data["public_key"]).key_id == data["key_id"] == PublicKey.from_text(pem.output).key_id
