// ReadAll: OpenJDK's java.util.zip.ZipFile (names decoded as UTF-8, its default) as one of the six
// readers of the differential test (tests/interop/differential.py). Reads archive paths from
// stdin, one per line, and prints one JSON line per archive: what ZipFile returns for every
// entry, or why it refused. One JVM serves a whole batch, because its start-up costs ~0.5 s.
import java.io.BufferedReader;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Enumeration;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

public class ReadAll {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        String path;
        while ((path = in.readLine()) != null) {
            if (path.isEmpty()) continue;
            out.println(readArchive(path));
            out.flush();
        }
    }

    static String readArchive(String path) {
        StringBuilder entries = new StringBuilder();
        String error = "";
        byte[] buf = new byte[1 << 16];
        try (ZipFile z = new ZipFile(new File(path), StandardCharsets.UTF_8)) {
            Enumeration<? extends ZipEntry> e = z.entries();
            while (e.hasMoreElements()) {
                ZipEntry ze = e.nextElement();
                CRC32 crc = new CRC32();
                long n = 0;
                try (InputStream is = z.getInputStream(ze)) {
                    if (is == null) throw new java.util.zip.ZipException("no stream for " + ze.getName());
                    int k;
                    while ((k = is.read(buf)) > 0) {
                        crc.update(buf, 0, k);
                        n += k;
                    }
                }
                if (entries.length() > 0) entries.append(',');
                entries.append("{\"name\":").append(quote(ze.getName()))
                       .append(",\"size\":").append(n)
                       .append(",\"crc32\":\"").append(String.format("%08x", crc.getValue())).append("\"}");
            }
        } catch (Throwable t) {
            // Anything ZipFile throws (ZipException, IllegalArgumentException for a malformed
            // name, an OutOfMemoryError for an absurd count) is this reader refusing the archive.
            error = t.toString();
        }
        return "{\"path\":" + quote(path) + ",\"ok\":" + error.isEmpty() + ",\"error\":" + quote(error)
            + ",\"entries\":[" + (error.isEmpty() ? entries : "") + "]}";
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20 || Character.isSurrogate(c) && !validSurrogate(s, i)) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static boolean validSurrogate(String s, int i) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }
}
