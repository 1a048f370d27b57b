// The guide's Node.js snippet, verbatim between the markers; the endpoint comes from
// AWS_ENDPOINT_URL (set by the pytest driver to the running Overcast).
// --- verbatim from the guide ---
// Fetch secret from Secrets Manager in Node.js
import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';

const client = new SecretsManagerClient({ region: 'us-east-1' });

async function getDbCredentials() {
  const response = await client.send(
    new GetSecretValueCommand({ SecretId: 'myapp/prod/aurora-credentials' })
  );
  return JSON.parse(response.SecretString);
  // { username: "admin", password: "rotated-password-xyz", host: "...", port: 3306 }
}
// --- end of guide code ---

const creds = await getDbCredentials();
process.stdout.write(JSON.stringify(creds));
