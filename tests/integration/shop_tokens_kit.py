"""Shops' tokens delivered to review and refund as intake delivers them (README
"Shops and tokens"), for scenarios that are not about intake's shop registry:
a key file (RF_SECRETS_KEY_FILE, mode 0600) given to review and refund, each
token sealed in Python with AES-256-GCM under that key for
"<platform>/<shop_id>/access", and shop.token events put straight into
intake's outbox (ordering key "shop:<platform>:<shop_id>"), which intake's
dispatcher sends on like any event it emitted. Scenario 57 does the same
inline for Kuaishou; this is the shared form, for any platform.
"""
import base64
import os
import tempfile
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import harness

WORKERS = ("review", "refund")


class ShopTokens:
    def __init__(self, cluster, workers=WORKERS):
        """Make the key file and give it to workers in cluster's worker_env."""
        self.key = os.urandom(32)
        fd, self.key_file = tempfile.mkstemp(prefix="rf-secrets-", suffix=".key")
        os.write(fd, (self.key.hex() + "\n").encode())
        os.close(fd)
        os.chmod(self.key_file, 0o600)
        self.workers = workers
        env = cluster.setdefault("worker_env", {})
        for w in workers:
            env.setdefault(w, {})["RF_SECRETS_KEY_FILE"] = self.key_file

    def seal(self, platform, shop, token):
        nonce = os.urandom(12)
        ct = AESGCM(self.key).encrypt(nonce, token.encode(),
                                      ("%s/%s/access" % (platform, shop)).encode())
        return "v1." + base64.b64encode(nonce + ct).decode()

    def send(self, h, platform, shop, version, token=None, status="active", life_s=3600):
        """shop.token as intake emits it, to the workers; returns its event id."""
        body = {"platform": platform, "shop_id": shop, "status": status,
                "access_token_sealed": self.seal(platform, shop, token) if token else "",
                "access_expires_at": int((time.time() + life_s) * 1000) if token else 0,
                "token_version": version}
        key = "shop:%s:%s" % (platform, shop)
        event_id, payload = harness.event_payload("shop.token", key, "intake", body)
        for dest in self.workers:
            harness.insert_outbox(h, "intake", dest, event_id, key, "shop.token", payload)
        return event_id

    def stored_version(self, h, worker, platform, shop):
        v = h.psql_val("SELECT token_version FROM %s.shop_tokens WHERE platform = '%s'"
                       " AND shop_id = '%s'" % (worker, platform, shop))
        return int(v) if v else 0

    def wait_version(self, h, platform, shop, version, timeout=20):
        for w in self.workers:
            h.wait_until(lambda: self.stored_version(h, w, platform, shop) == version, timeout,
                         "%s to hold version %d of %s shop %s's token"
                         % (w, version, platform, shop))
