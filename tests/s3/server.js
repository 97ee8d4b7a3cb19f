// The S3 server of tests/cli/remote_test.py: @20minutes/s3rver (its package ships no command, so
// it is started here) on 127.0.0.1, one bucket, objects kept in DIRECTORY. It checks SigV4
// signatures with its default credentials (S3RVER / S3RVER).
// Usage: node server.js DIRECTORY PORT BUCKET
const S3rver = require('@20minutes/s3rver');

const [directory, port, bucket] = process.argv.slice(2);
new S3rver({ address: '127.0.0.1', port: Number(port), directory, silent: true, configureBuckets: [{ name: bucket }] })
  .run()
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
