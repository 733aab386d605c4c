#!/usr/bin/env python3
"""66: shops' tokens renewed by two intake replicas, and a crash in the middle of a renewal.

Kuaishou rotates refresh tokens: the one a renewal sends is refused from then
on. So if two processes renewed one shop at once, the second would be
refused and the shop lost; and a process that dies after the platform rotated
the pair but before it stored the new one leaves a refresh token that no
longer works. Here:
  - intake runs as two replicas sharing its schema (RF_REPLICA_ID 0 and 1),
    with four Kuaishou shops whose access tokens live 6 seconds: for 20
    seconds both replicas renew them (each claim takes the shop's row with
    FOR UPDATE SKIP LOCKED and leaves a lease); no refresh token is ever sent
    twice (the platform's used-refresh-token count stays 0), every shop stays
    active, and each is renewed every ~4 s;
  - then one shop's renewal answer is held back by the platform after it
    rotated the pair, and both replicas are killed with SIGKILL meanwhile. On
    restart the shop's lease (RF_SHOPS_RENEW_LEASE_MS, 3 s here) runs out, the
    next renewal sends the stored refresh token, the platform refuses it as
    used, and the shop says so: reauthorize_needed, with an ops alert, while
    the other three go on renewing. Authorising it again brings it back.
Prints the renewals per replica and per shop.
"""
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "standin"))
import deploykit  # noqa: E402
import harness  # noqa: E402
import kuaishou  # noqa: E402
import shops_kit  # noqa: E402

LIFE_S = 6
KS = kuaishou.Standin(token_life_s=LIFE_S)
KEY_FILE = shops_kit.key_file()
INTAKE_ENV = {
    "RF_KUAISHOU_API_URL": KS.url, "RF_KUAISHOU_APP_KEY": KS.app_key,
    "RF_KUAISHOU_SIGN_SECRET": KS.sign_secret, "RF_KUAISHOU_APP_SECRET": KS.app_secret,
    "RF_KUAISHOU_AUTHORIZE_URL": KS.url + "/oauth/authorize",
    "RF_KUAISHOU_POLL_INTERVAL_MS": "0", "RF_SECRETS_KEY_FILE": KEY_FILE,
    "RF_SHOPS_RENEW_LEASE_MS": "3000",
}


def refresh_token_elsewhere(open_id):
    """A refresh token the merchant obtained outside returnflow (another tool's
    authorisation of the same app): the platform's authorise page and code
    exchange, called directly."""
    q = urllib.parse.urlencode({"app_id": KS.app_key, "redirect_uri": "https://erp.example.com/cb",
                                "scope": "merchant_refund,merchant_order", "response_type": "code",
                                "state": "elsewhere", "shop": open_id})
    status, headers, _ = shops_kit.get(KS.url + "/oauth/authorize?" + q)
    code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)["code"][0]
    q = urllib.parse.urlencode({"app_id": KS.app_key, "app_secret": KS.app_secret, "code": code,
                                "grant_type": "code"})
    status, _, body = shops_kit.get(KS.url + "/oauth2/access_token?" + q)
    return json.loads(body)["refresh_token"]


def rfctl(h, args, stdin):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RF_")}
    env["RF_INTAKE_HTTP"] = "127.0.0.1:%d" % h.workers["intake"].http_port
    p = subprocess.run([os.path.join(h.build, "bin", "rfctl")] + args, env=env, input=stdin,
                       capture_output=True, text=True, timeout=60)
    harness.log("$ rfctl %s < token -> exit %d: %s" % (" ".join(args), p.returncode,
                                                        (p.stdout + p.stderr).strip()))
    return p


def renewals(h, label_log):
    return sum(1 for ln in open(label_log, encoding="utf-8", errors="replace")
               if "event=shop_renewed" in ln)


