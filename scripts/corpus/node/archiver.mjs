// archiver (npm, ZipArchive over zip-stream) as one writer of zipmedic's valid-archive corpus:
// node archiver.mjs JOBS.json. Jobs as in yazl.js.
import fs from "fs";
import { createRequire } from "module";

const require = createRequire(process.env.ZIPMEDIC_NPM_MODULES + "/");
const { ZipArchive } = await import(require.resolve("archiver"));

function one(job) {
  return new Promise((resolve, reject) => {
    const v = job.variant;
    const archive = new ZipArchive({
      store: v === "store",
      forceZip64: v === "zip64",
      zlib: { level: v === "level9" ? 9 : 6 },
      comment: v === "comment" ? "written by archiver for zipmedic's corpus" : "",
    });
    const out = fs.createWriteStream(job.out);
    out.on("close", resolve);
    archive.on("error", reject);
    archive.pipe(out);
    for (const it of job.items) {
      const date = new Date(it.mtime * 1000);
      if (it.kind === "dir") archive.append(null, { name: it.name, type: "directory", date });
      else if (it.kind === "link") archive.symlink(it.name, it.target);
      else if (v === "buffer") archive.append(fs.readFileSync(it.path), { name: it.name, date });
      else archive.file(it.path, { name: it.name, date });
    }
    archive.finalize();
  });
}

for (const job of JSON.parse(fs.readFileSync(process.argv[2], "utf8"))) await one(job);
