// JSZip (npm) as one writer of zipmedic's valid-archive corpus: node jszip.js JOBS.json.
// Jobs as in yazl.js.
"use strict";
const fs = require("fs");
const JSZip = require("jszip");

async function one(job) {
  const zip = new JSZip();
  const v = job.variant;
  for (const it of job.items) {
    const date = new Date(it.mtime * 1000);
    if (it.kind === "dir") zip.folder(it.name.replace(/\/$/, ""));
    else if (it.kind === "link") zip.file(it.name, it.target, { date, unixPermissions: 0o120777 });
    else zip.file(it.name, fs.readFileSync(it.path), {
      date, comment: v === "comment" ? "entry " + it.name : undefined,
      unixPermissions: v === "unix" ? 0o100644 : undefined });
  }
  const buf = await zip.generateAsync({
    type: "nodebuffer",
    compression: v === "store" ? "STORE" : "DEFLATE",
    // streamFiles: bit 3 and a data descriptor after each entry instead of sizes up front.
    streamFiles: v === "stream",
    platform: v === "unix" ? "UNIX" : "DOS",
    comment: v === "comment" ? "written by JSZip for zipmedic's corpus" : undefined,
  });
  fs.writeFileSync(job.out, buf);
}

(async () => {
  for (const job of JSON.parse(fs.readFileSync(process.argv[2], "utf8"))) await one(job);
})().catch((e) => { console.error(e); process.exit(1); });
