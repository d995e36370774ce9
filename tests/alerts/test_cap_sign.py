"""Signed CAP: an enveloped XML signature that IPAWS-OPEN accepts and any change breaks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from signxml import DigestAlgorithm, SignatureMethod, XMLVerifier
from signxml.exceptions import InvalidSignature
from signxml.verifier import SignatureConfiguration

from alerts.cap import render_cap
from alerts.cap_read import draft_from_cap, parse_cap
from alerts.cap_sign import CapSigner, load_cap_signer, sign_cap
from alerts.publish import alert_as_sent, cap_document
from haven.app import create_app
from haven.db import get_session
from tests.alerts.test_alerts_api import send
from tests.alerts.test_cap import assert_valid_cap_and_ipaws, create_message
from tests.alerts.test_cap_read import IPAWS_AMBER
from tests.conftest import make_settings
from tests.factories import create_agency, create_officer

DS = "{http://www.w3.org/2000/09/xmldsig#}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
EXCLUSIVE_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
# What a receiver such as IPAWS-OPEN expects, and nothing weaker.
IPAWS = SignatureConfiguration(
    signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
)


def write_key_and_certificate(
    folder: Path, *, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None
) -> tuple[Path, Path]:
    """A throwaway key and a self-signed certificate for it, as PEM files in `folder`."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Haven CAP test signer")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / "cap-key.pem", folder / "cap-cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@pytest.fixture(scope="module")
def signing_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_key_and_certificate(tmp_path_factory.mktemp("cap-signing"))


@pytest.fixture(scope="module")
def signer(signing_files: tuple[Path, Path]) -> CapSigner:
    key_path, cert_path = signing_files
    return load_cap_signer(key_path=key_path, cert_path=cert_path)


def verify(document: bytes, cert_path: Path) -> None:
    XMLVerifier().verify(document, x509_cert=cert_path.read_text(), expect_config=IPAWS)


