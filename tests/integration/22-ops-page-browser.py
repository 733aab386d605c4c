#!/usr/bin/env python3
"""22-ops-page-browser: the operations page, end to end in headless Chromium.

Debian's chromium and chromium-driver, driven over the W3C WebDriver HTTP
protocol with urllib (no Selenium, no downloads). Against a running system
with tokens on: the page served by a worker at /ops loads, shows real numbers
(workers up, the review queue, the deadline at risk, a dead letter, the
report's charts), refuses an approve click without a token, and after signing
in (token kept in sessionStorage) an approve click changes the return's
state. A screenshot is saved into the test's temporary directory (and copied
to BUILD/test-logs/ops-page.png, which outlives it); its path is printed.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TOKENS = {
    "cs_supervisor": ("sup-token-0123456789abcdef", "sam"),
    "admin": ("admin-token-0123456789abcdef", "root-ops"),
}
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few W3C WebDriver commands the test needs."""

    def __init__(self, h, port):
        self.h = h
        self.base = "http://127.0.0.1:%d" % port
        self.session = None

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read().decode())["value"]
        except urllib.error.HTTPError as e:
            raise harness.Failure("webdriver %s %s: HTTP %d %s"
                                  % (method, path, e.code, e.read().decode()[:600]))

    def start(self, profile):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": shutil.which("chromium"),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--user-data-dir=" + profile, "--window-size=1440,1900"]}}}}
        self.session = self.call("POST", "/session", caps, timeout=120)["sessionId"]

    def s(self, path):
        return "/session/%s%s" % (self.session, path)

    def get(self, url):
        self.call("POST", self.s("/url"), {"url": url})

    def js(self, script, *args):
        return self.call("POST", self.s("/execute/sync"), {"script": script, "args": list(args)})

    def find(self, css):
        v = self.call("POST", self.s("/element"), {"using": "css selector", "value": css})
        if not isinstance(v, dict) or ELEMENT not in v:
            raise harness.Failure("webdriver: find %r answered %r" % (css, v))
        return v[ELEMENT]

    def click(self, css, tries=5):
        """A real (WebDriver) click; retried when the page redraws under it."""
        for i in range(tries):
            try:
                self.call("POST", self.s("/element/%s/click" % self.find(css)), {})
                return
            except harness.Failure:
                if i == tries - 1:
                    raise
                time.sleep(0.3)

    def type(self, css, text):
        self.call("POST", self.s("/element/%s/value" % self.find(css)), {"text": text})

    def text(self, css):
        return self.js("const e = document.querySelector(arguments[0]);"
                       " return e ? e.innerText : null;", css)

    def screenshot(self, path):
        png = base64.b64decode(self.call("GET", self.s("/screenshot")))
        with open(path, "wb") as f:
            f.write(png)
        return len(png)

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", "/session/" + self.session, timeout=30)
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
            self.session = None


