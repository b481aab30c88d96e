"""Verifies leases with an implementation independent of the server's (PyJWT on `cryptography`),
used by leases.rs: fetches the published keys with PyJWKClient, checks each lease's signature
(EdDSA only), issuer and expiry, and prints one JSON line per lease: {"valid": true, "kid": ...,
"claims": {...}} or {"valid": false, "error": "<exception class>"}.

usage: verify_leases.py JWKS_URL ISSUER LEASE..."""
import json
import sys

import jwt

jwks_url, issuer, leases = sys.argv[1], sys.argv[2], sys.argv[3:]
# A client per lease: a rotation between leases must not be hidden by a cached key set.
for lease in leases:
    try:
        client = jwt.PyJWKClient(jwks_url, cache_jwk_set=False)
        key = client.get_signing_key_from_jwt(lease)
        claims = jwt.decode(
            lease,
            key.key,
            algorithms=["EdDSA"],
            issuer=issuer,
            options={"require": ["iss", "sub", "iat", "nbf", "exp", "jti"], "verify_exp": True, "verify_nbf": True},
        )
        print(json.dumps({"valid": True, "kid": jwt.get_unverified_header(lease)["kid"], "claims": claims}), flush=True)
    except (jwt.PyJWTError, jwt.PyJWKClientError) as err:
        print(json.dumps({"valid": False, "error": type(err).__name__}), flush=True)
