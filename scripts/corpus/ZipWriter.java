// ZipWriter: Java's java.util.zip.ZipOutputStream as one writer of the valid-archive corpus
// (scripts/make-valid-corpus). Reads a job list (tab-separated, since the JDK has no JSON parser):
//   job  OUT  VARIANT
//   item KIND NAME PATH TARGET MTIME      (KIND is file, dir or link; a dir's NAME ends in "/")
// and writes every archive in one JVM, which saves a start-up per archive.
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.zip.*;

public class ZipWriter {
    record Item(String kind, String name, String path, String target, long mtime) {}

    public static void main(String[] args) throws IOException {
        String out = null, variant = null;
        List<Item> items = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            String[] f = line.split("\t", -1);
            if (f[0].equals("job")) {
                if (out != null) write(out, variant, items);
                out = f[1];
                variant = f[2];
                items = new ArrayList<>();
            } else if (f[0].equals("item")) {
                items.add(new Item(f[1], f[2], f[3], f[4], Long.parseLong(f[5])));
            }
        }
        if (out != null) write(out, variant, items);
    }

    static void write(String out, String variant, List<Item> items) throws IOException {
        try (ZipOutputStream z = new ZipOutputStream(new BufferedOutputStream(new FileOutputStream(out)))) {
            if (variant.equals("level9")) z.setLevel(Deflater.BEST_COMPRESSION);
            if (variant.equals("comment")) z.setComment("written by java.util.zip for zipmedic's corpus");
            for (Item it : items) {
                byte[] data = it.kind.equals("dir") ? new byte[0]
                        : it.kind.equals("link") ? it.target.getBytes(StandardCharsets.UTF_8)
                        : Files.readAllBytes(Paths.get(it.path));
                ZipEntry e = new ZipEntry(it.name);
                e.setTime(it.mtime * 1000);
                if (variant.equals("comment")) e.setComment("entry " + it.name);
                if (variant.equals("store") || it.kind.equals("dir")) {
                    // STORED needs size and CRC-32 before the data: ZipOutputStream writes them in
                    // the local header and no data descriptor (APPNOTE 4.4.4, bit 3 clear).
                    CRC32 crc = new CRC32();
                    crc.update(data);
                    e.setMethod(ZipEntry.STORED);
                    e.setSize(data.length);
                    e.setCompressedSize(data.length);
                    e.setCrc(crc.getValue());
                }
                z.putNextEntry(e);
                z.write(data);
                z.closeEntry();
            }
        }
    }
}
