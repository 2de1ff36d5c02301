#!/usr/bin/env python3
"""Independent reference for the non-standard OPRF suite SM2-SM3 (pure Python big integers).

Written from RFC 9497 §3 (mode 0x00) and the suite's definition in `src/oprf.rs` (RFC 9497's
P256-SHA256 with SM2 for P-256 and SM3 for SHA-256), not from the Rust code. Hash-to-curve,
expand_message_xmd and SM3 come from `sm2_sswu_ref.py` (itself checked against RFC 9380 and
GB/T 32905); scalar multiplication is textbook double-and-add in affine coordinates.

These are cross-check values of our own suite, not standard test vectors (none exist).

Run: python3 crates/crypto/tests/it/oprf_sm2_sm3_ref.py
"""

import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sm2_sswu_ref as ref  # noqa: E402

CONTEXT = b"OPRFV1-" + bytes([0]) + b"-" + b"SM2-SM3"
Z = ref.find_z_sswu()


def mul(k, pt):
    acc = None
    for bit in bin(k)[2:]:
        acc = ref.add(acc, acc)
        if bit == "1":
            acc = ref.add(acc, pt)
    return acc


def serialize(pt):
    x, y = pt
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


def hash_to_group(msg):
    return ref.hash_to_curve(msg, b"HashToGroup-" + CONTEXT, Z)[4]


def hash_to_scalar(msg, dst):
    ub = ref.expand_message_xmd(ref.sm3, 32, 64, msg, dst, 48)
    return int.from_bytes(ub, "big") % ref.N


def derive_key_pair(seed, info):
    derive_input = seed + len(info).to_bytes(2, "big") + info
    for counter in range(256):
        sk = hash_to_scalar(derive_input + bytes([counter]), b"DeriveKeyPair" + CONTEXT)
        if sk != 0:
            return sk
    raise ValueError("DeriveKeyPairError")


def finalize_hash(inp, element):
    data = len(inp).to_bytes(2, "big") + inp + len(element).to_bytes(2, "big") + element
    return ref.sm3(data + b"Finalize").digest()


def main():
    seed = bytes([0xA3] * 32)
    info = b"test key"
    sk = derive_key_pair(seed, info)
    print("Seed =", seed.hex())
    print("KeyInfo =", info.hex())
    print("skSm =", sk.to_bytes(32, "big").hex())
    blind = int("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706", 16)
    for inp in [bytes([0]), bytes([0x5A] * 17)]:
        p = hash_to_group(inp)
        blinded = mul(blind, p)
        evaluated = mul(sk, blinded)
        unblinded = mul(pow(blind, -1, ref.N), evaluated)
        out = finalize_hash(inp, serialize(unblinded))
        assert out == finalize_hash(inp, serialize(mul(sk, p)))  # Evaluate
        print()
        print("Input =", inp.hex())
        print("Blind =", blind.to_bytes(32, "big").hex())
        print("BlindedElement =", serialize(blinded).hex())
        print("EvaluationElement =", serialize(evaluated).hex())
        print("Output =", out.hex())


if __name__ == "__main__":
    main()
