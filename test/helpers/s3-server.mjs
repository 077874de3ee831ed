// Runs s3rver (an S3-compatible HTTP server, npm s3rver 3.7.1) on loopback in its own process and prints
// {"port":N} once it listens. Its own process: a test can kill it mid-upload, and a node's curl (the
// restore script) is never waiting on the test's own event loop.
import S3rver from 's3rver';

const [dir, bucket] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true, configureBuckets: [{ name: bucket }] });
const addr = await server.run();
process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