def scenario(h):
    ports = deploykit.extra_ports(h, 2)
    h.env_overrides["RF_INTAKE_BUS"] = "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d" % (
        h.workers["intake"].bus_port, ports[1])
    h.env_overrides["RF_REPLICA_LEASE_S"] = "2"
    h.worker_env["intake"] = dict(INTAKE_ENV, RF_INTAKE_PUBLIC_URL="http://127.0.0.1:%d"
                                  % h.workers["intake"].http_port)
    h.start_postgres()
    h.start_all()
    replica = deploykit.Extra(h, "intake", "intake-replica1", {"RF_REPLICA_ID": "1"}, ports[0])
    try:
        replica.wait_healthy()
        shop_ids = [KS.add_shop(name=n)["open_id"]
                    for n in ("杭州丝绸旗舰店", "深圳数码专营店", "义乌小商品批发店", "广州美妆严选店")]
        for s in shop_ids:
            shops_kit.authorise(h, KS.url + "/oauth/authorize", KS.app_key, s)

        h.step("two replicas renew four shops with 6-second tokens for 20 seconds")
        t0 = time.monotonic()
        h.wait_until(lambda: time.monotonic() - t0 > 20, 25, "20 seconds", scale=False)
        c = KS.counts()
        got = shops_kit.shops(h)
        h.check(all(got[s]["status"] == "active" for s in shop_ids),
                "every shop active: %s" % {s[:8]: got[s]["status"] for s in shop_ids})
        h.check(c["used_refresh_token_attempts"] == 0, "a refresh token sent twice: %d"
                % c["used_refresh_token_attempts"])
        h.check(all(c["refreshes"].get(s, 0) >= 3 for s in shop_ids),
                "each shop renewed every ~4 s: %s" % c["refreshes"])
        split = (renewals(h, h.workers["intake"].log_path), renewals(h, replica.log_path))
        harness.log("renewals by replica 0 / 1: %d / %d" % split)
        h.check(sum(split) == sum(c["refreshes"].get(s, 0) for s in shop_ids),
                "renewals stored %d = renewals the platform made %d"
                % (sum(split), sum(c["refreshes"].get(s, 0) for s in shop_ids)))

        h.step("a renewal whose answer is late; both replicas killed meanwhile")
        victim = shop_ids[0]
        KS.refresh_delay_s = 8
        KS.refresh_delay_for = {victim}
        h.wait_until(lambda: KS.refreshes_in_flight > 0, 15, "the victim's renewal in flight",
                     scale=False)
        rotated = KS.counts()["refreshes"].get(victim, 0)
        h.kill("intake")
        replica.kill()
        KS.refresh_delay_for = set()
        h.start("intake")
        replica = deploykit.Extra(h, "intake", "intake-replica1b", {"RF_REPLICA_ID": "1"},
                                  ports[0])
        replica.wait_healthy()
        h.wait_until(lambda: shops_kit.shops(h)[victim]["status"] == "reauthorize_needed", 30,
                     "the stranded shop to say so", scale=False)
        # Another shop whose renewal was on the wire at the kill is stranded
        # the same way (renewals of several shops fall in one pass): each such
        # shop must say so too, and the rest must go on.
        time.sleep(2)
        got = shops_kit.shops(h)
        stranded = {s for s in shop_ids if got[s]["status"] == "reauthorize_needed"}
        harness.log("stranded by the kill: %d (the held-back one and %d caught on the wire)"
                    % (len(stranded), len(stranded) - 1))
        h.check(victim in stranded and all("discarded" in got[s]["status_reason"]
                                           for s in stranded),
                "why: %s" % {s[:8]: got[s]["status_reason"] for s in stranded})
        h.check(KS.counts()["used_refresh_token_attempts"] == len(stranded),
                "each stranded shop's stored refresh token was refused once: %d for %d shops"
                % (KS.counts()["used_refresh_token_attempts"], len(stranded)))
        h.check(KS.counts()["refreshes"].get(victim, 0) == rotated,
                "no renewal of the stranded shop went through")
        h.wait_until(lambda: h.count("FROM notification.messages WHERE template_name = 'ops_alert'"
                                     " AND body LIKE '%%shop_reauthorize_needed%%'")
                     >= len(stranded), 20, "an ops alert for each stranded shop")
        others = [s for s in shop_ids if s not in stranded]
        before = {s: KS.counts()["refreshes"].get(s, 0) for s in others}
        time.sleep(LIFE_S)
        after = {s: KS.counts()["refreshes"].get(s, 0) for s in others}
        h.check(others and all(after[s] > before[s] for s in others)
                and all(shops_kit.shops(h)[s]["status"] == "active" for s in others),
                "the other shops go on renewing: %s -> %s" % (before, after))

        h.step("the owners authorise again: the shops are back")
        for s_id in stranded:
            shops_kit.authorise(h, KS.url + "/oauth/authorize", KS.app_key, s_id)
            h.check(shops_kit.shops(h)[s_id]["status"] == "active", "active again")

        h.step("a shop registered from a refresh token obtained elsewhere (rfctl shops add)")
        fifth = KS.add_shop(name="成都火锅底料专营店")["open_id"]
        token = refresh_token_elsewhere(fifth)
        p = rfctl(h, ["shops", "add", "--platform", "kuaishou", "--name", "成都火锅底料专营店"],
                  token + "\n")
        h.check(p.returncode != 0 and "shop_id" in p.stderr + p.stdout
                and KS.counts()["refreshes"].get(fifth, 0) == 0,
                "without --shop a Kuaishou token is refused before it is spent")
        p = rfctl(h, ["shops", "add", "--platform", "kuaishou", "--shop", fifth,
                      "--name", "成都火锅底料专营店"], token + "\n")
        h.check(p.returncode == 0 and "active" in p.stdout, "registered: %s" % p.stdout)
        h.check(KS.counts()["refreshes"].get(fifth, 0) == 1 and token not in p.stdout,
                "renewed at once (the token proven and rotated), no token printed")
        p = rfctl(h, ["shops", "add", "--platform", "kuaishou", "--shop", fifth], token + "\n")
        h.check(p.returncode != 0 and "refused" in p.stdout + p.stderr
                and shops_kit.shops(h)[fifth]["status"] == "active",
                "the spent token refused; the shop keeps the pair it has")
        c = KS.counts()
        print("FIGURES 66: renewals by replica 0 / 1 before the crash %d / %d; per shop %s;"
              " refresh tokens sent twice 0 while both ran; the crash mid-renewal left %d"
              " refused refresh token(s) and as many shops reauthorize_needed with an alert"
              % (split[0], split[1], {k[:8]: v for k, v in c["refreshes"].items()},
                 len(stranded)))
    finally:
        replica.kill()


if __name__ == "__main__":
    harness.main(scenario, start=False)
