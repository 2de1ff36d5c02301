#!/usr/bin/env python3
"""Independent reference for Paillier and Okamoto-Uchiyama (pure Python big integers).

Written from the papers, not from the Rust code:
- Okamoto-Uchiyama (EUROCRYPT 1998) with the p - 1 = t*u key of Coron, Naccache and Paillier
  ("Accelerating Okamoto-Uchiyama's public-key cryptosystem", 1999): n = p^2 q,
  G = g^u mod n, H = g'^(n u) mod n, c = G^m H^r mod n; decryption
  m = L(c^t mod p^2) / L(G^t mod p^2) mod p, L(x) = (x - 1)/p, centred in (-p/2, p/2).
  The script also decrypts with the original exponent p - 1 as a cross-check.
- Paillier (EUROCRYPT 1999) with g = n + 1 and DJN (2010) randomness h_s = (-x^2)^n mod n^2:
  c = (1 + m n) h_s^a mod n^2; decryption m = L(c^lambda mod n^2) * lambda^-1 mod n (no CRT
  here, unlike the Rust code), centred in (-n/2, n/2).

Deterministic: keys, messages and randomness come from random.Random(SEED). Writes the key
encodings (the layout documented in docs/protocols/he.md), ciphertexts, sums and products to
vectors/he_kat.txt, which tests/it/he.rs reads.

Run: python3 crates/crypto/tests/it/he_ref.py
"""

import os
import random

SEED = 20261204
rnd = random.Random(SEED)

SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]


def is_probable_prime(n, rounds=40):
    if n < 2:
        return False
    for p in SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = rnd.randrange(2, n - 1)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def random_prime(bits):
    while True:
        c = rnd.getrandbits(bits) | (1 << (bits - 1)) | 1
        if is_probable_prime(c):
            return c


def be(x, length):
    return x.to_bytes(length, "big").hex()


def centred(m, mod):
    return m - mod if m > mod // 2 else m


def signed_hex(v):
    return ("-" if v < 0 else "") + format(abs(v), "x")


def ou(bits=2048, t_bits=224):
    p_bits = (bits + 2) // 3
    t = random_prime(t_bits)
    while True:
        u = rnd.getrandbits(p_bits - t_bits) | (1 << (p_bits - t_bits - 1))
        u &= ~1
        p = t * u + 1
        if p.bit_length() == p_bits and is_probable_prime(p):
            break
    p2 = p * p
    q_bits = bits + 1 - p2.bit_length()
    while True:
        q = random_prime(q_bits)
        n = p2 * q
        if n.bit_length() == bits and q != p:
            break
    while True:
        g = rnd.randrange(2, n)
        if g % p and pow(g, p - 1, p2) != 1:
            break
    G = pow(g, u, n)
    while True:
        g2 = rnd.randrange(2, n)
        if g2 % p:
            break
    H = pow(g2, n * u, n)
    L = lambda x: (x - 1) // p  # noqa: E731
    lg_inv = pow(L(pow(G, t, p2)), -1, p)

    def enc(m, r):
        return pow(G, m, n) * pow(H, r, n) % n if m >= 0 else pow(pow(G, -1, n), -m, n) * pow(H, r, n) % n

    def dec(c):
        m = L(pow(c, t, p2)) * lg_inv % p
        # cross-check with Okamoto-Uchiyama's original exponent p - 1
        gp = pow(G, p - 1, p2)
        assert m == L(pow(c, p - 1, p2)) * pow(L(gp), -1, p) % p
        return centred(m, p)

    nl = bits // 8
    out = {}
    out["ou_sk"] = "4f7531" + format(bits, "04x") + "".join(be(x, nl) for x in (p, q, t, G, H))
    out["ou_pk"] = "4f5531" + format(bits, "04x") + "".join(be(x, nl) for x in (n, G, H))
    m1 = rnd.getrandbits(100)
    m2 = -((1 << 600) + rnd.getrandbits(64))
    k = rnd.getrandbits(60)
    c1 = enc(m1, rnd.getrandbits(224))
    c2 = enc(m2, rnd.getrandbits(224))
    assert dec(c1) == m1 and dec(c2) == m2
    out["ou_m1"] = signed_hex(m1)
    out["ou_m2"] = signed_hex(m2)
    out["ou_k"] = signed_hex(k)
    out["ou_c1"] = be(c1, nl)
    out["ou_c2"] = be(c2, nl)
    out["ou_sum"] = be(c1 * c2 % n, nl)
    out["ou_c1_times_k"] = be(pow(c1, k, n), nl)
    out["ou_c1_times_minus_k"] = be(pow(pow(c1, k, n), -1, n), nl)
    assert dec(c1 * c2 % n) == m1 + m2
    assert dec(pow(pow(c1, k, n), -1, n)) == -k * m1
    return out


def paillier(bits=2048):
    while True:
        p = random_prime(bits // 2)
        q = random_prime(bits // 2)
        n = p * q
        if p != q and n.bit_length() == bits:
            break
    n2 = n * n
    lam = (p - 1) * (q - 1)
    from math import gcd

    assert gcd(n, lam) == 1
    while True:
        x = rnd.randrange(2, n)
        if gcd(x, n) == 1:
            break
    h = (-x * x) % n
    hs = pow(h, n, n2)
    mu = pow(lam, -1, n)

    def enc(m, a):
        return (1 + (m % n) * n) * pow(hs, a, n2) % n2

    def dec(c):
        return centred((pow(c, lam, n2) - 1) // n * mu % n, n)

    nl = bits // 8
    out = {}
    out["pa_sk"] = "506131" + format(bits, "04x") + be(p, nl // 2) + be(q, nl // 2) + be(hs, 2 * nl)
    out["pa_pk"] = "504131" + format(bits, "04x") + be(n, nl) + be(hs, 2 * nl)
    m1 = rnd.getrandbits(1500)
    m2 = -((1 << 2000) + rnd.getrandbits(64))
    k = rnd.getrandbits(60)
    c1 = enc(m1, rnd.getrandbits(bits // 2))
    c2 = enc(m2, rnd.getrandbits(bits // 2))
    assert dec(c1) == m1 and dec(c2) == m2
    out["pa_m1"] = signed_hex(m1)
    out["pa_m2"] = signed_hex(m2)
    out["pa_k"] = signed_hex(k)
    out["pa_c1"] = be(c1, 2 * nl)
    out["pa_c2"] = be(c2, 2 * nl)
    out["pa_sum"] = be(c1 * c2 % n2, 2 * nl)
    out["pa_c1_times_k"] = be(pow(c1, k, n2), 2 * nl)
    out["pa_c1_times_minus_k"] = be(pow(pow(c1, k, n2), -1, n2), 2 * nl)
    assert dec(c1 * c2 % n2) == m1 + m2
    return out


if __name__ == "__main__":
    vals = {}
    vals.update(ou())
    vals.update(paillier())
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors", "he_kat.txt")
    with open(path, "w") as f:
        f.write("# Generated by he_ref.py (seed %d); do not edit.\n" % SEED)
        for k, v in vals.items():
            f.write("%s = %s\n" % (k, v))
    print("wrote", path)
