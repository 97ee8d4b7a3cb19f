// readall: Go's archive/zip as one of the six readers of the differential test
// (tests/interop/differential.py). Reads archive paths from stdin, one per line, and prints one
// JSON line per archive: what the reader returns for every entry, or why it refused.
//
// Stdlib only, built by the test with `go build readall.go` (no module, no network).
package main

import (
	"archive/zip"
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

type entry struct {
	Name  string `json:"name"`
	Raw   string `json:"raw"` // the name's bytes in hex: Go keeps them undecoded
	Size  int64  `json:"size"`
	CRC32 string `json:"crc32"`
}

type result struct {
	Path    string  `json:"path"`
	OK      bool    `json:"ok"`
	Error   string  `json:"error"`
	Entries []entry `json:"entries"`
}

func readArchive(path string) (res result) {
	res = result{Path: path, OK: true, Entries: []entry{}}
	// A reader bug is a refusal too: report it instead of losing the whole batch.
	defer func() {
		if r := recover(); r != nil {
			res.OK = false
			res.Error = fmt.Sprintf("panic: %v", r)
		}
	}()
	z, err := zip.OpenReader(path)
	if err != nil {
		res.OK = false
		res.Error = err.Error()
		return
	}
	defer z.Close()
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			res.OK = false
			res.Error = fmt.Sprintf("%s: %v", f.Name, err)
			return
		}
		h := crc32.NewIEEE()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			res.OK = false
			res.Error = fmt.Sprintf("%s: %v", f.Name, err)
			return
		}
		res.Entries = append(res.Entries, entry{f.Name, hex.EncodeToString([]byte(f.Name)), n, fmt.Sprintf("%08x", h.Sum32())})
	}
	return
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<16), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		path := in.Text()
		if path == "" {
			continue
		}
		enc.Encode(readArchive(path))
		// The driver waits for this line before it sends the next path.
		out.Flush()
	}
}
