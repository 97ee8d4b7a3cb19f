// adm-zip (npm) as one writer of zipmedic's valid-archive corpus: node adm-zip.js JOBS.json.
// Jobs as in yazl.js; the "folder" variant lets adm-zip walk the tree itself.
"use strict";
const fs = require("fs");
const AdmZip = require("adm-zip");

for (const job of JSON.parse(fs.readFileSync(process.argv[2], "utf8"))) {
  const zip = new AdmZip();
  const v = job.variant;
  if (v === "folder") {
    zip.addLocalFolder(job.root);
  } else {
    for (const it of job.items) {
      if (it.kind === "dir") zip.addFile(it.name, Buffer.alloc(0));
      else if (it.kind === "link") zip.addFile(it.name, Buffer.from(it.target), "", 0o120777 << 16);
      else zip.addFile(it.name, fs.readFileSync(it.path), v === "comment" ? "entry " + it.name : "");
      const e = zip.getEntry(it.name);
      if (e && v === "store") e.header.method = 0;
    }
  }
  if (v === "comment") zip.addZipComment("written by adm-zip for zipmedic's corpus");
  zip.writeZip(job.out);
}
