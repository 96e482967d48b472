// One PouchDB device for tests/bench/bench_sync_peers.py: a local LevelDB database replicating
// to pouchdb-server the way an offline-first app does (one-shot replication, retried on error).
//
//   node pouch_peer.js <op> <remote db url> <local dir> [file]
//
// ops: push <records.json> (bulkDocs into the local db, then replicate up), pull (replicate
// down), change (edit one record, replicate up), attach <file> (a doc with the file in
// _attachments, replicate up), fetch (replicate down, read the attachment back).
// Prints one JSON line: {"ok": true, "tries": n, "docs": n, "attachment_bytes": n, "seconds": s}.
'use strict';

const fs = require('fs');
const PouchDB = require('pouchdb-node');

const [op, remoteUrl, localDir, file] = process.argv.slice(2);
const MAX_TRIES = Number(process.env.PEER_MAX_TRIES || 12);
const started = Date.now();

async function replicate(source, target) {
  // A one-shot replication resumes from its checkpoint; an app retries it after a cut.
  for (let tries = 1; tries <= MAX_TRIES; tries++) {
    try {
      const result = await PouchDB.replicate(source, target, { batch_size: 100 });
      if (result.ok !== false && (!result.errors || result.errors.length === 0)) {
        return tries;
      }
    } catch (error) {
      // a reset connection: try again after a breath, as an app's retry loop does
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('replication did not complete');
}

async function main() {
  const local = new PouchDB(localDir);
  const remote = new PouchDB(remoteUrl, { skip_setup: false });
  const out = { ok: true, tries: 0, docs: 0, attachment_bytes: 0 };
  if (op === 'push') {
    const records = JSON.parse(fs.readFileSync(file, 'utf8'));
    const docs = records.map((r) => Object.assign({ _id: r.id }, r));
    for (let i = 0; i < docs.length; i += 1000) {
      await local.bulkDocs(docs.slice(i, i + 1000));
    }
    out.docs = docs.length;
    out.tries = await replicate(local, remote);
  } else if (op === 'pull') {
    out.tries = await replicate(remote, local);
    out.docs = (await local.info()).doc_count;
  } else if (op === 'change') {
    const page = await local.allDocs({ include_docs: true, limit: 1 });
    const doc = page.rows[0].doc;
    doc.title = (doc.title || '') + ' (edited)';
    await local.put(doc);
    out.docs = 1;
    out.tries = await replicate(local, remote);
  } else if (op === 'attach') {
    const data = fs.readFileSync(file);
    await local.put({
      _id: 'evidence-file',
      title: 'Evidence',
      _attachments: { 'evidence.bin': { content_type: 'application/octet-stream', data } },
    });
    out.docs = 1;
    out.tries = await replicate(local, remote);
  } else if (op === 'fetch') {
    out.tries = await replicate(remote, local);
    const blob = await local.getAttachment('evidence-file', 'evidence.bin');
    out.attachment_bytes = blob.length;
  } else {
    throw new Error('unknown op ' + op);
  }
  await local.close();
  out.seconds = (Date.now() - started) / 1000;
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(error) }) + '\n');
  process.exit(1);
});