def scenario(h):
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            raise harness.Failure("%s not found: install Debian's chromium and chromium-driver "
                                  "(deploy/install-deps.sh)" % tool)
    now = int(time.time() * 1000)
    h.step("a running system with real data")
    order = harness.uid("o")
    h.post_order(order, [
        {"line_id": "A", "sku_id": "SKU-TEE", "title": "Linen tee", "quantity": 10,
         "unit_price_fen": 4000, "supplier_id": "SUP-YIWU"},
        {"line_id": "B", "sku_id": "SKU-MUG", "title": "Tea mug", "quantity": 6,
         "unit_price_fen": 2000, "supplier_id": "SUP-YIWU"},
        {"line_id": "C", "sku_id": "SKU-LAMP", "title": "Desk lamp", "quantity": 3,
         "unit_price_fen": 60000, "supplier_id": "SUP-SZ"},
        {"line_id": "D", "sku_id": "SKU-CUP", "title": "Cup", "quantity": 8,
         "unit_price_fen": 1500, "supplier_id": "SUP-SZ"}])
    order2 = harness.uid("o")
    h.post_order(order2, [
        {"line_id": "A", "sku_id": "SKU-TEE", "title": "Linen tee", "quantity": 4,
         "unit_price_fen": 4000, "supplier_id": "SUP-YIWU"}], region="Guangdong")
    # Two small refunds, approved automatically; refunded before the first buyer's other
    # requests (review looks at a buyer's recent returns).
    done = [h.post_return(harness.uid("r"), order, "D", kind="refund_only", amount=1500,
                          reason="damaged"),
            h.post_return(harness.uid("r"), order2, "A", kind="refund_only", amount=4000,
                          reason="quality")]
    for r in done:
        h.wait_status(r, "refunded")
    tee = h.post_return(harness.uid("r"), order, "A", kind="return_refund", amount=4000,
                        reason="not_as_described", platform_deadline_at=now + 2 * 3600 * 1000)
    mug = h.post_return(harness.uid("r"), order, "B", kind="return_refund", amount=2000,
                        reason="size_fit")
    lamp = h.post_return(harness.uid("r"), order, "C", kind="return_refund", amount=60000,
                         reason="quality")
    for r in done:
        h.wait_status(r, "refunded")
    for r in (tee, mug, lamp):
        h.wait_status(r, "under_review")
    # A dead letter, so that table has a row: an undecodable event in review's outbox.
    harness.insert_outbox(h, "review", "refund", harness.ulid(), done[0], "return.approved",
                          bytes.fromhex("c1c1c1"))
    h.wait_until(lambda: h.count("FROM review.dead_letter") == 1, 20, "a dead letter")
    # Two shops, one whose owner revoked the app (the row as intake keeps it).
    h.psql("INSERT INTO intake.shops (platform, shop_id, name, status, status_reason,"
           " access_token_sealed, access_expires_at) VALUES"
           " ('kuaishou', '9f2c61d04e7a4b3f8a1d2c3b4a5f6e7d', '杭州丝绸旗舰店', 'active', '',"
           "  'v1.c2VhbGVkLWFjY2Vzcw', now() + interval '2 days'),"
           " ('douyin', '48217736', '抖音数码官方旗舰店', 'reauthorize_needed',"
           "  'refused: the refresh token was revoked', 'v1.c2VhbGVkLWRvdXlpbg', now())")

    h.step("chromedriver and headless chromium")
    port = free_port()
    drv_log = open(os.path.join(h.tmp, "chromedriver.log"), "wb")
    drv = subprocess.Popen(["chromedriver", "--port=%d" % port], stdout=drv_log,
                           stderr=subprocess.STDOUT)
    wd = WebDriver(h, port)
    try:
        h.wait_until(lambda: wd.call("GET", "/status", timeout=5).get("ready"), 30,
                     "chromedriver to be ready")
        wd.start(os.path.join(h.tmp, "chromium-profile"))
        q = "&".join("%s=127.0.0.1:%d" % (w, h.workers[w].http_port) for w in harness.WORKERS)
        url = "http://127.0.0.1:%d/ops?%s" % (h.workers["intake"].http_port, q)
        harness.log("opening %s" % url)
        wd.get(url)

        h.step("it loads and shows real numbers")
        h.wait_until(lambda: wd.js("return document.body.getAttribute('data-loaded')"), 30,
                     "the page's first refresh")
        workers = wd.text("#workers tbody")
        harness.log("workers table:\n" + workers)
        h.check(workers.count("up") >= 5 and "DOWN" not in workers, "workers: %r" % workers)
        h.check(wd.text("#kpi-reviews-pending") == "3", "reviews pending KPI: %r"
                % wd.text("#kpi-reviews-pending"))
        h.check(wd.text("#kpi-dead-letters") == "1", "dead letters KPI: %r"
                % wd.text("#kpi-dead-letters"))
        reviews = wd.text("#reviews tbody")
        h.check(all(r in reviews for r in (tee, mug, lamp)), "review queue: %r" % reviews)
        h.check(tee in wd.text("#sla tbody"), "deadline at risk: %r" % wd.text("#sla tbody"))
        h.check("review:1" in wd.text("#deadletters tbody"), "dead letters: %r"
                % wd.text("#deadletters tbody"))
        shops = wd.text("#shops tbody")
        harness.log("shops table:\n" + shops)
        h.check("9f2c61d04e7a4b3f8a1d2c3b4a5f6e7d" in shops and "48217736" in shops
                and "reauthorize_needed" in shops and "v1." not in shops,
                "shops, their states, no sealed token: %r" % shops)
        h.check(wd.js("return document.querySelectorAll('#shops button[data-action=\"authorize\"]"
                      "').length") == 1, "an 'Authorise again' button for the revoked shop")
        bars = wd.js("return document.querySelectorAll('#chart-reasons rect').length")
        h.check(bars == 4, "reason chart bars: %r (four reasons)" % bars)
        h.check(wd.js("return document.querySelectorAll('#chart-trend rect').length") >= 1,
                "no trend bars")
        skus = wd.text("#chart-skus") or wd.js("return document.querySelector('#chart-skus').textContent")
        h.check("SKU-TEE" in skus, "top SKUs chart: %r" % skus)
        sup = wd.js("return document.querySelector('#chart-suppliers').textContent")
        h.check("SUP-YIWU" in sup and "SUP-SZ" in sup, "suppliers chart: %r" % sup)
        h.check(wd.js("return document.querySelector('#report-kpis').textContent").find("5") >= 0,
                "report KPIs")

        h.step("approve without a token is refused and changes nothing")
        wd.click('button[data-action="approve"][data-id="%s"]' % mug)
        h.wait_until(lambda: "401" in (wd.text("#msg") or ""), 15, "the 401 message")
        harness.log("page says: %s" % wd.text("#msg"))
        h.check(h.status(mug) == "under_review", "a refused click changed the return")

        h.step("sign in (token in sessionStorage) and approve")
        wd.type("#token", TOKENS["cs_supervisor"][0])
        wd.click("#login")
        stored = wd.js("return sessionStorage.getItem('rf_token')")
        h.check(stored == TOKENS["cs_supervisor"][0], "token not in sessionStorage: %r" % stored)
        h.check(wd.js("return localStorage.length") == 0, "something went to localStorage")
        h.wait_until(lambda: wd.js("return document.querySelector('button[data-action=\"approve\"]"
                                   "[data-id=\"%s\"]') !== null" % mug), 15, "the queue to redraw")
        wd.click('button[data-action="approve"][data-id="%s"]' % mug)
        h.wait_status(mug, ("awaiting_return", "approved"))
        h.check(h.psql_val("SELECT decided_by FROM review.tasks WHERE return_id = '%s'" % mug)
                == "sam", "the decision was not recorded as the token's user")
        h.wait_until(lambda: mug not in (wd.text("#reviews tbody") or ""), 20,
                     "the approved return to leave the review queue")
        h.wait_until(lambda: wd.text("#kpi-reviews-pending") == "2", 20,
                     "the pending count to drop to 2")
        harness.log("approve click: %s is now %s" % (mug, h.status(mug)))

        h.step("screenshot")
        wd.js("window.scrollTo(0, 0)")
        time.sleep(0.5)
        shot = os.path.join(h.tmp, "ops-page.png")
        n = wd.screenshot(shot)
        h.check(n > 20000, "screenshot is only %d bytes" % n)
        keep = os.path.join(h.build, "test-logs")
        if os.path.isdir(keep):
            shutil.copy(shot, os.path.join(keep, "ops-page.png"))
            harness.log("screenshot copied to %s" % os.path.join(keep, "ops-page.png"))
        harness.log("screenshot: %s (%d bytes)" % (shot, n))
    finally:
        wd.quit()
        drv.terminate()
        try:
            drv.wait(timeout=20)
        except subprocess.TimeoutExpired:
            drv.kill()
            drv.wait()
        drv_log.close()


if __name__ == "__main__":
    import tempfile
    fd, tokens_path = tempfile.mkstemp(suffix=".tokens")
    with os.fdopen(fd, "w") as f:
        for role, (token, user) in TOKENS.items():
            f.write("%s %s %s\n" % (token, user, role))
    os.chmod(tokens_path, 0o644)
    try:
        harness.main(scenario, env={"RF_AUTH_TOKENS_FILE": tokens_path})
    finally:
        os.unlink(tokens_path)
