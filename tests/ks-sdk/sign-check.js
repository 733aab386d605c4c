// sign-check.js: recomputes the signature of API calls returnflow's workers made,
// with the Kuaishou open platform's own npm client (kuaishou-merchant-open-api,
// its generateSign), as an independent check of returnflow's signing.
//
// stdin: {"sign_secret": "...", "calls": [{the call's parameters as sent:
//         appkey, method, param, signMethod, timestamp, access_token, version, sign}]}
// stdout: {"checked": N, "by_sign_method": {"MD5": n, ...}, "mismatches": [...]}
// Exit 0 when every call was checked and matched, 1 otherwise.
'use strict';
const KsMerchantClient = require('kuaishou-merchant-open-api').default;

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { sign_secret: signSecret, calls } = JSON.parse(input);
  const client = new KsMerchantClient({ appKey: 'check', signSecret, appSecret: 'unused' });
  const out = { checked: 0, by_sign_method: {}, mismatches: [] };
  for (const p of calls) {
    let expected;
    // The client takes numbers; a wire form that is not a number's own text
    // would sign differently, so it is a mismatch.
    const timestamp = Number(p.timestamp), version = Number(p.version);
    try {
      if (String(timestamp) !== String(p.timestamp) || String(version) !== String(p.version)) {
        throw new Error('timestamp or version is not a plain number');
      }
      expected = client.generateSign({
        appkey: p.appkey, signSecret, method: p.method, signMethod: p.signMethod,
        timestamp, accessToken: p.access_token, version, param: p.param,
      });
    } catch (e) {
      expected = 'error: ' + e.message;
    }
    out.checked++;
    out.by_sign_method[p.signMethod] = (out.by_sign_method[p.signMethod] || 0) + 1;
    if (expected !== p.sign) {
      out.mismatches.push({ method: p.method, signMethod: p.signMethod, sent: p.sign, expected });
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(out.checked > 0 && out.mismatches.length === 0 ? 0 : 1);
});
