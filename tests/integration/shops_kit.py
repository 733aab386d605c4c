"""What the shop scenarios (58, 66) share: a key file for sealing tokens,
intake's authorise flow as a shop owner's browser goes through it (intake's
authorise address -> the platform's authorise page -> 302 back to intake's
callback), and intake's list of shops.
"""
import http.client
import os
import secrets
import tempfile
import urllib.parse


def key_file():
    """A fresh 32-byte key in a file only its owner reads; its path."""
    path = os.path.join(tempfile.mkdtemp(prefix="rf-key-"), "secrets.key")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return path


def get(url):
    """A GET without following redirects: (status, headers, body)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
    try:
        conn.request("GET", u.path + ("?" + u.query if u.query else ""))
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode()
    finally:
        conn.close()


def authorise(h, page, app_id, shop_id, platform="kuaishou", shop_param="shop"):
    """The owner of shop_id authorises the app, as from the ops page: page is
    the platform's authorise page, shop_param the stand-in's parameter naming
    who signs in. Returns the state used."""
    start = h.get_json("intake", "/v1/shops/authorize?platform=" + platform)
    h.check(start["url"].startswith(page + "?") and len(start["state"]) == 64,
            "authorise address and state: %s" % start)
    q = urllib.parse.parse_qs(urllib.parse.urlparse(start["url"]).query)
    h.check(q["state"] == [start["state"]] and q["response_type"] == ["code"]
            and q["app_id"] == [app_id] and q["redirect_uri"][0].endswith(
                "/v1/oauth/%s/callback" % platform),
            "the authorise page's parameters: %s" % q)
    status, headers, _ = get(start["url"] + "&%s=%s" % (shop_param, shop_id))
    h.check(status == 302, "the platform sends the owner back: %d" % status)
    status, _, body = get(headers["Location"])
    h.check(status == 200 and shop_id in body, "callback stored the shop: %d %s" % (status, body))
    return start["state"]


def shops(h):
    """intake's shops by id."""
    return {s["shop_id"]: s for s in h.get_json("intake", "/v1/shops")["shops"]}
