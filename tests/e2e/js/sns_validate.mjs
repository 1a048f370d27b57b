// Validates SNS messages with npm `sns-validator` (the verifier many Node.js HTTPS endpoints
// use): reads a JSON array of messages on stdin, prints a JSON array of
// {"ok": true} | {"ok": false, "error": "..."}, one per message, in order.
// Usage: node sns_validate.mjs '<host regexp>'   (e.g. '^localhost:\d+$')
// The certificate at SigningCertURL is fetched over HTTPS: trust Overcast's CA with
// NODE_EXTRA_CA_CERTS=<ca.pem>.
import MessageValidator from "sns-validator";

const pattern = new RegExp(process.argv[2] ?? "^localhost(:\\d+)?$");
const validator = new MessageValidator(pattern);

let input = "";
for await (const chunk of process.stdin) input += chunk;
const messages = JSON.parse(input);

const results = [];
for (const m of messages) {
  results.push(
    await new Promise((resolve) =>
      validator.validate(m, (err) =>
        resolve(err ? { ok: false, error: String(err.message ?? err) } : { ok: true })
      )
    )
  );
}
console.log(JSON.stringify(results));
