"""XML signatures on Haven's CAP documents, as IPAWS-OPEN requires them.

`sign_cap` adds an enveloped `<Signature>` (XML-DSig) as the last child of `<alert>`: RSA-SHA256
over SHA-256 digests, exclusive canonicalization (xml-exc-c14n), the whole document as its one
reference (URI ""), and the certificate in `<KeyInfo><X509Data>`. The key and certificate come
from HAVEN_CAP_SIGNING_KEY and HAVEN_CAP_SIGNING_CERT (PEM files); docs/cap.md. Pure: no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree  # type: ignore[import-untyped]  # no lxml-stubs installed
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.signer import XMLSigner
from signxml.util import namespaces

MIN_KEY_BITS = 2048


@dataclass(frozen=True)
class CapSigner:
    """An RSA private key and its certificate chain (the signer's certificate first)."""

    key: rsa.RSAPrivateKey
    certificates: tuple[x509.Certificate, ...]


def load_cap_signer(*, key_path: Path, cert_path: Path) -> CapSigner:
    """The key and certificates in two PEM files; ValueError saying what is wrong with them.

    The key must be an unencrypted RSA key of at least 2048 bits, and the first certificate
    must certify it. Expiry is not checked here: the receiver judges the certificate.
    """
    key_pem, cert_pem = _read(key_path, "key"), _read(cert_path, "certificate")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise ValueError(f"the key in {key_path} is encrypted; give it unencrypted") from None
    except ValueError:
        raise ValueError(f"{key_path} holds no PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"the key in {key_path} is not an RSA key; IPAWS signs with RSA-SHA256")
    if key.key_size < MIN_KEY_BITS:
        raise ValueError(f"the key in {key_path} has {key.key_size} bits; use {MIN_KEY_BITS}+")
    try:
        certificates = tuple(x509.load_pem_x509_certificates(cert_pem))
    except ValueError:
        raise ValueError(f"{cert_path} holds no PEM certificate") from None
    if certificates[0].public_key() != key.public_key():
        raise ValueError(f"the first certificate in {cert_path} is not for the key in {key_path}")
    return CapSigner(key=key, certificates=certificates)


def sign_cap(document: bytes, *, signer: CapSigner) -> bytes:
    """`document` (Haven's own CAP, UTF-8) with an enveloped XML signature as its last element.

    The signed bytes must be passed on as they are: re-indenting or re-encoding them breaks
    the signature.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    root = etree.fromstring(document, parser)
    xml_signer = XMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    # <Signature xmlns="http://www.w3.org/2000/09/xmldsig#">, as IPAWS's own messages write it.
    xml_signer.namespaces = {None: namespaces.ds}  # type: ignore[dict-item]
    signed = xml_signer.sign(root, key=signer.key, cert=list(signer.certificates))
    signed_document: bytes = etree.tostring(signed, xml_declaration=True, encoding="utf-8")
    return signed_document


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the {what} file {path}: {exc.strerror}") from None