def test_a_signed_cap_verifies_against_its_certificate_and_stays_valid_cap(
    signer: CapSigner, signing_files: tuple[Path, Path]
) -> None:
    document = sign_cap(render_cap(create_message()), signer=signer)
    verify(document, signing_files[1])
    assert_valid_cap_and_ipaws(document)
    root = etree.fromstring(document)
    signature = root[-1]
    assert signature.tag == f"{DS}Signature"  # the last child of <alert>
    assert signature.prefix is None  # <Signature xmlns="...xmldsig#">, as IPAWS writes it
    signed_info = signature.find(f"{DS}SignedInfo")
    assert signed_info.find(f"{DS}CanonicalizationMethod").get("Algorithm") == EXCLUSIVE_C14N
    assert signed_info.find(f"{DS}SignatureMethod").get("Algorithm") == RSA_SHA256
    reference = signed_info.find(f"{DS}Reference")
    assert reference.get("URI") == ""  # the whole document
    transforms = [t.get("Algorithm") for t in reference.iter(f"{DS}Transform")]
    assert transforms == [ENVELOPED, EXCLUSIVE_C14N]
    assert signature.find(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate") is not None
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def flip_first_signature_byte(document: bytes) -> bytes:
    """The document with the first character of its SignatureValue changed (still base64)."""
    at = document.index(b"<SignatureValue>") + len(b"<SignatureValue>")
    return document[:at] + (b"B" if document[at : at + 1] == b"A" else b"A") + document[at + 1 :]


@pytest.mark.parametrize(
    ("original", "changed"),
    [
        (b"Jane Doe, 7, 4 ft", b"Jane Doe, 8, 4 ft"),  # the description
        (b"<status>Actual</status>", b"<status>Actuel</status>"),
        (b"<value>017167</value>", b"<value>017168</value>"),  # the area's SAME code
        (b"<SignatureValue>", None),  # the signature itself
    ],
    ids=["description", "status", "geocode", "signature value"],
)
def test_changing_one_byte_of_a_signed_cap_fails_verification(
    signer: CapSigner, signing_files: tuple[Path, Path], original: bytes, changed: bytes | None
) -> None:
    document = sign_cap(render_cap(create_message()), signer=signer)
    verify(document, signing_files[1])
    assert document.count(original) == 1
    if changed is None:
        tampered = flip_first_signature_byte(document)
    else:
        tampered = document.replace(original, changed)
    assert len(tampered) == len(document)
    assert sum(a != b for a, b in zip(tampered, document, strict=True)) == 1
    with pytest.raises(InvalidSignature):
        verify(tampered, signing_files[1])


def test_another_certificate_does_not_verify_a_signed_cap(
    signer: CapSigner, tmp_path: Path
) -> None:
    document = sign_cap(render_cap(create_message()), signer=signer)
    _, other_cert = write_key_and_certificate(tmp_path)
    with pytest.raises(InvalidSignature):
        verify(document, other_cert)


def test_a_signed_amber_alert_still_reads_and_imports(signer: CapSigner) -> None:
    signed = sign_cap(IPAWS_AMBER.encode(), signer=signer)
    assert draft_from_cap(parse_cap(signed)) == draft_from_cap(parse_cap(IPAWS_AMBER.encode()))


def test_a_key_and_certificate_haven_cannot_sign_with_are_refused_saying_why(
    tmp_path: Path, signing_files: tuple[Path, Path]
) -> None:
    key_path, cert_path = signing_files

    def refused(key: Path, cert: Path) -> str:
        with pytest.raises(ValueError, match=r"\.pem") as caught:
            load_cap_signer(key_path=key, cert_path=cert)
        return str(caught.value)

    assert "cannot read the key file" in refused(tmp_path / "missing.pem", cert_path)
    assert "holds no PEM private key" in refused(cert_path, cert_path)
    assert "holds no PEM certificate" in refused(key_path, key_path)
    (tmp_path / "ec").mkdir()
    ec_key, ec_cert = write_key_and_certificate(
        tmp_path / "ec", key=ec.generate_private_key(ec.SECP256R1())
    )
    assert "is not an RSA key" in refused(ec_key, ec_cert)
    (tmp_path / "other").mkdir()
    _, other_cert = write_key_and_certificate(tmp_path / "other")
    assert "is not for the key" in refused(key_path, other_cert)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        serialization.load_pem_private_key(key_path.read_bytes(), password=None).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    assert "is encrypted" in refused(encrypted, cert_path)
    (tmp_path / "small").mkdir()
    small_key, small_cert = write_key_and_certificate(
        tmp_path / "small",
        key=rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 - refused
    )
    assert "has 1024 bits" in refused(small_key, small_cert)


# --- in the app: every CAP document served (and pushed) is signed when configured ---


@pytest.fixture
def signing_app(database_url: str, signing_files: tuple[Path, Path]) -> Iterator[Flask]:
    """A second app on the test's database, with a CAP signing key."""
    key_path, cert_path = signing_files
    app = create_app(
        make_settings(database_url, cap_signing_key=key_path, cap_signing_cert=cert_path)
    )
    app.config["TESTING"] = True
    yield app
    app.extensions["haven.db"].dispose()


def test_the_served_cap_is_signed_when_a_key_is_set_and_unsigned_by_default(
    app: Flask,
    client: FlaskClient,
    signing_app: Flask,
    signing_files: tuple[Path, Path],
) -> None:
    # Both apps share the test's database: the signing one serves the same alert.
    create_agency(app)
    officers = {
        "drafter": create_officer(app, name="Drafter"),
        "approver": create_officer(app, name="Approver", approver=True),
    }
    alert = send(client, officers)
    unsigned = client.get(f"/alerts/{alert['id']}.cap").data
    assert etree.fromstring(unsigned).find(f"{DS}Signature") is None
    signed = signing_app.test_client().get(f"/alerts/{alert['id']}.cap")
    assert signed.status_code == 200
    verify(signed.data, signing_files[1])
    assert_valid_cap_and_ipaws(signed.data)
    root = etree.fromstring(signed.data)
    assert root[-1].tag == f"{DS}Signature"
    assert root.findtext(f"{CAP}identifier") == etree.fromstring(unsigned).findtext(
        f"{CAP}identifier"
    )
    # A push to a distributor renders each version the same way, in an app context.
    with signing_app.app_context():
        session = get_session()
        pushed = cap_document(
            session=session,
            alert=alert_as_sent(session=session, alert_id=alert["id"], version=1),
            public_url="https://haven.example",
        )
    verify(pushed, signing_files[1])
