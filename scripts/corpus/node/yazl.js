// yazl (npm) as one writer of zipmedic's valid-archive corpus: node yazl.js JOBS.json
// Each job: {out, variant, items: [{name, path, kind, target, mtime}]}; see scripts/make-valid-corpus.
"use strict";
const fs = require("fs");
const yazl = require("yazl");

function one(job) {
  return new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile();
    const v = job.variant;
    const opts = (it) => ({
      mtime: new Date(it.mtime * 1000),
      compress: v !== "store",
      forceZip64Format: v === "zip64",
      fileComment: v === "comment" ? "entry " + it.name : undefined,
    });
    for (const it of job.items) {
      if (it.kind === "dir") {
        zip.addEmptyDirectory(it.name, { mtime: new Date(it.mtime * 1000) });
      } else if (it.kind === "link") {
        // yazl stores the mode as given: a symlink is its target's bytes with S_IFLNK.
        zip.addBuffer(Buffer.from(it.target), it.name, { ...opts(it), mode: 0o120777 });
      } else if (v === "buffer") {
        zip.addBuffer(fs.readFileSync(it.path), it.name, opts(it));
      } else if (v === "stream") {
        // A stream of unknown size: yazl sets bit 3 and writes a data descriptor.
        zip.addReadStream(fs.createReadStream(it.path), it.name, opts(it));
      } else {
        zip.addFile(it.path, it.name, opts(it));
      }
    }
    const out = fs.createWriteStream(job.out);
    zip.outputStream.pipe(out).on("close", resolve).on("error", reject);
    zip.end(v === "comment" ? { comment: "written by yazl for zipmedic's corpus" } : {});
  });
}

(async () => {
  for (const job of JSON.parse(fs.readFileSync(process.argv[2], "utf8"))) await one(job);
})().catch((e) => { console.error(e); process.exit(1); });
